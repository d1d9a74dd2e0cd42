/* diag.c - problem lists with source positions; see include/riskgate/diag.h. */
#define _POSIX_C_SOURCE 200809L
#include "riskgate/diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void rg_diags_init(struct rg_diags *d)
{
    memset(d, 0, sizeof(*d));
}

void rg_diags_fini(struct rg_diags *d)
{
    for (size_t i = 0; i < d->n && d->v; i++) {
        free(d->v[i].file);
        free(d->v[i].msg);
        free(d->v[i].hint);
    }
    free(d->v);
    memset(d, 0, sizeof(*d));
}

void rg_diags_add(struct rg_diags *d, const char *file, int line, int col,
                  const char *hint, const char *fmt, ...)
{
    size_t max = d->max ? d->max : 1000;
    if (d->n >= max)
        return;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        struct rg_diag *v = realloc(d->v, cap * sizeof(*v));
        if (!v) {
            d->n++; /* keep failing even without the text */
            return;
        }
        d->v = v;
        d->cap = cap;
    }
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    struct rg_diag *g = &d->v[d->n++];
    g->file = strdup(file ? file : "<input>");
    g->line = line;
    g->col = col;
    g->msg = strdup(buf);
    g->hint = hint ? strdup(hint) : NULL;
}

void rg_diags_print(const struct rg_diags *d, FILE *out)
{
    for (size_t i = 0; i < d->n && i < d->cap; i++) {
        const struct rg_diag *g = &d->v[i];
        fprintf(out, "%s:%d:%d: error: %s", g->file ? g->file : "?", g->line,
                g->col, g->msg ? g->msg : "(out of memory)");
        if (g->hint)
            fprintf(out, " (%s)", g->hint);
        fputc('\n', out);
    }
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return (size_t)-1;
    size_t prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            size_t m = sub < del ? sub : del;
            cur[j] = m < ins ? m : ins;
        }
        memcpy(prev, cur, (lb + 1) * sizeof(size_t));
    }
    return prev[lb];
}

const char *rg_did_you_mean(const char *name, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        size_t dist = edit_distance(name, cands[i]);
        if (dist < best_d) {
            best_d = dist;
            best = cands[i];
        }
    }
    size_t len = strlen(name);
    size_t limit = len < 6 ? 2 : len / 3 + 1;
    return best_d <= limit ? best : NULL;
}
