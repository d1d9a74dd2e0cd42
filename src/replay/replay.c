/*
 * replay.c - `riskgate replay`: run recorded events and feedback through
 * the serving decision code (decode -> profile -> features -> model ->
 * rules -> decision) and write verdicts, a backtest report and training
 * data. Usage and the figures in the report: docs/replay.md.
 *
 * DESIGN
 *
 * - Same code as serving: events are decoded by rg_txn_decode, features
 *   come from rg_profile_process_batch on a store with the in-memory
 *   backend (no Redis, state private to the run), and verdicts from
 *   rg_decider_decide. Nothing here reimplements a feature or a decision.
 *
 * - Merge by time: each file is read in order; the next record is the event
 *   when event.ts <= feedback.ts, else the feedback (ties: events first, so
 *   feedback arriving in the same millisecond as an event is not visible to
 *   that event: a label can only influence events strictly after it
 *   arrived).
 *
 * - Two steps, batched differently. The profile step (features, then the
 *   event's own profile updates) runs on the events between two feedback
 *   records, up to RG_RP_BATCH at a time; a feedback record first runs the
 *   profile step on the events before it, so profiles see exactly the
 *   merged order. The decide step (models, rules, verdict, report record)
 *   reads only what the profile step left per event (features, user
 *   context, degraded) and the immutable deciders, never the store or the
 *   fake clock, so feedback applied in between cannot change a decision.
 *   It is deferred until RG_RP_BATCH or more profiled events wait (or the
 *   input ends): feedback is frequent (about 16 events between two records
 *   in generated data) and the model batch paths work on blocks of 64 rows
 *   in groups of 8, so deciding 256..511 rows at once keeps them full.
 *   Verdicts, CSV rows and report records still go out in event order.
 *
 * - Event time: the fake clock (clock.h) is the running maximum of record
 *   timestamps; for a profile step it is set to the latest ts in it, and an
 *   event older than the clock before the step counts as late. Profiles do
 *   their window math on the event's own ts, so a batch decides exactly as
 *   one-event-at-a-time would; a feedback record is applied with the clock
 *   at its own ts (its arrival time). Deferring decisions leaves the
 *   profile steps, so the clock and late_events, as they were.
 *
 * - Determinism: no wall clock, no randomness, no threads; verdicts get
 *   latency_us = 0 and decided_at = the event's ts. Same inputs, same bytes.
 *
 * - Memory: one ~56-byte record per valid event plus its event_id and the
 *   interned user ids, because labels arrive after decisions and metrics
 *   are computed at the end. The training CSV is written in two passes: the
 *   feature part of each row to a temporary file while replaying, then the
 *   label columns joined at the end.
 */
#include "riskgate/replay.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "riskgate/clock.h"
#include "riskgate/conf.h"
#include "riskgate/decider.h"
#include "riskgate/decode.h"
#include "riskgate/diag.h"
#include "riskgate/err.h"
#include "riskgate/feature.h"
#include "riskgate/model.h"
#include "riskgate/profile.h"
#include "riskgate/rules.h"
#include "riskgate/verdict.h"
#include "replay_int.h"

#define RG_RP_BATCH 256                 /* events per profile step, at most; see DESIGN */
#define RG_RP_HOLD (2 * RG_RP_BATCH - 1) /* events waiting for the decide step, at most */
#define RG_RP_REPORT_LINES 20 /* malformed lines printed per file */
#define RG_RP_VERDICT_MAX 16384

/* ------------------------------------------------------------------ */
/* arena and string maps                                              */

static int arena_add(struct rg_rp_arena *a, const char *s, uint64_t *off)
{
    size_t n = strlen(s) + 1;
    if (a->len + n > a->cap) {
        size_t cap = a->cap ? a->cap : 1 << 16;
        while (cap < a->len + n)
            cap *= 2;
        char *b = realloc(a->buf, cap);
        if (!b)
            return RG_ENOMEM;
        a->buf = b;
        a->cap = cap;
    }
    memcpy(a->buf + a->len, s, n);
    *off = a->len;
    a->len += n;
    return 0;
}

const char *rg_rp_str(const struct rg_rp_arena *a, uint64_t off)
{
    return a->buf + off;
}

uint64_t rg_rp_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a, then a final mix */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static void strmap_fini(struct rg_rp_strmap *m)
{
    free(m->hash);
    free(m->val);
    memset(m, 0, sizeof(*m));
}

uint32_t rg_rp_strmap_get(const struct rg_rp_strmap *m, const struct rg_rp_arena *a,
                          const uint64_t *offs, const char *s)
{
    if (!m->cap)
        return UINT32_MAX;
    uint64_t h = rg_rp_hash(s);
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        uint32_t v = m->val[i];
        if (v == UINT32_MAX)
            return UINT32_MAX;
        if (m->hash[i] == h && strcmp(a->buf + offs[v], s) == 0)
            return v;
    }
}

static int strmap_grow(struct rg_rp_strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint64_t *hash = malloc(cap * sizeof(*hash));
    uint32_t *val = malloc(cap * sizeof(*val));
    if (!hash || !val) {
        free(hash);
        free(val);
        return RG_ENOMEM;
    }
    memset(val, 0xff, cap * sizeof(*val));
    for (size_t i = 0; i < m->cap; i++) {
        if (m->val[i] == UINT32_MAX)
            continue;
        size_t j = m->hash[i] & (cap - 1);
        while (val[j] != UINT32_MAX)
            j = (j + 1) & (cap - 1);
        hash[j] = m->hash[i];
        val[j] = m->val[i];
    }
    free(m->hash);
    free(m->val);
    m->hash = hash;
    m->val = val;
    m->cap = cap;
    return 0;
}

/* Insert s -> v (s not present). */
static int strmap_put(struct rg_rp_strmap *m, const char *s, uint32_t v)
{
    if ((m->n + 1) * 2 > m->cap && strmap_grow(m) < 0)
        return RG_ENOMEM;
    uint64_t h = rg_rp_hash(s);
    size_t i = h & (m->cap - 1);
    while (m->val[i] != UINT32_MAX)
        i = (i + 1) & (m->cap - 1);
    m->hash[i] = h;
    m->val[i] = v;
    m->n++;
    return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return RG_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

/* ------------------------------------------------------------------ */
/* the run                                                            */

struct opts {
    const char *events, *feedback, *conf, *rules, *model, *anomaly, *out, *report, *features;
    const char *cand_rules, *cand_model, *cand_conf;
    double budget;
};

struct fb_rec {
    char *line;       /* getline buffer (owned) */
    size_t cap, len;
    uint64_t lineno;
    int64_t ts;
    bool is_label, is_settings;
    int8_t label;
    char event_id[RG_ID_MAX + 1];
    char scenario[64];
};

struct ctx {
    struct opts o;
    struct rg_rp_run r;
    struct rg_conf *conf, *cand_conf;
    struct rg_decider *dc, *cand;
    struct rg_profile_store *store;
    struct rg_decoder *dec;
    FILE *ev_f, *fb_f, *out_f, *csv_tmp;
    char *ev_line;
    size_t ev_cap;
    uint64_t ev_lineno;
    struct fb_rec fb;
    /* batch */
    struct rg_txn pending; /* the next event, decoded, not yet in the batch */
    struct rg_txn txns[RG_RP_HOLD];
    size_t n;      /* events held */
    size_t n_prof; /* of which the first n_prof went through the profile step */
    double feat[RG_RP_HOLD * RG_FEAT_COUNT];
    double scores[2 * RG_RP_HOLD];
    struct rg_user_ctx uctx[RG_RP_HOLD];
    bool degraded[RG_RP_HOLD];
    struct rg_verdict v[RG_RP_HOLD], v2[RG_RP_HOLD];
    char vbuf[RG_RP_VERDICT_MAX];
    int64_t clock;
    /* rule ids of the current ruleset */
    struct rg_rp_arena rules_a;
    uint64_t *rule_off;
    struct rg_rp_strmap rule_map;
    uint64_t ev_reported, fb_reported;
    int err;
};

static void malformed(struct ctx *c, bool feedback, uint64_t lineno, const char *code,
                      const char *msg)
{
    uint64_t *reported = feedback ? &c->fb_reported : &c->ev_reported;
    const char *path = feedback ? c->o.feedback : c->o.events;
    if (*reported < RG_RP_REPORT_LINES)
        fprintf(stderr, "riskgate replay: %s:%" PRIu64 ": skipped: %s: %s\n", path, lineno, code,
                msg);
    else if (*reported == RG_RP_REPORT_LINES)
        fprintf(stderr, "riskgate replay: %s: more malformed lines (not shown; counted in the "
                        "report)\n", path);
    (*reported)++;
}

/* getline without the trailing newline; -1 at EOF or error. */
static ssize_t read_line(FILE *f, char **buf, size_t *cap)
{
    ssize_t n = getline(buf, cap, f);
    if (n < 0)
        return -1;
    while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r'))
        (*buf)[--n] = '\0';
    return n;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    return true;
}

/* Decode the next valid event into c->pending. 1 when there is one. */
static int next_event(struct ctx *c)
{
    ssize_t n;
    while ((n = read_line(c->ev_f, &c->ev_line, &c->ev_cap)) >= 0) {
        c->ev_lineno++;
        if (blank(c->ev_line, (size_t)n))
            continue;
        c->r.event_lines++;
        struct rg_txn *txn = &c->pending;
        struct rg_decode_error e;
        if (rg_txn_decode(c->dec, c->ev_line, (size_t)n, txn, &e) != 0) {
            c->r.events_rejected++;
            if ((unsigned)e.reason < RG_DLQ_REASON_COUNT)
                c->r.rejected_by_reason[e.reason]++;
            malformed(c, false, c->ev_lineno, rg_dlq_reason_code(e.reason), e.message);
            continue;
        }
        txn->partition = 0;
        txn->offset = -1; /* no replay guard: every line is applied once, in order */
        txn->kafka_ts_ms = -1;
        return 1;
    }
    if (ferror(c->ev_f)) {
        fprintf(stderr, "riskgate replay: %s: read error: %s\n", c->o.events, strerror(errno));
        c->err = RG_EIO;
    }
    return 0;
}

static const char *jstr(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Parse the next feedback record with a usable ts into c->fb. 1 when one. */
static int next_feedback(struct ctx *c)
{
    struct fb_rec *fb = &c->fb;
    ssize_t n;
    if (!c->fb_f)
        return 0;
    while ((n = read_line(c->fb_f, &fb->line, &fb->cap)) >= 0) {
        fb->lineno++;
        if (blank(fb->line, (size_t)n))
            continue;
        c->r.feedback_lines++;
        fb->len = (size_t)n;
        cJSON *o = cJSON_ParseWithLength(fb->line, fb->len);
        const char *why = NULL;
        const cJSON *ts = o ? cJSON_GetObjectItemCaseSensitive(o, "ts") : NULL;
        const char *type = o ? jstr(o, "type") : NULL;
        if (!o || !cJSON_IsObject(o))
            why = "not a JSON object";
        else if (!type)
            why = "missing string field \"type\"";
        else if (cJSON_IsNumber(ts) && isfinite(ts->valuedouble) &&
                 ts->valuedouble == floor(ts->valuedouble) && ts->valuedouble >= RG_TS_MIN_MS &&
                 ts->valuedouble < RG_TS_MAX_MS)
            fb->ts = (int64_t)ts->valuedouble;
        else if (!cJSON_IsString(ts) || rg_rfc3339_parse(ts->valuestring, &fb->ts) != 0 ||
                 fb->ts < RG_TS_MIN_MS || fb->ts >= RG_TS_MAX_MS)
            why = "missing or invalid \"ts\" (RFC 3339 or epoch milliseconds)";
        if (!why) {
            const char *lab = jstr(o, "label"), *eid = jstr(o, "event_id");
            const char *sc = jstr(o, "scenario");
            fb->is_label = strcmp(type, "label") == 0;
            fb->is_settings = strcmp(type, "settings") == 0;
            fb->label = lab && strcmp(lab, "fraud") == 0 ? 1 : 0;
            snprintf(fb->event_id, sizeof(fb->event_id), "%s",
                     eid && strlen(eid) <= RG_ID_MAX ? eid : "");
            snprintf(fb->scenario, sizeof(fb->scenario), "%s",
                     sc && fb->label == 1 ? sc : "");
        }
        cJSON_Delete(o);
        if (why) {
            c->r.feedback_rejected++;
            malformed(c, true, fb->lineno, "invalid_feedback", why);
            continue;
        }
        return 1;
    }
    if (ferror(c->fb_f)) {
        fprintf(stderr, "riskgate replay: %s: read error: %s\n", c->o.feedback, strerror(errno));
        c->err = RG_EIO;
    }
    return 0;
}

static uint8_t scenario_index(struct rg_rp_run *r, const char *name)
{
    if (!*name)
        return 0;
    for (int i = 1; i < r->n_scenarios; i++)
        if (strcmp(r->scenarios[i], name) == 0)
            return (uint8_t)i;
    if (r->n_scenarios == RG_RP_MAX_SCENARIOS)
        return RG_RP_MAX_SCENARIOS - 1; /* the last slot collects the rest */
    char *d = strdup(r->n_scenarios == RG_RP_MAX_SCENARIOS - 1 ? "other" : name);
    if (!d)
        return 0;
    r->scenarios[r->n_scenarios] = d;
    return (uint8_t)r->n_scenarios++;
}

static int apply_feedback(struct ctx *c)
{
    struct fb_rec *fb = &c->fb;
    struct rg_rp_run *r = &c->r;
    char reason[160] = "";
    rg_clock_set_fake_ms(fb->ts); /* the arrival time profiles record */
    if (fb->ts > c->clock)
        c->clock = fb->ts;
    int rc = rg_profile_feedback(c->store, fb->line, fb->len, reason, sizeof(reason));
    if (rc < 0) {
        r->feedback_rejected++;
        malformed(c, true, fb->lineno, rc == RG_EAGAIN ? "unavailable" : "invalid_feedback",
                  reason[0] ? reason : rg_err_str(rc));
        return 0;
    }
    if (!fb->is_label) {
        if (fb->is_settings)
            r->settings_seen++;
        else
            r->auth_results_seen++;
        return 0;
    }
    r->labels_seen++;
    uint32_t li = rg_rp_strmap_get(&r->label_map, &r->label_ids, r->label_off, fb->event_id);
    if (li == UINT32_MAX) { /* new; a later label for the same event replaces the earlier */
        if (grow((void **)&r->labels, &r->cap_labels, r->n_labels + 1, sizeof(*r->labels)) < 0 ||
            grow((void **)&r->label_off, &r->cap_label_off, r->n_labels + 1,
                 sizeof(*r->label_off)) < 0)
            return RG_ENOMEM;
        li = (uint32_t)r->n_labels;
        if (arena_add(&r->label_ids, fb->event_id, &r->label_off[li]) < 0 ||
            strmap_put(&r->label_map, fb->event_id, li) < 0)
            return RG_ENOMEM;
        r->n_labels++;
    }
    r->labels[li].label = fb->label;
    r->labels[li].ts_ms = fb->ts;
    r->labels[li].scenario = scenario_index(r, fb->scenario);
    return 0;
}

static uint32_t intern_user(struct ctx *c, const char *user_id)
{
    struct rg_rp_run *r = &c->r;
    uint32_t u = rg_rp_strmap_get(&r->user_map, &r->users_a, r->user_off, user_id);
    if (u != UINT32_MAX)
        return u;
    if (grow((void **)&r->user_off, &r->cap_users, r->n_users + 1, sizeof(*r->user_off)) < 0)
        return UINT32_MAX;
    u = (uint32_t)r->n_users;
    if (arena_add(&r->users_a, user_id, &r->user_off[u]) < 0 ||
        strmap_put(&r->user_map, user_id, u) < 0)
        return UINT32_MAX;
    r->n_users++;
    return u;
}

static uint8_t currency_index(struct rg_rp_run *r, const char *cur)
{
    for (int i = 0; i < r->n_currencies; i++)
        if (memcmp(r->currencies[i], cur, 4) == 0)
            return (uint8_t)i;
    if (r->n_currencies == RG_RP_MAX_CURRENCIES)
        return RG_RP_MAX_CURRENCIES - 1;
    int i = r->n_currencies++;
    /* the last slot collects the rest under ISO 4217 "no currency" */
    memcpy(r->currencies[i], i == RG_RP_MAX_CURRENCIES - 1 ? "XXX" : cur, 4);
    return (uint8_t)i;
}

static bool rule_reason(const struct rg_verdict *v, const char *id)
{
    for (int k = 0; k < v->n_reasons; k++)
        if (v->reasons[k].source == RG_SRC_RULE && strcmp(v->reasons[k].code, id) == 0)
            return true;
    return false;
}

static int record_event(struct ctx *c, const struct rg_txn *txn, const struct rg_verdict *v,
                        const struct rg_verdict *v2, bool degraded)
{
    struct rg_rp_run *r = &c->r;
    if (grow((void **)&r->ev, &r->cap_ev, r->n_ev + 1, sizeof(*r->ev)) < 0)
        return RG_ENOMEM;
    struct rg_rp_event *e = &r->ev[r->n_ev];
    memset(e, 0, sizeof(*e));
    if (arena_add(&r->ids, txn->event_id, &e->id_off) < 0)
        return RG_ENOMEM;
    if ((e->user = intern_user(c, txn->user_id)) == UINT32_MAX)
        return RG_ENOMEM;
    e->ts_ms = txn->ts_ms;
    e->amount = txn->amount;
    e->score = v->score;
    e->decision = (uint8_t)v->decision;
    e->cand = (uint8_t)(v2 ? v2->decision : v->decision);
    e->currency = currency_index(r, txn->currency);
    e->label = RG_RP_NO_LABEL;
    e->degraded = degraded;
    e->hits_off = (uint32_t)r->n_hits;
    size_t need = r->n_hits + (size_t)v->n_rules + (size_t)v->n_shadow;
    if (grow((void **)&r->hits, &r->cap_hits, need, sizeof(*r->hits)) < 0)
        return RG_ENOMEM;
    for (int k = 0; k < v->n_rules && e->n_hits < UINT8_MAX; k++) {
        uint32_t idx = rg_rp_strmap_get(&c->rule_map, &c->rules_a, c->rule_off, v->rules[k]);
        if (idx == UINT32_MAX)
            continue;
        bool flag = v->decision != RG_ALLOW && rule_reason(v, v->rules[k]);
        r->hits[r->n_hits++] = RG_RP_HIT(idx, 0u, flag ? 1u : 0u);
        e->n_hits++;
    }
    for (int k = 0; k < v->n_shadow && e->n_hits < UINT8_MAX; k++) {
        uint32_t idx =
            rg_rp_strmap_get(&c->rule_map, &c->rules_a, c->rule_off, v->shadow[k].rule_id);
        if (idx == UINT32_MAX)
            continue;
        r->rule_shadow[idx] = true;
        bool flag = v->shadow[k].decision != RG_ALLOW;
        r->hits[r->n_hits++] = RG_RP_HIT(idx, 1u, flag ? 1u : 0u);
        e->n_hits++;
    }
    if (v2 && v2->decision != v->decision) {
        r->changed++;
        if (r->n_sample < RG_RP_SAMPLE_CHANGED) {
            struct rg_rp_changed *s = &r->sample[r->n_sample++];
            s->id_off = e->id_off;
            s->user = e->user;
            s->from = (uint8_t)v->decision;
            s->to = (uint8_t)v2->decision;
        }
    }
    r->n_ev++;
    return 0;
}

/* CSV: a cell for a string (quoted when needed, RFC 4180). */
static void csv_str(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* A feature value: empty when missing; integers exactly; else 15 or 17
 * significant digits so the training side reads back the same double. */
static void csv_num(FILE *f, double x)
{
    if (isnan(x))
        return;
    if (x == floor(x) && fabs(x) < 1e15) {
        fprintf(f, "%lld", (long long)x);
        return;
    }
    char b[40];
    snprintf(b, sizeof(b), "%.15g", x); /* shortest of the two that reads back exactly */
    if (strtod(b, NULL) != x)
        snprintf(b, sizeof(b), "%.17g", x);
    fputs(b, f);
}

/* The decide step on every held event (all profiled by now), in order. */
static int decide_held(struct ctx *c)
{
    size_t n = c->n;
    if (!n)
        return 0;
    rg_decider_decide(c->dc, c->txns, n, c->feat, c->uctx, c->degraded, c->scores, NULL, c->v);
    if (c->cand)
        rg_decider_decide(c->cand, c->txns, n, c->feat, c->uctx, c->degraded, c->scores, NULL,
                          c->v2);
    for (size_t i = 0; i < n; i++) {
        const struct rg_txn *txn = &c->txns[i];
        struct rg_verdict *v = &c->v[i];
        v->latency_us = 0;
        v->decided_at_ms = txn->ts_ms;
        if (c->out_f) {
            int len = rg_verdict_encode(v, txn, c->vbuf, sizeof(c->vbuf) - 1);
            if (len < 0) {
                fprintf(stderr, "riskgate replay: verdict for line too large; skipped\n");
            } else {
                c->vbuf[len] = '\n';
                fwrite(c->vbuf, 1, (size_t)len + 1, c->out_f);
            }
        }
        if (c->csv_tmp) {
            const double *x = c->feat + i * RG_FEAT_COUNT;
            csv_str(c->csv_tmp, txn->event_id);
            fprintf(c->csv_tmp, ",%" PRId64, txn->ts_ms);
            for (int k = 0; k < RG_FEAT_COUNT; k++) {
                fputc(',', c->csv_tmp);
                csv_num(c->csv_tmp, x[k]);
            }
            fputc('\n', c->csv_tmp);
        }
        int rc = record_event(c, txn, v, c->cand ? &c->v2[i] : NULL, c->degraded[i]);
        if (rc < 0)
            return rc;
    }
    c->n = c->n_prof = 0;
    return 0;
}

/* The profile step on the held events not profiled yet (at most
 * RG_RP_BATCH of them), then the decide step once RG_RP_BATCH or more
 * wait. So fewer than RG_RP_BATCH stay held after a profile step, and at
 * most RG_RP_HOLD are ever held. */
static int profile_step(struct ctx *c)
{
    size_t i0 = c->n_prof, n = c->n;
    if (i0 == n)
        return 0;
    int64_t mx = c->clock;
    for (size_t i = i0; i < n; i++) {
        if (c->txns[i].ts_ms < c->clock)
            c->r.late_events++;
        if (c->txns[i].ts_ms > mx)
            mx = c->txns[i].ts_ms;
    }
    c->clock = mx;
    rg_clock_set_fake_ms(mx);
    /* In memory the store cannot be unavailable; should a user still be
     * missing (cache full), degraded[i] says so and the degradation policy
     * decides, as in serving. */
    (void)rg_profile_process_batch(c->store, c->txns + i0, n - i0, c->feat + i0 * RG_FEAT_COUNT,
                                   c->uctx + i0, c->degraded + i0);
    c->n_prof = n;
    return n >= RG_RP_BATCH ? decide_held(c) : 0;
}

/* Join labels to events (by event_id) once every record has been read. */
static void join_labels(struct rg_rp_run *r)
{
    bool *used = r->n_labels ? calloc(r->n_labels, sizeof(*used)) : NULL;
    for (size_t i = 0; i < r->n_ev; i++) {
        struct rg_rp_event *e = &r->ev[i];
        uint32_t li = rg_rp_strmap_get(&r->label_map, &r->label_ids, r->label_off,
                                       rg_rp_str(&r->ids, e->id_off));
        if (li == UINT32_MAX)
            continue;
        e->label = r->labels[li].label;
        e->scenario = e->label == 1 ? r->labels[li].scenario : 0;
        if (used)
            used[li] = true;
    }
    r->labels_unmatched = 0;
    for (size_t i = 0; used && i < r->n_labels; i++)
        r->labels_unmatched += !used[i];
    free(used);
}

static int write_csv(struct ctx *c, const char *path)
{
    struct rg_rp_run *r = &c->r;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "riskgate replay: %s: %s\n", path, strerror(errno));
        return RG_EIO;
    }
    fputs("event_id,event_ts_ms", f);
    for (int k = 0; k < RG_FEAT_COUNT; k++)
        fprintf(f, ",%s", rg_feature_name(k));
    fputs(",label,label_ts_ms,scenario\n", f);
    if (fflush(c->csv_tmp) != 0 || ferror(c->csv_tmp)) {
        fprintf(stderr, "riskgate replay: temporary file: write failed\n");
        fclose(f);
        return RG_EIO;
    }
    rewind(c->csv_tmp);
    char *line = NULL;
    size_t cap = 0, i = 0;
    ssize_t n;
    while ((n = read_line(c->csv_tmp, &line, &cap)) >= 0 && i < r->n_ev) {
        const struct rg_rp_event *e = &r->ev[i++];
        fwrite(line, 1, (size_t)n, f);
        if (e->label == RG_RP_NO_LABEL) {
            fputs(",,,\n", f);
            continue;
        }
        uint32_t li = rg_rp_strmap_get(&r->label_map, &r->label_ids, r->label_off,
                                       rg_rp_str(&r->ids, e->id_off));
        fprintf(f, ",%d,%" PRId64 ",", e->label, r->labels[li].ts_ms);
        if (e->scenario)
            csv_str(f, r->scenarios[e->scenario]);
        fputc('\n', f);
    }
    free(line);
    int rc = i == r->n_ev && !ferror(f) ? 0 : RG_EIO;
    if (fclose(f) != 0 || rc) {
        fprintf(stderr, "riskgate replay: %s: write failed\n", path);
        return RG_EIO;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* command line                                                       */

static void usage(FILE *f)
{
    fputs("usage: riskgate replay --events FILE.jsonl [--feedback FILE.jsonl] [-c riskgate.yaml]\n"
          "         [--rules DIR] [--model FILE] [--anomaly FILE] [--out verdicts.jsonl]\n"
          "         [--report DIR] [--export-features FILE.csv] [--friction-budget 0.01]\n"
          "         [--candidate-rules DIR] [--candidate-model FILE] [--candidate-config FILE]\n"
          "See docs/replay.md.\n",
          f);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof(*o));
    o->budget = 0.01;
    static const struct {
        const char *name;
        size_t off;
    } tab[] = {
        { "--events", offsetof(struct opts, events) },
        { "--feedback", offsetof(struct opts, feedback) },
        { "-c", offsetof(struct opts, conf) },
        { "--config", offsetof(struct opts, conf) },
        { "--rules", offsetof(struct opts, rules) },
        { "--model", offsetof(struct opts, model) },
        { "--anomaly", offsetof(struct opts, anomaly) },
        { "--out", offsetof(struct opts, out) },
        { "--report", offsetof(struct opts, report) },
        { "--export-features", offsetof(struct opts, features) },
        { "--candidate-rules", offsetof(struct opts, cand_rules) },
        { "--candidate-model", offsetof(struct opts, cand_model) },
        { "--candidate-config", offsetof(struct opts, cand_conf) },
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        }
        const char *val = NULL;
        size_t nlen = strlen(a);
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        if (eq) {
            nlen = (size_t)(eq - a);
            val = eq + 1;
        }
        bool known = false;
        if (strlen("--friction-budget") == nlen && !strncmp(a, "--friction-budget", nlen)) {
            if (!val && i + 1 < argc)
                val = argv[++i];
            char *end = NULL;
            o->budget = val ? strtod(val, &end) : NAN;
            if (!val || *end || !(o->budget >= 0 && o->budget <= 1)) {
                fprintf(stderr, "riskgate replay: --friction-budget needs a number in 0..1\n");
                return 2;
            }
            continue;
        }
        for (size_t k = 0; k < sizeof(tab) / sizeof(tab[0]); k++) {
            if (strlen(tab[k].name) != nlen || strncmp(a, tab[k].name, nlen) != 0)
                continue;
            if (!val && i + 1 < argc)
                val = argv[++i];
            if (!val || !*val) {
                fprintf(stderr, "riskgate replay: %s needs a value\n", tab[k].name);
                return 2;
            }
            *(const char **)((char *)o + tab[k].off) = val;
            known = true;
            break;
        }
        if (!known) {
            fprintf(stderr, "riskgate replay: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!o->events) {
        fprintf(stderr, "riskgate replay: --events is required\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

static int load_conf(const char *path, struct rg_conf **out)
{
    struct rg_diags d;
    rg_diags_init(&d);
    int rc = 0;
    if (path) {
        rc = rg_conf_load_file(path, &d, out);
    } else if (!(*out = rg_conf_new_default())) {
        rc = RG_ENOMEM;
    }
    if (rc != 0) {
        rg_diags_print(&d, stderr);
        fprintf(stderr, "riskgate replay: %s: %s\n", path ? path : "config", rg_err_str(rc));
    }
    rg_diags_fini(&d);
    return rc;
}

static int load_decider(const struct rg_conf *conf, const char *rules, const char *model,
                        const char *anomaly, const char *what, struct rg_decider **out)
{
    struct rg_diags d;
    rg_diags_init(&d);
    int rc = rg_decider_load(conf, rules, model, anomaly, &d, out);
    if (rc != 0) {
        rg_diags_print(&d, stderr);
        fprintf(stderr, "riskgate replay: %s configuration failed to load: %s\n", what,
                rg_err_str(rc));
    }
    rg_diags_fini(&d);
    return rc;
}

static int setup(struct ctx *c)
{
    const struct opts *o = &c->o;
    int rc = load_conf(o->conf, &c->conf);
    if (rc)
        return rc;
    if ((rc = load_decider(c->conf, o->rules, o->model, o->anomaly, "current", &c->dc)))
        return rc;
    if (o->cand_rules || o->cand_model || o->cand_conf) {
        /* The candidate starts from the current configuration; each
         * --candidate-* option replaces one part of it. A candidate config
         * brings its own model/rules paths unless overridden. */
        const struct rg_conf *cc = c->conf;
        const char *rules = o->rules, *model = o->model, *anomaly = o->anomaly;
        if (o->cand_conf) {
            if ((rc = load_conf(o->cand_conf, &c->cand_conf)))
                return rc;
            cc = c->cand_conf;
            rules = model = anomaly = NULL;
        }
        if (o->cand_rules)
            rules = o->cand_rules;
        if (o->cand_model)
            model = o->cand_model;
        if ((rc = load_decider(cc, rules, model, anomaly, "candidate", &c->cand)))
            return rc;
        c->r.has_candidate = true;
    }
    /* rule ids of the current ruleset, for per-rule figures */
    struct rg_rp_run *r = &c->r;
    r->n_rules = c->dc->rs ? rg_ruleset_count(c->dc->rs) : 0;
    r->rule_ids = calloc(r->n_rules + 1, sizeof(*r->rule_ids));
    r->rule_shadow = calloc(r->n_rules + 1, sizeof(*r->rule_shadow));
    c->rule_off = calloc(r->n_rules + 1, sizeof(*c->rule_off));
    if (!r->rule_ids || !r->rule_shadow || !c->rule_off)
        return RG_ENOMEM;
    for (size_t i = 0; i < r->n_rules; i++) {
        const char *id = rg_ruleset_rule_id(c->dc->rs, i);
        if (arena_add(&c->rules_a, id, &c->rule_off[i]) < 0 ||
            !(r->rule_ids[i] = strdup(id)))
            return RG_ENOMEM;
        if (rg_rp_strmap_get(&c->rule_map, &c->rules_a, c->rule_off, id) == UINT32_MAX &&
            strmap_put(&c->rule_map, id, (uint32_t)i) < 0)
            return RG_ENOMEM;
    }
    r->scenarios[0] = strdup("");
    r->n_scenarios = 1;
    r->model_version = c->dc->model ? rg_model_version(c->dc->model) : NULL;
    r->ruleset_version = c->dc->rs ? rg_ruleset_version(c->dc->rs) : NULL;
    if (c->cand) {
        r->cand_model_version = c->cand->model ? rg_model_version(c->cand->model) : NULL;
        r->cand_ruleset_version = c->cand->rs ? rg_ruleset_version(c->cand->rs) : NULL;
    }
    r->events_path = o->events;
    r->feedback_path = o->feedback;
    r->friction_budget = o->budget;

    static const unsigned char secret[] = "riskgate-replay-in-memory-store";
    struct rg_profile_conf pc = {
        .secret = secret,
        .secret_len = sizeof(secret) - 1,
        .ttl_days = c->conf->profile_ttl_days,
        .cache_users = (size_t)c->conf->profile_cache_users,
        .in_memory = true,
    };
    if (!(c->store = rg_profile_store_new(&pc)) || !(c->dec = rg_decoder_new()))
        return RG_ENOMEM;

    if (!(c->ev_f = fopen(o->events, "r"))) {
        fprintf(stderr, "riskgate replay: %s: %s\n", o->events, strerror(errno));
        return RG_EIO;
    }
    if (o->feedback && !(c->fb_f = fopen(o->feedback, "r"))) {
        fprintf(stderr, "riskgate replay: %s: %s\n", o->feedback, strerror(errno));
        return RG_EIO;
    }
    if (o->out) {
        if (!(c->out_f = fopen(o->out, "w"))) {
            fprintf(stderr, "riskgate replay: %s: %s\n", o->out, strerror(errno));
            return RG_EIO;
        }
        setvbuf(c->out_f, NULL, _IOFBF, 1 << 20);
    }
    if (o->features && !(c->csv_tmp = tmpfile())) {
        fprintf(stderr, "riskgate replay: temporary file: %s\n", strerror(errno));
        return RG_EIO;
    }
    return 0;
}

static void run_fini(struct rg_rp_run *r)
{
    free(r->ev);
    free(r->hits);
    free(r->ids.buf);
    free(r->users_a.buf);
    free(r->label_ids.buf);
    free(r->user_off);
    free(r->labels);
    free(r->label_off);
    strmap_fini(&r->user_map);
    strmap_fini(&r->label_map);
    for (int i = 0; i < r->n_scenarios; i++)
        free(r->scenarios[i]);
    for (size_t i = 0; r->rule_ids && i < r->n_rules; i++)
        free(r->rule_ids[i]);
    free(r->rule_ids);
    free(r->rule_shadow);
}

static void ctx_fini(struct ctx *c)
{
    if (c->ev_f)
        fclose(c->ev_f);
    if (c->fb_f)
        fclose(c->fb_f);
    if (c->csv_tmp)
        fclose(c->csv_tmp);
    free(c->ev_line);
    free(c->fb.line);
    rg_decoder_free(c->dec);
    rg_profile_store_free(c->store);
    rg_decider_free(c->dc);
    rg_decider_free(c->cand);
    rg_conf_free(c->conf);
    rg_conf_free(c->cand_conf);
    free(c->rules_a.buf);
    free(c->rule_off);
    strmap_fini(&c->rule_map);
    run_fini(&c->r);
}

static double elapsed_s(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int rg_replay_main(int argc, char **argv)
{
    struct ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        fprintf(stderr, "riskgate replay: out of memory\n");
        return 1;
    }
    int status = 1, rc;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = parse_args(argc, argv, &c->o);
    if (rc) {
        status = rc == 1 ? 0 : 2;
        goto done;
    }
    if ((rc = setup(c)) != 0)
        goto fail;

    bool have_ev = next_event(c), have_fb = next_feedback(c);
    while ((have_ev || have_fb) && !c->err) {
        if (have_ev && (!have_fb || c->pending.ts_ms <= c->fb.ts)) {
            c->txns[c->n] = c->pending;
            if (++c->n - c->n_prof == RG_RP_BATCH && (rc = profile_step(c)) < 0)
                goto fail;
            have_ev = next_event(c);
        } else {
            if ((rc = profile_step(c)) < 0 || (rc = apply_feedback(c)) < 0)
                goto fail;
            have_fb = next_feedback(c);
        }
    }
    if ((rc = profile_step(c)) < 0 || (rc = decide_held(c)) < 0 || (rc = c->err) < 0)
        goto fail;
    rg_clock_set_fake_ms(0);
    join_labels(&c->r);

    if (c->out_f) {
        FILE *f = c->out_f;
        c->out_f = NULL;
        bool bad = ferror(f) != 0;
        if (fclose(f) != 0 || bad) {
            fprintf(stderr, "riskgate replay: %s: write failed\n", c->o.out);
            rc = RG_EIO;
            goto fail;
        }
    }
    if (c->o.features && (rc = write_csv(c, c->o.features)) < 0)
        goto fail;
    if (c->o.report && (rc = rg_rp_report_write(&c->r, c->o.report)) < 0) {
        fprintf(stderr, "riskgate replay: %s: cannot write the report: %s\n", c->o.report,
                rg_err_str(rc));
        goto fail;
    }
    uint64_t mix[3] = { 0, 0, 0 };
    for (size_t i = 0; i < c->r.n_ev; i++)
        mix[c->r.ev[i].decision]++;
    double s = elapsed_s(&t0);
    fprintf(stderr,
            "riskgate replay: %zu events decided (%" PRIu64 " allow, %" PRIu64 " step_up, %" PRIu64
            " deny), %" PRIu64 " event lines rejected, %" PRIu64 " feedback lines (%" PRIu64
            " rejected), %.2f s, %.0f events/s\n",
            c->r.n_ev, mix[0], mix[1], mix[2], c->r.events_rejected, c->r.feedback_lines,
            c->r.feedback_rejected, s, s > 0 ? (double)c->r.event_lines / s : 0.0);
    status = 0;
    goto done;
fail:
    fprintf(stderr, "riskgate replay: failed: %s\n", rg_err_str(rc));
    status = 1;
done:
    rg_clock_set_fake_ms(0);
    if (c->out_f)
        fclose(c->out_f);
    ctx_fini(c);
    free(c);
    return status;
}
