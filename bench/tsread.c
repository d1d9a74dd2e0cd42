/*
 * tsread.c - dump (timestamp, event_id) of every message of a topic, for
 * the benchmark's latency join and its "one verdict per event" check.
 *
 *   tsread BROKERS TOPIC [SINCE_MS] > out.tsv
 *
 * Reads every partition of TOPIC from the beginning (or from the first
 * message with a timestamp >= SINCE_MS, epoch milliseconds) up to the high
 * watermark it had when tsread started, and prints one line per message:
 * "<timestamp ms>\t<partition>\t<event_id>\n". The timestamp is the
 * message's CreateTime (set by the producer when it was produced: gen for
 * events, riskgate for verdicts). The event_id is the raw bytes of the
 * first "event_id":"..." in the value (both events from gen and verdicts
 * write it with no space after the colon), or "-" when there is none.
 * Exit 0 on success, 1 on errors. A summary line goes to stderr.
 *
 * DESIGN
 *   kcat -f '%T\t%s' would do, but it prints whole verdicts (hundreds of
 *   bytes each, a million of them) for python to parse again; this prints
 *   only what the join needs. No consumer group: assign() with explicit
 *   offsets, nothing committed. A benchmark helper, not part of riskgate.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#define TR_MAX_PARTS 1024

int main(int argc, char **argv)
{
    char err[512];
    static int64_t hi[TR_MAX_PARTS], pos[TR_MAX_PARTS];
    rd_kafka_t *rk = NULL;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = NULL;
    int rc = 1, nparts = 0;
    int64_t n = 0, missing_id = 0;

    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s BROKERS TOPIC [SINCE_MS]\n", argv[0]);
        return 2;
    }
    int64_t since = argc == 4 ? strtoll(argv[3], NULL, 10) : -1;
    const char *topic = argv[2];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", argv[1], err, sizeof(err)) ||
        rd_kafka_conf_set(c, "group.id", "bench-tsread-unused", err, sizeof(err)) ||
        rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof(err)) ||
        rd_kafka_conf_set(c, "fetch.message.max.bytes", "2097152", err, sizeof(err)) ||
        rd_kafka_conf_set(c, "queued.max.messages.kbytes", "262144", err, sizeof(err))) {
        fprintf(stderr, "tsread: %s\n", err);
        rd_kafka_conf_destroy(c);
        return 2;
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "tsread: %s\n", err);
        return 2;
    }
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        md->topic_cnt != 1 || md->topics[0].err) {
        fprintf(stderr, "tsread: no metadata for topic %s\n", topic);
        goto fail;
    }
    nparts = md->topics[0].partition_cnt;
    if (nparts < 1 || nparts > TR_MAX_PARTS) {
        fprintf(stderr, "tsread: %d partitions\n", nparts);
        goto fail;
    }
    rd_kafka_topic_partition_list_t *as = rd_kafka_topic_partition_list_new(nparts);
    int open = 0;
    for (int p = 0; p < nparts; p++) {
        int64_t lo;
        if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi[p], 10000)) {
            fprintf(stderr, "tsread: watermarks of %s[%d] unavailable\n", topic, p);
            rd_kafka_topic_partition_list_destroy(as);
            goto fail;
        }
        if (since >= 0) {
            /* First offset with a timestamp >= since; none: nothing to read. */
            rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(q, topic, p)->offset = since;
            rd_kafka_resp_err_t qerr = rd_kafka_offsets_for_times(rk, q, 10000);
            int64_t at = q->elems[0].offset;
            rd_kafka_topic_partition_list_destroy(q);
            if (qerr) {
                fprintf(stderr, "tsread: offsets for time of %s[%d]: %s\n", topic, p,
                        rd_kafka_err2str(qerr));
                rd_kafka_topic_partition_list_destroy(as);
                goto fail;
            }
            lo = at >= 0 ? at : hi[p];
        }
        pos[p] = lo;
        if (hi[p] > lo) {
            rd_kafka_topic_partition_list_add(as, topic, p)->offset = lo;
            open++;
        }
    }
    rd_kafka_assign(rk, as);
    rd_kafka_topic_partition_list_destroy(as);

    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof(obuf));
    int idle = 0;
    while (open > 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
        if (!m) {
            if (++idle >= 30) {
                fprintf(stderr, "tsread: no messages for 30 s with %d partitions unfinished\n", open);
                goto fail;
            }
            continue;
        }
        idle = 0;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "tsread: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        int p = m->partition;
        if (p >= 0 && p < nparts && m->offset < hi[p]) {
            rd_kafka_timestamp_type_t tt;
            int64_t ts = rd_kafka_message_timestamp(m, &tt);
            const char *v = m->payload, *id = NULL;
            size_t idlen = 0;
            if (v) {
                const char *k = memmem(v, m->len, "\"event_id\":\"", 12);
                if (k) {
                    k += 12;
                    const char *q = memchr(k, '"', m->len - (size_t)(k - v));
                    if (q) {
                        id = k;
                        idlen = (size_t)(q - k);
                    }
                }
            }
            if (id)
                printf("%" PRId64 "\t%d\t%.*s\n", ts, p, (int)idlen, id);
            else {
                printf("%" PRId64 "\t%d\t-\n", ts, p);
                missing_id++;
            }
            n++;
            pos[p] = m->offset + 1;
            if (pos[p] >= hi[p])
                open--;
        }
        rd_kafka_message_destroy(m);
    }
    fflush(stdout);
    fprintf(stderr, "tsread: %s: %" PRId64 " messages (%" PRId64 " without event_id) from %d partitions\n",
            topic, n, missing_id, nparts);
    rc = 0;
fail:
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    return rc;
}
