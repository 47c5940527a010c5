/*
 * sigwatch.c - the preload watches the program install signal handlers.
 *
 * A thread blocked in recvmsg keeps its signals blocked between its
 * waits in the carrier, so that a handled signal is EINTR as under the
 * module -- two system calls per receive that a program catching no
 * signal does not need (runtime/signals.h). The preload knows which kind
 * of program it is in: it surveys the process before main and sees every
 * later handler through the libc calls that install one, each of which it
 * passes on unchanged. glibc's own signal() does not call the sigaction
 * symbol, so each entry point is here.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdatomic.h>
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

static int via_sigaction(void *_Atomic *slot, const char *name, int sig,
			 const struct sigaction *act, struct sigaction *old)
{
	sigaction_fn f = (sigaction_fn)lookup(slot, name);
	int r = f ? f(sig, act, old) : -1;

	if (r == 0 && act)
		uh_signals_installed(sig, act->sa_handler);
	return r;
}

static handler_fn via_signal(void *_Atomic *slot, const char *name, int sig,
			     handler_fn h)
{
	signal_fn f = (signal_fn)lookup(slot, name);
	handler_fn r = f ? f(sig, h) : SIG_ERR;

	if (r != SIG_ERR)
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
	uh_signals_watch();
}
