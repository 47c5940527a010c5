/*
 * cpuidle.c - whether busy-polling would take a CPU from another thread
 * (cpuidle.h).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/ownfd.h"
#include "runtime/cpuidle.h"

/* A reading every 16 us, three busy ones in a row: 48 us. While the
 * verdict stays busy, each further busy reading doubles the wait for the
 * next, up to 16 times (256 us): a host kept busy by a spinning thread
 * was read at every receive, a system call per RPC on each side (W4
 * through the preload: 0.7). */
#define RECHECK_NS 16000
#define BUSY_READINGS 3
#define BACKOFF_MAX 4

/* Opened by the first reading (-1: not open); a fork child's is -1 again
 * (its inherited one is the program's to close: net/ownfd.h), and the
 * child's first reading opens its own. */
static _Atomic int loadavg_fd = -1;
static long online_cpus = 1;      /* immutable after once */
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* The process's last reading, shared by its pollers: the one whose
 * compare-and-swap moves @checked_ns reads, the others use the verdict. */
static _Atomic uint64_t checked_ns;  /* when it was last read */
static _Atomic unsigned busy;        /* busy readings in a row, capped
				      * at BUSY_READINGS + BACKOFF_MAX */

/* What a reading asks (tests give their own); set with no poller. */
static long (*source)(void) = uh_cpu_runnable;

static void cpuidle_init(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	online_cpus = n > 0 ? n : 1;
}

static int loadavg(void)
{
	int fd = atomic_load_explicit(&loadavg_fd, memory_order_acquire), none;

	if (fd >= 0)
		return fd;
	fd = uh_fd_own_global(open("/proc/loadavg", O_RDONLY | O_CLOEXEC),
			      &loadavg_fd);
	none = -1;
	if (fd >= 0 && !atomic_compare_exchange_strong(&loadavg_fd, &none, fd)) {
		uh_fd_close(fd);        /* another reader's came first */
		fd = none;
	}
	return fd;
}

long uh_cpu_runnable(void)
{
	char buf[128], *slash;
	ssize_t n;

	int fd;

	pthread_once(&once, cpuidle_init);
	fd = loadavg();
	if (fd < 0)
		return -1;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
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
	uint64_t last = atomic_load_explicit(&checked_ns, memory_order_relaxed);
	unsigned b = atomic_load_explicit(&busy, memory_order_relaxed);
	uint64_t wait = RECHECK_NS;
	long r;

	pthread_once(&once, cpuidle_init);
	if (b > BUSY_READINGS)
		wait <<= b - BUSY_READINGS;
	/* Signed: another poller may have moved the time past a @now_ns
	 * this caller read a moment earlier. */
	if ((int64_t)(now_ns - last) < (int64_t)wait ||
	    !atomic_compare_exchange_strong_explicit(&checked_ns, &last, now_ns,
						     memory_order_relaxed,
						     memory_order_relaxed))
		return atomic_load_explicit(&busy, memory_order_relaxed) <
		       BUSY_READINGS;
	if ((r = source()) < 0)
		return true;
	b = atomic_load_explicit(&busy, memory_order_relaxed);
	b = r > online_cpus ? (b < BUSY_READINGS + BACKOFF_MAX ? b + 1 : b) : 0;
	atomic_store_explicit(&busy, b, memory_order_relaxed);
	return b < BUSY_READINGS;
}

void uh_cpu_idle_test_source(long (*runnable)(void))
{
	pthread_once(&once, cpuidle_init);
	source = runnable ? runnable : uh_cpu_runnable;
	atomic_store(&checked_ns, 0);
	atomic_store(&busy, 0);
}
