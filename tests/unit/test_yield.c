/*
 * test_yield.c - yield injection is off by default and works when on.
 */
#include "testutil.h"

#include "sync/lock.h"
#include "sync/yield.h"

static UH_LOCK_CLASS(c_y, "ty.lock", UH_RANK_RPC, 0);

static void test_yield__points_yield_when_enabled(void **state)
{
	struct uh_lock l;
	unsigned long before;
	(void)state;
#ifndef UHOMA_YIELD_INJECT
	skip();
#endif
	uh_lock_init(&l, &c_y);
	unsigned prev = uh_yield_set(0);
	before = uh_yield_count();
	for (int i = 0; i < 1000; i++) {
		uh_lock(&l);
		uh_unlock(&l);
	}
	assert_int_equal(uh_yield_count(), before);
	uh_yield_set(1000);   /* every point yields */
	for (int i = 0; i < 100; i++) {
		uh_lock(&l);
		uh_unlock(&l);
	}
	uh_yield_set(prev);
	/* acquire: 2 points, release: 1 point */
	assert_true(uh_yield_count() - before >= 300);
}

static void test_yield__set_clamps(void **state)
{
	(void)state;
#ifndef UHOMA_YIELD_INJECT
	skip();
#endif
	unsigned prev = uh_yield_set(5000);
	assert_int_equal(uh_yield_set(prev), 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(test_yield__points_yield_when_enabled),
		UH_TEST(test_yield__set_clamps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
