/*
 * test_http.c - the observability endpoint: a server on an ephemeral
 * loopback port, fetched with a raw socket client (no curl): /metrics,
 * /healthz against a fake clock, /readyz flipping, 404/405, bad addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "riskgate/clock.h"
#include "riskgate/http.h"
#include "riskgate/metrics.h"

struct resp {
    int status;
    char headers[2048];
    char body[65536];
    size_t body_len;
};

/* One HTTP/1.1 request with Connection: close; reads to EOF. */
static void fetch(int port, const char *method, const char *path, struct resp *r)
{
    memset(r, 0, sizeof(*r));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = { .tv_sec = 5 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char req[256];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                     method, path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    static char raw[sizeof(r->body) + sizeof(r->headers)];
    size_t len = 0;
    for (;;) {
        ssize_t k = read(fd, raw + len, sizeof(raw) - 1 - len);
        assert_true(k >= 0);            /* no timeout, no error */
        if (k == 0)
            break;
        len += (size_t)k;
        assert_true(len < sizeof(raw) - 1);
    }
    close(fd);
    raw[len] = '\0';
    assert_int_equal(sscanf(raw, "HTTP/1.1 %d", &r->status), 1);
    char *sep = strstr(raw, "\r\n\r\n");
    assert_non_null(sep);
    size_t hl = (size_t)(sep - raw);
    assert_true(hl < sizeof(r->headers));
    memcpy(r->headers, raw, hl);
    r->body_len = len - hl - 4;
    memcpy(r->body, sep + 4, r->body_len);
}

struct app {
    _Atomic int64_t heartbeat_ms;
    _Atomic bool kafka, redis, model, rules;
};

static int64_t hb(void *ctx) { return atomic_load(&((struct app *)ctx)->heartbeat_ms); }

static void readiness(void *ctx, struct rg_readiness *st)
{
    struct app *a = ctx;
    st->kafka = atomic_load(&a->kafka);
    st->redis = atomic_load(&a->redis);
    st->model = atomic_load(&a->model);
    st->rules = atomic_load(&a->rules);
}

static void test_metrics_endpoint(void **state)
{
    (void)state;
    rg_metrics_init("9.9.9");
    rg_counter_add(RG_M_EVENTS_IN, 42);
    struct rg_http *h = rg_http_start("127.0.0.1", 0, NULL, NULL);
    assert_non_null(h);
    assert_true(rg_http_port(h) > 0);
    struct resp r;
    fetch(rg_http_port(h), "GET", "/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strcasestr(r.headers, "Content-Type: text/plain; version=0.0.4"));
    assert_non_null(strstr(r.body, "# TYPE riskgate_events_in_total counter\n"));
    assert_non_null(strstr(r.body, "\nriskgate_events_in_total 42\n"));
    assert_non_null(strstr(r.body, "riskgate_build_info{version=\"9.9.9\"} 1\n"));
    /* the body is exactly what the registry renders */
    size_t len;
    char *expect = rg_metrics_render_alloc(&len);
    assert_int_equal(r.body_len, len);
    assert_memory_equal(r.body, expect, len);
    free(expect);

    fetch(rg_http_port(h), "GET", "/nope", &r);
    assert_int_equal(r.status, 404);
    fetch(rg_http_port(h), "GET", "/metricsx", &r);
    assert_int_equal(r.status, 404);
    fetch(rg_http_port(h), "POST", "/metrics", &r);
    assert_int_equal(r.status, 405);
    fetch(rg_http_port(h), "HEAD", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);

    /* without hooks: alive and ready */
    fetch(rg_http_port(h), "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "ok\n");
    fetch(rg_http_port(h), "GET", "/readyz", &r);
    assert_int_equal(r.status, 200);
    rg_http_stop(h);
}

static void test_healthz_heartbeat(void **state)
{
    (void)state;
    rg_clock_set_fake_ms(1700000000000LL);
    struct app a = { .heartbeat_ms = 1700000000000LL };
    struct rg_http_hooks hooks = { .last_heartbeat_ms = hb, .stale_after_ms = 10000 };
    struct rg_http *h = rg_http_start("127.0.0.1", 0, &hooks, &a);
    assert_non_null(h);
    struct resp r;
    fetch(rg_http_port(h), "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    rg_clock_advance_ms(10000);                 /* exactly at the limit: alive */
    fetch(rg_http_port(h), "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    rg_clock_advance_ms(1);                     /* main loop wedged */
    fetch(rg_http_port(h), "GET", "/healthz", &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "10001 ms"));
    atomic_store(&a.heartbeat_ms, rg_clock_now_ms());  /* loop recovers */
    fetch(rg_http_port(h), "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    rg_http_stop(h);
    rg_clock_set_fake_ms(0);
}

static void test_readyz_flips(void **state)
{
    (void)state;
    rg_metrics_init("t");
    struct app a = { .kafka = true, .redis = true, .model = false, .rules = true };
    struct rg_http_hooks hooks = { .readiness = readiness };
    struct rg_http *h = rg_http_start(NULL, 0, &hooks, &a);   /* all interfaces */
    assert_non_null(h);
    struct resp r;
    fetch(rg_http_port(h), "GET", "/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strcasestr(r.headers, "Content-Type: application/json"));
    assert_string_equal(r.body, "{\"ready\":false,\"kafka\":true,\"redis\":true,"
                                "\"model\":false,\"rules\":true,\"not_ready\":[\"model\"]}\n");
    assert_int_equal(rg_gauge_get(RG_M_READY, 0), 0);

    atomic_store(&a.model, true);
    fetch(rg_http_port(h), "GET", "/readyz", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"ready\":true"));
    assert_non_null(strstr(r.body, "\"not_ready\":[]"));
    assert_int_equal(rg_gauge_get(RG_M_READY, 0), 1);

    atomic_store(&a.redis, false);
    atomic_store(&a.kafka, false);
    fetch(rg_http_port(h), "GET", "/readyz", &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "\"not_ready\":[\"kafka\",\"redis\"]"));
    assert_int_equal(rg_gauge_get(RG_M_READY, 0), 0);
    rg_http_stop(h);
}

static void test_bad_addresses(void **state)
{
    (void)state;
    assert_null(rg_http_start("not-an-ip", 0, NULL, NULL));
    assert_null(rg_http_start("127.0.0.1", 70000, NULL, NULL));
    assert_null(rg_http_start("127.0.0.1", -1, NULL, NULL));
    struct rg_http *h = rg_http_start("127.0.0.1", 0, NULL, NULL);
    assert_non_null(h);
    /* the port is taken */
    assert_null(rg_http_start("127.0.0.1", rg_http_port(h), NULL, NULL));
    rg_http_stop(h);
    rg_http_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_endpoint),
        cmocka_unit_test(test_healthz_heartbeat),
        cmocka_unit_test(test_readyz_flips),
        cmocka_unit_test(test_bad_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
