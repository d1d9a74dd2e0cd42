/*
 * store_int.h - private to src/profile: the in-memory backend that stands
 * in for Redis (same semantics as the Lua scripts in redis.c).
 */
#ifndef RG_PROFILE_STORE_INT_H
#define RG_PROFILE_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "riskgate/profile.h"

/* One shared-entity event as sent to the Lua script (and to mem_shared). */
struct rg_shared_ev {
    int update;          /* 1: update (not a too-old event, not a replay) */
    int64_t t_ms;        /* effective event time */
    uint64_t user_h;     /* in-memory identity of the user */
    uint64_t dev_h, merch_h, ip_h; /* 0: absent */
};

struct rg_mem;
struct rg_mem *rg_mem_new(void);
void rg_mem_free(struct rg_mem *m);
/* User blobs: get returns a borrowed pointer (NULL = absent). */
const unsigned char *rg_mem_user_get(struct rg_mem *m, uint64_t k, size_t *len);
int rg_mem_user_put(struct rg_mem *m, uint64_t k, const unsigned char *v, size_t len);
size_t rg_mem_user_count(const struct rg_mem *m);
/* Same reads-then-updates as the Lua script, for one event. */
void rg_mem_shared(struct rg_mem *m, const struct rg_shared_ev *ev, struct rg_shared_feats *out);
/* Fraud label on merchant/device, deduplicated by label_h. Returns 1
 * applied, 0 duplicate. */
int rg_mem_label(struct rg_mem *m, uint64_t label_h, uint64_t merch_h, uint64_t dev_h,
                 int64_t at_ms);

uint64_t rg_prof_hash64(char kind, const char *id);

#endif
