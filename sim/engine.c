/*
 * engine.c - the event heap and the virtual clock (engine.h).
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

/* A 4-ary heap: half the levels of a binary one, and a node's children
 * share a cache line or two -- the heap outgrows the caches on a large
 * fabric, and its misses were the simulator's largest cost. */
#define ARITY 4

void sim_engine_init(struct sim_engine *e)
{
	memset(e, 0, sizeof(*e));
}

void sim_engine_free(struct sim_engine *e)
{
	free(e->heap);
	memset(e, 0, sizeof(*e));
}

static int earlier(const struct sim_event *x, const struct sim_event *y)
{
	return x->time < y->time || (x->time == y->time && x->seq < y->seq);
}

int sim_at(struct sim_engine *e, uint64_t delay, sim_fn fn, void *a, void *b)
{
	struct sim_event ev = { e->now + delay, e->next_seq++, fn, a, b };
	size_t i;

	if (e->n == e->cap) {
		size_t cap = e->cap ? 2 * e->cap : 1024;
		struct sim_event *h = realloc(e->heap, cap * sizeof(*h));

		if (!h)
			return -1;
		e->heap = h;
		e->cap = cap;
	}
	/* Sift up: the new event rises past every later parent. */
	for (i = e->n++; i > 0; i = (i - 1) / ARITY) {
		size_t up = (i - 1) / ARITY;

		if (!earlier(&ev, &e->heap[up]))
			break;
		e->heap[i] = e->heap[up];
	}
	e->heap[i] = ev;
	return 0;
}

/* Removes the earliest event into @out. The heap is not empty. */
static void pop(struct sim_engine *e, struct sim_event *out)
{
	struct sim_event last = e->heap[--e->n];
	size_t i = 0;

	*out = e->heap[0];
	/* Sift the last event down from the root. */
	for (;;) {
		size_t first = ARITY * i + 1, c = first, end = first + ARITY;

		if (first >= e->n)
			break;
		if (end > e->n)
			end = e->n;
		for (size_t k = first + 1; k < end; k++)
			if (earlier(&e->heap[k], &e->heap[c]))
				c = k;
		if (!earlier(&e->heap[c], &last))
			break;
		e->heap[i] = e->heap[c];
		i = c;
	}
	if (e->n)
		e->heap[i] = last;
}

int sim_step(struct sim_engine *e)
{
	struct sim_event ev;

	if (!e->n)
		return 0;
	pop(e, &ev);
	e->now = ev.time;
	e->fired++;
	ev.fn(ev.a, ev.b);
	return 1;
}

uint64_t sim_run_until(struct sim_engine *e, uint64_t until)
{
	uint64_t start = e->fired;

	while (e->n && e->heap[0].time <= until)
		sim_step(e);
	if (e->now < until && e->n)
		e->now = until;
	return e->fired - start;
}
