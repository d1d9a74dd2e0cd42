/*
 * load.c - rule files to a ruleset: directory scan, YAML keys, named lists,
 * the policy block, reason templates and the version hash.
 *
 * DESIGN: loading runs in two passes over all files of a directory. Pass
 * one checks the top-level keys and collects every named list and the one
 * policy block (lists are shared by the whole directory, so a rule may use
 * a list defined in another file). Pass two compiles the rules. Nothing
 * stops at the first problem: each goes to the rg_diags with file:line:col
 * and a hint, and the load fails at the end when there was any. The result
 * is immutable; the version is SHA-256 over the sorted file names and
 * contents (list files included), so identical rules give identical
 * versions wherever the directory lives.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "riskgate/err.h"
#include "riskgate/feature.h"
#include "rules_int.h"

struct rfile {
    char *path;     /* for diagnostics and relative list files */
    char *name;     /* base name, hashed */
    char *buf;
    size_t len;
    struct rg_ydoc *doc;
};

struct loader {
    struct rg_ruleset *rs;
    struct rg_diags *d;
    EVP_MD_CTX *md;
    const char *policy_file;
    int policy_line, policy_col;
    int oom;
};

void rg_policy_default(struct rg_policy *p)
{
    p->step_up_at = 0.5;
    p->deny_at = 0.9;
    p->step_up_ttl_s = 300;
    p->anomaly_step_up_at = NAN;
    p->high_at = 0.7;
    p->band_method[RG_BAND_LOW] = RG_METHOD_OTP;
    p->band_method[RG_BAND_MEDIUM] = RG_METHOD_OTP;
    p->band_method[RG_BAND_HIGH] = RG_METHOD_BIOMETRIC;
    p->escalate_method_after_failed = 0;
    p->escalate_method = RG_METHOD_BIOMETRIC;
    p->deny_after_failed_step_ups = 3;
}

static void list_free(struct rg_rlist *l)
{
    if (!l)
        return;
    if (l->name) /* named lists own their strings; inline ones borrow */
        for (size_t i = 0; i < l->n && l->strs; i++)
            free(l->strs[i]);
    free(l->strs);
    free(l->hashes);
    free(l->nums);
    free(l->name);
    free(l->file);
    free(l);
}

void rg_ruleset_free(struct rg_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n_rules; i++) {
        struct rg_rule *r = &rs->rules[i];
        free(r->id);
        free(r->description);
        free(r->owner);
        for (size_t t = 0; t < r->n_tags; t++)
            free(r->tags[t]);
        free(r->tags);
        rg_prog_fini(&r->prog);
        for (size_t s = 0; s < r->n_segs; s++)
            free(r->segs[s].text);
        free(r->segs);
        free(r->file);
    }
    free(rs->rules);
    free(rs->guards);
    for (size_t i = 0; i < rs->n_lists; i++)
        list_free(rs->lists[i]);
    free(rs->lists);
    for (size_t i = 0; i < rs->n_owned_lists; i++)
        list_free(rs->owned_lists[i]);
    free(rs->owned_lists);
    for (size_t i = 0; i < rs->n_owned_strs; i++)
        free(rs->owned_strs[i]);
    free(rs->owned_strs);
    free(rs);
}

const char *rg_ruleset_version(const struct rg_ruleset *rs)
{
    return rs ? rs->version : NULL;
}

size_t rg_ruleset_count(const struct rg_ruleset *rs)
{
    return rs ? rs->n_rules : 0;
}

const char *rg_ruleset_rule_id(const struct rg_ruleset *rs, size_t i)
{
    return rs && i < rs->n_rules ? rs->rules[i].id : NULL;
}

const struct rg_policy *rg_ruleset_policy(const struct rg_ruleset *rs)
{
    return rs ? &rs->policy : NULL;
}

/* ---- helpers --------------------------------------------------------- */

static void at(struct loader *L, const struct rfile *f, const struct rg_ynode *n,
               const char *hint, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void at(struct loader *L, const struct rfile *f, const struct rg_ynode *n,
               const char *hint, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rg_diags_add(L->d, f->path, n ? n->line : 0, n ? n->col : 0, hint, "%s", msg);
}

/* Report an unknown key with a did-you-mean over the known ones. */
static void unknown_key(struct loader *L, const struct rfile *f, const struct rg_ynode *k,
                        const char *where, const char *const *known, size_t n)
{
    const char *m = k->type == RG_Y_SCALAR ? rg_did_you_mean(k->str, known, n) : NULL;
    char hint[400];
    if (m) {
        snprintf(hint, sizeof(hint), "did you mean %s?", m);
    } else {
        size_t o = (size_t)snprintf(hint, sizeof(hint), "known keys:");
        for (size_t i = 0; i < n && o < sizeof(hint); i++)
            o += (size_t)snprintf(hint + o, sizeof(hint) - o, " %s", known[i]);
    }
    at(L, f, k, hint, "unknown key '%s' in %s", k->type == RG_Y_SCALAR ? k->str : "?", where);
}

static bool key_known(const char *k, const char *const *known, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, known[i]) == 0)
            return true;
    return false;
}

static void check_keys(struct loader *L, const struct rfile *f, const struct rg_ynode *map,
                       const char *where, const char *const *known, size_t n)
{
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct rg_ynode *k = map->items[i];
        if (k->type != RG_Y_SCALAR || !key_known(k->str, known, n))
            unknown_key(L, f, k, where, known, n);
    }
}

/* A scalar string value, or NULL with a diagnostic. */
static const char *want_str(struct loader *L, const struct rfile *f, const struct rg_ynode *v,
                            const char *key)
{
    if (!v)
        return NULL;
    if (v->type != RG_Y_SCALAR) {
        at(L, f, v, NULL, "'%s' must be text, not a %s", key, rg_ynode_type_str(v));
        return NULL;
    }
    return v->str;
}

static char *xstrdup(struct loader *L, const char *s)
{
    char *c = s ? strdup(s) : NULL;
    if (s && !c)
        L->oom = 1;
    return c;
}

static bool valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static const char *const g_decisions[] = {"allow", "step_up", "deny"};
static const char *const g_methods[] = {"otp", "biometric", "password"};

static int parse_decision(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, g_decisions[i]) == 0)
            return i;
    return -1;
}

static int parse_method(struct loader *L, const struct rfile *f, const struct rg_ynode *v,
                        const char *key, enum rg_step_up_method *out)
{
    const char *s = want_str(L, f, v, key);
    if (!s)
        return -1;
    enum rg_step_up_method m = rg_method_parse(s);
    if (m == RG_METHOD_NONE) {
        const char *dm = rg_did_you_mean(s, g_methods, 3);
        char hint[120];
        snprintf(hint, sizeof(hint), "%s%s%s", dm ? "did you mean " : "one of otp, biometric, password",
                 dm ? dm : "", dm ? "?" : "");
        at(L, f, v, hint, "unknown step-up method '%s'", s);
        return -1;
    }
    *out = m;
    return 0;
}

/* ---- lists ------------------------------------------------------------ */

static int add_list(struct loader *L, struct rg_rlist *l)
{
    struct rg_ruleset *rs = L->rs;
    struct rg_rlist **v = realloc(rs->lists, (rs->n_lists + 1) * sizeof(*v));
    if (!v) {
        L->oom = 1;
        return RG_ENOMEM;
    }
    rs->lists = v;
    v[rs->n_lists++] = l;
    return 0;
}

static int cmp_num(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void list_from_seq(struct loader *L, const struct rfile *f, const struct rg_ynode *seq,
                          struct rg_rlist *l)
{
    size_t n = seq->n;
    bool all_num = n > 0;
    for (size_t i = 0; i < n; i++) {
        const struct rg_ynode *it = seq->items[i];
        double dv;
        if (it->type != RG_Y_SCALAR) {
            at(L, f, it, NULL, "list items must be single values, not a %s", rg_ynode_type_str(it));
            l->type = RG_XT_ERR;
            return;
        }
        if (rg_ynode_double(it, &dv) != 0)
            all_num = false;
    }
    if (n == 0) {
        l->type = RG_XT_ANY;
        return;
    }
    if (!all_num) { /* strings; a mix with numbers is an error */
        double dv;
        if (rg_ynode_double(seq->items[0], &dv) == 0) {
            for (size_t i = 1; i < n; i++)
                if (rg_ynode_double(seq->items[i], &dv) != 0) {
                    at(L, f, seq->items[i], "quote numbers to make them text: '42'",
                       "list '%s' mixes numbers and text", l->name);
                    l->type = RG_XT_ERR;
                    return;
                }
        }
        l->type = RG_XT_STR;
        l->strs = calloc(n, sizeof(char *));
        if (!l->strs) {
            L->oom = 1;
            return;
        }
        for (size_t i = 0; i < n; i++) {
            l->strs[i] = xstrdup(L, seq->items[i]->str);
            if (!l->strs[i])
                return;
            l->n++;
        }
        if (rg_rlist_finish_strs(l) != 0)
            L->oom = 1;
        return;
    }
    l->type = RG_XT_NUM;
    l->nums = malloc(n * sizeof(double));
    if (!l->nums) {
        L->oom = 1;
        return;
    }
    for (size_t i = 0; i < n; i++)
        rg_ynode_double(seq->items[i], &l->nums[l->n++]);
    qsort(l->nums, l->n, sizeof(double), cmp_num);
}

/* Directory part of path ("." when none), into buf. */
static void dir_of(const char *path, char *buf, size_t cap)
{
    const char *sl = strrchr(path, '/');
    if (!sl)
        snprintf(buf, cap, ".");
    else
        snprintf(buf, cap, "%.*s", (int)(sl - path), path);
}

static void list_from_file(struct loader *L, const struct rfile *f, const struct rg_ynode *v,
                           struct rg_rlist *l)
{
    const struct rg_ynode *fv = rg_ymap_get(v, "file");
    static const char *const keys[] = {"file"};
    check_keys(L, f, v, "a list", keys, 1);
    const char *rel = want_str(L, f, fv, "file");
    l->type = RG_XT_ERR;
    if (!fv) {
        at(L, f, v, "lists: { name: [a, b] } or { name: { file: path.txt } }",
           "list '%s' needs a sequence of items or a file", l->name);
        return;
    }
    if (!rel)
        return;
    char dir[1024], path[2100];
    dir_of(f->path, dir, sizeof(dir));
    if (rel[0] == '/')
        snprintf(path, sizeof(path), "%s", rel);
    else
        snprintf(path, sizeof(path), "%s/%s", dir, rel);
    char *buf;
    size_t len;
    int rc = rg_read_file(path, RG_RULES_LIST_MAX_BYTES, &buf, &len);
    if (rc == RG_ETOOBIG) {
        at(L, f, fv, "split the list or raise RG_RULES_LIST_MAX_BYTES",
           "list file %s is larger than %u bytes", path, RG_RULES_LIST_MAX_BYTES);
        return;
    }
    if (rc != 0) {
        at(L, f, fv, "the path is relative to the rule file", "cannot read list file %s: %s",
           path, rc == RG_ENOTFOUND ? "no such file" : rg_err_str(rc));
        return;
    }
    if (memchr(buf, '\0', len)) {
        at(L, f, fv, NULL, "list file %s is not text (NUL byte)", path);
        free(buf);
        return;
    }
    /* Hash list contents too: a changed list is a changed ruleset. */
    EVP_DigestUpdate(L->md, rel, strlen(rel) + 1);
    EVP_DigestUpdate(L->md, buf, len + 1);
    size_t cap = 16;
    l->strs = malloc(cap * sizeof(char *));
    l->type = RG_XT_STR;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line && l->strs;
         line = strtok_r(NULL, "\n", &save)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        while (*line == ' ' || *line == '\t' || *line == '\r')
            line++;
        size_t ln = strlen(line);
        while (ln > 0 && (line[ln - 1] == ' ' || line[ln - 1] == '\t' || line[ln - 1] == '\r'))
            line[--ln] = '\0';
        if (ln == 0)
            continue;
        if (l->n == cap) {
            char **nv = realloc(l->strs, cap * 2 * sizeof(char *));
            if (!nv)
                break;
            l->strs = nv;
            cap *= 2;
        }
        if (!(l->strs[l->n] = strdup(line)))
            break;
        l->n++;
    }
    if (!l->strs || (save && *save)) /* stopped early: out of memory */
        L->oom = 1;
    free(buf);
    if (l->strs && rg_rlist_finish_strs(l) != 0)
        L->oom = 1;
}

static void load_lists(struct loader *L, const struct rfile *f, const struct rg_ynode *m)
{
    if (m->type != RG_Y_MAP) {
        at(L, f, m, "lists: { high_risk_countries: [RU, NG] }", "'lists' must be a mapping, not a %s",
           rg_ynode_type_str(m));
        return;
    }
    for (size_t i = 0; i + 1 < m->n; i += 2) {
        const struct rg_ynode *k = m->items[i], *v = m->items[i + 1];
        if (k->type != RG_Y_SCALAR || !valid_name(k->str, 64) || strchr(k->str, '-') ||
            (k->str[0] >= '0' && k->str[0] <= '9')) {
            at(L, f, k, "letters, digits and _ only", "bad list name");
            continue;
        }
        if (rg_feature_lookup(k->str) >= 0 || rg_sfield_lookup(k->str) >= 0 ||
            !strcmp(k->str, "score") || !strcmp(k->str, "anomaly")) {
            at(L, f, k, "choose another name", "list name '%s' is already a feature or field", k->str);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < L->rs->n_lists; j++) {
            const struct rg_rlist *o = L->rs->lists[j];
            if (strcmp(o->name, k->str) == 0) {
                char hint[300];
                snprintf(hint, sizeof(hint), "first defined at %s:%d:%d", o->file, o->line, o->col);
                at(L, f, k, hint, "duplicate list '%s'", k->str);
                dup = true;
            }
        }
        if (dup)
            continue;
        struct rg_rlist *l = calloc(1, sizeof(*l));
        if (!l || !(l->name = strdup(k->str)) || !(l->file = strdup(f->path))) {
            list_free(l);
            L->oom = 1;
            return;
        }
        l->line = k->line;
        l->col = k->col;
        if (v->type == RG_Y_SEQ)
            list_from_seq(L, f, v, l);
        else if (v->type == RG_Y_MAP)
            list_from_file(L, f, v, l);
        else {
            at(L, f, v, "lists: { name: [a, b] } or { name: { file: path.txt } }",
               "list '%s' must be a sequence or { file: ... }", l->name);
            l->type = RG_XT_ERR;
        }
        if (add_list(L, l) != 0) {
            list_free(l);
            return;
        }
    }
}

/* ---- policy ----------------------------------------------------------- */

static bool get_num(struct loader *L, const struct rfile *f, const struct rg_ynode *m,
                    const char *key, double lo, double hi, double *out)
{
    const struct rg_ynode *v = rg_ymap_get(m, key);
    if (!v)
        return false;
    double x;
    if (rg_ynode_double(v, &x) != 0 || x < lo || x > hi) {
        at(L, f, v, NULL, "'%s' must be a number from %g to %g", key, lo, hi);
        return false;
    }
    *out = x;
    return true;
}

static bool get_int(struct loader *L, const struct rfile *f, const struct rg_ynode *m,
                    const char *key, long long lo, long long hi, int *out)
{
    const struct rg_ynode *v = rg_ymap_get(m, key);
    if (!v)
        return false;
    long long x;
    if (rg_ynode_long(v, &x) != 0 || x < lo || x > hi) {
        at(L, f, v, NULL, "'%s' must be a whole number from %lld to %lld", key, lo, hi);
        return false;
    }
    *out = (int)x;
    return true;
}

static void load_policy(struct loader *L, const struct rfile *f, const struct rg_ynode *k,
                        const struct rg_ynode *m)
{
    if (L->policy_file) {
        char hint[300];
        snprintf(hint, sizeof(hint), "the first is at %s:%d:%d; keep one policy per directory",
                 L->policy_file, L->policy_line, L->policy_col);
        at(L, f, k, hint, "a second policy block");
        return;
    }
    L->policy_file = f->path;
    L->policy_line = k->line;
    L->policy_col = k->col;
    if (m->type != RG_Y_MAP) {
        at(L, f, m, NULL, "'policy' must be a mapping, not a %s", rg_ynode_type_str(m));
        return;
    }
    static const char *const keys[] = {"step_up_at", "deny_at", "step_up_ttl_s",
                                       "anomaly_step_up_at", "high_at", "bands", "escalation"};
    check_keys(L, f, m, "policy", keys, sizeof(keys) / sizeof(keys[0]));
    struct rg_policy *p = &L->rs->policy;
    get_num(L, f, m, "step_up_at", 0, 1, &p->step_up_at);
    get_num(L, f, m, "deny_at", 0, 1, &p->deny_at);
    get_int(L, f, m, "step_up_ttl_s", 1, 86400, &p->step_up_ttl_s);
    get_num(L, f, m, "anomaly_step_up_at", 0, 1, &p->anomaly_step_up_at);
    if (p->step_up_at >= p->deny_at)
        at(L, f, rg_ymap_get(m, "step_up_at") ? rg_ymap_get(m, "step_up_at") : k,
           "step_up_at must be below deny_at", "step_up_at %g is not below deny_at %g",
           p->step_up_at, p->deny_at);
    p->high_at = (p->step_up_at + p->deny_at) / 2;
    if (get_num(L, f, m, "high_at", 0, 1, &p->high_at) &&
        (p->high_at < p->step_up_at || p->high_at > p->deny_at))
        at(L, f, rg_ymap_get(m, "high_at"), NULL, "high_at %g must be between step_up_at and deny_at",
           p->high_at);
    const struct rg_ynode *b = rg_ymap_get(m, "bands");
    if (b && b->type != RG_Y_MAP) {
        at(L, f, b, "bands: { low: otp, medium: otp, high: biometric }", "'bands' must be a mapping");
    } else if (b) {
        static const char *const bands[] = {"low", "medium", "high"};
        check_keys(L, f, b, "bands", bands, 3);
        for (int i = 0; i < 3; i++) {
            const struct rg_ynode *v = rg_ymap_get(b, bands[i]);
            if (v)
                parse_method(L, f, v, bands[i], &p->band_method[i]);
        }
    }
    const struct rg_ynode *e = rg_ymap_get(m, "escalation");
    if (e && e->type != RG_Y_MAP) {
        at(L, f, e, NULL, "'escalation' must be a mapping");
    } else if (e) {
        static const char *const ek[] = {"escalate_method_after_failed", "escalate_method",
                                         "deny_after_failed_step_ups"};
        check_keys(L, f, e, "escalation", ek, 3);
        get_int(L, f, e, "escalate_method_after_failed", 0, 1000, &p->escalate_method_after_failed);
        get_int(L, f, e, "deny_after_failed_step_ups", 0, 1000, &p->deny_after_failed_step_ups);
        const struct rg_ynode *v = rg_ymap_get(e, "escalate_method");
        if (v)
            parse_method(L, f, v, "escalate_method", &p->escalate_method);
    }
}

/* ---- reason templates ------------------------------------------------- */

static int add_seg(struct loader *L, struct rg_rule *r, enum rg_seg_kind kind, int slot,
                   const char *text, size_t len)
{
    struct rg_seg *v = realloc(r->segs, (r->n_segs + 1) * sizeof(*v));
    if (!v) {
        L->oom = 1;
        return -1;
    }
    r->segs = v;
    struct rg_seg *s = &v[r->n_segs];
    s->kind = kind;
    s->slot = slot;
    s->text = NULL;
    if (kind == RG_SEG_TEXT) {
        s->text = malloc(len + 1);
        if (!s->text) {
            L->oom = 1;
            return -1;
        }
        memcpy(s->text, text, len);
        s->text[len] = '\0';
    }
    r->n_segs++;
    return 0;
}

static void parse_reason(struct loader *L, const struct rfile *f, const struct rg_ynode *v,
                         struct rg_rule *r)
{
    const char *s = v->str;
    struct rg_xsrc src = {.file = f->path, .buf = f->buf, .buf_len = f->len, .node = v};
    size_t i = 0, lit = 0;
    while (s[i]) {
        if (s[i] != '{') {
            i++;
            continue;
        }
        if (i > lit && add_seg(L, r, RG_SEG_TEXT, 0, s + lit, i - lit) != 0)
            return;
        const char *close = strchr(s + i, '}');
        int line, col;
        rg_xsrc_locate(&src, i, &line, &col);
        if (!close) {
            rg_diags_add(L->d, f->path, line, col, "write {feature.name}", "unclosed '{' in reason");
            return;
        }
        char name[128];
        size_t nl = (size_t)(close - (s + i + 1));
        snprintf(name, sizeof(name), "%.*s", (int)(nl < 127 ? nl : 127), s + i + 1);
        int slot;
        if ((slot = rg_feature_lookup(name)) >= 0) {
            add_seg(L, r, RG_SEG_FEAT, slot, NULL, 0);
        } else if ((slot = rg_sfield_lookup(name)) >= 0) {
            add_seg(L, r, RG_SEG_SFIELD, slot, NULL, 0);
        } else if (strcmp(name, "score") == 0) {
            add_seg(L, r, RG_SEG_SCORE, 0, NULL, 0);
        } else if (strcmp(name, "anomaly") == 0) {
            add_seg(L, r, RG_SEG_ANOMALY, 0, NULL, 0);
        } else {
            const char *m = rg_did_you_mean(name, rg_feature_names(), RG_FEAT_COUNT);
            char hint[200];
            if (m)
                snprintf(hint, sizeof(hint), "did you mean {%s}?", m);
            else
                snprintf(hint, sizeof(hint), "placeholders name a feature, an event field, score or anomaly");
            rg_xsrc_locate(&src, i + 1, &line, &col);
            rg_diags_add(L->d, f->path, line, col, hint, "unknown feature %s in reason", name);
        }
        i = (size_t)(close - s) + 1;
        lit = i;
    }
    if (i > lit)
        add_seg(L, r, RG_SEG_TEXT, 0, s + lit, i - lit);
}

/* ---- rules ------------------------------------------------------------ */

/* Reason codes riskgate itself writes (decide.c); a rule id must not
 * collide with them or verdict consumers could not tell them apart. */
static bool reserved_code(const char *id)
{
    static const char *const codes[] = {"forced_allow", "model_score_step_up", "model_score_deny",
                                        "anomaly_step_up", "step_up_escalated",
                                        "step_up_method_escalated"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strcmp(id, codes[i]) == 0)
            return true;
    return false;
}

static void load_rule(struct loader *L, const struct rfile *f, const struct rg_ynode *m)
{
    if (m->type != RG_Y_MAP) {
        at(L, f, m, "each rule is a mapping: - id: ...", "a rule must be a mapping, not a %s",
           rg_ynode_type_str(m));
        return;
    }
    static const char *const keys[] = {"id", "description", "when", "then", "force", "mode",
                                       "reason", "tags", "owner", "method"};
    check_keys(L, f, m, "rule", keys, sizeof(keys) / sizeof(keys[0]));
    struct rg_ruleset *rs = L->rs;
    if (rs->n_rules >= RG_RULES_MAX) {
        at(L, f, m, NULL, "more than %d rules", RG_RULES_MAX);
        return;
    }
    struct rg_rule *r = &rs->rules[rs->n_rules];
    memset(r, 0, sizeof(*r));
    bool ok = true;

    const struct rg_ynode *idn = rg_ymap_get(m, "id");
    const char *id = want_str(L, f, idn, "id");
    if (!idn) {
        at(L, f, m, "give every rule a unique id: id: card_testing", "rule without an id");
        ok = false;
    } else if (!id) {
        ok = false;
    } else if (!valid_name(id, 64)) {
        at(L, f, idn, "1-64 letters, digits, _ - or .", "bad rule id '%.64s'", id);
        ok = false;
    } else if (reserved_code(id)) {
        at(L, f, idn, "choose another id", "rule id '%s' is one of riskgate's own reason codes", id);
        ok = false;
    } else {
        for (size_t i = 0; i < rs->n_rules; i++)
            if (strcmp(rs->rules[i].id, id) == 0) {
                char hint[300];
                snprintf(hint, sizeof(hint), "first defined at %s:%d:%d", rs->rules[i].file,
                         rs->rules[i].line, rs->rules[i].col);
                at(L, f, idn, hint, "duplicate rule id '%s'", id);
                ok = false;
            }
    }
    const struct rg_ynode *thn = rg_ymap_get(m, "then");
    const char *then = want_str(L, f, thn, "then");
    int dec = then ? parse_decision(then) : -1;
    if (!thn) {
        at(L, f, m, "then: allow | step_up | deny", "rule %s has no 'then'", id ? id : "?");
        ok = false;
    } else if (then && dec < 0) {
        const char *dm = rg_did_you_mean(then, g_decisions, 3);
        char hint[100];
        snprintf(hint, sizeof(hint), "%s%s", dm ? "did you mean " : "one of allow, step_up, deny",
                 dm ? dm : "");
        at(L, f, thn, hint, "unknown decision '%s'", then);
        ok = false;
    } else if (!then) {
        ok = false;
    }
    r->then = dec < 0 ? RG_ALLOW : (enum rg_decision)dec;

    const struct rg_ynode *v;
    if ((v = rg_ymap_get(m, "force"))) {
        if (rg_ynode_bool(v, &r->force) != 0) {
            at(L, f, v, NULL, "'force' must be true or false");
            ok = false;
        } else if (r->force && dec >= 0 && r->then != RG_ALLOW) {
            at(L, f, v, "remove force, or use then: allow", "force: true only applies to then: allow");
            ok = false;
        }
    }
    if ((v = rg_ymap_get(m, "mode"))) {
        const char *s = want_str(L, f, v, "mode");
        if (s && strcmp(s, "shadow") == 0) {
            r->shadow = true;
        } else if (s && strcmp(s, "enforce") != 0) {
            static const char *const modes[] = {"enforce", "shadow"};
            const char *dm = rg_did_you_mean(s, modes, 2);
            char hint[64];
            snprintf(hint, sizeof(hint), "%s%s", dm ? "did you mean " : "enforce or shadow",
                     dm ? dm : "");
            at(L, f, v, hint, "unknown mode '%s'", s);
            ok = false;
        } else if (!s) {
            ok = false;
        }
    }
    if ((v = rg_ymap_get(m, "method"))) {
        if (parse_method(L, f, v, "method", &r->method) != 0)
            ok = false;
        else if (dec >= 0 && r->then != RG_STEP_UP) {
            at(L, f, v, "remove it, or use then: step_up", "'method' only applies to then: step_up");
            ok = false;
        }
    }
    if ((v = rg_ymap_get(m, "description"))) {
        const char *s = want_str(L, f, v, "description");
        r->description = xstrdup(L, s);
    }
    if ((v = rg_ymap_get(m, "owner"))) {
        const char *s = want_str(L, f, v, "owner");
        r->owner = xstrdup(L, s);
    }
    if ((v = rg_ymap_get(m, "tags"))) {
        if (v->type != RG_Y_SEQ) {
            at(L, f, v, "tags: [ato, giftcard]", "'tags' must be a list");
            ok = false;
        } else {
            r->tags = calloc(v->n ? v->n : 1, sizeof(char *));
            if (!r->tags)
                L->oom = 1;
            for (size_t i = 0; r->tags && i < v->n; i++) {
                const char *s = want_str(L, f, v->items[i], "tags");
                if (s && (r->tags[r->n_tags] = xstrdup(L, s)))
                    r->n_tags++;
            }
        }
    }
    if ((v = rg_ymap_get(m, "reason"))) {
        if (want_str(L, f, v, "reason"))
            parse_reason(L, f, v, r);
    }
    const struct rg_ynode *wn = rg_ymap_get(m, "when");
    if (!wn) {
        at(L, f, m, "when: <condition>, e.g. when: amount > 100", "rule %s has no 'when'",
           id ? id : "?");
        ok = false;
    } else if (wn->type != RG_Y_SCALAR) {
        at(L, f, wn, "write the condition as one string", "'when' must be an expression, not a %s",
           rg_ynode_type_str(wn));
        ok = false;
    } else {
        struct rg_xenv env = {
            .lists = rs->lists, .n_lists = rs->n_lists,
            .owned_lists = &rs->owned_lists, .n_owned_lists = &rs->n_owned_lists,
            .owned_strs = &rs->owned_strs, .n_owned_strs = &rs->n_owned_strs,
        };
        struct rg_xsrc src = {.file = f->path, .buf = f->buf, .buf_len = f->len, .node = wn};
        int rc = rg_expr_compile(wn->str, &src, &env, RG_XT_BOOL, L->d, &r->prog);
        if (rc == RG_ENOMEM)
            L->oom = 1;
        if (rc != 0)
            ok = false;
    }
    r->id = xstrdup(L, id ? id : "?");
    r->file = xstrdup(L, f->path);
    r->line = m->line;
    r->col = m->col;
    /* Keep even a broken rule (it is freed with the set) so that a later
     * duplicate id is still reported against it. */
    rs->n_rules++;
    (void)ok;
}

/* ---- files ------------------------------------------------------------ */

static int load_files(struct loader *L, struct rfile *files, size_t n)
{
    static const char *const top[] = {"rules", "policy", "lists"};
    size_t total_rules = 0;
    /* Pass 1: top-level shape, lists, policy. */
    for (size_t i = 0; i < n; i++) {
        struct rfile *f = &files[i];
        const struct rg_ynode *root = f->doc ? f->doc->root : NULL;
        if (!f->doc)
            continue;
        if (!root) {
            rg_diags_add(L->d, f->path, 1, 1, "start with rules:", "empty rule file");
            continue;
        }
        if (root->type != RG_Y_MAP) {
            at(L, f, root, "a rule file is a mapping with rules:, policy: and lists:",
               "top level must be a mapping, not a %s", rg_ynode_type_str(root));
            continue;
        }
        check_keys(L, f, root, "rule file", top, 3);
        const struct rg_ynode *rl = rg_ymap_get(root, "rules");
        if (rl && rl->type == RG_Y_SEQ)
            total_rules += rl->n;
        else if (rl && !(rl->type == RG_Y_SCALAR && rl->len == 0 && !rl->quoted))
            at(L, f, rl, "rules: [] or a list of - id: ...", "'rules' must be a list, not a %s",
               rg_ynode_type_str(rl));
        const struct rg_ynode *ls = rg_ymap_get(root, "lists");
        if (ls)
            load_lists(L, f, ls);
        for (size_t k = 0; k + 1 < root->n; k += 2)
            if (root->items[k]->type == RG_Y_SCALAR && strcmp(root->items[k]->str, "policy") == 0)
                load_policy(L, f, root->items[k], root->items[k + 1]);
        if (L->oom)
            return RG_ENOMEM;
    }
    if (total_rules > RG_RULES_MAX)
        total_rules = RG_RULES_MAX + 1;
    L->rs->rules = calloc(total_rules ? total_rules : 1, sizeof(struct rg_rule));
    if (!L->rs->rules)
        return RG_ENOMEM;
    /* Pass 2: rules. */
    for (size_t i = 0; i < n; i++) {
        struct rfile *f = &files[i];
        const struct rg_ynode *root = f->doc ? f->doc->root : NULL;
        const struct rg_ynode *rl = root && root->type == RG_Y_MAP ? rg_ymap_get(root, "rules")
                                                                   : NULL;
        if (!rl || rl->type != RG_Y_SEQ)
            continue;
        for (size_t k = 0; k < rl->n; k++) {
            if (L->rs->n_rules >= RG_RULES_MAX) {
                at(L, f, rl->items[k], "split or remove rules", "more than %d rules", RG_RULES_MAX);
                break;
            }
            load_rule(L, f, rl->items[k]);
            if (L->oom)
                return RG_ENOMEM;
        }
    }
    return 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Build a ruleset from files whose buf/len/path/name are set. */
static int load_core(struct rfile *files, size_t n, struct rg_diags *d, struct rg_ruleset **out)
{
    *out = NULL;
    size_t errs0 = d->n;
    struct loader L = {.d = d};
    L.rs = calloc(1, sizeof(*L.rs));
    L.md = EVP_MD_CTX_new();
    int rc = RG_ENOMEM;
    if (!L.rs || !L.md || !EVP_DigestInit_ex(L.md, EVP_sha256(), NULL))
        goto fail;
    rg_policy_default(&L.rs->policy);
    for (size_t i = 0; i < n; i++) {
        struct rfile *f = &files[i];
        EVP_DigestUpdate(L.md, f->name, strlen(f->name) + 1);
        EVP_DigestUpdate(L.md, f->buf ? f->buf : "", f->len + 1);
        if (!f->buf)
            continue; /* unreadable: already reported */
        int prc = rg_ydoc_parse(f->buf, f->len, f->path, d, &f->doc);
        if (prc == RG_ENOMEM)
            goto fail;
    }
    rc = load_files(&L, files, n);
    if (rc != 0)
        goto fail;
    rc = RG_ENOMEM;
    L.rs->guards = calloc(L.rs->n_rules ? L.rs->n_rules : 1, sizeof(*L.rs->guards));
    if (!L.rs->guards)
        goto fail;
    for (size_t i = 0; i < L.rs->n_rules; i++) {
        const struct rg_rule *r = &L.rs->rules[i];
        memcpy(L.rs->guards[i], r->prog.guard, sizeof(L.rs->guards[i]));
        for (int k = 0; k < RG_GUARDS; k++)
            if (r->prog.guard[k].kind == RG_GUARD_SFIELD ||
                r->prog.guard[k].kind == RG_GUARD_SFIELD_IN)
                L.rs->sf_hash_mask |= 1u << r->prog.guard[k].slot;
        for (size_t k = 0; k < r->prog.n; k++)
            if (r->prog.code[k].op == RG_OP_SFIELD_IN)
                L.rs->sf_hash_mask |= 1u << r->prog.code[k].arg;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_DigestFinal_ex(L.md, md, &mdlen)) {
        rc = RG_EFATAL;
        goto fail;
    }
    for (int i = 0; i < 6; i++)
        snprintf(L.rs->version + 2 * i, 3, "%02x", md[i]);
    if (d->n > errs0) {
        rc = RG_EPARSE;
        goto fail;
    }
    EVP_MD_CTX_free(L.md);
    *out = L.rs;
    return 0;
fail:
    EVP_MD_CTX_free(L.md);
    rg_ruleset_free(L.rs);
    return rc;
}

static void files_free(struct rfile *files, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(files[i].path);
        free(files[i].buf);
        rg_ydoc_free(files[i].doc);
    }
    free(files);
}

int rg_ruleset_load_buf(const char *buf, size_t len, const char *file, struct rg_diags *d,
                        struct rg_ruleset **out)
{
    *out = NULL;
    if (!file)
        file = "<rules>";
    if (len > RG_RULES_FILE_MAX_BYTES) {
        rg_diags_add(d, file, 0, 0, "split the rules into several files",
                     "file is %zu bytes; the limit is %u", len, RG_RULES_FILE_MAX_BYTES);
        return RG_EPARSE;
    }
    struct rfile *f = calloc(1, sizeof(*f));
    if (!f)
        return RG_ENOMEM;
    f->path = strdup(file);
    f->buf = malloc(len + 1);
    if (!f->path || !f->buf) {
        files_free(f, 1);
        return RG_ENOMEM;
    }
    if (len)
        memcpy(f->buf, buf, len);
    f->buf[len] = '\0';
    f->len = len;
    f->name = (char *)base_name(f->path);
    int rc = load_core(f, 1, d, out);
    files_free(f, 1);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_rule_file(const char *n)
{
    size_t l = strlen(n);
    if (n[0] == '.')
        return false;
    return (l > 5 && strcmp(n + l - 5, ".yaml") == 0) || (l > 4 && strcmp(n + l - 4, ".yml") == 0);
}

int rg_ruleset_load_dir(const char *dir, struct rg_diags *d, struct rg_ruleset **out)
{
    *out = NULL;
    /* "rules/" and "rules" name the same files: no "rules//x.yaml". */
    char dbuf[4096];
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    if (dl >= sizeof(dbuf)) {
        rg_diags_add(d, dir, 0, 0, NULL, "directory name too long");
        return RG_EINVAL;
    }
    memcpy(dbuf, dir, dl);
    dbuf[dl] = '\0';
    dir = dbuf;
    DIR *dh = opendir(dir);
    if (!dh) {
        int e = errno;
        rg_diags_add(d, dir, 0, 0, NULL, "cannot open rules directory: %s", strerror(e));
        return e == ENOENT ? RG_ENOTFOUND : RG_EIO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dh))) {
        if (!is_rule_file(de->d_name))
            continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == RG_RULES_MAX_FILES) {
            rg_diags_add(d, dir, 0, 0, NULL, "more than %d rule files", RG_RULES_MAX_FILES);
            rc = RG_EPARSE;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nv = realloc(names, cap * sizeof(char *));
            if (!nv) {
                rc = RG_ENOMEM;
                break;
            }
            names = nv;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = RG_ENOMEM;
            break;
        }
        n++;
    }
    closedir(dh);
    struct rfile *files = NULL;
    if (rc == 0 && n == 0) {
        rg_diags_add(d, dir, 0, 0, "rule files end in .yaml or .yml", "no rule files in %s (*.yaml)",
                     dir);
        rc = RG_EPARSE;
    }
    if (rc == 0) {
        qsort(names, n, sizeof(char *), cmp_names);
        files = calloc(n, sizeof(*files));
        if (!files)
            rc = RG_ENOMEM;
    }
    size_t errs0 = d->n;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct rfile *f = &files[i];
        size_t pl = strlen(dir) + strlen(names[i]) + 2;
        if (!(f->path = malloc(pl))) {
            rc = RG_ENOMEM;
            break;
        }
        snprintf(f->path, pl, "%s/%s", dir, names[i]);
        f->name = names[i];
        int r = rg_read_file(f->path, RG_RULES_FILE_MAX_BYTES, &f->buf, &f->len);
        if (r == RG_ETOOBIG)
            rg_diags_add(d, f->path, 0, 0, "split the rules into several files",
                         "file is larger than %u bytes", RG_RULES_FILE_MAX_BYTES);
        else if (r != 0)
            rg_diags_add(d, f->path, 0, 0, NULL, "cannot read rule file: %s", rg_err_str(r));
        if (r == RG_ENOMEM)
            rc = r;
    }
    if (rc == 0) {
        rc = load_core(files, n, d, out);
        if (rc == 0 && d->n > errs0) { /* unreadable files */
            rg_ruleset_free(*out);
            *out = NULL;
            rc = RG_EPARSE;
        }
    }
    if (files)
        files_free(files, n);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}
