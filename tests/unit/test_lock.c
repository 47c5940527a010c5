/*
 * test_lock.c - uh_lock: exclusion, try-lock, the sleep path, and the
 * per-class contention counters.
 */
#include <pthread.h>
#include <string.h>

#include "testutil.h"

#include "sync/lock.h"
#include "util/clock.h"

static UH_LOCK_CLASS(c_t, "tl.lock", UH_RANK_RPC, 0);
static UH_LOCK_CLASS(c_contended, "tl.contended", UH_RANK_RPC, 0);

static struct uh_lock shared_lock;
static uint64_t shared_counter;   /* guarded by shared_lock */

static void *incr(void *p)
{
	long n = (long)p;

	for (long i = 0; i < n; i++) {
		uh_lock(&shared_lock);
		shared_counter++;          /* a plain, racy-if-unlocked RMW */
		uh_unlock(&shared_lock);
	}
	return NULL;
}

static void test_lock__mutual_exclusion(void **state)
{
	pthread_t th[4];
	(void)state;
	uh_lock_init(&shared_lock, &c_t);
	shared_counter = 0;
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, incr, (void *)20000L);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(shared_counter, 80000);
	assert_false(uh_lock_is_locked(&shared_lock));
}

static void *try_other(void *p)
{
	bool got = uh_trylock((struct uh_lock *)p);

	if (got)
		uh_unlock((struct uh_lock *)p);
	return (void *)(long)got;
}

static void test_trylock__fails_when_held(void **state)
{
	struct uh_lock l;
	pthread_t th;
	void *r;
	(void)state;
	uh_lock_init(&l, &c_t);
	assert_true(uh_trylock(&l));
	pthread_create(&th, NULL, try_other, &l);
	pthread_join(th, &r);
	assert_false((long)r);
	uh_unlock(&l);
	pthread_create(&th, NULL, try_other, &l);
	pthread_join(th, &r);
	assert_true((long)r);
}

struct holder_arg {
	struct uh_lock *l;
	_Atomic int held;
	uint64_t hold_ns;
};

static void *hold_for(void *p)
{
	struct holder_arg *h = p;

	uh_lock(h->l);
	atomic_store(&h->held, 1);
	uh_test_sleep_ns(h->hold_ns);
	uh_unlock(h->l);
	return NULL;
}

/* A waiter outlasting the spin budget sleeps in the kernel and is woken;
 * the class records one miss and at least the time it waited. */
static void test_lock__sleeps_and_counts_contention(void **state)
{
	struct uh_lock l;
	struct holder_arg h = { .l = &l, .hold_ns = 30000000 };
	struct uh_lock_class_stats st[UH_LOCK_CLASS_MAX];
	pthread_t th;
	uint64_t t0;
	size_t n;
	(void)state;
	uh_lock_init(&l, &c_contended);
	pthread_create(&th, NULL, hold_for, &h);
	while (!atomic_load(&h.held))
		uh_sleep_ns(100000);
	t0 = uh_now_ns();
	uh_lock(&l);       /* spins 2 us, then sleeps until the unlock */
	assert_true(uh_now_ns() - t0 >= 10000000);
	uh_unlock(&l);
	pthread_join(th, NULL);
	n = uh_lock_class_stats(st, UH_LOCK_CLASS_MAX);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(st[i].name, "tl.contended") == 0) {
			assert_int_equal(st[i].misses, 1);
			assert_true(st[i].miss_ns >= 10000000);
			return;
		}
	}
	fail_msg("class tl.contended not registered");
}

static void test_lock__uncontended_counts_nothing(void **state)
{
	static UH_LOCK_CLASS(c_quiet, "tl.quiet", UH_RANK_RPC, 0);
	struct uh_lock l;
	struct uh_lock_class_stats st[UH_LOCK_CLASS_MAX];
	size_t n;
	(void)state;
	uh_lock_init(&l, &c_quiet);
	for (int i = 0; i < 1000; i++) {
		uh_lock(&l);
		uh_unlock(&l);
	}
	n = uh_lock_class_stats(st, UH_LOCK_CLASS_MAX);
	for (size_t i = 0; i < n; i++)
		if (strcmp(st[i].name, "tl.quiet") == 0)
			assert_int_equal(st[i].misses, 0);
}

static void test_lock__assert_held(void **state)
{
	struct uh_lock l;
	(void)state;
	uh_lock_init(&l, &c_t);
	uh_lock(&l);
	uh_lock_assert_held(&l);   /* aborts if the validator disagrees */
#ifdef UHOMA_LOCKDEP
	assert_true(uh_lockdep_holds(&l));
#endif
	uh_unlock(&l);
#ifdef UHOMA_LOCKDEP
	assert_false(uh_lockdep_holds(&l));
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(test_lock__mutual_exclusion),
		UH_TEST(test_trylock__fails_when_held),
		UH_TEST(test_lock__sleeps_and_counts_contention),
		UH_TEST(test_lock__uncontended_counts_nothing),
		UH_TEST(test_lock__assert_held),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
