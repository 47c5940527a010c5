/*
 * stack.h - one Homa endpoint: configuration, carrier, port table, peers,
 * metrics. Entry points of the protocol core for the runtime:
 * uh_stack_input() (one received packet) and uh_stack_tick() (one timer
 * tick). Both may run in any number of threads at once, concurrently with
 * every API call.
 *
 * The core starts no thread, opens no descriptor and reads no clock of its
 * own: the layer above (src/api/) gives a new stack its carrier, its
 * counters' storage, its clock and the upcalls through which readiness
 * leaves the core (uh_stack_new).
 */
#ifndef UHOMA_CORE_STACK_H
#define UHOMA_CORE_STACK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/grant.h"
#include "core/metrics.h"
#include "core/pacer.h"
#include "core/peer.h"
#include "core/prio.h"
#include "core/sock.h"
#include "core/carrier.h"
#include "sync/lock.h"
#include "uhoma/uhoma.h"

struct uh_cache;
struct uh_runtime;
struct uh_stat;

/*
 * How readiness leaves the core: functions the layer above installs, each
 * optional, called with no lock held.
 */
struct uh_stack_upcalls {
	/* A message became ready, or a socket shut down, after the socket's
	 * wait count moved: a thread waiting in the carrier on the socket's
	 * behalf (the blocking receiver, runtime.h) must notice. */
	void (*kick_receiver)(struct uhoma_stack *st);
	/* Whether @s has a message ready (or is shut down) may have
	 * changed: its readiness descriptor follows. */
	void (*rx_ready)(struct uhoma_sock *s);
	/* @s's send budget may have become spent, or open again. */
	void (*tx_budget)(struct uhoma_sock *s);
};

/* What uh_stack_new is given. */
struct uh_stack_parts {
	struct uh_carrier *carrier;       /* the stack's from then on (its
					   * destruction stays the caller's) */
	struct uh_metrics *metrics;       /* zeroed storage for the counters */
	uint64_t (*now)(void);            /* the clock, in nanoseconds */
	struct uh_stack_upcalls up;
	/* Number client RPCs from the stack's own counter, not the
	 * process's: only for a stack whose address no other stack in the
	 * process shares (a simulated host, whose ids must be as dense as a
	 * real process's). */
	bool own_ids;
	/* Account received DATA but copy none of its bytes into the
	 * region: only for a stack whose messages' bytes nobody reads (a
	 * simulated host: the copies were 5 % of a fabric run). */
	bool discard_payload;
};

#define UH_SOCKTAB_BUCKETS 256
/* Local peers' ports the timer may ask about in one tick (timer.c). */
#define UH_PORT_WANTS 64

struct uhoma_stack {
	struct uhoma_config cfg;       /* immutable */
	struct uh_carrier *carrier;    /* immutable */
	uint32_t max_payload;          /* immutable: DATA bytes per packet */
	struct uh_lock socktab_lock;   /* class socktab: writers */
	struct uh_lock bind_lock;      /* class bind (sleeps): serializes
					* uh_sock_bind, which waits for a
					* grace period under it */
	struct uhoma_sock *_Atomic socktab[UH_SOCKTAB_BUCKETS]; /* RCU readers */
	struct uh_list all_socks;      /* socktab lock: every open socket,
					* shut down or not */
	struct uh_peertab peers;
	struct uh_cache *rpc_cache;    /* immutable */
	_Atomic uint64_t ticks;        /* timer ticks so far */
	_Atomic bool behind;           /* the runtime's timer, each tick: the
					* kernel holds more unread for us
					* than a quarter of a socket's buffer
					* (relaxed; no_rpc) */
	uint32_t dedup_cap;            /* immutable: cfg.dedup_window rounded
					* up to a power of two */
	uint64_t dedup_quiet;          /* immutable: cfg.dedup_quiet_ms in
					* ticks */
	struct uh_dedup_budget dedup_budget; /* cfg.dedup_mb: its own
					      * atomics */
	unsigned dedup_scan;           /* timer thread only: the peer-table
					* bucket whose records expire next */
	uint32_t local_unsched;        /* immutable: uh_unsched_local_cap */
	uint32_t link_mbps;            /* immutable: cfg's, or the carrier's
					* guess when cfg says 0 */
	struct uh_cutoffs cutoffs;     /* immutable: ours, as a receiver */
	struct uh_grant grant;         /* receiver scheduling (grant.h) */
	struct uh_pacer pacer;         /* sender scheduling (pacer.h) */
	uint64_t (*now)(void);         /* immutable: the clock the core uses
					* (uh_now_ns; tests mock it) */
	_Atomic bool destroying;       /* no new sockets */
	struct uh_stack_upcalls up;    /* immutable: the layer above's */
	struct uh_runtime *rt;         /* immutable: the runtime's threads
					* (set by the layer above) */
	struct uh_metrics *metrics;    /* immutable pointer: the caller's
					* storage (the shared memory
					* uhoma-stat reads, or private) */
	struct uh_stat *stat;          /* immutable: the published segment
					* (the layer above's) */
	bool own_ids;                  /* immutable: ids from next_id */
	bool discard_payload;          /* immutable: DATA not copied */
	/* Ports of peers on this host, as the carrier last found them
	 * (timer.c's local_alive): per Homa port, 0 (never asked) or the
	 * hash of the address asked about << 32 | the tick of the answer
	 * (30 bits) << 2 | 2 | held -- an answer for one local address is
	 * no answer for another with the same port. NULL when the carrier
	 * cannot tell. Relaxed atomics: written after a tick's walk, read
	 * in the next. */
	_Atomic uint64_t *port_seen;
	/* Ports a tick's walk wants asked about at its end (timer.c): 0
	 * free, 1 being filled in, port + 2 ready, with the peer's address
	 * in port_want_addr (written before the release of port + 2). Ticks
	 * may overlap in manual mode: slots are taken by compare-exchange
	 * and given back by exchange. */
	_Atomic uint32_t port_want[UH_PORT_WANTS];
	struct uh_addr port_want_addr[UH_PORT_WANTS];
	_Atomic uint64_t next_id;      /* own_ids: the counter; atomic adds */
};

/*
 * A new stack for @cfg (validated: uh_config_validate) on @parts. Returns
 * 0, UHOMA_ERR_NOMEM, or UHOMA_ERR_INVALID_ARGUMENT (packets too small for
 * a DATA header). Opens nothing and starts nothing.
 */
int uh_stack_new(const struct uhoma_config *cfg,
		 const struct uh_stack_parts *parts, struct uhoma_stack **out);

/* No socket may open from now on (uh_sock_open: UHOMA_ERR_SHUTDOWN). */
void uh_stack_stop_sockets(struct uhoma_stack *st);

/* Some open socket of @st, or NULL when none is left (to close them). */
struct uhoma_sock *uh_stack_any_sock(struct uhoma_stack *st);

/* Frees @st: every socket closed, no thread inside, a grace period since
 * the last one closed. Its carrier and metrics storage stay the caller's. */
void uh_stack_free(struct uhoma_stack *st);

/*
 * Feeds one received packet (@len bytes at @buf from @src) to the core.
 * Returns true when no socket here takes it: its port has none, or it is a
 * request to a socket that is not a server. The module answers those with
 * an ICMP port unreachable; a carrier that can send one should.
 */
bool uh_stack_input(struct uhoma_stack *st, const uint8_t *buf, size_t len,
		    const struct uh_addr *src);

/*
 * Word from the network (ICMP) that @addr cannot be reached at port @port
 * (0: at any port): client RPCs to it that have no response yet fail with
 * @err (UHOMA_ERR_NOT_CONNECTED for a port unreachable,
 * UHOMA_ERR_PROTO_NOT_SUPPORTED, UHOMA_ERR_HOST_UNREACHABLE), and server
 * RPCs whose client was there end.
 */
void uh_stack_unreachable(struct uhoma_stack *st, const struct uh_addr *addr,
			  uint16_t port, int err);

/*
 * One timer tick: retransmissions, timeouts, NEED_ACKs, reaping. Returns
 * how many RPCs wait on a timer after it (0: nothing can time out). Silence
 * is measured in ticks: the caller should have read what the network
 * delivered before it ticks (a packet waiting unread is not silence).
 */
uint64_t uh_stack_tick(struct uhoma_stack *st);

/* Counts and drops a packet for @reason. */
static inline void uh_stack_drop(struct uhoma_stack *st, enum uh_drop reason)
{
	uh_metric_inc(st->metrics, UH_M_DROP + reason);
}

/* Sends @n packets from @sport, counting them; no lock may be held. */
void uh_stack_xmit(struct uhoma_stack *st, uint16_t sport,
		   const struct uh_tx *pkts, unsigned n);

/* Whether sockets of @st can send to IPv4 (@v4) or IPv6 addresses: a stack
 * bound to an IPv4 address reaches only IPv4, one bound to an IPv6 address
 * only IPv6, the wildcard "::" both. */
bool uh_stack_family_ok(const struct uhoma_stack *st, bool v4);

#endif /* UHOMA_CORE_STACK_H */
