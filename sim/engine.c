/*
 * engine.c - the event queue and the virtual clock (engine.h).
 *
 * A radix heap: time never runs backwards, so every pending key is at or
 * after `last`, the earliest time taken out so far, and a key goes in
 * bucket j when its time first differs from `last` in bit j - 1 (bucket
 * 0: at `last` itself). Scheduling is an append. Taking the earliest
 * key, when bucket 0 is empty, finds the lowest non-empty bucket, makes
 * its earliest time the new `last` and deals its keys out again: each
 * lands in a lower bucket, so a key moves at most 64 times in its life
 * and in practice a few -- where the 4-ary heap this replaces sifted every
 * key through log4(n) levels and missed the cache at each on a large
 * fabric (its sift-down was the simulator's largest cost).
 *
 * Keys of one time always share a bucket (a key's bucket only moves down
 * as `last` nears it, the same way for equal times), and every bucket is
 * in sequence order: a deal fills buckets that were empty, in the order
 * of the bucket dealt out, and a key scheduled afterwards has a later
 * sequence number than any. So bucket 0, read from its head, gives the
 * earliest time's keys first-scheduled first, as engine.h promises
 * (test_sim's engine test, and byte-identical CSVs against the 4-ary
 * heap this replaced).
 *
 * What each event does lives in a side table the buckets never move.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define SLOT_MASK ((1ull << SIM_SLOT_BITS) - 1)

void sim_engine_init(struct sim_engine *e)
{
	memset(e, 0, sizeof(*e));
	e->limit = SIM_MAX_EVENTS;
	e->stop_at = UINT64_MAX;
}

void sim_engine_fail(struct sim_engine *e, enum sim_engine_failure why)
{
	if (!e->failed)
		e->failed = why;
}

const char *sim_engine_error(const struct sim_engine *e, char *buf,
			     size_t len)
{
	if (e->failed == SIM_ENG_FULL)
		snprintf(buf, len, "the run needs more than %zu events pending "
			 "at once, the simulator's limit: each packet on a "
			 "link is one until it arrives, so long latencies "
			 "(--prop-ns, --switch-ns, --host-ns, --nic-ns) with "
			 "many packets in flight, or a huge --load, "
			 "--messages or fabric, need that many; lower them, "
			 "--load or the link rates",
			 e->limit);
	else if (e->failed == SIM_ENG_NOMEM)
		snprintf(buf, len, "out of memory while the run was "
			 "simulated, at %.3f ms of simulated time: most of it "
			 "goes to the messages in flight at once (a load the "
			 "links cannot carry piles them up); lower --load, "
			 "--messages or the hosts", (double)e->now / 1e9);
	else
		snprintf(buf, len, "no error");
	return buf;
}

void sim_engine_stop_at(struct sim_engine *e, uint64_t t)
{
	e->stop_at = t;
}

void sim_engine_free(struct sim_engine *e)
{
	for (unsigned j = 0; j < SIM_BUCKETS; j++)
		free(e->b[j].k);
	free(e->ev);
	free(e->free_slots);
	memset(e, 0, sizeof(*e));
}

/* The bucket of a key at @t (>= last). */
static unsigned bucket_of(const struct sim_engine *e, uint64_t t)
{
	uint64_t x = t ^ e->last;

	return x ? 64u - (unsigned)__builtin_clzll(x) : 0;
}

static int push(struct sim_engine *e, unsigned j, struct sim_key k)
{
	struct sim_bucket *b = &e->b[j];

	if (b->n == b->cap) {
		uint32_t cap = b->cap ? 2 * b->cap : 64;
		struct sim_key *nk = realloc(b->k, cap * sizeof(*nk));

		if (!nk)
			return -1;
		b->k = nk;
		b->cap = cap;
	}
	b->k[b->n++] = k;
	if (j)
		e->nonempty |= 1ull << (j - 1);
	return 0;
}

/* Room for one more event's slot. Each pending event holds one, so the
 * free slots are the cap - n not in use. */
static int grow(struct sim_engine *e)
{
	size_t cap = e->cap ? 2 * e->cap : 1024;
	struct sim_event *ev;
	uint32_t *fs;

	if (e->n < e->cap)
		return 0;
	if (cap > e->limit)
		cap = e->limit;
	/* A slot number holds SIM_SLOT_BITS bits (sim_key.order). */
	if (cap <= e->cap || cap > SIM_MAX_EVENTS) {
		sim_engine_fail(e, SIM_ENG_FULL);
		return -1;
	}
	ev = realloc(e->ev, cap * sizeof(*ev));
	if (!ev)
		goto nomem;
	e->ev = ev;
	fs = realloc(e->free_slots, cap * sizeof(*fs));
	if (!fs)
		goto nomem;
	e->free_slots = fs;
	/* All cap old slots are in use (n == cap): the new ones are free. */
	for (size_t i = cap; i-- > e->cap;)
		e->free_slots[i - e->cap] = (uint32_t)i;
	e->cap = cap;
	return 0;
nomem:
	sim_engine_fail(e, SIM_ENG_NOMEM);
	return -1;
}

/* A key earlier than `last` (the clock was set back past the next event:
 * sim_run_until, then a schedule before it): deals every key out again
 * around @t. Rare; O(n). */
static int rebase(struct sim_engine *e, uint64_t t)
{
	struct sim_key *all = malloc((e->n ? e->n : 1) * sizeof(*all));
	size_t m = 0;

	if (!all) {
		sim_engine_fail(e, SIM_ENG_NOMEM);
		return -1;
	}
	for (unsigned j = 0; j < SIM_BUCKETS; j++) {
		struct sim_bucket *b = &e->b[j];

		for (uint32_t i = j ? 0 : b->head; i < b->n; i++)
			all[m++] = b->k[i];
		b->n = b->head = 0;
	}
	e->nonempty = 0;
	e->last = t;
	for (size_t i = 0; i < m; i++)
		if (push(e, bucket_of(e, all[i].time), all[i])) {
			/* Keys are lost: the engine must fire no more. */
			sim_engine_fail(e, SIM_ENG_NOMEM);
			free(all);
			return -1;
		}
	free(all);
	return 0;
}

int sim_at(struct sim_engine *e, uint64_t delay, sim_fn fn, void *a, void *b)
{
	struct sim_key k;
	uint32_t slot;

	/* A failed engine takes nothing more: the run is over. */
	if (e->failed || grow(e))
		return -1;
	k.time = e->now + delay;
	if (k.time < e->last && rebase(e, k.time))
		return -1;
	/* free_slots[0 .. cap - n) are free; the last is taken. */
	slot = e->free_slots[e->cap - e->n - 1];
	k.order = e->next_seq << SIM_SLOT_BITS | slot;
	if (push(e, bucket_of(e, k.time), k)) {
		sim_engine_fail(e, SIM_ENG_NOMEM);
		return -1;
	}
	e->ev[slot] = (struct sim_event){ fn, a, b };
	e->next_seq++;
	e->n++;
	return 0;
}

/* Makes bucket 0 hold the earliest keys, if any are pending; returns
 * whether it does. */
static int settle(struct sim_engine *e)
{
	struct sim_bucket *z = &e->b[0], *b;
	uint64_t min = UINT64_MAX;
	unsigned j;

	if (z->head < z->n)
		return 1;
	z->n = z->head = 0;
	if (!e->nonempty)
		return 0;
	j = (unsigned)__builtin_ctzll(e->nonempty) + 1;
	b = &e->b[j];
	for (uint32_t i = 0; i < b->n; i++)
		if (b->k[i].time < min)
			min = b->k[i].time;
	e->last = min;
	e->nonempty &= ~(1ull << (j - 1));
	/* Every key of bucket j goes lower (the buckets below are empty),
	 * so none is pushed back into it while it is read. */
	for (uint32_t i = 0; i < b->n; i++)
		if (push(e, bucket_of(e, b->k[i].time), b->k[i])) {
			/* A lost key is an event that never fires: the
			 * engine fails, and fires nothing more. */
			sim_engine_fail(e, SIM_ENG_NOMEM);
			return 0;
		}
	b->n = 0;
	return 1;
}

int sim_step(struct sim_engine *e)
{
	struct sim_key k;
	struct sim_event ev;
	uint32_t slot;

	if (e->failed || !e->n || !settle(e))
		return 0;
	k = e->b[0].k[e->b[0].head++];
	e->n--;                 /* cap - n - 1 slots were free */
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

	/* stop_at is read afresh for each event: the one firing may move
	 * it (the last message's start sets the drain's deadline). */
	while (!e->failed && e->n && settle(e) &&
	       e->last <= (until < e->stop_at ? until : e->stop_at))
		sim_step(e);
	if (until > e->stop_at)
		until = e->stop_at;
	if (!e->failed && e->now < until && e->n)
		e->now = until;
	return e->fired - start;
}
