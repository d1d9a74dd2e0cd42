/*
 * decide.c - one event through a ruleset: evaluate every rule, combine with
 * the model and anomaly scores under the policy, name the step-up method
 * and write the reasons.
 *
 * DESIGN: the hot path. Each rule's guards (rules_int.h) are tested inline
 * and its program runs only when they pass; matched rules are remembered
 * in an index array on the stack (RG_RULES_MAX entries), reason texts are rendered straight into the
 * verdict's fixed buffers and every string in the verdict is borrowed from
 * the ruleset, so nothing here allocates: the only calls out are
 * rg_prog_eval (fixed stack), snprintf into fixed buffers and
 * rg_verdict_add_reason (fixed array). Keep it that way.
 *
 * Reasons are ordered by what decided: forced_allow first; else the rules
 * whose `then` equals the outcome, the model / anomaly reasons, the
 * escalation reasons, and last the matched rules that did not decide
 * (e.g. a step_up rule when something denied). When more than
 * RG_VERDICT_MAX_REASONS apply, the tail is dropped; v->rules still lists
 * every matched enforced rule up to RG_VERDICT_MAX_RULES.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "riskgate/utf8.h"
#include "riskgate/err.h"
#include "riskgate/feature.h"
#include "rules_int.h"

static size_t append(char *out, size_t cap, size_t o, const char *s, size_t n)
{
    if (o + 1 >= cap)
        return o;
    if (n > cap - 1 - o)
        n = cap - 1 - o;
    memcpy(out + o, s, n);
    out[o + n] = '\0';
    return o + n;
}

static size_t append_num(char *out, size_t cap, size_t o, double v)
{
    char b[48];
    int n;
    if (isnan(v)) {
        n = snprintf(b, sizeof(b), "missing");
    } else if (v == floor(v) && fabs(v) < 1e15) {
        /* Counts are the common case; printf's float path is slow. */
        long long i = (long long)v;
        unsigned long long u = i < 0 ? (unsigned long long)-i : (unsigned long long)i;
        char t[24];
        int k = 0;
        do {
            t[k++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        n = 0;
        if (i < 0)
            b[n++] = '-';
        while (k)
            b[n++] = t[--k];
        b[n] = '\0';
    } else if (fabs(v) < 1e9) {
        /* Up to 4 decimals, trailing zeros dropped: enough for people. */
        long long q = llround(fabs(v) * 10000.0);
        long long ip = q / 10000, fp = q % 10000;
        char t[24];
        int k = 0;
        n = 0;
        if (v < 0 && q)
            b[n++] = '-';
        do {
            t[k++] = (char)('0' + ip % 10);
            ip /= 10;
        } while (ip);
        while (k)
            b[n++] = t[--k];
        if (fp) {
            char f[4] = {(char)('0' + fp / 1000), (char)('0' + fp / 100 % 10),
                         (char)('0' + fp / 10 % 10), (char)('0' + fp % 10)};
            int nf = 4;
            while (nf > 0 && f[nf - 1] == '0')
                nf--;
            b[n++] = '.';
            for (int j = 0; j < nf; j++)
                b[n++] = f[j];
        }
        b[n] = '\0';
    } else {
        n = snprintf(b, sizeof(b), "%.10g", v);
    }
    return append(out, cap, o, b, (size_t)n);
}

void rg_rule_render_reason(const struct rg_rule *r, const struct rg_xctx *x, char *out,
                           size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    if (r->n_segs == 0 && r->description) {
        o = append(out, cap, 0, r->description, strlen(r->description));
    }
    for (size_t i = 0; i < r->n_segs; i++) {
        const struct rg_seg *s = &r->segs[i];
        switch (s->kind) {
        case RG_SEG_TEXT:
            o = append(out, cap, o, s->text, strlen(s->text));
            break;
        case RG_SEG_FEAT:
            o = append_num(out, cap, o, x->feat[s->slot]);
            break;
        case RG_SEG_SCORE:
            o = append_num(out, cap, o, x->score);
            break;
        case RG_SEG_ANOMALY:
            o = append_num(out, cap, o, x->anomaly);
            break;
        case RG_SEG_SFIELD: {
            const char *v = x->sfv[s->slot];
            if (!v)
                v = "missing";
            o = append(out, cap, o, v, strlen(v));
            break;
        }
        }
    }
    rg_utf8_trim_tail(out, o);
}

/* v with 3 decimals ("0.500"), without printf's slow float path. */
static size_t append_fixed3(char *out, size_t cap, size_t o, double v)
{
    if (!(fabs(v) < 1e9))
        return append_num(out, cap, o, v);
    long long q = llround(fabs(v) * 1000.0);
    char b[32];
    char t[24];
    int k = 0, n = 0;
    long long ip = q / 1000;
    do {
        t[k++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    if (v < 0 && q)
        b[n++] = '-';
    while (k)
        b[n++] = t[--k];
    b[n++] = '.';
    b[n++] = (char)('0' + q / 100 % 10);
    b[n++] = (char)('0' + q / 10 % 10);
    b[n++] = (char)('0' + q % 10);
    return append(out, cap, o, b, (size_t)n);
}

/* Append a reason with an empty detail for the caller to fill; NULL when
 * the list is full. Same contract as rg_verdict_add_reason() without a
 * format string: printf costs more than the rest of a rule here. */
static struct rg_reason *new_reason(struct rg_verdict *v, const char *code,
                                    enum rg_reason_source src)
{
    if (v->n_reasons < 0 || v->n_reasons >= RG_VERDICT_MAX_REASONS)
        return NULL;
    struct rg_reason *re = &v->reasons[v->n_reasons++];
    re->code = code;
    re->source = src;
    re->detail[0] = '\0';
    return re;
}

/* A reason whose detail is "<what> X >= <limit_name> Y". */
static void add_threshold_reason(struct rg_verdict *v, const char *code,
                                 enum rg_reason_source src, const char *what, double x,
                                 const char *limit_name, double y)
{
    struct rg_reason *re = new_reason(v, code, src);
    if (!re)
        return;
    char *d = re->detail;
    size_t cap = sizeof(v->reasons[0].detail), o = 0;
    o = append(d, cap, o, what, strlen(what));
    o = append(d, cap, o, " ", 1);
    o = append_fixed3(d, cap, o, x);
    o = append(d, cap, o, " >= ", 4);
    o = append(d, cap, o, limit_name, strlen(limit_name));
    o = append(d, cap, o, " ", 1);
    append_fixed3(d, cap, o, y);
}

static enum rg_decision worst(enum rg_decision a, enum rg_decision b)
{
    return a > b ? a : b;
}

static void add_rule_reason(struct rg_verdict *v, const struct rg_rule *r, const struct rg_xctx *x)
{
    struct rg_reason *re = new_reason(v, r->id, RG_SRC_RULE);
    if (re)
        rg_rule_render_reason(r, x, re->detail, sizeof(re->detail));
}

/* True when every guard of a rule holds. Numeric guards are inclusive
 * ranges (NaN fails both bounds, as a missing value must); the common
 * case is tested first. */
static inline bool guards_pass(const struct rg_guard *gd, const struct rg_xctx *x)
{
    for (int k = 0; k < RG_GUARDS; k++) {
        const struct rg_guard *g = &gd[k];
        if (g->kind == RG_GUARD_FEAT_RANGE) {
            double a = x->feat[g->slot];
            if (!(a >= g->u.num && a <= g->hi))
                return false;
            continue;
        }
        switch (g->kind) {
        case RG_GUARD_NONE:
            return true;
        case RG_GUARD_FEAT: { /* != */
            double a = x->feat[g->slot];
            if (isnan(a) || a == g->u.num)
                return false;
            break;
        }
        case RG_GUARD_SFIELD: {
            const char *a = x->sfv[g->slot];
            if (!a || (x->sfh[g->slot] == g->hash && strcmp(a, g->u.str) == 0) !=
                          (g->cmp == RG_CMP_EQ))
                return false;
            break;
        }
        default: { /* RG_GUARD_SFIELD_IN */
            const char *a = x->sfv[g->slot];
            if (!a || !rg_rlist_has_str(g->u.list, a, x->sfh[g->slot]))
                return false;
            break;
        }
        }
    }
    return true;
}

int rg_ruleset_decide(const struct rg_ruleset *rs, const struct rg_eval_ctx *ctx,
                      struct rg_verdict *v)
{
    if (!ctx || !ctx->txn || !ctx->feat || !v)
        return RG_EINVAL;
    struct rg_policy defp;
    const struct rg_policy *p = rs ? &rs->policy : NULL;
    if (!p) {
        rg_policy_default(&defp);
        p = &defp;
    }
    struct rg_xctx x;
    rg_xctx_init(&x, ctx->txn, ctx->feat, ctx->score, ctx->anomaly, rs ? rs->sf_hash_mask : 0);
    /* Matched enforced rules, in rule order (8 KB of stack at most). */
    uint16_t mt[RG_RULES_MAX];
    size_t nm = 0;
    size_t n = rs ? rs->n_rules : 0;
    long forced = -1;
    bool any_forced = false; /* enforced or shadow: for shadow_decision */
    enum rg_decision rules_dec = RG_ALLOW, all_dec = RG_ALLOW;

    v->n_rules = 0;
    v->n_shadow = 0;
    for (size_t i = 0; i < n; i++) {
        if (!guards_pass(rs->guards[i], &x))
            continue;
        const struct rg_rule *r = &rs->rules[i];
        if (rg_prog_eval(&r->prog, &x) != 1)
            continue; /* false or unknown: does not fire */
        if (ctx->rule_hits)
            ctx->rule_hits[i]++;
        all_dec = worst(all_dec, r->then);
        if (r->force)
            any_forced = true;
        if (r->shadow) {
            if (v->n_shadow < RG_VERDICT_MAX_SHADOW) {
                v->shadow[v->n_shadow].rule_id = r->id;
                v->shadow[v->n_shadow].decision = r->then;
                v->n_shadow++;
            }
            continue;
        }
        mt[nm++] = (uint16_t)i;
        if (v->n_rules < RG_VERDICT_MAX_RULES)
            v->rules[v->n_rules++] = r->id;
        rules_dec = worst(rules_dec, r->then);
        if (r->force && forced < 0)
            forced = (long)i;
    }

    /* The model and anomaly scores under the policy. */
    double score = ctx->score, anomaly = ctx->anomaly;
    enum rg_decision model_dec = RG_ALLOW;
    if (!isnan(score))
        model_dec = score >= p->deny_at ? RG_DENY : score >= p->step_up_at ? RG_STEP_UP : RG_ALLOW;
    bool anom = !isnan(p->anomaly_step_up_at) && !isnan(anomaly) &&
                anomaly >= p->anomaly_step_up_at;
    enum rg_decision base = worst(model_dec, anom ? RG_STEP_UP : RG_ALLOW);

    int failed = ctx->failed_step_ups_24h;
    bool deny_esc = p->deny_after_failed_step_ups > 0 && failed >= p->deny_after_failed_step_ups;
    enum rg_decision pre = forced >= 0 ? RG_ALLOW : worst(rules_dec, base);
    enum rg_decision out = pre == RG_STEP_UP && deny_esc ? RG_DENY : pre;
    enum rg_decision sd = any_forced ? RG_ALLOW : worst(all_dec, base);
    if (sd == RG_STEP_UP && deny_esc)
        sd = RG_DENY;
    v->decision = out;
    v->shadow_decision = sd;
    v->ruleset_version = rs ? rs->version : NULL;

    /* The step-up method: preferred, else a rule's, else the band's. */
    bool method_esc = false;
    v->method = RG_METHOD_NONE;
    v->ttl_s = 0;
    if (out == RG_STEP_UP) {
        enum rg_step_up_method m = ctx->preferred;
        for (size_t k = 0; m == RG_METHOD_NONE && k < nm; k++)
            if (rs->rules[mt[k]].then == RG_STEP_UP && rs->rules[mt[k]].method != RG_METHOD_NONE)
                m = rs->rules[mt[k]].method;
        if (m == RG_METHOD_NONE) {
            enum rg_band b = isnan(score) || score < p->step_up_at ? RG_BAND_LOW
                           : score < p->high_at                   ? RG_BAND_MEDIUM
                                                                  : RG_BAND_HIGH;
            m = p->band_method[b];
        }
        if (p->escalate_method_after_failed > 0 && failed >= p->escalate_method_after_failed &&
            m != p->escalate_method) {
            m = p->escalate_method;
            method_esc = true;
        }
        v->method = m;
        v->ttl_s = p->step_up_ttl_s;
    }

    /* Reasons, deciding ones first. */
    if (forced >= 0) {
        rg_verdict_add_reason(v, "forced_allow", RG_SRC_POLICY,
                              "rule %s forces allow over every other outcome",
                              rs->rules[forced].id);
        add_rule_reason(v, &rs->rules[forced], &x);
    } else {
        for (size_t k = 0; k < nm && pre != RG_ALLOW; k++)
            if (rs->rules[mt[k]].then == pre)
                add_rule_reason(v, &rs->rules[mt[k]], &x);
    }
    if (model_dec == RG_DENY)
        add_threshold_reason(v, "model_score_deny", RG_SRC_MODEL, "score", score, "deny_at",
                             p->deny_at);
    else if (model_dec == RG_STEP_UP)
        add_threshold_reason(v, "model_score_step_up", RG_SRC_MODEL, "score", score,
                             "step_up_at", p->step_up_at);
    if (anom)
        add_threshold_reason(v, "anomaly_step_up", RG_SRC_MODEL, "anomaly", anomaly,
                             "anomaly_step_up_at", p->anomaly_step_up_at);
    if (pre == RG_STEP_UP && deny_esc)
        rg_verdict_add_reason(v, "step_up_escalated", RG_SRC_POLICY,
                              "%d failed step-ups in 24h >= deny_after_failed_step_ups %d", failed,
                              p->deny_after_failed_step_ups);
    if (method_esc)
        rg_verdict_add_reason(v, "step_up_method_escalated", RG_SRC_POLICY,
                              "%d failed step-ups in 24h >= escalate_method_after_failed %d: %s",
                              failed, p->escalate_method_after_failed,
                              rg_method_str(p->escalate_method));
    for (size_t k = 0; k < nm; k++) {
        size_t i = mt[k];
        if ((long)i == forced)
            continue;
        if (forced < 0 && rs->rules[i].then == pre && pre != RG_ALLOW)
            continue; /* already listed as deciding */
        add_rule_reason(v, &rs->rules[i], &x);
    }
    return 0;
}
