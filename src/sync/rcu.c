/*
 * rcu.c - registration and the blocking half of uhoma's RCU layer.
 */
#include "sync/rcu.h"

#include <urcu/static/urcu-memb.h>

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "sync/real.h"

__thread bool uh_rcu_registered;
char uh_rcu_tsan_gp;
_Atomic int uh_rcu_fork_gate;
__thread unsigned uh_rcu_depth;
/* Serializes grace periods with a fork being prepared: the child must not
 * inherit liburcu's grace-period lock held by a thread it does not get. */
static pthread_mutex_t sync_mutex = PTHREAD_MUTEX_INITIALIZER;
/* Serializes liburcu's registry changes with a fork being prepared: a
 * thread registering at the instant of the fork would leave the child a
 * torn registry list. */
static pthread_mutex_t reg_mutex = PTHREAD_MUTEX_INITIALIZER;

/*
 * The threads uhoma registered with liburcu and where their reader records
 * are (reg_mutex). A fork child must unlink the records of the threads it
 * did not get from liburcu's registry: glibc gives their stacks -- and the
 * thread-local records in them -- to the child's next threads, which would
 * reinitialize records still linked in the registry (the child's first
 * grace period then follows a NULL link).
 */
struct reader_rec {
	pthread_t tid;
	struct urcu_reader *reader;
};
static struct reader_rec *readers;      /* reg_mutex */
static size_t nreaders, readers_cap;    /* reg_mutex */

/* reg_mutex held. false if out of memory (the thread is then not
 * tracked: only a fork child could notice). */
static bool track_reader(void)
{
	if (nreaders == readers_cap) {
		size_t cap = readers_cap ? 2 * readers_cap : 16;
		struct reader_rec *r = uh_real_realloc(readers, cap * sizeof(*r));

		if (!r)
			return false;
		readers = r;
		readers_cap = cap;
	}
	readers[nreaders].tid = pthread_self();
	readers[nreaders].reader = &URCU_TLS(urcu_memb_reader);
	nreaders++;
	return true;
}

/* reg_mutex held. */
static void untrack_reader(void)
{
	for (size_t i = 0; i < nreaders; i++)
		if (pthread_equal(readers[i].tid, pthread_self())) {
			readers[i] = readers[--nreaders];
			return;
		}
}
/* TSan only: callbacks done -> uh_rcu_barrier returns. */
static char tsan_callbacks_done;

static pthread_key_t unregister_key;
static pthread_once_t unregister_once = PTHREAD_ONCE_INIT;

static void unregister_at_exit(void *arg)
{
	(void)arg;
	if (uh_rcu_registered) {
		uh_real_pthread_mutex_lock(&reg_mutex);
		urcu_memb_unregister_thread();
		untrack_reader();
		pthread_mutex_unlock(&reg_mutex);
		uh_rcu_registered = false;
	}
}

static void make_key(void)
{
	if (pthread_key_create(&unregister_key, unregister_at_exit) != 0)
		abort();
}

void uh_rcu_register_slow(void)
{
	pthread_once(&unregister_once, make_key);
	uh_real_pthread_mutex_lock(&reg_mutex);
	urcu_memb_register_thread();
	(void)track_reader();
	pthread_mutex_unlock(&reg_mutex);
	uh_rcu_registered = true;
	/* Any non-NULL value makes the destructor run at thread exit. */
	pthread_setspecific(unregister_key, &uh_rcu_registered);
}

void uh_synchronize_rcu_(struct uh_srcloc loc)
{
	if (!uh_lockdep_synchronize_rcu(loc))
		return;   /* reported: it would never return */
	uh_rcu_ensure_registered();
	uh_real_pthread_mutex_lock(&sync_mutex);
	urcu_memb_synchronize_rcu();
	pthread_mutex_unlock(&sync_mutex);
	uh_tsan_acquire(&uh_rcu_tsan_gp);
}

void uh_rcu_gate_wait(void)
{
	struct timespec ts = { 0, 100 * 1000 };

	while (atomic_load(&uh_rcu_fork_gate))
		uh_real_nanosleep(&ts, NULL);
}

/*
 * fork(2) without exec: the child gets only the forking thread. Before the
 * fork, liburcu's callback threads pause (between callbacks), the gate
 * closes and a grace period drains every read section, so that no thread
 * is inside one (or inside liburcu's grace period) when the child is made.
 * After it, the gate opens in both processes.
 */
void uh_rcu_fork_prepare(void)
{
	uh_rcu_ensure_registered();
	urcu_memb_call_rcu_before_fork();
	uh_real_pthread_mutex_lock(&sync_mutex);
	atomic_store(&uh_rcu_fork_gate, 1);
	urcu_memb_synchronize_rcu();
	uh_real_pthread_mutex_lock(&reg_mutex);
}

void uh_rcu_fork_parent(void)
{
	pthread_mutex_unlock(&reg_mutex);
	atomic_store(&uh_rcu_fork_gate, 0);
	pthread_mutex_unlock(&sync_mutex);
	urcu_memb_call_rcu_after_fork_parent();
}

void uh_rcu_fork_child(void)
{
	/* Only this thread exists: unlink the others' reader records (they
	 * are all outside read sections, the gate saw to it), so that no
	 * grace period of the child waits for them or walks into their
	 * reused stacks. liburcu's registry lock is free here: it was only
	 * ever held by threads inside liburcu, which reg_mutex and sync_mutex
	 * kept out. */
	for (size_t i = 0; i < nreaders;) {
		if (pthread_equal(readers[i].tid, pthread_self())) {
			i++;
			continue;
		}
		cds_list_del(&readers[i].reader->node);
		readers[i].reader->registered = 0;
		readers[i] = readers[--nreaders];
	}
	pthread_mutex_unlock(&reg_mutex);
	atomic_store(&uh_rcu_fork_gate, 0);
	pthread_mutex_unlock(&sync_mutex);
	urcu_memb_call_rcu_after_fork_child();
}

static void call_rcu_trampoline(struct rcu_head *rh)
{
	struct uh_rcu_head *h = caa_container_of(rh, struct uh_rcu_head, urcu);

	/* liburcu hands the head over through its own lock-free queue and
	 * the grace period through membarrier: state both edges for TSan. */
	uh_tsan_acquire(h);
	uh_tsan_acquire(&uh_rcu_tsan_gp);
	/* liburcu registered its callback thread itself: a read section in
	 * a callback must not register it a second time (an assertion in
	 * liburcu), nor unregister it at exit. */
	uh_rcu_registered = true;
#ifdef UHOMA_LOCKDEP
	uh_lockdep_callback_enter(h->queued);
#endif
	h->fn(h);
	uh_lockdep_callback_exit();
	uh_tsan_release(&tsan_callbacks_done);
}

void uh_call_rcu_(struct uh_rcu_head *head, void (*fn)(struct uh_rcu_head *),
		  struct uh_srcloc loc)
{
	uh_rcu_ensure_registered();
	head->fn = fn;
#ifdef UHOMA_LOCKDEP
	head->queued = loc;
#else
	(void)loc;
#endif
	uh_tsan_release(head);
	urcu_memb_call_rcu(&head->urcu, call_rcu_trampoline);
}

void uh_rcu_barrier_(struct uh_srcloc loc)
{
	if (!uh_lockdep_rcu_barrier(loc))
		return;
	uh_rcu_ensure_registered();
	urcu_memb_barrier();
	uh_tsan_acquire(&tsan_callbacks_done);
}
