/* test_features.c - every user/shared feature from profiles, with explicit
 * times (no Redis, no sleeping): window edges, missing values, decay,
 * out-of-order and future events, month boundary, gift-card share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "riskgate/feature.h"
#include "riskgate/profile.h"

#define HOUR 3600000LL
#define DAY (24 * HOUR)
/* 2026-01-15 10:00:00 UTC */
#define T0 1768471200000LL

static struct rg_txn tx(int64_t ts, double amount)
{
    struct rg_txn t;
    memset(&t, 0, sizeof t);
    snprintf(t.event_id, sizeof t.event_id, "e%lld", (long long)ts);
    strcpy(t.user_id, "alice");
    t.amount = amount;
    strcpy(t.currency, "EUR");
    t.ts_ms = ts;
    t.offset = -1;
    t.kafka_ts_ms = -1;
    return t;
}

static void feats(const struct rg_user_prof *up, const struct rg_txn *t, int64_t now, double *out)
{
    rg_feature_compute(up, NULL, t, now, out);
}

static void apply(struct rg_user_prof *up, const struct rg_txn *t, int64_t now)
{
    assert_int_equal(rg_user_prof_apply(up, t, now), 1);
}

static void test_first_event_missing(void **state)
{
    (void)state;
    struct rg_user_prof up;
    rg_user_prof_init(&up);
    struct rg_txn t = tx(T0, 4.5);
    t.has = RG_HAS_COUNTRY | RG_HAS_DEVICE_ID | RG_HAS_GEO;
    strcpy(t.country, "DE");
    strcpy(t.device_id, "d1");
    t.lat = 52.5;
    t.lon = 13.4;
    double f[RG_FEAT_COUNT];
    feats(&up, &t, T0, f);
    assert_true(f[RG_FEAT_AMOUNT] == 4.5);
    assert_true(f[RG_FEAT_HOUR_OF_DAY] == 10);
    assert_true(isnan(f[RG_FEAT_USER_SECONDS_SINCE_LAST]));
    assert_true(isnan(f[RG_FEAT_USER_AMOUNT_AVG_30D]));
    assert_true(isnan(f[RG_FEAT_USER_AMOUNT_ZSCORE_30D]));
    assert_true(isnan(f[RG_FEAT_USER_ACCOUNT_AGE_DAYS]));
    assert_true(isnan(f[RG_FEAT_USER_GIFTCARD_SHARE_24H]));
    assert_true(isnan(f[RG_FEAT_USER_GEO_SPEED_KMH]));
    assert_true(isnan(f[RG_FEAT_USER_HOUR_UNUSUALNESS]));
    assert_true(isnan(f[RG_FEAT_IS_NEW_COUNTRY]));
    assert_true(f[RG_FEAT_USER_TXN_COUNT_1H] == 0);
    assert_true(f[RG_FEAT_USER_TXN_COUNT_24H] == 0);
    assert_true(f[RG_FEAT_USER_MONTH_SPEND] == 0);
    assert_true(f[RG_FEAT_DEVICE_IS_NEW_FOR_USER] == 1);
    /* shared entities unknown without sh */
    assert_true(isnan(f[RG_FEAT_DEVICE_DISTINCT_USERS_24H]));
    assert_true(isnan(f[RG_FEAT_MERCHANT_TXN_COUNT_1H]));

    /* no profile at all (Redis down): every user feature missing */
    feats(NULL, &t, T0, f);
    assert_true(isnan(f[RG_FEAT_USER_TXN_COUNT_1H]));
    assert_true(isnan(f[RG_FEAT_USER_MONTH_SPEND]));
    assert_true(isnan(f[RG_FEAT_DEVICE_IS_NEW_FOR_USER]));
    assert_true(f[RG_FEAT_AMOUNT] == 4.5);
}

static void test_window_edges(void **state)
{
    (void)state;
    struct rg_user_prof up;
    rg_user_prof_init(&up);
    struct rg_txn a = tx(T0, 2.0);
    apply(&up, &a, T0);
    double f[RG_FEAT_COUNT];
    struct rg_txn b = tx(T0 + HOUR, 1.0);
    feats(&up, &b, T0 + HOUR, f);
    assert_true(f[RG_FEAT_USER_TXN_COUNT_1H] == 1); /* exactly 1 h ago: inside */
    b.ts_ms = T0 + HOUR + 1;
    feats(&up, &b, T0 + HOUR + 1, f);
    assert_true(f[RG_FEAT_USER_TXN_COUNT_1H] == 0); /* 1 h + 1 ms: outside */
    assert_true(f[RG_FEAT_USER_TXN_COUNT_24H] == 1);
    assert_true(f[RG_FEAT_USER_AMOUNT_SUM_24H] == 2.0);
    assert_true(f[RG_FEAT_USER_SECONDS_SINCE_LAST] == 3600.001);
    b.ts_ms = T0 + DAY;
    feats(&up, &b, T0 + DAY, f);
    assert_true(f[RG_FEAT_USER_TXN_COUNT_24H] == 1);
    b.ts_ms = T0 + DAY + 1;
    feats(&up, &b, T0 + DAY + 1, f);
    assert_true(f[RG_FEAT_USER_TXN_COUNT_24H] == 0);
    assert_true(f[RG_FEAT_USER_AMOUNT_SUM_24H] == 0);
    assert_true(isnan(f[RG_FEAT_USER_GIFTCARD_SHARE_24H]));
    assert_true(fabs(f[RG_FEAT_USER_ACCOUNT_AGE_DAYS] - (1.0 + 1.0 / DAY)) < 1e-9);
}

static void test_decayed_mean_and_zscore(void **state)
{
    (void)state;
    struct rg_user_prof up;
    rg_user_prof_init(&up);
    struct rg_txn t = tx(T0, 10.0);
    apply(&up, &t, T0);
    double f[RG_FEAT_COUNT];
    /* 30 days later (one half-life) the old 10 weighs 0.5 against a new 20 */
    int64_t t1 = T0 + 30 * DAY;
    t = tx(t1, 20.0);
    feats(&up, &t, t1, f);
    assert_true(f[RG_FEAT_USER_AMOUNT_AVG_30D] == 10.0);
    assert_true(isnan(f[RG_FEAT_USER_AMOUNT_ZSCORE_30D])); /* < 3 past events */
    apply(&up, &t, t1);
    feats(&up, &t, t1, f);
    assert_true(fabs(f[RG_FEAT_USER_AMOUNT_AVG_30D] - (10 * 0.5 + 20) / 1.5) < 1e-9);

    /* z-score: 1, 2, 3 at the same instant -> mean 2, variance 2/3 */
    rg_user_prof_init(&up);
    for (int i = 1; i <= 3; i++) {
        t = tx(T0, i);
        apply(&up, &t, T0);
    }
    t = tx(T0, 5.0);
    feats(&up, &t, T0, f);
    assert_true(fabs(f[RG_FEAT_USER_AMOUNT_AVG_30D] - 2.0) < 1e-12);
    assert_true(fabs(f[RG_FEAT_USER_AMOUNT_ZSCORE_30D] - 3.0 / sqrt(2.0 / 3.0)) < 1e-9);

    /* constant amounts: std dev 0 -> z missing rather than infinite */
    rg_user_prof_init(&up);
    for (int i = 0; i < 4; i++) {
        t = tx(T0 + i, 1.0);
        apply(&up, &t, T0 + i);
    }
    feats(&up, &t, T0 + 10, f);
    assert_true(isnan(f[RG_FEAT_USER_AMOUNT_ZSCORE_30D]));
}

static void test_geo_speed(void **state)
{
    (void)state;
    struct rg_user_prof up;
    rg_user_prof_init(&up);
    struct rg_txn t = tx(T0, 1);
    t.has = RG_HAS_GEO;
    t.lat = 52.52; /* Berlin */
    t.lon = 13.405;
    apply(&up, &t, T0);
    struct rg_txn p = tx(T0 + HOUR, 1); /* Paris, one hour later: ~878 km/h */
    p.has = RG_HAS_GEO;
    p.lat = 48.8566;
    p.lon = 2.3522;
    double f[RG_FEAT_COUNT];
    feats(&up, &p, T0 + HOUR, f);
    assert_true(fabs(f[RG_FEAT_USER_GEO_SPEED_KMH] - 878) < 5);
    p.has = 0; /* no coordinates on the event */
    feats(&up, &p, T0 + HOUR, f);
    assert_true(isnan(f[RG_FEAT_USER_GEO_SPEED_KMH]));
    /* an event without coordinates does not erase the last position */
    apply(&up, &p, T0 + HOUR);
    p.has = RG_HAS_GEO;
    p.ts_ms = T0 + 2 * HOUR;
    feats(&up, &p, T0 + 2 * HOUR, f);
    assert_true(fabs(f[RG_FEAT_USER_GEO_SPEED_KMH] - 439) < 3);
    /* location noise: 10 km within 5 seconds is no travel, 30 km is */
    struct rg_txn n = tx(T0 + 5000, 1);
    n.has = RG_HAS_GEO;
    n.lat = 52.52 + 0.09; /* ~10 km north of Berlin */
    n.lon = 13.405;
    feats(&up, &n, T0 + 5000, f);
    struct rg_user_prof b;
    rg_user_prof_init(&b);
    apply(&b, &t, T0);
    feats(&b, &n, T0 + 5000, f);
    assert_true(f[RG_FEAT_USER_GEO_SPEED_KMH] == 0.0);
    n.lat = 52.52 + 0.27; /* ~30 km */
    feats(&b, &n, T0 + 5000, f);
    assert_true(f[RG_FEAT_USER_GEO_SPEED_KMH] > 10000);
}

static void test_out_of_order_and_future(void **state)
{
    (void)state;
    struct rg_user_prof up;
    rg_user_prof_init(&up);
    struct rg_txn late = tx(T0 + 2 * HOUR, 3);
    apply(&up, &late, T0 + 2 * HOUR);
    struct rg_txn early = tx(T0, 5); /* arrives after a newer one */
    double f[RG_FEAT_COUNT];
    feats(&up, &early, T0 + 2 * HOUR, f);
    assert_true(f[RG_FEAT_USER_SECONDS_SINCE_LAST] == 0); /* never negative */
    assert_true(f[RG_FEAT_USER_TXN_COUNT_24H] == 0);      /* later events are not "before" */
    apply(&up, &early, T0 + 2 * HOUR);
    assert_true(up.last_ms == T0 + 2 * HOUR);              /* last seen never moves back */
    assert_true(up.first_ms == T0);
    struct rg_txn next = tx(T0 + 3 * HOUR, 1);
    feats(&up, &next, T0 + 3 * HOUR, f);
    assert_true(f[RG_FEAT_USER_SECONDS_SINCE_LAST] == 3600);
    assert_true(f[RG_FEAT_USER_TXN_COUNT_24H] == 2);         /* counted by its own ts */
    assert_true(f[RG_FEAT_USER_AMOUNT_SUM_24H] == 8);
    assert_true(f[RG_FEAT_USER_TXN_COUNT_1H] == 1);

    /* future: more than 5 min ahead -> clamped to now; 4 min ahead kept */
    int64_t now = T0 + 5 * HOUR;
    assert_true(rg_prof_event_time(now + HOUR, now) == now);
    assert_true(rg_prof_event_time(now + 4 * 60000, now) == now + 4 * 60000);
    struct rg_txn fut = tx(now + 10 * HOUR, 1);
    feats(&up, &fut, now, f);
    assert_true(f[RG_FEAT_HOUR_OF_DAY] == 15);
    apply(&up, &fut, now);
    assert_true(up.last_ms == now);

    /* older than 30 days: features yes, updates no */
    struct rg_txn old = tx(now - 31 * DAY, 100);
    uint32_t n = up.n_events;
    assert_int_equal(rg_user_prof_apply(&up, &old, now), 0);
    assert_true(up.n_events == n);
}

static void test_month_spend(void **state)
{
    (void)state;
    struct rg_user_prof up;
    rg_user_prof_init(&up);
    int64_t feb1 = 1769904000000LL; /* 2026-02-01T00:00:00Z */
    struct rg_txn a = tx(feb1 - 1, 5);  /* Jan 31 23:59:59.999 */
    apply(&up, &a, feb1);
    double f[RG_FEAT_COUNT];
    struct rg_txn b = tx(feb1 - 1, 2);
    feats(&up, &b, feb1, f);
    assert_true(f[RG_FEAT_USER_MONTH_SPEND] == 5);
    b.ts_ms = feb1;
    feats(&up, &b, feb1, f);
    assert_true(f[RG_FEAT_USER_MONTH_SPEND] == 0);
    apply(&up, &b, feb1);
    struct rg_txn c = tx(feb1 + HOUR, 1);
    feats(&up, &c, feb1 + HOUR, f);
    assert_true(f[RG_FEAT_USER_MONTH_SPEND] == 2);
    /* a late January event after February started: unknown, not 0 */
    struct rg_txn d = tx(feb1 - HOUR, 1);
    feats(&up, &d, feb1 + HOUR, f);
    assert_true(isnan(f[RG_FEAT_USER_MONTH_SPEND]));
    assert_true(isnan(f[RG_FEAT_USER_CARRIER_MONTH_SPEND]));
}

static void test_carrier_month_spend(void **state)
{
    (void)state;
    struct rg_user_prof up;
    rg_user_prof_init(&up);
    int64_t feb1 = 1769904000000LL; /* 2026-02-01T00:00:00Z */
    struct rg_txn card = tx(feb1 + HOUR, 40);
    card.has |= RG_HAS_CHANNEL;
    snprintf(card.channel, sizeof card.channel, "card");
    struct rg_txn cb = tx(feb1 + 2 * HOUR, 7);
    cb.has |= RG_HAS_CHANNEL;
    snprintf(cb.channel, sizeof cb.channel, "carrier_billing");
    double f[RG_FEAT_COUNT];
    feats(&up, &card, feb1 + HOUR, f);
    assert_true(f[RG_FEAT_USER_CARRIER_MONTH_SPEND] == 0); /* no history: 0 this month */
    apply(&up, &card, feb1 + HOUR);
    apply(&up, &cb, feb1 + 2 * HOUR);
    struct rg_txn next = tx(feb1 + 3 * HOUR, 1);
    feats(&up, &next, feb1 + 3 * HOUR, f);
    assert_true(f[RG_FEAT_USER_MONTH_SPEND] == 47);
    assert_true(f[RG_FEAT_USER_CARRIER_MONTH_SPEND] == 7);
    /* a new month starts both at zero; a carrier payment then counts */
    int64_t mar1 = feb1 + 28LL * 24 * HOUR;
    struct rg_txn m = tx(mar1 + HOUR, 3);
    m.has |= RG_HAS_CHANNEL;
    snprintf(m.channel, sizeof m.channel, "carrier_billing");
    feats(&up, &m, mar1 + HOUR, f);
    assert_true(f[RG_FEAT_USER_CARRIER_MONTH_SPEND] == 0);
    apply(&up, &m, mar1 + HOUR);
    /* and survives the encoding */
    unsigned char buf[RG_UP_ENC_MAX];
    int n = rg_user_prof_encode(&up, buf, sizeof buf);
    assert_true(n > 0);
    struct rg_user_prof back;
    assert_int_equal(rg_user_prof_decode(&back, buf, (size_t)n), 0);
    feats(&back, &next, mar1 + 2 * HOUR, f);
    next.ts_ms = mar1 + 2 * HOUR;
    feats(&back, &next, mar1 + 2 * HOUR, f);
    assert_true(f[RG_FEAT_USER_CARRIER_MONTH_SPEND] == 3);
}

static void test_giftcard_share(void **state)
{
    (void)state;
    struct rg_user_prof up;
    rg_user_prof_init(&up);
    const char *cats[] = { "gift_card", "app_store", "game", "transport" };
    double amounts[] = { 10, 30, 5, 5 };
    for (int i = 0; i < 4; i++) {
        struct rg_txn t = tx(T0 + i * 60000, amounts[i]);
        t.has = RG_HAS_MERCHANT_CAT;
        strcpy(t.merchant_category, cats[i]);
        apply(&up, &t, t.ts_ms);
    }
    double f[RG_FEAT_COUNT];
    struct rg_txn t = tx(T0 + HOUR, 1);
    feats(&up, &t, t.ts_ms, f);
    assert_true(fabs(f[RG_FEAT_USER_GIFTCARD_SHARE_24H] - 15.0 / 50.0) < 1e-12);
}

static void test_hour_unusualness(void **state)
{
    (void)state;
    struct rg_user_prof up;
    rg_user_prof_init(&up);
    double f[RG_FEAT_COUNT];
    for (int i = 0; i < 5; i++) {
        struct rg_txn t = tx(T0 + i * 60000, 1); /* hour 10 */
        feats(&up, &t, t.ts_ms, f);
        assert_true(isnan(f[RG_FEAT_USER_HOUR_UNUSUALNESS])); /* < 5 past events */
        apply(&up, &t, t.ts_ms);
    }
    struct rg_txn t = tx(T0 + DAY, 1); /* hour 10 again */
    feats(&up, &t, t.ts_ms, f);
    assert_true(f[RG_FEAT_USER_HOUR_UNUSUALNESS] == 0);
    t.ts_ms = T0 + DAY + HOUR; /* hour 11: neighbour band */
    feats(&up, &t, t.ts_ms, f);
    assert_true(f[RG_FEAT_USER_HOUR_UNUSUALNESS] == 0);
    t.ts_ms = T0 + DAY + 10 * HOUR; /* hour 20 */
    feats(&up, &t, t.ts_ms, f);
    assert_true(f[RG_FEAT_USER_HOUR_UNUSUALNESS] == 1);
}

static void test_ring_overflow_buckets(void **state)
{
    (void)state;
    struct rg_user_prof up;
    rg_user_prof_init(&up);
    /* 40 events, one every 30 minutes, starting 20 h before the probe */
    int64_t probe = T0 + 20 * HOUR;
    for (int i = 0; i < 40; i++) {
        struct rg_txn t = tx(T0 + i * 30 * 60000LL, 1);
        apply(&up, &t, t.ts_ms);
    }
    assert_int_equal(up.n_ring, RG_UP_RING);
    double f[RG_FEAT_COUNT];
    struct rg_txn p = tx(probe, 1);
    feats(&up, &p, probe, f);
    assert_true(f[RG_FEAT_USER_TXN_COUNT_24H] == 40);
    assert_true(f[RG_FEAT_USER_AMOUNT_SUM_24H] == 40);
    assert_true(f[RG_FEAT_USER_TXN_COUNT_1H] == 2);
}

static void test_sets(void **state)
{
    (void)state;
    struct rg_user_prof up;
    rg_user_prof_init(&up);
    const char *ms[] = { "m1", "m2", "m3", "m2" };
    for (int i = 0; i < 4; i++) {
        struct rg_txn t = tx(T0 + i * HOUR, 1);
        t.has = RG_HAS_MERCHANT_ID | RG_HAS_DEVICE_ID | RG_HAS_COUNTRY;
        strcpy(t.merchant_id, ms[i]);
        strcpy(t.device_id, i < 2 ? "phone" : "tablet");
        strcpy(t.country, "FR");
        apply(&up, &t, t.ts_ms);
    }
    double f[RG_FEAT_COUNT];
    struct rg_txn t = tx(T0 + 4 * HOUR, 1);
    t.has = RG_HAS_DEVICE_ID | RG_HAS_COUNTRY;
    strcpy(t.device_id, "phone");
    strcpy(t.country, "FR");
    feats(&up, &t, t.ts_ms, f);
    assert_true(f[RG_FEAT_USER_DISTINCT_MERCHANTS_24H] == 3);
    assert_true(f[RG_FEAT_USER_DISTINCT_DEVICES_30D] == 2);
    assert_true(f[RG_FEAT_DEVICE_IS_NEW_FOR_USER] == 0);
    assert_true(f[RG_FEAT_IS_NEW_COUNTRY] == 0);
    strcpy(t.device_id, "laptop");
    strcpy(t.country, "BR");
    feats(&up, &t, t.ts_ms, f);
    assert_true(f[RG_FEAT_DEVICE_IS_NEW_FOR_USER] == 1);
    assert_true(f[RG_FEAT_IS_NEW_COUNTRY] == 1);
    /* a day later only m2 (seen at +3 h) is within 24 h */
    t.ts_ms = T0 + 3 * HOUR + DAY;
    feats(&up, &t, t.ts_ms, f);
    assert_true(f[RG_FEAT_USER_DISTINCT_MERCHANTS_24H] == 1);
    /* 31 days later the devices are gone */
    t.ts_ms = T0 + 4 * HOUR + 31 * DAY;
    strcpy(t.device_id, "phone");
    feats(&up, &t, t.ts_ms, f);
    assert_true(f[RG_FEAT_USER_DISTINCT_DEVICES_30D] == 0);
    assert_true(f[RG_FEAT_DEVICE_IS_NEW_FOR_USER] == 1);
}

static void test_replay_guard_and_marks(void **state)
{
    (void)state;
    struct rg_user_prof up;
    rg_user_prof_init(&up);
    struct rg_txn t = tx(T0, 1);
    t.partition = 3;
    t.offset = 100;
    assert_int_equal(rg_user_prof_apply(&up, &t, T0), 1);
    assert_int_equal(rg_user_prof_apply(&up, &t, T0), 0);
    t.offset = 99;
    assert_int_equal(rg_user_prof_apply(&up, &t, T0), 0);
    t.offset = 101;
    assert_int_equal(rg_user_prof_apply(&up, &t, T0), 1);
    t.offset = -1; /* unknown offset (file replay): always applied */
    assert_int_equal(rg_user_prof_apply(&up, &t, T0), 1);
    assert_int_equal(up.n_events, 3);

    assert_int_equal(rg_user_prof_add_failed_step_up(&up, "e1", T0), 1);
    assert_int_equal(rg_user_prof_add_failed_step_up(&up, "e1", T0), 0); /* duplicate */
    assert_int_equal(rg_user_prof_add_failed_step_up(&up, "e2", T0 + HOUR), 1);
    assert_int_equal(rg_user_prof_add_fraud(&up, "e1", T0), 1);
    double f[RG_FEAT_COUNT];
    struct rg_txn p = tx(T0 + DAY, 1);
    feats(&up, &p, p.ts_ms, f);
    assert_true(f[RG_FEAT_USER_FAILED_STEP_UPS_24H] == 2);
    p.ts_ms = T0 + DAY + 1000;
    feats(&up, &p, p.ts_ms, f);
    assert_true(f[RG_FEAT_USER_FAILED_STEP_UPS_24H] == 1);
    assert_true(f[RG_FEAT_USER_FRAUD_LABELS_90D] == 1);
    p.ts_ms = T0 + 91 * DAY;
    feats(&up, &p, p.ts_ms, f);
    assert_true(f[RG_FEAT_USER_FRAUD_LABELS_90D] == 0);
}

static void test_shared_features(void **state)
{
    (void)state;
    struct rg_txn t = tx(T0, 1);
    struct rg_shared_feats sh = { 3, 5, 7, 200, 10, 2, 9 };
    double f[RG_FEAT_COUNT];
    rg_feature_compute(NULL, &sh, &t, T0, f);
    /* no ids on the event: nothing from the shared entities */
    assert_true(isnan(f[RG_FEAT_DEVICE_DISTINCT_USERS_24H]));
    assert_true(isnan(f[RG_FEAT_IP_DISTINCT_USERS_24H]));
    t.has = RG_HAS_DEVICE_ID | RG_HAS_MERCHANT_ID | RG_HAS_IP;
    rg_feature_compute(NULL, &sh, &t, T0, f);
    assert_true(f[RG_FEAT_DEVICE_DISTINCT_USERS_24H] == 3);
    assert_true(f[RG_FEAT_DEVICE_DISTINCT_USERS_30D] == 5);
    assert_true(f[RG_FEAT_MERCHANT_TXN_COUNT_1H] == 7);
    assert_true(f[RG_FEAT_MERCHANT_FRAUD_RATE_30D] == 0.05);
    assert_true(f[RG_FEAT_MERCHANT_FRAUD_COUNT_7D] == 2);
    assert_true(f[RG_FEAT_IP_DISTINCT_USERS_24H] == 9);
    sh.m_events_30d = 0;
    rg_feature_compute(NULL, &sh, &t, T0, f);
    assert_true(isnan(f[RG_FEAT_MERCHANT_FRAUD_RATE_30D]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_event_missing),
        cmocka_unit_test(test_window_edges),
        cmocka_unit_test(test_decayed_mean_and_zscore),
        cmocka_unit_test(test_geo_speed),
        cmocka_unit_test(test_out_of_order_and_future),
        cmocka_unit_test(test_month_spend),
        cmocka_unit_test(test_carrier_month_spend),
        cmocka_unit_test(test_giftcard_share),
        cmocka_unit_test(test_hour_unusualness),
        cmocka_unit_test(test_ring_overflow_buckets),
        cmocka_unit_test(test_sets),
        cmocka_unit_test(test_replay_guard_and_marks),
        cmocka_unit_test(test_shared_features),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
