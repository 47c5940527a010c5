/*
 * peer.h - what a stack remembers about each host it talks to.
 *
 * The peer table maps an address to a struct uh_peer. Lookups run under
 * RCU with no lock; insertions and removals take the table lock (rank
 * TABLE). A peer is counted: every RPC holds a reference to its peer
 * (taken by uh_peer_get, handed to the RPC, dropped when the RPC is freed),
 * so an RPC may keep a plain pointer to it. A peer with no reference, no
 * at-most-once record and no ack owed, unused for dedup_quiet_ms, is
 * removed by the timer's walk and freed after a grace period
 * (uh_peertab_expire): a sender with many addresses cannot grow a stack
 * without bound, and cfg.max_peers caps the table outright.
 *
 * Synchronization table:
 *   lookup       || lookup, insert : RCU (acquire loads of chain pointers)
 *   insert       || insert, remove : peertab.lock
 *   refs         || remove         : atomic: a removal CASes 0 -> dead
 *                                    under peertab.lock; a get CASes
 *                                    n -> n + 1 unless dead (then retries)
 *   acks, dedup  || anything       : peer.lock (leaf)
 *   cut          || anything       : cut_lock (seqlock; readers retry)
 */
#ifndef UHOMA_CORE_PEER_H
#define UHOMA_CORE_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "util/addr.h"
#include "core/dedup.h"
#include "core/prio.h"
#include "core/wire.h"
#include "sync/lock.h"
#include "sync/rcu.h"
#include "sync/seqlock.h"
#include "util/pheap.h"

/* uh_peer.refs of a peer removed from the table. */
#define UH_PEER_DEAD UINT32_MAX

/*
 * How long a peer takes to answer, in ticks, learned from the waits we
 * see (Jacobson's estimator, as TCP's RTO): the smoothed wait x 8 in the
 * high half of @v, the mean deviation x 4 in the low. Any thread that
 * takes a sample updates it with a CAS (a lost race loses a sample); 0:
 * no sample yet.
 */
struct uh_delay_est {
	_Atomic uint64_t v;
};

/* A peer's response delays are kept per port that answers, in this many
 * slots (port % UH_DELAY_SLOTS; ports that share a slot share it): a slow
 * service must not stretch the loss recovery of a fast one on the same
 * host (helper-26). */
#define UH_DELAY_SLOTS 8

struct uh_peer {
	struct uh_peer *_Atomic next;  /* hash chain: written under
					* peertab.lock, read under RCU */
	struct uh_addr addr;           /* immutable */
	uint32_t max_payload;          /* immutable: DATA bytes per packet to
					* it (the route's MTU) */
	bool local;                    /* immutable: packets to it stay in
					* this host (not paced) */
	_Atomic uint64_t unsched;      /* local peers: the bytes a message
					* to it sends before a grant
					* (unsched.c; relaxed atomics, CAS) */
	_Atomic uint32_t refs;         /* RPCs and getters (see above) */
	_Atomic uint64_t used_tick;    /* last uh_peer_get (relaxed) */
	struct uh_rcu_head rcu;        /* its free after removal */
	struct uh_lock lock;           /* class peer (leaf): fields below */
	unsigned num_acks;             /* peer.lock */
	struct uh_ack acks[UH_MAX_ACKS]; /* peer.lock: client side, RPCs
					  * whose responses we received and
					  * must acknowledge */
	uint16_t ack_port[UH_MAX_ACKS];  /* peer.lock: the port of our
					  * socket that owns each of @acks */
	struct uh_dedup *dedup;        /* peer.lock: server side, one record
					* per client process (dedup.h) */
	uint32_t ndedup;               /* peer.lock: records in @dedup */
	struct uh_seqlock cut_lock;    /* its writer lock: class peer.cutoffs */
	UH_SEQ_RECORD(struct uh_cutoffs, cut); /* cut_lock: the peer's
						* unscheduled cutoffs */
	_Atomic uint64_t cutoffs_sent; /* tick of our last CUTOFFS to it
					* (CAS) */
	_Atomic uint64_t heard_tick;   /* tick of its last packet for one of
					* our RPCs (relaxed; written only
					* when it changes) */
	/* How long this peer takes to answer (uh_delay_est): as a server,
	 * our one-round-trip requests' responses (creation to first
	 * packet); as a client, the ACKs of our responses (reply to ACK). */
	struct uh_delay_est resp_delay[UH_DELAY_SLOTS]; /* uh_peer_resp_delay */
	struct uh_delay_est ack_delay;  /* one for the host: its ACKs wait on
					 * its CPUs, whichever process */
	/* The grant manager's (grant.h), under the grant lock: this
	 * peer's QUEUED messages, the best at the root; while it has any,
	 * its place among such peers while none of its messages is active
	 * (grant.peers). */
	struct uh_pheap grant_q;
	struct uh_pheap_node grant_node;
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

/* A wait of @ticks for a peer's answer, into @e. */
void uh_delay_sample(struct uh_delay_est *e, uint64_t ticks);

/* How long an answer may take before its silence means something, in
 * ticks: smoothed wait + 4 deviations, at most @cap; 0 while answers come
 * within a tick, or with no sample. */
uint64_t uh_delay_bound(const struct uh_delay_est *e, uint64_t cap);

/* @peer's estimate of the responses from its port @port. */
static inline struct uh_delay_est *uh_peer_resp_delay(struct uh_peer *peer,
						      uint16_t port)
{
	return &peer->resp_delay[port % UH_DELAY_SLOTS];
}

#define UH_PEERTAB_BUCKETS 256

struct uh_peertab {
	struct uh_lock lock;                        /* class peertab */
	struct uh_peer *_Atomic buckets[UH_PEERTAB_BUCKETS]; /* RCU */
	uint32_t count;                             /* lock: peers in it */
	uint32_t max;                               /* immutable: the cap */
	struct uh_metrics *metrics;                 /* immutable: the
						     * stack's (peers gauge) */
	uint32_t (*size_to)(void *ctx, const struct uh_addr *addr,
			    bool *local);           /* immutable: the DATA
						     * payload per packet to
						     * a new peer (the route
						     * to it); NULL: min */
	void *size_ctx;                             /* immutable */
	uint32_t min_payload;                       /* immutable */
};

struct uh_metrics;

/* @max: peers the table may hold (cfg.max_peers). */
void uh_peertab_init(struct uh_peertab *t, uint32_t max,
		     struct uh_metrics *metrics);
/* Each new peer's packets carry @size_to(@ctx, its address, &local) bytes
 * of payload (asked once, with no lock held: it may make system calls),
 * never fewer than @min_payload. Unset: @min_payload, not local. */
void uh_peertab_sizing(struct uh_peertab *t,
		       uint32_t (*size_to)(void *ctx, const struct uh_addr *a,
					   bool *local),
		       void *ctx, uint32_t min_payload);
/* Frees every peer. No thread may use the table any more. */
void uh_peertab_destroy(struct uh_peertab *t);

/* The peer for @addr under an RCU read section, or NULL. */
struct uh_peer *uh_peer_find(struct uh_peertab *t, const struct uh_addr *addr);

/* The peer for @addr, created if needed, with a reference the caller
 * passes on to an RPC or drops with uh_peer_put. @now: the stack's tick.
 * May allocate: call with no lock held. NULL if memory is exhausted or
 * the table is full (cfg.max_peers). */
struct uh_peer *uh_peer_get(struct uh_peertab *t, const struct uh_addr *addr,
			    uint64_t now);

/* Drops a reference from uh_peer_get (or an RPC's, when it is freed). */
static inline void uh_peer_put(struct uh_peer *p)
{
	atomic_fetch_sub_explicit(&p->refs, 1, memory_order_release);
}

/*
 * Removes the peers of bucket @b of @t that have been idle for @quiet ticks
 * (no reference, no record, no ack owed) and frees them after a grace
 * period. Returns how many. Takes the table lock and each peer's lock.
 */
unsigned uh_peertab_expire(struct uh_peertab *t, unsigned b, uint64_t now,
			   uint64_t quiet);

/*
 * Client side: remember that the response of RPC @ack, of our socket on
 * port @port, arrived. An ack goes only in packets from its own socket's
 * port: a server applies one only to the RPC of the port the packet came
 * from (the one thing a datagram's sender cannot forge, design.md "Source
 * ports"). Returns 0, or, if the store was full, how many of @port's acks
 * it moved to @out (up to UH_MAX_ACKS; @ack is not among them): the
 * caller must send them now in an ACK packet from @port whose header names
 * @ack's RPC. A full store with none of @port's drops its oldest ack to
 * make room for @ack (that server asks again with NEED_ACK).
 */
unsigned uh_peer_add_ack(struct uh_peer *p, uint16_t port,
			 const struct uh_ack *ack, struct uh_ack *out);

/* Takes up to @max stored acks of our socket on @port into @out; returns
 * how many. */
unsigned uh_peer_take_acks(struct uh_peer *p, uint16_t port,
			   struct uh_ack *out, unsigned max);

/* What uh_peer_dedup_admit decided. */
enum uh_dedup_verdict {
	UH_DEDUP_NEW,        /* not seen finished: admitted, counted alive */
	UH_DEDUP_FINISHED,   /* a copy of a finished request: drop it */
	UH_DEDUP_NOMEM,      /* no memory for the record: drop it */
};

/* Clients (process and port) one peer (host) is remembered for at most. */
#define UH_PEER_MAX_CLIENTS 1024

/* Limits and clock of the dedup records (from the stack's config). */
struct uh_dedup_limits {
	uint64_t now;        /* the stack's tick */
	uint32_t max_cap;    /* cfg.dedup_window, a power of two */
	uint32_t max_records;/* per peer: client processes remembered */
	uint64_t settle;     /* ticks after which unseen ids will not come */
	struct uh_dedup_budget *budget; /* the stack's: pays for records
					 * and rings */
	struct uh_peertab *table;       /* the stack's peers: where an idle
					 * record is found when the budget
					 * is spent */
	uint64_t steal_quiet;           /* ticks a record of another peer
					 * must have been quiet to be taken
					 * (the RPC timeout) */
};

/* What one admission changed, for the metrics. */
struct uh_dedup_counts {
	uint64_t forgotten;  /* ids slid out of the window unfinished */
	int created;         /* records added (1) ... */
	int evicted;         /* ... and evicted for room (1) */
	int restarted;       /* records started over for a new counter (1) */
};

/*
 * Server side, at-most-once (dedup.h): may a new RPC be created for
 * request @id from this peer's @port? UH_DEDUP_NEW admits it; the caller
 * must then call uh_peer_dedup_end once for it, whether or not it creates
 * the RPC.
 * May allocate: call with no lock held. Adds to *@counts.
 */
enum uh_dedup_verdict uh_peer_dedup_admit(struct uh_peer *p, uint16_t port,
					  uint64_t id,
					  const struct uh_dedup_limits *lim,
					  struct uh_dedup_counts *counts);

/* The server RPC of @id from @port admitted above ended; @ran: the
 * application saw the request (finished for good). Never blocks: any lock
 * may be held (the peer lock is a leaf). */
void uh_peer_dedup_end(struct uh_peer *p, uint16_t port, uint64_t id,
		       bool ran, uint64_t now);

/* Frees the records of @p idle for @quiet ticks; returns how many. Takes
 * the peer lock; frees after releasing it. */
unsigned uh_peer_dedup_expire(struct uh_peer *p, uint64_t now,
			      uint64_t quiet, struct uh_dedup_budget *b);

/* Calls @fn(peer, @arg) for each peer in bucket @b of @t, or in every
 * bucket if @b is UH_PEERTAB_BUCKETS, inside an RCU read section: @fn may
 * take the peer lock, and must not sleep. */
void uh_peertab_walk(struct uh_peertab *t, unsigned b,
		     void (*fn)(struct uh_peer *p, void *arg), void *arg);

#endif /* UHOMA_CORE_PEER_H */
