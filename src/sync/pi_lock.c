/*
 * pi_lock.c - the priority-inheriting lock (see pi_lock.h).
 */
#include "sync/pi_lock.h"

#include <stdio.h>
#include <stdlib.h>

#include "sync/futex.h"
#include "sync/lockdep.h"
#include "sync/tsan.h"
#include "sync/yield.h"
#include "util/cycles.h"

static __thread uint32_t cached_tid;

uint32_t uh_gettid(void)
{
	if (uh_unlikely(cached_tid == 0))
		cached_tid = (uint32_t)syscall(SYS_gettid);
	return cached_tid;
}

void uh_pi_lock_init(struct uh_pi_lock *l, struct uh_lock_class *cls,
		     bool inherit)
{
	atomic_init(&l->word, 0);
	l->cls = cls;
	l->inherit = inherit;
	uh_lock_class_id(cls);
}

static bool try_word(struct uh_pi_lock *l)
{
	uint32_t expect = 0;
	uint32_t mine = l->inherit ? uh_gettid() : 1;

	return atomic_compare_exchange_strong_explicit(
		&l->word, &expect, mine, memory_order_acquire,
		memory_order_relaxed);
}

static void lock_slow_pi(struct uh_pi_lock *l)
{
	for (;;) {
		long r = uh_futex(&l->word, FUTEX_LOCK_PI_PRIVATE, 0, NULL);

		if (r == 0)
			return;
		if (errno == EINTR || errno == EAGAIN)
			continue;   /* owner exiting, or interrupted: retry */
		fprintf(stderr, "uhoma: FUTEX_LOCK_PI failed: errno %d\n",
			errno);
		abort();
	}
}

static void lock_slow_plain(struct uh_pi_lock *l)
{
	uint32_t c = atomic_exchange_explicit(&l->word, 2,
					      memory_order_acquire);

	while (c != 0) {
		uh_futex_wait(&l->word, 2, NULL);
		c = atomic_exchange_explicit(&l->word, 2,
					     memory_order_acquire);
	}
}

void uh_pi_lock_(struct uh_pi_lock *l, struct uh_srcloc loc)
{
	uh_yield_point();
	uh_lockdep_acquire(l, l->cls, 0, loc);
	if (uh_unlikely(!try_word(l))) {
		uint64_t start = uh_cycles();

		if (l->inherit)
			lock_slow_pi(l);
		else
			lock_slow_plain(l);
		uh_lock_class_miss(l->cls,
				   uh_cycles_to_ns(uh_cycles() - start));
	}
	uh_tsan_acquire(l);
}

bool uh_pi_trylock_(struct uh_pi_lock *l, struct uh_srcloc loc)
{
	uh_lockdep_try_check(l, l->cls, loc);
	if (!try_word(l))
		return false;
	uh_tsan_acquire(l);
	uh_lockdep_acquired_try(l, l->cls, 0, loc);
	return true;
}

void uh_pi_unlock_(struct uh_pi_lock *l, struct uh_srcloc loc)
{
	uh_lockdep_release(l, loc);
	uh_tsan_release(l);
	if (l->inherit) {
		uint32_t expect = uh_gettid();

		/* Fails only if the kernel set FUTEX_WAITERS: let it hand the
		 * lock to the highest-priority waiter and unboost us. */
		if (!atomic_compare_exchange_strong_explicit(
			    &l->word, &expect, 0, memory_order_release,
			    memory_order_relaxed))
			uh_futex(&l->word, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL);
	} else if (atomic_exchange_explicit(&l->word, 0,
					    memory_order_release) == 2) {
		uh_futex_wake(&l->word, 1);
	}
	uh_yield_point();
}
