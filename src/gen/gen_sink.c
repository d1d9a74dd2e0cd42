/*
 * gen_sink.c - where `riskgate gen` writes: JSONL files or Kafka.
 *
 * DESIGN
 * File mode writes through large stdio buffers (one fwrite per line).
 * Kafka mode uses one idempotent librdkafka producer for both topics,
 * key = user_id so each user's events stay in one partition in order.
 * Messages are copied into librdkafka (RD_KAFKA_MSG_F_COPY) because the
 * caller reuses its line buffer; a full local queue is handled by serving
 * delivery reports and retrying (backpressure, never a silent drop). The
 * delivery report callback counts failures so the run can exit non-zero
 * when any event was not delivered. The truth file is always a local file.
 */
#include "gen_int.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskgate/err.h"
#include "riskgate/log.h"

struct rg_gen_sink {
    FILE *f[3];
    char *fbuf[3];
    rd_kafka_t *rk;
    const char *topic[2];
    uint64_t produced, delivered, failed;
    int last_err;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct rg_gen_sink *s = opaque;
    if (m->err) {
        s->failed++;
        s->last_err = m->err;
        RG_LOG_RATELIMITED(RG_LOG_WARN, "gen", "delivery failed: %s", rd_kafka_err2str(m->err));
    } else {
        s->delivered++;
    }
}

static FILE *open_out(const char *path, char **bufp)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    *bufp = malloc(1 << 20);
    if (*bufp)
        setvbuf(f, *bufp, _IOFBF, 1 << 20);
    return f;
}

static int kafka_conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        RG_ERROR("gen", "kafka config %s: %s", k, err);
        return RG_EINVAL;
    }
    return 0;
}

struct rg_gen_sink *rg_gen_sink_new(const struct rg_gen_sink_conf *conf)
{
    struct rg_gen_sink *s = calloc(1, sizeof(*s));
    rd_kafka_conf_t *kc = NULL;
    if (!s)
        return NULL;
    if (conf->truth_out) {
        s->f[RG_STREAM_TRUTH] = open_out(conf->truth_out, &s->fbuf[RG_STREAM_TRUTH]);
        if (!s->f[RG_STREAM_TRUTH]) {
            RG_ERROR("gen", "cannot open --truth-out file");
            goto fail;
        }
    }
    if (conf->out) {
        s->f[RG_STREAM_EVENTS] = open_out(conf->out, &s->fbuf[RG_STREAM_EVENTS]);
        if (!s->f[RG_STREAM_EVENTS]) {
            RG_ERROR("gen", "cannot open --out file");
            goto fail;
        }
        if (conf->feedback_out) {
            s->f[RG_STREAM_FEEDBACK] = open_out(conf->feedback_out, &s->fbuf[RG_STREAM_FEEDBACK]);
            if (!s->f[RG_STREAM_FEEDBACK]) {
                RG_ERROR("gen", "cannot open --feedback-out file");
                goto fail;
            }
        }
        return s;
    }

    char err[256], linger[16];
    snprintf(linger, sizeof linger, "%d", conf->linger_ms);
    kc = rd_kafka_conf_new();
    if (kafka_conf_set(kc, "bootstrap.servers", conf->brokers) ||
        kafka_conf_set(kc, "linger.ms", linger) ||
        kafka_conf_set(kc, "batch.num.messages", "10000") ||
        kafka_conf_set(kc, "queue.buffering.max.messages", "500000") ||
        kafka_conf_set(kc, "enable.idempotence", "true") ||
        kafka_conf_set(kc, "compression.type", "lz4") ||
        kafka_conf_set(kc, "message.timeout.ms", "30000"))
        goto fail;
    rd_kafka_conf_set_opaque(kc, s);
    rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
    s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof(err));
    if (!s->rk) {
        RG_ERROR("gen", "kafka producer: %s", err);
        goto fail;
    }
    kc = NULL; /* owned by rk now */
    s->topic[RG_STREAM_EVENTS] = conf->topic;
    s->topic[RG_STREAM_FEEDBACK] = conf->feedback_topic;
    return s;
fail:
    if (kc)
        rd_kafka_conf_destroy(kc);
    rg_gen_sink_free(s);
    return NULL;
}

bool rg_gen_sink_is_kafka(const struct rg_gen_sink *s) { return s->rk != NULL; }

int rg_gen_sink_put(struct rg_gen_sink *s, int stream, const char *key, size_t keylen,
                    const char *line, size_t len)
{
    if (stream == RG_STREAM_TRUTH || !s->rk) {
        FILE *f = s->f[stream];
        if (!f)
            return 0;
        return fwrite(line, 1, len, f) == len ? 0 : RG_EIO;
    }
    if (len && line[len - 1] == '\n')
        len--;
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            s->rk, RD_KAFKA_V_TOPIC(s->topic[stream]), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY((void *)key, keylen), RD_KAFKA_V_VALUE((void *)line, len),
            RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            s->produced++;
            return 0;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            RG_ERROR("gen", "produce: %s", rd_kafka_err2str(e));
            s->failed++;
            return RG_EIO;
        }
        rd_kafka_poll(s->rk, 50); /* local queue full: wait for deliveries */
    }
}

void rg_gen_sink_poll(struct rg_gen_sink *s)
{
    if (s->rk)
        rd_kafka_poll(s->rk, 0);
}

int rg_gen_sink_close(struct rg_gen_sink *s, uint64_t *undelivered)
{
    int rc = 0;
    *undelivered = 0;
    for (int i = 0; i < 3; i++) {
        if (s->f[i]) {
            if (fflush(s->f[i]) != 0 || ferror(s->f[i]))
                rc = RG_EIO;
            if (fclose(s->f[i]) != 0)
                rc = RG_EIO;
            s->f[i] = NULL;
        }
    }
    if (s->rk) {
        rd_kafka_resp_err_t e = rd_kafka_flush(s->rk, 30000);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            RG_ERROR("gen", "flush: %s (%d messages still queued)", rd_kafka_err2str(e),
                     rd_kafka_outq_len(s->rk));
        *undelivered = s->produced - s->delivered;
        if (*undelivered) {
            rc = RG_EIO;
            if (s->last_err)
                RG_ERROR("gen", "%llu messages failed; last delivery error: %s",
                         (unsigned long long)s->failed,
                         rd_kafka_err2str((rd_kafka_resp_err_t)s->last_err));
        }
    }
    return rc;
}

void rg_gen_sink_free(struct rg_gen_sink *s)
{
    if (!s)
        return;
    for (int i = 0; i < 3; i++) {
        if (s->f[i])
            fclose(s->f[i]);
        free(s->fbuf[i]);
    }
    if (s->rk)
        rd_kafka_destroy(s->rk);
    free(s);
}
