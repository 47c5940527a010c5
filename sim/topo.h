/*
 * topo.h - the shapes of fabric the simulator builds (topo.c).
 *
 *   rack:N      N hosts on one switch.
 *   fabric:RxH  R racks of H hosts; each rack's top-of-rack switch (ToR)
 *               has one uplink to each of S spines. A packet to another
 *               rack leaves its ToR by an uplink drawn at random for each
 *               packet (per-packet spraying, from the run's seed), and the
 *               spine sends it down to the destination's ToR.
 *
 * Host i sits in rack i / H at ToR port i % H; a ToR's uplinks are its
 * ports H .. H+S-1; spine s's port r leads to ToR r.
 */
#ifndef UHOMA_SIM_TOPO_H
#define UHOMA_SIM_TOPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net.h"

struct sim_topo_opts {
	uint32_t host_mbps;      /* host links (NIC and ToR downlink) */
	uint32_t uplink_mbps;    /* ToR-spine links, both ways */
	uint32_t spines;
	uint64_t prop_ns;        /* every link's propagation delay */
	/* Fixed delays, each a latency that never throttles (a packet is
	 * late by it, the next one is not held up behind it), as the Homa
	 * paper's simulator has them: a switch's forwarding (from a packet's
	 * last bit in to its turn at the output port), a host's software at
	 * each end (the sender's before its NIC sends, the receiver's after
	 * its NIC took the packet in) and the NIC's own before a packet
	 * leaves. Modelled as the latency of the link they follow: a link
	 * into a switch adds switch_ns; a host's uplink host_ns + nic_ns;
	 * a ToR's link to a host host_ns (topo.c). */
	uint64_t switch_ns;
	uint64_t host_ns;
	uint64_t nic_ns;
	uint64_t switch_buf;     /* bytes of shared buffer per switch */
	uint64_t seed;           /* spraying */
	bool nic_prio;           /* NICs with 8 strict-priority queues, as
				  * switch ports (the default), or one
				  * FIFO */
};

/* The most hosts a fabric may have (host addresses hold 16 bits). */
#define SIM_MAX_HOSTS 65535u
/* The most spines (each ToR has a port to each). */
#define SIM_MAX_SPINES 1024u

void sim_topo_defaults(struct sim_topo_opts *o);

/* Parses @spec ("rack:N", N >= 2, or "fabric:RxH", R, H >= 1, R x H >= 2;
 * decimal numbers, nothing else around them; at most SIM_MAX_HOSTS hosts)
 * into *@racks and *@per_rack (rack:N is one rack of N). Returns 0, or -1
 * with a message in @err (@len bytes). */
int sim_topo_parse(const char *spec, uint32_t *racks, uint32_t *per_rack,
		   char *err, size_t len);

/* Builds @spec ("rack:N" or "fabric:RxH") into @net (sim_net_init'ed).
 * Returns 0, or -1 with a message in @err (@len bytes). */
int sim_topo_build(struct sim_net *net, const char *spec,
		   const struct sim_topo_opts *o, char *err, size_t len);

/* The hops from host @src to host @dst: their count (2 or 4), and each
 * hop's rate in Mb/s and latency (for the idle-fabric baseline);
 * *@ways: how many spines the middle hops of a 4-hop path may take, each
 * packet its own (1 for a 2-hop path). */
unsigned sim_topo_path(const struct sim_net *net, uint32_t src, uint32_t dst,
		       uint32_t mbps[4], uint64_t lat_ps[4], unsigned *ways);

/* Names switch @sw as the report shows it: "ToR R" (its rack) or
 * "spine S" (S from 0, as --spines counts them), into @buf. */
const char *sim_topo_switch_name(const struct sim_net *net,
				 const struct sim_switch *sw, char *buf,
				 size_t len);

/* Whether hosts @a and @b share a rack (their paths have 2 hops). */
bool sim_topo_same_rack(const struct sim_net *net, uint32_t a, uint32_t b);

#endif /* UHOMA_SIM_TOPO_H */
