/*
 * test_card_fast.c - the card scanner's string skip (card.c: strings with
 * no backslash and fewer than 13 digits are skipped whole) changes
 * nothing: rg_card_scan is compared with the scanner as it was before the
 * skip (copied below, renamed ref_*) on many random messages built from
 * the characters that matter (digits, spaces, dashes, quotes, escapes,
 * colons, brackets) with real card numbers planted in some of them.
 * Count, masked output and the first-hit description must all be equal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/ingest/card_scan.h"

/* ---- reference: card.c before the skip ------------------------------ */

#define CARD_MIN 13
#define CARD_MAX 19
#define CARD_KEEP_HEAD 6
#define CARD_KEEP_TAIL 4

static inline bool ref_is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static inline bool ref_is_hex(unsigned char c)
{
    return ref_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline bool ref_is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool ref_luhn_ok(const char *digits, size_t n)
{
    if (!digits || n == 0)
        return false;
    unsigned sum = 0;
    bool dbl = false;
    for (size_t i = n; i-- > 0;) {
        unsigned char c = (unsigned char)digits[i];
        if (!ref_is_digit(c))
            return false;
        unsigned d = c - '0';
        if (dbl) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
        dbl = !dbl;
    }
    return sum % 10 == 0;
}

static size_t ref_group_end(const char *in, size_t len, size_t p)
{
    while (p < len && ref_is_digit((unsigned char)in[p]))
        p++;
    return p;
}

/* Start of the group after the one ending at e, or SIZE_MAX. */
static size_t ref_next_group(const char *in, size_t len, size_t e)
{
    if (e + 1 < len && (in[e] == ' ' || in[e] == '-') && ref_is_digit((unsigned char)in[e + 1]))
        return e + 1;
    return SIZE_MAX;
}

static void ref_mask_range(char *out, const char *in, size_t from, size_t to, size_t nd)
{
    size_t k = 0;
    for (size_t p = from; p < to; p++) {
        if (!ref_is_digit((unsigned char)in[p]))
            continue;
        if (k >= CARD_KEEP_HEAD && k < nd - CARD_KEEP_TAIL)
            out[p] = '*';
        k++;
    }
}

/* Handle the run of digit groups starting at p0; returns the first byte
 * after it. */
static size_t ref_scan_run(const char *in, size_t len, size_t p0, char *out, int *found)
{
    size_t gs = p0;
    for (;;) {
        size_t gs_end = ref_group_end(in, len, gs);
        size_t best_end = 0, best_nd = 0;
        unsigned char first = (unsigned char)in[gs];
        if (first >= '2' && first <= '6') {
            char digits[CARD_MAX];
            size_t nd = 0, g = gs;
            for (;;) {
                size_t e = ref_group_end(in, len, g);
                if (nd + (e - g) > CARD_MAX)
                    break;
                memcpy(digits + nd, in + g, e - g);
                nd += e - g;
                if (nd >= CARD_MIN && ref_luhn_ok(digits, nd)) {
                    best_end = e;
                    best_nd = nd;
                }
                g = ref_next_group(in, len, e);
                if (g == SIZE_MAX)
                    break;
            }
        }
        size_t resume_from = gs_end;
        if (best_end) {
            (*found)++;
            if (out)
                ref_mask_range(out, in, gs, best_end, best_nd);
            resume_from = best_end;
        }
        size_t ng = ref_next_group(in, len, resume_from);
        if (ng == SIZE_MAX)
            return resume_from;
        gs = ng;
    }
}

static int ref_card_scan(const char *in, size_t len, char *out, struct rg_card_hit *first)
{
    if (!in)
        return 0;
    if (out && out != in && len)
        memcpy(out, in, len);
    int found = 0, depth = 0;
    bool after_colon = false;
    size_t key_off = 0, key_len = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)in[i];
        if (c != '"') {
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && depth > 0)
                depth--;
            if (c == ':')
                after_colon = true;
            else if (!ref_is_ws(c))
                after_colon = false;
            i++;
            continue;
        }
        size_t s = ++i;
        int before = found;
        while (i < len && in[i] != '"') {
            c = (unsigned char)in[i];
            if (c == '\\') {
                i++;
                if (i < len && in[i] == 'u') {
                    i++;
                    for (int k = 0; k < 4 && i < len && ref_is_hex((unsigned char)in[i]); k++)
                        i++;
                } else if (i < len) {
                    i++;
                }
            } else if (ref_is_digit(c)) {
                i = ref_scan_run(in, len, i, out, &found);
            } else {
                i++;
            }
        }
        size_t e = i;
        if (i < len)
            i++; /* closing quote */
        size_t j = i;
        while (j < len && ref_is_ws((unsigned char)in[j]))
            j++;
        bool is_key = j < len && in[j] == ':';
        if (found > before && before == 0 && first) {
            first->in_key = is_key;
            first->depth = depth;
            first->key_off = (!is_key && after_colon) ? key_off : 0;
            first->key_len = (!is_key && after_colon) ? key_len : 0;
        }
        if (is_key) {
            key_off = s;
            key_len = e - s;
        }
        after_colon = false;
    }
    return found;
}


/* ---- random messages ------------------------------------------------- */

static uint64_t rng_state = 0x243f6a8885a308d3ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

/* A Luhn-valid number of n digits starting with 2-6, grouped by g. */
static size_t put_card(char *o, size_t cap, int n)
{
    char d[19];
    d[0] = (char)('2' + rnd() % 5);
    for (int i = 1; i < n - 1; i++)
        d[i] = (char)('0' + rnd() % 10);
    for (int c = 0; c < 10; c++) {
        d[n - 1] = (char)('0' + c);
        if (ref_luhn_ok(d, (size_t)n))
            break;
    }
    size_t k = 0;
    int grp = (int)(rnd() % 3);
    for (int i = 0; i < n && k + 2 < cap; i++) {
        if (i && grp && i % 4 == 0)
            o[k++] = grp == 1 ? ' ' : '-';
        o[k++] = d[i];
    }
    return k;
}

static size_t gen(char *o, size_t cap)
{
    static const char alphabet[] = "0123456789012345678901234567890123456789 -\"\\:{}[],ua\t";
    size_t n = 0, want = 1 + rnd() % 300;
    int dense = (int)(rnd() % 3); /* 0: mostly text, 2: mostly digits */
    while (n < want && n + 40 < cap) {
        uint64_t r = rnd() % 100;
        if (r < 3) {
            n += put_card(o + n, cap - n, 13 + (int)(rnd() % 7));
        } else if (r < 10) {
            o[n++] = '"';
        } else if (r < 10 + 20 * (uint64_t)dense) {
            o[n++] = (char)('0' + rnd() % 10);
        } else if (r < 75) {
            o[n++] = (char)('a' + rnd() % 26);
        } else {
            o[n++] = alphabet[rnd() % (sizeof(alphabet) - 1)];
        }
    }
    return n;
}

static void test_skip_changes_nothing(void **state)
{
    (void)state;
    char in[512], a[512], b[512];
    int found_some = 0, skipped_some = 0;
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = gen(in, sizeof(in));
        struct rg_card_hit ha, hb;
        memset(&ha, 0x55, sizeof(ha));
        memset(&hb, 0x55, sizeof(hb));
        int na = ref_card_scan(in, len, a, &ha);
        int nb = rg_card_scan(in, len, b, &hb);
        if (na != nb || memcmp(a, b, len) != 0 ||
            (na > 0 && memcmp(&ha, &hb, sizeof(ha)) != 0)) {
            fprintf(stderr, "iter %d: ref %d new %d on [%.*s]\n", iter, na, nb, (int)len, in);
            fail();
        }
        /* the count-only path (NULL out, NULL hit) agrees too */
        assert_int_equal(rg_card_scan(in, len, NULL, NULL), na);
        found_some += na > 0;
        skipped_some += na == 0;
    }
    /* the generator exercises both outcomes */
    assert_true(found_some > 1000);
    assert_true(skipped_some > 1000);
}

static void test_event_lines(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "{\"event_id\":\"e-5_0\",\"ts\":\"2026-10-31T19:00:00.040-05:00\",\"ip\":\"73.218.102.233\"}",
        "{\"note\":\"4111 1111 1111 1111\"}",
        "{\"note\":\"ref 12 4111-1111-1111-1111 x\"}",
        "{\"n\":\"411111111111\\u00311111\"}",
        "{\"n\":\"41111111111111111111\"}",
        "{\"4111111111111111\":1}",
        "{\"a\":[\"5555555555554444\"]}",
        "{\"unterminated\":\"4111111111111111",
        "{\"unterminated\":\"41111",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        size_t len = strlen(lines[i]);
        char a[256], b[256];
        struct rg_card_hit ha, hb;
        memset(&ha, 0, sizeof(ha));
        memset(&hb, 0, sizeof(hb));
        int na = ref_card_scan(lines[i], len, a, &ha);
        int nb = rg_card_scan(lines[i], len, b, &hb);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, len);
        assert_memory_equal(&ha, &hb, sizeof(ha));
    }
    /* and the reference itself is the scanner we think it is */
    assert_int_equal(ref_card_scan(lines[0], strlen(lines[0]), NULL, NULL), 0);
    assert_int_equal(ref_card_scan(lines[1], strlen(lines[1]), NULL, NULL), 1);
    assert_int_equal(ref_card_scan(lines[2], strlen(lines[2]), NULL, NULL), 1);
    assert_int_equal(ref_card_scan(lines[4], strlen(lines[4]), NULL, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skip_changes_nothing),
        cmocka_unit_test(test_event_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
