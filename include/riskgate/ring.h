/*
 * ring.h - bounded single-producer / single-consumer ring of pointers, for
 * the consumer thread -> worker thread hand-off (and back, for pooled
 * buffers).
 *
 * DESIGN
 * The lock-free part is Concurrency Kit's ck_ring (ck_ring_enqueue_spsc /
 * ck_ring_dequeue_spsc): head and tail on separate cache lines, a store
 * fence before the producer publishes, a load fence after the consumer
 * reads the tail. On top of it we add blocking: "spin briefly, then block;
 * never sleep-poll". A side that finds the ring empty (popper) or full
 * (pusher) spins RG_RING_SPINS times, then raises a waiter flag, re-checks
 * the ring and sleeps on a futex word. The other side, after each push /
 * pop batch, issues a seq_cst fence and reads the waiter flag; only when it
 * is set does it bump the futex word and call FUTEX_WAKE. So the fast path
 * costs one fence and one relaxed load, and no system call.
 * tests/unit/test_ring.c has a benchmark (RG_RING_BENCH=1) comparing this
 * with a mutex+condvar queue; numbers in docs/observability.md.
 *
 * Ownership: the ring stores pointers; it never owns or frees the items.
 * Capacity: rg_ring_new(capacity) takes a power of two >= 2 and holds
 * capacity - 1 items (ck_ring keeps one slot free to tell full from empty).
 *
 * @locality each function says which thread may call it. There must be
 * exactly one producer thread and one consumer thread at a time per ring.
 */
#ifndef RISKGATE_RING_H
#define RISKGATE_RING_H

#include <stdbool.h>
#include <stddef.h>

struct rg_ring;

/* Spins (re-checks) before a waiting call blocks in the kernel. */
#define RG_RING_SPINS 256

/* New ring; capacity_pow2 must be a power of two in [2, 2^30]. Returns
 * NULL when capacity is invalid or memory is short. @locality any thread,
 * before the producer and consumer start. */
struct rg_ring *rg_ring_new(size_t capacity_pow2);
/* Free the ring (not the items still in it). NULL is fine. @locality any
 * thread, after producer and consumer have stopped. */
void rg_ring_free(struct rg_ring *r);

/* Number of items the ring can hold (capacity_pow2 - 1). Any thread. */
size_t rg_ring_capacity(const struct rg_ring *r);

/* Push item (must not be NULL) without blocking; false when full.
 * Wakes a blocked consumer. @locality producer thread only. */
bool rg_ring_try_push(struct rg_ring *r, void *item);

/* Push item, blocking while the ring is full (backpressure, never a drop).
 * timeout_ms < 0 waits forever, 0 does not wait. Returns 0, or RG_ETIMEOUT
 * when the ring stayed full, or RG_EAGAIN when rg_ring_wake() interrupted
 * the wait, or RG_EINVAL for a NULL item. @locality producer thread only. */
int rg_ring_push_wait(struct rg_ring *r, void *item, int timeout_ms);

/* Pop one item without blocking; NULL when empty. Wakes a producer
 * blocked in rg_ring_push_wait(). @locality consumer thread only. */
void *rg_ring_try_pop(struct rg_ring *r);

/* Pop up to max items into items[], in push order, blocking until at
 * least one is available, the timeout expires, or rg_ring_wake() is called.
 * timeout_ms < 0 waits forever, 0 does not wait. Returns the count
 * (0 on timeout or wake). @locality consumer thread only. */
size_t rg_ring_pop_batch_wait(struct rg_ring *r, void **items, size_t max,
                              int timeout_ms);

/* Approximate number of items in the ring. @locality any thread. */
size_t rg_ring_size(const struct rg_ring *r);

/* Make a blocked (or the next) rg_ring_pop_batch_wait() / rg_ring_push_wait()
 * return early, e.g. at shutdown. The wake is sticky: it is consumed by the
 * next wait on each side that would otherwise block. @locality any thread. */
void rg_ring_wake(struct rg_ring *r);

#endif
