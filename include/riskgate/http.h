/*
 * http.h - the observability HTTP endpoint (libmicrohttpd): /metrics,
 * /healthz, /readyz.
 *
 * DESIGN
 * One libmicrohttpd daemon with its own internal polling thread; handlers
 * never touch the hot path: /metrics renders the registry (metrics.h),
 * /healthz compares a heartbeat timestamp the main loop updates with the
 * (injectable) clock, /readyz asks a readiness callback. Only GET and HEAD
 * are served; anything else is 404 (unknown path) or 405 (other method).
 *
 *   GET /metrics  200 text/plain; version=0.0.4 (Prometheus text format)
 *   GET /healthz  200 "ok" when the last heartbeat is younger than
 *                 stale_after_ms (default 10 s) or no heartbeat hook is
 *                 set; 503 "stale" otherwise (the main loop is wedged)
 *   GET /readyz   200 {"ready":true,...} when the readiness hook says every
 *                 part is ready; 503 with the same JSON naming the parts
 *                 that are not. Also sets the riskgate_ready gauge.
 *
 * @locality rg_http_start/stop: main thread. Hooks run on the HTTP thread
 * and must be thread-safe and quick (read atomics, take no long locks).
 */
#ifndef RISKGATE_HTTP_H
#define RISKGATE_HTTP_H

#include <stdbool.h>
#include <stdint.h>

/* What /readyz reports; the hook fills every field. */
struct rg_readiness {
    bool kafka;   /* broker reachable, partitions assigned or assignable */
    bool redis;   /* profile store reachable */
    bool model;   /* a model generation is loaded */
    bool rules;   /* a ruleset generation is loaded */
};

struct rg_http_hooks {
    /* Epoch ms (rg_clock_now_ms()) of the main loop's last heartbeat.
     * NULL: /healthz is always 200 while the process runs. */
    int64_t (*last_heartbeat_ms)(void *ctx);
    /* Fill *st. NULL: /readyz is always 200. */
    void (*readiness)(void *ctx, struct rg_readiness *st);
    /* Heartbeat age that makes /healthz fail; 0 = 10000 ms. */
    int64_t stale_after_ms;
};

struct rg_http;

/* Start serving on addr:port (addr NULL or "" = all interfaces, "0.0.0.0";
 * an IPv4 literal such as "127.0.0.1"; port 0 = an ephemeral port, see
 * rg_http_port()). hooks is copied; ctx is passed to the hooks and must
 * outlive the server. Returns NULL (and logs why) on failure. */
struct rg_http *rg_http_start(const char *addr, int port,
                              const struct rg_http_hooks *hooks, void *ctx);
/* The bound TCP port. */
int rg_http_port(const struct rg_http *h);
/* Stop the daemon (waits for its thread) and free h. NULL is fine. */
void rg_http_stop(struct rg_http *h);

#endif
