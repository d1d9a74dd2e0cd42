/*
 * decode.c - input event decoding and validation (contract v1), and the
 * dead-letter headers. See include/riskgate/decode.h, docs/contract.md.
 *
 * DESIGN
 * A message goes through cheap, non-recursive checks on the raw bytes
 * before any JSON parser sees it:
 *   1. size: > RG_MSG_MAX is too_large without reading it, 0 bytes empty;
 *   2. card scan (card.c): a raw card number anywhere in a string wins
 *      over every later reason, so such input is always flagged;
 *   3. one pre-scan pass: strict UTF-8 (no overlongs, surrogates or code
 *      points above U+10FFFF), string tracking, raw control characters,
 *      "\u0000" escapes (C strings cannot carry them), and nesting depth
 *      counted with brackets so 100000 '[' cost a loop, never recursion.
 * Only then cJSON parses, and the root object is walked once: every key
 * is looked up in the field table, checked for duplicates, type, length
 * and format; missing required fields are reported last. The first
 * problem found is the one reported.
 *
 * No heap allocation per event: cJSON allocation hooks are installed once
 * (pthread_once). While a decoder parses, its thread-local bump arena
 * serves every cJSON allocation and free() is a no-op for arena pointers;
 * the arena is rewound for the next event and trees are never
 * cJSON_Delete()d. Outside a parse the hooks are plain malloc/free, so
 * other modules' cJSON use is unchanged (including free() of
 * cJSON_Print() results). The arena is 40 * RG_MSG_MAX: the worst case is
 * one 64-byte node per 2 input bytes ("[0,0,0,...]", 32 bytes per input
 * byte) plus string copies no longer than their input, 16-byte aligned.
 * malloc() of that size is an mmap, so untouched pages cost nothing.
 *
 * cJSON keeps its last parse error position in a global (not thread
 * safe); riskgate never reads it (cJSON_GetErrorPtr is not used).
 *
 * Duplicate keys are found with a generation-stamped hash set in the
 * decoder (no clearing per event).
 *
 * Fast path. Almost every event is a flat object of plain strings and
 * short decimal numbers, and a general parser costs most of the decode
 * time on it. fast_parse() builds the very cJSON tree cJSON would build
 * for such input (same item order, types, strings and doubles, in the
 * same arena) and hands it to the same walk(), so checks and messages are
 * shared. It gives up, and cJSON parses the message as before, on anything
 * else: an escape, a nested value, an empty object, an exponent, more
 * than 15 significant digits, a leading zero, trailing data. Its numbers
 * are exact: with at most 15 significant digits the mantissa m and 10^k
 * (k <= 22) are exact doubles, so m / 10^k, one IEEE division, is the
 * correctly rounded value, which is what cJSON's strtod returns.
 *
 * A message the fast path takes has no escapes, so its strings are exactly
 * the keys and values the fast parser reads, and the card scan of the
 * whole message finds a card only inside one of them: the fast parser
 * runs first and checks each string with at least 13 digits with the same
 * scanner, giving up if it holds a card, so the separate full-message
 * scan is needed only when the fast path gives up. The same goes for the
 * pre-scan: the fast path takes only printable ASCII in strings and JSON
 * whitespace, punctuation, numbers and literals outside them, one level
 * deep, where the pre-scan finds nothing to reject. The order of reasons
 * is unchanged: card, then the pre-scan, then parsing and fields. tests/unit/test_decode_fast.c decodes the same
 * bytes with and without it and requires identical results.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "riskgate/decode.h"
#include "riskgate/err.h"
#include "card_scan.h"
#include "decode_int.h"

/* ------------------------------------------------------------------ */
/* reason codes                                                        */

static const char *const g_reason_code[] = {
#define RG_DLQ_CODE(id, code, meaning) code,
    RG_DLQ_REASON_LIST(RG_DLQ_CODE)
#undef RG_DLQ_CODE
};

static const char *const g_reason_meaning[] = {
#define RG_DLQ_MEANING(id, code, meaning) meaning,
    RG_DLQ_REASON_LIST(RG_DLQ_MEANING)
#undef RG_DLQ_MEANING
};

const char *rg_dlq_reason_code(enum rg_dlq_reason r)
{
    if ((int)r < 0 || r >= RG_DLQ_REASON_COUNT)
        return "unknown";
    return g_reason_code[r];
}

const char *rg_dlq_reason_meaning(enum rg_dlq_reason r)
{
    if ((int)r < 0 || r >= RG_DLQ_REASON_COUNT)
        return "unknown reason";
    return g_reason_meaning[r];
}

/* ------------------------------------------------------------------ */
/* arena and cJSON hooks                                               */

#define ARENA_CAP ((size_t)RG_MSG_MAX * 40)
#define ARENA_ALIGN 16

/* The arena of the decoder parsing on this thread (tl_active), as plain
 * addresses. */
static _Thread_local char *tl_base;
static _Thread_local size_t tl_cap;
static _Thread_local size_t tl_used;
static _Thread_local bool tl_active;
static _Thread_local bool tl_exhausted;

static void *arena_malloc(size_t sz)
{
    if (!tl_active)
        return malloc(sz);
    size_t need = (sz + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < sz || need > tl_cap - tl_used) {
        tl_exhausted = true;
        return NULL;
    }
    void *p = tl_base + tl_used;
    tl_used += need;
    return p;
}

/* Arena pointers only exist during a parse (trees never leave
 * rg_txn_decode), so outside one every pointer is malloc()ed, even if a
 * freed arena's address range was reused. */
static void arena_free(void *p)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)tl_base;
    if (tl_active && a >= b && a < b + tl_cap)
        return; /* rewound with the arena */
    free(p);
}

static pthread_once_t g_hooks_once = PTHREAD_ONCE_INIT;

static void install_hooks(void)
{
    cJSON_Hooks h = { .malloc_fn = arena_malloc, .free_fn = arena_free };
    cJSON_InitHooks(&h);
}

void rg_decode_global_init(void)
{
    pthread_once(&g_hooks_once, install_hooks);
}

/* ------------------------------------------------------------------ */
/* decoder                                                             */

#define KEYSET_SIZE 32768 /* > 2 * the most keys a 64 KiB object holds */

struct keyslot {
    uint32_t gen;
    uint32_t hash;
    const char *key;
};

struct rg_decoder {
    char *arena;
    struct keyslot *keys;
    uint32_t gen;
};

struct rg_decoder *rg_decoder_new(void)
{
    rg_decode_global_init();
    struct rg_decoder *dec = calloc(1, sizeof(*dec));
    if (!dec)
        goto fail;
    dec->arena = malloc(ARENA_CAP);
    dec->keys = calloc(KEYSET_SIZE, sizeof(*dec->keys));
    if (!dec->arena || !dec->keys)
        goto fail;
    return dec;
fail:
    rg_decoder_free(dec);
    return NULL;
}

void rg_decoder_free(struct rg_decoder *dec)
{
    if (!dec)
        return;
    if (tl_base == dec->arena) {
        tl_base = NULL;
        tl_cap = 0;
        tl_used = 0;
        tl_active = false;
    }
    free(dec->arena);
    free(dec->keys);
    free(dec);
}

static uint32_t key_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

/* true when key was already in the set of this event. */
static bool keyset_seen(struct rg_decoder *dec, const char *key)
{
    uint32_t h = key_hash(key);
    for (uint32_t i = h & (KEYSET_SIZE - 1);; i = (i + 1) & (KEYSET_SIZE - 1)) {
        struct keyslot *k = &dec->keys[i];
        if (k->gen != dec->gen) {
            k->gen = dec->gen;
            k->hash = h;
            k->key = key;
            return false;
        }
        if (k->hash == h && strcmp(k->key, key) == 0)
            return true;
    }
}

static void keyset_reset(struct rg_decoder *dec)
{
    if (++dec->gen == 0) { /* wrapped: stamps from 2^32 events ago */
        memset(dec->keys, 0, KEYSET_SIZE * sizeof(*dec->keys));
        dec->gen = 1;
    }
}

/* ------------------------------------------------------------------ */
/* errors                                                              */

static int reject(struct rg_decode_error *err, enum rg_dlq_reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int reject(struct rg_decode_error *err, enum rg_dlq_reason r, const char *fmt, ...)
{
    if (err) {
        err->reason = r;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return RG_EPARSE;
}

/* ------------------------------------------------------------------ */
/* field table                                                         */

enum ftype { F_STR, F_NUM, F_TS };

/* X(ident, "name", type, required, has bit (0 = none), text limit) */
#define FIELD_LIST(X)                                                     \
    X(EVENT_ID, "event_id", F_STR, true, 0, RG_ID_MAX)                    \
    X(USER_ID, "user_id", F_STR, true, 0, RG_ID_MAX)                      \
    X(AMOUNT, "amount", F_NUM, true, 0, 0)                                \
    X(CURRENCY, "currency", F_STR, true, 0, 3)                            \
    X(TS, "ts", F_TS, true, 0, 0)                                         \
    X(MERCHANT_ID, "merchant_id", F_STR, false, RG_HAS_MERCHANT_ID, RG_ID_MAX) \
    X(MERCHANT_CAT, "merchant_category", F_STR, false, RG_HAS_MERCHANT_CAT, RG_SHORT_MAX) \
    X(CHANNEL, "channel", F_STR, false, RG_HAS_CHANNEL, RG_SHORT_MAX)     \
    X(DEVICE_ID, "device_id", F_STR, false, RG_HAS_DEVICE_ID, RG_ID_MAX)  \
    X(IP, "ip", F_STR, false, RG_HAS_IP, RG_IP_MAX)                       \
    X(COUNTRY, "country", F_STR, false, RG_HAS_COUNTRY, 2)                \
    X(LAT, "lat", F_NUM, false, 0, 0)                                     \
    X(LON, "lon", F_NUM, false, 0, 0)                                     \
    X(CARD_TOKEN, "card_token", F_STR, false, RG_HAS_CARD_TOKEN, RG_ID_MAX) \
    X(AUTH_METHOD, "auth_method", F_STR, false, RG_HAS_AUTH_METHOD, RG_SHORT_MAX)

enum field_id {
#define F_ENUM(id, name, type, req, bit, lim) FLD_##id,
    FIELD_LIST(F_ENUM)
#undef F_ENUM
    FLD_COUNT
};

struct field_def {
    const char *name;
    size_t name_len;
    enum ftype type;
    bool required;
    uint32_t bit;
    size_t limit;
};

static const struct field_def g_fields[FLD_COUNT] = {
#define F_DEF(id, name, type, req, bit, lim) { name, sizeof(name) - 1, type, req, bit, lim },
    FIELD_LIST(F_DEF)
#undef F_DEF
};

static int field_lookup(const char *key, size_t n)
{
    for (int i = 0; i < FLD_COUNT; i++)
        if (g_fields[i].name_len == n && memcmp(g_fields[i].name, key, n) == 0)
            return i;
    return -1;
}

/* ------------------------------------------------------------------ */
/* pre-scan                                                            */

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), 0 if
 * invalid (overlong, surrogate, > U+10FFFF, truncated, stray byte). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* > U+10FFFF */
    } else {
        return 0;
    }
    if (n < need + 1)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i <= need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return need + 1;
}

static inline bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Bytes that need no attention inside a string: printable ASCII except
 * the quote and the backslash; the inner loop skips them in one go. */
static bool str_plain(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

static int prescan(const char *buf, size_t len, struct rg_decode_error *err)
{
    const unsigned char *s = (const unsigned char *)buf;
    int depth = 0;
    bool in_str = false, nonws = false, deep = false, nul = false, ctl = false, stray = false;
    size_t i = 0;
    while (i < len) {
        if (in_str) {
            while (i < len && str_plain(s[i]))
                i++;
            if (i >= len)
                break;
        }
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t n = utf8_seq(s + i, len - i);
            if (n == 0)
                return reject(err, RG_DLQ_INVALID_UTF8, "invalid UTF-8 at byte %zu", i);
            if (!in_str)
                stray = true;
            nonws = true;
            i += n;
            continue;
        }
        if (in_str) {
            if (c == '"') {
                in_str = false;
            } else if (c == '\\') {
                if (i + 1 < len && s[i + 1] == 'u') {
                    if (i + 5 < len && memcmp(s + i + 2, "0000", 4) == 0)
                        nul = true;
                    i += 2; /* the hex digits are plain ASCII, checked by cJSON */
                    continue;
                }
                if (i + 1 < len && s[i + 1] < 0x80) {
                    i += 2;
                    continue;
                }
            } else { /* c < 0x20 */
                ctl = true;
            }
            i++;
            continue;
        }
        if (is_ws(c)) {
            i++;
            continue;
        }
        nonws = true;
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > RG_DECODE_MAX_DEPTH)
                deep = true;
        } else if (c == '}' || c == ']') {
            if (depth > 0)
                depth--;
        } else if (c < 0x20 || c == 0x7F) {
            ctl = true;
        }
        i++;
    }
    if (!nonws)
        return reject(err, RG_DLQ_EMPTY, "message is only whitespace");
    if (deep)
        return reject(err, RG_DLQ_TOO_DEEP, "arrays/objects nested deeper than %d levels",
                      RG_DECODE_MAX_DEPTH);
    if (in_str)
        return reject(err, RG_DLQ_INVALID_JSON, "invalid JSON: unterminated string");
    if (ctl)
        return reject(err, RG_DLQ_INVALID_JSON, "invalid JSON: raw control character");
    if (stray)
        return reject(err, RG_DLQ_INVALID_JSON, "invalid JSON: non-ASCII byte outside a string");
    if (nul)
        return reject(err, RG_DLQ_INVALID_VALUE, "a string contains the escape \\u0000");
    return 0;
}

/* ------------------------------------------------------------------ */
/* timestamps                                                          */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m)
{
    static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int rg_rfc3339_parse(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, oh = 0, om = 0, frac_ms = 0;
    if (!s || !ms || strlen(s) < 20)
        return RG_EPARSE;
    if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return RG_EPARSE;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
        return RG_EPARSE;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd == 0 || nd > 9)
            return RG_EPARSE;
        for (int k = nd; k < 3; k++)
            frac_ms *= 10;
    }
    int sign = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return RG_EPARSE;
        p += 6;
    } else {
        return RG_EPARSE;
    }
    if (*p != '\0')
        return RG_EPARSE;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec;
    secs -= sign * (oh * 3600 + om * 60);
    *ms = secs * 1000 + frac_ms;
    return 0;
}

/* ------------------------------------------------------------------ */
/* field checks                                                        */

static bool upper_letters(const char *s, size_t n)
{
    if (strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return false;
    return true;
}

static const char *type_name(const cJSON *it)
{
    if (cJSON_IsNull(it))
        return "null";
    if (cJSON_IsBool(it))
        return "a boolean";
    if (cJSON_IsNumber(it))
        return "a number";
    if (cJSON_IsString(it))
        return "a string";
    if (cJSON_IsArray(it))
        return "an array";
    return "an object";
}

/* The key of a duplicate, when it is safe to repeat (a short plain name). */
static bool printable_key(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 40)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

static char *str_slot(struct rg_txn *txn, int f)
{
    switch (f) {
    case FLD_EVENT_ID: return txn->event_id;
    case FLD_USER_ID: return txn->user_id;
    case FLD_CURRENCY: return txn->currency;
    case FLD_MERCHANT_ID: return txn->merchant_id;
    case FLD_MERCHANT_CAT: return txn->merchant_category;
    case FLD_CHANNEL: return txn->channel;
    case FLD_DEVICE_ID: return txn->device_id;
    case FLD_IP: return txn->ip;
    case FLD_COUNTRY: return txn->country;
    case FLD_CARD_TOKEN: return txn->card_token;
    case FLD_AUTH_METHOD: return txn->auth_method;
    default: return NULL;
    }
}

static int take_string(struct rg_txn *txn, int f, const cJSON *it, struct rg_decode_error *err)
{
    const struct field_def *fd = &g_fields[f];
    const char *v = it->valuestring;
    size_t n = strlen(v);
    if (f == FLD_CURRENCY) {
        if (!upper_letters(v, 3))
            return reject(err, RG_DLQ_INVALID_VALUE,
                          "currency must be 3 upper-case letters (ISO 4217)");
    } else if (f == FLD_COUNTRY) {
        if (!upper_letters(v, 2))
            return reject(err, RG_DLQ_INVALID_VALUE,
                          "country must be 2 upper-case letters (ISO 3166 alpha-2)");
    } else if (n > fd->limit) {
        return reject(err, RG_DLQ_FIELD_TOO_LONG, "%s is longer than %zu bytes", fd->name,
                      fd->limit);
    } else if (n == 0) {
        return reject(err, RG_DLQ_INVALID_VALUE, "%s must not be empty", fd->name);
    }
    if (f == FLD_IP) {
        unsigned char addr[16];
        if (inet_pton(AF_INET, v, addr) != 1 && inet_pton(AF_INET6, v, addr) != 1)
            return reject(err, RG_DLQ_INVALID_VALUE, "ip must be an IPv4 or IPv6 address");
    }
    memcpy(str_slot(txn, f), v, n + 1);
    txn->has |= fd->bit;
    return 0;
}

static int take_ts(struct rg_txn *txn, const cJSON *it, struct rg_decode_error *err)
{
    int64_t ms;
    if (cJSON_IsString(it)) {
        if (rg_rfc3339_parse(it->valuestring, &ms) != 0)
            return reject(err, RG_DLQ_INVALID_VALUE,
                          "ts must be RFC 3339 with a UTC offset, e.g. "
                          "2026-11-28T10:00:00.123+01:00");
    } else {
        double v = it->valuedouble;
        if (!isfinite(v) || v != floor(v))
            return reject(err, RG_DLQ_INVALID_VALUE,
                          "ts as a number must be integer epoch milliseconds");
        if (v < (double)RG_TS_MIN_MS || v >= (double)RG_TS_MAX_MS)
            return reject(err, RG_DLQ_INVALID_VALUE,
                          "ts must be between 2000-01-01 and 2100-01-01");
        ms = (int64_t)v;
    }
    if (ms < RG_TS_MIN_MS || ms >= RG_TS_MAX_MS)
        return reject(err, RG_DLQ_INVALID_VALUE, "ts must be between 2000-01-01 and 2100-01-01");
    txn->ts_ms = ms;
    return 0;
}

static int take_field(struct rg_txn *txn, int f, const cJSON *it, bool *have_lat, bool *have_lon,
                      struct rg_decode_error *err)
{
    const struct field_def *fd = &g_fields[f];
    switch (fd->type) {
    case F_STR:
        if (!cJSON_IsString(it))
            return reject(err, RG_DLQ_WRONG_TYPE, "%s must be a string, got %s", fd->name,
                          type_name(it));
        return take_string(txn, f, it, err);
    case F_TS:
        if (!cJSON_IsString(it) && !cJSON_IsNumber(it))
            return reject(err, RG_DLQ_WRONG_TYPE,
                          "ts must be an RFC 3339 string or epoch milliseconds, got %s",
                          type_name(it));
        return take_ts(txn, it, err);
    case F_NUM:
        break;
    }
    if (!cJSON_IsNumber(it))
        return reject(err, RG_DLQ_WRONG_TYPE, "%s must be a number, got %s", fd->name,
                      type_name(it));
    double v = it->valuedouble;
    switch (f) {
    case FLD_AMOUNT:
        if (!isfinite(v) || v < 0)
            return reject(err, RG_DLQ_INVALID_VALUE, "amount must be a finite number >= 0");
        if (v > RG_AMOUNT_MAX)
            return reject(err, RG_DLQ_INVALID_VALUE, "amount must be <= 1e9 (huge)");
        txn->amount = v + 0.0; /* -0 becomes 0 */
        return 0;
    case FLD_LAT:
        if (!isfinite(v) || v < -90 || v > 90)
            return reject(err, RG_DLQ_INVALID_VALUE, "lat must be between -90 and 90");
        txn->lat = v;
        *have_lat = true;
        return 0;
    case FLD_LON:
        if (!isfinite(v) || v < -180 || v > 180)
            return reject(err, RG_DLQ_INVALID_VALUE, "lon must be between -180 and 180");
        txn->lon = v;
        *have_lon = true;
        return 0;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ */
/* fast path (see DESIGN)                                              */

static bool g_fast_path = true;
static _Thread_local unsigned long tl_fast_hits;

void rg_decode_set_fast_path(bool on) { g_fast_path = on; }

unsigned long rg_decode_fast_hits(void) { return tl_fast_hits; }

static inline bool is_dig(unsigned char c) { return c >= '0' && c <= '9'; }

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && is_ws((unsigned char)*p))
        p++;
    return p;
}

static cJSON *fast_item(void)
{
    cJSON *it = arena_malloc(sizeof(*it));
    if (it)
        memset(it, 0, sizeof(*it));
    return it;
}

/* Eight bytes at a time (SWAR) for fast_string: the string's plain run is
 * most of an event, and one byte per step cost ~12 instructions a byte. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SWAR_ONES 0x0101010101010101ULL
#define SWAR_HIGH 0x8080808080808080ULL

/* The high bit of each byte of x that is not str_plain (< 0x20, >= 0x80,
 * '"' or '\\'). Borrows can also mark bytes above a marked one, never below,
 * so the lowest mark is exact; that is the only one the caller uses. */
static inline uint64_t swar_not_plain(uint64_t x)
{
    uint64_t q = x ^ (SWAR_ONES * '"'), b = x ^ (SWAR_ONES * '\\');
    return (((x - SWAR_ONES * 0x20) & ~x) | ((q - SWAR_ONES) & ~q) | ((b - SWAR_ONES) & ~b) | x) &
           SWAR_HIGH;
}

/* Digits among the bytes of x whose high bit is set in `in` (plain bytes,
 * all < 0x80, so the additions carry into no other byte). */
static inline unsigned swar_digits(uint64_t x, uint64_t in)
{
    uint64_t d = (x + SWAR_ONES * (0x80 - '0')) & ~(x + SWAR_ONES * (0x80 - '9' - 1)) & in;
    return (unsigned)(((d >> 7) * SWAR_ONES) >> 56); /* sum of the 0/1 bytes */
}
#endif

/* A string of plain printable ASCII (str_plain: no escape, no control
 * character, no UTF-8 sequence) starting after its opening quote; *pp is
 * left after the closing quote. NULL: not for the fast path (or arena
 * full, or the string holds a card number: then the full path rejects the
 * message as it always has). */
static char *fast_string(const char **pp, const char *e)
{
    const char *s = *pp, *p = s;
    unsigned nd = 0;
#ifdef SWAR_ONES
    while (e - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        uint64_t bad = swar_not_plain(x);
        if (bad) { /* plain up to the lowest marked byte */
            nd += swar_digits(x, ((bad & -bad) - 1) & SWAR_HIGH);
            p += __builtin_ctzll(bad) / 8;
            goto scanned;
        }
        nd += swar_digits(x, SWAR_HIGH);
        p += 8;
    }
#endif
    while (p < e && str_plain((unsigned char)*p))
        nd += is_dig((unsigned char)*p++);
#ifdef SWAR_ONES
scanned:
#endif
    if (p >= e || *p != '"')
        return NULL;
    size_t n = (size_t)(p - s);
    /* card.c needs 13 digits in one string; the quotes delimit it exactly
     * as in a scan of the whole message, since it has no escape. */
    if (nd >= 13 && rg_card_scan(s - 1, n + 2, NULL, NULL) > 0)
        return NULL;
    char *out = arena_malloc(n + 1);
    if (!out)
        return NULL;
    memcpy(out, s, n);
    out[n] = '\0';
    *pp = p + 1;
    return out;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)? with at most 15 significant digits and at
 * most 22 after the point: m < 10^15 < 2^53 and 10^frac are exact. */
static bool fast_number(const char **pp, const char *e, double *out)
{
    static const double p10[23] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
    const char *p = *pp;
    bool neg = p < e && *p == '-';
    if (neg)
        p++;
    if (p >= e || !is_dig((unsigned char)*p))
        return false;
    if (*p == '0' && p + 1 < e && is_dig((unsigned char)p[1]))
        return false;
    uint64_t m = 0;
    int sig = 0, frac = 0; /* significant digits: from the first non-zero one */
    for (; p < e && is_dig((unsigned char)*p); p++) {
        m = m * 10 + (uint64_t)(*p - '0');
        sig += m != 0;
        if (sig > 15)
            return false;
    }
    if (p < e && *p == '.') {
        p++;
        if (p >= e || !is_dig((unsigned char)*p))
            return false;
        for (; p < e && is_dig((unsigned char)*p); p++, frac++) {
            m = m * 10 + (uint64_t)(*p - '0');
            sig += m != 0;
            if (sig > 15 || frac >= 22)
                return false;
        }
    }
    double v = frac ? (double)m / p10[frac] : (double)m;
    *out = neg ? -v : v;
    *pp = p;
    return true;
}

/* The tree cJSON would build for a flat object of strings, numbers, true,
 * false and null followed only by whitespace, or NULL to let cJSON parse.
 * Items come from the arena (tl_active), like cJSON's. */
static cJSON *fast_parse(const char *buf, size_t len)
{
    const char *p = buf, *e = buf + len;
    p = skip_ws(p, e);
    if (p >= e || *p != '{')
        return NULL;
    p = skip_ws(p + 1, e);
    if (p >= e || *p != '"')
        return NULL; /* {} and anything odd: cJSON */
    cJSON *root = fast_item(), *last = NULL;
    if (!root)
        return NULL;
    root->type = cJSON_Object;
    for (;;) {
        if (p >= e || *p != '"')
            return NULL;
        p++;
        cJSON *it = fast_item();
        if (!it || !(it->string = fast_string(&p, e)))
            return NULL;
        p = skip_ws(p, e);
        if (p >= e || *p != ':')
            return NULL;
        p = skip_ws(p + 1, e);
        if (p >= e)
            return NULL;
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            p++;
            if (!(it->valuestring = fast_string(&p, e)))
                return NULL;
            it->type = cJSON_String;
        } else if (c == '-' || is_dig(c)) {
            double v;
            if (!fast_number(&p, e, &v))
                return NULL;
            it->type = cJSON_Number;
            it->valuedouble = v;
            it->valueint = v >= INT_MAX ? INT_MAX : v <= (double)INT_MIN ? INT_MIN : (int)v;
        } else if (e - p >= 4 && memcmp(p, "null", 4) == 0) {
            it->type = cJSON_NULL;
            p += 4;
        } else if (e - p >= 4 && memcmp(p, "true", 4) == 0) {
            it->type = cJSON_True;
            it->valueint = 1;
            p += 4;
        } else if (e - p >= 5 && memcmp(p, "false", 5) == 0) {
            it->type = cJSON_False;
            p += 5;
        } else {
            return NULL;
        }
        if (last) {
            last->next = it;
            it->prev = last;
        } else {
            root->child = it;
        }
        last = it;
        p = skip_ws(p, e);
        if (p < e && *p == ',') {
            p = skip_ws(p + 1, e);
            continue;
        }
        if (p < e && *p == '}')
            break;
        return NULL;
    }
    root->child->prev = last; /* cJSON keeps the tail in the head's prev */
    if (skip_ws(p + 1, e) != e)
        return NULL;
    return root;
}

/* ------------------------------------------------------------------ */
/* decode                                                              */

static int card_reject(const char *buf, const struct rg_card_hit *hit,
                       struct rg_decode_error *err)
{
    if (hit->in_key)
        return reject(err, RG_DLQ_CARD_NUMBER, "an object key looks like a card number");
    int f = hit->depth == 1 && hit->key_len ? field_lookup(buf + hit->key_off, hit->key_len) : -1;
    if (f >= 0)
        return reject(err, RG_DLQ_CARD_NUMBER, "field %s looks like a card number",
                      g_fields[f].name);
    return reject(err, RG_DLQ_CARD_NUMBER, "a string value looks like a card number");
}

static int walk(struct rg_decoder *dec, const cJSON *root, struct rg_txn *txn,
                struct rg_decode_error *err)
{
    uint32_t seen = 0;
    bool have_lat = false, have_lon = false;
    int rc;
    keyset_reset(dec);
    for (const cJSON *it = root->child; it; it = it->next) {
        const char *key = it->string ? it->string : "";
        int f = field_lookup(key, strlen(key));
        if (f < 0) {
            if (keyset_seen(dec, key)) {
                if (printable_key(key))
                    return reject(err, RG_DLQ_DUPLICATE_FIELD, "duplicate field %s", key);
                return reject(err, RG_DLQ_DUPLICATE_FIELD, "duplicate key (name withheld)");
            }
            continue; /* unknown fields are ignored */
        }
        if (seen & (1u << f))
            return reject(err, RG_DLQ_DUPLICATE_FIELD, "duplicate field %s", g_fields[f].name);
        seen |= 1u << f;
        if (!g_fields[f].required &&
            (cJSON_IsNull(it) || (cJSON_IsString(it) && it->valuestring[0] == '\0')))
            continue; /* null or "" is absent for optional fields */
        if ((rc = take_field(txn, f, it, &have_lat, &have_lon, err)) != 0)
            return rc;
    }
    for (int f = 0; f < FLD_COUNT; f++)
        if (g_fields[f].required && !(seen & (1u << f)))
            return reject(err, RG_DLQ_MISSING_FIELD, "missing required field %s",
                          g_fields[f].name);
    if (have_lat != have_lon)
        return reject(err, RG_DLQ_INVALID_VALUE, "lat and lon must be given together");
    if (have_lat)
        txn->has |= RG_HAS_GEO;
    return 0;
}

int rg_txn_decode(struct rg_decoder *dec, const char *buf, size_t len, struct rg_txn *txn,
                  struct rg_decode_error *err)
{
    if (!dec || !txn || (!buf && len)) {
        reject(err, RG_DLQ_EMPTY, "no message");
        return RG_EINVAL; /* a caller bug, not bad input */
    }
    if (len > RG_MSG_MAX)
        return reject(err, RG_DLQ_TOO_LARGE, "message is %zu bytes, limit %d", len, RG_MSG_MAX);
    if (len == 0)
        return reject(err, RG_DLQ_EMPTY, "message is empty");
    tl_base = dec->arena;
    tl_cap = ARENA_CAP;
    tl_used = 0;
    tl_exhausted = false;
    cJSON *root = NULL;
    if (g_fast_path) { /* a tree from it means: no card number (DESIGN) */
        tl_active = true;
        root = fast_parse(buf, len);
        tl_active = false;
    }
    struct rg_card_hit hit;
    if (!root && rg_card_scan(buf, len, NULL, &hit) > 0)
        return card_reject(buf, &hit, err);
    int rc = root ? 0 : prescan(buf, len, err); /* nothing to find: DESIGN */
    if (rc != 0)
        return rc;

    memset(txn, 0, offsetof(struct rg_txn, partition));
    const char *end = NULL;
    if (root) {
        end = buf + len;
        tl_fast_hits++;
    } else {
        tl_used = 0; /* whatever the fast path took */
        tl_exhausted = false;
        tl_active = true;
        root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
        tl_active = false;
    }
    if (!root) {
        if (tl_exhausted)
            return reject(err, RG_DLQ_TOO_LARGE, "message too complex to decode");
        return reject(err, RG_DLQ_INVALID_JSON, "invalid JSON");
    }
    /* Hooks replaced by someone else: the tree is on the heap. */
    bool heap = (uintptr_t)root < (uintptr_t)dec->arena ||
                (uintptr_t)root >= (uintptr_t)dec->arena + ARENA_CAP;
    if (end) {
        while (end < buf + len && is_ws((unsigned char)*end))
            end++;
    }
    if (!end || end != buf + len)
        rc = reject(err, RG_DLQ_INVALID_JSON, "invalid JSON: trailing data after the value");
    else if (!cJSON_IsObject(root))
        rc = reject(err, RG_DLQ_NOT_AN_OBJECT, "the message is %s, not an object",
                    type_name(root));
    else
        rc = walk(dec, root, txn, err);
    if (heap)
        cJSON_Delete(root);
    return rc;
}

/* ------------------------------------------------------------------ */
/* dead letters                                                        */

rd_kafka_resp_err_t rg_dlq_header_truncated(rd_kafka_headers_t *h, size_t original_len)
{
    const void *v;
    size_t vlen;
    if (rd_kafka_header_get_last(h, RG_DLQ_H_TRUNCATED_FROM, &v, &vlen) == 0)
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    char from[24];
    snprintf(from, sizeof(from), "%zu", original_len);
    return rd_kafka_header_add(h, RG_DLQ_H_TRUNCATED_FROM, -1, from, -1);
}

rd_kafka_headers_t *rg_dlq_headers_new(const struct rg_dlq_meta *m)
{
    if (!m)
        return NULL;
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(6);
    if (!hdrs)
        return NULL;
    char part[16], off[24];
    snprintf(part, sizeof(part), "%d", (int)m->partition);
    snprintf(off, sizeof(off), "%lld", (long long)m->offset);
    const char *name[6] = { RG_DLQ_H_REASON, RG_DLQ_H_REASON_MESSAGE, RG_DLQ_H_SOURCE_TOPIC,
                            RG_DLQ_H_SOURCE_PARTITION, RG_DLQ_H_SOURCE_OFFSET,
                            RG_DLQ_H_VERSION };
    const char *val[6] = { m->code ? m->code : "", m->message ? m->message : "",
                           m->topic ? m->topic : "", part, off, RG_CONTRACT_VERSION };
    for (int i = 0; i < 6; i++) {
        if (rd_kafka_header_add(hdrs, name[i], -1, val[i], -1) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_headers_destroy(hdrs);
            return NULL;
        }
    }
    if (m->truncated_from && rg_dlq_header_truncated(hdrs, m->truncated_from)) {
        rd_kafka_headers_destroy(hdrs);
        return NULL;
    }
    return hdrs;
}
