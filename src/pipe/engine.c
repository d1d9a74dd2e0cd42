/*
 * engine.c - `riskgate run`: consumer, workers, delivery reports, reload.
 *
 * DESIGN: see include/riskgate/engine.h for the threads. The parts that
 * matter for correctness:
 *
 *  - Ownership of a consumed message: the consumer thread tracks its offset
 *    (watermark slot -> token), then moves the rd_kafka_message_t into a
 *    pooled item on the owning worker's ring. The worker destroys it after
 *    producing the verdict or dead letter (copied by librdkafka), and
 *    returns the item on its free ring. Pool size == ring capacity, so an
 *    empty pool is exactly "the ring is full": the consumer then blocks on
 *    the free ring (backpressure), never drops.
 *  - Per-user order: one user -> one worker (hash of the message key) ->
 *    one FIFO ring -> verdicts produced in order, keyed by user_id, by an
 *    idempotent producer (order kept per partition).
 *  - Offsets: the delivery report of a verdict/dead letter marks its token
 *    done; the consumer thread advances contiguous watermarks and stores
 *    offset+1 with rd_kafka_offsets_store(); librdkafka's auto-commit
 *    commits only stored offsets. Feedback messages are marked done once
 *    applied to the profile store.
 *  - Generations: the decider (model + rules + policy) is published with
 *    one atomic store. A worker raises `active` (seq_cst) before it loads
 *    the pointer and lowers it after its batch; the reloader frees the old
 *    generation only after every worker was seen inactive or on the new
 *    sequence number. Both sides use seq_cst so that "reloader saw
 *    inactive" implies "worker's next load sees the new pointer".
 *  - Shutdown: stop polling, drain (bounded), join workers, flush the
 *    producer, store and commit final offsets, close.
 */
#include "riskgate/engine.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "riskgate/clock.h"
#include "riskgate/decider.h"
#include "riskgate/decode.h"
#include "riskgate/err.h"
#include "riskgate/feature.h"
#include "riskgate/http.h"
#include "riskgate/kafka_conf.h"
#include "riskgate/log.h"
#include "riskgate/metrics.h"
#include "riskgate/model.h"
#include "riskgate/profile.h"
#include "riskgate/ring.h"
#include "riskgate/rules.h"
#include "riskgate/verdict.h"
#include "riskgate/version.h"
#include "riskgate/watermark.h"

#define MOD "engine"
#define RG_MAX_PARTITIONS 1024
#define TOPIC_IN 0
#define TOPIC_FEEDBACK 1
#define VERDICT_BUF 32768

enum item_kind { ITEM_TXN, ITEM_FEEDBACK };

struct item {
    rd_kafka_message_t *rkm;
    rg_wm_token token;
    int64_t t_recv_ns;
    enum item_kind kind;
    bool applied; /* feedback: applied to the profile store, to acknowledge */
};

struct engine;

struct worker {
    struct engine *eng;
    int id;
    pthread_t th;
    struct rg_ring *ring; /* consumer -> worker */
    struct rg_ring *free; /* worker -> consumer */
    struct item *items;
    size_t n_items;
    struct rg_decoder *dec;
    struct rg_profile_store *ps;
    struct rg_profile_stats ps_seen; /* store counters already added to /metrics */
    uint64_t revokes_seen;           /* e->revokes when the user cache was last valid */
    _Atomic int active;
    _Atomic uint64_t seen;
    /* batch scratch, sized batch_size */
    struct item **batch;
    struct item **tx_items;
    struct rg_txn *txns;
    double *feat;
    struct rg_user_ctx *uctx;
    bool *degraded;
    double *scores;
    struct rg_verdict *verdicts;
    uint32_t *rule_hits;
    char *vbuf;
    char *mbuf;
    size_t mbuf_cap;
};

struct engine {
    const struct rg_conf *conf;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    rd_kafka_topic_t *t_verdicts, *t_dlq;
    struct worker *workers;
    int n_workers;
    int batch_size;
    _Atomic(struct rg_wm *) wm[2][RG_MAX_PARTITIONS];
    uint32_t wm_cap;
    /* consumer-thread state */
    rd_kafka_topic_partition_list_t *assigned;
    bool paused;
    /* generations */
    _Atomic(struct rg_decider *) gen;
    uint64_t gen_seq;
    /* flags */
    _Atomic int stop_consuming;
    _Atomic int workers_stop;
    _Atomic int dr_stop;
    _Atomic int fatal;
    _Atomic int kafka_ok;
    _Atomic int redis_ok;
    _Atomic int64_t heartbeat_ms;
    /* Partition revokes so far: a worker that sees it move forgets its
     * cached users (another instance may own and update them now). */
    _Atomic uint64_t revokes;
    /* The longest dead-letter value the producer takes (its
     * message.max.bytes less room for key, headers and framing); longer
     * originals are cut to it (riskgate-truncated-from). */
    size_t dlq_max;
    unsigned char secret[128];
    int secret_len;
};

static volatile sig_atomic_t g_stop_req, g_reload_req;

void rg_engine_request_stop(void) { g_stop_req = 1; }
void rg_engine_request_reload(void) { g_reload_req = 1; }

/* ---------------------------------------------------------------- helpers */

static struct rg_wm *wm_of(struct engine *e, int topic, int32_t partition)
{
    if (partition < 0 || partition >= RG_MAX_PARTITIONS)
        return NULL;
    return atomic_load_explicit(&e->wm[topic][partition], memory_order_acquire);
}

static struct rg_wm *wm_of_token(struct engine *e, rg_wm_token t)
{
    int32_t key = rg_wm_token_partition(t);
    return wm_of(e, key / RG_MAX_PARTITIONS, key % RG_MAX_PARTITIONS);
}

static int topic_index(struct engine *e, const char *name)
{
    if (strcmp(name, e->conf->topic_in) == 0)
        return TOPIC_IN;
    return TOPIC_FEEDBACK;
}

static void mark_done(struct engine *e, rg_wm_token t)
{
    struct rg_wm *wm = wm_of_token(e, t);
    if (wm)
        rg_wm_done(wm, t);
}

/* --------------------------------------------------------- kafka config */

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3)
        RG_LOG_RATELIMITED(RG_LOG_ERROR, "kafka", "%s: %s", fac, buf);
    else if (level <= 5)
        RG_LOG_RATELIMITED(RG_LOG_WARN, "kafka", "%s: %s", fac, buf);
    else
        RG_DEBUG("kafka", "%s: %s", fac, buf);
}

static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct engine *e = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[512];
        rd_kafka_resp_err_t ferr = rd_kafka_fatal_error(rk, buf, sizeof(buf));
        RG_ERROR(MOD, "fatal Kafka error %s: %s; draining and exiting",
                 rd_kafka_err2name(ferr), buf);
        atomic_store(&e->fatal, 1);
        g_stop_req = 1;
        return;
    }
    /* Not ready until a broker answers again: readiness is set back by the
     * next assignment, consumed event or delivery. A refused login or TLS
     * handshake counts as unreachable (credentials rotated, CA changed). */
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
        err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL)
        atomic_store(&e->kafka_ok, 0);
    /* Transient: librdkafka retries with backoff by itself; we say so. */
    RG_LOG_RATELIMITED(RG_LOG_WARN, "kafka", "%s: %s (retrying)",
                       rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static rd_kafka_conf_t *kafka_conf_new(struct engine *e, const char *client_id)
{
    const struct rg_conf *c = e->conf;
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    char err[512];
    if (rd_kafka_conf_set(kc, "bootstrap.servers", c->kafka_bootstrap, err, sizeof(err)) ||
        rd_kafka_conf_set(kc, "client.id", client_id, err, sizeof(err)))
        goto fail;
    rd_kafka_conf_set_log_cb(kc, kafka_log_cb);
    rd_kafka_conf_set_error_cb(kc, kafka_error_cb);
    rd_kafka_conf_set_opaque(kc, e);
    return kc;
fail:
    RG_ERROR(MOD, "kafka config: %s", err);
    rd_kafka_conf_destroy(kc);
    return NULL;
}


/* ------------------------------------------------------ delivery reports */

/* The broker refused a dead letter as too large for the dead-letter topic
 * (its max.message.bytes is below the producer's): send its first
 * RG_MSG_MAX bytes instead, so a large bad event cannot stop the engine.
 * Returns true when the shortened copy is on its way. */
static bool dlq_retry_truncated(struct engine *e, rd_kafka_t *rk, const rd_kafka_message_t *m)
{
    if (m->rkt != e->t_dlq || m->err != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
        m->len <= RG_MSG_MAX)
        return false;
    rd_kafka_headers_t *orig = NULL, *h;
    if (rd_kafka_message_headers(m, &orig) != RD_KAFKA_RESP_ERR_NO_ERROR || !orig)
        return false;
    h = rd_kafka_headers_copy(orig);
    rg_dlq_header_truncated(h, m->len);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_RKT(m->rkt), RD_KAFKA_V_KEY(m->key, m->key_len),
        RD_KAFKA_V_VALUE(m->payload, (size_t)RG_MSG_MAX), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(m->_private), RD_KAFKA_V_END);
    if (err) {
        rd_kafka_headers_destroy(h);
        return false;
    }
    RG_LOG_RATELIMITED(RG_LOG_WARN, MOD, "dead letter of %zu bytes refused by the broker as too "
                       "large; sent its first %d bytes (riskgate-truncated-from)", m->len,
                       RG_MSG_MAX);
    return true;
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct engine *e = opaque;
    rg_wm_token t = (rg_wm_token)m->_private;
    if (m->err && dlq_retry_truncated(e, rk, m))
        return; /* the token is done when the shortened copy is delivered */
    if (m->err) {
        /* Delivery retries are infinite (message.timeout.ms=0), so an error
         * here is permanent (authorisation, record too large, fatal
         * idempotence): the offset stays uncommitted and we drain and exit
         * so the event is consumed again after the problem is fixed. */
        /* One line per failed message would flood the log (a whole queue
         * of them fails together). */
        RG_LOG_RATELIMITED(RG_LOG_ERROR, MOD,
                           "delivery to %s failed permanently: %s; draining and exiting",
                           rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        if (m->rkt == e->t_dlq)
            rg_counter_inc(RG_M_DLQ_PRODUCE_ERRORS);
        atomic_store(&e->fatal, 1);
        g_stop_req = 1;
        return;
    }
    atomic_store_explicit(&e->kafka_ok, 1, memory_order_relaxed);
    mark_done(e, t);
}

static void *delivery_main(void *arg)
{
    struct engine *e = arg;
    while (!atomic_load(&e->dr_stop))
        rd_kafka_poll(e->producer, 100);
    return NULL;
}

/* ---------------------------------------------------------------- workers */

/* Produce with retry on a full local queue (backpressure, never a drop). */
static int produce(struct engine *e, rd_kafka_topic_t *rkt, const void *key, size_t key_len,
                   const void *val, size_t len, rd_kafka_headers_t *hdrs, rg_wm_token token)
{
    for (;;) {
        rd_kafka_resp_err_t err;
        if (hdrs)
            err = rd_kafka_producev(e->producer, RD_KAFKA_V_RKT(rkt),
                                    RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)val, len),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE((void *)token),
                                    RD_KAFKA_V_END);
        else
            err = rd_kafka_producev(e->producer, RD_KAFKA_V_RKT(rkt),
                                    RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)val, len),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_OPAQUE((void *)token), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            /* The delivery thread drains the queue; wait for it. */
            struct timespec ts = { 0, 1000000 };
            nanosleep(&ts, NULL);
            continue;
        }
        RG_ERROR(MOD, "produce to %s failed: %s", rd_kafka_topic_name(rkt),
                 rd_kafka_err2str(err));
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        atomic_store(&e->fatal, 1);
        g_stop_req = 1;
        return -1;
    }
}

static void send_dead_letter(struct worker *w, struct item *it, const char *code,
                             const char *message)
{
    struct engine *e = w->eng;
    rd_kafka_message_t *m = it->rkm;
    if (m->len > w->mbuf_cap) {
        /* Only oversized bad input gets here; not the hot path. */
        size_t cap = m->len + 1024;
        char *nb = realloc(w->mbuf, cap);
        if (!nb) {
            RG_ERROR(MOD, "out of memory for a dead letter; exiting so it is retried");
            atomic_store(&e->fatal, 1);
            g_stop_req = 1;
            return;
        }
        w->mbuf = nb;
        w->mbuf_cap = cap;
    }
    if (m->len)
        rg_card_mask(m->payload, m->len, w->mbuf);
    /* Masked first, then cut: a card number at the cut is masked whole. */
    size_t len = m->len > e->dlq_max ? e->dlq_max : m->len;
    struct rg_dlq_meta meta = {
        .code = code,
        .message = message,
        .topic = rd_kafka_topic_name(m->rkt),
        .partition = m->partition,
        .offset = m->offset,
        .truncated_from = len < m->len ? m->len : 0,
    };
    rd_kafka_headers_t *h = rg_dlq_headers_new(&meta);
    /* The key is the producer's user_id; mask it too in case it is a PAN. */
    char kbuf[256];
    size_t klen = m->key_len < sizeof(kbuf) ? m->key_len : sizeof(kbuf);
    if (klen)
        rg_card_mask_text(m->key, klen, kbuf);
    if (produce(e, e->t_dlq, klen ? kbuf : NULL, klen, w->mbuf, len, h, it->token) == 0)
        RG_LOG_RATELIMITED(RG_LOG_WARN, MOD, "dead letter %s from %s[%d]@%lld: %s", code,
                           meta.topic, (int)meta.partition, (long long)meta.offset, message);
}

/* Apply one feedback message; true when it changed (or confirmed) the
 * profile store, false when it was dead-lettered. */
static bool handle_feedback(struct worker *w, struct item *it)
{
    char reason[200] = "";
    rd_kafka_message_t *m = it->rkm;
    int rc = RG_EAGAIN;
    /* Redis down: retry a bounded number of times, then dead-letter the
     * feedback with its reason rather than block the partition forever. */
    for (int attempt = 0; attempt < 3 && rc == RG_EAGAIN; attempt++) {
        rc = rg_profile_feedback(w->ps, m->payload ? m->payload : "", m->len, reason,
                                 sizeof(reason));
        if (rc == RG_EAGAIN && attempt < 2) {
            struct timespec ts = { 0, 50000000 };
            nanosleep(&ts, NULL);
        }
    }
    if (rc == 0)
        return true; /* acknowledged once it is in Redis: process_batch */
    if (rc == RG_EAGAIN)
        send_dead_letter(w, it, "feedback_store_unavailable",
                         "profile store unavailable; feedback not applied");
    else
        send_dead_letter(w, it, "invalid_feedback", reason[0] ? reason : "invalid feedback");
    return false;
}

static void enter_generation(struct worker *w, struct rg_decider **dc)
{
    /* seq_cst store then load: pairs with the reloader's seq_cst swap and
     * its load of `active` (see DESIGN). */
    atomic_store(&w->active, 1);
    *dc = atomic_load(&w->eng->gen);
    atomic_store(&w->seen, (*dc)->seq);
}

static void leave_generation(struct worker *w)
{
    atomic_store(&w->active, 0);
}

/* Add what the worker's profile store counted since the last call to the
 * process-wide counters (the store's own counters are per worker and not
 * atomic). */
static void export_profile_stats(struct worker *w)
{
    struct rg_profile_stats st;
    rg_profile_stats(w->ps, &st);
    rg_counter_add(RG_M_REDIS_ROUND_TRIPS, st.round_trips - w->ps_seen.round_trips);
    rg_counter_add(RG_M_REDIS_COMMANDS, st.cmds_sent - w->ps_seen.cmds_sent);
    rg_counter_add(RG_M_CACHE_HITS, st.cache_hits - w->ps_seen.cache_hits);
    rg_counter_add(RG_M_CACHE_MISSES, st.cache_misses - w->ps_seen.cache_misses);
    w->ps_seen = st;
}

/* After a revoke, users this worker cached may be another instance's now:
 * their next events load them from Redis. Rebalances are rare; the cost is
 * a cold cache once per rebalance (README, "Delivery guarantee"). */
static void forget_if_revoked(struct worker *w)
{
    /* Acquire: pairs with the release in rebalance_cb; the items of this
     * batch were dispatched after it, through the ring, anyway. */
    uint64_t r = atomic_load_explicit(&w->eng->revokes, memory_order_acquire);
    if (r == w->revokes_seen)
        return;
    size_t dropped, n = rg_profile_forget(w->ps, &dropped);
    w->revokes_seen = r;
    RG_INFO(MOD, "worker %d: partitions were revoked; forgot %zu cached user(s)%s", w->id, n,
            dropped ? " (some unwritten updates dropped: Redis unavailable)" : "");
}

static void process_batch(struct worker *w, size_t n)
{
    struct engine *e = w->eng;
    struct rg_decider *dc;
    forget_if_revoked(w);
    enter_generation(w, &dc);
    size_t nt = 0, nfb = 0;

    for (size_t i = 0; i < n; i++) {
        struct item *it = w->batch[i];
        rd_kafka_message_t *m = it->rkm;
        if (it->kind == ITEM_FEEDBACK) {
            it->applied = handle_feedback(w, it);
            nfb += it->applied;
            continue;
        }
        rg_counter_inc(RG_M_EVENTS_IN);
        struct rg_decode_error derr;
        struct rg_txn *txn = &w->txns[nt];
        int64_t td = rg_clock_mono_ns();
        int rc = rg_txn_decode(w->dec, m->payload ? m->payload : "", m->len, txn, &derr);
        rg_histo_observe_us(RG_M_STAGE_LATENCY, RG_STAGE_DECODE,
                            (rg_clock_mono_ns() - td) / 1000);
        if (rc != 0) {
            rg_counter_inc_l(RG_M_DEAD_LETTERS, (int)derr.reason);
            send_dead_letter(w, it, rg_dlq_reason_code(derr.reason), derr.message);
            continue;
        }
        txn->partition = m->partition;
        txn->offset = m->offset;
        rd_kafka_timestamp_type_t tstype;
        txn->kafka_ts_ms = rd_kafka_message_timestamp(m, &tstype);
        w->tx_items[nt++] = it;
    }

    if (nt > 0) {
        int64_t tp = rg_clock_mono_ns();
        int prc = rg_profile_process_batch(w->ps, w->txns, nt, w->feat, w->uctx, w->degraded);
        if (prc == 0)
            prc = rg_profile_flush(w->ps);
        atomic_store_explicit(&e->redis_ok, prc == 0, memory_order_relaxed);
        if (prc != 0) {
            /* Profile updates could not be made durable: the verdicts say so. */
            for (size_t i = 0; i < nt; i++)
                w->degraded[i] = true;
            rg_counter_inc(RG_M_REDIS_ERRORS);
        }
        int64_t tm = rg_clock_mono_ns();
        /* One batch's Redis work: one round trip at steady state, two when users
         * had to be loaded (their MGET, then the batch script); flush only
         * writes what a failed batch left dirty. */
        rg_histo_observe_us(RG_M_REDIS_LATENCY, 0, (tm - tp) / 1000);
        rg_histo_observe_us(RG_M_STAGE_LATENCY, RG_STAGE_PROFILE, (tm - tp) / 1000 / (int64_t)nt);
        /* The decider observes the model and rules stages itself. */
        rg_decider_decide(dc, w->txns, nt, w->feat, w->uctx, w->degraded, w->scores,
                          w->rule_hits, w->verdicts);
        int64_t now_ms = rg_clock_now_ms();
        for (size_t i = 0; i < nt; i++) {
            struct item *it = w->tx_items[i];
            struct rg_verdict *v = &w->verdicts[i];
            int64_t tnow = rg_clock_mono_ns();
            v->latency_us = (tnow - it->t_recv_ns) / 1000;
            v->decided_at_ms = now_ms;
            int len = rg_verdict_encode(v, &w->txns[i], w->vbuf, VERDICT_BUF);
            rg_histo_observe_us(RG_M_STAGE_LATENCY, RG_STAGE_ENCODE,
                                (rg_clock_mono_ns() - tnow) / 1000);
            if (len < 0) {
                /* Cannot happen with a 32 KiB buffer and bounded fields;
                 * if it does, the event is not lost: dead-letter it. */
                send_dead_letter(w, it, "verdict_encode_failed", "verdict too large to encode");
                continue;
            }
            if (produce(e, e->t_verdicts, w->txns[i].user_id, strlen(w->txns[i].user_id),
                        w->vbuf, (size_t)len, NULL, it->token) != 0)
                continue;
            rg_counter_inc(RG_M_EVENTS_OUT);
            rg_counter_inc_l(RG_M_VERDICTS, (int)v->decision);
            if (v->degraded)
                rg_counter_inc(RG_M_DEGRADED);
            rg_histo_observe_us(RG_M_STAGE_LATENCY, RG_STAGE_TOTAL, v->latency_us);
            if (w->txns[i].kafka_ts_ms > 0)
                rg_histo_observe_us(RG_M_KAFKA_TO_VERDICT, 0,
                                    (now_ms - w->txns[i].kafka_ts_ms) * 1000);
        }
        if (dc->rs) {
            for (size_t r = 0; r < dc->n_rules; r++) {
                if (w->rule_hits[r]) {
                    rg_counter_add_l(RG_M_RULE_HITS, (int)dc->rule_slots[r], w->rule_hits[r]);
                    w->rule_hits[r] = 0;
                }
            }
        }
    }
    if (nfb > 0) {
        /* Feedback is acknowledged (its offset may then be committed) only
         * after its profile change is in Redis: a change only in this
         * worker's cache would die with the process. With events in the
         * batch their script wrote it; a batch of feedback alone flushes
         * here. While Redis is down it stays dirty and the first flush that
         * succeeds writes it, as for events (docs/profiles.md). */
        if (rg_profile_flush(w->ps) != 0 && nt == 0) /* with events: counted above */
            rg_counter_inc(RG_M_REDIS_ERRORS);
        for (size_t i = 0; i < n; i++)
            if (w->batch[i]->kind == ITEM_FEEDBACK && w->batch[i]->applied)
                mark_done(e, w->batch[i]->token);
    }
    export_profile_stats(w);
    leave_generation(w);

    for (size_t i = 0; i < n; i++) {
        struct item *it = w->batch[i];
        rd_kafka_message_destroy(it->rkm);
        it->rkm = NULL;
        rg_ring_try_push(w->free, it); /* never full: pool size == capacity */
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct engine *e = w->eng;
    for (;;) {
        size_t n = rg_ring_pop_batch_wait(w->ring, (void **)w->batch, (size_t)e->batch_size, 200);
        if (n > 0) {
            process_batch(w, n);
            continue;
        }
        if (atomic_load(&e->workers_stop) && rg_ring_size(w->ring) == 0)
            break;
    }
    /* Graceful stop: what a failed write-back left dirty gets one more try. */
    if (rg_profile_flush(w->ps) != 0)
        RG_WARN(MOD, "worker %d: some profile updates could not be written at exit (Redis "
                "unavailable)", w->id);
    return NULL;
}

/* --------------------------------------------------------------- consumer */

static int ensure_wm(struct engine *e, int topic, int32_t partition)
{
    if (partition < 0 || partition >= RG_MAX_PARTITIONS) {
        RG_ERROR(MOD, "partition %d beyond the supported %d", (int)partition, RG_MAX_PARTITIONS);
        return RG_EINVAL;
    }
    if (wm_of(e, topic, partition))
        return 0;
    struct rg_wm *wm = calloc(1, sizeof(*wm));
    if (!wm || rg_wm_init(wm, e->wm_cap) != 0) {
        free(wm);
        return RG_ENOMEM;
    }
    /* Release: the initialised tracker is visible to delivery reports. */
    atomic_store_explicit(&e->wm[topic][partition], wm, memory_order_release);
    return 0;
}

/* Advance every assigned partition's watermark and store the offsets. */
static uint64_t advance_and_store(struct engine *e)
{
    rd_kafka_topic_partition_list_t *store = NULL;
    uint64_t inflight = 0;
    for (int i = 0; i < e->assigned->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &e->assigned->elems[i];
        struct rg_wm *wm = wm_of(e, topic_index(e, tp->topic), tp->partition);
        if (!wm)
            continue;
        int64_t off = rg_wm_advance(wm);
        inflight += rg_wm_inflight(wm);
        if (off < 0)
            continue;
        if (!store)
            store = rd_kafka_topic_partition_list_new(e->assigned->cnt);
        rd_kafka_topic_partition_list_add(store, tp->topic, tp->partition)->offset = off;
    }
    if (store) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_store(e->consumer, store);
        if (err)
            RG_LOG_RATELIMITED(RG_LOG_WARN, MOD, "offsets_store: %s", rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(store);
    }
    rg_gauge_set(RG_M_INFLIGHT, (int64_t)inflight);
    return inflight;
}

static uint64_t inflight_of(struct engine *e, const rd_kafka_topic_partition_list_t *parts)
{
    uint64_t n = 0;
    for (int i = 0; i < parts->cnt; i++) {
        struct rg_wm *wm = wm_of(e, topic_index(e, parts->elems[i].topic),
                                 parts->elems[i].partition);
        if (wm)
            n += rg_wm_inflight(wm);
    }
    return n;
}

/* Feedback must reach the instance that caches the user's profile: the
 * same partition numbers of both topics on every instance (the range
 * assignor does it for topics with equal partition counts; conf.c refuses
 * the other assignors while feedback is on). Says so when the assignment
 * breaks it: the topics' partition counts differ. */
static void check_copartitioned(struct engine *e)
{
    if (!e->conf->topic_feedback[0])
        return;
    uint64_t sets[2][RG_MAX_PARTITIONS / 64] = { { 0 } };
    int n[2] = { 0, 0 };
    for (int i = 0; i < e->assigned->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &e->assigned->elems[i];
        int t = topic_index(e, tp->topic);
        if (tp->partition < 0 || tp->partition >= RG_MAX_PARTITIONS)
            continue;
        sets[t][tp->partition / 64] |= 1ull << (tp->partition % 64);
        n[t]++;
    }
    if (!memcmp(sets[TOPIC_IN], sets[TOPIC_FEEDBACK], sizeof(sets[0])))
        return;
    RG_ERROR(MOD, "this instance has %d partition(s) of %s and %d of %s, not the same numbers: "
             "feedback for a user may reach another instance than the user's events and "
             "update a profile this one caches; give both topics the same partition count",
             n[TOPIC_IN], e->conf->topic_in, n[TOPIC_FEEDBACK], e->conf->topic_feedback);
}

static void incremental_error(const char *what, rd_kafka_error_t *err)
{
    if (!err)
        return;
    RG_ERROR(MOD, "incremental %s: %s", what, rd_kafka_error_string(err));
    rd_kafka_error_destroy(err);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct engine *e = opaque;
    /* partition.assignment.strategy cooperative-sticky: only the partitions
     * that move are revoked and assigned, incrementally. */
    bool cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < parts->cnt; i++) {
            int t = topic_index(e, parts->elems[i].topic);
            if (ensure_wm(e, t, parts->elems[i].partition) == 0)
                rg_wm_reset(wm_of(e, t, parts->elems[i].partition));
            rd_kafka_topic_partition_list_add(e->assigned, parts->elems[i].topic,
                                              parts->elems[i].partition);
        }
        RG_INFO(MOD, "assigned %d partition(s)", parts->cnt);
        rg_gauge_set(RG_M_PARTITIONS, e->assigned->cnt);
        check_copartitioned(e);
        if (cooperative)
            incremental_error("assign", rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        atomic_store(&e->kafka_ok, 1);
        if (e->paused)
            rd_kafka_pause_partitions(rk, parts);
        return;
    }
    /* Revoke: give in-flight events of these partitions a bounded time to
     * be acknowledged, commit what is done, then let go. What is still in
     * flight will be consumed again by the next owner (at-least-once). */
    int64_t deadline = rg_clock_mono_ns() + 10LL * 1000000000LL;
    while (inflight_of(e, parts) > 0 && rg_clock_mono_ns() < deadline &&
           !atomic_load(&e->fatal)) {
        advance_and_store(e);
        struct timespec ts = { 0, 2000000 }; /* rare path: rebalance only */
        nanosleep(&ts, NULL);
    }
    advance_and_store(e);
    rd_kafka_resp_err_t cerr = rd_kafka_commit(rk, NULL, 0);
    if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
        RG_WARN(MOD, "commit on revoke: %s", rd_kafka_err2str(cerr));
    for (int i = 0; i < parts->cnt; i++) {
        struct rg_wm *wm = wm_of(e, topic_index(e, parts->elems[i].topic),
                                 parts->elems[i].partition);
        if (wm)
            rg_wm_reset(wm);
        rd_kafka_topic_partition_list_del(e->assigned, parts->elems[i].topic,
                                          parts->elems[i].partition);
        if (topic_index(e, parts->elems[i].topic) == TOPIC_IN)
            rg_gauge_unset_l(RG_M_CONSUMER_LAG, parts->elems[i].partition);
    }
    /* Release: a worker that takes an item dispatched after this sees it. */
    atomic_fetch_add_explicit(&e->revokes, 1, memory_order_release);
    rg_counter_add(RG_M_REVOKED, (uint64_t)parts->cnt);
    rg_gauge_set(RG_M_PARTITIONS, e->assigned->cnt);
    RG_INFO(MOD, "revoked %d partition(s)", parts->cnt);
    if (cooperative)
        incremental_error("unassign", rd_kafka_incremental_unassign(rk, parts));
    else
        rd_kafka_assign(rk, NULL);
}

static uint32_t key_hash(const void *key, size_t len)
{
    /* FNV-1a: stable across runs and instances. */
    uint32_t h = 2166136261u;
    const unsigned char *p = key;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static void update_lag(struct engine *e)
{
    rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_copy(e->assigned);
    if (rd_kafka_position(e->consumer, pos) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < pos->cnt; i++) {
            rd_kafka_topic_partition_t *tp = &pos->elems[i];
            if (topic_index(e, tp->topic) != TOPIC_IN || tp->partition >= RG_METRICS_MAX_PARTITIONS)
                continue;
            int64_t lo, hi;
            if (rd_kafka_get_watermark_offsets(e->consumer, tp->topic, tp->partition, &lo, &hi))
                continue;
            int64_t lag = tp->offset >= 0 ? hi - tp->offset : hi - lo;
            rg_gauge_set_l(RG_M_CONSUMER_LAG, tp->partition, lag < 0 ? 0 : lag);
        }
    }
    rd_kafka_topic_partition_list_destroy(pos);
}

static void dispatch(struct engine *e, rd_kafka_message_t *m)
{
    const char *tname = rd_kafka_topic_name(m->rkt);
    int t = topic_index(e, tname);
    rg_wm_token token;
    struct rg_wm *wm = wm_of(e, t, m->partition);
    if (!wm) {
        /* Not assigned through our callback (cannot happen); do not lose it:
         * leave it uncommitted by not tracking and not storing. */
        RG_LOG_RATELIMITED(RG_LOG_ERROR, MOD, "message from untracked partition %s[%d]", tname,
                           (int)m->partition);
        rd_kafka_message_destroy(m);
        return;
    }
    while (!rg_wm_track(wm, m->partition + t * RG_MAX_PARTITIONS, m->offset, &token)) {
        /* The tracker holds 2x max_inflight; this only happens when the
         * pause came late. Wait for acknowledgements. */
        advance_and_store(e);
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    uint32_t h = m->key_len ? key_hash(m->key, m->key_len)
                            : key_hash(&m->partition, sizeof(m->partition));
    struct worker *w = &e->workers[h % (uint32_t)e->n_workers];
    struct item *it;
    /* An empty pool means the worker's ring is full: backpressure. */
    while (rg_ring_pop_batch_wait(w->free, (void **)&it, 1, 100) == 0) {
        /* No rd_kafka_poll() here: the consumer's queues are redirected
         * to rd_kafka_consumer_poll(), which only this loop may call. */
        advance_and_store(e);
    }
    it->rkm = m;
    it->token = token;
    it->t_recv_ns = rg_clock_mono_ns();
    it->kind = t == TOPIC_IN ? ITEM_TXN : ITEM_FEEDBACK;
    if (it->kind == ITEM_FEEDBACK)
        rg_counter_inc_l(RG_M_FEEDBACK, 0);
    rg_ring_try_push(w->ring, it); /* cannot fail: we hold one of its items */
}

static void *consumer_main(void *arg)
{
    struct engine *e = arg;
    int64_t last_lag = 0, last_store = 0;
    uint64_t max_inflight = (uint64_t)e->conf->kafka_max_inflight, inflight = 0;
    while (!atomic_load(&e->stop_consuming)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(e->consumer, 100);
        if (m) {
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    RG_LOG_RATELIMITED(RG_LOG_WARN, MOD, "consume: %s",
                                       rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
            } else {
                atomic_store_explicit(&e->kafka_ok, 1, memory_order_relaxed);
                dispatch(e, m);
            }
        }
        /* Offsets are stored every few milliseconds, not per message: the
         * store builds a partition list, and auto-commit runs far less
         * often anyway. Idle polls (no message) always store. */
        int64_t tnow = rg_clock_mono_ns();
        if (!m || tnow - last_store >= 5000000) {
            inflight = advance_and_store(e);
            last_store = tnow;
        }
        if (!e->paused && inflight >= max_inflight) {
            rd_kafka_pause_partitions(e->consumer, e->assigned);
            e->paused = true;
            RG_LOG_RATELIMITED(RG_LOG_INFO, MOD, "backpressure: %llu events in flight, pausing",
                               (unsigned long long)inflight);
        } else if (e->paused && inflight <= max_inflight / 2) {
            rd_kafka_resume_partitions(e->consumer, e->assigned);
            e->paused = false;
        }
        int64_t now = rg_clock_mono_ns();
        if (now - last_lag > 1000000000LL) {
            update_lag(e);
            last_lag = now;
        }
    }
    /* Drain: everything dispatched gets its verdict; keep storing offsets. */
    int64_t deadline = rg_clock_mono_ns() + (int64_t)e->conf->shutdown_timeout_ms * 1000000LL;
    while (advance_and_store(e) > 0 && rg_clock_mono_ns() < deadline && !atomic_load(&e->fatal)) {
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* ------------------------------------------------------------- generations */

static void publish_generation(struct engine *e, struct rg_decider *dc)
{
    dc->seq = ++e->gen_seq;
    if (dc->rs) {
        const char **ids = calloc(dc->n_rules ? dc->n_rules : 1, sizeof(*ids));
        if (ids) {
            for (size_t i = 0; i < dc->n_rules; i++)
                ids[i] = rg_ruleset_rule_id(dc->rs, i);
            if (rg_metrics_rules_set(ids, dc->n_rules, dc->rule_slots) != 0)
                RG_WARN(MOD, "too many rules for per-rule metrics");
            free(ids);
        }
    }
    struct rg_decider *old = atomic_exchange(&e->gen, dc);
    if (!old)
        return;
    /* Wait until no worker can still hold the old generation. */
    for (int i = 0; i < e->n_workers; i++) {
        struct worker *w = &e->workers[i];
        while (atomic_load(&w->active) && atomic_load(&w->seen) < dc->seq) {
            struct timespec ts = { 0, 200000 };
            nanosleep(&ts, NULL);
        }
    }
    rg_decider_free(old);
}

/* What a reload is about, for riskgate_reloads_total{what=...}. */
enum { RELOAD_RULES = 1, RELOAD_MODEL = 2 };

static void count_reload(int what, bool ok)
{
    if (what & RELOAD_RULES)
        rg_counter_inc_l(RG_M_RELOADS, RG_RELOAD_IDX(RG_RELOAD_RULES, ok));
    if (what & RELOAD_MODEL)
        rg_counter_inc_l(RG_M_RELOADS, RG_RELOAD_IDX(RG_RELOAD_MODEL, ok));
}

/* Build a whole new generation off the hot path; on any problem keep the
 * running one (a half-loaded ruleset or model never decides an event). */
static int reload(struct engine *e, const char *why, int what)
{
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_decider *dc = NULL;
    int rc = rg_decider_load(e->conf, NULL, NULL, NULL, &d, &dc);
    if (rc != 0) {
        RG_ERROR(MOD, "reload (%s) failed; keeping the running rules and model:", why);
        for (size_t i = 0; i < d.n && i < d.cap; i++)
            RG_ERROR(MOD, "%s:%d:%d: %s%s%s", d.v[i].file, d.v[i].line, d.v[i].col,
                     d.v[i].msg, d.v[i].hint ? " " : "", d.v[i].hint ? d.v[i].hint : "");
        count_reload(what, false);
        rg_diags_fini(&d);
        return rc;
    }
    rg_diags_fini(&d);
    publish_generation(e, dc);
    count_reload(what, true);
    RG_INFO(MOD, "reloaded (%s): model %s, ruleset %s", why,
            dc->model ? rg_model_version(dc->model) : "none",
            dc->rs ? rg_ruleset_version(dc->rs) : "none");
    return 0;
}

/* A cheap signature of the watched files: mtimes and sizes of the model
 * files, the rules directory and every file in it (lists included). */
static uint64_t stat_sig(const char *path)
{
    struct stat st;
    if (!path || !*path || stat(path, &st) != 0)
        return 0;
    return (uint64_t)st.st_mtim.tv_sec * 1000003u + (uint64_t)st.st_mtim.tv_nsec +
           (uint64_t)st.st_size * 31u + (uint64_t)st.st_ino;
}

static uint64_t dir_sig(const char *dir, int depth)
{
    uint64_t sig = stat_sig(dir);
    DIR *dp = depth < 3 ? opendir(dir) : NULL;
    if (!dp)
        return sig;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        sig = sig * 1099511628211ull + (S_ISDIR(st.st_mode) ? dir_sig(p, depth + 1) : stat_sig(p));
    }
    closedir(dp);
    return sig;
}

static uint64_t model_signature(const struct rg_conf *c)
{
    return stat_sig(c->model_path) * 3u + stat_sig(c->anomaly_model_path) * 5u;
}

static uint64_t rules_signature(const struct rg_conf *c)
{
    return c->rules_dir[0] ? dir_sig(c->rules_dir, 0) : 0;
}

/* ---------------------------------------------------------- http hooks */

static int64_t hb_hook(void *ctx)
{
    struct engine *e = ctx;
    return atomic_load(&e->heartbeat_ms);
}

static void ready_hook(void *ctx, struct rg_readiness *st)
{
    struct engine *e = ctx;
    struct rg_decider *dc = atomic_load(&e->gen);
    st->kafka = atomic_load(&e->kafka_ok) != 0;
    st->redis = atomic_load(&e->redis_ok) != 0;
    /* A model/ruleset is "ready" when configured and loaded, or not configured. */
    st->model = dc && (!e->conf->model_path[0] || dc->model);
    st->rules = dc && (!e->conf->rules_dir[0] || dc->rs);
}

static bool redis_ping(const struct rg_conf *c)
{
    struct timeval tv = { c->redis_timeout_ms / 1000, (c->redis_timeout_ms % 1000) * 1000 };
    redisContext *rc = redisConnectWithTimeout(c->redis_host, c->redis_port, tv);
    bool ok = false;
    if (rc && !rc->err) {
        redisReply *r;
        if (c->redis_password[0]) {
            r = redisCommand(rc, "AUTH %s", c->redis_password);
            if (r)
                freeReplyObject(r);
        }
        r = redisCommand(rc, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS;
        if (r)
            freeReplyObject(r);
    }
    if (rc)
        redisFree(rc);
    return ok;
}

/* ----------------------------------------------------------------- run */

static void workers_free(struct engine *e)
{
    for (int i = 0; e->workers && i < e->n_workers; i++) {
        struct worker *w = &e->workers[i];
        rg_ring_free(w->ring);
        rg_ring_free(w->free);
        free(w->items);
        if (w->dec)
            rg_decoder_free(w->dec);
        if (w->ps)
            rg_profile_store_free(w->ps);
        free(w->batch);
        free(w->tx_items);
        free(w->txns);
        free(w->feat);
        free(w->uctx);
        free(w->degraded);
        free(w->scores);
        free(w->verdicts);
        free(w->rule_hits);
        free(w->vbuf);
        free(w->mbuf);
    }
    free(e->workers);
    e->workers = NULL;
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 2;
    while (p < n)
        p <<= 1;
    return p;
}

static int workers_init(struct engine *e)
{
    const struct rg_conf *c = e->conf;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    e->n_workers = c->workers > 0 ? c->workers : (int)(cores > 0 ? cores : 1);
    e->batch_size = c->batch_size;
    e->workers = calloc((size_t)e->n_workers, sizeof(*e->workers));
    if (!e->workers)
        return RG_ENOMEM;
    struct rg_profile_conf pc = {
        .redis_host = c->redis_host,
        .redis_port = c->redis_port,
        .redis_password = c->redis_password[0] ? c->redis_password : NULL,
        .key_prefix = c->redis_key_prefix,
        .secret = e->secret,
        .secret_len = (size_t)e->secret_len,
        .ttl_days = c->profile_ttl_days,
        .timeout_ms = c->redis_timeout_ms,
        .cache_users = (size_t)c->profile_cache_users / (size_t)e->n_workers,
        .in_memory = false,
    };
    size_t cap = pow2_at_least((size_t)c->ring_size);
    size_t b = (size_t)c->batch_size;
    for (int i = 0; i < e->n_workers; i++) {
        struct worker *w = &e->workers[i];
        w->eng = e;
        w->id = i;
        w->ring = rg_ring_new(cap);
        w->free = rg_ring_new(cap);
        w->n_items = w->ring ? rg_ring_capacity(w->ring) : 0;
        w->items = calloc(w->n_items ? w->n_items : 1, sizeof(*w->items));
        w->dec = rg_decoder_new();
        w->ps = rg_profile_store_new(&pc);
        w->batch = calloc(b, sizeof(*w->batch));
        w->tx_items = calloc(b, sizeof(*w->tx_items));
        w->txns = calloc(b, sizeof(*w->txns));
        w->feat = calloc(b * RG_FEAT_COUNT, sizeof(double));
        w->uctx = calloc(b, sizeof(*w->uctx));
        w->degraded = calloc(b, sizeof(*w->degraded));
        w->scores = calloc(2 * b, sizeof(double));
        w->verdicts = calloc(b, sizeof(*w->verdicts));
        w->rule_hits = calloc(RG_METRICS_MAX_RULES, sizeof(uint32_t));
        w->vbuf = malloc(VERDICT_BUF);
        w->mbuf_cap = RG_MSG_MAX + 1024;
        w->mbuf = malloc(w->mbuf_cap);
        if (!w->ring || !w->free || !w->items || !w->dec || !w->ps || !w->batch ||
            !w->tx_items || !w->txns || !w->feat || !w->uctx || !w->degraded || !w->scores ||
            !w->verdicts || !w->rule_hits || !w->vbuf || !w->mbuf)
            return RG_ENOMEM;
        for (size_t k = 0; k < w->n_items; k++)
            rg_ring_try_push(w->free, &w->items[k]);
    }
    return 0;
}

static int kafka_init(struct engine *e)
{
    const struct rg_conf *c = e->conf;
    char err[512], commit_ms[32];
    snprintf(commit_ms, sizeof(commit_ms), "%d", c->kafka_commit_interval_ms);

    rd_kafka_conf_t *pc = kafka_conf_new(e, "riskgate-producer");
    if (!pc)
        return RG_EINVAL;
    const char *prod_kv[] = {
        "enable.idempotence", "true",
        "acks", "all",
        "message.timeout.ms", "0",      /* retry deliveries forever: never lose */
        NULL,
    };
    if (rg_kafka_conf_apply(pc, prod_kv, e->conf, RG_KAFKA_PRODUCER) != 0) {
        rd_kafka_conf_destroy(pc);
        return RG_EINVAL;
    }
    rd_kafka_conf_set_dr_msg_cb(pc, dr_msg_cb);
    char mmb[32];
    size_t mmb_len = sizeof(mmb);
    long long msg_max = 1000000; /* librdkafka's default */
    if (rd_kafka_conf_get(pc, "message.max.bytes", mmb, &mmb_len) == RD_KAFKA_CONF_OK)
        msg_max = atoll(mmb);
    /* 64 KiB of room for the key, the headers and the record framing. */
    e->dlq_max = msg_max > 2 * (RG_MSG_MAX + 1024) ? (size_t)msg_max - 65536 : RG_MSG_MAX;
    e->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
    if (!e->producer) {
        RG_ERROR(MOD, "producer: %s", err);
        return RG_EINVAL;
    }
    e->t_verdicts = rd_kafka_topic_new(e->producer, c->topic_verdicts, NULL);
    e->t_dlq = rd_kafka_topic_new(e->producer, c->topic_dlq, NULL);

    rd_kafka_conf_t *cc = kafka_conf_new(e, "riskgate");
    if (!cc)
        return RG_EINVAL;
    const char *cons_kv[] = {
        "group.id", c->kafka_group_id,
        "enable.auto.offset.store", "false", /* offsets stored after delivery only */
        "enable.auto.commit", "true",        /* commits what we stored */
        "auto.commit.interval.ms", commit_ms,
        "auto.offset.reset", "earliest",
        "enable.partition.eof", "false",
        NULL,
    };
    if (rg_kafka_conf_apply(cc, cons_kv, e->conf, RG_KAFKA_CONSUMER) != 0) {
        rd_kafka_conf_destroy(cc);
        return RG_EINVAL;
    }
    rd_kafka_conf_set_rebalance_cb(cc, rebalance_cb);
    e->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
    if (!e->consumer) {
        RG_ERROR(MOD, "consumer: %s", err);
        return RG_EINVAL;
    }
    rd_kafka_poll_set_consumer(e->consumer);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(sub, c->topic_in, RD_KAFKA_PARTITION_UA);
    if (c->topic_feedback[0])
        rd_kafka_topic_partition_list_add(sub, c->topic_feedback, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t serr = rd_kafka_subscribe(e->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (serr) {
        RG_ERROR(MOD, "subscribe: %s", rd_kafka_err2str(serr));
        return RG_EINVAL;
    }
    e->assigned = rd_kafka_topic_partition_list_new(64);
    return 0;
}

static const char *const g_feedback_types[] = { "all" };

int rg_engine_run(const struct rg_conf *conf)
{
    static struct engine eng; /* large (partition table); one per process */
    struct engine *e = &eng;
    memset(e, 0, sizeof(*e));
    e->conf = conf;
    e->wm_cap = (uint32_t)pow2_at_least((size_t)conf->kafka_max_inflight * 2);
    int exit_code = 1;
    struct rg_http *http = NULL;
    pthread_t consumer_th, dr_th;
    bool consumer_started = false, dr_started = false;
    int started_workers = 0;

    rg_metrics_init(RISKGATE_VERSION);
    {
        const char *reasons[RG_DLQ_REASON_COUNT];
        for (int i = 0; i < RG_DLQ_REASON_COUNT; i++)
            reasons[i] = rg_dlq_reason_code((enum rg_dlq_reason)i);
        rg_metrics_register_label_set(RG_LS_REASON, reasons, RG_DLQ_REASON_COUNT);
        rg_metrics_register_label_set(RG_LS_FEEDBACK, g_feedback_types, 1);
    }
    rg_decode_global_init();

    int slen = rg_profile_secret_load(conf->profile_secret_file[0] ? conf->profile_secret_file
                                                                   : NULL,
                                      e->secret, sizeof(e->secret));
    if (slen < 0) {
        if (conf->profile_secret_file[0]) {
            RG_ERROR(MOD, "cannot read profiles.secret_file: %s", rg_err_str(slen));
            return 1;
        }
        RG_WARN(MOD, "no profile secret configured (profiles.secret_file or "
                     "RISKGATE_PROFILE_SECRET): using the development secret");
        slen = snprintf((char *)e->secret, sizeof(e->secret), "riskgate-development-secret");
    }
    e->secret_len = slen;

    /* Decision logic first: a bad model or ruleset fails start-up. */
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_decider *dc = NULL;
    if (rg_decider_load(conf, NULL, NULL, NULL, &d, &dc) != 0) {
        RG_ERROR(MOD, "cannot start: model or rules invalid");
        rg_diags_print(&d, stderr);
        rg_diags_fini(&d);
        return 1;
    }
    rg_diags_fini(&d);

    if (workers_init(e) != 0) {
        RG_ERROR(MOD, "out of memory creating workers");
        rg_decider_free(dc);
        goto out;
    }
    publish_generation(e, dc);
    atomic_store(&e->redis_ok, redis_ping(conf));
    if (!atomic_load(&e->redis_ok))
        RG_WARN(MOD, "Redis %s:%d not reachable yet; degradation policy applies until it is",
                conf->redis_host, conf->redis_port);
    /* The HTTP endpoint first: an instance that cannot be watched (its
     * address taken, a typo) stops here, before it consumes anything. */
    if (conf->http_listen[0]) {
        char host[256];
        int port;
        struct rg_http_hooks hooks = { .last_heartbeat_ms = hb_hook, .readiness = ready_hook };
        atomic_store(&e->heartbeat_ms, rg_clock_now_ms());
        if (rg_split_hostport(conf->http_listen, host, sizeof(host), &port) == 0)
            http = rg_http_start(host, port, &hooks, e);
        if (!http) {
            RG_ERROR(MOD, "cannot serve /metrics /healthz /readyz on %s (http.listen): address in "
                     "use or not local? Set another, or \"\" for none", conf->http_listen);
            goto out;
        }
        RG_INFO(MOD, "metrics and health on http://%s:%d/", host, rg_http_port(http));
    }
    if (kafka_init(e) != 0)
        goto out;

    /* Signals go to the main thread only (sigtimedwait below). */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    if (pthread_create(&dr_th, NULL, delivery_main, e) == 0)
        dr_started = true;
    for (int i = 0; i < e->n_workers; i++) {
        if (pthread_create(&e->workers[i].th, NULL, worker_main, &e->workers[i]) != 0)
            break;
        started_workers++;
    }
    if (pthread_create(&consumer_th, NULL, consumer_main, e) == 0)
        consumer_started = true;
    if (!dr_started || !consumer_started || started_workers != e->n_workers) {
        RG_ERROR(MOD, "cannot start threads");
        atomic_store(&e->fatal, 1);
        g_stop_req = 1;
    }

    RG_INFO(MOD, "riskgate %s running: %d worker(s), batch %d, consuming %s from %s",
            RISKGATE_VERSION, e->n_workers, e->batch_size, conf->topic_in,
            conf->kafka_bootstrap);

    uint64_t msig = model_signature(conf), rsig = rules_signature(conf);
    while (!g_stop_req) {
        struct timespec to = { 1, 0 };
        siginfo_t si;
        int s = sigtimedwait(&sigs, &si, &to);
        atomic_store(&e->heartbeat_ms, rg_clock_now_ms());
        if (s == SIGINT || s == SIGTERM) {
            RG_INFO(MOD, "signal %d: draining", s);
            g_stop_req = 1;
        } else if (s == SIGHUP || g_reload_req) {
            g_reload_req = 0;
            reload(e, "SIGHUP", RELOAD_RULES | RELOAD_MODEL);
            msig = model_signature(conf);
            rsig = rules_signature(conf);
        } else if (conf->watch_files) {
            uint64_t m2 = model_signature(conf), r2 = rules_signature(conf);
            int what = (m2 != msig ? RELOAD_MODEL : 0) | (r2 != rsig ? RELOAD_RULES : 0);
            if (what) {
                msig = m2;
                rsig = r2;
                reload(e, "file change", what);
            }
        }
    }

    /* Graceful shutdown, bounded by engine.shutdown_timeout_ms. */
    int64_t t_stop = rg_clock_mono_ns();
    atomic_store(&e->stop_consuming, 1);
    if (consumer_started)
        pthread_join(consumer_th, NULL);
    atomic_store(&e->workers_stop, 1);
    for (int i = 0; i < started_workers; i++) {
        rg_ring_wake(e->workers[i].ring);
        pthread_join(e->workers[i].th, NULL);
    }
    int64_t left_ms = conf->shutdown_timeout_ms - (rg_clock_mono_ns() - t_stop) / 1000000;
    if (e->producer) {
        rd_kafka_resp_err_t ferr = rd_kafka_flush(e->producer, left_ms > 100 ? (int)left_ms : 100);
        if (ferr)
            RG_WARN(MOD, "%d verdict(s) not acknowledged at shutdown; their events will be "
                         "consumed again", rd_kafka_outq_len(e->producer));
    }
    atomic_store(&e->dr_stop, 1);
    if (dr_started)
        pthread_join(dr_th, NULL);
    if (e->consumer) {
        advance_and_store(e);
        rd_kafka_resp_err_t cerr = rd_kafka_commit(e->consumer, NULL, 0);
        if (cerr && cerr != RD_KAFKA_RESP_ERR__NO_OFFSET)
            RG_WARN(MOD, "final commit: %s", rd_kafka_err2str(cerr));
        rd_kafka_consumer_close(e->consumer);
    }
    exit_code = atomic_load(&e->fatal) ? 2 : 0;
    RG_INFO(MOD, "stopped after %lld ms (exit %d)",
            (long long)((rg_clock_mono_ns() - t_stop) / 1000000), exit_code);

out:
    rg_http_stop(http);
    if (e->consumer)
        rd_kafka_destroy(e->consumer);
    if (e->t_verdicts)
        rd_kafka_topic_destroy(e->t_verdicts);
    if (e->t_dlq)
        rd_kafka_topic_destroy(e->t_dlq);
    if (e->producer)
        rd_kafka_destroy(e->producer);
    if (e->assigned)
        rd_kafka_topic_partition_list_destroy(e->assigned);
    rg_decider_free(atomic_exchange(&e->gen, NULL));
    workers_free(e);
    for (int t = 0; t < 2; t++)
        for (int p = 0; p < RG_MAX_PARTITIONS; p++) {
            struct rg_wm *wm = atomic_exchange(&e->wm[t][p], NULL);
            if (wm) {
                rg_wm_fini(wm);
                free(wm);
            }
        }
    return exit_code;
}
