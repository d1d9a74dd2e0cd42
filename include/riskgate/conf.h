/*
 * conf.h - riskgate.yaml: the engine's configuration.
 *
 * DESIGN: every key is declared once in a table (section, key, type,
 * default, bounds, description) in src/core/conf.c, like Redis's config.c
 * and Fluent Bit's config maps. The loader walks the YAML tree against the
 * table: unknown keys are errors with a "did you mean", wrong types and
 * out-of-range values name file:line:col, and every problem is reported,
 * not just the first. `riskgate config reference` prints the table as the
 * reference documentation (docs/config.md is generated from it).
 *
 * Environment overrides (applied after the file): RISKGATE_KAFKA_BOOTSTRAP
 * and RISKGATE_REDIS (host:port), plus RISKGATE_<SECTION>_<KEY> for every
 * scalar key (e.g. RISKGATE_ENGINE_WORKERS=2).
 *
 * A struct rg_conf is immutable once loaded; a reload builds a new one.
 */
#ifndef RISKGATE_CONF_H
#define RISKGATE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "riskgate/diag.h"

enum rg_degrade { RG_DEGRADE_FAIL_OPEN, RG_DEGRADE_FAIL_CLOSED, RG_DEGRADE_STEP_UP };
enum rg_explain { RG_EXPLAIN_NONE, RG_EXPLAIN_FEATURES };

#define RG_CONF_MAX_PROPS 64

/* Which Kafka client a kafka.*properties entry is for. */
enum rg_kafka_scope { RG_KAFKA_BOTH, RG_KAFKA_PRODUCER, RG_KAFKA_CONSUMER };

struct rg_kv {
    char *key;
    char *value;
    enum rg_kafka_scope scope;
};

struct rg_conf {
    /* kafka */
    char *kafka_bootstrap;
    char *kafka_group_id;
    char *topic_in;
    char *topic_verdicts;
    char *topic_dlq;
    char *topic_feedback;
    /* kafka.properties, .producer_properties, .consumer_properties: passed
     * to librdkafka after riskgate's own client settings, so they win;
     * the ones riskgate's delivery guarantees rest on are refused at load
     * (rg_kafka_prop_reserved, riskgate/kafka_conf.h). */
    struct rg_kv kafka_props[RG_CONF_MAX_PROPS];
    int n_kafka_props;
    int kafka_max_inflight;      /* events consumed but not yet acknowledged */
    int kafka_commit_interval_ms;
    /* redis / profiles */
    char *redis_host;
    int redis_port;
    char *redis_password;
    char *redis_key_prefix;
    int redis_timeout_ms;
    char *profile_secret_file;
    int profile_ttl_days;
    int profile_cache_users;
    /* policy */
    double builtin_step_up_amount;
    double builtin_deny_amount;
    int step_up_ttl_s;
    enum rg_degrade degradation;
    /* engine */
    int workers;                 /* 0 = number of cores */
    int batch_size;
    int ring_size;
    int shutdown_timeout_ms;
    enum rg_explain explain;
    /* model, rules */
    char *model_path;
    char *anomaly_model_path;
    char *rules_dir;
    bool watch_files;            /* reload on file change, not only SIGHUP */
    /* http */
    char *http_listen;           /* "host:port", "" = off */
    /* where the config came from (for messages) */
    char *file;
};

/* Defaults only (no file). Caller frees with rg_conf_free. */
struct rg_conf *rg_conf_new_default(void);

/* Load from a buffer (named file for messages); then apply environment
 * overrides. Returns 0 or RG_EPARSE with every problem in d. */
int rg_conf_load_buf(const char *buf, size_t len, const char *file,
                     struct rg_diags *d, struct rg_conf **out);
int rg_conf_load_file(const char *path, struct rg_diags *d, struct rg_conf **out);

/* Apply RISKGATE_* environment overrides (called by the loaders). */
int rg_conf_apply_env(struct rg_conf *c, struct rg_diags *d);

void rg_conf_free(struct rg_conf *c);

/* Markdown reference generated from the key table. */
void rg_conf_print_reference(FILE *out);

/* Split "host:port"; 0 or RG_EINVAL. host is written NUL-terminated. */
int rg_split_hostport(const char *s, char *host, size_t cap, int *port);

#endif
