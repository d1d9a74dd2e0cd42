/* test_decode.c - input event decoding and validation (contract v1), and
 * the dead-letter headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskgate/decode.h"
#include "riskgate/err.h"

static struct rg_decoder *g_dec;

static int setup(void **state)
{
    (void)state;
    g_dec = rg_decoder_new();
    return g_dec ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rg_decoder_free(g_dec);
    g_dec = NULL;
    return 0;
}

static int decode_n(const char *buf, size_t len, struct rg_txn *txn, struct rg_decode_error *err)
{
    memset(err, 0, sizeof(*err));
    err->reason = RG_DLQ_REASON_COUNT;
    return rg_txn_decode(g_dec, buf, len, txn, err);
}

static int decode(const char *s, struct rg_txn *txn, struct rg_decode_error *err)
{
    return decode_n(s, strlen(s), txn, err);
}

/* Reject s with reason r and a message containing want (may be NULL). */
static void expect_reject_n(const char *s, size_t len, enum rg_dlq_reason r, const char *want)
{
    struct rg_txn txn;
    struct rg_decode_error err;
    int rc = decode_n(s, len, &txn, &err);
    if (rc != RG_EPARSE || err.reason != r || (want && !strstr(err.message, want)))
        print_error("input %.200s\n  got rc=%d reason=%s message=\"%s\"; want %s \"%s\"\n", s, rc,
                    rg_dlq_reason_code(err.reason), err.message, rg_dlq_reason_code(r),
                    want ? want : "");
    assert_int_equal(rc, RG_EPARSE);
    assert_int_equal(err.reason, r);
    if (want)
        assert_non_null(strstr(err.message, want));
}

static void expect_reject(const char *s, enum rg_dlq_reason r, const char *want)
{
    expect_reject_n(s, strlen(s), r, want);
}

static void expect_ok(const char *s, struct rg_txn *txn)
{
    struct rg_decode_error err;
    int rc = decode(s, txn, &err);
    if (rc != 0)
        print_error("input %.200s\n  rejected: %s: %s\n", s, rg_dlq_reason_code(err.reason),
                    err.message);
    assert_int_equal(rc, 0);
}

#define REQ_FIELDS                                                                        \
    "\"event_id\":\"e1\",\"user_id\":\"u1\",\"amount\":4.99,\"currency\":\"EUR\","         \
    "\"ts\":\"2026-11-28T10:00:00.123+01:00\""

/* An event with the required fields and extra (which starts with a comma or is ""). */
static const char *with(const char *extra)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "{" REQ_FIELDS "%s}", extra);
    return buf;
}

/* An event with the required field `name` replaced by "name":value, or
 * removed when value is NULL. */
static const char *req_with(const char *name, const char *value)
{
    static const char *const names[] = { "event_id", "user_id", "amount", "currency", "ts" };
    static const char *const vals[] = { "\"e1\"", "\"u1\"", "4.99", "\"EUR\"",
                                        "\"2026-11-28T10:00:00.123+01:00\"" };
    static char buf[4096];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{");
    bool first = true;
    for (int i = 0; i < 5; i++) {
        const char *v = strcmp(names[i], name) == 0 ? value : vals[i];
        if (!v)
            continue;
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"%s\":%s", first ? "" : ",",
                              names[i], v);
        first = false;
    }
    snprintf(buf + n, sizeof(buf) - n, "}");
    return buf;
}

static void test_valid_full_event(void **state)
{
    (void)state;
    struct rg_txn txn;
    txn.partition = 7;
    txn.offset = 99;
    txn.kafka_ts_ms = 5;
    expect_ok("{\"event_id\":\"evt-1\",\"user_id\":\"user-42\",\"amount\":4.99,"
              "\"currency\":\"USD\",\"ts\":\"2026-11-28T10:00:00.123+01:00\","
              "\"merchant_id\":\"m-9\",\"merchant_category\":\"gift_card\","
              "\"channel\":\"carrier_billing\",\"device_id\":\"d-1\",\"ip\":\"203.0.113.7\","
              "\"country\":\"DE\",\"lat\":52.52,\"lon\":13.405,\"card_token\":\"tok_abc\","
              "\"auth_method\":\"pin\",\"extra\":{\"nested\":[1,2,{\"x\":null}]}}",
              &txn);
    assert_string_equal(txn.event_id, "evt-1");
    assert_string_equal(txn.user_id, "user-42");
    assert_true(txn.amount == 4.99);
    assert_string_equal(txn.currency, "USD");
    assert_int_equal(txn.ts_ms, 1795856400123LL);
    assert_string_equal(txn.merchant_id, "m-9");
    assert_string_equal(txn.merchant_category, "gift_card");
    assert_string_equal(txn.channel, "carrier_billing");
    assert_string_equal(txn.device_id, "d-1");
    assert_string_equal(txn.ip, "203.0.113.7");
    assert_string_equal(txn.country, "DE");
    assert_true(txn.lat == 52.52 && txn.lon == 13.405);
    assert_string_equal(txn.card_token, "tok_abc");
    assert_string_equal(txn.auth_method, "pin");
    assert_int_equal(txn.has, RG_HAS_MERCHANT_ID | RG_HAS_MERCHANT_CAT | RG_HAS_CHANNEL |
                                  RG_HAS_DEVICE_ID | RG_HAS_IP | RG_HAS_COUNTRY | RG_HAS_GEO |
                                  RG_HAS_CARD_TOKEN | RG_HAS_AUTH_METHOD);
    /* transport metadata is the consumer's */
    assert_int_equal(txn.partition, 7);
    assert_int_equal(txn.offset, 99);
    assert_int_equal(txn.kafka_ts_ms, 5);

    /* a second, minimal event leaves nothing of the first behind */
    expect_ok(with(""), &txn);
    assert_int_equal(txn.has, 0);
    assert_string_equal(txn.merchant_id, "");
    assert_string_equal(txn.event_id, "e1");
}

static void test_missing_required(void **state)
{
    (void)state;
    const char *names[] = { "event_id", "user_id", "amount", "currency", "ts" };
    for (int i = 0; i < 5; i++) {
        char want[64];
        snprintf(want, sizeof(want), "missing required field %s", names[i]);
        expect_reject(req_with(names[i], NULL), RG_DLQ_MISSING_FIELD, want);
    }
    expect_reject("{}", RG_DLQ_MISSING_FIELD, "event_id");
}

static void test_wrong_type_required(void **state)
{
    (void)state;
    struct {
        const char *name, *value;
    } c[] = {
        { "event_id", "17" },     { "event_id", "null" }, { "user_id", "true" },
        { "user_id", "[\"u\"]" }, { "amount", "\"4.99\"" }, { "amount", "null" },
        { "currency", "978" },    { "currency", "{}" },   { "ts", "true" },
        { "ts", "[1]" },          { "ts", "null" },
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        expect_reject(req_with(c[i].name, c[i].value), RG_DLQ_WRONG_TYPE, c[i].name);
    expect_reject(with(",\"lat\":\"1\",\"lon\":2"), RG_DLQ_WRONG_TYPE, "lat");
    expect_reject(with(",\"device_id\":42"), RG_DLQ_WRONG_TYPE, "device_id");
}

static void test_amounts(void **state)
{
    (void)state;
    struct rg_txn txn;
    expect_reject(req_with("amount", "NaN"), RG_DLQ_INVALID_JSON, NULL);
    expect_reject(req_with("amount", "Infinity"), RG_DLQ_INVALID_JSON, NULL);
    expect_reject(req_with("amount", "-Infinity"), RG_DLQ_INVALID_JSON, NULL);
    expect_reject(req_with("amount", "-0.01"), RG_DLQ_INVALID_VALUE,
                  "amount must be a finite number >= 0");
    expect_reject(req_with("amount", "1e400"), RG_DLQ_INVALID_VALUE, "amount");
    expect_reject(req_with("amount", "-1e400"), RG_DLQ_INVALID_VALUE, "amount");
    expect_reject(req_with("amount", "1000000000.01"), RG_DLQ_INVALID_VALUE, "huge");
    expect_ok(req_with("amount", "1e9"), &txn);
    assert_true(txn.amount == 1e9);
    expect_ok(req_with("amount", "0"), &txn);
    assert_true(txn.amount == 0);
    expect_ok(req_with("amount", "-0"), &txn);
    assert_false(signbit(txn.amount));
}

static void test_timestamps_rejected(void **state)
{
    (void)state;
    const char *bad[] = {
        "\"2026-11-28T10:00:00\"",        /* no offset */
        "\"2026-13-01T00:00:00Z\"",       /* month 13 */
        "\"2026-00-10T00:00:00Z\"",       /* month 0 */
        "\"2026-02-30T00:00:00Z\"",       /* Feb 30 */
        "\"2025-02-29T00:00:00Z\"",       /* not a leap year */
        "\"2026-11-28T24:00:00Z\"",       /* hour 24 */
        "\"2026-11-28T10:60:00Z\"",       /* minute 60 */
        "\"2026-11-28 10:00:00Z\"",       /* space */
        "\"2026-11-28T10:00:00.Z\"",      /* empty fraction */
        "\"2026-11-28T10:00:00+0100\"",   /* offset without colon */
        "\"2026-11-28T10:00:00+24:00\"",  /* offset hour */
        "\"2026-11-28T10:00:00Zjunk\"",   /* trailing */
        "\"2026-11-28\"",                 /* date only */
        "\"1999-12-31T23:59:59.999Z\"",   /* before 2000 */
        "\"2100-01-01T00:00:00Z\"",       /* not before 2100 */
        "\"0001-01-01T00:00:00Z\"",       /* far past */
        "\"9999-12-31T23:59:59Z\"",       /* far future */
        "1795856400123.5",                /* fractional epoch ms */
        "-1",                             /* negative */
        "0",                              /* 1970 */
        "4102444800000",                  /* 2100 */
        "1e300",                          /* huge */
        "\"\"",                           /* empty */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_reject(req_with("ts", bad[i]), RG_DLQ_INVALID_VALUE, "ts");
}

static void test_timestamps_exact(void **state)
{
    (void)state;
    struct {
        const char *ts;
        int64_t ms;
    } c[] = {
        { "\"2026-11-28T10:00:00.123+01:00\"", 1795856400123LL },
        { "\"2026-11-28T10:00:00+05:30\"", 1795840200000LL },
        { "\"2026-11-28T10:00:00.5-08:00\"", 1795888800500LL },
        { "\"2026-11-28t10:00:00.5-08:00\"", 1795888800500LL },
        { "\"2024-02-29T23:59:59.999Z\"", 1709251199999LL },
        { "\"2024-02-29T23:59:59.999999999z\"", 1709251199999LL },
        { "\"2000-01-01T00:00:00Z\"", 946684800000LL },
        { "\"2099-12-31T23:59:59.999Z\"", 4102444799999LL },
        { "\"2000-01-01T01:00:00+01:00\"", 946684800000LL },
        { "1795856400123", 1795856400123LL },
        { "1.795856400123e12", 1795856400123LL },
        { "946684800000", 946684800000LL },
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        struct rg_txn txn;
        expect_ok(req_with("ts", c[i].ts), &txn);
        assert_int_equal(txn.ts_ms, c[i].ms);
    }
    int64_t ms = 0;
    assert_int_equal(rg_rfc3339_parse("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(rg_rfc3339_parse("2016-12-31T23:59:60Z", &ms), 0); /* leap second */
    assert_int_equal(ms, 1483228800000LL);
    assert_int_equal(rg_rfc3339_parse("garbage", &ms), RG_EPARSE);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    const char *bad[] = {
        "\xC0\xAF",         /* overlong '/' */
        "\xE0\x80\xAF",     /* overlong, 3 bytes */
        "\xF0\x80\x80\xAF", /* overlong, 4 bytes */
        "\x80",             /* lone continuation */
        "a\xBFz",           /* lone continuation mid-string */
        "\xED\xA0\x80",     /* surrogate U+D800 */
        "\xED\xBF\xBF",     /* surrogate U+DFFF */
        "\xF4\x90\x80\x80", /* U+110000 */
        "\xF8\x88\x80\x80\x80", /* 5-byte form */
        "\xFF",
        "\xE2\x82", /* truncated euro sign */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char v[64];
        snprintf(v, sizeof(v), ",\"note\":\"%s\"", bad[i]);
        expect_reject(with(v), RG_DLQ_INVALID_UTF8, NULL);
    }
    /* truncated at the very end of the message */
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "{" REQ_FIELDS ",\"note\":\"\xF0\x9F\x98");
    expect_reject_n(buf, (size_t)n, RG_DLQ_INVALID_UTF8, NULL);

    struct rg_txn txn;
    expect_ok("{\"event_id\":\"\xE2\x82\xAC-\xF0\x9F\x98\x80-\xC3\xA9\",\"user_id\":\"u\","
              "\"amount\":1,\"currency\":\"EUR\",\"ts\":946684800000,"
              "\"note\":\"\xEF\xBF\xBF \xF4\x8F\xBF\xBF\"}",
              &txn);
    assert_string_equal(txn.event_id, "\xE2\x82\xAC-\xF0\x9F\x98\x80-\xC3\xA9");
    /* escaped lone surrogates are invalid JSON strings */
    expect_reject(with(",\"note\":\"\\ud800\""), RG_DLQ_INVALID_JSON, NULL);
    expect_ok(with(",\"note\":\"\\ud83d\\ude00\""), &txn);
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_deep_nesting(void **state)
{
    (void)state;
    struct rg_txn txn;
    char buf[1024];
    /* root object (1) + 15 nested arrays = 16 levels: accepted */
    snprintf(buf, sizeof(buf), "{" REQ_FIELDS ",\"x\":%s1%s}", "[[[[[[[[[[[[[[[", "]]]]]]]]]]]]]]]");
    expect_ok(buf, &txn);
    /* 17 levels */
    snprintf(buf, sizeof(buf), "{" REQ_FIELDS ",\"x\":%s1%s}", "[[[[[[[[[[[[[[[[",
             "]]]]]]]]]]]]]]]]");
    expect_reject(buf, RG_DLQ_TOO_DEEP, NULL);
    snprintf(buf, sizeof(buf), "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":"
                               "{\"j\":{\"k\":{\"l\":{\"m\":{\"n\":{\"o\":{\"p\":{}}}}}}}}}}}}}}}}}");
    expect_reject(buf, RG_DLQ_TOO_DEEP, NULL);
    /* brackets inside strings do not count */
    char v[128];
    snprintf(v, sizeof(v), ",\"x\":\"%s\"", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
    expect_ok(with(v), &txn);

    char *deep = repeat('[', 60000);
    expect_reject(deep, RG_DLQ_TOO_DEEP, NULL);
    free(deep);
    deep = repeat('[', 100000);
    expect_reject(deep, RG_DLQ_TOO_LARGE, NULL);
    free(deep);
    deep = repeat('{', 60000);
    expect_reject(deep, RG_DLQ_TOO_DEEP, NULL);
    free(deep);
}

static void test_sizes(void **state)
{
    (void)state;
    struct rg_txn txn;
    char *big = repeat(' ', 1 << 20);
    big[0] = '{';
    expect_reject_n(big, 1 << 20, RG_DLQ_TOO_LARGE, "limit 65536");
    free(big);

    /* exactly RG_MSG_MAX - 1 and RG_MSG_MAX bytes: accepted; one more: too large */
    for (size_t total = RG_MSG_MAX - 1; total <= RG_MSG_MAX + 1; total++) {
        char *buf = malloc(total + 1);
        assert_non_null(buf);
        int head = snprintf(buf, total + 1, "{" REQ_FIELDS ",\"pad\":\"");
        memset(buf + head, 'p', total - (size_t)head - 2);
        memcpy(buf + total - 2, "\"}", 3);
        assert_int_equal(strlen(buf), total);
        if (total <= RG_MSG_MAX)
            expect_ok(buf, &txn);
        else
            expect_reject(buf, RG_DLQ_TOO_LARGE, NULL);
        free(buf);
    }

    /* the densest cJSON input ("[0,0,...]", a node per 2 bytes) fits the arena */
    char *dense = malloc(RG_MSG_MAX + 1);
    assert_non_null(dense);
    int head = snprintf(dense, RG_MSG_MAX + 1, "{" REQ_FIELDS ",\"pad\":[0");
    size_t n = (size_t)head;
    while (n + 4 <= RG_MSG_MAX) {
        memcpy(dense + n, ",0", 2);
        n += 2;
    }
    memcpy(dense + n, "]}", 3);
    expect_ok(dense, &txn);
    /* and the densest string/key forms */
    head = snprintf(dense, RG_MSG_MAX + 1, "{" REQ_FIELDS ",\"pad\":[\"\"");
    n = (size_t)head;
    while (n + 5 <= RG_MSG_MAX) {
        memcpy(dense + n, ",\"\"", 3);
        n += 3;
    }
    memcpy(dense + n, "]}", 3);
    expect_ok(dense, &txn);
    free(dense);

    expect_reject("", RG_DLQ_EMPTY, NULL);
    expect_reject(" \n\t\r ", RG_DLQ_EMPTY, NULL);
    struct rg_decode_error err;
    assert_int_equal(rg_txn_decode(g_dec, NULL, 0, &txn, &err), RG_EPARSE);
    assert_int_equal(err.reason, RG_DLQ_EMPTY);
    assert_int_equal(rg_txn_decode(NULL, "{}", 2, &txn, &err), RG_EINVAL);
    assert_int_equal(rg_txn_decode(g_dec, NULL, 5, &txn, &err), RG_EINVAL);
    assert_int_equal(rg_txn_decode(g_dec, "{}", 2, NULL, &err), RG_EINVAL);
}

static void test_invalid_json_and_roots(void **state)
{
    (void)state;
    struct rg_txn txn;
    const char *bad[] = { "{", "{\"a\":}", "{\"event_id\" \"e\"}", "{\"a\":1,}", "{'a':1}",
                          "{\"a\":tru}", "{\"a\":01x}", "{\"a\":\"x\x01y\"}", "{\"a\":1}\x01",
                          "\xEF\xBB\xBF{}", "{\"a\":\"unterminated}" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_reject(bad[i], RG_DLQ_INVALID_JSON, NULL);
    expect_reject("{}x", RG_DLQ_INVALID_JSON, "trailing");
    expect_reject("{}{}", RG_DLQ_INVALID_JSON, "trailing");
    char trail[4096 + 16];
    snprintf(trail, sizeof(trail), "%s \r\n\t", with(""));
    expect_ok(trail, &txn);
    /* embedded NUL byte */
    static const char nul[] = "{\"a\":1}\0";
    expect_reject_n(nul, sizeof(nul) - 1, RG_DLQ_INVALID_JSON, NULL);

    const char *roots[] = { "[]", "[{\"event_id\":\"e\"}]", "\"x\"", "1", "null", "true" };
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
        expect_reject(roots[i], RG_DLQ_NOT_AN_OBJECT, NULL);
}

static void test_duplicates_and_unknown(void **state)
{
    (void)state;
    struct rg_txn txn;
    expect_reject(with(",\"amount\":5"), RG_DLQ_DUPLICATE_FIELD, "duplicate field amount");
    expect_reject(with(",\"amo\\u0075nt\":5"), RG_DLQ_DUPLICATE_FIELD, "amount");
    expect_reject(with(",\"device_id\":\"a\",\"device_id\":\"b\""), RG_DLQ_DUPLICATE_FIELD,
                  "device_id");
    expect_reject(with(",\"x\":1,\"y\":2,\"x\":3"), RG_DLQ_DUPLICATE_FIELD, "duplicate field x");
    expect_reject(with(",\"x y\":1,\"x y\":3"), RG_DLQ_DUPLICATE_FIELD, "withheld");
    /* the same key in different nested objects is fine */
    expect_ok(with(",\"x\":{\"a\":1},\"y\":{\"a\":2},\"z\":[{\"amount\":1}]"), &txn);
    /* unknown fields of any type are ignored */
    expect_ok(with(",\"Amount\":\"x\",\"promo\":null,\"tags\":[\"a\",1,true],\"o\":{}"), &txn);
    assert_true(txn.amount == 4.99);
    /* duplicate detection resets per event */
    for (int i = 0; i < 3; i++)
        expect_ok(with(",\"x\":1"), &txn);
}

static void test_formats(void **state)
{
    (void)state;
    struct rg_txn txn;
    const char *cur[] = { "\"eur\"", "\"EURO\"", "\"EU\"", "\"E1R\"", "\"\"", "\"\xC3\x89UR\"" };
    for (size_t i = 0; i < sizeof(cur) / sizeof(cur[0]); i++)
        expect_reject(req_with("currency", cur[i]), RG_DLQ_INVALID_VALUE, "currency");
    expect_reject(with(",\"country\":\"de\""), RG_DLQ_INVALID_VALUE, "country");
    expect_reject(with(",\"country\":\"DEU\""), RG_DLQ_INVALID_VALUE, "country");
    expect_reject(with(",\"country\":\"D\""), RG_DLQ_INVALID_VALUE, "country");
    expect_ok(with(",\"country\":\"DE\""), &txn);
    assert_string_equal(txn.country, "DE");
    assert_true(txn.has & RG_HAS_COUNTRY);

    expect_reject(with(",\"lat\":10"), RG_DLQ_INVALID_VALUE, "lat and lon");
    expect_reject(with(",\"lon\":10"), RG_DLQ_INVALID_VALUE, "lat and lon");
    expect_reject(with(",\"lat\":90.5,\"lon\":0"), RG_DLQ_INVALID_VALUE, "lat");
    expect_reject(with(",\"lat\":0,\"lon\":-180.1"), RG_DLQ_INVALID_VALUE, "lon");
    expect_ok(with(",\"lat\":-90,\"lon\":180"), &txn);
    assert_true(txn.has & RG_HAS_GEO);
    assert_true(txn.lat == -90 && txn.lon == 180);

    expect_reject(with(",\"ip\":\"300.1.1.1\""), RG_DLQ_INVALID_VALUE, "ip");
    expect_ok(with(",\"ip\":\"2001:db8::1\""), &txn);
    assert_string_equal(txn.ip, "2001:db8::1");

    /* optional null or "" is absent */
    expect_ok(with(",\"device_id\":null,\"merchant_id\":\"\",\"lat\":null,\"lon\":null"), &txn);
    assert_int_equal(txn.has, 0);
    expect_reject(req_with("event_id", "\"\""), RG_DLQ_INVALID_VALUE, "event_id must not be empty");
}

static void test_lengths_and_privacy(void **state)
{
    (void)state;
    struct rg_txn txn;
    char v[512], id[300];
    memset(id, 'a', sizeof(id));
    id[RG_ID_MAX] = '\0';
    snprintf(v, sizeof(v), "\"%s\"", id);
    expect_ok(req_with("event_id", v), &txn);
    assert_int_equal(strlen(txn.event_id), RG_ID_MAX);
    /* 129 bytes of a personal-looking value: rejected, value never echoed */
    memcpy(id, "secretuser", 10);
    id[RG_ID_MAX] = 'a';
    id[RG_ID_MAX + 1] = '\0';
    snprintf(v, sizeof(v), "\"%s\"", id);
    expect_reject(req_with("user_id", v), RG_DLQ_FIELD_TOO_LONG, "user_id is longer than 128");
    struct rg_decode_error err;
    decode(req_with("user_id", v), &txn, &err);
    assert_null(strstr(err.message, "secret"));
    expect_reject(with(",\"merchant_category\":\"123456789012345678901234567890123\""),
                  RG_DLQ_FIELD_TOO_LONG, "merchant_category");
    /* 45-byte IPv6 fits, 46 does not */
    expect_reject(with(",\"ip\":\"0000:0000:0000:0000:0000:ffff:192.168.100.2281\""),
                  RG_DLQ_FIELD_TOO_LONG, "ip");

    decode(with(",\"country\":\"xsecretx\""), &txn, &err);
    assert_null(strstr(err.message, "secret"));
    decode(req_with("ts", "\"secret\""), &txn, &err);
    assert_null(strstr(err.message, "secret"));
    expect_reject(with(",\"note\":\"a\\u0000b\""), RG_DLQ_INVALID_VALUE, "\\u0000");
}

static void test_card_numbers(void **state)
{
    (void)state;
    struct rg_txn txn;
    struct rg_decode_error err;
    expect_reject(with(",\"device_id\":\"4111111111111111\""), RG_DLQ_CARD_NUMBER,
                  "field device_id");
    decode(with(",\"device_id\":\"4111111111111111\""), &txn, &err);
    assert_null(strstr(err.message, "4111"));
    decode(with(",\"note\":\"paid with 4111 1111 1111 1111 ok\""), &txn, &err);
    assert_int_equal(err.reason, RG_DLQ_CARD_NUMBER);
    assert_null(strstr(err.message, "4111"));
    assert_null(strstr(err.message, "1111"));
    expect_reject(with(",\"x\":{\"user_id\":\"5555-5555-5555-4444\"}"), RG_DLQ_CARD_NUMBER,
                  "a string value");
    expect_reject(with(",\"4111111111111111\":1"), RG_DLQ_CARD_NUMBER, "key");
    /* a card number wins over any later problem, including invalid JSON */
    expect_reject("{\"pan\":\"4111111111111111\"", RG_DLQ_CARD_NUMBER, NULL);
    expect_reject(req_with("event_id", "\"378282246310005\""), RG_DLQ_CARD_NUMBER, "event_id");
    /* JSON numbers are not card numbers: an out-of-range ts is just that */
    expect_reject(req_with("ts", "4111111111111111"), RG_DLQ_INVALID_VALUE, "ts");
    /* not cards: Luhn fails, 12 or 20 digits, first digit 7 */
    expect_ok(with(",\"a\":\"4111111111111112\",\"b\":\"411111111117\","
                   "\"c\":\"41111111111111111115\",\"d\":\"711111111111113\""),
              &txn);
}

static void test_reason_codes(void **state)
{
    (void)state;
    for (int i = 0; i < RG_DLQ_REASON_COUNT; i++) {
        const char *c = rg_dlq_reason_code((enum rg_dlq_reason)i);
        assert_true(strlen(c) > 0);
        for (const char *p = c; *p; p++)
            assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
        for (int j = 0; j < i; j++)
            assert_string_not_equal(c, rg_dlq_reason_code((enum rg_dlq_reason)j));
        assert_true(strlen(rg_dlq_reason_meaning((enum rg_dlq_reason)i)) > 0);
    }
    assert_string_equal(rg_dlq_reason_code(RG_DLQ_CARD_NUMBER), "card_number");
    assert_string_equal(rg_dlq_reason_code(RG_DLQ_TOO_DEEP), "too_deep");
    assert_string_equal(rg_dlq_reason_code(RG_DLQ_REASON_COUNT), "unknown");
}

static void expect_header(rd_kafka_headers_t *h, const char *name, const char *want)
{
    const void *val = NULL;
    size_t size = 0;
    assert_int_equal(rd_kafka_header_get_last(h, name, &val, &size), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(size, strlen(want));
    assert_memory_equal(val, want, size);
}

static void test_dlq_headers(void **state)
{
    (void)state;
    struct rg_dlq_meta m = { .code = "missing_field",
                             .message = "missing required field amount",
                             .topic = "transactions",
                             .partition = 11,
                             .offset = 1234567890123LL };
    rd_kafka_headers_t *h = rg_dlq_headers_new(&m);
    assert_non_null(h);
    assert_int_equal(rd_kafka_header_cnt(h), 6);
    expect_header(h, "riskgate-reason", "missing_field");
    expect_header(h, "riskgate-reason-message", "missing required field amount");
    expect_header(h, "riskgate-source-topic", "transactions");
    expect_header(h, "riskgate-source-partition", "11");
    expect_header(h, "riskgate-source-offset", "1234567890123");
    expect_header(h, "riskgate-version", "1");
    rd_kafka_headers_destroy(h);

    struct rg_dlq_meta empty = { .partition = -1, .offset = -1 };
    h = rg_dlq_headers_new(&empty);
    assert_non_null(h);
    expect_header(h, "riskgate-reason", "");
    expect_header(h, "riskgate-source-partition", "-1");
    rd_kafka_headers_destroy(h);
    assert_null(rg_dlq_headers_new(NULL));
}

/* Outside a decode the cJSON hooks are plain malloc/free: other modules
 * may parse, print and free() as usual, also between decodes. */
static void test_cjson_outside_decoder(void **state)
{
    (void)state;
    struct rg_txn txn;
    cJSON *o = cJSON_Parse("{\"a\":[1,2,{\"b\":\"c\"}]}");
    assert_non_null(o);
    expect_ok(with(""), &txn); /* a decode between parse and use */
    char *txt = cJSON_PrintUnformatted(o);
    assert_non_null(txt);
    assert_string_equal(txt, "{\"a\":[1,2,{\"b\":\"c\"}]}");
    free(txt);
    cJSON_Delete(o);
    void *p = cJSON_malloc(32);
    assert_non_null(p);
    cJSON_free(p);
}

struct thr_arg {
    int id;
    int bad;
};

static void *decode_thread(void *p)
{
    struct thr_arg *a = p;
    struct rg_decoder *dec = rg_decoder_new();
    if (!dec) {
        a->bad = -1;
        return NULL;
    }
    char ev[256], want[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(want, sizeof(want), "t%d-%d", a->id, i);
        int n = snprintf(ev, sizeof(ev),
                         "{\"event_id\":\"%s\",\"user_id\":\"u%d\",\"amount\":%d,"
                         "\"currency\":\"EUR\",\"ts\":%lld,\"x\":[%d,{\"y\":\"%s\"}]}",
                         want, a->id, i, 946684800000LL + i, i, want);
        struct rg_txn txn;
        struct rg_decode_error err;
        if (rg_txn_decode(dec, ev, (size_t)n, &txn, &err) != 0 || strcmp(txn.event_id, want) != 0 ||
            txn.amount != i || txn.ts_ms != 946684800000LL + i)
            a->bad++;
        /* every few events a rejection, which frees inside the parse */
        if (i % 7 == 0 && rg_txn_decode(dec, "{\"a\":[1,2,", 11, &txn, &err) != RG_EPARSE)
            a->bad++;
    }
    rg_decoder_free(dec);
    return NULL;
}

/* One decoder per thread: arenas are thread-local and never mix. */
static void test_decoders_on_threads(void **state)
{
    (void)state;
    pthread_t t[3];
    struct thr_arg a[3];
    for (int i = 0; i < 3; i++) {
        a[i] = (struct thr_arg){ .id = i };
        assert_int_equal(pthread_create(&t[i], NULL, decode_thread, &a[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].bad, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_full_event),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_wrong_type_required),
        cmocka_unit_test(test_amounts),
        cmocka_unit_test(test_timestamps_rejected),
        cmocka_unit_test(test_timestamps_exact),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_invalid_json_and_roots),
        cmocka_unit_test(test_duplicates_and_unknown),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_lengths_and_privacy),
        cmocka_unit_test(test_card_numbers),
        cmocka_unit_test(test_reason_codes),
        cmocka_unit_test(test_dlq_headers),
        cmocka_unit_test(test_cjson_outside_decoder),
        cmocka_unit_test(test_decoders_on_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
