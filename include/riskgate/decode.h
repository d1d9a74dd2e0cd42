/*
 * decode.h - decoding and validating input events (contract v1), card
 * number detection and masking, and dead-letter metadata.
 *
 * One Kafka message value is one JSON object (docs/contract.md). The
 * decoder either fills a struct rg_txn or rejects the message with a
 * stable reason code from RG_DLQ_REASON_LIST and a human message. A
 * rejected message goes to "transactions.dlq" with its original bytes,
 * card numbers masked by rg_card_mask(), and the reason in Kafka headers
 * built by rg_dlq_headers_new().
 *
 * Messages never contain a field's value for personal fields or anything
 * that could be a card number: they only name the field and the rule.
 *
 * @locality a struct rg_decoder belongs to one thread at a time (it holds
 * a per-thread bump arena for cJSON). rg_card_mask, rg_luhn_ok,
 * rg_dlq_reason_code and rg_dlq_headers_new may be called from any thread.
 */
#ifndef RISKGATE_DECODE_H
#define RISKGATE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "riskgate/txn.h"

/* Largest accepted message value, bytes (larger: too_large). */
#define RG_MSG_MAX 65536
/* Deepest accepted nesting of arrays/objects (the root object is 1). */
#define RG_DECODE_MAX_DEPTH 16
/* Amount limit (larger: invalid_value). */
#define RG_AMOUNT_MAX 1e9
/* Event time window: [2000-01-01T00:00:00Z, 2100-01-01T00:00:00Z). */
#define RG_TS_MIN_MS 946684800000LL
#define RG_TS_MAX_MS 4102444800000LL
/* Contract version, also sent as the riskgate-version DLQ header. */
#define RG_CONTRACT_VERSION "1"

/* X(ident, "code", "meaning") - codes are stable (contract v1). */
#define RG_DLQ_REASON_LIST(X)                                                          \
    X(TOO_LARGE, "too_large", "message larger than 65536 bytes")                        \
    X(EMPTY, "empty", "message is empty or only whitespace")                            \
    X(INVALID_UTF8, "invalid_utf8", "message is not valid UTF-8")                       \
    X(INVALID_JSON, "invalid_json", "message is not valid JSON")                        \
    X(TOO_DEEP, "too_deep", "arrays/objects nested deeper than 16 levels")              \
    X(NOT_AN_OBJECT, "not_an_object", "the JSON root is not an object")                 \
    X(MISSING_FIELD, "missing_field", "a required field is absent")                     \
    X(WRONG_TYPE, "wrong_type", "a known field has the wrong JSON type")                \
    X(INVALID_VALUE, "invalid_value", "a known field has a value outside its rules")    \
    X(FIELD_TOO_LONG, "field_too_long", "a string is longer than its field allows")     \
    X(DUPLICATE_FIELD, "duplicate_field", "the same key appears twice in the object")   \
    X(CARD_NUMBER, "card_number", "a string looks like a raw card number (masked)")

enum rg_dlq_reason {
#define RG_DLQ_ENUM(id, code, meaning) RG_DLQ_##id,
    RG_DLQ_REASON_LIST(RG_DLQ_ENUM)
#undef RG_DLQ_ENUM
    RG_DLQ_REASON_COUNT
};

/* Stable snake_case code ("unknown" outside the enum). Static storage. */
const char *rg_dlq_reason_code(enum rg_dlq_reason r);
/* One-line meaning of a reason, for docs and CLI help. Static storage. */
const char *rg_dlq_reason_meaning(enum rg_dlq_reason r);

#define RG_DECODE_MSG_MAX 160

struct rg_decode_error {
    enum rg_dlq_reason reason;
    char message[RG_DECODE_MSG_MAX]; /* names the field, never its value */
};

struct rg_decoder;

/* Install the process-wide cJSON allocation hooks (idempotent, thread
 * safe, also done by rg_decoder_new). Call it at startup before threads
 * use cJSON; nothing else may call cJSON_InitHooks afterwards. Pointers
 * that cJSON returns outside a decoder (cJSON_Print...) stay plain
 * malloc() memory, so free() and cJSON_free() both work on them. */
void rg_decode_global_init(void);

/* One per thread. Allocates the arena once (about 2.6 MiB of address
 * space, touched only as far as messages need). NULL on out of memory. */
struct rg_decoder *rg_decoder_new(void);
void rg_decoder_free(struct rg_decoder *dec);

/* Decode and validate buf[0..len) (need not be NUL-terminated) into txn.
 * Returns 0 on success. On rejection returns RG_EPARSE and fills *err
 * (err may be NULL); txn is then unspecified. RG_EINVAL (err filled as
 * "empty") when dec or txn is NULL, or buf is NULL with len > 0. Transport fields of txn
 * (partition, offset, kafka_ts_ms) are left untouched. Allocates nothing
 * on the heap. @locality the thread that owns dec. */
int rg_txn_decode(struct rg_decoder *dec, const char *buf, size_t len,
                  struct rg_txn *txn, struct rg_decode_error *err);

/* Parse an RFC 3339 date-time, YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
 * ('T' and 'Z' may be lower case; second 60 is accepted and rolls over;
 * the fraction has 1-9 digits and is truncated to milliseconds) into epoch
 * milliseconds UTC. 0 or RG_EPARSE. No range check. @locality any thread. */
int rg_rfc3339_parse(const char *s, int64_t *ms);

/* Luhn checksum over n ASCII digits (false for n == 0 or a non-digit). */
bool rg_luhn_ok(const char *digits, size_t n);

/* Copy in[0..len) to out[0..len), masking every card-number-looking run
 * inside JSON strings to its first 6 and last 4 digits (the digits between
 * become '*', separators are kept). A run is 13-19 digits, optionally
 * grouped by single spaces or dashes, first digit 2-6, Luhn-valid, and
 * delimited by non-digits (inside a longer string counts). JSON numbers
 * are never card numbers. Works on invalid JSON too (quoted regions are
 * treated as strings). out may equal in (masking in place). Returns the
 * number of card numbers found. */
int rg_card_mask(const char *in, size_t len, char *out);

/* Like rg_card_mask() for text that is not JSON (a Kafka key, a log
 * field): every run in the whole input counts, quotes mean nothing. */
int rg_card_mask_text(const char *in, size_t len, char *out);

/* Same scan as rg_card_mask() without writing: number of card numbers found. */
int rg_card_count(const char *in, size_t len);

/* Dead-letter metadata. Strings are borrowed for the call. */
struct rg_dlq_meta {
    const char *code;    /* rg_dlq_reason_code() */
    const char *message; /* struct rg_decode_error.message */
    const char *topic;   /* source topic */
    int32_t partition;   /* source partition */
    int64_t offset;      /* source offset */
    size_t truncated_from; /* the original's length when the value is cut, else 0 */
};

/* DLQ Kafka header names (contract v1, docs/contract.md). */
#define RG_DLQ_H_REASON "riskgate-reason"
#define RG_DLQ_H_REASON_MESSAGE "riskgate-reason-message"
#define RG_DLQ_H_SOURCE_TOPIC "riskgate-source-topic"
#define RG_DLQ_H_SOURCE_PARTITION "riskgate-source-partition"
#define RG_DLQ_H_SOURCE_OFFSET "riskgate-source-offset"
#define RG_DLQ_H_VERSION "riskgate-version"
/* Only on a dead letter whose original was too large for the dead-letter
 * topic: the original's length in bytes; the value is its first bytes. */
#define RG_DLQ_H_TRUNCATED_FROM "riskgate-truncated-from"

/* Say that a dead letter's value is cut: RG_DLQ_H_TRUNCATED_FROM = the
 * original length, unless H has it already (a second cut keeps the first
 * length). @locality any thread. */
rd_kafka_resp_err_t rg_dlq_header_truncated(rd_kafka_headers_t *h, size_t original_len);

/* Build the six DLQ headers (values as text, NULL strings become ""), and
 * RG_DLQ_H_TRUNCATED_FROM when m->truncated_from is set.
 * The caller owns the result: pass it to rd_kafka_producev() with
 * RD_KAFKA_V_HEADERS(), which takes ownership on success only; otherwise
 * rd_kafka_headers_destroy() it. NULL on out of memory. Allocates (DLQ is
 * the cold path). @locality any thread. */
rd_kafka_headers_t *rg_dlq_headers_new(const struct rg_dlq_meta *m);

#endif
