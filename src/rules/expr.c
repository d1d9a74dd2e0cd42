/*
 * expr.c - the rule expression language: lexer, parser with type checking
 * and postfix code generation. The evaluator is vm.c.
 *
 * DESIGN: parsing builds a small AST in one growable array (load time, so
 * allocation is fine) with the byte offset of each node's token; types are
 * checked bottom-up while parsing so that every type error can name the
 * offending token. A syntax error stops that expression (the rest would
 * only produce noise), a type error does not: the node becomes RG_XT_ERR
 * and its parents stay silent, so one mistake gives one message.
 *
 * The compiler computes the deepest stack a program can reach and refuses
 * anything deeper than RG_EXPR_MAX_STACK, so the VM needs no bounds checks.
 * `and` / `or` short-circuit with a jump that keeps the deciding value on
 * the stack. Common shapes are fused into single opcodes, and the simple
 * terms of a rule's top-level `and` chain become guards (rules_int.h).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "riskgate/err.h"
#include "riskgate/feature.h"
#include "rules_int.h"

/* ---- names ---------------------------------------------------------- */

static const char *const g_op_names[RG_OP_COUNT] = {
#define RG_OP_NAME(name, eff) #name,
    RG_OPCODE_LIST(RG_OP_NAME)
#undef RG_OP_NAME
};

const char *rg_opcode_name(int op)
{
    return op >= 0 && op < RG_OP_COUNT ? g_op_names[op] : "?";
}

/* ---- source positions ---------------------------------------------- */

void rg_xsrc_locate(const struct rg_xsrc *src, size_t off, int *line, int *col)
{
    const struct rg_ynode *n = src->node;
    *line = n ? n->line : 0;
    *col = n ? n->col : 0;
    if (!n || !src->buf || n->line <= 0 || n->col <= 0)
        return;
    /* Find the start of the node's line in the YAML text. */
    const char *p = src->buf, *end = src->buf + src->buf_len;
    for (int l = 1; l < n->line && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return;
        p = nl + 1;
    }
    const char *at = p + (n->col - 1);
    if (at >= end)
        return;
    const char *eol = memchr(at, '\n', (size_t)(end - at));
    size_t rest = (size_t)((eol ? eol : end) - at);
    if (*at == '|' || *at == '>') {
        /* Block scalar: content starts on the next line. A literal block
         * (|) keeps line breaks, so the offset maps to a line and column;
         * a folded one (>) does not: point at the first content line. */
        size_t k = 0, lstart = 0;
        if (*at == '|')
            for (size_t i = 0; i < off && i < n->len; i++)
                if (n->str[i] == '\n') {
                    k++;
                    lstart = i + 1;
                }
        /* The block's indentation is that of its first non-blank line. */
        const char *q = eol ? eol + 1 : end;
        int indent = 0;
        while (q < end) {
            indent = 0;
            while (q + indent < end && q[indent] == ' ')
                indent++;
            if (q + indent < end && q[indent] != '\n' && q[indent] != '\r')
                break;
            const char *nl = memchr(q, '\n', (size_t)(end - q));
            q = nl ? nl + 1 : end;
        }
        *line = n->line + 1 + (int)k;
        *col = indent + 1 + (*at == '|' ? (int)(off - lstart) : 0);
        return;
    }
    if (*at == '\'' || *at == '"') {
        /* Single-line quoted without escapes: the value is the source. */
        if (rest >= n->len + 1 && memcmp(at + 1, n->str, n->len) == 0)
            *col = n->col + 1 + (int)off;
        return;
    }
    if (rest >= n->len && memcmp(at, n->str, n->len) == 0)
        *col = n->col + (int)off; /* single-line plain */
}

/* ---- lexer ---------------------------------------------------------- */

enum tk {
    T_EOF, T_NUM, T_STR, T_IDENT, T_LP, T_RP, T_LB, T_RB, T_COMMA,
    T_PLUS, T_MINUS, T_STAR, T_SLASH, T_LT, T_LE, T_GT, T_GE, T_EQ, T_NE,
    T_AND, T_OR, T_NOT, T_IN, T_BETWEEN, T_IS, T_MISSING, T_TRUE, T_FALSE, T_BAD
};

static const char *const g_tk_text[] = {
    "end of expression", "number", "string", "name", "'('", "')'", "'['", "']'", "','",
    "'+'", "'-'", "'*'", "'/'", "'<'", "'<='", "'>'", "'>='", "'=='", "'!='",
    "'and'", "'or'", "'not'", "'in'", "'between'", "'is'", "'missing'", "'true'",
    "'false'", "bad character"
};

struct tok {
    enum tk k;
    size_t off, len;
    double num;
};

enum xk {
    XK_NUM, XK_STR, XK_BOOL, XK_FEAT, XK_SFIELD, XK_SCORE, XK_ANOMALY, XK_ARITH,
    XK_CMP, XK_NEG, XK_NOT, XK_AND, XK_OR, XK_IN, XK_BETWEEN, XK_CALL, XK_MISSING
};

struct xnode {
    enum xk kind;
    enum rg_xtype type;
    size_t off;
    int op;          /* token kind for ARITH/CMP; opcode for CALL; 1 = "not" for IN/MISSING */
    int a, b, c;     /* children (node indexes) */
    double num;
    const char *str;
    int slot;
    const struct rg_rlist *list;
};

struct xp {
    const char *s;
    size_t len, pos;
    struct tok t;
    const struct rg_xsrc *src;
    const struct rg_xenv *env;
    struct rg_diags *d;
    bool failed;        /* syntax error: stop */
    int errors;
    int oom;
    struct xnode *nodes;
    size_t n, cap;
    int depth;
};

static const char *type_name(enum rg_xtype t)
{
    switch (t) {
    case RG_XT_NUM: return "number";
    case RG_XT_STR: return "string";
    case RG_XT_BOOL: return "boolean";
    case RG_XT_ANY: return "value";
    default: return "error";
    }
}

static void xerr(struct xp *p, size_t off, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void xerr(struct xp *p, size_t off, const char *hint, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int line, col;
    rg_xsrc_locate(p->src, off, &line, &col);
    rg_diags_add(p->d, p->src->file, line, col, hint, "%s", msg);
    p->errors++;
}

static void syntax(struct xp *p, size_t off, const char *hint, const char *what)
{
    if (p->failed)
        return;
    xerr(p, off, hint, "%s", what);
    p->failed = true;
}

static bool is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident(char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9') || c == '.';
}

static void next(struct xp *p)
{
    const char *s = p->s;
    while (p->pos < p->len && (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' ||
                               s[p->pos] == '\r'))
        p->pos++;
    struct tok *t = &p->t;
    t->off = p->pos;
    t->len = 1;
    if (p->pos >= p->len) {
        t->k = T_EOF;
        t->len = 0;
        return;
    }
    char c = s[p->pos];
    char c2 = p->pos + 1 < p->len ? s[p->pos + 1] : '\0';
    if ((c >= '0' && c <= '9') || (c == '.' && c2 >= '0' && c2 <= '9')) {
        char buf[64];
        size_t i = p->pos, j = 0;
        while (i < p->len && j + 1 < sizeof(buf) &&
               ((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
                ((s[i] == '+' || s[i] == '-') && j > 0 && (buf[j - 1] == 'e' || buf[j - 1] == 'E'))))
            buf[j++] = s[i++];
        buf[j] = '\0';
        char *e;
        t->num = strtod(buf, &e);
        t->k = (*e == '\0' && isfinite(t->num) && !(i < p->len && is_ident_start(s[i]))) ? T_NUM
                                                                                          : T_BAD;
        t->len = i - p->pos;
        if (t->k == T_BAD)
            while (p->pos + t->len < p->len && is_ident(s[p->pos + t->len]))
                t->len++;
        p->pos += t->len;
        return;
    }
    if (c == '\'' || c == '"') {
        const char *q = memchr(s + p->pos + 1, c, p->len - p->pos - 1);
        if (!q) {
            t->k = T_BAD;
            t->len = p->len - p->pos;
            syntax(p, t->off, "close it with the same quote", "unterminated string");
            p->pos = p->len;
            return;
        }
        t->k = T_STR;
        t->len = (size_t)(q - (s + p->pos)) + 1;
        p->pos += t->len;
        return;
    }
    if (is_ident_start(c)) {
        size_t i = p->pos;
        while (i < p->len && is_ident(s[i]))
            i++;
        t->len = i - p->pos;
        p->pos = i;
        static const struct { const char *w; enum tk k; } kw[] = {
            {"and", T_AND}, {"or", T_OR}, {"not", T_NOT}, {"in", T_IN},
            {"between", T_BETWEEN}, {"is", T_IS}, {"missing", T_MISSING},
            {"true", T_TRUE}, {"false", T_FALSE},
        };
        t->k = T_IDENT;
        for (size_t k = 0; k < sizeof(kw) / sizeof(kw[0]); k++)
            if (strlen(kw[k].w) == t->len && memcmp(kw[k].w, s + t->off, t->len) == 0)
                t->k = kw[k].k;
        return;
    }
    p->pos++;
    switch (c) {
    case '(': t->k = T_LP; return;
    case ')': t->k = T_RP; return;
    case '[': t->k = T_LB; return;
    case ']': t->k = T_RB; return;
    case ',': t->k = T_COMMA; return;
    case '+': t->k = T_PLUS; return;
    case '-': t->k = T_MINUS; return;
    case '*': t->k = T_STAR; return;
    case '/': t->k = T_SLASH; return;
    case '<':
    case '>':
        if (c2 == '=') {
            p->pos++;
            t->len = 2;
            t->k = c == '<' ? T_LE : T_GE;
        } else {
            t->k = c == '<' ? T_LT : T_GT;
        }
        return;
    case '=':
        if (c2 == '=') {
            p->pos++;
            t->len = 2;
            t->k = T_EQ;
            return;
        }
        t->k = T_BAD;
        syntax(p, t->off, "use == to compare", "unexpected '='");
        return;
    case '!':
        if (c2 == '=') {
            p->pos++;
            t->len = 2;
            t->k = T_NE;
            return;
        }
        t->k = T_BAD;
        syntax(p, t->off, "use 'not'", "unexpected '!'");
        return;
    case '&':
        t->k = T_BAD;
        syntax(p, t->off, "use 'and'", "unexpected '&'");
        return;
    case '|':
        t->k = T_BAD;
        syntax(p, t->off, "use 'or'", "unexpected '|'");
        return;
    default:
        t->k = T_BAD;
        if ((unsigned char)c >= 0x80)
            syntax(p, t->off, "names and operators are plain ASCII", "unexpected non-ASCII character");
        else
            syntax(p, t->off, NULL, "unexpected character");
        return;
    }
}

/* "unexpected X" for the current token. */
static void unexpected(struct xp *p, const char *expected)
{
    if (p->failed)
        return;
    char what[160];
    if (p->t.k == T_EOF) {
        snprintf(what, sizeof(what), "expression ends too early; expected %s", expected);
    } else {
        int l = (int)(p->t.len > 40 ? 40 : p->t.len);
        snprintf(what, sizeof(what), "unexpected '%.*s'; expected %s", l, p->s + p->t.off,
                 expected);
    }
    syntax(p, p->t.off, NULL, what);
}

static int node(struct xp *p, enum xk kind, enum rg_xtype type, size_t off)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        struct xnode *nv = realloc(p->nodes, cap * sizeof(*nv));
        if (!nv) {
            p->oom = 1;
            p->failed = true;
            return -1;
        }
        p->nodes = nv;
        p->cap = cap;
    }
    struct xnode *x = &p->nodes[p->n];
    memset(x, 0, sizeof(*x));
    x->kind = kind;
    x->type = type;
    x->off = off;
    x->a = x->b = x->c = -1;
    return (int)p->n++;
}

static enum rg_xtype ty(struct xp *p, int i)
{
    return i < 0 ? RG_XT_ERR : p->nodes[i].type;
}

/* A copy of s[off..off+len) owned by the ruleset. */
static const char *own_str(struct xp *p, const char *s, size_t len)
{
    const struct rg_xenv *e = p->env;
    char *c = malloc(len + 1);
    char **v = c ? realloc(*e->owned_strs, (*e->n_owned_strs + 1) * sizeof(char *)) : NULL;
    if (!v) {
        free(c);
        p->oom = 1;
        p->failed = true;
        return NULL;
    }
    memcpy(c, s, len);
    c[len] = '\0';
    *e->owned_strs = v;
    v[(*e->n_owned_strs)++] = c;
    return c;
}

static int parse_or(struct xp *p);
static int parse_add(struct xp *p);

/* Check that t is the wanted type; report at off and return false if not. */
static bool want_type(struct xp *p, int i, enum rg_xtype want, const char *ctx)
{
    enum rg_xtype t = ty(p, i);
    if (t == RG_XT_ERR || t == want)
        return t == want;
    xerr(p, p->nodes[i].off, NULL, "%s needs a %s, but this is a %s", ctx, type_name(want),
         type_name(t));
    return false;
}

static int parse_ident(struct xp *p)
{
    size_t off = p->t.off, len = p->t.len;
    char name[128];
    if (len >= sizeof(name)) {
        syntax(p, off, NULL, "name too long");
        return -1;
    }
    memcpy(name, p->s + off, len);
    name[len] = '\0';
    next(p);
    if (p->t.k == T_LP) { /* function call */
        int fn = strcmp(name, "starts_with") == 0 ? RG_OP_STARTS_WITH
               : strcmp(name, "ends_with") == 0   ? RG_OP_ENDS_WITH
                                                  : -1;
        if (fn < 0) {
            static const char *const fns[] = {"starts_with", "ends_with"};
            const char *m = rg_did_you_mean(name, fns, 2);
            char hint[160];
            snprintf(hint, sizeof(hint), "did you mean %s?", m ? m : "starts_with or ends_with");
            xerr(p, off, hint, "unknown function '%s'", name);
        }
        next(p);
        int args[2] = {-1, -1};
        for (int k = 0; k < 2; k++) {
            if (k == 1) {
                if (p->t.k != T_COMMA) {
                    unexpected(p, "',' and a second argument");
                    return -1;
                }
                next(p);
            }
            args[k] = parse_or(p);
            if (p->failed)
                return -1;
        }
        if (p->t.k != T_RP) {
            unexpected(p, "')' after the two arguments");
            return -1;
        }
        next(p);
        int x = node(p, XK_CALL, RG_XT_BOOL, off);
        if (x < 0)
            return -1;
        p->nodes[x].op = fn;
        p->nodes[x].a = args[0];
        p->nodes[x].b = args[1];
        bool ok = fn >= 0;
        ok &= want_type(p, args[0], RG_XT_STR, name);
        ok &= want_type(p, args[1], RG_XT_STR, name);
        if (!ok)
            p->nodes[x].type = RG_XT_ERR;
        return x;
    }
    int slot = rg_feature_lookup(name);
    if (slot >= 0) {
        int x = node(p, XK_FEAT, RG_XT_NUM, off);
        if (x >= 0)
            p->nodes[x].slot = slot;
        return x;
    }
    int f = rg_sfield_lookup(name);
    if (f >= 0) {
        int x = node(p, XK_SFIELD, RG_XT_STR, off);
        if (x >= 0)
            p->nodes[x].slot = f;
        return x;
    }
    if (strcmp(name, "score") == 0)
        return node(p, XK_SCORE, RG_XT_NUM, off);
    if (strcmp(name, "anomaly") == 0)
        return node(p, XK_ANOMALY, RG_XT_NUM, off);
    for (size_t i = 0; i < p->env->n_lists; i++)
        if (strcmp(p->env->lists[i]->name, name) == 0) {
            char hint[200];
            snprintf(hint, sizeof(hint), "use: x in %s", name);
            xerr(p, off, hint, "'%s' is a list, not a value", name);
            return node(p, XK_NUM, RG_XT_ERR, off);
        }
    const char *cands[RG_FEAT_COUNT + RG_SF_COUNT + 2];
    size_t nc = 0;
    for (int i = 0; i < RG_FEAT_COUNT; i++)
        cands[nc++] = rg_feature_name(i);
    for (int i = 0; i < RG_SF_COUNT; i++)
        cands[nc++] = rg_sfield_name(i);
    cands[nc++] = "score";
    cands[nc++] = "anomaly";
    const char *m = rg_did_you_mean(name, cands, nc);
    char hint[200];
    if (m)
        snprintf(hint, sizeof(hint), "did you mean %s?", m);
    else
        snprintf(hint, sizeof(hint), "see `riskgate features` for the catalog");
    xerr(p, off, hint, "unknown feature %s", name);
    return node(p, XK_NUM, RG_XT_ERR, off);
}

static int parse_primary(struct xp *p)
{
    if (p->failed)
        return -1;
    size_t off = p->t.off;
    switch (p->t.k) {
    case T_NUM: {
        int x = node(p, XK_NUM, RG_XT_NUM, off);
        if (x >= 0)
            p->nodes[x].num = p->t.num;
        next(p);
        return x;
    }
    case T_STR: {
        const char *s = own_str(p, p->s + off + 1, p->t.len - 2);
        int x = node(p, XK_STR, RG_XT_STR, off);
        if (x >= 0)
            p->nodes[x].str = s;
        next(p);
        return x;
    }
    case T_TRUE:
    case T_FALSE: {
        int x = node(p, XK_BOOL, RG_XT_BOOL, off);
        if (x >= 0)
            p->nodes[x].slot = p->t.k == T_TRUE;
        next(p);
        return x;
    }
    case T_IDENT:
        return parse_ident(p);
    case T_LP: {
        next(p);
        int x = parse_or(p);
        if (p->failed)
            return -1;
        if (p->t.k != T_RP) {
            char hint[64];
            int line, col;
            rg_xsrc_locate(p->src, off, &line, &col);
            snprintf(hint, sizeof(hint), "to close the '(' at column %d", col);
            if (p->t.k == T_EOF)
                syntax(p, p->t.off, hint, "missing ')'");
            else
                unexpected(p, "')'");
            return -1;
        }
        next(p);
        return x;
    }
    case T_RP:
        syntax(p, off, "remove it or add the matching '('", "unmatched ')'");
        return -1;
    default:
        unexpected(p, "a value (number, 'string', feature, true/false or '(')");
        return -1;
    }
}

static int parse_unary(struct xp *p)
{
    if (p->failed)
        return -1;
    if (p->t.k == T_MINUS) {
        size_t off = p->t.off;
        next(p);
        if (++p->depth > RG_EXPR_MAX_DEPTH) {
            syntax(p, off, NULL, "expression nested too deeply");
            return -1;
        }
        int a = parse_unary(p);
        p->depth--;
        if (p->failed)
            return -1;
        int x = node(p, XK_NEG, RG_XT_NUM, off);
        if (x >= 0) {
            p->nodes[x].a = a;
            if (!want_type(p, a, RG_XT_NUM, "'-'"))
                p->nodes[x].type = RG_XT_ERR;
        }
        return x;
    }
    return parse_primary(p);
}

static int arith(struct xp *p, int a, enum tk op, size_t off, int b)
{
    int x = node(p, XK_ARITH, RG_XT_NUM, off);
    if (x < 0)
        return -1;
    p->nodes[x].op = op;
    p->nodes[x].a = a;
    p->nodes[x].b = b;
    char ctx[32];
    snprintf(ctx, sizeof(ctx), "%s", g_tk_text[op]);
    bool ok = want_type(p, a, RG_XT_NUM, ctx);
    ok &= want_type(p, b, RG_XT_NUM, ctx);
    if (!ok)
        p->nodes[x].type = RG_XT_ERR;
    return x;
}

static int parse_mul(struct xp *p)
{
    int a = parse_unary(p);
    while (!p->failed && (p->t.k == T_STAR || p->t.k == T_SLASH)) {
        enum tk op = p->t.k;
        size_t off = p->t.off;
        next(p);
        int b = parse_unary(p);
        if (p->failed)
            return -1;
        a = arith(p, a, op, off, b);
    }
    return p->failed ? -1 : a;
}

static int parse_add(struct xp *p)
{
    int a = parse_mul(p);
    while (!p->failed && (p->t.k == T_PLUS || p->t.k == T_MINUS)) {
        enum tk op = p->t.k;
        size_t off = p->t.off;
        next(p);
        int b = parse_mul(p);
        if (p->failed)
            return -1;
        a = arith(p, a, op, off, b);
    }
    return p->failed ? -1 : a;
}

static bool is_cmp(enum tk k)
{
    return k == T_LT || k == T_LE || k == T_GT || k == T_GE || k == T_EQ || k == T_NE;
}

/* One literal list element: [-]number or string. */
static int parse_literal(struct xp *p)
{
    size_t off = p->t.off;
    if (p->t.k == T_MINUS) {
        next(p);
        if (p->t.k != T_NUM) {
            unexpected(p, "a number");
            return -1;
        }
        p->t.num = -p->t.num;
        p->t.off = off;
        return parse_primary(p);
    }
    if (p->t.k == T_NUM || p->t.k == T_STR)
        return parse_primary(p);
    unexpected(p, "a number or a 'string' (list items are constants)");
    return -1;
}

static int cmp_list(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Parse `[a, b, ...]` into an inline list owned by the ruleset. */
static const struct rg_rlist *parse_inline_list(struct xp *p)
{
    size_t lb = p->t.off;
    next(p);
    int items[256];
    size_t n = 0;
    enum rg_xtype lt = RG_XT_ANY;
    bool bad = false;
    while (!p->failed && p->t.k != T_RB) {
        if (n > 0) {
            if (p->t.k != T_COMMA) {
                unexpected(p, "',' or ']'");
                return NULL;
            }
            next(p);
        }
        int it = parse_literal(p);
        if (p->failed)
            return NULL;
        if (n == sizeof(items) / sizeof(items[0])) {
            syntax(p, p->nodes[it].off, "use a named list", "more than 256 items in an inline list");
            return NULL;
        }
        enum rg_xtype t = p->nodes[it].type;
        if (lt == RG_XT_ANY) {
            lt = t;
        } else if (t != lt && !bad) {
            xerr(p, p->nodes[it].off, "all items of a list have one type",
                 "list item is a %s but the first item is a %s", type_name(t), type_name(lt));
            bad = true;
        }
        items[n++] = it;
    }
    if (p->failed)
        return NULL;
    (void)lb;
    next(p); /* ']' */
    struct rg_rlist *l = calloc(1, sizeof(*l));
    const struct rg_xenv *e = p->env;
    struct rg_rlist **v = l ? realloc(*e->owned_lists, (*e->n_owned_lists + 1) * sizeof(*v)) : NULL;
    if (!v) {
        free(l);
        p->oom = 1;
        p->failed = true;
        return NULL;
    }
    *e->owned_lists = v;
    v[(*e->n_owned_lists)++] = l;
    l->type = bad ? RG_XT_ERR : lt;
    if (lt == RG_XT_NUM && !bad) {
        l->nums = malloc((n ? n : 1) * sizeof(double));
        if (!l->nums) {
            p->oom = 1;
            p->failed = true;
            return NULL;
        }
        for (size_t i = 0; i < n; i++)
            l->nums[i] = p->nodes[items[i]].num;
        l->n = n;
        qsort(l->nums, n, sizeof(double), cmp_list);
    } else if (lt == RG_XT_STR && !bad) {
        /* Strings are owned by owned_strs already; the list only points. */
        l->strs = malloc((n ? n : 1) * sizeof(char *));
        if (!l->strs) {
            p->oom = 1;
            p->failed = true;
            return NULL;
        }
        for (size_t i = 0; i < n; i++)
            l->strs[i] = (char *)p->nodes[items[i]].str;
        l->n = n;
        if (rg_rlist_finish_strs(l) != 0) {
            p->oom = 1;
            p->failed = true;
            return NULL;
        }
    }
    return l;
}

static int parse_cmp(struct xp *p)
{
    int a = parse_add(p);
    if (p->failed)
        return -1;
    size_t off = p->t.off;
    if (is_cmp(p->t.k)) {
        enum tk op = p->t.k;
        next(p);
        int b = parse_add(p);
        if (p->failed)
            return -1;
        if (is_cmp(p->t.k)) {
            syntax(p, p->t.off, "write a < b and b < c", "comparisons cannot be chained");
            return -1;
        }
        int x = node(p, XK_CMP, RG_XT_BOOL, off);
        if (x < 0)
            return -1;
        p->nodes[x].op = op;
        p->nodes[x].a = a;
        p->nodes[x].b = b;
        enum rg_xtype ta = ty(p, a), tb = ty(p, b);
        if (ta == RG_XT_ERR || tb == RG_XT_ERR) {
            p->nodes[x].type = RG_XT_ERR;
        } else if (ta != tb) {
            xerr(p, off, ta == RG_XT_STR || tb == RG_XT_STR ? "quote text values: 'gift_card'" : NULL,
                 "cannot compare a %s with a %s", type_name(ta), type_name(tb));
            p->nodes[x].type = RG_XT_ERR;
        } else if (ta != RG_XT_NUM && op != T_EQ && op != T_NE) {
            xerr(p, off, "only == and != work on text and booleans",
                 "cannot order %ss with %s", type_name(ta), g_tk_text[op]);
            p->nodes[x].type = RG_XT_ERR;
        }
        return x;
    }
    bool neg = false;
    if (p->t.k == T_NOT) { /* x not in list */
        next(p);
        if (p->t.k != T_IN) {
            unexpected(p, "'in' after 'not'");
            return -1;
        }
        neg = true;
    }
    if (p->t.k == T_IN) {
        next(p);
        const struct rg_rlist *l = NULL;
        size_t loff = p->t.off;
        if (p->t.k == T_LB) {
            l = parse_inline_list(p);
            if (p->failed)
                return -1;
        } else if (p->t.k == T_IDENT) {
            char name[128];
            size_t len = p->t.len < sizeof(name) - 1 ? p->t.len : sizeof(name) - 1;
            memcpy(name, p->s + p->t.off, len);
            name[len] = '\0';
            for (size_t i = 0; i < p->env->n_lists; i++)
                if (strcmp(p->env->lists[i]->name, name) == 0)
                    l = p->env->lists[i];
            if (!l) {
                const char *cands[256];
                size_t nc = 0;
                for (size_t i = 0; i < p->env->n_lists && nc < 256; i++)
                    cands[nc++] = p->env->lists[i]->name;
                const char *m = rg_did_you_mean(name, cands, nc);
                char hint[200];
                if (m)
                    snprintf(hint, sizeof(hint), "did you mean %s?", m);
                else
                    snprintf(hint, sizeof(hint), "define it under lists: in a rule file");
                xerr(p, loff, hint, "unknown list %s", name);
            }
            next(p);
        } else {
            unexpected(p, "a list: [a, b] or a list name");
            return -1;
        }
        int x = node(p, XK_IN, RG_XT_BOOL, off);
        if (x < 0)
            return -1;
        p->nodes[x].a = a;
        p->nodes[x].op = neg;
        p->nodes[x].list = l;
        enum rg_xtype ta = ty(p, a);
        if (!l || ta == RG_XT_ERR || l->type == RG_XT_ERR) {
            p->nodes[x].type = RG_XT_ERR;
        } else if (ta == RG_XT_BOOL) {
            xerr(p, p->nodes[a].off, NULL, "'in' needs a number or a string, but this is a boolean");
            p->nodes[x].type = RG_XT_ERR;
        } else if (l->type != RG_XT_ANY && l->type != ta) {
            xerr(p, loff, NULL, "cannot look for a %s in a list of %ss", type_name(ta),
                 type_name(l->type));
            p->nodes[x].type = RG_XT_ERR;
        }
        return x;
    }
    if (p->t.k == T_BETWEEN) {
        next(p);
        int lo = parse_add(p);
        if (p->failed)
            return -1;
        if (p->t.k != T_AND) {
            unexpected(p, "'and' (x between low and high)");
            return -1;
        }
        next(p);
        int hi = parse_add(p);
        if (p->failed)
            return -1;
        int x = node(p, XK_BETWEEN, RG_XT_BOOL, off);
        if (x < 0)
            return -1;
        p->nodes[x].a = a;
        p->nodes[x].b = lo;
        p->nodes[x].c = hi;
        bool ok = want_type(p, a, RG_XT_NUM, "'between'");
        ok &= want_type(p, lo, RG_XT_NUM, "'between'");
        ok &= want_type(p, hi, RG_XT_NUM, "'between'");
        if (!ok)
            p->nodes[x].type = RG_XT_ERR;
        return x;
    }
    if (p->t.k == T_IS) {
        next(p);
        bool pos = false;
        if (p->t.k == T_NOT) {
            pos = true;
            next(p);
        }
        if (p->t.k != T_MISSING) {
            unexpected(p, "'missing' (x is missing / x is not missing)");
            return -1;
        }
        next(p);
        int x = node(p, XK_MISSING, RG_XT_BOOL, off);
        if (x < 0)
            return -1;
        p->nodes[x].a = a;
        p->nodes[x].op = pos;
        if (ty(p, a) == RG_XT_ERR)
            p->nodes[x].type = RG_XT_ERR;
        return x;
    }
    return a;
}

static int parse_not(struct xp *p)
{
    if (p->failed)
        return -1;
    if (p->t.k == T_NOT) {
        size_t off = p->t.off;
        next(p);
        if (++p->depth > RG_EXPR_MAX_DEPTH) {
            syntax(p, off, NULL, "expression nested too deeply");
            return -1;
        }
        int a = parse_not(p);
        p->depth--;
        if (p->failed)
            return -1;
        int x = node(p, XK_NOT, RG_XT_BOOL, off);
        if (x >= 0) {
            p->nodes[x].a = a;
            if (!want_type(p, a, RG_XT_BOOL, "'not'"))
                p->nodes[x].type = RG_XT_ERR;
        }
        return x;
    }
    return parse_cmp(p);
}

static int logic(struct xp *p, enum xk kind, int a, size_t off, int b)
{
    int x = node(p, kind, RG_XT_BOOL, off);
    if (x < 0)
        return -1;
    p->nodes[x].a = a;
    p->nodes[x].b = b;
    const char *ctx = kind == XK_AND ? "'and'" : "'or'";
    bool ok = want_type(p, a, RG_XT_BOOL, ctx);
    ok &= want_type(p, b, RG_XT_BOOL, ctx);
    if (!ok)
        p->nodes[x].type = RG_XT_ERR;
    return x;
}

static int parse_and(struct xp *p)
{
    int a = parse_not(p);
    while (!p->failed && p->t.k == T_AND) {
        size_t off = p->t.off;
        next(p);
        int b = parse_not(p);
        if (p->failed)
            return -1;
        a = logic(p, XK_AND, a, off, b);
    }
    return p->failed ? -1 : a;
}

static int parse_or(struct xp *p)
{
    if (++p->depth > RG_EXPR_MAX_DEPTH) {
        syntax(p, p->t.off, NULL, "expression nested too deeply");
        return -1;
    }
    int a = parse_and(p);
    while (!p->failed && p->t.k == T_OR) {
        size_t off = p->t.off;
        next(p);
        int b = parse_and(p);
        if (p->failed)
            return -1;
        a = logic(p, XK_OR, a, off, b);
    }
    p->depth--;
    return p->failed ? -1 : a;
}

/* ---- code generation ------------------------------------------------ */

struct xgen {
    struct rg_insn *code;
    size_t n, cap;
    int sp, max;
    bool oom;
};

static size_t emit(struct xgen *g, int op, int eff)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        struct rg_insn *c = realloc(g->code, cap * sizeof(*c));
        if (!c) {
            g->oom = true;
            return 0;
        }
        g->code = c;
        g->cap = cap;
    }
    struct rg_insn *in = &g->code[g->n];
    memset(in, 0, sizeof(*in));
    in->op = (uint16_t)op;
    g->sp += eff;
    if (g->sp > g->max)
        g->max = g->sp;
    return g->n++;
}

static void gen(struct xgen *g, const struct xnode *nodes, int i)
{
    if (g->oom)
        return;
    const struct xnode *x = &nodes[i];
    size_t at;
    switch (x->kind) {
    case XK_NUM:
        at = emit(g, RG_OP_PUSH_NUM, 1);
        if (!g->oom)
            g->code[at].u.num = x->num;
        return;
    case XK_STR:
        at = emit(g, RG_OP_PUSH_STR, 1);
        if (!g->oom)
            g->code[at].u.str = x->str;
        return;
    case XK_BOOL:
        at = emit(g, RG_OP_PUSH_BOOL, 1);
        if (!g->oom)
            g->code[at].arg = x->slot;
        return;
    case XK_FEAT:
    case XK_SFIELD:
        at = emit(g, x->kind == XK_FEAT ? RG_OP_LOAD_FEAT : RG_OP_LOAD_SFIELD, 1);
        if (!g->oom)
            g->code[at].arg = x->slot;
        return;
    case XK_SCORE:
        emit(g, RG_OP_LOAD_SCORE, 1);
        return;
    case XK_ANOMALY:
        emit(g, RG_OP_LOAD_ANOMALY, 1);
        return;
    case XK_ARITH:
        gen(g, nodes, x->a);
        gen(g, nodes, x->b);
        emit(g, x->op == T_PLUS ? RG_OP_ADD : x->op == T_MINUS ? RG_OP_SUB
                : x->op == T_STAR ? RG_OP_MUL : RG_OP_DIV, -1);
        return;
    case XK_CMP: {
        /* Fused forms: feature <op> number, field ==/!= 'text'. */
        const struct xnode *a = &nodes[x->a], *b = &nodes[x->b];
        bool flip = a->kind == XK_NUM && b->kind == XK_FEAT;
        if ((a->kind == XK_FEAT && b->kind == XK_NUM) || flip) {
            const struct xnode *f = flip ? b : a, *c = flip ? a : b;
            int cmp = x->op == T_LT ? RG_CMP_LT : x->op == T_LE ? RG_CMP_LE
                    : x->op == T_GT ? RG_CMP_GT : x->op == T_GE ? RG_CMP_GE
                    : x->op == T_EQ ? RG_CMP_EQ : RG_CMP_NE;
            if (flip) /* 3 < f  is  f > 3 */
                cmp = cmp == RG_CMP_LT ? RG_CMP_GT : cmp == RG_CMP_LE ? RG_CMP_GE
                    : cmp == RG_CMP_GT ? RG_CMP_LT : cmp == RG_CMP_GE ? RG_CMP_LE : cmp;
            at = emit(g, RG_OP_FEAT_CMP_CONST, 1);
            if (!g->oom) {
                g->code[at].arg = f->slot;
                g->code[at].pad = (uint16_t)cmp;
                g->code[at].u.num = c->num;
            }
            return;
        }
        if (a->kind == XK_SFIELD && b->kind == XK_STR) {
            at = emit(g, RG_OP_SFIELD_EQ_CONST, 1);
            if (!g->oom) {
                g->code[at].arg = a->slot;
                g->code[at].pad = x->op == T_EQ ? RG_CMP_EQ : RG_CMP_NE;
                g->code[at].u.str = b->str;
            }
            return;
        }
        gen(g, nodes, x->a);
        gen(g, nodes, x->b);
        enum rg_xtype t = nodes[x->a].type;
        int op;
        if (t == RG_XT_STR)
            op = x->op == T_EQ ? RG_OP_EQ_STR : RG_OP_NE_STR;
        else if (t == RG_XT_BOOL)
            op = x->op == T_EQ ? RG_OP_EQ_BOOL : RG_OP_NE_BOOL;
        else
            op = x->op == T_LT ? RG_OP_LT : x->op == T_LE ? RG_OP_LE : x->op == T_GT ? RG_OP_GT
               : x->op == T_GE ? RG_OP_GE : x->op == T_EQ ? RG_OP_EQ_NUM : RG_OP_NE_NUM;
        emit(g, op, -1);
        return;
    }
    case XK_NEG:
        gen(g, nodes, x->a);
        emit(g, RG_OP_NEG, 0);
        return;
    case XK_NOT:
        gen(g, nodes, x->a);
        emit(g, RG_OP_NOT, 0);
        return;
    case XK_AND:
    case XK_OR: {
        gen(g, nodes, x->a);
        size_t j = emit(g, x->kind == XK_AND ? RG_OP_JUMP_IF_FALSE : RG_OP_JUMP_IF_TRUE, 0);
        gen(g, nodes, x->b);
        emit(g, x->kind == XK_AND ? RG_OP_AND : RG_OP_OR, -1);
        if (!g->oom)
            g->code[j].arg = (int32_t)g->n;
        return;
    }
    case XK_IN: {
        if (nodes[x->a].kind == XK_SFIELD && x->list->type == RG_XT_STR) {
            at = emit(g, RG_OP_SFIELD_IN, 1);
            if (!g->oom) {
                g->code[at].arg = nodes[x->a].slot;
                g->code[at].u.list = x->list;
            }
            if (x->op)
                emit(g, RG_OP_NOT, 0);
            return;
        }
        gen(g, nodes, x->a);
        at = emit(g, nodes[x->a].type == RG_XT_STR ? RG_OP_IN_STR : RG_OP_IN_NUM, 0);
        if (!g->oom)
            g->code[at].u.list = x->list;
        if (x->op)
            emit(g, RG_OP_NOT, 0);
        return;
    }
    case XK_BETWEEN:
        gen(g, nodes, x->a);
        gen(g, nodes, x->b);
        gen(g, nodes, x->c);
        emit(g, RG_OP_BETWEEN, -2);
        return;
    case XK_CALL:
        gen(g, nodes, x->a);
        gen(g, nodes, x->b);
        emit(g, x->op, -1);
        return;
    case XK_MISSING: {
        gen(g, nodes, x->a);
        enum rg_xtype t = nodes[x->a].type;
        int op = t == RG_XT_STR ? RG_OP_MISSING_STR : t == RG_XT_BOOL ? RG_OP_MISSING_BOOL
                                                                      : RG_OP_MISSING_NUM;
        if (x->op)
            op += RG_OP_PRESENT_NUM - RG_OP_MISSING_NUM;
        emit(g, op, 0);
        return;
    }
    }
}

static int guard_cmp(int op, bool flip)
{
    int cmp = op == T_LT ? RG_CMP_LT : op == T_LE ? RG_CMP_LE : op == T_GT ? RG_CMP_GT
            : op == T_GE ? RG_CMP_GE : op == T_EQ ? RG_CMP_EQ : RG_CMP_NE;
    if (flip) /* 3 < f  is  f > 3 */
        cmp = cmp == RG_CMP_LT ? RG_CMP_GT : cmp == RG_CMP_LE ? RG_CMP_GE
            : cmp == RG_CMP_GT ? RG_CMP_LT : cmp == RG_CMP_GE ? RG_CMP_LE : cmp;
    return cmp;
}

/* Try to make a guard of one conjunct. Returns its priority (lower is
 * better: more selective and cheaper), or -1 when it has no simple form. */
static int guard_of(const struct xnode *nodes, int i, struct rg_guard *g)
{
    const struct xnode *x = &nodes[i];
    memset(g, 0, sizeof(*g));
    if (x->kind == XK_CMP) {
        const struct xnode *a = &nodes[x->a], *b = &nodes[x->b];
        bool flip = a->kind == XK_NUM && b->kind == XK_FEAT;
        if ((a->kind == XK_FEAT && b->kind == XK_NUM) || flip) {
            int cmp = guard_cmp(x->op, flip);
            double c = (flip ? a : b)->num;
            g->slot = (uint16_t)(flip ? b : a)->slot;
            if (cmp == RG_CMP_NE) {
                g->kind = RG_GUARD_FEAT;
                g->cmp = RG_CMP_NE;
                g->u.num = c;
                return 2;
            }
            /* Every other comparison is an inclusive range; strict bounds
             * move to the next representable double, which is exact. */
            g->kind = RG_GUARD_FEAT_RANGE;
            g->u.num = cmp == RG_CMP_GT ? nextafter(c, INFINITY)
                     : cmp == RG_CMP_GE || cmp == RG_CMP_EQ ? c : -INFINITY;
            g->hi = cmp == RG_CMP_LT ? nextafter(c, -INFINITY)
                  : cmp == RG_CMP_LE || cmp == RG_CMP_EQ ? c : INFINITY;
            return cmp == RG_CMP_GT || cmp == RG_CMP_GE || cmp == RG_CMP_EQ ? 1 : 2;
        }
        if (a->kind == XK_SFIELD && b->kind == XK_STR) {
            g->kind = RG_GUARD_SFIELD;
            g->cmp = (uint8_t)guard_cmp(x->op, false);
            g->slot = (uint16_t)a->slot;
            g->u.str = b->str;
            g->hash = rg_str_hash(b->str);
            return g->cmp == RG_CMP_EQ ? 3 : 5;
        }
    }
    if (x->kind == XK_BETWEEN && nodes[x->a].kind == XK_FEAT && nodes[x->b].kind == XK_NUM &&
        nodes[x->c].kind == XK_NUM) {
        g->kind = RG_GUARD_FEAT_RANGE;
        g->slot = (uint16_t)nodes[x->a].slot;
        g->u.num = nodes[x->b].num;
        g->hi = nodes[x->c].num;
        return 0;
    }
    if (x->kind == XK_IN && !x->op && nodes[x->a].kind == XK_SFIELD && x->list &&
        x->list->type == RG_XT_STR) {
        g->kind = RG_GUARD_SFIELD_IN;
        g->slot = (uint16_t)nodes[x->a].slot;
        g->u.list = x->list;
        return 4;
    }
    return -1;
}

/* The guards: the best RG_GUARDS terms of the top-level and-chain (all
 * terms must be true for the rule to fire). Walks the chain with an
 * explicit stack; a chain too long for it simply gets fewer candidates. */
static void pick_guards(const struct xnode *nodes, int root, struct rg_guard *out)
{
    int stack[RG_EXPR_MAX_DEPTH * 2 + 8];
    int n = 0, best[RG_GUARDS];
    struct rg_guard cand;
    for (int k = 0; k < RG_GUARDS; k++)
        best[k] = 100;
    stack[n++] = root;
    while (n > 0) {
        int i = stack[--n];
        if (nodes[i].kind == XK_AND) {
            if (n + 2 > (int)(sizeof(stack) / sizeof(stack[0])))
                continue;
            stack[n++] = nodes[i].b;
            stack[n++] = nodes[i].a; /* left first */
            continue;
        }
        int pr = guard_of(nodes, i, &cand);
        if (pr < 0)
            continue;
        /* Insert keeping out[] sorted by priority (stable: earlier terms win ties). */
        for (int k = 0; k < RG_GUARDS; k++) {
            if (pr < best[k]) {
                for (int j = RG_GUARDS - 1; j > k; j--) {
                    best[j] = best[j - 1];
                    out[j] = out[j - 1];
                }
                best[k] = pr;
                out[k] = cand;
                break;
            }
        }
    }
}

int rg_expr_compile(const char *text, const struct rg_xsrc *src, const struct rg_xenv *env,
                    enum rg_xtype want, struct rg_diags *d, struct rg_prog *prog)
{
    memset(prog, 0, sizeof(*prog));
    struct xp p = {.s = text, .len = strlen(text), .src = src, .env = env, .d = d};
    if (p.len > RG_EXPR_MAX_LEN) {
        xerr(&p, 0, "split it into several rules", "expression is %zu characters; the limit is %d",
             p.len, RG_EXPR_MAX_LEN);
        return RG_EPARSE;
    }
    next(&p);
    if (p.t.k == T_EOF && !p.failed) {
        xerr(&p, 0, "write a condition such as: amount > 100", "empty expression");
        return RG_EPARSE;
    }
    int root = parse_or(&p);
    if (!p.failed && p.t.k != T_EOF) {
        if (p.t.k == T_RP)
            syntax(&p, p.t.off, "remove it or add the matching '('", "unmatched ')'");
        else
            unexpected(&p, "an operator (and, or, ==, <, ...) or the end");
    }
    if (!p.failed && p.errors == 0 && want != RG_XT_ANY && ty(&p, root) != want)
        xerr(&p, p.nodes[root].off, want == RG_XT_BOOL ? "compare it: e.g. x > 0" : NULL,
             "the expression is a %s; it must be a %s", type_name(ty(&p, root)), type_name(want));
    int rc = p.oom ? RG_ENOMEM : (p.failed || p.errors) ? RG_EPARSE : 0;
    if (rc == 0) {
        struct xgen g = {0};
        gen(&g, p.nodes, root);
        if (g.oom) {
            free(g.code);
            rc = RG_ENOMEM;
        } else if (g.max > RG_EXPR_MAX_STACK) {
            free(g.code);
            xerr(&p, 0, "split it into several rules", "expression too complex (needs %d stack slots, limit %d)",
                 g.max, RG_EXPR_MAX_STACK);
            rc = RG_EPARSE;
        } else {
            prog->code = g.code;
            prog->n = g.n;
            prog->max_stack = g.max;
            pick_guards(p.nodes, root, prog->guard);
        }
    }
    free(p.nodes);
    return rc;
}

void rg_prog_fini(struct rg_prog *prog)
{
    free(prog->code);
    memset(prog, 0, sizeof(*prog));
}
