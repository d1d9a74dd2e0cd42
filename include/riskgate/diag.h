/*
 * diag.h - a list of problems found by a loader (config, rules, model).
 *
 * Loaders never stop at the first problem: they add each one with its
 * file:line:col and an optional hint ("did you mean ...?") and return
 * RG_EPARSE when the list is not empty. Lines and columns are 1-based;
 * 0 means unknown.
 *
 * @locality owned by one thread at a time.
 */
#ifndef RISKGATE_DIAG_H
#define RISKGATE_DIAG_H

#include <stddef.h>
#include <stdio.h>

struct rg_diag {
    char *file;
    int line;
    int col;
    char *msg;
    char *hint; /* may be NULL */
};

struct rg_diags {
    struct rg_diag *v;
    size_t n;
    size_t cap;
    size_t max; /* stop collecting after this many (0 = 1000) */
};

void rg_diags_init(struct rg_diags *d);
void rg_diags_fini(struct rg_diags *d);

/* Add one problem. hint may be NULL. Out of memory is swallowed (the
 * count still moves so the caller still fails). */
void rg_diags_add(struct rg_diags *d, const char *file, int line, int col,
                  const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* "file:line:col: error: msg (hint)" one per line. */
void rg_diags_print(const struct rg_diags *d, FILE *out);

/* The closest candidate to name by edit distance, or NULL when none is
 * close enough to be a plausible typo. */
const char *rg_did_you_mean(const char *name, const char *const *cands, size_t n);

#endif
