/*
 * test_cpuidle.c - the busy-poll policy's verdict (runtime/cpuidle.c):
 * busy only after three busy readings 16 us apart, readings spaced out
 * while it stays busy, one idle reading enough to poll again, and one reading per 16 us for the whole process
 * however many threads poll.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "testutil.h"

#include "runtime/cpuidle.h"

static _Atomic long fake_runnable;
static _Atomic unsigned reads;

static long fake(void)
{
	atomic_fetch_add(&reads, 1);
	return atomic_load(&fake_runnable);
}

static long cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? n : 1;
}

static void use_fake(long runnable)
{
	uh_cpu_idle_test_source(fake);
	atomic_store(&fake_runnable, runnable);
	atomic_store(&reads, 0);
}

static void test_cpu_idle__busy_after_48us_of_busy_readings(void **state)
{
	uint64_t t = 1000000;

	(void)state;
	use_fake(cpus() + 1);
	assert_true(uh_cpu_idle(t));            /* 1st busy reading */
	assert_true(uh_cpu_idle(t + 15999));    /* too soon: no reading */
	assert_int_equal(atomic_load(&reads), 1);
	assert_true(uh_cpu_idle(t + 16000));    /* 2nd */
	assert_false(uh_cpu_idle(t + 32000));   /* 3rd: busy */
	assert_false(uh_cpu_idle(t + 40000));   /* the verdict stands */
	assert_false(uh_cpu_idle(t + 48000));   /* 4th, still busy */
	assert_int_equal(atomic_load(&reads), 4);
	atomic_store(&fake_runnable, cpus());   /* exactly one per CPU */
	assert_true(uh_cpu_idle(t + 80000));    /* 5th: after 32 us */
	assert_int_equal(atomic_load(&reads), 5);
	uh_cpu_idle_test_source(NULL);
}

static void test_cpu_idle__one_idle_reading_resets(void **state)
{
	uint64_t t = 1000000;

	(void)state;
	use_fake(cpus() + 3);
	assert_true(uh_cpu_idle(t));
	assert_true(uh_cpu_idle(t + 16000));
	atomic_store(&fake_runnable, 1);
	assert_true(uh_cpu_idle(t + 32000));
	atomic_store(&fake_runnable, cpus() + 3);
	assert_true(uh_cpu_idle(t + 48000));
	assert_true(uh_cpu_idle(t + 64000));
	assert_false(uh_cpu_idle(t + 80000));
	uh_cpu_idle_test_source(NULL);
}

/* A host that stays busy is read less and less often, down to one
 * reading per 256 us; the first idle reading ends the spacing. */
static void test_cpu_idle__busy_readings_space_out(void **state)
{
	uint64_t t = 1000000, end = t + 10000000;
	unsigned n;

	(void)state;
	use_fake(cpus() + 1);
	for (uint64_t now = t; now < end; now += 1000)
		(void)uh_cpu_idle(now);
	n = atomic_load(&reads);
	/* 10 ms: 16 us readings would be 625; spaced, about 40 + 5. */
	assert_true(n >= 10000000 / 256000);
	assert_true(n <= 10000000 / 256000 + 8);
	atomic_store(&fake_runnable, 1);
	assert_true(uh_cpu_idle(end + 1000000));   /* read: idle */
	atomic_store(&fake_runnable, cpus() + 1);
	assert_true(uh_cpu_idle(end + 1016000));   /* 16 us again */
	assert_int_equal(atomic_load(&reads), n + 2);
	uh_cpu_idle_test_source(NULL);
}

static void test_cpu_idle__unreadable_source_polls(void **state)
{
	(void)state;
	use_fake(-1);
	for (uint64_t t = 1000000; t < 1200000; t += 16000)
		assert_true(uh_cpu_idle(t));
	uh_cpu_idle_test_source(NULL);
}

#define STEPS 200000
#define STEP_NS 1000

static void *poller(void *arg)
{
	(void)arg;
	for (uint64_t i = 16; i < STEPS; i++) {
		(void)uh_cpu_idle(i * STEP_NS);
		if (i % 64 == 0)
			sched_yield();   /* interleave the two pollers */
	}
	return NULL;
}

/* Two pollers with their own clocks, each a little behind or ahead of the
 * other: the process still reads at most once per 16 us of time (a
 * reading per thread would be twice that), and a caller's older time
 * never moves the shared one back. */
static void test_cpu_idle__pollers_share_one_reading(void **state)
{
	pthread_t a, b;

	(void)state;
	use_fake(1);
	assert_int_equal(pthread_create(&a, NULL, poller, NULL), 0);
	assert_int_equal(pthread_create(&b, NULL, poller, NULL), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert_true(atomic_load(&reads) >= 1);
	assert_true(atomic_load(&reads) <= STEPS * STEP_NS / 16000 + 1);
	uh_cpu_idle_test_source(NULL);
}

/* The real /proc/loadavg parses: this thread, running, is counted. */
static void test_cpu_runnable__counts_the_caller(void **state)
{
	(void)state;
	if (access("/proc/loadavg", R_OK) != 0)
		skip();
	assert_true(uh_cpu_runnable() >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(test_cpu_idle__busy_after_48us_of_busy_readings),
		UH_TEST(test_cpu_idle__one_idle_reading_resets),
		UH_TEST(test_cpu_idle__busy_readings_space_out),
		UH_TEST(test_cpu_idle__unreadable_source_polls),
		UH_TEST(test_cpu_idle__pollers_share_one_reading),
		UH_TEST(test_cpu_runnable__counts_the_caller),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
