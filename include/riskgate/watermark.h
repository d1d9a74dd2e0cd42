/*
 * watermark.h - per-partition contiguous offset watermarks for
 * at-least-once delivery.
 *
 * DESIGN: the consumer thread appends every consumed offset of a partition
 * to that partition's circular slot array, in consumption order (offsets
 * may have gaps: compaction, transaction markers). When the event's
 * verdict or dead letter is acknowledged by the broker, the delivery
 * report marks its slot done. The consumer thread then advances the head
 * over done slots; the committable offset is the last contiguous done
 * offset + 1. An offset is therefore stored only when every offset below
 * it in the partition has been acknowledged.
 *
 * Slots carry an epoch so that a late delivery report for a partition that
 * was revoked (and perhaps re-assigned) can never mark a slot of the new
 * assignment: the report's compare-and-swap expects (epoch, pending).
 *
 * @locality rg_wm_track, rg_wm_advance, rg_wm_reset, rg_wm_inflight: the
 *           consumer thread only. rg_wm_done: any thread (delivery reports,
 *           workers).
 */
#ifndef RISKGATE_WATERMARK_H
#define RISKGATE_WATERMARK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct rg_wm_slot {
    int64_t offset;
    _Atomic uint64_t state; /* epoch << 1 | done */
};

struct rg_wm {
    struct rg_wm_slot *slots;
    uint32_t cap;           /* power of two */
    uint64_t head;          /* first slot not yet known done (consumer) */
    uint64_t tail;          /* next slot to fill (consumer) */
    uint32_t epoch;         /* current assignment epoch (consumer) */
    int64_t committed;      /* next offset to commit, -1 = none yet */
};

/* A token identifying one tracked offset, passed as the delivery opaque. */
typedef uintptr_t rg_wm_token; /* packed partition:16 | slot:24 | epoch:24 */

int rg_wm_init(struct rg_wm *wm, uint32_t cap_pow2);
void rg_wm_fini(struct rg_wm *wm);

/* Track offset as pending. Returns false when the array is full (the
 * caller applies backpressure). *token identifies it for rg_wm_done. */
bool rg_wm_track(struct rg_wm *wm, int32_t partition, int64_t offset, rg_wm_token *token);

/* Mark the tracked offset done. Returns false when the token belongs to an
 * older epoch (partition revoked since): the report is ignored. */
bool rg_wm_done(struct rg_wm *wm, rg_wm_token token);

/* Advance over done slots. Returns the offset to store (last contiguous
 * done + 1) when it moved, else -1. */
int64_t rg_wm_advance(struct rg_wm *wm);

/* Forget everything (partition revoked or assigned anew): bumps the epoch. */
void rg_wm_reset(struct rg_wm *wm);

/* Pending (not yet advanced) slots. */
static inline uint64_t rg_wm_inflight(const struct rg_wm *wm) { return wm->tail - wm->head; }

static inline int32_t rg_wm_token_partition(rg_wm_token t) { return (int32_t)(t >> 48); }

#endif
