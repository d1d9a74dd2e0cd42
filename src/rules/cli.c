/*
 * cli.c - `riskgate rules ...` for analysts: run rule test cases, lint a
 * rule directory, benchmark rule evaluation.
 *
 * DESIGN: a case file is data (YAML), like jq's test files: an event, the
 * profile state as feature values, optional scores and user state, and the
 * expected verdict. Cases are decoded into the same struct rg_txn and
 * feature vector the engine uses and go through rg_ruleset_decide(), so a
 * passing case means the engine decides the same way. Case files get the
 * same diagnostics as rule files (file:line:col, did-you-mean). Output is
 * written to caller-given streams so tests can capture it.
 */
#include <errno.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "riskgate/clock.h"
#include "riskgate/err.h"
#include "riskgate/feature.h"
#include "rules_int.h"

#define CASE_MAX_IDS 32

struct rcase {
    char name[160];
    const char *file;
    int line, col;
    struct rg_txn txn;
    double feat[RG_FEAT_COUNT];
    double score, anomaly;
    enum rg_step_up_method preferred;
    int failed;
    int want_decision;              /* enum rg_decision */
    bool has_rules, has_shadow, has_method, has_shadow_decision;
    const char *rules[CASE_MAX_IDS];
    int n_rules;
    const char *shadow[CASE_MAX_IDS];
    int n_shadow;
    enum rg_step_up_method method;
    int shadow_decision;
};

static void cerr(struct rg_diags *d, const char *file, const struct rg_ynode *n, const char *hint,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void cerr(struct rg_diags *d, const char *file, const struct rg_ynode *n, const char *hint,
                 const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rg_diags_add(d, file, n ? n->line : 0, n ? n->col : 0, hint, "%s", msg);
}

static void unknown_key(struct rg_diags *d, const char *file, const struct rg_ynode *k,
                        const char *where, const char *const *known, size_t n)
{
    const char *m = k->type == RG_Y_SCALAR ? rg_did_you_mean(k->str, known, n) : NULL;
    char hint[160];
    if (m)
        snprintf(hint, sizeof(hint), "did you mean %s?", m);
    cerr(d, file, k, m ? hint : NULL, "unknown key '%s' in %s",
         k->type == RG_Y_SCALAR ? k->str : "?", where);
}

static bool in_keys(const char *s, const char *const *known, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, known[i]) == 0)
            return true;
    return false;
}

/* Copy a scalar into a fixed field; false (with a diagnostic) if it does not fit. */
static bool put_field(struct rg_diags *d, const char *file, const struct rg_ynode *v, char *dst,
                      size_t cap, const char *key)
{
    if (v->type != RG_Y_SCALAR) {
        cerr(d, file, v, NULL, "'%s' must be a single value", key);
        return false;
    }
    if (v->len >= cap) {
        cerr(d, file, v, NULL, "'%s' is longer than %zu bytes", key, cap - 1);
        return false;
    }
    memcpy(dst, v->str, v->len + 1);
    return true;
}

/* Epoch ms from an integer or RFC 3339 ("2024-05-01T12:30:00Z", "+02:00"). */
static bool parse_ts(const struct rg_ynode *v, int64_t *out)
{
    long long ms;
    if (rg_ynode_long(v, &ms) == 0) {
        *out = ms;
        return true;
    }
    if (v->type != RG_Y_SCALAR)
        return false;
    int Y, M, D, h, m, s, n = 0;
    if (sscanf(v->str, "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &s, &n) != 6)
        return false;
    const char *p = v->str + n;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    int off = 0;
    if (*p == 'Z' && p[1] == '\0') {
        off = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh = atoi(p + 1), om = atoi(p + 4);
        off = (*p == '-' ? -1 : 1) * (oh * 60 + om);
    } else {
        return false;
    }
    /* days from civil (Howard Hinnant) */
    int y = Y - (M <= 2);
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153u * (unsigned)(M + (M > 2 ? -3 : 9)) + 2) / 5 + (unsigned)D - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + (int64_t)doe - 719468;
    *out = ((days * 86400 + h * 3600 + m * 60 + s) - (int64_t)off * 60) * 1000;
    return true;
}

static void load_event(struct rg_diags *d, const char *file, const struct rg_ynode *ev,
                       struct rcase *c)
{
    static const char *const keys[] = {"event_id", "user_id", "amount", "currency", "ts",
                                       "merchant_id", "merchant_category", "channel",
                                       "device_id", "ip", "country", "lat", "lon",
                                       "card_token", "auth_method"};
    const size_t nk = sizeof(keys) / sizeof(keys[0]);
    struct rg_txn *t = &c->txn;
    snprintf(t->event_id, sizeof(t->event_id), "case");
    snprintf(t->user_id, sizeof(t->user_id), "case-user");
    snprintf(t->currency, sizeof(t->currency), "USD");
    if (ev->type != RG_Y_MAP) {
        cerr(d, file, ev, "event: { amount: 1.5, currency: EUR, ... }", "'event' must be a mapping");
        return;
    }
    bool has_amount = false, lat = false, lon = false;
    for (size_t i = 0; i + 1 < ev->n; i += 2) {
        const struct rg_ynode *k = ev->items[i], *v = ev->items[i + 1];
        if (k->type != RG_Y_SCALAR || !in_keys(k->str, keys, nk)) {
            unknown_key(d, file, k, "event", keys, nk);
            continue;
        }
        const char *key = k->str;
        if (strcmp(key, "amount") == 0) {
            if (rg_ynode_double(v, &t->amount) != 0 || t->amount < 0)
                cerr(d, file, v, NULL, "'amount' must be a number >= 0");
            has_amount = true;
        } else if (strcmp(key, "ts") == 0) {
            if (!parse_ts(v, &t->ts_ms))
                cerr(d, file, v, "epoch milliseconds or 2024-05-01T12:30:00Z",
                     "'ts' is not a timestamp");
            else
                c->feat[RG_FEAT_HOUR_OF_DAY] =
                    (double)((((t->ts_ms / 1000) % 86400) + 86400) % 86400 / 3600);
        } else if (strcmp(key, "lat") == 0 || strcmp(key, "lon") == 0) {
            double x;
            if (rg_ynode_double(v, &x) != 0)
                cerr(d, file, v, NULL, "'%s' must be a number", key);
            else if (key[1] == 'a') {
                t->lat = x;
                lat = true;
            } else {
                t->lon = x;
                lon = true;
            }
        } else {
            struct { const char *k; char *dst; size_t cap; uint32_t bit; } f[] = {
                {"event_id", t->event_id, sizeof(t->event_id), 0},
                {"user_id", t->user_id, sizeof(t->user_id), 0},
                {"currency", t->currency, sizeof(t->currency), 0},
                {"merchant_id", t->merchant_id, sizeof(t->merchant_id), RG_HAS_MERCHANT_ID},
                {"merchant_category", t->merchant_category, sizeof(t->merchant_category),
                 RG_HAS_MERCHANT_CAT},
                {"channel", t->channel, sizeof(t->channel), RG_HAS_CHANNEL},
                {"device_id", t->device_id, sizeof(t->device_id), RG_HAS_DEVICE_ID},
                {"ip", t->ip, sizeof(t->ip), RG_HAS_IP},
                {"country", t->country, sizeof(t->country), RG_HAS_COUNTRY},
                {"card_token", t->card_token, sizeof(t->card_token), RG_HAS_CARD_TOKEN},
                {"auth_method", t->auth_method, sizeof(t->auth_method), RG_HAS_AUTH_METHOD},
            };
            for (size_t j = 0; j < sizeof(f) / sizeof(f[0]); j++)
                if (strcmp(key, f[j].k) == 0 && put_field(d, file, v, f[j].dst, f[j].cap, key))
                    t->has |= f[j].bit;
        }
    }
    if (lat && lon)
        t->has |= RG_HAS_GEO;
    if (!has_amount)
        cerr(d, file, ev, "add amount: 1.99", "the event has no amount");
    c->feat[RG_FEAT_AMOUNT] = t->amount;
}

static void load_features(struct rg_diags *d, const char *file, const struct rg_ynode *m,
                          struct rcase *c)
{
    if (m->type != RG_Y_MAP) {
        cerr(d, file, m, "features: { user.txn_count_1h: 3 }", "'features' must be a mapping");
        return;
    }
    for (size_t i = 0; i + 1 < m->n; i += 2) {
        const struct rg_ynode *k = m->items[i], *v = m->items[i + 1];
        int slot = k->type == RG_Y_SCALAR ? rg_feature_lookup(k->str) : -1;
        if (slot < 0) {
            const char *dm = k->type == RG_Y_SCALAR
                                 ? rg_did_you_mean(k->str, rg_feature_names(), RG_FEAT_COUNT)
                                 : NULL;
            char hint[160];
            if (dm)
                snprintf(hint, sizeof(hint), "did you mean %s?", dm);
            cerr(d, file, k, dm ? hint : "see `riskgate features` for the catalog",
                 "unknown feature %s", k->type == RG_Y_SCALAR ? k->str : "?");
            continue;
        }
        double x;
        if (v->type == RG_Y_SCALAR && !v->quoted && strcmp(v->str, "missing") == 0)
            c->feat[slot] = NAN;
        else if (rg_ynode_double(v, &x) == 0)
            c->feat[slot] = x;
        else
            cerr(d, file, v, "a number, or missing", "feature %s must be a number", k->str);
    }
}

static int load_ids(struct rg_diags *d, const char *file, const struct rg_ynode *v,
                    const char **out, const char *key)
{
    if (v->type != RG_Y_SEQ) {
        cerr(d, file, v, "[rule_a, rule_b] or []", "'%s' must be a list of rule ids", key);
        return 0;
    }
    int n = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (v->items[i]->type != RG_Y_SCALAR) {
            cerr(d, file, v->items[i], NULL, "'%s' items are rule ids", key);
        } else if (n == CASE_MAX_IDS) {
            cerr(d, file, v->items[i], NULL, "more than %d ids", CASE_MAX_IDS);
            break;
        } else {
            out[n++] = v->items[i]->str;
        }
    }
    return n;
}

static int decision_of(const char *s)
{
    return strcmp(s, "allow") == 0 ? RG_ALLOW : strcmp(s, "step_up") == 0 ? RG_STEP_UP
         : strcmp(s, "deny") == 0 ? RG_DENY : -1;
}

static int want_decision(struct rg_diags *d, const char *file, const struct rg_ynode *v)
{
    int dec = v->type == RG_Y_SCALAR ? decision_of(v->str) : -1;
    if (dec < 0)
        cerr(d, file, v, "allow, step_up or deny", "unknown decision");
    return dec;
}

static void load_expect(struct rg_diags *d, const char *file, const struct rg_ynode *m,
                        struct rcase *c)
{
    static const char *const keys[] = {"decision", "rules", "method", "shadow_rules",
                                       "shadow_decision"};
    if (m->type != RG_Y_MAP) {
        cerr(d, file, m, "expect: { decision: deny }", "'expect' must be a mapping");
        return;
    }
    for (size_t i = 0; i + 1 < m->n; i += 2)
        if (m->items[i]->type != RG_Y_SCALAR || !in_keys(m->items[i]->str, keys, 5))
            unknown_key(d, file, m->items[i], "expect", keys, 5);
    const struct rg_ynode *v;
    if (!(v = rg_ymap_get(m, "decision")))
        cerr(d, file, m, "expect: { decision: allow | step_up | deny }", "expect has no decision");
    else
        c->want_decision = want_decision(d, file, v);
    if ((v = rg_ymap_get(m, "rules"))) {
        c->has_rules = true;
        c->n_rules = load_ids(d, file, v, c->rules, "rules");
    }
    if ((v = rg_ymap_get(m, "shadow_rules"))) {
        c->has_shadow = true;
        c->n_shadow = load_ids(d, file, v, c->shadow, "shadow_rules");
    }
    if ((v = rg_ymap_get(m, "shadow_decision"))) {
        c->has_shadow_decision = true;
        c->shadow_decision = want_decision(d, file, v);
    }
    if ((v = rg_ymap_get(m, "method"))) {
        c->has_method = true;
        c->method = v->type == RG_Y_SCALAR ? (strcmp(v->str, "none") == 0 ? RG_METHOD_NONE
                                                                          : rg_method_parse(v->str))
                                           : RG_METHOD_NONE;
        if (c->method == RG_METHOD_NONE && !(v->type == RG_Y_SCALAR && !strcmp(v->str, "none")))
            cerr(d, file, v, "otp, biometric, password or none", "unknown step-up method");
    }
}

static void load_case(struct rg_diags *d, const char *file, const struct rg_ynode *m,
                      struct rcase *c)
{
    static const char *const keys[] = {"name", "event", "features", "score", "anomaly",
                                       "preferred_method", "failed_step_ups_24h", "expect"};
    const size_t nk = sizeof(keys) / sizeof(keys[0]);
    memset(c, 0, sizeof(*c));
    c->file = file;
    c->line = m->line;
    c->col = m->col;
    c->score = NAN;
    c->anomaly = NAN;
    c->want_decision = -1;
    for (int i = 0; i < RG_FEAT_COUNT; i++)
        c->feat[i] = NAN;
    if (m->type != RG_Y_MAP) {
        cerr(d, file, m, NULL, "a case must be a mapping");
        return;
    }
    for (size_t i = 0; i + 1 < m->n; i += 2)
        if (m->items[i]->type != RG_Y_SCALAR || !in_keys(m->items[i]->str, keys, nk))
            unknown_key(d, file, m->items[i], "case", keys, nk);
    const struct rg_ynode *v;
    if ((v = rg_ymap_get(m, "name")) && v->type == RG_Y_SCALAR)
        snprintf(c->name, sizeof(c->name), "%s", v->str);
    else
        snprintf(c->name, sizeof(c->name), "%.120s:%d", file, m->line);
    if ((v = rg_ymap_get(m, "event")))
        load_event(d, file, v, c);
    else
        cerr(d, file, m, "event: { amount: 1.5, ... }", "case '%s' has no event", c->name);
    if ((v = rg_ymap_get(m, "features")))
        load_features(d, file, v, c);
    if ((v = rg_ymap_get(m, "score")) && (rg_ynode_double(v, &c->score) != 0 || c->score < 0 ||
                                          c->score > 1))
        cerr(d, file, v, NULL, "'score' must be a number from 0 to 1");
    if ((v = rg_ymap_get(m, "anomaly")) &&
        (rg_ynode_double(v, &c->anomaly) != 0 || c->anomaly < 0 || c->anomaly > 1))
        cerr(d, file, v, NULL, "'anomaly' must be a number from 0 to 1");
    if ((v = rg_ymap_get(m, "preferred_method"))) {
        c->preferred = v->type == RG_Y_SCALAR ? rg_method_parse(v->str) : RG_METHOD_NONE;
        if (c->preferred == RG_METHOD_NONE)
            cerr(d, file, v, "otp, biometric or password", "unknown step-up method");
    }
    long long fl;
    if ((v = rg_ymap_get(m, "failed_step_ups_24h"))) {
        if (rg_ynode_long(v, &fl) != 0 || fl < 0 || fl > 1000000)
            cerr(d, file, v, NULL, "'failed_step_ups_24h' must be a whole number >= 0");
        else
            c->failed = (int)fl;
    }
    if ((v = rg_ymap_get(m, "expect")))
        load_expect(d, file, v, c);
    else
        cerr(d, file, m, "expect: { decision: allow }", "case '%s' has no expect", c->name);
}

/* "[a, b]" into buf. */
static void fmt_ids(char *buf, size_t cap, const char *const *ids, int n)
{
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", ids[i]);
    if (o < cap)
        snprintf(buf + o, cap - o, "]");
}

static bool same_set(const char *const *a, int na, const char *const *b, int nb)
{
    if (na != nb)
        return false;
    for (int i = 0; i < na; i++) {
        bool found = false;
        for (int j = 0; j < nb && !found; j++)
            found = strcmp(a[i], b[j]) == 0;
        if (!found)
            return false;
    }
    return true;
}

/* Run one case; print PASS/FAIL. Returns true when it passed. */
static bool run_case(const struct rg_ruleset *rs, const struct rcase *c, FILE *out)
{
    struct rg_verdict v;
    rg_verdict_reset(&v);
    struct rg_eval_ctx ctx = {.txn = &c->txn, .feat = c->feat, .score = c->score,
                              .anomaly = c->anomaly, .preferred = c->preferred,
                              .failed_step_ups_24h = c->failed};
    rg_ruleset_decide(rs, &ctx, &v);
    char why[1200];
    size_t o = 0;
    why[0] = '\0';
#define WHY(...)                                                                     \
    do {                                                                             \
        if (o < sizeof(why))                                                         \
            o += (size_t)snprintf(why + o, sizeof(why) - o, "%s", o ? "; " : "");    \
        if (o < sizeof(why))                                                         \
            o += (size_t)snprintf(why + o, sizeof(why) - o, __VA_ARGS__);            \
    } while (0)
    if ((int)v.decision != c->want_decision)
        WHY("expected decision %s, got %s", rg_decision_str(c->want_decision),
            rg_decision_str(v.decision));
    if (c->has_rules && !same_set(c->rules, c->n_rules, v.rules, v.n_rules)) {
        char a[400], b[400];
        fmt_ids(a, sizeof(a), c->rules, c->n_rules);
        fmt_ids(b, sizeof(b), v.rules, v.n_rules);
        WHY("expected rules %s got %s", a, b);
    }
    if (c->has_shadow) {
        const char *got[RG_VERDICT_MAX_SHADOW];
        for (int i = 0; i < v.n_shadow; i++)
            got[i] = v.shadow[i].rule_id;
        if (!same_set(c->shadow, c->n_shadow, got, v.n_shadow)) {
            char a[400], b[400];
            fmt_ids(a, sizeof(a), c->shadow, c->n_shadow);
            fmt_ids(b, sizeof(b), got, v.n_shadow);
            WHY("expected shadow_rules %s got %s", a, b);
        }
    }
    if (c->has_shadow_decision && (int)v.shadow_decision != c->shadow_decision)
        WHY("expected shadow_decision %s, got %s", rg_decision_str(c->shadow_decision),
            rg_decision_str(v.shadow_decision));
    if (c->has_method && v.method != c->method)
        WHY("expected method %s, got %s", rg_method_str(c->method), rg_method_str(v.method));
#undef WHY
    if (o == 0) {
        fprintf(out, "PASS %s\n", c->name);
        return true;
    }
    fprintf(out, "FAIL %s: %s\n", c->name, why);
    fprintf(out, "     at %s:%d:%d; reasons:", c->file, c->line, c->col);
    for (int i = 0; i < v.n_reasons; i++)
        fprintf(out, " %s (%s)%s", v.reasons[i].code, v.reasons[i].detail,
                i + 1 < v.n_reasons ? "," : "");
    fprintf(out, "%s\n", v.n_reasons ? "" : " none");
    return false;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted *.yaml / *.yml names in dir; -1 when dir cannot be opened. */
static int list_yaml(const char *dir, char ***names_out)
{
    DIR *dh = opendir(dir);
    *names_out = NULL;
    if (!dh)
        return -1;
    char **names = NULL;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dh)) && n < 4096) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' ||
            !((l > 5 && !strcmp(de->d_name + l - 5, ".yaml")) ||
              (l > 4 && !strcmp(de->d_name + l - 4, ".yml"))))
            continue;
        char **nv = realloc(names, (size_t)(n + 1) * sizeof(char *));
        if (!nv)
            break;
        names = nv;
        if (!(names[n] = strdup(de->d_name)))
            break;
        n++;
    }
    closedir(dh);
    if (n)
        qsort(names, (size_t)n, sizeof(char *), cmp_names);
    *names_out = names;
    return n;
}

static int cmd_test(const char *dir, const char *cases_dir, FILE *out, FILE *err)
{
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_ruleset *rs = NULL;
    int rc = rg_ruleset_load_dir(dir, &d, &rs);
    if (rc != 0) {
        rg_diags_print(&d, err);
        fprintf(err, "rules: %zu problem(s) loading %s\n", d.n, dir);
        rg_diags_fini(&d);
        return 1;
    }
    char cdir[4096];
    if (cases_dir)
        snprintf(cdir, sizeof(cdir), "%s", cases_dir);
    else {
        size_t dl = strlen(dir);
        while (dl > 1 && dir[dl - 1] == '/')
            dl--;
        snprintf(cdir, sizeof(cdir), "%.*s/tests", (int)dl, dir);
    }
    char **names;
    int nn = list_yaml(cdir, &names);
    if (nn <= 0) {
        fprintf(err, "%s:0:0: error: no case files in %s (*.yaml)\n", cdir, cdir);
        rg_ruleset_free(rs);
        rg_diags_fini(&d);
        free(names);
        return 1;
    }
    int passed = 0, failed = 0;
    bool load_errors = false;
    for (int i = 0; i < nn; i++) {
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", cdir, names[i]);
        struct rg_ydoc *doc = NULL;
        size_t e0 = d.n;
        if (rg_ydoc_parse_file(path, &d, &doc) == 0) {
            const struct rg_ynode *root = doc->root;
            const struct rg_ynode *cs = root ? rg_ymap_get(root, "cases") : NULL;
            if (!root || root->type != RG_Y_MAP || !cs || cs->type != RG_Y_SEQ) {
                cerr(&d, path, root, "cases: [ { name: ..., event: ..., expect: ... } ]",
                     "a case file is a mapping with a cases: list");
            } else {
                static const char *const top[] = {"cases"};
                for (size_t k = 0; k + 1 < root->n; k += 2)
                    if (root->items[k]->type != RG_Y_SCALAR ||
                        strcmp(root->items[k]->str, "cases") != 0)
                        unknown_key(&d, path, root->items[k], "case file", top, 1);
                struct rcase *c = malloc(sizeof(*c));
                for (size_t k = 0; c && k < cs->n; k++) {
                    size_t ce = d.n;
                    load_case(&d, path, cs->items[k], c);
                    if (d.n > ce)
                        continue; /* reported below; not run */
                    if (run_case(rs, c, out))
                        passed++;
                    else
                        failed++;
                }
                free(c);
            }
        }
        if (d.n > e0)
            load_errors = true;
        rg_ydoc_free(doc);
        free(names[i]);
    }
    free(names);
    if (load_errors) {
        rg_diags_print(&d, err);
        fprintf(err, "rules: %zu problem(s) in case files\n", d.n);
    }
    fprintf(out, "%d passed, %d failed\n", passed, failed);
    rg_ruleset_free(rs);
    rg_diags_fini(&d);
    return failed || load_errors || passed == 0 ? 1 : 0;
}

static int cmd_lint(const char *dir, FILE *out, FILE *err)
{
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_ruleset *rs = NULL;
    int rc = rg_ruleset_load_dir(dir, &d, &rs);
    if (rc != 0) {
        rg_diags_print(&d, err);
        fprintf(err, "rules: %zu problem(s) in %s\n", d.n, dir);
        rg_diags_fini(&d);
        return 1;
    }
    size_t shadow = 0;
    for (size_t i = 0; i < rs->n_rules; i++)
        shadow += rs->rules[i].shadow;
    fprintf(out, "ok: %zu rules (%zu enforced, %zu shadow), %zu lists, version %s\n",
            rs->n_rules, rs->n_rules - shadow, shadow, rs->n_lists, rg_ruleset_version(rs));
    rg_ruleset_free(rs);
    rg_diags_fini(&d);
    return 0;
}

/* ---- bench ------------------------------------------------------------ */

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static double rndf(uint64_t *s)
{
    return (double)(rnd(s) >> 11) / (double)(1ull << 53);
}

/* Generate n rules mixing the language's constructs. Caller frees. */
static char *synth_rules(int n, uint64_t *seed)
{
    size_t cap = (size_t)n * 400 + 1024, o = 0;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    o += (size_t)snprintf(b + o, cap - o,
                          "lists:\n  hr: [RU, NG, BR, VN, ID, PH]\n"
                          "  gc: [gift_card, game]\nrules:\n");
    static const char *const dec[] = {"allow", "step_up", "deny"};
    for (int i = 0; i < n && o < cap - 400; i++) {
        int f1 = 3 + (int)(rnd(seed) % (RG_FEAT_COUNT - 3));
        int f2 = 3 + (int)(rnd(seed) % (RG_FEAT_COUNT - 3));
        /* Thresholds in the upper part of the value range (values are
         * skewed low), so that a rule fires for a few percent of events
         * as real rules do. */
        double t1 = 12 + rndf(seed) * 12, t2 = 1 + rndf(seed) * 5;
        const char *n1 = rg_feature_name(f1), *n2 = rg_feature_name(f2);
        char when[300];
        switch (i % 6) {
        case 0: snprintf(when, sizeof(when), "%s > %.2f and %s < %.2f", n1, t1, n2, t2); break;
        case 1:
            snprintf(when, sizeof(when), "channel == 'carrier_billing' and %s >= %.2f", n1, t1);
            break;
        case 2:
            snprintf(when, sizeof(when), "country in hr and amount > %.2f and %s > %.2f", t1 / 3, n1,
                     t1);
            break;
        case 3:
            snprintf(when, sizeof(when), "%s between %.2f and %.2f and %s < %.2f", n1, t1,
                     t1 + t2, n2, t2);
            break;
        case 4:
            snprintf(when, sizeof(when), "merchant_category in gc and %s / (%s + 1) > %.2f", n1,
                     n2, t1 / 2);
            break;
        default:
            snprintf(when, sizeof(when),
                     "not (%s is missing) and %s > %.2f and (amount * 2 > %.2f or "
                     "starts_with(merchant_id, 'm-%d'))",
                     n1, n1, t1, t1, i % 10);
            break;
        }
        o += (size_t)snprintf(b + o, cap - o,
                              "  - id: r%d\n    when: \"%s\"\n    then: %s\n%s"
                              "    reason: '{%s} vs %.2f'\n",
                              i, when, dec[1 + (i % 5 == 0 ? 1 : 0)],
                              i % 10 == 9 ? "    mode: shadow\n" : "", n1, t1);
    }
    return b;
}

static int cmd_bench(const char *dir, int synthetic, long events, uint64_t seed, FILE *out,
                     FILE *err)
{
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_ruleset *rs = NULL;
    int rc;
    uint64_t s = seed ? seed : 1;
    if (synthetic > 0) {
        char *text = synth_rules(synthetic, &s);
        if (!text)
            return 1;
        rc = rg_ruleset_load_buf(text, strlen(text), "<synthetic>", &d, &rs);
        free(text);
    } else {
        rc = rg_ruleset_load_dir(dir, &d, &rs);
    }
    if (rc != 0) {
        rg_diags_print(&d, err);
        rg_diags_fini(&d);
        return 1;
    }
    rg_diags_fini(&d);
    enum { NV = 1024 };
    struct rg_txn *txns = calloc(NV, sizeof(*txns));
    double *feat = malloc(sizeof(double) * NV * RG_FEAT_COUNT);
    double *score = malloc(sizeof(double) * NV);
    uint32_t *hits = calloc(rs->n_rules ? rs->n_rules : 1, sizeof(uint32_t));
    struct rg_verdict *v = malloc(sizeof(*v));
    if (!txns || !feat || !score || !hits || !v) {
        free(txns), free(feat), free(score), free(hits), free(v);
        rg_ruleset_free(rs);
        return 1;
    }
    static const char *const ch[] = {"carrier_billing", "card", "wallet"};
    static const char *const cat[] = {"gift_card", "game", "app_store", "transport", "content"};
    static const char *const cc[] = {"DE", "FR", "NG", "RU", "US", "BR"};
    for (int i = 0; i < NV; i++) {
        struct rg_txn *t = &txns[i];
        snprintf(t->event_id, sizeof(t->event_id), "e%d", i);
        snprintf(t->user_id, sizeof(t->user_id), "u%d", (int)(rnd(&s) % 100));
        snprintf(t->currency, sizeof(t->currency), "EUR");
        t->amount = rndf(&s) * 10;
        snprintf(t->channel, sizeof(t->channel), "%s", ch[rnd(&s) % 3]);
        snprintf(t->merchant_category, sizeof(t->merchant_category), "%s", cat[rnd(&s) % 5]);
        snprintf(t->country, sizeof(t->country), "%s", cc[rnd(&s) % 6]);
        snprintf(t->merchant_id, sizeof(t->merchant_id), "m-%d", (int)(rnd(&s) % 50));
        t->has = RG_HAS_CHANNEL | RG_HAS_MERCHANT_CAT | RG_HAS_COUNTRY | RG_HAS_MERCHANT_ID;
        double *x = feat + (size_t)i * RG_FEAT_COUNT;
        for (int f = 0; f < RG_FEAT_COUNT; f++)
            x[f] = rnd(&s) % 10 == 0 ? NAN : pow(rndf(&s), 3) * 25; /* skewed low */
        x[RG_FEAT_AMOUNT] = t->amount;
        score[i] = rndf(&s);
    }
    long counts[3] = {0, 0, 0};
    uint64_t matched = 0;
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    int64_t t0 = rg_clock_mono_ns();
    for (long e = 0; e < events; e++) {
        int i = (int)(e & (NV - 1));
        rg_verdict_reset(v);
        struct rg_eval_ctx ctx = {.txn = &txns[i], .feat = feat + (size_t)i * RG_FEAT_COUNT,
                                  .score = score[i], .anomaly = NAN,
                                  .failed_step_ups_24h = (int)(e % 3), .rule_hits = hits};
        rg_ruleset_decide(rs, &ctx, v);
        counts[v->decision]++;
        matched += (uint64_t)(v->n_rules + v->n_shadow);
    }
    int64_t t1 = rg_clock_mono_ns();
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    double cpu_ns = (double)(c1.tv_sec - c0.tv_sec) * 1e9 + (double)(c1.tv_nsec - c0.tv_nsec);
    uint64_t hit_sum = 0;
    for (size_t i = 0; i < rs->n_rules; i++)
        hit_sum += hits[i];
    double ns = events > 0 ? (double)(t1 - t0) / (double)events : 0;
    double cns = events > 0 ? cpu_ns / (double)events : 0;
    fprintf(out,
            "rules bench: %zu rules, %ld events, %.1f ns/event wall, %.1f ns/event CPU "
            "(%.2f M events/s on one core by CPU time)\n",
            rs->n_rules, events, ns, cns, cns > 0 ? 1000.0 / cns : 0);
    fprintf(out, "decisions: allow %ld, step_up %ld, deny %ld; rule matches %llu (%.2f/event)\n",
            counts[0], counts[1], counts[2], (unsigned long long)hit_sum,
            events ? (double)hit_sum / (double)events : 0);
    if (synthetic > 0)
        fprintf(out, "reproduce: riskgate rules bench --synthetic %d --events %ld --seed %llu\n",
                synthetic, events, (unsigned long long)(seed ? seed : 1));
    else
        fprintf(out, "reproduce: riskgate rules bench %s --events %ld --seed %llu\n", dir, events,
                (unsigned long long)(seed ? seed : 1));
    /* Sanity: the per-rule counters and the verdict lists agree (they can
     * differ only when a verdict's lists were full), and something fired. */
    int bad = (events > 0 && (hit_sum == 0 || matched > hit_sum)) ? 1 : 0;
    if (bad)
        fprintf(err, "rules bench: sanity check failed (matches %llu, counted %llu)\n",
                (unsigned long long)matched, (unsigned long long)hit_sum);
    free(txns), free(feat), free(score), free(hits), free(v);
    rg_ruleset_free(rs);
    return bad;
}

static void usage(FILE *err)
{
    fprintf(err,
            "usage: riskgate rules test DIR [--cases CASEDIR]   (cases in DIR/tests)\n"
            "       riskgate rules test CASEDIR --rules RULEDIR\n"
            "       riskgate rules lint DIR\n"
            "       riskgate rules bench [DIR] [--synthetic N] [--events N] [--seed S]\n");
}

int rg_rules_cli_run(int argc, char **argv, FILE *out, FILE *err)
{
    if (argc < 2) {
        usage(err);
        return 2;
    }
    const char *cmd = argv[1];
    const char *dir = NULL, *cases = NULL, *rules_dir = NULL;
    int synthetic = 0;
    long events = 1000000;
    unsigned long long seed = 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--cases") && val) {
            cases = val;
            i++;
        } else if (!strcmp(a, "--rules") && val) {
            rules_dir = val;
            i++;
        } else if (!strcmp(a, "--synthetic") && val) {
            synthetic = atoi(val);
            i++;
            if (synthetic <= 0 || synthetic > RG_RULES_MAX) {
                fprintf(err, "rules: --synthetic takes 1..%d\n", RG_RULES_MAX);
                return 2;
            }
        } else if (!strcmp(a, "--events") && val) {
            events = atol(val);
            i++;
            if (events <= 0) {
                fprintf(err, "rules: --events takes a positive number\n");
                return 2;
            }
        } else if (!strcmp(a, "--seed") && val) {
            seed = strtoull(val, NULL, 10);
            i++;
        } else if (a[0] != '-' && !dir) {
            dir = a;
        } else {
            fprintf(err, "rules: unexpected argument '%s'\n", a);
            usage(err);
            return 2;
        }
    }
    /* `rules test CASEDIR --rules RULEDIR` is `rules test RULEDIR --cases CASEDIR`. */
    if (!strcmp(cmd, "test") && dir && rules_dir && !cases)
        return cmd_test(rules_dir, dir, out, err);
    if (!strcmp(cmd, "test") && dir && !rules_dir)
        return cmd_test(dir, cases, out, err);
    if (!strcmp(cmd, "lint") && dir)
        return cmd_lint(dir, out, err);
    if (!strcmp(cmd, "bench") && (dir || synthetic > 0))
        return cmd_bench(dir, synthetic, events, seed, out, err);
    usage(err);
    return 2;
}

int rg_rules_cli(int argc, char **argv)
{
    return rg_rules_cli_run(argc, argv, stdout, stderr);
}
