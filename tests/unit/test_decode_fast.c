/*
 * test_decode_fast.c - the decoder's flat-object fast path (decode.c,
 * DESIGN) is invisible: every message decodes to the same bytes, the same
 * result code, dead-letter reason and message with the fast path on as
 * with cJSON alone. Messages are random events built from the contract's
 * fields with the variations that matter to a parser: field order,
 * whitespace, number spellings (decimals, -0, leading zeros, exponents,
 * 15 and 16+ digits, epoch-ms ts), escapes, unicode, nulls, booleans,
 * nested values, duplicates, unknown keys, card numbers, truncation and
 * trailing bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskgate/decode.h"
#include "riskgate/txn.h"
#include "../../src/ingest/decode_int.h"

static uint64_t rng_state = 0x13198a2e03707344ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}
static int pick(int n) { return (int)(rnd() % (uint64_t)n); }

struct sb {
    char b[4096];
    size_t n;
};

static void put(struct sb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct sb *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(s->b + s->n, sizeof(s->b) - s->n, fmt, ap);
    va_end(ap);
    if (k > 0)
        s->n = s->n + (size_t)k < sizeof(s->b) ? s->n + (size_t)k : sizeof(s->b) - 1;
}

static void ws(struct sb *s)
{
    static const char *const w[] = { "", "", "", "", " ", "\n", "\t ", "\r\n  " };
    put(s, "%s", w[pick(8)]);
}

static void number(struct sb *s)
{
    static const char *const odd[] = { "-0", "0", "0.0", "00", "01.5", "1e3", "1E-2", "2.5e+1",
                                       "-", "1.", ".5", "1.2.3", "3.90-5", "1e400", "-1e400",
                                       "123456789012345", "1234567890123456",
                                       "0.000000000000001", "0.0000000000000001",
                                       "999999999999999", "9007199254740993", "1793000000000",
                                       "-90", "90.0000000001", "180", "-180.5", "1000000000",
                                       "1000000000.01", "NaN", "Infinity", "-0.0" };
    switch (pick(4)) {
    case 0: put(s, "%s", odd[pick((int)(sizeof(odd) / sizeof(odd[0])))]); break;
    case 1: put(s, "%d.%02d", pick(200) - 20, pick(100)); break;
    case 2: put(s, "%.*f", pick(12), (double)(pick(2000000) - 1000000) / 1000.0); break;
    default: put(s, "%d", pick(100000) - 10); break;
    }
}

static void string(struct sb *s)
{
    static const char *const str[] = { "u1", "e-5_1", "m492", "d-4a85886feab5", "USD", "EUR",
                                       "usd", "US", "U", "73.218.102.233", "::1", "300.1.1.1",
                                       "2026-10-31T19:00:00.040-05:00", "2026-11-01T00:00:00Z",
                                       "2026-02-30T00:00:00Z", "", "gift_card", "carrier_billing",
                                       "caf\\u00e9", "a\\\"b", "x\\\\y", "tab\\tx", "\\u0000",
                                       "h\xc3\xa9llo", "4111 1111 1111 1111",
                                       "ref 5555555555554444", "\\ud83d\\ude00", "none",
                                       "biometric" };
    /* bytes the pre-scan judges: control characters, DEL, bad UTF-8 */
    static const char *const raw[] = { "raw\x01" "ctl", "del\x7f", "bad\xff", "trunc\xc3",
                                       "over\xc0\xaf", "sur\xed\xa0\x80", "\xf0\x9f\x98\x80",
                                       "\\u0041", "nul\\u0000x", "tab\tin" };
    if (pick(10) == 0)
        put(s, "\"%s\"", raw[pick((int)(sizeof(raw) / sizeof(raw[0])))]);
    else
        put(s, "\"%s\"", str[pick((int)(sizeof(str) / sizeof(str[0])))]);
}

static void value(struct sb *s, const char *key)
{
    int r = pick(100);
    if (r < 4) {
        static const char *const lit[] = { "null", "true", "false", "{}", "[]", "[1,2]",
                                           "{\"a\":1}", "nul", "tru" };
        put(s, "%s", lit[pick(9)]);
    } else if (r < 50 && (!strcmp(key, "amount") || !strcmp(key, "lat") || !strcmp(key, "lon"))) {
        put(s, "%s%d.%0*d", pick(3) ? "" : "-", pick(90), 1 + pick(6), pick(100000));
    } else if (!strcmp(key, "amount") || !strcmp(key, "lat") || !strcmp(key, "lon") ||
               (!strcmp(key, "ts") && r < 40)) {
        if (!strcmp(key, "ts") && r < 30)
            put(s, "%lld", 1793000000000LL + (long long)pick(1000000));
        else
            number(s);
    } else if (r < 8) {
        number(s);
    } else if (r < 60 && !strcmp(key, "currency")) {
        put(s, "\"%s\"", pick(2) ? "USD" : "EUR");
    } else if (r < 60 && !strcmp(key, "country")) {
        put(s, "\"%s\"", pick(2) ? "US" : "FR");
    } else if (r < 60 && !strcmp(key, "ip")) {
        put(s, "\"%d.%d.%d.%d\"", pick(256), pick(256), pick(256), pick(256));
    } else if (!strcmp(key, "ts")) {
        put(s, "\"2026-1%d-%02dT%02d:00:00.%03d%s\"", pick(3), 1 + pick(30), pick(24), pick(1000),
            pick(2) ? "Z" : "+01:00");
    } else if (!strcmp(key, "event_id") || !strcmp(key, "user_id")) {
        if (r < 20)
            string(s);
        else
            put(s, "\"%c%d\"", "eu"[pick(2)], pick(100000));
    } else {
        string(s);
    }
}

static size_t make_event(char *out, size_t cap)
{
    static const char *const keys[] = { "event_id", "user_id", "amount", "currency", "ts",
                                        "merchant_id", "merchant_category", "channel",
                                        "device_id", "ip", "country", "lat", "lon", "card_token",
                                        "auth_method", "extra", "nested", "e\\u0078tra",
                                        "4111111111111111", "merchant_id", "channel", "lat",
                                        "lon", "device_id", "ip", "country" };
    struct sb s = { .n = 0 };
    ws(&s);
    put(&s, "{");
    int nf = 3 + pick(12);
    int base = pick(8) == 0; /* sometimes drop required ones */
    int start = pick(12);
    for (int i = 0; i < nf; i++) {
        const char *k = i < 5 && !base ? keys[i]
                        : pick(10) ? keys[5 + (start + i) % 12] /* distinct, mostly */
                                   : keys[pick((int)(sizeof(keys) / sizeof(keys[0])))];
        if (i)
            put(&s, ",");
        ws(&s);
        put(&s, "\"%s\"", k);
        ws(&s);
        put(&s, ":");
        ws(&s);
        value(&s, k);
        ws(&s);
    }
    put(&s, "}");
    ws(&s);
    int r = pick(80);
    if (r == 0)
        put(&s, "x");
    else if (r == 1)
        put(&s, "{}");
    else if (r == 2 && s.n > 2)
        s.n = (size_t)pick((int)s.n); /* truncated */
    else if (r == 3 && s.n > 3)
        s.b[pick((int)s.n)] = ",:{}[]\"\\ 0"[pick(10)]; /* one byte damaged */
    memcpy(out, s.b, s.n < cap ? s.n : cap);
    return s.n < cap ? s.n : cap;
}

static void decode_once(struct rg_decoder *dec, const char *b, size_t n, int *rc,
                        struct rg_txn *txn, struct rg_decode_error *err)
{
    memset(txn, 0xA5, sizeof(*txn));
    memset(err, 0, sizeof(*err));
    *rc = rg_txn_decode(dec, b, n, txn, err);
}

static void test_fast_path_is_invisible(void **state)
{
    (void)state;
    struct rg_decoder *dec = rg_decoder_new();
    assert_non_null(dec);
    static struct rg_txn ta, tb;
    struct rg_decode_error ea, eb;
    char buf[4096];
    int ok = 0, rejected = 0;
    unsigned long hits0 = rg_decode_fast_hits();
    for (int iter = 0; iter < 100000; iter++) {
        size_t n = make_event(buf, sizeof(buf));
        int ra, rb;
        rg_decode_set_fast_path(false);
        decode_once(dec, buf, n, &ra, &ta, &ea);
        rg_decode_set_fast_path(true);
        decode_once(dec, buf, n, &rb, &tb, &eb);
        if (ra != rb || ea.reason != eb.reason || strcmp(ea.message, eb.message) != 0 ||
            memcmp(&ta, &tb, sizeof(ta)) != 0) {
            fprintf(stderr, "iter %d: cJSON rc %d (%s) fast rc %d (%s) on [%.*s]\n", iter, ra,
                    ea.message, rb, eb.message, (int)n, buf);
            fail();
        }
        if (ra == 0)
            ok++;
        else
            rejected++;
    }
    unsigned long hits = rg_decode_fast_hits() - hits0;
    /* both outcomes are well represented, and the fast path really ran */
    assert_true(ok > 5000);
    assert_true(rejected > 5000);
    assert_true(hits > 20000);
    rg_decoder_free(dec);
    rg_decode_set_fast_path(true);
}

static void test_fast_path_numbers_exact(void **state)
{
    (void)state;
    /* values a naive m / 10^k or m * 0.1^k would get wrong by an ulp */
    static const char *const nums[] = { "0.1", "0.3", "2.675", "1.005", "123456.789012345",
                                        "0.000000000000001", "99999.9999999999", "-118.2204",
                                        "34.0532", "4.35", "8.1", "0.000000000000000000001",
                                        "999999999.999999" };
    struct rg_decoder *dec = rg_decoder_new();
    assert_non_null(dec);
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        char line[256];
        int n = snprintf(line, sizeof(line),
                         "{\"event_id\":\"e1\",\"user_id\":\"u1\",\"amount\":%s,"
                         "\"currency\":\"USD\",\"ts\":1793000000000}",
                         nums[i][0] == '-' ? nums[i] + 1 : nums[i]);
        struct rg_txn txn;
        struct rg_decode_error err;
        unsigned long h = rg_decode_fast_hits();
        assert_int_equal(rg_txn_decode(dec, line, (size_t)n, &txn, &err), 0);
        assert_int_equal(rg_decode_fast_hits(), h + 1);
        double want = strtod(nums[i][0] == '-' ? nums[i] + 1 : nums[i], NULL);
        assert_memory_equal(&txn.amount, &want, sizeof(double));
    }
    rg_decoder_free(dec);
}

/* The fast string scan reads 8 bytes at a time: a special byte (quote,
 * backslash, control, DEL, UTF-8, a stray byte >= 0x80) at every offset
 * around the 8-byte steps, and digit runs that are or are not a card
 * number at every offset, decode exactly as with cJSON alone; the fast
 * path is taken exactly when the string is plain ASCII without a card
 * number; a Luhn-valid 16-digit run is rejected wherever it starts. */
static void test_fast_string_every_offset(void **state)
{
    (void)state;
    static const char *const specials[] = { "\"", "\\\"", "\\n", "\x01", "\x1f", "\x7f",
                                            "\xc3\xa9", "\x80", "\xff", " ", "~", "5" };
    static const char *const runs[] = { "4111111111111111", "4111111111111112", "123456789012",
                                        "1234567890123" };
    struct rg_decoder *dec = rg_decoder_new();
    assert_non_null(dec);
    static struct rg_txn ta, tb;
    struct rg_decode_error ea, eb;
    char val[128], line[512];
    int fast_seen = 0, card_seen = 0;
    for (int kind = 0; kind < 2; kind++) {
        size_t nk = kind == 0 ? sizeof(specials) / sizeof(specials[0])
                              : sizeof(runs) / sizeof(runs[0]);
        for (size_t k = 0; k < nk; k++) {
            for (int pre = 0; pre <= 40; pre++) {
                for (int post = 0; post <= 9; post += 3) {
                    size_t n = 0;
                    for (int i = 0; i < pre; i++) /* letters and a few digits, */
                        val[n++] = i + 1 < pre ? "ab7cdefgh"[i % 9] : 'q'; /* not next to mid */
                    const char *mid = kind == 0 ? specials[k] : runs[k];
                    memcpy(val + n, mid, strlen(mid));
                    n += strlen(mid);
                    for (int i = 0; i < post; i++)
                        val[n++] = "xyz"[i % 3];
                    val[n] = '\0';
                    int len = snprintf(line, sizeof(line),
                                       "{\"event_id\":\"e1\",\"user_id\":\"u1\",\"amount\":5,"
                                       "\"currency\":\"USD\",\"ts\":1793000000000,"
                                       "\"merchant_id\":\"%s\"}",
                                       val);
                    int ra, rb;
                    rg_decode_set_fast_path(false);
                    decode_once(dec, line, (size_t)len, &ra, &ta, &ea);
                    rg_decode_set_fast_path(true);
                    unsigned long h = rg_decode_fast_hits();
                    decode_once(dec, line, (size_t)len, &rb, &tb, &eb);
                    bool fast = rg_decode_fast_hits() != h;
                    if (ra != rb || ea.reason != eb.reason ||
                        strcmp(ea.message, eb.message) != 0 || memcmp(&ta, &tb, sizeof(ta))) {
                        fprintf(stderr, "kind %d item %zu pre %d post %d: cJSON rc %d (%s), "
                                        "fast rc %d (%s)\n",
                                kind, k, pre, post, ra, ea.message, rb, eb.message);
                        fail();
                    }
                    /* plain: printable ASCII, and no quote left inside the value */
                    bool plain = kind == 1 || (k >= 5 && k != 6 && k != 7 && k != 8);
                    bool card = kind == 1 && k == 0;
                    assert_int_equal(fast, plain && !card);
                    if (card) {
                        assert_true(rb != 0);
                        assert_int_equal(eb.reason, RG_DLQ_CARD_NUMBER);
                        card_seen++;
                    }
                    fast_seen += fast;
                }
            }
        }
    }
    assert_true(fast_seen > 500 && card_seen == 41 * 4);
    rg_decoder_free(dec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_path_is_invisible),
        cmocka_unit_test(test_fast_path_numbers_exact),
        cmocka_unit_test(test_fast_string_every_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
