/*
 * recv_signals.c - the signals of a thread waiting for a message (see
 * recv_signals.h).
 */
#define _GNU_SOURCE
#include "api/recv_signals.h"

#include <pthread.h>
#include <stdlib.h>

#include "runtime/runtime.h"
#include "runtime/signals.h"
#include "util/clock.h"

/* sigpending is asked at most this often while polling (ns). */
#define ASK_GAP_NS 1000000ull

void uh_recv_signals_block(struct uh_recv_signals *sig)
{
	sigset_t all;

	/* Asked at each wait: a handler installed meanwhile counts from
	 * the next (runtime/signals.h). */
	if (sig->blocked || !uh_signals_may_be_caught())
		return;
	uh_signals_async(&all);
	if (pthread_sigmask(SIG_BLOCK, &all, &sig->old) == 0) {
		sig->blocked = true;
		sig->asked = uh_now_ns();
		sig->handled = uh_signals_handled_count();
		uh_runtime_wait_sigmask(&sig->old);
	}
}

/*
 * A poll, or a wait that finds a packet ready, lets no pending signal in:
 * under steady traffic (packets for other RPCs) the waits might never
 * sleep, and a server's SIGINT would wait for a lull. The module's wait
 * looks at each pass; this asks at most once a millisecond.
 */
bool uh_recv_signals_pending(struct uh_recv_signals *sig, bool now)
{
	uint64_t t;
	sigset_t pend, async;

	if (sig->blocked && uh_signals_handled_since(sig->handled, &sig->old))
		return true;
	if (uh_signals_cancels() != sig->cancels) {
		sig->cancel_woke = true;
		return true;
	}
	if (!sig->blocked)
		return false;
	t = uh_now_ns();
	if (!now && t - sig->asked < ASK_GAP_NS)
		return false;
	sig->asked = t;
	if (sigpending(&pend) != 0)
		return false;
	/* Pending, asynchronous, and not blocked by the program itself. */
	uh_signals_async(&async);
	sigandset(&pend, &pend, &async);
	for (int n = 1; n < NSIG; n++)
		if (sigismember(&pend, n) == 1 && sigismember(&sig->old, n) == 0)
			return true;
	return false;
}

void uh_recv_signals_rebase(struct uh_recv_signals *sig)
{
	if (sig->blocked)
		sig->handled = uh_signals_handled_count();
}

void uh_recv_signals_restore(struct uh_recv_signals *sig)
{
	if (!sig->blocked)
		return;
	uh_runtime_wait_sigmask(NULL);
	pthread_sigmask(SIG_SETMASK, &sig->old, NULL);
	sig->blocked = false;
}

void uh_recv_signals_test_raise(const char *env)
{
#ifdef UHOMA_YIELD_INJECT
	const char *v = getenv(env);

	if (v && atoi(v) > 0)
		raise(atoi(v));
#else
	(void)env;
#endif
}
