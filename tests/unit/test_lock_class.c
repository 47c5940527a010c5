/*
 * test_lock_class.c - class registration and contention counters.
 */
#include <string.h>

#include "testutil.h"

#include "sync/lock_class.h"

static UH_LOCK_CLASS(c_a, "tc.a", UH_RANK_RPC, 0);
static UH_LOCK_CLASS(c_b, "tc.b", UH_RANK_SOCKET, UH_LC_LEAF);

static void test_register__idempotent_and_distinct(void **state)
{
	int a, b;
	(void)state;
	a = uh_lock_class_register(&c_a);
	assert_true(a >= 1);
	assert_int_equal(uh_lock_class_register(&c_a), a);
	assert_int_equal(uh_lock_class_id(&c_a), a);
	b = uh_lock_class_id(&c_b);
	assert_int_not_equal(a, b);
	assert_ptr_equal(uh_lock_class_by_id(a), &c_a);
	assert_ptr_equal(uh_lock_class_by_id(b), &c_b);
	assert_null(uh_lock_class_by_id(0));
	assert_null(uh_lock_class_by_id(UH_LOCK_CLASS_MAX + 1));
}

static void test_stats__miss_counters(void **state)
{
	struct uh_lock_class_stats st[UH_LOCK_CLASS_MAX];
	size_t n;
	int found = 0;
	(void)state;
	uh_lock_class_miss(&c_a, 100);
	uh_lock_class_miss(&c_a, 250);
	n = uh_lock_class_stats(st, UH_LOCK_CLASS_MAX);
	assert_true(n >= 2);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(st[i].name, "tc.a") == 0) {
			assert_int_equal(st[i].misses, 2);
			assert_int_equal(st[i].miss_ns, 350);
			assert_int_equal(st[i].rank, UH_RANK_RPC);
			found = 1;
		}
	}
	assert_true(found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(test_register__idempotent_and_distinct),
		UH_TEST(test_stats__miss_counters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
