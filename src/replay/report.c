/*
 * report.c - the backtest report of `riskgate replay`: every figure is
 * computed once into a cJSON tree, written as DIR/report.json, and the
 * self-contained DIR/report.html (tables and hand-written inline SVG) is
 * rendered from that same tree, so the two can never disagree.
 *
 * Ground truth: an event is fraud when a `fraud` label for its event_id
 * was read (at any time in the feedback file), otherwise legit (unlabelled
 * events count as legit). "Flagged" means the decision was step_up or
 * deny. Definitions of each figure: docs/replay.md.
 *
 * Cold path: runs once at the end; allocates freely.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "riskgate/err.h"
#include "riskgate/replay.h"
#include "riskgate/verdict.h"
#include "replay_int.h"

#define TOP_USERS_PER_DAY 100
#define DENY_PRECISION 0.9 /* deny_at: first threshold with this precision (as train.py) */
#define DENY_MIN_FLAGGED 5
#define DAY_MS 86400000LL

static double ratio(double a, double b)
{
    return b > 0 ? a / b : NAN;
}

/* ------------------------------------------------------------------ */
/* detection metrics                                                  */

struct sl {
    double s;
    int8_t y;
};

static int cmp_sl_asc(const void *a, const void *b)
{
    double x = ((const struct sl *)a)->s, y = ((const struct sl *)b)->s;
    return (x > y) - (x < y);
}

static size_t collect(const double *score, const int8_t *label, size_t n, struct sl **out)
{
    struct sl *v = malloc((n ? n : 1) * sizeof(*v));
    size_t m = 0;
    for (size_t i = 0; v && i < n; i++)
        if ((label[i] == 0 || label[i] == 1) && !isnan(score[i]))
            v[m++] = (struct sl){ score[i], label[i] };
    if (v)
        qsort(v, m, sizeof(*v), cmp_sl_asc);
    *out = v;
    return m;
}

double rg_replay_auc(const double *score, const int8_t *label, size_t n)
{
    struct sl *v;
    size_t m = collect(score, label, n, &v);
    if (!v)
        return NAN;
    double pos = 0, rank_sum = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && v[j].s == v[i].s)
            j++;
        double avg = (double)(i + 1 + j) / 2.0; /* ranks i+1..j */
        for (size_t k = i; k < j; k++)
            if (v[k].y == 1) {
                pos++;
                rank_sum += avg;
            }
        i = j;
    }
    double neg = (double)m - pos;
    free(v);
    if (pos == 0 || neg == 0)
        return NAN;
    return (rank_sum - pos * (pos + 1) / 2.0) / (pos * neg);
}

double rg_replay_avg_precision(const double *score, const int8_t *label, size_t n)
{
    struct sl *v;
    size_t m = collect(score, label, n, &v);
    if (!v)
        return NAN;
    double pos = 0;
    for (size_t i = 0; i < m; i++)
        pos += v[i].y == 1;
    double ap = 0, tp = 0, prev_recall = 0;
    /* descending thresholds; each distinct score is one threshold */
    for (size_t j = m; j > 0;) {
        size_t i = j;
        while (i > 0 && v[i - 1].s == v[j - 1].s)
            i--;
        for (size_t k = i; k < j; k++)
            tp += v[k].y == 1;
        double flagged = (double)(m - i);
        double recall = pos > 0 ? tp / pos : 0;
        ap += (recall - prev_recall) * (tp / flagged);
        prev_recall = recall;
        j = i;
    }
    free(v);
    return pos > 0 && pos < (double)m ? ap : NAN;
}

/* ------------------------------------------------------------------ */
/* figures                                                            */

static bool flagged(uint8_t d)
{
    return d != RG_ALLOW;
}

static cJSON *num(double x)
{
    return cJSON_CreateNumber(x); /* NaN and infinities print as null */
}

static void add_num(cJSON *o, const char *k, double x)
{
    cJSON_AddItemToObject(o, k, num(x));
}

static cJSON *amounts_obj(const struct rg_rp_run *r, const double *per_cur)
{
    cJSON *o = cJSON_CreateObject();
    for (int c = 0; c < r->n_currencies; c++)
        if (per_cur[c] != 0)
            add_num(o, r->currencies[c], round(per_cur[c] * 100) / 100);
    return o;
}

struct totals {
    double fraud, legit;
};

static cJSON *mix_obj(const struct rg_rp_run *r, bool cand, const struct totals *t)
{
    uint64_t m[3] = { 0, 0, 0 };
    double fraud_flagged = 0, legit_flagged = 0;
    for (size_t i = 0; i < r->n_ev; i++) {
        uint8_t d = cand ? r->ev[i].cand : r->ev[i].decision;
        m[d]++;
        if (flagged(d)) {
            if (r->ev[i].label == 1)
                fraud_flagged++;
            else
                legit_flagged++;
        }
    }
    cJSON *o = cJSON_CreateObject();
    add_num(o, "allow", (double)m[0]);
    add_num(o, "step_up", (double)m[1]);
    add_num(o, "deny", (double)m[2]);
    add_num(o, "fraud_caught", fraud_flagged);
    add_num(o, "fraud_caught_share", ratio(fraud_flagged, t->fraud));
    add_num(o, "legit_flagged", legit_flagged);
    add_num(o, "friction", ratio(legit_flagged, t->legit));
    return o;
}

struct ru {
    uint32_t rule, user;
};

static int cmp_ru(const void *a, const void *b)
{
    const struct ru *x = a, *y = b;
    if (x->rule != y->rule)
        return x->rule < y->rule ? -1 : 1;
    return (x->user > y->user) - (x->user < y->user);
}

static cJSON *rules_arr(const struct rg_rp_run *r, const struct totals *t)
{
    cJSON *arr = cJSON_CreateArray();
    size_t nr = r->n_rules;
    if (!nr)
        return arr;
    uint64_t *hits = calloc(nr, sizeof(*hits)), *fraud_hits = calloc(nr, sizeof(*fraud_hits));
    uint64_t *flag_legit = calloc(nr, sizeof(*flag_legit));
    double *amt = calloc(nr * RG_RP_MAX_CURRENCIES, sizeof(*amt));
    struct ru *pairs = malloc((r->n_hits ? r->n_hits : 1) * sizeof(*pairs));
    size_t np = 0;
    if (!hits || !fraud_hits || !flag_legit || !amt || !pairs)
        goto out;
    for (size_t i = 0; i < r->n_ev; i++) {
        const struct rg_rp_event *e = &r->ev[i];
        for (unsigned k = 0; k < e->n_hits; k++) {
            uint16_t h = r->hits[e->hits_off + k];
            uint32_t idx = h >> 2;
            bool flag = h & 1;
            hits[idx]++;
            if (e->label == 1) {
                fraud_hits[idx]++;
                if (flag)
                    amt[idx * RG_RP_MAX_CURRENCIES + e->currency] += e->amount;
            } else if (flag) {
                flag_legit[idx]++;
                pairs[np++] = (struct ru){ idx, e->user };
            }
        }
    }
    qsort(pairs, np, sizeof(*pairs), cmp_ru);
    uint64_t *distinct = calloc(nr, sizeof(*distinct));
    if (!distinct)
        goto out;
    for (size_t i = 0; i < np; i++)
        if (i == 0 || cmp_ru(&pairs[i], &pairs[i - 1]) != 0)
            distinct[pairs[i].rule]++;
    for (size_t i = 0; i < nr; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", r->rule_ids[i]);
        cJSON_AddBoolToObject(o, "shadow", r->rule_shadow[i]);
        add_num(o, "hits", (double)hits[i]);
        add_num(o, "fraud_hits", (double)fraud_hits[i]);
        add_num(o, "precision", ratio((double)fraud_hits[i], (double)hits[i]));
        add_num(o, "recall", ratio((double)fraud_hits[i], t->fraud));
        cJSON_AddItemToObject(o, "fraud_amount_caught",
                              amounts_obj(r, amt + i * RG_RP_MAX_CURRENCIES));
        add_num(o, "legit_events_flagged", (double)flag_legit[i]);
        add_num(o, "good_users_flagged", (double)distinct[i]);
        cJSON_AddItemToArray(arr, o);
    }
    free(distinct);
out:
    free(hits);
    free(fraud_hits);
    free(flag_legit);
    free(amt);
    free(pairs);
    return arr;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Curve and recommended thresholds on the current model's score. */
static cJSON *curve_obj(const struct rg_rp_run *r, const struct totals *t)
{
    cJSON *o = cJSON_CreateObject();
    struct sl *v = malloc((r->n_ev ? r->n_ev : 1) * sizeof(*v));
    double *legit = malloc((r->n_ev ? r->n_ev : 1) * sizeof(*legit));
    size_t m = 0, nl = 0;
    if (!v || !legit)
        goto out;
    for (size_t i = 0; i < r->n_ev; i++) {
        if (isnan(r->ev[i].score))
            continue;
        int8_t y = r->ev[i].label == 1 ? 1 : 0;
        v[m++] = (struct sl){ r->ev[i].score, y };
        if (!y)
            legit[nl++] = r->ev[i].score;
    }
    cJSON_AddBoolToObject(o, "available", m > 0);
    add_num(o, "friction_budget", r->friction_budget);
    if (!m)
        goto out;
    qsort(v, m, sizeof(*v), cmp_sl_asc);
    qsort(legit, nl, sizeof(*legit), cmp_dbl);
    double pos = 0;
    for (size_t i = 0; i < m; i++)
        pos += v[i].y;
    double neg = (double)m - pos;

    /* step_up_at: the smallest threshold t with share(legit >= t) <= budget */
    double step_up_at = 1.0;
    if (nl) {
        size_t k = (size_t)floor(r->friction_budget * (double)nl);
        step_up_at = k < nl ? nextafter(legit[nl - k - 1], INFINITY) : 0.0;
        if (step_up_at > 1.0)
            step_up_at = 1.0;
    }
    /* points, descending thresholds; tp/fp are counts at score >= s */
    cJSON *pts = cJSON_CreateArray();
    double tp = 0, fp = 0, last_f = -1, last_c = -1, deny_at = 1.0;
    double su_f = 0, su_c = 0, de_f = 0, de_c = 0;
    bool deny_found = false;
    size_t j = m;
    /* thresholds ascending for deny_at need counts at >= s: precompute by
     * walking descending and remembering the lowest qualifying s */
    while (j > 0) {
        size_t i = j;
        while (i > 0 && v[i - 1].s == v[j - 1].s)
            i--;
        for (size_t k = i; k < j; k++) {
            if (v[k].y)
                tp++;
            else
                fp++;
        }
        double s = v[i].s, fr = ratio(fp, neg), ca = ratio(tp, pos);
        if (s >= step_up_at) {
            su_f = fr;
            su_c = ca;
            if (tp + fp >= DENY_MIN_FLAGGED && tp / (tp + fp) >= DENY_PRECISION) {
                deny_at = s; /* keeps the lowest qualifying threshold */
                deny_found = true;
                de_f = fr;
                de_c = ca;
            }
        }
        if (i == 0 || last_f < 0 || fr - last_f >= 0.0005 || ca - last_c >= 0.005) {
            cJSON *p = cJSON_CreateObject();
            add_num(p, "threshold", s);
            add_num(p, "friction", fr);
            add_num(p, "caught", ca);
            cJSON_AddItemToArray(pts, p);
            last_f = fr;
            last_c = ca;
        }
        j = i;
    }
    cJSON *rec = cJSON_CreateObject();
    add_num(rec, "step_up_at", step_up_at);
    add_num(rec, "friction_at_step_up", su_f);
    add_num(rec, "caught_at_step_up", su_c);
    add_num(rec, "deny_at", deny_at);
    cJSON_AddBoolToObject(rec, "deny_found", deny_found);
    add_num(rec, "friction_at_deny", deny_found ? de_f : 0);
    add_num(rec, "caught_at_deny", deny_found ? de_c : 0);
    add_num(rec, "deny_rule_precision", DENY_PRECISION);
    cJSON_AddItemToObject(o, "recommended", rec);
    cJSON_AddItemToObject(o, "points", pts);
    (void)t;
out:
    free(v);
    free(legit);
    return o;
}

struct sc_ev {
    uint8_t sc;
    uint32_t user;
    int64_t ts;
    bool caught;
};

static int cmp_sc(const void *a, const void *b)
{
    const struct sc_ev *x = a, *y = b;
    if (x->sc != y->sc)
        return x->sc < y->sc ? -1 : 1;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    return (x->ts > y->ts) - (x->ts < y->ts);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static cJSON *scenarios_arr(const struct rg_rp_run *r)
{
    cJSON *arr = cJSON_CreateArray();
    size_t n = 0;
    for (size_t i = 0; i < r->n_ev; i++)
        n += r->ev[i].label == 1;
    struct sc_ev *v = malloc((n ? n : 1) * sizeof(*v));
    int64_t *ttc = malloc((n ? n : 1) * sizeof(*ttc));
    if (!v || !ttc)
        goto out;
    n = 0;
    for (size_t i = 0; i < r->n_ev; i++)
        if (r->ev[i].label == 1)
            v[n++] = (struct sc_ev){ r->ev[i].scenario, r->ev[i].user, r->ev[i].ts_ms,
                                     flagged(r->ev[i].decision) };
    qsort(v, n, sizeof(*v), cmp_sc);
    for (size_t i = 0; i < n;) {
        uint8_t sc = v[i].sc;
        size_t events = 0, caught = 0, users = 0, users_caught = 0, nt = 0;
        while (i < n && v[i].sc == sc) {
            uint32_t u = v[i].user;
            int64_t first = v[i].ts, first_catch = -1;
            users++;
            for (; i < n && v[i].sc == sc && v[i].user == u; i++) {
                events++;
                if (v[i].caught) {
                    caught++;
                    if (first_catch < 0)
                        first_catch = v[i].ts;
                }
            }
            if (first_catch >= 0) {
                users_caught++;
                ttc[nt++] = first_catch - first;
            }
        }
        qsort(ttc, nt, sizeof(*ttc), cmp_i64);
        double med = NAN;
        if (nt)
            med = nt % 2 ? (double)ttc[nt / 2] : ((double)ttc[nt / 2 - 1] + (double)ttc[nt / 2]) / 2;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "scenario", sc ? r->scenarios[sc] : "(none)");
        add_num(o, "events", (double)events);
        add_num(o, "caught", (double)caught);
        add_num(o, "missed", (double)(events - caught));
        add_num(o, "caught_share", ratio((double)caught, (double)events));
        add_num(o, "users", (double)users);
        add_num(o, "users_caught", (double)users_caught);
        add_num(o, "median_time_to_first_catch_s", isnan(med) ? NAN : med / 1000.0);
        cJSON_AddItemToArray(arr, o);
    }
out:
    free(v);
    free(ttc);
    return arr;
}

struct du {
    int64_t day;
    uint32_t user;
    double score;
    bool fraud;
};

static int cmp_du(const void *a, const void *b)
{
    const struct du *x = a, *y = b;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    return (x->user > y->user) - (x->user < y->user);
}

/* within a day: score descending, then user index (first seen) ascending */
static int cmp_du_rank(const void *a, const void *b)
{
    const struct du *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->user > y->user) - (x->user < y->user);
}

static cJSON *detection_obj(const struct rg_rp_run *r)
{
    cJSON *o = cJSON_CreateObject();
    size_t n = r->n_ev;
    double *s = malloc((n ? n : 1) * sizeof(*s));
    int8_t *y = malloc(n ? n : 1);
    struct du *d = malloc((n ? n : 1) * sizeof(*d));
    size_t m = 0;
    if (!s || !y || !d)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const struct rg_rp_event *e = &r->ev[i];
        if (isnan(e->score))
            continue;
        s[m] = e->score;
        y[m] = e->label == 1 ? 1 : 0;
        int64_t day = e->ts_ms >= 0 ? e->ts_ms / DAY_MS : -((-e->ts_ms + DAY_MS - 1) / DAY_MS);
        d[m] = (struct du){ day, e->user, e->score, e->label == 1 };
        m++;
    }
    cJSON_AddBoolToObject(o, "available", m > 0);
    if (!m)
        goto out;
    add_num(o, "auc_roc", rg_replay_auc(s, y, m));
    add_num(o, "average_precision", rg_replay_avg_precision(s, y, m));
    /* per (day, user): max score, fraud when any event of that day is */
    qsort(d, m, sizeof(*d), cmp_du);
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        if (k && d[k - 1].day == d[i].day && d[k - 1].user == d[i].user) {
            if (d[i].score > d[k - 1].score)
                d[k - 1].score = d[i].score;
            d[k - 1].fraud |= d[i].fraud;
        } else {
            d[k++] = d[i];
        }
    }
    cJSON *days = cJSON_CreateArray();
    double all_taken = 0, all_fraud = 0;
    for (size_t i = 0; i < k;) {
        size_t j = i;
        while (j < k && d[j].day == d[i].day)
            j++;
        qsort(d + i, j - i, sizeof(*d), cmp_du_rank);
        size_t take = j - i < TOP_USERS_PER_DAY ? j - i : TOP_USERS_PER_DAY;
        double fr = 0;
        for (size_t q = 0; q < take; q++)
            fr += d[i + q].fraud;
        char date[16];
        int64_t z = d[i].day + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned)(z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
        unsigned dd = doy - (153 * mp + 2) / 5 + 1, mm = mp < 10 ? mp + 3 : mp - 9;
        long yy = (long)yoe + (long)era * 400 + (mm <= 2);
        snprintf(date, sizeof(date), "%04ld-%02u-%02u", yy % 10000, mm % 100, dd % 100);
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "day", date);
        add_num(p, "users", (double)(j - i));
        add_num(p, "top", (double)take);
        add_num(p, "fraud_users_in_top", fr);
        add_num(p, "precision", ratio(fr, (double)take));
        cJSON_AddItemToArray(days, p);
        all_taken += (double)take;
        all_fraud += fr;
        i = j;
    }
    add_num(o, "top_users_per_day", TOP_USERS_PER_DAY);
    add_num(o, "precision_top_users_per_day", ratio(all_fraud, all_taken));
    cJSON_AddItemToObject(o, "days", days);
out:
    free(s);
    free(y);
    free(d);
    return o;
}

static cJSON *candidate_obj(const struct rg_rp_run *r, const struct totals *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", r->cand_model_version ? r->cand_model_version : "");
    cJSON_AddStringToObject(o, "ruleset", r->cand_ruleset_version ? r->cand_ruleset_version : "");
    cJSON_AddItemToObject(o, "verdicts", mix_obj(r, true, t));
    add_num(o, "changed", (double)r->changed);
    uint64_t tr[3][3] = { { 0 } };
    double d_caught = 0, d_legit = 0;
    for (size_t i = 0; i < r->n_ev; i++) {
        const struct rg_rp_event *e = &r->ev[i];
        tr[e->decision][e->cand]++;
        int delta = (int)flagged(e->cand) - (int)flagged(e->decision);
        if (e->label == 1)
            d_caught += delta;
        else
            d_legit += delta;
    }
    cJSON *m = cJSON_CreateArray();
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            if (a != b && tr[a][b]) {
                cJSON *p = cJSON_CreateObject();
                cJSON_AddStringToObject(p, "from", rg_decision_str(a));
                cJSON_AddStringToObject(p, "to", rg_decision_str(b));
                add_num(p, "events", (double)tr[a][b]);
                cJSON_AddItemToArray(m, p);
            }
    cJSON_AddItemToObject(o, "transitions", m);
    add_num(o, "net_fraud_caught", d_caught);
    add_num(o, "net_fraud_caught_share", ratio(d_caught, t->fraud));
    add_num(o, "net_legit_flagged", d_legit);
    add_num(o, "net_friction", ratio(d_legit, t->legit));
    cJSON *smp = cJSON_CreateArray();
    for (size_t i = 0; i < r->n_sample; i++) {
        const struct rg_rp_changed *c = &r->sample[i];
        cJSON *p = cJSON_CreateObject();
        const char *eid = rg_rp_str(&r->ids, c->id_off);
        cJSON_AddStringToObject(p, "event_id", eid);
        cJSON_AddStringToObject(p, "from", rg_decision_str(c->from));
        cJSON_AddStringToObject(p, "to", rg_decision_str(c->to));
        uint32_t li = rg_rp_strmap_get(&r->label_map, &r->label_ids, r->label_off, eid);
        cJSON_AddStringToObject(p, "label", li == UINT32_MAX ? "unlabelled"
                                            : r->labels[li].label ? "fraud" : "legit");
        cJSON_AddItemToArray(smp, p);
    }
    cJSON_AddItemToObject(o, "sample", smp);
    return o;
}

static cJSON *build(const struct rg_rp_run *r)
{
    struct totals t = { 0, 0 };
    for (size_t i = 0; i < r->n_ev; i++) {
        if (r->ev[i].label == 1)
            t.fraud++;
        else
            t.legit++;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "report", "riskgate replay backtest");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON *in = cJSON_AddObjectToObject(root, "input");
    cJSON_AddStringToObject(in, "events_file", r->events_path ? r->events_path : "");
    cJSON_AddStringToObject(in, "feedback_file", r->feedback_path ? r->feedback_path : "");
    add_num(in, "event_lines", (double)r->event_lines);
    add_num(in, "events_decided", (double)r->n_ev);
    add_num(in, "events_rejected", (double)r->events_rejected);
    cJSON *rej = cJSON_AddObjectToObject(in, "rejected_by_reason");
    for (int k = 0; k < RG_DLQ_REASON_COUNT; k++)
        if (r->rejected_by_reason[k])
            add_num(rej, rg_dlq_reason_code(k), (double)r->rejected_by_reason[k]);
    add_num(in, "feedback_lines", (double)r->feedback_lines);
    add_num(in, "feedback_rejected", (double)r->feedback_rejected);
    add_num(in, "labels", (double)r->labels_seen);
    add_num(in, "labels_unmatched", (double)r->labels_unmatched);
    add_num(in, "settings", (double)r->settings_seen);
    add_num(in, "auth_results", (double)r->auth_results_seen);
    add_num(in, "late_events", (double)r->late_events);
    add_num(in, "users", (double)r->n_users);
    add_num(in, "fraud_events", t.fraud);
    add_num(in, "legit_events", t.legit);
    uint64_t degraded = 0;
    for (size_t i = 0; i < r->n_ev; i++)
        degraded += r->ev[i].degraded;
    add_num(in, "degraded_events", (double)degraded);

    cJSON *cur = cJSON_AddObjectToObject(root, "current");
    cJSON_AddStringToObject(cur, "model", r->model_version ? r->model_version : "");
    cJSON_AddStringToObject(cur, "ruleset", r->ruleset_version ? r->ruleset_version : "");
    cJSON_AddItemToObject(cur, "verdicts", mix_obj(r, false, &t));
    cJSON_AddItemToObject(root, "rules", rules_arr(r, &t));
    cJSON_AddItemToObject(root, "threshold_curve", curve_obj(r, &t));
    cJSON_AddItemToObject(root, "scenarios", scenarios_arr(r));
    cJSON_AddItemToObject(root, "detection", detection_obj(r));
    if (r->has_candidate)
        cJSON_AddItemToObject(root, "candidate", candidate_obj(r, &t));
    return root;
}

/* ------------------------------------------------------------------ */
/* HTML                                                               */

static void esc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *js(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static const cJSON *jo(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static void pct(FILE *f, double x)
{
    if (isnan(x))
        fputs("n/a", f);
    else
        fprintf(f, "%.2f%%", x * 100);
}

static void cnt(FILE *f, double x)
{
    if (isnan(x))
        fputs("n/a", f);
    else
        fprintf(f, "%.0f", x);
}

static void amounts(FILE *f, const cJSON *o)
{
    const cJSON *it;
    bool any = false;
    cJSON_ArrayForEach(it, o) {
        fprintf(f, "%s%.2f %s", any ? ", " : "", it->valuedouble, it->string);
        any = true;
    }
    if (!any)
        fputs("0", f);
}

static void svg_bars(FILE *f, const char *title, const char *const *labels, const double *v,
                     const char *const *colors, int n)
{
    double mx = 0;
    for (int i = 0; i < n; i++)
        if (v[i] > mx)
            mx = v[i];
    int h = 28 * n + 30;
    fprintf(f, "<svg width=\"560\" height=\"%d\" role=\"img\" aria-label=\"", h);
    esc(f, title);
    fputs("\">\n", f);
    fprintf(f, "<text x=\"0\" y=\"14\" font-weight=\"bold\">");
    esc(f, title);
    fputs("</text>\n", f);
    for (int i = 0; i < n; i++) {
        double w = mx > 0 ? v[i] / mx * 360 : 0;
        int y = 24 + 28 * i;
        fprintf(f, "<text x=\"0\" y=\"%d\">", y + 15);
        esc(f, labels[i]);
        fprintf(f, "</text><rect x=\"110\" y=\"%d\" width=\"%.1f\" height=\"20\" fill=\"%s\"/>"
                   "<text x=\"%.1f\" y=\"%d\">%.0f</text>\n",
                y, w, colors[i], 115 + w, y + 15, v[i]);
    }
    fputs("</svg>\n", f);
}

static void svg_curve(FILE *f, const cJSON *curve, const cJSON *cur_mix, const cJSON *cand_mix)
{
    const cJSON *pts = jo(curve, "points"), *rec = jo(curve, "recommended");
    double budget = jnum(curve, "friction_budget");
    double xmax = budget * 4 > 0.02 ? budget * 4 : 0.02;
    if (xmax > 1)
        xmax = 1;
    const int W = 560, H = 360, L = 60, B = 40, T = 20, R = 20;
    double pw = W - L - R, ph = H - T - B;
#define SX(x) (L + (x) / xmax * pw)
#define SY(y) (T + (1 - (y)) * ph)
    fprintf(f, "<svg width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"friction versus fraud "
               "caught\">\n<defs><clipPath id=\"plot\"><rect x=\"%d\" y=\"%d\" width=\"%.0f\" "
               "height=\"%.0f\"/></clipPath></defs>\n",
            W, H, L, T, pw, ph);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
               "stroke=\"#999\"/>\n", L, T, pw, ph);
    for (int k = 0; k <= 4; k++) {
        double x = xmax * k / 4, y = k / 4.0;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#eee\"/>"
                   "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\">%.1f%%"
                   "</text>\n",
                SX(x), T, SX(x), T + ph, SX(x), H - B + 15, x * 100);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#eee\"/>"
                   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%.0f%%</text>\n",
                L, SY(y), L + pw, SY(y), L - 5, SY(y) + 4, y * 100);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\">friction (share of good events "
               "stepped up or denied)</text>\n", L + pw / 2, H - 5);
    fprintf(f, "<text x=\"14\" y=\"%.0f\" transform=\"rotate(-90 14 %.0f)\" "
               "text-anchor=\"middle\">fraud events caught</text>\n", T + ph / 2, T + ph / 2);
    fputs("<polyline clip-path=\"url(#plot)\" fill=\"none\" stroke=\"#1f77b4\" "
          "stroke-width=\"2\" points=\"", f);
    const cJSON *p;
    cJSON_ArrayForEach(p, pts) {
        fprintf(f, "%.1f,%.1f ", SX(jnum(p, "friction")), SY(jnum(p, "caught")));
    }
    fputs("\"/>\n", f);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#d62728\" "
               "stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%d\" font-size=\"11\" "
               "fill=\"#d62728\">budget</text>\n",
            SX(budget), T, SX(budget), T + ph, SX(budget) + 3, T + 12);
    if (rec) {
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"#d62728\"><title>recommended "
                   "step_up_at</title></circle>\n",
                SX(jnum(rec, "friction_at_step_up")), SY(jnum(rec, "caught_at_step_up")));
    }
    const cJSON *mixes[2] = { cur_mix, cand_mix };
    const char *col[2] = { "#2ca02c", "#9467bd" }, *name[2] = { "current", "candidate" };
    for (int k = 0; k < 2; k++) {
        if (!mixes[k] || isnan(jnum(mixes[k], "friction")))
            continue;
        double x = jnum(mixes[k], "friction"), y = jnum(mixes[k], "fraud_caught_share");
        if (isnan(y))
            continue;
        fprintf(f, "<rect clip-path=\"url(#plot)\" x=\"%.1f\" y=\"%.1f\" width=\"9\" "
                   "height=\"9\" fill=\"%s\"><title>%s configuration</title></rect>\n",
                SX(x) - 4.5, SY(y) - 4.5, col[k], name[k]);
    }
    fputs("</svg>\n", f);
#undef SX
#undef SY
}

static void verdict_row(FILE *f, const char *name, const cJSON *m)
{
    fprintf(f, "<tr><td>%s</td>", name);
    const char *keys[] = { "allow", "step_up", "deny", "fraud_caught" };
    for (int k = 0; k < 4; k++) {
        fputs("<td>", f);
        cnt(f, jnum(m, keys[k]));
        fputs("</td>", f);
    }
    fputs("<td>", f);
    pct(f, jnum(m, "fraud_caught_share"));
    fputs("</td><td>", f);
    cnt(f, jnum(m, "legit_flagged"));
    fputs("</td><td>", f);
    pct(f, jnum(m, "friction"));
    fputs("</td></tr>\n", f);
}

static void write_html(FILE *f, const cJSON *root)
{
    const cJSON *in = jo(root, "input"), *cur = jo(root, "current");
    const cJSON *cand = jo(root, "candidate"), *curve = jo(root, "threshold_curve");
    const cJSON *det = jo(root, "detection");
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<title>riskgate replay backtest</title>\n<style>\n"
          "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}\n"
          "table{border-collapse:collapse;margin:0.5em 0 1.5em}\n"
          "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\n"
          "td:first-child,th:first-child{text-align:left}\nth{background:#f3f3f3}\n"
          "svg{font-family:sans-serif;font-size:12px;display:block;margin:0.5em 0 1.5em}\n"
          ".note{color:#666;font-size:90%}\n</style></head><body>\n"
          "<h1>riskgate replay backtest</h1>\n", f);
    fputs("<p class=\"note\">Every number here is also in report.json. Ground truth: an event is "
          "fraud when a <code>fraud</code> label for it is in the feedback file; unlabelled "
          "events count as legit. Flagged = step_up or deny. Definitions: docs/replay.md.</p>\n",
          f);

    fputs("<h2>Input</h2>\n<table>\n", f);
    static const char *const in_keys[] = { "event_lines", "events_decided", "events_rejected",
                                           "feedback_lines", "feedback_rejected", "labels",
                                           "labels_unmatched", "users", "fraud_events",
                                           "legit_events", "late_events", "degraded_events" };
    fprintf(f, "<tr><td>events file</td><td>");
    esc(f, js(in, "events_file"));
    fprintf(f, "</td></tr>\n<tr><td>feedback file</td><td>");
    esc(f, js(in, "feedback_file"));
    fputs("</td></tr>\n", f);
    for (size_t k = 0; k < sizeof(in_keys) / sizeof(in_keys[0]); k++) {
        fprintf(f, "<tr><td>%s</td><td>", in_keys[k]);
        cnt(f, jnum(in, in_keys[k]));
        fputs("</td></tr>\n", f);
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, jo(in, "rejected_by_reason")) {
        fputs("<tr><td>rejected: ", f);
        esc(f, it->string);
        fprintf(f, "</td><td>%.0f</td></tr>\n", it->valuedouble);
    }
    fputs("</table>\n", f);

    fputs("<h2>Verdicts</h2>\n", f);
    fputs("<p>Current: model <code>", f);
    esc(f, js(cur, "model"));
    fputs("</code>, ruleset <code>", f);
    esc(f, js(cur, "ruleset"));
    fputs("</code>.</p>\n", f);
    const cJSON *m = jo(cur, "verdicts");
    const char *vl[3] = { "allow", "step_up", "deny" };
    const char *vc[3] = { "#2ca02c", "#ff7f0e", "#d62728" };
    double vv[3] = { jnum(m, "allow"), jnum(m, "step_up"), jnum(m, "deny") };
    svg_bars(f, "Verdict mix (current)", vl, vv, vc, 3);
    fputs("<table><tr><th>configuration</th><th>allow</th><th>step_up</th><th>deny</th>"
          "<th>fraud caught</th><th>caught share</th><th>good events flagged</th>"
          "<th>friction</th></tr>\n", f);
    verdict_row(f, "current", m);
    if (cand)
        verdict_row(f, "candidate", jo(cand, "verdicts"));
    fputs("</table>\n", f);

    fputs("<h2>Rules</h2>\n", f);
    if (cJSON_GetArraySize(jo(root, "rules")) == 0) {
        fputs("<p>No rules loaded.</p>\n", f);
    } else {
        fputs("<table><tr><th>rule</th><th>hits</th><th>fraud hits</th><th>precision</th>"
              "<th>recall</th><th>fraud amount caught</th><th>good events flagged</th>"
              "<th>good users flagged</th></tr>\n", f);
        cJSON_ArrayForEach(it, jo(root, "rules")) {
            fputs("<tr><td>", f);
            esc(f, js(it, "id"));
            if (cJSON_IsTrue(jo(it, "shadow")))
                fputs(" (shadow)", f);
            fputs("</td><td>", f);
            cnt(f, jnum(it, "hits"));
            fputs("</td><td>", f);
            cnt(f, jnum(it, "fraud_hits"));
            fputs("</td><td>", f);
            pct(f, jnum(it, "precision"));
            fputs("</td><td>", f);
            pct(f, jnum(it, "recall"));
            fputs("</td><td>", f);
            amounts(f, jo(it, "fraud_amount_caught"));
            fputs("</td><td>", f);
            cnt(f, jnum(it, "legit_events_flagged"));
            fputs("</td><td>", f);
            cnt(f, jnum(it, "good_users_flagged"));
            fputs("</td></tr>\n", f);
        }
        fputs("</table>\n", f);
    }

    fputs("<h2>Friction versus fraud caught (model score)</h2>\n", f);
    if (!cJSON_IsTrue(jo(curve, "available"))) {
        fputs("<p>No model loaded: no curve.</p>\n", f);
    } else {
        const cJSON *rec = jo(curve, "recommended");
        svg_curve(f, curve, m, cand ? jo(cand, "verdicts") : NULL);
        fputs("<p class=\"note\">Blue: model alone as its threshold sweeps. Red dot: recommended "
              "step_up_at. Squares: the actual current (green) and candidate (purple) verdicts "
              "(rules and model together). Dashed: friction budget.</p>\n", f);
        fprintf(f, "<table><tr><th>recommendation (friction budget %.4g)</th><th>threshold</th>"
                   "<th>friction</th><th>caught</th></tr>\n", jnum(curve, "friction_budget"));
        fprintf(f, "<tr><td>step_up_at</td><td>%.6g</td><td>", jnum(rec, "step_up_at"));
        pct(f, jnum(rec, "friction_at_step_up"));
        fputs("</td><td>", f);
        pct(f, jnum(rec, "caught_at_step_up"));
        fprintf(f, "</td></tr>\n<tr><td>deny_at (lowest threshold with precision &ge; %.0f%%)"
                   "</td><td>%.6g%s</td><td>",
                jnum(rec, "deny_rule_precision") * 100, jnum(rec, "deny_at"),
                cJSON_IsTrue(jo(rec, "deny_found")) ? "" : " (none reached it)");
        pct(f, jnum(rec, "friction_at_deny"));
        fputs("</td><td>", f);
        pct(f, jnum(rec, "caught_at_deny"));
        fputs("</td></tr>\n</table>\n", f);
    }

    fputs("<h2>Fraud scenarios (current)</h2>\n", f);
    if (cJSON_GetArraySize(jo(root, "scenarios")) == 0) {
        fputs("<p>No fraud labels.</p>\n", f);
    } else {
        fputs("<table><tr><th>scenario</th><th>events</th><th>caught</th><th>missed</th>"
              "<th>caught share</th><th>users</th><th>users caught</th>"
              "<th>median time to first catch</th></tr>\n", f);
        cJSON_ArrayForEach(it, jo(root, "scenarios")) {
            fputs("<tr><td>", f);
            esc(f, js(it, "scenario"));
            fputs("</td><td>", f);
            cnt(f, jnum(it, "events"));
            fputs("</td><td>", f);
            cnt(f, jnum(it, "caught"));
            fputs("</td><td>", f);
            cnt(f, jnum(it, "missed"));
            fputs("</td><td>", f);
            pct(f, jnum(it, "caught_share"));
            fputs("</td><td>", f);
            cnt(f, jnum(it, "users"));
            fputs("</td><td>", f);
            cnt(f, jnum(it, "users_caught"));
            double t = jnum(it, "median_time_to_first_catch_s");
            if (isnan(t))
                fputs("</td><td>n/a</td></tr>\n", f);
            else
                fprintf(f, "</td><td>%.1f s</td></tr>\n", t);
        }
        fputs("</table>\n", f);
    }

    if (cand) {
        fputs("<h2>Candidate versus current</h2>\n<p>Candidate: model <code>", f);
        esc(f, js(cand, "model"));
        fputs("</code>, ruleset <code>", f);
        esc(f, js(cand, "ruleset"));
        fputs("</code>. Both decided the same feature vectors in one pass.</p>\n<table>", f);
        fputs("<tr><td>decisions changed</td><td>", f);
        cnt(f, jnum(cand, "changed"));
        fputs("</td></tr>\n<tr><td>net fraud events caught</td><td>", f);
        fprintf(f, "%+.0f (", jnum(cand, "net_fraud_caught"));
        pct(f, jnum(cand, "net_fraud_caught_share"));
        fputs(")</td></tr>\n<tr><td>net good events flagged</td><td>", f);
        fprintf(f, "%+.0f (", jnum(cand, "net_legit_flagged"));
        pct(f, jnum(cand, "net_friction"));
        fputs(")</td></tr>\n", f);
        cJSON_ArrayForEach(it, jo(cand, "transitions")) {
            fprintf(f, "<tr><td>%s &rarr; %s</td><td>%.0f</td></tr>\n", js(it, "from"),
                    js(it, "to"), jnum(it, "events"));
        }
        fputs("</table>\n<table><tr><th>event_id (sample)</th><th>current</th><th>candidate</th>"
              "<th>label</th></tr>\n", f);
        cJSON_ArrayForEach(it, jo(cand, "sample")) {
            fputs("<tr><td>", f);
            esc(f, js(it, "event_id"));
            fprintf(f, "</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", js(it, "from"),
                    js(it, "to"), js(it, "label"));
        }
        fputs("</table>\n", f);
    }

    fputs("<h2>Detection metrics of the model score</h2>\n", f);
    if (!cJSON_IsTrue(jo(det, "available"))) {
        fputs("<p>No model loaded.</p>\n", f);
    } else {
        fputs("<table><tr><td>AUC ROC</td><td>", f);
        fprintf(f, "%.4f</td></tr>\n<tr><td>average precision</td><td>%.4f</td></tr>\n",
                jnum(det, "auc_roc"), jnum(det, "average_precision"));
        fprintf(f, "<tr><td>precision of the top %.0f users per UTC day (by max score)</td><td>",
                jnum(det, "top_users_per_day"));
        pct(f, jnum(det, "precision_top_users_per_day"));
        fputs("</td></tr>\n</table>\n<table><tr><th>day</th><th>users</th><th>top</th>"
              "<th>fraud users in top</th><th>precision</th></tr>\n", f);
        cJSON_ArrayForEach(it, jo(det, "days")) {
            fprintf(f, "<tr><td>%s</td><td>%.0f</td><td>%.0f</td><td>%.0f</td><td>",
                    js(it, "day"), jnum(it, "users"), jnum(it, "top"), jnum(it, "fraud_users_in_top"));
            pct(f, jnum(it, "precision"));
            fputs("</td></tr>\n", f);
        }
        fputs("</table>\n", f);
    }
    fputs("</body></html>\n", f);
}

static int write_file(const char *dir, const char *name, const char *text, const cJSON *root)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return RG_EINVAL;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "riskgate replay: %s: %s\n", path, strerror(errno));
        return RG_EIO;
    }
    if (text) {
        fputs(text, f);
        fputc('\n', f);
    } else {
        write_html(f, root);
    }
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad)
        return RG_EIO;
    return 0;
}

int rg_rp_report_write(const struct rg_rp_run *r, const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "riskgate replay: %s: %s\n", dir, strerror(errno));
        return RG_EIO;
    }
    cJSON *root = build(r);
    if (!root)
        return RG_ENOMEM;
    char *text = cJSON_Print(root);
    int rc = text ? write_file(dir, "report.json", text, NULL) : RG_ENOMEM;
    if (rc == 0)
        rc = write_file(dir, "report.html", NULL, root);
    free(text);
    cJSON_Delete(root);
    return rc;
}
