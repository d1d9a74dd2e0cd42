/*
 * compute.c - every catalog feature (feature.h) from a decoded user profile,
 * what the shared entities reported, the event and an explicit now.
 *
 * DESIGN
 * Pure function: no I/O, no clock read, no allocation, so unit tests pin
 * down every window edge without Redis and replay is deterministic.
 * Missing (NaN) means "cannot be known": no profile (Redis down or a user
 * that could not be loaded), no history for an average / ratio / "since",
 * no coordinates, no country or device id. A count over a known-empty
 * history is a real 0. Windows use the effective event time t (ts, clamped
 * to now when more than 5 minutes in the future) and include both edges:
 * a past event exactly 1 h before t is in the 1 h window, 1 h + 1 ms is not.
 * Past events later than t (an out-of-order event) are not in its windows.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "riskgate/feature.h"

#define RG_GEO_NOISE_KM 25.0
#include "riskgate/profile.h"

#define HOUR_MS 3600000LL
#define DAY_MS (24 * HOUR_MS)

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int32_t month_of(int64_t t_ms)
{
    time_t secs = (time_t)floordiv(t_ms, 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        return -1;
    return (int32_t)((tm.tm_year + 1900) * 12 + tm.tm_mon);
}

static double haversine_km(double lat1, double lon1, double lat2, double lon2)
{
    const double r = 6371.0088, rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * r * asin(fmin(1.0, sqrt(a)));
}

struct win {
    double n, sum, gift;
};

static struct win window(const struct rg_user_prof *up, int64_t t, int64_t w_ms)
{
    struct win w = { 0, 0, 0 };
    int64_t from = t - w_ms;
    for (int i = 0; i < up->n_ring; i++) {
        const struct rg_up_event *e = &up->ring[i];
        if (e->ts_ms < from || e->ts_ms > t)
            continue;
        w.n += 1;
        w.sum += e->amount;
        if (e->flags & RG_UP_EV_GIFT)
            w.gift += e->amount;
    }
    /* Buckets hold older events evicted from a full ring: count a bucket
     * when its hour starts inside the window (approximate at that edge). */
    for (int i = 0; i < RG_UP_BUCKETS; i++) {
        const struct rg_up_bucket *b = &up->buckets[i];
        int64_t start = (int64_t)b->hour * HOUR_MS;
        if (!b->n || start < from || start > t)
            continue;
        w.n += b->n;
        w.sum += b->amount;
        w.gift += b->gift;
    }
    return w;
}

static double set_count(const struct rg_up_slot *set, int64_t from_ms)
{
    int n = 0;
    for (int i = 0; i < RG_UP_SET; i++)
        n += set[i].hash && (int64_t)set[i].seen_s * 1000 >= from_ms;
    return n;
}

static bool set_has(const struct rg_up_slot *set, uint16_t h, int64_t from_ms)
{
    for (int i = 0; i < RG_UP_SET; i++)
        if (set[i].hash == h && (int64_t)set[i].seen_s * 1000 >= from_ms)
            return true;
    return false;
}

static double marks_count(const struct rg_up_mark *m, int64_t from_ms)
{
    int n = 0;
    for (int i = 0; i < RG_UP_MARKS; i++)
        n += m[i].at_s && (int64_t)m[i].at_s * 1000 >= from_ms;
    return n;
}

static void user_features(const struct rg_user_prof *up, const struct rg_txn *txn, int64_t t,
                          double *out)
{
    bool hist = up->n_events > 0;
    struct win h1 = window(up, t, HOUR_MS), d1 = window(up, t, DAY_MS);

    out[RG_FEAT_USER_TXN_COUNT_1H] = h1.n;
    out[RG_FEAT_USER_TXN_COUNT_24H] = d1.n;
    out[RG_FEAT_USER_AMOUNT_SUM_24H] = d1.sum;
    out[RG_FEAT_USER_GIFTCARD_SHARE_24H] = d1.sum > 0 ? d1.gift / d1.sum : NAN;
    if (hist && up->weight > 0) {
        out[RG_FEAT_USER_AMOUNT_AVG_30D] = up->mean;
        double var = up->m2 / up->weight;
        if (up->n_events >= 3 && var > 1e-12)
            out[RG_FEAT_USER_AMOUNT_ZSCORE_30D] = (txn->amount - up->mean) / sqrt(var);
    }
    if (hist) {
        out[RG_FEAT_USER_SECONDS_SINCE_LAST] =
            t > up->last_ms ? (double)(t - up->last_ms) / 1000.0 : 0.0;
        out[RG_FEAT_USER_ACCOUNT_AGE_DAYS] =
            t > up->first_ms ? (double)(t - up->first_ms) / (double)DAY_MS : 0.0;
    }
    out[RG_FEAT_USER_DISTINCT_MERCHANTS_24H] = set_count(up->merchants, t - DAY_MS);
    out[RG_FEAT_USER_DISTINCT_DEVICES_30D] = set_count(up->devices, t - 30 * DAY_MS);
    if ((txn->has & RG_HAS_GEO) && up->has_geo) {
        int64_t dt = llabs(t - up->geo_ms);
        if (dt < 1000)
            dt = 1000; /* same-second events: avoid an infinite speed */
        /* Device and IP-derived coordinates are only accurate to a few
         * kilometres: a move within RG_GEO_NOISE_KM is no travel, else two
         * payments seconds apart in one city look supersonic. */
        double km = haversine_km(up->lat, up->lon, txn->lat, txn->lon);
        out[RG_FEAT_USER_GEO_SPEED_KMH] =
            km < RG_GEO_NOISE_KM ? 0.0 : km / ((double)dt / (double)HOUR_MS);
    }
    if (up->n_events >= 5) {
        int h = (int)(floordiv(t, HOUR_MS) % 24);
        double all = 0;
        for (int i = 0; i < 24; i++)
            all += up->hod[i];
        double band = up->hod[(h + 23) % 24] + up->hod[h] + up->hod[(h + 1) % 24];
        if (all > 0)
            out[RG_FEAT_USER_HOUR_UNUSUALNESS] = 1.0 - band / all;
    }
    out[RG_FEAT_USER_FAILED_STEP_UPS_24H] = marks_count(up->failed, t - DAY_MS);
    out[RG_FEAT_USER_FRAUD_LABELS_90D] = marks_count(up->frauds, t - 90 * DAY_MS);
    int32_t m = month_of(t);
    if (!hist || m > up->month) {
        out[RG_FEAT_USER_MONTH_SPEND] = 0;
        out[RG_FEAT_USER_CARRIER_MONTH_SPEND] = 0;
    } else if (m == up->month) {
        out[RG_FEAT_USER_MONTH_SPEND] = up->month_spend;
        out[RG_FEAT_USER_CARRIER_MONTH_SPEND] = up->month_carrier;
    }
    /* else: an out-of-order event of an earlier month: unknown */
    if ((txn->has & RG_HAS_COUNTRY) && hist) {
        uint16_t c = (uint16_t)(((unsigned char)txn->country[0] << 8) |
                                (unsigned char)txn->country[1]);
        out[RG_FEAT_IS_NEW_COUNTRY] = set_has(up->countries, c, t - 90 * DAY_MS) ? 0 : 1;
    }
    if (txn->has & RG_HAS_DEVICE_ID)
        out[RG_FEAT_DEVICE_IS_NEW_FOR_USER] =
            set_has(up->devices, rg_prof_hash16(txn->device_id), t - 30 * DAY_MS) ? 0 : 1;
}

void rg_feature_compute(const struct rg_user_prof *up, const struct rg_shared_feats *sh,
                        const struct rg_txn *txn, int64_t now_ms, double *out)
{
    for (int i = 0; i < RG_FEAT_COUNT; i++)
        out[i] = RG_FEAT_MISSING;
    int64_t t = rg_prof_event_time(txn->ts_ms, now_ms);
    out[RG_FEAT_AMOUNT] = txn->amount;
    out[RG_FEAT_HOUR_OF_DAY] = (double)(floordiv(t, HOUR_MS) % 24);
    if (up)
        user_features(up, txn, t, out);
    if (sh)
        rg_feature_add_shared(sh, txn, out);
}

void rg_feature_add_shared(const struct rg_shared_feats *sh, const struct rg_txn *txn,
                           double *out)
{
    if ((txn->has & RG_HAS_DEVICE_ID) && sh->dev_users_24h >= 0) {
        out[RG_FEAT_DEVICE_DISTINCT_USERS_24H] = (double)sh->dev_users_24h;
        out[RG_FEAT_DEVICE_DISTINCT_USERS_30D] = (double)sh->dev_users_30d;
    }
    if ((txn->has & RG_HAS_MERCHANT_ID) && sh->m_count_1h >= 0) {
        out[RG_FEAT_MERCHANT_TXN_COUNT_1H] = (double)sh->m_count_1h;
        out[RG_FEAT_MERCHANT_FRAUD_COUNT_7D] = (double)sh->m_frauds_7d;
        if (sh->m_events_30d > 0)
            out[RG_FEAT_MERCHANT_FRAUD_RATE_30D] =
                fmin(1.0, (double)sh->m_frauds_30d / (double)sh->m_events_30d);
    }
    if ((txn->has & RG_HAS_IP) && sh->ip_users_24h >= 0)
        out[RG_FEAT_IP_DISTINCT_USERS_24H] = (double)sh->ip_users_24h;
}
