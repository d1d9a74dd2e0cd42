/*
 * test_metrics.c - metrics registry: Prometheus text output checked by a
 * small parser (HELP/TYPE once per family, label syntax, histogram buckets
 * cumulative and monotone, +Inf == _count, exact _sum), exact concurrent
 * counts, label sets, rule-id set replacement, partition gauges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskgate/err.h"
#include "riskgate/metrics.h"

/* ---- a small Prometheus text-format parser ------------------------------ */

#define MAXS 4096

struct sample {
    char name[128];
    char labels[512];   /* canonical: as written, without the le label */
    char le[32];        /* "" when there is no le label */
    double value;
};

struct family {
    char name[128];
    char type[16];
    int help_seen, type_seen;
};

struct parsed {
    struct sample s[MAXS];
    int ns;
    struct family f[64];
    int nf;
};

static struct family *fam_get(struct parsed *p, const char *name)
{
    for (int i = 0; i < p->nf; i++)
        if (strcmp(p->f[i].name, name) == 0)
            return &p->f[i];
    assert_true(p->nf < 64);
    struct family *f = &p->f[p->nf++];
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    return f;
}

static int valid_name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/* Family of a sample name: strip histogram suffixes when the base is a
 * declared histogram. */
static struct family *family_of(struct parsed *p, const char *name)
{
    static const char *suf[] = { "_bucket", "_sum", "_count" };
    for (int i = 0; i < 3; i++) {
        size_t nl = strlen(name), sl = strlen(suf[i]);
        if (nl > sl && strcmp(name + nl - sl, suf[i]) == 0) {
            char base[128];
            snprintf(base, sizeof(base), "%.*s", (int)(nl - sl), name);
            for (int k = 0; k < p->nf; k++)
                if (strcmp(p->f[k].name, base) == 0 && strcmp(p->f[k].type, "histogram") == 0)
                    return &p->f[k];
        }
    }
    for (int k = 0; k < p->nf; k++)
        if (strcmp(p->f[k].name, name) == 0)
            return &p->f[k];
    return NULL;
}

/* Parse text; fails the test on any syntax error. */
static void parse(const char *text, struct parsed *p)
{
    memset(p, 0, sizeof(*p));
    const char *line = text;
    while (*line) {
        const char *end = strchr(line, '\n');
        assert_non_null(end);                    /* every line ends in \n */
        char l[1024];
        size_t len = (size_t)(end - line);
        assert_true(len < sizeof(l));
        memcpy(l, line, len);
        l[len] = '\0';
        line = end + 1;
        if (len == 0)
            continue;
        if (l[0] == '#') {
            char kind[8], name[128], rest[256];
            int n = sscanf(l, "# %7s %127s %255[^\n]", kind, name, rest);
            assert_true(n >= 3);
            struct family *f = fam_get(p, name);
            if (strcmp(kind, "HELP") == 0) {
                assert_int_equal(f->help_seen, 0);   /* once per family */
                f->help_seen = 1;
            } else {
                assert_string_equal(kind, "TYPE");
                assert_int_equal(f->type_seen, 0);
                f->type_seen = 1;
                assert_true(strcmp(rest, "counter") == 0 || strcmp(rest, "gauge") == 0 ||
                            strcmp(rest, "histogram") == 0);
                snprintf(f->type, sizeof(f->type), "%.15s", rest);
            }
            continue;
        }
        assert_true(p->ns < MAXS);
        struct sample *s = &p->s[p->ns++];
        memset(s, 0, sizeof(*s));
        const char *c = l;
        size_t k = 0;
        assert_true(valid_name_char(*c, 1));
        while (valid_name_char(*c, 0)) {
            assert_true(k < sizeof(s->name) - 1);
            s->name[k++] = *c++;
        }
        if (*c == '{') {
            c++;
            size_t lo = 0;
            while (*c != '}') {
                char key[64], val[256];
                size_t kk = 0, vv = 0;
                assert_true(valid_name_char(*c, 1));
                while (valid_name_char(*c, 0)) {
                    assert_true(kk < sizeof(key) - 1);
                    key[kk++] = *c++;
                }
                key[kk] = '\0';
                assert_int_equal(*c++, '=');
                assert_int_equal(*c++, '"');
                while (*c != '"') {
                    assert_true(*c != '\0');
                    if (*c == '\\') {
                        c++;
                        assert_true(*c == '\\' || *c == '"' || *c == 'n');
                    }
                    assert_true(vv < sizeof(val) - 1);
                    val[vv++] = *c++;
                }
                val[vv] = '\0';
                c++;
                if (strcmp(key, "le") == 0)
                    snprintf(s->le, sizeof(s->le), "%.31s", val);
                else
                    lo += (size_t)snprintf(s->labels + lo, sizeof(s->labels) - lo, "%s%s=%s",
                                           lo ? "," : "", key, val);
                if (*c == ',')
                    c++;
                else
                    assert_int_equal(*c, '}');
            }
            c++;
        }
        assert_int_equal(*c++, ' ');
        char *ep;
        s->value = strtod(c, &ep);
        assert_true(ep != c && *ep == '\0');
        struct family *f = family_of(p, s->name);
        assert_non_null(f);                      /* TYPE declared before samples */
        assert_true(f->type_seen && f->help_seen);
    }
}

static const struct sample *find(const struct parsed *p, const char *name, const char *labels,
                                 const char *le)
{
    for (int i = 0; i < p->ns; i++)
        if (strcmp(p->s[i].name, name) == 0 && strcmp(p->s[i].labels, labels) == 0 &&
            strcmp(p->s[i].le, le ? le : "") == 0)
            return &p->s[i];
    return NULL;
}

static double value_of(const struct parsed *p, const char *name, const char *labels)
{
    const struct sample *s = find(p, name, labels, NULL);
    assert_non_null(s);
    return s->value;
}

/* Every histogram series: le ascending, counts non-decreasing, +Inf last
 * and equal to _count. Returns the number of series checked. */
static int check_histograms(const struct parsed *p)
{
    int series = 0;
    for (int i = 0; i < p->ns; i++) {
        const struct sample *s = &p->s[i];
        size_t nl = strlen(s->name);
        if (nl < 7 || strcmp(s->name + nl - 7, "_bucket") != 0)
            continue;
        /* first bucket of a series: previous sample is not the same series */
        if (i > 0 && strcmp(p->s[i - 1].name, s->name) == 0 &&
            strcmp(p->s[i - 1].labels, s->labels) == 0)
            continue;
        series++;
        double prev_le = -1, prev_v = -1;
        int j = i;
        for (; j < p->ns && strcmp(p->s[j].name, s->name) == 0 &&
               strcmp(p->s[j].labels, s->labels) == 0; j++) {
            double le = strcmp(p->s[j].le, "+Inf") == 0 ? INFINITY : atof(p->s[j].le);
            assert_true(le > prev_le);
            assert_true(p->s[j].value >= prev_v);
            prev_le = le;
            prev_v = p->s[j].value;
        }
        assert_true(isinf(prev_le));
        char cname[160];
        snprintf(cname, sizeof(cname), "%.*s_count", (int)(nl - 7), s->name);
        assert_true(value_of(p, cname, s->labels) == prev_v);
        snprintf(cname, sizeof(cname), "%.*s_sum", (int)(nl - 7), s->name);
        assert_non_null(find(p, cname, s->labels, NULL));
    }
    return series;
}

static struct parsed g_p;

static void render_parse(struct parsed *p)
{
    size_t len = 0;
    char *text = rg_metrics_render_alloc(&len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    parse(text, p);
    free(text);
}

static int setup(void **state)
{
    (void)state;
    rg_metrics_init("1.2.3-test");
    return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void test_render_parses_and_covers_every_metric(void **state)
{
    (void)state;
    rg_counter_inc(RG_M_EVENTS_IN);
    rg_counter_add(RG_M_EVENTS_IN, 4);
    rg_counter_inc_l(RG_M_VERDICTS, 2);
    rg_counter_inc_l(RG_M_RELOADS, RG_RELOAD_IDX(RG_RELOAD_MODEL, 0));
    rg_gauge_set(RG_M_READY, 1);
    rg_gauge_add(RG_M_INFLIGHT, 7);
    rg_gauge_add(RG_M_INFLIGHT, -2);
    rg_histo_observe_us(RG_M_STAGE_LATENCY, RG_STAGE_MODEL, 120);
    render_parse(&g_p);
    /* HELP and TYPE for every metric in the table, with the right type */
    static const char *tn[] = { "counter", "gauge", "histogram", "gauge" };
    for (int m = 0; m < RG_METRIC_COUNT; m++) {
        int found = 0;
        for (int i = 0; i < g_p.nf; i++)
            if (strcmp(g_p.f[i].name, rg_metric_name(m)) == 0) {
                found = 1;
                assert_string_equal(g_p.f[i].type, tn[rg_metric_type(m)]);
            }
        assert_true(found);
    }
    assert_int_equal(g_p.nf, RG_METRIC_COUNT);
    assert_true(value_of(&g_p, "riskgate_events_in_total", "") == 5);
    assert_true(value_of(&g_p, "riskgate_verdicts_total", "decision=deny") == 1);
    assert_true(value_of(&g_p, "riskgate_verdicts_total", "decision=allow") == 0);
    assert_true(value_of(&g_p, "riskgate_reloads_total", "what=model,result=error") == 1);
    assert_true(value_of(&g_p, "riskgate_reloads_total", "what=rules,result=ok") == 0);
    assert_true(value_of(&g_p, "riskgate_ready", "") == 1);
    assert_true(value_of(&g_p, "riskgate_inflight", "") == 5);
    assert_true(value_of(&g_p, "riskgate_build_info", "version=1.2.3-test") == 1);
    /* 6 stages + redis + kafka-to-verdict */
    assert_int_equal(check_histograms(&g_p), 8);
    assert_true(value_of(&g_p, "riskgate_stage_latency_seconds_count", "stage=model") == 1);
    assert_true(value_of(&g_p, "riskgate_stage_latency_seconds_count", "stage=rules") == 0);
    /* no consumer lag series until a partition is set */
    assert_null(find(&g_p, "riskgate_consumer_lag", "partition=0", NULL));
}

static void test_histogram_buckets_and_sum(void **state)
{
    (void)state;
    int64_t obs[] = { 5, 10, 11, 100, 999, 1000000, 2000000, -3 };
    for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
        rg_histo_observe_us(RG_M_REDIS_LATENCY, 0, obs[i]);
    uint64_t count, sum;
    rg_histo_get(RG_M_REDIS_LATENCY, 0, &count, &sum);
    assert_int_equal(count, 8);
    assert_int_equal(sum, 5 + 10 + 11 + 100 + 999 + 1000000 + 2000000);
    render_parse(&g_p);
    const char *n = "riskgate_redis_latency_seconds_bucket";
    /* le is inclusive: 10us lands in le=0.00001 together with 5 and -3 (0) */
    assert_true(find(&g_p, n, "", "0.00001")->value == 3);
    assert_true(find(&g_p, n, "", "0.000025")->value == 4);
    assert_true(find(&g_p, n, "", "0.0001")->value == 5);
    assert_true(find(&g_p, n, "", "0.001")->value == 6);
    assert_true(find(&g_p, n, "", "0.25")->value == 6);
    assert_true(find(&g_p, n, "", "1")->value == 7);
    assert_true(find(&g_p, n, "", "+Inf")->value == 8);
    assert_true(value_of(&g_p, "riskgate_redis_latency_seconds_count", "") == 8);
    assert_true(fabs(value_of(&g_p, "riskgate_redis_latency_seconds_sum", "") - 3.001125) < 1e-9);
    assert_int_equal(check_histograms(&g_p), 8);
}

#define PER_THREAD 500000

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        rg_counter_inc(RG_M_EVENTS_OUT);
        rg_counter_inc_l(RG_M_VERDICTS, i % 3);
        rg_histo_observe_us(RG_M_STAGE_LATENCY, RG_STAGE_TOTAL, i % 2000);
    }
    return NULL;
}

static void test_concurrent_updates_sum_exactly(void **state)
{
    (void)state;
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, NULL), 0);
    /* scraping while they run must not disturb anything */
    for (int k = 0; k < 5; k++)
        render_parse(&g_p);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(rg_counter_get(RG_M_EVENTS_OUT, 0), 2 * PER_THREAD);
    uint64_t per_decision = 0;
    for (int d = 0; d < 3; d++)
        per_decision += rg_counter_get(RG_M_VERDICTS, d);
    assert_int_equal(per_decision, 2 * PER_THREAD);
    uint64_t count, sum, expect_sum = 0;
    for (int i = 0; i < PER_THREAD; i++)
        expect_sum += (uint64_t)(i % 2000);
    rg_histo_get(RG_M_STAGE_LATENCY, RG_STAGE_TOTAL, &count, &sum);
    assert_int_equal(count, 2 * PER_THREAD);
    assert_int_equal(sum, 2 * expect_sum);
    render_parse(&g_p);
    assert_true(value_of(&g_p, "riskgate_events_out_total", "") == 2 * PER_THREAD);
    assert_true(value_of(&g_p, "riskgate_stage_latency_seconds_count", "stage=total") ==
                2 * PER_THREAD);
}

static void test_label_sets(void **state)
{
    (void)state;
    const char *reasons[] = { "bad_json", "missing_field", "card_number", "we\"ird\\x" };
    assert_int_equal(rg_metrics_register_label_set(RG_LS_REASON, reasons, 4), 0);
    rg_counter_inc_l(RG_M_DEAD_LETTERS, 1);
    rg_counter_add_l(RG_M_DEAD_LETTERS, 3, 2);
    rg_counter_inc_l(RG_M_DEAD_LETTERS, 10);      /* unnamed slot: counted, hidden */
    rg_counter_inc_l(RG_M_DEAD_LETTERS, 5000);    /* out of range: ignored */
    rg_counter_inc_l(RG_M_DEAD_LETTERS, -1);
    rg_counter_inc_l(RG_METRIC_COUNT, 0);
    rg_gauge_set(RG_M_EVENTS_IN, 5);               /* wrong type: ignored */
    assert_int_equal(rg_counter_get(RG_M_EVENTS_IN, 0), 0);
    render_parse(&g_p);
    assert_true(value_of(&g_p, "riskgate_dead_letters_total", "reason=missing_field") == 1);
    assert_true(value_of(&g_p, "riskgate_dead_letters_total", "reason=bad_json") == 0);
    /* escaped in the text, unescaped by the parser */
    assert_true(value_of(&g_p, "riskgate_dead_letters_total", "reason=we\"ird\\x") == 2);
    int n = 0;
    for (int i = 0; i < g_p.ns; i++)
        n += strcmp(g_p.s[i].name, "riskgate_dead_letters_total") == 0;
    assert_int_equal(n, 4);

    const char *types[] = { "label", "auth_result", "settings" };
    assert_int_equal(rg_metrics_register_label_set(RG_LS_FEEDBACK, types, 3), 0);
    rg_counter_inc_l(RG_M_FEEDBACK, 0);
    render_parse(&g_p);
    assert_true(value_of(&g_p, "riskgate_feedback_total", "type=label") == 1);
    assert_true(value_of(&g_p, "riskgate_feedback_total", "type=settings") == 0);

    assert_int_equal(rg_metrics_register_label_set(RG_LS_DECISION, types, 3), RG_EINVAL);
    assert_int_equal(rg_metrics_register_label_set(RG_LS_RULE, types, 3), RG_EINVAL);
    const char *many[RG_METRICS_MAX_FEEDBACK + 1];
    for (int i = 0; i <= RG_METRICS_MAX_FEEDBACK; i++)
        many[i] = "x";
    assert_int_equal(rg_metrics_register_label_set(RG_LS_FEEDBACK, many,
                                                   RG_METRICS_MAX_FEEDBACK + 1), RG_ETOOBIG);
    const char *withnull[] = { "a", NULL };
    assert_int_equal(rg_metrics_register_label_set(RG_LS_FEEDBACK, withnull, 2), RG_EINVAL);
}

static int count_rule_series(const struct parsed *p)
{
    int n = 0;
    for (int i = 0; i < p->ns; i++)
        n += strcmp(p->s[i].name, "riskgate_rule_hits_total") == 0;
    return n;
}

static void test_rule_set_replacement(void **state)
{
    (void)state;
    const char *gen1[] = { "velocity_1h", "gift_card_new_device", "geo_jump" };
    uint32_t s1[3], s2[3], s3[1];
    assert_int_equal(rg_metrics_rules_set(gen1, 3, s1), 0);
    assert_true(s1[0] != s1[1] && s1[1] != s1[2] && s1[0] != s1[2]);
    rg_counter_inc_l(RG_M_RULE_HITS, (int)s1[1]);
    rg_counter_inc_l(RG_M_RULE_HITS, (int)s1[1]);
    rg_counter_inc_l(RG_M_RULE_HITS, (int)s1[0]);
    render_parse(&g_p);
    assert_int_equal(count_rule_series(&g_p), 3);
    assert_true(value_of(&g_p, "riskgate_rule_hits_total", "rule=gift_card_new_device") == 2);

    /* reload: one kept, one new, two dropped */
    const char *gen2[] = { "gift_card_new_device", "night_burst", "gift_card_new_device" };
    assert_int_equal(rg_metrics_rules_set(gen2, 3, s2), 0);
    assert_int_equal(s2[0], s1[1]);             /* kept id keeps its slot */
    assert_int_equal(s2[2], s2[0]);             /* duplicate id: same slot */
    assert_true(s2[1] != s1[0] && s2[1] != s1[2]); /* just-retired slots not reused */
    /* a worker still on generation 1 counts into a retired slot: harmless */
    rg_counter_inc_l(RG_M_RULE_HITS, (int)s1[2]);
    rg_counter_inc_l(RG_M_RULE_HITS, (int)s2[1]);
    render_parse(&g_p);
    assert_int_equal(count_rule_series(&g_p), 2);
    assert_true(value_of(&g_p, "riskgate_rule_hits_total", "rule=gift_card_new_device") == 2);
    assert_true(value_of(&g_p, "riskgate_rule_hits_total", "rule=night_burst") == 1);
    assert_null(find(&g_p, "riskgate_rule_hits_total", "rule=velocity_1h", NULL));

    /* an id that comes back gets its old slot and count */
    const char *gen3[] = { "velocity_1h" };
    assert_int_equal(rg_metrics_rules_set(gen3, 1, s3), 0);
    assert_int_equal(s3[0], s1[0]);
    render_parse(&g_p);
    assert_int_equal(count_rule_series(&g_p), 1);
    assert_true(value_of(&g_p, "riskgate_rule_hits_total", "rule=velocity_1h") == 1);
}

static void test_rule_set_capacity(void **state)
{
    (void)state;
    enum { N = RG_METRICS_MAX_RULES };
    static char names[2][N][24];
    static const char *ids[2][N];
    static uint32_t slots[N];
    for (int g = 0; g < 2; g++)
        for (int i = 0; i < N; i++) {
            snprintf(names[g][i], sizeof(names[g][i]), "r%d_%d", g, i);
            ids[g][i] = names[g][i];
        }
    assert_int_equal(rg_metrics_rules_set(ids[0], N, slots), 0);
    rg_counter_inc_l(RG_M_RULE_HITS, (int)slots[7]);
    /* N brand-new ids right away: the old slots were retired only now */
    slots[0] = 12345;
    assert_int_equal(rg_metrics_rules_set(ids[1], N, slots), RG_ETOOBIG);
    assert_int_equal(slots[0], 12345);          /* untouched on failure */
    render_parse(&g_p);
    assert_int_equal(count_rule_series(&g_p), N); /* previous set stays */
    assert_true(value_of(&g_p, "riskgate_rule_hits_total", "rule=r0_7") == 1);
    /* retired by an empty generation: still not reusable at the next reload */
    assert_int_equal(rg_metrics_rules_set(NULL, 0, NULL), 0);
    assert_int_equal(rg_metrics_rules_set(ids[1], N, slots), RG_ETOOBIG);
    render_parse(&g_p);
    assert_int_equal(count_rule_series(&g_p), 0);
    /* one more reload later they are */
    assert_int_equal(rg_metrics_rules_set(NULL, 0, NULL), 0);
    assert_int_equal(rg_metrics_rules_set(ids[1], N, slots), 0);
    render_parse(&g_p);
    assert_int_equal(count_rule_series(&g_p), N);
    /* reused slots start from zero */
    for (int i = 0; i < g_p.ns; i++)
        if (strcmp(g_p.s[i].name, "riskgate_rule_hits_total") == 0)
            assert_true(g_p.s[i].value == 0);
}

static void test_partition_gauges(void **state)
{
    (void)state;
    rg_gauge_set_l(RG_M_CONSUMER_LAG, 3, 120);
    rg_gauge_set_l(RG_M_CONSUMER_LAG, 17, 0);
    rg_gauge_set_l(RG_M_CONSUMER_LAG, RG_METRICS_MAX_PARTITIONS, 9); /* ignored */
    render_parse(&g_p);
    assert_true(value_of(&g_p, "riskgate_consumer_lag", "partition=3") == 120);
    assert_true(value_of(&g_p, "riskgate_consumer_lag", "partition=17") == 0);
    int n = 0;
    for (int i = 0; i < g_p.ns; i++)
        n += strcmp(g_p.s[i].name, "riskgate_consumer_lag") == 0;
    assert_int_equal(n, 2);
    rg_gauge_unset_l(RG_M_CONSUMER_LAG, 3);           /* partition revoked */
    render_parse(&g_p);
    assert_null(find(&g_p, "riskgate_consumer_lag", "partition=3", NULL));
    assert_int_equal(rg_gauge_get(RG_M_CONSUMER_LAG, 17), 0);
}

static void test_render_truncation(void **state)
{
    (void)state;
    rg_counter_inc(RG_M_EVENTS_IN);
    size_t need = rg_metrics_render(NULL, 0);
    assert_true(need > 1000);
    char small[100];
    memset(small, 'x', sizeof(small));
    assert_int_equal(rg_metrics_render(small, sizeof(small)), need);
    assert_int_equal(strlen(small), sizeof(small) - 1);   /* terminated */
    char *full = malloc(need + 1);
    assert_int_equal(rg_metrics_render(full, need + 1), need);
    assert_int_equal(strlen(full), need);
    assert_memory_equal(full, small, sizeof(small) - 1);
    free(full);
}

static void test_reset(void **state)
{
    (void)state;
    rg_counter_inc(RG_M_REDIS_ERRORS);
    rg_histo_observe_us(RG_M_KAFKA_TO_VERDICT, 0, 50);
    rg_metrics_reset();
    uint64_t c, s;
    rg_histo_get(RG_M_KAFKA_TO_VERDICT, 0, &c, &s);
    assert_int_equal(c, 0);
    assert_int_equal(rg_counter_get(RG_M_REDIS_ERRORS, 0), 0);
}

/* docs/observability.md documents every metric (tests run from the
 * repository root, as tests/run-unit.sh does). */
static void test_every_metric_documented(void **state)
{
    (void)state;
    FILE *f = fopen("docs/observability.md", "r");
    assert_non_null(f);
    static char doc[65536];
    size_t n = fread(doc, 1, sizeof(doc) - 1, f);
    fclose(f);
    doc[n] = '\0';
    for (int m = 0; m < RG_METRIC_COUNT; m++) {
        char needle[160];
        snprintf(needle, sizeof(needle), "| `%s` |", rg_metric_name(m));
        if (!strstr(doc, needle))
            fail_msg("%s is not documented in docs/observability.md", rg_metric_name(m));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_render_parses_and_covers_every_metric, setup),
        cmocka_unit_test_setup(test_histogram_buckets_and_sum, setup),
        cmocka_unit_test_setup(test_concurrent_updates_sum_exactly, setup),
        cmocka_unit_test_setup(test_label_sets, setup),
        cmocka_unit_test_setup(test_rule_set_replacement, setup),
        cmocka_unit_test_setup(test_rule_set_capacity, setup),
        cmocka_unit_test_setup(test_partition_gauges, setup),
        cmocka_unit_test_setup(test_render_truncation, setup),
        cmocka_unit_test_setup(test_reset, setup),
        cmocka_unit_test(test_every_metric_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
