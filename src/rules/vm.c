/*
 * vm.c - running compiled rule programs: the event context, string-field
 * access, string lists and the bytecode evaluator.
 *
 * DESIGN: the hot path, called for every rule whose guards pass on every
 * event, from many worker threads at once. A switch over RG_OPCODE_LIST
 * with a fixed stack of RG_EXPR_MAX_STACK slots (the compiler guarantees
 * programs fit), no allocation, no shared mutable state.
 *
 * Missing values: NaN numbers, NULL strings and the third boolean value 2.
 * Arithmetic and comparisons with a missing operand give missing; `and` is
 * false when either side is false, `or` true when either is true, otherwise
 * missing wins; `not missing` is missing. The caller collapses missing to
 * "does not fire".
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "riskgate/err.h"
#include "rules_int.h"

static const char *const g_sf_names[RG_SF_COUNT] = {
#define RG_SF_NAME(id, name, bit) name,
    RG_SFIELD_LIST(RG_SF_NAME)
#undef RG_SF_NAME
};

static const uint32_t g_sf_bits[RG_SF_COUNT] = {
#define RG_SF_BIT(id, name, bit) bit,
    RG_SFIELD_LIST(RG_SF_BIT)
#undef RG_SF_BIT
};

const char *rg_sfield_name(int f)
{
    return f >= 0 && f < RG_SF_COUNT ? g_sf_names[f] : "?";
}

int rg_sfield_lookup(const char *name)
{
    for (int i = 0; i < RG_SF_COUNT; i++)
        if (strcmp(g_sf_names[i], name) == 0)
            return i;
    return -1;
}

const char *rg_sfield_get(const struct rg_txn *txn, int f)
{
    if (g_sf_bits[f] && !(txn->has & g_sf_bits[f]))
        return NULL;
    switch (f) {
    case RG_SF_MERCHANT_CATEGORY: return txn->merchant_category;
    case RG_SF_CHANNEL: return txn->channel;
    case RG_SF_COUNTRY: return txn->country;
    case RG_SF_CURRENCY: return txn->currency[0] ? txn->currency : NULL;
    case RG_SF_MERCHANT_ID: return txn->merchant_id;
    case RG_SF_DEVICE_ID: return txn->device_id;
    case RG_SF_IP: return txn->ip;
    case RG_SF_AUTH_METHOD: return txn->auth_method;
    case RG_SF_USER_ID: return txn->user_id[0] ? txn->user_id : NULL;
    default: return NULL;
    }
}

void rg_xctx_init(struct rg_xctx *x, const struct rg_txn *txn, const double *feat,
                  double score, double anomaly, uint32_t hash_mask)
{
    x->txn = txn;
    x->feat = feat;
    x->score = score;
    x->anomaly = anomaly;
    for (int f = 0; f < RG_SF_COUNT; f++) {
        x->sfv[f] = rg_sfield_get(txn, f);
        x->sfh[f] = x->sfv[f] && (hash_mask >> f & 1u) ? rg_str_hash(x->sfv[f]) : 0;
    }
}

/* ---- evaluation ----------------------------------------------------- */

union slot {
    double n;
    const char *s;
    int b;
};

static int bsearch_num(const struct rg_rlist *l, double v)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->nums[mid] < v)
            lo = mid + 1;
        else if (l->nums[mid] > v)
            hi = mid;
        else
            return 1;
    }
    return 0;
}

uint64_t rg_str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

struct hs {
    uint64_t h;
    char *s;
};

static int cmp_hs(const void *a, const void *b)
{
    const struct hs *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return strcmp(x->s, y->s);
}

int rg_rlist_finish_strs(struct rg_rlist *l)
{
    free(l->hashes);
    l->hashes = malloc((l->n ? l->n : 1) * sizeof(uint64_t));
    struct hs *t = malloc((l->n ? l->n : 1) * sizeof(*t));
    if (!l->hashes || !t) {
        free(t);
        return RG_ENOMEM;
    }
    for (size_t i = 0; i < l->n; i++) {
        t[i].h = rg_str_hash(l->strs[i]);
        t[i].s = l->strs[i];
    }
    qsort(t, l->n, sizeof(*t), cmp_hs);
    for (size_t i = 0; i < l->n; i++) {
        l->hashes[i] = t[i].h;
        l->strs[i] = t[i].s;
    }
    free(t);
    return 0;
}

int rg_rlist_has_str(const struct rg_rlist *l, const char *v, uint64_t h)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) { /* first index with hash >= h */
        size_t mid = lo + (hi - lo) / 2;
        if (l->hashes[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < l->n && l->hashes[lo] == h; lo++)
        if (strcmp(l->strs[lo], v) == 0)
            return 1;
    return 0;
}

#define NUMCMP(expr)                                                       \
    do {                                                                   \
        double a_ = st[sp - 2].n, b_ = st[sp - 1].n;                       \
        sp--;                                                              \
        st[sp - 1].b = (isnan(a_) || isnan(b_)) ? 2 : (expr);              \
    } while (0)

int rg_prog_eval(const struct rg_prog *prog, const struct rg_xctx *x)
{
    union slot st[RG_EXPR_MAX_STACK];
    int sp = 0;
    const struct rg_insn *code = prog->code;
    size_t n = prog->n;
    for (size_t pc = 0; pc < n; pc++) {
        const struct rg_insn *in = &code[pc];
        switch ((enum rg_opcode)in->op) {
        case RG_OP_PUSH_NUM: st[sp++].n = in->u.num; break;
        case RG_OP_PUSH_STR: st[sp++].s = in->u.str; break;
        case RG_OP_PUSH_BOOL: st[sp++].b = in->arg; break;
        case RG_OP_LOAD_FEAT: st[sp++].n = x->feat[in->arg]; break;
        case RG_OP_LOAD_SFIELD: st[sp++].s = x->sfv[in->arg]; break;
        case RG_OP_LOAD_SCORE: st[sp++].n = x->score; break;
        case RG_OP_LOAD_ANOMALY: st[sp++].n = x->anomaly; break;
        case RG_OP_ADD: sp--; st[sp - 1].n += st[sp].n; break;
        case RG_OP_SUB: sp--; st[sp - 1].n -= st[sp].n; break;
        case RG_OP_MUL: sp--; st[sp - 1].n *= st[sp].n; break;
        case RG_OP_DIV:
            sp--;
            st[sp - 1].n = st[sp].n == 0.0 ? NAN : st[sp - 1].n / st[sp].n;
            break;
        case RG_OP_NEG: st[sp - 1].n = -st[sp - 1].n; break;
        case RG_OP_LT: NUMCMP(a_ < b_); break;
        case RG_OP_LE: NUMCMP(a_ <= b_); break;
        case RG_OP_GT: NUMCMP(a_ > b_); break;
        case RG_OP_GE: NUMCMP(a_ >= b_); break;
        case RG_OP_EQ_NUM: NUMCMP(a_ == b_); break;
        case RG_OP_NE_NUM: NUMCMP(a_ != b_); break;
        case RG_OP_EQ_STR:
        case RG_OP_NE_STR: {
            const char *a = st[sp - 2].s, *b = st[sp - 1].s;
            sp--;
            st[sp - 1].b = (!a || !b) ? 2
                         : ((a[0] == b[0] && strcmp(a, b) == 0) == (in->op == RG_OP_EQ_STR));
            break;
        }
        case RG_OP_EQ_BOOL:
        case RG_OP_NE_BOOL: {
            int a = st[sp - 2].b, b = st[sp - 1].b;
            sp--;
            st[sp - 1].b = (a == 2 || b == 2) ? 2 : ((a == b) == (in->op == RG_OP_EQ_BOOL));
            break;
        }
        case RG_OP_AND: {
            int a = st[sp - 2].b, b = st[sp - 1].b;
            sp--;
            st[sp - 1].b = (a == 0 || b == 0) ? 0 : (a == 2 || b == 2) ? 2 : 1;
            break;
        }
        case RG_OP_OR: {
            int a = st[sp - 2].b, b = st[sp - 1].b;
            sp--;
            st[sp - 1].b = (a == 1 || b == 1) ? 1 : (a == 2 || b == 2) ? 2 : 0;
            break;
        }
        case RG_OP_NOT:
            if (st[sp - 1].b != 2)
                st[sp - 1].b = !st[sp - 1].b;
            break;
        case RG_OP_JUMP_IF_FALSE:
            if (st[sp - 1].b == 0)
                pc = (size_t)in->arg - 1;
            break;
        case RG_OP_JUMP_IF_TRUE:
            if (st[sp - 1].b == 1)
                pc = (size_t)in->arg - 1;
            break;
        case RG_OP_IN_NUM: {
            double v = st[sp - 1].n;
            st[sp - 1].b = isnan(v) ? 2 : (in->u.list->n ? bsearch_num(in->u.list, v) : 0);
            break;
        }
        case RG_OP_IN_STR: {
            const char *v = st[sp - 1].s;
            st[sp - 1].b = !v ? 2 : rg_rlist_has_str(in->u.list, v, rg_str_hash(v));
            break;
        }
        case RG_OP_BETWEEN: {
            double v = st[sp - 3].n, lo = st[sp - 2].n, hi = st[sp - 1].n;
            sp -= 2;
            st[sp - 1].b = (isnan(v) || isnan(lo) || isnan(hi)) ? 2 : (v >= lo && v <= hi);
            break;
        }
        case RG_OP_STARTS_WITH:
        case RG_OP_ENDS_WITH: {
            const char *s = st[sp - 2].s, *a = st[sp - 1].s;
            sp--;
            if (!s || !a) {
                st[sp - 1].b = 2;
                break;
            }
            size_t ls = strlen(s), la = strlen(a);
            st[sp - 1].b = la <= ls && memcmp(in->op == RG_OP_STARTS_WITH ? s : s + ls - la, a,
                                               la) == 0;
            break;
        }
        case RG_OP_MISSING_NUM: st[sp - 1].b = isnan(st[sp - 1].n) ? 1 : 0; break;
        case RG_OP_MISSING_STR: st[sp - 1].b = st[sp - 1].s == NULL; break;
        case RG_OP_MISSING_BOOL: st[sp - 1].b = st[sp - 1].b == 2; break;
        case RG_OP_PRESENT_NUM: st[sp - 1].b = !isnan(st[sp - 1].n); break;
        case RG_OP_PRESENT_STR: st[sp - 1].b = st[sp - 1].s != NULL; break;
        case RG_OP_PRESENT_BOOL: st[sp - 1].b = st[sp - 1].b != 2; break;
        case RG_OP_FEAT_CMP_CONST: {
            double a = x->feat[in->arg], b = in->u.num;
            int r;
            switch (in->pad) {
            case RG_CMP_LT: r = a < b; break;
            case RG_CMP_LE: r = a <= b; break;
            case RG_CMP_GT: r = a > b; break;
            case RG_CMP_GE: r = a >= b; break;
            case RG_CMP_EQ: r = a == b; break;
            default: r = a != b; break;
            }
            st[sp++].b = isnan(a) ? 2 : r;
            break;
        }
        case RG_OP_SFIELD_EQ_CONST: {
            const char *a = x->sfv[in->arg], *b = in->u.str;
            st[sp++].b = !a ? 2 : ((a[0] == b[0] && strcmp(a, b) == 0) == (in->pad == RG_CMP_EQ));
            break;
        }
        case RG_OP_SFIELD_IN: {
            const char *a = x->sfv[in->arg];
            st[sp++].b = !a ? 2 : rg_rlist_has_str(in->u.list, a, x->sfh[in->arg]);
            break;
        }
        case RG_OP_COUNT: break;
        }
    }
    return sp > 0 ? st[sp - 1].b : 2;
}
