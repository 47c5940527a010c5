/*
 * cache.h - typed object caches after Bonwick's slab allocator with
 * magazines: RPC records, packet buffers and the other protocol objects.
 *
 * Layers (fastest first):
 *   1. per thread, per cache: a "loaded" and a "previous" magazine; alloc
 *      pops from loaded, free pushes onto it, swapping with previous when
 *      loaded runs empty/full. No lock, no atomic read-modify-write.
 *   2. the depot (magazine.h): full and empty magazines behind one lock,
 *      try-locked first; failed tries are counted per interval, and when an
 *      interval sees more than the threshold the cache moves to the next
 *      larger magazine type (bounded by object size).
 *   3. the "slab" layer: malloc + constructor on the way in, destructor +
 *      free on the way out. Objects stay constructed while cached.
 *
 * Working-set reaping: every interval the depot remembers the fewest full
 * and empty magazines it held; uh_cache_reap() returns to the system the
 * magazines that went unused for a whole interval.
 *
 * Type-safe mode (UH_CACHE_TYPESAFE_RCU, the SLAB_TYPESAFE_BY_RCU contract):
 * a freed object may be handed out again at once, but only to this cache, so
 * it stays an object of the same type, constructed; its memory goes back to
 * the system only after an RCU grace period. A reader that found the object
 * under uh_rcu_read_lock() may therefore still dereference it, but must
 * re-check its identity (the object may have been reused).
 *
 * Built with UHOMA_CACHE_PASSTHROUGH, every alloc is malloc + constructor and
 * every free is destructor + free (deferred by RCU in type-safe mode), so
 * AddressSanitizer sees each object's lifetime.
 *
 * Thread safety: alloc and free from any thread, concurrently. Create and
 * destroy must not race with use of the same cache. uh_cache_alloc and
 * uh_cache_free may call malloc and free and take the registry lock: never
 * call either holding a non-blocking lock (the validator checks every call).
 * Neither waits for another thread's action, so both may run inside an RCU
 * read-side section, as the kernel allocates atomically in its receive path.
 */
#ifndef UHOMA_MEM_CACHE_H
#define UHOMA_MEM_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/cache_thread.h"
#include "sync/lockdep.h"
#include "util/compiler.h"

struct uh_cache;

enum uh_cache_flags {
	UH_CACHE_TYPESAFE_RCU = 1u << 0,
};

struct uh_cache_config {
	const char *name;      /* for statistics; the string must outlive the cache */
	size_t size;           /* object size, > 0 */
	size_t align;          /* power of two, or 0 for 16 */
	/* Runs when an object first enters the cache from the system; a
	 * non-zero return fails that allocation. May be NULL. */
	int (*ctor)(void *obj, void *arg);
	/* Runs when an object goes back to the system. May be NULL. */
	void (*dtor)(void *obj, void *arg);
	void *arg;
	unsigned flags;        /* enum uh_cache_flags */
	uint64_t interval_ns;  /* working-set/contention interval; 0 = 1 s */
	unsigned contention_threshold; /* failed depot tries per interval
					* that grow the magazines; 0 = 3 */
};

/* Creates a cache; NULL if @cfg is invalid, memory is short, or
 * UH_CACHE_MAX caches exist. */
struct uh_cache *uh_cache_create(const struct uh_cache_config *cfg);

/* Returns every cached object to the system and frees the cache. No thread
 * may use the cache concurrently; objects still allocated are the caller's
 * (and must not be freed to this cache afterwards). */
void uh_cache_destroy(struct uh_cache *c);

/* Out-of-line paths: magazine exchanges, the depot, the system. */
void *uh_cache_alloc_slow(struct uh_cache *c);
void uh_cache_free_slow(struct uh_cache *c, void *obj);

/* The id of @c (its first field; see cache.c). */
static inline unsigned uh_cache_id(const struct uh_cache *c)
{
	return *(const unsigned *)(const void *)c;
}

/* A constructed object, or NULL if memory is exhausted or the constructor
 * failed. The fast path pops the calling thread's loaded magazine. */
static inline void *uh_cache_alloc_(struct uh_cache *c, struct uh_srcloc loc)
{
	uh_lockdep_might_block("uh_cache_alloc", loc);
#ifndef UHOMA_CACHE_PASSTHROUGH
	struct tslot *s = uh_cache_slot_fast(c, uh_cache_id(c));

	if (uh_likely(s && s->loaded && s->loaded->rounds)) {
		uh_cache_count(&s->allocs);
		return uh_mag_pop(s->loaded);
	}
#endif
	return uh_cache_alloc_slow(c);
}
#define uh_cache_alloc(c) uh_cache_alloc_((c), UH_HERE)

/* Returns @obj (from uh_cache_alloc on the same cache) to the cache.
 * Blocking, like alloc, on every path: its slow paths take the registry
 * lock, allocate magazines and return memory to the system, and whether a
 * given call takes them depends on the thread's history. So the validator
 * checks every call, and no free happens under a non-blocking lock. */
static inline void uh_cache_free_(struct uh_cache *c, void *obj,
				  struct uh_srcloc loc)
{
	uh_lockdep_might_block("uh_cache_free", loc);
#ifndef UHOMA_CACHE_PASSTHROUGH
	struct tslot *s = uh_cache_slot_fast(c, uh_cache_id(c));

	if (uh_likely(s && s->loaded && !uh_mag_full(s->loaded))) {
		uh_cache_count(&s->frees);
		uh_mag_push(s->loaded, obj);
		return;
	}
#endif
	uh_cache_free_slow(c, obj);
}
#define uh_cache_free(c, obj) uh_cache_free_((c), (obj), UH_HERE)

/* Closes the current interval now (normally done on the first depot access
 * after interval_ns has passed): updates the working set and may grow the
 * magazine size. */
void uh_cache_update(struct uh_cache *c);

/* Returns to the system the depot magazines unused over the last interval
 * (with @all: every depot magazine). Returns how many magazines it freed.
 * Blocking (frees memory): not under a non-blocking lock. */
size_t uh_cache_reap(struct uh_cache *c, bool all);

/* For the runtime's timer: closes intervals that are due and reaps, for
 * every cache. */
void uh_cache_tick_all(void);

struct uh_cache_stats {
	const char *name;
	size_t size;
	uint32_t mag_rounds;       /* current magazine capacity */
	unsigned resizes;          /* magazine growths so far */
	uint64_t allocs, frees;    /* through uh_cache_alloc/free */
	uint64_t slab_allocs;      /* objects taken from the system */
	uint64_t slab_frees;       /* objects returned to the system */
	uint64_t depot_contention; /* failed depot try-locks */
	uint32_t depot_full, depot_empty; /* magazines in the depot */
	uint64_t reaped;           /* magazines reaped so far */
};

/* A snapshot of @c's statistics (allocs/frees are summed over threads). */
void uh_cache_stats(struct uh_cache *c, struct uh_cache_stats *st);

/* The cache's depot, for white-box tests (tests/unit/test_cache.c). */
struct uh_depot *uh_cache_depot(struct uh_cache *c);

/* Statistics of every cache: fills up to @max entries, returns the count. */
size_t uh_cache_stats_all(struct uh_cache_stats *out, size_t max);

/* fork(2) handlers (runtime/fork.c): take every cache lock before the fork;
 * release them after it, in the parent and in the child. */
void uh_cache_fork_prepare(void);
void uh_cache_fork_release(void);

#endif /* UHOMA_MEM_CACHE_H */
