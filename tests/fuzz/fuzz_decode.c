/*
 * fuzz_decode.c - arbitrary bytes through card masking and the event
 * decoder. Checks what must hold for any input: masking keeps the length
 * and only turns digits into '*', counting agrees with masking, and the
 * decoder either accepts (with NUL-terminated, in-range fields) or rejects
 * with a known reason.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "riskgate/decode.h"
#include "riskgate/err.h"

static struct rg_decoder *g_dec;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_dec) {
        g_dec = rg_decoder_new();
        if (!g_dec)
            abort();
    }
    const char *in = (const char *)data;
    char *masked = malloc(size ? size : 1);
    if (!masked)
        abort();
    int found = rg_card_mask(in, size, masked);
    if (found < 0 || found != rg_card_count(in, size))
        abort();
    size_t stars = 0;
    for (size_t i = 0; i < size; i++) {
        if (masked[i] == in[i])
            continue;
        if (masked[i] != '*' || in[i] < '0' || in[i] > '9')
            abort(); /* masking only turns digits into '*' */
        stars++;
    }
    if (stars < (size_t)found * 3)
        abort(); /* each card (13+ digits) loses at least 3 */

    /* raw-text masking (Kafka keys): same rules, whole input */
    char *mtext = malloc(size ? size : 1);
    if (!mtext)
        abort();
    /* (counts may differ from rg_card_mask: "\u0000" followed by digits
     * is an escape there and part of a longer digit run here) */
    if (rg_card_mask_text(in, size, mtext) < 0)
        abort();
    for (size_t i = 0; i < size; i++)
        if (mtext[i] != in[i] && (mtext[i] != '*' || in[i] < '0' || in[i] > '9'))
            abort();
    free(mtext);

    struct rg_txn txn;
    struct rg_decode_error err;
    int rc = rg_txn_decode(g_dec, in, size, &txn, &err);
    if (rc == 0) {
        if (found)
            abort(); /* a card number is always rejected */
        if (strlen(txn.event_id) == 0 || strlen(txn.event_id) > RG_ID_MAX ||
            strlen(txn.user_id) == 0 || strlen(txn.currency) != 3 || !isfinite(txn.amount) ||
            txn.amount < 0 || txn.ts_ms < RG_TS_MIN_MS || txn.ts_ms >= RG_TS_MAX_MS)
            abort();
    } else {
        if (rc != RG_EPARSE || (int)err.reason < 0 || err.reason >= RG_DLQ_REASON_COUNT ||
            memchr(err.message, '\0', sizeof(err.message)) == NULL)
            abort();
        if (found && err.reason != RG_DLQ_CARD_NUMBER && err.reason != RG_DLQ_TOO_LARGE)
            abort();
    }
    /* the masked copy decodes without crashing too */
    rg_txn_decode(g_dec, masked, size, &txn, &err);
    free(masked);
    return 0;
}
