/*
 * kafka_conf.c - riskgate's Kafka client settings, then the config's; see
 * include/riskgate/kafka_conf.h.
 */
#include "riskgate/kafka_conf.h"

#include <stdbool.h>
#include <string.h>

#include "riskgate/log.h"

#define MOD "kafka"

/* Properties riskgate sets itself (the engine, step 1) or derives from its
 * own keys, with the reason the config may not set them. */
static const struct {
    const char *name, *why;
} g_reserved[] = {
    { "bootstrap.servers", "use kafka.bootstrap" },
    { "metadata.broker.list", "use kafka.bootstrap" },
    { "group.id", "use kafka.group_id" },
    { "auto.commit.interval.ms", "use kafka.commit_interval_ms" },
    { "enable.auto.commit", "offsets are committed from delivery watermarks" },
    { "enable.auto.offset.store", "offsets are stored only after a verdict is delivered" },
    { "enable.partition.eof", "the engine expects no end-of-partition events" },
    { "enable.idempotence", "the verdict producer must be idempotent (order, no duplicates)" },
    { "acks", "verdicts need acks=all" },
    { "request.required.acks", "verdicts need acks=all" },
    { "message.timeout.ms", "deliveries are retried until they succeed (never lost)" },
    { "delivery.timeout.ms", "deliveries are retried until they succeed (never lost)" },
    { "auto.offset.reset", "a new group starts at the earliest event (none skipped)" },
};
#define N_RESERVED (sizeof(g_reserved) / sizeof(g_reserved[0]))

/* riskgate's tunable defaults (step 2), with why. */
struct tunable {
    const char *name, *value, *why;
};
static const struct tunable g_producer_tunables[] = {
    { "linger.ms", "2", "verdicts wait at most 2 ms for a batch" },
    { "batch.num.messages", "10000", "large batches at high rates" },
    { "queue.buffering.max.messages", "500000", "room for bursts; a full queue blocks, never drops" },
    { "compression.type", "lz4", "cheap compression of JSON verdicts" },
    { NULL, NULL, NULL },
};
static const struct tunable g_consumer_tunables[] = {
    { "queued.max.messages.kbytes", "65536", "bounded prefetch (64 MiB)" },
    { "fetch.wait.max.ms", "10", "the broker holds an empty fetch at most 10 ms" },
    { NULL, NULL, NULL },
};

static const char *const g_section[] = {
    [RG_KAFKA_BOTH] = "properties",
    [RG_KAFKA_PRODUCER] = "producer_properties",
    [RG_KAFKA_CONSUMER] = "consumer_properties",
};

const char *rg_kafka_prop_reserved(const char *name)
{
    for (size_t i = 0; i < N_RESERVED; i++)
        if (!strcmp(name, g_reserved[i].name))
            return g_reserved[i].why;
    return NULL;
}

bool rg_kafka_prop_secret(const char *name)
{
    static const char *const marks[] = { "password", "secret", "jaas", "ssl.key.pem",
                                         "ssl_key", "oauthbearer.config", "certificate.pem" };
    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
        if (strstr(name, marks[i]))
            return true;
    return false;
}

static int set(rd_kafka_conf_t *kc, const char *name, const char *value, const char *from)
{
    char err[512];
    if (rd_kafka_conf_set(kc, name, value, err, sizeof(err)) == RD_KAFKA_CONF_OK)
        return 0;
    if (rg_kafka_prop_secret(name)) {
        /* Never the value, nor librdkafka's message if it quotes it. */
        RG_ERROR(MOD, "%s%s=(redacted): %s", from, name,
                 *value && strstr(err, value) ? "rejected by librdkafka" : err);
        return -1;
    }
    RG_ERROR(MOD, "%s%s=%s: %s", from, name, value, err);
    return -1;
}

/* librdkafka before 2.6.1 sends a SCRAM client-final message with the
 * client nonce appended twice; Kafka 4 brokers check the nonce strictly
 * (RFC 5802) and refuse the login as "invalid credentials" (librdkafka
 * #4895). Measured with Debian 12's 2.0.2 against the stack's Kafka 4.4
 * (tests/integration/test_kafka_security.sh). */
#define RG_RDKAFKA_SCRAM_FIXED 0x020601ff

const char *rg_kafka_conf_advice(const rd_kafka_conf_t *kc, int lib_version)
{
    char mech[64];
    size_t n = sizeof(mech);
    if (rd_kafka_conf_get(kc, "sasl.mechanisms", mech, &n) != RD_KAFKA_CONF_OK)
        return NULL;
    if (strncmp(mech, "SCRAM-", 6) != 0 || lib_version >= RG_RDKAFKA_SCRAM_FIXED)
        return NULL;
    return "this librdkafka cannot log in with SCRAM to Kafka 4.0 or later brokers "
           "(librdkafka #4895, fixed in 2.6.1): they refuse it as invalid credentials. "
           "Against such brokers use sasl.mechanism PLAIN over SASL_SSL, OAUTHBEARER or "
           "mutual TLS (docs/config.md)";
}

int rg_kafka_conf_apply(rd_kafka_conf_t *kc, const char *const *guarantees,
                        const struct rg_conf *c, enum rg_kafka_scope scope)
{
    for (; guarantees[0]; guarantees += 2)
        if (set(kc, guarantees[0], guarantees[1], "kafka client setting ") != 0)
            return -1;
    const struct tunable *t = scope == RG_KAFKA_PRODUCER ? g_producer_tunables
                                                         : g_consumer_tunables;
    for (; t->name; t++)
        if (set(kc, t->name, t->value, "kafka client setting ") != 0)
            return -1;
    /* Both clients' properties first, so the client's own section wins. */
    const enum rg_kafka_scope order[2] = { RG_KAFKA_BOTH, scope };
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < c->n_kafka_props; i++) {
            const struct rg_kv *p = &c->kafka_props[i];
            if (p->scope != order[pass])
                continue;
            char from[64];
            snprintf(from, sizeof(from), "kafka.%s.", g_section[p->scope]);
            if (set(kc, p->key, p->value, from) != 0)
                return -1;
        }
    }
    const char *advice = rg_kafka_conf_advice(kc, rd_kafka_version());
    if (advice)
        RG_WARN(MOD, "librdkafka %s: %s", rd_kafka_version_str(), advice);
    return 0;
}

void rg_kafka_conf_print_reference(FILE *out)
{
    fprintf(out, "\n## Kafka client properties\n\n"
                 "`kafka.properties` go to both Kafka clients, `kafka.producer_properties` to the "
                 "verdict producer only and `kafka.consumer_properties` to the event consumer "
                 "only. They are applied after riskgate's own settings, in that order, so the "
                 "config wins over the defaults below and a client's own section wins over "
                 "`kafka.properties`. librdkafka checks names and values when riskgate starts.\n\n"
                 "Any value may name environment variables as `${NAME}`, expanded when the "
                 "config is loaded (`$${` is a literal `${`); an unset variable is a config "
                 "error naming it and the line. Secrets belong there, not in the file: "
                 "`sasl.password: ${RISKGATE_KAFKA_PASSWORD}`. riskgate never logs the value "
                 "of a property whose name holds `password`, `secret`, `jaas`, "
                 "`oauthbearer.config` or a PEM key.\n\n"
                 "Security settings are librdkafka's own (`security.protocol`, `sasl.*`, "
                 "`ssl.*`); tests/integration/test_kafka_security.sh runs riskgate against a "
                 "broker with SASL_SSL (PLAIN) and with mutual TLS. With librdkafka before "
                 "2.6.1 (Debian 12 ships 2.0.2), SCRAM logins to Kafka 4.0 or later brokers "
                 "fail as invalid credentials (librdkafka #4895); riskgate warns at start-up. "
                 "Use PLAIN over SASL_SSL, OAUTHBEARER or mutual TLS there, or SCRAM against "
                 "Kafka 3.x.\n\n"
                 "| client | property | riskgate's default | why |\n|---|---|---|---|\n");
    for (const struct tunable *t = g_producer_tunables; t->name; t++)
        fprintf(out, "| producer | `%s` | `%s` | %s |\n", t->name, t->value, t->why);
    for (const struct tunable *t = g_consumer_tunables; t->name; t++)
        fprintf(out, "| consumer | `%s` | `%s` | %s |\n", t->name, t->value, t->why);
    fprintf(out, "\nRefused in every section (a config error naming the line), because riskgate's "
                 "delivery guarantees rest on them or its own keys set them:\n\n"
                 "| property | why |\n|---|---|\n");
    for (size_t i = 0; i < N_RESERVED; i++)
        fprintf(out, "| `%s` | %s |\n", g_reserved[i].name, g_reserved[i].why);
}
