/*
 * engine.h - `riskgate run`: Kafka in, verdicts out.
 *
 * DESIGN (threads):
 *   consumer   polls the input and feedback topics, tracks every offset in
 *              a per-partition watermark, and hands each message, untouched,
 *              to the worker that owns its key (hash of user_id = message
 *              key) over a bounded SPSC ring. Full rings block it
 *              (backpressure); too many unacknowledged events pause the
 *              assigned partitions. It stores offsets as watermarks advance;
 *              librdkafka commits stored offsets.
 *   workers    each runs decode -> profile -> features -> model -> rules ->
 *              verdict to completion for a batch, produces verdicts (or dead
 *              letters) keyed by user_id, and returns ring items to its pool.
 *   delivery   serves the producer's delivery reports; an acknowledged
 *              verdict or dead letter marks its offset done.
 *   main       signals, hot reload (SIGHUP or file change), HTTP endpoint.
 *
 * At-least-once: enable.auto.offset.store=false; an offset is stored only
 * when it and every offset below it in its partition were acknowledged;
 * the producer is idempotent with infinite delivery retries. After a crash
 * the uncommitted tail is consumed again: duplicate verdicts are possible
 * and carry the same event_id; profiles skip re-applied events.
 */
#ifndef RISKGATE_ENGINE_H
#define RISKGATE_ENGINE_H

#include "riskgate/conf.h"

/* Ask a running engine to stop (graceful drain) or reload. Async-signal
 * safe. */
void rg_engine_request_stop(void);
void rg_engine_request_reload(void);

/* Run until stopped. Returns a process exit code: 0 after a clean drain,
 * 1 when start-up failed (bad model/rules/config), 2 on a fatal Kafka
 * error. conf is borrowed for the life of the call. @locality main thread. */
int rg_engine_run(const struct rg_conf *conf);

#endif
