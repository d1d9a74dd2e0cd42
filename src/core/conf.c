/*
 * conf.c - the riskgate.yaml key table and its loader.
 *
 * DESIGN: g_keys is the single source of truth: loader, environment
 * overrides and the generated reference all walk it. Sections are the
 * top-level mappings; `kafka.properties` is the one free-form mapping
 * (librdkafka properties passed through, validated by librdkafka itself
 * when the client is created).
 */
#include "riskgate/conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "riskgate/err.h"
#include "riskgate/kafka_conf.h"
#include "riskgate/ytree.h"

enum key_type { K_STR, K_INT, K_DOUBLE, K_BOOL, K_ENUM, K_PROPS };

struct conf_key {
    const char *section;
    const char *key;
    enum key_type type;
    size_t off;
    const char *def;          /* default as text */
    double min, max;          /* K_INT / K_DOUBLE bounds */
    const char *const *enums; /* K_ENUM names, NULL-terminated, index = value */
    const char *desc;
};

static const char *const degrade_names[] = { "fail_open", "fail_closed", "step_up", NULL };
static const char *const explain_names[] = { "none", "features", NULL };

#define OFF(f) offsetof(struct rg_conf, f)
static const struct conf_key g_keys[] = {
    { "kafka", "bootstrap", K_STR, OFF(kafka_bootstrap), "127.0.0.1:9092", 0, 0, NULL,
      "Kafka bootstrap servers (host:port[,host:port]). Env: RISKGATE_KAFKA_BOOTSTRAP." },
    { "kafka", "group_id", K_STR, OFF(kafka_group_id), "riskgate", 0, 0, NULL,
      "Consumer group; add instances with the same group to scale out." },
    { "kafka", "topic_in", K_STR, OFF(topic_in), "transactions", 0, 0, NULL,
      "Input topic of payment events (key = user_id)." },
    { "kafka", "topic_verdicts", K_STR, OFF(topic_verdicts), "verdicts", 0, 0, NULL,
      "Output topic, one verdict per valid event (key = user_id)." },
    { "kafka", "topic_dlq", K_STR, OFF(topic_dlq), "transactions.dlq", 0, 0, NULL,
      "Dead-letter topic for events that fail validation." },
    { "kafka", "topic_feedback", K_STR, OFF(topic_feedback), "risk-feedback", 0, 0, NULL,
      "Feedback topic (labels, step-up results, user settings); empty = off. Needs the same "
      "partition count as topic_in and the range assignor (the default): a user's feedback "
      "must reach the instance that caches the user's profile." },
    { "kafka", "max_inflight", K_INT, OFF(kafka_max_inflight), "20000", 16, 1000000, NULL,
      "Events consumed but not yet acknowledged by the broker; consumption pauses above it." },
    { "kafka", "commit_interval_ms", K_INT, OFF(kafka_commit_interval_ms), "1000", 50, 60000, NULL,
      "How often stored offsets are committed." },
    /* K_PROPS: `off` holds the enum rg_kafka_scope. */
    { "kafka", "properties", K_PROPS, RG_KAFKA_BOTH, "", 0, 0, NULL,
      "librdkafka properties for consumer and producer (security.protocol, sasl.mechanism, "
      "sasl.username, ssl.ca.location, ...), applied after riskgate's own client settings. "
      "A value may name environment variables as ${NAME} (secrets: `sasl.password: "
      "${KAFKA_PASSWORD}`). Refused: the ones riskgate's delivery guarantees rest on (see "
      "\"Kafka client properties\" below)." },
    { "kafka", "producer_properties", K_PROPS, RG_KAFKA_PRODUCER, "", 0, 0, NULL,
      "librdkafka properties for the verdict producer only (linger.ms, compression.type, "
      "batch.num.messages, ...); win over kafka.properties." },
    { "kafka", "consumer_properties", K_PROPS, RG_KAFKA_CONSUMER, "", 0, 0, NULL,
      "librdkafka properties for the event consumer only (fetch.wait.max.ms, fetch.min.bytes, "
      "session.timeout.ms, ...); win over kafka.properties." },
    { "redis", "host", K_STR, OFF(redis_host), "127.0.0.1", 0, 0, NULL,
      "Redis host. Env: RISKGATE_REDIS=host:port." },
    { "redis", "port", K_INT, OFF(redis_port), "6379", 1, 65535, NULL, "Redis port." },
    { "redis", "password", K_STR, OFF(redis_password), "", 0, 0, NULL,
      "Redis AUTH password; empty = no AUTH. Prefer env RISKGATE_REDIS_PASSWORD." },
    { "redis", "key_prefix", K_STR, OFF(redis_key_prefix), "rg:", 0, 0, NULL,
      "Prefix of every key, so several deployments can share one Redis." },
    { "redis", "timeout_ms", K_INT, OFF(redis_timeout_ms), "200", 1, 60000, NULL,
      "Connect and command timeout." },
    { "profiles", "secret_file", K_STR, OFF(profile_secret_file), "", 0, 0, NULL,
      "File holding the HMAC-SHA256 secret that pseudonymises ids in Redis keys; "
      "env RISKGATE_PROFILE_SECRET wins. Empty and no env: a fixed development secret (logged as a warning)." },
    { "profiles", "ttl_days", K_INT, OFF(profile_ttl_days), "90", 1, 3650, NULL,
      "TTL of every profile key, refreshed on write." },
    { "profiles", "cache_users", K_INT, OFF(profile_cache_users), "100000", 256, 100000000, NULL,
      "User profiles cached in process (write-back), split evenly over the workers. About "
      "1.2 KB each, allocated and touched at start so RSS stays flat." },
    { "policy", "builtin_step_up_amount", K_DOUBLE, OFF(builtin_step_up_amount), "50", 0, 1e9, NULL,
      "Built-in policy used when neither a model nor rules are loaded: step_up at or above this amount. "
      "Model thresholds (step_up_at, deny_at) live in the rules' policy block, owned by analysts." },
    { "policy", "builtin_deny_amount", K_DOUBLE, OFF(builtin_deny_amount), "500", 0, 1e9, NULL,
      "Built-in policy: deny at or above this amount." },
    { "policy", "step_up_ttl_s", K_INT, OFF(step_up_ttl_s), "300", 10, 86400, NULL,
      "How long a step-up challenge stays valid." },
    { "policy", "degradation", K_ENUM, OFF(degradation), "step_up", 0, 0, degrade_names,
      "What decides while Redis is unavailable: fail_open (allow), fail_closed (deny) or "
      "step_up. Verdicts carry degraded: true." },
    { "engine", "workers", K_INT, OFF(workers), "0", 0, 256, NULL,
      "Worker threads; 0 = number of cores." },
    { "engine", "batch_size", K_INT, OFF(batch_size), "64", 1, 4096, NULL,
      "Events a worker takes at once (one Redis round trip per batch)." },
    { "engine", "ring_size", K_INT, OFF(ring_size), "4096", 16, 1048576, NULL,
      "Slots per worker ring (rounded up to a power of two)." },
    { "engine", "shutdown_timeout_ms", K_INT, OFF(shutdown_timeout_ms), "15000", 100, 600000, NULL,
      "Bound on the graceful drain after SIGTERM/SIGINT." },
    { "engine", "explain", K_ENUM, OFF(explain), "none", 0, 0, explain_names,
      "features: every verdict carries the feature values used." },
    { "model", "path", K_STR, OFF(model_path), "", 0, 0, NULL,
      "XGBoost JSON model (fraud probability); empty = no model." },
    { "model", "anomaly_path", K_STR, OFF(anomaly_model_path), "", 0, 0, NULL,
      "Isolation-forest JSON model (anomaly score); empty = none." },
    { "rules", "dir", K_STR, OFF(rules_dir), "", 0, 0, NULL,
      "Directory of YAML rule files; empty = model and policy only." },
    { "rules", "watch", K_BOOL, OFF(watch_files), "true", 0, 0, NULL,
      "Reload rules and model when their files change (SIGHUP always reloads)." },
    { "http", "listen", K_STR, OFF(http_listen), "127.0.0.1:9464", 0, 0, NULL,
      "Address of /metrics, /healthz and /readyz; empty = off." },
};
#define N_KEYS (sizeof(g_keys) / sizeof(g_keys[0]))

static int set_from_text(struct rg_conf *c, const struct conf_key *k, const char *text,
                         const char *file, int line, int col, struct rg_diags *d)
{
    char *base = (char *)c;
    char *end;
    switch (k->type) {
    case K_STR: {
        char **slot = (char **)(base + k->off);
        char *s = strdup(text);
        if (!s)
            return RG_ENOMEM;
        free(*slot);
        *slot = s;
        return 0;
    }
    case K_INT: {
        errno = 0;
        long long v = strtoll(text, &end, 10);
        if (*text == '\0' || *end != '\0' || errno) {
            rg_diags_add(d, file, line, col, NULL, "%s.%s: expected an integer, got '%s'",
                         k->section, k->key, text);
            return RG_EPARSE;
        }
        if (v < (long long)k->min || v > (long long)k->max) {
            rg_diags_add(d, file, line, col, NULL, "%s.%s: %lld is out of range [%g, %g]",
                         k->section, k->key, v, k->min, k->max);
            return RG_EPARSE;
        }
        *(int *)(base + k->off) = (int)v;
        return 0;
    }
    case K_DOUBLE: {
        errno = 0;
        double v = strtod(text, &end);
        if (*text == '\0' || *end != '\0' || errno || v != v) {
            rg_diags_add(d, file, line, col, NULL, "%s.%s: expected a number, got '%s'",
                         k->section, k->key, text);
            return RG_EPARSE;
        }
        if (v < k->min || v > k->max) {
            rg_diags_add(d, file, line, col, NULL, "%s.%s: %g is out of range [%g, %g]",
                         k->section, k->key, v, k->min, k->max);
            return RG_EPARSE;
        }
        *(double *)(base + k->off) = v;
        return 0;
    }
    case K_BOOL:
        if (!strcmp(text, "true") || !strcmp(text, "yes") || !strcmp(text, "on") ||
            !strcmp(text, "1")) {
            *(bool *)(base + k->off) = true;
            return 0;
        }
        if (!strcmp(text, "false") || !strcmp(text, "no") || !strcmp(text, "off") ||
            !strcmp(text, "0")) {
            *(bool *)(base + k->off) = false;
            return 0;
        }
        rg_diags_add(d, file, line, col, NULL, "%s.%s: expected true or false, got '%s'",
                     k->section, k->key, text);
        return RG_EPARSE;
    case K_ENUM:
        for (int i = 0; k->enums[i]; i++) {
            if (!strcmp(text, k->enums[i])) {
                *(int *)(base + k->off) = i;
                return 0;
            }
        }
        {
            char list[256] = "";
            for (int i = 0; k->enums[i]; i++) {
                strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
                strncat(list, k->enums[i], sizeof(list) - strlen(list) - 1);
            }
            rg_diags_add(d, file, line, col, NULL, "%s.%s: '%s' is not one of: %s",
                         k->section, k->key, text, list);
        }
        return RG_EPARSE;
    case K_PROPS:
        return RG_EINVAL;
    }
    return RG_EINVAL;
}

struct rg_conf *rg_conf_new_default(void)
{
    struct rg_conf *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    struct rg_diags d;
    rg_diags_init(&d);
    for (size_t i = 0; i < N_KEYS; i++) {
        if (g_keys[i].type == K_PROPS)
            continue;
        if (set_from_text(c, &g_keys[i], g_keys[i].def, "<defaults>", 0, 0, &d) != 0) {
            rg_diags_fini(&d);
            rg_conf_free(c);
            return NULL;
        }
    }
    rg_diags_fini(&d);
    return c;
}

void rg_conf_free(struct rg_conf *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < N_KEYS; i++)
        if (g_keys[i].type == K_STR)
            free(*(char **)((char *)c + g_keys[i].off));
    for (int i = 0; i < c->n_kafka_props; i++) {
        free(c->kafka_props[i].key);
        free(c->kafka_props[i].value);
    }
    free(c->file);
    free(c);
}

static int add_prop(struct rg_conf *c, enum rg_kafka_scope scope, const char *key,
                    const char *value)
{
    for (int i = 0; i < c->n_kafka_props; i++) {
        if (c->kafka_props[i].scope == scope && !strcmp(c->kafka_props[i].key, key)) {
            char *v = strdup(value);
            if (!v)
                return RG_ENOMEM;
            free(c->kafka_props[i].value);
            c->kafka_props[i].value = v;
            return 0;
        }
    }
    if (c->n_kafka_props >= RG_CONF_MAX_PROPS)
        return RG_ETOOBIG;
    struct rg_kv *kv = &c->kafka_props[c->n_kafka_props];
    kv->scope = scope;
    kv->key = strdup(key);
    kv->value = strdup(value);
    if (!kv->key || !kv->value) {
        free(kv->key);
        free(kv->value);
        kv->key = kv->value = NULL;
        return RG_ENOMEM;
    }
    c->n_kafka_props++;
    return 0;
}

/* A copy of a kafka property value with every ${NAME} replaced by the
 * environment variable NAME, so secrets (sasl.password, ssl.key.password)
 * need not sit in the file; "$${" is a literal "${". NULL with the reason
 * in `why` (never the value: it may be a secret) when a reference is
 * malformed or names an unset variable. */
static char *expand_env_refs(const char *s, char *why, size_t why_cap)
{
    size_t cap = strlen(s) + 1, n = 0;
    char *out = malloc(cap), var[64];
    if (!out)
        goto oom;
    while (*s) {
        const char *add = s;
        size_t len = 1;
        if (s[0] == '$' && s[1] == '$' && s[2] == '{') {
            add = s + 1; /* "$${" -> "${" */
            len = 2;
            s += 3;
        } else if (s[0] == '$' && s[1] == '{') {
            const char *name = s + 2, *end = name;
            while (isalnum((unsigned char)*end) || *end == '_')
                end++;
            if (*end != '}' || end == name || isdigit((unsigned char)*name)) {
                snprintf(why, why_cap, "'${' must start a reference ${NAME} to an environment "
                                       "variable (write '$${' for a literal '${')");
                goto fail;
            }
            if ((size_t)(end - name) >= sizeof(var)) {
                snprintf(why, why_cap, "environment variable name too long");
                goto fail;
            }
            memcpy(var, name, (size_t)(end - name));
            var[end - name] = '\0';
            if (!(add = getenv(var))) {
                snprintf(why, why_cap, "environment variable %s is not set", var);
                goto fail;
            }
            len = strlen(add);
            s = end + 1;
        } else {
            s++;
        }
        if (n + len + 1 > cap) {
            cap = (n + len + 1) * 2;
            char *nb = realloc(out, cap);
            if (!nb)
                goto oom;
            out = nb;
        }
        memcpy(out + n, add, len);
        n += len;
    }
    out[n] = '\0';
    return out;
oom:
    snprintf(why, why_cap, "out of memory");
fail:
    free(out);
    return NULL;
}

/* Names of the keys of one section (or the sections when section is NULL)
 * for "did you mean". */
static size_t key_names(const char *section, const char **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < N_KEYS && n < cap; i++) {
        const char *name = section ? g_keys[i].key : g_keys[i].section;
        if (section && strcmp(g_keys[i].section, section) != 0)
            continue;
        bool seen = false;
        for (size_t j = 0; j < n; j++)
            if (!strcmp(out[j], name))
                seen = true;
        if (!seen)
            out[n++] = name;
    }
    return n;
}

static const struct conf_key *find_key(const char *section, const char *key)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(g_keys[i].section, section) && (!key || !strcmp(g_keys[i].key, key)))
            return &g_keys[i];
    return NULL;
}

static void unknown(struct rg_diags *d, const char *file, const struct rg_ynode *kn,
                    const char *section)
{
    const char *names[N_KEYS];
    size_t n = key_names(section, names, N_KEYS);
    const char *best = rg_did_you_mean(kn->str, names, n);
    char hint[160];
    if (best)
        snprintf(hint, sizeof(hint), "did you mean '%s'?", best);
    if (section)
        rg_diags_add(d, file, kn->line, kn->col, best ? hint : NULL,
                     "unknown key '%s' in section '%s'", kn->str, section);
    else
        rg_diags_add(d, file, kn->line, kn->col, best ? hint : NULL,
                     "unknown section '%s'", kn->str);
}

static void load_section(struct rg_conf *c, const char *file, const char *section,
                         const struct rg_ynode *map, struct rg_diags *d)
{
    if (map->type != RG_Y_MAP) {
        rg_diags_add(d, file, map->line, map->col, NULL,
                     "section '%s' must be a mapping, not a %s", section,
                     rg_ynode_type_str(map));
        return;
    }
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct rg_ynode *kn = map->items[i], *vn = map->items[i + 1];
        if (kn->type != RG_Y_SCALAR) {
            rg_diags_add(d, file, kn->line, kn->col, NULL, "keys must be plain words");
            continue;
        }
        const struct conf_key *k = find_key(section, kn->str);
        if (!k) {
            unknown(d, file, kn, section);
            continue;
        }
        if (k->type == K_PROPS) {
            if (vn->type != RG_Y_MAP) {
                rg_diags_add(d, file, vn->line, vn->col, NULL,
                             "%s.%s must be a mapping of librdkafka properties", section, k->key);
                continue;
            }
            for (size_t j = 0; j + 1 < vn->n; j += 2) {
                const struct rg_ynode *pk = vn->items[j], *pv = vn->items[j + 1];
                if (pk->type != RG_Y_SCALAR || pv->type != RG_Y_SCALAR) {
                    rg_diags_add(d, file, pk->line, pk->col, NULL,
                                 "librdkafka properties are 'name: value' scalars");
                    continue;
                }
                const char *why = rg_kafka_prop_reserved(pk->str);
                if (why) {
                    rg_diags_add(d, file, pk->line, pk->col, NULL,
                                 "%s.%s: riskgate sets '%s' itself (%s)", section, k->key,
                                 pk->str, why);
                    continue;
                }
                char bad[96];
                char *val = expand_env_refs(pv->str, bad, sizeof(bad));
                if (!val) {
                    rg_diags_add(d, file, pv->line, pv->col, NULL, "%s.%s.%s: %s", section,
                                 k->key, pk->str, bad);
                    continue;
                }
                if (add_prop(c, (enum rg_kafka_scope)k->off, pk->str, val) != 0)
                    rg_diags_add(d, file, pk->line, pk->col, NULL,
                                 "too many kafka properties (max %d)", RG_CONF_MAX_PROPS);
                free(val);
            }
            continue;
        }
        if (vn->type != RG_Y_SCALAR) {
            rg_diags_add(d, file, vn->line, vn->col, NULL, "%s.%s must be a scalar, not a %s",
                         section, k->key, rg_ynode_type_str(vn));
            continue;
        }
        set_from_text(c, k, vn->str, file, vn->line, vn->col, d);
    }
}

static void check_consistency(struct rg_conf *c, const char *file, struct rg_diags *d)
{
    if (c->builtin_step_up_amount > c->builtin_deny_amount)
        rg_diags_add(d, file, 0, 0, NULL,
                     "policy.builtin_step_up_amount must not exceed builtin_deny_amount");
    if (!c->kafka_bootstrap[0])
        rg_diags_add(d, file, 0, 0, NULL, "kafka.bootstrap is empty");
    /* A user's profile is cached by the instance that owns the user's
     * transactions partition, and feedback updates the same profile: both
     * partitions must go to one instance. The range assignor does that for
     * topics with equal partition counts; roundrobin and cooperative-sticky
     * spread the two topics independently. */
    for (int i = 0; c->topic_feedback[0] && i < c->n_kafka_props; i++) {
        const struct rg_kv *p = &c->kafka_props[i];
        /* "range,roundrobin" (librdkafka's default) is range among riskgate
         * instances: the group takes the members' first choice. */
        bool range_first = !strncmp(p->value, "range", 5) &&
                           (p->value[5] == '\0' || p->value[5] == ',');
        if (p->scope != RG_KAFKA_PRODUCER && !strcmp(p->key, "partition.assignment.strategy") &&
            !range_first)
            rg_diags_add(d, file, 0, 0, NULL,
                         "partition.assignment.strategy '%s': while kafka.topic_feedback is "
                         "consumed only 'range' keeps a user's %s and %s partitions on one "
                         "instance (feedback would update profiles another instance caches); "
                         "use range, or set topic_feedback: \"\"",
                         p->value, c->topic_in, c->topic_feedback);
    }
}

int rg_conf_load_buf(const char *buf, size_t len, const char *file,
                     struct rg_diags *d, struct rg_conf **out)
{
    *out = NULL;
    size_t before = d->n;
    struct rg_conf *c = rg_conf_new_default();
    if (!c)
        return RG_ENOMEM;
    c->file = strdup(file ? file : "<input>");
    struct rg_ydoc *doc = NULL;
    int rc = rg_ydoc_parse(buf, len, c->file ? c->file : "<input>", d, &doc);
    if (rc == 0 && doc->root) {
        const struct rg_ynode *root = doc->root;
        if (root->type != RG_Y_MAP) {
            rg_diags_add(d, file, root->line, root->col, NULL,
                         "the configuration must be a mapping of sections");
        } else {
            for (size_t i = 0; i + 1 < root->n; i += 2) {
                const struct rg_ynode *kn = root->items[i];
                if (kn->type != RG_Y_SCALAR || !find_key(kn->str, NULL)) {
                    if (kn->type == RG_Y_SCALAR)
                        unknown(d, file, kn, NULL);
                    continue;
                }
                load_section(c, file, kn->str, root->items[i + 1], d);
            }
        }
    }
    rg_ydoc_free(doc);
    if (rc == 0)
        rg_conf_apply_env(c, d);
    if (rc == 0 && d->n == before)
        check_consistency(c, file, d);
    if (rc == 0 && d->n > before)
        rc = RG_EPARSE;
    if (rc != 0) {
        rg_conf_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int rg_conf_load_file(const char *path, struct rg_diags *d, struct rg_conf **out)
{
    char *buf;
    size_t len;
    *out = NULL;
    int rc = rg_read_file(path, RG_YTREE_MAX_BYTES, &buf, &len);
    if (rc != 0) {
        rg_diags_add(d, path, 0, 0, NULL, "cannot read configuration: %s", rg_err_str(rc));
        return rc;
    }
    rc = rg_conf_load_buf(buf, len, path, d, out);
    free(buf);
    return rc;
}

int rg_split_hostport(const char *s, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= cap)
        return RG_EINVAL;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p < 0 || p > 65535)
        return RG_EINVAL;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    *port = (int)p;
    return 0;
}

int rg_conf_apply_env(struct rg_conf *c, struct rg_diags *d)
{
    size_t before = d->n;
    const char *v;
    if ((v = getenv("RISKGATE_KAFKA_BOOTSTRAP")) && *v)
        set_from_text(c, find_key("kafka", "bootstrap"), v, "RISKGATE_KAFKA_BOOTSTRAP", 0, 0, d);
    if ((v = getenv("RISKGATE_REDIS")) && *v) {
        char host[256];
        int port;
        if (rg_split_hostport(v, host, sizeof(host), &port) != 0) {
            rg_diags_add(d, "RISKGATE_REDIS", 0, 0, NULL, "expected host:port, got '%s'", v);
        } else {
            char pbuf[16];
            snprintf(pbuf, sizeof(pbuf), "%d", port);
            set_from_text(c, find_key("redis", "host"), host, "RISKGATE_REDIS", 0, 0, d);
            set_from_text(c, find_key("redis", "port"), pbuf, "RISKGATE_REDIS", 0, 0, d);
        }
    }
    /* RISKGATE_<SECTION>_<KEY> for every scalar key. */
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct conf_key *k = &g_keys[i];
        if (k->type == K_PROPS)
            continue;
        char name[96];
        snprintf(name, sizeof(name), "RISKGATE_%s_%s", k->section, k->key);
        for (char *p = name; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        if (!strcmp(name, "RISKGATE_KAFKA_BOOTSTRAP"))
            continue;
        if ((v = getenv(name)) != NULL)
            set_from_text(c, k, v, name, 0, 0, d);
    }
    return d->n > before ? RG_EPARSE : 0;
}

void rg_conf_print_reference(FILE *out)
{
    fprintf(out, "# riskgate.yaml reference\n\n"
                 "Generated by `riskgate config reference` from the key table in "
                 "src/core/conf.c. Unknown keys are errors. Every scalar key can be "
                 "overridden by the environment variable `RISKGATE_<SECTION>_<KEY>` "
                 "(upper case), and `RISKGATE_KAFKA_BOOTSTRAP` / `RISKGATE_REDIS` "
                 "(host:port) override the broker and Redis addresses.\n");
    const char *section = "";
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct conf_key *k = &g_keys[i];
        if (strcmp(section, k->section) != 0) {
            section = k->section;
            fprintf(out, "\n## `%s`\n\n| key | type | default | range | description |\n"
                         "|---|---|---|---|---|\n", section);
        }
        const char *type = k->type == K_STR ? "string" : k->type == K_INT ? "integer"
                         : k->type == K_DOUBLE ? "number" : k->type == K_BOOL ? "bool"
                         : k->type == K_ENUM ? "enum" : "mapping";
        char range[128] = "";
        if (k->type == K_INT || k->type == K_DOUBLE)
            snprintf(range, sizeof(range), "%g – %g", k->min, k->max);
        else if (k->type == K_ENUM)
            for (int j = 0; k->enums[j]; j++) {
                strncat(range, j ? " \\| " : "", sizeof(range) - strlen(range) - 1);
                strncat(range, k->enums[j], sizeof(range) - strlen(range) - 1);
            }
        fprintf(out, "| `%s` | %s | `%s` | %s | %s |\n", k->key, type, k->def, range, k->desc);
    }
}
