/*
 * replay.h - `riskgate replay`: the serving decision path over files, for
 * backtests and training data (see docs/replay.md).
 */
#ifndef RISKGATE_REPLAY_H
#define RISKGATE_REPLAY_H

/* argv[0] = "replay". Returns a process exit code. */
int rg_replay_main(int argc, char **argv);

#endif
