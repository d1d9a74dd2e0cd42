/* log.c - JSON-lines logger; see include/riskgate/log.h. */
#define _POSIX_C_SOURCE 200809L
#include "riskgate/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static _Atomic int g_level = -1;
static _Atomic int g_plain = 0;

static const char *level_name[] = { "debug", "info", "warn", "error" };

void rg_log_set_level(enum rg_log_level lvl) { atomic_store(&g_level, (int)lvl); }
void rg_log_set_plain(int plain) { atomic_store(&g_plain, plain); }

enum rg_log_level rg_log_get_level(void)
{
    int lvl = atomic_load_explicit(&g_level, memory_order_relaxed);
    if (lvl >= 0)
        return (enum rg_log_level)lvl;
    lvl = RG_LOG_INFO;
    const char *env = getenv("RISKGATE_LOG_LEVEL");
    if (env) {
        for (int i = 0; i < 4; i++)
            if (strcasecmp(env, level_name[i]) == 0)
                lvl = i;
    }
    atomic_store(&g_level, lvl);
    return (enum rg_log_level)lvl;
}

/* Escape s into out as JSON string content; always terminates. */
static size_t json_escape(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s && o + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return o;
}

void rg_log_write(enum rg_log_level lvl, const char *mod, const char *fmt, ...)
{
    char msg[1024], esc[2048], line[2304];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tbuf[40];
    strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);

    int n;
    if (atomic_load_explicit(&g_plain, memory_order_relaxed)) {
        n = snprintf(line, sizeof(line), "riskgate: %s: %s\n",
                     level_name[lvl], msg);
    } else {
        json_escape(esc, sizeof(esc), msg);
        n = snprintf(line, sizeof(line),
                     "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"mod\":\"%s\",\"msg\":\"%s\"}\n",
                     tbuf, ts.tv_nsec / 1000000L, level_name[lvl], mod, esc);
    }
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = (int)sizeof(line) - 1;
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

int64_t rg_log_limit_take(struct rg_log_limit *lim)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = ts.tv_sec;
    int64_t last = atomic_load_explicit(&lim->last_s, memory_order_relaxed);
    if (last != 0 && now == last) {
        atomic_fetch_add_explicit(&lim->suppressed, 1, memory_order_relaxed);
        return -1;
    }
    /* Only the thread that wins the CAS writes this second's line. */
    if (!atomic_compare_exchange_strong(&lim->last_s, &last, now)) {
        atomic_fetch_add_explicit(&lim->suppressed, 1, memory_order_relaxed);
        return -1;
    }
    return (int64_t)atomic_exchange(&lim->suppressed, 0);
}
