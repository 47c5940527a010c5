/*
 * peer.h - what a stack remembers about each host it talks to.
 *
 * The peer table maps an address to a struct uh_peer. Lookups run under
 * RCU with no lock; insertions take the table lock (rank TABLE). Peers live
 * until the stack is destroyed (a stack talks to a bounded set of hosts in
 * this version; idle-peer collection is future work), so an RPC may keep a
 * plain pointer to its peer.
 *
 * Synchronization table:
 *   lookup       || lookup, insert : RCU (acquire loads of chain pointers)
 *   insert       || insert         : peertab.lock
 *   acks, done   || anything       : peer.lock (leaf)
 *   cut          || anything       : cut_lock (seqlock; readers retry)
 */
#ifndef UHOMA_CORE_PEER_H
#define UHOMA_CORE_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/prio.h"
#include "core/wire.h"
#include "sync/lock.h"
#include "sync/seqlock.h"

/* Server-side memory of acknowledged RPC ids (see uh_peer_done_*). */
#define UH_PEER_DONE_SLOTS 1024

struct uh_peer {
	struct uh_peer *_Atomic next;  /* hash chain: written under
					* peertab.lock, read under RCU */
	struct uh_addr addr;           /* immutable */
	struct uh_lock lock;           /* class peer (leaf): fields below */
	unsigned num_acks;             /* peer.lock */
	struct uh_ack acks[UH_MAX_ACKS]; /* peer.lock: client side, RPCs
					  * whose responses we received and
					  * must acknowledge */
	uint64_t done[UH_PEER_DONE_SLOTS]; /* peer.lock: server side, ids of
					    * RPCs this peer acknowledged */
	struct uh_seqlock cut_lock;    /* its writer lock: class peer.cutoffs */
	UH_SEQ_RECORD(struct uh_cutoffs, cut); /* cut_lock: the peer's
						* unscheduled cutoffs */
	_Atomic uint64_t cutoffs_sent; /* tick of our last CUTOFFS to it
					* (CAS) */
	_Atomic uint64_t heard_tick;   /* tick of its last packet for one of
					* our RPCs (relaxed; written only
					* when it changes) */
};

/* A packet from @peer arrived at tick @now. Written only when the tick
 * changes: one store per peer per tick, not one per packet. */
static inline void uh_peer_heard(struct uh_peer *peer, uint64_t now)
{
	if (atomic_load_explicit(&peer->heard_tick, memory_order_relaxed) !=
	    now)
		atomic_store_explicit(&peer->heard_tick, now,
				      memory_order_relaxed);
}

#define UH_PEERTAB_BUCKETS 256

struct uh_peertab {
	struct uh_lock lock;                        /* class peertab */
	struct uh_peer *_Atomic buckets[UH_PEERTAB_BUCKETS]; /* RCU */
};

void uh_peertab_init(struct uh_peertab *t);
/* Frees every peer. No thread may use the table any more. */
void uh_peertab_destroy(struct uh_peertab *t);

/* The peer for @addr under an RCU read section, or NULL. */
struct uh_peer *uh_peer_find(struct uh_peertab *t, const struct uh_addr *addr);

/* The peer for @addr, created if needed. May allocate: call with no lock
 * held. NULL only if memory is exhausted. */
struct uh_peer *uh_peer_get(struct uh_peertab *t, const struct uh_addr *addr);

/*
 * Client side: remember that the response of RPC @ack arrived. Returns
 * true if the store was full: then @ack is not stored, *@out holds the
 * UH_MAX_ACKS stored acks (the store is emptied), and the caller must send
 * them now in an ACK packet whose header names @ack's RPC.
 */
bool uh_peer_add_ack(struct uh_peer *p, const struct uh_ack *ack,
		     struct uh_ack *out);

/* Takes up to @max stored acks into @out; returns how many. */
unsigned uh_peer_take_acks(struct uh_peer *p, struct uh_ack *out,
			   unsigned max);

/*
 * Server side: records that the client acknowledged RPC @id (so duplicates
 * of its request arriving late are not served again), and checks for it.
 * The memory is direct-mapped on the id: it keeps the last
 * UH_PEER_DONE_SLOTS ids of a client process that numbers its RPCs
 * sequentially, fewer when several processes share an address.
 */
void uh_peer_done_add(struct uh_peer *p, uint64_t id);
bool uh_peer_done_check(struct uh_peer *p, uint64_t id);

#endif /* UHOMA_CORE_PEER_H */
