/*
 * mem.c - the in-memory profile backend (replay, unit tests): user blobs in
 * a hash map and shared entities (device, merchant, IP) as C structs that
 * follow the Redis Lua script rule for rule (see redis.c).
 *
 * DESIGN
 * Open addressing, linear probing, power-of-two tables that double at 50 %
 * load. Nothing is ever deleted (TTLs are irrelevant to a replay run), so
 * no tombstones. Distinct users per device/IP: the same bounded exact set
 * (latest hour per member, MEM_USERS members, least recently seen replaced)
 * as the Redis script.
 *
 * Entities live in one dense array in creation order (no calloc per
 * device, merchant or IP; rg_mem_free frees only what an entity grew:
 * merchant rings, user sets past MEM_INLINE). The hash table holds 8-byte
 * slots {tag, index}: most IPs are seen once, so the table is large and
 * its lookups miss the cache, and small slots keep it a ninth of the
 * size of inline entities; the tag (high half of the key) settles a probe
 * without touching the entity, and a new entity is written at the hot end
 * of the array. A pointer from ent_get() is valid only until the next
 * ent_get() (the array may move when it grows); every caller uses it at
 * once.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "riskgate/err.h"
#include "store_int.h"

#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)
#define MIN_MS 60000LL
#define MEM_USERS 32 /* = RG_SHARED_USERS_CAP */

struct mblob {
    uint64_t k;
    unsigned char *v;
    size_t len;
};

struct mcell {
    int64_t unit, n; /* n == 0: empty */
};

struct mmerch {
    struct mcell mins[60], ev[31], fr[31]; /* the Lua script's cells */
};

struct muser {
    uint64_t u;
    int64_t hour;
};

#define MEM_INLINE 2 /* users kept inside struct ment before going to the heap */

/* Small by default: most entities are devices/IPs with one or two users. */
struct ment {
    uint64_t k;           /* 0: empty slot */
    int64_t frauds;
    struct mmerch *m;     /* merchants only, allocated on first use */
    struct muser *heap;   /* users when capu > MEM_INLINE: grows 4, 8, .. MEM_USERS */
    struct muser inl[MEM_INLINE];
    uint8_t nusers, capu; /* capu 0 means MEM_INLINE inline slots */
};

static struct muser *ent_users(struct ment *e) { return e->capu ? e->heap : e->inl; }
static const struct muser *ent_users_c(const struct ment *e) { return e->capu ? e->heap : e->inl; }

struct eslot {
    uint32_t tag; /* k >> 32 */
    uint32_t idx; /* 1 + index into ents; 0: empty */
};

struct rg_mem {
    struct mblob *blobs;
    size_t nb, capb;
    struct ment *ents;      /* ne entities, room for capa */
    struct eslot *eidx;     /* cape slots */
    size_t ne, capa, cape;
    uint64_t *labels;
    size_t nl, capl;
};

uint64_t rg_prof_hash64(char kind, const char *id)
{
    uint64_t h = 14695981039346656037ULL ^ (unsigned char)kind;
    h *= 1099511628211ULL;
    for (; *id; id++) {
        h ^= (unsigned char)*id;
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h ? h : 1;
}

struct rg_mem *rg_mem_new(void)
{
    struct rg_mem *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->capb = m->cape = m->capl = 1024;
    m->blobs = calloc(m->capb, sizeof *m->blobs);
    m->capa = 512;
    m->ents = malloc(m->capa * sizeof *m->ents);
    m->eidx = calloc(m->cape, sizeof *m->eidx);
    m->labels = calloc(m->capl, sizeof *m->labels);
    if (!m->blobs || !m->ents || !m->eidx || !m->labels) {
        rg_mem_free(m);
        return NULL;
    }
    return m;
}

void rg_mem_free(struct rg_mem *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->blobs && i < m->capb; i++)
        free(m->blobs[i].v);
    for (size_t i = 0; m->ents && i < m->ne; i++) {
        free(m->ents[i].m);
        free(m->ents[i].heap);
    }
    free(m->eidx);
    free(m->blobs);
    free(m->ents);
    free(m->labels);
    free(m);
}

static struct mblob *blob_slot(struct mblob *t, size_t cap, uint64_t k)
{
    size_t i = k & (cap - 1);
    while (t[i].k && t[i].k != k)
        i = (i + 1) & (cap - 1);
    return &t[i];
}

const unsigned char *rg_mem_user_get(struct rg_mem *m, uint64_t k, size_t *len)
{
    struct mblob *b = blob_slot(m->blobs, m->capb, k);
    if (!b->k)
        return NULL;
    *len = b->len;
    return b->v;
}

int rg_mem_user_put(struct rg_mem *m, uint64_t k, const unsigned char *v, size_t len)
{
    if ((m->nb + 1) * 2 > m->capb) {
        size_t cap = m->capb * 2;
        struct mblob *t = calloc(cap, sizeof *t);
        if (!t)
            return RG_ENOMEM;
        for (size_t i = 0; i < m->capb; i++)
            if (m->blobs[i].k)
                *blob_slot(t, cap, m->blobs[i].k) = m->blobs[i];
        free(m->blobs);
        m->blobs = t;
        m->capb = cap;
    }
    struct mblob *b = blob_slot(m->blobs, m->capb, k);
    if (!b->k || b->len < len) {
        unsigned char *nv = realloc(b->v, len);
        if (!nv)
            return RG_ENOMEM;
        b->v = nv;
    }
    if (!b->k)
        m->nb++;
    b->k = k;
    memcpy(b->v, v, len);
    b->len = len;
    return 0;
}

size_t rg_mem_user_count(const struct rg_mem *m) { return m->nb; }

/* The slot of key k in t: its own, or the empty one where it would go. */
static struct eslot *ent_slot(struct eslot *t, size_t cap, const struct ment *ents, uint64_t k)
{
    uint32_t tag = (uint32_t)(k >> 32);
    size_t i = k & (cap - 1);
    while (t[i].idx && (t[i].tag != tag || ents[t[i].idx - 1].k != k))
        i = (i + 1) & (cap - 1);
    return &t[i];
}

/* The entity with key k (never 0), created empty if new. The pointer is
 * valid until the next ent_get (see DESIGN). */
static struct ment *ent_get(struct rg_mem *m, uint64_t k)
{
    struct eslot *p = ent_slot(m->eidx, m->cape, m->ents, k);
    if (p->idx)
        return &m->ents[p->idx - 1];
    if (m->ne >= UINT32_MAX - 1)
        return NULL;
    if (m->ne == m->capa) {
        struct ment *a = realloc(m->ents, 2 * m->capa * sizeof *a);
        if (!a)
            return NULL;
        m->ents = a;
        m->capa *= 2;
    }
    if ((m->ne + 1) * 2 > m->cape) {
        size_t cap = m->cape * 2;
        struct eslot *t = calloc(cap, sizeof *t);
        if (!t)
            return NULL;
        for (size_t i = 0; i < m->ne; i++) {
            struct eslot *q = ent_slot(t, cap, m->ents, m->ents[i].k);
            q->tag = (uint32_t)(m->ents[i].k >> 32);
            q->idx = (uint32_t)(i + 1);
        }
        free(m->eidx);
        m->eidx = t;
        m->cape = cap;
        p = ent_slot(m->eidx, m->cape, m->ents, k);
    }
    struct ment *e = &m->ents[m->ne];
    memset(e, 0, sizeof *e);
    e->k = k;
    p->tag = (uint32_t)(k >> 32);
    p->idx = (uint32_t)(++m->ne);
    return e;
}

static int64_t fdiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t pmod(int64_t a, int64_t b) { return ((a % b) + b) % b; }

/* Sum the counts of ring cells whose unit lies in (unit - span, unit]. */
static int64_t ring_sum(const struct mcell *ring, int n, int64_t unit, int64_t span)
{
    int64_t s = 0;
    for (int i = 0; i < n; i++)
        if (ring[i].n && ring[i].unit <= unit && ring[i].unit > unit - span)
            s += ring[i].n;
    return s;
}

static void ring_bump(struct mcell *ring, int n, int64_t unit)
{
    struct mcell *c = &ring[pmod(unit, n)];
    if (c->n && c->unit == unit) {
        c->n++;
    } else if (!c->n || c->unit < unit) {
        c->unit = unit;
        c->n = 1;
    }
}

/* Same rule as the script's users(): members seen at hour >= hour - 23
 * count for 24 h, seen on day >= day - 29 for 30 d (later sightings count
 * too: the set keeps each member's latest hour only). */
static void users_count(const struct ment *e, int64_t hour, int64_t day, int64_t *h24, int64_t *d30)
{
    *h24 = 0;
    if (d30)
        *d30 = 0;
    const struct muser *us = ent_users_c(e);
    for (int i = 0; i < e->nusers; i++) {
        if (us[i].hour >= hour - 23)
            (*h24)++;
        if (d30 && us[i].hour >= (day - 29) * 24)
            (*d30)++;
    }
}

static void users_add(struct ment *e, uint64_t u, int64_t hour)
{
    struct muser *us = ent_users(e);
    int oldest = -1;
    for (int i = 0; i < e->nusers; i++) {
        if (us[i].u == u) {
            if (hour > us[i].hour)
                us[i].hour = hour;
            return;
        }
        if (oldest < 0 || us[i].hour < us[oldest].hour)
            oldest = i;
    }
    /* Same growth as before the inline slots: 2, 4, .. MEM_USERS, and the
     * same replacement once full, so the counts are unchanged. */
    int cap = e->capu ? e->capu : MEM_INLINE;
    if (e->nusers == cap && cap < MEM_USERS) {
        int ncap = cap * 2;
        struct muser *nu = realloc(e->heap, (size_t)ncap * sizeof *nu);
        if (!nu)
            return;
        if (!e->capu)
            memcpy(nu, e->inl, sizeof e->inl);
        e->heap = nu;
        e->capu = (uint8_t)ncap;
        us = nu;
        cap = ncap;
    }
    int at;
    if (e->nusers < cap)
        at = e->nusers++;
    else if (us[oldest].hour < hour)
        at = oldest;
    else
        return;
    us[at].u = u;
    us[at].hour = hour;
}

void rg_mem_shared(struct rg_mem *m, const struct rg_shared_ev *ev, struct rg_shared_feats *out)
{
    int64_t hour = fdiv(ev->t_ms, HOUR_MS), day = fdiv(ev->t_ms, DAY_MS);
    int64_t minute = fdiv(ev->t_ms, MIN_MS);
    out->dev_users_24h = out->dev_users_30d = out->ip_users_24h = -1;
    out->m_count_1h = out->m_events_30d = out->m_frauds_30d = out->m_frauds_7d = -1;
    /* The three home slots are independent cache misses in a big table:
     * start them all before walking any (a hint, no semantic effect). */
    size_t mask = m->cape - 1;
    __builtin_prefetch(&m->eidx[ev->dev_h & mask]);
    __builtin_prefetch(&m->eidx[ev->ip_h & mask]);
    __builtin_prefetch(&m->eidx[ev->merch_h & mask]);
    struct ment *e;
    if (ev->dev_h && (e = ent_get(m, ev->dev_h))) {
        users_count(e, hour, day, &out->dev_users_24h, &out->dev_users_30d);
        if (ev->update)
            users_add(e, ev->user_h, hour);
    }
    if (ev->ip_h && (e = ent_get(m, ev->ip_h))) {
        users_count(e, hour, day, &out->ip_users_24h, NULL);
        if (ev->update)
            users_add(e, ev->user_h, hour);
    }
    if (ev->merch_h && (e = ent_get(m, ev->merch_h)) && (e->m || (e->m = calloc(1, sizeof *e->m)))) {
        struct mmerch *mm = e->m;
        out->m_count_1h = ring_sum(mm->mins, 60, minute, 60);
        out->m_events_30d = ring_sum(mm->ev, 31, day, 30);
        out->m_frauds_30d = ring_sum(mm->fr, 31, day, 30);
        out->m_frauds_7d = ring_sum(mm->fr, 31, day, 7);
        if (ev->update) {
            ring_bump(mm->mins, 60, minute);
            ring_bump(mm->ev, 31, day);
        }
    }
}

int rg_mem_label(struct rg_mem *m, uint64_t label_h, uint64_t merch_h, uint64_t dev_h,
                 int64_t at_ms)
{
    if ((m->nl + 1) * 2 > m->capl) {
        size_t cap = m->capl * 2;
        uint64_t *t = calloc(cap, sizeof *t);
        if (!t)
            return RG_ENOMEM;
        for (size_t i = 0; i < m->capl; i++)
            if (m->labels[i]) {
                size_t j = m->labels[i] & (cap - 1);
                while (t[j])
                    j = (j + 1) & (cap - 1);
                t[j] = m->labels[i];
            }
        free(m->labels);
        m->labels = t;
        m->capl = cap;
    }
    size_t j = label_h & (m->capl - 1);
    while (m->labels[j] && m->labels[j] != label_h)
        j = (j + 1) & (m->capl - 1);
    if (m->labels[j])
        return 0;
    m->labels[j] = label_h;
    m->nl++;
    struct ment *e;
    if (merch_h && (e = ent_get(m, merch_h)) && (e->m || (e->m = calloc(1, sizeof *e->m))))
        ring_bump(e->m->fr, 31, fdiv(at_ms, DAY_MS));
    if (dev_h && (e = ent_get(m, dev_h)))
        e->frauds++;
    return 1;
}
