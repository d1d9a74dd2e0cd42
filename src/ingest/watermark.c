/* watermark.c - contiguous offset watermarks; see include/riskgate/watermark.h. */
#include "riskgate/watermark.h"

#include <stdlib.h>

#include "riskgate/err.h"

#define SLOT_BITS 24u
#define EPOCH_BITS 24u
#define EPOCH_MASK ((1u << EPOCH_BITS) - 1u)

int rg_wm_init(struct rg_wm *wm, uint32_t cap_pow2)
{
    if (cap_pow2 == 0 || (cap_pow2 & (cap_pow2 - 1)) || cap_pow2 > (1u << SLOT_BITS))
        return RG_EINVAL;
    wm->slots = calloc(cap_pow2, sizeof(*wm->slots));
    if (!wm->slots)
        return RG_ENOMEM;
    wm->cap = cap_pow2;
    wm->head = wm->tail = 0;
    wm->epoch = 1;
    wm->committed = -1;
    return 0;
}

void rg_wm_fini(struct rg_wm *wm)
{
    free(wm->slots);
    wm->slots = NULL;
}

bool rg_wm_track(struct rg_wm *wm, int32_t partition, int64_t offset, rg_wm_token *token)
{
    if (wm->tail - wm->head >= wm->cap)
        return false;
    uint32_t idx = (uint32_t)(wm->tail & (wm->cap - 1));
    struct rg_wm_slot *s = &wm->slots[idx];
    s->offset = offset;
    /* Release: the offset is visible before the slot can be marked done;
     * pairs with the acquire CAS in rg_wm_done. */
    atomic_store_explicit(&s->state, (uint64_t)wm->epoch << 1, memory_order_release);
    wm->tail++;
    *token = ((uintptr_t)(uint16_t)partition << 48) | ((uintptr_t)idx << EPOCH_BITS) |
             (wm->epoch & EPOCH_MASK);
    return true;
}

bool rg_wm_done(struct rg_wm *wm, rg_wm_token token)
{
    uint32_t idx = (uint32_t)((token >> EPOCH_BITS) & ((1u << SLOT_BITS) - 1u));
    uint64_t epoch = token & EPOCH_MASK;
    if (idx >= wm->cap)
        return false;
    uint64_t expect = epoch << 1;
    /* acq_rel: pairs with the release store in rg_wm_track (slot content)
     * and with the acquire load in rg_wm_advance (done flag). */
    return atomic_compare_exchange_strong_explicit(&wm->slots[idx].state, &expect,
                                                   expect | 1u, memory_order_acq_rel,
                                                   memory_order_acquire);
}

int64_t rg_wm_advance(struct rg_wm *wm)
{
    int64_t last = -1;
    while (wm->head < wm->tail) {
        struct rg_wm_slot *s = &wm->slots[wm->head & (wm->cap - 1)];
        /* Acquire: pairs with the CAS in rg_wm_done. */
        uint64_t st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (!(st & 1u))
            break;
        last = s->offset;
        wm->head++;
    }
    if (last < 0)
        return -1;
    wm->committed = last + 1;
    return last + 1;
}

void rg_wm_reset(struct rg_wm *wm)
{
    wm->epoch = (wm->epoch + 1) & EPOCH_MASK;
    if (wm->epoch == 0)
        wm->epoch = 1;
    wm->head = wm->tail = 0;
    wm->committed = -1;
}
