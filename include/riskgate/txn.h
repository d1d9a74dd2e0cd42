/*
 * txn.h - a decoded, validated payment event (the input contract).
 *
 * Fixed-size fields so decoding allocates nothing; the decoder rejects a
 * value longer than its field (dead letter "field_too_long"). Optional
 * fields have a bit in `has`. Strings are NUL-terminated UTF-8.
 *
 * The contract is in README.md ("Input event") and ../shared/BRIEF.md.
 */
#ifndef RISKGATE_TXN_H
#define RISKGATE_TXN_H

#include <stdbool.h>
#include <stdint.h>

#define RG_ID_MAX 128       /* event_id, user_id, merchant_id, device_id, card_token */
#define RG_SHORT_MAX 32     /* merchant_category, channel, auth_method */
#define RG_IP_MAX 45        /* textual IPv6 */

enum rg_txn_has {
    RG_HAS_MERCHANT_ID   = 1u << 0,
    RG_HAS_MERCHANT_CAT  = 1u << 1,
    RG_HAS_CHANNEL       = 1u << 2,
    RG_HAS_DEVICE_ID     = 1u << 3,
    RG_HAS_IP            = 1u << 4,
    RG_HAS_COUNTRY       = 1u << 5,
    RG_HAS_GEO           = 1u << 6, /* both lat and lon */
    RG_HAS_CARD_TOKEN    = 1u << 7,
    RG_HAS_AUTH_METHOD   = 1u << 8,
};

struct rg_txn {
    char event_id[RG_ID_MAX + 1];
    char user_id[RG_ID_MAX + 1];
    double amount;              /* major units, finite, >= 0 */
    char currency[4];           /* ISO 4217, 3 upper-case letters */
    int64_t ts_ms;              /* event time, epoch milliseconds UTC */
    uint32_t has;               /* enum rg_txn_has bits */
    char merchant_id[RG_ID_MAX + 1];
    char merchant_category[RG_SHORT_MAX + 1];
    char channel[RG_SHORT_MAX + 1];
    char device_id[RG_ID_MAX + 1];
    char ip[RG_IP_MAX + 1];
    char country[3];            /* ISO 3166 alpha-2, upper case */
    double lat, lon;            /* valid when RG_HAS_GEO */
    char card_token[RG_ID_MAX + 1];
    char auth_method[RG_SHORT_MAX + 1];

    /* Transport metadata, filled by the consumer (not part of the JSON). */
    int32_t partition;
    int64_t offset;
    int64_t kafka_ts_ms;        /* message timestamp (produce time), -1 if none */
};

#endif
