/*
 * lock.h - uh_lock: the lock of RPC buckets, sockets, peers and the other
 * protocol locks. Short spin, then sleep on a futex.
 *
 * Why not a pure spinlock: user space cannot disable preemption, and a waiter
 * spinning on a preempted holder burns its whole time slice (on this 2-core
 * machine a spinning pair sharing one CPU costs milliseconds). Why not only
 * a pthread mutex: we want the lock class, the try-first contention counters
 * and the validator hooks in the same word-sized object, and a spin budget
 * tuned for Homa's critical sections (a few hundred ns). bench/README.md has
 * the measurements behind the spin budget.
 *
 * State word (Drepper, "Futexes are tricky", mutex #3):
 *   0 = free, 1 = held, 2 = held and a waiter may be asleep in the kernel.
 *
 * Fast path: one compare-and-swap 0->1 (acquire); unlock: one exchange to 0
 * (release) and a futex wake only if the old value was 2. A failed first CAS
 * counts one miss for the class and times the wait (lock_class.h).
 *
 * Rules (checked by the validator): a uh_lock is released by the thread that
 * took it; take locks only in the order of lock_order.h; hold none across a
 * blocking operation unless the class is UH_LC_SLEEPS.
 */
#ifndef UHOMA_SYNC_LOCK_H
#define UHOMA_SYNC_LOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sync/lock_class.h"
#include "sync/lockdep.h"
#include "sync/yield.h"
#include "util/compiler.h"

struct uh_lock {
	_Atomic uint32_t state;      /* 0 free, 1 held, 2 held + sleepers */
	struct uh_lock_class *cls;   /* immutable after uh_lock_init */
};

#define UH_LOCK_INITIALIZER(clsp) { .state = 0, .cls = (clsp) }

static inline void uh_lock_init(struct uh_lock *l, struct uh_lock_class *cls)
{
	atomic_init(&l->state, 0);
	l->cls = cls;
	uh_lock_class_id(cls);
}

/* Spin budget before sleeping, in ns (tunable for benchmarks; relaxed). */
extern _Atomic uint32_t uh_lock_spin_ns;

/* Slow path: spin, then sleep; counts the miss. Called after a failed CAS. */
void uh_lock_slow(struct uh_lock *l);
/* Wakes one sleeper after an unlock that found the word at 2. */
void uh_lock_wake(struct uh_lock *l);

static inline void uh_lock_acquire_(struct uh_lock *l, unsigned subclass,
				    struct uh_srcloc loc)
{
	uint32_t expect = 0;

	uh_yield_point();
	uh_lockdep_acquire(l, l->cls, subclass, loc);
	if (uh_unlikely(!atomic_compare_exchange_strong_explicit(
		    &l->state, &expect, 1, memory_order_acquire,
		    memory_order_relaxed)))
		uh_lock_slow(l);
	uh_yield_point();
}

static inline bool uh_trylock_(struct uh_lock *l, unsigned subclass,
			       struct uh_srcloc loc)
{
	uint32_t expect = 0;

	uh_yield_point();
	uh_lockdep_try_check(l, l->cls, loc);
	if (!atomic_compare_exchange_strong_explicit(&l->state, &expect, 1,
						     memory_order_acquire,
						     memory_order_relaxed))
		return false;
	uh_lockdep_acquired_try(l, l->cls, subclass, loc);
	return true;
}

static inline void uh_unlock_(struct uh_lock *l, struct uh_srcloc loc)
{
	uh_lockdep_release(l, loc);
	if (uh_unlikely(atomic_exchange_explicit(&l->state, 0,
						 memory_order_release) == 2))
		uh_lock_wake(l);
	uh_yield_point();
}

/*
 * For fork(2) handlers only (pthread_atfork): takes / releases @l outside
 * the validator, which has no model for one thread freezing every lock of
 * a class at once so that the child inherits none of them held by a
 * thread it does not get. Spins politely; never called with a uhoma lock
 * held by the caller.
 */
void uh_lock_fork_acquire(struct uh_lock *l);
void uh_lock_fork_release(struct uh_lock *l);

/* Takes @l, waiting as long as needed. */
#define uh_lock(l) uh_lock_acquire_((l), 0, UH_HERE)
/* Takes @l while a lock of the same class is held: @sub must exceed the
 * subclass of every held lock of that class (e.g. two sockets in address
 * order take subclasses 0 and 1). */
#define uh_lock_nested(l, sub) uh_lock_acquire_((l), (sub), UH_HERE)
/* Takes @l only if it is free at once; true on success. Never waits. */
#define uh_trylock(l) uh_trylock_((l), 0, UH_HERE)
#define uh_unlock(l) uh_unlock_((l), UH_HERE)

/* Asserts (validator builds) that the calling thread holds @l. */
#ifdef UHOMA_LOCKDEP
#define uh_lock_assert_held(l) \
	do { if (!uh_lockdep_holds(l)) uh_lock_assert_failed((l), UH_HERE); } while (0)
void uh_lock_assert_failed(const struct uh_lock *l, struct uh_srcloc loc);
#else
#define uh_lock_assert_held(l) ((void)(l))
#endif

/* True if @l is held by anyone right now (a racy hint, for diagnostics). */
static inline bool uh_lock_is_locked(struct uh_lock *l)
{
	return atomic_load_explicit(&l->state, memory_order_relaxed) != 0;
}

#endif /* UHOMA_SYNC_LOCK_H */
