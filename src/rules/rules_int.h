/*
 * rules_int.h - private to src/rules: the expression compiler and VM, the
 * loaded ruleset's layout, and the case runner's helpers.
 *
 * DESIGN: an expression is parsed once into a small AST that carries the
 * byte offset of every token (for file:line:col), type-checked, and emitted
 * as postfix bytecode over a fixed stack. Opcodes are declared once in
 * RG_OPCODE_LIST (as jq's opcode_list.h does) so the enum, the names used
 * in dumps and the VM switch cannot drift apart.
 */
#ifndef RISKGATE_RULES_INT_H
#define RISKGATE_RULES_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "riskgate/diag.h"
#include "riskgate/rules.h"
#include "riskgate/ytree.h"

#define RG_EXPR_MAX_LEN   4096 /* characters in one `when` */
#define RG_EXPR_MAX_STACK 32   /* VM stack slots */
#define RG_EXPR_MAX_DEPTH 48   /* parser nesting */

/* Value types of the expression language. */
enum rg_xtype { RG_XT_ERR = 0, RG_XT_NUM, RG_XT_STR, RG_XT_BOOL, RG_XT_ANY };

/* String event fields (from struct rg_txn). */
#define RG_SFIELD_LIST(X)                                        \
    X(MERCHANT_CATEGORY, "merchant_category", RG_HAS_MERCHANT_CAT) \
    X(CHANNEL,           "channel",           RG_HAS_CHANNEL)    \
    X(COUNTRY,           "country",           RG_HAS_COUNTRY)    \
    X(CURRENCY,          "currency",          0)                 \
    X(MERCHANT_ID,       "merchant_id",       RG_HAS_MERCHANT_ID) \
    X(DEVICE_ID,         "device_id",         RG_HAS_DEVICE_ID)  \
    X(IP,                "ip",                RG_HAS_IP)         \
    X(AUTH_METHOD,       "auth_method",       RG_HAS_AUTH_METHOD) \
    X(USER_ID,           "user_id",           0)

enum rg_sfield {
#define RG_SF_ENUM(id, name, bit) RG_SF_##id,
    RG_SFIELD_LIST(RG_SF_ENUM)
#undef RG_SF_ENUM
    RG_SF_COUNT
};

/* Name of a string field; slot of a name or -1. */
const char *rg_sfield_name(int f);
int rg_sfield_lookup(const char *name);
/* The field's value in txn, or NULL when absent (missing). */
const char *rg_sfield_get(const struct rg_txn *txn, int f);

/*
 * X(name, stack effect) - every opcode of the VM. Booleans on the stack are
 * three-valued: 0 false, 1 true, 2 missing. Numbers are doubles (NaN =
 * missing), strings are pointers (NULL = missing).
 *
 * FEAT_CMP_CONST and SFIELD_EQ_CONST are fused forms of the most common
 * rule shape (`feature > 10`, `channel == 'x'`): one dispatch instead of
 * three. `pad` holds the comparison (enum rg_cmp), arg the slot.
 * SFIELD_IN is `field in list` using the event's precomputed hash.
 */
enum rg_cmp { RG_CMP_LT, RG_CMP_LE, RG_CMP_GT, RG_CMP_GE, RG_CMP_EQ, RG_CMP_NE };

#define RG_OPCODE_LIST(X)      \
    X(PUSH_NUM, +1)            \
    X(PUSH_STR, +1)            \
    X(PUSH_BOOL, +1)           \
    X(LOAD_FEAT, +1)           \
    X(LOAD_SFIELD, +1)         \
    X(LOAD_SCORE, +1)          \
    X(LOAD_ANOMALY, +1)        \
    X(ADD, -1)                 \
    X(SUB, -1)                 \
    X(MUL, -1)                 \
    X(DIV, -1)                 \
    X(NEG, 0)                  \
    X(LT, -1)                  \
    X(LE, -1)                  \
    X(GT, -1)                  \
    X(GE, -1)                  \
    X(EQ_NUM, -1)              \
    X(NE_NUM, -1)              \
    X(EQ_STR, -1)              \
    X(NE_STR, -1)              \
    X(EQ_BOOL, -1)             \
    X(NE_BOOL, -1)             \
    X(AND, -1)                 \
    X(OR, -1)                  \
    X(NOT, 0)                  \
    X(JUMP_IF_FALSE, 0)        \
    X(JUMP_IF_TRUE, 0)         \
    X(IN_NUM, 0)               \
    X(IN_STR, 0)               \
    X(BETWEEN, -2)             \
    X(STARTS_WITH, -1)         \
    X(ENDS_WITH, -1)           \
    X(MISSING_NUM, 0)          \
    X(MISSING_STR, 0)          \
    X(MISSING_BOOL, 0)         \
    X(PRESENT_NUM, 0)          \
    X(PRESENT_STR, 0)          \
    X(PRESENT_BOOL, 0)         \
    X(FEAT_CMP_CONST, +1)      \
    X(SFIELD_EQ_CONST, +1)     \
    X(SFIELD_IN, +1)

enum rg_opcode {
#define RG_OP_ENUM(name, eff) RG_OP_##name,
    RG_OPCODE_LIST(RG_OP_ENUM)
#undef RG_OP_ENUM
    RG_OP_COUNT
};

const char *rg_opcode_name(int op);

/* A named or inline list: sorted for binary search. */
struct rg_rlist {
    char *name;             /* NULL for an inline list */
    enum rg_xtype type;     /* NUM, STR, or ANY when empty */
    size_t n;
    double *nums;
    char **strs;            /* sorted by (hash, text) */
    uint64_t *hashes;       /* rg_str_hash of strs[i] */
    int line, col;          /* where it was defined */
    char *file;
};

struct rg_insn {
    uint16_t op;
    uint16_t pad;
    int32_t arg;            /* feature slot, field id, jump target, bool */
    union {
        double num;
        const char *str;
        const struct rg_rlist *list;
    } u;
};

/* A rule's cheap pre-checks: up to RG_GUARDS terms of its top-level `and`
 * chain that have a simple form (`feature <op> number`, `feature between
 * a and b`, `field ==/!= 'text'`, `field in list`). The rule can only fire
 * when every guard is true, so decide() tests guards inline and runs the
 * program only for the few rules that pass. Numeric guards are preferred:
 * thresholds on counts are usually far more selective than categories. */
#define RG_GUARDS 2
enum rg_guard_kind {
    RG_GUARD_NONE,
    RG_GUARD_FEAT,          /* feature != u.num (the one comparison that is not a range) */
    RG_GUARD_FEAT_RANGE,    /* u.num <= feature <= hi */
    RG_GUARD_SFIELD,        /* field ==/!= u.str (cmp) */
    RG_GUARD_SFIELD_IN,     /* field in u.list */
};
struct rg_rlist;
struct rg_guard {
    uint8_t kind;
    uint8_t cmp;            /* enum rg_cmp */
    uint16_t slot;
    uint64_t hash;          /* SFIELD: rg_str_hash(u.str) */
    double hi;              /* FEAT_RANGE: upper bound (u.num is the lower) */
    union {
        double num;
        const char *str;
        const struct rg_rlist *list;
    } u;
};

struct rg_prog {
    struct rg_insn *code;
    size_t n;
    int max_stack;
    struct rg_guard guard[RG_GUARDS];
};

/* Everything an expression may refer to while it compiles. */
struct rg_xenv {
    struct rg_rlist **lists;    /* named lists */
    size_t n_lists;
    /* Storage owned by the ruleset being built: inline lists and string
     * constants are appended here and freed with the ruleset. */
    struct rg_rlist ***owned_lists;
    size_t *n_owned_lists;
    char ***owned_strs;
    size_t *n_owned_strs;
};

/* Where a `when` came from, to turn a byte offset into line:col. */
struct rg_xsrc {
    const char *file;
    const char *buf;            /* the whole YAML text, or NULL */
    size_t buf_len;
    const struct rg_ynode *node;
};

void rg_xsrc_locate(const struct rg_xsrc *src, size_t off, int *line, int *col);

/* Compile text into prog. Every problem goes to d; returns 0 or RG_EPARSE /
 * RG_ENOMEM. want is the required result type (RG_XT_BOOL for `when`). */
int rg_expr_compile(const char *text, const struct rg_xsrc *src, const struct rg_xenv *env,
                    enum rg_xtype want, struct rg_diags *d, struct rg_prog *prog);
void rg_prog_fini(struct rg_prog *prog);

struct rg_xctx {
    const struct rg_txn *txn;
    const double *feat;
    double score, anomaly;
    /* Each string field's value (NULL = missing) and rg_str_hash, computed
     * once per event by rg_xctx_init so rules do not repeat the work. */
    const char *sfv[RG_SF_COUNT];
    uint64_t sfh[RG_SF_COUNT];
};

/* hash_mask: bit f set = fields whose hash some rule needs (others get 0). */
void rg_xctx_init(struct rg_xctx *x, const struct rg_txn *txn, const double *feat,
                  double score, double anomaly, uint32_t hash_mask);

/* Run a boolean program: 1 true, 0 false, 2 missing. No allocation. */
/* FNV-1a; string lists are searched by hash first, then by text. */
uint64_t rg_str_hash(const char *s);
/* Hash and sort l->strs (l->n of them). 0 or RG_ENOMEM. */
int rg_rlist_finish_strs(struct rg_rlist *l);
/* 1 when s (whose hash is h) is in the string list l. */
int rg_rlist_has_str(const struct rg_rlist *l, const char *s, uint64_t h);
int rg_prog_eval(const struct rg_prog *prog, const struct rg_xctx *x);

/* Reason template: literal text with {name} placeholders. */
enum rg_seg_kind { RG_SEG_TEXT, RG_SEG_FEAT, RG_SEG_SFIELD, RG_SEG_SCORE, RG_SEG_ANOMALY };
struct rg_seg {
    enum rg_seg_kind kind;
    int slot;
    char *text;
};

struct rg_rule {
    char *id;
    char *description;
    char *owner;
    char **tags;
    size_t n_tags;
    enum rg_decision then;
    bool force;
    bool shadow;
    enum rg_step_up_method method;
    struct rg_prog prog;
    struct rg_seg *segs;
    size_t n_segs;
    char *file;
    int line, col;
};

struct rg_ruleset {
    struct rg_rule *rules;
    size_t n_rules;
    struct rg_policy policy;
    struct rg_rlist **lists;        /* named */
    size_t n_lists;
    struct rg_rlist **owned_lists;  /* inline */
    size_t n_owned_lists;
    char **owned_strs;
    size_t n_owned_strs;
    struct rg_guard (*guards)[RG_GUARDS]; /* n_rules copies of rules[i].prog.guard, packed */
    uint32_t sf_hash_mask;          /* string fields whose hash guards / SFIELD_IN use */
    char version[13];
};

/* Render a rule's reason into out (cap bytes, always NUL-terminated). */
void rg_rule_render_reason(const struct rg_rule *r, const struct rg_xctx *x, char *out,
                           size_t cap);

/* rg_rules_cli() with the output streams given (tests capture them). */
int rg_rules_cli_run(int argc, char **argv, FILE *out, FILE *err);

#endif
