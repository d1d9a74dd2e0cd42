/*
 * log.h - structured JSON logging to stderr.
 *
 * One JSON object per line: {"ts":"...","level":"info","mod":"ingest","msg":"..."}.
 * Macros are do { } while (0) and format-checked. Never pass a card number,
 * a raw user id or any personal data: log pseudonymised ids or counts.
 * RG_LOG_RATELIMITED() keeps hot-path messages to at most one per second
 * per call site (plus a count of what it suppressed).
 *
 * @locality any thread; one write(2) per line so lines never interleave.
 */
#ifndef RISKGATE_LOG_H
#define RISKGATE_LOG_H

#include <stdatomic.h>
#include <stdint.h>

enum rg_log_level { RG_LOG_DEBUG, RG_LOG_INFO, RG_LOG_WARN, RG_LOG_ERROR };

/* Minimum level written (default info; RISKGATE_LOG_LEVEL=debug|info|warn|error). */
void rg_log_set_level(enum rg_log_level lvl);
enum rg_log_level rg_log_get_level(void);
/* Plain text instead of JSON lines (for CLI tools run by people). */
void rg_log_set_plain(int plain);

void rg_log_write(enum rg_log_level lvl, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define RG_LOG(lvl, mod, ...)                                            \
    do {                                                                 \
        if ((lvl) >= rg_log_get_level())                                 \
            rg_log_write((lvl), (mod), __VA_ARGS__);                     \
    } while (0)

#define RG_DEBUG(mod, ...) RG_LOG(RG_LOG_DEBUG, mod, __VA_ARGS__)
#define RG_INFO(mod, ...)  RG_LOG(RG_LOG_INFO, mod, __VA_ARGS__)
#define RG_WARN(mod, ...)  RG_LOG(RG_LOG_WARN, mod, __VA_ARGS__)
#define RG_ERROR(mod, ...) RG_LOG(RG_LOG_ERROR, mod, __VA_ARGS__)

/* Per-call-site limiter state: at most one line per second. */
struct rg_log_limit {
    _Atomic int64_t last_s;
    _Atomic uint64_t suppressed;
};
/* Returns the number of suppressed lines to report (>=0) when a line may
 * be written now, -1 when this one must be suppressed. */
int64_t rg_log_limit_take(struct rg_log_limit *lim);

#define RG_LOG_RATELIMITED(lvl, mod, fmt, ...)                           \
    do {                                                                 \
        static struct rg_log_limit rg__lim_;                             \
        if ((lvl) >= rg_log_get_level()) {                               \
            int64_t rg__sup_ = rg_log_limit_take(&rg__lim_);             \
            if (rg__sup_ >= 0)                                           \
                rg_log_write((lvl), (mod), fmt " (%lld similar suppressed)", \
                             ##__VA_ARGS__, (long long)rg__sup_);        \
        }                                                                \
    } while (0)

#endif
