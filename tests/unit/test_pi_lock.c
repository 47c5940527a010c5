/*
 * test_pi_lock.c - the priority-inheriting lock: basics in both modes, and
 * the priority inversion of the seed reproduced and cured.
 *
 * The inversion (Solaris/Mars Pathfinder shape): on ONE CPU, a low-priority
 * thread L holds the lock and needs LOW_WORK of CPU to finish; a
 * high-priority thread H then blocks on the lock; a medium-priority thread M
 * hogs the CPU for HOG. Without inheritance M preempts L, so H waits about
 * HOG + LOW_WORK. With inheritance L runs at H's priority, finishes, and H
 * gets the lock after about LOW_WORK.
 *
 * Needs SCHED_FIFO (root or CAP_SYS_NICE, and RT runtime for the group);
 * elsewhere the test skips with a message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "sync/pi_lock.h"
#include "util/clock.h"

static UH_LOCK_CLASS(c_pi, "tp.pi", UH_RANK_GRANT, 0);

#define LOW_WORK_NS  40000000ull   /* 40 ms of CPU inside the lock */
#define HOG_NS      400000000ull   /* 400 ms of medium-priority hogging */

static void test_pi_lock__basic_both_modes(void **state)
{
	struct uh_pi_lock l;
	(void)state;
	for (int inherit = 0; inherit < 2; inherit++) {
		uh_pi_lock_init(&l, &c_pi, inherit);
		uh_pi_lock(&l);
		if (inherit)
			assert_int_equal(atomic_load(&l.word) & 0x3fffffff,
					 uh_gettid());
		uh_pi_unlock(&l);
		assert_true(uh_pi_trylock(&l));
		uh_pi_unlock(&l);
		assert_int_equal(atomic_load(&l.word), 0);
	}
}

static struct uh_pi_lock excl_lock;
static long excl_counter;   /* guarded by excl_lock */

static void *pi_incr(void *p)
{
	(void)p;
	for (int i = 0; i < 20000; i++) {
		uh_pi_lock(&excl_lock);
		excl_counter++;
		uh_pi_unlock(&excl_lock);
	}
	return NULL;
}

static void test_pi_lock__mutual_exclusion(void **state)
{
	pthread_t th[3];
	(void)state;
	for (int inherit = 0; inherit < 2; inherit++) {
		uh_pi_lock_init(&excl_lock, &c_pi, inherit);
		excl_counter = 0;
		for (int i = 0; i < 3; i++)
			pthread_create(&th[i], NULL, pi_incr, NULL);
		for (int i = 0; i < 3; i++)
			pthread_join(th[i], NULL);
		assert_int_equal(excl_counter, 60000);
	}
}

/* --- the inversion ------------------------------------------------------- */

struct scene {
	struct uh_pi_lock lock;
	_Atomic int low_holds;
	_Atomic int high_started;
	_Atomic int stop_hog;
	uint64_t high_wait_ns;
	bool invalid;          /* H found the lock free: L finished early */
};

static int go_fifo(int prio)
{
	struct sched_param sp = { .sched_priority = prio };
	cpu_set_t set;

	/* Priority first: a new thread that pinned itself first would queue
	 * behind the real-time thread already running on CPU 0. */
	if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) != 0)
		return -1;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void burn_cpu(uint64_t ns)
{
	uint64_t start = uh_thread_cpu_ns();

	while (uh_thread_cpu_ns() - start < ns)
		;
}

static void *low(void *p)
{
	struct scene *s = p;

	if (go_fifo(10) != 0)
		return (void *)1L;
	uh_pi_lock(&s->lock);
	atomic_store(&s->low_holds, 1);
	burn_cpu(LOW_WORK_NS);
	uh_pi_unlock(&s->lock);
	return NULL;
}

static void *medium(void *p)
{
	struct scene *s = p;
	uint64_t start = uh_now_ns();

	if (go_fifo(20) != 0)
		return (void *)1L;
	while (!atomic_load_explicit(&s->stop_hog, memory_order_relaxed) &&
	       uh_now_ns() - start < HOG_NS)
		;
	return NULL;
}

static void *high(void *p)
{
	struct scene *s = p;
	uint64_t t0;

	if (go_fifo(30) != 0)
		return (void *)1L;
	atomic_store(&s->high_started, 1);
	t0 = uh_now_ns();
	if (uh_pi_trylock(&s->lock)) {
		s->invalid = true;
		uh_pi_unlock(&s->lock);
		return NULL;
	}
	uh_pi_lock(&s->lock);
	s->high_wait_ns = uh_now_ns() - t0;
	uh_pi_unlock(&s->lock);
	return NULL;
}

/* Returns H's wait in ns, 0 if real-time scheduling is not allowed, or
 * UINT64_MAX if the scene did not come together (H arrived too late). */
static uint64_t run_scene(bool inherit)
{
	struct scene s = { 0 };
	pthread_t tl, tm, th;
	void *rl, *rm, *rh;
	cpu_set_t cpu1;

	/* The director stays off CPU 0, where the real-time threads play. */
	CPU_ZERO(&cpu1);
	CPU_SET(1, &cpu1);
	pthread_setaffinity_np(pthread_self(), sizeof(cpu1), &cpu1);

	uh_pi_lock_init(&s.lock, &c_pi, inherit);
	pthread_create(&tl, NULL, low, &s);
	while (!atomic_load(&s.low_holds)) {
		void *r;

		if (pthread_tryjoin_np(tl, &r) == 0)
			return 0;   /* low could not go real-time */
		uh_sleep_ns(100000);
	}
	pthread_create(&th, NULL, high, &s);
	while (!atomic_load(&s.high_started))
		uh_sleep_ns(100000);
	uh_sleep_ns(2000000);   /* H is now blocked on the lock */
	pthread_create(&tm, NULL, medium, &s);
	pthread_join(th, &rh);
	atomic_store(&s.stop_hog, 1);
	pthread_join(tm, &rm);
	pthread_join(tl, &rl);
	if (rl || rm || rh)
		return 0;
	return s.invalid ? UINT64_MAX : s.high_wait_ns;
}

static bool rt_allowed(void)
{
	struct sched_param sp = { .sched_priority = 1 };
	int r = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);

	if (r == 0) {
		sp.sched_priority = 0;
		pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp);
	}
	return r == 0;
}

static void test_pi_lock__inheritance_cures_inversion(void **state)
{
	uint64_t with, without;
	(void)state;
	if (!rt_allowed()) {
		printf("test_pi_lock: SCHED_FIFO not permitted (%s); skipping the inversion test\n",
		       strerror(EPERM));
		skip();
	}
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		printf("test_pi_lock: needs 2 CPUs; skipping the inversion test\n");
		skip();
	}
	for (int tries = 0; tries < 3; tries++) {
		without = run_scene(false);
		with = run_scene(true);
		if (without != UINT64_MAX && with != UINT64_MAX)
			break;
	}
	assert_true(without != UINT64_MAX && with != UINT64_MAX);
	if (!with || !without) {
		printf("test_pi_lock: a thread could not go real-time; skipping\n");
		skip();
	}
	printf("test_pi_lock: high-priority wait: %.1f ms without inheritance, %.1f ms with (low needs %.0f ms, hog %.0f ms)\n",
	       (double)without / 1e6, (double)with / 1e6,
	       (double)LOW_WORK_NS / 1e6, (double)HOG_NS / 1e6);
	/* Without: H waits for M's whole hog. With: about L's work only. */
	assert_true(without >= HOG_NS * 3 / 4);
	assert_true(with < HOG_NS / 2);
	assert_true(with < without / 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(test_pi_lock__basic_both_modes),
		UH_TEST(test_pi_lock__mutual_exclusion),
		UH_TEST(test_pi_lock__inheritance_cures_inversion),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
