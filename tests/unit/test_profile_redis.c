/* test_profile_redis.c - the profile store against a REAL redis-server that
 * this test starts on a free loopback port (with a password, so AUTH is
 * exercised) and stops at the end, also when a test fails. Fake clock for
 * all event and backoff times; the only real waiting is for redis-server
 * to accept connections after a (re)start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "riskgate/clock.h"
#include "riskgate/err.h"
#include "riskgate/feature.h"
#include "riskgate/profile.h"

#define HOUR 3600000LL
#define DAY (24 * HOUR)
#define T0 1768471200000LL /* 2026-01-15 10:00:00 UTC */
#define PASSWORD "test-pw-9f2c"

static const unsigned char SECRET[] = "redis-test-secret-0123456789";
static pid_t g_redis = -1;
static int g_port;
static char g_dir[] = "/tmp/rg_redis_XXXXXX";

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

static redisContext *admin(void)
{
    struct timeval tv = { 1, 0 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", g_port, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    redisReply *r = redisCommand(c, "AUTH %s", PASSWORD);
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (r)
        freeReplyObject(r);
    if (!ok) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static void redis_stop(void)
{
    if (g_redis > 0) {
        kill(g_redis, SIGKILL);
        waitpid(g_redis, NULL, 0);
        g_redis = -1;
    }
}

static int redis_start(void)
{
    char port[16];
    snprintf(port, sizeof port, "%d", g_port);
    g_redis = fork();
    if (g_redis < 0)
        return -1;
    if (g_redis == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", "--requirepass", PASSWORD, "--dir", g_dir, (char *)NULL);
        _exit(127);
    }
    /* wait (up to 5 s) until it answers PING */
    for (int i = 0; i < 500; i++) {
        redisContext *c = admin();
        if (c) {
            redisReply *r = redisCommand(c, "PING");
            bool ok = r && r->type == REDIS_REPLY_STATUS;
            if (r)
                freeReplyObject(r);
            redisFree(c);
            if (ok)
                return 0;
        }
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return -1;
}

static int group_setup(void **state)
{
    (void)state;
    if (!mkdtemp(g_dir))
        return -1;
    atexit(redis_stop);
    g_port = free_port();
    return g_port > 0 ? redis_start() : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    redis_stop();
    rmdir(g_dir);
    return 0;
}

static void flushall(void)
{
    redisContext *c = admin();
    assert_non_null(c);
    freeReplyObject(redisCommand(c, "FLUSHALL"));
    redisFree(c);
}

static struct rg_profile_store *store(const char *password, bool in_memory)
{
    struct rg_profile_conf conf = { .redis_host = "127.0.0.1", .redis_port = g_port,
                                    .redis_password = password, .key_prefix = "t:",
                                    .secret = SECRET, .secret_len = sizeof SECRET - 1,
                                    .ttl_days = 7, .timeout_ms = 500, .cache_users = 10000,
                                    .in_memory = in_memory };
    struct rg_profile_store *s = rg_profile_store_new(&conf);
    assert_non_null(s);
    return s;
}

/* The store of one engine worker: each worker has its own (cache, Redis
 * connection), 1,000 users. */
static struct rg_profile_store *worker_store(void)
{
    struct rg_profile_conf conf = { .redis_host = "127.0.0.1", .redis_port = g_port,
                                    .redis_password = PASSWORD, .key_prefix = "t:",
                                    .secret = SECRET, .secret_len = sizeof SECRET - 1,
                                    .ttl_days = 7, .timeout_ms = 500, .cache_users = 1000 };
    struct rg_profile_store *s = rg_profile_store_new(&conf);
    assert_non_null(s);
    return s;
}

static struct rg_txn tx(const char *user, int64_t ts, double amount, int32_t part, int64_t off)
{
    struct rg_txn t;
    memset(&t, 0, sizeof t);
    snprintf(t.event_id, sizeof t.event_id, "%s-%d-%lld", user, part, (long long)off);
    snprintf(t.user_id, sizeof t.user_id, "%s", user);
    t.amount = amount;
    strcpy(t.currency, "EUR");
    t.ts_ms = ts;
    t.partition = part;
    t.offset = off;
    t.kafka_ts_ms = -1;
    t.has = RG_HAS_MERCHANT_ID | RG_HAS_DEVICE_ID | RG_HAS_IP | RG_HAS_MERCHANT_CAT;
    strcpy(t.merchant_id, "shop-1");
    strcpy(t.merchant_category, "gift_card");
    strcpy(t.device_id, "dev-1");
    strcpy(t.ip, "192.0.2.7");
    return t;
}

#define F(i, slot) f[(i) * RG_FEAT_COUNT + RG_FEAT_##slot]

/* A scripted sequence with exact expectations, run against Redis and the
 * in-memory backend: both must agree value for value. */
static void run_script(struct rg_profile_store *s, double *all /* 3 batches x 4 x COUNT */)
{
    char reason[128];
    rg_clock_set_fake_ms(T0);
    struct rg_txn t[4] = { tx("ann", T0 - 30 * 60000, 2, 0, 1), tx("ben", T0 - 20 * 60000, 3, 1, 1),
                           tx("ann", T0 - 10 * 60000, 5, 0, 2), tx("ben", T0, 1, 1, 2) };
    struct rg_user_ctx u[4];
    bool d[4];
    assert_int_equal(rg_profile_process_batch(s, t, 4, all, u, d), 0);
    assert_int_equal(rg_profile_flush(s), 0);
    const char *label = "{\"type\":\"label\",\"event_id\":\"ann-0-1\",\"user_id\":\"ann\","
                        "\"merchant_id\":\"shop-1\",\"device_id\":\"dev-1\",\"label\":\"fraud\"}";
    assert_int_equal(rg_profile_feedback(s, label, strlen(label), reason, sizeof reason), 0);
    assert_int_equal(rg_profile_feedback(s, label, strlen(label), reason, sizeof reason), 0);
    const char *fail = "{\"type\":\"auth_result\",\"event_id\":\"ann-0-2\",\"user_id\":\"ann\","
                       "\"method\":\"otp\",\"result\":\"failed\"}";
    assert_int_equal(rg_profile_feedback(s, fail, strlen(fail), reason, sizeof reason), 0);
    const char *set = "{\"type\":\"settings\",\"user_id\":\"ann\",\"step_up_method\":\"password\"}";
    assert_int_equal(rg_profile_feedback(s, set, strlen(set), reason, sizeof reason), 0);
    rg_clock_set_fake_ms(T0 + HOUR);
    struct rg_txn t2[4] = { tx("ann", T0 + 40 * 60000, 4, 0, 3), tx("cat", T0 + 50 * 60000, 6, 2, 1),
                            tx("ann", T0 + 55 * 60000, 1, 0, 4), tx("ben", T0 + HOUR, 2, 1, 3) };
    strcpy(t2[1].ip, "198.51.100.1");
    assert_int_equal(rg_profile_process_batch(s, t2, 4, all + 4 * RG_FEAT_COUNT, u, d), 0);
    assert_int_equal(u[0].preferred, RG_METHOD_PASSWORD);
    assert_int_equal(u[0].failed_step_ups_24h, 1);
    assert_int_equal(u[3].preferred, RG_METHOD_NONE);
    /* re-consume the second batch: nothing may change */
    assert_int_equal(rg_profile_process_batch(s, t2, 4, all + 8 * RG_FEAT_COUNT, u, d), 0);
    assert_int_equal(rg_profile_flush(s), 0);
}

static void test_scripted_exact_and_same_as_memory(void **state)
{
    (void)state;
    flushall();
    double fr[12 * RG_FEAT_COUNT], fm[12 * RG_FEAT_COUNT];
    struct rg_profile_store *s = store(PASSWORD, false);
    run_script(s, fr);
    rg_profile_store_free(s);
    s = store(NULL, true);
    run_script(s, fm);
    rg_profile_store_free(s);

    double *f = fr;
    assert_true(F(0, MERCHANT_TXN_COUNT_1H) == 0);
    assert_true(F(3, MERCHANT_TXN_COUNT_1H) == 3);
    assert_true(F(1, DEVICE_DISTINCT_USERS_24H) == 1);
    assert_true(F(3, DEVICE_DISTINCT_USERS_24H) == 2);
    assert_true(F(3, DEVICE_DISTINCT_USERS_30D) == 2);
    assert_true(F(3, IP_DISTINCT_USERS_24H) == 2);
    assert_true(F(2, USER_TXN_COUNT_1H) == 1);
    assert_true(F(2, USER_AMOUNT_SUM_24H) == 2);
    assert_true(F(2, USER_GIFTCARD_SHARE_24H) == 1);
    /* batch 2 (events 4..7) */
    assert_true(F(4, USER_TXN_COUNT_1H) == 1);          /* ann at T0-10min */
    assert_true(F(4, USER_TXN_COUNT_24H) == 2);
    assert_true(F(4, USER_AMOUNT_SUM_24H) == 7);
    assert_true(F(4, USER_SECONDS_SINCE_LAST) == 3000);
    assert_true(F(4, USER_FRAUD_LABELS_90D) == 1);       /* duplicate label counted once */
    assert_true(F(4, USER_FAILED_STEP_UPS_24H) == 1);
    assert_true(F(4, MERCHANT_FRAUD_COUNT_7D) == 1);
    assert_true(F(4, MERCHANT_FRAUD_RATE_30D) == 0.25);
    assert_true(F(5, MERCHANT_TXN_COUNT_1H) == 2);       /* minutes T0-9..T0+50: T0, T0+40 */
    assert_true(F(5, IP_DISTINCT_USERS_24H) == 0);       /* a fresh IP */
    assert_true(F(5, DEVICE_DISTINCT_USERS_24H) == 2);
    assert_true(F(6, DEVICE_DISTINCT_USERS_24H) == 3);
    assert_true(F(6, USER_TXN_COUNT_1H) == 1);          /* T0+40 only */
    assert_true(F(7, USER_SECONDS_SINCE_LAST) == 3600);
    assert_true(F(7, MERCHANT_TXN_COUNT_1H) == 3);       /* minutes T0+1..T0+60 */
    /* batch 3 = batch 2 re-consumed: counts not doubled */
    assert_true(F(11, MERCHANT_TXN_COUNT_1H) == 4);      /* +40, +50, +55, +60 once each */
    assert_true(F(11, USER_TXN_COUNT_1H) == 2);          /* ben: T0 (edge) and itself */
    assert_true(F(8, USER_TXN_COUNT_24H) == 3);          /* ann at +40: 2 older + itself */
    assert_true(F(10, DEVICE_DISTINCT_USERS_24H) == 3);

    for (int i = 0; i < 12 * RG_FEAT_COUNT; i++) {
        if (isnan(fr[i]) && isnan(fm[i]))
            continue;
        if (fr[i] != fm[i])
            fail_msg("event %d feature %s: redis %g, memory %g", i / RG_FEAT_COUNT,
                     rg_feature_name(i % RG_FEAT_COUNT), fr[i], fm[i]);
    }
    rg_clock_set_fake_ms(0);
}

static void test_restart_does_not_double_count(void **state)
{
    (void)state;
    flushall();
    rg_clock_set_fake_ms(T0);
    struct rg_txn t[3] = { tx("dan", T0 - 2000, 1, 4, 10), tx("dan", T0 - 1000, 1, 4, 11),
                           tx("eli", T0, 1, 5, 7) };
    double f[3 * RG_FEAT_COUNT];
    struct rg_user_ctx u[3];
    bool d[3];
    struct rg_profile_store *s = store(PASSWORD, false);
    assert_int_equal(rg_profile_process_batch(s, t, 3, f, u, d), 0);
    assert_int_equal(rg_profile_flush(s), 0);
    rg_profile_store_free(s); /* "crash" after the flush, before the commit */
    s = store(PASSWORD, false); /* empty cache: profiles come from Redis */
    assert_int_equal(rg_profile_process_batch(s, t, 3, f, u, d), 0);
    assert_int_equal(rg_profile_flush(s), 0);
    struct rg_txn next = tx("dan", T0 + 1000, 1, 4, 12);
    assert_int_equal(rg_profile_process_batch(s, &next, 1, f, u, d), 0);
    assert_true(F(0, USER_TXN_COUNT_1H) == 2);
    assert_true(F(0, MERCHANT_TXN_COUNT_1H) == 3);
    assert_true(F(0, DEVICE_DISTINCT_USERS_24H) == 2);
    struct rg_profile_stats st;
    rg_profile_stats(s, &st);
    assert_int_equal(st.replays_skipped, 3);
    rg_profile_store_free(s);
    rg_clock_set_fake_ms(0);
}

/* Scale-out: a partition moves from instance A to instance B and back (two
 * rebalances of the consumer group). B's updates are in Redis; A must not
 * serve the profile it cached before the move, nor write it back over B's.
 * rg_profile_forget() at the revoke is what the engine does. */
static void test_partition_moves_away_and_back(void **state)
{
    (void)state;
    flushall();
    rg_clock_set_fake_ms(T0);
    double f[RG_FEAT_COUNT];
    struct rg_user_ctx u[1];
    bool d[1];
    struct rg_profile_store *a = worker_store(), *b = worker_store();
    for (int k = 0; k < 3; k++) { /* A owns partition 6: offsets 1..3 */
        struct rg_txn t = tx("fay", T0 - 10000 + k * 1000, 1, 6, 1 + k);
        assert_int_equal(rg_profile_process_batch(a, &t, 1, f, u, d), 0);
    }
    assert_true(rg_profile_forget(a, NULL) >= 1); /* revoke: partition 6 goes to B */
    for (int k = 0; k < 4; k++) { /* B: offsets 4..7, loaded from Redis */
        struct rg_txn t = tx("fay", T0 - 5000 + k * 1000, 1, 6, 4 + k);
        assert_int_equal(rg_profile_process_batch(b, &t, 1, f, u, d), 0);
        assert_true(F(0, USER_TXN_COUNT_1H) == 3 + k);
    }
    /* Partition 6 comes back to A: it sees B's four events (without the
     * forget it would count its own three) ... */
    struct rg_txn t = tx("fay", T0, 1, 6, 8);
    assert_int_equal(rg_profile_process_batch(a, &t, 1, f, u, d), 0);
    assert_true(F(0, USER_TXN_COUNT_1H) == 7);
    /* ... and its write-back keeps them: a fresh reader counts 8. */
    struct rg_profile_store *c = worker_store();
    t = tx("fay", T0 + 1000, 1, 6, 9);
    assert_int_equal(rg_profile_process_batch(c, &t, 1, f, u, d), 0);
    assert_true(F(0, USER_TXN_COUNT_1H) == 8);
    struct rg_profile_stats st;
    rg_profile_stats(a, &st);
    assert_int_equal(st.updates_dropped, 0);
    rg_profile_store_free(a);
    rg_profile_store_free(b);
    rg_profile_store_free(c);
    rg_clock_set_fake_ms(0);
}

/* Feedback is often the first thing a fresh worker sees for a user (a new
 * consumer group over a backlog, or after a restart): the store must
 * connect and load the user from Redis, not crash. */
static void test_feedback_first_for_uncached_user(void **state)
{
    (void)state;
    flushall();
    rg_clock_set_fake_ms(T0);
    char reason[160];
    struct rg_profile_store *s = store(PASSWORD, false); /* not connected yet */
    const char *set = "{\"type\":\"settings\",\"user_id\":\"fay\",\"step_up_method\":\"biometric\","
                      "\"ts\":1780000000000}";
    assert_int_equal(rg_profile_feedback(s, set, strlen(set), reason, sizeof reason), 0);
    assert_int_equal(rg_profile_flush(s), 0);
    rg_profile_store_free(s);
    s = store(PASSWORD, false); /* a new worker: the setting comes from Redis */
    struct rg_txn t = tx("fay", T0, 1, 6, 1);
    double f[RG_FEAT_COUNT];
    struct rg_user_ctx u;
    bool d;
    assert_int_equal(rg_profile_process_batch(s, &t, 1, f, &u, &d), 0);
    assert_int_equal(u.preferred, RG_METHOD_BIOMETRIC);
    assert_false(d);
    rg_profile_store_free(s);
    rg_clock_set_fake_ms(0);
}

static void test_ttl_on_every_key_and_pseudonyms(void **state)
{
    (void)state;
    flushall();
    rg_clock_set_fake_ms(T0);
    struct rg_profile_store *s = store(PASSWORD, false);
    struct rg_txn t = tx("fay@example.com", T0, 1, 0, 1);
    double f[RG_FEAT_COUNT];
    struct rg_user_ctx u;
    bool d;
    assert_int_equal(rg_profile_process_batch(s, &t, 1, f, &u, &d), 0);
    assert_int_equal(rg_profile_flush(s), 0);
    char reason[64];
    const char *label = "{\"type\":\"label\",\"event_id\":\"x1\",\"user_id\":\"fay@example.com\","
                        "\"merchant_id\":\"shop-1\",\"device_id\":\"dev-1\",\"label\":\"fraud\"}";
    assert_int_equal(rg_profile_feedback(s, label, strlen(label), reason, sizeof reason), 0);
    assert_int_equal(rg_profile_flush(s), 0);
    rg_profile_store_free(s);

    redisContext *c = admin();
    assert_non_null(c);
    redisReply *keys = redisCommand(c, "KEYS *");
    assert_non_null(keys);
    /* user, merchant, device members, device labels, ip members, label dedup */
    assert_int_equal(keys->elements, 6);
    for (size_t i = 0; i < keys->elements; i++) {
        const char *k = keys->element[i]->str;
        assert_int_equal(strncmp(k, "t:", 2), 0);
        assert_null(strstr(k, "fay"));
        assert_null(strstr(k, "shop"));
        assert_null(strstr(k, "dev-1"));
        assert_null(strstr(k, "192.0"));
        redisReply *ttl = redisCommand(c, "PTTL %s", k);
        assert_non_null(ttl);
        if (ttl->integer <= 0)
            fail_msg("key %s has no TTL (%lld)", k, ttl->integer);
        freeReplyObject(ttl);
    }
    freeReplyObject(keys);
    char key[RG_PROF_KEY_MAX];
    rg_profile_key(SECRET, sizeof SECRET - 1, "t:", 'u', "fay@example.com", key, sizeof key);
    redisReply *r = redisCommand(c, "PTTL %s", key);
    assert_true(r->integer > 6 * DAY && r->integer <= 7 * DAY);
    freeReplyObject(r);
    redisFree(c);
    rg_clock_set_fake_ms(0);
}

/* The store caches pseudonymised entity keys (8,192 slots): with 20,000
 * devices many share a slot, and each device, seen twice in interleaved
 * order, must still land on its own key with exactly its one user. */
static void test_entity_key_cache_collisions(void **state)
{
    (void)state;
    flushall();
    rg_clock_set_fake_ms(T0);
    struct rg_profile_store *s = store(PASSWORD, false);
    enum { NDEV = 20000, B = 500 };
    static struct rg_txn t[B];
    static double f[B * RG_FEAT_COUNT];
    struct rg_user_ctx u[B];
    bool d[B];
    int64_t off = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int base = 0; base < NDEV; base += B) {
            for (int i = 0; i < B; i++) {
                /* pass 1 walks the devices in another order */
                int k = pass ? (base + i) * 7919 % NDEV : base + i;
                char user[32];
                snprintf(user, sizeof user, "kc-user-%d", k);
                t[i] = tx(user, T0 + pass * 1000, 1, 0, off++);
                snprintf(t[i].device_id, sizeof t[i].device_id, "kc-dev-%d", k);
                t[i].has = RG_HAS_DEVICE_ID;
            }
            assert_int_equal(rg_profile_process_batch(s, t, B, f, u, d), 0);
            /* features are read before the event's own update: 0, then 1 */
            for (int i = 0; i < B; i++)
                if (f[i * RG_FEAT_COUNT + RG_FEAT_DEVICE_DISTINCT_USERS_24H] != (double)pass)
                    fail_msg("pass %d: device %s has %g users", pass, t[i].device_id,
                             f[i * RG_FEAT_COUNT + RG_FEAT_DEVICE_DISTINCT_USERS_24H]);
            assert_int_equal(rg_profile_flush(s), 0);
        }
    }
    rg_profile_store_free(s);
    redisContext *c = admin();
    assert_non_null(c);
    for (int k = 0; k < NDEV; k += 97) {
        char id[32], key[RG_PROF_KEY_MAX];
        snprintf(id, sizeof id, "kc-dev-%d", k);
        rg_profile_key(SECRET, sizeof SECRET - 1, "t:", 'D', id, key, sizeof key);
        redisReply *r = redisCommand(c, "STRLEN %s", key);
        assert_non_null(r);
        if (r->integer != 16) /* one member record (scripts.h) */
            fail_msg("device %s: %lld bytes in its key", id, r->integer);
        freeReplyObject(r);
    }
    redisReply *r = redisCommand(c, "DBSIZE");
    assert_int_equal(r->integer, 2 * NDEV); /* a user and a device key each */
    freeReplyObject(r);
    redisFree(c);
    rg_clock_set_fake_ms(0);
}

/* The engine shards a partition's events over its workers by user, so two
 * workers apply one partition's events to a shared merchant with their
 * offsets interleaved. Every event counts once: a worker's later batch
 * holding lower offsets than the other's is not a replay. A re-consumed
 * batch (same worker, same offsets) is. */
static void test_workers_interleaved_offsets_count_once(void **state)
{
    (void)state;
    flushall();
    rg_clock_set_fake_ms(T0);
    struct rg_profile_store *a = worker_store(), *b = worker_store();
    struct rg_txn t[2];
    double f[2 * RG_FEAT_COUNT];
    struct rg_user_ctx u[2];
    bool d[2];
    /* worker a: offsets 2, 3; then worker b: offsets 0, 1; then a: 6, 7;
     * b: 4, 5; then b again re-consumes 4, 5 (a replay). */
    const int64_t offs[5][2] = { { 2, 3 }, { 0, 1 }, { 6, 7 }, { 4, 5 }, { 4, 5 } };
    const int who[5] = { 0, 1, 0, 1, 1 };
    const double want[5] = { 0, 2, 4, 6, 8 }; /* merchant events in the hour before */
    for (int k = 0; k < 5; k++) {
        for (int i = 0; i < 2; i++) {
            char user[32];
            snprintf(user, sizeof user, "%s-%d", who[k] ? "bee" : "ant", i);
            t[i] = tx(user, T0 + k * 1000 + i, 1, 0, offs[k][i]);
        }
        struct rg_profile_store *s = who[k] ? b : a;
        assert_int_equal(rg_profile_process_batch(s, t, 2, f, u, d), 0);
        assert_int_equal(rg_profile_flush(s), 0);
        if (f[RG_FEAT_MERCHANT_TXN_COUNT_1H] != want[k])
            fail_msg("batch %d: merchant.txn_count_1h %g, want %g", k,
                     f[RG_FEAT_MERCHANT_TXN_COUNT_1H], want[k]);
    }
    /* after the replayed batch: still 8 events, not 10 */
    t[0] = tx("cat", T0 + 9000, 1, 0, 8);
    assert_int_equal(rg_profile_process_batch(a, t, 1, f, u, d), 0);
    assert_true(f[RG_FEAT_MERCHANT_TXN_COUNT_1H] == 8.0);
    rg_profile_store_free(a);
    rg_profile_store_free(b);
    rg_clock_set_fake_ms(0);
}

/* Replays are recognised by the user's own offset mark, written in the same
 * script as the shared updates: a restart with another worker count (here
 * 2 workers, then 1) that re-consumes a partition from
 * before its last commit counts no merchant event twice. Until 2026-11-28
 * merchants kept per partition and worker marks, and a changed worker
 * count skipped or double-counted events around the restart point. */
static void test_restart_with_other_worker_count_counts_once(void **state)
{
    (void)state;
    flushall();
    rg_clock_set_fake_ms(T0);
    struct rg_profile_store *w[2] = { worker_store(), worker_store() };
    struct rg_txn t[8];
    double f[8 * RG_FEAT_COUNT];
    struct rg_user_ctx u[8];
    bool d[8];
    /* offsets 0..7 of partition 3, users alternating between the workers */
    for (int i = 0; i < 8; i++) {
        char user[32];
        snprintf(user, sizeof user, "rw-%d", i % 4);
        t[i] = tx(user, T0 + i, 1, 3, i);
    }
    struct rg_txn part[2][4];
    for (int i = 0; i < 8; i++)
        part[i % 2][i / 2] = t[i];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(rg_profile_process_batch(w[k], part[k], 4, f, u, d), 0);
        assert_int_equal(rg_profile_flush(w[k]), 0);
        rg_profile_store_free(w[k]);
    }
    /* restart with one worker: offsets 2..7 come again, in order */
    struct rg_profile_store *one = worker_store();
    assert_int_equal(rg_profile_process_batch(one, t + 2, 6, f, u, d), 0);
    assert_int_equal(rg_profile_flush(one), 0);
    for (int i = 0; i < 6; i++)
        if (f[i * RG_FEAT_COUNT + RG_FEAT_MERCHANT_TXN_COUNT_1H] != 8.0)
            fail_msg("replayed event %d sees %g merchant events, want 8", i + 2,
                     f[i * RG_FEAT_COUNT + RG_FEAT_MERCHANT_TXN_COUNT_1H]);
    struct rg_txn next = tx("rw-0", T0 + 100, 1, 3, 8);
    assert_int_equal(rg_profile_process_batch(one, &next, 1, f, u, d), 0);
    assert_true(f[RG_FEAT_MERCHANT_TXN_COUNT_1H] == 8.0);
    assert_true(f[RG_FEAT_USER_TXN_COUNT_1H] == 2.0); /* rw-0: offsets 0 and 4 */
    struct rg_profile_stats st;
    rg_profile_stats(one, &st);
    assert_int_equal(st.replays_skipped, 6);
    rg_profile_store_free(one);
    rg_clock_set_fake_ms(0);
}

/* A merchant's TTL is set when its key is created and refreshed once the
 * stored refresh minute is an hour old (scripts.h), not on every batch. */
static void test_merchant_ttl_refreshed_when_due(void **state)
{
    (void)state;
    flushall();
    rg_clock_set_fake_ms(T0);
    struct rg_profile_store *s = store(PASSWORD, false);
    double f[RG_FEAT_COUNT];
    struct rg_user_ctx u;
    bool d;
    char mk[RG_PROF_KEY_MAX];
    rg_profile_key(SECRET, sizeof SECRET - 1, "t:", 'M', "shop-1", mk, sizeof mk);
    redisContext *c = admin();
    assert_non_null(c);
    const int64_t at[3] = { T0, T0 + 30 * 60000, T0 + 61 * 60000 };
    const bool refreshed[3] = { true, false, true };
    for (int k = 0; k < 3; k++) {
        rg_clock_set_fake_ms(at[k]);
        struct rg_txn t = tx("tina", at[k], 1, 0, k);
        assert_int_equal(rg_profile_process_batch(s, &t, 1, f, &u, &d), 0);
        redisReply *r = redisCommand(c, "PTTL %s", mk);
        assert_non_null(r);
        if ((r->integer > 6 * DAY) != refreshed[k])
            fail_msg("batch %d: PTTL %lld, refreshed expected %d", k, r->integer, refreshed[k]);
        freeReplyObject(r);
        freeReplyObject(redisCommand(c, "PEXPIRE %s 1000000", mk));
        if (k > 0)
            assert_true(f[RG_FEAT_MERCHANT_TXN_COUNT_1H] == 1.0); /* the previous event */
    }
    redisFree(c);
    rg_profile_store_free(s);
    rg_clock_set_fake_ms(0);
}

static void test_corrupt_value_replaced(void **state)
{
    (void)state;
    flushall();
    rg_clock_set_fake_ms(T0);
    char key[RG_PROF_KEY_MAX];
    rg_profile_key(SECRET, sizeof SECRET - 1, "t:", 'u', "gus", key, sizeof key);
    redisContext *c = admin();
    assert_non_null(c);
    freeReplyObject(redisCommand(c, "SET %s %s", key, "garbage that is not a profile"));
    struct rg_profile_store *s = store(PASSWORD, false);
    struct rg_txn t = tx("gus", T0, 1, 0, 1);
    double f[RG_FEAT_COUNT];
    struct rg_user_ctx u;
    bool d;
    assert_int_equal(rg_profile_process_batch(s, &t, 1, f, &u, &d), 0);
    assert_true(F(0, USER_TXN_COUNT_1H) == 0); /* not trusted: a fresh profile */
    assert_true(isnan(F(0, USER_SECONDS_SINCE_LAST)));
    struct rg_profile_stats st;
    rg_profile_stats(s, &st);
    assert_int_equal(st.corrupt_values, 1);
    assert_int_equal(rg_profile_flush(s), 0);
    redisReply *r = redisCommand(c, "GET %s", key);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    struct rg_user_prof up;
    assert_int_equal(rg_user_prof_decode(&up, (const unsigned char *)r->str, r->len), 0);
    assert_int_equal(up.n_events, 1);
    freeReplyObject(r);
    redisFree(c);
    rg_profile_store_free(s);
    rg_clock_set_fake_ms(0);
}

/* Shared keys holding something else (a value of the wrong size, a key of
 * another type left by an old layout or an operator) read as empty and are
 * replaced: no batch fails on them. */
static void test_corrupt_shared_keys_replaced(void **state)
{
    (void)state;
    flushall();
    rg_clock_set_fake_ms(T0);
    char mk[RG_PROF_KEY_MAX], dk[RG_PROF_KEY_MAX], ik[RG_PROF_KEY_MAX];
    rg_profile_key(SECRET, sizeof SECRET - 1, "t:", 'M', "shop-1", mk, sizeof mk);
    rg_profile_key(SECRET, sizeof SECRET - 1, "t:", 'D', "dev-1", dk, sizeof dk);
    rg_profile_key(SECRET, sizeof SECRET - 1, "t:", 'I', "192.0.2.7", ik, sizeof ik);
    redisContext *c = admin();
    assert_non_null(c);
    freeReplyObject(redisCommand(c, "HSET %s C x p0 7", mk));     /* wrong type */
    freeReplyObject(redisCommand(c, "RPUSH %s a b", dk));          /* wrong type */
    freeReplyObject(redisCommand(c, "SET %s %s", ik, "odd size")); /* wrong size */
    struct rg_profile_store *s = store(PASSWORD, false);
    struct rg_txn t[2] = { tx("hal", T0 - 1000, 1, 0, 1), tx("ida", T0, 1, 0, 2) };
    double f[2 * RG_FEAT_COUNT];
    struct rg_user_ctx u[2];
    bool d[2];
    assert_int_equal(rg_profile_process_batch(s, t, 2, f, u, d), 0);
    assert_false(d[0]);
    assert_false(d[1]);
    assert_true(F(0, MERCHANT_TXN_COUNT_1H) == 0); /* read as empty */
    assert_true(F(0, DEVICE_DISTINCT_USERS_24H) == 0);
    assert_true(F(0, IP_DISTINCT_USERS_24H) == 0);
    assert_true(F(1, MERCHANT_TXN_COUNT_1H) == 1); /* then counted as usual */
    assert_true(F(1, DEVICE_DISTINCT_USERS_24H) == 1);
    assert_true(F(1, IP_DISTINCT_USERS_24H) == 1);
    const char *keys[3] = { mk, dk, ik };
    const long long len[3] = { 980, 32, 32 }; /* cells + refresh minute; two members */
    for (int k = 0; k < 3; k++) {
        redisReply *r = redisCommand(c, "STRLEN %s", keys[k]);
        assert_non_null(r);
        if (r->type != REDIS_REPLY_INTEGER || r->integer != len[k])
            fail_msg("key %d: not replaced by a %lld-byte string", k, len[k]);
        freeReplyObject(r);
        r = redisCommand(c, "PTTL %s", keys[k]);
        assert_true(r->integer > 6 * DAY);
        freeReplyObject(r);
    }
    redisFree(c);
    rg_profile_store_free(s);
    rg_clock_set_fake_ms(0);
}

static void test_commands_and_round_trips(void **state)
{
    (void)state;
    flushall();
    rg_clock_set_fake_ms(T0);
    enum { B = 64, USERS = 128 };
    struct rg_profile_store *s = store(PASSWORD, false);
    struct rg_txn t[B];
    double f[B * RG_FEAT_COUNT];
    struct rg_user_ctx u[B];
    bool d[B];
    int64_t off = 0;
    for (int pass = 0; pass < 4; pass++)
        for (int i = 0; i < USERS; i += B) {
            for (int k = 0; k < B; k++) {
                char id[32];
                snprintf(id, sizeof id, "user%d", i + k);
                t[k] = tx(id, T0 - 60000 + pass * 1000 + k, 1, 0, off++);
            }
            struct rg_profile_stats a, b;
            rg_profile_stats(s, &a);
            assert_int_equal(rg_profile_process_batch(s, t, B, f, u, d), 0);
            assert_int_equal(rg_profile_flush(s), 0);
            rg_profile_stats(s, &b);
            if (pass == 0 && i == 0) /* connect: AUTH + 3 SCRIPT LOAD in 2 round trips */
                continue;
            /* warm users: one EVALSHA (shared entities and write-back, one
             * atomic script) in one round trip; flush has nothing left */
            if (pass > 0) {
                assert_int_equal(b.cmds_sent - a.cmds_sent, 1);
                assert_int_equal(b.round_trips - a.round_trips, 1);
            } else { /* cold: the MGET first, then the same EVALSHA */
                assert_int_equal(b.cmds_sent - a.cmds_sent, 2);
                assert_int_equal(b.round_trips - a.round_trips, 2);
            }
        }
    struct rg_profile_stats st;
    rg_profile_stats(s, &st);
    assert_int_equal(st.cache_misses, USERS);
    assert_int_equal(st.cache_hits, 3 * USERS);
    rg_profile_store_free(s);
    rg_clock_set_fake_ms(0);
}

/* Every profile a batch touches is written inside its one script, also
 * when the batch holds more distinct users than a plain write-back chunk
 * (512): their replay marks and the shared updates are never split. */
static void test_big_batch_writes_back_in_the_script(void **state)
{
    (void)state;
    flushall();
    rg_clock_set_fake_ms(T0);
    enum { B = 600 };
    struct rg_profile_store *s = store(PASSWORD, false);
    static struct rg_txn t[B];
    static double f[B * RG_FEAT_COUNT];
    static struct rg_user_ctx u[B];
    static bool d[B];
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 0; k < B; k++) {
            char id[32];
            snprintf(id, sizeof id, "big%d", k);
            t[k] = tx(id, T0 - 60000 + pass * 1000 + k, 1, 0, pass * B + k);
        }
        struct rg_profile_stats a, b;
        rg_profile_stats(s, &a);
        assert_int_equal(rg_profile_process_batch(s, t, B, f, u, d), 0);
        rg_profile_stats(s, &b);
        if (pass == 1) /* warm: one EVALSHA, nothing left for flush */
            assert_int_equal(b.cmds_sent - a.cmds_sent, 1);
        assert_int_equal(rg_profile_flush(s), 0);
        rg_profile_stats(s, &a);
        assert_int_equal(a.cmds_sent, b.cmds_sent); /* flush had nothing to do */
    }
    rg_profile_store_free(s);
    s = store(PASSWORD, false); /* every profile is in Redis: 2 events each */
    struct rg_txn next = tx("big599", T0 + 5000, 1, 0, 2 * B);
    assert_int_equal(rg_profile_process_batch(s, &next, 1, f, u, d), 0);
    assert_true(F(0, USER_TXN_COUNT_1H) == 2);
    assert_true(F(0, MERCHANT_TXN_COUNT_1H) == 2 * B);
    rg_profile_store_free(s);
    rg_clock_set_fake_ms(0);
}

static void test_distinct_users_bounded(void **state)
{
    (void)state;
    flushall();
    rg_clock_set_fake_ms(T0);
    struct rg_profile_store *s = store(PASSWORD, false);
    enum { B = 100, N = 1000 };
    struct rg_txn t[B];
    double f[B * RG_FEAT_COUNT];
    struct rg_user_ctx u[B];
    bool d[B];
    for (int i = 0; i < N; i += B) {
        for (int k = 0; k < B; k++) {
            char id[32];
            snprintf(id, sizeof id, "hll-user-%d", i + k);
            t[k] = tx(id, T0 - 30 * 60000 + i + k, 1, 0, i + k);
        }
        assert_int_equal(rg_profile_process_batch(s, t, B, f, u, d), 0);
    }
    struct rg_txn p = tx("probe", T0, 1, 1, 1);
    assert_int_equal(rg_profile_process_batch(s, &p, 1, f, u, d), 0);
    /* exact small sets that saturate at 32 members (docs/profiles.md) */
    assert_true(F(0, DEVICE_DISTINCT_USERS_24H) == 32);
    assert_true(F(0, DEVICE_DISTINCT_USERS_30D) == 32);
    assert_true(F(0, IP_DISTINCT_USERS_24H) == 32);
    assert_true(F(0, MERCHANT_TXN_COUNT_1H) == N); /* exact */
    rg_profile_store_free(s);
    rg_clock_set_fake_ms(0);
}

/* Device and IP member sets under churn: 80 users over 2 devices and 2 IPs
 * for two months, so the sets fill, evict their least recently seen member
 * and age out of the windows. Redis (packed records, scripts.h) and the
 * in-memory backend must give the same counts for every event, and the
 * same value for every other feature: batches of up to 37 events with
 * users repeating in them take the one-round-trip path (user features and
 * updates before the round trip, in event order; shared features added
 * from the reply). */
static void test_sets_same_as_memory(void **state)
{
    (void)state;
    flushall();
    struct rg_profile_store *sr = store(PASSWORD, false), *sm = store(NULL, true);
    enum { N = 3000, B = 37 };
    static struct rg_txn t[B];
    static double fr[B * RG_FEAT_COUNT], fm[B * RG_FEAT_COUNT];
    struct rg_user_ctx u[B];
    bool d[B];
    uint64_t x = 88172645463325252ULL;
    int64_t ts = T0 - 70 * DAY;
    long checked = 0, full = 0, repeats = 0;
    for (int i = 0; i < N;) {
        int nb = 1 + (int)(x % B);
        if (nb > N - i)
            nb = N - i;
        for (int k = 0; k < nb; k++, i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            char user[32];
            snprintf(user, sizeof user, "churn-%d", (int)(x % 80));
            ts += (int64_t)(x >> 20) % (60 * 60000);
            t[k] = tx(user, ts, 1, 0, i);
            snprintf(t[k].device_id, sizeof t[k].device_id, "churn-dev-%d", (int)(x >> 8) % 2);
            snprintf(t[k].ip, sizeof t[k].ip, "198.51.100.%d", (int)(x >> 12) % 2);
        }
        rg_clock_set_fake_ms(ts);
        assert_int_equal(rg_profile_process_batch(sr, t, (size_t)nb, fr, u, d), 0);
        assert_int_equal(rg_profile_process_batch(sm, t, (size_t)nb, fm, u, d), 0);
        assert_int_equal(rg_profile_flush(sr), 0);
        for (int k = 0; k < nb; k++) {
            for (int j = 0; j < RG_FEAT_COUNT; j++) {
                double a = fr[k * RG_FEAT_COUNT + j], b = fm[k * RG_FEAT_COUNT + j];
                if (a != b && !(isnan(a) && isnan(b)))
                    fail_msg("event %s: %s redis %g memory %g", t[k].event_id,
                             rg_feature_name(j), a, b);
                checked++;
            }
            full += fr[k * RG_FEAT_COUNT + RG_FEAT_DEVICE_DISTINCT_USERS_30D] == 32;
            repeats += k > 0 && fr[k * RG_FEAT_COUNT + RG_FEAT_USER_SECONDS_SINCE_LAST] <
                                    (double)(t[k].ts_ms - t[0].ts_ms) / 1000.0;
        }
    }
    assert_int_equal(checked, (long)RG_FEAT_COUNT * N);
    assert_true(repeats > 100); /* users did repeat inside batches */
    assert_true(full > 100); /* the sets did saturate and evict */
    rg_profile_store_free(sr);
    rg_profile_store_free(sm);
    rg_clock_set_fake_ms(0);
}

static void test_wrong_password_fails_fast(void **state)
{
    (void)state;
    rg_clock_set_fake_ms(T0);
    struct rg_profile_store *s = store("wrong", false);
    struct rg_txn t = tx("hal", T0, 1, 0, 1);
    double f[RG_FEAT_COUNT];
    struct rg_user_ctx u;
    bool d;
    assert_int_equal(rg_profile_process_batch(s, &t, 1, f, &u, &d), RG_EAGAIN);
    assert_true(d);
    struct rg_profile_stats st;
    rg_profile_stats(s, &st);
    assert_true(st.redis_errors >= 1);
    rg_profile_store_free(s);
    rg_clock_set_fake_ms(0);
}

static void test_redis_killed_and_restarted(void **state)
{
    (void)state;
    flushall();
    rg_clock_set_fake_ms(T0);
    struct rg_profile_store *s = store(PASSWORD, false);
    struct rg_txn t = tx("ivy", T0, 1, 0, 1);
    double f[RG_FEAT_COUNT];
    struct rg_user_ctx u;
    bool d;
    assert_int_equal(rg_profile_process_batch(s, &t, 1, f, &u, &d), 0);
    assert_false(d);
    assert_int_equal(rg_profile_flush(s), 0);

    redis_stop();
    t = tx("ivy", T0 + 1000, 1, 0, 2);
    rg_clock_set_fake_ms(T0 + 1000);
    assert_int_equal(rg_profile_process_batch(s, &t, 1, f, &u, &d), RG_EAGAIN);
    assert_true(d);
    assert_true(isnan(F(0, MERCHANT_TXN_COUNT_1H)));
    assert_true(F(0, USER_TXN_COUNT_1H) == 1); /* cached user still served */
    assert_int_equal(rg_profile_flush(s), RG_EAGAIN);
    /* while in backoff: fail fast, no new connection attempt */
    struct rg_profile_stats a, b;
    rg_profile_stats(s, &a);
    struct rg_txn nu = tx("newbie", T0 + 1000, 1, 0, 3);
    assert_int_equal(rg_profile_process_batch(s, &nu, 1, f, &u, &d), RG_EAGAIN);
    assert_true(d);
    assert_true(isnan(F(0, USER_TXN_COUNT_1H))); /* unknown user: not loadable */
    rg_profile_stats(s, &b);
    assert_int_equal(b.round_trips, a.round_trips);
    assert_true(b.updates_dropped > a.updates_dropped);

    assert_int_equal(redis_start(), 0);
    rg_clock_set_fake_ms(T0 + 10000); /* past the backoff */
    t = tx("ivy", T0 + 10000, 1, 0, 4);
    assert_int_equal(rg_profile_process_batch(s, &t, 1, f, &u, &d), 0);
    assert_false(d);
    assert_true(F(0, USER_TXN_COUNT_1H) == 2); /* the outage-time update was kept */
    assert_true(F(0, MERCHANT_TXN_COUNT_1H) == 0); /* new redis: shared history gone */
    assert_int_equal(rg_profile_flush(s), 0);
    rg_profile_stats(s, &b);
    assert_true(b.reconnects >= 1);
    rg_profile_store_free(s);
    /* the user profile written after the restart has all three events */
    s = store(PASSWORD, false);
    t = tx("ivy", T0 + 20000, 1, 0, 5);
    assert_int_equal(rg_profile_process_batch(s, &t, 1, f, &u, &d), 0);
    assert_true(F(0, USER_TXN_COUNT_1H) == 3);
    rg_profile_store_free(s);
    rg_clock_set_fake_ms(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scripted_exact_and_same_as_memory),
        cmocka_unit_test(test_restart_does_not_double_count),
        cmocka_unit_test(test_partition_moves_away_and_back),
        cmocka_unit_test(test_feedback_first_for_uncached_user),
        cmocka_unit_test(test_ttl_on_every_key_and_pseudonyms),
        cmocka_unit_test(test_entity_key_cache_collisions),
        cmocka_unit_test(test_workers_interleaved_offsets_count_once),
        cmocka_unit_test(test_restart_with_other_worker_count_counts_once),
        cmocka_unit_test(test_merchant_ttl_refreshed_when_due),
        cmocka_unit_test(test_sets_same_as_memory),
        cmocka_unit_test(test_corrupt_value_replaced),
        cmocka_unit_test(test_corrupt_shared_keys_replaced),
        cmocka_unit_test(test_commands_and_round_trips),
        cmocka_unit_test(test_big_batch_writes_back_in_the_script),
        cmocka_unit_test(test_distinct_users_bounded),
        cmocka_unit_test(test_wrong_password_fails_fast),
        cmocka_unit_test(test_redis_killed_and_restarted),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
