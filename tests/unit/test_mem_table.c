/*
 * test_mem_table.c - the in-memory profile backend's entity table
 * (src/profile/mem.c: a dense entity array behind {tag, index} slots, two
 * users inline before the heap) keeps every entity and every count across
 * many table and array growths: hundreds of thousands of IPs seen once,
 * devices whose user sets pass from the inline slots to the heap and up
 * to the 32-member cap, and merchants whose rings are used while the
 * array moves under them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "riskgate/profile.h"
#include "../../src/profile/store_int.h"

#define T0 1793000000000LL /* a fixed event time, ms */
#define HOUR 3600000LL

static uint64_t key(char kind, unsigned i)
{
    char id[32];
    snprintf(id, sizeof(id), "x%u", i);
    return rg_prof_hash64(kind, id);
}

static struct rg_shared_feats see(struct rg_mem *m, int update, int64_t t, uint64_t user,
                                  uint64_t dev, uint64_t ip, uint64_t merch)
{
    struct rg_shared_ev ev = { .update = update, .t_ms = t,
                               .user_h = user, .dev_h = dev, .merch_h = merch, .ip_h = ip };
    struct rg_shared_feats out;
    rg_mem_shared(m, &ev, &out);
    return out;
}

static void test_many_ips_survive_growth(void **state)
{
    (void)state;
    enum { N = 300000 };
    struct rg_mem *m = rg_mem_new();
    assert_non_null(m);
    for (unsigned i = 0; i < N; i++) {
        struct rg_shared_feats f = see(m, 1, T0, key('u', i), 0, key('i', i), 0);
        assert_int_equal(f.ip_users_24h, 0); /* read before the update */
        assert_int_equal(f.dev_users_24h, -1);
        assert_int_equal(f.m_count_1h, -1);
    }
    for (unsigned i = 0; i < N; i++) {
        struct rg_shared_feats f = see(m, 0, T0, key('u', i), 0, key('i', i), 0);
        if (f.ip_users_24h != 1)
            fail_msg("ip %u: %lld users", i, (long long)f.ip_users_24h);
    }
    rg_mem_free(m);
}

static void test_device_user_sets(void **state)
{
    (void)state;
    struct rg_mem *m = rg_mem_new();
    assert_non_null(m);
    /* device d gets d users (1..40), interleaved with new IPs so the
     * entity array grows while devices are half filled */
    for (unsigned u = 0; u < 40; u++) {
        for (unsigned d = 1; d <= 40; d++) {
            if (u < d)
                (void)see(m, 1, T0, key('u', u), key('d', d), key('i', u * 1000 + d), 0);
        }
    }
    for (unsigned d = 1; d <= 40; d++) {
        struct rg_shared_feats f = see(m, 0, T0, key('u', 999), key('d', d), 0, 0);
        long long want = d < 32 ? d : 32; /* the set is capped at 32 */
        if (f.dev_users_24h != want || f.dev_users_30d != want)
            fail_msg("device %u: %lld / %lld users, want %lld", d, (long long)f.dev_users_24h,
                     (long long)f.dev_users_30d, want);
    }
    /* a full set replaces its least recently seen member with a newer user */
    struct rg_shared_feats f = see(m, 1, T0 + 25 * HOUR, key('u', 500), key('d', 40), 0, 0);
    assert_int_equal(f.dev_users_24h, 0);  /* all 32 were seen 25 h ago */
    assert_int_equal(f.dev_users_30d, 32);
    f = see(m, 0, T0 + 25 * HOUR, key('u', 501), key('d', 40), 0, 0);
    assert_int_equal(f.dev_users_24h, 1);  /* the new member */
    assert_int_equal(f.dev_users_30d, 32); /* still capped */
    /* seeing a known user again does not add a member */
    (void)see(m, 1, T0 + 25 * HOUR, key('u', 500), key('d', 40), 0, 0);
    f = see(m, 0, T0 + 25 * HOUR, key('u', 501), key('d', 40), 0, 0);
    assert_int_equal(f.dev_users_24h, 1);
    rg_mem_free(m);
}

static void test_merchants_while_array_moves(void **state)
{
    (void)state;
    enum { M = 2000, ROUNDS = 5 };
    struct rg_mem *m = rg_mem_new();
    assert_non_null(m);
    unsigned ip = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (unsigned j = 0; j < M; j++) {
            struct rg_shared_feats f = see(m, 1, T0, key('u', j), 0, key('i', ip++), key('m', j));
            if (f.m_count_1h != r || f.m_events_30d != r)
                fail_msg("merchant %u round %d: %lld in 1 h, %lld in 30 d", j, r,
                         (long long)f.m_count_1h, (long long)f.m_events_30d);
            assert_int_equal(f.m_frauds_30d, 0);
        }
    }
    /* fraud labels land on the right merchant, once per label */
    assert_int_equal(rg_mem_label(m, key('l', 1), key('m', 7), 0, T0), 1);
    assert_int_equal(rg_mem_label(m, key('l', 1), key('m', 7), 0, T0), 0);
    struct rg_shared_feats f = see(m, 0, T0, key('u', 1), 0, 0, key('m', 7));
    assert_int_equal(f.m_frauds_30d, 1);
    assert_int_equal(f.m_frauds_7d, 1);
    f = see(m, 0, T0, key('u', 1), 0, 0, key('m', 8));
    assert_int_equal(f.m_frauds_30d, 0);
    rg_mem_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_ips_survive_growth),
        cmocka_unit_test(test_device_user_sets),
        cmocka_unit_test(test_merchants_while_array_moves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
