/* test_profile.c - user profile encoding (round trip, corruption), HMAC
 * keys, and the store with the in-memory backend: point in time within a
 * batch, idempotent re-consumption, feedback, malformed feedback, secret
 * loading. Redis-backed behaviour: test_profile_redis.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskgate/clock.h"
#include "riskgate/err.h"
#include "riskgate/feature.h"
#include "riskgate/profile.h"

#define HOUR 3600000LL
#define DAY (24 * HOUR)
#define T0 1768471200000LL /* 2026-01-15 10:00:00 UTC */

static const unsigned char SECRET[] = "unit-test-secret-0123456789";

static struct rg_txn tx(const char *user, int64_t ts, double amount, int32_t part, int64_t off)
{
    struct rg_txn t;
    memset(&t, 0, sizeof t);
    snprintf(t.event_id, sizeof t.event_id, "%s-%lld", user, (long long)off);
    snprintf(t.user_id, sizeof t.user_id, "%s", user);
    t.amount = amount;
    strcpy(t.currency, "EUR");
    t.ts_ms = ts;
    t.partition = part;
    t.offset = off;
    t.kafka_ts_ms = -1;
    return t;
}

static void busy_profile(struct rg_user_prof *up)
{
    rg_user_prof_init(up);
    for (int i = 0; i < 30; i++) {
        struct rg_txn t = tx("u", T0 + i * 40 * 60000LL, 1 + i, 0, i);
        t.has = RG_HAS_GEO | RG_HAS_COUNTRY | RG_HAS_DEVICE_ID | RG_HAS_MERCHANT_ID |
                RG_HAS_MERCHANT_CAT;
        t.lat = 10 + i;
        t.lon = 20;
        strcpy(t.country, i % 2 ? "DE" : "FR");
        snprintf(t.device_id, sizeof t.device_id, "d%d", i % 3);
        snprintf(t.merchant_id, sizeof t.merchant_id, "m%d", i);
        strcpy(t.merchant_category, i % 4 ? "game" : "content");
        assert_int_equal(rg_user_prof_apply(up, &t, t.ts_ms), 1);
    }
    rg_user_prof_add_fraud(up, "x", T0);
    rg_user_prof_add_failed_step_up(up, "y", T0);
    up->preferred = RG_METHOD_OTP;
}

static void test_encode_roundtrip(void **state)
{
    (void)state;
    struct rg_user_prof up, back;
    busy_profile(&up);
    unsigned char a[RG_UP_ENC_MAX], b[RG_UP_ENC_MAX];
    int n = rg_user_prof_encode(&up, a, sizeof a);
    assert_true(n > 0 && n <= 512);
    assert_int_equal(rg_user_prof_decode(&back, a, (size_t)n), 0);
    int m = rg_user_prof_encode(&back, b, sizeof b);
    assert_int_equal(m, n);
    assert_memory_equal(a, b, (size_t)n);
    /* decoded profile gives the same features */
    double f1[RG_FEAT_COUNT], f2[RG_FEAT_COUNT];
    struct rg_txn p = tx("u", T0 + 21 * HOUR, 3, 0, 99);
    p.has = RG_HAS_GEO | RG_HAS_DEVICE_ID;
    strcpy(p.device_id, "d1");
    rg_feature_compute(&up, NULL, &p, p.ts_ms, f1);
    rg_feature_compute(&back, NULL, &p, p.ts_ms, f2);
    for (int i = 0; i < RG_FEAT_COUNT; i++)
        assert_true((isnan(f1[i]) && isnan(f2[i])) || f1[i] == f2[i]);
    assert_int_equal(back.preferred, RG_METHOD_OTP);
    /* an empty profile is small */
    rg_user_prof_init(&up);
    n = rg_user_prof_encode(&up, a, sizeof a);
    assert_true(n > 0 && n < 160);
    assert_int_equal(rg_user_prof_decode(&back, a, (size_t)n), 0);
    /* too small a buffer */
    assert_int_equal(rg_user_prof_encode(&up, a, 20), RG_ETOOBIG);
}

static void test_decode_rejects_corruption(void **state)
{
    (void)state;
    struct rg_user_prof up, back;
    busy_profile(&up);
    unsigned char a[RG_UP_ENC_MAX];
    int n = rg_user_prof_encode(&up, a, sizeof a);
    for (int i = 0; i < n; i++) { /* every single flipped byte is caught */
        a[i] ^= 0x5a;
        assert_int_equal(rg_user_prof_decode(&back, a, (size_t)n), RG_ECORRUPT);
        a[i] ^= 0x5a;
    }
    for (int k = 0; k < n; k++) /* every truncation */
        assert_int_equal(rg_user_prof_decode(&back, a, (size_t)k), RG_ECORRUPT);
    a[0] = RG_UP_ENC_VERSION + 1; /* wrong version */
    assert_int_equal(rg_user_prof_decode(&back, a, (size_t)n), RG_ECORRUPT);
    const char *foreign[] = { "hello world, not a profile", "{\"json\":true}", "" };
    for (int i = 0; i < 3; i++)
        assert_int_equal(rg_user_prof_decode(&back, (const unsigned char *)foreign[i],
                                             strlen(foreign[i])),
                         RG_ECORRUPT);
    assert_int_equal(rg_user_prof_decode(&back, NULL, 0), RG_ECORRUPT);
}

static void test_keys(void **state)
{
    (void)state;
    char k1[RG_PROF_KEY_MAX], k2[RG_PROF_KEY_MAX], k3[RG_PROF_KEY_MAX], k4[RG_PROF_KEY_MAX];
    int n = rg_profile_key(SECRET, sizeof SECRET - 1, "rg:", 'u', "alice@example.com", k1, sizeof k1);
    assert_int_equal(n, 3 + 2 + 32);
    assert_int_equal(strncmp(k1, "rg:u:", 5), 0);
    for (int i = 5; i < n; i++)
        assert_non_null(strchr("0123456789abcdef", k1[i]));
    assert_null(strstr(k1, "alice"));
    rg_profile_key(SECRET, sizeof SECRET - 1, "rg:", 'u', "alice@example.com", k2, sizeof k2);
    assert_string_equal(k1, k2); /* stable */
    rg_profile_key((const unsigned char *)"another-secret-xx", 17, "rg:", 'u', "alice@example.com",
                   k3, sizeof k3);
    assert_string_not_equal(k1 + 5, k3 + 5); /* secret matters */
    rg_profile_key(SECRET, sizeof SECRET - 1, "rg:", 'd', "alice@example.com", k4, sizeof k4);
    assert_string_not_equal(k1 + 5, k4 + 5); /* kind matters */
    assert_int_equal(rg_profile_key(SECRET, sizeof SECRET - 1, "rg:", 'u', "a", k1, 10),
                     RG_ETOOBIG);
    assert_int_equal(rg_profile_key(NULL, 0, "rg:", 'u', "a", k1, sizeof k1), RG_EINVAL);
}

static struct rg_profile_store *mem_store(void)
{
    struct rg_profile_conf c = { .secret = SECRET, .secret_len = sizeof SECRET - 1,
                                 .in_memory = true };
    struct rg_profile_store *s = rg_profile_store_new(&c);
    assert_non_null(s);
    return s;
}

static void test_store_batch_point_in_time(void **state)
{
    (void)state;
    rg_clock_set_fake_ms(T0 + HOUR);
    struct rg_profile_store *s = mem_store();
    struct rg_txn t[4];
    t[0] = tx("bob", T0, 2, 0, 10);
    t[1] = tx("bob", T0 + 60000, 3, 0, 11);
    t[2] = tx("eve", T0 + 60000, 1, 0, 12);
    t[3] = tx("bob", T0 + 120000, 4, 0, 13);
    for (int i = 0; i < 4; i++) {
        t[i].has = RG_HAS_MERCHANT_ID | RG_HAS_DEVICE_ID | RG_HAS_IP;
        strcpy(t[i].merchant_id, "shop");
        strcpy(t[i].device_id, "dev");
        strcpy(t[i].ip, "10.0.0.1");
    }
    double f[4 * RG_FEAT_COUNT];
    struct rg_user_ctx u[4];
    bool d[4];
    assert_int_equal(rg_profile_process_batch(s, t, 4, f, u, d), 0);
    for (int i = 0; i < 4; i++)
        assert_false(d[i]);
    /* each event sees exactly the events before it */
    assert_true(f[0 * RG_FEAT_COUNT + RG_FEAT_USER_TXN_COUNT_1H] == 0);
    assert_true(f[1 * RG_FEAT_COUNT + RG_FEAT_USER_TXN_COUNT_1H] == 1);
    assert_true(f[3 * RG_FEAT_COUNT + RG_FEAT_USER_TXN_COUNT_1H] == 2);
    assert_true(f[3 * RG_FEAT_COUNT + RG_FEAT_USER_AMOUNT_SUM_24H] == 5);
    assert_true(f[0 * RG_FEAT_COUNT + RG_FEAT_MERCHANT_TXN_COUNT_1H] == 0);
    assert_true(f[3 * RG_FEAT_COUNT + RG_FEAT_MERCHANT_TXN_COUNT_1H] == 3);
    assert_true(f[2 * RG_FEAT_COUNT + RG_FEAT_DEVICE_DISTINCT_USERS_24H] == 1);
    assert_true(f[3 * RG_FEAT_COUNT + RG_FEAT_DEVICE_DISTINCT_USERS_24H] == 2);
    assert_true(f[3 * RG_FEAT_COUNT + RG_FEAT_IP_DISTINCT_USERS_24H] == 2);
    assert_true(isnan(f[0 * RG_FEAT_COUNT + RG_FEAT_MERCHANT_FRAUD_RATE_30D]));
    assert_true(f[1 * RG_FEAT_COUNT + RG_FEAT_MERCHANT_FRAUD_RATE_30D] == 0);
    assert_int_equal(u[0].failed_step_ups_24h, 0);

    /* the same batch again (re-consumed after a crash): features against
     * the current state (which includes the event itself, not later ones),
     * nothing counted twice */
    assert_int_equal(rg_profile_process_batch(s, t, 4, f, u, d), 0);
    assert_true(f[0 * RG_FEAT_COUNT + RG_FEAT_USER_TXN_COUNT_1H] == 1);
    assert_true(f[3 * RG_FEAT_COUNT + RG_FEAT_USER_TXN_COUNT_1H] == 3);
    assert_true(f[3 * RG_FEAT_COUNT + RG_FEAT_MERCHANT_TXN_COUNT_1H] == 4);
    assert_true(f[0 * RG_FEAT_COUNT + RG_FEAT_MERCHANT_TXN_COUNT_1H] == 1);
    assert_int_equal(rg_profile_process_batch(s, t, 4, f, u, d), 0);
    assert_true(f[3 * RG_FEAT_COUNT + RG_FEAT_USER_TXN_COUNT_1H] == 3);
    assert_true(f[3 * RG_FEAT_COUNT + RG_FEAT_MERCHANT_TXN_COUNT_1H] == 4);
    assert_true(f[3 * RG_FEAT_COUNT + RG_FEAT_DEVICE_DISTINCT_USERS_24H] == 2);
    struct rg_profile_stats st;
    rg_profile_stats(s, &st);
    assert_int_equal(st.replays_skipped, 8);
    assert_int_equal(st.events, 12);
    assert_int_equal(st.cmds_sent, 0);
    assert_int_equal(rg_profile_flush(s), 0);
    rg_profile_store_free(s);
    rg_clock_set_fake_ms(0);
}

static void test_store_feedback(void **state)
{
    (void)state;
    rg_clock_set_fake_ms(T0);
    struct rg_profile_store *s = mem_store();
    char reason[128];
    const char *fb[] = {
        "{\"type\":\"label\",\"event_id\":\"e1\",\"user_id\":\"carol\",\"merchant_id\":\"shop\","
        "\"device_id\":\"dev\",\"label\":\"fraud\",\"ts\":1}",
        "{\"type\":\"label\",\"event_id\":\"e1\",\"user_id\":\"carol\",\"merchant_id\":\"shop\","
        "\"label\":\"fraud\"}",
        "{\"type\":\"label\",\"event_id\":\"e2\",\"user_id\":\"carol\",\"label\":\"legit\"}",
        "{\"type\":\"auth_result\",\"event_id\":\"e3\",\"user_id\":\"carol\",\"method\":\"otp\","
        "\"result\":\"failed\"}",
        "{\"type\":\"auth_result\",\"event_id\":\"e4\",\"user_id\":\"carol\",\"method\":\"otp\","
        "\"result\":\"abandoned\"}",
        "{\"type\":\"auth_result\",\"event_id\":\"e5\",\"user_id\":\"carol\",\"method\":\"otp\","
        "\"result\":\"passed\"}",
        "{\"type\":\"settings\",\"user_id\":\"carol\",\"step_up_method\":\"biometric\"}",
    };
    for (size_t i = 0; i < sizeof fb / sizeof fb[0]; i++)
        assert_int_equal(rg_profile_feedback(s, fb[i], strlen(fb[i]), reason, sizeof reason), 0);
    struct rg_profile_stats st;
    rg_profile_stats(s, &st);
    assert_int_equal(st.feedback_duplicates, 1);

    struct rg_txn t = tx("carol", T0 + HOUR, 1, 1, 5);
    t.has = RG_HAS_MERCHANT_ID;
    strcpy(t.merchant_id, "shop");
    double f[RG_FEAT_COUNT];
    struct rg_user_ctx u;
    bool d;
    rg_clock_set_fake_ms(T0 + HOUR);
    assert_int_equal(rg_profile_process_batch(s, &t, 1, f, &u, &d), 0);
    assert_true(f[RG_FEAT_USER_FRAUD_LABELS_90D] == 1);
    assert_true(f[RG_FEAT_USER_FAILED_STEP_UPS_24H] == 2);
    assert_int_equal(u.failed_step_ups_24h, 2);
    assert_int_equal(u.preferred, RG_METHOD_BIOMETRIC);
    assert_true(f[RG_FEAT_MERCHANT_FRAUD_COUNT_7D] == 1);
    assert_true(isnan(f[RG_FEAT_MERCHANT_FRAUD_RATE_30D])); /* no merchant events yet */

    /* malformed feedback: error code and a reason, nothing applied */
    const char *bad[] = {
        "not json", "[1,2]", "{\"user_id\":\"carol\"}",
        "{\"type\":\"label\",\"user_id\":\"carol\",\"label\":\"fraud\"}",
        "{\"type\":\"label\",\"event_id\":\"e9\",\"user_id\":\"carol\",\"label\":\"maybe\"}",
        "{\"type\":\"auth_result\",\"event_id\":\"e9\",\"user_id\":\"carol\",\"result\":\"meh\"}",
        "{\"type\":\"settings\",\"user_id\":\"carol\",\"step_up_method\":\"carrier_pigeon\"}",
        "{\"type\":\"settings\",\"step_up_method\":\"otp\"}",
        "{\"type\":\"teleport\",\"user_id\":\"carol\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        reason[0] = 0;
        int rc = rg_profile_feedback(s, bad[i], strlen(bad[i]), reason, sizeof reason);
        assert_true(rc == RG_EPARSE || rc == RG_EINVAL);
        assert_true(strlen(reason) > 0);
    }
    /* a length that cuts the JSON short is malformed too */
    assert_int_equal(rg_profile_feedback(s, fb[0], 10, reason, sizeof reason), RG_EPARSE);
    rg_profile_store_free(s);
    rg_clock_set_fake_ms(0);
}

static void test_store_eviction_keeps_profiles(void **state)
{
    (void)state;
    rg_clock_set_fake_ms(T0 + DAY);
    struct rg_profile_conf c = { .secret = SECRET, .secret_len = sizeof SECRET - 1,
                                 .in_memory = true, .cache_users = 1 };
    struct rg_profile_store *s = rg_profile_store_new(&c);
    assert_non_null(s);
    /* more users than the cache (minimum 8192) holds, twice */
    enum { N = 20000, B = 100 };
    struct rg_txn t[B];
    double f[B * RG_FEAT_COUNT];
    struct rg_user_ctx u[B];
    bool d[B];
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < N; i += B) {
            for (int k = 0; k < B; k++) {
                char id[32];
                snprintf(id, sizeof id, "user%d", i + k);
                t[k] = tx(id, T0 + pass * HOUR, 1, 0, -1);
            }
            assert_int_equal(rg_profile_process_batch(s, t, B, f, u, d), 0);
            for (int k = 0; k < B; k++)
                assert_true(f[k * RG_FEAT_COUNT + RG_FEAT_USER_TXN_COUNT_24H] == pass);
        }
    struct rg_profile_stats st;
    rg_profile_stats(s, &st);
    assert_true(st.cache_evictions > 0);
    rg_profile_store_free(s);
    rg_clock_set_fake_ms(0);
}

static void test_secret_load(void **state)
{
    (void)state;
    char path[] = "/tmp/rg_secret_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456789abcdef-secret\n", 24), 24);
    close(fd);
    unsigned char buf[64];
    unsetenv("RISKGATE_PROFILE_SECRET");
    assert_int_equal(rg_profile_secret_load(path, buf, sizeof buf), 23);
    assert_memory_equal(buf, "0123456789abcdef-secret", 23);
    setenv("RISKGATE_PROFILE_SECRET", "from-the-environment-123", 1);
    assert_int_equal(rg_profile_secret_load(path, buf, sizeof buf), 24);
    setenv("RISKGATE_PROFILE_SECRET", "short", 1);
    assert_int_equal(rg_profile_secret_load(path, buf, sizeof buf), RG_EINVAL);
    unsetenv("RISKGATE_PROFILE_SECRET");
    assert_int_equal(rg_profile_secret_load("/nonexistent/x", buf, sizeof buf), RG_ENOTFOUND);
    unlink(path);
    struct rg_profile_conf c = { .in_memory = true };
    assert_null(rg_profile_store_new(&c)); /* no secret, no store */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_roundtrip),
        cmocka_unit_test(test_decode_rejects_corruption),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_store_batch_point_in_time),
        cmocka_unit_test(test_store_feedback),
        cmocka_unit_test(test_store_eviction_keeps_profiles),
        cmocka_unit_test(test_secret_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
