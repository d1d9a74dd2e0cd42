/*
 * metrics.c - the metrics registry and its Prometheus text rendering; see
 * include/riskgate/metrics.h.
 *
 * DESIGN
 * Storage is static and laid out at compile time from RG_METRIC_LIST: every
 * counter or gauge metric owns (label set max) consecutive "cells", every
 * histogram owns as many "hcells" (buckets + sum). Offsets come from the
 * enum trick below (each metric's first offset is the previous metric's
 * last + 1), so there is no init-order hazard: an update before
 * rg_metrics_init() is already safe.
 *
 * Counters and histograms live in RG_METRICS_SHARDS shards of the same
 * layout; a thread takes shard (n++ % SHARDS) on its first update and keeps
 * it (thread-local). With up to SHARDS threads no two writers share a cache
 * line; beyond that they share a shard, still exact because every update
 * is an atomic add. All updates are relaxed: a metric only needs each add
 * to happen exactly once, not to order other memory. A scrape sums the
 * shards with relaxed loads, so it sees some recent value of each cell,
 * which is all Prometheus asks for.
 *
 * Gauges are single cells (set = relaxed store). Partition gauge slots
 * carry a "set" flag so only assigned partitions are rendered.
 *
 * Label names (dead-letter reasons, feedback types, rule ids) and the rule
 * slot table are guarded by g_mu, taken only by registration, rules reload
 * and render: never by the hot path, which addresses slots by index.
 */
#include "riskgate/metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskgate/err.h"

/* ---- compile-time layout ------------------------------------------------ */

enum {
#define LS_MAXE(id, key, max) id##_MAX = (max),
    RG_LABELSET_LIST(LS_MAXE)
#undef LS_MAXE
};

/* Label slot space (names of registered / rule label sets). */
enum {
    LSO_BASE_ = -1,
#define LS_OFF(id, key, max) id##_LOFF, id##_LEND = id##_LOFF + (max) - 1,
    RG_LABELSET_LIST(LS_OFF)
#undef LS_OFF
    LSO_TOTAL
};

enum { IS_CELL_COUNTER = 1, IS_CELL_GAUGE = 1, IS_CELL_HISTO = 0, IS_CELL_INFO = 0 };
enum { IS_HIST_COUNTER = 0, IS_HIST_GAUGE = 0, IS_HIST_HISTO = 1, IS_HIST_INFO = 0 };

enum {
    COFF_BASE_ = -1,
#define M_COFF(id, name, type, ls, help) \
    id##_COFF, id##_CEND = id##_COFF + (IS_CELL_##type ? ls##_MAX : 0) - 1,
    RG_METRIC_LIST(M_COFF)
#undef M_COFF
    CELLS_TOTAL
};

enum {
    HOFF_BASE_ = -1,
#define M_HOFF(id, name, type, ls, help) \
    id##_HOFF, id##_HEND = id##_HOFF + (IS_HIST_##type ? ls##_MAX : 0) - 1,
    RG_METRIC_LIST(M_HOFF)
#undef M_HOFF
    HCELLS_TOTAL
};

struct mdef {
    const char *name, *help;
    enum rg_metric_type type;
    enum rg_labelset ls;
    int coff, hoff;
};

static const struct mdef g_defs[RG_METRIC_COUNT] = {
#define M_DEF(id, nm, type, lset, hlp) \
    [id] = { nm, hlp, RG_MT_##type, lset, id##_COFF, id##_HOFF },
    RG_METRIC_LIST(M_DEF)
#undef M_DEF
};

static const struct {
    const char *key;
    int max, loff;
} g_ls[RG_LS_COUNT] = {
#define LS_DEF(id, k, m) [id] = { k, m, id##_LOFF },
    RG_LABELSET_LIST(LS_DEF)
#undef LS_DEF
};

static const uint64_t g_bounds_us[RG_HISTO_NBUCKETS] = { RG_HISTO_BUCKETS_US };
_Static_assert(sizeof(g_bounds_us) / sizeof(g_bounds_us[0]) == RG_HISTO_NBUCKETS,
               "RG_HISTO_NBUCKETS must match RG_HISTO_BUCKETS_US");

static const char *const g_decision_names[3] = { "allow", "step_up", "deny" };
static const char *const g_stage_names[6] = { "decode", "profile", "model", "rules",
                                              "encode", "total" };
static const char *const g_reload_frags[4] = {
    "what=\"rules\",result=\"ok\"", "what=\"rules\",result=\"error\"",
    "what=\"model\",result=\"ok\"", "what=\"model\",result=\"error\"",
};

/* ---- storage ------------------------------------------------------------ */

struct hcell {
    _Atomic uint64_t b[RG_HISTO_NBUCKETS + 1]; /* non-cumulative; last = +Inf */
    _Atomic uint64_t sum_us;
};

struct shard {
    _Alignas(64) _Atomic uint64_t c[CELLS_TOTAL > 0 ? CELLS_TOTAL : 1];
    _Alignas(64) struct hcell h[HCELLS_TOTAL > 0 ? HCELLS_TOTAL : 1];
};

static struct shard g_shards[RG_METRICS_SHARDS];
static _Atomic int64_t g_gauge[CELLS_TOTAL];
static _Atomic uint8_t g_gauge_isset[CELLS_TOTAL];
static _Atomic unsigned g_next_shard;
static _Thread_local int tl_shard = -1;

/* Guarded by g_mu. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static char *g_frag[LSO_TOTAL];      /* rendered `key="value"`, NULL = hidden */
static char *g_label_raw[LSO_TOTAL]; /* raw value (rule ids: for matching) */
static bool g_rule_active[RG_METRICS_MAX_RULES];
static uint64_t g_rule_retired_gen[RG_METRICS_MAX_RULES];
static uint64_t g_rules_gen;
static char g_version[128] = "unknown";

static inline struct shard *my_shard(void)
{
    if (__builtin_expect(tl_shard < 0, 0))
        tl_shard = (int)(atomic_fetch_add_explicit(&g_next_shard, 1, memory_order_relaxed) %
                         RG_METRICS_SHARDS);
    return &g_shards[tl_shard];
}

static inline bool valid(enum rg_metric m, int idx, enum rg_metric_type type)
{
    return (unsigned)m < RG_METRIC_COUNT && g_defs[m].type == type && idx >= 0 &&
           idx < g_ls[g_defs[m].ls].max;
}

/* ---- hot path ----------------------------------------------------------- */

void rg_counter_add_l(enum rg_metric m, int idx, uint64_t n)
{
    if (!valid(m, idx, RG_MT_COUNTER))
        return;
    atomic_fetch_add_explicit(&my_shard()->c[g_defs[m].coff + idx], n, memory_order_relaxed);
}

void rg_counter_inc_l(enum rg_metric m, int idx) { rg_counter_add_l(m, idx, 1); }
void rg_counter_inc(enum rg_metric m) { rg_counter_add_l(m, 0, 1); }
void rg_counter_add(enum rg_metric m, uint64_t n) { rg_counter_add_l(m, 0, n); }

void rg_gauge_set_l(enum rg_metric m, int idx, int64_t v)
{
    if (!valid(m, idx, RG_MT_GAUGE))
        return;
    int c = g_defs[m].coff + idx;
    atomic_store_explicit(&g_gauge[c], v, memory_order_relaxed);
    if (!atomic_load_explicit(&g_gauge_isset[c], memory_order_relaxed))
        atomic_store_explicit(&g_gauge_isset[c], 1, memory_order_relaxed);
}

void rg_gauge_set(enum rg_metric m, int64_t v) { rg_gauge_set_l(m, 0, v); }

void rg_gauge_add(enum rg_metric m, int64_t delta)
{
    if (!valid(m, 0, RG_MT_GAUGE))
        return;
    int c = g_defs[m].coff;
    atomic_fetch_add_explicit(&g_gauge[c], delta, memory_order_relaxed);
    if (!atomic_load_explicit(&g_gauge_isset[c], memory_order_relaxed))
        atomic_store_explicit(&g_gauge_isset[c], 1, memory_order_relaxed);
}

void rg_gauge_unset_l(enum rg_metric m, int idx)
{
    if (!valid(m, idx, RG_MT_GAUGE))
        return;
    int c = g_defs[m].coff + idx;
    atomic_store_explicit(&g_gauge_isset[c], 0, memory_order_relaxed);
    atomic_store_explicit(&g_gauge[c], 0, memory_order_relaxed);
}

void rg_histo_observe_us(enum rg_metric m, int idx, int64_t us)
{
    if (!valid(m, idx, RG_MT_HISTO))
        return;
    uint64_t v = us > 0 ? (uint64_t)us : 0;
    int b = 0;
    while (b < RG_HISTO_NBUCKETS && v > g_bounds_us[b])   /* le: v <= bound */
        b++;
    struct hcell *h = &my_shard()->h[g_defs[m].hoff + idx];
    atomic_fetch_add_explicit(&h->b[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, v, memory_order_relaxed);
}

/* ---- read back ---------------------------------------------------------- */

static uint64_t cell_sum(int c)
{
    uint64_t s = 0;
    for (int i = 0; i < RG_METRICS_SHARDS; i++)
        s += atomic_load_explicit(&g_shards[i].c[c], memory_order_relaxed);
    return s;
}

/* Cumulative-free bucket counts summed over shards. */
static void hcell_sum(int hc, uint64_t b[RG_HISTO_NBUCKETS + 1], uint64_t *sum_us)
{
    memset(b, 0, sizeof(uint64_t) * (RG_HISTO_NBUCKETS + 1));
    *sum_us = 0;
    for (int i = 0; i < RG_METRICS_SHARDS; i++) {
        struct hcell *h = &g_shards[i].h[hc];
        for (int k = 0; k <= RG_HISTO_NBUCKETS; k++)
            b[k] += atomic_load_explicit(&h->b[k], memory_order_relaxed);
        *sum_us += atomic_load_explicit(&h->sum_us, memory_order_relaxed);
    }
}

uint64_t rg_counter_get(enum rg_metric m, int idx)
{
    if (!valid(m, idx, RG_MT_COUNTER))
        return 0;
    return cell_sum(g_defs[m].coff + idx);
}

int64_t rg_gauge_get(enum rg_metric m, int idx)
{
    if (!valid(m, idx, RG_MT_GAUGE))
        return 0;
    return atomic_load_explicit(&g_gauge[g_defs[m].coff + idx], memory_order_relaxed);
}

void rg_histo_get(enum rg_metric m, int idx, uint64_t *count, uint64_t *sum_us)
{
    *count = 0;
    *sum_us = 0;
    if (!valid(m, idx, RG_MT_HISTO))
        return;
    uint64_t b[RG_HISTO_NBUCKETS + 1];
    hcell_sum(g_defs[m].hoff + idx, b, sum_us);
    for (int k = 0; k <= RG_HISTO_NBUCKETS; k++)
        *count += b[k];
}

const char *rg_metric_name(enum rg_metric m)
{
    return (unsigned)m < RG_METRIC_COUNT ? g_defs[m].name : NULL;
}
const char *rg_metric_help(enum rg_metric m)
{
    return (unsigned)m < RG_METRIC_COUNT ? g_defs[m].help : NULL;
}
enum rg_metric_type rg_metric_type(enum rg_metric m)
{
    return (unsigned)m < RG_METRIC_COUNT ? g_defs[m].type : RG_MT_COUNTER;
}
enum rg_labelset rg_metric_labelset(enum rg_metric m)
{
    return (unsigned)m < RG_METRIC_COUNT ? g_defs[m].ls : RG_LS_NONE;
}

/* ---- registration ------------------------------------------------------- */

/* `key="value"` with Prometheus label-value escaping; malloc'd. */
static char *make_frag(const char *key, const char *value)
{
    size_t kl = strlen(key), vl = strlen(value);
    char *f = malloc(kl + 2 * vl + 4);
    if (!f)
        return NULL;
    char *o = f;
    memcpy(o, key, kl);
    o += kl;
    *o++ = '=';
    *o++ = '"';
    for (const char *s = value; *s; s++) {
        if (*s == '\\' || *s == '"') {
            *o++ = '\\';
            *o++ = *s;
        } else if (*s == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else {
            *o++ = *s;
        }
    }
    *o++ = '"';
    *o = '\0';
    return f;
}

static void clear_label(int l)
{
    free(g_frag[l]);
    free(g_label_raw[l]);
    g_frag[l] = g_label_raw[l] = NULL;
}

int rg_metrics_register_label_set(enum rg_labelset ls, const char *const *names, size_t n)
{
    if (ls != RG_LS_REASON && ls != RG_LS_FEEDBACK)
        return RG_EINVAL;
    if (n > (size_t)g_ls[ls].max)
        return RG_ETOOBIG;
    for (size_t i = 0; i < n; i++)
        if (!names || !names[i])
            return RG_EINVAL;
    char *frags[RG_METRICS_MAX_REASONS > RG_METRICS_MAX_FEEDBACK ? RG_METRICS_MAX_REASONS
                                                                 : RG_METRICS_MAX_FEEDBACK];
    size_t built = 0;
    for (; built < n; built++) {
        frags[built] = make_frag(g_ls[ls].key, names[built]);
        if (!frags[built])
            goto fail;
    }
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_ls[ls].max; i++) {
        int l = g_ls[ls].loff + i;
        clear_label(l);
        if ((size_t)i < n)
            g_frag[l] = frags[i];
    }
    pthread_mutex_unlock(&g_mu);
    return 0;
fail:
    while (built > 0)
        free(frags[--built]);
    return RG_ENOMEM;
}

static void zero_rule_slot(int slot)
{
    int c = g_defs[RG_M_RULE_HITS].coff + slot;
    for (int i = 0; i < RG_METRICS_SHARDS; i++)
        atomic_store_explicit(&g_shards[i].c[c], 0, memory_order_relaxed);
}

int rg_metrics_rules_set(const char *const *ids, size_t n, uint32_t *slots)
{
    enum { MAXR = RG_METRICS_MAX_RULES };
    const int loff = g_ls[RG_LS_RULE].loff;
    int rc = 0;
    int *assign = calloc(n ? n : 1, sizeof(int));
    char **newfrag = calloc(n ? n : 1, sizeof(char *));
    char **newraw = calloc(n ? n : 1, sizeof(char *));
    bool claimed[MAXR] = { false };
    if (!assign || !newfrag || !newraw) {
        rc = RG_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (!ids[i]) {
            rc = RG_EINVAL;
            goto out;
        }

    pthread_mutex_lock(&g_mu);
    uint64_t gen = g_rules_gen + 1;
    /* Pass 1: plan, without touching shared state. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        int found = -1;
        for (size_t j = 0; j < i && found < 0; j++)   /* duplicate id in the set */
            if (strcmp(ids[j], ids[i]) == 0)
                found = assign[j];
        for (int s = 0; s < MAXR && found < 0; s++)   /* known id keeps its slot */
            if (g_label_raw[loff + s] && !claimed[s] &&
                strcmp(g_label_raw[loff + s], ids[i]) == 0)
                found = s;
        if (found < 0) {
            /* a never-used slot first, else one retired >= 2 reloads ago */
            for (int s = 0; s < MAXR && found < 0; s++)
                if (!claimed[s] && !g_label_raw[loff + s])
                    found = s;
            for (int s = 0; s < MAXR && found < 0; s++)
                if (!claimed[s] && !g_rule_active[s] && g_rule_retired_gen[s] + 2 <= gen)
                    found = s;
            if (found < 0) {
                rc = RG_ETOOBIG;
                break;
            }
            newraw[i] = strdup(ids[i]);
            newfrag[i] = make_frag("rule", ids[i]);
            if (!newraw[i] || !newfrag[i])
                rc = RG_ENOMEM;
        }
        assign[i] = found;
        claimed[found] = true;
    }
    if (rc == 0) {
        /* Pass 2: commit. */
        g_rules_gen = gen;
        for (int s = 0; s < MAXR; s++)
            if (g_rule_active[s] && !claimed[s]) {
                g_rule_active[s] = false;
                g_rule_retired_gen[s] = gen;
            }
        for (size_t i = 0; i < n; i++) {
            int s = assign[i];
            if (newraw[i]) {
                clear_label(loff + s);
                g_label_raw[loff + s] = newraw[i];
                g_frag[loff + s] = newfrag[i];
                newraw[i] = newfrag[i] = NULL;
                zero_rule_slot(s);
            }
            g_rule_active[s] = true;
            slots[i] = (uint32_t)s;
        }
    }
    pthread_mutex_unlock(&g_mu);
out:
    if (newraw && newfrag)
        for (size_t i = 0; i < n; i++) {
            free(newraw[i]);
            free(newfrag[i]);
        }
    free(assign);
    free(newfrag);
    free(newraw);
    return rc;
}

void rg_metrics_reset(void)
{
    for (int i = 0; i < RG_METRICS_SHARDS; i++) {
        for (int c = 0; c < CELLS_TOTAL; c++)
            atomic_store_explicit(&g_shards[i].c[c], 0, memory_order_relaxed);
        for (int h = 0; h < HCELLS_TOTAL; h++) {
            for (int k = 0; k <= RG_HISTO_NBUCKETS; k++)
                atomic_store_explicit(&g_shards[i].h[h].b[k], 0, memory_order_relaxed);
            atomic_store_explicit(&g_shards[i].h[h].sum_us, 0, memory_order_relaxed);
        }
    }
    for (int c = 0; c < CELLS_TOTAL; c++) {
        atomic_store_explicit(&g_gauge[c], 0, memory_order_relaxed);
        atomic_store_explicit(&g_gauge_isset[c], 0, memory_order_relaxed);
    }
}

void rg_metrics_init(const char *version)
{
    rg_metrics_reset();
    pthread_mutex_lock(&g_mu);
    for (int l = 0; l < LSO_TOTAL; l++)
        clear_label(l);
    memset(g_rule_active, 0, sizeof(g_rule_active));
    memset(g_rule_retired_gen, 0, sizeof(g_rule_retired_gen));
    g_rules_gen = 0;
    snprintf(g_version, sizeof(g_version), "%s", version && *version ? version : "unknown");
    pthread_mutex_unlock(&g_mu);
}

/* ---- rendering ---------------------------------------------------------- */

struct out {
    char *buf;
    size_t cap, len;   /* len may exceed cap: the size needed */
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

/* Label fragment for slot idx of metric m, or NULL when the slot is not
 * rendered. tmp is scratch for generated names. Caller holds g_mu. */
static const char *slot_frag(const struct mdef *d, int idx, char *tmp, size_t tmpcap)
{
    switch (d->ls) {
    case RG_LS_NONE:
        return "";
    case RG_LS_DECISION:
        snprintf(tmp, tmpcap, "decision=\"%s\"", g_decision_names[idx]);
        return tmp;
    case RG_LS_STAGE:
        snprintf(tmp, tmpcap, "stage=\"%s\"", g_stage_names[idx]);
        return tmp;
    case RG_LS_RELOAD:
        return g_reload_frags[idx];
    case RG_LS_PARTITION:
        if (d->type == RG_MT_GAUGE &&
            !atomic_load_explicit(&g_gauge_isset[d->coff + idx], memory_order_relaxed))
            return NULL;
        snprintf(tmp, tmpcap, "partition=\"%d\"", idx);
        return tmp;
    case RG_LS_RULE:
        if (!g_rule_active[idx])
            return NULL;
        return g_frag[g_ls[d->ls].loff + idx];
    default:
        return g_frag[g_ls[d->ls].loff + idx];
    }
}

/* Bucket bound in seconds, exact decimal (bounds are whole microseconds). */
static void fmt_le(char *b, size_t cap, uint64_t us)
{
    if (us % 1000000 == 0)
        snprintf(b, cap, "%" PRIu64, us / 1000000);
    else {
        snprintf(b, cap, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
        size_t l = strlen(b);
        while (l > 0 && b[l - 1] == '0')
            b[--l] = '\0';
    }
}

static void render_histo(struct out *o, const struct mdef *d, int idx, const char *frag)
{
    uint64_t b[RG_HISTO_NBUCKETS + 1], sum_us, cum = 0;
    hcell_sum(d->hoff + idx, b, &sum_us);
    const char *sep = *frag ? "," : "";
    char le[32];
    for (int k = 0; k < RG_HISTO_NBUCKETS; k++) {
        cum += b[k];
        fmt_le(le, sizeof(le), g_bounds_us[k]);
        put(o, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", d->name, frag, sep, le, cum);
    }
    cum += b[RG_HISTO_NBUCKETS];
    put(o, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", d->name, frag, sep, cum);
    const char *lb = *frag ? "{" : "", *rb = *frag ? "}" : "";
    put(o, "%s_sum%s%s%s %" PRIu64 ".%06" PRIu64 "\n", d->name, lb, frag, rb,
        sum_us / 1000000, sum_us % 1000000);
    put(o, "%s_count%s%s%s %" PRIu64 "\n", d->name, lb, frag, rb, cum);
}

size_t rg_metrics_render(char *buf, size_t cap)
{
    static const char *const type_names[] = { "counter", "gauge", "histogram", "gauge" };
    struct out o = { buf, cap, 0 };
    char tmp[64];
    if (cap)
        buf[0] = '\0';
    pthread_mutex_lock(&g_mu);
    for (int m = 0; m < RG_METRIC_COUNT; m++) {
        const struct mdef *d = &g_defs[m];
        put(&o, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name,
            type_names[d->type]);
        if (d->type == RG_MT_INFO) {
            char *vf = make_frag("version", g_version);
            put(&o, "%s{%s} 1\n", d->name, vf ? vf : "version=\"unknown\"");
            free(vf);
            continue;
        }
        for (int i = 0; i < g_ls[d->ls].max; i++) {
            const char *frag = slot_frag(d, i, tmp, sizeof(tmp));
            if (!frag)
                continue;
            const char *lb = *frag ? "{" : "", *rb = *frag ? "}" : "";
            if (d->type == RG_MT_COUNTER)
                put(&o, "%s%s%s%s %" PRIu64 "\n", d->name, lb, frag, rb,
                    cell_sum(d->coff + i));
            else if (d->type == RG_MT_GAUGE)
                put(&o, "%s%s%s%s %" PRId64 "\n", d->name, lb, frag, rb,
                    atomic_load_explicit(&g_gauge[d->coff + i], memory_order_relaxed));
            else
                render_histo(&o, d, i, frag);
        }
    }
    pthread_mutex_unlock(&g_mu);
    return o.len;
}

char *rg_metrics_render_alloc(size_t *len)
{
    size_t cap = 16384;
    for (int tries = 0; tries < 8; tries++) {
        char *b = malloc(cap);
        if (!b)
            return NULL;
        size_t need = rg_metrics_render(b, cap);
        if (need < cap) {
            if (len)
                *len = need;
            return b;
        }
        free(b);
        cap = need + 4096;   /* grew between calls: retry with room */
    }
    return NULL;
}
