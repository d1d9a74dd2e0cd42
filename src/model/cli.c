/*
 * cli.c - `riskgate model inspect|score|bench` and the features CSV reader.
 *
 * DESIGN
 * bench compares riskgate with XGBoost's own C API in the same process,
 * on the same model file and the same rows, and refuses to report speed
 * for results that disagree (|difference| > 1e-6 on any row). libxgboost
 * is opened with dlopen() at run time so the product binary carries no
 * hard dependency on it; when it is absent, bench says so and fails.
 * The XGBoost side gets every benefit of the doubt: its array-interface
 * strings are built before the clock starts and its single-row calls use
 * inplace prediction (XGBoosterPredictFromDense), its fastest entry point.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model_int.h"
#include "riskgate/err.h"

/* ---- features CSV ---------------------------------------------------- */

/* Split one CSV line in place (RFC 4180 quotes; no embedded newlines).
 * Returns the number of cells, at most max. */
static size_t csv_split(char *line, char **cells, size_t max)
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        if (n == max)
            return n;
        if (*p == '"') {
            char *w = ++p;
            cells[n++] = w;
            while (*p) {
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *w++ = *p++;
                }
            }
            while (*p && *p != ',')
                p++;
            char c = *p;
            *w = 0;
            if (c != ',')
                return n;
            p++;
        } else {
            cells[n++] = p;
            char *c = strchr(p, ',');
            if (!c)
                return n;
            *c = 0;
            p = c + 1;
        }
    }
}

void rg_feature_csv_fini(struct rg_feature_csv *csv)
{
    free(csv->rows);
    free(csv->extra);
    memset(csv, 0, sizeof(*csv));
}

#define CSV_MAX_COLS 4096

int rg_feature_csv_load(const char *path, const char *extra_col, struct rg_diags *d,
                        struct rg_feature_csv *out)
{
    memset(out, 0, sizeof(*out));
    char *line = NULL;
    size_t lcap = 0, cap = 0, errs = 0;
    char **cells = calloc(CSV_MAX_COLS, sizeof(char *));
    int *colslot = calloc(CSV_MAX_COLS, sizeof(int)); /* slot, -1 ignore, -2 extra */
    int rc = RG_EPARSE;
    FILE *f = fopen(path, "r");
    if (!cells || !colslot) {
        rc = RG_ENOMEM;
        goto fail;
    }
    if (!f) {
        rg_diags_add(d, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
        rc = RG_EIO;
        goto fail;
    }
    ssize_t len = getline(&line, &lcap, f);
    if (len <= 0) {
        rg_diags_add(d, path, 1, 1, NULL, "empty file: expected a header row");
        goto fail;
    }
    line[strcspn(line, "\r\n")] = 0;
    size_t ncol = csv_split(line, cells, CSV_MAX_COLS);
    int have_extra = 0;
    for (size_t c = 0; c < ncol; c++) {
        colslot[c] = rg_feature_lookup(cells[c]);
        if (extra_col && strcmp(cells[c], extra_col) == 0) {
            colslot[c] = -2;
            have_extra = 1;
        }
    }
    if (extra_col && !have_extra) {
        rg_diags_add(d, path, 1, 1, NULL, "no column \"%s\" in the header", extra_col);
        goto fail;
    }
    int lineno = 1;
    while ((len = getline(&line, &lcap, f)) > 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            double *r = realloc(out->rows, nc * RG_FEAT_COUNT * sizeof(double));
            if (!r) {
                rc = RG_ENOMEM;
                goto fail;
            }
            out->rows = r;
            if (extra_col) {
                double *e = realloc(out->extra, nc * sizeof(double));
                if (!e) {
                    rc = RG_ENOMEM;
                    goto fail;
                }
                out->extra = e;
            }
            cap = nc;
        }
        double *row = out->rows + out->n * RG_FEAT_COUNT;
        for (int s = 0; s < RG_FEAT_COUNT; s++)
            row[s] = NAN;
        if (extra_col)
            out->extra[out->n] = NAN;
        size_t nc = csv_split(line, cells, ncol);
        for (size_t c = 0; c < nc; c++) {
            if (colslot[c] == -1 || !cells[c][0])
                continue;
            char *end;
            errno = 0;
            double v = strtod(cells[c], &end);
            if (*end || errno == ERANGE) {
                if (errs++ < 20)
                    rg_diags_add(d, path, lineno, (int)(cells[c] - line) + 1, NULL,
                                 "not a number in column %zu", c + 1);
                continue;
            }
            if (colslot[c] == -2)
                out->extra[out->n] = v;
            else
                row[colslot[c]] = v;
        }
        out->n++;
    }
    if (errs == 0)
        rc = 0;
fail:
    if (f)
        fclose(f);
    free(line);
    free(cells);
    free(colslot);
    if (rc != 0)
        rg_feature_csv_fini(out);
    return rc;
}

/* ---- inspect / score ------------------------------------------------- */

static struct rg_model *load_or_print(const char *path)
{
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_model *m = NULL;
    if (rg_model_load_file(path, &d, &m) != 0)
        rg_diags_print(&d, stderr);
    rg_diags_fini(&d);
    return m;
}

static int cmd_inspect(const char *path)
{
    struct rg_model *m = load_or_print(path);
    if (!m)
        return 1;
    struct rg_model_info in;
    rg_model_get_info(m, &in);
    printf("model:      %s\n", path);
    printf("version:    %s\n", rg_model_version(m));
    printf("sha256:     %s\n", rg_model_hash(m));
    printf("kind:       %s\n", in.kind == RG_MODEL_IFOREST ? "iforest (anomaly 0..1)"
                                                           : "gbdt (fraud probability)");
    printf("objective:  %s\n", in.objective);
    if (in.kind == RG_MODEL_GBDT_PROB)
        printf("base score: %.9g\n", in.base_score);
    else
        printf("n_samples:  %zu\n", in.n_samples);
    printf("trees:      %zu\n", in.n_trees);
    printf("depth:      max %d, avg %.2f\n", in.max_depth, in.avg_depth);
    printf("nodes:      %zu (%zu leaves)\n", in.n_nodes, in.n_leaves);
    printf("features:   %zu\n", in.n_features);
    for (size_t i = 0; i < in.n_features; i++)
        printf("  [%2zu] %-32s slot %d\n", i, rg_model_feature_name(m, i),
               rg_model_feature_slot(m, i));
    rg_model_free(m);
    return 0;
}

static int cmd_score(const char *model, const char *input)
{
    struct rg_model *m = load_or_print(model);
    if (!m)
        return 1;
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_feature_csv csv;
    int rc = 1;
    if (rg_feature_csv_load(input, NULL, &d, &csv) != 0) {
        rg_diags_print(&d, stderr);
        goto out;
    }
    for (size_t i = 0; i < csv.n; i++)
        printf("%.9g\n", rg_model_score(m, csv.rows + i * RG_FEAT_COUNT));
    rg_feature_csv_fini(&csv);
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    rg_diags_fini(&d);
    rg_model_free(m);
    return rc;
}

/* ---- bench ----------------------------------------------------------- */

typedef int (*xgb_create_fn)(const void *const dmats[], uint64_t len, void **out);
typedef int (*xgb_free_fn)(void *h);
typedef int (*xgb_load_fn)(void *h, const char *fname);
typedef int (*xgb_setparam_fn)(void *h, const char *name, const char *value);
typedef int (*xgb_dense_fn)(void *h, const char *values, const char *config, void *m,
                            const uint64_t **out_shape, uint64_t *out_dim, const float **out);
typedef const char *(*xgb_err_fn)(void);
typedef void (*xgb_ver_fn)(int *major, int *minor, int *patch);

struct xgb {
    void *dl, *h;
    xgb_create_fn create;
    xgb_free_fn free;
    xgb_load_fn load;
    xgb_setparam_fn setparam;
    xgb_dense_fn dense;
    xgb_err_fn err;
    xgb_ver_fn ver;
};

static void xgb_close(struct xgb *x)
{
    if (x->h && x->free)
        x->free(x->h);
    if (x->dl)
        dlclose(x->dl);
    memset(x, 0, sizeof(*x));
}

static int xgb_open(struct xgb *x, const char *model, const char *nthread)
{
    memset(x, 0, sizeof(*x));
    static const char *const names[] = { "libxgboost.so", "libxgboost.so.0" };
    for (size_t i = 0; i < 2 && !x->dl; i++)
        x->dl = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!x->dl) {
        fprintf(stderr, "model bench: cannot load libxgboost (%s); install libxgboost0 "
                        "(Debian: apt-get install libxgboost-dev)\n", dlerror());
        return -1;
    }
    *(void **)&x->create = dlsym(x->dl, "XGBoosterCreate");
    *(void **)&x->free = dlsym(x->dl, "XGBoosterFree");
    *(void **)&x->load = dlsym(x->dl, "XGBoosterLoadModel");
    *(void **)&x->setparam = dlsym(x->dl, "XGBoosterSetParam");
    *(void **)&x->dense = dlsym(x->dl, "XGBoosterPredictFromDense");
    *(void **)&x->err = dlsym(x->dl, "XGBGetLastError");
    *(void **)&x->ver = dlsym(x->dl, "XGBoostVersion");
    if (!x->create || !x->free || !x->load || !x->setparam || !x->dense || !x->err) {
        fprintf(stderr, "model bench: libxgboost lacks the C API functions needed "
                        "(XGBoosterPredictFromDense needs XGBoost >= 1.4)\n");
        xgb_close(x);
        return -1;
    }
    if (x->create(NULL, 0, &x->h) != 0 || x->load(x->h, model) != 0 ||
        x->setparam(x->h, "nthread", nthread) != 0) {
        fprintf(stderr, "model bench: xgboost: %s\n", x->err());
        xgb_close(x);
        return -1;
    }
    return 0;
}

static const char XGB_CONFIG[] = "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
                                 "\"iteration_end\": 0, \"strict_shape\": false, "
                                 "\"cache_id\": 0, \"missing\": NaN}";

static void array_iface(char *buf, size_t cap, const double *p, size_t rows, size_t cols)
{
    snprintf(buf, cap, "{\"data\": [%" PRIuPTR ", true], \"shape\": [%zu, %zu], "
                       "\"typestr\": \"<f8\", \"version\": 3}", (uintptr_t)p, rows, cols);
}

/* Deterministic rows that exercise both sides of the model's splits:
 * each feature takes one of its thresholds (exactly, or nudged either
 * way), and 10% of values are missing. */
static void synth_rows(const struct rg_model *m, double *rows, size_t n, uint64_t seed)
{
    uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
#define RNG() (s = s * 6364136223846793005ULL + 1442695040888963407ULL, (uint32_t)(s >> 33))
    size_t nn = m->n_nodes;
    for (size_t r = 0; r < n; r++) {
        double *x = rows + r * RG_FEAT_COUNT;
        for (int f = 0; f < RG_FEAT_COUNT; f++)
            x[f] = (double)(RNG() % 1000) / 100.0;
        for (int k = 0; k < RG_FEAT_COUNT * 2; k++) {
            size_t i = RNG() % nn;
            int f = -1;
            double t = 0;
            if (m->kind == RG_MODEL_GBDT_PROB && m->g[i].feat != RG_MODEL_PAD_SLOT) {
                f = (int)(m->g[i].feat % RG_MODEL_DLEFT_BASE);
                t = m->g[i].thr;
            } else if (m->kind == RG_MODEL_IFOREST && m->in[i].feat >= 0) {
                f = m->in[i].feat;
                t = m->in[i].thr;
            }
            if (f < 0)
                continue;
            uint32_t how = RNG() % 3;
            x[f] = how == 0 ? t : how == 1 ? t * 1.001 + 0.001 : t * 0.999 - 0.001;
        }
        for (int f = 0; f < RG_FEAT_COUNT; f++)
            if (RNG() % 10 == 0)
                x[f] = NAN;
    }
#undef RNG
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

struct bench_res {
    double rg_single, rg_batch, xgb_single, xgb_batch; /* ns per row */
    size_t mismatches;
    double max_diff;
};

static int cmd_bench(const char *model, const char *input, size_t nrows, int json,
                     const char *nthread, int reps)
{
    struct rg_model *m = load_or_print(model);
    if (!m)
        return 1;
    int rc = 1;
    struct xgb x = { 0 };
    double *rows = NULL, *xrows = NULL, *rg1 = NULL, *rgb = NULL, *xg = NULL;
    char *ifaces = NULL;
    struct rg_feature_csv csv = { 0 };
    enum { IFACE = 160, BATCH = 256 };
    if (input) {
        struct rg_diags d;
        rg_diags_init(&d);
        if (rg_feature_csv_load(input, NULL, &d, &csv) != 0) {
            rg_diags_print(&d, stderr);
            rg_diags_fini(&d);
            goto out;
        }
        rg_diags_fini(&d);
        nrows = csv.n;
        rows = csv.rows;
        csv.rows = NULL;
    } else {
        rows = malloc(nrows * RG_FEAT_COUNT * sizeof(double));
        if (rows)
            synth_rows(m, rows, nrows, 42);
    }
    size_t nf = m->n_features;
    xrows = malloc(nrows * nf * sizeof(double));
    rg1 = malloc(nrows * sizeof(double));
    rgb = malloc(nrows * sizeof(double));
    xg = malloc(nrows * sizeof(double));
    ifaces = malloc(nrows * IFACE);
    if (!rows || !xrows || !rg1 || !rgb || !xg || !ifaces || nrows == 0) {
        fprintf(stderr, "model bench: %s\n", nrows ? "out of memory" : "no rows");
        goto out;
    }
    /* XGBoost reads columns in the model's feature order */
    for (size_t r = 0; r < nrows; r++)
        for (size_t j = 0; j < nf; j++)
            xrows[r * nf + j] = rows[r * RG_FEAT_COUNT + m->feat_slots[j]];
    int with_xgb = m->kind == RG_MODEL_GBDT_PROB;
    if (with_xgb && xgb_open(&x, model, nthread) != 0)
        goto out;

    struct bench_res b = { 0 };
    b.rg_single = b.rg_batch = b.xgb_single = b.xgb_batch = INFINITY;
    for (int rep = 0; rep < reps; rep++) {
        double t0 = now_ns();
        for (size_t r = 0; r < nrows; r++)
            rg1[r] = rg_model_score(m, rows + r * RG_FEAT_COUNT);
        double t1 = now_ns();
        for (size_t r = 0; r < nrows; r += BATCH)
            rg_model_score_batch(m, rows + r * RG_FEAT_COUNT,
                                 nrows - r < BATCH ? nrows - r : BATCH, rgb + r);
        double t2 = now_ns();
        b.rg_single = fmin(b.rg_single, (t1 - t0) / (double)nrows);
        b.rg_batch = fmin(b.rg_batch, (t2 - t1) / (double)nrows);
        if (!with_xgb)
            continue;
        for (size_t r = 0; r < nrows; r++)
            array_iface(ifaces + r * IFACE, IFACE, xrows + r * nf, 1, nf);
        const uint64_t *shape;
        uint64_t dim;
        const float *res;
        t0 = now_ns();
        for (size_t r = 0; r < nrows; r++) {
            if (x.dense(x.h, ifaces + r * IFACE, XGB_CONFIG, NULL, &shape, &dim, &res) != 0) {
                fprintf(stderr, "model bench: xgboost predict: %s\n", x.err());
                goto out;
            }
            xg[r] = res[0];
        }
        t1 = now_ns();
        for (size_t r = 0; r < nrows; r += BATCH)
            array_iface(ifaces + (r / BATCH) * IFACE, IFACE, xrows + r * nf,
                        nrows - r < BATCH ? nrows - r : BATCH, nf);
        double tb = now_ns();
        for (size_t r = 0; r < nrows; r += BATCH) {
            if (x.dense(x.h, ifaces + (r / BATCH) * IFACE, XGB_CONFIG, NULL, &shape, &dim,
                        &res) != 0) {
                fprintf(stderr, "model bench: xgboost predict: %s\n", x.err());
                goto out;
            }
            size_t k = nrows - r < BATCH ? nrows - r : BATCH;
            for (size_t i = 0; i < k; i++)
                if (fabs(res[i] - xg[r + i]) > 1e-6) /* batch must equal single */
                    b.mismatches++;
        }
        t2 = now_ns();
        b.xgb_single = fmin(b.xgb_single, (t1 - t0) / (double)nrows);
        b.xgb_batch = fmin(b.xgb_batch, (t2 - tb) / (double)nrows);
    }
    for (size_t r = 0; r < nrows; r++) {
        double dd = fabs(rg1[r] - rgb[r]);
        if (with_xgb)
            dd = fmax(dd, fabs(rg1[r] - xg[r]));
        if (!(dd <= 1e-6))
            b.mismatches++;
        if (dd > b.max_diff || isnan(dd))
            b.max_diff = dd;
    }
    struct rg_model_info in;
    rg_model_get_info(m, &in);
    char cmd[1024], src[600];
    if (input)
        snprintf(src, sizeof(src), "--input %s", input);
    else
        snprintf(src, sizeof(src), "--rows %zu", nrows);
    snprintf(cmd, sizeof(cmd), "riskgate model bench --model %s %s --reps %d --xgb-nthread %s%s",
             model, src, reps, nthread, json ? " --json" : "");
    if (json) {
        printf("{\"model\":\"%s\",\"trees\":%zu,\"max_depth\":%d,\"features\":%zu,\"rows\":%zu,"
               "\"riskgate_single_ns\":%.1f,\"riskgate_batch256_ns\":%.1f",
               rg_model_version(m), in.n_trees, in.max_depth, in.n_features, nrows,
               b.rg_single, b.rg_batch);
        if (with_xgb)
            printf(",\"xgboost_single_ns\":%.1f,\"xgboost_batch256_ns\":%.1f,"
                   "\"speedup_single\":%.2f,\"speedup_batch256\":%.2f,\"xgb_nthread\":%s",
                   b.xgb_single, b.xgb_batch, b.xgb_single / b.rg_single,
                   b.xgb_batch / b.rg_batch, nthread);
        printf(",\"max_abs_diff\":%.3g,\"mismatches\":%zu,\"command\":\"%s\"}\n", b.max_diff,
               b.mismatches, cmd);
    } else {
        printf("model %s: %zu trees, max depth %d, %zu features; %zu rows, best of %d\n",
               rg_model_version(m), in.n_trees, in.max_depth, in.n_features, nrows, reps);
        printf("%-22s %14s %14s\n", "", "single ns/row", "batch256 ns/row");
        printf("%-22s %14.1f %14.1f\n", "riskgate", b.rg_single, b.rg_batch);
        if (with_xgb) {
            int maj = 0, min = 0, pat = 0;
            if (x.ver)
                x.ver(&maj, &min, &pat);
            char label[64];
            snprintf(label, sizeof(label), "xgboost %d.%d.%d (nthread %s)", maj, min, pat, nthread);
            printf("%-22s %14.1f %14.1f\n", label, b.xgb_single, b.xgb_batch);
            printf("%-22s %13.1fx %13.1fx\n", "speedup", b.xgb_single / b.rg_single,
                   b.xgb_batch / b.rg_batch);
        }
        printf("agreement: max |diff| %.3g over %zu rows (%s)\n", b.max_diff, nrows,
               b.mismatches ? "MISMATCH" : "ok, <= 1e-6");
        printf("reproduce: %s\n", cmd);
    }
    if (b.mismatches) {
        fprintf(stderr, "model bench: %zu results differ by more than 1e-6\n", b.mismatches);
        goto out;
    }
    rc = 0;
out:
    xgb_close(&x);
    free(rows);
    free(xrows);
    free(rg1);
    free(rgb);
    free(xg);
    free(ifaces);
    rg_feature_csv_fini(&csv);
    rg_model_free(m);
    return rc;
}

/* ---- dispatch -------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr,
            "usage: riskgate model inspect FILE\n"
            "       riskgate model score --model FILE --input features.csv\n"
            "       riskgate model bench --model FILE [--rows N | --input features.csv]\n"
            "                            [--reps N] [--xgb-nthread N] [--json]\n");
    return 2;
}

int rg_model_cli(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    const char *sub = argv[1];
    if (strcmp(sub, "inspect") == 0)
        return argc == 3 ? cmd_inspect(argv[2]) : usage();
    const char *model = NULL, *input = NULL, *nthread = "1";
    size_t rows = 10000;
    int json = 0, reps = 3;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (!v) {
            return usage();
        } else if (strcmp(a, "--model") == 0) {
            model = v, i++;
        } else if (strcmp(a, "--input") == 0) {
            input = v, i++;
        } else if (strcmp(a, "--xgb-nthread") == 0) {
            nthread = v, i++;
        } else if (strcmp(a, "--rows") == 0) {
            unsigned long long n = strtoull(v, &end, 10);
            if (*end || n == 0 || n > 100000000ULL)
                return usage();
            rows = (size_t)n, i++;
        } else if (strcmp(a, "--reps") == 0) {
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 1000)
                return usage();
            reps = (int)n, i++;
        } else {
            return usage();
        }
    }
    if (!model)
        return usage();
    if (strcmp(sub, "score") == 0)
        return input ? cmd_score(model, input) : usage();
    if (strcmp(sub, "bench") == 0)
        return cmd_bench(model, input, rows, json, nthread, reps);
    return usage();
}
