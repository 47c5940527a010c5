/*
 * topo.c - building rack:N and fabric:RxH, and routing in them (topo.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "topo.h"

struct topo {
	uint32_t racks, per_rack, spines;   /* rack:N is 1 rack of N */
};

void sim_topo_defaults(struct sim_topo_opts *o)
{
	o->host_mbps = 10000;
	o->uplink_mbps = 40000;
	o->spines = 4;
	o->prop_ns = 200;
	/* The Homa paper's simulator (PlatformLab/HomaSimulation): 250 ns
	 * per switch, 500 ns of software at each end, 500 ns in the NIC. */
	o->switch_ns = 250;
	o->host_ns = 500;
	o->nic_ns = 500;
	o->switch_buf = 12u << 20;
	o->seed = 1;
	/* The paper's simulator sends, each time its NIC comes free, the
	 * most urgent packet it has: never one behind a FIFO of others. */
	o->nic_prio = true;
}

/* splitmix64: the spraying choices, reproducible from the seed. */
static uint64_t next_rand(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t route(struct sim_net *net, struct sim_switch *sw,
		      const struct sim_pkt *p)
{
	const struct topo *t = net->topo;
	uint32_t rack = p->dst / t->per_rack;

	if (sw->rack == UINT32_MAX)         /* a spine: down to the ToR */
		return rack;
	if (rack == sw->rack)
		return p->dst % t->per_rack;
	return t->per_rack + (uint32_t)(next_rand(&net->rng) % t->spines);
}

static int alloc_switch(struct sim_net *net, uint32_t i, uint32_t nports,
			uint32_t rack, uint64_t buf)
{
	struct sim_switch *sw = &net->sw[i];

	sw->net = net;
	sw->index = i;
	sw->nports = nports;
	sw->rack = rack;
	sw->buf_cap = buf;
	sw->ports = calloc(nports, sizeof(*sw->ports));
	return sw->ports ? 0 : -1;
}

int sim_topo_parse(const char *spec, uint32_t *racks, uint32_t *per_rack,
		   char *err, size_t len)
{
	uint64_t a = 0, b = 0;
	const char *p;

	/* Digits read one at a time against a limit: "fabric:4294967297x2"
	 * must not wrap to 1x2, as sscanf's %u would. */
	if (!strncmp(spec, "rack:", 5)) {
		p = sim_decimal(spec + 5, SIM_MAX_HOSTS, &a);
		if (p && !*p && a >= 2) {
			*racks = 1;
			*per_rack = (uint32_t)a;
			return 0;
		}
	} else if (!strncmp(spec, "fabric:", 7)) {
		p = sim_decimal(spec + 7, SIM_MAX_HOSTS, &a);
		if (p && *p == 'x')
			p = sim_decimal(p + 1, SIM_MAX_HOSTS, &b);
		else
			p = NULL;
		if (p && !*p && a >= 1 && b >= 1 && a * b > SIM_MAX_HOSTS) {
			snprintf(err, len, "--topology '%s': at most %u hosts",
				 spec, SIM_MAX_HOSTS);
			return -1;
		}
		if (p && !*p && a >= 1 && b >= 1 && a * b >= 2) {
			*racks = (uint32_t)a;
			*per_rack = (uint32_t)b;
			return 0;
		}
	}
	snprintf(err, len, "--topology '%s': want rack:N (2 <= N <= %u) or "
		 "fabric:RxH (R racks of H hosts, R, H >= 1, 2 to %u hosts)",
		 spec, SIM_MAX_HOSTS, SIM_MAX_HOSTS);
	return -1;
}

int sim_topo_build(struct sim_net *net, const char *spec,
		   const struct sim_topo_opts *o, char *err, size_t len)
{
	struct topo *t = calloc(1, sizeof(*t));

	if (!t)
		goto nomem;
	net->topo = t;
	if (sim_topo_parse(spec, &t->racks, &t->per_rack, err, len))
		return -1;
	t->spines = t->racks > 1 ? o->spines : 0;
	if (t->racks > 1 && (o->spines < 1 || o->spines > SIM_MAX_SPINES)) {
		snprintf(err, len, "--spines %u: want 1 to %u", o->spines,
			 SIM_MAX_SPINES);
		return -1;
	}
	/* A rate of 0 would divide by zero (sim_ser_ps). */
	if (o->host_mbps < SIM_MIN_MBPS || o->host_mbps > SIM_MAX_MBPS ||
	    o->uplink_mbps < SIM_MIN_MBPS || o->uplink_mbps > SIM_MAX_MBPS) {
		snprintf(err, len, "link rates: want %u to %u Mb/s",
			 SIM_MIN_MBPS, SIM_MAX_MBPS);
		return -1;
	}
	net->nhosts = t->racks * t->per_rack;
	net->nswitches = t->racks + t->spines;
	net->rng = o->seed ^ 0x5350524159ull;     /* "SPRAY" */
	net->route = route;
	net->nic = calloc(net->nhosts, sizeof(*net->nic));
	net->sw = calloc(net->nswitches, sizeof(*net->sw));
	if (!net->nic || !net->sw)
		goto nomem;
	for (uint32_t r = 0; r < t->racks; r++) {
		struct sim_switch *tor = &net->sw[r];

		if (alloc_switch(net, r, t->per_rack + t->spines, r,
				 o->switch_buf))
			goto nomem;
		for (uint32_t i = 0; i < t->per_rack; i++) {
			uint32_t h = r * t->per_rack + i;

			sim_port_init(&net->nic[h], net, NULL, o->host_mbps,
				      o->prop_ns + o->host_ns + o->nic_ns +
				      o->switch_ns, tor, 0);
			net->nic[h].host = h;
			net->nic[h].fifo = !o->nic_prio;
			sim_port_init(&tor->ports[i], net, tor, o->host_mbps,
				      o->prop_ns + o->host_ns, NULL, h);
		}
	}
	for (uint32_t s = 0; s < t->spines; s++) {
		struct sim_switch *sp = &net->sw[t->racks + s];

		if (alloc_switch(net, t->racks + s, t->racks, UINT32_MAX,
				 o->switch_buf))
			goto nomem;
		for (uint32_t r = 0; r < t->racks; r++) {
			sim_port_init(&sp->ports[r], net, sp, o->uplink_mbps,
				      o->prop_ns + o->switch_ns, &net->sw[r],
				      0);
			sim_port_init(&net->sw[r].ports[t->per_rack + s], net,
				      &net->sw[r], o->uplink_mbps,
				      o->prop_ns + o->switch_ns, sp, 0);
		}
	}
	return 0;
nomem:
	snprintf(err, len, "out of memory");
	return -1;
}

unsigned sim_topo_path(const struct sim_net *net, uint32_t src, uint32_t dst,
		       uint32_t mbps[4], uint64_t lat_ps[4], unsigned *ways)
{
	const struct topo *t = net->topo;
	uint32_t rs = src / t->per_rack, rd = dst / t->per_rack;
	const struct sim_port *down = &net->sw[rd].ports[dst % t->per_rack];
	unsigned n = 0;

	*ways = 1;
	mbps[n] = net->nic[src].mbps;
	lat_ps[n++] = net->nic[src].lat_ps;
	if (rs != rd) {
		/* Every spine's path is alike: the first spine's stands for
		 * all of them. */
		const struct sim_port *up = &net->sw[rs].ports[t->per_rack];
		const struct sim_port *sd =
			&net->sw[t->racks].ports[rd];

		mbps[n] = up->mbps;
		lat_ps[n++] = up->lat_ps;
		mbps[n] = sd->mbps;
		lat_ps[n++] = sd->lat_ps;
		*ways = t->spines;
	}
	mbps[n] = down->mbps;
	lat_ps[n++] = down->lat_ps;
	return n;
}

bool sim_topo_same_rack(const struct sim_net *net, uint32_t a, uint32_t b)
{
	const struct topo *t = net->topo;

	return a / t->per_rack == b / t->per_rack;
}

const char *sim_topo_switch_name(const struct sim_net *net,
				 const struct sim_switch *sw, char *buf,
				 size_t len)
{
	const struct topo *t = net->topo;

	/* The ToRs come first in net->sw, then the spines. */
	if (sw->rack == UINT32_MAX)
		snprintf(buf, len, "spine %u", sw->index - t->racks);
	else
		snprintf(buf, len, "ToR %u", sw->rack);
	return buf;
}
