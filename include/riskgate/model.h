/*
 * model.h - compiled tree-ensemble models: the supervised fraud model
 * (XGBoost JSON, binary:logistic) and the anomaly model (isolation forest
 * exported by models/export_iforest.py, format "riskgate-iforest").
 *
 * A model is loaded once (off the hot path), validated, its feature names
 * resolved to catalog slots (feature.h) and its trees compiled into flat
 * index-linked node arrays. After load a struct rg_model is immutable:
 * any number of threads may score with it at the same time, and the
 * reload code swaps generations with one atomic pointer store and frees
 * the old one when no worker uses it any more.
 *
 * Scoring takes `double x[RG_FEAT_COUNT]` indexed by catalog slot; NaN is
 * missing. Scoring never allocates, locks or logs.
 *
 *   GBDT:    score = sigmoid(base_margin + sum of leaf values), computed with
 *            XGBoost 1.7's float32 semantics (x rounded to float, go left
 *            when x < threshold, missing follows default_left, float sum).
 *   IFOREST: score = 2^(-E[h(x)] / c(n_samples)) in 0..1, identical to
 *            sklearn's -score_samples(X); a missing value takes both
 *            branches weighted by their training sample counts.
 */
#ifndef RISKGATE_MODEL_H
#define RISKGATE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "riskgate/diag.h"

struct rg_model; /* immutable once loaded */

enum rg_model_kind {
    RG_MODEL_GBDT_PROB = 1, /* XGBoost binary:logistic: fraud probability */
    RG_MODEL_IFOREST = 2,   /* isolation forest: anomaly score 0..1 */
};

/* Limits applied at load; a file beyond any of them is rejected. */
#define RG_MODEL_MAX_FILE_BYTES (256u << 20) /* 256 MiB */
#define RG_MODEL_MAX_TREES 100000
#define RG_MODEL_MAX_NODES (16u << 20) /* all trees together */
#define RG_MODEL_MAX_DEPTH 64

/*
 * Parse and compile a model from a buffer holding XGBoost JSON or riskgate
 * iforest JSON (detected from the content). file names the source in
 * diagnostics and gives the version's name (basename without ".json");
 * may be NULL. Every problem found goes to d (file:line:col where the JSON
 * parser knows it, else line 0 and the JSON path in the message, e.g.
 * "trees[3].left_children[7]"). Returns 0 and *out (caller owns; free with
 * rg_model_free), or RG_EPARSE / RG_ETOOBIG / RG_ENOMEM with *out NULL.
 * @locality any thread; not the hot path.
 */
int rg_model_load_buf(const char *buf, size_t len, const char *file, struct rg_diags *d,
                      struct rg_model **out);
/* Read path (at most RG_MODEL_MAX_FILE_BYTES) and rg_model_load_buf() it.
 * RG_EIO when the file cannot be read. */
int rg_model_load_file(const char *path, struct rg_diags *d, struct rg_model **out);
/* NULL is fine. Only once no thread scores with m any more. */
void rg_model_free(struct rg_model *m);

/*
 * Score one feature vector (RG_FEAT_COUNT doubles, NaN = missing).
 * @locality any thread, concurrently; hot path (no allocation).
 */
double rg_model_score(const struct rg_model *m, const double *x);
/* Score n rows laid out row after row (rows[i * RG_FEAT_COUNT + slot]) into
 * out[0..n-1]; same results as rg_model_score, faster per row (tree-major
 * over blocks of rows). @locality any thread; hot path. */
void rg_model_score_batch(const struct rg_model *m, const double *rows, size_t n, double *out);

/* Accessors, all any thread. Strings live as long as m. */
enum rg_model_kind rg_model_kind(const struct rg_model *m);
/* "<name>@<first 12 hex digits of sha256 of the file bytes>" */
const char *rg_model_version(const struct rg_model *m);
/* Full sha256 of the file bytes, 64 lowercase hex digits. */
const char *rg_model_hash(const struct rg_model *m);

struct rg_model_info {
    enum rg_model_kind kind;
    const char *objective; /* "binary:logistic", or "isolation_forest" */
    double base_score;     /* GBDT: base_score as a probability; IFOREST: 0 */
    size_t n_trees;
    size_t n_nodes;      /* reachable nodes in all trees */
    size_t n_leaves;
    int max_depth;       /* edges from root to the deepest leaf */
    double avg_depth;    /* mean over trees of each tree's max depth */
    size_t n_features;   /* feature names the model lists */
    size_t n_samples;    /* IFOREST: max_samples used in training; GBDT: 0 */
};
void rg_model_get_info(const struct rg_model *m, struct rg_model_info *info);
/* i-th feature name listed by the model and its catalog slot (i < n_features). */
const char *rg_model_feature_name(const struct rg_model *m, size_t i);
int rg_model_feature_slot(const struct rg_model *m, size_t i);

/*
 * `riskgate model ...` entry point; argv[0] is "model" (or anything), argv[1]
 * the subcommand:
 *   inspect FILE
 *   score --model FILE --input features.csv      (one %.9g score per row)
 *   bench --model FILE [--rows N] [--input CSV] [--json] [--xgb-nthread N]
 * Returns the process exit status (0 ok, 1 failure, 2 usage).
 * @locality main thread of a CLI process.
 */
int rg_model_cli(int argc, char **argv);

/*
 * Features CSV (the contract with the replay tool, models/README.md): a
 * header row naming columns; columns named after catalog features fill
 * those slots (empty cell = missing), every other column is ignored except
 * extra_col when given (e.g. "xgb_pred"), whose values go to extra[]
 * (NaN when empty). Rows with a bad number are reported in d.
 */
struct rg_feature_csv {
    size_t n;       /* rows */
    double *rows;   /* n * RG_FEAT_COUNT, NaN for features the CSV lacks */
    double *extra;  /* n values of extra_col, or NULL */
};
int rg_feature_csv_load(const char *path, const char *extra_col, struct rg_diags *d,
                        struct rg_feature_csv *out);
void rg_feature_csv_fini(struct rg_feature_csv *csv);

#endif
