/*
 * net.h - the simulated fabric: hosts' NICs, links, switches.
 *
 * A packet travels as a sequence of hops. Each hop is an output port (a
 * NIC or a switch port) with a transmit queue, a rate and a link of some
 * propagation delay to the next node. The model is store-and-forward: a
 * switch routes a packet only once its last bit has arrived, and a port
 * puts it on the wire only once the port is idle -- serialization at each
 * hop plus the link's latency, no cut-through. A link's latency is its
 * propagation plus the fixed delays of what it leads from and to (a
 * switch's forwarding, a host's software and NIC: topo.h).
 *
 * A switch port has eight strict-priority queues, one per Homa priority
 * (7 most urgent): the port always sends from the highest non-empty one,
 * choosing when it starts a packet (a packet on the wire is never
 * preempted) among the packets that arrived before that instant: one
 * whose last bit arrives at the very instant the port comes free waits
 * for the next choice, unless nothing else waits. All ports of a switch share one buffer of buf_cap bytes; a
 * packet that does not fit when it arrives is dropped (tail drop). A packet
 * holds its bytes of the buffer from its arrival until its last bit has
 * left. A host's NIC has eight priority queues like a switch port's (or,
 * without nic_prio, one FIFO) without a limit -- the pacer in the core is
 * what keeps it short -- and drops nothing.
 *
 * Where packets go is the topology's business (topo.c): a switch asks
 * net->route for the output port. Packets that reach a host are handed to
 * net->deliver; the model knows nothing of what is in them.
 */
#ifndef UHOMA_SIM_NET_H
#define UHOMA_SIM_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

/*
 * What a packet costs on the wire besides the Homa packet (header and
 * payload) itself, in bytes -- the one place the simulator states it:
 * the Homa packet rides in UDP over IPv4 over Ethernet, as the UDP
 * carrier sends it.
 */
#define SIM_UDP_HDR 8
#define SIM_IPV4_HDR 20
#define SIM_ETH_HDR 14           /* MAC addresses and EtherType */
#define SIM_ETH_FCS 4
#define SIM_ETH_PREAMBLE 8       /* preamble and start-of-frame delimiter */
#define SIM_ETH_IFG 12           /* the gap the link must stay idle */
#define SIM_WIRE_OVERHEAD (SIM_UDP_HDR + SIM_IPV4_HDR + SIM_ETH_HDR + \
			   SIM_ETH_FCS + SIM_ETH_PREAMBLE + SIM_ETH_IFG)
#define SIM_MTU 1500             /* IP packet: Ethernet's payload */
/* The largest Homa packet (header + payload) a host sends: 1472 bytes. */
#define SIM_MAX_HOMA (SIM_MTU - SIM_IPV4_HDR - SIM_UDP_HDR)

#define SIM_PRIOS 8

/* The bytes of a packet the model carries (sim_pkt.data). */
#define SIM_PKT_CARRIED 128

/* The bytes a Homa packet of @len bytes occupies on a link. */
static inline uint32_t sim_wire_bytes(uint32_t len)
{
	return len + SIM_WIRE_OVERHEAD;
}

/* The rates a link may have, in Mb/s: 1 Mb/s to 10 Tb/s (the core's
 * link_mbps goes no higher). */
#define SIM_MIN_MBPS 1u
#define SIM_MAX_MBPS 10000000u

/*
 * Picoseconds a link of @mbps (at least 1) takes to send @bytes, rounded
 * down: bytes x 8 bits x 10^6 ps per us / (mbps bits per us). Exact for
 * every rate that divides 8,000,000 Mb/s (10, 25, 40, 100 Gb/s ...); a
 * port carries the remainder from packet to packet (sim_port.ser_rem), so
 * that over any run its rate is the one asked for to the picosecond,
 * whatever the rate.
 */
static inline uint64_t sim_ser_ps(uint64_t bytes, uint32_t mbps)
{
	return bytes * 8000000ull / mbps;
}

struct sim_pkt {
	struct sim_pkt *next;         /* in a queue or the free list */
	struct sim_pkt *all_next;     /* every packet allocated */
	uint32_t src, dst;       /* host indices */
	uint32_t len;            /* the Homa packet's bytes */
	uint32_t wire;           /* sim_wire_bytes(len) */
	uint8_t prio;            /* 0..7 */
	/* Its first SIM_PKT_CARRIED bytes: every header, and all of a
	 * short packet. A DATA packet's payload past them is not carried
	 * (nothing looks at a message's bytes: sim_host_send); the
	 * receiver reads whatever a scratch buffer holds there. A packet
	 * is ~10 times smaller for it, and not copied. */
	uint8_t data[SIM_PKT_CARRIED];
};

struct sim_switch;

/* Per-priority occupancy and drops of one output port. */
struct sim_port_stats {
	uint64_t max_bytes[SIM_PRIOS];
	double area[SIM_PRIOS];       /* bytes x ps, for the mean */
	uint64_t drops[SIM_PRIOS];
	uint64_t tx_pkts, tx_bytes;   /* wire bytes */
	uint64_t busy_ps;             /* time spent transmitting */
};

struct sim_port {
	struct sim_net *net;
	struct sim_switch *sw;        /* owner; NULL: a host's NIC */
	uint32_t host;                /* the NIC's host (sw NULL) */
	/* The link: where it leads (a switch, or host to_host) and how fast. */
	struct sim_switch *to_sw;
	uint32_t to_host;
	uint32_t mbps;                /* the link's rate */
	uint64_t ser_rem;             /* bits x 10^6 of serialization not yet
				       * counted in whole ps: < mbps */
	uint32_t ps_per_byte;         /* the byte's time where @mbps divides
				       * 8,000,000 (no remainder ever: two
				       * divisions a packet saved); else 0 */
	uint8_t waiting;              /* bit q: head[q] is not empty */
	uint64_t tx_ps;               /* the packet on the wire's time */
	uint64_t tx_end;              /* when its last bit leaves */
	uint32_t tx_wire;             /* its wire bytes and queue (the packet
				       * may be freed before tx_end is
				       * settled) */
	uint8_t tx_q;
	uint64_t lat_ps;              /* from a bit's leaving to its arrival:
				       * propagation and the fixed delays
				       * (topo.h) */
	bool fifo;                    /* one queue (a NIC, by default) */
	bool is_downlink;             /* a switch port to a host */
	struct sim_pkt *head[SIM_PRIOS], *tail[SIM_PRIOS];
	uint64_t qbytes[SIM_PRIOS];   /* queued and in transmission */
	bool sending;                 /* a packet is on the wire till tx_end
				       * (or was, and the port has not been
				       * caught up since: net.c's catch_up) */
	uint64_t last_ps[SIM_PRIOS];  /* when each area was brought up to
				       * date */
	struct sim_port_stats st;
};

struct sim_switch {
	struct sim_net *net;
	uint32_t index;
	uint32_t nports;
	struct sim_port *ports;
	uint64_t buf_cap, buf_used, buf_max;
	uint64_t next_release;        /* no port's packet leaves before this
				       * (a lower bound: settle_switch) */
	uint32_t rack;                /* a ToR's rack; spines: UINT32_MAX */
};

struct sim_net {
	struct sim_engine *eng;
	uint32_t nhosts;
	struct sim_port *nic;         /* [nhosts] */
	uint32_t nswitches;
	struct sim_switch *sw;        /* [nswitches] */
	/* Which output port of @sw packet @p leaves by. */
	uint32_t (*route)(struct sim_net *net, struct sim_switch *sw,
			  const struct sim_pkt *p);
	/* A packet reached host @host; the model frees @p afterwards. */
	void (*deliver)(void *arg, uint32_t host, struct sim_pkt *p);
	void *deliver_arg;
	void *topo;                   /* the topology's own state */
	struct sim_pkt *free_pkts;
	struct sim_pkt *all_pkts;
	uint64_t delivered;           /* packets handed to hosts */
	uint64_t dropped;
	uint64_t rng;                 /* spraying (topo.c) */
};

/* An empty network on @eng (topo.c fills it in). */
void sim_net_init(struct sim_net *net, struct sim_engine *eng);
void sim_net_free(struct sim_net *net);

/* Sets up @port's link: @mbps, a latency of @lat_ns (propagation and
 * fixed delays), to switch @to_sw or host @to_host. */
void sim_port_init(struct sim_port *port, struct sim_net *net,
		   struct sim_switch *sw, uint32_t mbps, uint64_t lat_ns,
		   struct sim_switch *to_sw, uint32_t to_host);

/* A packet to fill in; NULL when memory runs out (the run then fails,
 * net.c). */
struct sim_pkt *sim_pkt_alloc(struct sim_net *net);
void sim_pkt_free(struct sim_net *net, struct sim_pkt *p);

/* Host @host's NIC takes @p (its src, dst, len, prio set) to send. */
void sim_nic_send(struct sim_net *net, uint32_t host, struct sim_pkt *p);

/* Queues @p at @port, as a switch does (for the tests: into a port
 * directly); false if the shared buffer had no room (dropped, freed). */
bool sim_port_enqueue(struct sim_port *port, struct sim_pkt *p);

/* Brings @port's occupancy areas, its buffer use and its counters up to
 * now (before reading them); sim_net_settle: every port. */
void sim_port_settle(struct sim_port *port);
void sim_net_settle(struct sim_net *net);

#endif /* UHOMA_SIM_NET_H */
