/*
 * pi_lock.h - uh_pi_lock: a lock that lends its waiters' priority to its
 * holder, for the few places where a real-time thread (the pacer) can wait on
 * a lock held by an ordinary thread.
 *
 * Built on the kernel's PI futexes (FUTEX_LOCK_PI): the lock word holds the
 * owner's kernel thread id, the uncontended path is one compare-and-swap in
 * user space, and on contention the kernel queues the waiter by priority and
 * boosts the owner (and transitively the owner's own blocking chain) until
 * it unlocks. Inheritance only helps when the waiter is SCHED_FIFO/RR (the
 * kernel does not lend nice values), and no spinning happens: a contended
 * acquisition always enters the kernel. Use uh_lock everywhere else.
 *
 * With inherit == false the same object is a plain futex mutex without
 * inheritance; the test of this file uses it to reproduce the inversion.
 */
#ifndef UHOMA_SYNC_PI_LOCK_H
#define UHOMA_SYNC_PI_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sync/lock_class.h"
#include "util/compiler.h"

struct uh_pi_lock {
	_Atomic uint32_t word;      /* PI: owner TID | FUTEX_WAITERS; else 0/1/2 */
	struct uh_lock_class *cls;  /* immutable after init */
	bool inherit;               /* immutable after init */
};

void uh_pi_lock_init(struct uh_pi_lock *l, struct uh_lock_class *cls,
		     bool inherit);

void uh_pi_lock_(struct uh_pi_lock *l, struct uh_srcloc loc);
bool uh_pi_trylock_(struct uh_pi_lock *l, struct uh_srcloc loc);
void uh_pi_unlock_(struct uh_pi_lock *l, struct uh_srcloc loc);

#define uh_pi_lock(l) uh_pi_lock_((l), UH_HERE)
#define uh_pi_trylock(l) uh_pi_trylock_((l), UH_HERE)
#define uh_pi_unlock(l) uh_pi_unlock_((l), UH_HERE)

/* The calling thread's kernel thread id (cached). */
uint32_t uh_gettid(void);

#endif /* UHOMA_SYNC_PI_LOCK_H */
