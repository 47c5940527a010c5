/*
 * testutil.c - shared test support (see testutil.h).
 */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t cap_mutex = PTHREAD_MUTEX_INITIALIZER;
static int cap_count;        /* cap_mutex */
static int cap_kind;         /* cap_mutex */
static char cap_text[8192];  /* cap_mutex */

#ifdef UHOMA_LOCKDEP
static void capture_hook(enum uh_lockdep_kind kind, const char *text,
			 void *arg)
{
	(void)arg;
	pthread_mutex_lock(&cap_mutex);
	cap_count++;
	cap_kind = (int)kind;
	snprintf(cap_text, sizeof(cap_text), "%s", text);
	pthread_mutex_unlock(&cap_mutex);
}
#endif

void uh_capture_start(void)
{
	pthread_mutex_lock(&cap_mutex);
	cap_count = 0;
	cap_kind = 0;
	cap_text[0] = '\0';
	pthread_mutex_unlock(&cap_mutex);
#ifdef UHOMA_LOCKDEP
	uh_lockdep_set_hook(capture_hook, NULL);
#endif
}

int uh_capture_stop(void)
{
	int n;

#ifdef UHOMA_LOCKDEP
	uh_lockdep_set_hook(NULL, NULL);
#endif
	pthread_mutex_lock(&cap_mutex);
	n = cap_count;
	pthread_mutex_unlock(&cap_mutex);
	return n;
}

int uh_capture_kind(void)
{
	int k;

	pthread_mutex_lock(&cap_mutex);
	k = cap_kind;
	pthread_mutex_unlock(&cap_mutex);
	return k;
}

const char *uh_capture_text(void)
{
	return cap_text;
}

int uh_test_setup(void **state)
{
	(void)state;
#ifdef UHOMA_LOCKDEP
	uh_lockdep_reset();
#endif
	return 0;
}

int uh_test_teardown(void **state)
{
	(void)state;
#ifdef UHOMA_LOCKDEP
	assert_int_equal(uh_lockdep_depth(), 0);
	assert_int_equal(uh_lockdep_rcu_depth(), 0);
	/* Reports outside a capture abort; inside one they are the test's. */
#endif
	return 0;
}

uint64_t uh_test_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

void uh_test_sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u),
			       (long)(ns % 1000000000u) };

	while (nanosleep(&ts, &ts) != 0)
		;
}

double uh_stress_seconds(double dflt)
{
	const char *s = getenv("UHOMA_STRESS_SECONDS");

	return s ? atof(s) : dflt;
}
