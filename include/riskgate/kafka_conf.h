/*
 * kafka_conf.h - how riskgate's Kafka clients are configured.
 *
 * A client gets, in this order (later wins):
 *   1. the settings riskgate's delivery guarantees rest on (the engine's:
 *      acks=all, idempotence, infinite delivery retries, offsets stored
 *      only after delivery, ...);
 *   2. riskgate's tunable defaults (linger.ms, compression, fetch wait ...);
 *   3. the config's kafka.properties;
 *   4. the config's kafka.producer_properties or kafka.consumer_properties.
 * The config cannot change 1: rg_conf_load_* refuses those names
 * (rg_kafka_prop_reserved), so 3 and 4 never override them.
 * Values of 3 and 4 may hold ${NAME} references to environment variables,
 * expanded at load (conf.c), so secrets stay out of the file.
 */
#ifndef RISKGATE_KAFKA_CONF_H
#define RISKGATE_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>

#include "riskgate/conf.h"

/* Why the config may not set the librdkafka property NAME, or NULL when it
 * may. */
const char *rg_kafka_prop_reserved(const char *name);

/* Whether the value of the librdkafka property NAME is a secret
 * (sasl.password, ssl.key.password, sasl.jaas.config, ...): riskgate never
 * logs it. */
bool rg_kafka_prop_secret(const char *name);

/* Steps 1-4 above on KC: GUARANTEES is a NULL-terminated list of name,
 * value pairs; SCOPE is RG_KAFKA_PRODUCER or RG_KAFKA_CONSUMER. Returns 0,
 * or -1 after logging the property librdkafka rejected. */
int rg_kafka_conf_apply(rd_kafka_conf_t *kc, const char *const *guarantees,
                        const struct rg_conf *c, enum rg_kafka_scope scope);

/* A warning about KC's settings with librdkafka LIB_VERSION (as
 * rd_kafka_version() returns it), or NULL: SCRAM with a librdkafka that
 * Kafka 4 brokers refuse. rg_kafka_conf_apply logs it. */
const char *rg_kafka_conf_advice(const rd_kafka_conf_t *kc, int lib_version);

/* The "Kafka client properties" section of docs/config.md. */
void rg_kafka_conf_print_reference(FILE *out);

#endif
