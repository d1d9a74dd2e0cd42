/*
 * profile.h - behavioural profiles (user, device, merchant, IP) and the
 * feature computation that reads them.
 *
 * DESIGN (details and measured numbers in docs/profiles.md)
 *
 * - A worker owns one struct rg_profile_store. User profiles belong to the
 *   partition that carries the user's events, so the store caches them in
 *   process (bounded CLOCK cache). Device, merchant and IP profiles receive
 *   events from every partition, so they are updated atomically inside
 *   Redis: ONE EVALSHA per batch makes those updates (a bounded exact set
 *   of recent users per device/IP, packed minute/day cells per merchant)
 *   and writes the batch's dirty user profiles back, in one script.
 * - Point in time: every feature of an event is computed before that event
 *   updates any profile; events of one batch are applied in order, so event
 *   i sees events 0..i-1.
 * - Replay safety: the user profile keeps (partition, last applied offset)
 *   and skips events at or below it, and such an event updates no shared
 *   entity either: the profiles are written in the same atomic script as
 *   the shared updates. Set adds are idempotent. Skipped (re-consumed)
 *   events still get features, computed against the current state.
 * - Keys are pseudonymised: prefix + kind + ":" + hex(HMAC-SHA256(secret,
 *   kind | id))[0..32]. Every key written carries a TTL.
 * - in_memory = true replaces Redis with hash tables in the process
 *   (replay, unit tests): same feature code, same user encoding, same rules.
 *
 * The secret: the caller (the lead's config: profiles.secret_file or
 * RISKGATE_PROFILE_SECRET) passes the bytes; rg_profile_secret_load() is a
 * helper for exactly that.
 */
#ifndef RISKGATE_PROFILE_H
#define RISKGATE_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "riskgate/txn.h"
#include "riskgate/verdict.h"

/* ---- time rules (docs/profiles.md "Time") ---- */
#define RG_PROF_FUTURE_SKEW_MS (5LL * 60 * 1000)      /* later than now+5 min -> now */
#define RG_PROF_MAX_AGE_MS     (30LL * 24 * 3600 * 1000) /* older: features only, no update */

/* ---- the user profile (decoded form) ---- */
#define RG_UP_RING 16   /* most recent events kept exactly */
#define RG_UP_BUCKETS 24 /* hourly aggregates of events evicted from the ring */
#define RG_UP_SET 8     /* hashed sets: countries, devices, merchants */
#define RG_UP_MARKS 8   /* feedback marks: failed step-ups, fraud labels */

enum { RG_UP_EV_GIFT = 1 };

struct rg_up_event {
    int64_t ts_ms;
    float amount;
    uint8_t flags;              /* RG_UP_EV_GIFT: gift_card or game merchant */
};

struct rg_up_bucket {
    int32_t hour;               /* epoch hour; n == 0 means empty */
    uint16_t n;
    float amount, gift;
};

struct rg_up_slot {
    uint16_t hash;              /* 16-bit hash of the member; 0 = empty slot */
    uint32_t seen_s;            /* epoch seconds of the last sighting */
};

struct rg_up_mark {
    uint32_t at_s;              /* epoch seconds (feedback arrival); 0 = empty */
    uint16_t ev;                /* 16-bit hash of the event_id (dedup) */
};

struct rg_user_prof {
    uint32_t n_events;          /* events applied (0 = no history) */
    int64_t first_ms, last_ms;  /* first / latest event time (never moves back) */
    int32_t hw_partition;       /* replay guard: last applied (partition, offset) */
    int64_t hw_offset;          /* -1: none */
    double mean, m2, weight;    /* decayed moments of amount (half-life 30 d) */
    int64_t moments_ms;         /* time the moments are decayed to */
    bool has_geo;
    float lat, lon;
    int64_t geo_ms;
    uint8_t hod[24];            /* hour-of-day histogram, halved when a cell saturates */
    uint8_t n_ring;
    struct rg_up_event ring[RG_UP_RING];      /* ascending ts */
    struct rg_up_bucket buckets[RG_UP_BUCKETS]; /* slot = hour % 24 */
    struct rg_up_slot countries[RG_UP_SET], devices[RG_UP_SET], merchants[RG_UP_SET];
    int32_t month;              /* year*12 + month0 of month_spend; -1 none */
    double month_spend;
    double month_carrier;       /* carrier_billing part of month_spend */
    struct rg_up_mark failed[RG_UP_MARKS], frauds[RG_UP_MARKS];
    uint8_t preferred;          /* enum rg_step_up_method */
};

/* What the shared (Redis) entities said about one event, read before the
 * event's own update. Negative = not available (no id / Redis down). */
struct rg_shared_feats {
    int64_t dev_users_24h, dev_users_30d;
    int64_t m_count_1h, m_events_30d, m_frauds_30d, m_frauds_7d;
    int64_t ip_users_24h;
};

/* Pure functions (any thread; no I/O). ------------------------------- */

/* 16-bit non-zero hash of a set member (countries, devices, merchants). */
uint16_t rg_prof_hash16(const char *s);

/* Empty profile (no history). */
void rg_user_prof_init(struct rg_user_prof *up);

/* Effective event time for window math: ts clamped to now when more than
 * RG_PROF_FUTURE_SKEW_MS ahead of now. */
int64_t rg_prof_event_time(int64_t ts_ms, int64_t now_ms);

/* Apply txn to up (after its features were computed). Returns 1 when
 * applied, 0 when skipped as a replay ((partition, offset) at or below the
 * high-water mark) or too old (windows untouched, see docs). */
int rg_user_prof_apply(struct rg_user_prof *up, const struct rg_txn *txn, int64_t now_ms);

/* Feedback on the user profile; at_ms is the arrival time. ev_id may be
 * NULL. Return 1 applied, 0 duplicate. */
int rg_user_prof_add_failed_step_up(struct rg_user_prof *up, const char *ev_id, int64_t at_ms);
int rg_user_prof_add_fraud(struct rg_user_prof *up, const char *ev_id, int64_t at_ms);

/* Compute every catalog feature into out[RG_FEAT_COUNT] (feature.h).
 * up == NULL: the user profile is unavailable (user features missing);
 * sh == NULL: shared entities unavailable. Point in time: call before
 * rg_user_prof_apply() for the same event. */
void rg_feature_compute(const struct rg_user_prof *up, const struct rg_shared_feats *sh,
                        const struct rg_txn *txn, int64_t now_ms, double *out);

/* Fill the shared-entity features of a row that rg_feature_compute() made
 * with sh == NULL: the same row as passing sh there. The profile store
 * uses it to compute the user part before the event's own update and the
 * shared part when Redis has answered. */
void rg_feature_add_shared(const struct rg_shared_feats *sh, const struct rg_txn *txn,
                           double *out);

/* Encoding: version byte, CRC32C-checked, little-endian, variable length.
 * rg_user_prof_encode returns bytes written or RG_ETOOBIG;
 * RG_UP_ENC_MAX always suffices. decode returns 0 or RG_ECORRUPT. */
#define RG_UP_ENC_VERSION 2 /* 2: month_carrier */
#define RG_UP_ENC_MAX 1024
int rg_user_prof_encode(const struct rg_user_prof *up, unsigned char *buf, size_t cap);
int rg_user_prof_decode(struct rg_user_prof *up, const unsigned char *buf, size_t len);

/* Pseudonymised key: prefix + kind + ":" + 32 hex chars of
 * HMAC-SHA256(secret, kind '\0' id). kind: 'u' user, 'd' device,
 * 'm' merchant, 'i' ip. Returns length or negative rg_err. */
#define RG_PROF_KEY_MAX 96
int rg_profile_key(const unsigned char *secret, size_t secret_len, const char *prefix,
                   char kind, const char *id, char *out, size_t cap);

/* ---- the store ---- */

struct rg_profile_conf {
    const char *redis_host;     /* default "127.0.0.1" */
    int redis_port;             /* default 6379 */
    const char *redis_password; /* NULL: no AUTH */
    const char *key_prefix;     /* default "rg:" (max 32 bytes) */
    const unsigned char *secret; /* required, copied */
    size_t secret_len;
    int ttl_days;               /* default 90 */
    int timeout_ms;             /* connect/read/write timeout, default 200 */
    size_t cache_users;         /* default 200000 */
    bool in_memory;             /* hash tables instead of Redis */
};

struct rg_user_ctx {
    enum rg_step_up_method preferred;
    int failed_step_ups_24h;    /* -1 when unknown */
};

struct rg_profile_stats {
    uint64_t events, replays_skipped, too_old;
    uint64_t redis_errors, reconnects, corrupt_values;
    uint64_t cmds_sent, round_trips;
    uint64_t cache_hits, cache_misses, cache_evictions;
    uint64_t updates_dropped;   /* updates lost to an outage (shared, or user miss) */
    uint64_t feedback_applied, feedback_duplicates;
};

struct rg_profile_store;

/* One per worker thread; Redis is connected lazily. NULL on bad conf
 * (no secret) or out of memory. @locality the owning worker thread. */
struct rg_profile_store *rg_profile_store_new(const struct rg_profile_conf *c);
/* Does not flush; call rg_profile_flush() first to keep pending updates. */
void rg_profile_store_free(struct rg_profile_store *s);

/* For each txns[i]: features into feat + i*RG_FEAT_COUNT (before updates),
 * uctx[i], degraded[i]; then the event's updates, in order. When all the
 * users are cached, their write-back is part of the same round trip, and a
 * 0 return means it is in Redis (rg_profile_flush() then has nothing to
 * do). Returns 0, or
 * RG_EAGAIN when Redis is unavailable: then degraded[i] is true where a
 * Redis-backed feature is missing. User updates of cached users stay in the
 * cache (written back later); shared-entity updates and updates of users
 * that could not be loaded are dropped and counted (updates_dropped).
 * txns[i].partition/.offset drive idempotency (offset < 0: always apply).
 * n may be at most 4096. @locality the owning worker thread. */
int rg_profile_process_batch(struct rg_profile_store *s, const struct rg_txn *txns, size_t n,
                             double *feat, struct rg_user_ctx *uctx, bool *degraded);

/* Write every dirty user profile back (one command per 512 users, one
 * round trip). Returns 0 when all updates of processed events are in Redis;
 * RG_EAGAIN otherwise (they stay dirty; do not commit offsets). In memory
 * mode a no-op returning 0. @locality the owning worker thread. */
int rg_profile_flush(struct rg_profile_store *s);

/* Forget every cached user profile, so that each is loaded from Redis again
 * when its next event or feedback comes: call it when partitions may have
 * moved to another instance of the consumer group (a revoke). Another
 * instance may update those users meanwhile; a profile cached from before
 * would hide its updates from the features and overwrite them at the next
 * write-back. Dirty profiles are flushed first; those that cannot be
 * written (Redis down) are dropped, counted in updates_dropped and in
 * *dropped when it is not NULL. Returns the number of users forgotten. In
 * memory mode dirty profiles go to the map. @locality the owning worker
 * thread. */
size_t rg_profile_forget(struct rg_profile_store *s, size_t *dropped);

/* Decode and apply one risk-feedback JSON event. Returns 0; RG_EPARSE /
 * RG_EINVAL with a reason in reason[reason_cap] for malformed input (send
 * it to the DLQ); RG_EAGAIN when Redis is down (retry later). Duplicate
 * labels (same event_id) are counted once. */
int rg_profile_feedback(struct rg_profile_store *s, const char *json, size_t len, char *reason,
                        size_t reason_cap);

void rg_profile_stats(const struct rg_profile_store *s, struct rg_profile_stats *out);

/* Secret helper: RISKGATE_PROFILE_SECRET when set, else the contents of
 * path (trailing newline stripped). Returns length (>= 16) or negative
 * rg_err; buf is caller-owned. */
int rg_profile_secret_load(const char *path, unsigned char *buf, size_t cap);

/* `riskgate profile bench [--host H] [--port P] [--users N] [--events N]
 *  [--batch N] [--memory]`: throughput, commands and round trips per event,
 * bytes per profile. argv[0] = "profile". Returns a process exit code. */
int rg_profile_cli(int argc, char **argv);

#endif
