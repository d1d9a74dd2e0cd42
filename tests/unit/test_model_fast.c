/*
 * test_model_fast.c - the scorer's fast paths give exactly the results of
 * the plain definitions in models/README.md.
 *
 * The isolation-forest scorer prunes subtrees whose split features are all
 * missing and walks trees branchlessly until it meets a missing feature
 * (src/model/model_int.h). This file re-implements the README definition
 * the slow, obvious way, straight from the JSON (recursive walk, both
 * branches at a missing feature weighted by n_node_samples), and requires
 * bit-identical scores on random rows with random missing patterns, for
 * the shipped model and the small sklearn fixture. Values are drawn from
 * the models' own thresholds and their float neighbours so the `<=` edge
 * and the float rounding are exercised, plus infinities and huge values.
 *
 * The GBDT part checks that the batch path (tree-major blocks of rows)
 * gives the same bits as scoring each row alone, for batch sizes around
 * the block and lane boundaries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskgate/diag.h"
#include "riskgate/feature.h"
#include "riskgate/model.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* xorshift64*: deterministic, so a failure is reproducible. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}
static double unif(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

/* ---- reference isolation forest, straight from the README ------------ */

struct ref_tree {
    int n;
    int *feat, *left, *right;
    double *thr, *nns;
};

struct ref_forest {
    int n_trees;
    struct ref_tree *t;
    double n_samples;
    int slot[64]; /* model feature index -> catalog slot */
    double *thr_pool; /* every threshold, for drawing edge values */
    size_t n_thr;
};

static double ref_c(double n)
{
    if (n <= 1.0)
        return 0.0;
    if (n <= 2.0)
        return 1.0;
    return 2.0 * (log(n - 1.0) + 0.5772156649015329) - 2.0 * (n - 1.0) / n;
}

static void *num_list(const cJSON *obj, const char *key, int as_int, int *n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, key);
    assert_true(cJSON_IsArray(a));
    *n = cJSON_GetArraySize(a);
    void *out = malloc((size_t)(*n ? *n : 1) * (as_int ? sizeof(int) : sizeof(double)));
    assert_non_null(out);
    int i = 0;
    for (const cJSON *c = a->child; c; c = c->next, i++) {
        if (as_int)
            ((int *)out)[i] = (int)c->valuedouble;
        else
            ((double *)out)[i] = c->valuedouble;
    }
    return out;
}

static void ref_load(const char *path, struct ref_forest *f)
{
    char *buf = slurp(path);
    cJSON *root = cJSON_Parse(buf);
    assert_non_null(root);
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(root, "feature_names");
    int k = 0;
    for (const cJSON *c = names->child; c; c = c->next, k++) {
        assert_true(k < 64);
        f->slot[k] = rg_feature_lookup(c->valuestring);
        assert_true(f->slot[k] >= 0);
    }
    f->n_samples = cJSON_GetObjectItemCaseSensitive(root, "n_samples")->valuedouble;
    const cJSON *trees = cJSON_GetObjectItemCaseSensitive(root, "trees");
    f->n_trees = cJSON_GetArraySize(trees);
    f->t = calloc((size_t)f->n_trees, sizeof(*f->t));
    assert_non_null(f->t);
    size_t cap = 0;
    f->n_thr = 0;
    f->thr_pool = NULL;
    int ti = 0;
    for (const cJSON *tj = trees->child; tj; tj = tj->next, ti++) {
        struct ref_tree *t = &f->t[ti];
        int n1, n2, n3, n4;
        t->feat = num_list(tj, "feature", 1, &t->n);
        t->left = num_list(tj, "left", 1, &n1);
        t->right = num_list(tj, "right", 1, &n2);
        t->thr = num_list(tj, "threshold", 0, &n3);
        t->nns = num_list(tj, "n_node_samples", 0, &n4);
        assert_true(n1 == t->n && n2 == t->n && n3 == t->n && n4 == t->n);
        for (int i = 0; i < t->n; i++) {
            if (t->left[i] < 0)
                continue;
            if (f->n_thr == cap) {
                cap = cap ? 2 * cap : 1024;
                f->thr_pool = realloc(f->thr_pool, cap * sizeof(double));
                assert_non_null(f->thr_pool);
            }
            f->thr_pool[f->n_thr++] = t->thr[i];
        }
    }
    cJSON_Delete(root);
    free(buf);
}

static void ref_free(struct ref_forest *f)
{
    for (int i = 0; i < f->n_trees; i++) {
        free(f->t[i].feat);
        free(f->t[i].left);
        free(f->t[i].right);
        free(f->t[i].thr);
        free(f->t[i].nns);
    }
    free(f->t);
    free(f->thr_pool);
}

/* Path length below node i at depth d: a leaf is ((d + 1) + c(n)) - 1
 * (sklearn's summation order); a missing feature averages both sides
 * weighted by the training samples that went each way. */
static double ref_path(const struct ref_forest *f, const struct ref_tree *t, int i, int d,
                       const double *x)
{
    if (t->left[i] < 0)
        return ((double)(d + 1) + ref_c(t->nns[i])) - 1.0;
    double v = x[f->slot[t->feat[i]]];
    if (isnan(v)) {
        double nl = t->nns[t->left[i]], nr = t->nns[t->right[i]];
        double w = nl / (nl + nr);
        return w * ref_path(f, t, t->left[i], d + 1, x) +
               (1.0 - w) * ref_path(f, t, t->right[i], d + 1, x);
    }
    int go_left = (double)(float)v <= t->thr[i];
    return ref_path(f, t, go_left ? t->left[i] : t->right[i], d + 1, x);
}

static double ref_score(const struct ref_forest *f, const double *x)
{
    double depths = 0.0;
    for (int i = 0; i < f->n_trees; i++)
        depths += ref_path(f, &f->t[i], 0, 0, x);
    return pow(2.0, -depths / ((double)f->n_trees * ref_c(f->n_samples)));
}

/* A value near one of the model's thresholds: on it, one float step either
 * side, a little off, or an extreme. */
static double edge_value(const struct ref_forest *f)
{
    double thr = f->thr_pool[rnd() % f->n_thr];
    float tf = (float)thr;
    switch (rnd() % 10) {
    case 0: return thr;
    case 1: return (double)tf;
    case 2: return (double)nextafterf(tf, INFINITY);
    case 3: return (double)nextafterf(tf, -INFINITY);
    case 4: return thr * (1.0 + (unif() - 0.5) * 1e-3);
    case 5: return thr + (unif() - 0.5) * 10.0;
    case 6: return (rnd() & 1) ? INFINITY : -INFINITY;
    case 7: return (rnd() & 1) ? 1e300 : -1e300;
    default: return thr * 2.0 * unif();
    }
}

static void check_forest(const char *path, int rows)
{
    struct ref_forest f;
    ref_load(path, &f);
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_model *m = NULL;
    assert_int_equal(rg_model_load_file(path, &d, &m), 0);
    static const double p_missing[] = { 0.0, 0.05, 0.2, 0.5, 0.8, 1.0 };
    enum { BATCH = 150 };
    double *x = malloc(sizeof(double) * RG_FEAT_COUNT * BATCH);
    double want[BATCH], got[BATCH];
    assert_non_null(x);
    int bad = 0;
    for (int r0 = 0; r0 < rows; r0 += BATCH) {
        for (int r = 0; r < BATCH; r++) {
            double *row = x + (size_t)r * RG_FEAT_COUNT;
            double pm = p_missing[(size_t)(r0 + r) % (sizeof(p_missing) / sizeof(p_missing[0]))];
            for (int k = 0; k < RG_FEAT_COUNT; k++)
                row[k] = unif() < pm ? NAN : edge_value(&f);
            want[r] = ref_score(&f, row);
        }
        rg_model_score_batch(m, x, BATCH, got);
        for (int r = 0; r < BATCH; r++) {
            double one = rg_model_score(m, x + (size_t)r * RG_FEAT_COUNT);
            /* exact: the fast paths promise the same bits */
            if (memcmp(&one, &want[r], sizeof(double)) != 0 ||
                memcmp(&got[r], &want[r], sizeof(double)) != 0) {
                if (bad++ < 5)
                    fprintf(stderr, "%s row %d: ref %.17g single %.17g batch %.17g\n", path,
                            r0 + r, want[r], one, got[r]);
            }
        }
    }
    assert_int_equal(bad, 0);
    free(x);
    rg_model_free(m);
    rg_diags_fini(&d);
    ref_free(&f);
}

static void test_iforest_shipped_model_matches_reference(void **state)
{
    (void)state;
    check_forest("models/default-anomaly.json", 6000);
}

static void test_iforest_fixture_matches_reference(void **state)
{
    (void)state;
    check_forest("tests/data/model/iforest_small.json", 6000);
}

/* ---- GBDT: batch == single, bit for bit ------------------------------ */

static void test_gbdt_batch_equals_single(void **state)
{
    (void)state;
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_model *m = NULL;
    assert_int_equal(rg_model_load_file("models/default.json", &d, &m), 0);
    enum { MAXN = 300 };
    double *x = malloc(sizeof(double) * RG_FEAT_COUNT * MAXN);
    double got[MAXN];
    assert_non_null(x);
    static const size_t sizes[] = { 1, 7, 8, 9, 63, 64, 65, 127, 128, 129, 255, 256, 257, 300 };
    int bad = 0;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s];
        for (size_t i = 0; i < n * RG_FEAT_COUNT; i++) {
            double u = unif();
            x[i] = u < 0.2 ? NAN : u < 0.25 ? INFINITY : (unif() - 0.2) * 2000.0;
        }
        rg_model_score_batch(m, x, n, got);
        for (size_t r = 0; r < n; r++) {
            double one = rg_model_score(m, x + r * RG_FEAT_COUNT);
            assert_true(one >= 0.0 && one <= 1.0);
            if (memcmp(&one, &got[r], sizeof(double)) != 0 && bad++ < 5)
                fprintf(stderr, "batch %zu row %zu: single %.17g batch %.17g\n", n, r, one,
                        got[r]);
        }
    }
    assert_int_equal(bad, 0);
    free(x);
    rg_model_free(m);
    rg_diags_fini(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iforest_shipped_model_matches_reference),
        cmocka_unit_test(test_iforest_fixture_matches_reference),
        cmocka_unit_test(test_gbdt_batch_equals_single),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
