/*
 * feature.h - the feature catalog: every behavioural feature riskgate can
 * compute for an event, declared once in RG_FEATURE_LIST.
 *
 * A feature vector is `double v[RG_FEAT_COUNT]`; a value that cannot be
 * known (no history, no coordinates) is NaN ("missing"), never 0. Models
 * and rules resolve names to slots once, at load, with rg_feature_lookup().
 *
 * Point in time: features are computed before the event updates any
 * profile, so a feature never sees the event it scores.
 */
#ifndef RISKGATE_FEATURE_H
#define RISKGATE_FEATURE_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>

/*
 * X(ident, "name", "window", exactness, cost, "definition")
 *   window:    the time span the value summarises ("-" for none)
 *   exactness: "exact" or "approx"
 *   cost:      what computing it needs ("event", "user profile (cached)",
 *              "device profile (redis)", ...)
 */
#define RG_FEATURE_LIST(X)                                                                      \
    X(AMOUNT, "amount", "-", "exact", "event",                                                   \
      "The event's amount in major units.")                                                      \
    X(HOUR_OF_DAY, "hour_of_day", "-", "exact", "event",                                         \
      "Hour of the event time, 0-23, UTC.")                                                      \
    X(IS_NEW_COUNTRY, "is_new_country", "90d", "exact", "user profile",                          \
      "1 when the event's country is not among the user's recent countries, 0 when it is; "     \
      "missing without a country or without history.")                                           \
    X(USER_TXN_COUNT_1H, "user.txn_count_1h", "1h", "exact", "user profile",                     \
      "The user's events in the hour before this one.")                                          \
    X(USER_TXN_COUNT_24H, "user.txn_count_24h", "24h", "exact", "user profile",                  \
      "The user's events in the 24 hours before this one.")                                      \
    X(USER_AMOUNT_SUM_24H, "user.amount_sum_24h", "24h", "exact", "user profile",                \
      "Sum of the user's amounts in the 24 hours before this event.")                            \
    X(USER_AMOUNT_AVG_30D, "user.amount_avg_30d", "30d", "approx", "user profile",               \
      "Exponentially decayed mean amount (half-life 30 days); missing without history.")         \
    X(USER_AMOUNT_ZSCORE_30D, "user.amount_zscore_30d", "30d", "approx", "user profile",         \
      "(amount - decayed mean) / decayed std dev; missing with fewer than 3 past events.")       \
    X(USER_SECONDS_SINCE_LAST, "user.seconds_since_last", "-", "exact", "user profile",          \
      "Seconds since the user's previous event; missing for the first event.")                   \
    X(USER_DISTINCT_MERCHANTS_24H, "user.distinct_merchants_24h", "24h", "approx", "user profile", \
      "Distinct merchants the user paid in the last 24 hours (small hashed set).")               \
    X(USER_DISTINCT_DEVICES_30D, "user.distinct_devices_30d", "30d", "approx", "user profile",   \
      "Distinct devices the user used in the last 30 days (small hashed set).")                  \
    X(USER_GEO_SPEED_KMH, "user.geo_speed_kmh", "-", "exact", "user profile",                    \
      "Great-circle speed from the previous event with coordinates; 0 for moves under "      \
      "25 km (location noise); missing without a previous position.")       \
    X(USER_HOUR_UNUSUALNESS, "user.hour_unusualness", "all", "approx", "user profile",           \
      "0-1: 1 - (decayed share of the user's events in this hour-of-day band); "               \
      "missing with fewer than 5 past events.")                                                  \
    X(USER_FAILED_STEP_UPS_24H, "user.failed_step_ups_24h", "24h", "exact", "user profile",      \
      "Failed or abandoned step-ups reported by feedback in the last 24 hours.")                 \
    X(USER_FRAUD_LABELS_90D, "user.fraud_labels_90d", "90d", "exact", "user profile",            \
      "Fraud labels received for the user's events in the last 90 days.")                        \
    X(USER_ACCOUNT_AGE_DAYS, "user.account_age_days", "-", "exact", "user profile",              \
      "Days since the user's first event seen by riskgate; missing for the first event.")        \
    X(USER_MONTH_SPEND, "user.month_spend", "month", "exact", "user profile",                    \
      "Sum of the user's amounts in this calendar month (UTC) before this event.")               \
    X(USER_GIFTCARD_SHARE_24H, "user.giftcard_share_24h", "24h", "exact", "user profile",        \
      "Share 0-1 of the user's last-24h amount spent on gift_card or game merchants; "          \
      "missing without history.")                                                                \
    X(DEVICE_IS_NEW_FOR_USER, "device.is_new_for_user", "30d", "approx", "user profile",         \
      "1 when the event's device is not among the user's recent devices; missing without "      \
      "a device_id.")                                                                            \
    X(DEVICE_DISTINCT_USERS_24H, "device.distinct_users_24h", "24h", "approx", "device profile", \
      "Distinct users seen on this device in the last 24 hours; exact up to 32 "        \
      "(a bounded set in Redis), saturating at 32.")         \
    X(DEVICE_DISTINCT_USERS_30D, "device.distinct_users_30d", "30d", "approx", "device profile", \
      "Distinct users seen on this device in the last 30 days; exact up to 32 "         \
      "(a bounded set in Redis), saturating at 32.")          \
    X(MERCHANT_TXN_COUNT_1H, "merchant.txn_count_1h", "1h", "exact", "merchant profile",         \
      "Events at this merchant in the last hour (per-minute buckets).")                          \
    X(MERCHANT_FRAUD_RATE_30D, "merchant.fraud_rate_30d", "30d", "approx", "merchant profile",   \
      "Fraud labels / events at this merchant over 30 days; missing without events.")            \
    X(MERCHANT_FRAUD_COUNT_7D, "merchant.fraud_count_7d", "7d", "exact", "merchant profile",     \
      "Fraud labels for this merchant's events received in the last 7 days.")                    \
    X(IP_DISTINCT_USERS_24H, "ip.distinct_users_24h", "24h", "approx", "ip profile",             \
      "Distinct users seen from this IP in the last 24 hours; exact up to 32 "          \
      "(a bounded set in Redis), saturating at 32.")                                     \
    X(USER_CARRIER_MONTH_SPEND, "user.carrier_month_spend", "month", "exact", "user profile",  \
      "Sum of the user's carrier_billing amounts in this calendar month (UTC) before this "      \
      "event: what counts against a carrier's monthly cap.")

enum rg_feature_slot {
#define RG_FEAT_ENUM(id, name, win, exact, cost, def) RG_FEAT_##id,
    RG_FEATURE_LIST(RG_FEAT_ENUM)
#undef RG_FEAT_ENUM
    RG_FEAT_COUNT
};

#define RG_FEAT_MISSING NAN
#define rg_feat_is_missing(x) (isnan(x))

/* Slot of a feature name, or -1 when the catalog has no such name. */
int rg_feature_lookup(const char *name);
/* Name of a slot (static storage). */
const char *rg_feature_name(int slot);
/* All names, in slot order (RG_FEAT_COUNT entries), for "did you mean". */
const char *const *rg_feature_names(void);
/* Print the reference (markdown) generated from the catalog. */
void rg_feature_print_reference(FILE *out);

#endif
