/*
 * engine.c - the event heap and the virtual clock (engine.h).
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* A 4-ary heap of 16-byte keys: half the levels of a binary one, and a
 * node's four children share one cache line (the heap starts 3 entries
 * into a 64-byte-aligned block, so that children 4i+1..4i+4 sit at
 * 4(i+1)..4(i+1)+3). What each event does lives in a side table the
 * heap never moves. The heap outgrows the caches on a large fabric, and
 * its misses were the simulator's largest cost. */
#define ARITY 4
#define BASE 3
#define SLOT_MASK ((1ull << SIM_SLOT_BITS) - 1)

void sim_engine_init(struct sim_engine *e)
{
	memset(e, 0, sizeof(*e));
}

void sim_engine_free(struct sim_engine *e)
{
	free(e->heap);
	free(e->ev);
	free(e->free_slots);
	memset(e, 0, sizeof(*e));
}

static int earlier(const struct sim_key *x, const struct sim_key *y)
{
	return x->time < y->time || (x->time == y->time && x->order < y->order);
}

/* Room for one more event: a key and a slot. Each pending event holds
 * one of each, so both tables have cap entries and the free slots are the
 * cap - n not in use. */
static int grow(struct sim_engine *e)
{
	size_t cap = e->cap ? 2 * e->cap : 1024;
	struct sim_key *h;
	struct sim_event *ev;
	uint32_t *fs;

	if (e->n < e->cap)
		return 0;
	if (cap > (1ull << SIM_SLOT_BITS))
		return -1;
	h = aligned_alloc(64, ((cap + BASE) * sizeof(*h) + 63) & ~(size_t)63);
	if (!h)
		return -1;
	if (e->heap)
		memcpy(h, e->heap, (e->n + BASE) * sizeof(*h));
	free(e->heap);
	e->heap = h;
	ev = realloc(e->ev, cap * sizeof(*ev));
	if (!ev)
		return -1;
	e->ev = ev;
	fs = realloc(e->free_slots, cap * sizeof(*fs));
	if (!fs)
		return -1;
	e->free_slots = fs;
	/* All cap old slots are in use (n == cap): the new ones are free. */
	for (size_t i = cap; i-- > e->cap;)
		e->free_slots[i - e->cap] = (uint32_t)i;
	e->cap = cap;
	return 0;
}

int sim_at(struct sim_engine *e, uint64_t delay, sim_fn fn, void *a, void *b)
{
	struct sim_key k;
	uint32_t slot;
	size_t i;

	if (grow(e))
		return -1;
	/* free_slots[0 .. cap - n) are free; the last is taken. */
	slot = e->free_slots[e->cap - e->n - 1];
	e->ev[slot] = (struct sim_event){ fn, a, b };
	k.time = e->now + delay;
	k.order = e->next_seq++ << SIM_SLOT_BITS | slot;
	/* Sift up: the new key rises past every later parent. */
	for (i = e->n++; i > 0; i = (i - 1) / ARITY) {
		size_t up = (i - 1) / ARITY;

		if (!earlier(&k, &e->heap[BASE + up]))
			break;
		e->heap[BASE + i] = e->heap[BASE + up];
	}
	e->heap[BASE + i] = k;
	return 0;
}

/* Removes the earliest key into @out. The heap is not empty. */
static void pop(struct sim_engine *e, struct sim_key *out)
{
	struct sim_key *h = e->heap + BASE;
	struct sim_key last = h[--e->n];
	size_t i = 0;

	*out = h[0];
	/* Sift the last key down from the root. */
	for (;;) {
		size_t first = ARITY * i + 1, c = first, end = first + ARITY;

		if (first >= e->n)
			break;
		if (end > e->n)
			end = e->n;
		for (size_t k = first + 1; k < end; k++)
			if (earlier(&h[k], &h[c]))
				c = k;
		if (!earlier(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (e->n)
		h[i] = last;
}

int sim_step(struct sim_engine *e)
{
	struct sim_key k;
	struct sim_event ev;
	uint32_t slot;

	if (!e->n)
		return 0;
	pop(e, &k);             /* n is one less: cap - n - 1 slots were free */
	slot = (uint32_t)(k.order & SLOT_MASK);
	ev = e->ev[slot];
	e->free_slots[e->cap - e->n - 1] = slot;
	e->now = k.time;
	e->fired++;
	ev.fn(ev.a, ev.b);
	return 1;
}

uint64_t sim_run_until(struct sim_engine *e, uint64_t until)
{
	uint64_t start = e->fired;

	while (e->n && e->heap[BASE].time <= until)
		sim_step(e);
	if (e->now < until && e->n)
		e->now = until;
	return e->fired - start;
}
