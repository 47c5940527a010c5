/*
 * cache.c - object caches: the per-thread magazine layer, the slab layer,
 * contention-driven magazine growth, working-set reaping and type-safe RCU
 * release (see cache.h).
 *
 * Shared objects and what serializes them:
 *   caches[], tcaches list                  -> registry_lock
 *   struct uh_cache immutable fields        -> written before publication
 *   cache->depot                            -> cache->depot.lock
 *   cache->magtype, interval bookkeeping    -> depot lock (magtype also read
 *                                              without it: relaxed atomic)
 *   a thread's slots (struct tslot)         -> owned by that thread; touched
 *                                              by others only under
 *                                              registry_lock when the thread
 *                                              exits or the cache is destroyed
 *                                              (which may not race with use)
 */
#include "mem/cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mem/cache_thread.h"
#include "mem/magazine.h"
#include "sync/lock.h"
#include "sync/rcu.h"
#include "util/clock.h"

#ifdef UHOMA_CACHE_PASSTHROUGH
static const bool passthrough = true;
#else
static const bool passthrough = false;
#endif

#define DEFAULT_INTERVAL_NS 1000000000ull
#define DEFAULT_CONTENTION 3

struct uh_cache {
	unsigned id;          /* first: read by cache.h's inline fast path */
	/* Immutable after creation. */
	char name[48];
	size_t size, align;
	int (*ctor)(void *obj, void *arg);
	void (*dtor)(void *obj, void *arg);
	void *arg;
	unsigned flags;
	uint64_t interval_ns;
	unsigned contention_threshold;

	struct uh_depot depot;
	_Atomic unsigned magtype;     /* written under depot lock */
	unsigned resizes;             /* depot lock */
	uint64_t interval_start;      /* depot lock */
	uint64_t contention_mark;     /* depot lock: contention at start */
	_Atomic uint64_t reaped;      /* relaxed */
	_Atomic uint64_t slab_allocs; /* relaxed */
	_Atomic uint64_t slab_frees;  /* relaxed */
	_Atomic uint64_t retired_allocs; /* from exited threads (relaxed) */
	_Atomic uint64_t retired_frees;
};

static UH_LOCK_CLASS(registry_class, "cache.registry",
		     UH_RANK_CACHE_REGISTRY, UH_LC_SLEEPS);
static struct uh_lock registry_lock = UH_LOCK_INITIALIZER(&registry_class);
static struct uh_cache *caches[UH_CACHE_MAX];  /* registry_lock */
static struct tcache *tcaches;                 /* registry_lock */

__thread struct tcache *uh_cache_tc_self
	__attribute__((tls_model("initial-exec")));
#define tc_self uh_cache_tc_self
static pthread_key_t tc_key;
static pthread_once_t tc_key_once = PTHREAD_ONCE_INIT;

/* --- the slab layer ------------------------------------------------------ */

static void *slab_alloc(struct uh_cache *c)
{
	size_t sz = (c->size + c->align - 1) & ~(c->align - 1);
	void *obj = aligned_alloc(c->align, sz);

	if (!obj)
		return NULL;
	if (c->ctor && c->ctor(obj, c->arg) != 0) {
		free(obj);
		return NULL;
	}
	atomic_fetch_add_explicit(&c->slab_allocs, 1, memory_order_relaxed);
	return obj;
}

/* A magazine's worth of objects on its way back to the system. */
struct rcu_batch {
	struct uh_rcu_head head;
	void (*dtor)(void *obj, void *arg);
	void *arg;
	struct uh_magazine *mag;
};

static void destroy_objs(void (*dtor)(void *, void *), void *arg,
			 struct uh_magazine *m)
{
	for (uint32_t i = 0; i < m->rounds; i++) {
		if (dtor)
			dtor(m->objs[i], arg);
		free(m->objs[i]);
	}
	free(m);
}

static void batch_after_gp(struct uh_rcu_head *h)
{
	struct rcu_batch *b = uh_container_of(h, struct rcu_batch, head);

	destroy_objs(b->dtor, b->arg, b->mag);
	free(b);
}

/* Returns @m and its objects to the system (after a grace period in
 * type-safe mode). Never called with the depot lock held. */
static void release_mag(struct uh_cache *c, struct uh_magazine *m)
{
	atomic_fetch_add_explicit(&c->slab_frees, m->rounds,
				  memory_order_relaxed);
	if (c->flags & UH_CACHE_TYPESAFE_RCU) {
		struct rcu_batch *b = malloc(sizeof(*b));

		if (!b) {
			uh_synchronize_rcu();
			destroy_objs(c->dtor, c->arg, m);
			return;
		}
		b->dtor = c->dtor;
		b->arg = c->arg;
		b->mag = m;
		uh_call_rcu(&b->head, batch_after_gp);
		return;
	}
	destroy_objs(c->dtor, c->arg, m);
}

/* Returns one object to the system. */
static void slab_free(struct uh_cache *c, void *obj)
{
	struct uh_magazine *m = uh_magazine_new(1);

	if (!m) {   /* no memory even for a 1-slot wrapper: do it by hand */
		if (c->flags & UH_CACHE_TYPESAFE_RCU)
			uh_synchronize_rcu();
		if (c->dtor)
			c->dtor(obj, c->arg);
		free(obj);
		atomic_fetch_add_explicit(&c->slab_frees, 1,
					  memory_order_relaxed);
		return;
	}
	uh_mag_push(m, obj);
	release_mag(c, m);
}

/* --- intervals: contention-driven growth, working set --------------------- */

/* Depot lock held. */
static void close_interval(struct uh_cache *c, uint64_t now)
{
	uint64_t cont = atomic_load_explicit(&c->depot.contention,
					     memory_order_relaxed);
	unsigned t = atomic_load_explicit(&c->magtype, memory_order_relaxed);

	if (cont - c->contention_mark > c->contention_threshold &&
	    uh_magtype_can_grow(t, c->size)) {
		atomic_store_explicit(&c->magtype, t + 1,
				      memory_order_relaxed);
		c->resizes++;
	}
	c->contention_mark = cont;
	uh_depot_ws_update(&c->depot);
	c->interval_start = now;
}

/* Depot lock held: closes the interval if it is due. */
static void maybe_close_interval(struct uh_cache *c)
{
	uint64_t now = uh_now_ns();

	if (now - c->interval_start >= c->interval_ns)
		close_interval(c, now);
}

static uint32_t cur_rounds(struct uh_cache *c)
{
	return uh_magtypes[atomic_load_explicit(&c->magtype,
						memory_order_relaxed)].rounds;
}

/* --- per-thread slots ---------------------------------------------------- */

static void flush_slot(struct tslot *s);

static void tcache_exit(void *p)
{
	struct tcache *tc = p;

	uh_lock(&registry_lock);
	for (unsigned i = 0; i < UH_CACHE_MAX; i++)
		if (tc->slot[i].cache)
			flush_slot(&tc->slot[i]);
	for (struct tcache **pp = &tcaches; *pp; pp = &(*pp)->next) {
		if (*pp == tc) {
			*pp = tc->next;
			break;
		}
	}
	uh_unlock(&registry_lock);
	tc_self = NULL;
	free(tc);
}

static void tc_key_init(void)
{
	if (pthread_key_create(&tc_key, tcache_exit) != 0)
		abort();
}

static struct tslot *slot_slow(struct uh_cache *c)
{
	struct tcache *tc = tc_self;
	struct tslot *s;

	if (!tc) {
		tc = calloc(1, sizeof(*tc));
		if (!tc)
			return NULL;
		pthread_once(&tc_key_once, tc_key_init);
		pthread_setspecific(tc_key, tc);
		uh_lock(&registry_lock);
		tc->next = tcaches;
		tcaches = tc;
		uh_unlock(&registry_lock);
		tc_self = tc;
	}
	s = &tc->slot[c->id];
	uh_lock(&registry_lock);
	s->cache = c;   /* empty: destroy of any earlier user flushed it */
	uh_unlock(&registry_lock);
	return s;
}

static inline struct tslot *slot_of(struct uh_cache *c)
{
	struct tslot *s = uh_cache_slot_fast(c, c->id);

	return uh_likely(s) ? s : slot_slow(c);
}

/*
 * Gives a slot's magazines back (registry lock held): full and empty ones to
 * the depot, a partial one to the system. Folds its counters into the cache.
 */
static void flush_slot(struct tslot *s)
{
	struct uh_cache *c = s->cache;
	struct uh_magazine *ms[2] = { s->loaded, s->prev };
	struct uh_magazine *partial = NULL;

	atomic_fetch_add_explicit(&c->retired_allocs, atomic_load_explicit(
		&s->allocs, memory_order_relaxed), memory_order_relaxed);
	atomic_fetch_add_explicit(&c->retired_frees, atomic_load_explicit(
		&s->frees, memory_order_relaxed), memory_order_relaxed);
	atomic_store_explicit(&s->allocs, 0, memory_order_relaxed);
	atomic_store_explicit(&s->frees, 0, memory_order_relaxed);
	uh_depot_lock(&c->depot);
	for (int i = 0; i < 2; i++) {
		struct uh_magazine *m = ms[i];

		if (!m)
			continue;
		if (m->rounds == 0)
			uh_depot_put_empty(&c->depot, m);
		else if (uh_mag_full(m))
			uh_depot_put_full(&c->depot, m);
		else
			partial = m;   /* at most one (prev is full/empty) */
	}
	uh_depot_unlock(&c->depot);
	s->loaded = s->prev = NULL;
	s->cache = NULL;
	if (partial)
		release_mag(c, partial);
}

/* --- alloc and free ------------------------------------------------------ */

static void *alloc_slow(struct uh_cache *c, struct tslot *s)
{
	struct uh_magazine *full, *stale = NULL;

	uh_depot_lock(&c->depot);
	maybe_close_interval(c);
	full = uh_depot_take_full(&c->depot);
	if (full) {
		/* prev is empty (or absent): park it in the depot. */
		if (s->prev) {
			if (s->prev->cap == cur_rounds(c))
				uh_depot_put_empty(&c->depot, s->prev);
			else
				stale = s->prev;  /* outgrown: free it */
		}
		s->prev = s->loaded;
		s->loaded = full;
	}
	uh_depot_unlock(&c->depot);
	free(stale);
	if (full)
		return uh_mag_pop(s->loaded);
	return slab_alloc(c);
}

/* Allocation that bypasses the magazines (passthrough builds, or a thread
 * whose per-thread state could not be allocated). */
static void *alloc_direct(struct uh_cache *c)
{
	void *obj = slab_alloc(c);

	if (obj)
		atomic_fetch_add_explicit(&c->retired_allocs, 1,
					  memory_order_relaxed);
	return obj;
}

void *uh_cache_alloc_slow(struct uh_cache *c)
{
	struct tslot *s;
	void *obj;

	if (passthrough || uh_unlikely(!(s = slot_of(c))))
		return alloc_direct(c);
	if (uh_likely(s->loaded && s->loaded->rounds)) {
		obj = uh_mag_pop(s->loaded);
	} else if (s->prev && s->prev->rounds) {
		struct uh_magazine *t = s->loaded;

		s->loaded = s->prev;
		s->prev = t;
		obj = uh_mag_pop(s->loaded);
	} else {
		obj = alloc_slow(c, s);
		if (!obj)
			return NULL;
	}
	uh_cache_count(&s->allocs);
	return obj;
}

static void free_slow(struct uh_cache *c, struct tslot *s, void *obj)
{
	struct uh_magazine *empty, *stale = NULL;
	uint32_t rounds;

	uh_depot_lock(&c->depot);
	maybe_close_interval(c);
	rounds = cur_rounds(c);
	while ((empty = uh_depot_take_empty(&c->depot)) &&
	       empty->cap != rounds) {   /* outgrown: free after unlock */
		empty->next = stale;
		stale = empty;
	}
	if (empty) {
		if (s->prev)   /* prev is full here */
			uh_depot_put_full(&c->depot, s->prev);
		s->prev = s->loaded;
		s->loaded = empty;
	}
	uh_depot_unlock(&c->depot);
	while (stale) {
		struct uh_magazine *n = stale->next;

		free(stale);
		stale = n;
	}
	if (!empty) {
		/* Allocate outside the lock, then retry the exchange. */
		empty = uh_magazine_new(rounds);
		if (!empty) {
			slab_free(c, obj);
			return;
		}
		if (s->prev) {
			uh_depot_lock(&c->depot);
			uh_depot_put_full(&c->depot, s->prev);
			uh_depot_unlock(&c->depot);
		}
		s->prev = s->loaded;
		s->loaded = empty;
	}
	uh_mag_push(s->loaded, obj);
}

void uh_cache_free_slow(struct uh_cache *c, void *obj)
{
	struct tslot *s;

	if (passthrough || uh_unlikely(!(s = slot_of(c)))) {
		atomic_fetch_add_explicit(&c->retired_frees, 1,
					  memory_order_relaxed);
		slab_free(c, obj);
		return;
	}
	uh_cache_count(&s->frees);
	if (uh_likely(s->loaded && !uh_mag_full(s->loaded))) {
		uh_mag_push(s->loaded, obj);
	} else if (s->prev && s->prev->rounds == 0) {
		struct uh_magazine *t = s->loaded;

		s->loaded = s->prev;
		s->prev = t;
		uh_mag_push(s->loaded, obj);
	} else {
		free_slow(c, s, obj);
	}
}

/* --- create, destroy, reap, stats ----------------------------------------- */

struct uh_cache *uh_cache_create(const struct uh_cache_config *cfg)
{
	struct uh_cache *c;
	size_t align;
	int id = -1;

	if (!cfg || cfg->size == 0 || cfg->size > (1u << 30))
		return NULL;
	align = cfg->align ? cfg->align : 16;
	if (align & (align - 1) || align > 4096)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	strncpy(c->name, cfg->name ? cfg->name : "anonymous",
		sizeof(c->name) - 1);
	c->size = cfg->size;
	c->align = align;
	c->ctor = cfg->ctor;
	c->dtor = cfg->dtor;
	c->arg = cfg->arg;
	c->flags = cfg->flags;
	c->interval_ns = cfg->interval_ns ? cfg->interval_ns
					  : DEFAULT_INTERVAL_NS;
	c->contention_threshold = cfg->contention_threshold
		? cfg->contention_threshold : DEFAULT_CONTENTION;
	uh_depot_init(&c->depot);
	atomic_init(&c->magtype, uh_magtype_initial(c->size));
	c->interval_start = uh_now_ns();

	uh_lock(&registry_lock);
	for (int i = 0; i < UH_CACHE_MAX && id < 0; i++)
		if (!caches[i])
			id = i;
	if (id >= 0) {
		c->id = (unsigned)id;
		caches[id] = c;
	}
	uh_unlock(&registry_lock);
	if (id < 0) {
		free(c);
		return NULL;
	}
	return c;
}

size_t uh_cache_reap(struct uh_cache *c, bool all)
{
	struct uh_magazine *victims = NULL;
	size_t n = 0;

	uh_lockdep_might_block("uh_cache_reap", UH_HERE);
	uh_depot_lock(&c->depot);
	uint32_t nf = all ? c->depot.nfull : c->depot.full_reapable;
	uint32_t ne = all ? c->depot.nempty : c->depot.empty_reapable;

	for (uint32_t i = 0; i < nf; i++) {
		struct uh_magazine *m = uh_depot_take_full(&c->depot);

		if (!m)
			break;
		m->next = victims;
		victims = m;
	}
	for (uint32_t i = 0; i < ne; i++) {
		struct uh_magazine *m = uh_depot_take_empty(&c->depot);

		if (!m)
			break;
		m->next = victims;
		victims = m;
	}
	/* What was reapable has been reaped; the minima restart from here. */
	c->depot.full_reapable = c->depot.empty_reapable = 0;
	uh_depot_unlock(&c->depot);

	while (victims) {
		struct uh_magazine *next = victims->next;

		release_mag(c, victims);
		victims = next;
		n++;
	}
	atomic_fetch_add_explicit(&c->reaped, n, memory_order_relaxed);
	return n;
}

void uh_cache_update(struct uh_cache *c)
{
	uh_depot_lock(&c->depot);
	close_interval(c, uh_now_ns());
	uh_depot_unlock(&c->depot);
}

void uh_cache_tick_all(void)
{
	struct uh_cache *due[UH_CACHE_MAX];
	unsigned n = 0;

	uh_lock(&registry_lock);
	for (unsigned i = 0; i < UH_CACHE_MAX; i++)
		if (caches[i])
			due[n++] = caches[i];
	for (unsigned i = 0; i < n; i++) {
		uh_depot_lock(&due[i]->depot);
		maybe_close_interval(due[i]);
		uh_depot_unlock(&due[i]->depot);
		uh_cache_reap(due[i], false);
	}
	uh_unlock(&registry_lock);
}

void uh_cache_destroy(struct uh_cache *c)
{
	if (!c)
		return;
	uh_lock(&registry_lock);
	for (struct tcache *tc = tcaches; tc; tc = tc->next) {
		struct tslot *s = &tc->slot[c->id];

		if (s->cache == c)
			flush_slot(s);
	}
	caches[c->id] = NULL;
	uh_unlock(&registry_lock);
	uh_cache_reap(c, true);
	if (c->flags & UH_CACHE_TYPESAFE_RCU)
		uh_rcu_barrier();   /* deferred frees still use c->dtor */
	free(c);
}

static void stats_locked(struct uh_cache *c, struct uh_cache_stats *st)
{
	uint64_t allocs = atomic_load_explicit(&c->retired_allocs,
					       memory_order_relaxed);
	uint64_t frees = atomic_load_explicit(&c->retired_frees,
					      memory_order_relaxed);

	for (struct tcache *tc = tcaches; tc; tc = tc->next) {
		struct tslot *s = &tc->slot[c->id];

		if (s->cache == c) {
			allocs += atomic_load_explicit(&s->allocs,
						       memory_order_relaxed);
			frees += atomic_load_explicit(&s->frees,
						      memory_order_relaxed);
		}
	}
	uh_depot_lock(&c->depot);
	*st = (struct uh_cache_stats){
		.name = c->name,
		.size = c->size,
		.mag_rounds = cur_rounds(c),
		.resizes = c->resizes,
		.allocs = allocs,
		.frees = frees,
		.slab_allocs = atomic_load_explicit(&c->slab_allocs,
						    memory_order_relaxed),
		.slab_frees = atomic_load_explicit(&c->slab_frees,
						   memory_order_relaxed),
		.depot_contention = atomic_load_explicit(
			&c->depot.contention, memory_order_relaxed),
		.depot_full = c->depot.nfull,
		.depot_empty = c->depot.nempty,
		.reaped = atomic_load_explicit(&c->reaped,
					       memory_order_relaxed),
	};
	uh_depot_unlock(&c->depot);
}

void uh_cache_stats(struct uh_cache *c, struct uh_cache_stats *st)
{
	uh_lock(&registry_lock);
	stats_locked(c, st);
	uh_unlock(&registry_lock);
}

size_t uh_cache_stats_all(struct uh_cache_stats *out, size_t max)
{
	size_t n = 0;

	uh_lock(&registry_lock);
	for (unsigned i = 0; i < UH_CACHE_MAX; i++) {
		if (!caches[i])
			continue;
		if (n < max)
			stats_locked(caches[i], &out[n]);
		n++;
	}
	uh_unlock(&registry_lock);
	return n;
}

struct uh_depot *uh_cache_depot(struct uh_cache *c)
{
	return &c->depot;
}

/*
 * fork(2): the registry and every depot are taken before the fork and let
 * go after it in both processes, so that the child, which gets only the
 * forking thread, inherits none of them held (its own stack allocates
 * from these caches). Magazines of threads the child does not get are
 * lost to it: memory, not correctness.
 */
void uh_cache_fork_prepare(void)
{
	uh_lock_fork_acquire(&registry_lock);
	for (unsigned i = 0; i < UH_CACHE_MAX; i++)
		if (caches[i])
			uh_lock_fork_acquire(&caches[i]->depot.lock);
}

void uh_cache_fork_release(void)
{
	for (unsigned i = UH_CACHE_MAX; i-- > 0;)
		if (caches[i])
			uh_lock_fork_release(&caches[i]->depot.lock);
	uh_lock_fork_release(&registry_lock);
}
