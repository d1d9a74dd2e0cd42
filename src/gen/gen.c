/*
 * gen.c - `riskgate gen`: options, the generation loop, fraud scenarios,
 * the delayed-feedback queue and the run summary.
 *
 * DESIGN
 * One thread, one PRNG stream (seeded by --seed), one simulated clock.
 * Normal events arrive as a Poisson process at --sim-rate (exponential
 * inter-arrival). A fraud scenario, once started, is an "instance" that
 * schedules its own events in a min-heap by due time; the loop always emits
 * whichever comes first, the next normal arrival or the earliest scenario
 * event, so event time never goes backwards and bursts interleave with
 * normal traffic as they would in production. A small controller starts a
 * new instance whenever the fraud events planned so far fall behind
 * --fraud-share of the events emitted (with jitter), so the share is met
 * whatever the scenario mix. Labels and settings wait in a second min-heap
 * ordered by due time (event ts + delay) and are written when the clock
 * passes them; at the end the rest are flushed with their intended ts.
 * File mode is a pure function of the options: byte-identical output for
 * the same seed. Kafka mode stamps ts = now and paces with a token bucket
 * when --rate is given.
 */
#include "riskgate/gen.h"

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen_int.h"
#include "riskgate/clock.h"
#include "riskgate/err.h"
#include "riskgate/log.h"

const char *const rg_gen_scen_name[RG_SCEN_COUNT] = {
    "normal", "giftcard_cashout", "account_takeover", "card_testing",
    "compromised_merchant", "device_farm",
};
const char *const rg_gen_bad_name[RG_BAD_COUNT] = {
    "none", "invalid_json", "missing_field", "wrong_type", "negative_amount",
    "bad_timestamp", "card_number", "invalid_utf8", "deep_nesting",
};

struct gen_opts {
    const char *out, *feedback_out, *truth_out;
    const char *brokers, *topic, *feedback_topic;
    uint64_t seed;          /* the event stream: ids, choices, new devices */
    uint64_t world_seed;    /* the users, devices, merchants (default: seed) */
    bool world_seed_set;
    int64_t count;          /* -1: not given */
    double rate, duration;  /* 0: not given */
    uint32_t users;
    double fraud_share, label_delay_s, legit_share, malformed, sim_rate;
    int64_t start_ms;
    bool sim_time;          /* Kafka mode: simulated event time, as in files */
    bool start_set;         /* --start given: Kafka --sim-time starts there */
    int linger_ms;          /* Kafka producer linger.ms (default 5) */
};

/* A pending feedback message (label or settings). */
struct fb_item {
    int64_t due;
    uint64_t order;         /* insertion order: ties pop deterministically */
    uint64_t seq;           /* labelled event */
    uint64_t device;
    uint32_t user, merchant;
    uint8_t kind;           /* 0 label, 1 settings */
    uint8_t fraud, scen, method;
};

struct sched_item {
    int64_t due;
    uint64_t order;
    uint32_t inst;
};

struct inst {
    int scen, remaining, step, cat;
    uint32_t user, merchant;
    uint64_t device, card;
    uint8_t ip[4];
    int country, city;
    int64_t gap_lo_ms, gap_hi_ms;
};

#define MAX_INST 4096

struct gen {
    struct gen_opts o;
    struct rg_gen_world w;
    struct rg_gen_rng r;
    struct rg_gen_sink *sink;
    struct rg_gen_buf eb, fb, tb;
    bool kafka;

    struct fb_item *fbh;
    size_t fbn, fbcap;
    struct sched_item sh[MAX_INST];
    size_t shn;
    struct inst inst[MAX_INST];
    uint32_t free_inst[MAX_INST];
    uint32_t nfree;
    uint64_t order, inst_counter;

    uint64_t seq, fraud_emitted;
    double fraud_planned, jitter;
    double tscale;          /* scenario time scale, see run() */
    /* summary */
    uint64_t n_scen[RG_SCEN_COUNT], n_bad, n_bad_kind[RG_BAD_COUNT];
    uint64_t n_label_fraud, n_label_legit, n_settings, n_inst[RG_SCEN_COUNT];
    int err;
};

/* ---- heaps ---- */
static bool fb_less(const struct fb_item *a, const struct fb_item *b)
{
    return a->due < b->due || (a->due == b->due && a->order < b->order);
}

static int fb_push(struct gen *g, struct fb_item it)
{
    if (g->fbn == g->fbcap) {
        size_t cap = g->fbcap ? g->fbcap * 2 : 4096;
        struct fb_item *p = realloc(g->fbh, cap * sizeof(*p));
        if (!p)
            return RG_ENOMEM;
        g->fbh = p;
        g->fbcap = cap;
    }
    it.order = g->order++;
    size_t i = g->fbn++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!fb_less(&it, &g->fbh[parent]))
            break;
        g->fbh[i] = g->fbh[parent];
        i = parent;
    }
    g->fbh[i] = it;
    return 0;
}

static struct fb_item fb_pop(struct gen *g)
{
    struct fb_item top = g->fbh[0];
    struct fb_item last = g->fbh[--g->fbn];
    size_t i = 0, n = g->fbn;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && fb_less(&g->fbh[c + 1], &g->fbh[c]))
            c++;
        if (!fb_less(&g->fbh[c], &last))
            break;
        g->fbh[i] = g->fbh[c];
        i = c;
    }
    if (n)
        g->fbh[i] = last;
    return top;
}

static bool sh_less(const struct sched_item *a, const struct sched_item *b)
{
    return a->due < b->due || (a->due == b->due && a->order < b->order);
}

static void sh_push(struct gen *g, int64_t due, uint32_t inst)
{
    struct sched_item it = { due, g->order++, inst };
    size_t i = g->shn++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!sh_less(&it, &g->sh[parent]))
            break;
        g->sh[i] = g->sh[parent];
        i = parent;
    }
    g->sh[i] = it;
}

static struct sched_item sh_pop(struct gen *g)
{
    struct sched_item top = g->sh[0];
    struct sched_item last = g->sh[--g->shn];
    size_t i = 0, n = g->shn;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && sh_less(&g->sh[c + 1], &g->sh[c]))
            c++;
        if (!sh_less(&g->sh[c], &last))
            break;
        g->sh[i] = g->sh[c];
        i = c;
    }
    if (n)
        g->sh[i] = last;
    return top;
}

/* ---- event synthesis ---- */
static const struct rg_gen_country *home_of(const struct gen *g, uint32_t user)
{
    return &rg_gen_countries[g->w.users[user].country];
}

static int local_hour(int64_t ts_ms, int tz_min)
{
    int64_t h = (ts_ms + (int64_t)tz_min * 60000) / 3600000;
    return (int)(((h % 24) + 24) % 24);
}

static uint32_t pick_merchant(struct gen *g, int cat)
{
    return g->w.cat_merchants[cat][rg_gen_cdf_pick(&g->w.cat_cdf[cat], &g->r)];
}

static int pick_chan(struct gen *g, int cat, int pref)
{
    unsigned ok = rg_gen_cat_chans(cat);
    if ((ok & (1u << pref)) && rg_gen_unif(&g->r) < 0.85)
        return pref;
    for (;;) {
        int c = (int)rg_gen_below(&g->r, RG_CH_COUNT);
        if (ok & (1u << c))
            return c;
    }
}

static void put_home_ip(struct gen *g, uint32_t user, bool mobile, uint8_t ip[4])
{
    const struct rg_gen_user *u = &g->w.users[user];
    const struct rg_gen_country *c = &rg_gen_countries[u->country];
    if (mobile) {
        ip[0] = c->mob_a;
        ip[1] = c->mob_b;
        ip[2] = (uint8_t)rg_gen_below(&g->r, 256);
        ip[3] = (uint8_t)rg_gen_range(&g->r, 1, 254);
    } else {
        ip[0] = c->ip_a;
        ip[1] = u->ip_b;
        ip[2] = u->ip_c;
        ip[3] = (uint8_t)rg_gen_range(&g->r, 2, 254);
    }
}

static void put_geo(struct gen *g, struct rg_gen_ev *ev, int country, int city, double p)
{
    ev->has_geo = rg_gen_unif(&g->r) < p;
    if (ev->has_geo) {
        const struct rg_gen_city *c = &rg_gen_countries[country].city[city];
        ev->lat = c->lat + (rg_gen_unif(&g->r) - 0.5) * 0.06;
        ev->lon = c->lon + (rg_gen_unif(&g->r) - 0.5) * 0.06;
    }
}

static void pick_ts_fmt(struct gen *g, struct rg_gen_ev *ev, int tz_min)
{
    double x = rg_gen_unif(&g->r);
    ev->ts_fmt = x < 0.3 ? RG_TS_EPOCH : x < 0.8 ? RG_TS_UTC : RG_TS_OFFSET;
    ev->tz_min = tz_min;
}

/* Fill the fields every event of `user` shares (currency, geo, ts format). */
static void base_event(struct gen *g, struct rg_gen_ev *ev, uint32_t user, int64_t t)
{
    const struct rg_gen_user *u = &g->w.users[user];
    const struct rg_gen_country *c = &rg_gen_countries[u->country];
    memset(ev, 0, sizeof(*ev));
    ev->seq = g->seq;
    ev->user = user;
    ev->ts_ms = t;
    ev->currency = rg_gen_unif(&g->r) < 0.03 ? "USD" : c->currency;
    ev->country = c->code;
    ev->auth = u->auth;
    pick_ts_fmt(g, ev, c->tz_min);
}

static void make_normal(struct gen *g, int64_t t, struct rg_gen_ev *ev)
{
    uint32_t user = 0;
    /* daily rhythm: a popular pick is kept with the user's hour weight */
    for (int tries = 0; tries < 8; tries++) {
        user = rg_gen_cdf_pick(&g->w.user_cdf, &g->r);
        const struct rg_gen_user *u = &g->w.users[user];
        int h = local_hour(t, rg_gen_countries[u->country].tz_min);
        if (rg_gen_unif(&g->r) < rg_gen_hour_weight(u, h))
            break;
    }
    const struct rg_gen_user *u = &g->w.users[user];
    base_event(g, ev, user, t);
    ev->scen = RG_SCEN_NORMAL;
    ev->cat = rg_gen_unif(&g->r) < 0.6 ? u->fav_cat : (int)rg_gen_below(&g->r, RG_CAT_COUNT);
    ev->merchant = pick_merchant(g, ev->cat);
    ev->chan = pick_chan(g, ev->cat, u->pref_chan);
    ev->amount_minor = rg_gen_amount(&g->r, ev->cat, u->spend / 255.0, rg_gen_ccy_find(ev->currency));
    double x = rg_gen_unif(&g->r);
    if (x < 0.003)
        ev->device = rg_gen_hash2(g->o.seed ^ 0x6e6577646576ULL, g->seq); /* rare new device */
    else
        ev->device = u->dev[(u->ndev == 2 && x > 0.8) ? 1 : 0];
    put_home_ip(g, user, rg_gen_unif(&g->r) < (ev->chan == RG_CH_CARRIER ? 0.7 : 0.2), ev->ip);
    ev->card = ev->chan == RG_CH_CARD ? u->card : 0;
    if (rg_gen_unif(&g->r) < 0.003) {
        /* a legitimate trip to a neighbouring country: roaming on the home
         * carrier, so a country change alone is not proof of fraud */
        int c = (int)rg_gen_below(&g->r, (uint32_t)rg_gen_ncountries);
        const struct rg_gen_country *tc = &rg_gen_countries[c];
        if (c != u->country && tc->weight > 0 &&
            tc->region == rg_gen_countries[u->country].region) {
            ev->country = tc->code;
            put_home_ip(g, user, true, ev->ip);
            put_geo(g, ev, c, (int)rg_gen_below(&g->r, 3), 0.7);
            return;
        }
    }
    put_geo(g, ev, u->country, u->city, 0.7);
}

static uint32_t uniform_user(struct gen *g) { return rg_gen_below(&g->r, g->w.nusers); }

static void datacenter_ip(struct gen *g, uint8_t ip[4])
{
    ip[0] = 185;
    ip[1] = (uint8_t)rg_gen_range(&g->r, 100, 250);
    ip[2] = (uint8_t)rg_gen_below(&g->r, 256);
    ip[3] = (uint8_t)rg_gen_range(&g->r, 1, 254);
}

static int pick_scenario(struct gen *g)
{
    /* instance weights; card testing and farms make many events each */
    static const int wt[RG_SCEN_COUNT] = { 0, 32, 24, 16, 12, 16 };
    int x = (int)rg_gen_below(&g->r, 100);
    for (int s = 1; s < RG_SCEN_COUNT; s++) {
        if (x < wt[s])
            return s;
        x -= wt[s];
    }
    return RG_SCEN_GIFTCARD;
}

static void start_instance(struct gen *g, int64_t t)
{
    if (g->nfree == 0)
        return;
    uint32_t id = g->free_inst[--g->nfree];
    struct inst *in = &g->inst[id];
    memset(in, 0, sizeof(*in));
    in->scen = pick_scenario(g);
    uint64_t tag = rg_gen_hash2(g->o.seed ^ 0x6672617564ULL, g->inst_counter++);
    in->device = tag;
    switch (in->scen) {
    case RG_SCEN_GIFTCARD:
        in->user = rg_gen_cdf_pick(&g->w.user_cdf, &g->r);
        in->remaining = rg_gen_range(&g->r, 5, 20);
        in->gap_lo_ms = 3000;
        in->gap_hi_ms = 25000;
        break;
    case RG_SCEN_ATO: {
        /* a user with history, taken over at an hour they are rarely active */
        for (int tries = 0; tries < 30; tries++) {
            in->user = rg_gen_cdf_pick(&g->w.user_cdf, &g->r);
            const struct rg_gen_user *u = &g->w.users[in->user];
            if (rg_gen_hour_weight(u, local_hour(t, rg_gen_countries[u->country].tz_min)) < 0.2)
                break;
        }
        int home_region = home_of(g, in->user)->region;
        do
            in->country = (int)rg_gen_below(&g->r, (uint32_t)rg_gen_ncountries);
        while (rg_gen_countries[in->country].region == home_region);
        in->city = (int)rg_gen_below(&g->r, 3);
        const struct rg_gen_country *c = &rg_gen_countries[in->country];
        in->ip[0] = c->ip_a;
        in->ip[1] = (uint8_t)rg_gen_below(&g->r, 256);
        in->ip[2] = (uint8_t)rg_gen_below(&g->r, 256);
        in->remaining = rg_gen_range(&g->r, 3, 6);
        in->gap_lo_ms = 30000;
        in->gap_hi_ms = 300000;
        break;
    }
    case RG_SCEN_CARD_TESTING:
        in->user = uniform_user(g);
        in->card = rg_gen_hash2(tag, 3);
        datacenter_ip(g, in->ip);
        in->remaining = rg_gen_range(&g->r, 10, 30);
        in->gap_lo_ms = 2000;
        in->gap_hi_ms = 15000;
        break;
    case RG_SCEN_COMPROMISED_MERCHANT:
        in->cat = (int)rg_gen_below(&g->r, RG_CAT_COUNT);
        in->merchant = pick_merchant(g, in->cat);
        in->remaining = rg_gen_range(&g->r, 12, 30);
        in->gap_lo_ms = 10000;
        in->gap_hi_ms = 60000;
        break;
    default: /* RG_SCEN_DEVICE_FARM */
        datacenter_ip(g, in->ip);
        in->country = (int)rg_gen_below(&g->r, 9);
        in->city = (int)rg_gen_below(&g->r, 3);
        in->remaining = rg_gen_range(&g->r, 10, 30);
        in->gap_lo_ms = 5000;
        in->gap_hi_ms = 30000;
        break;
    }
    in->gap_lo_ms = (int64_t)((double)in->gap_lo_ms * g->tscale);
    in->gap_hi_ms = (int64_t)((double)in->gap_hi_ms * g->tscale);
    g->fraud_planned += in->remaining;
    g->n_inst[in->scen]++;
    sh_push(g, t + (int64_t)(rg_gen_range(&g->r, 1000, 30000) * g->tscale), id);
}

static void make_scenario(struct gen *g, struct inst *in, int64_t t, struct rg_gen_ev *ev)
{
    double lvl = 0.85 + 0.15 * rg_gen_unif(&g->r);
    switch (in->scen) {
    case RG_SCEN_GIFTCARD: {
        const struct rg_gen_user *u = &g->w.users[in->user];
        base_event(g, ev, in->user, t);
        ev->cat = rg_gen_unif(&g->r) < 0.65 ? RG_CAT_GIFT_CARD : RG_CAT_GAME;
        ev->merchant = pick_merchant(g, ev->cat);
        ev->chan = RG_CH_CARRIER;
        ev->device = in->device;
        put_home_ip(g, in->user, true, ev->ip);
        put_geo(g, ev, u->country, u->city, 0.7);
        ev->auth = RG_AUTH_NONE;
        ev->amount_minor = rg_gen_amount(&g->r, ev->cat, 1.0, rg_gen_ccy_find(ev->currency));
        break;
    }
    case RG_SCEN_ATO: {
        const struct rg_gen_user *u = &g->w.users[in->user];
        base_event(g, ev, in->user, t);
        const struct rg_gen_country *c = &rg_gen_countries[in->country];
        ev->country = c->code;
        ev->cat = in->step == 0 ? RG_CAT_GIFT_CARD
                                : (int)rg_gen_below(&g->r, 3); /* gift_card, game, app_store */
        ev->merchant = pick_merchant(g, ev->cat);
        ev->chan = pick_chan(g, ev->cat, u->pref_chan);
        ev->card = ev->chan == RG_CH_CARD ? u->card : 0;
        ev->device = in->device;
        memcpy(ev->ip, in->ip, 3);
        ev->ip[3] = (uint8_t)rg_gen_range(&g->r, 2, 254);
        put_geo(g, ev, in->country, in->city, 1.0);
        ev->auth = RG_AUTH_NONE;
        ev->amount_minor = rg_gen_amount(&g->r, ev->cat, in->step == 0 ? 1.0 : lvl,
                                         rg_gen_ccy_find(ev->currency));
        break;
    }
    case RG_SCEN_CARD_TESTING:
        base_event(g, ev, in->user, t);
        ev->merchant = rg_gen_below(&g->r, g->w.nmerchants); /* spread over merchants */
        ev->cat = g->w.merchants[ev->merchant].cat;
        ev->chan = RG_CH_CARD;
        ev->card = in->card;
        ev->device = in->device;
        memcpy(ev->ip, in->ip, 4);
        ev->auth = RG_AUTH_NONE;
        ev->amount_minor = rg_gen_localise(rg_gen_range(&g->r, 1, 100), rg_gen_ccy_find(ev->currency));
        break;
    case RG_SCEN_COMPROMISED_MERCHANT: {
        uint32_t user = rg_gen_cdf_pick(&g->w.user_cdf, &g->r);
        const struct rg_gen_user *u = &g->w.users[user];
        base_event(g, ev, user, t);
        ev->merchant = in->merchant;
        ev->cat = in->cat;
        ev->chan = pick_chan(g, ev->cat, u->pref_chan);
        ev->card = ev->chan == RG_CH_CARD ? u->card : 0;
        ev->device = u->dev[0];
        put_home_ip(g, user, ev->chan == RG_CH_CARRIER, ev->ip);
        put_geo(g, ev, u->country, u->city, 0.7);
        ev->amount_minor = rg_gen_amount(&g->r, ev->cat, lvl, rg_gen_ccy_find(ev->currency));
        break;
    }
    default: { /* RG_SCEN_DEVICE_FARM: many accounts, one device and IP */
        uint32_t user = uniform_user(g);
        base_event(g, ev, user, t);
        ev->cat = (int)rg_gen_below(&g->r, 3);
        ev->merchant = pick_merchant(g, ev->cat);
        ev->chan = RG_CH_CARRIER;
        ev->device = in->device;
        memcpy(ev->ip, in->ip, 4);
        ev->country = rg_gen_countries[in->country].code;
        put_geo(g, ev, in->country, in->city, 0.9);
        ev->auth = RG_AUTH_NONE;
        ev->amount_minor = rg_gen_amount(&g->r, ev->cat, 0.5 + 0.5 * rg_gen_unif(&g->r),
                                         rg_gen_ccy_find(ev->currency));
        break;
    }
    }
    ev->scen = in->scen;
}

/* ---- output ---- */
static void user_key(uint32_t user, char *key, size_t *keylen)
{
    char tmp[12];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + user % 10);
        user /= 10;
    } while (user);
    key[0] = 'u';
    for (int i = 0; i < n; i++)
        key[1 + i] = tmp[n - 1 - i];
    *keylen = (size_t)n + 1;
}

static int put_line(struct gen *g, int stream, struct rg_gen_buf *b, uint32_t user)
{
    char key[16];
    size_t keylen;
    if (b->oom)
        return RG_ENOMEM;
    user_key(user, key, &keylen);
    int rc = rg_gen_sink_put(g->sink, stream, key, keylen, b->p, b->len);
    b->len = 0;
    return rc;
}

static int emit_feedback(struct gen *g, const struct fb_item *it)
{
    struct rg_gen_buf *b = &g->fb;
    static const char *const methods[3] = { "otp", "biometric", "password" };
    if (it->kind == 1) {
        RG_GEN_LIT(b, "{\"type\":\"settings\",\"user_id\":");
        rg_gen_put_user_id(b, it->user);
        RG_GEN_LIT(b, ",\"step_up_method\":\"");
        rg_gen_put_raw(b, methods[it->method], strlen(methods[it->method]));
        RG_GEN_LIT(b, "\",\"ts\":");
        rg_gen_put_ts(b, it->due, RG_TS_UTC, 0);
        RG_GEN_LIT(b, "}\n");
        g->n_settings++;
    } else {
        RG_GEN_LIT(b, "{\"type\":\"label\",\"event_id\":");
        rg_gen_put_event_id(b, g->o.seed, it->seq);
        RG_GEN_LIT(b, ",\"user_id\":");
        rg_gen_put_user_id(b, it->user);
        RG_GEN_LIT(b, ",\"merchant_id\":\"m");
        rg_gen_put_u64(b, it->merchant);
        RG_GEN_LIT(b, "\",\"device_id\":");
        rg_gen_put_device_id(b, it->device);
        if (it->fraud) {
            RG_GEN_LIT(b, ",\"label\":\"fraud\",\"ts\":");
            rg_gen_put_ts(b, it->due, RG_TS_UTC, 0);
            RG_GEN_LIT(b, ",\"scenario\":");
            rg_gen_put_str(b, rg_gen_scen_name[it->scen]);
            g->n_label_fraud++;
        } else {
            RG_GEN_LIT(b, ",\"label\":\"legit\",\"ts\":");
            rg_gen_put_ts(b, it->due, RG_TS_UTC, 0);
            g->n_label_legit++;
        }
        RG_GEN_LIT(b, "}\n");
    }
    return put_line(g, RG_STREAM_FEEDBACK, b, it->user);
}

static int drain_feedback(struct gen *g, int64_t now, bool all)
{
    while (g->fbn && (all || g->fbh[0].due <= now)) {
        struct fb_item it = fb_pop(g);
        int rc = emit_feedback(g, &it);
        if (rc)
            return rc;
    }
    return 0;
}

static int emit_event(struct gen *g, struct rg_gen_ev *ev)
{
    int rc;
    rg_gen_encode_event(&g->eb, g->o.seed, ev);
    if ((rc = put_line(g, RG_STREAM_EVENTS, &g->eb, ev->user)))
        return rc;
    if (g->o.truth_out) {
        struct rg_gen_buf *b = &g->tb;
        RG_GEN_LIT(b, "{\"event_id\":");
        rg_gen_put_event_id(b, g->o.seed, ev->seq);
        RG_GEN_LIT(b, ",\"user_id\":");
        rg_gen_put_user_id(b, ev->user);
        RG_GEN_LIT(b, ",\"scenario\":");
        rg_gen_put_str(b, rg_gen_scen_name[ev->scen]);
        if (ev->scen != RG_SCEN_NORMAL)
            RG_GEN_LIT(b, ",\"label\":\"fraud\"");
        else
            RG_GEN_LIT(b, ",\"label\":\"legit\"");
        if (ev->bad) {
            RG_GEN_LIT(b, ",\"is_malformed\":true,\"malformed_kind\":");
            rg_gen_put_str(b, rg_gen_bad_name[ev->bad]);
        } else {
            RG_GEN_LIT(b, ",\"is_malformed\":false");
        }
        RG_GEN_LIT(b, ",\"ts_ms\":");
        rg_gen_put_i64(b, ev->ts_ms);
        RG_GEN_LIT(b, "}\n");
        if ((rc = put_line(g, RG_STREAM_TRUTH, b, ev->user)))
            return rc;
    }
    g->n_scen[ev->scen]++;
    if (ev->bad) {
        g->n_bad++;
        g->n_bad_kind[ev->bad]++;
        return 0; /* nobody labels an event that was rejected */
    }
    bool fraud = ev->scen != RG_SCEN_NORMAL;
    if (fraud || rg_gen_unif(&g->r) < g->o.legit_share) {
        struct fb_item it = {
            .due = ev->ts_ms + (int64_t)llround(g->o.label_delay_s * 1000.0),
            .seq = ev->seq, .device = ev->device, .user = ev->user,
            .merchant = ev->merchant, .kind = 0, .fraud = fraud, .scen = (uint8_t)ev->scen,
        };
        if ((rc = fb_push(g, it)))
            return rc;
    }
    return 0;
}

/* ---- options ---- */
static void usage(FILE *f)
{
    fputs("usage: riskgate gen [options]\n"
          "  --out FILE.jsonl --feedback-out FILE.jsonl   file mode (deterministic)\n"
          "  --brokers HOST:PORT --topic T --feedback-topic T   Kafka mode (default when no --out;\n"
          "                          brokers default to $RISKGATE_KAFKA_BOOTSTRAP)\n"
          "  --truth-out FILE       ground truth, one JSON line per event\n"
          "  --seed N               PRNG seed of the event stream and its event ids (default 1)\n"
          "  --world-seed N         seed of the users, devices, merchants (default: --seed); the\n"
          "                         same world with another --seed continues the same users\n"
          "  --count N              number of events (default 10000 without --rate)\n"
          "  --rate R --duration S  R events/s for S seconds (Kafka: paced in real time)\n"
          "  --sim-time             Kafka mode: simulated event time (--sim-rate, default 20/s)\n"
          "                         ending about now, instead of the wall clock\n"
          "  --users N              user population (default 10000)\n"
          "  --fraud-share F        share of fraud-scenario events (default 0.01)\n"
          "  --label-delay-s S      label delay (default 3600 event-time s in files, 5 s in Kafka)\n"
          "  --legit-label-share F  share of normal events labelled legit (default 0.05)\n"
          "  --malformed F          share of malformed events (default 0)\n"
          "  --start TIME           event-time start, RFC 3339 or epoch ms (default 2026-11-01T00:00:00Z;\n"
          "                         with --sim-time: default so that the timeline ends about now)\n"
          "  --sim-rate R           events/s of event time in file mode (default 20)\n"
          "  --linger-ms N          Kafka producer linger.ms (default 5, librdkafka's default;\n"
          "                         a latency-sensitive payment producer sets 0 or 1)\n",
          f);
}

static int parse_num(const char *name, const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "riskgate gen: --%s must be a number in [%g, %g], got \"%s\"\n", name,
                lo, hi, s);
        return RG_EINVAL;
    }
    *out = v;
    return 0;
}

static int parse_opts(struct gen_opts *o, int argc, char **argv)
{
    enum { O_OUT = 256, O_FB_OUT, O_TRUTH, O_BROKERS, O_TOPIC, O_FB_TOPIC, O_SEED, O_COUNT,
           O_RATE, O_DURATION, O_USERS, O_FRAUD, O_DELAY, O_LEGIT, O_BAD, O_START, O_SIM, O_SIM_TIME, O_LINGER, O_WORLD_SEED, O_HELP };
    static const struct option lo[] = {
        { "out", required_argument, NULL, O_OUT },
        { "feedback-out", required_argument, NULL, O_FB_OUT },
        { "truth-out", required_argument, NULL, O_TRUTH },
        { "brokers", required_argument, NULL, O_BROKERS },
        { "topic", required_argument, NULL, O_TOPIC },
        { "feedback-topic", required_argument, NULL, O_FB_TOPIC },
        { "seed", required_argument, NULL, O_SEED },
        { "world-seed", required_argument, NULL, O_WORLD_SEED },
        { "count", required_argument, NULL, O_COUNT },
        { "rate", required_argument, NULL, O_RATE },
        { "duration", required_argument, NULL, O_DURATION },
        { "sim-time", no_argument, NULL, O_SIM_TIME },
        { "linger-ms", required_argument, NULL, O_LINGER },
        { "users", required_argument, NULL, O_USERS },
        { "fraud-share", required_argument, NULL, O_FRAUD },
        { "label-delay-s", required_argument, NULL, O_DELAY },
        { "legit-label-share", required_argument, NULL, O_LEGIT },
        { "malformed", required_argument, NULL, O_BAD },
        { "start", required_argument, NULL, O_START },
        { "sim-rate", required_argument, NULL, O_SIM },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof(*o));
    o->topic = "transactions";
    o->feedback_topic = "risk-feedback";
    o->seed = 1;
    o->count = -1;
    o->linger_ms = 5;
    o->users = 10000;
    o->fraud_share = 0.01;
    o->label_delay_s = -1;
    o->legit_share = 0.05;
    o->sim_rate = 0;
    rg_gen_parse_time("2026-11-01T00:00:00Z", &o->start_ms);
    double v;
    int c;
    optind = 0; /* full re-initialisation: rg_gen_main may run many times */
    opterr = 1;
    while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
        switch (c) {
        case O_OUT: o->out = optarg; break;
        case O_FB_OUT: o->feedback_out = optarg; break;
        case O_TRUTH: o->truth_out = optarg; break;
        case O_BROKERS: o->brokers = optarg; break;
        case O_TOPIC: o->topic = optarg; break;
        case O_FB_TOPIC: o->feedback_topic = optarg; break;
        case O_SEED:
            if (parse_num("seed", optarg, 0, 9007199254740992.0, &v))
                return RG_EINVAL;
            o->seed = (uint64_t)v;
            break;
        case O_WORLD_SEED:
            if (parse_num("world-seed", optarg, 0, 9007199254740992.0, &v))
                return RG_EINVAL;
            o->world_seed = (uint64_t)v;
            o->world_seed_set = true;
            break;
        case O_COUNT:
            if (parse_num("count", optarg, 0, 1e12, &v))
                return RG_EINVAL;
            o->count = (int64_t)v;
            break;
        case O_RATE:
            if (parse_num("rate", optarg, 0.001, 1e8, &o->rate))
                return RG_EINVAL;
            break;
        case O_SIM_TIME:
            o->sim_time = true;
            break;
        case O_LINGER:
            if (parse_num("linger-ms", optarg, 0, 60000, &v))
                return RG_EINVAL;
            o->linger_ms = (int)v;
            break;
        case O_DURATION:
            if (parse_num("duration", optarg, 0.001, 1e9, &o->duration))
                return RG_EINVAL;
            break;
        case O_USERS:
            if (parse_num("users", optarg, 1, 10000000, &v))
                return RG_EINVAL;
            o->users = (uint32_t)v;
            break;
        case O_FRAUD:
            if (parse_num("fraud-share", optarg, 0, 0.9, &o->fraud_share))
                return RG_EINVAL;
            break;
        case O_DELAY:
            if (parse_num("label-delay-s", optarg, 0, 1e8, &o->label_delay_s))
                return RG_EINVAL;
            break;
        case O_LEGIT:
            if (parse_num("legit-label-share", optarg, 0, 1, &o->legit_share))
                return RG_EINVAL;
            break;
        case O_BAD:
            if (parse_num("malformed", optarg, 0, 1, &o->malformed))
                return RG_EINVAL;
            break;
        case O_START:
            if (rg_gen_parse_time(optarg, &o->start_ms)) {
                fprintf(stderr, "riskgate gen: --start wants RFC 3339 or epoch ms, got \"%s\"\n",
                        optarg);
                return RG_EINVAL;
            }
            o->start_set = true;
            break;
        case O_SIM:
            if (parse_num("sim-rate", optarg, 0.001, 1e9, &o->sim_rate))
                return RG_EINVAL;
            break;
        case O_HELP:
            usage(stdout);
            return 1;
        default:
            usage(stderr);
            return RG_EINVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "riskgate gen: unexpected argument \"%s\"\n", argv[optind]);
        return RG_EINVAL;
    }
    bool file = o->out != NULL;
    if (!file && !o->brokers)
        o->brokers = getenv("RISKGATE_KAFKA_BOOTSTRAP");
    if (!file && (!o->brokers || !*o->brokers)) {
        fprintf(stderr, "riskgate gen: give --out FILE or --brokers HOST:PORT "
                        "(or set RISKGATE_KAFKA_BOOTSTRAP)\n");
        return RG_EINVAL;
    }
    if (o->duration > 0 && o->rate <= 0) {
        fprintf(stderr, "riskgate gen: --duration needs --rate\n");
        return RG_EINVAL;
    }
    if (o->count < 0) {
        if (o->rate > 0 && o->duration > 0)
            o->count = (int64_t)llround(o->rate * o->duration);
        else if (o->rate > 0 && !file)
            o->count = -1; /* until interrupted */
        else
            o->count = 10000;
    }
    if (o->label_delay_s < 0)
        o->label_delay_s = file || o->sim_time ? 3600 : 5;
    if (o->sim_rate <= 0)
        o->sim_rate = o->rate > 0 && !o->sim_time ? o->rate : 20;
    return 0;
}

/* ---- run ---- */
static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static double now_s(void) { return (double)rg_clock_mono_ns() / 1e9; }

static void pace_sleep(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    nanosleep(&ts, NULL);
}

static void summary(const struct gen *g, double secs, uint64_t undelivered)
{
    uint64_t total = 0, fraud = 0;
    for (int s = 0; s < RG_SCEN_COUNT; s++) {
        total += g->n_scen[s];
        if (s)
            fraud += g->n_scen[s];
    }
    fprintf(stderr, "gen: %llu events in %.2f s (%.0f events/s): %llu normal, %llu fraud, %llu malformed\n",
            (unsigned long long)total, secs, secs > 0 ? (double)total / secs : 0.0,
            (unsigned long long)g->n_scen[0], (unsigned long long)fraud,
            (unsigned long long)g->n_bad);
    for (int s = 1; s < RG_SCEN_COUNT; s++)
        fprintf(stderr, "gen:   %-22s %llu events in %llu instances\n", rg_gen_scen_name[s],
                (unsigned long long)g->n_scen[s], (unsigned long long)g->n_inst[s]);
    for (int k = 1; k < RG_BAD_COUNT; k++)
        if (g->n_bad_kind[k])
            fprintf(stderr, "gen:   malformed %-16s %llu\n", rg_gen_bad_name[k],
                    (unsigned long long)g->n_bad_kind[k]);
    fprintf(stderr, "gen: feedback: %llu fraud labels, %llu legit labels, %llu settings\n",
            (unsigned long long)g->n_label_fraud, (unsigned long long)g->n_label_legit,
            (unsigned long long)g->n_settings);
    if (g->kafka)
        fprintf(stderr, "gen: kafka: %llu messages not delivered\n",
                (unsigned long long)undelivered);
}

static int run(struct gen *g)
{
    const struct gen_opts *o = &g->o;
    /* Kafka mode stamps events with the wall clock, unless --sim-time asks
     * for the simulated event time of file mode (so that per-user activity
     * matches what the model was trained on whatever the real rate): the
     * simulated timeline then ends about now, or starts at --start when
     * given (the benchmark puts a preload's timeline before a later run's). */
    int64_t origin = o->start_ms;
    if (g->kafka && !o->sim_time)
        origin = rg_clock_now_ms();
    else if (g->kafka && !o->start_set)
        origin = rg_clock_now_ms() -
                 (o->count > 0 ? (int64_t)((double)o->count * 1000.0 / o->sim_rate) : 0);
    double mean_gap_ms = 1000.0 / o->sim_rate;
    int rc;

    /* settings for ~10% of users, early in the run */
    for (uint32_t u = 0; u < g->w.nusers; u++) {
        if (rg_gen_unif(&g->r) >= 0.1)
            continue;
        struct fb_item it = {
            .due = origin + (int64_t)rg_gen_below(&g->r, g->kafka && !o->sim_time ? 5000 : 600000),
            .user = u, .kind = 1, .method = (uint8_t)rg_gen_below(&g->r, 3),
        };
        if ((rc = fb_push(g, it)))
            return rc;
    }

    double t_next = (double)origin + rg_gen_exp(&g->r, mean_gap_ms);
    double start = now_s(), last_progress = start, tokens = 1, last_refill = start;
    uint64_t last_count = 0;
    double p_bad = o->malformed / (1.0 - o->fraud_share);
    /* Scenario timings (gaps of seconds to minutes) are written for the
     * default 20 events/s. At higher traffic rates they are compressed in
     * proportion (down to 1/100) so bursts stay bursts relative to the
     * traffic and a short high-rate run (demo, benchmark) still reaches
     * --fraud-share instead of ending with most bursts still in flight. */
    g->tscale = 20.0 / o->sim_rate;
    if (g->tscale > 1)
        g->tscale = 1;
    if (g->tscale < 0.01)
        g->tscale = 0.01;
    g->jitter = rg_gen_unif(&g->r) * 10.0; /* the first burst is not at event 0 */
    struct rg_gen_ev ev;
    while (o->count < 0 || g->seq < (uint64_t)o->count) {
        if (g_stop)
            break;
        if (g->kafka && o->rate > 0) {
            /* token bucket: at most ~50 ms of burst */
            for (;;) {
                double n = now_s();
                tokens += (n - last_refill) * o->rate;
                last_refill = n;
                double cap = o->rate * 0.05 > 1 ? o->rate * 0.05 : 1;
                if (tokens > cap)
                    tokens = cap;
                if (tokens >= 1 || g_stop)
                    break;
                rg_gen_sink_poll(g->sink);
                double wait = (1 - tokens) / o->rate;
                pace_sleep(wait > 0.0002 ? wait : 0.0002);
            }
            tokens -= 1;
        }
        int64_t t;
        if (g->shn && (double)g->sh[0].due <= t_next) {
            struct sched_item si = sh_pop(g);
            struct inst *in = &g->inst[si.inst];
            t = si.due;
            make_scenario(g, in, t, &ev);
            g->fraud_emitted++;
            in->step++;
            if (--in->remaining > 0)
                sh_push(g, t + rg_gen_range(&g->r, (int)in->gap_lo_ms, (int)in->gap_hi_ms), si.inst);
            else
                g->free_inst[g->nfree++] = si.inst;
        } else {
            t = (int64_t)t_next;
            t_next += rg_gen_exp(&g->r, mean_gap_ms);
            make_normal(g, t, &ev);
            if (p_bad > 0 && rg_gen_unif(&g->r) < p_bad) {
                ev.bad = 1 + (int)rg_gen_below(&g->r, RG_BAD_COUNT - 1);
                ev.bad_variant = (int)rg_gen_below(&g->r, 60);
            }
            /* Counting only 30% of the events still in flight starts
             * instances a little early, so a run that ends while bursts
             * are under way still meets the share closely. */
            double inflight = g->fraud_planned - (double)g->fraud_emitted;
            if (o->fraud_share > 0 &&
                (double)g->fraud_emitted + 0.3 * inflight + g->jitter <
                    o->fraud_share * (double)(g->seq + 1)) {
                start_instance(g, t);
                g->jitter = rg_gen_unif(&g->r) * 10.0;
            }
        }
        if (g->kafka && !o->sim_time)
            ev.ts_ms = rg_clock_now_ms();
        if ((rc = emit_event(g, &ev)))
            return rc;
        g->seq++;
        if ((rc = drain_feedback(g, ev.ts_ms, false)))
            return rc;
        if (g->kafka && (o->rate > 0 || (g->seq & 255) == 0)) {
            rg_gen_sink_poll(g->sink);
            double n = now_s();
            if (n - last_progress >= 1.0) {
                fprintf(stderr, "gen: %llu events, %.0f events/s, %llu labels\n",
                        (unsigned long long)g->seq, (double)(g->seq - last_count) / (n - last_progress),
                        (unsigned long long)(g->n_label_fraud + g->n_label_legit));
                last_progress = n;
                last_count = g->seq;
            }
        }
    }
    /* labels due after the last event keep their intended ts */
    return drain_feedback(g, 0, true);
}

int rg_gen_main(int argc, char **argv)
{
    struct gen *g = calloc(1, sizeof(*g));
    if (!g) {
        fprintf(stderr, "riskgate gen: out of memory\n");
        return 1;
    }
    int status = 1;
    int rc = parse_opts(&g->o, argc, argv);
    if (rc) {
        free(g);
        return rc == 1 ? 0 : 2;
    }
    struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
    bool sig_installed = false;
    if (rg_gen_world_init(&g->w, g->o.world_seed_set ? g->o.world_seed : g->o.seed, g->o.users) ||
        rg_gen_buf_init(&g->eb, 16384) || rg_gen_buf_init(&g->fb, 1024) ||
        rg_gen_buf_init(&g->tb, 1024)) {
        fprintf(stderr, "riskgate gen: out of memory\n");
        goto done;
    }
    rg_gen_rng_seed(&g->r, g->o.seed);
    for (uint32_t i = 0; i < MAX_INST; i++)
        g->free_inst[g->nfree++] = MAX_INST - 1 - i;
    struct rg_gen_sink_conf sc = {
        .out = g->o.out, .feedback_out = g->o.feedback_out, .truth_out = g->o.truth_out,
        .brokers = g->o.brokers, .topic = g->o.topic, .feedback_topic = g->o.feedback_topic,
        .linger_ms = g->o.linger_ms,
    };
    g->sink = rg_gen_sink_new(&sc);
    if (!g->sink)
        goto done;
    g->kafka = rg_gen_sink_is_kafka(g->sink);
    if (g->kafka) {
        g_stop = 0;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        sig_installed = true;
    }
    double t0 = now_s();
    rc = run(g);
    if (rc)
        fprintf(stderr, "riskgate gen: %s\n", rg_err_str(rc));
    uint64_t undelivered = 0;
    int crc = rg_gen_sink_close(g->sink, &undelivered);
    if (crc && !rc)
        fprintf(stderr, "riskgate gen: %s\n",
                undelivered ? "some messages were not delivered" : "write failed");
    summary(g, now_s() - t0, undelivered);
    status = (rc || crc) ? 1 : 0;
done:
    if (sig_installed) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    rg_gen_sink_free(g->sink);
    rg_gen_buf_fini(&g->eb);
    rg_gen_buf_fini(&g->fb);
    rg_gen_buf_fini(&g->tb);
    rg_gen_world_fini(&g->w);
    free(g->fbh);
    free(g);
    return status;
}
