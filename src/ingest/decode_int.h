/*
 * decode_int.h - private to src/ingest and its tests: switches for the
 * decoder's internals.
 */
#ifndef RISKGATE_INGEST_DECODE_INT_H
#define RISKGATE_INGEST_DECODE_INT_H

#include <stdbool.h>

/* Turn the flat-object fast parser in decode.c on (the default) or off,
 * so that a test can decode the same bytes both ways and compare. For
 * tests only: call it before any thread decodes, never concurrently. */
void rg_decode_set_fast_path(bool on);

/* How many messages this thread's decoders parsed with the fast path. */
unsigned long rg_decode_fast_hits(void);

#endif
