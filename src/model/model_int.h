/*
 * model_int.h - the compiled layout of struct rg_model, shared by the
 * loader (load.c), the scorer (score.c) and the CLI (cli.c). Private to
 * src/model.
 *
 * DESIGN
 * GBDT trees are stored as one array of 12-byte nodes, tree after tree,
 * laid out breadth-first so that the two children of a node are adjacent
 * (right = left + 1) and a tree's nodes are contiguous.
 *
 * Missing values cost no branch: the scorer expands a row into two float
 * copies, one where NaN became +inf (read by nodes whose missing values go
 * right) and one where NaN became -inf (nodes whose missing values go
 * left), and a node's feat indexes that combined row. Then every step is
 * `i = left + !(x[feat] < thr)`, which matches XGBoost exactly: a real
 * +-inf compares the same in both copies, and thresholds are finite.
 *
 * A leaf reads the pad slot (always -inf, so it always "goes left") and
 * its left child is itself, so walking a tree is a fixed number of steps
 * (its depth) with no leaf test; once a row reaches a leaf it stays there.
 * The leaf value lives in thr. Trees are also grouped by RG_MODEL_LANES
 * consecutive trees with the group's largest depth, so one row can walk
 * several trees in lockstep (independent loads the CPU overlaps).
 *
 * Isolation-forest trees keep explicit left/right indices and the
 * fraction of training samples that went left, for the expectation taken
 * when a feature is missing; leaves hold depth + c(n_node_samples).
 *
 * A missing feature makes the walk take both branches, so a row with many
 * missing features can visit most of a tree. Each iforest node therefore
 * also keeps `used`, the set of feature slots split on anywhere in its
 * subtree (a leaf: none), and `allmiss`, the subtree's value when every
 * one of those features is missing, computed at load with the very same
 * expression the walk evaluates (wleft * L + (1 - wleft) * R, children
 * first), so returning it is bit-identical to expanding the subtree.
 * At a missing value the walk stops when the node's `used` set has no
 * feature that is present in the row. Slots >= 63 share bit 63, which
 * only prunes less.
 *
 * Most rows reach a leaf without meeting a missing feature, so iforest
 * trees also get a copy in the GBDT layout (`ig`, same node indices as
 * `in`): thr is the largest float <= the double threshold, which makes
 * `x <= thr` in float equal `(double)x <= thr` for every float x, and a
 * leaf points at itself through the pad slot. The scorer walks RG_MODEL_LANES
 * trees in lockstep without branches; a lane that meets a missing feature
 * stays on that node and is finished by the exact recursive walk. That
 * walk, too, follows present values on `ig` and reads a leaf's path length
 * from `ileaf` (by node index, 8 bytes where `in` has 48): the 48-byte
 * nodes are read only at missing values, so the forest the scorer touches
 * is about 170 KB instead of 510 KB for the default model (100 trees),
 * which matters next to the profile store in the same cache.
 *
 * A row that has every feature the forest splits on (`iused`, the union
 * of the roots' `used` sets) cannot meet a missing value, so the batch
 * scorer walks such rows tree-major, LANES rows in lockstep with no keep
 * mask and no finishing walk, one tree hot in L1 at a time; a row missing
 * any of them takes the per-row walk above (lanes of different rows would
 * stop at different nodes and branch into different walks).
 */
#ifndef RG_MODEL_INT_H
#define RG_MODEL_INT_H

#include <stdint.h>

#include "riskgate/feature.h"
#include "riskgate/model.h"

#define RG_MODEL_ROW_FLOATS (RG_FEAT_COUNT + 1)     /* one copy of a row + pad */
#define RG_MODEL_PAD_SLOT RG_FEAT_COUNT              /* -inf in both copies */
#define RG_MODEL_DLEFT_BASE RG_MODEL_ROW_FLOATS      /* 2nd copy: NaN -> -inf */
#define RG_MODEL_LANES 8                             /* trees or rows in lockstep */


struct rg_gnode {
    float thr;       /* split threshold, or the leaf value */
    uint32_t left;   /* absolute index of the left child; right = left + 1 */
    uint32_t feat;   /* slot (+ RG_MODEL_DLEFT_BASE when missing goes left),
                        RG_MODEL_PAD_SLOT for a leaf */
};

struct rg_inode {
    double thr;      /* go left when (double)(float)x <= thr; leaf: path length */
    double wleft;    /* n_node_samples[left] / (n[left] + n[right]) */
    double allmiss;  /* subtree value when all of `used` is missing; leaf: thr */
    uint64_t used;   /* RG_INODE_BIT(slot) of every split in the subtree */
    uint32_t left, right; /* absolute indices */
    int32_t feat;    /* catalog slot, -1 for a leaf */
};

/* Bit of a feature slot in rg_inode.used and in a row's present set. */
#define RG_INODE_BIT(slot) ((uint64_t)1 << ((slot) < 63 ? (slot) : 63))

struct rg_model {
    enum rg_model_kind kind;
    size_t n_trees;
    uint32_t *tree_off;  /* n_trees: index of each tree's root */
    uint8_t *tree_depth; /* n_trees: steps to reach any leaf */
    uint8_t *group_depth; /* ceil(n_trees / LANES): max depth in each group */
    struct rg_gnode *g;  /* GBDT nodes */
    struct rg_inode *in; /* IFOREST nodes */
    struct rg_gnode *ig; /* IFOREST nodes in the branchless layout, see above */
    double *ileaf;       /* IFOREST: a leaf's path length (in[i].thr) by node index */
    uint64_t iused;      /* IFOREST: RG_INODE_BIT of every slot any tree splits on */
    size_t n_nodes, n_leaves;
    float base_margin;   /* GBDT: logit(base_score) in float, as XGBoost */
    double base_score;
    double inv_norm;     /* IFOREST: 1 / (n_trees * c(n_samples)) pieces */
    double norm;         /* IFOREST: n_trees * c(n_samples) */
    size_t n_samples;
    int max_depth;
    double avg_depth;
    size_t n_features;
    char **feat_names;
    int *feat_slots;
    char objective[32];
    char hash[65];
    char version[160];
};

/* c(n): average path length of an unsuccessful BST search, as sklearn's
 * _average_path_length. */
double rg_iforest_c(double n);

#endif
