/*
 * bench_sync.c - micro-benchmarks of the concurrency core, each against its
 * obvious alternative measured in the same run, reported as ratios:
 *   - uh_lock vs pthread_mutex: uncontended, and contended on 2 threads
 *     (plus the spin budget sweep behind lock.c's default);
 *   - RCU read section vs pthread_rwlock read lock: 1 and 2 threads;
 *   - cache alloc+free vs malloc+free: one thread, and producer/consumer
 *     on 2 threads;
 *   - magazine growth under depot contention.
 * Every figure is the best of several repetitions (least disturbed by the
 * shared VM). Usage: bench_sync [--quick]
 * The last line is machine-readable: SUMMARY key=value ...
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem/cache.h"
#include "sync/lock.h"
#include "sync/rcu.h"
#include "util/clock.h"

static UH_LOCK_CLASS(bench_class, "bench.lock", UH_RANK_RPC, 0);

static long iters = 20000000;
static int reps = 5;

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET((unsigned)cpu % 2u, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static double best(double (*fn)(void))
{
	double b = 1e30;

	for (int i = 0; i < reps; i++) {
		double v = fn();

		if (v < b)
			b = v;
	}
	return b;
}

/* --- uncontended locks ----------------------------------------------------- */

static struct uh_lock ul = UH_LOCK_INITIALIZER(&bench_class);
static pthread_mutex_t pm = PTHREAD_MUTEX_INITIALIZER;
static volatile uint64_t sink;

static double uh_uncontended(void)
{
	uint64_t t0 = uh_now_ns();

	for (long i = 0; i < iters; i++) {
		uh_lock(&ul);
		sink++;
		uh_unlock(&ul);
	}
	return (double)(uh_now_ns() - t0) / (double)iters;
}

static double pm_uncontended(void)
{
	uint64_t t0 = uh_now_ns();

	for (long i = 0; i < iters; i++) {
		pthread_mutex_lock(&pm);
		sink++;
		pthread_mutex_unlock(&pm);
	}
	return (double)(uh_now_ns() - t0) / (double)iters;
}

/* --- contended locks (2 threads, one per CPU) ------------------------------ */

static int use_uh;
static uint64_t shared_count;   /* guarded by ul or pm */

static void *contend(void *p)
{
	long n = iters / 4;

	pin((int)(uintptr_t)p);
	for (long i = 0; i < n; i++) {
		if (use_uh) {
			uh_lock(&ul);
			shared_count++;
			uh_unlock(&ul);
		} else {
			pthread_mutex_lock(&pm);
			shared_count++;
			pthread_mutex_unlock(&pm);
		}
	}
	return NULL;
}

static double contended(void)
{
	pthread_t a, b;
	uint64_t t0 = uh_now_ns();

	pthread_create(&a, NULL, contend, (void *)0);
	pthread_create(&b, NULL, contend, (void *)1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return (double)(uh_now_ns() - t0) / (double)(iters / 2);
}

static double uh_contended(void) { use_uh = 1; return contended(); }
static double pm_contended(void) { use_uh = 0; return contended(); }

/* --- RCU read side vs rwlock ----------------------------------------------- */

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static int *_Atomic rcu_ptr;
static int rcu_target = 42;
static int use_rcu;

static void read_loop(long n)
{
	uint64_t s = 0;

	for (long i = 0; i < n; i++) {
		if (use_rcu) {
			uh_rcu_read_lock();
			s += (uint64_t)*uh_rcu_dereference(rcu_ptr);
			uh_rcu_read_unlock();
		} else {
			pthread_rwlock_rdlock(&rw);
			s += (uint64_t)rcu_target;
			pthread_rwlock_unlock(&rw);
		}
	}
	sink += s;
}

static double read_one(void)
{
	uint64_t t0 = uh_now_ns();

	read_loop(iters);
	return (double)(uh_now_ns() - t0) / (double)iters;
}

static void *read_thread(void *p)
{
	pin((int)(uintptr_t)p);
	read_loop(iters / 4);
	return NULL;
}

static double read_two(void)
{
	pthread_t a, b;
	uint64_t t0 = uh_now_ns();

	pthread_create(&a, NULL, read_thread, (void *)0);
	pthread_create(&b, NULL, read_thread, (void *)1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	/* Per read per thread: the two threads run in parallel. */
	return (double)(uh_now_ns() - t0) / (double)(iters / 4);
}

static double rcu_read1(void) { use_rcu = 1; return read_one(); }
static double rw_read1(void) { use_rcu = 0; return read_one(); }
static double rcu_read2(void) { use_rcu = 1; return read_two(); }
static double rw_read2(void) { use_rcu = 0; return read_two(); }

/* --- caches ------------------------------------------------------------------ */

#define OBJ_SIZE 256
static struct uh_cache *bc;
static int use_cache;

static double alloc_free_one(void)
{
	uint64_t t0 = uh_now_ns();
	void *p[8];

	for (long i = 0; i < iters / 8; i++) {
		for (int k = 0; k < 8; k++)
			p[k] = use_cache ? uh_cache_alloc(bc) : malloc(OBJ_SIZE);
		for (int k = 0; k < 8; k++) {
			((volatile char *)p[k])[0] = 1;
			if (use_cache)
				uh_cache_free(bc, p[k]);
			else
				free(p[k]);
		}
	}
	return (double)(uh_now_ns() - t0) / (double)(iters / 8 * 8);
}

static double cache_one(void) { use_cache = 1; return alloc_free_one(); }
static double malloc_one(void) { use_cache = 0; return alloc_free_one(); }

#define RING 1024
static void *ring[RING];
static _Atomic uint64_t rhead, rtail;

static void *consumer(void *p)
{
	long n = (long)(uintptr_t)p;

	pin(1);
	for (long i = 0; i < n; i++) {
		uint64_t t;

		while ((t = atomic_load_explicit(&rtail, memory_order_relaxed)) ==
		       atomic_load_explicit(&rhead, memory_order_acquire))
			uh_cpu_relax();
		void *o = ring[t % RING];

		atomic_store_explicit(&rtail, t + 1, memory_order_release);
		if (use_cache)
			uh_cache_free(bc, o);
		else
			free(o);
	}
	return NULL;
}

static double prodcons(void)
{
	long n = iters / 8;
	pthread_t c;
	uint64_t t0;

	atomic_store(&rhead, 0);
	atomic_store(&rtail, 0);
	pin(0);
	t0 = uh_now_ns();
	pthread_create(&c, NULL, consumer, (void *)(uintptr_t)n);
	for (long i = 0; i < n; i++) {
		void *o = use_cache ? uh_cache_alloc(bc) : malloc(OBJ_SIZE);
		uint64_t h = atomic_load_explicit(&rhead, memory_order_relaxed);

		((volatile char *)o)[0] = 1;
		while (h - atomic_load_explicit(&rtail, memory_order_acquire) >= RING)
			uh_cpu_relax();
		ring[h % RING] = o;
		atomic_store_explicit(&rhead, h + 1, memory_order_release);
	}
	pthread_join(c, NULL);
	return (double)(uh_now_ns() - t0) / (double)n;
}

static double cache_pc(void) { use_cache = 1; return prodcons(); }
static double malloc_pc(void) { use_cache = 0; return prodcons(); }

/* --- magazine growth ------------------------------------------------------- */

static struct uh_cache *gc;
static _Atomic int grow_stop;

static void *grow_churn(void *p)
{
	void *objs[200];

	pin((int)(uintptr_t)p);
	while (!atomic_load(&grow_stop)) {
		for (int i = 0; i < 200; i++)
			objs[i] = uh_cache_alloc(gc);
		for (int i = 0; i < 200; i++)
			uh_cache_free(gc, objs[i]);
	}
	return NULL;
}

static void magazine_growth(struct uh_cache_stats *first,
			    struct uh_cache_stats *last, double secs)
{
	struct uh_cache_config cfg = { .name = "bench.grow", .size = 64,
				       .interval_ns = 10000000 };
	pthread_t a, b;

	gc = uh_cache_create(&cfg);
	uh_cache_stats(gc, first);
	pthread_create(&a, NULL, grow_churn, (void *)0);
	pthread_create(&b, NULL, grow_churn, (void *)1);
	uh_sleep_ns((uint64_t)(secs * 1e9));
	atomic_store(&grow_stop, 1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	uh_cache_stats(gc, last);
	uh_cache_destroy(gc);
}

/* --- spin budget sweep --------------------------------------------------- */

static void spin_sweep(void)
{
	static const uint32_t budgets[] = { 0, 500, 2000, 10000 };
	uint32_t keep = atomic_load(&uh_lock_spin_ns);

	printf("\nuh_lock spin budget, contended (2 threads):\n");
	for (size_t i = 0; i < sizeof(budgets) / sizeof(budgets[0]); i++) {
		atomic_store(&uh_lock_spin_ns, budgets[i]);
		printf("  spin %5u ns: %7.1f ns/op\n", budgets[i],
		       best(uh_contended));
	}
	atomic_store(&uh_lock_spin_ns, keep);
}

static void row(const char *what, double ours, double base, const char *bname,
		const char *target)
{
	printf("  %-38s %8.1f ns  %-16s %8.1f ns  ratio %5.2f  %s\n", what,
	       ours, bname, base, ours / base, target);
}

/* A network stack always has runtime threads; glibc's pthread_mutex takes
 * a non-atomic shortcut while a process has only one. Keep one idle thread
 * alive so both sides are measured as they would run in uhoma. */
static void *idle_thread(void *p)
{
	(void)p;
	for (;;)
		uh_sleep_ns(1000000000ull);
	return NULL;
}

int main(int argc, char **argv)
{
	double u1, p1, uc, pc, r1, w1, r2, w2, c1, m1, cpc, mpc;
	struct uh_cache_stats g0, g1;
	struct uh_cache_config cfg = { .name = "bench.obj", .size = OBJ_SIZE };
	bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;

	if (quick) {
		iters = 2000000;
		reps = 3;
	}
	pthread_t idle;

	pthread_create(&idle, NULL, idle_thread, NULL);
	rcu_ptr = &rcu_target;
	bc = uh_cache_create(&cfg);
	pin(0);
#ifdef UHOMA_LOCKDEP
	printf("NOTE: built with the lock validator; numbers are not release numbers\n");
#endif
	printf("uhoma concurrency-core benchmarks (%ld iterations, best of %d)\n\n",
	       iters, reps);
	u1 = best(uh_uncontended);  p1 = best(pm_uncontended);
	uc = best(uh_contended);    pc = best(pm_contended);
	r1 = best(rcu_read1);       w1 = best(rw_read1);
	r2 = best(rcu_read2);       w2 = best(rw_read2);
	c1 = best(cache_one);       m1 = best(malloc_one);
	cpc = best(cache_pc);       mpc = best(malloc_pc);

	printf("%-40s %11s  %-16s %11s  %11s  %s\n", "  measured", "uhoma",
	       "baseline", "", "", "target");
	row("lock+unlock, uncontended", u1, p1, "pthread_mutex", "<= 1.20");
	row("lock+unlock, contended, 2 threads", uc, pc, "pthread_mutex", "(report)");
	row("read section, 1 thread", r1, w1, "rwlock rdlock", "<= 0.10");
	row("read section, 2 threads", r2, w2, "rwlock rdlock", "<= 0.10");
	row("alloc+free 256 B, 1 thread", c1, m1, "malloc+free", "<= 0.50");
	row("alloc+free, producer/consumer", cpc, mpc, "malloc+free", "<= 0.70");

	magazine_growth(&g0, &g1, quick ? 0.3 : 1.0);
	printf("\nmagazine growth under contention (2 threads, 10 ms intervals):\n"
	       "  rounds %u -> %u after %u resizes; %llu failed depot try-locks\n",
	       g0.mag_rounds, g1.mag_rounds, g1.resizes,
	       (unsigned long long)g1.depot_contention);
	if (!quick)
		spin_sweep();

	printf("\nSUMMARY lock_uncontended=%.2f lock_contended=%.2f rcu_read_1t=%.2f "
	       "rcu_read_2t=%.2f cache_1t=%.2f cache_prodcons=%.2f mag_rounds_start=%u "
	       "mag_rounds_end=%u\n",
	       u1 / p1, uc / pc, r1 / w1, r2 / w2, c1 / m1, cpc / mpc,
	       g0.mag_rounds, g1.mag_rounds);
	uh_cache_destroy(bc);
	return 0;
}
