/*
 * cycles.h - a cheap timestamp for the slow paths of locks.
 *
 * A lock miss wants to know how long it waited, but clock_gettime costs
 * ~26 ns here, more than an uncontended lock. On x86-64 the invariant TSC is
 * read in a few ns; uh_cycles_per_ns() converts, calibrated once against
 * CLOCK_MONOTONIC when the library loads (200 us of busy-waiting). Elsewhere
 * the "cycles" are nanoseconds.
 */
#ifndef UHOMA_UTIL_CYCLES_H
#define UHOMA_UTIL_CYCLES_H

#include <stdint.h>

#include "util/clock.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
static inline uint64_t uh_cycles(void)
{
	return __rdtsc();
}
#else
static inline uint64_t uh_cycles(void)
{
	return uh_now_ns();
}
#endif

/* Cycles per nanosecond, scaled by 1024 (fixed point); >= 1. */
extern uint64_t uh_cycles_per_ns_x1024;

static inline uint64_t uh_cycles_to_ns(uint64_t cycles)
{
	return cycles * 1024 / uh_cycles_per_ns_x1024;
}

static inline uint64_t uh_ns_to_cycles(uint64_t ns)
{
	return ns * uh_cycles_per_ns_x1024 / 1024;
}

#endif /* UHOMA_UTIL_CYCLES_H */
