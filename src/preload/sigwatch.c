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
 * returned (uh_signals_handled), unless the signal was sent to one thread
 * by name (SI_TKILL: raise, pthread_kill), which under the module too
 * interrupts only that thread. After the handler, so that a waiter woken
 * by the report finds what the handler did (a stop flag).
 *
 * The program sees its own handlers: sigaction and signal report the
 * handler (and SA_SIGINFO) it installed, never the wrapper. A handler
 * installed before this library's constructor is wrapped there; one
 * installed by a raw rt_sigaction system call is not wrapped.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "runtime/signals.h"

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

static void wrapper(int sig, siginfo_t *info, void *uc)
{
	struct handler_rec *r = NULL;

	if (sig >= 1 && sig <= MAX_SIG)
		r = atomic_load_explicit(&user[sig], memory_order_acquire);
	if (r && r->siginfo)
		((void (*)(int, siginfo_t *, void *))r->fn)(sig, info, uc);
	else if (r)
		((void (*)(int))r->fn)(sig);
	if (!info || info->si_code != SI_TKILL)
		uh_signals_handled(sig);
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

static int via_sigaction(void *_Atomic *slot, const char *name, int sig,
			 const struct sigaction *act, struct sigaction *old)
{
	sigaction_fn f = (sigaction_fn)lookup(slot, name);
	struct handler_rec *r = NULL, *prev = NULL;
	void *fn = act ? (void *)act->sa_handler : NULL;
	int rc;

	if (!f)
		return -1;
	if (uh_signal_interrupts(sig))
		prev = atomic_load_explicit(&user[sig], memory_order_acquire);
	if (act && uh_signal_interrupts(sig) && is_program_handler(fn))
		r = rec_for(fn, act->sa_flags & SA_SIGINFO);
	if (r) {
		struct sigaction w = wrapped(act);

		prev = atomic_exchange_explicit(&user[sig], r,
						memory_order_acq_rel);
		rc = f(sig, &w, old);
		if (rc != 0)
			atomic_store_explicit(&user[sig], prev,
					      memory_order_release);
	} else {
		rc = f(sig, act, old);
	}
	if (rc == 0)
		unwrap(old, prev);
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

	if (!f || !uh_signal_interrupts(sig) || f(sig, NULL, &cur) != 0 ||
	    !is_program_handler((void *)cur.sa_handler))
		return;
	r = rec_for((void *)cur.sa_handler, cur.sa_flags & SA_SIGINFO);
	if (!r)
		return;
	atomic_store_explicit(&user[sig], r, memory_order_release);
	w = wrapped(&cur);
	(void)f(sig, &w, NULL);
}

static handler_fn via_signal(void *_Atomic *slot, const char *name, int sig,
			     handler_fn h)
{
	signal_fn f = (signal_fn)lookup(slot, name);
	struct handler_rec *prev = NULL;
	handler_fn r;

	if (uh_signal_interrupts(sig))
		prev = atomic_load_explicit(&user[sig], memory_order_acquire);
	r = f ? f(sig, h) : SIG_ERR;
	if (r == SIG_ERR)
		return r;
	/* (A handler installed with SA_SIGINFO, returned here, is the
	 * address the program gave: what libc would have returned.) */
	if ((void *)r == (void *)wrapper && prev)
		r = (handler_fn)prev->fn;
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
	uh_signals_watch();
}
