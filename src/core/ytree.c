/*
 * ytree.c - YAML to a marked tree with libyaml's event parser.
 *
 * DESIGN: an explicit stack of open collections instead of recursion, so
 * deep input cannot exhaust the C stack; the depth cap turns a YAML bomb
 * into one diagnostic. All nodes of a document are freed by one walk.
 */
#include "riskgate/ytree.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "riskgate/err.h"

static void node_free(struct rg_ynode *n)
{
    if (!n)
        return;
    /* Iterative enough: depth is capped, so recursion is bounded here. */
    for (size_t i = 0; i < n->n; i++)
        node_free(n->items[i]);
    free(n->items);
    free(n->str);
    free(n);
}

void rg_ydoc_free(struct rg_ydoc *doc)
{
    if (!doc)
        return;
    node_free(doc->root);
    free(doc->file);
    free(doc);
}

static int push_item(struct rg_ynode *parent, struct rg_ynode *child)
{
    if ((parent->n & (parent->n - 1)) == 0) { /* grow at powers of two */
        size_t cap = parent->n ? parent->n * 2 : 4;
        struct rg_ynode **items = realloc(parent->items, cap * sizeof(*items));
        if (!items)
            return RG_ENOMEM;
        parent->items = items;
    }
    parent->items[parent->n++] = child;
    return 0;
}

static struct rg_ynode *node_new(enum rg_ynode_type type, const yaml_mark_t *m)
{
    struct rg_ynode *n = calloc(1, sizeof(*n));
    if (n) {
        n->type = type;
        n->line = (int)m->line + 1;
        n->col = (int)m->column + 1;
    }
    return n;
}

/* Report a duplicate key when the mapping already holds key. */
static void check_dup_key(struct rg_ynode *map, struct rg_ynode *key,
                          const char *file, struct rg_diags *d)
{
    if (key->type != RG_Y_SCALAR)
        return;
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct rg_ynode *k = map->items[i];
        if (k->type == RG_Y_SCALAR && strcmp(k->str, key->str) == 0) {
            rg_diags_add(d, file, key->line, key->col, NULL,
                         "duplicate key '%s' (first at line %d)", key->str, k->line);
            return;
        }
    }
}

int rg_ydoc_parse(const char *buf, size_t len, const char *file,
                  struct rg_diags *d, struct rg_ydoc **out)
{
    *out = NULL;
    if (len > RG_YTREE_MAX_BYTES) {
        rg_diags_add(d, file, 0, 0, NULL, "file is %zu bytes; the limit is %u",
                     len, RG_YTREE_MAX_BYTES);
        return RG_ETOOBIG;
    }
    struct rg_ydoc *doc = calloc(1, sizeof(*doc));
    if (!doc)
        return RG_ENOMEM;
    doc->file = strdup(file ? file : "<input>");
    if (!doc->file) {
        free(doc);
        return RG_ENOMEM;
    }

    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        rg_ydoc_free(doc);
        return RG_ENOMEM;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);

    struct rg_ynode *stack[RG_YTREE_MAX_DEPTH + 1];
    int depth = 0;
    size_t nodes = 0;
    size_t errs_before = d->n;
    int docs = 0;
    int rc = 0;
    bool done = false;

    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rg_diags_add(d, file, (int)p.problem_mark.line + 1,
                         (int)p.problem_mark.column + 1, NULL, "YAML syntax: %s%s%s",
                         p.problem ? p.problem : "error",
                         p.context ? " " : "", p.context ? p.context : "");
            rc = RG_EPARSE;
            break;
        }
        struct rg_ynode *n = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                rg_diags_add(d, file, (int)ev.start_mark.line + 1,
                             (int)ev.start_mark.column + 1, NULL,
                             "only one YAML document per file is allowed");
                rc = RG_EPARSE;
                done = true;
            }
            break;
        case YAML_ALIAS_EVENT:
            rg_diags_add(d, file, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1,
                         "copy the value instead", "YAML aliases are not allowed");
            rc = RG_EPARSE;
            done = true;
            break;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            const char *anchor = ev.type == YAML_SCALAR_EVENT ? (const char *)ev.data.scalar.anchor
                               : ev.type == YAML_SEQUENCE_START_EVENT
                                   ? (const char *)ev.data.sequence_start.anchor
                                   : (const char *)ev.data.mapping_start.anchor;
            if (anchor) {
                rg_diags_add(d, file, (int)ev.start_mark.line + 1,
                             (int)ev.start_mark.column + 1, "copy the value instead",
                             "YAML anchors are not allowed");
                rc = RG_EPARSE;
                done = true;
                break;
            }
            if (++nodes > RG_YTREE_MAX_NODES) {
                rg_diags_add(d, file, (int)ev.start_mark.line + 1,
                             (int)ev.start_mark.column + 1, NULL,
                             "more than %d nodes", RG_YTREE_MAX_NODES);
                rc = RG_ETOOBIG;
                done = true;
                break;
            }
            if (ev.type == YAML_SCALAR_EVENT) {
                n = node_new(RG_Y_SCALAR, &ev.start_mark);
                if (n) {
                    n->len = ev.data.scalar.length;
                    n->str = malloc(n->len + 1);
                    if (n->str) {
                        memcpy(n->str, ev.data.scalar.value, n->len);
                        n->str[n->len] = '\0';
                    }
                    n->quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
                }
                if (!n || !n->str) {
                    node_free(n);
                    n = NULL;
                    rc = RG_ENOMEM;
                    done = true;
                    break;
                }
            } else {
                n = node_new(ev.type == YAML_SEQUENCE_START_EVENT ? RG_Y_SEQ : RG_Y_MAP,
                             &ev.start_mark);
                if (!n) {
                    rc = RG_ENOMEM;
                    done = true;
                    break;
                }
            }
            /* Attach to the open collection, or make it the root. */
            if (depth > 0) {
                struct rg_ynode *parent = stack[depth - 1];
                if (parent->type == RG_Y_MAP && (parent->n % 2) == 0)
                    check_dup_key(parent, n, file, d);
                if (push_item(parent, n) != 0) {
                    node_free(n);
                    rc = RG_ENOMEM;
                    done = true;
                    break;
                }
            } else if (!doc->root) {
                doc->root = n;
            } else {
                node_free(n);
            }
            if (n->type != RG_Y_SCALAR) {
                if (depth >= RG_YTREE_MAX_DEPTH) {
                    rg_diags_add(d, file, n->line, n->col, NULL,
                                 "nesting deeper than %d levels", RG_YTREE_MAX_DEPTH);
                    rc = RG_EPARSE;
                    done = true;
                    break;
                }
                stack[depth++] = n;
            }
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);

    if (rc == 0 && d->n > errs_before)
        rc = RG_EPARSE;
    if (rc != 0) {
        rg_ydoc_free(doc);
        return rc;
    }
    *out = doc;
    return 0;
}

int rg_read_file(const char *path, size_t max, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? RG_ENOTFOUND : RG_EIO;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap + 1);
    int rc = 0;
    while (b) {
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (n > max) {
            rc = RG_ETOOBIG;
            break;
        }
        if (r == 0)
            break;
        if (n == cap) {
            char *nb = realloc(b, cap * 2 + 1);
            if (!nb) {
                rc = RG_ENOMEM;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    if (!b)
        rc = RG_ENOMEM;
    else if (ferror(f) && rc == 0)
        rc = RG_EIO;
    fclose(f);
    if (rc != 0) {
        free(b);
        return rc;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

int rg_ydoc_parse_file(const char *path, struct rg_diags *d, struct rg_ydoc **out)
{
    char *buf;
    size_t len;
    *out = NULL;
    int rc = rg_read_file(path, RG_YTREE_MAX_BYTES, &buf, &len);
    if (rc != 0) {
        if (rc == RG_ETOOBIG)
            rg_diags_add(d, path, 0, 0, NULL, "file is larger than %u bytes",
                         RG_YTREE_MAX_BYTES);
        else
            rg_diags_add(d, path, 0, 0, NULL, "cannot read file: %s", rg_err_str(rc));
        return rc;
    }
    rc = rg_ydoc_parse(buf, len, path, d, out);
    free(buf);
    return rc;
}

const struct rg_ynode *rg_ymap_get(const struct rg_ynode *map, const char *key)
{
    if (!map || map->type != RG_Y_MAP)
        return NULL;
    for (size_t i = 0; i + 1 < map->n; i += 2)
        if (map->items[i]->type == RG_Y_SCALAR && strcmp(map->items[i]->str, key) == 0)
            return map->items[i + 1];
    return NULL;
}

int rg_ynode_double(const struct rg_ynode *n, double *out)
{
    if (!n || n->type != RG_Y_SCALAR || n->quoted || n->len == 0)
        return RG_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(n->str, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v))
        return RG_EINVAL;
    *out = v;
    return 0;
}

int rg_ynode_long(const struct rg_ynode *n, long long *out)
{
    if (!n || n->type != RG_Y_SCALAR || n->quoted || n->len == 0)
        return RG_EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(n->str, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return RG_EINVAL;
    *out = v;
    return 0;
}

int rg_ynode_bool(const struct rg_ynode *n, bool *out)
{
    if (!n || n->type != RG_Y_SCALAR || n->quoted)
        return RG_EINVAL;
    if (strcasecmp(n->str, "true") == 0 || strcasecmp(n->str, "yes") == 0 ||
        strcasecmp(n->str, "on") == 0) {
        *out = true;
        return 0;
    }
    if (strcasecmp(n->str, "false") == 0 || strcasecmp(n->str, "no") == 0 ||
        strcasecmp(n->str, "off") == 0) {
        *out = false;
        return 0;
    }
    return RG_EINVAL;
}

const char *rg_ynode_type_str(const struct rg_ynode *n)
{
    if (!n)
        return "nothing";
    return n->type == RG_Y_SCALAR ? "scalar" : n->type == RG_Y_SEQ ? "sequence" : "mapping";
}
