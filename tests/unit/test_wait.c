/*
 * test_wait.c - the eventcount: no lost wake-ups, timeouts, wake_one.
 */
#include <pthread.h>

#include "testutil.h"

#include "sync/wait.h"
#include "uhoma/uhoma.h"
#include "util/clock.h"

static void test_wait__wake_before_sleep_is_not_lost(void **state)
{
	struct uh_wait w = UH_WAIT_INITIALIZER;
	uint32_t t = uh_wait_prepare(&w);
	uint64_t t0;
	(void)state;
	uh_wait_wake_all(&w);   /* lands between check and sleep */
	t0 = uh_now_ns();
	assert_int_equal(uh_wait_sleep(&w, t, 5000000000ull), 0);
	assert_true(uh_now_ns() - t0 < 1000000000ull);
}

static void test_wait__timeout(void **state)
{
	struct uh_wait w = UH_WAIT_INITIALIZER;
	uint64_t t0 = uh_now_ns();
	(void)state;
	assert_int_equal(uh_wait_sleep(&w, uh_wait_prepare(&w), 5000000),
			 UHOMA_ERR_TIMEDOUT);
	assert_true(uh_now_ns() - t0 >= 5000000);
}

struct sleeper {
	struct uh_wait *w;
	_Atomic int *flag;
	_Atomic int done;
};

static void *sleep_until_flag(void *p)
{
	struct sleeper *s = p;

	for (;;) {
		uint32_t t = uh_wait_prepare(s->w);

		if (atomic_load(s->flag))
			break;
		uh_wait_sleep(s->w, t, UINT64_MAX);
	}
	atomic_store(&s->done, 1);
	return NULL;
}

static void test_wait__wake_all_wakes_every_sleeper(void **state)
{
	struct uh_wait w = UH_WAIT_INITIALIZER;
	_Atomic int flag = 0;
	struct sleeper s[3];
	pthread_t th[3];
	(void)state;
	for (int i = 0; i < 3; i++) {
		s[i] = (struct sleeper){ .w = &w, .flag = &flag };
		pthread_create(&th[i], NULL, sleep_until_flag, &s[i]);
	}
	uh_sleep_ns(20000000);
	for (int i = 0; i < 3; i++)
		assert_int_equal(atomic_load(&s[i].done), 0);
	atomic_store(&flag, 1);
	uh_wait_wake_all(&w);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 3; i++)
		assert_int_equal(atomic_load(&s[i].done), 1);
}

static void test_wait__wake_one_wakes_one(void **state)
{
	struct uh_wait w = UH_WAIT_INITIALIZER;
	_Atomic int flag = 0;
	struct sleeper s[2];
	pthread_t th[2];
	(void)state;
	for (int i = 0; i < 2; i++) {
		s[i] = (struct sleeper){ .w = &w, .flag = &flag };
		pthread_create(&th[i], NULL, sleep_until_flag, &s[i]);
	}
	while (atomic_load(&w.sleepers) < 2)
		uh_sleep_ns(1000000);
	uh_sleep_ns(20000000);   /* both past the ticket check, in the kernel */
	atomic_store(&flag, 1);
	uh_wait_wake_one(&w);
	uh_sleep_ns(50000000);
	assert_int_equal(atomic_load(&s[0].done) + atomic_load(&s[1].done), 1);
	uh_wait_wake_all(&w);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(test_wait__wake_before_sleep_is_not_lost),
		UH_TEST(test_wait__timeout),
		UH_TEST(test_wait__wake_all_wakes_every_sleeper),
		UH_TEST(test_wait__wake_one_wakes_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
