/*
 * bench.c - `riskgate profile bench`: throughput of the profile stage
 * (process_batch + flush per batch, as the pipeline calls them) against a
 * real redis-server or the in-memory backend, Redis commands and round
 * trips per event, and bytes per stored user profile.
 *
 * DESIGN
 * Synthetic events: U users spread over 8 partitions, 1 device per user
 * (every 50th user shares a device), 2,000 merchants, 1 IP per 4 users,
 * timestamps 10 ms apart ending now. A warm-up pass touches every user
 * once (profiles created), then the measured pass runs E events. A benchmark,
 * not a test: it prints numbers and never fails on them.
 */
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "riskgate/clock.h"
#include "riskgate/err.h"
#include "riskgate/feature.h"
#include "riskgate/profile.h"

static void make_txn(struct rg_txn *t, uint64_t u, int64_t ts, int64_t *offsets)
{
    memset(t, 0, sizeof *t);
    snprintf(t->event_id, sizeof t->event_id, "ev-%" PRIu64 "-%" PRId64, u, ts);
    snprintf(t->user_id, sizeof t->user_id, "user-%" PRIu64, u);
    t->amount = 0.5 + (double)((u * 7 + (uint64_t)ts / 10) % 900) / 100.0;
    memcpy(t->currency, "USD", 4);
    t->ts_ms = ts;
    t->has = RG_HAS_MERCHANT_ID | RG_HAS_MERCHANT_CAT | RG_HAS_DEVICE_ID | RG_HAS_IP |
             RG_HAS_COUNTRY | RG_HAS_GEO;
    snprintf(t->merchant_id, sizeof t->merchant_id, "m-%" PRIu64, (u * 31 + (uint64_t)ts) % 2000);
    snprintf(t->merchant_category, sizeof t->merchant_category, "%s",
             ((uint64_t)ts / 10) % 5 == 0 ? "gift_card" : "app_store");
    snprintf(t->device_id, sizeof t->device_id, "dev-%" PRIu64, u % 50 == 0 ? 0 : u);
    snprintf(t->ip, sizeof t->ip, "10.%u.%u.%u", (unsigned)(u / 4 >> 16) & 255,
             (unsigned)(u / 4 >> 8) & 255, (unsigned)(u / 4) & 255);
    memcpy(t->country, "DE", 3);
    t->lat = 52.5 + (double)(u % 100) / 100.0;
    t->lon = 13.4;
    t->partition = (int32_t)(u % 8);
    t->offset = offsets[t->partition]++;
    t->kafka_ts_ms = -1;
}

/* Redis server CPU seconds (user + sys) from INFO cpu; -1 when unknown. */
static double redis_cpu(const char *host, int port, const char *password)
{
    if (!host)
        return -1;
    redisContext *c = redisConnect(host, port);
    double v = -1;
    if (c && !c->err) {
        if (password)
            freeReplyObject(redisCommand(c, "AUTH %s", password));
        redisReply *r = redisCommand(c, "INFO cpu");
        if (r && r->type == REDIS_REPLY_STRING) {
            const char *u = strstr(r->str, "used_cpu_user:"), *sy = strstr(r->str, "used_cpu_sys:");
            if (u && sy)
                v = atof(u + 14) + atof(sy + 13);
        }
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return v;
}

static int usage(void)
{
    fprintf(stderr, "usage: riskgate profile bench [--host H] [--port P] [--password PW]\n"
                    "       [--users N] [--events N] [--batch N] [--memory]\n");
    return 2;
}

int rg_profile_cli(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "bench") != 0)
        return usage();
    const char *host = "127.0.0.1", *password = NULL;
    int port = 6379;
    long users = 100000, events = 200000, batch = 64;
    bool memory = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--memory") == 0) {
            memory = true;
            continue;
        }
        if (!v)
            return usage();
        if (strcmp(a, "--host") == 0)
            host = v;
        else if (strcmp(a, "--port") == 0)
            port = atoi(v);
        else if (strcmp(a, "--password") == 0)
            password = v;
        else if (strcmp(a, "--users") == 0)
            users = atol(v);
        else if (strcmp(a, "--events") == 0)
            events = atol(v);
        else if (strcmp(a, "--batch") == 0)
            batch = atol(v);
        else
            return usage();
        i++;
    }
    if (users < 1 || events < 1 || batch < 1 || batch > 4096)
        return usage();
    static const unsigned char secret[] = "bench-secret-not-for-production";
    char prefix[48];
    snprintf(prefix, sizeof prefix, "rgbench%lld:", (long long)(rg_clock_now_ms() % 100000));
    struct rg_profile_conf conf = { .redis_host = host, .redis_port = port,
                                    .redis_password = password, .key_prefix = prefix,
                                    .secret = secret, .secret_len = sizeof secret - 1,
                                    .ttl_days = 1, .timeout_ms = 1000,
                                    .cache_users = (size_t)users + 4096, .in_memory = memory };
    struct rg_profile_store *s = rg_profile_store_new(&conf);
    struct rg_txn *txns = calloc((size_t)batch, sizeof *txns);
    double *feat = malloc((size_t)batch * RG_FEAT_COUNT * sizeof *feat);
    struct rg_user_ctx *uctx = calloc((size_t)batch, sizeof *uctx);
    bool *deg = calloc((size_t)batch, sizeof *deg);
    int64_t offsets[8] = { 0 };
    int rcode = 1;
    if (!s || !txns || !feat || !uctx || !deg)
        goto out;
    int64_t now = rg_clock_now_ms();
    int64_t ts0 = now - (int64_t)(users + events) * 10;
    long errors = 0;
    /* warm-up: every user once */
    for (long i = 0; i < users; i += batch) {
        long k = 0;
        for (; k < batch && i + k < users; k++)
            make_txn(&txns[k], (uint64_t)(i + k), ts0 + (i + k) * 10, offsets);
        errors += rg_profile_process_batch(s, txns, (size_t)k, feat, uctx, deg) != 0;
        errors += rg_profile_flush(s) != 0;
    }
    struct rg_profile_stats st0, st1;
    rg_profile_stats(s, &st0);
    uint64_t rnd = 88172645463325252ULL;
    double rcpu0 = redis_cpu(memory ? NULL : host, port, password);
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    int64_t t0 = rg_clock_mono_ns();
    for (long i = 0; i < events; i += batch) {
        long k = 0;
        for (; k < batch && i + k < events; k++) {
            rnd ^= rnd << 13;
            rnd ^= rnd >> 7;
            rnd ^= rnd << 17;
            make_txn(&txns[k], rnd % (uint64_t)users, ts0 + (users + i + k) * 10, offsets);
        }
        errors += rg_profile_process_batch(s, txns, (size_t)k, feat, uctx, deg) != 0;
        errors += rg_profile_flush(s) != 0;
    }
    int64_t t1 = rg_clock_mono_ns();
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double rcpu1 = redis_cpu(memory ? NULL : host, port, password);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    rg_profile_stats(s, &st1);
    double secs = (double)(t1 - t0) / 1e9;
    double n = (double)events;
    printf("profile bench: backend=%s users=%ld events=%ld batch=%ld\n",
           memory ? "memory" : "redis", users, events, batch);
    printf("  throughput        %.0f events/s (%.2f us/event, process_batch + flush per batch)\n",
           n / secs, secs * 1e6 / n);
    printf("  cpu (this process) %.0f events/s of CPU time (%.2f us/event; on a loaded\n"
           "                    machine wall time includes waiting for a core)\n",
           n / cpu, cpu * 1e6 / n);
    if (rcpu0 >= 0 && rcpu1 >= 0)
        printf("  redis-server cpu  %.2f us/event (INFO cpu): %.0f events/s per Redis core\n",
               (rcpu1 - rcpu0) * 1e6 / n, n / (rcpu1 - rcpu0));
    printf("  redis commands    %.4f per event (%" PRIu64 ")\n",
           (double)(st1.cmds_sent - st0.cmds_sent) / n, st1.cmds_sent - st0.cmds_sent);
    printf("  round trips       %.4f per event, %.2f per batch\n",
           (double)(st1.round_trips - st0.round_trips) / n,
           (double)(st1.round_trips - st0.round_trips) / ((n + (double)batch - 1) / (double)batch));
    printf("  cache hits/misses %" PRIu64 " / %" PRIu64 ", errors %ld, redis_errors %" PRIu64 "\n",
           st1.cache_hits - st0.cache_hits, st1.cache_misses - st0.cache_misses, errors,
           st1.redis_errors);
    if (!memory) {
        redisContext *c = redisConnect(host, port);
        if (c && !c->err) {
            if (password)
                freeReplyObject(redisCommand(c, "AUTH %s", password));
            double sum_len = 0, sum_mem = 0;
            int cnt = 0;
            for (long u = 0; u < users && cnt < 1000; u += users / 1000 + 1) {
                char uid[64], key[RG_PROF_KEY_MAX];
                snprintf(uid, sizeof uid, "user-%ld", u);
                if (rg_profile_key(secret, sizeof secret - 1, prefix, 'u', uid, key, sizeof key) < 0)
                    continue;
                redisReply *r1 = redisCommand(c, "STRLEN %s", key);
                redisReply *r2 = redisCommand(c, "MEMORY USAGE %s", key);
                if (r1 && r2 && r1->type == REDIS_REPLY_INTEGER && r2->type == REDIS_REPLY_INTEGER) {
                    sum_len += (double)r1->integer;
                    sum_mem += (double)r2->integer;
                    cnt++;
                }
                freeReplyObject(r1);
                freeReplyObject(r2);
            }
            if (cnt)
                printf("  user profile      %.0f bytes encoded (STRLEN), %.0f bytes in Redis "
                       "(MEMORY USAGE), mean of %d users\n", sum_len / cnt, sum_mem / cnt, cnt);
            /* leave nothing behind: keys carry a 1-day TTL, but drop them now */
            printf("  keys use prefix %s (TTL 1 day)\n", prefix);
        }
        if (c)
            redisFree(c);
    }
    rcode = 0;
out:
    if (rcode)
        fprintf(stderr, "profile bench: setup failed\n");
    rg_profile_store_free(s);
    free(txns);
    free(feat);
    free(uctx);
    free(deg);
    return rcode;
}
