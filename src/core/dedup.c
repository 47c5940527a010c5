/*
 * dedup.c - a server's memory of one client process's finished request
 * ids (see dedup.h).
 */
#include "core/dedup.h"

#include <stdlib.h>
#include <string.h>

/* The sequence number of @id within its client process. */
static uint64_t seq_of(uint64_t id)
{
	return (id >> 1) & ((1ull << (UH_DEDUP_KEY_SHIFT - 1)) - 1);
}

/* The ring holds two bit arrays of @cap bits: DONE (finished) at word 0,
 * SEEN (admitted, not ended unrun) at word cap / 64. */
enum { DONE = 0, SEEN = 1 };

static bool bit_get(const uint64_t *bits, uint32_t cap, unsigned which,
		    uint64_t s)
{
	uint64_t i = s & (cap - 1);

	return (bits[which * (cap / 64) + i / 64] >> (i % 64)) & 1;
}

static void bit_put(uint64_t *bits, uint32_t cap, unsigned which, uint64_t s,
		    bool v)
{
	uint64_t i = s & (cap - 1), m = 1ull << (i % 64);
	uint64_t *w = &bits[which * (cap / 64) + i / 64];

	if (v)
		*w |= m;
	else
		*w &= ~m;
}

static bool alive(const struct uh_dedup *d, uint64_t s)
{
	return bit_get(d->bits, d->cap, SEEN, s) &&
	       !bit_get(d->bits, d->cap, DONE, s);
}

uint64_t *uh_dedup_ring(uint32_t cap)
{
	return calloc(2 * (cap / 64), sizeof(uint64_t));
}

struct uh_dedup *uh_dedup_new(uint64_t id, uint64_t now)
{
	struct uh_dedup *d = calloc(1, sizeof(*d));
	uint64_t s = seq_of(id), half = UH_DEDUP_MIN_CAP / 2;

	if (!d)
		return NULL;
	d->bits = uh_dedup_ring(UH_DEDUP_MIN_CAP);
	if (!d->bits) {
		free(d);
		return NULL;
	}
	d->key = uh_dedup_key(id);
	d->cap = UH_DEDUP_MIN_CAP;
	d->floor = s > half ? s - half : 0;
	d->start = d->floor;
	d->born_tick = now;
	d->top = d->floor;
	d->active_tick = now;
	return d;
}

void uh_dedup_free(struct uh_dedup *d)
{
	if (d) {
		free(d->bits);
		free(d);
	}
}

bool uh_dedup_finished(const struct uh_dedup *d, uint64_t id)
{
	uint64_t s = seq_of(id);

	if (s <= d->floor)
		return true;
	if (s - d->floor > d->cap)
		return false;
	return bit_get(d->bits, d->cap, DONE, s);
}

uint32_t uh_dedup_lower_needs(const struct uh_dedup *d, uint64_t id,
			      uint32_t max_cap, uint64_t now, uint64_t settle)
{
	uint64_t s = seq_of(id), span;
	uint32_t want = d->cap;

	if (s == 0 || s > d->floor || d->floor != d->start ||
	    now >= d->born_tick + settle)
		return UINT32_MAX;
	span = (d->top > d->floor ? d->top : d->floor) - (s - 1);
	if (span > max_cap)
		return UINT32_MAX;
	while (want < span)
		want *= 2;
	return want > d->cap ? want : 0;
}

void uh_dedup_lower(struct uh_dedup *d, uint64_t id)
{
	/* Nothing at or below the old floor was ever seen, so the ring's
	 * bits for (s - 1, old floor] are clear: those positions held only
	 * numbers above the top. */
	d->floor = d->start = seq_of(id) - 1;
}

/* The highest number seen at least @settle ticks before @now: numbers
 * below it that are still unseen will not come (see dedup.h). */
static uint64_t settled_top(const struct uh_dedup *d, uint64_t now,
			    uint64_t settle)
{
	uint64_t top = d->floor;

	for (unsigned i = 0; i < UH_DEDUP_MARKS; i++)
		if (d->marks[i].tick + settle <= now && d->marks[i].top > top)
			top = d->marks[i].top;
	return top;
}

/* Whether sliding the floor past @t would lose something: @t is alive
 * here, or unseen and recent enough that its first copy may still come. */
static bool keep(const struct uh_dedup *d, uint64_t t, uint64_t settled)
{
	if (bit_get(d->bits, d->cap, SEEN, t))
		return alive(d, t);
	return t > settled;
}

uint32_t uh_dedup_needs(const struct uh_dedup *d, uint64_t id,
			uint32_t max_cap, uint64_t now, uint64_t settle)
{
	uint64_t s = seq_of(id), to, t, settled;
	uint32_t want = d->cap;

	if (s <= d->floor || s - d->floor <= d->cap)
		return 0;
	/* Sliding to s - cap passes over finished and settled numbers
	 * freely; one to keep there asks for a larger ring instead. */
	to = s - d->cap;
	settled = settled_top(d, now, settle);
	for (t = d->floor + 1; t <= to && t <= d->floor + d->cap; t++)
		if (keep(d, t, settled))
			break;
	if (t > to || t > d->floor + d->cap)
		return 0;
	while (want < s - t + 1 && want < max_cap)
		want *= 2;
	return want > d->cap ? want : 0;
}

uint64_t *uh_dedup_install(struct uh_dedup *d, uint64_t *bits, uint32_t cap)
{
	uint64_t *old = d->bits;

	if (cap <= d->cap)
		return bits;      /* another thread grew it first */
	for (uint64_t s = d->floor + 1; s <= d->floor + d->cap; s++)
		for (unsigned w = DONE; w <= SEEN; w++)
			if (bit_get(old, d->cap, w, s))
				bit_put(bits, cap, w, s, true);
	d->bits = bits;
	d->cap = cap;
	return old;
}

/* Moves the floor up over every finished number just above it. */
static void advance(struct uh_dedup *d)
{
	while (bit_get(d->bits, d->cap, DONE, d->floor + 1)) {
		bit_put(d->bits, d->cap, DONE, d->floor + 1, false);
		bit_put(d->bits, d->cap, SEEN, d->floor + 1, false);
		d->floor++;
	}
}

/* Records that @top was seen at @now: one mark per quarter of @settle, so
 * the UH_DEDUP_MARKS (8) marks reach back twice @settle. */
static void mark(struct uh_dedup *d, uint64_t now, uint64_t settle)
{
	struct uh_dedup_mark *m = &d->marks[d->mark_next];
	struct uh_dedup_mark *last =
		&d->marks[(d->mark_next + UH_DEDUP_MARKS - 1) % UH_DEDUP_MARKS];

	if (last->tick && now - last->tick < settle / 4 + 1) {
		last->top = d->top;   /* same period: the latest top */
		return;
	}
	m->tick = now;
	m->top = d->top;
	d->mark_next = (d->mark_next + 1) % UH_DEDUP_MARKS;
}

uint64_t uh_dedup_admit(struct uh_dedup *d, uint64_t id, uint64_t now,
			uint64_t settle)
{
	uint64_t s = seq_of(id), forgotten = 0;

	d->active_tick = now;
	if (s > d->floor && s - d->floor > d->cap) {
		uint64_t to = s - d->cap;   /* the new floor */
		uint64_t settled = settled_top(d, now, settle);
		uint64_t end = to < d->floor + d->cap ? to : d->floor + d->cap;

		/* Count what the slide loses: numbers still to keep. The
		 * part beyond the ring was never seen, and is recent. */
		for (uint64_t t = d->floor + 1; t <= end; t++)
			if (keep(d, t, settled))
				forgotten++;
		if (to > end)
			forgotten += to - (settled > end ? settled : end);
		if (to - d->floor >= d->cap) {
			memset(d->bits, 0, 2 * (d->cap / 8));
		} else {
			for (uint64_t t = d->floor + 1; t <= to; t++) {
				bit_put(d->bits, d->cap, DONE, t, false);
				bit_put(d->bits, d->cap, SEEN, t, false);
			}
		}
		d->floor = to;
		d->forgotten += forgotten;
		advance(d);
	}
	if (s > d->floor)
		bit_put(d->bits, d->cap, SEEN, s, true);
	if (s > d->top)
		d->top = s;
	mark(d, now, settle);
	d->alive++;
	return forgotten;
}

void uh_dedup_end(struct uh_dedup *d, uint64_t id, bool ran, uint64_t now)
{
	uint64_t s = seq_of(id);

	d->active_tick = now;
	if (d->alive)
		d->alive--;
	if (s <= d->floor || s - d->floor > d->cap)
		return;
	if (!ran)
		/* It may come again (its client may still be sending it):
		 * SEEN and not DONE, it is kept like an alive one -- the
		 * floor stays below it, and only the window's limit slides
		 * past it. */
		return;
	bit_put(d->bits, d->cap, DONE, s, true);
	advance(d);
}

bool uh_dedup_idle(const struct uh_dedup *d, uint64_t now, uint64_t quiet)
{
	return d->alive == 0 && now - d->active_tick >= quiet;
}

uint64_t uh_dedup_bytes(const struct uh_dedup *d)
{
	return sizeof(*d) + 2 * (d->cap / 8);
}
