/*
 * gen.h - `riskgate gen`, the synthetic micropayment traffic generator.
 *
 * Produces payment events (the input contract in BRIEF.md), labelled fraud
 * scenarios mixed into normal traffic, delayed label / settings feedback
 * events and, optionally, a ground-truth file, either into JSONL files
 * (deterministic: same seed and options give byte-identical files) or into
 * Kafka topics. Options and scenarios are described in docs/gen.md.
 *
 * @locality the calling thread; not re-entrant (getopt state), so run one
 * generator per process at a time.
 */
#ifndef RISKGATE_GEN_H
#define RISKGATE_GEN_H

/*
 * CLI entry point. argv[0] is "gen"; options follow (see docs/gen.md or
 * `riskgate gen --help`). Borrows argv. Returns the process exit status:
 * 0 on success, 1 on a runtime failure (i/o error, Kafka delivery failure),
 * 2 on a usage error. Writes progress and the final summary to stderr.
 */
int rg_gen_main(int argc, char **argv);

#endif
