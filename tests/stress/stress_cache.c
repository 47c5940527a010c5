/*
 * stress_cache.c - threads allocate, hand objects to each other and free
 * them on other threads (the producer/consumer shape of packet buffers),
 * while a third party closes intervals and reaps. Every object carries an
 * in-use flag: the cache must never hand out an object that is still live,
 * and every object must come back constructed. At the end the counts must
 * balance and destroy must return exactly what was constructed.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

#include "mem/cache.h"
#include "sync/yield.h"
#include "util/clock.h"

#define MAGIC 0xB0FFE5u
#define RING 256
#define PAIRS 2

struct obj {
	uint32_t magic;
	_Atomic int in_use;
	uint64_t owner;
};

struct ring {
	_Atomic uint64_t head, tail;   /* SPSC */
	struct obj *slot[RING];
};

static struct uh_cache *cache;
static struct ring rings[PAIRS];
static _Atomic int stop;            /* producers stop */
static _Atomic int producers_done;  /* consumers drain, then stop */
static _Atomic int ctors, dtors;
static _Atomic uint64_t double_alloc, unconstructed, moved;

static int ctor(void *p, void *arg)
{
	struct obj *o = p;

	(void)arg;
	o->magic = MAGIC;
	atomic_init(&o->in_use, 0);
	atomic_fetch_add(&ctors, 1);
	return 0;
}

static void dtor(void *p, void *arg)
{
	struct obj *o = p;

	(void)arg;
	if (o->magic != MAGIC || atomic_load(&o->in_use))
		atomic_fetch_add(&unconstructed, 1);
	atomic_fetch_add(&dtors, 1);
}

static struct obj *get(uint64_t who)
{
	struct obj *o = uh_cache_alloc(cache);

	if (o->magic != MAGIC)
		atomic_fetch_add(&unconstructed, 1);
	if (atomic_exchange(&o->in_use, 1) != 0)
		atomic_fetch_add(&double_alloc, 1);
	o->owner = who;
	return o;
}

static void put(struct obj *o)
{
	atomic_store(&o->in_use, 0);
	uh_cache_free(cache, o);
}

static void *producer(void *p)
{
	struct ring *r = &rings[(uintptr_t)p];
	uint64_t rng = (uintptr_t)p + 11;

	while (!atomic_load(&stop)) {
		uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);

		if (h - atomic_load_explicit(&r->tail, memory_order_acquire) == RING) {
			/* Ring full: churn locally for a while. */
			struct obj *tmp[20];
			unsigned n = (unsigned)(uh_test_rand(&rng) % 20) + 1;

			for (unsigned i = 0; i < n; i++)
				tmp[i] = get((uintptr_t)p);
			for (unsigned i = 0; i < n; i++)
				put(tmp[i]);
			continue;
		}
		r->slot[h % RING] = get((uintptr_t)p);
		atomic_store_explicit(&r->head, h + 1, memory_order_release);
	}
	return NULL;
}

static void *consumer(void *p)
{
	struct ring *r = &rings[(uintptr_t)p];

	for (;;) {
		uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);

		if (t == atomic_load_explicit(&r->head, memory_order_acquire)) {
			if (atomic_load(&producers_done))
				break;
			sched_yield();
			continue;
		}
		put(r->slot[t % RING]);
		atomic_fetch_add_explicit(&moved, 1, memory_order_relaxed);
		atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	}
	return NULL;
}

static void stress_cache__cross_thread_free_with_reaping(void **state)
{
	struct uh_cache_config cfg = { .name = "stress.obj",
		.size = sizeof(struct obj), .ctor = ctor, .dtor = dtor,
		.interval_ns = 20000000, .contention_threshold = 3 };
	struct uh_cache_stats st;
	pthread_t pr[PAIRS], co[PAIRS];
	double secs = uh_stress_seconds(3.0);
	(void)state;
	cache = uh_cache_create(&cfg);
	assert_non_null(cache);
	unsigned prev = uh_yield_set(10);
	for (uintptr_t i = 0; i < PAIRS; i++) {
		pthread_create(&pr[i], NULL, producer, (void *)i);
		pthread_create(&co[i], NULL, consumer, (void *)i);
	}
	uint64_t end = uh_now_ns() + (uint64_t)(secs * 1e9);

	while (uh_now_ns() < end) {
		uh_sleep_ns(10000000);
		uh_cache_tick_all();
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < PAIRS; i++)
		pthread_join(pr[i], NULL);
	atomic_store(&producers_done, 1);
	for (int i = 0; i < PAIRS; i++)
		pthread_join(co[i], NULL);
	uh_yield_set(prev);
	uh_cache_stats(cache, &st);
	printf("stress_cache: %llu objects moved between threads, %llu allocs, "
	       "depot contention %llu, magazine %u rounds after %u resizes, %llu reaped\n",
	       (unsigned long long)atomic_load(&moved),
	       (unsigned long long)st.allocs,
	       (unsigned long long)st.depot_contention, st.mag_rounds,
	       st.resizes, (unsigned long long)st.reaped);
	assert_int_equal(st.allocs, st.frees);
	assert_true(atomic_load(&moved) > 1000);
	assert_int_equal(atomic_load(&double_alloc), 0);
	uh_cache_destroy(cache);
	assert_int_equal(atomic_load(&unconstructed), 0);
	assert_int_equal(atomic_load(&dtors), atomic_load(&ctors));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(stress_cache__cross_thread_free_with_reaping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
