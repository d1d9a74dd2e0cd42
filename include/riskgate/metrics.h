/*
 * metrics.h - process-wide metrics registry, built for the hot path, and
 * its Prometheus text rendering (exposition format 0.0.4).
 *
 * DESIGN
 * Every metric is declared once in RG_METRIC_LIST (id, name, type, label
 * set, help); the HELP/TYPE lines, the storage layout (computed at compile
 * time) and the documentation in docs/observability.md come from that one
 * table. A metric has at most one label dimension, a "label set": a fixed
 * number of slots addressed by a small int index (decision, stage,
 * partition, ...). Names of slots are either built in (decision, stage,
 * reload what/result, partition number), registered once at start
 * (dead-letter reasons, feedback types), or replaced at each rules reload
 * (rule ids, see rg_metrics_rules_set()).
 *
 * Counters and histograms are sharded: each thread picks one of
 * RG_METRICS_SHARDS cache-line-aligned shards on first use and updates it
 * with relaxed atomic adds (no lock, no allocation, no false sharing with
 * other workers); a scrape sums the shards. Gauges are single cells
 * (last write wins). Histograms have fixed microsecond buckets
 * (RG_HISTO_BUCKETS_US); observe = find the bucket + 2 relaxed adds
 * (bucket, sum). _count is the sum of the buckets, so +Inf == _count
 * always holds in a scrape. Values are exported in seconds.
 *
 * @locality update functions: any thread, lock-free, allocation-free.
 * Registration, rules_set and render: any thread, serialized by a mutex
 * that the hot path never takes.
 */
#ifndef RISKGATE_METRICS_H
#define RISKGATE_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Label sets: id, label key (NULL = no label), max slots. */
#define RG_METRICS_MAX_RULES    1024
#define RG_METRICS_MAX_REASONS  64
#define RG_METRICS_MAX_FEEDBACK 16
#define RG_METRICS_MAX_PARTITIONS 256

#define RG_LABELSET_LIST(X)                                              \
    X(RG_LS_NONE,      NULL,        1)                                   \
    X(RG_LS_DECISION,  "decision",  3)   /* enum rg_decision order */    \
    X(RG_LS_REASON,    "reason",    RG_METRICS_MAX_REASONS)              \
    X(RG_LS_RULE,      "rule",      RG_METRICS_MAX_RULES)                \
    X(RG_LS_STAGE,     "stage",     6)   /* enum rg_stage */             \
    X(RG_LS_PARTITION, "partition", RG_METRICS_MAX_PARTITIONS)           \
    X(RG_LS_RELOAD,    "what",      4)   /* RG_RELOAD_IDX() */           \
    X(RG_LS_FEEDBACK,  "type",      RG_METRICS_MAX_FEEDBACK)

enum rg_labelset {
#define RG_LS_ENUM(id, key, max) id,
    RG_LABELSET_LIST(RG_LS_ENUM)
#undef RG_LS_ENUM
    RG_LS_COUNT
};

/* Metric types. INFO is rendered as a gauge with value 1 and the build
 * labels (riskgate_build_info). */
enum rg_metric_type { RG_MT_COUNTER, RG_MT_GAUGE, RG_MT_HISTO, RG_MT_INFO };

/* X-macro: id, name, type (COUNTER|GAUGE|HISTO|INFO), label set, help. */
#define RG_METRIC_LIST(X)                                                          \
    X(RG_M_EVENTS_IN, "riskgate_events_in_total", COUNTER, RG_LS_NONE,             \
      "Events consumed from the input topic.")                                     \
    X(RG_M_EVENTS_OUT, "riskgate_events_out_total", COUNTER, RG_LS_NONE,           \
      "Verdicts produced (one per valid input event).")                            \
    X(RG_M_VERDICTS, "riskgate_verdicts_total", COUNTER, RG_LS_DECISION,           \
      "Verdicts by decision.")                                                     \
    X(RG_M_DEAD_LETTERS, "riskgate_dead_letters_total", COUNTER, RG_LS_REASON,     \
      "Events sent to the dead-letter topic, by reason code.")                     \
    X(RG_M_RULE_HITS, "riskgate_rule_hits_total", COUNTER, RG_LS_RULE,             \
      "Rule matches by rule id (current ruleset).")                                \
    X(RG_M_REDIS_ERRORS, "riskgate_redis_errors_total", COUNTER, RG_LS_NONE,       \
      "Redis commands that failed or timed out.")                                  \
    X(RG_M_REDIS_ROUND_TRIPS, "riskgate_redis_round_trips_total", COUNTER,         \
      RG_LS_NONE, "Round trips to Redis by the profile stores.")                   \
    X(RG_M_REDIS_COMMANDS, "riskgate_redis_commands_total", COUNTER, RG_LS_NONE,   \
      "Commands sent to Redis by the profile stores (pipelined).")                 \
    X(RG_M_CACHE_HITS, "riskgate_profile_cache_hits_total", COUNTER, RG_LS_NONE,   \
      "Events whose user profile was in the worker's cache.")                      \
    X(RG_M_CACHE_MISSES, "riskgate_profile_cache_misses_total", COUNTER,           \
      RG_LS_NONE, "Events whose user profile had to be loaded from Redis.")        \
    X(RG_M_REDIS_LATENCY, "riskgate_redis_latency_seconds", HISTO, RG_LS_NONE,     \
      "Redis round-trip latency.")                                                 \
    X(RG_M_STAGE_LATENCY, "riskgate_stage_latency_seconds", HISTO, RG_LS_STAGE,    \
      "Per-event processing latency by pipeline stage.")                           \
    X(RG_M_KAFKA_TO_VERDICT, "riskgate_kafka_to_verdict_latency_seconds", HISTO,   \
      RG_LS_NONE, "From the Kafka message timestamp to the verdict produced.")    \
    X(RG_M_CONSUMER_LAG, "riskgate_consumer_lag", GAUGE, RG_LS_PARTITION,          \
      "Consumer lag in messages, by assigned partition.")                          \
    X(RG_M_RELOADS, "riskgate_reloads_total", COUNTER, RG_LS_RELOAD,               \
      "Hot reloads of rules or model, by outcome.")                                \
    X(RG_M_DEGRADED, "riskgate_degraded_verdicts_total", COUNTER, RG_LS_NONE,      \
      "Verdicts decided by the degradation policy (a dependency was down).")      \
    X(RG_M_FEEDBACK, "riskgate_feedback_total", COUNTER, RG_LS_FEEDBACK,           \
      "Feedback events consumed, by type.")                                        \
    X(RG_M_DLQ_PRODUCE_ERRORS, "riskgate_dlq_produce_errors_total", COUNTER,       \
      RG_LS_NONE, "Failures to produce to the dead-letter topic.")                 \
    X(RG_M_INFLIGHT, "riskgate_inflight", GAUGE, RG_LS_NONE,                       \
      "Events consumed and not yet acknowledged by the producer.")                 \
    X(RG_M_PARTITIONS, "riskgate_partitions_assigned", GAUGE, RG_LS_NONE,          \
      "Partitions of the input and feedback topics assigned to this instance.")    \
    X(RG_M_REVOKED, "riskgate_partitions_revoked_total", COUNTER, RG_LS_NONE,      \
      "Partitions given up in rebalances (the workers then reload their users).")  \
    X(RG_M_READY, "riskgate_ready", GAUGE, RG_LS_NONE,                             \
      "1 when the instance is ready to serve (see /readyz), else 0.")              \
    X(RG_M_BUILD_INFO, "riskgate_build_info", INFO, RG_LS_NONE,                    \
      "Build information; the value is always 1.")

enum rg_metric {
#define RG_M_ENUM(id, name, type, ls, help) id,
    RG_METRIC_LIST(RG_M_ENUM)
#undef RG_M_ENUM
    RG_METRIC_COUNT
};

/* Label set indexes with built-in names. */
enum rg_stage { RG_STAGE_DECODE, RG_STAGE_PROFILE, RG_STAGE_MODEL, RG_STAGE_RULES,
                RG_STAGE_ENCODE, RG_STAGE_TOTAL };
enum rg_reload_what { RG_RELOAD_RULES = 0, RG_RELOAD_MODEL = 1 };
/* Index into RG_LS_RELOAD: what="rules|model", result="ok|error". */
#define RG_RELOAD_IDX(what, ok) ((int)(what) * 2 + ((ok) ? 0 : 1))

/* Histogram upper bounds in microseconds (plus +Inf). */
#define RG_HISTO_BUCKETS_US                                              \
    10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,    \
    100000, 250000, 1000000
#define RG_HISTO_NBUCKETS 15
#define RG_METRICS_SHARDS 8

/* Set the build labels (riskgate_build_info{version="..."} 1). Call once
 * at start; the string is copied. Also clears every metric and label set,
 * so the registry starts clean. Not thread-safe against updates. */
void rg_metrics_init(const char *version);

/* Zero every value (not the label names). For tests. Any thread, but
 * concurrent updates may survive the reset. */
void rg_metrics_reset(void);

/* Name / help / type / label set of a metric (static strings). */
const char *rg_metric_name(enum rg_metric m);
const char *rg_metric_help(enum rg_metric m);
enum rg_metric_type rg_metric_type(enum rg_metric m);
enum rg_labelset rg_metric_labelset(enum rg_metric m);

/* Register the slot names of a label set whose names are not built in
 * (RG_LS_REASON, RG_LS_FEEDBACK): names[i] is slot i; n <= the set's max.
 * Names are copied. Slots without a name are not rendered (their updates
 * still count but are invisible). Returns 0, RG_EINVAL (built-in or rule
 * set, NULL name) or RG_ETOOBIG. @locality start-up thread. */
int rg_metrics_register_label_set(enum rg_labelset ls, const char *const *names,
                                  size_t n);

/* Replace the set of rule ids at (re)load. For each ids[i] writes the slot
 * to use with rg_counter_inc_l(RG_M_RULE_HITS, slot) into slots[i]. An id
 * that was in the previous set keeps its slot and its count; ids no longer
 * present stop being rendered; their slot is reused only for a new id, and
 * only at the second reload after it was retired, so workers still running
 * the old ruleset generation never count into another rule's slot.
 * Returns 0, or RG_ETOOBIG when more than RG_METRICS_MAX_RULES slots would
 * be live (slots[] is then untouched and the previous set stays).
 * @locality reload thread (takes the registry mutex). */
int rg_metrics_rules_set(const char *const *ids, size_t n, uint32_t *slots);

/* Hot path. Out-of-range metric/index values are ignored. */
void rg_counter_inc(enum rg_metric m);
void rg_counter_add(enum rg_metric m, uint64_t n);
void rg_counter_inc_l(enum rg_metric m, int idx);
void rg_counter_add_l(enum rg_metric m, int idx, uint64_t n);
void rg_gauge_set(enum rg_metric m, int64_t v);
void rg_gauge_set_l(enum rg_metric m, int idx, int64_t v);
void rg_gauge_add(enum rg_metric m, int64_t delta);
/* A labelled gauge slot (consumer lag of a partition) is rendered only
 * after it was set; unset hides it again (partition revoked). */
void rg_gauge_unset_l(enum rg_metric m, int idx);
/* Observe a duration in microseconds (negative counts as 0). */
void rg_histo_observe_us(enum rg_metric m, int idx, int64_t us);

/* Read back (sums the shards). For tests and /readyz. */
uint64_t rg_counter_get(enum rg_metric m, int idx);
int64_t rg_gauge_get(enum rg_metric m, int idx);
/* Histogram totals: count and sum (microseconds). */
void rg_histo_get(enum rg_metric m, int idx, uint64_t *count, uint64_t *sum_us);

/* Render every metric in Prometheus text format 0.0.4 into buf (always
 * NUL-terminated when cap > 0). Returns the full length the output needs
 * (excluding the NUL), like snprintf: a return >= cap means truncated.
 * @locality any thread; takes the registry mutex. */
size_t rg_metrics_render(char *buf, size_t cap);
/* Same into a malloc'd buffer the caller frees; NULL on ENOMEM. */
char *rg_metrics_render_alloc(size_t *len);

#endif
