/*
 * ring.c - SPSC ring of pointers: ck_ring plus spin-then-futex blocking;
 * see include/riskgate/ring.h.
 *
 * DESIGN
 * Data path: ck_ring_enqueue_spsc / ck_ring_dequeue_spsc. ck publishes the
 * slot with a store fence before the p_tail store and reads the slot after
 * a load fence following the p_tail load, so the item pointer (and what
 * the producer wrote through it before pushing) is visible to the consumer.
 *
 * Blocking (one instance per direction, "c" = consumer waits for items,
 * "p" = producer waits for room), a Dekker-style handshake:
 *
 *   waiter                               notifier
 *   seq0 = load(seq)          (acquire)  <ring op: push or pop>
 *   exchange(waiting, 1)  (seq_cst) [F1] if fetch_or(waiting, 0) (seq_cst) [F2]:
 *   re-check ring; if still blocked:         store(waiting, 0)
 *     futex_wait(&seq, seq0)                 fetch_add(seq, 1) (release)
 *                                            futex_wake(&seq)
 *
 * F1 and F2 order "waiting = 1" against the ring re-check and the ring op
 * against "load waiting": either the waiter's re-check sees the new item /
 * room, or the notifier sees waiting == 1 and bumps seq; if the bump lands
 * between seq0 and futex_wait, the kernel sees seq != seq0 and returns at
 * once. No lost wake-up, and no system call while nobody sleeps.
 *
 * Shutdown: rg_ring_wake() sets a sticky "kick" flag per side, bumps seq
 * and wakes; a waiter that finds the ring still blocked consumes the kick
 * and returns early.
 *
 * ThreadSanitizer cannot see ck's inline-assembly loads/stores and fences,
 * so under TSan the ck calls run with TSan's access tracking off and the
 * hand-off is declared with __tsan_release (before publishing) and
 * __tsan_acquire (after taking an item): TSan then checks
 * everything the items point to, which is what callers get wrong.
 */
#include "riskgate/ring.h"

#include <ck_ring.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "riskgate/err.h"

#if defined(__SANITIZE_THREAD__)
#define RG_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RG_TSAN 1
#endif
#endif

#ifdef RG_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define TSAN_RELEASE(a)   __tsan_release(a)
#define TSAN_ACQUIRE(a)   __tsan_acquire(a)
#define TSAN_IGNORE_BEGIN() __tsan_ignore_thread_begin()
#define TSAN_IGNORE_END()   __tsan_ignore_thread_end()
#else
#define TSAN_RELEASE(a)   ((void)0)
#define TSAN_ACQUIRE(a)   ((void)0)
#define TSAN_IGNORE_BEGIN() ((void)0)
#define TSAN_IGNORE_END()   ((void)0)
#endif

#define CACHELINE 64

/* One blocking side: a waiter flag and a futex sequence word. */
struct waitq {
    _Alignas(CACHELINE) _Atomic uint32_t seq; /* futex word */
    _Atomic uint32_t waiting;                 /* 1 while a waiter may sleep */
    _Atomic uint32_t kick;                    /* sticky rg_ring_wake() */
};

struct rg_ring {
    struct ck_ring ring;          /* c_head and p_tail on separate lines */
    struct ck_ring_buffer *buf;
    size_t cap;
    struct waitq cq;              /* consumer waits here for items */
    struct waitq pq;              /* producer waits here for room */
    /* TSan hand-off token (its address only): producer -> consumer. The
     * reverse direction (handing buffers back) uses a second ring. */
    char tsan_p2c;
};

static long futex_wait(_Atomic uint32_t *addr, uint32_t val, const struct timespec *rel)
{
    return syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, rel, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *addr)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Notifier half of the handshake: called after a push (wq = &r->cq) or
 * after a pop batch (wq = &r->pq). */
static inline void notify(struct waitq *wq)
{
    /* F2: a seq_cst read-modify-write that only reads the flag: a full
     * barrier (lock-prefixed on x86) ordering our ring op before the read.
     * Pairs with F1 in wait_on(). (Not atomic_thread_fence: TSan does not
     * support fences.) */
    if (atomic_fetch_or_explicit(&wq->waiting, 0, memory_order_seq_cst)) {
        atomic_store_explicit(&wq->waiting, 0, memory_order_relaxed);
        /* release: pairs with the acquire load of seq in wait_on(). */
        atomic_fetch_add_explicit(&wq->seq, 1, memory_order_release);
        futex_wake(&wq->seq);
    }
}

struct rg_ring *rg_ring_new(size_t capacity_pow2)
{
    if (capacity_pow2 < 2 || capacity_pow2 > (1u << 30) ||
        (capacity_pow2 & (capacity_pow2 - 1)) != 0)
        return NULL;
    struct rg_ring *r = aligned_alloc(CACHELINE, (sizeof(*r) + CACHELINE - 1) / CACHELINE * CACHELINE);
    if (!r)
        return NULL;
    *r = (struct rg_ring){ 0 };
    r->buf = calloc(capacity_pow2, sizeof(*r->buf));
    if (!r->buf)
        goto fail;
    ck_ring_init(&r->ring, (unsigned int)capacity_pow2);
    r->cap = capacity_pow2 - 1;
    return r;
fail:
    rg_ring_free(r);
    return NULL;
}

void rg_ring_free(struct rg_ring *r)
{
    if (!r)
        return;
    free(r->buf);
    free(r);
}

size_t rg_ring_capacity(const struct rg_ring *r) { return r->cap; }

size_t rg_ring_size(const struct rg_ring *r)
{
    TSAN_IGNORE_BEGIN();
    size_t n = ck_ring_size(&r->ring);
    TSAN_IGNORE_END();
    return n;
}

static inline bool push_raw(struct rg_ring *r, void *item)
{
    /* Everything written before the push happens-before the consumer's
     * use of item (for TSan; ck's store fence does it for the CPU). */
    TSAN_RELEASE(&r->tsan_p2c);
    TSAN_IGNORE_BEGIN();
    bool ok = ck_ring_enqueue_spsc(&r->ring, r->buf, item);
    TSAN_IGNORE_END();
    return ok;
}

static inline void *pop_raw(struct rg_ring *r)
{
    void *item = NULL;
    TSAN_IGNORE_BEGIN();
    bool ok = ck_ring_dequeue_spsc(&r->ring, r->buf, &item);
    TSAN_IGNORE_END();
    if (!ok)
        return NULL;
    TSAN_ACQUIRE(&r->tsan_p2c);
    return item;
}

static inline bool ring_empty(struct rg_ring *r) { return rg_ring_size(r) == 0; }
static inline bool ring_full(struct rg_ring *r) { return rg_ring_size(r) >= r->cap; }

/* Waiter half of the handshake. Blocks until blocked(r) is false, the
 * deadline passes, or a kick arrives. Returns 0 when the condition may have
 * cleared (caller re-tries the op), RG_ETIMEOUT, or RG_EAGAIN on a kick. */
static int wait_on(struct rg_ring *r, struct waitq *wq,
                   bool (*blocked)(struct rg_ring *), int timeout_ms)
{
    for (int i = 0; i < RG_RING_SPINS; i++) {
        if (!blocked(r))
            return 0;
        cpu_relax();
    }
    if (timeout_ms == 0)
        return RG_ETIMEOUT;
    int64_t deadline = timeout_ms > 0 ? mono_ns() + (int64_t)timeout_ms * 1000000 : 0;
    for (;;) {
        /* acquire: pairs with the release fetch_add in notify(). */
        uint32_t seq0 = atomic_load_explicit(&wq->seq, memory_order_acquire);
        /* F1: seq_cst exchange, a full barrier ordering the flag before
         * the ring re-check below. Pairs with F2 in notify(). */
        atomic_exchange_explicit(&wq->waiting, 1, memory_order_seq_cst);
        if (!blocked(r)) {
            atomic_store_explicit(&wq->waiting, 0, memory_order_relaxed);
            return 0;
        }
        /* acq_rel exchange: pairs with the release store in rg_ring_wake(). */
        if (atomic_exchange_explicit(&wq->kick, 0, memory_order_acq_rel)) {
            atomic_store_explicit(&wq->waiting, 0, memory_order_relaxed);
            return RG_EAGAIN;
        }
        struct timespec rel, *relp = NULL;
        if (deadline) {
            int64_t left = deadline - mono_ns();
            if (left <= 0) {
                atomic_store_explicit(&wq->waiting, 0, memory_order_relaxed);
                return RG_ETIMEOUT;
            }
            rel.tv_sec = (time_t)(left / 1000000000);
            rel.tv_nsec = (long)(left % 1000000000);
            relp = &rel;
        }
        futex_wait(&wq->seq, seq0, relp);
        /* Woken, EAGAIN (seq moved), EINTR or timeout: loop re-checks. */
    }
}

bool rg_ring_try_push(struct rg_ring *r, void *item)
{
    if (!item || !push_raw(r, item))
        return false;
    notify(&r->cq);
    return true;
}

int rg_ring_push_wait(struct rg_ring *r, void *item, int timeout_ms)
{
    if (!item)
        return RG_EINVAL;
    for (;;) {
        if (rg_ring_try_push(r, item))
            return 0;
        int rc = wait_on(r, &r->pq, ring_full, timeout_ms);
        if (rc < 0 && rg_ring_try_push(r, item))
            return 0;   /* room appeared at the last moment */
        if (rc < 0)
            return rc;
    }
}

void *rg_ring_try_pop(struct rg_ring *r)
{
    void *item = pop_raw(r);
    if (item)
        notify(&r->pq);
    return item;
}

size_t rg_ring_pop_batch_wait(struct rg_ring *r, void **items, size_t max,
                              int timeout_ms)
{
    if (max == 0)
        return 0;
    for (;;) {
        size_t n = 0;
        while (n < max && (items[n] = pop_raw(r)) != NULL)
            n++;
        if (n) {
            notify(&r->pq);   /* one fence per batch, not per item */
            return n;
        }
        if (wait_on(r, &r->cq, ring_empty, timeout_ms) < 0) {
            /* timeout or kick: take anything that raced in */
            while (n < max && (items[n] = pop_raw(r)) != NULL)
                n++;
            if (n)
                notify(&r->pq);
            return n;
        }
    }
}

void rg_ring_wake(struct rg_ring *r)
{
    struct waitq *qs[2] = { &r->cq, &r->pq };
    for (int i = 0; i < 2; i++) {
        /* release: pairs with the acq_rel exchange in wait_on(). */
        atomic_store_explicit(&qs[i]->kick, 1, memory_order_release);
        atomic_fetch_add_explicit(&qs[i]->seq, 1, memory_order_release);
        futex_wake(&qs[i]->seq);
    }
}
