/*
 * fork.c - the pthread_atfork handlers that make fork(2) without exec safe
 * (fork.h).
 */
#include <pthread.h>
#include <signal.h>

#include "mem/cache.h"
#include "core/carrier.h"
#include "net/ownfd.h"
#include "runtime/fork.h"
#include "runtime/signals.h"
#include "sync/lock_class.h"
#include "sync/lockdep.h"
#include "sync/rcu.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;

/* The forking thread's signal mask, blocked from prepare to parent and
 * child: a handler that ran meanwhile and called into uhoma (the preload
 * lets a program's handler send or close) would wait for the locks the
 * fork holds, on the thread that holds them (helper-35: every run hung).
 * A signal that comes meanwhile is delivered once they are let go. */
static __thread sigset_t fork_mask;

#define TRACK_MAX 256
/* Outside the validator: the fork handlers hold it from prepare to parent
 * and child (docs/design.md §3.3). */
static pthread_mutex_t track_lock = PTHREAD_MUTEX_INITIALIZER;
static struct uh_carrier *tracked[TRACK_MAX];   /* track_lock */

void uh_fork_track(struct uh_carrier *c)
{
	pthread_mutex_lock(&track_lock);
	for (unsigned i = 0; i < TRACK_MAX; i++)
		if (!tracked[i]) {
			tracked[i] = c;
			break;
		}
	pthread_mutex_unlock(&track_lock);
}

void uh_fork_untrack(struct uh_carrier *c)
{
	pthread_mutex_lock(&track_lock);
	for (unsigned i = 0; i < TRACK_MAX; i++)
		if (tracked[i] == c)
			tracked[i] = NULL;
	pthread_mutex_unlock(&track_lock);
}

/* Read sections first (a grace period must not wait with a lock held),
 * then the caches, the class registry and the validator's own locks. */
static void prepare(void)
{
	sigset_t all;

	uh_signals_async(&all);
	pthread_sigmask(SIG_BLOCK, &all, &fork_mask);
	pthread_mutex_lock(&track_lock);
	uh_rcu_fork_prepare();
	uh_cache_fork_prepare();
	uh_lock_class_fork_prepare();
	uh_lockdep_fork_prepare();
}

static void release(void)
{
	uh_lockdep_fork_release();
	uh_lock_class_fork_release();
	uh_cache_fork_release();
}

static void parent(void)
{
	release();
	uh_rcu_fork_parent();
	pthread_mutex_unlock(&track_lock);
	pthread_sigmask(SIG_SETMASK, &fork_mask, NULL);
}

static void child(void)
{
	release();
	uh_rcu_fork_child();
	/* The parent's stacks are not the child's: their ports are let go
	 * (the carriers' memory stays, never used again here). */
	for (unsigned i = 0; i < TRACK_MAX; i++) {
		if (tracked[i] && tracked[i]->ops->forget)
			tracked[i]->ops->forget(tracked[i]);
		tracked[i] = NULL;
	}
	/* What is left of theirs (readiness pairs) the program may close. */
	uh_fd_fork_child();
	pthread_mutex_unlock(&track_lock);
	pthread_sigmask(SIG_SETMASK, &fork_mask, NULL);
}

static void install(void)
{
	pthread_atfork(prepare, parent, child);
}

void uh_fork_handlers_install(void)
{
	pthread_once(&once, install);
}
