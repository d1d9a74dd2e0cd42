/*
 * gen_world.c - the simulated world of `riskgate gen`: PRNG helpers,
 * countries, users, merchants and the price model.
 *
 * DESIGN
 * Everything a user "is" (home country and city, /24, devices, card,
 * favourite category and channel, daily rhythm, spend level) is derived
 * from hash(seed, user index) once at start, so the same seed gives the
 * same world whatever the run length. Popularity of users and merchants is
 * a Zipf-Mandelbrot law (weight 1/(rank+q)^s) turned into a CDF once; a
 * pick is one uniform draw and a binary search. Amounts are kept in integer
 * minor units so that the 2-decimal text is exact and cheap to print.
 */
#include "gen_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "riskgate/err.h"

const char *const rg_gen_cat_name[RG_CAT_COUNT] = {
    "gift_card", "game", "app_store", "transport", "content",
};
const char *const rg_gen_chan_name[RG_CH_COUNT] = { "carrier_billing", "card", "wallet" };
const char *const rg_gen_auth_name[3] = { "none", "pin", "biometric" };

/* Home countries first (weight > 0), then fraud-only origins. IP octets
 * are plausible for the country but the data is synthetic. */
const struct rg_gen_country rg_gen_countries[] = {
    { "US", "USD", -300, 1, 22,  73, 172, 56, { { 40.71, -74.01 }, { 41.88, -87.63 }, { 34.05, -118.24 } } },
    { "GB", "GBP",    0, 0, 12,  86,  92, 40, { { 51.51,  -0.13 }, { 53.48,  -2.24 }, { 52.49,   -1.89 } } },
    { "DE", "EUR",   60, 0, 12,  91,  46, 114, { { 52.52,  13.40 }, { 48.14,  11.58 }, { 53.55,    9.99 } } },
    { "FR", "EUR",   60, 0, 10,  90,  37, 164, { { 48.86,   2.35 }, { 45.76,   4.84 }, { 43.30,    5.37 } } },
    { "ES", "EUR",   60, 0,  6,  83,  88, 24, { { 40.42,  -3.70 }, { 41.39,   2.17 }, { 39.47,   -0.38 } } },
    { "IT", "EUR",   60, 0,  6,  79,   5, 90, { { 41.90,  12.50 }, { 45.46,   9.19 }, { 40.85,   14.27 } } },
    { "BR", "BRL", -180, 2, 12, 177, 179, 240, { { -23.55, -46.63 }, { -22.91, -43.17 }, { -19.92, -43.94 } } },
    { "IN", "INR",  330, 3, 10,  49, 106, 192, { { 19.08,  72.88 }, { 28.70,  77.10 }, { 12.97,   77.59 } } },
    { "ID", "IDR",  420, 3,  8,  36, 114, 120, { { -6.21, 106.85 }, { -7.25, 112.75 }, { -6.92,  107.62 } } },
    { "NG", "NGN",   60, 4,  0, 105, 102, 89, { { 6.52,   3.38 }, { 9.08,    7.40 }, { 6.45,     3.39 } } },
    { "VN", "VND",  420, 3,  0, 113, 171, 224, { { 21.03, 105.85 }, { 10.82, 106.63 }, { 16.05,  108.22 } } },
    { "RU", "RUB",  180, 0,  0,  95, 176, 59, { { 55.76,  37.62 }, { 59.93,  30.36 }, { 56.84,   60.60 } } },
};
const int rg_gen_ncountries = (int)(sizeof(rg_gen_countries) / sizeof(rg_gen_countries[0]));

static const struct rg_gen_ccy g_ccy[] = {
    { "USD", 1, 1 }, { "EUR", 1, 1 }, { "GBP", 1, 1 },
    { "BRL", 5, 1 }, { "INR", 80, 100 }, { "IDR", 15000, 10000 },
};

const struct rg_gen_ccy *rg_gen_ccy_find(const char *code)
{
    for (size_t i = 0; i < sizeof(g_ccy) / sizeof(g_ccy[0]); i++)
        if (strcmp(g_ccy[i].code, code) == 0)
            return &g_ccy[i];
    return &g_ccy[0];
}

void rg_gen_rng_seed(struct rg_gen_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = rg_gen_splitmix(&x);
}

double rg_gen_exp(struct rg_gen_rng *r, double mean)
{
    return -mean * log(1.0 - rg_gen_unif(r));
}

int rg_gen_cdf_zipf(struct rg_gen_cdf *cdf, uint32_t n, double s, double q)
{
    cdf->n = 0;
    cdf->c = malloc((size_t)(n ? n : 1) * sizeof(double));
    if (!cdf->c)
        return RG_ENOMEM;
    double acc = 0;
    for (uint32_t i = 0; i < n; i++) {
        acc += pow((double)i + 1.0 + q, -s);
        cdf->c[i] = acc;
    }
    for (uint32_t i = 0; i < n; i++)
        cdf->c[i] /= acc;
    cdf->n = n;
    return 0;
}

void rg_gen_cdf_fini(struct rg_gen_cdf *cdf)
{
    free(cdf->c);
    cdf->c = NULL;
    cdf->n = 0;
}

uint32_t rg_gen_cdf_pick(const struct rg_gen_cdf *cdf, struct rg_gen_rng *r)
{
    double u = rg_gen_unif(r);
    uint32_t lo = 0, hi = cdf->n - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cdf->c[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Category weights of the merchant population and of a user's favourite. */
static const int g_cat_weight[RG_CAT_COUNT] = { 12, 25, 25, 18, 20 };
/* Which channels a category accepts (bit per enum rg_gen_chan). */
static const unsigned g_cat_chans[RG_CAT_COUNT] = {
    [RG_CAT_GIFT_CARD] = 7, [RG_CAT_GAME] = 7, [RG_CAT_APP_STORE] = 7,
    [RG_CAT_TRANSPORT] = 6, [RG_CAT_CONTENT] = 7,
};

static int pick_weighted(uint64_t h, const int *wt, int n)
{
    int tot = 0;
    for (int i = 0; i < n; i++)
        tot += wt[i];
    int x = (int)(h % (uint64_t)tot);
    for (int i = 0; i < n; i++) {
        if (x < wt[i])
            return i;
        x -= wt[i];
    }
    return n - 1;
}

int rg_gen_world_init(struct rg_gen_world *w, uint64_t seed, uint32_t nusers)
{
    memset(w, 0, sizeof(*w));
    w->seed = seed;
    w->nusers = nusers;
    /* about 20 users per merchant, within sane bounds */
    w->nmerchants = nusers / 20;
    if (w->nmerchants < 60)
        w->nmerchants = 60;
    if (w->nmerchants > 20000)
        w->nmerchants = 20000;
    int rc = RG_ENOMEM;
    w->users = calloc(nusers, sizeof(*w->users));
    w->merchants = calloc(w->nmerchants, sizeof(*w->merchants));
    if (!w->users || !w->merchants)
        goto fail;
    /* q grows with the population so the head stays plausible: with the
     * default 10000 users the top 1% make about a quarter of the events. */
    double q = nusers / 200.0;
    rc = rg_gen_cdf_zipf(&w->user_cdf, nusers, 1.1, q);
    if (rc)
        goto fail;

    int cw[64];
    for (int i = 0; i < rg_gen_ncountries; i++)
        cw[i] = rg_gen_countries[i].weight;
    static const int peaks[] = { 8, 12, 13, 17, 18, 19, 20, 20, 21, 21, 22, 23 };
    static const int chan_w[RG_CH_COUNT] = { 45, 35, 20 };
    static const int auth_w[3] = { 70, 15, 15 };
    for (uint32_t i = 0; i < nusers; i++) {
        struct rg_gen_user *u = &w->users[i];
        uint64_t h1 = rg_gen_hash2(seed, (uint64_t)i * 4 + 0);
        uint64_t h2 = rg_gen_hash2(seed, (uint64_t)i * 4 + 1);
        uint64_t h3 = rg_gen_hash2(seed, (uint64_t)i * 4 + 2);
        u->country = (uint8_t)pick_weighted(h1, cw, rg_gen_ncountries);
        u->city = (uint8_t)((h1 >> 20) % 3);
        u->ip_b = (uint8_t)(h1 >> 24);
        u->ip_c = (uint8_t)(h1 >> 32);
        u->ndev = ((h1 >> 40) % 10) < 3 ? 2 : 1;
        u->fav_cat = (uint8_t)pick_weighted(h1 >> 44, g_cat_weight, RG_CAT_COUNT);
        u->pref_chan = (uint8_t)pick_weighted(h2, chan_w, RG_CH_COUNT);
        u->auth = (uint8_t)pick_weighted(h2 >> 16, auth_w, 3);
        if (u->pref_chan == RG_CH_WALLET && ((h2 >> 24) & 3))
            u->auth = RG_AUTH_BIOMETRIC;
        u->peak = (uint8_t)peaks[(h2 >> 32) % (sizeof(peaks) / sizeof(peaks[0]))];
        u->width = (uint8_t)(2 + (h2 >> 40) % 3);
        u->spend = (uint8_t)(h2 >> 48);
        u->dev[0] = h3;
        u->dev[1] = rg_gen_hash2(h3, 1);
        u->card = rg_gen_hash2(h3, 2);
    }

    /* Merchants: the first RG_CAT_COUNT cover every category once, so each
     * scenario always finds a merchant; the rest follow the weights. */
    uint32_t ncat[RG_CAT_COUNT] = { 0 };
    for (uint32_t m = 0; m < w->nmerchants; m++) {
        int cat = m < RG_CAT_COUNT ? (int)m
                                   : pick_weighted(rg_gen_hash2(seed ^ 0x6d65726368ULL, m),
                                                   g_cat_weight, RG_CAT_COUNT);
        w->merchants[m].cat = (uint8_t)cat;
        ncat[cat]++;
    }
    for (int c = 0; c < RG_CAT_COUNT; c++) {
        w->cat_merchants[c] = malloc(ncat[c] * sizeof(uint32_t));
        if (!w->cat_merchants[c])
            goto fail;
        rc = rg_gen_cdf_zipf(&w->cat_cdf[c], ncat[c], 1.0, 2.0);
        if (rc)
            goto fail;
        rc = RG_ENOMEM;
        ncat[c] = 0;
    }
    /* merchant index order is popularity order within a category */
    for (uint32_t m = 0; m < w->nmerchants; m++) {
        int c = w->merchants[m].cat;
        w->cat_merchants[c][ncat[c]++] = m;
    }
    return 0;
fail:
    rg_gen_world_fini(w);
    return rc ? rc : RG_ENOMEM;
}

void rg_gen_world_fini(struct rg_gen_world *w)
{
    free(w->users);
    free(w->merchants);
    rg_gen_cdf_fini(&w->user_cdf);
    for (int c = 0; c < RG_CAT_COUNT; c++) {
        free(w->cat_merchants[c]);
        rg_gen_cdf_fini(&w->cat_cdf[c]);
    }
    memset(w, 0, sizeof(*w));
}

double rg_gen_hour_weight(const struct rg_gen_user *u, int local_hour)
{
    int d = abs(local_hour - (int)u->peak);
    if (d > 12)
        d = 24 - d;
    /* a floor keeps some activity at every hour; the table avoids exp() */
    static const double g[13] = { 1.0, 0.94, 0.78, 0.57, 0.37, 0.21, 0.11,
                                  0.05, 0.02, 0.01, 0.0, 0.0, 0.0 };
    int k = d * 2 / (int)u->width;
    if (k > 12)
        k = 12;
    return 0.06 + 0.94 * g[k];
}

int64_t rg_gen_localise(int64_t usd_cents, const struct rg_gen_ccy *ccy)
{
    int64_t v = usd_cents * ccy->factor;
    if (ccy->step_minor > 1) {
        v = (v + ccy->step_minor / 2) / ccy->step_minor * ccy->step_minor;
        if (v == 0)
            v = ccy->step_minor;
    }
    return v;
}

/* Price points (cents, USD-like) per category; transport and content are
 * ranges (lo, hi, step). See docs/gen.md for the table. */
static const int64_t g_gift[] = { 500, 1000, 2500, 5000 };
static const int64_t g_game[] = { 99, 199, 299, 499, 999, 1499, 1999 };
static const int64_t g_app[] = { 99, 199, 299, 499 };

static int64_t pick_point(struct rg_gen_rng *r, const int64_t *pts, int n, double level)
{
    /* centred on the level, with a little spread */
    double x = level * (n - 1) + (rg_gen_unif(r) - 0.5) * 2.2;
    int i = (int)lround(x);
    if (i < 0)
        i = 0;
    if (i >= n)
        i = n - 1;
    return pts[i];
}

static int64_t pick_range(struct rg_gen_rng *r, int64_t lo, int64_t hi, int64_t step, double level)
{
    double x = level + (rg_gen_unif(r) - 0.5) * 0.5;
    if (x < 0)
        x = 0;
    if (x > 1)
        x = 1;
    int64_t nsteps = (hi - lo) / step;
    return lo + (int64_t)lround(x * (double)nsteps) * step;
}

int64_t rg_gen_amount(struct rg_gen_rng *r, int cat, double level, const struct rg_gen_ccy *ccy)
{
    int64_t c;
    switch (cat) {
    case RG_CAT_GIFT_CARD: c = pick_point(r, g_gift, 4, level); break;
    case RG_CAT_GAME: c = pick_point(r, g_game, 7, level); break;
    case RG_CAT_APP_STORE: c = pick_point(r, g_app, 4, level); break;
    case RG_CAT_TRANSPORT: c = pick_range(r, 120, 450, 10, level); break;
    default: c = pick_range(r, 50, 300, 1, level); break;
    }
    return rg_gen_localise(c, ccy);
}

unsigned rg_gen_cat_chans(int cat) { return g_cat_chans[cat]; }
