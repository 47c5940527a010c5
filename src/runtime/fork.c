/*
 * fork.c - the pthread_atfork handlers that make fork(2) without exec safe
 * (fork.h).
 */
#include <pthread.h>

#include "mem/cache.h"
#include "runtime/fork.h"
#include "sync/lock_class.h"
#include "sync/lockdep.h"
#include "sync/rcu.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Read sections first (a grace period must not wait with a lock held),
 * then the caches, the class registry and the validator's own locks. */
static void prepare(void)
{
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
}

static void child(void)
{
	release();
	uh_rcu_fork_child();
}

static void install(void)
{
	pthread_atfork(prepare, parent, child);
}

void uh_fork_handlers_install(void)
{
	pthread_once(&once, install);
}
