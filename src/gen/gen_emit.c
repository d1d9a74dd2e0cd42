/*
 * gen_emit.c - JSON text of generated events, malformed variants, and the
 * time parser/formatter used by `riskgate gen`.
 *
 * DESIGN
 * Lines are assembled with small append functions instead of one snprintf
 * per line: every value the generator writes is known ASCII (ids, codes,
 * integer minor units, fixed-point coordinates), so integer-to-text by hand
 * is exact and several times faster than printf's double formatting, which
 * is what lets file mode exceed 500k events/s. Free-form strings still go
 * through rg_gen_put_str(), which escapes. Malformed events are built by
 * encoding the same fields with one deliberate defect (enum rg_gen_bad),
 * so they look like real traffic apart from that defect.
 */
#include "gen_int.h"

#include <stdlib.h>
#include <string.h>

#include "riskgate/err.h"

int rg_gen_buf_init(struct rg_gen_buf *b, size_t cap)
{
    b->len = 0;
    b->oom = false;
    b->cap = cap;
    b->p = malloc(cap);
    return b->p ? 0 : RG_ENOMEM;
}

void rg_gen_buf_fini(struct rg_gen_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static bool buf_reserve(struct rg_gen_buf *b, size_t n)
{
    if (b->len + n <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void rg_gen_put_raw(struct rg_gen_buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put_ch(struct rg_gen_buf *b, char c)
{
    if (!buf_reserve(b, 1))
        return;
    b->p[b->len++] = c;
}

void rg_gen_put_u64(struct rg_gen_buf *b, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (!buf_reserve(b, (size_t)n))
        return;
    while (n)
        b->p[b->len++] = tmp[--n];
}

void rg_gen_put_i64(struct rg_gen_buf *b, int64_t v)
{
    if (v < 0) {
        put_ch(b, '-');
        rg_gen_put_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        rg_gen_put_u64(b, (uint64_t)v);
    }
}

/* v / 10^dec as fixed-point text, e.g. (499, 2) -> "4.99". */
static void put_fixed(struct rg_gen_buf *b, int64_t v, int dec)
{
    if (v < 0) {
        put_ch(b, '-');
        v = -v;
    }
    int64_t p = 1;
    for (int i = 0; i < dec; i++)
        p *= 10;
    rg_gen_put_u64(b, (uint64_t)(v / p));
    put_ch(b, '.');
    int64_t frac = v % p;
    for (int i = dec - 1; i >= 0; i--) {
        int64_t d = p / 10;
        put_ch(b, (char)('0' + frac / d));
        frac %= d;
        p = d;
    }
}

static void put_2d(struct rg_gen_buf *b, int v)
{
    char t[2] = { (char)('0' + v / 10 % 10), (char)('0' + v % 10) };
    rg_gen_put_raw(b, t, 2);
}

static void put_hex(struct rg_gen_buf *b, uint64_t v, int digits)
{
    static const char hx[] = "0123456789abcdef";
    if (!buf_reserve(b, (size_t)digits))
        return;
    for (int i = digits - 1; i >= 0; i--)
        b->p[b->len++] = hx[(v >> (4 * i)) & 15];
}

/* Opaque tokens use letters only, so no run of digits in them can ever
 * look like a card number to the decoder's PAN scanner. */
static void put_letters(struct rg_gen_buf *b, uint64_t v, int n)
{
    if (!buf_reserve(b, (size_t)n))
        return;
    for (int i = 0; i < n; i++)
        b->p[b->len++] = (char)('a' + ((v >> (4 * i)) & 15));
}

void rg_gen_put_str(struct rg_gen_buf *b, const char *s)
{
    put_ch(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            put_ch(b, '\\');
            put_ch(b, (char)c);
        } else if (c < 0x20) {
            static const char hx[] = "0123456789abcdef";
            char e[6] = { '\\', 'u', '0', '0', hx[c >> 4], hx[c & 15] };
            rg_gen_put_raw(b, e, 6);
        } else {
            put_ch(b, (char)c);
        }
    }
    put_ch(b, '"');
}

void rg_gen_put_event_id(struct rg_gen_buf *b, uint64_t seed, uint64_t seq)
{
    RG_GEN_LIT(b, "\"e-");
    rg_gen_put_u64(b, seed);
    put_ch(b, '_'); /* not '-': "<seed>-<seq>" could read as a grouped card number */
    rg_gen_put_u64(b, seq);
    put_ch(b, '"');
}

void rg_gen_put_user_id(struct rg_gen_buf *b, uint32_t user)
{
    RG_GEN_LIT(b, "\"u");
    rg_gen_put_u64(b, user);
    put_ch(b, '"');
}

void rg_gen_put_device_id(struct rg_gen_buf *b, uint64_t dev)
{
    RG_GEN_LIT(b, "\"d-");
    put_hex(b, dev, 12);
    put_ch(b, '"');
}

/* ---- time: proleptic Gregorian <-> days since 1970 (H. Hinnant) ---- */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void rg_gen_put_ts(struct rg_gen_buf *b, int64_t ms, int fmt, int tz_min)
{
    if (fmt == RG_TS_EPOCH) {
        rg_gen_put_i64(b, ms);
        return;
    }
    if (fmt == RG_TS_UTC)
        tz_min = 0;
    int64_t local = ms + (int64_t)tz_min * 60000;
    int64_t days = floor_div(local, 86400000);
    int64_t rem = local - days * 86400000;
    int64_t y;
    int mo, d;
    civil_from_days(days, &y, &mo, &d);
    char t[40];
    int h = (int)(rem / 3600000), mi = (int)(rem / 60000 % 60), s = (int)(rem / 1000 % 60);
    int frac = (int)(rem % 1000);
    t[0] = '"';
    t[1] = (char)('0' + y / 1000 % 10);
    t[2] = (char)('0' + y / 100 % 10);
    t[3] = (char)('0' + y / 10 % 10);
    t[4] = (char)('0' + y % 10);
    t[5] = '-';
    t[6] = (char)('0' + mo / 10);
    t[7] = (char)('0' + mo % 10);
    t[8] = '-';
    t[9] = (char)('0' + d / 10);
    t[10] = (char)('0' + d % 10);
    t[11] = 'T';
    t[12] = (char)('0' + h / 10);
    t[13] = (char)('0' + h % 10);
    t[14] = ':';
    t[15] = (char)('0' + mi / 10);
    t[16] = (char)('0' + mi % 10);
    t[17] = ':';
    t[18] = (char)('0' + s / 10);
    t[19] = (char)('0' + s % 10);
    t[20] = '.';
    t[21] = (char)('0' + frac / 100);
    t[22] = (char)('0' + frac / 10 % 10);
    t[23] = (char)('0' + frac % 10);
    rg_gen_put_raw(b, t, 24);
    if (fmt == RG_TS_UTC) {
        RG_GEN_LIT(b, "Z\"");
        return;
    }
    int a = tz_min < 0 ? -tz_min : tz_min;
    put_ch(b, tz_min < 0 ? '-' : '+');
    put_2d(b, a / 60);
    put_ch(b, ':');
    put_2d(b, a % 60);
    put_ch(b, '"');
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int rg_gen_parse_time(const char *s, int64_t *out_ms)
{
    size_t n = strlen(s);
    if (n > 0 && n <= 16 && strspn(s, "0123456789") == n) {
        *out_ms = strtoll(s, NULL, 10);
        return 0;
    }
    int y, mo, d, h, mi, sec;
    if (n < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return RG_EINVAL;
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 59)
        return RG_EINVAL;
    const char *p = s + 19;
    int ms = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd < 3)
                ms = ms * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd == 0)
            return RG_EINVAL;
        for (; nd < 3; nd++)
            ms *= 10;
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return RG_EINVAL;
        off = (oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return RG_EINVAL;
    }
    if (*p)
        return RG_EINVAL;
    int64_t days = days_from_civil(y, mo, d);
    *out_ms = ((days * 24 + h) * 60 + mi) * 60000LL + sec * 1000LL + ms - off * 60000LL;
    return 0;
}

/* ---- events ---- */

static void put_amount(struct rg_gen_buf *b, int64_t minor) { put_fixed(b, minor, 2); }

/* Raw test card numbers (public test PANs, Luhn-valid) for RG_BAD_CARD. */
static const char *const g_test_pans[] = {
    "4111 1111 1111 1111", "5555555555554444", "4012-8888-8888-1881", "378282246310005",
};
/* Invalid UTF-8 sequences for RG_BAD_UTF8: bad continuation, bytes that
 * never occur, lone continuation, overlong '/', encoded surrogate. */
static const char *const g_bad_utf8[] = {
    "\xc3\x28", "\xff\xfe", "\x80", "\xc0\xaf", "\xed\xa0\x80",
};
static const char *const g_bad_ts[] = {
    "\"2026-13-01T10:00:00Z\"", "\"2026-11-01T25:10:00Z\"", "\"2026-11-01 10:00:00\"",
    "\"yesterday\"", "\"2026-02-30T10:00:00+01:00\"", "\"\"",
};

enum { F_EVENT_ID, F_USER_ID, F_AMOUNT, F_CURRENCY, F_TS };

void rg_gen_encode_event(struct rg_gen_buf *b, uint64_t seed, const struct rg_gen_ev *ev)
{
    int bad = ev->bad, v = ev->bad_variant;
    int skip = (bad == RG_BAD_MISSING) ? v % 5 : -1;
    int wrong = (bad == RG_BAD_TYPE) ? v % 5 : -1;
    size_t start = b->len;

    put_ch(b, '{');
    bool first = true;
#define SEP() do { if (!first) put_ch(b, ','); first = false; } while (0)
    if (skip != F_EVENT_ID) {
        SEP();
        RG_GEN_LIT(b, "\"event_id\":");
        if (wrong == F_EVENT_ID) {
            RG_GEN_LIT(b, "{\"id\":");
            rg_gen_put_u64(b, ev->seq);
            put_ch(b, '}');
        } else {
            rg_gen_put_event_id(b, seed, ev->seq);
        }
    }
    if (skip != F_USER_ID) {
        SEP();
        RG_GEN_LIT(b, "\"user_id\":");
        if (wrong == F_USER_ID) {
            rg_gen_put_u64(b, ev->user);
        } else if (bad == RG_BAD_UTF8 && v % 2 == 0) {
            RG_GEN_LIT(b, "\"u");
            rg_gen_put_u64(b, ev->user);
            const char *x = g_bad_utf8[(v / 2) % 5];
            rg_gen_put_raw(b, x, strlen(x));
            put_ch(b, '"');
        } else {
            rg_gen_put_user_id(b, ev->user);
        }
    }
    if (skip != F_AMOUNT) {
        SEP();
        RG_GEN_LIT(b, "\"amount\":");
        if (wrong == F_AMOUNT) {
            put_ch(b, '"');
            put_amount(b, ev->amount_minor);
            put_ch(b, '"');
        } else if (bad == RG_BAD_NEGATIVE) {
            put_amount(b, -(ev->amount_minor ? ev->amount_minor : 100));
        } else if (bad == RG_BAD_NESTING) {
            /* deeper than any sane decoder limit (cJSON stops at 1000) */
            static const int depth[3] = { 1200, 2000, 1500 };
            int dn = depth[v % 3];
            for (int i = 0; i < dn; i++)
                put_ch(b, '[');
            put_amount(b, ev->amount_minor);
            for (int i = 0; i < dn; i++)
                put_ch(b, ']');
        } else {
            put_amount(b, ev->amount_minor);
        }
    }
    if (skip != F_CURRENCY) {
        SEP();
        RG_GEN_LIT(b, "\"currency\":");
        if (wrong == F_CURRENCY) {
            RG_GEN_LIT(b, "978");
        } else {
            put_ch(b, '"');
            rg_gen_put_raw(b, ev->currency, 3);
            put_ch(b, '"');
        }
    }
    if (skip != F_TS) {
        SEP();
        RG_GEN_LIT(b, "\"ts\":");
        if (wrong == F_TS) {
            RG_GEN_LIT(b, "true");
        } else if (bad == RG_BAD_TS) {
            const char *x = g_bad_ts[v % 6];
            rg_gen_put_raw(b, x, strlen(x));
        } else {
            rg_gen_put_ts(b, ev->ts_ms, ev->ts_fmt, ev->tz_min);
        }
    }
#undef SEP
    RG_GEN_LIT(b, ",\"merchant_id\":");
    if (bad == RG_BAD_CARD && v % 4 == 2) {
        rg_gen_put_str(b, g_test_pans[2]);
    } else if (bad == RG_BAD_UTF8 && v % 2 == 1) {
        RG_GEN_LIT(b, "\"m");
        rg_gen_put_u64(b, ev->merchant);
        const char *x = g_bad_utf8[(v / 2) % 5];
        rg_gen_put_raw(b, x, strlen(x));
        put_ch(b, '"');
    } else {
        RG_GEN_LIT(b, "\"m");
        rg_gen_put_u64(b, ev->merchant);
        put_ch(b, '"');
    }
    RG_GEN_LIT(b, ",\"merchant_category\":\"");
    rg_gen_put_raw(b, rg_gen_cat_name[ev->cat], strlen(rg_gen_cat_name[ev->cat]));
    RG_GEN_LIT(b, "\",\"channel\":\"");
    rg_gen_put_raw(b, rg_gen_chan_name[ev->chan], strlen(rg_gen_chan_name[ev->chan]));
    RG_GEN_LIT(b, "\",\"device_id\":");
    if (bad == RG_BAD_CARD && v % 4 == 1)
        rg_gen_put_str(b, g_test_pans[1]);
    else
        rg_gen_put_device_id(b, ev->device);
    RG_GEN_LIT(b, ",\"ip\":\"");
    for (int i = 0; i < 4; i++) {
        if (i)
            put_ch(b, '.');
        rg_gen_put_u64(b, ev->ip[i]);
    }
    RG_GEN_LIT(b, "\",\"country\":\"");
    rg_gen_put_raw(b, ev->country, 2);
    put_ch(b, '"');
    if (ev->has_geo) {
        RG_GEN_LIT(b, ",\"lat\":");
        put_fixed(b, (int64_t)(ev->lat * 10000.0 + (ev->lat < 0 ? -0.5 : 0.5)), 4);
        RG_GEN_LIT(b, ",\"lon\":");
        put_fixed(b, (int64_t)(ev->lon * 10000.0 + (ev->lon < 0 ? -0.5 : 0.5)), 4);
    }
    if (bad == RG_BAD_CARD && (v % 4 == 0 || v % 4 == 3)) {
        RG_GEN_LIT(b, ",\"card_token\":");
        rg_gen_put_str(b, g_test_pans[v % 4]);
    } else if (ev->card) {
        RG_GEN_LIT(b, ",\"card_token\":\"tok_");
        put_letters(b, ev->card, 16);
        put_ch(b, '"');
    }
    RG_GEN_LIT(b, ",\"auth_method\":\"");
    rg_gen_put_raw(b, rg_gen_auth_name[ev->auth], strlen(rg_gen_auth_name[ev->auth]));
    RG_GEN_LIT(b, "\"}");

    if (bad == RG_BAD_JSON && !b->oom) {
        char *line = b->p + start;
        size_t n = b->len - start;
        switch (v % 4) {
        case 0: /* truncated in the middle: the object never closes */
            b->len = start + n / 2;
            break;
        case 1: /* closing brace lost */
            b->len--;
            break;
        case 2: /* unquoted key */
            memmove(line + 1, line + 2, n - 2);
            memmove(line + 9, line + 10, n - 11);
            b->len -= 2;
            break;
        default: /* trailing comma */
            line[n - 1] = ',';
            put_ch(b, '}');
            break;
        }
    }
    put_ch(b, '\n');
}
