/*
 * carrier.h - the core's port to the network: what a carrier must do.
 *
 * The core never performs I/O itself. It hands finished packets (a header
 * and a payload pointer, never copied) to a carrier's send(); the runtime
 * pulls received packets out of recv() and feeds them to
 * uh_stack_input(). The core owns this interface; each carrier in
 * src/net/ (UDP, the in-memory network, raw IP; net/carriers.h)
 * implements it, and the api layer picks one (src/api/stack.c). A carrier is shared by all threads of a stack: send() and
 * recv() must be safe to call concurrently; open_port()/close_port() are
 * called by the socket code, also concurrently with send/recv.
 *
 * None of these calls may be made while holding an RPC or socket lock:
 * send() and recv() are system calls.
 */
#ifndef UHOMA_CORE_CARRIER_H
#define UHOMA_CORE_CARRIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/addr.h"

struct uhoma_stack;
struct uh_rpc;

/* One packet to send: header bytes, then payload bytes (may be empty). */
struct uh_tx {
	const uint8_t *hdr;
	size_t hdr_len;
	const uint8_t *payload;
	size_t payload_len;
	struct uh_addr dst;
	uint16_t dport;
	uint8_t priority;     /* 0..7; carriers that can put it in TOS do */
};

/* One received packet; @buf/@cap are the caller's, the rest the carrier's. */
struct uh_rx {
	uint8_t *buf;
	size_t cap;
	size_t len;
	struct uh_addr src;
	uint8_t priority;
	size_t seg_size;      /* 0, or: @buf holds packets of this size
			       * back to back (UDP GRO), the last shorter */
	uint8_t unreachable;  /* UH_REACHED (a packet), or: no packet but
			       * word from the network (ICMP) that @src
			       * cannot be reached, of this kind */
	uint16_t unreach_port; /* with UH_UNREACH_PORT: the Homa port we
				* sent to there */
	uint16_t unreach_from; /* the Homa port the quoted packet came
				* from, where the carrier can tell (raw IP;
				* 0: unknown) */
	struct uh_addr dst;   /* the address it was sent to (raw IP only:
			       * what a refusal quotes) */
	bool landed;          /* the carrier dealt with it through the core
			       * itself (landed in the region, or dropped
			       * as uh_stack_land_begin said): nothing
			       * left to input */
};

/* What an ICMP error says of where we sent (uh_rx.unreachable). */
enum uh_unreach {
	UH_REACHED = 0,
	UH_UNREACH_PORT,      /* no socket at that port (port unreachable) */
	UH_UNREACH_PROTO,     /* the host does not speak Homa (protocol
			       * unreachable, IPv6: unknown next header) */
	UH_UNREACH_HOST,      /* any other destination unreachable */
};

struct uh_carrier;

struct uh_carrier_ops {
	const char *name;
	/* Claims @*port (0: any free port >= 0x8000, written back). Returns
	 * 0, UHOMA_ERR_ADDR_IN_USE, UHOMA_ERR_PERMISSION or another code. */
	int (*open_port)(struct uh_carrier *c, uint16_t *port);
	/* Releases a port from open_port; no packet reaches it afterwards. */
	void (*close_port)(struct uh_carrier *c, uint16_t port);
	/* Sends @n packets from local port @sport. Returns how many were
	 * handed to the network (failures are the caller's to count). */
	unsigned (*send)(struct uh_carrier *c, uint16_t sport,
			 const struct uh_tx *pkts, unsigned n);
	/* Receives up to @max packets, waiting up to @timeout_ns (0: do not
	 * wait; < 0: until something arrives or kick()). Returns the number
	 * received (0 on timeout or kick). May trade @buf pointers (with
	 * their @cap) among the @max entries: callers set them before each
	 * call. */
	unsigned (*recv)(struct uh_carrier *c, struct uh_rx *pkts, unsigned max,
			 int64_t timeout_ns);
	/* Makes a thread blocked in recv() return soon (memnet: every one;
	 * the socket carriers: the one whose epoll_wait sees the eventfd),
	 * or else the next recv() that would wait: a kick between a caller's
	 * last check and its recv is not lost (the blocking receiver relies
	 * on it, runtime.h). A later recv may return early once: harmless. */
	void (*kick)(struct uh_carrier *c);
	/* Optional: the largest Homa packet (header + payload) for @dst, at
	 * most max_packet, and in *@local whether packets to @dst stay in
	 * this host (no link to pace). NULL: max_packet, not local. May make
	 * system calls: called with no lock held, once per peer. */
	uint32_t (*max_packet_to)(struct uh_carrier *c,
				  const struct uh_addr *dst, bool *local);
	/* Optional. In a fork(2) child, which has only the forking thread:
	 * closes every descriptor the carrier holds, taking no lock and
	 * freeing nothing, so that the parent's ports are not held bound by
	 * the child (the parent could not bind them again, and packets sent
	 * to a port it closed would go to the child's copy). */
	void (*forget)(struct uh_carrier *c);
	/* Optional: the bytes unread in the deepest of the carrier's
	 * receive queues (the runtime's timer asks once a tick: a queue
	 * deeper than a quarter of @rcvbuf means this host is behind, and
	 * its peers' silence is not silence); 0 if none or unknown. May
	 * make system calls; called by one thread at a time. */
	uint64_t (*queued)(struct uh_carrier *c);
	/* Optional. Tells the sender of @r (its @len bytes at @pkt, one
	 * packet of it) that no socket here takes it: an ICMP port
	 * unreachable, as the module sends for a packet to a port with no
	 * socket, or a request to a socket that is not a server. Rate
	 * limited by the carrier; called with no lock held. */
	void (*refuse)(struct uh_carrier *c, const struct uh_rx *r,
		       const uint8_t *pkt, size_t len);
	/* Optional: whether a stack on this host holds Homa port @port of
	 * its address @addr: 1 yes, 0 no, -1 cannot tell. The timer asks
	 * before it times out an RPC to a peer on this host (timer.c: a
	 * local peer whose port is held is alive, however late its threads
	 * run). May make system calls; called with no lock held. */
	int (*port_held)(struct uh_carrier *c, const struct uh_addr *addr,
			 uint16_t port);
	/* Frees the carrier; every port is closed and no call is running. */
	void (*destroy)(struct uh_carrier *c);
};

struct uh_carrier {
	const struct uh_carrier_ops *ops; /* immutable */
	struct uh_addr local;             /* immutable: this stack's address */
	uint32_t max_packet;              /* immutable: largest Homa packet
					   * (header + payload) it carries */
	uint32_t rx_buf_size;             /* immutable: receive buffers need
					   * this much (0: max_packet) */
	uint8_t urgent_prio;              /* set by the stack before it opens
					   * a port: priorities from this one
					   * up get their own receive queue
					   * where the carrier can (UDP lanes);
					   * 0 = one queue */
	uint32_t link_mtu;                /* immutable: the local link's MTU
					   * (what the pacer sizes for; 0:
					   * max_packet) */
	uint32_t link_mbps;               /* immutable: the link rate to pace
					   * at when cfg.link_mbps is 0 (auto);
					   * 0 = do not pace */
	uint32_t rcvbuf;                  /* immutable: the bytes one of its
					   * receive queues may hold (a UDP
					   * socket's, as the kernel counts
					   * them): local peers' unscheduled
					   * cap (unsched.h), the runtime's
					   * held ticks; 0 = no such queue */
	struct uhoma_stack *stack;        /* set by uh_stack_new before any
					   * port opens: the stack a carrier
					   * lands DATA for (uh_stack_land) */
};

/*
 * Landing: DATA received straight into the socket's buffer region, with no
 * staging copy. A carrier that can read a datagram's first bytes without
 * taking it (MSG_PEEK), and then take it into an I/O vector, asks the core
 * where the datagram goes; the core accounts the new bytes as for any DATA
 * and answers with an I/O vector: the header and any bytes it already has
 * into the carrier's @sink, the new ones into the region. Until
 * uh_stack_land_end the message cannot be handed to the application (its
 * copy count is raised) and the RPC and its pages stay (a reference).
 * Nothing between the peek and the read may take the datagram from the
 * queue: the carrier reads that queue alone meanwhile.
 */
#define UH_LAND_IOV 16   /* header, 4 runs over 2 bpages each, between */

enum uh_land {
	UH_LAND_NO,          /* not for landing: read it as any packet */
	UH_LAND_DISCARD,     /* handled (a duplicate, counted): read it into
			      * the sink and forget it */
	UH_LAND_PLACE,       /* read it into iov, then uh_stack_land_end */
};

struct uh_landing {
	struct iovec iov[UH_LAND_IOV];  /* out: where the datagram goes */
	unsigned niov;
	struct uh_rpc *rpc;             /* private: referenced, unlocked */
};

/*
 * A datagram of @total bytes from @src is queued whose first @peeked bytes
 * are at @hdr. Only DATA for an RPC that has its buffers already is
 * landed; @sink (@sink_cap bytes, at least @total) takes what does not go
 * to the region. No lock may be held.
 */
enum uh_land uh_stack_land_begin(struct uhoma_stack *st, const uint8_t *hdr,
				 size_t peeked, size_t total,
				 const struct uh_addr *src, uint8_t *sink,
				 size_t sink_cap, struct uh_landing *l);

/*
 * The read of UH_LAND_PLACE's datagram is done: @ok when it took the
 * datagram that was peeked, whole, into @l's iov. Not @ok (some other
 * datagram, or an error, reached the region range), the message is
 * unusable: a server ends the request unrun (its client sends it again),
 * a client fails the RPC with UHOMA_ERR_SYSTEM. No lock may be held.
 */
void uh_stack_land_end(struct uhoma_stack *st, struct uh_landing *l, bool ok);

/* The carrier's max_packet_to, or its defaults. */
static inline uint32_t uh_carrier_max_packet_to(struct uh_carrier *c,
						const struct uh_addr *dst,
						bool *local)
{
	*local = false;
	return c->ops->max_packet_to ? c->ops->max_packet_to(c, dst, local)
				     : c->max_packet;
}

#endif /* UHOMA_CORE_CARRIER_H */
