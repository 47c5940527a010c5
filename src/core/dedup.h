/*
 * dedup.h - what a server remembers of one client process's request ids,
 * so that a late copy of a finished request never runs it again.
 *
 * A uhoma client numbers its RPCs with one counter per process (rpc.c):
 * the id's bits above UH_DEDUP_KEY_SHIFT name the process, the bits below
 * count its RPCs. A server sees a subsequence of one process's numbers
 * (the RPCs sent to it), in nearly the order they were issued.
 *
 * The record keeps, in sequence numbers (id bits 1..40):
 *   - @floor: every sequence number at or below it is finished, or treated
 *     as finished (a copy of it is dropped as a duplicate);
 *   - over (floor, floor + cap], two rings of @cap bits: DONE (the request
 *     ran and ended) and SEEN (admitted). Seen and not done: alive here
 *     now, or ended before it ran (it timed out, was evicted) and so may
 *     come again; either way it is kept.
 * Finishing the number just above the floor moves the floor up past every
 * finished number that follows. A number above floor + cap needs room: the
 * floor slides up past finished numbers and past *settled* unseen ones:
 * numbers below one that was seen at least @settle ticks ago (twice the
 * RPC timeout: by then the client has given up on any request of its that
 * never got here, or sent it to another server). A number to keep in the
 * way -- alive here, or unseen and not settled (a first copy lost and about
 * to be sent again, or overtaken) -- grows the ring instead, up to the
 * stack's dedup_window; only at that limit does the floor slide past it
 * too, counting it "forgotten": an alive RPC's own packets still find it
 * in the hash table, but a first copy arriving later is dropped, never run.
 *
 * A new record's floor is a guess (nothing at or below it was ever seen):
 * for @settle ticks after its creation, while the floor has not moved, a
 * first copy from below it lowers the floor under itself (growing the
 * ring to reach the record's top, up to the window) and is admitted. A
 * client's ids to one server are sparse -- it numbers every RPC to every
 * server from one counter -- so its first request here may well overtake
 * an earlier one still in its pacer or on another path.
 * So a request runs at most once as long as the record lives: while any of
 * the client's requests is alive here and for dedup_quiet_ms after the last
 * one ended (the timer frees it then). A first copy is refused (never run)
 * only if at least @cap later requests of its client, to any server, were
 * issued before it arrived, and one of them has already reached this one --
 * or, to a record a later request created, @settle ticks after that one.
 *
 * No locking of its own: the owner (struct uh_peer) serializes every call
 * with its lock. Nothing here allocates except uh_dedup_new/uh_dedup_grow,
 * which the caller runs with no lock held.
 */
#ifndef UHOMA_CORE_DEDUP_H
#define UHOMA_CORE_DEDUP_H

#include <stdbool.h>
#include <stdint.h>

struct uh_metrics;

/* Id bits above this name the client process (rpc.c's id layout). */
#define UH_DEDUP_KEY_SHIFT 41
/* The ring's first size, in sequence numbers (power of two). */
#define UH_DEDUP_MIN_CAP 1024u
/* Marks of (tick, highest number seen) kept to tell settled numbers. */
#define UH_DEDUP_MARKS 8

struct uh_dedup_mark {
	uint64_t tick;
	uint64_t top;
};

struct uh_dedup {
	struct uh_dedup *next;   /* the peer's list (peer lock) */
	uint64_t key;            /* uh_dedup_key: client process and port */
	uint64_t floor;          /* seq <= floor: finished */
	uint64_t start;          /* the floor as created (a guess: nothing at
				  * or below it seen); lowered with it */
	uint64_t born_tick;      /* tick of the record's creation */
	uint64_t top;            /* highest seq admitted */
	uint64_t active_tick;    /* tick of the last admit or finish */
	uint64_t forgotten;      /* seqs slid under the floor unfinished */
	uint64_t retired_top;    /* highest seq admitted under the counters
				  * this record was restarted from (0: none;
				  * uh_dedup_restart) */
	uint32_t alive;          /* admitted and neither finished nor dropped */
	uint32_t cap;            /* bits in @bits, a power of two */
	uint64_t *bits;          /* DONE ring, then SEEN ring: seq s at bit
				  * s & (cap - 1) of each */
	struct uh_dedup_mark marks[UH_DEDUP_MARKS]; /* @top over time, one per
						     * quarter of settle */
	unsigned mark_next;      /* the mark written next */
};

/*
 * The memory of every record of a stack, against cfg.dedup_mb. A record's
 * ring grows only with bytes taken from here (else its floor slides, and
 * ids are forgotten), and a new record past the limit must take the place
 * of an idle one -- its host's, or the quietest of a sample of other
 * hosts' (peer.c, steal_idle): a flood of forged ids far apart (16 KiB of
 * ring for two datagrams) holds at most the limit, not 16 KiB per pair,
 * and does not lock new clients out while its records wait out their
 * quiet time.
 */
struct uh_dedup_budget {
	_Atomic uint64_t used;      /* bytes held (atomic: each peer's lock
				     * covers only its own records) */
	uint64_t max;               /* immutable: cfg.dedup_mb in bytes */
	struct uh_metrics *metrics; /* immutable: the gauge dedup_bytes */
	_Atomic unsigned cursor;    /* the peer-table bucket where the next
				     * search for an idle record to evict
				     * starts (relaxed: a hint) */
};

/* Bytes of a ring of @cap ids (two bits each). */
static inline uint64_t uh_dedup_ring_bytes(uint32_t cap)
{
	return 2 * (uint64_t)(cap / 64) * sizeof(uint64_t);
}

/* The client of request @id from port @port: the process that numbered
 * it, on the port its packets come from (the one thing in a datagram its
 * sender cannot forge; rpc.h). */
static inline uint64_t uh_dedup_key(uint64_t id, uint16_t port)
{
	return (uint64_t)port << (64 - UH_DEDUP_KEY_SHIFT) |
	       id >> UH_DEDUP_KEY_SHIFT;
}

/* A record for client @key (uh_dedup_key), @id its first request, its
 * floor set below @id's sequence number by half the first ring (copies
 * that overtook earlier requests of the client are common at start). NULL
 * if memory is short. */
struct uh_dedup *uh_dedup_new(uint64_t key, uint64_t id, uint64_t now);
void uh_dedup_free(struct uh_dedup *d);

/* Sequence numbers this far below a record's floor are not a late copy
 * (that would take 2^38 later requests) but a new counter: the client's
 * process restarted with its predecessor's pid and port across the wrap
 * of rpc.c's id start, or its own counter wrapped. */
#define UH_DEDUP_REBORN_GAP (1ull << 38)

/* Whether @id is such a new counter's, at a record with nothing alive. */
bool uh_dedup_reborn(const struct uh_dedup *d, uint64_t id);
/*
 * Starts @d over as a new record for first request @id at @now. The old
 * counter's numbers stay finished up to its top (@retired_top): a late
 * copy of one of its requests lies 2^38 above the new floor and would
 * otherwise look like a new request far ahead. A sender that owns the
 * client's address and port can still start counters at will and replay
 * numbers of a counter two restarts back: at most once holds per counter
 * (uhoma(7), "Guarantees"; the restarts are counted, dedup_restarts).
 */
void uh_dedup_restart(struct uh_dedup *d, uint64_t id, uint64_t now);

/* Whether request @id is finished (a copy must be dropped). */
bool uh_dedup_finished(const struct uh_dedup *d, uint64_t id);

/*
 * For @id below the floor of a young record whose floor is still its
 * first guess (see the top): the ring size that lowering the floor under
 * @id needs -- 0 if the ring reaches already, a size up to @max_cap to
 * allocate first -- or UINT32_MAX if @id is truly finished (the floor is
 * knowledge, the record is old, or the window would not reach).
 */
uint32_t uh_dedup_lower_needs(const struct uh_dedup *d, uint64_t id,
			      uint32_t max_cap, uint64_t now, uint64_t settle);
/* Lowers the floor under @id (uh_dedup_lower_needs said it may, and the
 * ring is large enough). */
void uh_dedup_lower(struct uh_dedup *d, uint64_t id);

/* The ring size that admitting @id at tick @now needs (0: sliding is
 * enough), limited to @max_cap. The caller allocates it unlocked. */
uint32_t uh_dedup_needs(const struct uh_dedup *d, uint64_t id,
			uint32_t max_cap, uint64_t now, uint64_t settle);

/* A ring of @cap bits (uh_dedup_needs' answer), or NULL. Installed with
 * uh_dedup_install, which returns the ring it replaces (or @bits itself
 * if it is no longer needed) for the caller to free unlocked. */
uint64_t *uh_dedup_ring(uint32_t cap);
uint64_t *uh_dedup_install(struct uh_dedup *d, uint64_t *bits, uint32_t cap);

/*
 * A new RPC is being created for @id (uh_dedup_finished said no): slides
 * the floor if @id lies beyond the ring (returns how many sequence numbers
 * were forgotten doing so), counts it alive.
 */
uint64_t uh_dedup_admit(struct uh_dedup *d, uint64_t id, uint64_t now,
			uint64_t settle);

/* The RPC of @id ended. @ran: the application saw the request, so it is
 * finished for good; otherwise it never ran and may be sent again. */
void uh_dedup_end(struct uh_dedup *d, uint64_t id, bool ran, uint64_t now);

/* Whether the record may go: nothing alive, quiet since @quiet ticks. */
bool uh_dedup_idle(const struct uh_dedup *d, uint64_t now, uint64_t quiet);

/* Bytes the record uses. */
uint64_t uh_dedup_bytes(const struct uh_dedup *d);

#endif /* UHOMA_CORE_DEDUP_H */
