/* test_verdict.c - verdict helpers and the verdict JSON encoder (parsed
 * back with cJSON). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "riskgate/err.h"
#include "riskgate/feature.h"
#include "riskgate/verdict.h"

static void fill_txn(struct rg_txn *txn, const char *event_id, const char *user_id)
{
    memset(txn, 0, sizeof(*txn));
    snprintf(txn->event_id, sizeof(txn->event_id), "%s", event_id);
    snprintf(txn->user_id, sizeof(txn->user_id), "%s", user_id);
}

static cJSON *encode_parse(const struct rg_verdict *v, const struct rg_txn *txn, char *buf,
                           size_t cap)
{
    int n = rg_verdict_encode(v, txn, buf, cap);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(buf));
    cJSON *root = cJSON_ParseWithLength(buf, (size_t)n);
    if (!root)
        print_error("not JSON: %s\n", buf);
    assert_non_null(root);
    assert_true(cJSON_IsObject(root));
    return root;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_non_null(it);
    assert_true(cJSON_IsString(it));
    return it->valuestring;
}

static double num_of(const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_non_null(it);
    assert_true(cJSON_IsNumber(it));
    return it->valuedouble;
}

static void test_helpers(void **state)
{
    (void)state;
    assert_string_equal(rg_decision_str(RG_ALLOW), "allow");
    assert_string_equal(rg_decision_str(RG_STEP_UP), "step_up");
    assert_string_equal(rg_decision_str(RG_DENY), "deny");
    assert_string_equal(rg_method_str(RG_METHOD_OTP), "otp");
    assert_string_equal(rg_method_str(RG_METHOD_BIOMETRIC), "biometric");
    assert_string_equal(rg_method_str(RG_METHOD_PASSWORD), "password");
    for (int m = RG_METHOD_OTP; m <= RG_METHOD_PASSWORD; m++)
        assert_int_equal(rg_method_parse(rg_method_str((enum rg_step_up_method)m)), m);
    assert_int_equal(rg_method_parse("sms"), RG_METHOD_NONE);
    assert_int_equal(rg_method_parse("OTP"), RG_METHOD_NONE);
    assert_int_equal(rg_method_parse(NULL), RG_METHOD_NONE);

    struct rg_verdict v;
    memset(&v, 0x5a, sizeof(v));
    rg_verdict_reset(&v);
    assert_int_equal(v.decision, RG_ALLOW);
    assert_true(isnan(v.score));
    assert_true(isnan(v.anomaly));
    assert_int_equal(v.n_reasons, 0);
    assert_int_equal(v.n_rules, 0);
    assert_int_equal(v.n_shadow, 0);
    assert_null(v.features);
    assert_null(v.model_version);
    assert_false(v.degraded);

    for (int i = 0; i < RG_VERDICT_MAX_REASONS; i++)
        assert_int_equal(rg_verdict_add_reason(&v, "r", RG_SRC_RULE, "n=%d", i), 0);
    assert_int_equal(rg_verdict_add_reason(&v, "r", RG_SRC_RULE, "full"), -1);
    assert_int_equal(v.n_reasons, RG_VERDICT_MAX_REASONS);
    assert_string_equal(v.reasons[15].detail, "n=15");

    /* a long detail is cut at a UTF-8 boundary: 3-byte euro signs */
    rg_verdict_reset(&v);
    char euros[3 * 100 + 1] = "";
    for (int i = 0; i < 100; i++)
        strcat(euros, "\xE2\x82\xAC");
    rg_verdict_add_reason(&v, "x", RG_SRC_MODEL, "a%s", euros);
    size_t dl = strlen(v.reasons[0].detail);
    assert_true(dl <= RG_REASON_DETAIL_MAX - 1);
    assert_int_equal((dl - 1) % 3, 0); /* "a" + whole euro signs */
    assert_true(dl >= RG_REASON_DETAIL_MAX - 3);
}

static void test_allow(void **state)
{
    (void)state;
    struct rg_txn txn;
    fill_txn(&txn, "evt-1", "user-42");
    struct rg_verdict v;
    rg_verdict_reset(&v);
    v.score = 0.0123456789;
    v.model_version = "gbt@3f2a";
    v.ruleset_version = "9c1e";
    v.latency_us = 187;
    v.decided_at_ms = 1795856400123LL; /* 2026-11-28T09:00:00.123Z */
    char buf[4096];
    cJSON *o = encode_parse(&v, &txn, buf, sizeof(buf));
    assert_string_equal(str_of(o, "event_id"), "evt-1");
    assert_string_equal(str_of(o, "user_id"), "user-42");
    assert_string_equal(str_of(o, "decision"), "allow");
    assert_true(fabs(num_of(o, "score") - 0.012346) < 1e-12);
    assert_null(cJSON_GetObjectItem(o, "anomaly"));
    assert_null(cJSON_GetObjectItem(o, "step_up"));
    assert_null(cJSON_GetObjectItem(o, "shadow"));
    assert_null(cJSON_GetObjectItem(o, "features"));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "reasons")), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "rules")), 0);
    assert_string_equal(str_of(o, "model"), "gbt@3f2a");
    assert_string_equal(str_of(o, "ruleset"), "9c1e");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "degraded")));
    assert_true(num_of(o, "latency_us") == 187);
    assert_string_equal(str_of(o, "decided_at"), "2026-11-28T09:00:00.123Z");
    cJSON_Delete(o);

    /* exact text: field order, compact numbers */
    v.score = 0.5;
    v.model_version = NULL;
    v.ruleset_version = NULL;
    v.decided_at_ms = 946684800000LL;
    v.latency_us = 0;
    int n = rg_verdict_encode(&v, &txn, buf, sizeof(buf));
    const char *want = "{\"event_id\":\"evt-1\",\"user_id\":\"user-42\",\"decision\":\"allow\","
                       "\"score\":0.5,\"reasons\":[],\"rules\":[],\"model\":null,"
                       "\"ruleset\":null,\"degraded\":false,\"latency_us\":0,"
                       "\"decided_at\":\"2000-01-01T00:00:00.000Z\"}";
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_step_up(void **state)
{
    (void)state;
    struct rg_txn txn;
    fill_txn(&txn, "e2", "u2");
    struct rg_verdict v;
    rg_verdict_reset(&v);
    v.decision = RG_STEP_UP;
    v.method = RG_METHOD_BIOMETRIC;
    v.ttl_s = 300;
    v.score = 0.71;
    v.anomaly = 0.25;
    v.degraded = true;
    v.decided_at_ms = 1709251199999LL;
    rg_verdict_add_reason(&v, "giftcard_burst", RG_SRC_RULE, "%d gift card buys in 1h", 4);
    rg_verdict_add_reason(&v, "model_score", RG_SRC_MODEL, "score %.2f >= step_up_at", 0.71);
    rg_verdict_add_reason(&v, "user_preference", RG_SRC_POLICY, "settings");
    v.rules[v.n_rules++] = "giftcard_burst";
    v.rules[v.n_rules++] = "new_device";
    char buf[4096];
    cJSON *o = encode_parse(&v, &txn, buf, sizeof(buf));
    assert_string_equal(str_of(o, "decision"), "step_up");
    const cJSON *su = cJSON_GetObjectItem(o, "step_up");
    assert_non_null(su);
    assert_string_equal(str_of(su, "method"), "biometric");
    assert_true(num_of(su, "ttl_s") == 300);
    assert_true(num_of(o, "score") == 0.71);
    assert_true(num_of(o, "anomaly") == 0.25);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "degraded")));
    assert_string_equal(str_of(o, "decided_at"), "2024-02-29T23:59:59.999Z");
    const cJSON *rs = cJSON_GetObjectItem(o, "reasons");
    assert_int_equal(cJSON_GetArraySize(rs), 3);
    const cJSON *r0 = cJSON_GetArrayItem(rs, 0), *r1 = cJSON_GetArrayItem(rs, 1),
                *r2 = cJSON_GetArrayItem(rs, 2);
    assert_string_equal(str_of(r0, "code"), "giftcard_burst");
    assert_string_equal(str_of(r0, "source"), "rule");
    assert_string_equal(str_of(r0, "detail"), "4 gift card buys in 1h");
    assert_string_equal(str_of(r1, "source"), "model");
    assert_string_equal(str_of(r1, "detail"), "score 0.71 >= step_up_at");
    assert_string_equal(str_of(r2, "source"), "policy");
    const cJSON *rules = cJSON_GetObjectItem(o, "rules");
    assert_int_equal(cJSON_GetArraySize(rules), 2);
    assert_string_equal(cJSON_GetArrayItem(rules, 1)->valuestring, "new_device");
    /* order of the top-level keys */
    const char *order[] = { "event_id", "user_id", "decision", "score", "anomaly", "step_up",
                            "reasons", "rules", "model", "ruleset", "degraded", "latency_us",
                            "decided_at" };
    const cJSON *it = o->child;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++, it = it->next) {
        assert_non_null(it);
        assert_string_equal(it->string, order[i]);
    }
    assert_null(it);
    cJSON_Delete(o);

    /* no method set: null, never a made-up one */
    v.method = RG_METHOD_NONE;
    o = encode_parse(&v, &txn, buf, sizeof(buf));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "step_up"), "method")));
    cJSON_Delete(o);
}

static void test_deny_shadow_nan(void **state)
{
    (void)state;
    struct rg_txn txn;
    fill_txn(&txn, "e3", "u3");
    struct rg_verdict v;
    rg_verdict_reset(&v);
    v.decision = RG_DENY;
    v.method = RG_METHOD_OTP; /* ignored: not a step-up */
    rg_verdict_add_reason(&v, "blocklist", RG_SRC_RULE, "device on blocklist");
    v.rules[v.n_rules++] = "blocklist";
    v.shadow[v.n_shadow++] = (struct rg_shadow_hit){ "exp_velocity", RG_STEP_UP };
    v.shadow[v.n_shadow++] = (struct rg_shadow_hit){ "exp_geo", RG_DENY };
    v.shadow_decision = RG_DENY;
    char buf[4096];
    cJSON *o = encode_parse(&v, &txn, buf, sizeof(buf));
    assert_string_equal(str_of(o, "decision"), "deny");
    assert_null(cJSON_GetObjectItem(o, "step_up"));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "score")));
    assert_null(cJSON_GetObjectItem(o, "anomaly"));
    const cJSON *sh = cJSON_GetObjectItem(o, "shadow");
    assert_non_null(sh);
    assert_string_equal(str_of(sh, "decision"), "deny");
    const cJSON *sr = cJSON_GetObjectItem(sh, "rules");
    assert_int_equal(cJSON_GetArraySize(sr), 2);
    assert_string_equal(str_of(cJSON_GetArrayItem(sr, 0), "id"), "exp_velocity");
    assert_string_equal(str_of(cJSON_GetArrayItem(sr, 0), "decision"), "step_up");
    assert_string_equal(str_of(cJSON_GetArrayItem(sr, 1), "decision"), "deny");
    /* shadow comes right after rules */
    assert_string_equal(cJSON_GetObjectItem(o, "rules")->next->string, "shadow");
    cJSON_Delete(o);

    v.score = INFINITY;
    o = encode_parse(&v, &txn, buf, sizeof(buf));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "score")));
    cJSON_Delete(o);
}

static void test_escaping(void **state)
{
    (void)state;
    struct rg_txn txn;
    fill_txn(&txn, "q\"b\\s/n\nt\tc\x01\x1f" "d\x7f", "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    struct rg_verdict v;
    rg_verdict_reset(&v);
    rg_verdict_add_reason(&v, "c\"ode", RG_SRC_RULE, "bad byte \xFF here \xE2\x82 end\r\b\f");
    v.rules[v.n_rules++] = "rule \"quoted\"";
    v.model_version = "m\\1";
    char buf[4096];
    cJSON *o = encode_parse(&v, &txn, buf, sizeof(buf));
    assert_string_equal(str_of(o, "event_id"), "q\"b\\s/n\nt\tc\x01\x1f" "d\x7f");
    assert_string_equal(str_of(o, "user_id"), "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    const cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "reasons"), 0);
    assert_string_equal(str_of(r0, "code"), "c\"ode");
    assert_string_equal(str_of(r0, "detail"),
                        "bad byte \xEF\xBF\xBD here \xEF\xBF\xBD\xEF\xBF\xBD end\r\b\f");
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "rules"), 0)->valuestring,
                        "rule \"quoted\"");
    assert_string_equal(str_of(o, "model"), "m\\1");
    cJSON_Delete(o);
    /* the raw text uses the short escapes and \u00XX */
    assert_non_null(strstr(buf, "\"q\\\"b\\\\s/n\\nt\\tc\\u0001\\u001fd\x7f\""));
    assert_non_null(strstr(buf, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80")); /* passthrough */
    /* no raw control characters anywhere */
    for (const char *p = buf; *p; p++)
        assert_true((unsigned char)*p >= 0x20);
}

static void test_features(void **state)
{
    (void)state;
    struct rg_txn txn;
    fill_txn(&txn, "e4", "u4");
    double f[RG_FEAT_COUNT];
    for (int i = 0; i < RG_FEAT_COUNT; i++)
        f[i] = i * 1.5;
    f[RG_FEAT_AMOUNT] = 4.99;
    f[RG_FEAT_USER_SECONDS_SINCE_LAST] = RG_FEAT_MISSING;
    f[RG_FEAT_USER_MONTH_SPEND] = 1234567.25;
    struct rg_verdict v;
    rg_verdict_reset(&v);
    v.features = f;
    char buf[8192];
    cJSON *o = encode_parse(&v, &txn, buf, sizeof(buf));
    const cJSON *fo = cJSON_GetObjectItem(o, "features");
    assert_non_null(fo);
    assert_string_equal(cJSON_GetObjectItem(o, "decided_at")->next->string, "features");
    assert_int_equal(cJSON_GetArraySize(fo), RG_FEAT_COUNT);
    for (int i = 0; i < RG_FEAT_COUNT; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(fo, rg_feature_name(i));
        assert_non_null(it);
        if (i == RG_FEAT_USER_SECONDS_SINCE_LAST)
            assert_true(cJSON_IsNull(it));
        else
            assert_true(cJSON_IsNumber(it) && it->valuedouble == f[i]);
    }
    cJSON_Delete(o);
}

static void test_buffer_too_small(void **state)
{
    (void)state;
    struct rg_txn txn;
    fill_txn(&txn, "evt-with-a-longish-id", "user");
    struct rg_verdict v;
    rg_verdict_reset(&v);
    v.decision = RG_STEP_UP;
    v.method = RG_METHOD_OTP;
    v.ttl_s = 120;
    v.score = 0.9;
    rg_verdict_add_reason(&v, "r1", RG_SRC_RULE, "detail \"with\" escapes\n");
    v.rules[v.n_rules++] = "r1";
    v.shadow[v.n_shadow++] = (struct rg_shadow_hit){ "s1", RG_DENY };
    char full[4096];
    int need = rg_verdict_encode(&v, &txn, full, sizeof(full));
    assert_true(need > 0);
    char buf[4096 + 16];
    for (size_t cap = 0; cap <= (size_t)need; cap++) {
        memset(buf, 0x7e, sizeof(buf));
        int rc = rg_verdict_encode(&v, &txn, buf, cap);
        assert_int_equal(rc, RG_ETOOBIG);
        for (size_t i = cap; i < sizeof(buf); i++)
            assert_int_equal((unsigned char)buf[i], 0x7e); /* never past cap */
    }
    memset(buf, 0x7e, sizeof(buf));
    assert_int_equal(rg_verdict_encode(&v, &txn, buf, (size_t)need + 1), need);
    assert_string_equal(buf, full);
    assert_int_equal(rg_verdict_encode(NULL, &txn, buf, sizeof(buf)), RG_EINVAL);
    assert_int_equal(rg_verdict_encode(&v, NULL, buf, sizeof(buf)), RG_EINVAL);
}

/* Fixed-size fields without a NUL are read only up to their size. */
static void test_unterminated_fields(void **state)
{
    (void)state;
    struct rg_txn txn;
    fill_txn(&txn, "", "u");
    memset(txn.event_id, 'a', sizeof(txn.event_id));
    struct rg_verdict v;
    rg_verdict_reset(&v);
    rg_verdict_add_reason(&v, "c", RG_SRC_RULE, "x");
    memset(v.reasons[0].detail, 'd', sizeof(v.reasons[0].detail));
    char buf[4096];
    cJSON *o = encode_parse(&v, &txn, buf, sizeof(buf));
    assert_int_equal(strlen(str_of(o, "event_id")), sizeof(txn.event_id));
    const cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "reasons"), 0);
    assert_int_equal(strlen(str_of(r0, "detail")), RG_REASON_DETAIL_MAX);
    cJSON_Delete(o);
}

/* Numbers are formatted without printf on the hot path; they must read
 * exactly as printf's "%.6f" (trailing zeros trimmed) would, including
 * values whose sixth decimal is a near tie, negatives and -0. Same for
 * latency_us and decided_at against printf. */
static void ref_num(double v, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%.6f", v);
    while (n > 0 && out[n - 1] == '0')
        n--;
    if (n > 0 && out[n - 1] == '.')
        n--;
    out[n] = '\0';
}

static void test_number_formatting_matches_printf(void **state)
{
    (void)state;
    struct rg_txn txn;
    fill_txn(&txn, "e1", "u1");
    struct rg_verdict v;
    char buf[4096], want[64], got[64];
    uint64_t seed = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        double u = (double)(seed >> 11) / 9007199254740992.0;
        double x;
        switch (i % 6) {
        case 0: x = u; break;                                   /* scores */
        case 1: x = u * 1000.0; break;
        case 2: x = (double)(seed % 2000000) / 1e6 + 5e-7; break; /* near ties */
        case 3: x = -u * 50.0; break;
        case 4: x = u * 9.99e8; break;
        default: x = (double)(seed % 100000) / 1000.0; break;   /* short decimals */
        }
        if (i == 7) x = -0.0;
        if (i == 8) x = -1e-9;
        rg_verdict_reset(&v);
        v.score = x;
        v.latency_us = (int64_t)(seed % 10000000) - (i % 2 ? 5000000 : 0);
        v.decided_at_ms = (int64_t)(seed % 4102444800000ULL);
        assert_true(rg_verdict_encode(&v, &txn, buf, sizeof(buf)) > 0);
        const char *p = strstr(buf, "\"score\":");
        assert_non_null(p);
        p += 8;
        size_t n = strcspn(p, ",");
        assert_true(n < sizeof(got));
        memcpy(got, p, n);
        got[n] = '\0';
        ref_num(x, want, sizeof(want));
        if (strcmp(got, want) != 0)
            fail_msg("score %.17g: got %s, printf gives %s", x, got, want);
        snprintf(want, sizeof(want), "\"latency_us\":%lld,", (long long)v.latency_us);
        assert_non_null(strstr(buf, want));
        time_t secs = (time_t)(v.decided_at_ms / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        snprintf(want, sizeof(want), "\"decided_at\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(v.decided_at_ms % 1000));
        assert_non_null(strstr(buf, want));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_number_formatting_matches_printf),
        cmocka_unit_test(test_helpers),         cmocka_unit_test(test_allow),
        cmocka_unit_test(test_step_up),         cmocka_unit_test(test_deny_shadow_nan),
        cmocka_unit_test(test_escaping),        cmocka_unit_test(test_features),
        cmocka_unit_test(test_buffer_too_small), cmocka_unit_test(test_unterminated_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
