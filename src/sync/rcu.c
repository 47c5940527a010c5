/*
 * rcu.c - registration and the blocking half of uhoma's RCU layer.
 */
#include "sync/rcu.h"

#include <pthread.h>
#include <stdlib.h>

__thread bool uh_rcu_registered;
char uh_rcu_tsan_gp;
/* TSan only: callbacks done -> uh_rcu_barrier returns. */
static char tsan_callbacks_done;

static pthread_key_t unregister_key;
static pthread_once_t unregister_once = PTHREAD_ONCE_INIT;

static void unregister_at_exit(void *arg)
{
	(void)arg;
	if (uh_rcu_registered) {
		urcu_memb_unregister_thread();
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
	urcu_memb_register_thread();
	uh_rcu_registered = true;
	/* Any non-NULL value makes the destructor run at thread exit. */
	pthread_setspecific(unregister_key, &uh_rcu_registered);
}

void uh_synchronize_rcu_(struct uh_srcloc loc)
{
	if (!uh_lockdep_synchronize_rcu(loc))
		return;   /* reported: it would never return */
	uh_rcu_ensure_registered();
	urcu_memb_synchronize_rcu();
	uh_tsan_acquire(&uh_rcu_tsan_gp);
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
