/*
 * rpc.h - RPC records, the hash buckets whose locks are the RPC locks, and
 * the RPC life cycle.
 *
 * Locking (docs/design.md §3): an RPC's lock IS the lock of the hash bucket
 * it lives in. Finding an RPC and locking it is one step -- lock the
 * bucket, search it -- so nothing can free an RPC between lookup and lock.
 * Two RPCs in one bucket share a lock (rarely: 1024 buckets per table).
 *
 * Life cycle. Client: OUTGOING -> INCOMING (first response DATA) -> DEAD
 * (the application received the response or its error, or aborted it).
 * Server: INCOMING (created by the first request DATA) -> IN_SERVICE
 * (application received the request) -> OUTGOING (reply) -> DEAD (ACK,
 * RPC_UNKNOWN, shutdown, or the client stayed silent past the timeout).
 *
 * Ending an RPC (uh_rpc_end) only makes it unreachable: it leaves its
 * bucket and the socket's lists and joins the socket's dead list. The
 * reaper (uh_sock_reap) frees it later, and only when (a) nobody holds a
 * reference (refs == 0) and (b) the socket's protect count is zero.
 * Every path that locks an RPC also holds a reference (lookups take one),
 * so an RPC it ends, or that it unlocks to send packets or copy data,
 * stays allocated until it lets go with uh_rpc_release().
 */
#ifndef UHOMA_CORE_RPC_H
#define UHOMA_CORE_RPC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/addr.h"
#include "core/pool.h"
#include "core/wire.h"
#include "sync/lock.h"
#include "sync/rculist.h"
#include "util/list.h"
#include "util/pheap.h"

struct uhoma_sock;
struct uhoma_stack;
struct uh_peer;
struct uh_deferred;

/*
 * Where an RPC is in its life (the module's states and numbers, §3 of
 * homa-protocol.md). A client RPC goes OUTGOING -> INCOMING -> DEAD; a
 * server RPC INCOMING -> IN_SERVICE -> OUTGOING -> DEAD. Written under the
 * RPC lock (uh_rpc_set_state, which keeps the per-state gauges).
 */
enum uh_rpc_state {
	/* Sending its message: a client's request (until the first byte of
	 * the response arrives), or a server's response (until the client
	 * acknowledges it, the only proof it arrived). */
	UH_RPC_OUTGOING = 5,
	/* Receiving a message: a client's response, or a server's request
	 * (from its first DATA packet until the application takes it). */
	UH_RPC_INCOMING = 6,
	/* Server only: the application has the request and owes the
	 * response. Nothing is sent or expected meanwhile, but the client's
	 * RESENDs are answered with BUSY. */
	UH_RPC_IN_SERVICE = 8,
	/* Ended (uh_rpc_end): unreachable from the socket's tables, waiting
	 * on the dead list for the reaper, which frees it once nothing holds
	 * it. Every path re-checks for DEAD after taking the RPC lock. */
	UH_RPC_DEAD = 9,
};

#define UH_RPC_BUCKETS 1024
/* Gaps a message tracks in place; past them it moves to a block of
 * UH_GAPS_BLOCK (gaps.c): enough for any arrival order of a 1 MB message
 * in packets of 1,000 bytes or more. */
#define UH_MAX_GAPS 8
/* Restarts after RPC_UNKNOWN that reset a client RPC's silence. */
#define UH_MAX_RESTARTS 3
#define UH_GAPS_BLOCK 512

/* A hash bucket: its lock is the lock of every RPC in it. */
struct uh_bucket {
	struct uh_lock lock;     /* class rpc */
	struct uh_rpc *head;     /* bucket lock */
};

struct uh_gap {
	uint32_t start, end;     /* missing bytes [start, end) */
};

/* The message an RPC receives. Every field: RPC (bucket) lock. */
struct uh_msgin {
	int32_t length;          /* -1 until the first DATA */
	uint32_t recv_end;       /* one past the highest byte received */
	uint32_t bytes_remaining;/* bytes not yet received */
	uint32_t granted;        /* sender may send below this */
	uint32_t claimed;        /* the most the sender itself said it sends
				  * ungranted (DATA's incoming above what we
				  * granted): its unscheduled bytes, which
				  * hold no grant headroom (grant.c) */
	uint32_t copies;         /* copies to the region running unlocked */
	uint16_t num_gaps;
	uint16_t gaps_cap;       /* UH_MAX_GAPS, or UH_GAPS_BLOCK */
	struct uh_gap *gaps;     /* sorted by start, below recv_end: points
				  * at gaps_inline or at a block, which the
				  * RPC keeps until it is freed */
	struct uh_gap gaps_inline[UH_MAX_GAPS];
	bool has_bufs;           /* bpage space allocated */
	bool waiting_bufs;       /* on sock->waiting_bufs */
	bool proven;             /* the sender has shown it exists: a second
				  * DATA offset, or an answer to a probe.
				  * Until then a message may be a forged
				  * first packet, and waits behind proven
				  * ones for buffer space */
	bool data_seen;          /* a DATA packet arrived (@first_offset) */
	uint32_t first_offset;   /* offset of the first DATA seen */
	bool given;              /* bpages belong to the application now */
	uint32_t num_bpages;
	uint32_t bpage_offsets[UH_MAX_BPAGES];
};

/* The message an RPC sends. buf and length are immutable once set (buf is
 * read without the lock by senders holding a reference); the rest: RPC
 * lock. */
struct uh_msgout {
	uint8_t *buf;            /* the message (uh_rpc_msgbuf_alloc's copy,
				  * or the caller's own if @borrowed); NULL =
				  * none */
	bool borrowed;           /* immutable: @buf is the application's
				  * (UHOMA_ZEROCOPY), never freed here */
	_Atomic uint32_t senders;/* threads sending from a borrowed @buf with
				  * the RPC unlocked: raised under the RPC
				  * lock, lowered (release) after the send;
				  * see uh_rpc_release_borrowed */
	uint32_t length;
	uint32_t next_xmit;      /* bytes handed to the carrier (first time) */
	uint32_t granted;        /* receiver allows bytes below this */
	uint32_t unsched;        /* bytes below this go before any grant
				  * (uh_unsched_bytes when the message was
				  * set) */
	uint8_t sched_prio;      /* priority from the last GRANT */
	bool throttled;          /* in a pacer set: throttled or deferred
				  * (pacer.h); the set's sender owns it */
	uint32_t charged;        /* bytes held of the socket's send budget;
				  * 0 once returned (uh_rpc_tx_uncharge) */
	/* What was sent lately (uh_out_sent_lately): bytes [fresh_lo,
	 * next_xmit) were first sent at or after tick fresh_tick, bytes
	 * [resent_lo, resent_hi) retransmitted at or after resent_tick. */
	uint64_t fresh_tick;
	uint32_t fresh_lo;
	uint64_t resent_tick;
	uint32_t resent_lo, resent_hi;
};

struct uh_rpc {
	/* Immutable after creation, but for refs and hash_next (each says
	 * what protects it). What a lookup compares comes first, with the
	 * chain's link: one cache line per RPC a lookup passes. */
	uint64_t id;             /* local id: even = client, odd = server */
	uint16_t dport;          /* the peer's port */
	uint16_t sport;          /* client: the socket's port when the RPC
				  * was created, where its request leaves
				  * from (handle_unknown: a socket that moved
				  * since must not send it again) */
	bool is_private;
	struct uh_addr peer_addr; /* peer->addr, here for the lookups (the
				  * peer's line was a third cache miss in
				  * each server lookup: bench/README) */
	_Atomic int refs;        /* references (see above); atomic */
	struct uh_rpc *hash_next; /* RPC (bucket) lock */
	struct uh_peer *peer;
	struct uhoma_sock *sock;
	struct uh_bucket *bucket;
	uint64_t cookie;

	/* RPC (bucket) lock. */
	enum uh_rpc_state state; /* RPC lock: where it is in its life */
	int error;               /* uhoma error the RPC completed with, or 0 */
	bool handed_off;         /* complete (or failed) and made available */
	bool private_ready;      /* private RPC ready for uhoma_recv by id */
	uint64_t silent_since;   /* tick of the last word from the peer (or
				  * of the last reason not to expect one):
				  * the silence is measured from it */
	uint64_t born_tick;      /* immutable: the tick it was created */
	bool busy_seen;          /* client: the server answered BUSY, so it
				  * has the request (cleared on RPC_UNKNOWN) */
	bool answered;           /* RPC lock: the peer has spoken about this
				  * RPC (DATA, GRANT, RESEND or BUSY; for a
				  * client: the server has the request);
				  * cleared on RPC_UNKNOWN */
	bool late;               /* client, RPC lock: the server is on this
				  * host and outlived a timeout with its port
				  * held (timer.c local_alive): its probes
				  * back off */
	uint8_t restarts;        /* client: RPC_UNKNOWNs that restarted the
				  * silence (at most UH_MAX_RESTARTS) */
	bool acked;              /* client: the server has our ACK already
				  * (sent for its NEED_ACK) */
	bool alias_answered;     /* client: answered from another loopback
				  * address than it was sent to (RPC lock) */
	uint64_t done_tick;      /* server: tick the response was fully sent */
	uint64_t reply_tick;     /* server: tick of the reply (RPC lock) */
	uint32_t probe_wait;     /* RPC lock: ticks its first probe waits
				  * (a client's first RESEND, a response's
				  * first NEED_ACK), from its peer's answer
				  * delays: raised until the probe is sent,
				  * never lowered (timer.c later_wait); 0:
				  * not looked at yet */
	bool probe_sent;         /* RPC lock: that probe went out */
	struct uh_msgin in;
	struct uh_msgout out;

	/* Grant manager (core/grant.h); outside uh_msgin because a message
	 * that restarts resets that but stays known to the manager. */
	struct {
		uint8_t state;       /* enum uh_grant_state: written holding the
				      * grant lock and the RPC lock; read
				      * under either */
		int8_t slot;         /* same; -1 unless ACTIVE */
		uint8_t prio;        /* RPC lock: priority of the last GRANT */
		bool requested;      /* RPC lock: recorded in a pending */
		uint32_t acct;       /* RPC lock: our share of total_incoming */
		bool silent;         /* RPC lock: its sender went silent with
				      * granted bytes unsent (set with the
				      * timer's RESEND): they hold no headroom
				      * until its next DATA or a new grant */
		uint64_t birth;      /* age: written once, under the RPC lock,
				      * before the RPC reaches the manager;
				      * then read-only (also under grant) */
		struct uh_list link; /* grant lock: on grant.queue */
		struct uh_pheap_node qnode; /* grant lock: in peer->grant_q */
		struct uh_pheap_node age;   /* grant lock: in grant.by_age
					     * (a peer not local) */
		uint32_t key;        /* grant lock: remaining bytes when
				      * queued (the heaps' order) */
	} granting;

	/* Pacer (core/pacer.h): throttle lock. */
	struct uh_pheap_node throttle_srpt; /* in throttle_q->srpt */
	struct uh_pheap_node throttle_age;  /* in throttle_q->age */
	struct uh_txq *throttle_q;    /* the set it is in, or NULL */
	uint32_t throttle_key;        /* bytes left to send when queued */
	uint64_t throttle_birth;      /* age (FIFO share) */

	/* The socket's timer wheel (twheel.h). */
	uint64_t timer_due;          /* RPC lock: tick it is next due, 0 if
				      * it has nothing to time */
	uint64_t timer_seen;         /* RPC lock: tick the timer last
				      * looked at it */
	struct uh_list timer_link;   /* wheel lock: on a slot or the
				      * walker's list */
	int32_t timer_slot;          /* wheel lock: slot, UH_TW_NONE or
				      * UH_TW_WALK */

	/* Socket lock (writers); see sync/rculist.h for the walkers. */
	struct uh_rculist active;
	struct uh_list ready_link;   /* socket lock: on sock->ready */
	struct uh_list dead_link;    /* socket lock: on sock->dead */
	/* Socket lock: in sock->waiting_bufs, and its keys there (taken
	 * when it joined: the heap's order must not change under it). */
	struct uh_pheap_node buf_node;
	uint64_t buf_seq;
	uint32_t buf_len;
	bool buf_proven;
	struct uh_list unproven_link;/* socket lock: on sock->unproven */
};

static inline bool uh_rpc_is_client(const struct uh_rpc *rpc)
{
	return (rpc->id & 1) == 0;
}

/* The peer just spoke (or there is a new reason to expect it to): the
 * silence starts again. RPC lock held. */
void uh_rpc_heard(struct uh_rpc *rpc);

/* The sender of @rpc's incoming message has shown that it exists
 * (in.proven): if the message waits for buffer space, it moves ahead of
 * the unproven ones. RPC lock held. */
void uh_rpc_proven(struct uh_rpc *rpc);

/* The timer must look at @rpc again within @ticks (it changed state to
 * one with something to time). RPC lock held. */
void uh_rpc_arm(struct uh_rpc *rpc, uint64_t ticks);

static inline void uh_rpc_lock(struct uh_rpc *rpc)
{
	uh_lock(&rpc->bucket->lock);
}

static inline void uh_rpc_unlock(struct uh_rpc *rpc)
{
	uh_unlock(&rpc->bucket->lock);
}

/* Takes a reference; the caller holds the RPC lock (or the protect count
 * holds off the reaper). */
static inline void uh_rpc_hold(struct uh_rpc *rpc)
{
	atomic_fetch_add_explicit(&rpc->refs, 1, memory_order_relaxed);
}

/* Drops a reference: the caller's last access to @rpc (release pairs with
 * the reaper's acquire). Call after unlocking. */
static inline void uh_rpc_put(struct uh_rpc *rpc)
{
	atomic_fetch_sub_explicit(&rpc->refs, 1, memory_order_release);
}

/* A buffer for an outgoing message of @len bytes (1..UHOMA_MAX_MESSAGE),
 * from the power-of-two size-class caches "msg.2k" .. "msg.1m". May block:
 * no lock held. NULL if memory is short; free with the same @len. */
uint8_t *uh_rpc_msgbuf_alloc(size_t len);
void uh_rpc_msgbuf_free(uint8_t *buf, size_t len);

/* Client id counters start at the wall clock's milliseconds times this
 * (rpc.c): ids of a restarted process with its predecessor's pid pass its
 * predecessor's. */
#define UH_ID_START_PER_MS 64ull

/* Where a process's id counter starts at CLOCK_REALTIME @realtime_ns. */
uint64_t uh_rpc_id_start(uint64_t realtime_ns);

/* A new client id of @st: even, unique on this host (pid and a counter;
 * the stack's own counter if it asked for one, see uh_stack_parts). */
uint64_t uh_rpc_new_client_id(struct uhoma_stack *st);

/* The bucket of client RPC @id / server RPC @id from @a of @s. A server
 * bucket mixes in the client's address: clients number their RPCs from
 * similar counters, and ids alone would pile theirs into few buckets. */
struct uh_bucket *uh_rpc_client_bucket(struct uhoma_sock *s, uint64_t id);
struct uh_bucket *uh_rpc_server_bucket(struct uhoma_sock *s,
				       const struct uh_addr *a, uint64_t id);

/* Unlocks @rpc and drops the caller's reference, in that order. */
static inline void uh_rpc_release(struct uh_rpc *rpc)
{
	uh_rpc_unlock(rpc);
	uh_rpc_put(rpc);
}

/*
 * uh_rpc_release, for a call about to give the application back the
 * memory of @rpc's borrowed message (UHOMA_ZEROCOPY): its response or
 * error received, or the RPC aborted or shut down. @rpc must be ended or
 * failed (no sender starts on it again); in between unlocking and
 * dropping the reference this waits until no thread still sends from that
 * memory (each such send is one carrier call, microseconds). No lock may
 * be held but @rpc's. A plain release for an RPC of its own copy.
 */
void uh_rpc_release_borrowed(struct uh_rpc *rpc);

/*
 * Finds an RPC, locks it and takes a reference (release both with
 * uh_rpc_release). NULL, with nothing locked, if there is none. Rule: a
 * thread holding an RPC lock always holds a reference too -- the lock alone
 * does not stop the reaper once the RPC is dead.
 */
struct uh_rpc *uh_rpc_find_client(struct uhoma_sock *s, uint64_t id);
/* A server RPC is named by its client's address, port and id: the module
 * ignores the port, but over UDP any local process can send from the
 * host's address, and only the port is its own (design.md "Source
 * ports"). Keyed by (address, id) alone, one datagram naming another
 * process's next id would take that request's place. */
struct uh_rpc *uh_rpc_find_server(struct uhoma_sock *s, const struct uh_addr *a,
				  uint16_t port, uint64_t id);
/* The server RPC the application answers with @a, @port and @id: that
 * one, else the one of @a and @id in service from any port. The module
 * finds it by address and id alone, so programs that answer a request
 * with its address but another port (or port 0) reach their client there
 * (helper-20: the answer was dropped, and the client waited for ever);
 * the port names an RPC only for packets, where it is the sender's proof
 * of identity. */
struct uh_rpc *uh_rpc_find_reply(struct uhoma_sock *s, const struct uh_addr *a,
				 uint16_t port, uint64_t id);

/*
 * Creates a client RPC sending @buf (from uh_rpc_msgbuf_alloc, @len bytes;
 * with UHOMA_ZEROCOPY in @flags the application's memory, borrowed) to
 * @peer. It takes over the buffer (frees it, unless borrowed) and the
 * caller's reference to @peer (uh_peer_get), even on failure. @flags:
 * UHOMA_PRIVATE, UHOMA_ZEROCOPY. Call with no lock held (allocates).
 * Returns it locked, with a reference held for the caller; or NULL with
 * *@err = UHOMA_ERR_NOMEM or UHOMA_ERR_SHUTDOWN.
 */
struct uh_rpc *uh_rpc_new_client(struct uhoma_sock *s, struct uh_peer *peer,
				 uint16_t dport, uint8_t *buf, uint32_t len,
				 uint64_t cookie, unsigned flags, int *err);

/*
 * Finds server RPC (@peer, @id), creating it in INCOMING for a request of
 * @length bytes if it does not exist. Takes over the caller's reference to
 * @peer (a new RPC keeps it; otherwise it is dropped). Call with no lock
 * held. Returns it locked with a reference held; or NULL with *@drop set.
 */
struct uh_rpc *uh_rpc_find_or_new_server(struct uhoma_sock *s,
					 struct uh_peer *peer, uint16_t sport,
					 uint64_t id, uint32_t length,
					 enum uh_drop *drop);

/* Gives @rpc (locked, or not yet published) the message to send: @buf
 * from uh_rpc_msgbuf_alloc, owned by the RPC from now on. Its first
 * unsched_bytes are granted at once. */
void uh_rpc_set_msgout(struct uh_rpc *rpc, uint8_t *buf, uint32_t len);

/* Moves @rpc (locked) to @state, keeping the per-state gauges. */
void uh_rpc_set_state(struct uh_rpc *rpc, enum uh_rpc_state state);

/*
 * Ends @rpc (locked): DEAD, unhashed, off every socket list, onto the dead
 * list. Wake-ups it causes are queued in @p. Idempotent.
 */
void uh_rpc_end(struct uh_rpc *rpc, struct uh_deferred *p);

/*
 * Completes client RPC @rpc (locked) with @error (a uhoma code): the
 * application's uhoma_recv will report it. Nothing happens if it already
 * completed.
 */
void uh_rpc_fail(struct uh_rpc *rpc, int error, struct uh_deferred *p);

/* Makes the complete (or failed) @rpc (locked) available to uhoma_recv. */
void uh_rpc_handoff(struct uh_rpc *rpc, struct uh_deferred *p);

/* Frees a dead, unreferenced RPC (the reaper's last step; no lock). */
void uh_rpc_free(struct uh_rpc *rpc);

#endif /* UHOMA_CORE_RPC_H */
