/*
 * magazine.h - magazines and the depot of an object cache (Bonwick and
 * Adams, "Magazines and Vmem", USENIX ATC 2001).
 *
 * A magazine is a stack of up to @cap constructed objects. Each thread keeps
 * two per cache (cache.c); the depot holds the full and empty magazines the
 * threads are not using, behind one lock. The magazine size grows, one type
 * at a time, when the depot lock is contended (cache.c decides; the table of
 * types is here).
 */
#ifndef UHOMA_MEM_MAGAZINE_H
#define UHOMA_MEM_MAGAZINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/lock.h"

struct uh_magazine {
	struct uh_magazine *next;  /* depot list link (depot lock) */
	uint32_t cap;              /* rounds it can hold; immutable */
	uint32_t rounds;           /* objects in it now */
	void *objs[];
};

/* One magazine type: its capacity and the object sizes it serves. */
struct uh_magtype {
	uint32_t rounds;
	size_t minbuf;  /* objects larger than this may start with this type */
	size_t maxbuf;  /* growth into the next type only below this size */
};

/* Kept from illumos kmem.c: 1, 3, 7, ..., 143 rounds (a power of two, or a
 * cache-aligned block, once the header is added). */
extern const struct uh_magtype uh_magtypes[];
extern const unsigned uh_nmagtypes;

/* The starting type for objects of @objsize bytes. */
unsigned uh_magtype_initial(size_t objsize);
/* Whether a cache of @objsize bytes at type @t may grow to type t + 1. */
bool uh_magtype_can_grow(unsigned t, size_t objsize);

/* A new empty magazine of @cap rounds (malloc), or NULL. */
struct uh_magazine *uh_magazine_new(uint32_t cap);

static inline bool uh_mag_full(const struct uh_magazine *m)
{
	return m->rounds == m->cap;
}

static inline void *uh_mag_pop(struct uh_magazine *m)
{
	return m->objs[--m->rounds];
}

static inline void uh_mag_push(struct uh_magazine *m, void *obj)
{
	m->objs[m->rounds++] = obj;
}

/*
 * The depot. Every field but @contention is guarded by @lock; @contention is
 * bumped with the lock held but read without it by statistics (relaxed).
 */
struct uh_depot {
	struct uh_lock lock;
	struct uh_magazine *full;     /* full magazines, LIFO */
	struct uh_magazine *empty;    /* empty magazines, LIFO */
	uint32_t nfull, nempty;
	/* Working set: the fewest full/empty magazines seen this interval,
	 * and the previous interval's minimum (what may be reaped now). */
	uint32_t full_min, empty_min;
	uint32_t full_reapable, empty_reapable;
	_Atomic uint64_t contention;  /* failed try-locks, ever */
};

void uh_depot_init(struct uh_depot *d);

/* Takes the depot lock, counting a failed try in d->contention. */
void uh_depot_lock(struct uh_depot *d);
static inline void uh_depot_unlock(struct uh_depot *d)
{
	uh_unlock(&d->lock);
}

/* The following need the depot lock. */
struct uh_magazine *uh_depot_take_full(struct uh_depot *d);
struct uh_magazine *uh_depot_take_empty(struct uh_depot *d);
void uh_depot_put_full(struct uh_depot *d, struct uh_magazine *m);
void uh_depot_put_empty(struct uh_depot *d, struct uh_magazine *m);
/* Closes a working-set interval: what was never used in it becomes
 * reapable. */
void uh_depot_ws_update(struct uh_depot *d);

#endif /* UHOMA_MEM_MAGAZINE_H */
