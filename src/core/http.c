/*
 * http.c - /metrics, /healthz and /readyz over libmicrohttpd; see
 * include/riskgate/http.h.
 *
 * DESIGN
 * One daemon with MHD's internal polling thread (MHD_USE_INTERNAL_POLLING_
 * THREAD, poll or epoll chosen by MHD_USE_AUTO): probes and scrapes are
 * rare, small and must never touch worker threads, so one thread is enough
 * and keeps the endpoint away from the hot path. A connection limit and a
 * short idle timeout bound what a misbehaving client can hold. Responses
 * are built per request (the metrics text is malloc'd by
 * rg_metrics_render_alloc() and handed to MHD, which frees it).
 */
#include "riskgate/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "riskgate/clock.h"
#include "riskgate/log.h"
#include "riskgate/metrics.h"

#define DEFAULT_STALE_MS 10000
#define CONN_LIMIT 64
#define CONN_TIMEOUT_S 10

struct rg_http {
    struct MHD_Daemon *d;
    struct rg_http_hooks hooks;
    void *ctx;
    int port;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    RG_LOG_RATELIMITED(RG_LOG_WARN, "http", "microhttpd: %s", msg);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             void *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return reply(c, status, "text/plain; charset=utf-8", (void *)text, strlen(text),
                 MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result serve_metrics(struct MHD_Connection *c)
{
    size_t len = 0;
    char *text = rg_metrics_render_alloc(&len);
    if (!text)
        return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
    return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, len,
                 MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result serve_healthz(struct rg_http *h, struct MHD_Connection *c)
{
    if (!h->hooks.last_heartbeat_ms)
        return reply_text(c, MHD_HTTP_OK, "ok\n");
    int64_t age = rg_clock_now_ms() - h->hooks.last_heartbeat_ms(h->ctx);
    int64_t limit = h->hooks.stale_after_ms > 0 ? h->hooks.stale_after_ms : DEFAULT_STALE_MS;
    if (age <= limit)
        return reply_text(c, MHD_HTTP_OK, "ok\n");
    char msg[96];
    snprintf(msg, sizeof(msg), "stale: main loop heartbeat %lld ms ago (limit %lld)\n",
             (long long)age, (long long)limit);
    return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
}

static enum MHD_Result serve_readyz(struct rg_http *h, struct MHD_Connection *c)
{
    struct rg_readiness st = { true, true, true, true };
    if (h->hooks.readiness)
        h->hooks.readiness(h->ctx, &st);
    bool ready = st.kafka && st.redis && st.model && st.rules;
    rg_gauge_set(RG_M_READY, ready ? 1 : 0);
    const char *names[4] = { "kafka", "redis", "model", "rules" };
    bool ok[4] = { st.kafka, st.redis, st.model, st.rules };
    char body[256], list[64] = "";
    size_t ll = 0;
    for (int i = 0; i < 4; i++)
        if (!ok[i])
            ll += (size_t)snprintf(list + ll, sizeof(list) - ll, "%s\"%s\"", ll ? "," : "",
                                   names[i]);
    snprintf(body, sizeof(body),
             "{\"ready\":%s,\"kafka\":%s,\"redis\":%s,\"model\":%s,\"rules\":%s,"
             "\"not_ready\":[%s]}\n",
             ready ? "true" : "false", st.kafka ? "true" : "false",
             st.redis ? "true" : "false", st.model ? "true" : "false",
             st.rules ? "true" : "false", list);
    return reply(c, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "application/json",
                 body, strlen(body), MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    (void)upload_data;
    struct rg_http *h = cls;
    static int first_call_marker;
    if (*con_cls == NULL) {           /* headers only: answer on the next call */
        *con_cls = &first_call_marker;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {     /* ignore any request body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
               strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    int which = strcmp(url, "/metrics") == 0 ? 1
              : strcmp(url, "/healthz") == 0 ? 2
              : strcmp(url, "/readyz") == 0  ? 3 : 0;
    if (which == 0)
        return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    if (!get)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    switch (which) {
    case 1:
        return serve_metrics(c);
    case 2:
        return serve_healthz(h, c);
    default:
        return serve_readyz(h, c);
    }
}

struct rg_http *rg_http_start(const char *addr, int port, const struct rg_http_hooks *hooks,
                              void *ctx)
{
    if (port < 0 || port > 65535) {
        RG_ERROR("http", "invalid port %d", port);
        return NULL;
    }
    struct rg_http *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    if (hooks)
        h->hooks = *hooks;
    h->ctx = ctx;

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (addr && *addr && strchr(addr, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
            goto bad_addr;
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        if (addr && *addr && inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
            goto bad_addr;
    }

    h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_LIMIT,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                            MHD_OPTION_END);
    if (!h->d) {
        RG_ERROR("http", "cannot listen on %s:%d", addr && *addr ? addr : "0.0.0.0", port);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : port;
    RG_INFO("http", "serving /metrics /healthz /readyz on %s:%d",
            addr && *addr ? addr : "0.0.0.0", h->port);
    return h;
bad_addr:
    RG_ERROR("http", "invalid listen address '%s' (want an IPv4 or IPv6 literal)", addr);
fail:
    rg_http_stop(h);
    return NULL;
}

int rg_http_port(const struct rg_http *h) { return h ? h->port : -1; }

void rg_http_stop(struct rg_http *h)
{
    if (!h)
        return;
    if (h->d)
        MHD_stop_daemon(h->d);
    free(h);
}
