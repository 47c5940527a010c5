/*
 * grant.h - receiver-side SRPT scheduling: which incoming messages may
 * receive scheduled bytes, how many, and at what priority
 * (homa-protocol.md §4.2).
 *
 * A message longer than its unscheduled bytes needs GRANTs. The stack's
 * grant manager (struct uh_grant) tracks every such message:
 *   - at most cfg.max_overcommit are ACTIVE, each in a slot; the others are
 *     QUEUED, ranked by fewest unreceived bytes (ties: oldest): each
 *     peer's in a pairing heap, the peers with some in a heap by their
 *     best, so that no step walks every queued message (with thousands
 *     queued, a sorted list made each arrival cost microseconds);
 *   - a slot goes to the best queued message of a peer that has no active
 *     one, else of the peer with the fewest, so every peer gets one active
 *     message before any gets a second; a better message evicts the worst
 *     message of the peer holding most slots;
 *   - granted-but-unreceived bytes of all managed messages (total_incoming)
 *     stay under cfg.max_incoming; each active message may run a window
 *     ahead of what it received (cfg.window, or max_incoming / (active+1));
 *     one that cannot get its window for lack of headroom is "needy", and
 *     freed headroom goes to needy messages in SRPT order;
 *   - the k-th best active message is granted at priority
 *     max_sched_prio - k - max(0, max_sched_prio + 1 - active), so few
 *     active messages use the lowest scheduled levels;
 *   - a FIFO share (cfg.grant_fifo_fraction per mille of the link) goes to
 *     the oldest message in fifo_grant_increment steps at the high priority.
 *
 * Locking (the lock order puts the grant lock before RPC locks):
 *   - the common path, more bytes for an ACTIVE message, runs under that
 *     RPC's lock alone: it updates total_incoming and the needy mask
 *     atomically and publishes its remaining bytes in its slot, which rank
 *     computations of other messages read lock-free (possibly stale);
 *   - moving messages between NONE, QUEUED and ACTIVE needs the grant lock
 *     and then the RPC lock. Code holding an RPC lock cannot take the grant
 *     lock, so it records the RPC (with a reference) in its struct
 *     uh_deferred; uh_deferred_flush calls uh_grant_recalc after all locks
 *     are gone;
 *   - the manager holds a reference on every RPC it tracks, dropped when
 *     the RPC leaves it.
 */
#ifndef UHOMA_CORE_GRANT_H
#define UHOMA_CORE_GRANT_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/rpc.h"
#include "core/sock.h"
#include "sync/lock.h"
#include "util/list.h"
#include "util/pheap.h"
#include "uhoma/uhoma.h"

struct uhoma_stack;

enum uh_grant_state {
	UH_G_NONE = 0,       /* not tracked */
	UH_G_QUEUED = 1,     /* on grant.queue */
	UH_G_ACTIVE = 2,     /* in a slot */
};

struct uh_grant_slot {
	struct uh_rpc *rpc;            /* grant lock; NULL = free */
	_Atomic uint32_t remaining;    /* unreceived bytes of rpc, UINT32_MAX
					* when free: written under the slot
					* RPC's lock (and the grant lock when
					* assigned), read lock-free */
	_Atomic uint64_t birth;        /* same rules */
};

struct uh_grant {
	struct uh_lock lock;           /* class grant */
	struct uh_grant_slot slot[UHOMA_MAX_OVERCOMMIT];
	_Atomic uint32_t num_active;   /* written under the grant lock */
	struct uh_list queue;          /* grant lock: QUEUED RPCs, unordered
					* (for rescans) */
	struct uh_pheap peers;         /* grant lock: peers with QUEUED RPCs,
					* by their best (peer->grant_q) */
	struct uh_pheap by_age;        /* grant lock: QUEUED RPCs of peers
					* not local, oldest first (FIFO
					* share) */
	_Atomic uint32_t num_queued;   /* written under the grant lock */
	_Atomic int64_t total_incoming;/* granted-but-unreceived bytes of
					* managed messages; atomic adds */
	_Atomic uint32_t needy;        /* bit per slot; atomic */
	_Atomic uint64_t births;       /* counter giving messages their age */
	_Atomic bool rescan;           /* a pending overflowed: recalc looks
					* at every tracked RPC */
	uint64_t fifo_credit;          /* grant lock: bytes of FIFO share */
	uint8_t max_sched_prio;        /* immutable after init */
};

void uh_grant_init(struct uhoma_stack *st);

/* A new peer's part of the manager (its heap of queued messages). */
void uh_grant_peer_init(struct uh_peer *peer);

/* After DATA was accepted for @rpc (locked): updates its accounting and,
 * if it is active, grants more when the policy allows, queueing GRANTs in
 * @p. A message that needs the manager is recorded in @p. */
void uh_grant_check(struct uh_rpc *rpc, struct uh_deferred *p);

/* Queues a GRANT repeating @rpc's current grant (lost-grant recovery). */
void uh_grant_send(struct uh_rpc *rpc, struct uh_deferred *p);

/* @rpc's (locked) message is complete, abandoned or restarting: the
 * manager will re-examine it (and drop it) from uh_deferred_flush. */
void uh_grant_done(struct uh_rpc *rpc, struct uh_deferred *p);

/* @rpc (locked) is silent past resend_ticks while granted bytes are
 * unsent: they stop holding max_incoming headroom (which goes to the
 * needy) until its next DATA (uh_grant_check) or a new grant to it. A
 * live sender resumes; a forged or vanished one no longer blocks every
 * other grant until its timeout. */
void uh_grant_silent(struct uh_rpc *rpc, struct uh_deferred *p);

/* Does what uh_grant_check/uh_grant_done deferred for the @n RPCs in
 * @rpcs (each with a reference, dropped here). No lock may be held. */
void uh_grant_recalc(struct uhoma_stack *st, struct uh_rpc **rpcs,
		     unsigned n);

/* One timer tick: the FIFO share. No lock may be held. */
void uh_grant_tick(struct uhoma_stack *st);

/* The priority of a grant to the message outranked by @rank of the
 * @active active messages. */
uint8_t uh_grant_priority(const struct uh_grant *g, unsigned rank,
			  unsigned active);

/* The number of messages being granted to (active + queued). */
uint32_t uh_grant_count(struct uhoma_stack *st);

#endif /* UHOMA_CORE_GRANT_H */
