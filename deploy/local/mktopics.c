/*
 * mktopics.c - create Kafka topics through librdkafka's Admin API, for
 * deploy/local/stack.sh.
 *
 *   rg-mktopics [--warm] BOOTSTRAP TIMEOUT_MS NAME:PARTITIONS [NAME:PARTITIONS...]
 *
 * Exit 0 when every topic exists afterwards (created now, or already there:
 * "if not exists"), 1 when any creation failed, 2 on bad usage.
 *
 * --warm: afterwards, make the broker create its internal topics now rather
 * than on a test's first use. An idempotent or transactional producer's
 * first InitProducerId creates __transaction_state, and a consumer group's
 * first FindCoordinator creates __consumer_offsets; meanwhile clients get
 * "Coordinator load in progress" and retry, which shows up as warnings and
 * as seconds of extra latency in whichever test comes first. Warming uses
 * init_transactions (no message is written) and a committed-offsets fetch
 * for the first topic (no offset is written). Each waits about a second
 * for its coordinator to load, so the two run in parallel threads.
 *
 * DESIGN
 *   A stack `up` used to start one TopicCommand JVM per topic: about a CPU
 *   second each, which on a shared 2-core machine was a large part of the
 *   startup time. One CreateTopics request from C costs milliseconds. The
 *   tool is a build helper, not part of riskgate: stack.sh compiles it into
 *   .cache/ on first use and falls back to TopicCommand when it cannot (no
 *   compiler or no librdkafka headers). Replication factor is 1: the stack is
 *   a single broker. The partition count of a topic that already exists is
 *   not checked here; stack.sh checks every count against the broker's
 *   metadata afterwards.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#define RG_MKTOPICS_MAX 64

/* parse "name:partitions"; name points into arg, which is modified. */
static int rg_mktopics_parse(char *arg, const char **name, int *parts)
{
	char *colon = strrchr(arg, ':');
	char *end;
	long n;

	if (colon == NULL || colon == arg)
		return -1;
	errno = 0;
	n = strtol(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || end == colon + 1 || n < 1 || n > 10000)
		return -1;
	*colon = '\0'; /* only on success, so errors can print the whole spec */
	*name = arg;
	*parts = (int)n;
	return 0;
}

/* a handle on BOOTSTRAP with one extra property; NULL on error (printed). */
static rd_kafka_t *rg_mktopics_handle(rd_kafka_type_t type, const char *bootstrap,
				      const char *key, const char *value)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "mktopics: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
	if (rk == NULL) {
		fprintf(stderr, "mktopics: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

struct rg_mktopics_warm_arg {
	const char *bootstrap;
	const char *topic;
	int timeout_ms;
	int rc;
};

/* thread: a group's committed-offsets fetch creates __consumer_offsets. */
static void *rg_mktopics_warm_group(void *opaque)
{
	struct rg_mktopics_warm_arg *arg = opaque;
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_resp_err_t err;
	rd_kafka_t *rk;

	arg->rc = -1;
	rk = rg_mktopics_handle(RD_KAFKA_CONSUMER, arg->bootstrap, "group.id", "riskgate-stack-warmup");
	if (rk == NULL)
		return NULL;
	parts = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(parts, arg->topic, 0);
	err = rd_kafka_committed(rk, parts, arg->timeout_ms);
	rd_kafka_topic_partition_list_destroy(parts);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "mktopics: warm consumer offsets: %s\n", rd_kafka_err2str(err));
		return NULL;
	}
	arg->rc = 0;
	return NULL;
}

/* create __transaction_state (here) and __consumer_offsets (in a thread);
 * 0 or -1 (printed). */
static int rg_mktopics_warm(const char *bootstrap, const char *topic, int timeout_ms)
{
	struct rg_mktopics_warm_arg group = { bootstrap, topic, timeout_ms, -1 };
	rd_kafka_error_t *error = NULL;
	pthread_t thr;
	rd_kafka_t *rk;
	int rc = 0;

	if (pthread_create(&thr, NULL, rg_mktopics_warm_group, &group) != 0) {
		fprintf(stderr, "mktopics: pthread_create failed\n");
		return -1;
	}
	rk = rg_mktopics_handle(RD_KAFKA_PRODUCER, bootstrap, "transactional.id", "riskgate-stack-warmup");
	if (rk == NULL) {
		rc = -1;
	} else {
		error = rd_kafka_init_transactions(rk, timeout_ms);
		rd_kafka_destroy(rk);
	}
	if (error != NULL) {
		fprintf(stderr, "mktopics: warm transactions: %s\n", rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
		rc = -1;
	}
	pthread_join(thr, NULL);
	return rc == 0 && group.rc == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	char errstr[512];
	rd_kafka_NewTopic_t *topics[RG_MKTOPICS_MAX] = { 0 };
	rd_kafka_conf_t *conf = NULL;
	rd_kafka_t *rk = NULL;
	rd_kafka_AdminOptions_t *opts = NULL;
	rd_kafka_queue_t *queue = NULL;
	rd_kafka_event_t *ev = NULL;
	const rd_kafka_CreateTopics_result_t *res;
	const rd_kafka_topic_result_t **results;
	size_t n_results, i;
	int n = 0, rc = 1;
	long timeout_ms;
	char *end;
	int warm = 0;
	const char *first = NULL;

	if (argc > 1 && strcmp(argv[1], "--warm") == 0) {
		warm = 1;
		argv++;
		argc--;
	}
	if (argc < 4 || argc - 3 > RG_MKTOPICS_MAX) {
		fprintf(stderr, "usage: rg-mktopics [--warm] BOOTSTRAP TIMEOUT_MS NAME:PARTITIONS...\n");
		return 2;
	}
	timeout_ms = strtol(argv[2], &end, 10);
	if (*end != '\0' || timeout_ms < 1000 || timeout_ms > 600000) {
		fprintf(stderr, "mktopics: bad timeout '%s' (1000..600000 ms)\n", argv[2]);
		return 2;
	}
	for (int a = 3; a < argc; a++) {
		const char *name;
		int parts;

		if (rg_mktopics_parse(argv[a], &name, &parts) != 0) {
			fprintf(stderr, "mktopics: bad topic spec '%s' (want NAME:PARTITIONS)\n", argv[a]);
			rc = 2;
			goto fail;
		}
		topics[n] = rd_kafka_NewTopic_new(name, parts, 1, errstr, sizeof(errstr));
		if (topics[n] == NULL) {
			fprintf(stderr, "mktopics: %s: %s\n", name, errstr);
			rc = 2;
			goto fail;
		}
		if (first == NULL)
			first = name;
		n++;
	}

	conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "mktopics: %s\n", errstr);
		goto fail;
	}
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL) {
		fprintf(stderr, "mktopics: %s\n", errstr);
		goto fail;
	}
	conf = NULL; /* owned by rk now */

	opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
	if (rd_kafka_AdminOptions_set_request_timeout(opts, (int)timeout_ms, errstr, sizeof(errstr)) ||
	    rd_kafka_AdminOptions_set_operation_timeout(opts, (int)timeout_ms, errstr, sizeof(errstr))) {
		fprintf(stderr, "mktopics: %s\n", errstr);
		goto fail;
	}
	queue = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, topics, (size_t)n, opts, queue);

	/* The request timeout bounds the wait; the extra second lets the
	 * timeout arrive as a result rather than as a NULL poll. */
	ev = rd_kafka_queue_poll(queue, (int)timeout_ms + 1000);
	if (ev == NULL) {
		fprintf(stderr, "mktopics: no answer from %s within %ld ms\n", argv[1], timeout_ms);
		goto fail;
	}
	if (rd_kafka_event_error(ev)) {
		fprintf(stderr, "mktopics: %s\n", rd_kafka_event_error_string(ev));
		goto fail;
	}
	res = rd_kafka_event_CreateTopics_result(ev);
	if (res == NULL) {
		fprintf(stderr, "mktopics: unexpected event %s\n", rd_kafka_event_name(ev));
		goto fail;
	}
	results = rd_kafka_CreateTopics_result_topics(res, &n_results);
	rc = 0;
	for (i = 0; i < n_results; i++) {
		rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);

		if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
			continue;
		fprintf(stderr, "mktopics: %s: %s\n", rd_kafka_topic_result_name(results[i]),
			rd_kafka_topic_result_error_string(results[i]) ?
				rd_kafka_topic_result_error_string(results[i]) : rd_kafka_err2str(err));
		rc = 1;
	}
	if (n_results != (size_t)n) {
		fprintf(stderr, "mktopics: asked for %d topics, got %zu results\n", n, n_results);
		rc = 1;
	}
	/* The warm-up only saves the first client a few seconds; under load the
	 * coordinator may still be loading ("Not coordinator"), which is not a
	 * reason to fail the stack: the broker creates them on first use. */
	if (rc == 0 && warm && rg_mktopics_warm(argv[1], first, (int)timeout_ms) != 0)
		fprintf(stderr, "mktopics: warm-up incomplete; continuing\n");

fail:
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	if (queue != NULL)
		rd_kafka_queue_destroy(queue);
	if (opts != NULL)
		rd_kafka_AdminOptions_destroy(opts);
	for (int t = 0; t < n; t++)
		rd_kafka_NewTopic_destroy(topics[t]);
	if (conf != NULL)
		rd_kafka_conf_destroy(conf);
	if (rk != NULL)
		rd_kafka_destroy(rk);
	return rc;
}
