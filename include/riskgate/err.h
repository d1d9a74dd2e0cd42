/*
 * err.h - error codes shared by every riskgate module.
 *
 * Convention (see docs/PRINCIPLES.md): functions returning int give 0 on
 * success and a negative enum rg_err on failure; functions returning a
 * pointer give NULL on failure. Errors from librdkafka and hiredis are
 * classified at the boundary with rg_err_is_retriable().
 */
#ifndef RISKGATE_ERR_H
#define RISKGATE_ERR_H

#include <stdbool.h>

/* X-macro: name, value, message, retriable */
#define RG_ERR_LIST(X)                                                   \
    X(RG_OK,         0,  "success",                         false)       \
    X(RG_ENOMEM,    -1,  "out of memory",                   false)       \
    X(RG_EINVAL,    -2,  "invalid argument",                false)       \
    X(RG_EIO,       -3,  "i/o error",                       true)        \
    X(RG_ENOTFOUND, -4,  "not found",                       false)       \
    X(RG_ETOOBIG,   -5,  "too large",                       false)       \
    X(RG_EAGAIN,    -6,  "temporarily unavailable",         true)        \
    X(RG_EPARSE,    -7,  "parse error",                     false)       \
    X(RG_ETIMEOUT,  -8,  "timed out",                       true)        \
    X(RG_ECORRUPT,  -9,  "corrupt data",                    false)       \
    X(RG_EFATAL,    -10, "fatal error",                     false)

enum rg_err {
#define RG_ERR_ENUM(name, val, msg, retry) name = val,
    RG_ERR_LIST(RG_ERR_ENUM)
#undef RG_ERR_ENUM
};

/* Human text for an error code (static storage). Any thread. */
const char *rg_err_str(int err);

/* True when the operation may succeed if retried later (with backoff). */
bool rg_err_is_retriable(int err);

#endif
