/*
 * cpuidle.c - whether busy-polling would take a CPU from another thread
 * (cpuidle.h).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/cpuidle.h"

#define RECHECK_NS 4000
#define BUSY_READINGS 12

static int loadavg_fd = -1;       /* immutable after once */
static long online_cpus = 1;      /* immutable after once */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static __thread uint64_t tl_checked;  /* when this thread last read */
static __thread unsigned tl_busy;     /* busy readings in a row */

static void cpuidle_init(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	online_cpus = n > 0 ? n : 1;
	loadavg_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
}

/* The runnable threads now (the fourth field's numerator, "R/T"), or -1. */
static long runnable_now(void)
{
	char buf[128], *slash;
	ssize_t n = pread(loadavg_fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	slash = strchr(buf, '/');
	if (!slash)
		return -1;
	while (slash > buf && slash[-1] != ' ')
		slash--;
	return strtol(slash, NULL, 10);
}

bool uh_cpu_idle(uint64_t now_ns)
{
	long r;

	pthread_once(&once, cpuidle_init);
	if (now_ns - tl_checked < RECHECK_NS)
		return tl_busy < BUSY_READINGS;
	tl_checked = now_ns;
	if (loadavg_fd < 0 || (r = runnable_now()) < 0)
		return true;
	if (r > online_cpus)
		tl_busy = tl_busy < BUSY_READINGS ? tl_busy + 1 : BUSY_READINGS;
	else
		tl_busy = 0;
	return tl_busy < BUSY_READINGS;
}
