/*
 * magazine.c - magazine types, magazines and the depot (see magazine.h).
 */
#include "mem/magazine.h"

#include <stdlib.h>

#include "sync/yield.h"

const struct uh_magtype uh_magtypes[] = {
	{ 1, 3200, 65536 }, { 3, 256, 32768 }, { 7, 64, 16384 },
	{ 15, 0, 8192 },    { 31, 0, 4096 },   { 47, 0, 2048 },
	{ 63, 0, 1024 },    { 95, 0, 512 },    { 143, 0, 0 },
};
const unsigned uh_nmagtypes = sizeof(uh_magtypes) / sizeof(uh_magtypes[0]);

static UH_LOCK_CLASS(depot_class, "cache.depot", UH_RANK_LEAF, UH_LC_LEAF);

unsigned uh_magtype_initial(size_t objsize)
{
	unsigned t = 0;

	while (t + 1 < uh_nmagtypes && objsize <= uh_magtypes[t].minbuf)
		t++;
	return t;
}

bool uh_magtype_can_grow(unsigned t, size_t objsize)
{
	return t + 1 < uh_nmagtypes && objsize < uh_magtypes[t].maxbuf;
}

struct uh_magazine *uh_magazine_new(uint32_t cap)
{
	struct uh_magazine *m = malloc(sizeof(*m) + cap * sizeof(void *));

	if (m) {
		m->next = NULL;
		m->cap = cap;
		m->rounds = 0;
	}
	return m;
}

void uh_depot_init(struct uh_depot *d)
{
	uh_lock_init(&d->lock, &depot_class);
	d->full = d->empty = NULL;
	d->nfull = d->nempty = 0;
	d->full_min = d->empty_min = 0;
	d->full_reapable = d->empty_reapable = 0;
	atomic_init(&d->contention, 0);
}

void uh_depot_lock(struct uh_depot *d)
{
	uh_yield_point();
	if (!uh_trylock(&d->lock)) {
		/* Counted before waiting, so the count is visible while the
		 * holder still holds the lock. */
		atomic_fetch_add_explicit(&d->contention, 1,
					  memory_order_relaxed);
		uh_lock(&d->lock);
	}
}

struct uh_magazine *uh_depot_take_full(struct uh_depot *d)
{
	struct uh_magazine *m = d->full;

	if (m) {
		d->full = m->next;
		if (--d->nfull < d->full_min)
			d->full_min = d->nfull;
	}
	return m;
}

struct uh_magazine *uh_depot_take_empty(struct uh_depot *d)
{
	struct uh_magazine *m = d->empty;

	if (m) {
		d->empty = m->next;
		if (--d->nempty < d->empty_min)
			d->empty_min = d->nempty;
	}
	return m;
}

void uh_depot_put_full(struct uh_depot *d, struct uh_magazine *m)
{
	m->next = d->full;
	d->full = m;
	d->nfull++;
}

void uh_depot_put_empty(struct uh_depot *d, struct uh_magazine *m)
{
	m->next = d->empty;
	d->empty = m;
	d->nempty++;
}

void uh_depot_ws_update(struct uh_depot *d)
{
	d->full_reapable = d->full_min;
	d->empty_reapable = d->empty_min;
	d->full_min = d->nfull;
	d->empty_min = d->nempty;
}
