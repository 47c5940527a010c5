/*
 * pool.h - the receive buffer region an application gives a socket.
 *
 * The region is cut into 64 KiB bpages. A message of length L gets
 * L / 64 KiB whole bpages (lowest free first) and its tail (L mod 64 KiB)
 * is carved from the pool's current partial bpage, so a message uses at
 * most 16 entries: byte o is at region + offsets[o >> 16] + (o & 0xFFFF).
 *
 * Each bpage counts its references: one per message with bytes in it, plus
 * one while it is the partial bpage. A message's references pass to the
 * application when it is received and come back through uh_pool_release()
 * (app_held marks each piece the application holds by where it starts, so
 * a piece handed back twice is refused). A bpage is free when its count
 * is zero.
 *
 * All state is under pool.lock, a leaf: it may be taken under an RPC lock
 * (DATA arrival allocates) and nothing is taken under it.
 */
#ifndef UHOMA_CORE_POOL_H
#define UHOMA_CORE_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/lock.h"

#define UH_BPAGE_SHIFT 16
#define UH_BPAGE_SIZE (1u << UH_BPAGE_SHIFT)
#define UH_MAX_BPAGES 16
#define UH_POOL_MIN_BYTES (2u * UH_BPAGE_SIZE + 2000000u)

struct uh_pool {
	struct uh_lock lock;    /* class pool (leaf): everything below */
	uint8_t *_Atomic region; /* NULL until uh_pool_setup; then immutable
				  * (release-published, acquire-read) */
	uint32_t num_bpages;    /* immutable after setup */
	uint32_t *free_stack;   /* free bpage indexes, lowest on top */
	uint32_t free_count;
	uint16_t *refs;         /* per bpage: references (see above) */
	uint64_t *app_held;     /* per bpage, a bit per 64-byte slot: a piece
				 * the app holds starts there */
	uint32_t partial;       /* partial bpage index, or UINT32_MAX */
	uint32_t partial_used;  /* bytes of it handed out */
};

void uh_pool_init(struct uh_pool *p);

/* Sets the region (once). May allocate: no lock held. Returns 0 or
 * UHOMA_ERR_INVALID_ARGUMENT / UHOMA_ERR_NOMEM. */
int uh_pool_setup(struct uh_pool *p, void *region, size_t length);

/* Whether @region and @length are a region uh_pool_setup takes: page
 * aligned, UH_POOL_MIN_BYTES to 4 GiB. */
bool uh_pool_region_ok(const void *region, size_t length);

/* Frees the bookkeeping (not the region, which is the application's). */
void uh_pool_destroy(struct uh_pool *p);

static inline uint8_t *uh_pool_region(struct uh_pool *p)
{
	return atomic_load_explicit(&p->region, memory_order_acquire);
}

/* Space for a @length-byte message: fills @offsets/@n. Returns false (and
 * changes nothing) if the pool lacks room right now. */
bool uh_pool_alloc(struct uh_pool *p, uint32_t length, uint32_t *offsets,
		   uint32_t *n);

/* Drops a message's references (a message never given to the app). */
void uh_pool_free(struct uh_pool *p, const uint32_t *offsets, uint32_t n);

/* The message's references now belong to the application. */
void uh_pool_give_to_app(struct uh_pool *p, const uint32_t *offsets,
			 uint32_t n);

/* The application hands references back. All-or-nothing: returns
 * UHOMA_ERR_INVALID_ARGUMENT, releasing nothing, if any offset is not
 * where a piece the app holds starts (outside the region, inside a piece,
 * or a piece already handed back). */
int uh_pool_release(struct uh_pool *p, const uint32_t *offsets, uint32_t n);

/* Bytes in free bpages (a hint; for metrics and tests). */
uint64_t uh_pool_free_bytes(struct uh_pool *p);

#endif /* UHOMA_CORE_POOL_H */
