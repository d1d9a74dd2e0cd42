/* test_gen.c - `riskgate gen` in file mode: determinism, the event contract,
 * amounts, popularity skew, fraud scenarios, labels and malformed events.
 *
 * Every check parses the generated files independently of the generator
 * (cJSON, its own RFC 3339 / UTF-8 / Luhn checks), so a regression in the
 * generator's encoder cannot hide behind a shared helper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "riskgate/gen.h"
#include "test_util.h"

#define run_gen(...) rg_test_run_cli(rg_gen_main, "gen", __VA_ARGS__)

/* ---- helpers: temp dir, running the generator, reading files ---- */
static char g_dir[64];

static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", g_dir, name);
}

struct file {
    char *data;
    size_t len;
    char **line;      /* NUL-terminated lines (newline replaced) */
    size_t *line_len;
    size_t n;
};

static void file_read(struct file *f, const char *path)
{
    memset(f, 0, sizeof(*f));
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->data = malloc((size_t)sz + 1);
    assert_non_null(f->data);
    f->len = fread(f->data, 1, (size_t)sz, fp);
    fclose(fp);
    f->data[f->len] = 0;
    size_t cap = 1024;
    f->line = malloc(cap * sizeof(char *));
    f->line_len = malloc(cap * sizeof(size_t));
    char *p = f->data, *end = f->data + f->len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl); /* every line ends with a newline */
        *nl = 0;
        if (f->n == cap) {
            cap *= 2;
            f->line = realloc(f->line, cap * sizeof(char *));
            f->line_len = realloc(f->line_len, cap * sizeof(size_t));
        }
        f->line[f->n] = p;
        f->line_len[f->n] = (size_t)(nl - p);
        f->n++;
        p = nl + 1;
    }
}

static void file_free(struct file *f)
{
    free(f->data);
    free(f->line);
    free(f->line_len);
}

static bool files_equal(const char *a, const char *b)
{
    struct file fa, fb;
    file_read(&fa, a);
    file_read(&fb, b);
    bool eq = fa.len == fb.len && memcmp(fa.data, fb.data, fa.len) == 0;
    file_free(&fa);
    file_free(&fb);
    return eq;
}

/* ---- a tiny string -> int64 map (open addressing) ---- */
struct map {
    char **key;
    int64_t *val;
    size_t cap, n;
};

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void map_init(struct map *m, size_t cap)
{
    m->cap = cap;
    m->n = 0;
    m->key = calloc(cap, sizeof(char *));
    m->val = calloc(cap, sizeof(int64_t));
}

static int64_t *map_find(struct map *m, const char *k, bool insert)
{
    size_t i = fnv(k) & (m->cap - 1);
    while (m->key[i]) {
        if (strcmp(m->key[i], k) == 0)
            return &m->val[i];
        i = (i + 1) & (m->cap - 1);
    }
    if (!insert)
        return NULL;
    assert_true(m->n < m->cap / 2);
    m->key[i] = strdup(k);
    m->n++;
    return &m->val[i];
}

static void map_free(struct map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->key[i]);
    free(m->key);
    free(m->val);
}

/* ---- independent checks of the contract ---- */
static bool utf8_valid(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s;
        int n;
        unsigned min;
        if (c < 0x80) {
            s++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        s++;
        for (int i = 0; i < n; i++, s++) {
            if ((*s & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (*s & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
    }
    return true;
}

/* A run of 13-19 digits (spaces/dashes between digits allowed), first
 * digit 2-6, passing Luhn: what the contract calls a raw card number. */
static bool has_card_number(const char *s)
{
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p) || (p > s && isdigit((unsigned char)p[-1])))
            continue;
        char d[32];
        int n = 0;
        for (const char *q = p; *q && n < 31; q++) {
            if (isdigit((unsigned char)*q))
                d[n++] = *q;
            else if ((*q == ' ' || *q == '-') && isdigit((unsigned char)q[1]))
                continue;
            else
                break;
        }
        /* every window of 13..19 digits starting here */
        for (int len = 13; len <= 19 && len <= n; len++) {
            if (d[0] < '2' || d[0] > '6')
                break;
            int sum = 0;
            for (int i = 0; i < len; i++) {
                int v = d[len - 1 - i] - '0';
                if (i % 2 == 1) {
                    v *= 2;
                    if (v > 9)
                        v -= 9;
                }
                sum += v;
            }
            if (sum % 10 == 0)
                return true;
        }
    }
    return false;
}

static bool any_string_bad(const cJSON *j)
{
    if (cJSON_IsString(j) &&
        (!utf8_valid((const unsigned char *)j->valuestring) || has_card_number(j->valuestring)))
        return true;
    for (const cJSON *c = j->child; c; c = c->next)
        if (any_string_bad(c))
            return true;
    return false;
}

static bool rfc3339_to_ms(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return false;
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
        return false;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return false;
    const char *p = s + 19;
    int frac = 0;
    if (*p == '.') {
        int nd = 0;
        for (p++; isdigit((unsigned char)*p); p++, nd++)
            if (nd < 3)
                frac = frac * 10 + (*p - '0');
        if (nd == 0)
            return false;
        for (; nd < 3; nd++)
            frac *= 10;
    }
    int off = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 || oh > 23 || om > 59)
            return false;
        off = (*p == '-' ? -1 : 1) * (oh * 60 + om);
        p += 6;
    } else {
        return false;
    }
    if (*p)
        return false;
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi, .tm_sec = sec };
    *ms = (int64_t)timegm(&tm) * 1000 + frac - (int64_t)off * 60000;
    return true;
}

static bool ts_value(const cJSON *ts, int64_t *ms)
{
    if (cJSON_IsNumber(ts)) {
        double v = ts->valuedouble;
        if (v != floor(v) || v < 0 || v > 9e15)
            return false;
        *ms = (int64_t)v;
        return true;
    }
    return cJSON_IsString(ts) && rfc3339_to_ms(ts->valuestring, ms);
}

/* True when the line is a valid input event under the contract. */
static bool event_valid(const char *line, cJSON **out)
{
    cJSON *j = cJSON_Parse(line);
    if (out)
        *out = NULL;
    if (!j)
        return false;
    bool ok = cJSON_IsObject(j);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "event_id");
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(j, "user_id");
    const cJSON *amount = cJSON_GetObjectItemCaseSensitive(j, "amount");
    const cJSON *ccy = cJSON_GetObjectItemCaseSensitive(j, "currency");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(j, "ts");
    int64_t ms;
    ok = ok && cJSON_IsString(id) && strlen(id->valuestring) >= 1 && strlen(id->valuestring) <= 128;
    ok = ok && cJSON_IsString(user) && user->valuestring[0];
    ok = ok && cJSON_IsNumber(amount) && isfinite(amount->valuedouble) && amount->valuedouble >= 0;
    ok = ok && cJSON_IsString(ccy) && strlen(ccy->valuestring) == 3 &&
         isupper((unsigned char)ccy->valuestring[0]) && isupper((unsigned char)ccy->valuestring[1]) &&
         isupper((unsigned char)ccy->valuestring[2]);
    ok = ok && ts && ts_value(ts, &ms);
    ok = ok && !any_string_bad(j);
    if (ok && out)
        *out = j;
    else
        cJSON_Delete(j);
    return ok;
}

static const char *str(const cJSON *j, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num(const cJSON *j, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int64_t ev_ts(const cJSON *j)
{
    int64_t ms = -1;
    assert_true(ts_value(cJSON_GetObjectItemCaseSensitive(j, "ts"), &ms));
    return ms;
}

static int in_set(const char *s, const char *const *set)
{
    for (int i = 0; set[i]; i++)
        if (s && strcmp(s, set[i]) == 0)
            return i;
    return -1;
}

static const char *const k_cats[] = { "gift_card", "game", "app_store", "transport", "content", NULL };
static const char *const k_chans[] = { "carrier_billing", "card", "wallet", NULL };
static const char *const k_auth[] = { "none", "pin", "biometric", NULL };
static const char *const k_scen[] = { "normal", "giftcard_cashout", "account_takeover",
                                      "card_testing", "compromised_merchant", "device_farm", NULL };
/* Price ranges in USD-like units per category (docs/gen.md). */
static const double k_lo[] = { 5.00, 0.99, 0.99, 1.20, 0.50 };
static const double k_hi[] = { 50.00, 19.99, 4.99, 4.50, 3.00 };

/* The documented amount scale of each currency (docs/gen.md). */
static double ccy_factor(const char *c)
{
    static const struct { const char *c; double f; } t[] = {
        { "USD", 1 }, { "EUR", 1 }, { "GBP", 1 }, { "BRL", 5 }, { "INR", 80 }, { "IDR", 15000 },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(c, t[i].c) == 0)
            return t[i].f;
    fail_msg("unexpected currency %s", c);
    return 0;
}

static bool ipv4_ok(const char *s)
{
    int a, b, c, d, n = 0;
    return s && sscanf(s, "%d.%d.%d.%d%n", &a, &b, &c, &d, &n) == 4 && s[n] == 0 && a >= 0 &&
           a < 256 && b >= 0 && b < 256 && c >= 0 && c < 256 && d >= 0 && d < 256;
}

/* ---- fixtures ---- */
static int setup(void **state)
{
    (void)state;
    strcpy(g_dir, "/tmp/rg_test_gen_XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- tests ---- */
static void test_determinism(void **state)
{
    (void)state;
    char e1[128], f1[128], t1[128], e2[128], f2[128], t2[128], e3[128];
    path_of(e1, sizeof e1, "d_e1.jsonl");
    path_of(f1, sizeof f1, "d_f1.jsonl");
    path_of(t1, sizeof t1, "d_t1.jsonl");
    path_of(e2, sizeof e2, "d_e2.jsonl");
    path_of(f2, sizeof f2, "d_f2.jsonl");
    path_of(t2, sizeof t2, "d_t2.jsonl");
    path_of(e3, sizeof e3, "d_e3.jsonl");
    assert_int_equal(run_gen("--out", e1, "--feedback-out", f1, "--truth-out", t1, "--seed", "7",
                             "--count", "5000", "--malformed", "0.05", "--fraud-share", "0.05",
                             NULL), 0);
    assert_int_equal(run_gen("--out", e2, "--feedback-out", f2, "--truth-out", t2, "--seed", "7",
                             "--count", "5000", "--malformed", "0.05", "--fraud-share", "0.05",
                             NULL), 0);
    assert_int_equal(run_gen("--out", e3, "--seed", "8", "--count", "5000", "--malformed", "0.05",
                             "--fraud-share", "0.05", NULL), 0);
    assert_true(files_equal(e1, e2));
    assert_true(files_equal(f1, f2));
    assert_true(files_equal(t1, t2));
    assert_false(files_equal(e1, e3));
    struct file f;
    file_read(&f, e1);
    assert_int_equal(f.n, 5000);
    file_free(&f);
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* "user|device" of every event of a file, sorted, for lookups. */
static char **user_devices(const char *path, size_t *n, const char *id_prefix)
{
    struct file f;
    file_read(&f, path);
    char **v = calloc(f.n, sizeof(char *));
    assert_non_null(v);
    for (size_t i = 0; i < f.n; i++) {
        cJSON *j = cJSON_Parse(f.line[i]);
        assert_non_null(j);
        assert_true(strncmp(str(j, "event_id"), id_prefix, strlen(id_prefix)) == 0);
        char buf[128];
        snprintf(buf, sizeof buf, "%s|%s", str(j, "user_id"), str(j, "device_id"));
        v[i] = strdup(buf);
        cJSON_Delete(j);
    }
    *n = f.n;
    file_free(&f);
    qsort(v, *n, sizeof(char *), cmp_str);
    return v;
}

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* --world-seed keeps the users (their devices) while --seed changes the
 * stream and the event ids: how the benchmark continues the preload's users
 * in its rate run. */
static void test_world_seed_continues_users(void **state)
{
    (void)state;
    char a[128], b[128], c[128];
    path_of(a, sizeof a, "w_a.jsonl");
    path_of(b, sizeof b, "w_b.jsonl");
    path_of(c, sizeof c, "w_c.jsonl");
    assert_int_equal(run_gen("--out", a, "--count", "20000", "--users", "1000", "--seed", "1",
                             "--fraud-share", "0", NULL), 0);
    assert_int_equal(run_gen("--out", b, "--count", "5000", "--users", "1000", "--seed", "2",
                             "--world-seed", "1", "--fraud-share", "0", NULL), 0);
    assert_int_equal(run_gen("--out", c, "--count", "5000", "--users", "1000", "--seed", "2",
                             "--fraud-share", "0", NULL), 0);
    size_t na, nb, nc;
    char **va = user_devices(a, &na, "e-1_");
    char **vb = user_devices(b, &nb, "e-2_");
    char **vc = user_devices(c, &nc, "e-2_");
    size_t kb = 0, kc = 0;
    for (size_t i = 0; i < nb; i++)
        kb += bsearch(&vb[i], va, na, sizeof(char *), cmp_str) != NULL;
    for (size_t i = 0; i < nc; i++)
        kc += bsearch(&vc[i], va, na, sizeof(char *), cmp_str) != NULL;
    /* the same world: users on the devices they had (a few new ones are
     * part of the model); another world: other devices */
    assert_true(kb > nb * 95 / 100);
    assert_true(kc < nc / 100);
    assert_false(files_equal(b, c));
    free_strs(va, na);
    free_strs(vb, nb);
    free_strs(vc, nc);
}

static void test_contract_and_ranges(void **state)
{
    (void)state;
    char ev[128], tr[128];
    path_of(ev, sizeof ev, "c_ev.jsonl");
    path_of(tr, sizeof tr, "c_tr.jsonl");
    assert_int_equal(run_gen("--out", ev, "--truth-out", tr, "--count", "20000", "--fraud-share",
                             "0.05", "--seed", "3", NULL), 0);
    struct file f, t;
    file_read(&f, ev);
    file_read(&t, tr);
    assert_int_equal(f.n, 20000);
    assert_int_equal(t.n, 20000);
    struct map ids;
    map_init(&ids, 1 << 16);
    int64_t last_ts = INT64_MIN;
    int n_epoch = 0, n_str = 0, n_geo = 0;
    for (size_t i = 0; i < f.n; i++) {
        cJSON *j;
        if (!event_valid(f.line[i], &j))
            fail_msg("line %zu invalid: %.200s", i, f.line[i]);
        cJSON *tj = cJSON_Parse(t.line[i]);
        assert_non_null(tj);
        assert_string_equal(str(tj, "event_id"), str(j, "event_id"));
        assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tj, "is_malformed")));
        bool ct = strcmp(str(tj, "scenario"), "card_testing") == 0;

        /* unique ids, ts order */
        int64_t *slot = map_find(&ids, str(j, "event_id"), true);
        assert_int_equal(*slot, 0);
        *slot = 1;
        int64_t ts = ev_ts(j);
        assert_true(ts >= last_ts);
        last_ts = ts;
        assert_int_equal(ts, (int64_t)num(tj, "ts_ms"));
        if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(j, "ts")))
            n_epoch++;
        else
            n_str++;

        /* formats of the optional fields */
        assert_true(str(j, "user_id")[0] == 'u');
        const char *m = str(j, "merchant_id");
        assert_non_null(m);
        assert_true(m[0] == 'm' && isdigit((unsigned char)m[1]));
        int cat = in_set(str(j, "merchant_category"), k_cats);
        int chan = in_set(str(j, "channel"), k_chans);
        assert_true(cat >= 0);
        assert_true(chan >= 0);
        assert_true(in_set(str(j, "auth_method"), k_auth) >= 0);
        assert_non_null(str(j, "device_id"));
        assert_true(ipv4_ok(str(j, "ip")));
        const char *cc = str(j, "country");
        assert_true(cc && strlen(cc) == 2 && isupper((unsigned char)cc[0]) && isupper((unsigned char)cc[1]));
        double lat = num(j, "lat"), lon = num(j, "lon");
        assert_int_equal(isnan(lat), isnan(lon));
        if (!isnan(lat)) {
            n_geo++;
            assert_true(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180);
        }
        const char *tok = str(j, "card_token");
        assert_int_equal(tok != NULL, strcmp(k_chans[chan], "card") == 0);
        if (tok)
            assert_memory_equal(tok, "tok_", 4);

        /* amounts: two decimals, within the category range */
        double a = num(j, "amount");
        assert_true(fabs(a * 100 - round(a * 100)) < 1e-6);
        double usd = a / ccy_factor(str(j, "currency"));
        if (ct) {
            assert_true(usd > 0 && usd <= 1.0 + 1e-9);
        } else if (usd < k_lo[cat] * 0.9 || usd > k_hi[cat] * 1.1) {
            fail_msg("amount %.2f %s out of range for %s", a, str(j, "currency"), k_cats[cat]);
        }
        cJSON_Delete(j);
        cJSON_Delete(tj);
    }
    /* both ts formats of the contract appear, and ~70% carry coordinates */
    assert_true(n_epoch > 2000 && n_str > 2000);
    assert_true(n_geo > 12000 && n_geo < 16000);
    map_free(&ids);
    file_free(&f);
    file_free(&t);
}

/* Users have a daily rhythm: over two simulated days, the busiest 6-hour
 * window of each active user holds clearly more than the 25% a flat
 * profile would give (chance alone gives ~0.33 at 100 events). */
static void test_daily_rhythm(void **state)
{
    (void)state;
    char ev[128], tr[128];
    path_of(ev, sizeof ev, "r_ev.jsonl");
    path_of(tr, sizeof tr, "r_tr.jsonl");
    assert_int_equal(run_gen("--out", ev, "--truth-out", tr, "--count", "40000", "--sim-rate",
                             "0.25", "--fraud-share", "0", "--seed", "4", NULL), 0);
    struct file t;
    file_read(&t, tr);
    int(*hist)[24] = calloc(10000, sizeof(*hist));
    int64_t first = -1, last = 0;
    for (size_t i = 0; i < t.n; i++) {
        cJSON *j = cJSON_Parse(t.line[i]);
        assert_non_null(j);
        int u = atoi(str(j, "user_id") + 1);
        int64_t ms = (int64_t)num(j, "ts_ms");
        if (first < 0)
            first = ms;
        last = ms;
        hist[u][(ms / 3600000) % 24]++;
        cJSON_Delete(j);
    }
    assert_true(last - first > 36 * 3600000LL);
    double sum = 0;
    int users = 0;
    for (int u = 0; u < 10000; u++) {
        int n = 0, best = 0;
        for (int h = 0; h < 24; h++)
            n += hist[u][h];
        if (n < 100)
            continue;
        for (int s0 = 0; s0 < 24; s0++) {
            int w = 0;
            for (int k = 0; k < 6; k++)
                w += hist[u][(s0 + k) % 24];
            if (w > best)
                best = w;
        }
        sum += (double)best / n;
        users++;
    }
    assert_true(users >= 10);
    assert_true(sum / users > 0.40);
    free(hist);
    file_free(&t);
}

static int cmp_desc(const void *a, const void *b)
{
    return *(const int *)b - *(const int *)a;
}

static void test_user_popularity_skewed(void **state)
{
    (void)state;
    char ev[128];
    path_of(ev, sizeof ev, "p_ev.jsonl");
    assert_int_equal(run_gen("--out", ev, "--count", "50000", "--users", "10000", "--seed", "5",
                             "--fraud-share", "0", NULL), 0);
    struct file f;
    file_read(&f, ev);
    int *cnt = calloc(10000, sizeof(int));
    for (size_t i = 0; i < f.n; i++) {
        cJSON *j = cJSON_Parse(f.line[i]);
        assert_non_null(j);
        int u = atoi(str(j, "user_id") + 1);
        assert_true(u >= 0 && u < 10000);
        cnt[u]++;
        cJSON_Delete(j);
    }
    qsort(cnt, 10000, sizeof(int), cmp_desc);
    long top = 0, distinct = 0;
    for (int i = 0; i < 100; i++)
        top += cnt[i];
    for (int i = 0; i < 10000; i++)
        distinct += cnt[i] > 0;
    double share = (double)top / (double)f.n;
    /* uniform would give the top 1% about 1-2%; Zipf gives far more */
    assert_true(share > 0.10);
    assert_true(share < 0.60);
    assert_true(distinct > 3000); /* the long tail is still there */
    free(cnt);
    file_free(&f);
}


static void test_scenarios(void **state)
{
    (void)state;
    char ev[128], tr[128];
    path_of(ev, sizeof ev, "s_ev.jsonl");
    path_of(tr, sizeof tr, "s_tr.jsonl");
    assert_int_equal(run_gen("--out", ev, "--truth-out", tr, "--count", "20000", "--fraud-share",
                             "0.05", "--seed", "11", NULL), 0);
    struct file f, t;
    file_read(&f, ev);
    file_read(&t, tr);
    assert_int_equal(f.n, t.n);

    struct map seen_dev;      /* "user|device" already used */
    struct map home;          /* user -> index of country in normal events */
    struct map group_users;   /* "scenario|key|user" distinct */
    struct map group_count;   /* "scenario|key" -> distinct users / merchants */
    map_init(&seen_dev, 1 << 17);
    map_init(&home, 1 << 15);
    map_init(&group_users, 1 << 14);
    map_init(&group_count, 1 << 12);
    int n[6] = { 0 }, ok[6] = { 0 };
    long max_farm = 0, max_cm = 0, max_ct_merchants = 0;
    int ato_new_dev = 0;
    char key[512];
    for (size_t i = 0; i < f.n; i++) {
        cJSON *j = cJSON_Parse(f.line[i]);
        cJSON *tj = cJSON_Parse(t.line[i]);
        assert_non_null(j);
        assert_non_null(tj);
        int s = in_set(str(tj, "scenario"), k_scen);
        assert_true(s >= 0);
        assert_string_equal(str(tj, "label"), s == 0 ? "legit" : "fraud");
        const char *user = str(j, "user_id"), *dev = str(j, "device_id");
        const char *cat = str(j, "merchant_category"), *chan = str(j, "channel");
        const char *cc = str(j, "country"), *m = str(j, "merchant_id");
        double usd = num(j, "amount") / ccy_factor(str(j, "currency"));
        snprintf(key, sizeof key, "%s|%s", user, dev);
        /* new to the user, or first used by this same kind of attack */
        int64_t *first_use = map_find(&seen_dev, key, false);
        bool new_dev = first_use == NULL;
        bool attack_dev = new_dev || *first_use == s + 1;
        n[s]++;
        switch (s) {
        case 0: {
            int64_t *h = map_find(&home, user, true);
            *h = (int64_t)(unsigned char)cc[0] << 8 | (unsigned char)cc[1];
            ok[0]++;
            break;
        }
        case 1: /* giftcard_cashout: gift_card/game, carrier billing, new device, top amounts */
            if ((strcmp(cat, "gift_card") == 0 ? usd >= 25 : strcmp(cat, "game") == 0 && usd >= 9.99) &&
                strcmp(chan, "carrier_billing") == 0 && attack_dev)
                ok[1]++;
            break;
        case 2: { /* account_takeover: far-away country with coordinates, new device */
            int64_t *h = map_find(&home, user, false);
            int64_t c2 = (int64_t)(unsigned char)cc[0] << 8 | (unsigned char)cc[1];
            if ((!h || *h != c2) && !isnan(num(j, "lat")) && attack_dev)
                ok[2]++;
            ato_new_dev += new_dev;
            break;
        }
        case 3: /* card_testing: tiny amounts by card, many merchants per card */
            if (usd <= 1.0 + 1e-9 && strcmp(chan, "card") == 0 && str(j, "card_token")) {
                ok[3]++;
                snprintf(key, sizeof key, "3|%s|%s", str(j, "card_token"), m);
                if (!map_find(&group_users, key, false)) {
                    map_find(&group_users, key, true);
                    snprintf(key, sizeof key, "3|%s", str(j, "card_token"));
                    int64_t *c = map_find(&group_count, key, true);
                    if (++*c > max_ct_merchants)
                        max_ct_merchants = *c;
                }
            }
            break;
        case 4: /* compromised_merchant: one merchant, many users */
        case 5: /* device_farm: one device, many users */
            ok[s]++;
            snprintf(key, sizeof key, "%d|%s|%s", s, s == 4 ? m : dev, user);
            if (!map_find(&group_users, key, false)) {
                map_find(&group_users, key, true);
                snprintf(key, sizeof key, "%d|%s", s, s == 4 ? m : dev);
                int64_t *c = map_find(&group_count, key, true);
                ++*c;
                if (s == 4 && *c > max_cm)
                    max_cm = *c;
                if (s == 5 && *c > max_farm)
                    max_farm = *c;
            }
            break;
        }
        snprintf(key, sizeof key, "%s|%s", user, dev);
        if (!map_find(&seen_dev, key, false))
            *map_find(&seen_dev, key, true) = s + 1;
        cJSON_Delete(j);
        cJSON_Delete(tj);
    }
    for (int s = 1; s < 6; s++) {
        print_message("scenario %s: %d events, %d with the defining property\n", k_scen[s], n[s], ok[s]);
        assert_true(n[s] > 0);
    }
    assert_int_equal(ok[1], n[1]);
    assert_int_equal(ok[3], n[3]);
    /* every takeover event is abroad on the attacker's device; each
     * takeover (at most 6 events) starts on a device the user never used */
    assert_int_equal(ok[2], n[2]);
    assert_true(ato_new_dev * 6 >= n[2]);
    assert_true(max_ct_merchants >= 5);
    assert_true(max_cm >= 8);
    assert_true(max_farm >= 8);
    int fraud = n[1] + n[2] + n[3] + n[4] + n[5];
    assert_true(fraud > 20000 * 0.035 && fraud < 20000 * 0.065);
    map_free(&seen_dev);
    map_free(&home);
    map_free(&group_users);
    map_free(&group_count);
    file_free(&f);
    file_free(&t);
}

static void test_labels(void **state)
{
    (void)state;
    char ev[128], fb[128], tr[128];
    path_of(ev, sizeof ev, "l_ev.jsonl");
    path_of(fb, sizeof fb, "l_fb.jsonl");
    path_of(tr, sizeof tr, "l_tr.jsonl");
    assert_int_equal(run_gen("--out", ev, "--feedback-out", fb, "--truth-out", tr, "--count",
                             "20000", "--fraud-share", "0.05", "--label-delay-s", "600",
                             "--malformed", "0.03", "--seed", "21", NULL), 0);
    struct file f, b, t;
    file_read(&f, ev);
    file_read(&b, fb);
    file_read(&t, tr);
    struct map ts_of, scen_of;
    map_init(&ts_of, 1 << 16);
    map_init(&scen_of, 1 << 16);
    int64_t last_ev_ts = 0;
    int n_normal = 0, n_fraud = 0;
    for (size_t i = 0; i < t.n; i++) {
        cJSON *tj = cJSON_Parse(t.line[i]);
        assert_non_null(tj);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tj, "is_malformed"))) {
            *map_find(&ts_of, str(tj, "event_id"), true) = -1; /* must never be labelled */
        } else {
            cJSON *j;
            assert_true(event_valid(f.line[i], &j));
            int64_t ts = ev_ts(j);
            *map_find(&ts_of, str(j, "event_id"), true) = ts;
            int s = in_set(str(tj, "scenario"), k_scen);
            *map_find(&scen_of, str(j, "event_id"), true) = s;
            if (s == 0)
                n_normal++;
            else
                n_fraud++;
            if (ts > last_ev_ts)
                last_ev_ts = ts;
            cJSON_Delete(j);
        }
        cJSON_Delete(tj);
    }
    int64_t last_fb = INT64_MIN;
    int n_fraud_labels = 0, n_legit_labels = 0, n_settings = 0, n_after_end = 0;
    static const char *const methods[] = { "otp", "biometric", "password", NULL };
    for (size_t i = 0; i < b.n; i++) {
        cJSON *j = cJSON_Parse(b.line[i]);
        assert_non_null(j);
        const char *type = str(j, "type");
        int64_t ts = ev_ts(j);
        assert_true(ts >= last_fb); /* feedback in ts order */
        last_fb = ts;
        assert_non_null(str(j, "user_id"));
        if (strcmp(type, "settings") == 0) {
            assert_true(in_set(str(j, "step_up_method"), methods) >= 0);
            n_settings++;
        } else {
            assert_string_equal(type, "label");
            const char *id = str(j, "event_id");
            int64_t *ets = map_find(&ts_of, id, false);
            if (!ets)
                fail_msg("label for unknown event %s", id);
            assert_true(*ets >= 0); /* not a malformed event */
            assert_true(ts >= *ets + 600000);
            if (ts > last_ev_ts)
                n_after_end++;
            int s = (int)*map_find(&scen_of, id, false);
            const char *label = str(j, "label");
            if (strcmp(label, "fraud") == 0) {
                assert_true(s > 0);
                assert_string_equal(str(j, "scenario"), k_scen[s]);
                n_fraud_labels++;
            } else {
                assert_string_equal(label, "legit");
                assert_int_equal(s, 0);
                n_legit_labels++;
            }
            assert_non_null(str(j, "merchant_id"));
            assert_non_null(str(j, "device_id"));
        }
        cJSON_Delete(j);
    }
    /* every fraud event is labelled; ~5% of normal ones get a legit label;
     * ~10% of 10000 users send settings; labels due after the last event
     * are still written */
    assert_int_equal(n_fraud_labels, n_fraud);
    assert_true(n_legit_labels > n_normal * 0.035 && n_legit_labels < n_normal * 0.065);
    assert_true(n_settings > 800 && n_settings < 1200);
    assert_true(n_after_end > 0);
    map_free(&ts_of);
    map_free(&scen_of);
    file_free(&f);
    file_free(&b);
    file_free(&t);
}

static void test_malformed(void **state)
{
    (void)state;
    char ev[128], tr[128];
    path_of(ev, sizeof ev, "m_ev.jsonl");
    path_of(tr, sizeof tr, "m_tr.jsonl");
    assert_int_equal(run_gen("--out", ev, "--truth-out", tr, "--count", "20000", "--malformed",
                             "0.1", "--fraud-share", "0.02", "--seed", "9", NULL), 0);
    struct file f, t;
    file_read(&f, ev);
    file_read(&t, tr);
    assert_int_equal(f.n, t.n);
    int n_bad = 0;
    struct map kinds;
    map_init(&kinds, 64);
    for (size_t i = 0; i < f.n; i++) {
        cJSON *tj = cJSON_Parse(t.line[i]);
        assert_non_null(tj);
        bool bad = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tj, "is_malformed"));
        bool valid = event_valid(f.line[i], NULL);
        if (bad == valid)
            fail_msg("line %zu: malformed=%d but valid=%d: %.120s", i, bad, valid, f.line[i]);
        if (bad) {
            n_bad++;
            ++*map_find(&kinds, str(tj, "malformed_kind"), true);
        }
        cJSON_Delete(tj);
    }
    assert_true(n_bad > 20000 * 0.085 && n_bad < 20000 * 0.115);
    static const char *const all[] = { "invalid_json", "missing_field", "wrong_type",
                                       "negative_amount", "bad_timestamp", "card_number",
                                       "invalid_utf8", "deep_nesting" };
    for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
        int64_t *c = map_find(&kinds, all[k], false);
        if (!c || *c < 50)
            fail_msg("malformed kind %s: too few", all[k]);
    }
    assert_int_equal(kinds.n, 8);
    map_free(&kinds);
    file_free(&f);
    file_free(&t);
}

static void test_bad_options(void **state)
{
    (void)state;
    char ev[128];
    path_of(ev, sizeof ev, "o_ev.jsonl");
    assert_int_equal(run_gen("--out", ev, "--count", "abc", NULL), 2);
    assert_int_equal(run_gen("--out", ev, "--fraud-share", "2", NULL), 2);
    assert_int_equal(run_gen("--out", ev, "--nope", NULL), 2);
    assert_int_equal(run_gen("--out", ev, "--start", "2026-13-01T00:00:00Z", NULL), 2);
    assert_int_equal(run_gen("--out", "/nonexistent-dir/x.jsonl", "--count", "10", NULL), 1);
    /* --start moves event time; a small run still works after the errors */
    assert_int_equal(run_gen("--out", ev, "--count", "3", "--start", "2027-01-01T00:00:00+01:00",
                             NULL), 0);
    struct file f;
    file_read(&f, ev);
    assert_int_equal(f.n, 3);
    cJSON *j = cJSON_Parse(f.line[0]);
    int64_t ts = ev_ts(j);
    assert_true(ts >= 1798758000000LL && ts < 1798758000000LL + 60000);
    cJSON_Delete(j);
    file_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_world_seed_continues_users),
        cmocka_unit_test(test_contract_and_ranges),
        cmocka_unit_test(test_user_popularity_skewed),
        cmocka_unit_test(test_daily_rhythm),
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
