/*
 * test_clock.c - the monotonic clock, thread CPU time and sleep.
 */
#include "testutil.h"

#include "util/clock.h"

static void test_now_ns__monotonic(void **state)
{
	uint64_t a = uh_now_ns(), b = uh_now_ns();
	(void)state;
	assert_true(b >= a);
}

static void test_sleep_ns__sleeps_at_least(void **state)
{
	uint64_t a = uh_now_ns();
	(void)state;
	uh_sleep_ns(2000000);
	assert_true(uh_now_ns() - a >= 2000000);
}

static void test_thread_cpu_ns__sleep_costs_no_cpu(void **state)
{
	uint64_t c0 = uh_thread_cpu_ns();
	volatile uint64_t x = 0;
	(void)state;
	uh_sleep_ns(20000000);
	assert_true(uh_thread_cpu_ns() - c0 < 10000000);
	c0 = uh_thread_cpu_ns();
	for (uint64_t i = 0; i < 20000000; i++)
		x += i;
	assert_true(uh_thread_cpu_ns() > c0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(test_now_ns__monotonic),
		UH_TEST(test_sleep_ns__sleeps_at_least),
		UH_TEST(test_thread_cpu_ns__sleep_costs_no_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
