/*
 * verdict.h - one decision per input event (the output contract), and its
 * JSON encoding.
 *
 * A struct rg_verdict is filled in place by the decision code (rules, model,
 * policy) and encoded into a caller-owned buffer: no allocation per event.
 * Strings that point outside the struct (rule ids, reason details, versions)
 * are borrowed and must outlive the encode call (they live in the ruleset /
 * model generation the worker holds).
 */
#ifndef RISKGATE_VERDICT_H
#define RISKGATE_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskgate/txn.h"

enum rg_decision { RG_ALLOW = 0, RG_STEP_UP = 1, RG_DENY = 2 };

enum rg_reason_source { RG_SRC_RULE, RG_SRC_MODEL, RG_SRC_POLICY };

enum rg_step_up_method { RG_METHOD_NONE = 0, RG_METHOD_OTP, RG_METHOD_BIOMETRIC,
                         RG_METHOD_PASSWORD };

#define RG_VERDICT_MAX_REASONS 16
#define RG_VERDICT_MAX_RULES   32
#define RG_VERDICT_MAX_SHADOW  32
#define RG_REASON_DETAIL_MAX   160

struct rg_reason {
    const char *code;                 /* stable, snake_case; borrowed */
    enum rg_reason_source source;
    char detail[RG_REASON_DETAIL_MAX]; /* for people; may quote feature values */
};

struct rg_shadow_hit {
    const char *rule_id;              /* borrowed */
    enum rg_decision decision;
};

struct rg_verdict {
    enum rg_decision decision;
    double score;                     /* model fraud probability; NaN = no model */
    double anomaly;                   /* NaN = no anomaly model */
    enum rg_step_up_method method;    /* when decision == RG_STEP_UP */
    int ttl_s;                        /* step-up validity, seconds */
    struct rg_reason reasons[RG_VERDICT_MAX_REASONS];
    int n_reasons;
    const char *rules[RG_VERDICT_MAX_RULES]; /* matched enforced rule ids */
    int n_rules;
    struct rg_shadow_hit shadow[RG_VERDICT_MAX_SHADOW];
    int n_shadow;
    enum rg_decision shadow_decision; /* what enforced+shadow rules would decide */
    const char *model_version;        /* "name@hash" or NULL */
    const char *ruleset_version;      /* content hash or NULL */
    bool degraded;
    int64_t latency_us;
    int64_t decided_at_ms;
    const double *features;           /* non-NULL: add a "features" object (explain) */
};

/* Reset v to "allow, no reasons, score NaN". */
void rg_verdict_reset(struct rg_verdict *v);

/* Append a reason (dropped when the list is full; returns -1 then). */
int rg_verdict_add_reason(struct rg_verdict *v, const char *code,
                          enum rg_reason_source src, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

const char *rg_decision_str(enum rg_decision d);
const char *rg_method_str(enum rg_step_up_method m);
/* Parse "otp"/"biometric"/"password"; RG_METHOD_NONE when unknown. */
enum rg_step_up_method rg_method_parse(const char *s);

/* Encode the verdict for txn as one JSON object into buf (NUL-terminated).
 * Returns the length written, or -RG_ETOOBIG (negative) if cap is too small.
 * Allocates nothing. @locality worker threads. */
int rg_verdict_encode(const struct rg_verdict *v, const struct rg_txn *txn,
                      char *buf, size_t cap);

#endif
