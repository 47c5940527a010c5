/*
 * stress_lock.c - many threads take chains of locks in the documented order
 * (grant -> RPC bucket -> socket -> leaf), with random yields injected at
 * every lock point, and try-lock against the order as the seeds prescribe.
 * Each lock guards a counter updated with a plain read-modify-write; at the
 * end every counter must equal the number of times its lock was taken, the
 * validator must have stayed silent, and TSan must have seen no race.
 */
#include <pthread.h>
#include <stdio.h>

#include "testutil.h"

#include "sync/lock.h"
#include "sync/yield.h"
#include "util/clock.h"

static UH_LOCK_CLASS(c_grant, "s.grant", UH_RANK_GRANT, 0);
static UH_LOCK_CLASS(c_bucket, "s.bucket", UH_RANK_RPC, 0);
static UH_LOCK_CLASS(c_sock, "s.socket", UH_RANK_SOCKET, 0);
static UH_LOCK_CLASS(c_leaf, "s.leaf", UH_RANK_LEAF, UH_LC_LEAF);

#define NBUCKETS 8
#define NTHREADS 6

struct guarded {
	struct uh_lock lock;
	uint64_t value;      /* guarded by lock */
	_Atomic uint64_t taken;
};

static struct guarded grant, sock, leaf, buckets[NBUCKETS];
static double seconds;

static void bump(struct guarded *g)
{
	uint64_t v = g->value;   /* deliberately non-atomic */

	uh_yield_point();
	g->value = v + 1;
	atomic_fetch_add_explicit(&g->taken, 1, memory_order_relaxed);
}

static void *worker(void *p)
{
	uint64_t rng = (uint64_t)(uintptr_t)p * 7919 + 1;
	uint64_t end = uh_now_ns() + (uint64_t)(seconds * 1e9);

	for (int i = 0; i < 200000 && uh_now_ns() < end; i++) {
		unsigned r = (unsigned)uh_test_rand(&rng);
		struct guarded *b = &buckets[r % NBUCKETS];

		switch ((r >> 8) % 4) {
		case 0:   /* the full chain */
			uh_lock(&grant.lock); bump(&grant);
			uh_lock(&b->lock); bump(b);
			uh_lock(&sock.lock); bump(&sock);
			uh_lock(&leaf.lock); bump(&leaf);
			uh_unlock(&leaf.lock);
			uh_unlock(&sock.lock);
			uh_unlock(&b->lock);
			uh_unlock(&grant.lock);
			break;
		case 1:   /* RPC then socket: the common path */
			uh_lock(&b->lock); bump(b);
			uh_lock(&sock.lock); bump(&sock);
			uh_unlock(&sock.lock);
			uh_unlock(&b->lock);
			break;
		case 2:   /* socket first, RPC by try-lock (walking a list) */
			uh_lock(&sock.lock); bump(&sock);
			if (uh_trylock(&b->lock)) {
				bump(b);
				uh_unlock(&b->lock);
			}
			uh_unlock(&sock.lock);
			break;
		default:  /* two buckets in index order, nested */
		{
			unsigned j = (r >> 16) % NBUCKETS, k = r % NBUCKETS;

			if (j == k)
				break;
			struct guarded *lo = &buckets[j < k ? j : k];
			struct guarded *hi = &buckets[j < k ? k : j];

			uh_lock(&lo->lock); bump(lo);
			uh_lock_nested(&hi->lock, 1); bump(hi);
			uh_unlock(&hi->lock);
			uh_unlock(&lo->lock);
		}
		}
	}
	return NULL;
}

static void check(struct guarded *g)
{
	assert_int_equal(g->value, atomic_load(&g->taken));
}

static void stress_lock__ordered_chains_with_yields(void **state)
{
	pthread_t th[NTHREADS];
	uint64_t total = 0;
	(void)state;
	seconds = uh_stress_seconds(3.0);
	uh_lock_init(&grant.lock, &c_grant);
	uh_lock_init(&sock.lock, &c_sock);
	uh_lock_init(&leaf.lock, &c_leaf);
	for (int i = 0; i < NBUCKETS; i++)
		uh_lock_init(&buckets[i].lock, &c_bucket);
	unsigned prev = uh_yield_set(30);
	unsigned long reports = 0;
#ifdef UHOMA_LOCKDEP
	reports = uh_lockdep_reports();
#endif
	for (uintptr_t i = 0; i < NTHREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)(i + 1));
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	uh_yield_set(prev);
	check(&grant); check(&sock); check(&leaf);
	for (int i = 0; i < NBUCKETS; i++) {
		check(&buckets[i]);
		total += buckets[i].value;
	}
	printf("stress_lock: %llu bucket acquisitions, %lu yields injected\n",
	       (unsigned long long)total, uh_yield_count());
	assert_true(total > 1000);
#ifdef UHOMA_LOCKDEP
	assert_int_equal(uh_lockdep_reports(), reports);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(stress_lock__ordered_chains_with_yields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
