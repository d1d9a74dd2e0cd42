/*
 * encode.c - the verdict JSON (output contract v1, docs/contract.md) and
 * small helpers on struct rg_verdict. See include/riskgate/verdict.h.
 *
 * DESIGN
 * The encoder writes straight into the caller's buffer through a tiny
 * bounded writer: every write checks the remaining room (keeping one byte
 * for the NUL) and only sets an overflow flag when it does not fit, so
 * nothing is ever written past cap and there is one size check at the
 * end. No allocation, no cJSON. Field order is fixed by the contract.
 *
 * Strings are escaped per RFC 8259: quote, backslash and every control
 * character below 0x20 (short forms where JSON has them, \u00XX
 * otherwise); valid UTF-8 passes through unchanged, and a byte that is
 * not part of valid UTF-8 becomes \ufffd so the output is always valid
 * UTF-8 JSON whatever a rule id or detail holds.
 *
 * Numbers: score, anomaly and features use at most 6 decimals without
 * trailing zeros ("0.5", "12"); NaN and infinities are null. snprintf
 * follows LC_NUMERIC, and riskgate never calls setlocale(), so the
 * decimal point is '.'.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "riskgate/utf8.h"
#include "riskgate/err.h"
#include "riskgate/feature.h"
#include "riskgate/verdict.h"

/* ------------------------------------------------------------------ */
/* verdict helpers                                                     */

void rg_verdict_reset(struct rg_verdict *v)
{
    if (!v)
        return;
    v->decision = RG_ALLOW;
    v->score = NAN;
    v->anomaly = NAN;
    v->method = RG_METHOD_NONE;
    v->ttl_s = 0;
    v->n_reasons = 0;
    v->n_rules = 0;
    v->n_shadow = 0;
    v->shadow_decision = RG_ALLOW;
    v->model_version = NULL;
    v->ruleset_version = NULL;
    v->degraded = false;
    v->latency_us = 0;
    v->decided_at_ms = 0;
    v->features = NULL;
}

int rg_verdict_add_reason(struct rg_verdict *v, const char *code, enum rg_reason_source src,
                          const char *fmt, ...)
{
    if (!v || v->n_reasons < 0 || v->n_reasons >= RG_VERDICT_MAX_REASONS)
        return -1;
    struct rg_reason *r = &v->reasons[v->n_reasons];
    r->code = code;
    r->source = src;
    r->detail[0] = '\0';
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
        va_end(ap);
        if (n < 0)
            r->detail[0] = '\0';
        else if ((size_t)n >= sizeof(r->detail))
            rg_utf8_trim_tail(r->detail, sizeof(r->detail) - 1);
    }
    v->n_reasons++;
    return 0;
}

const char *rg_decision_str(enum rg_decision d)
{
    switch (d) {
    case RG_ALLOW: return "allow";
    case RG_STEP_UP: return "step_up";
    case RG_DENY: return "deny";
    }
    return "unknown";
}

const char *rg_method_str(enum rg_step_up_method m)
{
    switch (m) {
    case RG_METHOD_NONE: return "none";
    case RG_METHOD_OTP: return "otp";
    case RG_METHOD_BIOMETRIC: return "biometric";
    case RG_METHOD_PASSWORD: return "password";
    }
    return "none";
}

enum rg_step_up_method rg_method_parse(const char *s)
{
    if (!s)
        return RG_METHOD_NONE;
    if (strcmp(s, "otp") == 0)
        return RG_METHOD_OTP;
    if (strcmp(s, "biometric") == 0)
        return RG_METHOD_BIOMETRIC;
    if (strcmp(s, "password") == 0)
        return RG_METHOD_PASSWORD;
    return RG_METHOD_NONE;
}

static const char *source_str(enum rg_reason_source s)
{
    switch (s) {
    case RG_SRC_RULE: return "rule";
    case RG_SRC_MODEL: return "model";
    case RG_SRC_POLICY: return "policy";
    }
    return "policy";
}

/* ------------------------------------------------------------------ */
/* bounded writer                                                      */

struct wr {
    char *buf;
    size_t cap; /* > 0 */
    size_t pos;
    bool over;
};

static void put(struct wr *w, const char *s, size_t n)
{
    if (w->over || n >= w->cap - w->pos) {
        w->over = true;
        return;
    }
    memcpy(w->buf + w->pos, s, n);
    w->pos += n;
}

static void puts_(struct wr *w, const char *s) { put(w, s, strlen(s)); }

static void putch(struct wr *w, char c) { put(w, &c, 1); }

static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else
        return 0;
    if (n < need + 1 || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i <= need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return need + 1;
}

/* A JSON string of at most max bytes (stops at a NUL), or null for NULL. */
static void put_strn(struct wr *w, const char *s, size_t max)
{
    if (!s) {
        puts_(w, "null");
        return;
    }
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strnlen(s, max), run = 0, i = 0;
    putch(w, '"');
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            run++;
            continue;
        }
        if (c >= 0x80) {
            size_t l = utf8_len(p + i, n - i);
            if (l) {
                i += l;
                run += l;
                continue;
            }
        }
        put(w, s + i - run, run);
        run = 0;
        char esc[7] = { '\\', 0 };
        size_t el = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            if (c >= 0x80) {
                memcpy(esc, "\\ufffd", 6);
            } else {
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
            }
            el = 6;
        }
        put(w, esc, el);
        i++;
    }
    put(w, s + i - run, run);
    putch(w, '"');
}

static void put_str(struct wr *w, const char *s) { put_strn(w, s, SIZE_MAX); }

/* Unsigned decimal digits of v, written backwards from end; returns start. */
static char *utoa_back(char *end, unsigned long long v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

static void put_num(struct wr *w, double v)
{
    if (!isfinite(v)) {
        puts_(w, "null");
        return;
    }
    char tmp[48];
    int n;
    if (fabs(v) < 1e9) {
        /* "%.6f" without printf: v * 1e6 is within 1/16 of the exact
         * product below 1e15, so when its fraction is not near one half the
         * rounded integer is exactly what printf would print; near one half
         * (rare) printf decides. Trailing zeros are trimmed either way. */
        double x = fabs(v) * 1e6, fl = floor(x), fr = x - fl;
        if (fabs(fr - 0.5) > 0.1) {
            unsigned long long r = (unsigned long long)fl + (fr > 0.5);
            char *end = tmp + sizeof(tmp), *p = end;
            unsigned long long ip = r / 1000000, fp = r % 1000000;
            if (fp) {
                int digits = 6;
                while (fp % 10 == 0) {
                    fp /= 10;
                    digits--;
                }
                for (int i = 0; i < digits; i++) {
                    *--p = (char)('0' + fp % 10);
                    fp /= 10;
                }
                *--p = '.';
            }
            p = utoa_back(p, ip);
            if (signbit(v))
                *--p = '-';
            put(w, p, (size_t)(end - p));
            return;
        }
    }
    if (fabs(v) < 1e15) {
        n = snprintf(tmp, sizeof(tmp), "%.6f", v);
        while (n > 0 && tmp[n - 1] == '0')
            n--;
        if (n > 0 && tmp[n - 1] == '.')
            n--;
    } else {
        n = snprintf(tmp, sizeof(tmp), "%.17g", v);
    }
    if (n <= 0 || (size_t)n >= sizeof(tmp)) {
        puts_(w, "null");
        return;
    }
    put(w, tmp, (size_t)n);
}

static void put_int(struct wr *w, long long v)
{
    char tmp[24], *end = tmp + sizeof(tmp);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    char *p = utoa_back(end, u);
    if (v < 0)
        *--p = '-';
    put(w, p, (size_t)(end - p));
}

static void put_key(struct wr *w, const char *k, bool first)
{
    if (!first)
        putch(w, ',');
    putch(w, '"');
    puts_(w, k);
    put(w, "\":", 2);
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* RFC 3339 UTC with milliseconds: 2026-11-28T10:00:00.123Z */
static void put_time(struct wr *w, int64_t ms)
{
    int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int frac = (int)(ms - s * 1000);
    int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
    int sod = (int)(s - days * 86400);
    int64_t y;
    unsigned mo, d;
    civil_from_days(days, &y, &mo, &d);
    if (y < 0 || y > 9999) {
        puts_(w, "null");
        return;
    }
    /* "YYYY-MM-DDTHH:MM:SS.mmmZ" without printf (hot path). */
    char t[26];
    int parts[7] = { (int)y, (int)mo, (int)d, sod / 3600, sod / 60 % 60, sod % 60, frac };
    static const int width[7] = { 4, 2, 2, 2, 2, 2, 3 };
    static const char sep[7] = { '-', '-', 'T', ':', ':', '.', 'Z' };
    size_t k = 0;
    t[k++] = '"';
    for (int i = 0; i < 7; i++) {
        for (int j = width[i] - 1, x = parts[i]; j >= 0; j--, x /= 10)
            t[k + (size_t)j] = (char)('0' + x % 10);
        k += (size_t)width[i];
        t[k++] = sep[i];
    }
    t[k++] = '"';
    put(w, t, k);
}

/* ------------------------------------------------------------------ */
/* encoder                                                             */

static int clampn(int n, int max) { return n < 0 ? 0 : n > max ? max : n; }

int rg_verdict_encode(const struct rg_verdict *v, const struct rg_txn *txn, char *buf,
                      size_t cap)
{
    if (!v || !txn || !buf)
        return RG_EINVAL;
    if (cap == 0)
        return RG_ETOOBIG;
    struct wr w = { .buf = buf, .cap = cap };

    putch(&w, '{');
    put_key(&w, "event_id", true);
    put_strn(&w, txn->event_id, sizeof(txn->event_id));
    put_key(&w, "user_id", false);
    put_strn(&w, txn->user_id, sizeof(txn->user_id));
    put_key(&w, "decision", false);
    put_str(&w, rg_decision_str(v->decision));
    put_key(&w, "score", false);
    put_num(&w, v->score);
    if (!isnan(v->anomaly)) {
        put_key(&w, "anomaly", false);
        put_num(&w, v->anomaly);
    }
    if (v->decision == RG_STEP_UP) {
        put_key(&w, "step_up", false);
        put(&w, "{\"method\":", 10);
        put_str(&w, v->method == RG_METHOD_NONE ? NULL : rg_method_str(v->method));
        put(&w, ",\"ttl_s\":", 9);
        put_int(&w, v->ttl_s);
        putch(&w, '}');
    }

    put_key(&w, "reasons", false);
    putch(&w, '[');
    int nr = clampn(v->n_reasons, RG_VERDICT_MAX_REASONS);
    for (int i = 0; i < nr; i++) {
        const struct rg_reason *r = &v->reasons[i];
        if (i)
            putch(&w, ',');
        put(&w, "{\"code\":", 8);
        put_str(&w, r->code);
        put(&w, ",\"source\":", 10);
        put_str(&w, source_str(r->source));
        put(&w, ",\"detail\":", 10);
        /* fixed arrays: never read past them even if unterminated */
        put_strn(&w, r->detail, sizeof(r->detail));
        putch(&w, '}');
    }
    putch(&w, ']');

    put_key(&w, "rules", false);
    putch(&w, '[');
    int nu = clampn(v->n_rules, RG_VERDICT_MAX_RULES);
    for (int i = 0; i < nu; i++) {
        if (i)
            putch(&w, ',');
        put_str(&w, v->rules[i]);
    }
    putch(&w, ']');

    int ns = clampn(v->n_shadow, RG_VERDICT_MAX_SHADOW);
    if (ns > 0) {
        put_key(&w, "shadow", false);
        put(&w, "{\"decision\":", 12);
        put_str(&w, rg_decision_str(v->shadow_decision));
        put(&w, ",\"rules\":[", 10);
        for (int i = 0; i < ns; i++) {
            if (i)
                putch(&w, ',');
            put(&w, "{\"id\":", 6);
            put_str(&w, v->shadow[i].rule_id);
            put(&w, ",\"decision\":", 12);
            put_str(&w, rg_decision_str(v->shadow[i].decision));
            putch(&w, '}');
        }
        put(&w, "]}", 2);
    }

    put_key(&w, "model", false);
    put_str(&w, v->model_version);
    put_key(&w, "ruleset", false);
    put_str(&w, v->ruleset_version);
    put_key(&w, "degraded", false);
    puts_(&w, v->degraded ? "true" : "false");
    put_key(&w, "latency_us", false);
    put_int(&w, (long long)v->latency_us);
    put_key(&w, "decided_at", false);
    put_time(&w, v->decided_at_ms);

    if (v->features) {
        put_key(&w, "features", false);
        putch(&w, '{');
        for (int i = 0; i < RG_FEAT_COUNT; i++) {
            if (i)
                putch(&w, ',');
            put_str(&w, rg_feature_name(i));
            putch(&w, ':');
            put_num(&w, v->features[i]);
        }
        putch(&w, '}');
    }
    putch(&w, '}');

    if (w.over) {
        buf[0] = '\0';
        return RG_ETOOBIG;
    }
    buf[w.pos] = '\0';
    return (int)w.pos;
}
