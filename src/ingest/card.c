/*
 * card.c - finding and masking raw card numbers in message bytes.
 *
 * DESIGN
 * The scan works on raw bytes, before (and independently of) JSON parsing,
 * so it also protects dead letters that are not valid JSON. It tracks
 * whether it is inside a string (a quote starts one, a backslash escape is
 * skipped, \uXXXX with its hex digits) and only looks at string content:
 * JSON numbers such as an epoch-ms "ts" are never card numbers.
 *
 * Inside a string, a run is digit groups joined by a single space or dash
 * ("4111 1111-1111 1111"), delimited by any other non-digit. Every start
 * group is tried against the longest sequence of whole following groups
 * that holds 13-19 digits, starts with 2-6 and passes Luhn; a match is
 * masked and the scan goes on after it. So a card number that follows
 * other digits ("ref 12 4111 1111 1111 1111") is still found, while a
 * single 20-digit group is not. Groups are never split: a long digit
 * string is an id, not a card. Each start looks at no more than 19 digits
 * of groups, so the scan is linear in the input.
 *
 * Most strings cannot hold a card number at all: before the careful walk,
 * one tight pass counts the digits up to the closing quote; a string with
 * no backslash and fewer than 13 digits is skipped whole. That is exact:
 * a run never crosses the quote (not a digit, space or dash), so every
 * digit a match could use is among those counted.
 *
 * Limits (documented in docs/contract.md): digits written as \u0030-style
 * escapes are not recognised.
 */
#include <string.h>

#include "riskgate/decode.h"
#include "card_scan.h"

#define CARD_MIN 13
#define CARD_MAX 19
#define CARD_KEEP_HEAD 6
#define CARD_KEEP_TAIL 4

static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static inline bool is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool rg_luhn_ok(const char *digits, size_t n)
{
    if (!digits || n == 0)
        return false;
    unsigned sum = 0;
    bool dbl = false;
    for (size_t i = n; i-- > 0;) {
        unsigned char c = (unsigned char)digits[i];
        if (!is_digit(c))
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

static size_t group_end(const char *in, size_t len, size_t p)
{
    while (p < len && is_digit((unsigned char)in[p]))
        p++;
    return p;
}

/* Start of the group after the one ending at e, or SIZE_MAX. */
static size_t next_group(const char *in, size_t len, size_t e)
{
    if (e + 1 < len && (in[e] == ' ' || in[e] == '-') && is_digit((unsigned char)in[e + 1]))
        return e + 1;
    return SIZE_MAX;
}

static void mask_range(char *out, const char *in, size_t from, size_t to, size_t nd)
{
    size_t k = 0;
    for (size_t p = from; p < to; p++) {
        if (!is_digit((unsigned char)in[p]))
            continue;
        if (k >= CARD_KEEP_HEAD && k < nd - CARD_KEEP_TAIL)
            out[p] = '*';
        k++;
    }
}

/* Handle the run of digit groups starting at p0; returns the first byte
 * after it. */
static size_t scan_run(const char *in, size_t len, size_t p0, char *out, int *found)
{
    size_t gs = p0;
    for (;;) {
        size_t gs_end = group_end(in, len, gs);
        size_t best_end = 0, best_nd = 0;
        unsigned char first = (unsigned char)in[gs];
        if (first >= '2' && first <= '6') {
            char digits[CARD_MAX];
            size_t nd = 0, g = gs;
            for (;;) {
                size_t e = group_end(in, len, g);
                if (nd + (e - g) > CARD_MAX)
                    break;
                memcpy(digits + nd, in + g, e - g);
                nd += e - g;
                if (nd >= CARD_MIN && rg_luhn_ok(digits, nd)) {
                    best_end = e;
                    best_nd = nd;
                }
                g = next_group(in, len, e);
                if (g == SIZE_MAX)
                    break;
            }
        }
        size_t resume_from = gs_end;
        if (best_end) {
            (*found)++;
            if (out)
                mask_range(out, in, gs, best_end, best_nd);
            resume_from = best_end;
        }
        size_t ng = next_group(in, len, resume_from);
        if (ng == SIZE_MAX)
            return resume_from;
        gs = ng;
    }
}

int rg_card_scan(const char *in, size_t len, char *out, struct rg_card_hit *first)
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
            else if (!is_ws(c))
                after_colon = false;
            i++;
            continue;
        }
        size_t s = ++i;
        int before = found;
        size_t nd = 0, q = s;
        while (q < len && in[q] != '"' && in[q] != '\\')
            nd += is_digit((unsigned char)in[q++]);
        if (nd < CARD_MIN && (q == len || in[q] == '"'))
            i = q; /* no card fits: skip the careful walk */
        while (i < len && in[i] != '"') {
            c = (unsigned char)in[i];
            if (c == '\\') {
                i++;
                if (i < len && in[i] == 'u') {
                    i++;
                    for (int k = 0; k < 4 && i < len && is_hex((unsigned char)in[i]); k++)
                        i++;
                } else if (i < len) {
                    i++;
                }
            } else if (is_digit(c)) {
                i = scan_run(in, len, i, out, &found);
            } else {
                i++;
            }
        }
        size_t e = i;
        if (i < len)
            i++; /* closing quote */
        size_t j = i;
        while (j < len && is_ws((unsigned char)in[j]))
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

int rg_card_mask(const char *in, size_t len, char *out)
{
    if (!out)
        return rg_card_scan(in, len, NULL, NULL);
    return rg_card_scan(in, len, out, NULL);
}

int rg_card_mask_text(const char *in, size_t len, char *out)
{
    if (!in)
        return 0;
    if (out && out != in && len)
        memcpy(out, in, len);
    int found = 0;
    size_t i = 0;
    while (i < len) {
        if (is_digit((unsigned char)in[i]))
            i = scan_run(in, len, i, out, &found);
        else
            i++;
    }
    return found;
}

int rg_card_count(const char *in, size_t len)
{
    return rg_card_scan(in, len, NULL, NULL);
}
