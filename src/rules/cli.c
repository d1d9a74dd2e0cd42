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
 *
 * History: a case may instead describe the profile state the way it
 * arises, as a `history:` of earlier events and feedback records. They are
 * replayed through the real profile code (an in-memory struct
 * rg_profile_store private to the case, the fake clock set to each
 * record's ts, as `riskgate replay` does), and the case's event then gets
 * its features and user context from rg_profile_process_batch() exactly as
 * `riskgate run` computes them (point in time: before the event's own
 * update). Explicit `features:`, `preferred_method:` and
 * `failed_step_ups_24h:` still win over what the store says, so a case can
 * pin one value while the rest comes from the sequence. History records
 * are sorted by ts (file order for equal ts), and all of them come before
 * the case's event; a record later than the event is a case error, because
 * the event could not have seen it. A history event may carry its own
 * `expect:`, which is checked against its decision at that point in time.
 *
 * Models: `model:` / `anomaly_model:` name model files (relative to the
 * case file) that score the case's final feature vector, instead of an
 * explicit `score:` / `anomaly:`.
 */
#include <errno.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "riskgate/clock.h"
#include "riskgate/err.h"
#include "riskgate/feature.h"
#include "riskgate/model.h"
#include "riskgate/profile.h"
#include "rules_int.h"

#define CASE_MAX_IDS 32
#define CASE_MAX_HISTORY 256

/* What a case (or one history event) expects of its verdict. */
struct rexpect {
    int decision;                   /* enum rg_decision; -1 when not given */
    bool has_rules, has_shadow, has_method, has_shadow_decision;
    const char *rules[CASE_MAX_IDS];
    int n_rules;
    const char *shadow[CASE_MAX_IDS];
    int n_shadow;
    enum rg_step_up_method method;
    int shadow_decision;
};

enum hkind { HIST_EVENT, HIST_FEEDBACK };

/* One history record. Strings are borrowed from the case file's tree. */
struct hrec {
    enum hkind kind;
    int idx;                        /* position in the list (ties keep file order) */
    int line, col;
    int64_t ts;
    struct rg_txn txn;              /* HIST_EVENT */
    const struct rg_ynode *fb;      /* HIST_FEEDBACK: the record's mapping */
    const char *fb_user;            /* HIST_FEEDBACK: user_id when the record has none */
    bool has_expect;
    struct rexpect exp;
};

struct rcase {
    char name[160];
    const char *file;
    int line, col;
    struct rg_txn txn;
    bool has_ts;
    double feat[RG_FEAT_COUNT];
    bool feat_given[RG_FEAT_COUNT]; /* explicit in `features:` (wins over history) */
    double score, anomaly;
    struct rg_model *model, *anomaly_model; /* owned; NULL when not given */
    enum rg_step_up_method preferred;
    bool has_preferred, has_failed;
    int failed;
    struct rexpect exp;
    bool has_history;
    int n_hist;
    struct hrec hist[CASE_MAX_HISTORY]; /* sorted by (ts, idx) once loaded */
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

static const char *const event_keys[] = {"event_id", "user_id", "amount", "currency", "ts",
                                         "merchant_id", "merchant_category", "channel",
                                         "device_id", "ip", "country", "lat", "lon",
                                         "card_token", "auth_method"};
#define N_EVENT_KEYS (sizeof(event_keys) / sizeof(event_keys[0]))

/* An event mapping into t. def_id / def_user fill event_id / user_id when
 * the mapping has none; where names the mapping in messages. *has_ts tells
 * whether a valid ts was given. */
static void load_event(struct rg_diags *d, const char *file, const struct rg_ynode *ev,
                       struct rg_txn *t, const char *def_id, const char *def_user,
                       const char *where, bool *has_ts)
{
    *has_ts = false;
    snprintf(t->event_id, sizeof(t->event_id), "%s", def_id);
    snprintf(t->user_id, sizeof(t->user_id), "%s", def_user);
    snprintf(t->currency, sizeof(t->currency), "USD");
    t->offset = -1; /* no Kafka offset: the profile store always applies it */
    t->kafka_ts_ms = -1;
    if (ev->type != RG_Y_MAP) {
        cerr(d, file, ev, "event: { amount: 1.5, currency: EUR, ... }", "'%s' must be a mapping",
             where);
        return;
    }
    bool has_amount = false, lat = false, lon = false;
    for (size_t i = 0; i + 1 < ev->n; i += 2) {
        const struct rg_ynode *k = ev->items[i], *v = ev->items[i + 1];
        if (k->type != RG_Y_SCALAR || !in_keys(k->str, event_keys, N_EVENT_KEYS)) {
            unknown_key(d, file, k, where, event_keys, N_EVENT_KEYS);
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
                *has_ts = true;
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
        cerr(d, file, ev, "add amount: 1.99", "the %s has no amount", where);
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
        if (v->type == RG_Y_SCALAR && !v->quoted && strcmp(v->str, "missing") == 0) {
            c->feat[slot] = NAN;
            c->feat_given[slot] = true;
        } else if (rg_ynode_double(v, &x) == 0) {
            c->feat[slot] = x;
            c->feat_given[slot] = true;
        } else {
            cerr(d, file, v, "a number, or missing", "feature %s must be a number", k->str);
        }
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
                        struct rexpect *e)
{
    static const char *const keys[] = {"decision", "rules", "method", "shadow_rules",
                                       "shadow_decision"};
    memset(e, 0, sizeof(*e));
    e->decision = -1;
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
        e->decision = want_decision(d, file, v);
    if ((v = rg_ymap_get(m, "rules"))) {
        e->has_rules = true;
        e->n_rules = load_ids(d, file, v, e->rules, "rules");
    }
    if ((v = rg_ymap_get(m, "shadow_rules"))) {
        e->has_shadow = true;
        e->n_shadow = load_ids(d, file, v, e->shadow, "shadow_rules");
    }
    if ((v = rg_ymap_get(m, "shadow_decision"))) {
        e->has_shadow_decision = true;
        e->shadow_decision = want_decision(d, file, v);
    }
    if ((v = rg_ymap_get(m, "method"))) {
        e->has_method = true;
        e->method = v->type == RG_Y_SCALAR ? (strcmp(v->str, "none") == 0 ? RG_METHOD_NONE
                                                                          : rg_method_parse(v->str))
                                           : RG_METHOD_NONE;
        if (e->method == RG_METHOD_NONE && !(v->type == RG_Y_SCALAR && !strcmp(v->str, "none")))
            cerr(d, file, v, "otp, biometric, password or none", "unknown step-up method");
    }
}

/* ---- history ---------------------------------------------------------- */

/* Feedback fields (the risk-feedback contract, ../shared/BRIEF.md) and which
 * feedback type may carry which: bit 0 label, bit 1 auth_result, bit 2
 * settings. Required ones are checked per type below. */
static const char *const fb_keys[] = {"type", "ts", "user_id", "event_id", "merchant_id",
                                      "device_id", "label", "method", "result",
                                      "step_up_method"};
static const unsigned fb_key_types[] = {7, 7, 7, 3, 1, 1, 1, 2, 2, 4};
#define N_FB_KEYS (sizeof(fb_keys) / sizeof(fb_keys[0]))

static void load_feedback(struct rg_diags *d, const char *file, const struct rg_ynode *m,
                          struct hrec *h, bool *has_ts)
{
    static const char *const types[] = {"label", "auth_result", "settings"};
    *has_ts = false;
    if (m->type != RG_Y_MAP) {
        cerr(d, file, m, "feedback: {type: label, event_id: e1, label: fraud, ts: ...}",
             "'feedback' must be a mapping");
        return;
    }
    h->fb = m;
    const struct rg_ynode *tv = rg_ymap_get(m, "type");
    int type = -1;
    if (!tv) {
        cerr(d, file, m, "type: label, auth_result or settings", "the feedback has no type");
    } else {
        for (int i = 0; i < 3 && tv->type == RG_Y_SCALAR; i++)
            if (strcmp(tv->str, types[i]) == 0)
                type = i;
        if (type < 0) {
            const char *dm = tv->type == RG_Y_SCALAR ? rg_did_you_mean(tv->str, types, 3) : NULL;
            char hint[160];
            snprintf(hint, sizeof(hint), "%s%s%s", dm ? "did you mean " : "",
                     dm ? dm : "label, auth_result or settings", dm ? "?" : "");
            cerr(d, file, tv, hint, "unknown feedback type '%s'",
                 tv->type == RG_Y_SCALAR ? tv->str : "?");
        }
    }
    for (size_t i = 0; i + 1 < m->n; i += 2) {
        const struct rg_ynode *k = m->items[i], *v = m->items[i + 1];
        size_t j = 0;
        while (j < N_FB_KEYS && !(k->type == RG_Y_SCALAR && strcmp(k->str, fb_keys[j]) == 0))
            j++;
        if (j == N_FB_KEYS) {
            unknown_key(d, file, k, "feedback", fb_keys, N_FB_KEYS);
            continue;
        }
        if (type >= 0 && !(fb_key_types[j] & (1u << type)))
            cerr(d, file, k, NULL, "'%s' is not a field of %s feedback", k->str, types[type]);
        if (v->type != RG_Y_SCALAR)
            cerr(d, file, v, NULL, "'%s' must be a single value", k->str);
        else if (j == 1 && !parse_ts(v, &h->ts))
            cerr(d, file, v, "epoch milliseconds or 2024-05-01T12:30:00Z",
                 "'ts' is not a timestamp");
        else if (j == 1)
            *has_ts = true;
        else if (v->len == 0 || v->len > RG_ID_MAX)
            cerr(d, file, v, NULL, "'%s' must be 1 to %d bytes", k->str, RG_ID_MAX);
    }
    /* Required fields and allowed values, per type. */
    struct { int type; const char *key; const char *const *vals; size_t n; const char *hint; } req[] = {
        {0, "event_id", NULL, 0, "the event_id of the labelled event"},
        {0, "label", (const char *const[]){"fraud", "legit"}, 2, "fraud or legit"},
        {1, "event_id", NULL, 0, "the event_id of the stepped-up event"},
        {1, "result", (const char *const[]){"passed", "failed", "abandoned"}, 3,
         "passed, failed or abandoned"},
        {1, "method", (const char *const[]){"otp", "biometric", "password"}, 3, NULL},
        {2, "step_up_method", (const char *const[]){"otp", "biometric", "password"}, 3,
         "otp, biometric or password"},
    };
    for (size_t i = 0; type >= 0 && i < sizeof(req) / sizeof(req[0]); i++) {
        if (req[i].type != type)
            continue;
        const struct rg_ynode *v = rg_ymap_get(m, req[i].key);
        if (!v) {
            if (req[i].hint) /* optional when it has no hint */
                cerr(d, file, m, req[i].hint, "%s feedback has no %s", types[type], req[i].key);
            continue;
        }
        if (v->type != RG_Y_SCALAR || !req[i].vals)
            continue;
        if (!in_keys(v->str, req[i].vals, req[i].n))
            cerr(d, file, v, req[i].hint ? req[i].hint : "otp, biometric or password",
                 "'%s' cannot be '%s'", req[i].key, v->str);
    }
}

static void load_history(struct rg_diags *d, const char *file, const struct rg_ynode *seq,
                         struct rcase *c)
{
    static const char *const wrap_keys[] = {"event", "expect"};
    static const char *const forms[] = {"event", "feedback"};
    if (seq->type != RG_Y_SEQ) {
        cerr(d, file, seq, "history: [ {amount: 1, ts: ...}, {feedback: {type: label, ...}} ]",
             "'history' must be a list of events and feedback records");
        return;
    }
    c->has_history = true;
    for (size_t i = 0; i < seq->n; i++) {
        const struct rg_ynode *it = seq->items[i];
        if (c->n_hist == CASE_MAX_HISTORY) {
            cerr(d, file, it, "split the case", "more than %d history records", CASE_MAX_HISTORY);
            break;
        }
        struct hrec *h = &c->hist[c->n_hist];
        memset(h, 0, sizeof(*h));
        h->idx = (int)i;
        h->line = it->line;
        h->col = it->col;
        if (it->type != RG_Y_MAP) {
            cerr(d, file, it, "- {amount: 1.5, ts: ...} or - {feedback: {type: label, ...}}",
                 "a history record must be a mapping");
            continue;
        }
        const struct rg_ynode *fb = rg_ymap_get(it, "feedback"), *ev = rg_ymap_get(it, "event");
        bool has_ts = false;
        char def_id[24];
        snprintf(def_id, sizeof(def_id), "h%zu", i + 1);
        if (fb) {
            h->kind = HIST_FEEDBACK;
            h->fb_user = c->txn.user_id;
            for (size_t k = 0; k + 1 < it->n; k += 2)
                if (it->items[k]->type != RG_Y_SCALAR || strcmp(it->items[k]->str, "feedback"))
                    unknown_key(d, file, it->items[k], "a feedback record", forms + 1, 1);
            load_feedback(d, file, fb, h, &has_ts);
        } else if (ev) {
            h->kind = HIST_EVENT;
            for (size_t k = 0; k + 1 < it->n; k += 2)
                if (it->items[k]->type != RG_Y_SCALAR || !in_keys(it->items[k]->str, wrap_keys, 2))
                    unknown_key(d, file, it->items[k], "a history record", wrap_keys, 2);
            load_event(d, file, ev, &h->txn, def_id, c->txn.user_id, "history event", &has_ts);
            const struct rg_ynode *ex = rg_ymap_get(it, "expect");
            if (ex) {
                h->has_expect = true;
                load_expect(d, file, ex, &h->exp);
            }
        } else if (it->n == 2 && it->items[0]->type == RG_Y_SCALAR &&
                   it->items[1]->type == RG_Y_MAP &&
                   !in_keys(it->items[0]->str, event_keys, N_EVENT_KEYS)) {
            /* `- {feedbak: {...}}`: a misspelt record form, not an event. */
            unknown_key(d, file, it->items[0], "a history record", forms, 2);
            continue;
        } else {
            h->kind = HIST_EVENT;
            load_event(d, file, it, &h->txn, def_id, c->txn.user_id, "history event", &has_ts);
        }
        if (has_ts)
            h->ts = h->kind == HIST_EVENT ? h->txn.ts_ms : h->ts;
        else
            cerr(d, file, it, "ts: 2024-05-01T12:00:00Z", "a history record needs a ts");
        c->n_hist++;
    }
}

static int cmp_hist(const void *a, const void *b)
{
    const struct hrec *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->idx - y->idx;
}

/* Load the model file named by v (relative to the case file) into *out. */
static void load_case_model(struct rg_diags *d, const char *file, const struct rg_ynode *v,
                            enum rg_model_kind want, struct rg_model **out)
{
    if (v->type != RG_Y_SCALAR || v->len == 0) {
        cerr(d, file, v, "model: ../models/candidate.json", "a model is a file name");
        return;
    }
    char path[8192];
    const char *slash = strrchr(file, '/');
    if (v->str[0] == '/' || !slash)
        snprintf(path, sizeof(path), "%s", v->str);
    else
        snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - file), file, v->str);
    size_t e0 = d->n;
    int rc = rg_model_load_file(path, d, out);
    if (rc != 0) {
        if (d->n == e0)
            cerr(d, file, v, "paths are relative to the case file", "cannot load model %s: %s",
                 path, rg_err_str(rc));
        else
            cerr(d, file, v, NULL, "model %s has problems (above)", path);
        *out = NULL;
        return;
    }
    if (rg_model_kind(*out) != want) {
        cerr(d, file, v, want == RG_MODEL_GBDT_PROB ? "use anomaly_model: for it" : "use model:",
             "%s is %s model", path,
             want == RG_MODEL_GBDT_PROB ? "an anomaly (isolation forest)" : "a fraud-score");
        rg_model_free(*out);
        *out = NULL;
    }
}

static void case_fini(struct rcase *c)
{
    rg_model_free(c->model);
    rg_model_free(c->anomaly_model);
    c->model = c->anomaly_model = NULL;
}

static void load_case(struct rg_diags *d, const char *file, const struct rg_ynode *m,
                      struct rcase *c)
{
    static const char *const keys[] = {"name", "event", "history", "features", "score",
                                       "anomaly", "model", "anomaly_model", "preferred_method",
                                       "failed_step_ups_24h", "expect"};
    const size_t nk = sizeof(keys) / sizeof(keys[0]);
    /* Only the fixed part: the history array is filled as far as it is used. */
    memset(c, 0, offsetof(struct rcase, hist));
    c->file = file;
    c->line = m->line;
    c->col = m->col;
    c->score = NAN;
    c->anomaly = NAN;
    c->exp.decision = -1;
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
    if ((v = rg_ymap_get(m, "event"))) {
        load_event(d, file, v, &c->txn, "case", "case-user", "event", &c->has_ts);
        c->feat[RG_FEAT_AMOUNT] = c->txn.amount;
        if (c->has_ts)
            c->feat[RG_FEAT_HOUR_OF_DAY] =
                (double)((((c->txn.ts_ms / 1000) % 86400) + 86400) % 86400 / 3600);
    } else {
        cerr(d, file, m, "event: { amount: 1.5, ... }", "case '%s' has no event", c->name);
    }
    if ((v = rg_ymap_get(m, "history"))) {
        size_t e0 = d->n;
        load_history(d, file, v, c);
        if (!c->has_ts && rg_ymap_get(m, "event"))
            cerr(d, file, rg_ymap_get(m, "event"), "add ts: to the event",
                 "with a history, the event needs a ts");
        else if (d->n == e0)
            for (int i = 0; i < c->n_hist; i++)
                if (c->hist[i].ts > c->txn.ts_ms)
                    rg_diags_add(d, file, c->hist[i].line, c->hist[i].col,
                                 "history comes before the event",
                                 "history record is later than the case's event");
        qsort(c->hist, (size_t)c->n_hist, sizeof(c->hist[0]), cmp_hist);
    }
    if ((v = rg_ymap_get(m, "features")))
        load_features(d, file, v, c);
    if ((v = rg_ymap_get(m, "score")) && (rg_ynode_double(v, &c->score) != 0 || c->score < 0 ||
                                          c->score > 1))
        cerr(d, file, v, NULL, "'score' must be a number from 0 to 1");
    if ((v = rg_ymap_get(m, "anomaly")) &&
        (rg_ynode_double(v, &c->anomaly) != 0 || c->anomaly < 0 || c->anomaly > 1))
        cerr(d, file, v, NULL, "'anomaly' must be a number from 0 to 1");
    if ((v = rg_ymap_get(m, "model"))) {
        if (rg_ymap_get(m, "score"))
            cerr(d, file, v, "remove one of them", "a case gives either score or model");
        else
            load_case_model(d, file, v, RG_MODEL_GBDT_PROB, &c->model);
    }
    if ((v = rg_ymap_get(m, "anomaly_model"))) {
        if (rg_ymap_get(m, "anomaly"))
            cerr(d, file, v, "remove one of them", "a case gives either anomaly or anomaly_model");
        else
            load_case_model(d, file, v, RG_MODEL_IFOREST, &c->anomaly_model);
    }
    if ((v = rg_ymap_get(m, "preferred_method"))) {
        c->has_preferred = true;
        c->preferred = v->type == RG_Y_SCALAR ? rg_method_parse(v->str) : RG_METHOD_NONE;
        if (c->preferred == RG_METHOD_NONE)
            cerr(d, file, v, "otp, biometric or password", "unknown step-up method");
    }
    long long fl;
    if ((v = rg_ymap_get(m, "failed_step_ups_24h"))) {
        c->has_failed = true;
        if (rg_ynode_long(v, &fl) != 0 || fl < 0 || fl > 1000000)
            cerr(d, file, v, NULL, "'failed_step_ups_24h' must be a whole number >= 0");
        else
            c->failed = (int)fl;
    }
    if ((v = rg_ymap_get(m, "expect")))
        load_expect(d, file, v, &c->exp);
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

/* A growing "; "-separated list of differences. */
struct why {
    char buf[2048];
    size_t o;
};

static void why_add(struct why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void why_add(struct why *w, const char *fmt, ...)
{
    if (w->o < sizeof(w->buf))
        w->o += (size_t)snprintf(w->buf + w->o, sizeof(w->buf) - w->o, "%s", w->o ? "; " : "");
    if (w->o < sizeof(w->buf)) {
        va_list ap;
        va_start(ap, fmt);
        w->o += (size_t)vsnprintf(w->buf + w->o, sizeof(w->buf) - w->o, fmt, ap);
        va_end(ap);
    }
}

/* Compare v with e; each difference goes to w, prefixed with who ("" for
 * the case's own event). */
static void check_expect(const struct rexpect *e, const struct rg_verdict *v, const char *who,
                         struct why *w)
{
    if ((int)v->decision != e->decision)
        why_add(w, "%sexpected decision %s, got %s", who, rg_decision_str(e->decision),
                rg_decision_str(v->decision));
    if (e->has_rules && !same_set(e->rules, e->n_rules, v->rules, v->n_rules)) {
        char a[400], b[400];
        fmt_ids(a, sizeof(a), e->rules, e->n_rules);
        fmt_ids(b, sizeof(b), v->rules, v->n_rules);
        why_add(w, "%sexpected rules %s got %s", who, a, b);
    }
    if (e->has_shadow) {
        const char *got[RG_VERDICT_MAX_SHADOW];
        for (int i = 0; i < v->n_shadow; i++)
            got[i] = v->shadow[i].rule_id;
        if (!same_set(e->shadow, e->n_shadow, got, v->n_shadow)) {
            char a[400], b[400];
            fmt_ids(a, sizeof(a), e->shadow, e->n_shadow);
            fmt_ids(b, sizeof(b), got, v->n_shadow);
            why_add(w, "%sexpected shadow_rules %s got %s", who, a, b);
        }
    }
    if (e->has_shadow_decision && (int)v->shadow_decision != e->shadow_decision)
        why_add(w, "%sexpected shadow_decision %s, got %s", who,
                rg_decision_str(e->shadow_decision), rg_decision_str(v->shadow_decision));
    if (e->has_method && v->method != e->method)
        why_add(w, "%sexpected method %s, got %s", who, rg_method_str(e->method),
                rg_method_str(v->method));
}

/* The feedback record as the risk-feedback JSON rg_profile_feedback()
 * reads (every value as a string; user_id defaults to the case's user).
 * Caller frees with cJSON_free; NULL on out of memory. */
static char *feedback_json(const struct hrec *h)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = true;
    for (size_t i = 0; i + 1 < h->fb->n; i += 2)
        ok &= cJSON_AddStringToObject(o, h->fb->items[i]->str, h->fb->items[i + 1]->str) != NULL;
    if (!rg_ymap_get(h->fb, "user_id"))
        ok &= cJSON_AddStringToObject(o, "user_id", h->fb_user) != NULL;
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

/*
 * Replay c's history through a private in-memory profile store, then
 * compute the case event's features and user context as `riskgate run`
 * does; explicit values of the case win. History events with an expect
 * are decided and checked (differences go to w). Returns 0, or -1 with a
 * diagnostic in d when the history could not be replayed. Sets the fake
 * clock while it runs and restores the real one.
 */
static int replay_history(const struct rg_ruleset *rs, const struct rcase *c, struct rg_diags *d,
                          double *feat, enum rg_step_up_method *preferred, int *failed,
                          struct why *w)
{
    static const char secret[] = "riskgate rules test: profiles of one case";
    struct rg_profile_conf pc = {.secret = (const unsigned char *)secret,
                                 .secret_len = sizeof(secret) - 1, .in_memory = true};
    struct rg_profile_store *s = rg_profile_store_new(&pc);
    double hf[RG_FEAT_COUNT];
    struct rg_user_ctx u;
    bool degraded;
    int rc = -1;
    if (!s) {
        rg_diags_add(d, c->file, c->line, c->col, NULL, "out of memory for the case's profiles");
        return -1;
    }
    for (int i = 0; i < c->n_hist; i++) {
        const struct hrec *h = &c->hist[i];
        rg_clock_set_fake_ms(h->ts); /* arrival time of feedback; "now" for events */
        if (h->kind == HIST_EVENT) {
            if (rg_profile_process_batch(s, &h->txn, 1, hf, &u, &degraded) != 0) {
                rg_diags_add(d, c->file, h->line, h->col, NULL,
                             "the profile store could not take this event");
                goto done;
            }
            if (!h->has_expect)
                continue;
            struct rg_verdict v;
            rg_verdict_reset(&v);
            struct rg_eval_ctx ctx = {
                .txn = &h->txn, .feat = hf, .anomaly = NAN,
                .score = c->model ? rg_model_score(c->model, hf) : NAN,
                .preferred = u.preferred,
                .failed_step_ups_24h = u.failed_step_ups_24h < 0 ? 0 : u.failed_step_ups_24h,
            };
            if (c->anomaly_model)
                ctx.anomaly = rg_model_score(c->anomaly_model, hf);
            rg_ruleset_decide(rs, &ctx, &v);
            char who[200];
            snprintf(who, sizeof(who), "history event %.128s (line %d): ", h->txn.event_id,
                     h->line);
            check_expect(&h->exp, &v, who, w);
        } else {
            char reason[200] = "";
            char *json = feedback_json(h);
            int frc = json ? rg_profile_feedback(s, json, strlen(json), reason, sizeof(reason))
                           : RG_ENOMEM;
            cJSON_free(json);
            if (frc != 0) {
                rg_diags_add(d, c->file, h->line, h->col, NULL, "feedback rejected: %s",
                             reason[0] ? reason : rg_err_str(frc));
                goto done;
            }
        }
    }
    rg_clock_set_fake_ms(c->txn.ts_ms);
    if (rg_profile_process_batch(s, &c->txn, 1, hf, &u, &degraded) != 0) {
        rg_diags_add(d, c->file, c->line, c->col, NULL,
                     "the profile store could not take the case's event");
        goto done;
    }
    for (int k = 0; k < RG_FEAT_COUNT; k++)
        if (!c->feat_given[k])
            feat[k] = hf[k];
    if (!c->has_preferred)
        *preferred = u.preferred;
    if (!c->has_failed)
        *failed = u.failed_step_ups_24h < 0 ? 0 : u.failed_step_ups_24h;
    rc = 0;
done:
    rg_clock_set_fake_ms(0);
    rg_profile_store_free(s);
    return rc;
}

/* Run one case; print PASS/FAIL. 1 passed, 0 failed, -1 could not run
 * (diagnostic in d, nothing printed). */
static int run_case(const struct rg_ruleset *rs, const struct rcase *c, struct rg_diags *d,
                    FILE *out)
{
    struct why w = {.o = 0};
    w.buf[0] = '\0';
    double feat[RG_FEAT_COUNT];
    memcpy(feat, c->feat, sizeof(feat));
    enum rg_step_up_method preferred = c->preferred;
    int failed = c->failed;
    if (c->has_history && replay_history(rs, c, d, feat, &preferred, &failed, &w) != 0)
        return -1;
    struct rg_verdict v;
    rg_verdict_reset(&v);
    struct rg_eval_ctx ctx = {.txn = &c->txn, .feat = feat,
                              .score = c->model ? rg_model_score(c->model, feat) : c->score,
                              .anomaly = c->anomaly_model ? rg_model_score(c->anomaly_model, feat)
                                                          : c->anomaly,
                              .preferred = preferred, .failed_step_ups_24h = failed};
    rg_ruleset_decide(rs, &ctx, &v);
    check_expect(&c->exp, &v, "", &w);
    if (w.o == 0) {
        fprintf(out, "PASS %s\n", c->name);
        return 1;
    }
    fprintf(out, "FAIL %s: %s\n", c->name, w.buf);
    fprintf(out, "     at %s:%d:%d; reasons:", c->file, c->line, c->col);
    for (int i = 0; i < v.n_reasons; i++)
        fprintf(out, " %s (%s)%s", v.reasons[i].code, v.reasons[i].detail,
                i + 1 < v.n_reasons ? "," : "");
    fprintf(out, "%s\n", v.n_reasons ? "" : " none");
    if (c->has_history) { /* what the sequence produced, to see why */
        fprintf(out, "     features:");
        int n = 0;
        for (int k = 0; k < RG_FEAT_COUNT; k++)
            if (!isnan(feat[k]))
                fprintf(out, "%s %s=%g", n++ ? "," : "", rg_feature_name(k), feat[k]);
        fprintf(out, "%s; preferred %s, failed step-ups %d\n", n ? "" : " none",
                rg_method_str(preferred), failed);
    }
    return 0;
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

/* Load the ruleset of dir; on failure print every problem and a summary
 * line "rules: N problem(s) <where> <dir>" to err and return NULL. */
static struct rg_ruleset *load_or_report(const char *dir, const char *where, FILE *err)
{
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_ruleset *rs = NULL;
    if (rg_ruleset_load_dir(dir, &d, &rs) != 0) {
        rg_diags_print(&d, err);
        fprintf(err, "rules: %zu problem(s) %s %s\n", d.n, where, dir);
        rs = NULL;
    }
    rg_diags_fini(&d);
    return rs;
}

static int cmd_test(const char *dir, const char *cases_dir, FILE *out, FILE *err)
{
    struct rg_ruleset *rs = load_or_report(dir, "loading", err);
    if (!rs)
        return 1;
    struct rg_diags d; /* the case files' problems */
    rg_diags_init(&d);
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
                    /* Cases with load errors are reported below, not run;
                     * run_case adds one when a history cannot be replayed. */
                    int r = d.n > ce ? -1 : run_case(rs, c, &d, out);
                    if (r == 1)
                        passed++;
                    else if (r == 0)
                        failed++;
                    case_fini(c);
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
    struct rg_ruleset *rs = load_or_report(dir, "in", err);
    if (!rs)
        return 1;
    size_t shadow = 0;
    for (size_t i = 0; i < rs->n_rules; i++)
        shadow += rs->rules[i].shadow;
    fprintf(out, "ok: %zu rules (%zu enforced, %zu shadow), %zu lists, version %s\n",
            rs->n_rules, rs->n_rules - shadow, shadow, rs->n_lists, rg_ruleset_version(rs));
    rg_ruleset_free(rs);
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
