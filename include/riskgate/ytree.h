/*
 * ytree.h - a small YAML document tree that keeps source marks.
 *
 * libyaml parses; we build scalars, sequences and mappings with the line
 * and column of every node so that config, rules and list loaders can
 * report file:line:col. Loaders take buffers; files wrap them.
 *
 * Defences (YAML bombs): aliases and anchors are rejected (they are never
 * needed in riskgate files and alias expansion is the classic bomb), the
 * nesting depth is capped at RG_YTREE_MAX_DEPTH, the node count at
 * RG_YTREE_MAX_NODES and the input size at RG_YTREE_MAX_BYTES. Duplicate
 * keys in a mapping are reported. Input must be valid UTF-8 (libyaml
 * checks it).
 *
 * @locality any thread; a tree is owned by one thread at a time.
 */
#ifndef RISKGATE_YTREE_H
#define RISKGATE_YTREE_H

#include <stdbool.h>
#include <stddef.h>

#include "riskgate/diag.h"

#define RG_YTREE_MAX_DEPTH 32
#define RG_YTREE_MAX_NODES 200000
#define RG_YTREE_MAX_BYTES (4u << 20)

enum rg_ynode_type { RG_Y_SCALAR, RG_Y_SEQ, RG_Y_MAP };

struct rg_ynode {
    enum rg_ynode_type type;
    int line, col;            /* 1-based position of the node's start */
    /* RG_Y_SCALAR */
    char *str;                /* NUL-terminated value */
    size_t len;
    bool quoted;              /* written in quotes or as a block: always a string */
    /* RG_Y_SEQ: items[i]; RG_Y_MAP: items[2i] key (scalar), items[2i+1] value */
    struct rg_ynode **items;
    size_t n;                 /* number of items (entries for a map: n/2 pairs) */
};

struct rg_ydoc {
    struct rg_ynode *root;    /* NULL for an empty document */
    char *file;               /* name used in diagnostics */
};

/* Parse buf (len bytes) named file into *out. Problems go to d. Returns 0,
 * or RG_EPARSE (with at least one diagnostic), or RG_ENOMEM / RG_ETOOBIG.
 * Only the first document of a stream is read; a second is an error. */
int rg_ydoc_parse(const char *buf, size_t len, const char *file,
                  struct rg_diags *d, struct rg_ydoc **out);

/* Read a whole file (at most RG_YTREE_MAX_BYTES) and parse it. */
int rg_ydoc_parse_file(const char *path, struct rg_diags *d, struct rg_ydoc **out);

void rg_ydoc_free(struct rg_ydoc *doc);

/* Value of key in a mapping, or NULL. */
const struct rg_ynode *rg_ymap_get(const struct rg_ynode *map, const char *key);

/* Scalar conversions; 0 on success, RG_EINVAL when the scalar is not of
 * that type (quoted scalars are never numbers or booleans). */
int rg_ynode_double(const struct rg_ynode *n, double *out);
int rg_ynode_long(const struct rg_ynode *n, long long *out);
int rg_ynode_bool(const struct rg_ynode *n, bool *out);
/* "scalar", "sequence", "mapping" */
const char *rg_ynode_type_str(const struct rg_ynode *n);

/* Read a whole file into a NUL-terminated heap buffer (caller frees).
 * Fails with RG_ETOOBIG over max bytes. */
int rg_read_file(const char *path, size_t max, char **buf, size_t *len);

#endif
