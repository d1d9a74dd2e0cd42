/*
 * test_ring.c - SPSC ring: functional behaviour, blocking and wake-up,
 * multi-million item stress (no loss, duplicate or reordering), K
 * concurrent producer/consumer pairs with per-key order.
 *
 * RG_RING_STRESS_N=<items> scales the stress tests (default 2000000).
 * RG_RING_BENCH=1 runs a benchmark instead of the tests: ck_ring with
 * spin-then-futex blocking against a mutex+condvar bounded queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "riskgate/err.h"
#include "riskgate/ring.h"

static size_t stress_n(void)
{
    const char *e = getenv("RG_RING_STRESS_N");
    long long v = e ? atoll(e) : 0;
    return v > 0 ? (size_t)v : 2000000;
}

#define TAG(i) ((void *)(uintptr_t)((i) + 1))   /* never NULL */
#define UNTAG(p) ((size_t)(uintptr_t)(p) - 1)

static void test_new_rejects_bad_capacity(void **state)
{
    (void)state;
    assert_null(rg_ring_new(0));
    assert_null(rg_ring_new(1));
    assert_null(rg_ring_new(3));
    assert_null(rg_ring_new(1000));
    struct rg_ring *r = rg_ring_new(8);
    assert_non_null(r);
    assert_int_equal(rg_ring_capacity(r), 7);
    rg_ring_free(r);
    rg_ring_free(NULL);
}

static void test_fifo_full_empty(void **state)
{
    (void)state;
    struct rg_ring *r = rg_ring_new(8);
    assert_null(rg_ring_try_pop(r));
    assert_false(rg_ring_try_push(r, NULL));
    for (size_t i = 0; i < 7; i++)
        assert_true(rg_ring_try_push(r, TAG(i)));
    assert_int_equal(rg_ring_size(r), 7);
    assert_false(rg_ring_try_push(r, TAG(99)));
    assert_int_equal(rg_ring_push_wait(r, TAG(99), 0), RG_ETIMEOUT);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(UNTAG(rg_ring_try_pop(r)), i);
    void *items[16];
    size_t n = rg_ring_pop_batch_wait(r, items, 2, 0);
    assert_int_equal(n, 2);
    assert_int_equal(UNTAG(items[0]), 3);
    assert_int_equal(UNTAG(items[1]), 4);
    /* wrap around the end of the buffer */
    for (size_t i = 7; i < 12; i++)
        assert_true(rg_ring_try_push(r, TAG(i)));
    n = rg_ring_pop_batch_wait(r, items, 16, 0);
    assert_int_equal(n, 7);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(UNTAG(items[i]), i + 5);
    assert_int_equal(rg_ring_size(r), 0);
    assert_int_equal(rg_ring_pop_batch_wait(r, items, 16, 0), 0);
    assert_int_equal(rg_ring_pop_batch_wait(r, items, 0, 0), 0);
    assert_int_equal(rg_ring_push_wait(r, NULL, 0), RG_EINVAL);
    rg_ring_free(r);
}

static void test_timeouts(void **state)
{
    (void)state;
    struct rg_ring *r = rg_ring_new(2);
    void *items[4];
    /* empty ring: a short wait returns nothing */
    assert_int_equal(rg_ring_pop_batch_wait(r, items, 4, 5), 0);
    assert_true(rg_ring_try_push(r, TAG(0)));
    /* full ring: a short wait reports the timeout, the item stays out */
    assert_int_equal(rg_ring_push_wait(r, TAG(1), 5), RG_ETIMEOUT);
    assert_int_equal(rg_ring_size(r), 1);
    assert_int_equal(rg_ring_pop_batch_wait(r, items, 4, 5), 1);
    assert_int_equal(UNTAG(items[0]), 0);
    rg_ring_free(r);
}

struct waiter_arg {
    struct rg_ring *r;
    size_t got;
    void *item;
    int rc;
};

static void *pop_forever(void *p)
{
    struct waiter_arg *a = p;
    void *items[4];
    a->got = rg_ring_pop_batch_wait(a->r, items, 4, -1);
    a->item = a->got ? items[0] : NULL;
    return NULL;
}

/* A consumer blocked without timeout gets the item pushed later. */
static void test_blocked_consumer_gets_item(void **state)
{
    (void)state;
    struct waiter_arg a = { .r = rg_ring_new(4) };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, pop_forever, &a), 0);
    assert_true(rg_ring_try_push(a.r, TAG(41)));
    pthread_join(t, NULL);
    assert_int_equal(a.got, 1);
    assert_int_equal(UNTAG(a.item), 41);
    rg_ring_free(a.r);
}

/* rg_ring_wake() releases a consumer blocked without timeout, whether it
 * is already asleep or not yet waiting (the wake is sticky). */
static void test_wake_releases_blocked_consumer(void **state)
{
    (void)state;
    struct waiter_arg a = { .r = rg_ring_new(4) };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, pop_forever, &a), 0);
    rg_ring_wake(a.r);
    pthread_join(t, NULL);
    assert_int_equal(a.got, 0);
    /* the kick was consumed: the next wait times out normally */
    void *items[1];
    assert_int_equal(rg_ring_pop_batch_wait(a.r, items, 1, 1), 0);
    rg_ring_free(a.r);
}

static void *push_forever(void *p)
{
    struct waiter_arg *a = p;
    a->rc = rg_ring_push_wait(a->r, TAG(7), -1);
    return NULL;
}

static void test_blocked_producer(void **state)
{
    (void)state;
    struct waiter_arg a = { .r = rg_ring_new(2) };
    assert_true(rg_ring_try_push(a.r, TAG(6)));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, push_forever, &a), 0);
    /* popping makes room and wakes the producer */
    void *items[2];
    assert_int_equal(rg_ring_pop_batch_wait(a.r, items, 1, -1), 1);
    assert_int_equal(UNTAG(items[0]), 6);
    pthread_join(t, NULL);
    assert_int_equal(a.rc, 0);
    assert_int_equal(UNTAG(rg_ring_try_pop(a.r)), 7);

    /* and wake releases a producer blocked on a full ring */
    assert_true(rg_ring_try_push(a.r, TAG(8)));
    assert_int_equal(pthread_create(&t, NULL, push_forever, &a), 0);
    rg_ring_wake(a.r);
    pthread_join(t, NULL);
    assert_int_equal(a.rc, RG_EAGAIN);
    rg_ring_free(a.r);
}

/* ---- stress: one pair, sequence numbers -------------------------------- */

struct stress {
    struct rg_ring *r;
    size_t n;
    int use_try;            /* producer spins on try_push instead of waiting */
    size_t errors, received;
};

static void *stress_producer(void *p)
{
    struct stress *s = p;
    for (size_t i = 0; i < s->n; i++) {
        if (s->use_try && (i & 1)) {
            while (!rg_ring_try_push(s->r, TAG(i)))
                ;
        } else if (rg_ring_push_wait(s->r, TAG(i), -1) != 0) {
            s->errors++;
        }
    }
    return NULL;
}

static void run_stress(size_t cap, size_t n, int use_try)
{
    struct stress s = { .r = rg_ring_new(cap), .n = n, .use_try = use_try };
    assert_non_null(s.r);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, stress_producer, &s), 0);
    void *items[64];
    size_t expect = 0, bad = 0;
    while (expect < n) {
        size_t got = rg_ring_pop_batch_wait(s.r, items, 64, -1);
        for (size_t i = 0; i < got; i++) {
            if (UNTAG(items[i]) != expect)
                bad++;
            expect++;
        }
    }
    pthread_join(t, NULL);
    assert_int_equal(s.errors, 0);
    assert_int_equal(bad, 0);           /* no loss, duplicate or reordering */
    assert_int_equal(expect, n);
    assert_null(rg_ring_try_pop(s.r)); /* nothing extra */
    rg_ring_free(s.r);
}

static void test_stress_1024(void **state)
{
    (void)state;
    run_stress(1024, stress_n(), 1);
}

/* A 1-slot ring forces the blocking path on nearly every item. */
static void test_stress_tiny_ring_blocking(void **state)
{
    (void)state;
    run_stress(2, stress_n() / 40 + 1, 0);
}

/* ---- K pairs, keyed items, per-key order --------------------------------- */

#define PAIRS 3
#define KEYS 16

struct item {
    uint32_t key;
    uint64_t seq;         /* per key, from 0 */
    uint64_t check;       /* written by the producer, read by the consumer */
};

struct pair {
    struct rg_ring *r;
    struct item *items;   /* preallocated pool; the ring carries pointers */
    size_t n;
    size_t order_errors, check_errors, received;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33;
    return x;
}

static void *pair_producer(void *p)
{
    struct pair *pr = p;
    uint64_t next[KEYS] = { 0 };
    uint64_t rnd = (uint64_t)(uintptr_t)pr;
    for (size_t i = 0; i < pr->n; i++) {
        rnd = mix(rnd + i);
        struct item *it = &pr->items[i];
        it->key = (uint32_t)(rnd % KEYS);
        it->seq = next[it->key]++;
        it->check = mix(it->key * 1000003ULL + it->seq);
        rg_ring_push_wait(pr->r, it, -1);
    }
    return NULL;
}

static void *pair_consumer(void *p)
{
    struct pair *pr = p;
    uint64_t next[KEYS] = { 0 };
    void *batch[32];
    while (pr->received < pr->n) {
        size_t got = rg_ring_pop_batch_wait(pr->r, batch, 32, -1);
        for (size_t i = 0; i < got; i++) {
            struct item *it = batch[i];
            if (it->seq != next[it->key])
                pr->order_errors++;
            next[it->key] = it->seq + 1;
            if (it->check != mix(it->key * 1000003ULL + it->seq))
                pr->check_errors++;
        }
        pr->received += got;
    }
    return NULL;
}

static void test_keyed_pairs(void **state)
{
    (void)state;
    struct pair pairs[PAIRS];
    pthread_t pt[PAIRS], ct[PAIRS];
    size_t n = stress_n() / 16 + 1;
    for (int k = 0; k < PAIRS; k++) {
        pairs[k] = (struct pair){ .r = rg_ring_new(256), .n = n };
        pairs[k].items = calloc(n, sizeof(struct item));
        assert_non_null(pairs[k].items);
    }
    for (int k = 0; k < PAIRS; k++) {
        assert_int_equal(pthread_create(&ct[k], NULL, pair_consumer, &pairs[k]), 0);
        assert_int_equal(pthread_create(&pt[k], NULL, pair_producer, &pairs[k]), 0);
    }
    for (int k = 0; k < PAIRS; k++) {
        pthread_join(pt[k], NULL);
        pthread_join(ct[k], NULL);
    }
    for (int k = 0; k < PAIRS; k++) {
        assert_int_equal(pairs[k].received, n);
        assert_int_equal(pairs[k].order_errors, 0);
        assert_int_equal(pairs[k].check_errors, 0);
        rg_ring_free(pairs[k].r);
        free(pairs[k].items);
    }
}

/* ---- benchmark (RG_RING_BENCH=1) ---------------------------------------- */

/* Baseline: bounded FIFO guarded by a mutex, with two condition variables. */
struct mqueue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void **buf;
    size_t cap, head, len;
};

static void mq_push(struct mqueue *q, void *item)
{
    pthread_mutex_lock(&q->mu);
    while (q->len == q->cap)
        pthread_cond_wait(&q->not_full, &q->mu);
    q->buf[(q->head + q->len++) % q->cap] = item;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

static size_t mq_pop_batch(struct mqueue *q, void **items, size_t max)
{
    pthread_mutex_lock(&q->mu);
    while (q->len == 0)
        pthread_cond_wait(&q->not_empty, &q->mu);
    size_t n = 0;
    while (n < max && q->len) {
        items[n++] = q->buf[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
    }
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return n;
}

struct bench {
    struct rg_ring *r;
    struct mqueue *q;
    size_t n;
};

static void *bench_producer(void *p)
{
    struct bench *b = p;
    for (size_t i = 0; i < b->n; i++) {
        if (b->r)
            rg_ring_push_wait(b->r, TAG(i), -1);
        else
            mq_push(b->q, TAG(i));
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long ctx_switches(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_nvcsw + ru.ru_nivcsw;
}

static double bench_one(struct bench *b, size_t batch, long *switches)
{
    long cs0 = ctx_switches();
    void *items[64];
    pthread_t t;
    double t0 = now_s();
    pthread_create(&t, NULL, bench_producer, b);
    size_t got = 0, sum = 0;
    while (got < b->n) {
        size_t k = b->r ? rg_ring_pop_batch_wait(b->r, items, batch, -1)
                        : mq_pop_batch(b->q, items, batch);
        for (size_t i = 0; i < k; i++)
            sum += UNTAG(items[i]);
        got += k;
    }
    pthread_join(t, NULL);
    double dt = now_s() - t0;
    *switches = ctx_switches() - cs0;
    if (sum != b->n * (b->n - 1) / 2)
        fprintf(stderr, "bench: checksum mismatch\n");
    return dt;
}

static int run_bench(void)
{
    size_t n = stress_n();
    size_t batches[2] = { 1, 64 };
    printf("ring bench: %zu items, capacity 1024, 1 producer + 1 consumer thread\n", n);
    for (int bi = 0; bi < 2; bi++) {
        struct bench b = { .r = rg_ring_new(1024), .n = n };
        long sr, sm;
        double dr = bench_one(&b, batches[bi], &sr);
        rg_ring_free(b.r);

        struct mqueue q = { .cap = 1023 };
        pthread_mutex_init(&q.mu, NULL);
        pthread_cond_init(&q.not_empty, NULL);
        pthread_cond_init(&q.not_full, NULL);
        q.buf = calloc(q.cap, sizeof(void *));
        struct bench bm = { .q = &q, .n = n };
        double dm = bench_one(&bm, batches[bi], &sm);
        free(q.buf);
        pthread_mutex_destroy(&q.mu);
        pthread_cond_destroy(&q.not_empty);
        pthread_cond_destroy(&q.not_full);

        printf("pop batch %2zu: ck_ring+futex %7.1f ns/item (%6.2f M/s, %7ld ctx switches)   "
               "mutex+condvar %7.1f ns/item (%6.2f M/s, %7ld ctx switches)\n",
               batches[bi], dr * 1e9 / n, n / dr / 1e6, sr, dm * 1e9 / n, n / dm / 1e6, sm);
    }
    return 0;
}

int main(void)
{
    if (getenv("RG_RING_BENCH"))
        return run_bench();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_capacity),
        cmocka_unit_test(test_fifo_full_empty),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_blocked_consumer_gets_item),
        cmocka_unit_test(test_wake_releases_blocked_consumer),
        cmocka_unit_test(test_blocked_producer),
        cmocka_unit_test(test_stress_1024),
        cmocka_unit_test(test_stress_tiny_ring_blocking),
        cmocka_unit_test(test_keyed_pairs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
