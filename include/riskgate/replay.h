/*
 * replay.h - `riskgate replay`: the serving decision path over files, for
 * backtests and training data (see docs/replay.md).
 *
 * The run decodes events with the serving decoder, computes features with
 * the profile store's in-memory backend, decides through rg_decider (the
 * code `riskgate run` uses) and writes verdicts, a backtest report and an
 * optional training CSV. It never touches Redis or Kafka and its outputs
 * are a pure function of its inputs (byte-identical across runs).
 */
#ifndef RISKGATE_REPLAY_H
#define RISKGATE_REPLAY_H

#include <stddef.h>
#include <stdint.h>

/* argv[0] = "replay". Returns a process exit code: 0 ok, 1 failure (a file
 * could not be read or written, a model or rule set failed to load),
 * 2 usage. Malformed input lines are not failures: they are reported on
 * stderr with their line number, skipped and counted in the report.
 * @locality main thread (uses the process-wide fake clock). */
int rg_replay_main(int argc, char **argv);

/* Detection metrics used by the report, exposed for tests and tools.
 * score[i] with label[i] (1 fraud, 0 legit; any other value is skipped).
 * Ties get average ranks (AUC) / are grouped into one threshold (AP), as
 * in sklearn's roc_auc_score and average_precision_score. NaN when a class
 * is absent. Allocates a scratch copy (not the hot path). */
double rg_replay_auc(const double *score, const int8_t *label, size_t n);
double rg_replay_avg_precision(const double *score, const int8_t *label, size_t n);

#endif
