/*
 * cache_thread.h - the per-thread magazine layer of the object caches,
 * exposed only so that cache.h can inline the fast paths of alloc and free.
 * Nothing else may touch these structures.
 *
 * Each thread owns one struct tcache (allocated on its first cache use),
 * with one slot per cache id. A slot is touched only by its thread, except
 * under the cache registry lock when the thread exits or the cache is
 * destroyed (which must not race with use of that cache).
 */
#ifndef UHOMA_MEM_CACHE_THREAD_H
#define UHOMA_MEM_CACHE_THREAD_H

#include <stdatomic.h>
#include <stdint.h>

#include "mem/magazine.h"

#define UH_CACHE_MAX 64

struct uh_cache;

/* One thread's state for one cache. */
struct tslot {
	/* NULL, or the cache using it. Destroy resets every thread's slot
	 * of the dying cache, so a match is never a reused address. */
	struct uh_cache *cache;
	struct uh_magazine *loaded, *prev;  /* prev: always full or empty */
	_Atomic uint64_t allocs, frees;     /* single writer: load + store */
};

struct tcache {
	struct tcache *next;                /* cache registry lock */
	struct tslot slot[UH_CACHE_MAX];
};

extern __thread struct tcache *uh_cache_tc_self
	__attribute__((tls_model("initial-exec")));

/* The slot of the calling thread for cache id @id, if it serves @c. */
static inline struct tslot *uh_cache_slot_fast(struct uh_cache *c, unsigned id)
{
	struct tcache *tc = uh_cache_tc_self;
	struct tslot *s;

	if (!tc)
		return 0;
	s = &tc->slot[id];
	return s->cache == c ? s : 0;
}

static inline void uh_cache_count(_Atomic uint64_t *ctr)
{
	atomic_store_explicit(ctr, atomic_load_explicit(
		ctr, memory_order_relaxed) + 1, memory_order_relaxed);
}

#endif /* UHOMA_MEM_CACHE_THREAD_H */
