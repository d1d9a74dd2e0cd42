/*
 * replay_int.h - private to src/replay: what the replay run keeps per event
 * and per label, and the report built from it at the end.
 *
 * DESIGN: the run (replay.c) streams events and feedback through the
 * serving code and keeps one small fixed-size record per valid event
 * (struct rg_rp_event, ~56 bytes), because ground truth arrives later than
 * the decisions: labels are joined to events by event_id only once both
 * files are read. The report (report.c) is computed from these records
 * alone, so it never depends on how the run was batched.
 */
#ifndef RG_REPLAY_INT_H
#define RG_REPLAY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "riskgate/decode.h"
#include "riskgate/verdict.h"

#define RG_RP_MAX_CURRENCIES 64 /* distinct currency codes tracked for amounts */
#define RG_RP_MAX_SCENARIOS 64  /* distinct scenario names tracked */
#define RG_RP_SAMPLE_CHANGED 20 /* changed decisions listed in the report */
#define RG_RP_NO_LABEL (-1)

/* A growable byte arena holding NUL-terminated strings, addressed by offset. */
struct rg_rp_arena {
    char *buf;
    size_t len, cap;
};

/* Open-addressed map from a string (stored in an arena) to a uint32 value. */
struct rg_rp_strmap {
    uint64_t *hash;
    uint32_t *val;   /* UINT32_MAX = empty */
    size_t cap, n;
};

struct rg_rp_event {
    uint64_t id_off;     /* event_id in ids arena */
    int64_t ts_ms;
    double amount;
    double score;        /* current model score, NaN without a model */
    uint32_t user;       /* interned user index */
    uint32_t hits_off;   /* first hit in hits[] */
    uint8_t n_hits;
    uint8_t decision;    /* enum rg_decision, current configuration */
    uint8_t cand;        /* enum rg_decision, candidate (== decision without one) */
    uint8_t currency;    /* index in currencies[] */
    int8_t label;        /* 1 fraud, 0 legit, RG_RP_NO_LABEL unknown (joined at the end) */
    uint8_t scenario;    /* index in scenarios[] (0 = none) */
    bool degraded;
};

/* hits[] entries: rule index << 2 | shadow << 1 | flagged (the rule put
 * the event in step_up/deny: a rule reason on a step_up/deny verdict, or a
 * shadow hit deciding step_up/deny). */
#define RG_RP_HIT(idx, shadow, flag) ((uint16_t)(((idx) << 2) | ((shadow) << 1) | (flag)))

struct rg_rp_label {
    int8_t label;        /* 1 fraud, 0 legit */
    uint8_t scenario;
    int64_t ts_ms;       /* arrival */
};

struct rg_rp_changed {
    uint64_t id_off;
    uint32_t user;
    uint8_t from, to;
};

struct rg_rp_run {
    /* events */
    struct rg_rp_event *ev;
    size_t n_ev, cap_ev;
    uint16_t *hits;
    size_t n_hits, cap_hits;
    struct rg_rp_arena ids, users_a, label_ids;
    uint64_t *user_off;  /* user index -> users_a offset */
    size_t n_users, cap_users;
    struct rg_rp_strmap user_map, label_map;
    struct rg_rp_label *labels;
    uint64_t *label_off; /* label index -> label_ids offset */
    size_t n_labels, cap_labels, cap_label_off;
    /* names */
    char currencies[RG_RP_MAX_CURRENCIES][4];
    int n_currencies;
    char *scenarios[RG_RP_MAX_SCENARIOS]; /* [0] = "" (none) */
    int n_scenarios;
    size_t n_rules;
    char **rule_ids;     /* current ruleset, load order */
    bool *rule_shadow;   /* seen as a shadow hit */
    /* input accounting */
    uint64_t event_lines, events_rejected, feedback_lines, feedback_rejected;
    uint64_t rejected_by_reason[RG_DLQ_REASON_COUNT];
    uint64_t labels_seen, labels_unmatched, duplicate_event_ids, late_events;
    uint64_t settings_seen, auth_results_seen;
    /* candidate */
    bool has_candidate;
    uint64_t changed;
    struct rg_rp_changed sample[RG_RP_SAMPLE_CHANGED];
    size_t n_sample;
    /* description, for the report */
    const char *events_path, *feedback_path;
    const char *model_version, *ruleset_version;
    const char *cand_model_version, *cand_ruleset_version;
    double friction_budget;
};

/* arena / maps (replay.c) */
const char *rg_rp_str(const struct rg_rp_arena *a, uint64_t off);
uint64_t rg_rp_hash(const char *s);
/* Value for s, or UINT32_MAX. */
uint32_t rg_rp_strmap_get(const struct rg_rp_strmap *m, const struct rg_rp_arena *a,
                          const uint64_t *offs, const char *s);

/* report.c: compute every figure and write DIR/report.json and
 * DIR/report.html. Returns 0 or a negative rg_err. */
int rg_rp_report_write(const struct rg_rp_run *r, const char *dir);

#endif
