/*
 * kafka_conf.c - riskgate's Kafka client settings, then the config's; see
 * include/riskgate/kafka_conf.h.
 */
#include "riskgate/kafka_conf.h"

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

static int set(rd_kafka_conf_t *kc, const char *name, const char *value, const char *from)
{
    char err[512];
    if (rd_kafka_conf_set(kc, name, value, err, sizeof(err)) == RD_KAFKA_CONF_OK)
        return 0;
    RG_ERROR(MOD, "%s%s=%s: %s", from, name, value, err);
    return -1;
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
