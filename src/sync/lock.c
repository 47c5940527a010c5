/*
 * lock.c - the slow paths of uh_lock (see lock.h).
 */
#include "sync/lock.h"

#include <time.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sync/futex.h"
#include "sync/real.h"
#include "util/cycles.h"

/*
 * 500 ns, from the sweep in bench/README.md: on a hammered lock every longer
 * budget only lowers throughput (no spin 26 ns/op, 500 ns 31, 2 us 67,
 * 10 us 90), while a short spin still lets a waiter catch a release that
 * comes within half a microsecond -- the length of a protocol critical
 * section -- without a futex sleep and wake-up, which cost microseconds.
 */
_Atomic uint32_t uh_lock_spin_ns = 500;

void uh_lock_slow(struct uh_lock *l)
{
	uint64_t start = uh_cycles();
	uint64_t budget = uh_ns_to_cycles(atomic_load_explicit(
		&uh_lock_spin_ns, memory_order_relaxed));
	uint32_t c;

	/* Spin while the holder is (probably) running and nobody sleeps. */
	for (unsigned i = 1;; i++) {
		c = atomic_load_explicit(&l->state, memory_order_relaxed);
		if (c == 0) {
			uint32_t expect = 0;

			if (atomic_compare_exchange_weak_explicit(
				    &l->state, &expect, 1,
				    memory_order_acquire,
				    memory_order_relaxed))
				goto done;
		} else if (c == 2) {
			break;      /* sleepers already: join them */
		}
		uh_cpu_relax();
		if ((i & 7) == 0 && uh_cycles() - start >= budget)
			break;
	}

	/* Sleep. Marking the word 2 makes the eventual unlock wake us; having
	 * slept, we must keep it 2 since other sleepers may remain. */
	c = atomic_exchange_explicit(&l->state, 2, memory_order_acquire);
	while (c != 0) {
		uh_futex_wait(&l->state, 2, NULL);
		c = atomic_exchange_explicit(&l->state, 2,
					     memory_order_acquire);
	}
done:
	uh_lock_class_miss(l->cls, uh_cycles_to_ns(uh_cycles() - start));
}

void uh_lock_wake(struct uh_lock *l)
{
	uh_futex_wake(&l->state, 1);
}

#ifdef UHOMA_LOCKDEP
void uh_lock_assert_failed(const struct uh_lock *l, struct uh_srcloc loc)
{
	fprintf(stderr, "uhoma: %s:%d: lock %p (\"%s\") is not held by this thread\n",
		loc.file, loc.line, (const void *)l, l->cls->name);
	abort();
}
#endif

void uh_lock_fork_acquire(struct uh_lock *l)
{
	struct timespec ts = { 0, 20 * 1000 };

	for (;;) {
		uint32_t expect = 0;

		if (atomic_compare_exchange_strong_explicit(
			    &l->state, &expect, 1, memory_order_acquire,
			    memory_order_relaxed))
			return;
		uh_real_nanosleep(&ts, NULL);
	}
}

void uh_lock_fork_release(struct uh_lock *l)
{
	if (atomic_exchange_explicit(&l->state, 0, memory_order_release) == 2)
		uh_lock_wake(l);
}
