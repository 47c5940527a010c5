/*
 * signals.c - whether the process may catch an asynchronous signal (see
 * signals.h).
 */
#include "runtime/signals.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "net/ownfd.h"
#include "util/clock.h"

enum { SIGS_UNKNOWN, SIGS_NONE, SIGS_CAUGHT };

/* How often an unwatched process is surveyed again while it catches
 * nothing (ns). */
#define RESURVEY_NS 100000000ull

static _Atomic int state = SIGS_UNKNOWN;
static _Atomic bool watched;          /* the preload sees every handler */
static _Atomic uint64_t surveyed_ns;  /* when uh_signals_refresh last
				       * surveyed (its compare-and-swap) */

/* Signals 1-64 (what /proc's masks and Linux's sigset hold). */
#define MAX_SIG 64

/* Handlers of the program's that returned (the preload's wrapper), and
 * the count at the latest return for each signal: atomics, written in
 * handlers on any thread, read by waiters. */
static _Atomic uint64_t handled;
static _Atomic uint64_t handled_at[MAX_SIG + 1];

/* pthread_cancel requests (the preload's interposer). */
static _Atomic uint64_t cancels;

bool uh_signal_synchronous(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE ||
	       sig == SIGILL || sig == SIGTRAP || sig == SIGSYS;
}

void uh_signals_async(sigset_t *set)
{
	sigfillset(set);
	sigdelset(set, SIGSEGV);
	sigdelset(set, SIGBUS);
	sigdelset(set, SIGFPE);
	sigdelset(set, SIGILL);
	sigdelset(set, SIGTRAP);
	sigdelset(set, SIGSYS);
}

bool uh_signal_interrupts(int sig)
{
	return sig >= 1 && sig <= MAX_SIG && !uh_signal_synchronous(sig) &&
	       !(sig >= 32 && sig < SIGRTMIN);
}

void uh_signals_handled(int sig)
{
	uint64_t n, at;

	if (!uh_signal_interrupts(sig))
		return;
	n = atomic_fetch_add_explicit(&handled, 1, memory_order_acq_rel) + 1;
	at = atomic_load_explicit(&handled_at[sig], memory_order_relaxed);
	while (at < n && !atomic_compare_exchange_weak_explicit(
				 &handled_at[sig], &at, n,
				 memory_order_release, memory_order_relaxed))
		;
}

uint64_t uh_signals_handled_count(void)
{
	return atomic_load_explicit(&handled, memory_order_acquire);
}

bool uh_signals_handled_since(uint64_t count, const sigset_t *blocked)
{
	if (atomic_load_explicit(&handled, memory_order_acquire) == count)
		return false;
	/* A stamp not yet stored is seen at the next look: the baseline
	 * stays until the caller moves it. */
	for (int sig = 1; sig <= MAX_SIG; sig++)
		if (atomic_load_explicit(&handled_at[sig],
					 memory_order_acquire) > count &&
		    sigismember(blocked, sig) == 0)
			return true;
	return false;
}

void uh_signals_installed(int sig, void (*handler)(int))
{
	if (handler == SIG_DFL || handler == SIG_IGN || handler == SIG_ERR ||
#ifdef SIG_HOLD
	    handler == SIG_HOLD ||
#endif
	    !uh_signal_interrupts(sig))
		return;
	atomic_store(&state, SIGS_CAUGHT);
}

/* The SigCgt mask of /proc/self/status (bit n - 1: signal n caught), or
 * all ones if it cannot be read. */
static uint64_t caught_mask(void)
{
	static const char key[] = "\nSigCgt:";
	char buf[4096];
	ssize_t n, got = 0;
	uint64_t mask = 0;
	const char *p;
	int fd = uh_fd_own(open("/proc/self/status", O_RDONLY | O_CLOEXEC));

	if (fd < 0)
		return ~0ull;
	while (got < (ssize_t)sizeof(buf) - 1 &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	uh_fd_close(fd);
	buf[got] = '\0';
	p = strstr(buf, key);
	if (!p)
		return ~0ull;
	for (p += sizeof(key) - 1; *p == ' ' || *p == '\t'; p++)
		;
	for (; *p && *p != '\n'; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (*p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else
			return ~0ull;
		mask = mask << 4 | d;
	}
	return mask;
}

void uh_signals_survey(void)
{
	uint64_t mask = caught_mask();
	int expect = SIGS_UNKNOWN;

	for (int sig = 1; sig <= 64; sig++)
		if ((mask >> (sig - 1) & 1) && uh_signal_interrupts(sig)) {
			atomic_store(&state, SIGS_CAUGHT);
			return;
		}
	/* A handler installed meanwhile has its say (CAUGHT stays). */
	atomic_compare_exchange_strong(&state, &expect, SIGS_NONE);
}

void uh_signals_watch(void)
{
	atomic_store(&watched, true);
	uh_signals_survey();
}

void uh_signals_refresh(void)
{
	uint64_t now = uh_now_ns();
	uint64_t last = atomic_load_explicit(&surveyed_ns, memory_order_relaxed);
	int s = atomic_load_explicit(&state, memory_order_relaxed);

	if (s == SIGS_CAUGHT ||
	    atomic_load_explicit(&watched, memory_order_relaxed) ||
	    (s != SIGS_UNKNOWN && now - last < RESURVEY_NS))
		return;
	/* One thread at a time; the others go by the last answer. */
	if (atomic_compare_exchange_strong(&surveyed_ns, &last, now))
		uh_signals_survey();
}

bool uh_signals_may_be_caught(void)
{
	return atomic_load_explicit(&state, memory_order_relaxed) !=
	       SIGS_NONE;
}

void uh_signals_cancel_requested(void)
{
	atomic_fetch_add_explicit(&cancels, 1, memory_order_acq_rel);
}

uint64_t uh_signals_cancels(void)
{
	return atomic_load_explicit(&cancels, memory_order_acquire);
}
