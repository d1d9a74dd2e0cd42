/*
 * fuzz_profile.c - untrusted bytes into the profile module: the user
 * profile decoder (a value read from Redis may be anything) and the
 * feedback decoder (a risk-feedback message). First input byte selects.
 * Invariants: no crash; a value that decodes re-encodes to bytes that
 * decode to the same encoding; feedback either applies or returns an
 * error with a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "riskgate/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct rg_profile_store *s;
    if (!size)
        return 0;
    if (data[0] & 1) {
        struct rg_user_prof up, again;
        if (rg_user_prof_decode(&up, data + 1, size - 1) == 0) {
            unsigned char a[RG_UP_ENC_MAX], b[RG_UP_ENC_MAX];
            int n = rg_user_prof_encode(&up, a, sizeof a);
            if (n < 0 || rg_user_prof_decode(&again, a, (size_t)n) != 0)
                abort();
            int m = rg_user_prof_encode(&again, b, sizeof b);
            if (m != n || memcmp(a, b, (size_t)n) != 0)
                abort();
        }
        return 0;
    }
    if (!s) {
        static const unsigned char secret[] = "fuzz-secret-0123456789";
        struct rg_profile_conf c = { .secret = secret, .secret_len = sizeof secret - 1,
                                     .in_memory = true };
        s = rg_profile_store_new(&c);
        if (!s)
            abort();
    }
    char reason[128] = "";
    int rc = rg_profile_feedback(s, (const char *)data + 1, size - 1, reason, sizeof reason);
    if (rc < 0 && rc != -6 /* RG_EAGAIN */ && reason[0] == 0)
        abort();
    return 0;
}
