/*
 * recv_signals.h - the signals of a thread waiting for a message.
 *
 * The module's wait gives EINTR for any handled signal that arrives after
 * recvmsg began; uhoma's polls and waits in bounded steps (a carrier wait
 * lasts at most 50 ms), and a signal handled between two steps would be
 * forgotten (a server's alarm() sometimes never stopped its recvmsg). So
 * from the moment a call is to wait until it returns, the thread keeps its
 * asynchronous signals blocked and lets them in only where it can see
 * them: inside each carrier wait (the wait's own mask,
 * uh_runtime_wait_sigmask), by asking sigpending while it polls or after
 * a wait that did not sleep, and just before it sleeps on its socket's
 * futex, which takes no mask (the window left there is a system call's
 * return: the mask opening, then the futex call). Synchronous signals
 * stay open: a fault must reach its handler (usermem.h). uhoma's own
 * threads block them all (runtime.c), so that a signal sent to the
 * process goes to a thread of the program's. Such a signal sent while
 * the waiter held it blocked went to another thread, where the module's
 * kernel might have chosen the waiter: under the preload, which wraps
 * the program's handlers, a handler that returned on another thread
 * meanwhile is EINTR too (runtime/signals.h); one that ran while the
 * waiter's mask was open (in a carrier wait, on the futex) was the
 * kernel's own choice, and counts for nothing.
 *
 * None of it in a process known to catch no signal (the preload's survey,
 * runtime/signals.h): the mask calls were 2 us of a two-thread 100 B round
 * trip. The preload blocks at recvmsg's entry, after its descriptor
 * lookup and before its argument checks (helper-21: 6 of 1,000 signals
 * fell in those); uhoma_recv when it finds no message ready.
 *
 * One per call, on the calling thread's stack: no sharing.
 */
#ifndef UHOMA_API_RECV_SIGNALS_H
#define UHOMA_API_RECV_SIGNALS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct uh_recv_signals {
	bool blocked;       /* we blocked them; @old is the thread's mask */
	sigset_t old;
	uint64_t asked;     /* when sigpending was last asked (ns) */
	uint64_t handled;   /* handlers returned elsewhere before we blocked
			     * (runtime/signals.h) */
	uint64_t cancels;   /* pthread_cancel requests before the call */
	bool cancel_woke;   /* a request since: the call left to look */
};

/* @cancels: uh_signals_cancels() as the call began. */
#define UH_RECV_SIGNALS_INIT(cancels_) \
	{ .blocked = false, .cancels = (cancels_), .cancel_woke = false }

/* Blocks the asynchronous signals (if the process may catch one and they
 * are not blocked by us already); carrier waits then run with @sig->old. */
void uh_recv_signals_block(struct uh_recv_signals *sig);

/* Whether a signal we hold blocked is pending (for this thread or the
 * process), or one was handled on another thread since we blocked it --
 * or a pthread_cancel was requested since the call began (then
 * @sig->cancel_woke is set: the preload looks whether it is for us).
 * Unless @now, the kernel is asked at most once a millisecond (the
 * handlers' count is one load, every time). */
bool uh_recv_signals_pending(struct uh_recv_signals *sig, bool now);

/* After a wait with the thread's own mask: what was handled elsewhere
 * during it was the kernel's choice, as under the module. */
void uh_recv_signals_rebase(struct uh_recv_signals *sig);

/* Gives the thread its mask back: a pending signal's handler runs here. */
void uh_recv_signals_restore(struct uh_recv_signals *sig);

/* Test builds: with @env (UHOMA_TEST_SIGNAL_GAP, _ENTRY) = N in the
 * environment, raises signal N -- one landing between two waits, or as
 * the receive begins, on demand (homa_api eintr_gap, eintr_entry,
 * eintr_poll). Nothing otherwise. */
void uh_recv_signals_test_raise(const char *env);

#endif /* UHOMA_API_RECV_SIGNALS_H */
