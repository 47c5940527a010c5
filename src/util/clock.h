/*
 * clock.h - monotonic time in nanoseconds.
 *
 * The protocol core never reads the clock itself (callers pass "now"); the
 * concurrency core uses it only off the fast paths: contention timing on a
 * lock miss and the magazine-resize interval on a depot miss.
 */
#ifndef UHOMA_UTIL_CLOCK_H
#define UHOMA_UTIL_CLOCK_H

#include <stdint.h>

/* Nanoseconds from CLOCK_MONOTONIC. About 26 ns on this machine (vDSO). */
uint64_t uh_now_ns(void);

/* Nanoseconds of CPU time consumed by the calling thread. */
uint64_t uh_thread_cpu_ns(void);

/* Sleeps for @ns nanoseconds (restarting after signals). */
void uh_sleep_ns(uint64_t ns);

#endif /* UHOMA_UTIL_CLOCK_H */
