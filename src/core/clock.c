/* clock.c - real and fake clocks; see include/riskgate/clock.h. */
#define _POSIX_C_SOURCE 200809L
#include "riskgate/clock.h"

#include <stdatomic.h>
#include <time.h>

static _Atomic int64_t g_fake_ms;

int64_t rg_clock_now_ms(void)
{
    int64_t f = atomic_load_explicit(&g_fake_ms, memory_order_relaxed);
    if (f)
        return f;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rg_clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void rg_clock_set_fake_ms(int64_t ms) { atomic_store(&g_fake_ms, ms); }
void rg_clock_advance_ms(int64_t delta) { atomic_fetch_add(&g_fake_ms, delta); }
