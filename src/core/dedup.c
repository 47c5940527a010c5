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

uint64_t *uh_dedup_ring(uint32_t cap)
{
	return calloc(2 * (cap / 64), sizeof(uint64_t));
}

/* Sets @d's window as a new record's for first request @id at @now. */
static void start_window(struct uh_dedup *d, uint64_t id, uint64_t now)
{
	uint64_t s = seq_of(id), half = UH_DEDUP_MIN_CAP / 2;

	d->floor = s > half ? s - half : 0;
	d->start = d->floor;
	d->born_tick = now;
	d->top = d->floor;
	d->active_tick = now;
	d->forgotten = 0;
	memset(d->marks, 0, sizeof(d->marks));
	d->mark_next = 0;
}

struct uh_dedup *uh_dedup_new(uint64_t key, uint64_t id, uint64_t now)
{
	struct uh_dedup *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->bits = uh_dedup_ring(UH_DEDUP_MIN_CAP);
	if (!d->bits) {
		free(d);
		return NULL;
	}
	d->key = key;
	d->cap = UH_DEDUP_MIN_CAP;
	start_window(d, id, now);
	return d;
}

bool uh_dedup_reborn(const struct uh_dedup *d, uint64_t id)
{
	uint64_t s = seq_of(id);

	return d->alive == 0 && s < d->floor &&
	       d->floor - s > UH_DEDUP_REBORN_GAP;
}

void uh_dedup_restart(struct uh_dedup *d, uint64_t id, uint64_t now)
{
	if (d->top > d->retired_top)
		d->retired_top = d->top;
	memset(d->bits, 0, uh_dedup_ring_bytes(d->cap));
	start_window(d, id, now);
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
	if (s - d->floor > UH_DEDUP_REBORN_GAP && s <= d->retired_top)
		return true;   /* a late copy from a retired counter */
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

/*
 * The scans below go a word at a time: numbers base .. base + 63, with
 * base a multiple of 64, share one word of each ring (cap is a multiple of
 * 64). A client's ids at one server are sparse (one counter for all its
 * servers), so a slide passes over as many numbers as the client sent
 * elsewhere meanwhile, on every request once the window is full.
 */

/* The word of ring @which holding numbers @base .. @base + 63. */
static uint64_t *word_at(const struct uh_dedup *d, unsigned which,
			 uint64_t base)
{
	return &d->bits[which * (d->cap / 64) + (base & (d->cap - 1)) / 64];
}

/* Bits @from .. @to (0..63, inclusive) of a word. */
static uint64_t span_mask(unsigned from, unsigned to)
{
	uint64_t up = to == 63 ? ~0ull : (2ull << to) - 1;

	return up & (~0ull << from);
}

/* Which of the 64 numbers from @base sliding the floor past would lose:
 * alive ones (seen, not finished), and unseen ones above @settled, whose
 * first copy may still come (see dedup.h). */
static uint64_t keep_word(const struct uh_dedup *d, uint64_t base,
			  uint64_t settled)
{
	uint64_t done = *word_at(d, DONE, base);
	uint64_t seen = *word_at(d, SEEN, base);
	uint64_t recent;

	if (settled < base)
		recent = ~0ull;
	else if (settled - base >= 63)
		recent = 0;
	else
		recent = ~0ull << (settled - base + 1);
	return (seen & ~done) | (~seen & recent);
}

/* How many numbers in [@a, @b] are to keep; @first (if not NULL) gets
 * the lowest, or b + 1 if none. */
static uint64_t scan_keep(const struct uh_dedup *d, uint64_t a, uint64_t b,
			  uint64_t settled, uint64_t *first)
{
	uint64_t n = 0, none = b + 1;

	if (!first)
		first = &none;
	*first = b + 1;
	while (a <= b) {
		uint64_t base = a & ~63ull;
		unsigned to = b - base >= 63 ? 63 : (unsigned)(b - base);
		uint64_t k = keep_word(d, base, settled) &
			     span_mask((unsigned)(a - base), to);

		if (k && *first > b)
			*first = base + (uint64_t)__builtin_ctzll(k);
		n += (uint64_t)__builtin_popcountll(k);
		a = base + to + 1;
	}
	return n;
}

/* Clears both rings' bits for the numbers [@a, @b]. */
static void clear_span(struct uh_dedup *d, uint64_t a, uint64_t b)
{
	while (a <= b) {
		uint64_t base = a & ~63ull;
		unsigned to = b - base >= 63 ? 63 : (unsigned)(b - base);
		uint64_t m = span_mask((unsigned)(a - base), to);

		*word_at(d, DONE, base) &= ~m;
		*word_at(d, SEEN, base) &= ~m;
		a = base + to + 1;
	}
}

uint32_t uh_dedup_needs(const struct uh_dedup *d, uint64_t id,
			uint32_t max_cap, uint64_t now, uint64_t settle)
{
	uint64_t s = seq_of(id), to, t, settled, end;
	uint32_t want = d->cap;

	if (s <= d->floor || s - d->floor <= d->cap)
		return 0;
	/* Sliding to s - cap passes over finished and settled numbers
	 * freely; one to keep there asks for a larger ring instead. */
	to = s - d->cap;
	settled = settled_top(d, now, settle);
	end = to < d->floor + d->cap ? to : d->floor + d->cap;
	(void)scan_keep(d, d->floor + 1, end, settled, &t);
	if (t > end)
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
	for (;;) {
		uint64_t a = d->floor + 1, base = a & ~63ull;
		uint64_t run = ~(*word_at(d, DONE, base) >> (a - base));
		unsigned n = run ? (unsigned)__builtin_ctzll(run) : 64;

		if (n > 64 - (unsigned)(a - base))
			n = 64 - (unsigned)(a - base);
		if (!n)
			return;
		clear_span(d, a, a + n - 1);
		d->floor += n;
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
		forgotten = scan_keep(d, d->floor + 1, end, settled, NULL);
		if (to > end)
			forgotten += to - (settled > end ? settled : end);
		if (to - d->floor >= d->cap)
			memset(d->bits, 0, 2 * (d->cap / 8));
		else
			clear_span(d, d->floor + 1, to);
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
	return sizeof(*d) + uh_dedup_ring_bytes(d->cap);
}
