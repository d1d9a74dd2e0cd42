/* test_conf.c - riskgate.yaml loading and the YAML tree's defences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "riskgate/conf.h"
#include "riskgate/err.h"
#include "riskgate/kafka_conf.h"
#include "riskgate/ytree.h"

static int load(const char *yaml, struct rg_diags *d, struct rg_conf **c)
{
    return rg_conf_load_buf(yaml, strlen(yaml), "riskgate.yaml", d, c);
}

static void test_defaults_and_values(void **state)
{
    (void)state;
    unsetenv("RISKGATE_KAFKA_BOOTSTRAP");
    unsetenv("RISKGATE_REDIS");
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_conf *c;
    const char *y = "kafka:\n  bootstrap: broker:9093\n  group_id: g1\n"
                    "  properties:\n    security.protocol: SASL_SSL\n    sasl.mechanism: PLAIN\n"
                    "redis:\n  port: 7000\npolicy:\n  degradation: fail_closed\n"
                    "engine:\n  workers: 3\n  explain: features\n";
    assert_int_equal(load(y, &d, &c), 0);
    assert_string_equal(c->kafka_bootstrap, "broker:9093");
    assert_string_equal(c->kafka_group_id, "g1");
    assert_string_equal(c->topic_in, "transactions");
    assert_int_equal(c->n_kafka_props, 2);
    assert_string_equal(c->kafka_props[0].key, "security.protocol");
    assert_string_equal(c->kafka_props[1].value, "PLAIN");
    assert_int_equal(c->redis_port, 7000);
    assert_string_equal(c->redis_host, "127.0.0.1");
    assert_int_equal(c->degradation, RG_DEGRADE_FAIL_CLOSED);
    assert_int_equal(c->workers, 3);
    assert_int_equal(c->explain, RG_EXPLAIN_FEATURES);
    assert_true(c->builtin_step_up_amount < c->builtin_deny_amount);
    rg_conf_free(c);
    rg_diags_fini(&d);
}

static void test_unknown_and_bad_values_all_reported(void **state)
{
    (void)state;
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_conf *c = NULL;
    const char *y = "kafka:\n  bootstrp: x:1\n"        /* line 2: typo */
                    "redis:\n  port: 70000\n"          /* line 4: out of range */
                    "engine:\n  workers: many\n"       /* line 6: not an int */
                    "polcy:\n  degradation: step_up\n";          /* line 7: unknown section */
    assert_int_equal(load(y, &d, &c), RG_EPARSE);
    assert_null(c);
    assert_int_equal(d.n, 4);
    assert_int_equal(d.v[0].line, 2);
    assert_int_equal(d.v[0].col, 3);
    assert_non_null(strstr(d.v[0].hint, "bootstrap"));
    assert_int_equal(d.v[1].line, 4);
    assert_non_null(strstr(d.v[1].msg, "out of range"));
    assert_int_equal(d.v[2].line, 6);
    assert_int_equal(d.v[3].line, 7);
    assert_non_null(strstr(d.v[3].hint, "policy"));
    rg_diags_fini(&d);
}

static void test_duplicate_key(void **state)
{
    (void)state;
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_conf *c = NULL;
    assert_int_equal(load("redis:\n  port: 1\n  port: 2\n", &d, &c), RG_EPARSE);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.v[0].line, 3);
    assert_non_null(strstr(d.v[0].msg, "duplicate key 'port'"));
    rg_diags_fini(&d);
}

static void test_env_overrides(void **state)
{
    (void)state;
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_conf *c;
    setenv("RISKGATE_KAFKA_BOOTSTRAP", "10.0.0.1:9092", 1);
    setenv("RISKGATE_REDIS", "redis.local:6380", 1);
    setenv("RISKGATE_ENGINE_WORKERS", "5", 1);
    assert_int_equal(load("kafka:\n  bootstrap: file:1\n", &d, &c), 0);
    assert_string_equal(c->kafka_bootstrap, "10.0.0.1:9092");
    assert_string_equal(c->redis_host, "redis.local");
    assert_int_equal(c->redis_port, 6380);
    assert_int_equal(c->workers, 5);
    rg_conf_free(c);
    setenv("RISKGATE_REDIS", "nonsense", 1);
    assert_int_equal(load("", &d, &c), RG_EPARSE);
    unsetenv("RISKGATE_KAFKA_BOOTSTRAP");
    unsetenv("RISKGATE_REDIS");
    unsetenv("RISKGATE_ENGINE_WORKERS");
    rg_diags_fini(&d);
}

static void test_inconsistent_thresholds(void **state)
{
    (void)state;
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_conf *c = NULL;
    assert_int_equal(load("policy:\n  builtin_step_up_amount: 90\n  builtin_deny_amount: 50\n", &d, &c), RG_EPARSE);
    assert_non_null(strstr(d.v[0].msg, "builtin_step_up_amount"));
    rg_diags_fini(&d);
}

static void test_yaml_bombs(void **state)
{
    (void)state;
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_ydoc *doc = NULL;
    const char *alias = "a: &x [1,2]\nb: [*x, *x]\n";
    assert_int_equal(rg_ydoc_parse(alias, strlen(alias), "f", &d, &doc), RG_EPARSE);
    assert_null(doc);
    rg_diags_fini(&d);

    rg_diags_init(&d);
    size_t n = 100000;
    char *deep = malloc(n + 1);
    memset(deep, '[', n);
    deep[n] = '\0';
    assert_int_not_equal(rg_ydoc_parse(deep, n, "f", &d, &doc), 0);
    assert_null(doc);
    assert_true(d.n >= 1);
    free(deep);
    rg_diags_fini(&d);

    rg_diags_init(&d);
    const char bad_utf8[] = "a: \"\xff\xfe\"\n";
    assert_int_equal(rg_ydoc_parse(bad_utf8, strlen(bad_utf8), "f", &d, &doc), RG_EPARSE);
    rg_diags_fini(&d);

    rg_diags_init(&d);
    size_t big = RG_YTREE_MAX_BYTES + 1;
    char *huge = calloc(1, big);
    assert_int_equal(rg_ydoc_parse(huge, big, "f", &d, &doc), RG_ETOOBIG);
    free(huge);
    rg_diags_fini(&d);
}

static void test_ytree_marks_and_scalars(void **state)
{
    (void)state;
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_ydoc *doc;
    const char *y = "x: 1.5\ny: 'quoted'\nz:\n  - true\n  - 42\n";
    assert_int_equal(rg_ydoc_parse(y, strlen(y), "f", &d, &doc), 0);
    double v;
    assert_int_equal(rg_ynode_double(rg_ymap_get(doc->root, "x"), &v), 0);
    assert_true(v == 1.5);
    const struct rg_ynode *q = rg_ymap_get(doc->root, "y");
    assert_true(q->quoted);
    assert_int_equal(rg_ynode_double(q, &v), RG_EINVAL);
    const struct rg_ynode *z = rg_ymap_get(doc->root, "z");
    assert_int_equal(z->type, RG_Y_SEQ);
    assert_int_equal(z->n, 2);
    assert_int_equal(z->items[1]->line, 5);
    assert_int_equal(z->items[1]->col, 5);
    bool b;
    assert_int_equal(rg_ynode_bool(z->items[0], &b), 0);
    assert_true(b);
    long long l;
    assert_int_equal(rg_ynode_long(z->items[1], &l), 0);
    assert_int_equal(l, 42);
    rg_ydoc_free(doc);
    rg_diags_fini(&d);
}

/* The config's properties win over riskgate's client defaults, a
 * client's own section wins over kafka.properties, and neither client gets
 * the other's section. */
static void test_kafka_properties_scoped_and_win(void **state)
{
    (void)state;
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_conf *c;
    const char *y = "kafka:\n"
                    "  properties:\n    client.rack: r1\n    socket.keepalive.enable: 'true'\n"
                    "  producer_properties:\n    linger.ms: 7\n    client.rack: r2\n"
                    "  consumer_properties:\n    fetch.wait.max.ms: 3\n";
    assert_int_equal(load(y, &d, &c), 0);
    assert_int_equal(c->n_kafka_props, 5);
    const char *own_p[] = { "linger.ms", "2", "client.rack", "own", NULL };
    const char *own_c[] = { "fetch.wait.max.ms", "10", NULL };
    rd_kafka_conf_t *pc = rd_kafka_conf_new(), *cc = rd_kafka_conf_new();
    assert_int_equal(rg_kafka_conf_apply(pc, own_p, c, RG_KAFKA_PRODUCER), 0);
    assert_int_equal(rg_kafka_conf_apply(cc, own_c, c, RG_KAFKA_CONSUMER), 0);
    char v[64];
    size_t n = sizeof(v);
    assert_int_equal(rd_kafka_conf_get(pc, "linger.ms", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "7");
    n = sizeof(v);
    assert_int_equal(rd_kafka_conf_get(pc, "client.rack", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "r2");
    n = sizeof(v);
    assert_int_equal(rd_kafka_conf_get(pc, "compression.type", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "lz4"); /* riskgate's default where the config is silent */
    n = sizeof(v);
    assert_int_equal(rd_kafka_conf_get(pc, "fetch.wait.max.ms", v, &n), RD_KAFKA_CONF_OK);
    assert_string_not_equal(v, "3"); /* the consumer's section is not the producer's */
    n = sizeof(v);
    assert_int_equal(rd_kafka_conf_get(cc, "fetch.wait.max.ms", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "3");
    n = sizeof(v);
    assert_int_equal(rd_kafka_conf_get(cc, "client.rack", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "r1");
    n = sizeof(v);
    assert_int_equal(rd_kafka_conf_get(cc, "socket.keepalive.enable", v, &n), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "true");
    rd_kafka_conf_destroy(pc);
    rd_kafka_conf_destroy(cc);
    rg_conf_free(c);

    /* A property librdkafka rejects fails the client set-up, not silently. */
    assert_int_equal(load("kafka:\n  producer_properties:\n    linger.ms: soon\n", &d, &c), 0);
    pc = rd_kafka_conf_new();
    assert_int_equal(rg_kafka_conf_apply(pc, own_c, c, RG_KAFKA_PRODUCER), -1);
    rd_kafka_conf_destroy(pc);
    rg_conf_free(c);
    rg_diags_fini(&d);
}

/* What riskgate's delivery guarantees rest on cannot be configured away. */
static void test_kafka_reserved_properties_refused(void **state)
{
    (void)state;
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_conf *c = NULL;
    const char *y = "kafka:\n"
                    "  properties:\n    acks: '1'\n"                      /* line 3 */
                    "  producer_properties:\n    message.timeout.ms: 5000\n" /* line 5 */
                    "  consumer_properties:\n    enable.auto.offset.store: 'true'\n"
                    "    fetch.min.bytes: 1\n";
    assert_int_equal(load(y, &d, &c), RG_EPARSE);
    assert_null(c);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.v[0].line, 3);
    assert_non_null(strstr(d.v[0].msg, "kafka.properties: riskgate sets 'acks' itself"));
    assert_int_equal(d.v[1].line, 5);
    assert_non_null(strstr(d.v[1].msg, "never lost"));
    assert_int_equal(d.v[2].line, 7);
    assert_non_null(strstr(d.v[2].msg, "consumer_properties"));
    assert_null(rg_kafka_prop_reserved("linger.ms"));
    assert_non_null(rg_kafka_prop_reserved("enable.idempotence"));
    rg_diags_fini(&d);
}

/* Secrets come from the environment (${NAME} in a property value), and a
 * missing variable or a malformed reference is a load error at the value's
 * line that names the variable, not the value. */
static void test_kafka_property_env_refs(void **state)
{
    (void)state;
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_conf *c = NULL;
    setenv("RG_TEST_SASL_PW", "pa${ss}word", 1); /* expanded once, not again */
    setenv("RG_TEST_USER", "svc", 1);
    const char *y = "kafka:\n  properties:\n"
                    "    sasl.password: ${RG_TEST_SASL_PW}\n"
                    "    sasl.username: u-${RG_TEST_USER}-${RG_TEST_USER}\n"
                    "    client.id: 'a$${b}$c$'\n";
    assert_int_equal(load(y, &d, &c), 0);
    assert_int_equal(c->n_kafka_props, 3);
    assert_string_equal(c->kafka_props[0].value, "pa${ss}word");
    assert_string_equal(c->kafka_props[1].value, "u-svc-svc");
    assert_string_equal(c->kafka_props[2].value, "a${b}$c$");
    rg_conf_free(c);
    c = NULL;

    unsetenv("RG_TEST_UNSET_PW");
    y = "kafka:\n  properties:\n"
        "    sasl.password: ${RG_TEST_UNSET_PW}\n"     /* line 3, col 20 */
        "  producer_properties:\n    client.id: x${1A}y\n" /* line 5 */
        "  consumer_properties:\n    client.id: x${RG_TEST_USER\n";
    assert_int_equal(load(y, &d, &c), RG_EPARSE);
    assert_null(c);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.v[0].line, 3);
    assert_int_equal(d.v[0].col, 20);
    assert_non_null(strstr(d.v[0].msg, "kafka.properties.sasl.password"));
    assert_non_null(strstr(d.v[0].msg, "environment variable RG_TEST_UNSET_PW is not set"));
    assert_int_equal(d.v[1].line, 5);
    assert_non_null(strstr(d.v[1].msg, "'$${'"));
    assert_int_equal(d.v[2].line, 7);
    assert_null(strstr(d.v[2].msg, "x${"));
    rg_diags_fini(&d);
    unsetenv("RG_TEST_SASL_PW");
    unsetenv("RG_TEST_USER");
}

/* A rejected property whose value is a secret is named, never printed:
 * e.g. a Java client's sasl.jaas.config pasted into the config. */
static void test_kafka_secret_values_never_logged(void **state)
{
    (void)state;
    assert_true(rg_kafka_prop_secret("sasl.password"));
    assert_true(rg_kafka_prop_secret("ssl.key.password"));
    assert_true(rg_kafka_prop_secret("sasl.jaas.config"));
    assert_true(rg_kafka_prop_secret("sasl.oauthbearer.client.secret"));
    assert_false(rg_kafka_prop_secret("linger.ms"));
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_conf *c = NULL;
    const char *y = "kafka:\n  properties:\n    sasl.jaas.config: 'PlainLoginModule "
                    "required username=\"u\" password=\"hunter2-TOPSECRET\";'\n";
    assert_int_equal(load(y, &d, &c), 0);
    char path[] = "/tmp/rg-test-conf-log.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    const char *own[] = { NULL };
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    int rc = rg_kafka_conf_apply(kc, own, c, RG_KAFKA_CONSUMER);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rd_kafka_conf_destroy(kc);
    char buf[4096];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    unlink(path);
    assert_int_equal(rc, -1); /* librdkafka has no sasl.jaas.config */
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "kafka.properties.sasl.jaas.config=(redacted)"));
    assert_null(strstr(buf, "TOPSECRET"));
    rg_conf_free(c);
    rg_diags_fini(&d);
}

/* Feedback updates the profile the transactions' owner caches: with feedback
 * on, only the range assignor (which keeps partition N of both topics on one
 * instance) is allowed. */
static void test_assignment_strategy_with_feedback(void **state)
{
    (void)state;
    struct rg_diags d;
    rg_diags_init(&d);
    struct rg_conf *c = NULL;
    const char *coop = "kafka:\n  consumer_properties:\n"
                       "    partition.assignment.strategy: cooperative-sticky\n";
    assert_int_equal(load(coop, &d, &c), RG_EPARSE);
    assert_null(c);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.v[0].msg, "only 'range'"));
    rg_diags_fini(&d);
    rg_diags_init(&d);
    const char *coop_nofb = "kafka:\n  topic_feedback: ''\n  consumer_properties:\n"
                            "    partition.assignment.strategy: cooperative-sticky\n";
    assert_int_equal(load(coop_nofb, &d, &c), 0);
    rg_conf_free(c);
    const char *range = "kafka:\n  properties:\n    partition.assignment.strategy: range\n";
    assert_int_equal(load(range, &d, &c), 0);
    rg_conf_free(c);
    const char *dflt = "kafka:\n  consumer_properties:\n"
                       "    partition.assignment.strategy: range,roundrobin\n";
    assert_int_equal(load(dflt, &d, &c), 0);
    rg_conf_free(c);
    const char *rr = "kafka:\n  consumer_properties:\n"
                     "    partition.assignment.strategy: roundrobin,range\n";
    assert_int_equal(load(rr, &d, &c), RG_EPARSE);
    assert_int_equal(d.n, 1);
    rg_diags_fini(&d);
    rg_diags_init(&d);
    assert_int_equal(d.n, 0);
    rg_diags_fini(&d);
}

/* SCRAM with a librdkafka that Kafka 4 brokers refuse gets a warning that
 * names the way out; other mechanisms and fixed versions do not. */
static void test_kafka_scram_advice(void **state)
{
    (void)state;
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    char err[256];
    assert_null(rg_kafka_conf_advice(kc, 0x020002ff));
    assert_int_equal(rd_kafka_conf_set(kc, "sasl.mechanism", "PLAIN", err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    assert_null(rg_kafka_conf_advice(kc, 0x020002ff));
    assert_int_equal(rd_kafka_conf_set(kc, "sasl.mechanism", "SCRAM-SHA-512", err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    const char *a = rg_kafka_conf_advice(kc, 0x020002ff); /* Debian 12's 2.0.2 */
    assert_non_null(a);
    assert_non_null(strstr(a, "2.6.1"));
    assert_non_null(strstr(a, "PLAIN"));
    assert_null(rg_kafka_conf_advice(kc, 0x020601ff));
    assert_null(rg_kafka_conf_advice(kc, 0x020a00ff));
    rd_kafka_conf_destroy(kc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_values),
        cmocka_unit_test(test_unknown_and_bad_values_all_reported),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_env_overrides),
        cmocka_unit_test(test_inconsistent_thresholds),
        cmocka_unit_test(test_yaml_bombs),
        cmocka_unit_test(test_ytree_marks_and_scalars),
        cmocka_unit_test(test_kafka_properties_scoped_and_win),
        cmocka_unit_test(test_kafka_reserved_properties_refused),
        cmocka_unit_test(test_kafka_property_env_refs),
        cmocka_unit_test(test_kafka_secret_values_never_logged),
        cmocka_unit_test(test_kafka_scram_advice),
        cmocka_unit_test(test_assignment_strategy_with_feedback),
    };
    return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
