/*
 * gen_int.h - private declarations shared by the src/gen files.
 *
 * gen.c       options, the main loop, scenarios, label queue, summary
 * gen_world.c PRNG helpers, countries, users, merchants, amounts
 * gen_emit.c  JSON encoding of events, malformed variants and feedback
 * gen_sink.c  output: JSONL files or a librdkafka producer
 */
#ifndef RISKGATE_GEN_INT_H
#define RISKGATE_GEN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- PRNG: xoshiro256** seeded through splitmix64 (both public domain,
 * Blackman & Vigna). Fast, good enough for simulation, and ours, so the
 * output does not depend on the libc's rand(). */
struct rg_gen_rng {
    uint64_t s[4];
};

static inline uint64_t rg_gen_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A stateless 64-bit mix of (a, b): per-user attributes come from here so
 * they do not depend on the order in which users are first seen. */
static inline uint64_t rg_gen_hash2(uint64_t a, uint64_t b)
{
    uint64_t x = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL);
    return rg_gen_splitmix(&x);
}

static inline uint64_t rg_gen_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rg_gen_next(struct rg_gen_rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = rg_gen_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rg_gen_rotl(s[3], 45);
    return res;
}

void rg_gen_rng_seed(struct rg_gen_rng *r, uint64_t seed);
/* Uniform in [0, 1). */
static inline double rg_gen_unif(struct rg_gen_rng *r)
{
    return (double)(rg_gen_next(r) >> 11) * 0x1.0p-53;
}
/* Uniform integer in [0, n), n > 0 (multiply-shift; the bias is < 2^-32). */
static inline uint32_t rg_gen_below(struct rg_gen_rng *r, uint32_t n)
{
    return (uint32_t)(((rg_gen_next(r) >> 32) * (uint64_t)n) >> 32);
}
static inline int rg_gen_range(struct rg_gen_rng *r, int lo, int hi) /* [lo, hi] */
{
    return lo + (int)rg_gen_below(r, (uint32_t)(hi - lo + 1));
}
double rg_gen_exp(struct rg_gen_rng *r, double mean);

/* A cumulative distribution over n items; pick with one uniform draw and a
 * binary search. */
struct rg_gen_cdf {
    double *c;
    uint32_t n;
};
int rg_gen_cdf_zipf(struct rg_gen_cdf *cdf, uint32_t n, double s, double q);
void rg_gen_cdf_fini(struct rg_gen_cdf *cdf);
uint32_t rg_gen_cdf_pick(const struct rg_gen_cdf *cdf, struct rg_gen_rng *r);

/* ---- world: countries, users, merchants ---- */
enum rg_gen_cat { RG_CAT_GIFT_CARD, RG_CAT_GAME, RG_CAT_APP_STORE, RG_CAT_TRANSPORT,
                  RG_CAT_CONTENT, RG_CAT_COUNT };
enum rg_gen_chan { RG_CH_CARRIER, RG_CH_CARD, RG_CH_WALLET, RG_CH_COUNT };
enum rg_gen_auth { RG_AUTH_NONE, RG_AUTH_PIN, RG_AUTH_BIOMETRIC };

extern const char *const rg_gen_cat_name[RG_CAT_COUNT];
extern const char *const rg_gen_chan_name[RG_CH_COUNT];
extern const char *const rg_gen_auth_name[3];

struct rg_gen_city {
    double lat, lon;
};

struct rg_gen_country {
    const char *code;        /* ISO 3166 alpha-2 */
    const char *currency;    /* ISO 4217 */
    int tz_min;              /* fixed offset used for local hours and RFC 3339 */
    int region;              /* 0 Europe, 1 N. America, 2 S. America, 3 Asia, 4 Africa */
    int weight;              /* share of home users; 0 = only a fraud origin */
    uint8_t ip_a;            /* first octet of fixed-line /24s */
    uint8_t mob_a, mob_b;    /* mobile carrier /16 */
    struct rg_gen_city city[3];
};

extern const struct rg_gen_country rg_gen_countries[];
extern const int rg_gen_ncountries;

/* Amount scale of a currency against the USD-like price points, and the
 * rounding step in minor units (documented in docs/gen.md). */
struct rg_gen_ccy {
    const char *code;
    int factor;
    int step_minor;
};
const struct rg_gen_ccy *rg_gen_ccy_find(const char *code);

struct rg_gen_user {
    uint64_t dev[2];         /* device id hashes */
    uint64_t card;           /* card token hash */
    uint8_t country, city, ndev, fav_cat, pref_chan, auth, peak, width;
    uint8_t ip_b, ip_c;
    uint8_t spend;           /* 0..255: typical position in the price range */
};

struct rg_gen_merchant {
    uint8_t cat;
};

struct rg_gen_world {
    uint64_t seed;
    uint32_t nusers, nmerchants;
    struct rg_gen_user *users;
    struct rg_gen_merchant *merchants;
    struct rg_gen_cdf user_cdf;
    /* merchants of each category by descending popularity, with a CDF */
    uint32_t *cat_merchants[RG_CAT_COUNT];
    struct rg_gen_cdf cat_cdf[RG_CAT_COUNT];
};

int rg_gen_world_init(struct rg_gen_world *w, uint64_t seed, uint32_t nusers);
void rg_gen_world_fini(struct rg_gen_world *w);
/* Channels a category accepts: bit (1 << enum rg_gen_chan). */
unsigned rg_gen_cat_chans(int cat);
/* Activity weight (0..1] of user u at the user's local hour 0..23. */
double rg_gen_hour_weight(const struct rg_gen_user *u, int local_hour);
/* An amount in minor units (cents) of `ccy` for category cat; level 0..1
 * chooses the position in the category's price range (1 = top). */
int64_t rg_gen_amount(struct rg_gen_rng *r, int cat, double level, const struct rg_gen_ccy *ccy);
/* Round a USD-like amount in cents into the currency's minor units. */
int64_t rg_gen_localise(int64_t usd_cents, const struct rg_gen_ccy *ccy);

/* ---- events ---- */
enum rg_gen_scen { RG_SCEN_NORMAL, RG_SCEN_GIFTCARD, RG_SCEN_ATO, RG_SCEN_CARD_TESTING,
                   RG_SCEN_COMPROMISED_MERCHANT, RG_SCEN_DEVICE_FARM, RG_SCEN_COUNT };
extern const char *const rg_gen_scen_name[RG_SCEN_COUNT];

enum rg_gen_tsfmt { RG_TS_EPOCH, RG_TS_UTC, RG_TS_OFFSET };

enum rg_gen_bad { RG_BAD_NONE, RG_BAD_JSON, RG_BAD_MISSING, RG_BAD_TYPE, RG_BAD_NEGATIVE,
                  RG_BAD_TS, RG_BAD_CARD, RG_BAD_UTF8, RG_BAD_NESTING, RG_BAD_COUNT };
extern const char *const rg_gen_bad_name[RG_BAD_COUNT];

struct rg_gen_ev {
    uint64_t seq;
    uint32_t user, merchant;
    int cat, chan, auth, scen;
    int64_t amount_minor;
    const char *currency;
    int64_t ts_ms;
    int ts_fmt, tz_min;
    uint64_t device;          /* device id hash */
    uint8_t ip[4];
    const char *country;
    bool has_geo;
    double lat, lon;
    uint64_t card;            /* 0 = no card_token */
    int bad;                  /* enum rg_gen_bad */
    int bad_variant;          /* picks the sub-kind of a malformed event */
};

/* A growable output buffer; appends never fail silently (they set oom). */
struct rg_gen_buf {
    char *p;
    size_t len, cap;
    bool oom;
};
int rg_gen_buf_init(struct rg_gen_buf *b, size_t cap);
void rg_gen_buf_fini(struct rg_gen_buf *b);

/* Encode one event line (with '\n') into b (appended). */
void rg_gen_encode_event(struct rg_gen_buf *b, uint64_t seed, const struct rg_gen_ev *ev);
/* Identifier helpers (shared by events, feedback and truth lines). */
void rg_gen_put_event_id(struct rg_gen_buf *b, uint64_t seed, uint64_t seq);
void rg_gen_put_user_id(struct rg_gen_buf *b, uint32_t user);
void rg_gen_put_device_id(struct rg_gen_buf *b, uint64_t dev);
void rg_gen_put_ts(struct rg_gen_buf *b, int64_t ms, int fmt, int tz_min);
void rg_gen_put_raw(struct rg_gen_buf *b, const char *s, size_t n);
void rg_gen_put_str(struct rg_gen_buf *b, const char *s);  /* JSON string, escaped */
void rg_gen_put_u64(struct rg_gen_buf *b, uint64_t v);
void rg_gen_put_i64(struct rg_gen_buf *b, int64_t v);
#define RG_GEN_LIT(b, s) rg_gen_put_raw((b), (s), sizeof(s) - 1)

/* RFC 3339 / epoch-ms text to epoch ms. 0 or RG_EINVAL. */
int rg_gen_parse_time(const char *s, int64_t *out_ms);

/* ---- sinks ---- */
enum rg_gen_stream { RG_STREAM_EVENTS, RG_STREAM_FEEDBACK, RG_STREAM_TRUTH };

struct rg_gen_sink;
struct rg_gen_sink_conf {
    const char *out, *feedback_out, *truth_out;      /* file mode when out != NULL */
    const char *brokers, *topic, *feedback_topic;    /* Kafka mode */
    int linger_ms;                                   /* producer linger.ms */
};
struct rg_gen_sink *rg_gen_sink_new(const struct rg_gen_sink_conf *conf);
/* Write one line (including '\n') keyed by user_id (Kafka key; the newline
 * is not sent to Kafka). 0 or a negative enum rg_err. */
int rg_gen_sink_put(struct rg_gen_sink *s, int stream, const char *key, size_t keylen,
                    const char *line, size_t len);
/* Serve delivery reports (Kafka); cheap, call often. */
void rg_gen_sink_poll(struct rg_gen_sink *s);
/* Flush everything; returns 0 or a negative enum rg_err; *undelivered gets
 * the number of messages not delivered. */
int rg_gen_sink_close(struct rg_gen_sink *s, uint64_t *undelivered);
void rg_gen_sink_free(struct rg_gen_sink *s);
bool rg_gen_sink_is_kafka(const struct rg_gen_sink *s);

#endif
