/*
 * stress_seqlock.c - four writers and four readers on one seqlocked record
 * with yields injected inside the write section: no reader may ever return
 * a record whose words disagree with its version.
 */
#include <pthread.h>
#include <stdio.h>

#include "testutil.h"

#include "sync/seqlock.h"
#include "sync/yield.h"
#include "util/clock.h"

static UH_LOCK_CLASS(c_w, "ss.writer", UH_RANK_LEAF, UH_LC_LEAF);

struct rec {
	uint64_t version;      /* strictly increasing across writes */
	uint64_t words[7];     /* each == version * 31 + index */
};

static struct uh_seqlock sl;
static UH_SEQ_RECORD(struct rec, data);
static _Atomic int stop;
static _Atomic uint64_t reads, bad, retries;
static uint64_t next_version = 1;   /* guarded by sl's writer lock */

static void *writer(void *p)
{
	(void)p;
	for (int i = 0; i < 100000 && !atomic_load(&stop); i++) {
		struct rec r;

		/* Unique versions; the writer lock is a convenient guard. */
		uh_lock(&sl.wlock);
		r.version = next_version++;
		uh_unlock(&sl.wlock);
		for (int k = 0; k < 7; k++)
			r.words[k] = r.version * 31 + (uint64_t)k;
		uh_seqlock_write(&sl, data, &r, sizeof(r));
	}
	return NULL;
}

static void *reader(void *p)
{
	(void)p;
	while (!atomic_load(&stop)) {
		struct rec r;

		atomic_fetch_add(&retries, uh_seqlock_read(&sl, data, &r,
							   sizeof(r)));
		for (int k = 0; k < 7; k++)
			if (r.version && r.words[k] != r.version * 31 + (uint64_t)k)
				atomic_fetch_add(&bad, 1);
		atomic_fetch_add(&reads, 1);
	}
	return NULL;
}

static void stress_seqlock__no_torn_record(void **state)
{
	pthread_t w[4], r[4];
	double secs = uh_stress_seconds(2.0);
	(void)state;
	uh_seqlock_init(&sl, &c_w);
	unsigned prev = uh_yield_set(20);
	for (int i = 0; i < 4; i++) {
		pthread_create(&w[i], NULL, writer, NULL);
		pthread_create(&r[i], NULL, reader, NULL);
	}
	uh_sleep_ns((uint64_t)(secs * 1e9));
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++) {
		pthread_join(w[i], NULL);
		pthread_join(r[i], NULL);
	}
	uh_yield_set(prev);
	printf("stress_seqlock: %llu reads, %llu retries, 0 torn expected: %llu\n",
	       (unsigned long long)atomic_load(&reads),
	       (unsigned long long)atomic_load(&retries),
	       (unsigned long long)atomic_load(&bad));
	assert_true(atomic_load(&reads) > 100);
	assert_int_equal(atomic_load(&bad), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(stress_seqlock__no_torn_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
