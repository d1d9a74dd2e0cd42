/*
 * score.c - the hot path: scoring feature vectors with a compiled model.
 *
 * DESIGN
 * GBDT parity with XGBoost 1.7 is exact, not approximate: the row is
 * rounded to float32 once (XGBoost's DMatrix stores float), a split goes
 * left when x < threshold in float (or, for a missing value, when
 * default_left), leaf values are summed in float in tree order starting
 * from the float base margin, and the sigmoid is XGBoost's float one.
 *
 * Speed comes from the layout in model_int.h: each tree is a fixed number
 * of steps with no leaf test, so the batch path walks a tree for several
 * rows at once (independent loads the CPU overlaps) and goes tree-major
 * over a block of rows, keeping one tree hot in cache while the block
 * passes through it. Nothing here allocates; the block buffers are on the
 * stack (about 14 KiB).
 */
#include <math.h>
#include <string.h>

#include "model_int.h"

#define BLOCK 64 /* rows per tree-major block */
#define LANES RG_MODEL_LANES
#define XROW (2 * RG_MODEL_ROW_FLOATS) /* both copies of a row, model_int.h */

/* The lockstep loops must be unrolled so each lane's node index lives in
 * a register: left as a loop, GCC keeps i[] on the stack and every step
 * pays a store-to-load forward in the chain (about 2x slower). */
#define UNROLL_LANES _Pragma("GCC unroll 8") /* = LANES */
_Static_assert(RG_MODEL_LANES == 8, "UNROLL_LANES spells out the lane count");

/* LANE_ROW: in the tree-major block loops, lane k reads its row at
 * xr + k * row_size from one pointer xr to the group's first row, so every
 * access is one base register plus a constant displacement. Left to
 * itself GCC derives a pointer (or offset) per lane from the row counter,
 * which with the LANES node indices is more than x86-64 has registers:
 * the spills are reloaded on every step. The empty asm makes xr opaque,
 * so there is nothing per lane to derive. No effect on results; with
 * callgrind over batches of 256 rows, 9 % fewer instructions in the GBDT
 * block and 4 % in the iforest one. */
#define LANE_ROW(xr) __asm__("" : "+r"(xr))

/* Round to float once, as XGBoost's DMatrix does, into the two copies. */
static inline void row_expand(const double *x, float *xf)
{
    for (int i = 0; i < RG_FEAT_COUNT; i++) {
        float v = (float)x[i];
        int miss = v != v;
        xf[i] = miss ? INFINITY : v;
        xf[RG_MODEL_DLEFT_BASE + i] = miss ? -INFINITY : v;
    }
    xf[RG_MODEL_PAD_SLOT] = -INFINITY;
    xf[RG_MODEL_DLEFT_BASE + RG_MODEL_PAD_SLOT] = -INFINITY;
}

/* common::Sigmoid of XGBoost 1.7 (src/common/math.h), in float. */
static inline float xgb_sigmoid(float x)
{
    const float eps = 1e-16f;
    float e = -x < 88.7f ? -x : 88.7f;
    float denom = expf(e) + 1.0f + eps;
    return 1.0f / denom;
}

static inline uint32_t step(const struct rg_gnode *g, uint32_t i, const float *xf)
{
    const struct rg_gnode *n = &g[i];
    return n->left + (uint32_t)!(xf[n->feat] < n->thr);
}

/* One row through all trees, LANES trees in lockstep; leaf values are
 * added in tree order so the float sum equals XGBoost's. */
static float gbdt_margin(const struct rg_model *m, const float *xf)
{
    const struct rg_gnode *g = m->g;
    float acc = m->base_margin;
    size_t t = 0;
    for (; t + LANES <= m->n_trees; t += LANES) {
        uint32_t i[LANES];
        UNROLL_LANES
        for (int k = 0; k < LANES; k++)
            i[k] = m->tree_off[t + k];
        for (int d = m->group_depth[t / LANES]; d > 0; d--)
            UNROLL_LANES
            for (int k = 0; k < LANES; k++)
                i[k] = step(g, i[k], xf);
        UNROLL_LANES
        for (int k = 0; k < LANES; k++)
            acc += g[i[k]].thr;
    }
    for (; t < m->n_trees; t++) {
        uint32_t i = m->tree_off[t];
        for (int d = m->tree_depth[t]; d > 0; d--)
            i = step(g, i, xf);
        acc += g[i].thr;
    }
    return acc;
}

/* Expected leaf value below node i; a missing feature takes both branches
 * weighted by the training samples that went each way. Recursion only at
 * missing values; depth is bounded by RG_MODEL_MAX_DEPTH.
 *
 * Present values are walked on the compact copies (model_int.h): 12-byte
 * branchless nodes whose float thresholds compare as the double ones do,
 * and the leaves' path lengths in ileaf; the 48-byte iforest node is read
 * only at a missing value. There a subtree that splits on no feature
 * present in the row (`present`, RG_INODE_BIT set) is worth its
 * precomputed allmiss, bit for bit (model_int.h); the test is needed
 * nowhere else, since a node whose own feature is present never passes it
 * and a leaf's allmiss is its path length. A plain branch picks the child:
 * measured faster here than a branchless select and than walking both
 * sides of a missing value in lockstep (short walks, mostly predicted). */
static double iforest_path(const struct rg_model *m, uint32_t i, const float *xf,
                           uint64_t present)
{
    const struct rg_gnode *g = m->ig;
    for (;;) {
        const struct rg_gnode *n = &g[i];
        if (n->feat == RG_MODEL_PAD_SLOT)
            return m->ileaf[i];
        float v = xf[n->feat];
        if (v != v) { /* missing */
            const struct rg_inode *mn = &m->in[i];
            if (!(mn->used & present))
                return mn->allmiss;
            return mn->wleft * iforest_path(m, mn->left, xf, present) +
                   (1.0 - mn->wleft) * iforest_path(m, mn->right, xf, present);
        }
        i = v <= n->thr ? n->left : n->left + 1; /* right = left + 1 */
    }
}

/* One row through all trees, LANES trees in lockstep on the branchless
 * copy (model_int.h): a lane whose feature is missing stays put (keep[]
 * is all ones for a present slot, zero for a missing one), and afterwards
 * a lane not on a leaf finishes with the exact walk. Path lengths are
 * added in tree order, as the plain loop would. */
static double iforest_score(const struct rg_model *m, const double *x)
{
    float xf[RG_MODEL_ROW_FLOATS];
    uint32_t keep[RG_MODEL_ROW_FLOATS];
    uint64_t present = 0;
    for (int i = 0; i < RG_FEAT_COUNT; i++) {
        xf[i] = (float)x[i]; /* NaN stays NaN: missing */
        int here = xf[i] == xf[i];
        keep[i] = here ? UINT32_MAX : 0;
        if (here)
            present |= RG_INODE_BIT(i);
    }
    xf[RG_MODEL_PAD_SLOT] = -INFINITY;
    keep[RG_MODEL_PAD_SLOT] = UINT32_MAX;
    const struct rg_gnode *g = m->ig;
    const double *ileaf = m->ileaf;
    double depths = 0.0;
    size_t t = 0;
    for (; t + LANES <= m->n_trees; t += LANES) {
        uint32_t i[LANES];
        UNROLL_LANES
        for (int k = 0; k < LANES; k++)
            i[k] = m->tree_off[t + k];
        for (int d = m->group_depth[t / LANES]; d > 0; d--) {
            UNROLL_LANES
            for (int k = 0; k < LANES; k++) {
                const struct rg_gnode *n = &g[i[k]];
                uint32_t next = n->left + (uint32_t)!(xf[n->feat] <= n->thr);
                i[k] += (next - i[k]) & keep[n->feat];
            }
        }
        UNROLL_LANES
        for (int k = 0; k < LANES; k++)
            depths += g[i[k]].feat == RG_MODEL_PAD_SLOT ? ileaf[i[k]]
                                                        : iforest_path(m, i[k], xf, present);
    }
    for (; t < m->n_trees; t++)
        depths += iforest_path(m, m->tree_off[t], xf, present);
    /* sklearn: 2 ** (-depths / (n_estimators * c(max_samples))) */
    return pow(2.0, -depths / m->norm);
}

double rg_model_score(const struct rg_model *m, const double *x)
{
    if (m->kind == RG_MODEL_IFOREST)
        return iforest_score(m, x);
    float xf[XROW];
    row_expand(x, xf);
    return (double)xgb_sigmoid(gbdt_margin(m, xf));
}

/* One block of up to BLOCK rows, tree-major, LANES rows in lockstep.
 * The rows left over after the last full group of LANES (replay batches
 * are often small) would each walk every tree as one serial chain of
 * loads; they take the single-row path instead, LANES trees in lockstep.
 * Both add a row's leaf values in tree order from base_margin, so the
 * float sums are the same. */
static void gbdt_block(const struct rg_model *m, const double *rows, size_t n, double *out)
{
    float xf[BLOCK][XROW];
    float acc[BLOCK];
    size_t nl = n - n % LANES; /* rows walked LANES at a time */
    for (size_t r = 0; r < n; r++) {
        row_expand(rows + r * RG_FEAT_COUNT, xf[r]);
        acc[r] = m->base_margin;
    }
    const struct rg_gnode *g = m->g;
    for (size_t t = 0; nl && t < m->n_trees; t++) {
        uint32_t root = m->tree_off[t];
        int depth = m->tree_depth[t];
        for (size_t r = 0; r < nl; r += LANES) {
            uint32_t i[LANES];
            const float *xr = xf[r]; /* see LANE_ROW */
            LANE_ROW(xr);
            UNROLL_LANES
            for (int k = 0; k < LANES; k++)
                i[k] = root;
            for (int d = depth; d > 0; d--)
                UNROLL_LANES
                for (int k = 0; k < LANES; k++)
                    i[k] = step(g, i[k], xr + k * XROW);
            UNROLL_LANES
            for (int k = 0; k < LANES; k++)
                acc[r + k] += g[i[k]].thr;
        }
    }
    for (size_t r = nl; r < n; r++)
        acc[r] = gbdt_margin(m, xf[r]);
    for (size_t r = 0; r < n; r++)
        out[r] = (double)xgb_sigmoid(acc[r]);
}

/* A row for iforest_block; 1 when none of the features the forest splits
 * on is missing (slots >= 63 share a bit, which only says "no" more). */
static inline int iforest_row_complete(const struct rg_model *m, const double *x, float *xf)
{
    uint64_t missing = 0;
    for (int i = 0; i < RG_FEAT_COUNT; i++) {
        xf[i] = (float)x[i];
        if (xf[i] != xf[i])
            missing |= RG_INODE_BIT(i);
    }
    xf[RG_MODEL_PAD_SLOT] = -INFINITY;
    return !(missing & m->iused);
}

/* The isolation forest over n rows (a multiple of LANES) that have every
 * feature it splits on, tree-major, LANES rows in lockstep on the
 * branchless copy, like gbdt_block: one tree's nodes stay in L1 while the
 * rows pass through it (the whole forest does not fit). No lane can stop
 * on a missing value, so there is no keep mask and no finishing walk:
 * every lane ends on a leaf. Each row's path lengths are added in tree
 * order from 0.0, as iforest_score adds them, so the doubles are the same
 * bit for bit. */
static void iforest_block(const struct rg_model *m, const float (*xf)[RG_MODEL_ROW_FLOATS],
                          size_t n, double *out)
{
    double depths[BLOCK];
    for (size_t r = 0; r < n; r++)
        depths[r] = 0.0;
    const struct rg_gnode *g = m->ig;
    const double *ileaf = m->ileaf;
    for (size_t t = 0; n && t < m->n_trees; t++) {
        uint32_t root = m->tree_off[t];
        int depth = m->tree_depth[t];
        for (size_t r = 0; r < n; r += LANES) {
            uint32_t i[LANES];
            const float *xr = xf[r]; /* see LANE_ROW */
            LANE_ROW(xr);
            UNROLL_LANES
            for (int k = 0; k < LANES; k++)
                i[k] = root;
            for (int d = depth; d > 0; d--)
                UNROLL_LANES
                for (int k = 0; k < LANES; k++) {
                    const struct rg_gnode *nd = &g[i[k]];
                    const float *x = xr + k * RG_MODEL_ROW_FLOATS;
                    i[k] = nd->left + (uint32_t)!(x[nd->feat] <= nd->thr);
                }
            UNROLL_LANES
            for (int k = 0; k < LANES; k++)
                depths[r + k] += ileaf[i[k]];
        }
    }
    for (size_t r = 0; r < n; r++)
        out[r] = pow(2.0, -depths[r] / m->norm);
}

/* Rows with every split feature go through iforest_block, gathered BLOCK
 * at a time; the others (a missing value means walks that branch, which
 * lockstep lanes cannot share) and the last few take iforest_score. */
static void iforest_batch(const struct rg_model *m, const double *rows, size_t n, double *out)
{
    float xf[BLOCK][RG_MODEL_ROW_FLOATS];
    uint32_t at[BLOCK]; /* the row each gathered copy came from */
    double res[BLOCK];
    size_t nb = 0;
    for (size_t r = 0; r <= n; r++) {
        if (r < n) {
            const double *x = rows + r * RG_FEAT_COUNT;
            if (!iforest_row_complete(m, x, xf[nb])) {
                out[r] = iforest_score(m, x);
                continue;
            }
            at[nb++] = (uint32_t)r;
            if (nb < BLOCK)
                continue;
        }
        size_t nl = nb - nb % LANES;
        iforest_block(m, (const float (*)[RG_MODEL_ROW_FLOATS])xf, nl, res);
        for (size_t j = 0; j < nl; j++)
            out[at[j]] = res[j];
        for (size_t j = nl; j < nb; j++)
            out[at[j]] = iforest_score(m, rows + (size_t)at[j] * RG_FEAT_COUNT);
        nb = 0;
    }
}

void rg_model_score_batch(const struct rg_model *m, const double *rows, size_t n, double *out)
{
    if (m->kind == RG_MODEL_IFOREST) {
        iforest_batch(m, rows, n, out);
        return;
    }
    for (size_t r = 0; r < n; r += BLOCK) {
        size_t k = n - r < BLOCK ? n - r : BLOCK;
        gbdt_block(m, rows + r * RG_FEAT_COUNT, k, out + r);
    }
}
