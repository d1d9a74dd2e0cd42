/*
 * clock.h - an injectable clock, so tests never sleep.
 *
 * Production code asks rg_clock_now_ms() / rg_clock_mono_ns(); a test sets
 * a fake time with rg_clock_set_fake_ms() and moves it explicitly.
 *
 * @locality any thread.
 */
#ifndef RISKGATE_CLOCK_H
#define RISKGATE_CLOCK_H

#include <stdint.h>

/* Wall clock, epoch milliseconds (fake when set). */
int64_t rg_clock_now_ms(void);
/* Monotonic nanoseconds (real, for latency measurement only). */
int64_t rg_clock_mono_ns(void);
/* Use a fake wall clock from now on; 0 restores the real one. */
void rg_clock_set_fake_ms(int64_t ms);
void rg_clock_advance_ms(int64_t delta);

#endif
