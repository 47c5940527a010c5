/*
 * sigwatch.c - the preload watches the program's signal handlers, and
 * wraps them.
 *
 * A thread blocked in recvmsg keeps its signals blocked between its
 * waits in the carrier, so that a handled signal is EINTR as under the
 * module -- two system calls per receive that a program catching no
 * signal does not need (runtime/signals.h). The preload knows which kind
 * of program it is in: it surveys the process before main and sees every
 * later handler through the libc calls that install one. glibc's own
 * signal() does not call the sigaction symbol, so each entry point is
 * here.
 *
 * While a waiter holds its signals blocked, one sent to the process goes
 * to another thread of the program's, whose handler then runs where the
 * waiter cannot see it. So each handler for a signal that can interrupt
 * a wait (uh_signal_interrupts) is installed wrapped: the kernel calls
 * wrapper(), which calls the program's handler and then reports that it
 * returned (uh_signals_handled), unless the kernel would have chosen this
 * thread under the module too (maybe_a_waiters). After the handler, so
 * that a waiter woken by the report finds what the handler did (a stop
 * flag).
 *
 * The program sees its own handlers: sigaction and signal report the
 * handler (and SA_SIGINFO) it installed, never the wrapper. A handler
 * installed before this library's constructor is wrapped there; one
 * installed by a raw rt_sigaction system call is not wrapped.
 *
 * SIGSEGV and SIGBUS are the preload's own, whatever the program
 * installs: fault_wrapper() stands in front of every disposition for
 * them (SIG_DFL and SIG_IGN too), so that a copy of the program's memory
 * that faults fails with EFAULT instead (api/usermem.h, "The guard").
 * Every other fault meets the program's disposition: its handler is
 * called as the kernel would have (the same arguments, its mask and
 * flags in force, SA_RESETHAND emulated), and the default action is
 * restored to the kernel before the faulting instruction runs again.
 * Where the guard cannot be installed (a sanitizer keeping SIGSEGV for
 * itself), copies are checked page-wise as before.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "api/usermem.h"
#include "preload/sigwatch.h"
#include "runtime/signals.h"
#include "sync/wait.h"

#define EXPORT __attribute__((visibility("default")))

typedef void (*handler_fn)(int);
typedef int (*sigaction_fn)(int, const struct sigaction *,
			    struct sigaction *);
typedef handler_fn (*signal_fn)(int, handler_fn);

/* Each libc entry point, looked up on first use: before main from the
 * constructor below, or earlier by another library's constructor.
 * Racing lookups store the same address. */
static void *lookup(void *_Atomic *slot, const char *name)
{
	void *f = atomic_load_explicit(slot, memory_order_acquire);

	if (!f) {
		f = dlsym(RTLD_NEXT, name);
		atomic_store_explicit(slot, f, memory_order_release);
	}
	return f;
}

static void *_Atomic real_sigaction, *_Atomic real___sigaction;
static void *_Atomic real_signal, *_Atomic real_bsd_signal,
	*_Atomic real_ssignal, *_Atomic real_sysv_signal,
	*_Atomic real___sysv_signal, *_Atomic real_sigset;

/*
 * What a wrapper calls: a program's handler. Records are immutable once
 * published (ready), never freed, and shared by every signal installing
 * the same function: a program has few. Claimed lock-free, since
 * sigaction may be called in a handler. If they run out, a handler is
 * installed unwrapped (as before this existed).
 */
struct handler_rec {
	void *fn;                  /* sa_handler or sa_sigaction */
	bool siginfo;              /* installed with SA_SIGINFO */
	_Atomic bool ready;
};

#define RECS 256
#define MAX_SIG 64

static struct handler_rec recs[RECS];
static _Atomic unsigned recs_used;
/* The program's handler behind the wrapper, per signal (the latest one
 * installed: after SA_RESETHAND or SIG_DFL the kernel's disposition is no
 * longer the wrapper, and this is not read). */
static struct handler_rec *_Atomic user[MAX_SIG + 1];

static struct handler_rec *rec_for(void *fn, bool siginfo)
{
	unsigned n = atomic_load_explicit(&recs_used, memory_order_acquire);
	unsigned i;

	for (i = 0; i < n && i < RECS; i++)
		if (atomic_load_explicit(&recs[i].ready, memory_order_acquire) &&
		    recs[i].fn == fn && recs[i].siginfo == siginfo)
			return &recs[i];
	i = atomic_fetch_add_explicit(&recs_used, 1, memory_order_acq_rel);
	if (i >= RECS)
		return NULL;
	recs[i].fn = fn;
	recs[i].siginfo = siginfo;
	atomic_store_explicit(&recs[i].ready, true, memory_order_release);
	return &recs[i];
}

/*
 * Whether a handler that ran here may have been a waiter's under the
 * module. Not if the signal was sent to this thread: by tgkill (raise,
 * pthread_kill), or SIGPIPE, which the kernel sends to the thread that
 * wrote. Nor on the main thread: the kernel offers a signal sent to the
 * process to the main thread first, whoever else waits (helper-23: a
 * worker's recvmsg was interrupted by the main thread's handlers). Other
 * signals sent to one thread carry no mark of it (pthread_sigqueue, a
 * SIGEV_THREAD_ID timer) and count: a waiter that holds its signals
 * blocked may see EINTR for them, which a program must expect anyway.
 */
static bool maybe_a_waiters(int sig, const siginfo_t *info)
{
	if ((info && info->si_code == SI_TKILL) || sig == SIGPIPE)
		return false;
	return syscall(SYS_gettid) != getpid();
}

/* Runs the program's handler for @sig, then reports it (above). */
static void run_handler(int sig, siginfo_t *info, void *uc)
{
	struct handler_rec *r = NULL;
	int e;

	if (sig >= 1 && sig <= MAX_SIG)
		r = atomic_load_explicit(&user[sig], memory_order_acquire);
	uh_user_handler_enter();
	if (r && r->siginfo)
		((void (*)(int, siginfo_t *, void *))r->fn)(sig, info, uc);
	else if (r)
		((void (*)(int))r->fn)(sig);
	e = errno;               /* as the program's handler left it */
	uh_user_handler_leave();
	if (maybe_a_waiters(sig, info))
		uh_signals_handled(sig);
	errno = e;
}

/*
 * Handlers deferred while this thread runs a call on a Homa socket
 * (sigwatch.h). Thread-local, and touched by this thread and its own
 * handlers only: the wrapper appends only while tl_depth > 0, and
 * run_deferred takes entries only with tl_depth == 0 or every signal
 * blocked. A standard signal already deferred is not deferred twice (the
 * kernel does not queue those either); past DEFER_MAX the rest are
 * dropped, counted, and the first drop said on stderr.
 */
#define DEFER_MAX 4

struct deferred {
	int sig;
	siginfo_t info;
	ucontext_t uc;           /* a copy: the handler may read it */
	sigset_t mask;           /* what the kernel blocked for the handler
				  * (the program's sa_mask, the signal itself
				  * unless SA_NODEFER): it runs with it */
};

static __thread volatile int tl_depth;       /* calls counted (above) */
static __thread struct deferred tl_deferred[DEFER_MAX];
static __thread volatile int tl_ndeferred;  /* entries of tl_deferred */
static _Atomic uint64_t deferred_lost;      /* every thread's drops:
					     * relaxed atomic adds */

static void defer(int sig, const siginfo_t *info, const void *uc)
{
	int n = tl_ndeferred;

	if (sig < SIGRTMIN)
		for (int i = 0; i < n && i < DEFER_MAX; i++)
			if (tl_deferred[i].sig == sig)
				return;
	/* A slot of one's own: another handler (a second signal) may
	 * interrupt this one and defer its own meanwhile. No run_deferred
	 * can: it runs with tl_depth 0, and this thread's is above. */
	n = __atomic_fetch_add(&tl_ndeferred, 1, __ATOMIC_RELAXED);
	if (n >= DEFER_MAX) {
		static const char msg[] =
			"uhoma-preload: more than 4 signal handlers waited for "
			"one call on a Homa socket to end; the rest were "
			"dropped (uhoma(7))\n";

		__atomic_fetch_sub(&tl_ndeferred, 1, __ATOMIC_RELAXED);
		/* Said once, by a raw write (async-signal-safe). */
		if (atomic_fetch_add_explicit(&deferred_lost, 1,
					      memory_order_relaxed) == 0)
			(void)!syscall(SYS_write, 2, msg, sizeof(msg) - 1);
		return;
	}
	tl_deferred[n].sig = sig;
	/* The mask in force here is the one the kernel set up for the
	 * program's handler (the wrapper is installed with its sa_mask and
	 * flags). */
	pthread_sigmask(SIG_BLOCK, NULL, &tl_deferred[n].mask);
	if (info)
		tl_deferred[n].info = *info;
	else
		memset(&tl_deferred[n].info, 0, sizeof(siginfo_t));
	if (uc)
		memcpy(&tl_deferred[n].uc, uc, sizeof(ucontext_t));
}

/* Runs the deferred handlers in order, each with the mask the kernel
 * would have given it (the thread's own, plus what it blocked when the
 * signal came: the program's sa_mask and the signal), the caller's errno
 * kept. Each entry is looked at and taken with the signals blocked: a
 * handler that ran at once in between (this thread is at depth 0) may
 * itself have run what was deferred, and the count must not be read
 * before it and decremented after (it went to -1, and the next deferral
 * wrote below the array, into the C library's thread data). Not with
 * every signal blocked, as it was: a deferred handler that blocked (a
 * sendmsg waiting for the send budget) then left the process deaf to
 * SIGTERM and SIGINT, whose default action could no longer end it
 * (helper-38). Other handlers may interrupt it, as the kernel lets them;
 * one that lands inside a Homa call of its own is deferred to that
 * call's end. */
static void run_deferred(void)
{
	int e = errno;
	sigset_t all;

	uh_signals_async(&all);
	for (;;) {
		struct deferred d;
		sigset_t old;
		int n;

		pthread_sigmask(SIG_BLOCK, &all, &old);
		n = tl_ndeferred;
		if (n <= 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			break;
		}
		d = tl_deferred[0];
		memmove(&tl_deferred[0], &tl_deferred[1],
			(size_t)(n - 1) * sizeof(tl_deferred[0]));
		tl_ndeferred = n - 1;
		sigorset(&d.mask, &d.mask, &old);
		pthread_sigmask(SIG_SETMASK, &d.mask, NULL);
		run_handler(d.sig, &d.info, &d.uc);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	errno = e;
}

void sigwatch_enter(void)
{
	tl_depth = tl_depth + 1;
}

void sigwatch_leave(void)
{
	if (tl_depth > 0)
		tl_depth = tl_depth - 1;
	if (tl_depth == 0 && tl_ndeferred > 0)
		run_deferred();
}

static void wrapper(int sig, siginfo_t *info, void *uc)
{
	int depth = tl_depth;

	if (depth > 0 && !uh_wait_in_syscall()) {
		defer(sig, info, uc);
		return;
	}
	if (depth == 0) {
		run_handler(sig, info, uc);
		return;
	}
	/* In a wait: the handler runs now, as if the thread were outside
	 * uhoma, which it is again if the handler jumps out of the wait
	 * (siglongjmp: homa_api's longjmp check) -- the call never ends, and
	 * its count and the wait's mark would otherwise stay set for ever,
	 * every later handler of the thread deferred to a leave that never
	 * comes. Both come back if the handler returns. */
	tl_depth = 0;
	uh_wait_mark_syscall(false);
	run_handler(sig, info, uc);
	uh_wait_mark_syscall(true);
	tl_depth = depth;
}

static bool is_program_handler(void *fn)
{
	return fn != (void *)SIG_DFL && fn != (void *)SIG_IGN &&
	       fn != (void *)SIG_ERR &&
#ifdef SIG_HOLD
	       fn != (void *)SIG_HOLD &&
#endif
	       fn != (void *)wrapper;
}

/* The disposition @act as installed: the wrapper in place of @act's
 * handler, everything else (mask, SA_RESTART, SA_RESETHAND...) as is. */
static struct sigaction wrapped(const struct sigaction *act)
{
	struct sigaction w = *act;

	w.sa_sigaction = wrapper;
	w.sa_flags |= SA_SIGINFO;
	return w;
}

/* @old as the program installed it: @r's handler for the wrapper. */
static void unwrap(struct sigaction *old, const struct handler_rec *r)
{
	if (!old || old->sa_sigaction != wrapper || !r)
		return;
	if (r->siginfo) {
		old->sa_sigaction =
			(void (*)(int, siginfo_t *, void *))r->fn;
	} else {
		old->sa_handler = (void (*)(int))r->fn;
		old->sa_flags &= ~SA_SIGINFO;
	}
}

/*
 * An installation for a signal is one step for other installers: the
 * program's handler in user[] and the kernel's disposition (its mask,
 * its flags) change together, as one sigaction call changes them under
 * the kernel's lock (helper-23: two threads installing handlers with
 * different masks left handlers paired with the other's mask). A spin
 * flag per signal, taken with every signal blocked, since sigaction may
 * be called in a handler that interrupted an installation. A signal
 * delivered during one may still meet the new handler with the old mask.
 */
static atomic_flag installing[MAX_SIG + 1];
/* We added SA_SIGINFO to the disposition installed (the program's
 * handler takes one argument): after a one-shot handler fired, the
 * kernel reports SIG_DFL with the flags we gave it. Under installing[]. */
static bool added_siginfo[MAX_SIG + 1];

static void install_begin(int sig, sigset_t *saved)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, saved);
	while (atomic_flag_test_and_set_explicit(&installing[sig],
						 memory_order_acquire))
		sched_yield();
}

static void install_end(int sig, const sigset_t *saved)
{
	atomic_flag_clear_explicit(&installing[sig], memory_order_release);
	pthread_sigmask(SIG_SETMASK, saved, NULL);
}

/* @old as the program installed it: @r's handler for the wrapper, and no
 * SA_SIGINFO of ours left on a one-shot disposition the kernel reset. */
static void unwrap_reset(struct sigaction *old, const struct handler_rec *r,
			 bool added)
{
	if (old && old->sa_sigaction != wrapper) {
		if (added && old->sa_handler == SIG_DFL &&
		    (old->sa_flags & (int)SA_RESETHAND))
			old->sa_flags &= ~SA_SIGINFO;
		return;
	}
	unwrap(old, r);
}

/* ---- SIGSEGV and SIGBUS: the guard in front of the program's ---------- */

#define FAULT_SIGS 2

/* The program's disposition for each, as it installed it: a handler,
 * SIG_DFL (0) or SIG_IGN, and its flags. Written under installing[sig];
 * read by fault_wrapper, which may meet a disposition mid-change (as the
 * kernel's own handlers may meet a mask mid-change). */
static void *_Atomic fault_fn[FAULT_SIGS];
static _Atomic int fault_flags[FAULT_SIGS];
/* Which of SIGSEGV (1) and SIGBUS (2) the program's sa_mask holds: the
 * wrapper is installed without them (below) and blocks them itself. */
static _Atomic int fault_masked[FAULT_SIGS];
/* fault_wrapper is the kernel's disposition for it. Under installing[].
 * Not while the program ignores the signal (the kernel then holds SIG_IGN,
 * which an exec'd program inherits, as it does a handler's SIG_DFL), nor
 * after the default action was given back; with an interposer keeping
 * the dispositions (ThreadSanitizer) never. Copies go under the guard
 * while both are. */
static _Atomic bool fault_guarding[FAULT_SIGS];
static bool fault_interposed;      /* written once, by the constructor */

static void fault_update_guard(void)
{
	uh_user_guard_enable(
		atomic_load_explicit(&fault_guarding[0], memory_order_relaxed) &&
		atomic_load_explicit(&fault_guarding[1], memory_order_relaxed));
}

static int fault_slot(int sig)
{
	return sig == SIGSEGV ? 0 : sig == SIGBUS ? 1 : -1;
}

/* The kernel's disposition of @sig, read past any interposer (a
 * sanitizer's sigaction reports what the program installed, not what
 * the kernel holds). */
static void *kernel_handler(int sig)
{
	struct {
		void *handler;
		unsigned long flags;
		void *restorer;
		uint64_t mask;
	} k;

	if (syscall(SYS_rt_sigaction, sig, NULL, &k, sizeof(k.mask)) != 0)
		return NULL;
	return k.handler;
}

/* The program's default action: given back to the kernel, and the signal
 * raised again in this thread, pending until this handler returns (a
 * fault's registers are restored first, so a core shows the faulting
 * instruction; a signal the kernel forced without one -- a frame it could
 * not build on an alternate stack -- ends the process too). A signal some
 * process sent while the program ignores it is dropped; a fault it
 * ignores kills it, as the kernel does. */
static void fault_default(int sig, int i, const siginfo_t *info, bool ign)
{
	sigaction_fn f = (sigaction_fn)atomic_load_explicit(
		&real_sigaction, memory_order_acquire);
	struct sigaction d = { .sa_handler = SIG_DFL };
	sigset_t one;

	if (ign && info && info->si_code <= 0)
		return;
	atomic_store_explicit(&fault_guarding[i], false, memory_order_relaxed);
	fault_update_guard();
	if (f)
		f(sig, &d, NULL);
	else
		syscall(SYS_rt_sigaction, sig, &d, NULL, sizeof(uint64_t));
	/* Pending until this handler returns (the kernel then restores
	 * the faulting context and its mask, and delivers). */
	sigemptyset(&one);
	sigaddset(&one, sig);
	pthread_sigmask(SIG_BLOCK, &one, NULL);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
}

static void fault_wrapper(int sig, siginfo_t *info, void *uc)
{
	int i = fault_slot(sig), flags, masked;
	void *fn;

	if (i < 0 || uh_user_fault(sig, info, uc))
		return;               /* (uh_user_fault does not return true) */
	fn = atomic_load_explicit(&fault_fn[i], memory_order_acquire);
	flags = atomic_load_explicit(&fault_flags[i], memory_order_relaxed);
	if (fn == (void *)SIG_DFL || fn == (void *)SIG_IGN) {
		fault_default(sig, i, info, fn == (void *)SIG_IGN);
		return;
	}
	if (flags & (int)SA_RESETHAND)     /* one shot: the next is the default */
		atomic_store_explicit(&fault_fn[i], (void *)SIG_DFL,
				      memory_order_release);
	masked = atomic_load_explicit(&fault_masked[i], memory_order_relaxed);
	if (!(flags & SA_NODEFER))        /* blocked in it, as it asked */
		masked |= sig == SIGSEGV ? 1 : 2;
	if (masked) {
		sigset_t m;

		sigemptyset(&m);
		if (masked & 1)
			sigaddset(&m, SIGSEGV);
		if (masked & 2)
			sigaddset(&m, SIGBUS);
		pthread_sigmask(SIG_BLOCK, &m, NULL);
	}
	if (flags & SA_SIGINFO)
		((void (*)(int, siginfo_t *, void *))fn)(sig, info, uc);
	else
		((void (*)(int))fn)(sig);
}

/* The kernel's disposition for guarded @sig: fault_wrapper with the mask
 * and flags of the program's @act, SA_RESETHAND emulated, and SA_NODEFER
 * (emulated the other way): while the wrapper finds whose fault it is, a
 * handler of the program's that interrupts it may fault too, which with
 * the signal blocked the kernel would make fatal. */
/* The program's disposition for slot @i, as the wrapper reads it. */
static void fault_record(int i, void *fn, int flags, int masked)
{
	atomic_store_explicit(&fault_fn[i], fn, memory_order_release);
	atomic_store_explicit(&fault_flags[i], flags, memory_order_relaxed);
	atomic_store_explicit(&fault_masked[i], masked, memory_order_relaxed);
}

static int masked_bits(const struct sigaction *act)
{
	return (sigismember(&act->sa_mask, SIGSEGV) == 1 ? 1 : 0) |
	       (sigismember(&act->sa_mask, SIGBUS) == 1 ? 2 : 0);
}

static struct sigaction fault_wrapped(const struct sigaction *act)
{
	struct sigaction w = *act;

	sigdelset(&w.sa_mask, SIGSEGV);
	sigdelset(&w.sa_mask, SIGBUS);
	w.sa_sigaction = fault_wrapper;
	w.sa_flags = (act->sa_flags | SA_SIGINFO | SA_NODEFER) &
		     ~(int)SA_RESETHAND;
	return w;
}

/* @old as the program installed it, from the kernel's @cur. */
static void fault_unwrap(struct sigaction *old, const struct sigaction *cur,
			 void *fn, int flags, int masked)
{
	const int ours = SA_SIGINFO | SA_NODEFER | (int)SA_RESETHAND;

	*old = *cur;
	if (cur->sa_sigaction != fault_wrapper)
		return;
	/* The kernel's flags (its SA_RESTORER, unknown bits cleared, a
	 * siginterrupt's SA_RESTART) but for those the wrapper rewrites. */
	old->sa_flags = (cur->sa_flags & ~ours) | (flags & ours);
	if (masked & 1)
		sigaddset(&old->sa_mask, SIGSEGV);
	if (masked & 2)
		sigaddset(&old->sa_mask, SIGBUS);
	if (flags & SA_SIGINFO)
		old->sa_sigaction = (void (*)(int, siginfo_t *, void *))fn;
	else
		old->sa_handler = (void (*)(int))fn;
}

/* The guard installed for @sig in front of what the kernel holds now (at
 * the start, or after a libc call installed the program's handler its
 * own way). Under installing[@sig]. */
static void fault_guard(sigaction_fn f, int sig, int i)
{
	struct sigaction cur, w;
	bool on = false;

	if (f(sig, NULL, &cur) != 0 || cur.sa_sigaction == fault_wrapper)
		return;
	fault_record(i, (void *)cur.sa_handler, cur.sa_flags,
		     masked_bits(&cur));
	if (cur.sa_handler != SIG_IGN) {
		w = fault_wrapped(&cur);
		on = f(sig, &w, NULL) == 0;
		if (on && kernel_handler(sig) != (void *)fault_wrapper) {
			/* Another took the kernel's for itself. */
			on = false;
			f(sig, &cur, NULL);
		}
	}
	atomic_store_explicit(&fault_guarding[i], on, memory_order_relaxed);
	fault_update_guard();
}

static int fault_sigaction(sigaction_fn f, int sig, int i,
			   const struct sigaction *act, struct sigaction *old)
{
	struct sigaction a, cur, w;
	void *fn;
	int flags, masked, rc;
	sigset_t saved;

	if (fault_interposed)
		return f(sig, act, old);
	if (act)
		a = *act;          /* read as libc would, before any blocking */
	install_begin(sig, &saved);
	fn = atomic_load_explicit(&fault_fn[i], memory_order_acquire);
	flags = atomic_load_explicit(&fault_flags[i], memory_order_relaxed);
	masked = atomic_load_explicit(&fault_masked[i], memory_order_relaxed);
	if (!act) {
		rc = f(sig, NULL, &cur);
	} else if (a.sa_handler == SIG_IGN) {
		/* Ignored, as the kernel itself holds it (an exec keeps it);
		 * the guard is off meanwhile. */
		atomic_store_explicit(&fault_guarding[i], false,
				      memory_order_relaxed);
		fault_update_guard();
		uh_user_guard_quiesce();   /* no copy may fault now */
		rc = f(sig, &a, &cur);
		if (rc == 0)
			fault_record(i, (void *)SIG_IGN, a.sa_flags,
				     masked_bits(&a));
	} else {
		w = fault_wrapped(&a);
		/* The program's first: the wrapper may run at once. */
		fault_record(i, (void *)a.sa_handler, a.sa_flags,
			     masked_bits(&a));
		rc = f(sig, &w, &cur);
		if (rc != 0) {
			fault_record(i, fn, flags, masked);
		} else {
			atomic_store_explicit(&fault_guarding[i],
				kernel_handler(sig) == (void *)fault_wrapper,
				memory_order_relaxed);
			fault_update_guard();
		}
	}
	install_end(sig, &saved);
	if (rc == 0 && old)
		fault_unwrap(old, &cur, fn, flags, masked);
	return rc;
}

/*
 * The signal() family for a fault signal, as sigaction with the flags
 * glibc gives each (so that the guard is never out of the kernel while
 * the program's handler goes in): signal, bsd_signal and ssignal restart
 * and block the signal in its handler; sysv_signal is one-shot and
 * blocks nothing. sigset's other forms go to libc as they are.
 */
static handler_fn fault_signal(int sig, int i, handler_fn h, int flags,
			       bool mask_self)
{
	sigaction_fn f = (sigaction_fn)lookup(&real_sigaction, "sigaction");
	struct sigaction act = { .sa_handler = h, .sa_flags = flags }, old;

	if (!f || h == SIG_ERR) {
		errno = EINVAL;
		return SIG_ERR;
	}
	sigemptyset(&act.sa_mask);
	if (mask_self)
		sigaddset(&act.sa_mask, sig);
	if (fault_sigaction(f, sig, i, &act, &old) != 0)
		return SIG_ERR;
	return old.sa_handler;
}

static handler_fn fault_sigset(int sig, int i, handler_fn h)
{
	handler_fn r = fault_signal(sig, i, h, 0, false);
	sigset_t one, prev;

	if (r == SIG_ERR)
		return r;
	sigemptyset(&one);
	sigaddset(&one, sig);
	if (pthread_sigmask(SIG_UNBLOCK, &one, &prev) == 0 &&
	    sigismember(&prev, sig))
		return SIG_HOLD;
	return r;
}

/* At the start: the guard in front of each fault signal's disposition;
 * copies go under it only if both took. */
static void fault_init(void)
{
	sigaction_fn f = (sigaction_fn)lookup(&real_sigaction, "sigaction");
	static const int sigs[FAULT_SIGS] = { SIGSEGV, SIGBUS };
	bool all = f != NULL;
	sigset_t saved;

	/* An interposer that keeps its own table of dispositions
	 * (ThreadSanitizer's) reports another handler than the kernel
	 * holds: the guard stays out of its way. */
	for (int i = 0; f && i < FAULT_SIGS; i++) {
		struct sigaction cur;

		if (f(sigs[i], NULL, &cur) != 0 ||
		    kernel_handler(sigs[i]) != (void *)cur.sa_handler)
			all = false;
	}
	fault_interposed = !all;
	for (int i = 0; all && i < FAULT_SIGS; i++) {
		install_begin(sigs[i], &saved);
		fault_guard(f, sigs[i], i);
		install_end(sigs[i], &saved);
	}
}

static int via_sigaction(void *_Atomic *slot, const char *name, int sig,
			 const struct sigaction *act, struct sigaction *old)
{
	sigaction_fn f = (sigaction_fn)lookup(slot, name);
	struct handler_rec *r = NULL, *prev;
	void *fn = act ? (void *)act->sa_handler : NULL;
	struct sigaction a, o;
	sigset_t saved;
	bool added;
	int rc;

	if (!f)
		return -1;
	if (fault_slot(sig) >= 0)
		return fault_sigaction(f, sig, fault_slot(sig), act, old);
	if (!uh_signal_interrupts(sig)) {
		rc = f(sig, act, old);
		if (rc == 0 && act)
			uh_signals_installed(sig, act->sa_handler);
		return rc;
	}
	if (act && is_program_handler(fn))
		r = rec_for(fn, act->sa_flags & SA_SIGINFO);
	/* The program's memory is read and written with no signal blocked,
	 * as libc would: a fault there is its handler's, not fatal. */
	if (act)
		a = *act;
	install_begin(sig, &saved);
	prev = atomic_load_explicit(&user[sig], memory_order_acquire);
	added = added_siginfo[sig];
	if (r) {
		struct sigaction w = wrapped(&a);

		atomic_store_explicit(&user[sig], r, memory_order_release);
		rc = f(sig, &w, &o);
		if (rc != 0)
			atomic_store_explicit(&user[sig], prev,
					      memory_order_release);
		else
			added_siginfo[sig] = !r->siginfo;
	} else {
		rc = f(sig, act ? &a : NULL, &o);
		if (rc == 0 && act)
			added_siginfo[sig] = false;
	}
	install_end(sig, &saved);
	if (rc == 0 && old) {
		*old = o;
		unwrap_reset(old, prev, added);
	}
	if (rc == 0 && act)
		uh_signals_installed(sig, act->sa_handler);
	return rc;
}

/* After a libc call that installed a disposition its own way (signal(),
 * sigset()...): the same disposition, wrapped. */
static void rewrap(int sig)
{
	sigaction_fn f = (sigaction_fn)lookup(&real_sigaction, "sigaction");
	struct sigaction cur, w;
	struct handler_rec *r;
	sigset_t saved;

	if (!f || !uh_signal_interrupts(sig))
		return;
	install_begin(sig, &saved);
	if (f(sig, NULL, &cur) != 0) {
		install_end(sig, &saved);
		return;
	}
	if (is_program_handler((void *)cur.sa_handler) &&
	    (r = rec_for((void *)cur.sa_handler,
			 cur.sa_flags & SA_SIGINFO))) {
		atomic_store_explicit(&user[sig], r, memory_order_release);
		w = wrapped(&cur);
		if (f(sig, &w, NULL) == 0)
			added_siginfo[sig] = !r->siginfo;
	} else if (cur.sa_sigaction != wrapper) {
		added_siginfo[sig] = false;   /* installed as it is */
	}
	install_end(sig, &saved);
}

static handler_fn via_signal(void *_Atomic *slot, const char *name, int sig,
			     handler_fn h)
{
	signal_fn f = (signal_fn)lookup(slot, name);
	struct handler_rec *prev = NULL;
	handler_fn r;

	if (fault_slot(sig) >= 0 && !fault_interposed && h != SIG_HOLD) {
		bool sysv = slot == &real_sysv_signal ||
			    slot == &real___sysv_signal;

		if (slot == &real_sigset)
			return fault_sigset(sig, fault_slot(sig), h);
		return fault_signal(sig, fault_slot(sig), h,
				    sysv ? (int)(SA_RESETHAND | SA_NODEFER)
					 : SA_RESTART, !sysv);
	}
	if (uh_signal_interrupts(sig))
		prev = atomic_load_explicit(&user[sig], memory_order_acquire);
	r = f ? f(sig, h) : SIG_ERR;
	if (r == SIG_ERR)
		return r;
	/* (A handler installed with SA_SIGINFO, returned here, is the
	 * address the program gave: what libc would have returned.) */
	if ((void *)r == (void *)wrapper && prev)
		r = (handler_fn)prev->fn;
	if ((void *)r == (void *)fault_wrapper)   /* sigset(.., SIG_HOLD) */
		r = (handler_fn)atomic_load_explicit(
			&fault_fn[fault_slot(sig)], memory_order_acquire);
	rewrap(sig);
	uh_signals_installed(sig, h);
	return r;
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	return via_sigaction(&real_sigaction, "sigaction", sig, act, old);
}

int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);
EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	return via_sigaction(&real___sigaction, "__sigaction", sig, act, old);
}

EXPORT handler_fn signal(int sig, handler_fn h)
{
	return via_signal(&real_signal, "signal", sig, h);
}

handler_fn bsd_signal(int sig, handler_fn h);
EXPORT handler_fn bsd_signal(int sig, handler_fn h)
{
	return via_signal(&real_bsd_signal, "bsd_signal", sig, h);
}

EXPORT handler_fn ssignal(int sig, handler_fn h)
{
	return via_signal(&real_ssignal, "ssignal", sig, h);
}

EXPORT handler_fn sysv_signal(int sig, handler_fn h)
{
	return via_signal(&real_sysv_signal, "sysv_signal", sig, h);
}

EXPORT handler_fn __sysv_signal(int sig, handler_fn h)
{
	return via_signal(&real___sysv_signal, "__sysv_signal", sig, h);
}

/* glibc's sigignore installs SIG_IGN its own way (not through the
 * sigaction symbol): a fault signal's goes through the guard's. */
static void *_Atomic real_sigignore;

EXPORT int sigignore(int sig)
{
	int (*f)(int);

	if (fault_slot(sig) >= 0 && !fault_interposed)
		return fault_signal(sig, fault_slot(sig), SIG_IGN, 0, false) ==
		       SIG_ERR ? -1 : 0;
	f = (int (*)(int))lookup(&real_sigignore, "sigignore");
	if (!f) {
		errno = ENOSYS;
		return -1;
	}
	return f(sig);
}

EXPORT handler_fn sigset(int sig, handler_fn h)
{
	return via_signal(&real_sigset, "sigset", sig, h);
}

__attribute__((constructor)) static void sigwatch_init(void)
{
	(void)lookup(&real_sigaction, "sigaction");
	(void)lookup(&real_signal, "signal");
	/* Handlers installed before us (other libraries' constructors). */
	for (int sig = 1; sig <= MAX_SIG; sig++)
		rewrap(sig);
	fault_init();
	uh_signals_watch();
}
