/*
 * pool.c - allocation of receive buffer space in bpages.
 */
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "uhoma/uhoma.h"

static UH_LOCK_CLASS(pool_class, "pool", UH_RANK_LEAF, UH_LC_LEAF);

#define NO_PARTIAL UINT32_MAX
#define TAIL_ALIGN 64u
/* Where a message's piece may start in a bpage: every TAIL_ALIGN bytes. */
#define SLOTS (UH_BPAGE_SIZE / TAIL_ALIGN)
#define HELD_WORDS (SLOTS / 64)

void uh_pool_init(struct uh_pool *p)
{
	memset(p, 0, sizeof(*p));
	uh_lock_init(&p->lock, &pool_class);
	atomic_init(&p->region, NULL);
	p->partial = NO_PARTIAL;
}

bool uh_pool_region_ok(const void *region, size_t length)
{
	return region && !((uintptr_t)region & 4095) &&
	       length >= UH_POOL_MIN_BYTES && length <= (1ull << 32);
}

int uh_pool_setup(struct uh_pool *p, void *region, size_t length)
{
	uint32_t n;
	uint32_t *stack;
	uint16_t *refs;
	uint64_t *held;

	if (!uh_pool_region_ok(region, length))
		return UHOMA_ERR_INVALID_ARGUMENT;
	n = (uint32_t)(length >> UH_BPAGE_SHIFT);
	uh_lockdep_might_block("pool setup", UH_HERE);
	stack = malloc(n * sizeof(*stack));
	refs = calloc(n, sizeof(*refs));
	held = calloc((size_t)n * HELD_WORDS, sizeof(*held));
	if (!stack || !refs || !held) {
		free(stack);
		free(refs);
		free(held);
		return UHOMA_ERR_NOMEM;
	}
	for (uint32_t i = 0; i < n; i++)
		stack[i] = n - 1 - i;   /* lowest index on top */

	uh_lock(&p->lock);
	if (uh_pool_region(p)) {
		uh_unlock(&p->lock);
		free(stack);
		free(refs);
		free(held);
		return UHOMA_ERR_INVALID_ARGUMENT;
	}
	p->num_bpages = n;
	p->free_stack = stack;
	p->free_count = n;
	p->refs = refs;
	p->app_held = held;
	atomic_store_explicit(&p->region, (uint8_t *)region,
			      memory_order_release);
	uh_unlock(&p->lock);
	return UHOMA_OK;
}

void uh_pool_destroy(struct uh_pool *p)
{
	free(p->free_stack);
	free(p->refs);
	free(p->app_held);
	p->free_stack = NULL;
	p->refs = NULL;
	p->app_held = NULL;
}

static void put_ref(struct uh_pool *p, uint32_t b)
{
	if (--p->refs[b] == 0)
		p->free_stack[p->free_count++] = b;
}

bool uh_pool_alloc(struct uh_pool *p, uint32_t length, uint32_t *offsets,
		   uint32_t *n)
{
	uint32_t full = length >> UH_BPAGE_SHIFT;
	uint32_t tail = length & (UH_BPAGE_SIZE - 1);
	uint32_t tail_room = (tail + TAIL_ALIGN - 1) & ~(TAIL_ALIGN - 1);
	bool new_partial;
	uint32_t need;

	uh_lock(&p->lock);
	if (!p->free_stack) {
		uh_unlock(&p->lock);
		return false;
	}
	new_partial = tail && (p->partial == NO_PARTIAL ||
			       UH_BPAGE_SIZE - p->partial_used < tail_room);
	need = full + (new_partial ? 1 : 0);
	if (p->free_count < need) {
		uh_unlock(&p->lock);
		return false;
	}
	*n = 0;
	for (uint32_t i = 0; i < full; i++) {
		uint32_t b = p->free_stack[--p->free_count];

		p->refs[b] = 1;
		offsets[(*n)++] = b << UH_BPAGE_SHIFT;
	}
	if (tail) {
		if (new_partial) {
			if (p->partial != NO_PARTIAL)
				put_ref(p, p->partial);
			p->partial = p->free_stack[--p->free_count];
			p->refs[p->partial] = 1;    /* the partial's own */
			p->partial_used = 0;
		}
		p->refs[p->partial]++;
		offsets[(*n)++] = (p->partial << UH_BPAGE_SHIFT) +
				  p->partial_used;
		p->partial_used += tail_room;
	}
	uh_unlock(&p->lock);
	return true;
}

void uh_pool_free(struct uh_pool *p, const uint32_t *offsets, uint32_t n)
{
	uh_lock(&p->lock);
	for (uint32_t i = 0; i < n; i++)
		put_ref(p, offsets[i] >> UH_BPAGE_SHIFT);
	uh_unlock(&p->lock);
}

/* The bit of @p->app_held for the piece at region offset @off. */
static uint64_t *held_word(struct uh_pool *p, uint32_t off, uint64_t *bit)
{
	uint32_t slot = (off & (UH_BPAGE_SIZE - 1)) / TAIL_ALIGN;

	*bit = 1ull << (slot % 64);
	return &p->app_held[(size_t)(off >> UH_BPAGE_SHIFT) * HELD_WORDS +
			    slot / 64];
}

void uh_pool_give_to_app(struct uh_pool *p, const uint32_t *offsets,
			 uint32_t n)
{
	uint64_t bit;

	uh_lock(&p->lock);
	for (uint32_t i = 0; i < n; i++)
		*held_word(p, offsets[i], &bit) |= bit;
	uh_unlock(&p->lock);
}

int uh_pool_release(struct uh_pool *p, const uint32_t *offsets, uint32_t n)
{
	int rc = UHOMA_OK;
	uint64_t bit;
	uint32_t i;

	uh_lock(&p->lock);
	if (!p->app_held) {
		uh_unlock(&p->lock);
		return n ? UHOMA_ERR_INVALID_ARGUMENT : UHOMA_OK;
	}
	/* Validate everything first (a piece may appear twice in @offsets):
	 * each offset must be where a piece the application holds starts --
	 * not merely inside a bpage it holds a piece of, or releasing one
	 * small message twice would take its neighbour's reference. */
	for (i = 0; i < n; i++) {
		uint64_t *w;

		if ((offsets[i] >> UH_BPAGE_SHIFT) >= p->num_bpages ||
		    offsets[i] % TAIL_ALIGN) {
			rc = UHOMA_ERR_INVALID_ARGUMENT;
			break;
		}
		w = held_word(p, offsets[i], &bit);
		if (!(*w & bit)) {
			rc = UHOMA_ERR_INVALID_ARGUMENT;
			break;
		}
		*w &= ~bit;
	}
	if (rc != UHOMA_OK) {
		while (i-- > 0)   /* undo */
			*held_word(p, offsets[i], &bit) |= bit;
	} else {
		for (i = 0; i < n; i++)
			put_ref(p, offsets[i] >> UH_BPAGE_SHIFT);
	}
	uh_unlock(&p->lock);
	return rc;
}

uint64_t uh_pool_free_bytes(struct uh_pool *p)
{
	uint64_t v;

	uh_lock(&p->lock);
	v = (uint64_t)p->free_count << UH_BPAGE_SHIFT;
	uh_unlock(&p->lock);
	return v;
}
