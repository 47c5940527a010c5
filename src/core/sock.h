/*
 * sock.h - sockets: the port table, the per-socket lists and waits, the
 * protect count, shutdown, and reaping.
 *
 * Synchronization table for struct uhoma_sock:
 *   field                     writers                 readers
 *   tab_next                  socktab lock            RCU
 *   port                      socktab lock + bind     anyone (atomic)
 *                             mutex (uh_sock_bind)
 *   shutdown, is_server       socket lock (atomic)    anyone (atomic)
 *   protect_count             +1 under socket lock;   reaper, under the
 *                             -1 atomic, no lock      socket lock
 *   active                    socket lock             walkers holding a
 *                                                     protect count
 *   ready, dead, waiting_bufs socket lock             socket lock
 *   wait                      internally synchronized
 *   readiness                 immutable (the layer above's)
 *   tx_watch                  atomic (the layer above's flag)
 *   pool                      pool lock (leaf)
 *   tx_bytes, tx_waiters      atomic (seq_cst: see uh_sock_tx_charge)
 *   tx_limit                  atomic (relaxed; uhoma_set_sndbuf)
 *   tx_wait                   internally synchronized
 *   buckets                   their own locks (the RPC locks)
 *
 * Shutdown rules (the seed's): (1) under the socket lock set `shutdown`;
 * every path that attaches something to the socket (RPC creation, ready
 * list, protect) checks it under the same lock, so nothing is added after.
 * (2) Unlink from the port table. (3) End every RPC, walking `active` under
 * a protect count. (4) Wake every waiter: they see `shutdown`. (5) Free
 * only in uh_sock_free, after uh_sock_close_start's grace period and once
 * uh_sock_reap_final has reaped every RPC.
 */
#ifndef UHOMA_CORE_SOCK_H
#define UHOMA_CORE_SOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/addr.h"
#include "core/pool.h"
#include "core/rpc.h"
#include "core/twheel.h"
#include "core/wire.h"
#include "sync/lock.h"
#include "sync/rculist.h"
#include "sync/wait.h"
#include "util/list.h"
#include "util/pheap.h"

struct uhoma_stack;
struct uh_readiness;

/* Wait queues for receivers of private RPCs, by id (at most 32:
 * uh_deferred's wake_private has a bit for each). */
#define UH_PRIVATE_WAITS 32

struct uhoma_sock {
	struct uhoma_stack *stack;        /* immutable */
	_Atomic uint16_t port;         /* written by uh_sock_bind under the
					* socktab lock, while the socket is
					* out of the table; read anywhere */
	struct uhoma_sock *_Atomic tab_next; /* socktab lock / RCU */
	struct uh_list stack_link;     /* socktab lock: stack->all_socks */
	struct uh_lock lock;           /* class socket */
	_Atomic bool shutdown;         /* set once under lock */
	_Atomic bool shut_done;        /* set (release) once the shutdown
					* has ended every RPC and waited for
					* their borrowed messages' senders:
					* a second uh_sock_shutdown waits
					* for it */
	_Atomic bool is_server;        /* written under lock */
	uint64_t open_tick;            /* immutable: the stack's tick when
					* it opened (uh_sock_region_overdue) */
	_Atomic int protect_count;     /* see above */
	struct uh_rculist active;      /* every live RPC */
	struct uh_twheel timers;       /* RPCs by the tick they are next
					* due (twheel.h; its own lock) */
	struct uh_list ready;          /* complete non-private RPCs */
	struct uh_list dead;           /* ended, not yet reaped */
	_Atomic uint32_t dead_count;   /* entries on dead: changed under the
					* lock, read without it to skip idle
					* reaps */
	struct uh_pheap waiting_bufs;  /* lock: RPCs waiting for pool space:
					* proven senders first, then the
					* shortest, FIFO among equals (each
					* RPC's buf_* keys) */
	uint64_t bufs_seq;             /* lock: the FIFO order's counter */
	struct uh_list unproven;       /* lock: incoming requests whose
					* sender has not shown it exists
					* (in.proven), oldest first */
	uint32_t nunproven;            /* lock: entries on unproven */
	struct uh_wait wait;           /* uhoma_recv sleepers (any message) */
	struct uh_wait pwait[UH_PRIVATE_WAITS]; /* those for a private RPC,
					* by its id (uh_sock_private_wait):
					* its end wakes its own, not all */
	struct uh_readiness *readiness; /* immutable: the layer above's
					 * readiness descriptor (api/
					 * readiness.c), given to
					 * uh_sock_open; never looked into
					 * here */
	_Atomic bool tx_watch;         /* the layer above shows the send
					* budget spent and must hear when it
					* frees (set and cleared by it) */
	struct uh_pool pool;
	/* The send budget (uhoma_set_sndbuf): bytes of requests still
	 * awaiting their response. uhoma_send waits while it is spent. */
	_Atomic uint64_t tx_bytes;     /* charged, atomic (seq_cst) */
	_Atomic uint32_t tx_limit;     /* bytes; 0 = no limit (relaxed) */
	_Atomic uint32_t tx_waiters;   /* senders inside uh_sock_tx_charge
					* (seq_cst) */
	struct uh_wait tx_wait;        /* where they sleep */
	struct uh_bucket client_buckets[UH_RPC_BUCKETS];
	struct uh_bucket server_buckets[UH_RPC_BUCKETS];
};

/* Where a receiver waiting for private RPC @id sleeps. */
static inline struct uh_wait *uh_sock_private_wait(struct uhoma_sock *s,
						  uint64_t id)
{
	return &s->pwait[(id >> 1) % UH_PRIVATE_WAITS];
}

#define UH_DEFERRED_CTL 20
#define UH_DEFERRED_GRANT 4
#define UH_DEFERRED_ACKS 8

/*
 * struct uh_deferred - what a locked section decided to do once its locks
 * are dropped: control packets to send, acks to apply to other RPCs,
 * threads to wake. Lives on the stack of the thread that fills it;
 * uh_deferred_flush() performs it with no lock held.
 */
struct uh_deferred {
	unsigned num_ctl;
	struct {
		uint8_t hdr[UH_MAX_HEADER];
		size_t len;
		struct uh_addr dst;
		uint16_t sport, dport;
	} ctl[UH_DEFERRED_CTL];
	unsigned num_acks;
	struct {
		struct uh_addr src;
		uint16_t sport;          /* the port the ack came from */
		struct uh_ack ack;
	} acks[UH_DEFERRED_ACKS];
	unsigned num_grant;
	struct uh_rpc *grant[UH_DEFERRED_GRANT]; /* for the grant manager,
						 * each with a reference */
	bool grant_recalc;                /* run the grant manager anyway */
	struct uhoma_sock *wake_sock;     /* socket whose waiters to wake */
	struct uhoma_sock *wake_tx;       /* socket whose senders to wake */
	bool wake_one, wake_all, signal_fd;
	bool wake_more;                   /* wake_one for more than one
					   * message (uh_sock_taker_begin) */
	uint32_t wake_private;            /* pwait buckets to wake (bits) */
};

static inline void uh_deferred_init(struct uh_deferred *p)
{
	p->num_ctl = 0;
	p->num_acks = 0;
	p->num_grant = 0;
	p->grant_recalc = false;
	p->wake_sock = NULL;
	p->wake_tx = NULL;
	p->wake_one = p->wake_all = p->signal_fd = p->wake_more = false;
	p->wake_private = 0;
}

/* Queues control packet @h from port @sport to @dst:@dport. */
void uh_deferred_ctl(struct uh_deferred *p, const struct uh_hdr *h,
		     uint16_t sport, const struct uh_addr *dst, uint16_t dport);

/* Queues a wake-up of @s's waiters (one, or all). */
void uh_deferred_wake(struct uh_deferred *p, struct uhoma_sock *s, bool all);
/* Wakes the receiver waiting for private RPC @id of @s (and those that
 * share its bucket), after the locks. */
void uh_deferred_wake_private(struct uh_deferred *p, struct uhoma_sock *s,
			      uint64_t id);
/* Wakes every receiver of @s: any message's, every private RPC's. */
void uh_sock_wake_receivers(struct uhoma_sock *s);

/* Does everything @p holds. No lock may be held. */
void uh_deferred_flush(struct uhoma_stack *st, struct uh_deferred *p);

/*
 * A thread about to receive packets for a caller of uhoma_recv on @s that
 * will take any message (not one private RPC's) says so; the first
 * message this thread makes ready on @s then wakes no sleeping receiver,
 * as the thread takes it itself. A second server thread asleep on the
 * socket was woken for every request its sibling completed and took:
 * a context switch per RPC for nothing, on 2 CPUs beside a spinning
 * sender (helper-43's open loop, request P90 0.8-1.3 ms against TCP's
 * 0.06 ms). @s NULL: a thread that takes nothing (the receive thread).
 */
void uh_sock_taker_begin(struct uhoma_sock *s);

/* The thread is done receiving: whether it kept a message from the
 * sleepers. One that leaves without taking it (EINTR) must wake one. */
bool uh_sock_taker_end(void);

/* Opens a socket on @port (0 = automatic), carrying the layer above's
 * @readiness (may be NULL), which the stack's upcalls receive back. */
int uh_sock_open(struct uhoma_stack *st, uint16_t port,
		 struct uh_readiness *readiness, struct uhoma_sock **out);

/*
 * Moves @s to port @port (1..0x7FFF) and makes it a server. The socket
 * leaves the port table for a grace period, so packets to either port may
 * be dropped meanwhile (Homa's timers recover). Sleeps: no lock held.
 * Returns 0, UHOMA_ERR_ADDR_IN_USE, UHOMA_ERR_SHUTDOWN or a carrier error.
 */
int uh_sock_bind(struct uhoma_sock *s, uint16_t port);

/* The socket bound to @port, or NULL. Caller is in an RCU read section. */
struct uhoma_sock *uh_sock_find(struct uhoma_stack *st, uint16_t port);

/* Raises the protect count: the reaper frees nothing until the matching
 * unprotect. Fails (false) once the socket is shut down. */
bool uh_sock_protect(struct uhoma_sock *s);
void uh_sock_unprotect(struct uhoma_sock *s);

/*
 * Walking a socket's live RPCs against the lock order: the walker holds no
 * lock when it takes an RPC's, and the protect count keeps every RPC it
 * reaches allocated, dead or not (lock it, then skip the dead). Fields an
 * RPC never changes (id, peer, dport) may be read unlocked to choose.
 *
 *	struct uh_rpc_walk w;
 *	struct uh_rpc *rpc;
 *
 *	if (uh_rpc_walk_begin(&w, s)) {
 *		while ((rpc = uh_rpc_walk_next(&w)))
 *			...
 *		uh_rpc_walk_end(&w);
 *	}
 */
struct uh_rpc_walk {
	struct uhoma_sock *s;
	struct uh_rculist *pos;
};

/* Starts a walk; false (no walk) once @s is shut down. */
static inline bool uh_rpc_walk_begin(struct uh_rpc_walk *w,
				     struct uhoma_sock *s)
{
	w->s = s;
	w->pos = &s->active;
	return uh_sock_protect(s);
}

/* Starts a walk for a caller that holds a protect count already. */
static inline void uh_rpc_walk_protected(struct uh_rpc_walk *w,
					 struct uhoma_sock *s)
{
	w->s = s;
	w->pos = &s->active;
}

/* The next RPC (unlocked), or NULL at the end. */
static inline struct uh_rpc *uh_rpc_walk_next(struct uh_rpc_walk *w)
{
	w->pos = uh_rculist_next(w->pos);
	return w->pos == &w->s->active
	       ? NULL : uh_container_of(w->pos, struct uh_rpc, active);
}

/* Ends a walk begun with uh_rpc_walk_begin (drops its protect count). */
static inline void uh_rpc_walk_end(struct uh_rpc_walk *w)
{
	uh_sock_unprotect(w->s);
}

/* Frees up to cfg.reap_limit dead RPCs (all with @all). Returns how many.
 * No lock may be held. */
unsigned uh_sock_reap(struct uhoma_sock *s, bool all);

/* uh_sock_reap(@s, false) if anything is dead: called on every send,
 * reply and receive, so reaping keeps pace with the RPC rate (the timer
 * alone frees at most reap_limit per tick). */
static inline void uh_sock_reap_some(struct uhoma_sock *s)
{
	if (atomic_load_explicit(&s->dead_count, memory_order_relaxed))
		uh_sock_reap(s, false);
}

/* Queues @rpc (locked; incoming message without buffer space) on the
 * socket's waiting list: proven senders first, then shortest first. */
/* Socket lock held: @rpc out of the buffer waits, if it is there. */
void uh_sock_bufs_del(struct uhoma_sock *s, struct uh_rpc *rpc);

void uh_sock_wait_bufs(struct uhoma_sock *s, struct uh_rpc *rpc,
		       struct uh_deferred *p);

/* @rpc (locked) no longer waits for buffer space: off the list. */
void uh_sock_unwait_bufs(struct uhoma_sock *s, struct uh_rpc *rpc);

/* @rpc (locked, waiting) was just proven: moves it to its new place. */
void uh_sock_requeue_bufs(struct uhoma_sock *s, struct uh_rpc *rpc);

/*
 * Whether @s has served its clients long enough without a buffer region:
 * none is set, and timeout_ticks have passed since it opened. A request
 * that arrives before the region may wait for it that long (a server sets
 * its region just after it opens); after that the socket refuses requests
 * (UH_DROP_NO_REGION) and the timer ends those still waiting, so that
 * their clients fail -- a server that never sets a region would otherwise
 * keep them waiting for ever, each probe answered BUSY.
 */
bool uh_sock_region_overdue(struct uhoma_sock *s);

/* The tick from which it is overdue; UINT64_MAX while @s has a region. */
uint64_t uh_sock_region_due(struct uhoma_sock *s);

/* Gives freed pool space to waiting messages: called when the application
 * returns pages and when the reaper frees a message's. No lock may be
 * held. */
void uh_sock_check_bufs(struct uhoma_sock *s);

/* Shuts down @s (idempotent). */
void uh_sock_shutdown(struct uhoma_sock *s);

/*
 * Closing, in three steps, so that the waiting is the caller's:
 * uh_sock_close_start shuts @s down, sends the acks the stack owes, waits
 * a grace period and releases the port; uh_sock_reap_final reaps and says
 * whether every RPC is freed (false: a reference is still held somewhere;
 * try again shortly); then uh_sock_free frees the socket. No lock held.
 */
void uh_sock_close_start(struct uhoma_sock *s);
bool uh_sock_reap_final(struct uhoma_sock *s);
void uh_sock_free(struct uhoma_sock *s);

/*
 * The send budget (core/sndbuf.c). A request charges its length plus
 * UH_TX_OVERHEAD to its socket's tx_bytes from uhoma_send until its
 * response is complete, or the RPC fails or ends. A charge is admitted
 * while tx_bytes is below tx_limit, whatever its size (the module's rule).
 *
 * uh_sock_tx_try_charge admits or refuses at once: 0 (and *@charged set),
 * UHOMA_ERR_AGAIN (spent), UHOMA_ERR_SHUTDOWN, or UHOMA_ERR_NO_BUFFER
 * (spent, and responses wait for buffer pages the application holds, so
 * waiting could be forever). A sender that will wait registers first
 * (uh_sock_tx_wait_begin), tries again, then sleeps on tx_wait; returners
 * subtract before they look for waiters (all seq_cst): either the sender
 * sees the space or the returner sees the sender and wakes it. The waiting
 * itself is the api layer's (api/send_wait.c).
 */
#define UH_TX_OVERHEAD 1024u
int uh_sock_tx_try_charge(struct uhoma_sock *s, uint32_t len,
			  uint32_t *charged);
void uh_sock_tx_wait_begin(struct uhoma_sock *s);
void uh_sock_tx_wait_end(struct uhoma_sock *s);
/* Whether a charge of any size would be admitted now. */
bool uh_sock_tx_open(struct uhoma_sock *s);
/* Returns @bytes to the budget (no lock needed; wakes senders at once). */
void uh_sock_tx_return(struct uhoma_sock *s, uint32_t bytes);
/* Returns @rpc's charge, if it still holds one (RPC lock held; the wake-up
 * goes into @p). */
void uh_rpc_tx_uncharge(struct uh_rpc *rpc, struct uh_deferred *p);
/* Whether @s's budget is spent (tx_bytes >= tx_limit, a limit set). */
bool uh_sock_tx_spent(struct uhoma_sock *s);

#endif /* UHOMA_CORE_SOCK_H */
