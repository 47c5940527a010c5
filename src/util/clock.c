/*
 * clock.c - monotonic time in nanoseconds.
 */
#include "util/clock.h"

#include <errno.h>
#include <time.h>

static uint64_t ts_to_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

uint64_t uh_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts_to_ns(&ts);
}

uint64_t uh_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts_to_ns(&ts);
}

void uh_sleep_ns(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000u),
		.tv_nsec = (long)(ns % 1000000000u),
	};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* --- cycle counter calibration (cycles.h) -------------------------------- */

#include "util/cycles.h"

/* Written once by the constructor before any thread of ours exists. */
uint64_t uh_cycles_per_ns_x1024 = 1024;

__attribute__((constructor)) static void cycles_calibrate(void)
{
#if defined(__x86_64__) || defined(__i386__)
	uint64_t n0 = uh_now_ns(), c0 = uh_cycles(), n1, c1;

	do {
		n1 = uh_now_ns();
	} while (n1 - n0 < 200000);
	c1 = uh_cycles();
	uh_cycles_per_ns_x1024 = (c1 - c0) * 1024 / (n1 - n0);
	if (uh_cycles_per_ns_x1024 == 0)
		uh_cycles_per_ns_x1024 = 1;
#endif
}
