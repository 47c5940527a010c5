/*
 * stress_rcu.c - readers chase pointers that writers keep replacing, with
 * yields injected at every read-section boundary:
 *  - table A: immutable records freed with uh_call_rcu after unpublishing;
 *    a reader must always see a record whose check field matches its value
 *    (under ASan, any read after the real free would be reported);
 *  - table B: records from a UH_CACHE_TYPESAFE_RCU cache, freed back to the
 *    cache at once: a reader may see a reused record, so it re-checks the
 *    key after reading (the SLAB_TYPESAFE_BY_RCU discipline) but must
 *    always find a constructed record of the right type.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

#include "mem/cache.h"
#include "sync/rcu.h"
#include "sync/yield.h"
#include "util/clock.h"

#define SLOTS 16
#define MAGIC 0xC0FFEEu

struct rec_a {
	uint64_t value, check;     /* immutable once published */
	struct uh_rcu_head rh;
};

struct rec_b {
	_Atomic uint32_t magic;    /* constructor sets; never changes */
	_Atomic uint64_t key;      /* rewritten on reuse */
	_Atomic uint64_t value;    /* == key * 3 when consistent */
};

static struct rec_a *table_a[SLOTS];   /* RCU-protected */
static struct rec_b *table_b[SLOTS];   /* RCU-protected */
static struct uh_cache *cache_b;
static _Atomic int stop;
static _Atomic uint64_t reads, bad_a, bad_type, stale_b, writes;
static pthread_mutex_t writer_mutex = PTHREAD_MUTEX_INITIALIZER;

static int b_ctor(void *obj, void *arg)
{
	struct rec_b *b = obj;

	(void)arg;
	atomic_init(&b->magic, MAGIC);
	atomic_init(&b->key, 0);
	atomic_init(&b->value, 0);
	return 0;
}

static void free_a(struct uh_rcu_head *h)
{
	free(uh_container_of(h, struct rec_a, rh));
}

static void *reader(void *p)
{
	uint64_t rng = (uintptr_t)p;

	while (!atomic_load(&stop)) {
		unsigned i = (unsigned)uh_test_rand(&rng) % SLOTS;

		uh_rcu_read_lock();
		struct rec_a *a = uh_rcu_dereference(table_a[i]);

		if (a && a->check != ~a->value)
			atomic_fetch_add(&bad_a, 1);
		struct rec_b *b = uh_rcu_dereference(table_b[i]);

		if (b) {
			uint64_t k = atomic_load(&b->key);
			uint64_t v = atomic_load(&b->value);

			if (atomic_load(&b->magic) != MAGIC)
				atomic_fetch_add(&bad_type, 1);
			/* Reused under us? Then the key moved: not ours. */
			if (atomic_load(&b->key) != k || v != k * 3)
				atomic_fetch_add(&stale_b, 1);
		}
		uh_rcu_read_unlock();
		atomic_fetch_add(&reads, 1);
	}
	return NULL;
}

static void *writer(void *p)
{
	uint64_t rng = (uintptr_t)p * 31;
	uint64_t key = (uintptr_t)p << 40;

	for (int n = 0; n < 200000 && !atomic_load(&stop); n++) {
		unsigned i = (unsigned)uh_test_rand(&rng) % SLOTS;
		struct rec_a *na = malloc(sizeof(*na));
		struct rec_b *nb = uh_cache_alloc(cache_b);

		na->value = uh_test_rand(&rng);
		na->check = ~na->value;
		atomic_store(&nb->value, 0);
		atomic_store(&nb->key, ++key);
		atomic_store(&nb->value, key * 3);

		pthread_mutex_lock(&writer_mutex);
		struct rec_a *oa = table_a[i];
		struct rec_b *ob = table_b[i];

		uh_rcu_assign_pointer(table_a[i], na);
		uh_rcu_assign_pointer(table_b[i], nb);
		pthread_mutex_unlock(&writer_mutex);
		if (oa)
			uh_call_rcu(&oa->rh, free_a);
		if (ob)
			uh_cache_free(cache_b, ob);   /* reusable at once */
		if (n % 1000 == 0)
			uh_synchronize_rcu();          /* exercise both paths */
		atomic_fetch_add(&writes, 1);
	}
	return NULL;
}

static void stress_rcu__readers_vs_replacing_writers(void **state)
{
	struct uh_cache_config cfg = { .name = "stress.rec_b",
		.size = sizeof(struct rec_b), .ctor = b_ctor,
		.flags = UH_CACHE_TYPESAFE_RCU, .interval_ns = 50000000 };
	pthread_t r[3], w[2];
	double secs = uh_stress_seconds(3.0);
	(void)state;
	cache_b = uh_cache_create(&cfg);
	assert_non_null(cache_b);
	unsigned prev = uh_yield_set(20);
	for (uintptr_t i = 0; i < 3; i++)
		pthread_create(&r[i], NULL, reader, (void *)(i + 1));
	for (uintptr_t i = 0; i < 2; i++)
		pthread_create(&w[i], NULL, writer, (void *)(i + 1));
	uint64_t end = uh_now_ns() + (uint64_t)(secs * 1e9);

	while (uh_now_ns() < end) {
		uh_sleep_ns(20000000);
		uh_cache_tick_all();   /* reaping concurrently with readers */
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(w[i], NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(r[i], NULL);
	uh_yield_set(prev);
	for (int i = 0; i < SLOTS; i++) {
		if (table_a[i])
			uh_call_rcu(&table_a[i]->rh, free_a);
		if (table_b[i])
			uh_cache_free(cache_b, table_b[i]);
	}
	uh_rcu_barrier();
	uh_cache_destroy(cache_b);
	printf("stress_rcu: %llu reads, %llu writes, %llu reused-under-reader (expected, re-checked)\n",
	       (unsigned long long)atomic_load(&reads),
	       (unsigned long long)atomic_load(&writes),
	       (unsigned long long)atomic_load(&stale_b));
	assert_true(atomic_load(&reads) > 1000);
	assert_true(atomic_load(&writes) > 100);
	assert_int_equal(atomic_load(&bad_a), 0);
	assert_int_equal(atomic_load(&bad_type), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(stress_rcu__readers_vs_replacing_writers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
