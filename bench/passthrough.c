/*
 * passthrough.c - the I/O limit riskgate is measured against: a Kafka
 * consumer -> producer that does no work at all.
 *
 *   passthrough BROKERS IN_TOPIC OUT_TOPIC GROUP COUNT [TIMEOUT_S]
 *
 * Joins consumer group GROUP on IN_TOPIC, produces every message value and
 * key unchanged to OUT_TOPIC, and exits once COUNT messages were delivered
 * (exit 0) or TIMEOUT_S (default 600) passed (exit 1). Prints one JSON
 * object to stdout: delivered count, wall-clock events/s from the first to
 * the last delivery report, CPU time and peak RSS of this process, and the
 * librdkafka version. Progress goes to stderr every 2 s, and the line
 * "passthrough: assigned N partition(s)" once the group join is done.
 *
 * DESIGN
 *   The client settings are riskgate's (src/pipe/engine.c kafka_init):
 *   idempotent producer, acks=all, infinite delivery timeout, linger.ms 2,
 *   batch.num.messages 10000, lz4; consumer with enable.auto.offset.store
 *   false, auto-commit of stored offsets, fetch.wait.max.ms 10, 64 MiB
 *   queued. Offsets are stored only after the copy is acknowledged (noted
 *   in the delivery report, stored every 50 ms), as riskgate does. The
 *   output message is keyed like the input and OUT_TOPIC has the input's
 *   partition count, so the default partitioner sends partition p's
 *   messages to partition p and the idempotent producer acknowledges them
 *   in order: the highest delivered offset + 1 of a partition is then
 *   exactly "everything below was delivered", without riskgate's watermark
 *   (which is bookkeeping, not I/O).
 *   One thread: the process does nothing but move bytes, which is the
 *   point. A benchmark helper, never part of the product.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define PT_MAX_PARTS 1024

struct pt_state {
    rd_kafka_t *consumer;
    const char *in_topic;
    int64_t delivered, failed;
    int64_t first_dr_ns, last_dr_ns;
    int64_t next_off[PT_MAX_PARTS]; /* delivered source offset + 1; 0 = none */
    int64_t stored_off[PT_MAX_PARTS];
};

static volatile sig_atomic_t pt_stop;

static void pt_on_signal(int sig)
{
    (void)sig;
    pt_stop = 1;
}

static int64_t pt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Delivery report (runs inside rd_kafka_poll(producer) on the main thread):
 * note the source offset + 1, carried in the message opaque. */
static void pt_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct pt_state *st = opaque;
    (void)rk;
    if (m->err) {
        st->failed++;
        return;
    }
    int64_t now = pt_now_ns();
    if (st->delivered == 0)
        st->first_dr_ns = now;
    st->last_dr_ns = now;
    st->delivered++;
    /* _private holds (partition << 48 | offset); see the produce call. */
    uint64_t packed = (uint64_t)(uintptr_t)m->_private;
    int32_t part = (int32_t)(packed >> 48);
    int64_t off = (int64_t)(packed & ((UINT64_C(1) << 48) - 1));
    if (part >= 0 && part < PT_MAX_PARTS && off + 1 > st->next_off[part])
        st->next_off[part] = off + 1;
}

/* Store the delivered offsets (every 50 ms and at the end), one list for
 * all partitions, as riskgate's consumer thread does with its watermarks. */
static void pt_store_offsets(struct pt_state *st)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    for (int p = 0; p < PT_MAX_PARTS; p++) {
        if (st->next_off[p] <= st->stored_off[p])
            continue;
        if (!l)
            l = rd_kafka_topic_partition_list_new(8);
        rd_kafka_topic_partition_list_add(l, st->in_topic, p)->offset = st->next_off[p];
        st->stored_off[p] = st->next_off[p];
    }
    if (l) {
        rd_kafka_offsets_store(st->consumer, l);
        rd_kafka_topic_partition_list_destroy(l);
    }
}

static int pt_set_all(rd_kafka_conf_t *c, const char *const *kv)
{
    char err[512];
    for (; kv[0]; kv += 2)
        if (rd_kafka_conf_set(c, kv[0], kv[1], err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "passthrough: %s=%s: %s\n", kv[0], kv[1], err);
            return -1;
        }
    return 0;
}

int main(int argc, char **argv)
{
    char err[512];
    struct pt_state st = { 0 };
    rd_kafka_t *prod = NULL, *cons = NULL;
    rd_kafka_topic_t *out = NULL;
    int rc = 1;

    if (argc < 6 || argc > 7) {
        fprintf(stderr, "usage: %s BROKERS IN_TOPIC OUT_TOPIC GROUP COUNT [TIMEOUT_S]\n", argv[0]);
        return 2;
    }
    const char *brokers = argv[1], *in_topic = argv[2], *out_topic = argv[3], *group = argv[4];
    long long want = strtoll(argv[5], NULL, 10);
    long timeout_s = argc == 7 ? strtol(argv[6], NULL, 10) : 600;
    if (want < 1 || timeout_s < 1) {
        fprintf(stderr, "passthrough: COUNT and TIMEOUT_S must be positive\n");
        return 2;
    }
    st.in_topic = in_topic;
    signal(SIGINT, pt_on_signal);
    signal(SIGTERM, pt_on_signal);

    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    const char *prod_kv[] = {
        "bootstrap.servers", brokers,
        "client.id", "bench-passthrough-producer",
        "enable.idempotence", "true",
        "acks", "all",
        "message.timeout.ms", "0",
        "linger.ms", "2",
        "batch.num.messages", "10000",
        "queue.buffering.max.messages", "500000",
        "compression.type", "lz4",
        NULL,
    };
    if (pt_set_all(pc, prod_kv) != 0) {
        rd_kafka_conf_destroy(pc);
        return 2;
    }
    rd_kafka_conf_set_dr_msg_cb(pc, pt_dr_cb);
    rd_kafka_conf_set_opaque(pc, &st);
    prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
    if (!prod) {
        fprintf(stderr, "passthrough: producer: %s\n", err);
        return 2;
    }
    out = rd_kafka_topic_new(prod, out_topic, NULL);

    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    const char *cons_kv[] = {
        "bootstrap.servers", brokers,
        "client.id", "bench-passthrough",
        "group.id", group,
        "enable.auto.offset.store", "false",
        "enable.auto.commit", "true",
        "auto.commit.interval.ms", "1000",
        "auto.offset.reset", "earliest",
        "enable.partition.eof", "false",
        "queued.max.messages.kbytes", "65536",
        "fetch.wait.max.ms", "10",
        NULL,
    };
    if (pt_set_all(cc, cons_kv) != 0) {
        rd_kafka_conf_destroy(cc);
        goto fail;
    }
    cons = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
    if (!cons) {
        fprintf(stderr, "passthrough: consumer: %s\n", err);
        goto fail;
    }
    st.consumer = cons;
    rd_kafka_poll_set_consumer(cons);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, in_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t serr = rd_kafka_subscribe(cons, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (serr) {
        fprintf(stderr, "passthrough: subscribe: %s\n", rd_kafka_err2str(serr));
        goto fail;
    }

    int64_t t_start = pt_now_ns(), t_deadline = t_start + (int64_t)timeout_s * 1000000000;
    int64_t t_progress = t_start, t_store = t_start, consumed = 0;
    int assigned = 0;
    while (!pt_stop && st.delivered < want && pt_now_ns() < t_deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, consumed < want ? 10 : 0);
        if (m) {
            if (!m->err) {
                if (m->offset >= (INT64_C(1) << 48) || m->partition >= PT_MAX_PARTS) {
                    fprintf(stderr, "passthrough: offset/partition out of range\n");
                    rd_kafka_message_destroy(m);
                    goto fail;
                }
                uint64_t packed = ((uint64_t)m->partition << 48) | (uint64_t)m->offset;
                for (;;) {
                    if (rd_kafka_produce(out, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                         m->payload, m->len, m->key, m->key_len,
                                         (void *)(uintptr_t)packed) == 0)
                        break;
                    if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        fprintf(stderr, "passthrough: produce: %s\n",
                                rd_kafka_err2str(rd_kafka_last_error()));
                        rd_kafka_message_destroy(m);
                        goto fail;
                    }
                    rd_kafka_poll(prod, 10);
                }
                consumed++;
            } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                fprintf(stderr, "passthrough: consume: %s\n", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(prod, m ? 0 : 1);
        int64_t now = pt_now_ns();
        if (now - t_store >= 50000000) {
            pt_store_offsets(&st);
            t_store = now;
            if (!assigned) {
                /* Tell bench/run.sh that the group join is done, so paced
                 * input does not wait for it. */
                rd_kafka_topic_partition_list_t *a = NULL;
                if (rd_kafka_assignment(cons, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a->cnt > 0) {
                    fprintf(stderr, "passthrough: assigned %d partition(s)\n", a->cnt);
                    assigned = 1;
                }
                if (a)
                    rd_kafka_topic_partition_list_destroy(a);
            }
        }
        if (now - t_progress >= 2000000000) {
            fprintf(stderr, "passthrough: %" PRId64 " consumed, %" PRId64 " delivered\n",
                    consumed, st.delivered);
            t_progress = now;
        }
    }
    rd_kafka_flush(prod, 30000);
    pt_store_offsets(&st);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                   (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    double span_s = (double)(st.last_dr_ns - st.first_dr_ns) / 1e9;
    double eps = span_s > 0 ? (double)(st.delivered - 1) / span_s : 0;
    printf("{\"delivered\":%" PRId64 ",\"failed\":%" PRId64 ",\"consumed\":%" PRId64
           ",\"dr_span_s\":%.3f,\"eps_dr\":%.1f,\"cpu_s\":%.3f,\"cpu_us_per_event\":%.3f"
           ",\"maxrss_mb\":%.1f,\"librdkafka\":\"%s\"}\n",
           st.delivered, st.failed, consumed, span_s, eps, cpu_s,
           st.delivered ? cpu_s * 1e6 / (double)st.delivered : 0.0,
           (double)ru.ru_maxrss / 1024.0, rd_kafka_version_str());
    rc = st.delivered >= want ? 0 : 1;
    if (rc)
        fprintf(stderr, "passthrough: only %" PRId64 " of %lld delivered\n", st.delivered, want);
fail:
    if (cons) {
        rd_kafka_consumer_close(cons);
        rd_kafka_destroy(cons);
    }
    if (out)
        rd_kafka_topic_destroy(out);
    if (prod)
        rd_kafka_destroy(prod);
    return rc;
}
