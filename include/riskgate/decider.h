/*
 * decider.h - one immutable "generation" of decision logic (model, anomaly
 * model, ruleset, policy from the config) and the code that turns an
 * event's features into a verdict. `riskgate run` and `riskgate replay`
 * both decide through here, so a backtest runs exactly the serving code.
 *
 * DESIGN: a generation is built off the hot path (load, check, compile),
 * published with one atomic store by the engine, and freed only when every
 * worker has moved past it (see src/pipe/engine.c). Nothing in it changes
 * after rg_decider_load() returns, so any number of workers may call
 * rg_decider_decide() at once.
 *
 * Precedence (BRIEF.md): while a dependency is down the degradation policy
 * decides (verdict.degraded = true); otherwise forced allows, then the most
 * severe of rules and model thresholds; a step-up names a method. With no
 * model and no rules the built-in amount policy decides (reason code
 * "builtin_amount_policy").
 */
#ifndef RISKGATE_DECIDER_H
#define RISKGATE_DECIDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskgate/conf.h"
#include "riskgate/diag.h"
#include "riskgate/profile.h"
#include "riskgate/txn.h"
#include "riskgate/verdict.h"

struct rg_model;
struct rg_ruleset;

struct rg_decider {
    uint64_t seq;                 /* generation number, set by the engine */
    struct rg_model *model;       /* may be NULL */
    struct rg_model *anomaly;     /* may be NULL */
    struct rg_ruleset *rs;        /* may be NULL */
    double builtin_step_up_amount, builtin_deny_amount;
    int step_up_ttl_s;
    enum rg_degrade degradation;
    bool explain_features;
    uint32_t *rule_slots;         /* metric slot of rule i (rg_metrics_rules_set) */
    size_t n_rules;
    /* what was loaded, for change detection and messages */
    char *rules_dir, *model_path, *anomaly_path;
};

/* Load the model, anomaly model and rules named by c (or the overrides,
 * when not NULL) and check them together. Every problem goes to d.
 * Returns 0 or a negative rg_err; *out is NULL on failure. Slow: never on
 * a worker. */
int rg_decider_load(const struct rg_conf *c, const char *rules_dir, const char *model_path,
                    const char *anomaly_path, struct rg_diags *d, struct rg_decider **out);
void rg_decider_free(struct rg_decider *dc);

/* Decide n events. feat holds n rows of RG_FEAT_COUNT values; uctx and
 * degraded come from rg_profile_process_batch (degraded may be NULL).
 * scores: scratch of 2*n doubles. rule_hits: per-thread counters of
 * rg_ruleset_count() entries, or NULL. Fills out[0..n) (reset first).
 * No allocation. @locality worker threads, concurrently. */
void rg_decider_decide(const struct rg_decider *dc, const struct rg_txn *txns, size_t n,
                       const double *feat, const struct rg_user_ctx *uctx,
                       const bool *degraded, double *scores, uint32_t *rule_hits,
                       struct rg_verdict *out);

#endif
