/*
 * load.c - read, validate and compile tree-ensemble models (model.h).
 *
 * DESIGN
 * The loader is the only place that trusts nothing: a model file may be
 * truncated, hand-edited or hostile. It parses with cJSON, detects the
 * format (XGBoost JSON has "learner"; ours has "format":
 * "riskgate-iforest"), resolves feature names to catalog slots, and walks
 * every tree from its root with an explicit stack, so a cycle, a shared
 * child, an out-of-range index or a depth beyond RG_MODEL_MAX_DEPTH is
 * reported instead of followed. Every problem is added to the caller's
 * rg_diags; cJSON has no positions for values, so semantic errors carry
 * line 0 and the JSON path in the message. Only a model without any
 * problem is compiled (model_int.h explains the layout).
 */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_int.h"
#include "riskgate/err.h"

struct ld {
    const char *file;
    struct rg_diags *d;
    size_t nerr;
    size_t nfeat;   /* feature names listed by the model */
    const int *slots;
};

/* Add one problem at line 0 (cJSON keeps no positions for values). */
__attribute__((format(printf, 3, 4)))
static void bad(struct ld *ld, const char *hint, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ld->nerr++;
    rg_diags_add(ld->d, ld->file, 0, 0, hint, "%s", msg);
}

double rg_iforest_c(double n)
{
    /* sklearn.ensemble._iforest._average_path_length */
    if (n <= 1.0)
        return 0.0;
    if (n <= 2.0)
        return 1.0;
    return 2.0 * (log(n - 1.0) + 0.5772156649015329) - 2.0 * (n - 1.0) / n;
}

void rg_model_free(struct rg_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_features && m->feat_names; i++)
        free(m->feat_names[i]);
    free(m->feat_names);
    free(m->feat_slots);
    free(m->tree_off);
    free(m->tree_depth);
    free(m->group_depth);
    free(m->g);
    free(m->in);
    free(m->ig);
    free(m->ileaf);
    free(m);
}

/* ---- JSON helpers --------------------------------------------------- */

static const cJSON *get(struct ld *ld, const cJSON *obj, const char *key, const char *path,
                        int want_array)
{
    const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!v) {
        bad(ld, NULL, "%s%s%s: missing", path, *path ? "." : "", key);
        return NULL;
    }
    if (want_array && !cJSON_IsArray(v)) {
        bad(ld, NULL, "%s%s%s: expected an array", path, *path ? "." : "", key);
        return NULL;
    }
    return v;
}

/* A number array into a fresh double vector; non-numbers are reported
 * by index. *out is NULL on failure. */
static int num_array(struct ld *ld, const cJSON *obj, const char *key, const char *path,
                     double **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    const cJSON *a = get(ld, obj, key, path, 1);
    if (!a)
        return -1;
    size_t cnt = 0;
    for (const cJSON *c = a->child; c; c = c->next)
        cnt++;
    if (cnt > RG_MODEL_MAX_NODES) {
        bad(ld, NULL, "%s.%s: %zu entries, more than the %u node limit", path, key, cnt,
            (unsigned)RG_MODEL_MAX_NODES);
        return -1;
    }
    double *v = malloc((cnt ? cnt : 1) * sizeof(*v));
    if (!v) {
        bad(ld, NULL, "%s.%s: out of memory", path, key);
        return -1;
    }
    size_t i = 0;
    int ok = 1;
    for (const cJSON *c = a->child; c; c = c->next, i++) {
        if (!cJSON_IsNumber(c)) {
            if (ok)
                bad(ld, NULL, "%s.%s[%zu]: expected a number", path, key, i);
            ok = 0;
            continue;
        }
        v[i] = c->valuedouble;
    }
    if (!ok) {
        free(v);
        return -1;
    }
    *out = v;
    *n = cnt;
    return 0;
}

static int is_index(double v) { return v >= -1.0 && v <= 2147483647.0 && v == floor(v); }

/* A string that may be a JSON string or number ("5E-1" in XGBoost 1.7). */
static int str_num(const cJSON *v, double *out)
{
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return 0;
    }
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return -1;
    char *end;
    errno = 0;
    double x = strtod(v->valuestring, &end);
    if (*end || errno)
        return -1;
    *out = x;
    return 0;
}

/* ---- features -------------------------------------------------------- */

static int load_features(struct ld *ld, struct rg_model *m, const cJSON *root, const char *key,
                         const char *path)
{
    const cJSON *a = get(ld, root, key, path, 1);
    if (!a)
        return -1;
    size_t n = (size_t)cJSON_GetArraySize(a);
    if (n == 0) {
        bad(ld, "train with feature names set (DMatrix feature_names=...)",
            "%s.%s: the model lists no feature names", path, key);
        return -1;
    }
    if (n > 100000) {
        bad(ld, NULL, "%s.%s: %zu names is not plausible", path, key, n);
        return -1;
    }
    m->feat_names = calloc(n, sizeof(char *));
    m->feat_slots = calloc(n, sizeof(int));
    if (!m->feat_names || !m->feat_slots) {
        bad(ld, NULL, "out of memory");
        return -1;
    }
    m->n_features = n;
    size_t i = 0;
    int rc = 0;
    for (const cJSON *c = a->child; c; c = c->next, i++) {
        m->feat_slots[i] = -1;
        if (!cJSON_IsString(c)) {
            bad(ld, NULL, "%s.%s[%zu]: expected a string", path, key, i);
            rc = -1;
            continue;
        }
        m->feat_names[i] = strdup(c->valuestring);
        if (!m->feat_names[i]) {
            bad(ld, NULL, "out of memory");
            return -1;
        }
        int slot = rg_feature_lookup(c->valuestring);
        if (slot < 0) {
            const char *sugg = rg_did_you_mean(c->valuestring, rg_feature_names(), RG_FEAT_COUNT);
            char hint[200];
            if (sugg)
                snprintf(hint, sizeof(hint), "did you mean \"%s\"?", sugg);
            else
                snprintf(hint, sizeof(hint), "see `riskgate features` for the catalog");
            bad(ld, hint, "%s.%s[%zu]: unknown feature \"%.100s\"", path, key, i, c->valuestring);
            rc = -1;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            if (m->feat_slots[j] == slot) {
                bad(ld, NULL, "%s.%s[%zu]: feature \"%s\" listed twice (also [%zu])", path, key,
                    i, c->valuestring, j);
                rc = -1;
            }
        }
        m->feat_slots[i] = slot;
    }
    return rc;
}

/* ---- tree walking ---------------------------------------------------- */

struct tree_in {
    size_t n;
    const double *left, *right, *feat, *thr, *dleft, *nns; /* dleft GBDT, nns IFOREST */
};

struct walk {
    size_t reached;
    int depth;
    size_t leaves;
};

/* Validate one tree from its root: indices, cycles, depth, features and
 * thresholds. The per-node checks name the JSON path of the bad entry. */
static int walk_tree(struct ld *ld, const char *tpath, const struct tree_in *t, int is_iforest,
                     uint8_t *seen, uint32_t *stk_node, uint8_t *stk_depth, struct walk *w)
{
    const char *lname = is_iforest ? "left" : "left_children";
    const char *rname = is_iforest ? "right" : "right_children";
    const char *fname = is_iforest ? "feature" : "split_indices";
    const char *cname = is_iforest ? "threshold" : "split_conditions";
    size_t before = ld->nerr;
    memset(seen, 0, t->n);
    memset(w, 0, sizeof(*w));
    size_t sp = 0;
    stk_node[sp] = 0;
    stk_depth[sp++] = 0;
    seen[0] = 1;
    while (sp > 0) {
        if (ld->nerr - before >= 8)
            break; /* enough about this tree */
        sp--;
        uint32_t i = stk_node[sp];
        int depth = stk_depth[sp];
        w->reached++;
        double l = t->left[i], r = t->right[i];
        if (!is_index(l) || !is_index(r)) {
            bad(ld, NULL, "%s.%s[%u]: child index %g is not an integer >= -1", tpath,
                !is_index(l) ? lname : rname, i, !is_index(l) ? l : r);
            continue;
        }
        if (l == -1.0 || r == -1.0) {
            if (l != r) {
                bad(ld, NULL, "%s.%s[%u]: a leaf must have both children -1", tpath,
                    l == -1.0 ? rname : lname, i);
                continue;
            }
            if (!isfinite(t->thr[i]) || (!is_iforest && fabs(t->thr[i]) > FLT_MAX)) {
                bad(ld, NULL, "%s.%s[%u]: leaf value is not finite%s", tpath, cname, i,
                    is_iforest ? "" : " as a float32");
                continue;
            }
            if (is_iforest && !(t->nns[i] >= 1.0 && t->nns[i] <= 1e15)) {
                bad(ld, NULL, "%s.n_node_samples[%u]: must be >= 1", tpath, i);
                continue;
            }
            w->leaves++;
            if (depth > w->depth)
                w->depth = depth;
            continue;
        }
        int problem = 0;
        double ci[2] = { l, r };
        for (int k = 0; k < 2; k++) {
            if (ci[k] >= (double)t->n) {
                bad(ld, NULL, "%s.%s[%u]: child index %.0f out of range (tree has %zu nodes)",
                    tpath, k ? rname : lname, i, ci[k], t->n);
                problem = 1;
            } else if (seen[(size_t)ci[k]]) {
                bad(ld, "each node must have exactly one parent",
                    "%s.%s[%u]: node %.0f is reached twice (cycle or shared child)", tpath,
                    k ? rname : lname, i, ci[k]);
                problem = 1;
            }
        }
        if (l == r && !problem) {
            bad(ld, NULL, "%s.%s[%u]: both children are node %.0f", tpath, rname, i, l);
            problem = 1;
        }
        double f = t->feat[i];
        if (!(f >= 0 && f == floor(f) && f < (double)ld->nfeat)) {
            bad(ld, NULL, "%s.%s[%u]: feature index %g out of range (model lists %zu features)",
                tpath, fname, i, f, ld->nfeat);
            problem = 1;
        } else if (ld->slots[(size_t)f] < 0) {
            problem = 1; /* unknown name, already reported */
        }
        if (!isfinite(t->thr[i]) || (!is_iforest && fabs(t->thr[i]) > FLT_MAX)) {
            bad(ld, NULL, "%s.%s[%u]: threshold is not finite%s", tpath, cname, i,
                is_iforest ? "" : " as a float32");
            problem = 1;
        }
        if (!is_iforest && !(t->dleft[i] == 0.0 || t->dleft[i] == 1.0)) {
            bad(ld, NULL, "%s.default_left[%u]: must be 0 or 1", tpath, i);
            problem = 1;
        }
        if (depth + 1 > RG_MODEL_MAX_DEPTH) {
            bad(ld, NULL, "%s: depth exceeds %d at node %u", tpath, RG_MODEL_MAX_DEPTH, i);
            problem = 1;
        }
        if (problem)
            continue;
        if (is_iforest && !(t->nns[(size_t)l] >= 1.0 && t->nns[(size_t)r] >= 1.0)) {
            bad(ld, NULL, "%s.n_node_samples[%.0f]: children of node %u need samples >= 1",
                tpath, t->nns[(size_t)l] >= 1.0 ? r : l, i);
            continue;
        }
        seen[(size_t)l] = seen[(size_t)r] = 1;
        stk_node[sp] = (uint32_t)r;
        stk_depth[sp++] = (uint8_t)(depth + 1);
        stk_node[sp] = (uint32_t)l;
        stk_depth[sp++] = (uint8_t)(depth + 1);
    }
    return ld->nerr == before ? 0 : -1;
}

/* Append a validated tree in breadth-first order, children adjacent. */
static int compile_tree(struct rg_model *m, const struct ld *ld, const struct tree_in *t,
                        uint32_t *queue, size_t reached, size_t *cap)
{
    size_t base = m->n_nodes;
    if (base + reached > *cap) {
        size_t nc = *cap ? *cap : 1024;
        while (nc < base + reached)
            nc *= 2;
        if (m->kind == RG_MODEL_GBDT_PROB) {
            struct rg_gnode *g = realloc(m->g, nc * sizeof(*g));
            if (!g)
                return RG_ENOMEM;
            m->g = g;
        } else {
            struct rg_inode *in = realloc(m->in, nc * sizeof(*in));
            if (!in)
                return RG_ENOMEM;
            m->in = in;
        }
        *cap = nc;
    }
    size_t qlen = 1;
    queue[0] = 0;
    for (size_t q = 0; q < qlen; q++) {
        uint32_t o = queue[q];
        int leaf = t->left[o] == -1.0;
        uint32_t self = (uint32_t)(base + q);
        if (m->kind == RG_MODEL_GBDT_PROB) {
            struct rg_gnode *g = &m->g[self];
            g->thr = (float)t->thr[o];
            if (leaf) {
                g->left = self;
                g->feat = RG_MODEL_PAD_SLOT;
            } else {
                g->left = (uint32_t)(base + qlen);
                g->feat = (uint32_t)ld->slots[(size_t)t->feat[o]] +
                          (t->dleft[o] != 0.0 ? RG_MODEL_DLEFT_BASE : 0);
            }
        } else {
            struct rg_inode *in = &m->in[self];
            in->wleft = 0;
            if (leaf) {
                in->feat = -1;
                in->left = in->right = self;
                in->thr = 0; /* set by the caller, which knows the depth */
            } else {
                double nl = t->nns[(size_t)t->left[o]], nr = t->nns[(size_t)t->right[o]];
                in->feat = ld->slots[(size_t)t->feat[o]];
                in->thr = t->thr[o];
                in->left = (uint32_t)(base + qlen);
                in->right = in->left + 1;
                in->wleft = nl / (nl + nr);
            }
        }
        if (!leaf) {
            queue[qlen++] = (uint32_t)t->left[o];
            queue[qlen++] = (uint32_t)t->right[o];
        }
    }
    m->n_nodes = base + qlen;
    return 0;
}

/* IFOREST leaves: ((depth + 1) + c(n_node_samples)) - 1, as sklearn sums it. */
static void iforest_leaf_values(struct rg_model *m, size_t root, const struct tree_in *t,
                                uint32_t *queue)
{
    /* queue[] still maps BFS position -> original index from compile_tree;
     * depth follows from BFS order by walking parents forward. */
    size_t n = m->n_nodes - root;
    uint8_t *depth = (uint8_t *)(queue + n); /* scratch after the queue */
    depth[0] = 0;
    for (size_t q = 0; q < n; q++) {
        struct rg_inode *in = &m->in[root + q];
        if (in->feat < 0) {
            double nns = t->nns[queue[q]];
            in->thr = ((double)(depth[q] + 1) + rg_iforest_c(nns)) - 1.0;
        } else {
            depth[in->left - root] = depth[q] + 1;
            depth[in->right - root] = depth[q] + 1;
        }
    }
    /* Subtree summaries for the scorer's pruning (model_int.h), children
     * before parents: BFS order puts every child after its parent. The
     * expression must stay the one iforest_path() evaluates in score.c. */
    for (size_t q = n; q-- > 0;) {
        struct rg_inode *in = &m->in[root + q];
        if (in->feat < 0) {
            in->used = 0;
            in->allmiss = in->thr;
        } else {
            const struct rg_inode *l = &m->in[in->left], *r = &m->in[in->right];
            in->used = RG_INODE_BIT(in->feat) | l->used | r->used;
            in->allmiss = in->wleft * l->allmiss + (1.0 - in->wleft) * r->allmiss;
        }
    }
}

/* ---- one tree from JSON ---------------------------------------------- */

struct scratch {
    uint8_t *seen;
    uint32_t *stk;
    uint8_t *stkd;
    uint32_t *queue; /* n uint32 + n bytes of depth scratch */
    size_t cap;
};

static int scratch_fit(struct scratch *s, size_t n)
{
    if (n <= s->cap)
        return 0;
    free(s->seen);
    free(s->stk);
    free(s->stkd);
    free(s->queue);
    s->seen = malloc(n);
    s->stk = malloc(n * sizeof(uint32_t) + 8);
    s->stkd = malloc(n + 8);
    s->queue = malloc(n * sizeof(uint32_t) + n + 8);
    s->cap = (s->seen && s->stk && s->stkd && s->queue) ? n : 0;
    return s->cap ? 0 : RG_ENOMEM;
}

static void scratch_fini(struct scratch *s)
{
    free(s->seen);
    free(s->stk);
    free(s->stkd);
    free(s->queue);
}

static int load_trees(struct ld *ld, struct rg_model *m, const cJSON *trees, const char *path)
{
    static const char *const gb_keys[] = { "left_children", "right_children", "split_indices",
                                           "split_conditions", "default_left" };
    static const char *const if_keys[] = { "left", "right", "feature", "threshold",
                                           "n_node_samples" };
    int is_if = m->kind == RG_MODEL_IFOREST;
    const char *const *keys = is_if ? if_keys : gb_keys;
    size_t nt = (size_t)cJSON_GetArraySize(trees);
    if (nt == 0) {
        bad(ld, NULL, "%s: no trees", path);
        return -1;
    }
    if (nt > RG_MODEL_MAX_TREES) {
        bad(ld, NULL, "%s: %zu trees, more than the limit of %d", path, nt, RG_MODEL_MAX_TREES);
        return -1;
    }
    m->tree_off = calloc(nt, sizeof(uint32_t));
    m->tree_depth = calloc(nt, 1);
    if (!m->tree_off || !m->tree_depth) {
        bad(ld, NULL, "out of memory");
        return -1;
    }
    struct scratch sc = { 0 };
    size_t cap = 0, total_in = 0, ti = 0;
    double depth_sum = 0;
    int rc = 0;
    for (const cJSON *tj = trees->child; tj; tj = tj->next, ti++) {
        char tpath[128];
        snprintf(tpath, sizeof(tpath), "%s[%zu]", path, ti);
        if (ld->nerr >= 50) {
            bad(ld, NULL, "%s: too many problems, stopped checking", tpath);
            rc = -1;
            break;
        }
        if (!cJSON_IsObject(tj)) {
            bad(ld, NULL, "%s: expected an object", tpath);
            rc = -1;
            continue;
        }
        double *arr[5] = { 0 };
        size_t len[5] = { 0 };
        int ok = 1;
        for (int k = 0; k < 5; k++)
            if (num_array(ld, tj, keys[k], tpath, &arr[k], &len[k]) != 0)
                ok = 0;
        if (ok) {
            for (int k = 1; k < 5; k++) {
                if (len[k] != len[0]) {
                    bad(ld, NULL, "%s: %s has %zu entries but %s has %zu", tpath, keys[k],
                        len[k], keys[0], len[0]);
                    ok = 0;
                }
            }
            if (ok && len[0] == 0) {
                bad(ld, NULL, "%s: empty tree", tpath);
                ok = 0;
            }
        }
        if (ok && !is_if) {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(tj, "split_type");
            size_t i = 0;
            for (const cJSON *c = cJSON_IsArray(st) ? st->child : NULL; c; c = c->next, i++) {
                if (!cJSON_IsNumber(c) || c->valuedouble != 0) {
                    bad(ld, "riskgate scores numerical splits only",
                        "%s.split_type[%zu]: categorical split", tpath, i);
                    ok = 0;
                    break;
                }
            }
        }
        if (ok) {
            total_in += len[0];
            if (total_in > RG_MODEL_MAX_NODES) {
                bad(ld, NULL, "%s: more than %u nodes in all trees", tpath,
                    (unsigned)RG_MODEL_MAX_NODES);
                ok = 0;
                for (int k = 0; k < 5; k++)
                    free(arr[k]);
                rc = -1;
                break;
            }
        }
        if (ok && scratch_fit(&sc, len[0]) != 0) {
            bad(ld, NULL, "out of memory");
            ok = 0;
        }
        struct tree_in t = { len[0], arr[0], arr[1], arr[2], arr[3],
                             is_if ? NULL : arr[4], is_if ? arr[4] : NULL };
        struct walk w;
        if (ok && walk_tree(ld, tpath, &t, is_if, sc.seen, sc.stk, sc.stkd, &w) != 0)
            ok = 0;
        if (ok && ld->nerr == 0) {
            size_t root = m->n_nodes;
            m->tree_off[ti] = (uint32_t)root;
            m->tree_depth[ti] = (uint8_t)w.depth;
            if (compile_tree(m, ld, &t, sc.queue, w.reached, &cap) != 0) {
                bad(ld, NULL, "out of memory");
                ok = 0;
            } else if (is_if) {
                iforest_leaf_values(m, root, &t, sc.queue);
            }
            m->n_leaves += w.leaves;
            if (w.depth > m->max_depth)
                m->max_depth = w.depth;
            depth_sum += w.depth;
        }
        for (int k = 0; k < 5; k++)
            free(arr[k]);
        if (!ok)
            rc = -1;
    }
    scratch_fini(&sc);
    m->n_trees = nt;
    m->group_depth = calloc((nt + RG_MODEL_LANES - 1) / RG_MODEL_LANES, 1);
    if (!m->group_depth) {
        bad(ld, NULL, "out of memory");
        return -1;
    }
    for (size_t t = 0; t < nt; t++)
        if (m->tree_depth[t] > m->group_depth[t / RG_MODEL_LANES])
            m->group_depth[t / RG_MODEL_LANES] = m->tree_depth[t];
    m->avg_depth = depth_sum / (double)nt;
    return rc;
}

/* ---- formats --------------------------------------------------------- */

static int load_xgboost(struct ld *ld, struct rg_model *m, const cJSON *root)
{
    m->kind = RG_MODEL_GBDT_PROB;
    const cJSON *lr = get(ld, root, "learner", "", 0);
    if (!lr)
        return -1;
    int rc = 0;
    const cJSON *obj = get(ld, lr, "objective", "learner", 0);
    const cJSON *on = obj ? get(ld, obj, "name", "learner.objective", 0) : NULL;
    if (!on) {
        rc = -1;
    } else if (!cJSON_IsString(on) || (strcmp(on->valuestring, "binary:logistic") != 0 &&
                                       strcmp(on->valuestring, "reg:logistic") != 0)) {
        bad(ld, "train with objective binary:logistic",
            "learner.objective.name: unsupported objective \"%.60s\"",
            cJSON_IsString(on) ? on->valuestring : "?");
        rc = -1;
    } else {
        snprintf(m->objective, sizeof(m->objective), "%s", on->valuestring);
    }
    const cJSON *mp = get(ld, lr, "learner_model_param", "learner", 0);
    const cJSON *bs = mp ? get(ld, mp, "base_score", "learner.learner_model_param", 0) : NULL;
    double base = 0;
    if (!bs) {
        rc = -1;
    } else if (str_num(bs, &base) != 0 || !(base > 0.0 && base < 1.0)) {
        bad(ld, NULL, "learner.learner_model_param.base_score: must be a probability in (0, 1)");
        rc = -1;
    } else {
        m->base_score = base;
        float b = (float)base;
        /* LogisticRegression::ProbToMargin, in float as XGBoost computes it */
        m->base_margin = -logf(1.0f / b - 1.0f);
    }
    const cJSON *nc = mp ? cJSON_GetObjectItemCaseSensitive(mp, "num_class") : NULL;
    double ncv = 0;
    if (nc && (str_num(nc, &ncv) != 0 || ncv > 1)) {
        bad(ld, NULL, "learner.learner_model_param.num_class: multi-class models are not supported");
        rc = -1;
    }
    if (load_features(ld, m, lr, "feature_names", "learner") != 0)
        rc = -1;
    ld->nfeat = m->n_features;
    ld->slots = m->feat_slots;
    const cJSON *gb = get(ld, lr, "gradient_booster", "learner", 0);
    const cJSON *gname = gb ? get(ld, gb, "name", "learner.gradient_booster", 0) : NULL;
    if (!gname)
        return -1;
    if (!cJSON_IsString(gname) || strcmp(gname->valuestring, "gbtree") != 0) {
        bad(ld, "train with booster gbtree",
            "learner.gradient_booster.name: unsupported booster \"%.60s\"",
            cJSON_IsString(gname) ? gname->valuestring : "?");
        return -1;
    }
    const cJSON *model = get(ld, gb, "model", "learner.gradient_booster", 0);
    const cJSON *trees = model ? get(ld, model, "trees", "learner.gradient_booster.model", 1)
                               : NULL;
    if (!trees || !m->feat_slots)
        return -1;
    if (load_trees(ld, m, trees, "learner.gradient_booster.model.trees") != 0)
        rc = -1;
    return rc;
}

/* The branchless copy of the iforest nodes (model_int.h). */
static int iforest_branchless(struct rg_model *m)
{
    m->ig = malloc((m->n_nodes ? m->n_nodes : 1) * sizeof(*m->ig));
    m->ileaf = calloc(m->n_nodes ? m->n_nodes : 1, sizeof(*m->ileaf));
    if (!m->ig || !m->ileaf)
        return RG_ENOMEM;
    for (size_t i = 0; i < m->n_nodes; i++) {
        const struct rg_inode *in = &m->in[i];
        struct rg_gnode *g = &m->ig[i];
        if (in->feat < 0) {
            m->ileaf[i] = in->thr;
            g->thr = 0.0f; /* the pad slot is -inf: always "left" = itself */
            g->left = (uint32_t)i;
            g->feat = RG_MODEL_PAD_SLOT;
            continue;
        }
        /* Largest float <= thr: for float x, x <= f exactly when
         * (double)x <= thr (thresholds are finite, checked above). */
        float f = (float)in->thr;
        if ((double)f > in->thr)
            f = nextafterf(f, -INFINITY);
        g->thr = f;
        g->left = in->left;
        g->feat = (uint32_t)in->feat;
    }
    return 0;
}

static int load_iforest(struct ld *ld, struct rg_model *m, const cJSON *root)
{
    m->kind = RG_MODEL_IFOREST;
    snprintf(m->objective, sizeof(m->objective), "isolation_forest");
    int rc = 0;
    const cJSON *ver = get(ld, root, "version", "", 0);
    if (!ver || !cJSON_IsNumber(ver) || ver->valuedouble != 1) {
        if (ver)
            bad(ld, "this riskgate reads version 1", "version: unsupported iforest format version");
        rc = -1;
    }
    const cJSON *ns = get(ld, root, "n_samples", "", 0);
    if (!ns || !cJSON_IsNumber(ns) || !(ns->valuedouble >= 2 && ns->valuedouble <= 1e12) ||
        ns->valuedouble != floor(ns->valuedouble)) {
        if (ns)
            bad(ld, NULL, "n_samples: must be an integer >= 2");
        rc = -1;
    } else {
        m->n_samples = (size_t)ns->valuedouble;
    }
    if (load_features(ld, m, root, "feature_names", "") != 0)
        rc = -1;
    ld->nfeat = m->n_features;
    ld->slots = m->feat_slots;
    const cJSON *trees = get(ld, root, "trees", "", 1);
    if (!trees || !m->feat_slots)
        return -1;
    if (load_trees(ld, m, trees, "trees") != 0)
        rc = -1;
    if (rc == 0 && iforest_branchless(m) != 0) {
        bad(ld, NULL, "out of memory");
        rc = -1;
    }
    for (size_t t = 0; rc == 0 && t < m->n_trees; t++)
        m->iused |= m->in[m->tree_off[t]].used;
    m->norm = (double)m->n_trees * rg_iforest_c((double)m->n_samples);
    return rc;
}

/* ---- entry points ---------------------------------------------------- */

static void pos_of(const char *buf, size_t len, const char *at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    if (!at || at < buf || at > buf + len)
        return;
    for (const char *p = buf; p < at; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static void set_version(struct rg_model *m, const char *file, const cJSON *root,
                        const unsigned char *md)
{
    for (int i = 0; i < 32; i++)
        snprintf(m->hash + 2 * i, 3, "%02x", md[i]);
    char name[100] = "model";
    const cJSON *meta = NULL;
    if (m->kind == RG_MODEL_IFOREST) {
        meta = cJSON_GetObjectItemCaseSensitive(root, "name");
    } else {
        const cJSON *lr = cJSON_GetObjectItemCaseSensitive(root, "learner");
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(lr, "attributes");
        meta = cJSON_GetObjectItemCaseSensitive(at, "riskgate_name");
    }
    if (file) {
        const char *b = strrchr(file, '/');
        b = b ? b + 1 : file;
        size_t n = strlen(b);
        if (n > 5 && strcmp(b + n - 5, ".json") == 0)
            n -= 5;
        if (n >= sizeof(name))
            n = sizeof(name) - 1;
        if (n > 0) {
            memcpy(name, b, n);
            name[n] = 0;
        }
    } else if (cJSON_IsString(meta) && meta->valuestring[0]) {
        snprintf(name, sizeof(name), "%s", meta->valuestring);
    }
    for (char *p = name; *p; p++) /* keep the version printable in JSON and logs */
        if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\' || *p == '@')
            *p = '_';
    snprintf(m->version, sizeof(m->version), "%s@%.12s", name, m->hash);
}

int rg_model_load_buf(const char *buf, size_t len, const char *file, struct rg_diags *d,
                      struct rg_model **out)
{
    struct ld ld = { file ? file : "<model>", d, 0, 0, NULL };
    struct rg_model *m = NULL;
    cJSON *root = NULL;
    int rc = RG_EPARSE;
    *out = NULL;
    if (len > RG_MODEL_MAX_FILE_BYTES) {
        bad(&ld, NULL, "model is %zu bytes, more than the %u byte limit", len,
            (unsigned)RG_MODEL_MAX_FILE_BYTES);
        rc = RG_ETOOBIG;
        goto fail;
    }
    if (!buf || len == 0) {
        bad(&ld, NULL, "empty model file");
        goto fail;
    }
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (!root) {
        int line, col;
        pos_of(buf, len, end, &line, &col);
        ld.nerr++;
        rg_diags_add(d, ld.file, line, col, NULL, "invalid JSON%s",
                     end && end >= buf + len ? " (truncated?)" : "");
        goto fail;
    }
    while (end && end < buf + len && (*end == ' ' || *end == '\n' || *end == '\r' ||
                                       *end == '\t' || *end == 0))
        end++;
    if (end && end < buf + len) {
        int line, col;
        pos_of(buf, len, end, &line, &col);
        ld.nerr++;
        rg_diags_add(d, ld.file, line, col, NULL, "trailing data after the JSON value");
        goto fail;
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        rc = RG_ENOMEM;
        goto fail;
    }
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "learner")) {
        load_xgboost(&ld, m, root);
    } else if (cJSON_IsString(fmt) && strcmp(fmt->valuestring, "riskgate-iforest") == 0) {
        load_iforest(&ld, m, root);
    } else {
        bad(&ld, "expected XGBoost JSON (Booster.save_model) or riskgate-iforest JSON",
            "unknown model format: no \"learner\" and no \"format\": \"riskgate-iforest\"");
    }
    if (ld.nerr > 0)
        goto fail;
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
        bad(&ld, NULL, "sha256 failed");
        rc = RG_EFATAL;
        goto fail;
    }
    set_version(m, file, root, md);
    cJSON_Delete(root);
    *out = m;
    return 0;
fail:
    cJSON_Delete(root);
    rg_model_free(m);
    return rc;
}

int rg_model_load_file(const char *path, struct rg_diags *d, struct rg_model **out)
{
    *out = NULL;
    char *buf = NULL;
    int rc = RG_EIO;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        rg_diags_add(d, path, 0, 0, NULL, "cannot open model: %s", strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rg_diags_add(d, path, 0, 0, NULL, "not a regular file");
        goto fail;
    }
    if ((uint64_t)st.st_size > RG_MODEL_MAX_FILE_BYTES) {
        rg_diags_add(d, path, 0, 0, NULL, "model is %lld bytes, more than the %u byte limit",
                     (long long)st.st_size, (unsigned)RG_MODEL_MAX_FILE_BYTES);
        rc = RG_ETOOBIG;
        goto fail;
    }
    size_t len = (size_t)st.st_size, got = 0;
    buf = malloc(len + 1);
    if (!buf) {
        rc = RG_ENOMEM;
        goto fail;
    }
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rg_diags_add(d, path, 0, 0, NULL, "read failed: %s", r < 0 ? strerror(errno) : "short read");
            goto fail;
        }
        got += (size_t)r;
    }
    close(fd);
    fd = -1;
    rc = rg_model_load_buf(buf, len, path, d, out);
fail:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

/* ---- accessors ------------------------------------------------------- */

enum rg_model_kind rg_model_kind(const struct rg_model *m) { return m->kind; }
const char *rg_model_version(const struct rg_model *m) { return m->version; }
const char *rg_model_hash(const struct rg_model *m) { return m->hash; }

void rg_model_get_info(const struct rg_model *m, struct rg_model_info *info)
{
    memset(info, 0, sizeof(*info));
    info->kind = m->kind;
    info->objective = m->objective;
    info->base_score = m->base_score;
    info->n_trees = m->n_trees;
    info->n_nodes = m->n_nodes;
    info->n_leaves = m->n_leaves;
    info->max_depth = m->max_depth;
    info->avg_depth = m->avg_depth;
    info->n_features = m->n_features;
    info->n_samples = m->n_samples;
}

const char *rg_model_feature_name(const struct rg_model *m, size_t i)
{
    return i < m->n_features ? m->feat_names[i] : NULL;
}

int rg_model_feature_slot(const struct rg_model *m, size_t i)
{
    return i < m->n_features ? m->feat_slots[i] : -1;
}
