/*
 * topo.c - building rack:N and fabric:RxH, and routing in them (topo.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	o->switch_buf = 12u << 20;
	o->seed = 1;
	o->nic_prio = false;
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

int sim_topo_build(struct sim_net *net, const char *spec,
		   const struct sim_topo_opts *o, char *err, size_t len)
{
	struct topo *t = calloc(1, sizeof(*t));
	unsigned a = 0, b = 0;
	char tail;

	if (!t)
		goto nomem;
	net->topo = t;
	if (sscanf(spec, "rack:%u%c", &a, &tail) == 1 && a >= 2) {
		t->racks = 1;
		t->per_rack = a;
		t->spines = 0;
	} else if (sscanf(spec, "fabric:%ux%u%c", &a, &b, &tail) == 2 &&
		   a >= 1 && b >= 1 && a * b >= 2 && o->spines >= 1) {
		t->racks = a;
		t->per_rack = b;
		t->spines = a > 1 ? o->spines : 0;
	} else {
		snprintf(err, len, "topology '%s': want rack:N (N >= 2) or "
			 "fabric:RxH", spec);
		return -1;
	}
	if ((uint64_t)t->racks * t->per_rack > 65535) {
		snprintf(err, len, "topology '%s': at most 65535 hosts", spec);
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
				      o->prop_ns, tor, 0);
			net->nic[h].host = h;
			net->nic[h].fifo = !o->nic_prio;
			sim_port_init(&tor->ports[i], net, tor, o->host_mbps,
				      o->prop_ns, NULL, h);
		}
	}
	for (uint32_t s = 0; s < t->spines; s++) {
		struct sim_switch *sp = &net->sw[t->racks + s];

		if (alloc_switch(net, t->racks + s, t->racks, UINT32_MAX,
				 o->switch_buf))
			goto nomem;
		for (uint32_t r = 0; r < t->racks; r++) {
			sim_port_init(&sp->ports[r], net, sp, o->uplink_mbps,
				      o->prop_ns, &net->sw[r], 0);
			sim_port_init(&net->sw[r].ports[t->per_rack + s], net,
				      &net->sw[r], o->uplink_mbps, o->prop_ns,
				      sp, 0);
		}
	}
	return 0;
nomem:
	snprintf(err, len, "out of memory");
	return -1;
}

unsigned sim_topo_path(const struct sim_net *net, uint32_t src, uint32_t dst,
		       uint64_t ps_per_byte[4], uint64_t prop_ps[4],
		       unsigned *ways)
{
	const struct topo *t = net->topo;
	uint32_t rs = src / t->per_rack, rd = dst / t->per_rack;
	const struct sim_port *down = &net->sw[rd].ports[dst % t->per_rack];
	unsigned n = 0;

	*ways = 1;
	ps_per_byte[n] = net->nic[src].ps_per_byte;
	prop_ps[n++] = net->nic[src].prop_ps;
	if (rs != rd) {
		/* Every spine's path is alike: the first spine's stands for
		 * all of them. */
		const struct sim_port *up = &net->sw[rs].ports[t->per_rack];
		const struct sim_port *sd =
			&net->sw[t->racks].ports[rd];

		ps_per_byte[n] = up->ps_per_byte;
		prop_ps[n++] = up->prop_ps;
		ps_per_byte[n] = sd->ps_per_byte;
		prop_ps[n++] = sd->prop_ps;
		*ways = t->spines;
	}
	ps_per_byte[n] = down->ps_per_byte;
	prop_ps[n++] = down->prop_ps;
	return n;
}

bool sim_topo_same_rack(const struct sim_net *net, uint32_t a, uint32_t b)
{
	const struct topo *t = net->topo;

	return a / t->per_rack == b / t->per_rack;
}
