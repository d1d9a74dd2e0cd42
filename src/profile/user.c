/*
 * user.c - the user profile: updates (apply), feedback marks, and the
 * compact versioned binary encoding stored in Redis / the in-memory map.
 *
 * DESIGN
 * - Windows are exact while the user has at most RG_UP_RING events in the
 *   last 24 h: those events are kept one by one in `ring` (ascending time).
 *   When the ring is full, the oldest event moves into an hourly bucket
 *   (count, amount, gift amount); windows then count whole buckets whose
 *   hour starts inside the window (approximate at the window's old edge).
 * - Moments of the amount are exponentially decayed with a 30-day half-life
 *   (West's weighted incremental algorithm); an out-of-order event enters
 *   with the weight it would have had, older state is not re-decayed.
 * - Encoding (version 1, little endian): fixed header, then only the
 *   non-empty ring entries, buckets, set slots and marks, then CRC-32 of
 *   everything before it. Ring times are stored as uint32 ms before
 *   last_ms (the ring never holds anything older than 24 h before last_ms).
 *   Anything that does not decode exactly is RG_ECORRUPT and never trusted.
 */
#include "riskgate/profile.h"

#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "riskgate/err.h"

#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)
#define HALF_LIFE_MS (30 * DAY_MS)

uint16_t rg_prof_hash16(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    uint16_t v = (uint16_t)(h ^ (h >> 16) ^ (h >> 32) ^ (h >> 48));
    return v ? v : 1;
}

void rg_user_prof_init(struct rg_user_prof *up)
{
    memset(up, 0, sizeof *up);
    up->hw_partition = -1;
    up->hw_offset = -1;
    up->month = -1;
}

int64_t rg_prof_event_time(int64_t ts_ms, int64_t now_ms)
{
    return ts_ms > now_ms + RG_PROF_FUTURE_SKEW_MS ? now_ms : ts_ms;
}

static int32_t month_of(int64_t t_ms)
{
    time_t secs = (time_t)(t_ms >= 0 ? t_ms / 1000 : (t_ms - 999) / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        return -1;
    return (int32_t)((tm.tm_year + 1900) * 12 + tm.tm_mon);
}

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool is_gift(const struct rg_txn *txn)
{
    return (txn->has & RG_HAS_MERCHANT_CAT) && (strcmp(txn->merchant_category, "gift_card") == 0 ||
                                                strcmp(txn->merchant_category, "game") == 0);
}

static void bucket_add(struct rg_user_prof *up, const struct rg_up_event *ev)
{
    int32_t hour = (int32_t)floordiv(ev->ts_ms, HOUR_MS);
    struct rg_up_bucket *b = &up->buckets[((hour % RG_UP_BUCKETS) + RG_UP_BUCKETS) % RG_UP_BUCKETS];
    if (b->n > 0 && b->hour > hour)
        return; /* slot already holds a newer hour: this one is out of every window */
    if (b->n == 0 || b->hour != hour) {
        b->hour = hour;
        b->n = 0;
        b->amount = 0;
        b->gift = 0;
    }
    if (b->n < UINT16_MAX)
        b->n++;
    b->amount += ev->amount;
    if (ev->flags & RG_UP_EV_GIFT)
        b->gift += ev->amount;
}

static void ring_insert(struct rg_user_prof *up, const struct rg_up_event *ev)
{
    if (up->n_ring == RG_UP_RING) {
        if (ev->ts_ms < up->ring[0].ts_ms) {
            bucket_add(up, ev);
            return;
        }
        bucket_add(up, &up->ring[0]);
        memmove(&up->ring[0], &up->ring[1], (RG_UP_RING - 1) * sizeof up->ring[0]);
        up->n_ring--;
    }
    int i = up->n_ring;
    while (i > 0 && up->ring[i - 1].ts_ms > ev->ts_ms) {
        up->ring[i] = up->ring[i - 1];
        i--;
    }
    up->ring[i] = *ev;
    up->n_ring++;
}

/* Drop ring entries and buckets that no window can reach any more. */
static void prune(struct rg_user_prof *up)
{
    int64_t horizon = up->last_ms - DAY_MS;
    int k = 0;
    while (k < up->n_ring && up->ring[k].ts_ms < horizon)
        k++;
    if (k) {
        memmove(&up->ring[0], &up->ring[k], (size_t)(up->n_ring - k) * sizeof up->ring[0]);
        up->n_ring = (uint8_t)(up->n_ring - k);
    }
    int32_t last_hour = (int32_t)floordiv(up->last_ms, HOUR_MS);
    for (int i = 0; i < RG_UP_BUCKETS; i++)
        if (up->buckets[i].n && up->buckets[i].hour <= last_hour - RG_UP_BUCKETS)
            memset(&up->buckets[i], 0, sizeof up->buckets[i]);
}

static void set_touch(struct rg_up_slot *set, uint16_t hash, uint32_t t_s)
{
    int empty = -1, oldest = 0;
    for (int i = 0; i < RG_UP_SET; i++) {
        if (set[i].hash == hash) {
            if (t_s > set[i].seen_s)
                set[i].seen_s = t_s;
            return;
        }
        if (!set[i].hash && empty < 0)
            empty = i;
        if (set[i].seen_s < set[oldest].seen_s)
            oldest = i;
    }
    int at = empty >= 0 ? empty : oldest;
    if (empty < 0 && set[at].seen_s > t_s)
        return; /* every member is more recent than this sighting */
    set[at].hash = hash;
    set[at].seen_s = t_s;
}

static void moments_add(struct rg_user_prof *up, double x, int64_t t)
{
    double a = 1.0;
    if (up->weight <= 0) {
        up->moments_ms = t;
    } else if (t >= up->moments_ms) {
        double d = exp2(-(double)(t - up->moments_ms) / (double)HALF_LIFE_MS);
        up->weight *= d;
        up->m2 *= d;
        up->moments_ms = t;
    } else {
        a = exp2(-(double)(up->moments_ms - t) / (double)HALF_LIFE_MS);
    }
    double w = up->weight + a;
    double delta = x - up->mean;
    double mean = up->mean + a * delta / w;
    up->m2 += a * delta * (x - mean);
    if (up->m2 < 0)
        up->m2 = 0;
    up->mean = mean;
    up->weight = w;
}

int rg_user_prof_apply(struct rg_user_prof *up, const struct rg_txn *txn, int64_t now_ms)
{
    if (txn->offset >= 0) {
        if (up->hw_offset >= 0 && txn->partition == up->hw_partition && txn->offset <= up->hw_offset)
            return 0;
        up->hw_partition = txn->partition;
        up->hw_offset = txn->offset;
    }
    int64_t t = rg_prof_event_time(txn->ts_ms, now_ms);
    if (t < now_ms - RG_PROF_MAX_AGE_MS)
        return 0;
    uint32_t t_s = t > 0 ? (uint32_t)(t / 1000) : 1;
    if (up->n_events == 0 || t < up->first_ms)
        up->first_ms = t;
    if (up->n_events == 0 || t > up->last_ms)
        up->last_ms = t;
    if (up->n_events < UINT32_MAX)
        up->n_events++;

    moments_add(up, txn->amount, t);
    if ((txn->has & RG_HAS_GEO) && (!up->has_geo || t >= up->geo_ms)) {
        up->has_geo = true;
        up->lat = (float)txn->lat;
        up->lon = (float)txn->lon;
        up->geo_ms = t;
    }
    int hod = (int)(floordiv(t, HOUR_MS) % 24);
    if (hod < 0)
        hod += 24;
    if (up->hod[hod] == UINT8_MAX)
        for (int i = 0; i < 24; i++)
            up->hod[i] /= 2;
    up->hod[hod]++;

    struct rg_up_event ev = { .ts_ms = t, .amount = (float)txn->amount,
                              .flags = is_gift(txn) ? RG_UP_EV_GIFT : 0 };
    if (t >= up->last_ms - DAY_MS)
        ring_insert(up, &ev);
    prune(up);

    if (txn->has & RG_HAS_COUNTRY)
        set_touch(up->countries,
                  (uint16_t)(((unsigned char)txn->country[0] << 8) | (unsigned char)txn->country[1]),
                  t_s);
    if (txn->has & RG_HAS_DEVICE_ID)
        set_touch(up->devices, rg_prof_hash16(txn->device_id), t_s);
    if (txn->has & RG_HAS_MERCHANT_ID)
        set_touch(up->merchants, rg_prof_hash16(txn->merchant_id), t_s);

    int32_t m = month_of(t);
    bool carrier = (txn->has & RG_HAS_CHANNEL) && strcmp(txn->channel, "carrier_billing") == 0;
    if (m == up->month) {
        up->month_spend += txn->amount;
        if (carrier)
            up->month_carrier += txn->amount;
    } else if (m > up->month) {
        up->month = m;
        up->month_spend = txn->amount;
        up->month_carrier = carrier ? txn->amount : 0.0;
    }
    return 1;
}

static int add_mark(struct rg_up_mark *marks, const char *ev_id, int64_t at_ms)
{
    uint16_t ev = ev_id && *ev_id ? rg_prof_hash16(ev_id) : 0;
    uint32_t at_s = at_ms > 1000 ? (uint32_t)(at_ms / 1000) : 1;
    int oldest = 0;
    for (int i = 0; i < RG_UP_MARKS; i++) {
        if (ev && marks[i].at_s && marks[i].ev == ev)
            return 0;
        if (marks[i].at_s < marks[oldest].at_s)
            oldest = i;
    }
    marks[oldest].at_s = at_s;
    marks[oldest].ev = ev;
    return 1;
}

int rg_user_prof_add_failed_step_up(struct rg_user_prof *up, const char *ev_id, int64_t at_ms)
{
    return add_mark(up->failed, ev_id, at_ms);
}

int rg_user_prof_add_fraud(struct rg_user_prof *up, const char *ev_id, int64_t at_ms)
{
    return add_mark(up->frauds, ev_id, at_ms);
}

/* ---- encoding ---- */

static uint32_t g_crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        g_crc_table[i] = c;
    }
}

static uint32_t crc32_buf(const unsigned char *p, size_t n)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, crc_init);
    uint32_t c = 0xFFFFFFFFu;
    while (n--)
        c = g_crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

struct wr {
    unsigned char *p;
    size_t n, cap;
};

static void put(struct wr *w, const void *v, size_t len)
{
    /* Little-endian hosts only (x86-64, aarch64): asserted below. */
    if (w->n + len <= w->cap)
        memcpy(w->p + w->n, v, len);
    w->n += len;
}
#define PUT(w, x) put((w), &(x), sizeof(x))

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "encoding assumes little endian");

int rg_user_prof_encode(const struct rg_user_prof *up, unsigned char *buf, size_t cap)
{
    struct wr w = { buf, 0, cap };
    uint8_t counts[10] = { RG_UP_ENC_VERSION, up->has_geo ? 1 : 0, up->n_ring, 0, 0, 0, 0, 0, 0,
                           up->preferred };
    for (int i = 0; i < RG_UP_BUCKETS; i++)
        counts[3] += up->buckets[i].n > 0;
    for (int i = 0; i < RG_UP_SET; i++) {
        counts[4] += up->countries[i].hash != 0;
        counts[5] += up->devices[i].hash != 0;
        counts[6] += up->merchants[i].hash != 0;
    }
    for (int i = 0; i < RG_UP_MARKS; i++) {
        counts[7] += up->failed[i].at_s != 0;
        counts[8] += up->frauds[i].at_s != 0;
    }
    put(&w, counts, sizeof counts);
    PUT(&w, up->n_events);
    PUT(&w, up->first_ms);
    PUT(&w, up->last_ms);
    PUT(&w, up->hw_partition);
    PUT(&w, up->hw_offset);
    PUT(&w, up->mean);
    PUT(&w, up->m2);
    PUT(&w, up->weight);
    PUT(&w, up->moments_ms);
    if (up->has_geo) {
        PUT(&w, up->lat);
        PUT(&w, up->lon);
        PUT(&w, up->geo_ms);
    }
    put(&w, up->hod, sizeof up->hod);
    PUT(&w, up->month);
    PUT(&w, up->month_spend);
    PUT(&w, up->month_carrier);
    for (int i = 0; i < up->n_ring; i++) {
        int64_t d = up->last_ms - up->ring[i].ts_ms;
        uint32_t d32 = d < 0 ? 0 : d > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)d;
        PUT(&w, d32);
        PUT(&w, up->ring[i].amount);
        PUT(&w, up->ring[i].flags);
    }
    int32_t last_hour = (int32_t)floordiv(up->last_ms, HOUR_MS);
    for (int i = 0; i < RG_UP_BUCKETS; i++) {
        const struct rg_up_bucket *b = &up->buckets[i];
        if (!b->n)
            continue;
        int32_t dh = last_hour - b->hour;
        uint8_t d8 = dh < 0 ? 0 : dh > 255 ? 255 : (uint8_t)dh;
        PUT(&w, d8);
        PUT(&w, b->n);
        PUT(&w, b->amount);
        PUT(&w, b->gift);
    }
    const struct rg_up_slot *sets[3] = { up->countries, up->devices, up->merchants };
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < RG_UP_SET; i++)
            if (sets[k][i].hash) {
                PUT(&w, sets[k][i].hash);
                PUT(&w, sets[k][i].seen_s);
            }
    const struct rg_up_mark *marks[2] = { up->failed, up->frauds };
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < RG_UP_MARKS; i++)
            if (marks[k][i].at_s) {
                PUT(&w, marks[k][i].at_s);
                PUT(&w, marks[k][i].ev);
            }
    if (w.n + 4 > cap)
        return RG_ETOOBIG;
    uint32_t crc = crc32_buf(buf, w.n);
    PUT(&w, crc);
    return (int)w.n;
}

struct rd {
    const unsigned char *p;
    size_t n, len;
    bool bad;
};

static void get(struct rd *r, void *v, size_t len)
{
    if (r->n + len > r->len) {
        r->bad = true;
        memset(v, 0, len);
        return;
    }
    memcpy(v, r->p + r->n, len);
    r->n += len;
}
#define GET(r, x) get((r), &(x), sizeof(x))

int rg_user_prof_decode(struct rg_user_prof *up, const unsigned char *buf, size_t len)
{
    struct rg_user_prof tmp;
    rg_user_prof_init(&tmp);
    if (!buf || len < 14 || buf[0] != RG_UP_ENC_VERSION)
        return RG_ECORRUPT;
    uint32_t crc;
    memcpy(&crc, buf + len - 4, 4);
    if (crc32_buf(buf, len - 4) != crc)
        return RG_ECORRUPT;
    struct rd r = { buf, 0, len - 4, false };
    uint8_t c[10];
    get(&r, c, sizeof c);
    if (c[1] > 1 || c[2] > RG_UP_RING || c[3] > RG_UP_BUCKETS || c[4] > RG_UP_SET ||
        c[5] > RG_UP_SET || c[6] > RG_UP_SET || c[7] > RG_UP_MARKS || c[8] > RG_UP_MARKS ||
        c[9] > RG_METHOD_PASSWORD)
        return RG_ECORRUPT;
    tmp.has_geo = c[1];
    tmp.n_ring = c[2];
    tmp.preferred = c[9];
    GET(&r, tmp.n_events);
    GET(&r, tmp.first_ms);
    GET(&r, tmp.last_ms);
    GET(&r, tmp.hw_partition);
    GET(&r, tmp.hw_offset);
    GET(&r, tmp.mean);
    GET(&r, tmp.m2);
    GET(&r, tmp.weight);
    GET(&r, tmp.moments_ms);
    if (tmp.has_geo) {
        GET(&r, tmp.lat);
        GET(&r, tmp.lon);
        GET(&r, tmp.geo_ms);
    }
    get(&r, tmp.hod, sizeof tmp.hod);
    GET(&r, tmp.month);
    GET(&r, tmp.month_spend);
    GET(&r, tmp.month_carrier);
    for (int i = 0; i < tmp.n_ring; i++) {
        uint32_t d32;
        GET(&r, d32);
        GET(&r, tmp.ring[i].amount);
        GET(&r, tmp.ring[i].flags);
        tmp.ring[i].ts_ms = tmp.last_ms - d32;
        if (i > 0 && tmp.ring[i].ts_ms < tmp.ring[i - 1].ts_ms)
            return RG_ECORRUPT;
        if (!isfinite(tmp.ring[i].amount) || tmp.ring[i].flags > RG_UP_EV_GIFT)
            return RG_ECORRUPT;
    }
    int32_t last_hour = (int32_t)floordiv(tmp.last_ms, HOUR_MS);
    for (int i = 0; i < c[3]; i++) {
        uint8_t d8;
        struct rg_up_bucket b;
        GET(&r, d8);
        GET(&r, b.n);
        GET(&r, b.amount);
        GET(&r, b.gift);
        b.hour = last_hour - d8;
        struct rg_up_bucket *dst =
            &tmp.buckets[((b.hour % RG_UP_BUCKETS) + RG_UP_BUCKETS) % RG_UP_BUCKETS];
        if (dst->n || !b.n || !isfinite(b.amount) || !isfinite(b.gift))
            return RG_ECORRUPT;
        *dst = b;
    }
    struct rg_up_slot *sets[3] = { tmp.countries, tmp.devices, tmp.merchants };
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < c[4 + k]; i++) {
            GET(&r, sets[k][i].hash);
            GET(&r, sets[k][i].seen_s);
            if (!sets[k][i].hash)
                return RG_ECORRUPT;
        }
    struct rg_up_mark *marks[2] = { tmp.failed, tmp.frauds };
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < c[7 + k]; i++) {
            GET(&r, marks[k][i].at_s);
            GET(&r, marks[k][i].ev);
            if (!marks[k][i].at_s)
                return RG_ECORRUPT;
        }
    if (r.bad || r.n != r.len)
        return RG_ECORRUPT;
    if (!isfinite(tmp.mean) || !isfinite(tmp.m2) || !isfinite(tmp.weight) || tmp.weight < 0 ||
        !isfinite(tmp.month_spend) || !isfinite(tmp.month_carrier) || tmp.last_ms < tmp.first_ms ||
        (tmp.has_geo && (!isfinite(tmp.lat) || !isfinite(tmp.lon))))
        return RG_ECORRUPT;
    *up = tmp;
    return 0;
}
