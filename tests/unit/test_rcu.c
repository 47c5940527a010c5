/*
 * test_rcu.c - the RCU layer: publication, grace periods that really wait
 * for readers, deferred callbacks, automatic thread registration.
 */
#include <pthread.h>
#include <stdlib.h>

#include "testutil.h"

#include "sync/rcu.h"
#include "util/clock.h"

struct obj {
	int value;
	struct uh_rcu_head rh;
};

static struct obj *gp;   /* RCU-protected */

static void test_rcu__publish_and_read(void **state)
{
	static struct obj o = { .value = 7 };
	struct obj *p;
	(void)state;
	uh_rcu_assign_pointer(gp, &o);
	uh_rcu_read_lock();
	p = uh_rcu_dereference(gp);
	assert_int_equal(p->value, 7);
	uh_rcu_read_unlock();
	uh_rcu_assign_pointer(gp, NULL);
}

struct reader_arg {
	_Atomic int inside;
	_Atomic int entered;
};

static void *long_reader(void *p)
{
	struct reader_arg *a = p;

	uh_rcu_read_lock();   /* first use in this thread: auto-registers */
	atomic_store(&a->inside, 1);
	atomic_store(&a->entered, 1);
	uh_test_sleep_ns(50000000);
	atomic_store(&a->inside, 0);
	uh_rcu_read_unlock();
	return NULL;
}

static void test_rcu__synchronize_waits_for_reader(void **state)
{
	struct reader_arg a = { 0 };
	pthread_t th;
	uint64_t t0;
	(void)state;
	pthread_create(&th, NULL, long_reader, &a);
	while (!atomic_load(&a.entered))
		uh_test_sleep_ns(100000);
	t0 = uh_now_ns();
	uh_synchronize_rcu();
	assert_int_equal(atomic_load(&a.inside), 0);
	assert_true(uh_now_ns() - t0 >= 10000000);
	pthread_join(th, NULL);
}

static _Atomic int callbacks_run;

static void free_obj(struct uh_rcu_head *h)
{
	struct obj *o = uh_container_of(h, struct obj, rh);

	atomic_fetch_add(&callbacks_run, 1);
	free(o);
}

static void test_rcu__call_rcu_and_barrier(void **state)
{
	(void)state;
	atomic_store(&callbacks_run, 0);
	for (int i = 0; i < 100; i++) {
		struct obj *o = malloc(sizeof(*o));

		assert_non_null(o);
		o->value = i;
		uh_call_rcu(&o->rh, free_obj);
	}
	uh_rcu_barrier();
	assert_int_equal(atomic_load(&callbacks_run), 100);
}

static void test_rcu__callback_waits_for_reader(void **state)
{
	struct obj *o = malloc(sizeof(*o));
	(void)state;
	assert_non_null(o);
	atomic_store(&callbacks_run, 0);
	uh_rcu_read_lock();
	uh_call_rcu(&o->rh, free_obj);   /* allowed inside a read section */
	uh_test_sleep_ns(20000000);
	assert_int_equal(atomic_load(&callbacks_run), 0);
	uh_rcu_read_unlock();
	uh_rcu_barrier();
	assert_int_equal(atomic_load(&callbacks_run), 1);
}

static void test_rcu__nesting(void **state)
{
	(void)state;
	uh_rcu_read_lock();
	uh_rcu_read_lock();
#ifdef UHOMA_LOCKDEP
	assert_int_equal(uh_lockdep_rcu_depth(), 2);
#endif
	uh_rcu_read_unlock();
	uh_rcu_read_unlock();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(test_rcu__publish_and_read),
		UH_TEST(test_rcu__synchronize_waits_for_reader),
		UH_TEST(test_rcu__call_rcu_and_barrier),
		UH_TEST(test_rcu__callback_waits_for_reader),
		UH_TEST(test_rcu__nesting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
