/*
 * store.c - struct rg_profile_store: the per-worker user cache, the batch
 * round trip to Redis (or the in-memory backend), flush, feedback, stats.
 *
 * DESIGN
 * - User cache: chained hash on a 64-bit hash of user_id, entries in one
 *   preallocated array, CLOCK eviction. Dirty entries are never evicted in
 *   Redis mode (they are written by rg_profile_flush(); when no clean victim
 *   exists, the store flushes first). In memory mode a dirty victim is
 *   encoded into the in-memory map on eviction.
 * - One round trip per batch at steady state (every user of the batch in
 *   the cache), two with users to load (their MGET first). Then each
 *   event's user features are computed and its update applied, in event
 *   order, and one EVALSHA of RG_LUA_BATCH makes the shared updates and
 *   writes the batch's profiles back, atomically (so the user's replay mark
 *   also guards the shared entities); the shared features are added from
 *   its reply. rg_profile_flush() writes what a failed batch left dirty
 *   (RG_LUA_USERS, 512 users per EVALSHA).
 * - Connection: lazy, redisConnectWithTimeout + redisSetTimeout, AUTH when
 *   a password is set, scripts loaded on every (re)connect. After a failure
 *   the context is dropped and no reconnect is tried before the backoff
 *   expires (50 ms doubling to 2 s, measured on rg_clock_now_ms() so tests
 *   drive it with the fake clock); meanwhile calls fail fast with RG_EAGAIN.
 * - No allocation per event: every scratch buffer is sized at _new for
 *   RG_PROF_MAX_BATCH events (hiredis allocates its replies; that is its
 *   API).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskgate/clock.h"
#include "riskgate/err.h"
#include "riskgate/feature.h"
#include "riskgate/log.h"
#include "riskgate/profile.h"
#include "scripts.h"
#include "store_int.h"

#define RG_PROF_MAX_BATCH 4096
#define FLUSH_CHUNK 512
#define KEYLEN 80
#define NUMLEN 24
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000

struct centry {
    uint64_t h;          /* 0: free */
    int32_t next;        /* hash chain */
    uint32_t pin;        /* batch stamp: not evictable during that batch */
    uint8_t dirty, ref, loading;
    char key[KEYLEN];    /* Redis key (Redis mode) */
    struct rg_user_prof up;
};

/* Pseudonymised keys of recently seen devices, merchants and IPs, so an
 * entity seen again costs a table probe instead of an HMAC (about 1 us with
 * OpenSSL 3). Direct-mapped on the 64-bit id hash; a hit also compares the
 * id itself, so a hash collision can only cost a recomputation. Ids of
 * KC_ID_MAX bytes or more are not cached. */
#define KC_SLOTS 8192
#define KC_ID_MAX 40

struct kcentry {
    uint64_t h;            /* 0: empty */
    char kind;
    char id[KC_ID_MAX];
    char key[KEYLEN];
};

struct rg_profile_store {
    char *host, *password, *prefix;
    unsigned char *secret;
    size_t secret_len;
    int port, timeout_ms;
    int64_t ttl_ms;
    bool mem_mode;
    struct rg_mem *mem;

    redisContext *rc;
    int64_t next_try_ms;
    int backoff_ms;
    bool was_connected;
    char sha_batch[41], sha_users[41], sha_label[41];
    EVP_MAC_CTX *mac;

    struct centry *ents;
    size_t cap, used, hand;
    int32_t *heads;
    size_t hmask;
    uint32_t stamp;
    int32_t *dirty;
    size_t ndirty;

    /* batch scratch, RG_PROF_MAX_BATCH events */
    int32_t *ev_ent, *miss;
    struct rg_shared_ev *sev;
    struct rg_shared_feats *sh;
    char (*kd)[KEYLEN], (*km)[KEYLEN], (*ki)[KEYLEN];
    char (*num)[NUMLEN];
    char (*uel)[RG_SHARED_USER_ID_LEN + 1]; /* per event: set member of the user */
    const char **argv;
    size_t *argvlen;
    unsigned char *enc;  /* RG_PROF_MAX_BATCH * RG_UP_ENC_MAX: encodings in flight */
    int32_t *bdirty;     /* RG_PROF_MAX_BATCH: the batch's own dirty users */
    struct kcentry *kc;  /* KC_SLOTS, Redis mode only */

    struct rg_profile_stats st;
};

/* ---- keys ---- */

static void hex32(const unsigned char *md, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hx[md[i] >> 4];
        out[2 * i + 1] = hx[md[i] & 15];
    }
    out[32] = 0;
}

int rg_profile_key(const unsigned char *secret, size_t secret_len, const char *prefix, char kind,
                   const char *id, char *out, size_t cap)
{
    unsigned char msg[RG_ID_MAX + 3], md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t idlen = strlen(id);
    if (!secret || !secret_len || idlen > RG_ID_MAX || !prefix)
        return RG_EINVAL;
    msg[0] = (unsigned char)kind;
    msg[1] = 0;
    memcpy(msg + 2, id, idlen);
    if (!HMAC(EVP_sha256(), secret, (int)secret_len, msg, idlen + 2, md, &mdlen))
        return RG_EFATAL;
    char hx[33];
    hex32(md, hx);
    int n = snprintf(out, cap, "%s%c:%s", prefix, kind, hx);
    return n < 0 || (size_t)n >= cap ? RG_ETOOBIG : n;
}

/* Same as rg_profile_key with the store's reusable HMAC context. */
static int store_key(struct rg_profile_store *s, char kind, const char *id, char *out)
{
    unsigned char msg[RG_ID_MAX + 3], md[EVP_MAX_MD_SIZE];
    size_t idlen = strnlen(id, RG_ID_MAX + 1), mdlen = 0;
    if (idlen > RG_ID_MAX)
        return RG_EINVAL;
    msg[0] = (unsigned char)kind;
    msg[1] = 0;
    memcpy(msg + 2, id, idlen);
    if (!EVP_MAC_init(s->mac, NULL, 0, NULL) || !EVP_MAC_update(s->mac, msg, idlen + 2) ||
        !EVP_MAC_final(s->mac, md, &mdlen, sizeof md))
        return RG_EFATAL;
    char hx[33];
    hex32(md, hx);
    int n = snprintf(out, KEYLEN, "%s%c:%s", s->prefix, kind, hx);
    return n < 0 || n >= KEYLEN ? RG_ETOOBIG : n;
}

/* store_key through the key cache; h is rg_prof_hash64(kind, id). */
static int entity_key(struct rg_profile_store *s, char kind, const char *id, uint64_t h, char *out)
{
    size_t idlen = strnlen(id, KC_ID_MAX);
    struct kcentry *c = &s->kc[(h ^ (h >> 29)) & (KC_SLOTS - 1)];
    if (idlen < KC_ID_MAX && c->h == h && c->kind == kind && strcmp(c->id, id) == 0) {
        memcpy(out, c->key, KEYLEN);
        return 0;
    }
    int n = store_key(s, kind, id, out);
    if (n >= 0 && idlen < KC_ID_MAX) {
        c->h = h;
        c->kind = kind;
        memcpy(c->id, id, idlen + 1);
        memcpy(c->key, out, (size_t)n + 1);
    }
    return n;
}

static void sha1_hex(const char *text, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    static const char hx[] = "0123456789abcdef";
    EVP_Digest(text, strlen(text), md, &n, EVP_sha1(), NULL);
    for (unsigned i = 0; i < 20; i++) {
        out[2 * i] = hx[md[i] >> 4];
        out[2 * i + 1] = hx[md[i] & 15];
    }
    out[40] = 0;
}

/* ---- lifecycle ---- */

void rg_profile_store_free(struct rg_profile_store *s)
{
    if (!s)
        return;
    if (s->rc)
        redisFree(s->rc);
    EVP_MAC_CTX_free(s->mac);
    rg_mem_free(s->mem);
    free(s->host);
    free(s->password);
    free(s->prefix);
    if (s->secret)
        OPENSSL_cleanse(s->secret, s->secret_len);
    free(s->secret);
    free(s->ents);
    free(s->kc);
    free(s->heads);
    free(s->dirty);
    free(s->ev_ent);
    free(s->miss);
    free(s->sev);
    free(s->sh);
    free(s->kd);
    free(s->km);
    free(s->ki);
    free(s->num);
    free(s->uel);
    free(s->argv);
    free(s->argvlen);
    free(s->enc);
    free(s->bdirty);
    free(s);
}

/* Merchant counters (scripts.h): 122 cells of (unit, count) as
 * little-endian int32 pairs: 60 minute cells, 31 day cells of events, 31
 * day cells of fraud labels. A cell counts when it is of a unit within the
 * window; the same rule as the in-memory backend. */

static int64_t cell_i32(const unsigned char *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return (int32_t)u;
}

static long long cells_sum(const unsigned char *c, int base, int mod, int64_t unit, int64_t span)
{
    long long sum = 0;
    for (int k = 0; k < mod; k++) {
        const unsigned char *cell = c + (size_t)(base + 2 * k) * 4;
        int64_t u = cell_i32(cell), n = cell_i32(cell + 4);
        if (n > 0 && u <= unit && u > unit - span)
            sum += n;
    }
    return sum;
}

/* out[0..3] = events in the last 60 minutes, events in 30 days, fraud
 * labels in 30 days, fraud labels in 7 days, for an event at t_ms. */
static void merch_sums(const unsigned char *c, int64_t t_ms, long long *out)
{
    int64_t minute = t_ms / 60000, day = t_ms / 86400000;
    out[0] = cells_sum(c, 0, 60, minute, 60);
    out[1] = cells_sum(c, 120, 31, day, 30);
    out[2] = cells_sum(c, 182, 31, day, 30);
    out[3] = cells_sum(c, 182, 31, day, 7);
}

/* Device / IP member sets (scripts.h): 16-byte records of 12 hex chars of
 * a user pseudonym and the int32 epoch hour it was last seen. Counts of
 * members seen in the 24 h and 30 d before an event at t_ms, exactly as the
 * in-memory backend counts them; a value of the wrong length is empty, as
 * the script treats it. */
#define SET_REC 16

static void set_counts(const unsigned char *p, size_t len, int64_t t_ms, int64_t *c24,
                       int64_t *c30)
{
    int64_t hour = t_ms / 3600000, d0 = (t_ms / 86400000 - 29) * 24;
    *c24 = *c30 = 0;
    if (len % SET_REC || len > (size_t)SET_REC * RG_SHARED_USERS_CAP)
        return;
    for (size_t o = 0; o < len; o += SET_REC) {
        int64_t h = cell_i32(p + o + 12);
        *c24 += h >= hour - 23;
        *c30 += h >= d0;
    }
}

/* Write one byte per page through a volatile pointer: calloc'd memory is
 * only mapped on first touch, and a plain memset of zeros may be elided. */
static void prefault(void *p, size_t len)
{
    volatile unsigned char *b = p;
    for (size_t i = 0; i < len; i += 4096)
        b[i] = 0;
    if (len)
        b[len - 1] = 0;
}

struct rg_profile_store *rg_profile_store_new(const struct rg_profile_conf *c)
{
    if (!c || !c->secret || !c->secret_len)
        return NULL;
    const char *prefix = c->key_prefix ? c->key_prefix : "rg:";
    if (strlen(prefix) > 32)
        return NULL;
    struct rg_profile_store *s = calloc(1, sizeof *s);
    EVP_MAC *mac = NULL;
    if (!s)
        return NULL;
    s->host = strdup(c->redis_host ? c->redis_host : "127.0.0.1");
    s->password = c->redis_password ? strdup(c->redis_password) : NULL;
    s->prefix = strdup(prefix);
    s->secret = malloc(c->secret_len);
    if (!s->host || !s->prefix || !s->secret || (c->redis_password && !s->password))
        goto fail;
    memcpy(s->secret, c->secret, c->secret_len);
    s->secret_len = c->secret_len;
    s->port = c->redis_port > 0 ? c->redis_port : 6379;
    s->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 200;
    s->ttl_ms = (int64_t)(c->ttl_days > 0 ? c->ttl_days : 90) * 86400000LL;
    s->mem_mode = c->in_memory;
    s->backoff_ms = BACKOFF_MIN_MS;
    if (s->mem_mode && !(s->mem = rg_mem_new()))
        goto fail;

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    s->mac = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac);
    if (!s->mac)
        goto fail;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                            OSSL_PARAM_construct_end() };
    if (!EVP_MAC_init(s->mac, s->secret, s->secret_len, params))
        goto fail;
    sha1_hex(RG_LUA_BATCH, s->sha_batch);
    sha1_hex(RG_LUA_USERS, s->sha_users);
    sha1_hex(RG_LUA_LABEL, s->sha_label);

    /* The cache must hold two full batches of distinct users. */
    s->cap = c->cache_users ? c->cache_users : 200000;
    if (s->cap < 2 * RG_PROF_MAX_BATCH)
        s->cap = 2 * RG_PROF_MAX_BATCH;
    size_t nh = 1;
    while (nh < s->cap)
        nh <<= 1;
    s->hmask = nh - 1;
    s->ents = calloc(s->cap, sizeof *s->ents);
    s->heads = malloc(nh * sizeof *s->heads);
    s->dirty = malloc(s->cap * sizeof *s->dirty);
    /* Pools at boot: touch every page of the user cache now, so a serving
     * process has its full resident size from the start and RSS stays flat
     * while the cache fills (memory ~ cache_users x sizeof(struct centry)). */
    if (!s->mem_mode && s->ents)
        prefault(s->ents, s->cap * sizeof *s->ents);
    if (!s->mem_mode) {
        s->kc = calloc(KC_SLOTS, sizeof *s->kc);
        if (!s->kc)
            goto fail;
        prefault(s->kc, KC_SLOTS * sizeof *s->kc);
    }
    size_t b = RG_PROF_MAX_BATCH;
    s->ev_ent = malloc(b * sizeof *s->ev_ent);
    s->miss = malloc(b * sizeof *s->miss);
    s->sev = calloc(b, sizeof *s->sev);
    s->sh = calloc(b, sizeof *s->sh);
    s->kd = malloc(b * sizeof *s->kd);
    s->km = malloc(b * sizeof *s->km);
    s->ki = malloc(b * sizeof *s->ki);
    s->num = malloc(b * sizeof *s->num);
    s->uel = malloc(b * sizeof *s->uel);
    size_t nargv = 6 + 8 * b + 2 * FLUSH_CHUNK;
    s->argv = malloc(nargv * sizeof *s->argv);
    s->argvlen = malloc(nargv * sizeof *s->argvlen);
    s->enc = malloc((size_t)RG_PROF_MAX_BATCH * RG_UP_ENC_MAX); /* touched as used */
    s->bdirty = malloc(b * sizeof *s->bdirty);
    if (!s->ents || !s->heads || !s->dirty || !s->ev_ent || !s->miss || !s->sev || !s->sh ||
        !s->kd || !s->km || !s->ki || !s->num || !s->uel || !s->argv || !s->argvlen || !s->enc || !s->bdirty)
        goto fail;
    for (size_t i = 0; i < nh; i++)
        s->heads[i] = -1;
    return s;
fail:
    rg_profile_store_free(s);
    return NULL;
}

void rg_profile_stats(const struct rg_profile_store *s, struct rg_profile_stats *out)
{
    *out = s->st;
}

/* ---- Redis connection ---- */

static void conn_drop(struct rg_profile_store *s, const char *why)
{
    s->st.redis_errors++;
    RG_LOG_RATELIMITED(RG_LOG_WARN, "profile", "redis unavailable: %s", why);
    if (s->rc) {
        redisFree(s->rc);
        s->rc = NULL;
    }
    s->next_try_ms = rg_clock_now_ms() + s->backoff_ms;
    s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
}

static int expect_ok(struct rg_profile_store *s, redisReply *r)
{
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (r)
        freeReplyObject(r);
    (void)s;
    return ok ? 0 : RG_EIO;
}

static int conn_get(struct rg_profile_store *s)
{
    if (s->rc)
        return 0;
    if (rg_clock_now_ms() < s->next_try_ms)
        return RG_EAGAIN;
    struct timeval tv = { s->timeout_ms / 1000, (s->timeout_ms % 1000) * 1000 };
    s->rc = redisConnectWithTimeout(s->host, s->port, tv);
    if (!s->rc || s->rc->err) {
        conn_drop(s, s->rc ? s->rc->errstr : "connect failed");
        return RG_EAGAIN;
    }
    redisSetTimeout(s->rc, tv);
    if (s->password) {
        const char *av[2] = { "AUTH", s->password };
        s->st.cmds_sent++;
        s->st.round_trips++;
        if (expect_ok(s, redisCommandArgv(s->rc, 2, av, NULL)) < 0) {
            conn_drop(s, "AUTH failed");
            return RG_EAGAIN;
        }
    }
    const char *scripts[3] = { RG_LUA_BATCH, RG_LUA_USERS, RG_LUA_LABEL };
    for (int i = 0; i < 3; i++) {
        const char *av[3] = { "SCRIPT", "LOAD", scripts[i] };
        redisAppendCommandArgv(s->rc, 3, av, NULL);
    }
    s->st.cmds_sent += 3;
    s->st.round_trips++;
    for (int i = 0; i < 3; i++) {
        void *r = NULL;
        if (redisGetReply(s->rc, &r) != REDIS_OK || expect_ok(s, r) < 0) {
            conn_drop(s, "SCRIPT LOAD failed");
            return RG_EAGAIN;
        }
    }
    if (s->was_connected)
        s->st.reconnects++;
    s->was_connected = true;
    s->backoff_ms = BACKOFF_MIN_MS;
    return 0;
}

/* ---- cache ---- */

static int32_t cache_find(const struct rg_profile_store *s, uint64_t h)
{
    for (int32_t i = s->heads[h & s->hmask]; i >= 0; i = s->ents[i].next)
        if (s->ents[i].h == h)
            return i;
    return -1;
}

static void cache_unlink(struct rg_profile_store *s, int32_t idx)
{
    int32_t *p = &s->heads[s->ents[idx].h & s->hmask];
    while (*p != idx)
        p = &s->ents[*p].next;
    *p = s->ents[idx].next;
    s->ents[idx].h = 0;
}

static void mark_dirty(struct rg_profile_store *s, int32_t idx)
{
    if (s->mem_mode) { /* no write-back list: eviction writes to the map */
        s->ents[idx].dirty = 1;
        return;
    }
    if (!s->ents[idx].dirty) {
        s->ents[idx].dirty = 1;
        s->dirty[s->ndirty++] = idx;
    }
}

static int mem_writeback(struct rg_profile_store *s, struct centry *e)
{
    unsigned char buf[RG_UP_ENC_MAX];
    int n = rg_user_prof_encode(&e->up, buf, sizeof buf);
    if (n < 0)
        return n;
    return rg_mem_user_put(s->mem, e->h, buf, (size_t)n);
}

/* A free entry, evicting with CLOCK if needed; -1 when every entry is
 * pinned or dirty (Redis mode: flush first). */
static int32_t cache_victim(struct rg_profile_store *s)
{
    if (s->used < s->cap)
        return (int32_t)s->used++;
    for (size_t k = 0; k < 2 * s->cap + 1; k++) {
        size_t i = s->hand;
        s->hand = (s->hand + 1) % s->cap;
        struct centry *e = &s->ents[i];
        if (e->pin == s->stamp || (e->dirty && !s->mem_mode))
            continue;
        if (e->ref) {
            e->ref = 0;
            continue;
        }
        if (e->dirty && mem_writeback(s, e) < 0)
            continue;
        e->dirty = 0;
        cache_unlink(s, (int32_t)i);
        s->st.cache_evictions++;
        return (int32_t)i;
    }
    return -1;
}

static int32_t cache_alloc(struct rg_profile_store *s, uint64_t h)
{
    int32_t idx = cache_victim(s);
    if (idx < 0 && !s->mem_mode && rg_profile_flush(s) == 0)
        idx = cache_victim(s);
    if (idx < 0)
        return -1;
    struct centry *e = &s->ents[idx];
    e->h = h;
    e->dirty = 0;
    e->ref = 1;
    e->pin = s->stamp;
    e->loading = 1;
    size_t b = h & s->hmask;
    e->next = s->heads[b];
    s->heads[b] = idx;
    return idx;
}

/* Load a value into a pending entry: absent -> fresh, corrupt -> counted,
 * fresh and dirty (so the bad value is replaced at the next flush). */
static void entry_load(struct rg_profile_store *s, int32_t idx, const unsigned char *v, size_t len)
{
    struct centry *e = &s->ents[idx];
    e->loading = 0;
    rg_user_prof_init(&e->up);
    if (!v)
        return;
    if (rg_user_prof_decode(&e->up, v, len) < 0) {
        rg_user_prof_init(&e->up);
        s->st.corrupt_values++;
        RG_LOG_RATELIMITED(RG_LOG_WARN, "profile", "corrupt user profile replaced");
        mark_dirty(s, idx);
    }
}

/* ---- flush ---- */

/* Key/value argv pairs of the dirty users from s->dirty[*k] on, at most
 * cap of them (s->enc holds their encodings), appended at *a; advances *k
 * past the users taken and returns how many were. */
static size_t user_args(struct rg_profile_store *s, size_t *k, size_t *a, size_t cap)
{
    size_t used = 0;
    for (; *k < s->ndirty && used < cap; (*k)++) {
        struct centry *e = &s->ents[s->dirty[*k]];
        if (!e->h || !e->dirty)
            continue;
        unsigned char *buf = s->enc + used * RG_UP_ENC_MAX;
        int len = rg_user_prof_encode(&e->up, buf, RG_UP_ENC_MAX);
        if (len < 0)
            continue;
        s->argv[*a] = e->key;
        s->argvlen[(*a)++] = strlen(e->key);
        s->argv[*a] = (const char *)buf;
        s->argvlen[(*a)++] = (size_t)len;
        used++;
    }
    return used;
}

/* Append one EVALSHA of RG_LUA_USERS per FLUSH_CHUNK dirty users to the
 * pipeline; returns how many commands were appended. The encoded values
 * are copied into hiredis's buffer by each append, so s->enc is reused. */
static size_t append_user_writes(struct rg_profile_store *s)
{
    char ttl[NUMLEN];
    snprintf(ttl, sizeof ttl, "%" PRId64, s->ttl_ms);
    size_t ncmd = 0;
    for (size_t k = 0; k < s->ndirty;) {
        size_t a = 0;
        s->argv[a] = "EVALSHA";
        s->argvlen[a++] = 7;
        s->argv[a] = s->sha_users;
        s->argvlen[a++] = 40;
        s->argv[a] = "0";
        s->argvlen[a++] = 1;
        s->argv[a] = ttl;
        s->argvlen[a++] = strlen(ttl);
        if (!user_args(s, &k, &a, FLUSH_CHUNK))
            break;
        redisAppendCommandArgv(s->rc, (int)a, s->argv, s->argvlen);
        ncmd++;
    }
    return ncmd;
}

/* Read the replies of append_user_writes(); on success every user written
 * is clean. Returns false when a write failed (the users stay dirty). */
static bool read_user_writes_n(struct rg_profile_store *s, size_t ncmd)
{
    bool ok = true;
    for (size_t c = 0; c < ncmd; c++) {
        redisReply *r = NULL;
        if (redisGetReply(s->rc, (void **)&r) != REDIS_OK || r->type == REDIS_REPLY_ERROR)
            ok = false;
        if (r)
            freeReplyObject(r);
        if (!s->rc || s->rc->err)
            return false;
    }
    return ok;
}

static bool read_user_writes(struct rg_profile_store *s, size_t ncmd)
{
    bool ok = read_user_writes_n(s, ncmd);
    if (ok) {
        for (size_t k = 0; k < s->ndirty; k++)
            s->ents[s->dirty[k]].dirty = 0;
        s->ndirty = 0;
    }
    return ok;
}

int rg_profile_flush(struct rg_profile_store *s)
{
    if (!s)
        return RG_EINVAL;
    if (!s->ndirty)
        return 0;
    if (s->mem_mode)
        return 0; /* nothing to persist: profiles live in the cache and the map */
    int rc = conn_get(s);
    if (rc < 0)
        return rc;
    size_t ncmd = append_user_writes(s);
    if (!ncmd) {
        s->ndirty = 0;
        return 0;
    }
    s->st.cmds_sent += ncmd;
    s->st.round_trips++;
    if (!read_user_writes(s, ncmd)) {
        conn_drop(s, "user write-back failed");
        return RG_EAGAIN;
    }
    return 0;
}

size_t rg_profile_forget(struct rg_profile_store *s, size_t *dropped)
{
    if (dropped)
        *dropped = 0;
    if (!s)
        return 0;
    if (!s->mem_mode && s->ndirty)
        (void)rg_profile_flush(s); /* what it cannot write is dropped below */
    size_t forgotten = 0;
    for (size_t i = 0; i < s->used; i++) {
        struct centry *e = &s->ents[i];
        if (!e->h)
            continue;
        if (e->dirty) {
            if (s->mem_mode) {
                (void)mem_writeback(s, e);
            } else {
                s->st.updates_dropped++;
                if (dropped)
                    (*dropped)++;
            }
        }
        e->h = 0;
        e->dirty = 0;
        e->ref = 0;
        e->loading = 0;
        forgotten++;
    }
    for (size_t i = 0; i <= s->hmask; i++)
        s->heads[i] = -1;
    s->used = 0;
    s->hand = 0;
    s->ndirty = 0;
    return forgotten;
}

/* ---- batch ---- */

/* Load the users missing from the cache: one MGET round trip (Redis) or
 * the in-memory map. On failure the pending entries are dropped and their
 * events go on without a user profile. */
static int load_misses(struct rg_profile_store *s, size_t n, size_t nmiss)
{
    if (!nmiss)
        return 0;
    if (s->mem_mode) {
        for (size_t k = 0; k < nmiss; k++) {
            size_t len = 0;
            const unsigned char *v = rg_mem_user_get(s->mem, s->ents[s->miss[k]].h, &len);
            entry_load(s, s->miss[k], v, len);
        }
        return 0;
    }
    int rc = conn_get(s);
    redisReply *rm = NULL;
    if (rc == 0) {
        s->argv[0] = "MGET";
        s->argvlen[0] = 4;
        for (size_t k = 0; k < nmiss; k++) {
            s->argv[1 + k] = s->ents[s->miss[k]].key;
            s->argvlen[1 + k] = strlen(s->ents[s->miss[k]].key);
        }
        s->st.cmds_sent++;
        s->st.round_trips++;
        rm = redisCommandArgv(s->rc, (int)(1 + nmiss), s->argv, s->argvlen);
        if (!rm || rm->type != REDIS_REPLY_ARRAY || rm->elements != nmiss) {
            conn_drop(s, rm && rm->type == REDIS_REPLY_ERROR ? rm->str
                         : s->rc && s->rc->err ? s->rc->errstr : "bad MGET reply");
            rc = RG_EAGAIN;
        }
    }
    if (rc < 0) {
        if (rm)
            freeReplyObject(rm);
        for (size_t k = 0; k < nmiss; k++)
            cache_unlink(s, s->miss[k]);
        for (size_t i = 0; i < n; i++)
            if (s->ev_ent[i] >= 0 && s->ents[s->ev_ent[i]].loading)
                s->ev_ent[i] = -1;
        for (size_t k = 0; k < nmiss; k++)
            s->ents[s->miss[k]].loading = 0;
        return rc;
    }
    for (size_t k = 0; k < nmiss; k++) {
        redisReply *v = rm->element[k];
        if (v->type == REDIS_REPLY_STRING)
            entry_load(s, s->miss[k], (const unsigned char *)v->str, v->len);
        else
            entry_load(s, s->miss[k], NULL, 0);
    }
    freeReplyObject(rm);
    return 0;
}

static void put_i32(unsigned char *p, int64_t v)
{
    uint32_t u = (uint32_t)v;
    p[0] = (unsigned char)u;
    p[1] = (unsigned char)(u >> 8);
    p[2] = (unsigned char)(u >> 16);
    p[3] = (unsigned char)(u >> 24);
}

/* One merchant cell bumped exactly as the script's mbump() does. */
static void cell_bump(unsigned char *c, int64_t off, int64_t unit)
{
    int64_t u = cell_i32(c + off), k = cell_i32(c + off + 4);
    if (k > 0 && u == unit)
        k++;
    else if (k == 0 || u < unit) {
        u = unit;
        k = 1;
    } else
        return;
    put_i32(c + off, u);
    put_i32(c + off + 4, k);
}

static int64_t fmod_pos(int64_t a, int64_t m) { return ((a % m) + m) % m; }

/* An event's merchant counts from the cells of its merchant as they stood
 * before the batch, with the bumps of the batch's earlier events replayed
 * in place (the script returns which events bumped). */
static void merch_replay(unsigned char *c, int64_t t_ms, bool bumped, struct rg_shared_feats *sh)
{
    long long v[4];
    merch_sums(c, t_ms, v);
    sh->m_count_1h = v[0];
    sh->m_events_30d = v[1];
    sh->m_frauds_30d = v[2];
    sh->m_frauds_7d = v[3];
    if (bumped) {
        int64_t minute = t_ms / 60000, day = t_ms / 86400000;
        cell_bump(c, 8 * fmod_pos(minute, 60), minute);
        cell_bump(c, 4 * (120 + 2 * fmod_pos(day, 31)), day);
    }
}

/* The batch's one EVALSHA of RG_LUA_BATCH: the shared entities, then the
 * write-back of every user this batch touched, atomically, so that their
 * replay marks and the shared updates are written together. Users left
 * dirty by an earlier failed write-back go first, as RG_LUA_USERS calls
 * in the same round trip. Returns 0 when the script ran (s->sh filled);
 * the users are clean only then. */
static int redis_batch(struct rg_profile_store *s, size_t n)
{
    int rc = conn_get(s);
    if (rc < 0)
        return rc;
    /* s->dirty reordered: older users first, this batch's last */
    size_t first = 0, nb = 0;
    for (size_t k = 0; k < s->ndirty; k++) {
        int32_t idx = s->dirty[k];
        if (s->ents[idx].pin == s->stamp && nb < RG_PROF_MAX_BATCH)
            s->bdirty[nb++] = idx;
        else
            s->dirty[first++] = idx;
    }
    memcpy(s->dirty + first, s->bdirty, nb * sizeof *s->dirty);
    size_t nold = 0;
    if (first) {
        size_t keep = s->ndirty;
        s->ndirty = first;
        nold = append_user_writes(s);
        s->ndirty = keep;
    }
    size_t a = 0;
    char ttl[NUMLEN], cnt[NUMLEN], nowmin[NUMLEN];
    snprintf(ttl, sizeof ttl, "%" PRId64, s->ttl_ms);
    snprintf(cnt, sizeof cnt, "%zu", n);
    snprintf(nowmin, sizeof nowmin, "%" PRId64, rg_clock_now_ms() / 60000);
    s->argv[a++] = "EVALSHA";
    s->argv[a++] = s->sha_batch;
    s->argv[a++] = "0";
    s->argv[a++] = ttl;
    s->argv[a++] = cnt;
    s->argv[a++] = nowmin;
    for (size_t i = 0; i < n; i++) {
        const struct rg_shared_ev *ev = &s->sev[i];
        char *t = s->num[i];
        snprintf(t, NUMLEN, "%" PRId64, ev->t_ms);
        s->argv[a++] = ev->update ? "1" : "0";
        s->argv[a++] = t;
        s->argv[a++] = s->ev_ent[i] >= 0 ? s->uel[i] : "";
        s->argv[a++] = ev->dev_h ? s->kd[i] : "";
        s->argv[a++] = ev->merch_h ? s->km[i] : "";
        s->argv[a++] = ev->ip_h ? s->ki[i] : "";
    }
    for (size_t j = 0; j < a; j++)
        s->argvlen[j] = strlen(s->argv[j]);
    size_t from = first;
    user_args(s, &from, &a, RG_PROF_MAX_BATCH); /* argv holds 6 + 8 * RG_PROF_MAX_BATCH */
    redisAppendCommandArgv(s->rc, (int)a, s->argv, s->argvlen);
    s->st.cmds_sent += 1 + nold;
    s->st.round_trips++;

    bool old_ok = nold == 0 || read_user_writes_n(s, nold);
    redisReply *rs = NULL;
    if (!s->rc || redisGetReply(s->rc, (void **)&rs) != REDIS_OK || rs->type != REDIS_REPLY_ARRAY ||
        rs->elements < 3 * n)
        goto io;
    size_t nm = rs->elements - 3 * n;
    for (size_t k = 0; k < nm; k++) {
        redisReply *c = rs->element[3 * n + k];
        if (c->type != REDIS_REPLY_STRING || c->len != RG_MERCH_BYTES)
            goto io;
    }
    /* Per event: device members and IP members as they stood before the
     * event, or -1; the merchant slot (scripts.h). The counts are made here,
     * the merchants' cells replayed in place in the reply. */
    for (size_t i = 0; i < n; i++) {
        struct rg_shared_feats *sh = &s->sh[i];
        redisReply **el = &rs->element[3 * i];
        int64_t t = s->sev[i].t_ms, unused;
        sh->dev_users_24h = sh->dev_users_30d = sh->ip_users_24h = -1;
        sh->m_count_1h = sh->m_events_30d = sh->m_frauds_30d = sh->m_frauds_7d = -1;
        if (el[0]->type == REDIS_REPLY_STRING)
            set_counts((const unsigned char *)el[0]->str, el[0]->len, t, &sh->dev_users_24h,
                       &sh->dev_users_30d);
        if (el[1]->type == REDIS_REPLY_STRING)
            set_counts((const unsigned char *)el[1]->str, el[1]->len, t, &sh->ip_users_24h,
                       &unused);
        if (el[2]->type == REDIS_REPLY_INTEGER && el[2]->integer >= 0) {
            size_t m = (size_t)(el[2]->integer / 2);
            if (m >= nm)
                goto io;
            merch_replay((unsigned char *)rs->element[3 * n + m]->str, t, el[2]->integer & 1, sh);
        }
    }
    freeReplyObject(rs);
    if (old_ok) {
        for (size_t k = 0; k < s->ndirty; k++)
            s->ents[s->dirty[k]].dirty = 0;
        s->ndirty = 0;
    } else {
        for (size_t k = first; k < s->ndirty; k++)
            s->ents[s->dirty[k]].dirty = 0;
        s->ndirty = first;
    }
    return 0;
io:
    /* rs may be an error reply (e.g. NOSCRIPT after a SCRIPT FLUSH):
     * reconnecting reloads the scripts. */
    conn_drop(s, rs && rs->type == REDIS_REPLY_ERROR ? rs->str
                 : s->rc && s->rc->err ? s->rc->errstr : "bad reply");
    if (rs)
        freeReplyObject(rs);
    return RG_EAGAIN;
}

/* ---- process ---- */

/* One event's own update of its cached user profile: skipped (but
 * counted) when the profile's replay mark says it was applied already.
 * Returns true for such a replay. */
static bool apply_event(struct rg_profile_store *s, int32_t idx, const struct rg_txn *txn,
                        int64_t now)
{
    struct centry *e = &s->ents[idx];
    bool replay = txn->offset >= 0 && e->up.hw_offset >= 0 &&
                  txn->partition == e->up.hw_partition && txn->offset <= e->up.hw_offset;
    int r = rg_user_prof_apply(&e->up, txn, now);
    if (replay)
        s->st.replays_skipped++;
    else
        mark_dirty(s, idx);
    if (!replay && r == 0)
        s->st.too_old++;
    return replay;
}

int rg_profile_process_batch(struct rg_profile_store *s, const struct rg_txn *txns, size_t n,
                             double *feat, struct rg_user_ctx *uctx, bool *degraded)
{
    if (!s || (n && (!txns || !feat || !uctx || !degraded)) || n > RG_PROF_MAX_BATCH)
        return RG_EINVAL;
    int64_t now = rg_clock_now_ms();
    s->stamp++;
    size_t nmiss = 0;
    bool any_shared = false;
    for (size_t i = 0; i < n; i++) {
        const struct rg_txn *txn = &txns[i];
        uint64_t h = rg_prof_hash64('u', txn->user_id);
        int32_t idx = cache_find(s, h);
        if (idx >= 0) {
            if (s->ents[idx].pin != s->stamp)
                s->st.cache_hits++;
            s->ents[idx].ref = 1;
            s->ents[idx].pin = s->stamp;
        } else if ((idx = cache_alloc(s, h)) >= 0) {
            s->st.cache_misses++;
            if (!s->mem_mode && store_key(s, 'u', txn->user_id, s->ents[idx].key) < 0) {
                cache_unlink(s, idx);
                idx = -1;
            } else {
                s->miss[nmiss++] = idx;
            }
        }
        s->ev_ent[i] = idx;

        struct rg_shared_ev *ev = &s->sev[i];
        int64_t t = rg_prof_event_time(txn->ts_ms, now);
        ev->update = t >= now - RG_PROF_MAX_AGE_MS;
        ev->t_ms = t;
        ev->user_h = h;
        ev->dev_h = (txn->has & RG_HAS_DEVICE_ID) ? rg_prof_hash64('d', txn->device_id) : 0;
        ev->merch_h = (txn->has & RG_HAS_MERCHANT_ID) ? rg_prof_hash64('m', txn->merchant_id) : 0;
        ev->ip_h = (txn->has & RG_HAS_IP) ? rg_prof_hash64('i', txn->ip) : 0;
        if (!s->mem_mode) {
            /* member sets live under kinds 'D' and 'I', merchant cells under
             * 'M' (strings, scripts.h); 'd' is the device's label hash */
            if (ev->dev_h && entity_key(s, 'D', txn->device_id, ev->dev_h, s->kd[i]) < 0)
                ev->dev_h = 0;
            if (ev->merch_h && entity_key(s, 'M', txn->merchant_id, ev->merch_h, s->km[i]) < 0)
                ev->merch_h = 0;
            if (ev->ip_h && entity_key(s, 'I', txn->ip, ev->ip_h, s->ki[i]) < 0)
                ev->ip_h = 0;
            if (idx < 0) { /* the script needs a user element; no user, no shared update */
                ev->dev_h = ev->merch_h = ev->ip_h = 0;
            } else {
                const char *k = s->ents[idx].key;
                memcpy(s->uel[i], k + strlen(k) - RG_SHARED_USER_ID_LEN, RG_SHARED_USER_ID_LEN);
                s->uel[i][RG_SHARED_USER_ID_LEN] = 0;
            }
        }
        any_shared |= ev->dev_h || ev->merch_h || ev->ip_h;
    }

    /* Users missing from the cache are loaded first (one MGET), so that
     * every event's replay mark is known before any shared update. */
    load_misses(s, n, nmiss);

    /* In event order: the user features (point in time: before the event's
     * own update), then the update. An event the user's profile has applied
     * already (a replay after a restart) updates no shared entity either. */
    for (size_t i = 0; i < n; i++) {
        double *out = feat + i * RG_FEAT_COUNT;
        if (s->ev_ent[i] < 0) {
            uctx[i].preferred = RG_METHOD_NONE;
            uctx[i].failed_step_ups_24h = -1;
            continue;
        }
        const struct rg_user_prof *up = &s->ents[s->ev_ent[i]].up;
        rg_feature_compute(up, NULL, &txns[i], now, out);
        uctx[i].preferred = (enum rg_step_up_method)up->preferred;
        uctx[i].failed_step_ups_24h = (int)out[RG_FEAT_USER_FAILED_STEP_UPS_24H];
        if (apply_event(s, s->ev_ent[i], &txns[i], now))
            s->sev[i].update = 0;
    }

    /* The shared entities and, in Redis mode, the write-back: one round
     * trip, one atomic script. */
    int rc = 0;
    if (s->mem_mode) {
        for (size_t i = 0; i < n; i++)
            rg_mem_shared(s->mem, &s->sev[i], &s->sh[i]);
    } else if (any_shared || s->ndirty) {
        rc = redis_batch(s, any_shared ? n : 0);
    }
    bool shared_ok = rc == 0;
    bool all_ok = shared_ok;
    for (size_t i = 0; i < n; i++) {
        const struct rg_txn *txn = &txns[i];
        struct centry *e = s->ev_ent[i] >= 0 ? &s->ents[s->ev_ent[i]] : NULL;
        bool has_shared = txn->has & (RG_HAS_DEVICE_ID | RG_HAS_MERCHANT_ID | RG_HAS_IP);
        bool sh_ok = shared_ok && (s->sev[i].dev_h || s->sev[i].merch_h || s->sev[i].ip_h);
        double *out = feat + i * RG_FEAT_COUNT;
        if (e) {
            if (sh_ok) /* the user part is in out already */
                rg_feature_add_shared(&s->sh[i], txn, out);
        } else {
            rg_feature_compute(NULL, sh_ok ? &s->sh[i] : NULL, txn, now, out);
        }
        degraded[i] = !e || (has_shared && !sh_ok);
        if (has_shared && !sh_ok)
            s->st.updates_dropped++;
        if (!e) {
            s->st.updates_dropped++;
            all_ok = false;
        }
    }
    s->st.events += n;
    return all_ok ? 0 : RG_EAGAIN;
}

/* ---- feedback ---- */

static int fb_fail(char *reason, size_t cap, int err, const char *msg)
{
    if (reason && cap)
        snprintf(reason, cap, "%s", msg);
    return err;
}

static const char *jstr(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* The cached user entry for feedback, loading it synchronously on a miss. */
static int feedback_user(struct rg_profile_store *s, const char *user_id, int32_t *out)
{
    uint64_t h = rg_prof_hash64('u', user_id);
    int32_t idx = cache_find(s, h);
    if (idx >= 0) {
        s->st.cache_hits++;
        *out = idx;
        return 0;
    }
    s->stamp++;
    if ((idx = cache_alloc(s, h)) < 0)
        return RG_EAGAIN;
    s->st.cache_misses++;
    if (s->mem_mode) {
        size_t len = 0;
        const unsigned char *v = rg_mem_user_get(s->mem, h, &len);
        entry_load(s, idx, v, len);
        *out = idx;
        return 0;
    }
    int rc = store_key(s, 'u', user_id, s->ents[idx].key); /* key length or < 0 */
    if (rc >= 0)
        rc = conn_get(s);
    if (rc < 0) {
        cache_unlink(s, idx);
        return rc;
    }
    const char *av[2] = { "GET", s->ents[idx].key };
    s->st.cmds_sent++;
    s->st.round_trips++;
    redisReply *r = redisCommandArgv(s->rc, 2, av, NULL);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
        if (r)
            freeReplyObject(r);
        cache_unlink(s, idx);
        conn_drop(s, "GET failed");
        return RG_EAGAIN;
    }
    if (r->type == REDIS_REPLY_STRING)
        entry_load(s, idx, (const unsigned char *)r->str, r->len);
    else
        entry_load(s, idx, NULL, 0);
    freeReplyObject(r);
    *out = idx;
    return 0;
}

static int feedback_label_shared(struct rg_profile_store *s, const char *event_id,
                                 const char *merchant_id, const char *device_id, int64_t at)
{
    if (s->mem_mode) {
        return rg_mem_label(s->mem, rg_prof_hash64('l', event_id),
                            merchant_id ? rg_prof_hash64('m', merchant_id) : 0,
                            device_id ? rg_prof_hash64('d', device_id) : 0, at);
    }
    char lk[KEYLEN], mk[KEYLEN] = "", dk[KEYLEN] = "", ttl[NUMLEN], at_s[NUMLEN];
    if (store_key(s, 'l', event_id, lk) < 0 ||
        (merchant_id && store_key(s, 'M', merchant_id, mk) < 0) ||
        (device_id && store_key(s, 'd', device_id, dk) < 0))
        return RG_EINVAL;
    int rc = conn_get(s);
    if (rc < 0)
        return rc;
    snprintf(ttl, sizeof ttl, "%" PRId64, s->ttl_ms);
    snprintf(at_s, sizeof at_s, "%" PRId64, at);
    const char *av[8] = { "EVALSHA", s->sha_label, "0", ttl, lk, mk, dk, at_s };
    s->st.cmds_sent++;
    s->st.round_trips++;
    redisReply *r = redisCommandArgv(s->rc, 8, av, NULL);
    if (!r || r->type != REDIS_REPLY_INTEGER) {
        conn_drop(s, r && r->type == REDIS_REPLY_ERROR ? r->str : "label script failed");
        if (r)
            freeReplyObject(r);
        return RG_EAGAIN;
    }
    int applied = r->integer == 1;
    freeReplyObject(r);
    return applied;
}

static bool id_ok(const char *v) { return v && *v && strlen(v) <= RG_ID_MAX; }

int rg_profile_feedback(struct rg_profile_store *s, const char *json, size_t len, char *reason,
                        size_t reason_cap)
{
    if (!s || !json)
        return fb_fail(reason, reason_cap, RG_EINVAL, "no input");
    cJSON *o = cJSON_ParseWithLength(json, len);
    int rc = 0;
    if (!o || !cJSON_IsObject(o)) {
        rc = fb_fail(reason, reason_cap, RG_EPARSE, "feedback is not a JSON object");
        goto done;
    }
    const char *type = jstr(o, "type"), *user_id = jstr(o, "user_id");
    const char *event_id = jstr(o, "event_id");
    if (!type) {
        rc = fb_fail(reason, reason_cap, RG_EINVAL, "missing string field \"type\"");
        goto done;
    }
    if (!id_ok(user_id)) {
        rc = fb_fail(reason, reason_cap, RG_EINVAL, "missing or invalid \"user_id\"");
        goto done;
    }
    int64_t at = rg_clock_now_ms();
    int32_t idx;
    if (strcmp(type, "label") == 0) {
        const char *label = jstr(o, "label"), *mid = jstr(o, "merchant_id");
        const char *did = jstr(o, "device_id");
        if (!id_ok(event_id)) {
            rc = fb_fail(reason, reason_cap, RG_EINVAL, "label: missing or invalid \"event_id\"");
        } else if (!label || (strcmp(label, "fraud") != 0 && strcmp(label, "legit") != 0)) {
            rc = fb_fail(reason, reason_cap, RG_EINVAL, "label: \"label\" must be fraud or legit");
        } else if ((mid && !id_ok(mid)) || (did && !id_ok(did))) {
            rc = fb_fail(reason, reason_cap, RG_EINVAL, "label: invalid merchant_id or device_id");
        } else if (strcmp(label, "fraud") == 0) {
            if ((rc = feedback_user(s, user_id, &idx)) < 0)
                goto done;
            rc = feedback_label_shared(s, event_id, mid, did, at);
            if (rc < 0)
                goto done;
            if (rc == 1 && rg_user_prof_add_fraud(&s->ents[idx].up, event_id, at)) {
                mark_dirty(s, idx);
                s->st.feedback_applied++;
            } else {
                s->st.feedback_duplicates++;
            }
            rc = 0;
        } else {
            s->st.feedback_applied++; /* legit: nothing to count */
        }
    } else if (strcmp(type, "auth_result") == 0) {
        const char *result = jstr(o, "result");
        if (!id_ok(event_id)) {
            rc = fb_fail(reason, reason_cap, RG_EINVAL, "auth_result: missing \"event_id\"");
        } else if (!result || (strcmp(result, "passed") != 0 && strcmp(result, "failed") != 0 &&
                               strcmp(result, "abandoned") != 0)) {
            rc = fb_fail(reason, reason_cap, RG_EINVAL,
                         "auth_result: \"result\" must be passed, failed or abandoned");
        } else if (strcmp(result, "passed") == 0) {
            s->st.feedback_applied++;
        } else {
            if ((rc = feedback_user(s, user_id, &idx)) < 0)
                goto done;
            if (rg_user_prof_add_failed_step_up(&s->ents[idx].up, event_id, at)) {
                mark_dirty(s, idx);
                s->st.feedback_applied++;
            } else {
                s->st.feedback_duplicates++;
            }
        }
    } else if (strcmp(type, "settings") == 0) {
        const char *m = jstr(o, "step_up_method");
        enum rg_step_up_method meth = m ? rg_method_parse(m) : RG_METHOD_NONE;
        if (meth == RG_METHOD_NONE) {
            rc = fb_fail(reason, reason_cap, RG_EINVAL,
                         "settings: \"step_up_method\" must be otp, biometric or password");
        } else {
            if ((rc = feedback_user(s, user_id, &idx)) < 0)
                goto done;
            s->ents[idx].up.preferred = (uint8_t)meth;
            mark_dirty(s, idx);
            s->st.feedback_applied++;
        }
    } else {
        rc = fb_fail(reason, reason_cap, RG_EINVAL,
                     "unknown \"type\" (expected label, auth_result or settings)");
    }
done:
    cJSON_Delete(o);
    return rc;
}

/* ---- secret ---- */

int rg_profile_secret_load(const char *path, unsigned char *buf, size_t cap)
{
    const char *env = getenv("RISKGATE_PROFILE_SECRET");
    size_t n = 0;
    if (env && *env) {
        n = strlen(env);
        if (n > cap)
            return RG_ETOOBIG;
        memcpy(buf, env, n);
    } else {
        if (!path)
            return RG_EINVAL;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return errno == ENOENT ? RG_ENOTFOUND : RG_EIO;
        ssize_t r;
        while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
            n += (size_t)r;
        close(fd);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
    }
    return n < 16 ? RG_EINVAL : (int)n;
}
