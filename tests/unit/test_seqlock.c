/*
 * test_seqlock.c - the sequence lock: round trips of odd-sized records,
 * sequence parity, and concurrent writers and readers with no torn read.
 */
#include <pthread.h>
#include <string.h>

#include "testutil.h"

#include "sync/seqlock.h"
#include "util/clock.h"

static UH_LOCK_CLASS(c_seqw, "ts.writer", UH_RANK_LEAF, UH_LC_LEAF);

/* Shaped like the per-peer priority cutoffs the seqlock will carry. */
struct cutoffs {
	uint32_t cutoff[8];
	uint16_t version;
	uint8_t pad;          /* 35 bytes: not a multiple of 8 */
};

static void test_seqlock__round_trip_odd_size(void **state)
{
	struct uh_seqlock sl;
	UH_SEQ_RECORD(struct cutoffs, rec) = { 0 };
	struct cutoffs in, out;
	(void)state;
	uh_seqlock_init(&sl, &c_seqw);
	memset(&in, 0, sizeof(in));
	for (int i = 0; i < 8; i++)
		in.cutoff[i] = 1000u * (unsigned)i + 7;
	in.version = 42;
	in.pad = 9;
	assert_int_equal(uh_seqlock_sequence(&sl), 0);
	uh_seqlock_write(&sl, rec, &in, sizeof(in));
	assert_int_equal(uh_seqlock_sequence(&sl), 2);
	assert_int_equal(uh_seqlock_read(&sl, rec, &out, sizeof(out)), 0);
	assert_memory_equal(&in, &out, sizeof(in));
}

/* Every word of a record carries the same value; a torn read mixes two. */
struct pattern {
	uint64_t w[6];
};

static struct uh_seqlock torn_sl;
static UH_SEQ_RECORD(struct pattern, torn_rec);
static _Atomic int torn_stop;
static _Atomic uint64_t torn_reads, torn_bad;

static void *writer(void *p)
{
	uint64_t v = (uint64_t)(uintptr_t)p << 32;

	while (!atomic_load(&torn_stop)) {
		struct pattern pt;

		v++;
		for (int i = 0; i < 6; i++)
			pt.w[i] = v;
		uh_seqlock_write(&torn_sl, torn_rec, &pt, sizeof(pt));
	}
	return NULL;
}

static void *reader(void *p)
{
	(void)p;
	while (!atomic_load(&torn_stop)) {
		struct pattern pt;

		uh_seqlock_read(&torn_sl, torn_rec, &pt, sizeof(pt));
		for (int i = 1; i < 6; i++)
			if (pt.w[i] != pt.w[0])
				atomic_fetch_add(&torn_bad, 1);
		atomic_fetch_add(&torn_reads, 1);
	}
	return NULL;
}

static void test_seqlock__no_torn_reads(void **state)
{
	pthread_t w[2], r[2];
	(void)state;
	uh_seqlock_init(&torn_sl, &c_seqw);
	for (uintptr_t i = 0; i < 2; i++) {
		pthread_create(&w[i], NULL, writer, (void *)(i + 1));
		pthread_create(&r[i], NULL, reader, NULL);
	}
	uh_sleep_ns(300000000);
	atomic_store(&torn_stop, 1);
	for (int i = 0; i < 2; i++) {
		pthread_join(w[i], NULL);
		pthread_join(r[i], NULL);
	}
	assert_true(atomic_load(&torn_reads) > 100);
	assert_int_equal(atomic_load(&torn_bad), 0);
	assert_int_equal(uh_seqlock_sequence(&torn_sl) & 1, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(test_seqlock__round_trip_odd_size),
		UH_TEST(test_seqlock__no_torn_reads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
