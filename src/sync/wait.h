/*
 * wait.h - uh_wait: a futex eventcount for sleeping until a condition holds.
 *
 * The waiter reads the count, checks its condition, and sleeps only if the
 * count is unchanged; the waker makes the condition true, then bumps the
 * count and wakes. A wake that lands between the check and the sleep changes
 * the count, so the sleep returns at once: no lost wake-ups.
 *
 *	for (;;) {
 *		uint32_t t = uh_wait_prepare(&w);
 *		if (condition())
 *			break;
 *		uh_wait_sleep(&w, t, timeout_ns);
 *	}
 *
 * uh_wait_sleep is a blocking operation: the validator reports it when a
 * non-blocking lock is held.
 */
#ifndef UHOMA_SYNC_WAIT_H
#define UHOMA_SYNC_WAIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/compiler.h"

struct uh_wait {
	_Atomic uint32_t seq;       /* bumped by every wake (seq_cst) */
	_Atomic uint32_t sleepers;  /* threads inside uh_wait_sleep (seq_cst) */
};

#define UH_WAIT_INITIALIZER { 0, 0 }

static inline void uh_wait_init(struct uh_wait *w)
{
	atomic_init(&w->seq, 0);
	atomic_init(&w->sleepers, 0);
}

static inline uint32_t uh_wait_prepare(struct uh_wait *w)
{
	return atomic_load(&w->seq);
}

/*
 * Sleeps until a wake after @ticket, or @timeout_ns (UINT64_MAX: forever).
 * Returns 0 on a wake (or if one already happened), UHOMA_ERR_TIMEDOUT, or
 * UHOMA_ERR_INTERRUPTED on a signal. Spurious returns are allowed: callers
 * re-check their condition.
 */
int uh_wait_sleep_(struct uh_wait *w, uint32_t ticket, uint64_t timeout_ns,
		   struct uh_srcloc loc);
#define uh_wait_sleep(w, t, ns) uh_wait_sleep_((w), (t), (ns), UH_HERE)

/*
 * Whether this thread is inside a blocking wait's system call: the futex
 * of uh_wait_sleep, or a carrier wait (net/waitset.c sets it too). There
 * it holds no lock and is in no read section (rules 5 and 6, checked by
 * the validator): the one place a signal handler that calls back into
 * uhoma may run in the middle of a call (preload/sigwatch.h), and where
 * it must run, to interrupt the wait. Async-signal-safe.
 */
bool uh_wait_in_syscall(void);

/* Sets or clears the mark: around a wait's system call, and for a signal
 * handler that runs inside one (it may leave the wait for good, by
 * siglongjmp). Async-signal-safe. */
void uh_wait_mark_syscall(bool in);

/* Wakes every sleeper / at most one sleeper. Never blocks. */
void uh_wait_wake_all(struct uh_wait *w);
void uh_wait_wake_one(struct uh_wait *w);

#endif /* UHOMA_SYNC_WAIT_H */
