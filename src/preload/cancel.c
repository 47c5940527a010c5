/*
 * cancel.c - pthread_cancel reaches a thread waiting in a Homa recvmsg.
 *
 * The preload's recvmsg keeps cancellation disabled while it is inside
 * uhoma (preload.c says why), and glibc sends a thread that disabled
 * cancellation no signal: the request would wait for the next message,
 * and that message would be lost with the thread. So the request is
 * counted (runtime/signals.h) and every thread waiting on a Homa socket
 * is woken; each sees the count move, leaves its wait, and looks in
 * recvmsg whether the request was for it. A request is rare; a few
 * threads woken for nothing is its cost.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>

#include "api/api.h"
#include "preload/fdtable.h"
#include "runtime/signals.h"

#define EXPORT __attribute__((visibility("default")))

typedef int (*cancel_fn)(pthread_t);

static void *_Atomic real_cancel;

EXPORT int pthread_cancel(pthread_t th)
{
	cancel_fn f = (cancel_fn)atomic_load_explicit(&real_cancel,
						      memory_order_acquire);
	int r;

	if (!f) {
		f = (cancel_fn)dlsym(RTLD_NEXT, "pthread_cancel");
		atomic_store_explicit(&real_cancel, (void *)f,
				      memory_order_release);
	}
	r = f ? f(th) : -1;
	if (r != 0)
		return r;
	uh_signals_cancel_requested();
	for (int fd = 0; fd <= fdt_high(); fd++) {
		struct hsock *h = fdt_get(fd);

		if (h) {
			uh_api_wake_waiters(h->s);
			fdt_put(h);
		}
	}
	return 0;
}
