/*
 * decider.c - a generation of decision logic and the per-event decision;
 * see include/riskgate/decider.h.
 */
#include "riskgate/decider.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "riskgate/clock.h"
#include "riskgate/err.h"
#include "riskgate/feature.h"
#include "riskgate/metrics.h"
#include "riskgate/model.h"
#include "riskgate/rules.h"

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

void rg_decider_free(struct rg_decider *dc)
{
    if (!dc)
        return;
    rg_model_free(dc->model);
    rg_model_free(dc->anomaly);
    rg_ruleset_free(dc->rs);
    free(dc->rule_slots);
    free(dc->rules_dir);
    free(dc->model_path);
    free(dc->anomaly_path);
    free(dc);
}

int rg_decider_load(const struct rg_conf *c, const char *rules_dir, const char *model_path,
                    const char *anomaly_path, struct rg_diags *d, struct rg_decider **out)
{
    *out = NULL;
    struct rg_decider *dc = calloc(1, sizeof(*dc));
    if (!dc)
        return RG_ENOMEM;
    dc->rules_dir = dup_or_null(rules_dir ? rules_dir : c->rules_dir);
    dc->model_path = dup_or_null(model_path ? model_path : c->model_path);
    dc->anomaly_path = dup_or_null(anomaly_path ? anomaly_path : c->anomaly_model_path);
    dc->builtin_step_up_amount = c->builtin_step_up_amount;
    dc->builtin_deny_amount = c->builtin_deny_amount;
    dc->step_up_ttl_s = c->step_up_ttl_s;
    dc->degradation = c->degradation;
    dc->explain_features = c->explain == RG_EXPLAIN_FEATURES;

    int rc = 0, r;
    if (dc->model_path) {
        r = rg_model_load_file(dc->model_path, d, &dc->model);
        if (r != 0)
            rc = r;
        else if (rg_model_kind(dc->model) != RG_MODEL_GBDT_PROB) {
            rg_diags_add(d, dc->model_path, 0, 0, "use model.anomaly_path for it",
                         "model.path must be a fraud-probability (XGBoost) model");
            rc = RG_EINVAL;
        }
    }
    if (dc->anomaly_path) {
        r = rg_model_load_file(dc->anomaly_path, d, &dc->anomaly);
        if (r != 0)
            rc = r;
        else if (rg_model_kind(dc->anomaly) != RG_MODEL_IFOREST) {
            rg_diags_add(d, dc->anomaly_path, 0, 0, NULL,
                         "model.anomaly_path must be an isolation-forest model");
            rc = RG_EINVAL;
        }
    }
    if (dc->rules_dir) {
        r = rg_ruleset_load_dir(dc->rules_dir, d, &dc->rs);
        if (r != 0)
            rc = r;
    }
    if (rc == 0 && dc->rs) {
        dc->n_rules = rg_ruleset_count(dc->rs);
        dc->rule_slots = calloc(dc->n_rules ? dc->n_rules : 1, sizeof(*dc->rule_slots));
        if (!dc->rule_slots)
            rc = RG_ENOMEM;
    }
    if (rc != 0) {
        rg_decider_free(dc);
        return rc;
    }
    *out = dc;
    return 0;
}

static void decide_degraded(const struct rg_decider *dc, struct rg_verdict *v)
{
    v->degraded = true;
    switch (dc->degradation) {
    case RG_DEGRADE_FAIL_OPEN:
        v->decision = RG_ALLOW;
        rg_verdict_add_reason(v, "degraded_fail_open", RG_SRC_POLICY,
                              "profile store unavailable; policy fail_open allows");
        break;
    case RG_DEGRADE_FAIL_CLOSED:
        v->decision = RG_DENY;
        rg_verdict_add_reason(v, "degraded_fail_closed", RG_SRC_POLICY,
                              "profile store unavailable; policy fail_closed denies");
        break;
    case RG_DEGRADE_STEP_UP:
        v->decision = RG_STEP_UP;
        v->method = RG_METHOD_OTP;
        v->ttl_s = dc->step_up_ttl_s;
        rg_verdict_add_reason(v, "degraded_step_up", RG_SRC_POLICY,
                              "profile store unavailable; policy step_up asks for OTP");
        break;
    }
}

static void decide_builtin(const struct rg_decider *dc, const struct rg_txn *txn,
                           const struct rg_user_ctx *u, struct rg_verdict *v)
{
    if (txn->amount >= dc->builtin_deny_amount) {
        v->decision = RG_DENY;
        rg_verdict_add_reason(v, "builtin_amount_policy", RG_SRC_POLICY,
                              "amount %.2f >= deny amount %.2f (no model or rules loaded)",
                              txn->amount, dc->builtin_deny_amount);
    } else if (txn->amount >= dc->builtin_step_up_amount) {
        v->decision = RG_STEP_UP;
        v->method = u && u->preferred != RG_METHOD_NONE ? u->preferred : RG_METHOD_OTP;
        v->ttl_s = dc->step_up_ttl_s;
        rg_verdict_add_reason(v, "builtin_amount_policy", RG_SRC_POLICY,
                              "amount %.2f >= step-up amount %.2f (no model or rules loaded)",
                              txn->amount, dc->builtin_step_up_amount);
    } else {
        v->decision = RG_ALLOW;
        rg_verdict_add_reason(v, "builtin_amount_policy", RG_SRC_POLICY,
                              "amount %.2f below step-up amount %.2f (no model or rules loaded)",
                              txn->amount, dc->builtin_step_up_amount);
    }
}

void rg_decider_decide(const struct rg_decider *dc, const struct rg_txn *txns, size_t n,
                       const double *feat, const struct rg_user_ctx *uctx,
                       const bool *degraded, double *scores, uint32_t *rule_hits,
                       struct rg_verdict *out)
{
    double *score = scores, *anomaly = scores + n;
    int64_t t0 = rg_clock_mono_ns();
    if (dc->model)
        rg_model_score_batch(dc->model, feat, n, score);
    if (dc->anomaly)
        rg_model_score_batch(dc->anomaly, feat, n, anomaly);
    int64_t t1 = rg_clock_mono_ns();
    if (n > 0 && (dc->model || dc->anomaly))
        rg_histo_observe_us(RG_M_STAGE_LATENCY, RG_STAGE_MODEL, (t1 - t0) / 1000 / (int64_t)n);
    const char *mver = dc->model ? rg_model_version(dc->model) : NULL;
    const char *rver = dc->rs ? rg_ruleset_version(dc->rs) : NULL;

    for (size_t i = 0; i < n; i++) {
        struct rg_verdict *v = &out[i];
        const double *x = feat + i * RG_FEAT_COUNT;
        rg_verdict_reset(v);
        v->score = dc->model ? score[i] : NAN;
        v->anomaly = dc->anomaly ? anomaly[i] : NAN;
        v->model_version = mver;
        v->ruleset_version = rver;
        v->features = dc->explain_features ? x : NULL;
        if (degraded && degraded[i]) {
            decide_degraded(dc, v);
            continue;
        }
        if (!dc->model && !dc->rs) {
            decide_builtin(dc, &txns[i], uctx ? &uctx[i] : NULL, v);
            continue;
        }
        struct rg_eval_ctx ctx = {
            .txn = &txns[i],
            .feat = x,
            .score = v->score,
            .anomaly = v->anomaly,
            .preferred = uctx ? uctx[i].preferred : RG_METHOD_NONE,
            .failed_step_ups_24h = uctx ? uctx[i].failed_step_ups_24h : 0,
            .rule_hits = rule_hits,
        };
        if (ctx.failed_step_ups_24h < 0)
            ctx.failed_step_ups_24h = 0;
        rg_ruleset_decide(dc->rs, &ctx, v);
    }
    if (n > 0)
        rg_histo_observe_us(RG_M_STAGE_LATENCY, RG_STAGE_RULES,
                            (rg_clock_mono_ns() - t1) / 1000 / (int64_t)n);
}
