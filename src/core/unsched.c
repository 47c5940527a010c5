/*
 * unsched.c - the bytes a message sends before any grant (unsched.h).
 */
#include <stdatomic.h>

#include "core/metrics.h"
#include "core/peer.h"
#include "core/stack.h"
#include "core/unsched.h"

/* The word: the allowance at a tick in the high half (0:
 * cfg.unsched_bytes), the low 32 bits of that tick in the low half; it
 * grows from there by a 64th of the cap per tick. A new peer starts at
 * cfg.unsched_bytes (uh_peer_get). */
#define GROW_SHIFT 6

uint32_t uh_unsched_local_cap(const struct uhoma_stack *st)
{
	uint64_t cap = st->cfg.local_unsched;
	uint64_t room = st->carrier->rcvbuf / 8;

	if (cap > room)
		cap = room;
	if (cap > UHOMA_MAX_MESSAGE)
		cap = UHOMA_MAX_MESSAGE;
	return cap > st->cfg.unsched_bytes ? (uint32_t)cap : 0;
}

static uint32_t allowance(const struct uhoma_stack *st, uint64_t word,
			  uint32_t now)
{
	uint64_t cap = st->local_unsched, base = word >> 32;
	uint64_t grown = (uint64_t)(uint32_t)(now - (uint32_t)word) *
			 (cap >> GROW_SHIFT);

	if (base < st->cfg.unsched_bytes)
		base = st->cfg.unsched_bytes;
	return base + grown >= cap ? (uint32_t)cap : (uint32_t)(base + grown);
}

static uint32_t now32(const struct uhoma_stack *st)
{
	return (uint32_t)atomic_load_explicit(&st->ticks,
					      memory_order_relaxed);
}

uint32_t uh_unsched_bytes(struct uhoma_stack *st, struct uh_peer *peer)
{
	if (!peer->local || !st->local_unsched)
		return st->cfg.unsched_bytes;
	return allowance(st, atomic_load_explicit(&peer->unsched,
						  memory_order_relaxed),
			 now32(st));
}

void uh_unsched_loss(struct uhoma_stack *st, struct uh_peer *peer)
{
	uint32_t now = now32(st);
	uint64_t word;

	if (!peer->local || !st->local_unsched)
		return;
	word = atomic_load_explicit(&peer->unsched, memory_order_relaxed);
	if (allowance(st, word, now) <= st->cfg.unsched_bytes)
		return;                 /* at the floor already */
	/* Back to cfg.unsched_bytes, growing again from this tick. */
	atomic_store_explicit(&peer->unsched, now, memory_order_relaxed);
	uh_metric_inc(st->metrics, UH_M_UNSCHED_CUTS);
}
