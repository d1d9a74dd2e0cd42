/*
 * rules.h - analyst rules in YAML: expressions, rule files, policy and the
 * decision for one event.
 *
 * A ruleset is loaded once from a directory of *.yaml / *.yml files (sorted
 * by name), type-checked, compiled into flat postfix programs and is then
 * immutable: any number of worker threads may call rg_ruleset_decide() on
 * the same ruleset at the same time. Deciding allocates nothing.
 *
 * Loading collects every problem into a struct rg_diags with file:line:col
 * and a hint, and fails with RG_EPARSE when there is at least one.
 *
 * The analyst's reference (language, missing values, policy, precedence,
 * reason codes) is rules/README.md.
 */
#ifndef RISKGATE_RULES_H
#define RISKGATE_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "riskgate/diag.h"
#include "riskgate/txn.h"
#include "riskgate/verdict.h"

#define RG_RULES_MAX          4096        /* rules per ruleset */
#define RG_RULES_MAX_FILES    256         /* rule files per directory */
#define RG_RULES_LIST_MAX_BYTES (1u << 20) /* a `file:` list */
#define RG_RULES_FILE_MAX_BYTES (1u << 20) /* one rule file */

/* Score bands used to pick the default step-up method. */
enum rg_band { RG_BAND_LOW = 0, RG_BAND_MEDIUM = 1, RG_BAND_HIGH = 2 };

struct rg_policy {
    double step_up_at;              /* model score >= this: step_up (default 0.5) */
    double deny_at;                 /* model score >= this: deny (default 0.9) */
    int step_up_ttl_s;              /* validity of a step-up (default 300) */
    double anomaly_step_up_at;      /* anomaly >= this: step_up; NaN = off (default) */
    double high_at;                 /* score >= this is band high (default midpoint of
                                       step_up_at and deny_at) */
    enum rg_step_up_method band_method[3]; /* per enum rg_band (otp, otp, biometric) */
    int escalate_method_after_failed; /* failed step-ups (24h) from which escalate_method
                                         is used; 0 = never (default) */
    enum rg_step_up_method escalate_method; /* default biometric */
    int deny_after_failed_step_ups; /* failed step-ups (24h) from which a step_up
                                       becomes deny; 0 = never (default 3) */
};

struct rg_ruleset; /* immutable once loaded */

/* The built-in policy (used when no file has a `policy:` block, and by
 * rg_ruleset_decide() with rs == NULL). */
void rg_policy_default(struct rg_policy *p);

/* Load every *.yaml / *.yml file of dir (sorted by name). On success *out
 * owns a new ruleset (free with rg_ruleset_free). On failure returns
 * RG_EPARSE (problems in d), RG_ENOMEM or RG_ENOTFOUND/RG_EIO for the
 * directory itself (also reported in d); *out is NULL. @locality any thread
 * (loading is slow: not on a worker). */
int rg_ruleset_load_dir(const char *dir, struct rg_diags *d, struct rg_ruleset **out);

/* Load one rule file from a buffer (for tests and fuzzing). `file:` lists
 * are resolved relative to the directory part of file. Same returns. */
int rg_ruleset_load_buf(const char *buf, size_t len, const char *file,
                        struct rg_diags *d, struct rg_ruleset **out);

void rg_ruleset_free(struct rg_ruleset *rs);

/* First 12 hex digits of SHA-256 over the sorted file names and contents
 * (list files included). Static for the life of rs. */
const char *rg_ruleset_version(const struct rg_ruleset *rs);

/* Number of rules (enforced and shadow), and the id of rule i in load
 * order (file name order, then order in the file). For per-rule metrics. */
size_t rg_ruleset_count(const struct rg_ruleset *rs);
const char *rg_ruleset_rule_id(const struct rg_ruleset *rs, size_t i);

/* The effective policy (the file's, or the built-in default). */
const struct rg_policy *rg_ruleset_policy(const struct rg_ruleset *rs);

struct rg_eval_ctx {
    const struct rg_txn *txn;       /* required */
    const double *feat;             /* RG_FEAT_COUNT values, NaN = missing; required */
    double score;                   /* model fraud probability; NaN if no model */
    double anomaly;                 /* anomaly score; NaN if none */
    enum rg_step_up_method preferred; /* user's setting; RG_METHOD_NONE if unset */
    int failed_step_ups_24h;
    uint32_t *rule_hits;            /* optional, rg_ruleset_count() counters, incremented
                                       on a match (enforced or shadow); may be NULL.
                                       Must be private to the calling thread. */
};

/*
 * Decide one event. Sets v->decision, v->method, v->ttl_s, v->rules (matched
 * enforced rule ids), v->shadow / v->shadow_decision, v->ruleset_version, and
 * APPENDS reasons (call rg_verdict_reset() first). Leaves score, anomaly,
 * model_version, degraded, latency and timestamps alone.
 *
 * Order: (1) a matched enforced `allow` rule with `force: true` decides
 * allow (reason "forced_allow"); (2) otherwise the most severe of matched
 * enforced rules, the model score against step_up_at / deny_at and the
 * anomaly score against anomaly_step_up_at; (3) a step_up becomes deny when
 * failed_step_ups_24h >= deny_after_failed_step_ups ("step_up_escalated");
 * (4) a step_up names a method: preferred, else the first matching step_up
 * rule's `method`, else the band method; escalate_method after failures.
 *
 * Reason codes: a fired rule's id (source rule, detail = its rendered
 * `reason`), "forced_allow", "step_up_escalated", "step_up_method_escalated"
 * (source policy), "model_score_step_up", "model_score_deny",
 * "anomaly_step_up" (source model). Strings in v are borrowed from rs (or
 * static) and live as long as rs.
 *
 * rs may be NULL: the built-in policy and the model/anomaly scores only.
 * Returns 0, or RG_EINVAL for a NULL ctx/txn/feat/v. Allocates nothing;
 * uses about 10 KB of stack. @locality worker threads, concurrently on one
 * ruleset.
 */
int rg_ruleset_decide(const struct rg_ruleset *rs, const struct rg_eval_ctx *ctx,
                      struct rg_verdict *v);

/*
 * Analyst CLI: argv[0] = "rules".
 *   rules test DIR [--cases CASEDIR]   run the case files DIR/tests/NAME.yaml against DIR
 *   rules test CASEDIR --rules RULEDIR  the same with the cases in CASEDIR
 *   rules lint DIR                     load and report problems
 *   rules bench [DIR] [--synthetic N] [--events N] [--seed S]
 * Prints to stdout/stderr; returns the process exit status (0 ok, 1 test
 * failures or load errors, 2 usage). @locality main thread.
 */
int rg_rules_cli(int argc, char **argv);

#endif
