/*
 * sim.c - assembling and running one simulation (sim.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/wire.h"
#include "sim.h"

void sim_opts_default(struct sim_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->topology = "rack:16";
	o->workload = "w4";
	o->mode = SIM_ONEWAY;
	o->load = 0.5;
	o->seed = 1;
	o->messages = 20000;
	o->warmup = 0.1;
	o->drain_us = 200000;
	sim_topo_defaults(&o->topo);
}

int sim_opts_check(const struct sim_opts *o, char *err, size_t len)
{
	const struct sim_topo_opts *t = &o->topo;
	struct uhoma_config cfg;
	uint32_t racks, per_rack, nhosts;
	double wire, run_ps, ticks;

	/* The ranges the command line's parsers hold to, for every caller. */
	if (!(o->load >= SIM_MIN_LOAD && o->load <= SIM_MAX_LOAD)) {
		snprintf(err, len, "--load %g: want %g to %g", o->load,
			 SIM_MIN_LOAD, SIM_MAX_LOAD);
		return -1;
	}
	if (!(o->warmup >= 0 && o->warmup < 1)) {
		snprintf(err, len, "--warmup %g: want 0 or more, below 1",
			 o->warmup);
		return -1;
	}
	if (o->messages < 1 || o->messages > SIM_MAX_MESSAGES) {
		snprintf(err, len, "--messages %llu: want 1 to %llu",
			 (unsigned long long)o->messages, SIM_MAX_MESSAGES);
		return -1;
	}
	if (o->drain_us > SIM_MAX_DRAIN_MS * 1000) {
		snprintf(err, len, "--drain-ms: at most %llu",
			 SIM_MAX_DRAIN_MS);
		return -1;
	}
	if (t->host_mbps < SIM_MIN_MBPS || t->host_mbps > SIM_MAX_MBPS ||
	    t->uplink_mbps < SIM_MIN_MBPS || t->uplink_mbps > SIM_MAX_MBPS) {
		snprintf(err, len, "--host-gbps, --uplink-gbps: want %g to %g",
			 SIM_MIN_MBPS / 1000.0, SIM_MAX_MBPS / 1000.0);
		return -1;
	}
	if (t->spines < 1 || t->spines > SIM_MAX_SPINES) {
		snprintf(err, len, "--spines %u: want 1 to %u", t->spines,
			 SIM_MAX_SPINES);
		return -1;
	}
	if (t->prop_ns > SIM_MAX_PROP_NS) {
		snprintf(err, len, "--prop-ns %llu: want 0 to %llu",
			 (unsigned long long)t->prop_ns, SIM_MAX_PROP_NS);
		return -1;
	}
	if (t->switch_buf < SIM_MIN_BUFFER || t->switch_buf > SIM_MAX_BUFFER) {
		snprintf(err, len, "--buffer %llu: want %llu to %llu",
			 (unsigned long long)t->switch_buf, SIM_MIN_BUFFER,
			 SIM_MAX_BUFFER);
		return -1;
	}
	if (sim_topo_parse(o->topology, &racks, &per_rack, err, len))
		return -1;
	nhosts = racks * per_rack;
	if (sim_workload_check(o->workload, nhosts, o->messages, &wire, err,
			       len))
		return -1;
	if (sim_hosts_config(o->core_config, &cfg, err, len))
		return -1;
	/*
	 * How long the run should take, in simulated time: every host
	 * offers load x its link, so the messages come at nhosts times one
	 * host's rate; incast rounds come one at a time, each at least its
	 * bytes through the receiver's link. Every host ticks all along.
	 */
	if (!strncmp(o->workload, "incast:", 7)) {
		uint64_t n = strtoull(o->workload + 7, NULL, 10);

		run_ps = (double)(o->messages / n) * (double)n * wire *
			 8e6 / t->host_mbps;
	} else {
		run_ps = (double)o->messages * wire * 8e6 /
			 (o->load * t->host_mbps * nhosts);
	}
	ticks = (double)nhosts * run_ps /
		((double)cfg.tick_us * SIM_PS_PER_US);
	if (ticks > SIM_MAX_TICKS) {
		snprintf(err, len, "this run would simulate about %.3g s: "
			 "%.3g timer ticks of its %u hosts, more than the %.3g "
			 "allowed (each a call into a core: minutes to hours "
			 "of wall time between messages); raise --load or "
			 "--host-gbps, or lower --messages", run_ps / 1e12,
			 ticks, nhosts, SIM_MAX_TICKS);
		return -1;
	}
	return 0;
}

int sim_create(struct sim *s, const struct sim_opts *o)
{
	char err[512];

	memset(s, 0, sizeof(*s));
	sim_engine_init(&s->eng);
	sim_net_init(&s->net, &s->eng);
	if (sim_opts_check(o, err, sizeof(err))) {
		fprintf(stderr, "uhoma-sim: %s\n", err);
		return -1;
	}
	s->o = *o;
	s->o.topo.seed = o->seed;
	if (sim_topo_build(&s->net, o->topology, &s->o.topo, err,
			   sizeof(err))) {
		fprintf(stderr, "uhoma-sim: %s\n", err);
		return -1;
	}
	if (sim_workload_init(&s->w, o->workload, o->mode, o->load, o->seed,
			      o->messages, s->net.nhosts))
		return -1;
	if (sim_hosts_start(&s->hosts, &s->net, o->core_config,
			    sim_workload_on_msg, &s->w))
		return -1;
	return sim_workload_start(&s->w, &s->hosts);
}

void sim_destroy(struct sim *s)
{
	sim_hosts_stop(&s->hosts);
	sim_workload_free(&s->w);
	sim_net_free(&s->net);
	sim_engine_free(&s->eng);
}

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void sim_run(struct sim *s)
{
	const uint64_t slice = 100 * SIM_PS_PER_US;   /* progress period */
	double t0 = wall_now();
	uint64_t until = slice;

	for (;;) {
		struct sim_workload *w = &s->w;
		bool generated = w->nmsgs >= w->max_msgs;

		sim_run_until(&s->eng, until);
		if (!s->o.quiet)
			fprintf(stderr, "\r%8.1f ms simulated: %llu/%llu "
				"messages done, %llu packets delivered",
				(double)s->eng.now / 1e9,
				(unsigned long long)w->ndone,
				(unsigned long long)w->max_msgs,
				(unsigned long long)s->net.delivered);
		if (generated && w->ndone >= w->nmsgs)
			break;
		/* An incast run with no round in flight has no more rounds:
		 * the last one to end starts the next (incast_rounds). */
		if (w->incast_n && w->incast_left == 0)
			break;
		/* The drain: once nothing more is generated -- for incast,
		 * from each round's start, as a round may never end -- at
		 * most drain_us more. Poisson generation always goes on to
		 * the last message: its events are already scheduled. */
		if ((generated || w->incast_n) && s->eng.now >=
		    w->last_start_ps + s->o.drain_us * SIM_PS_PER_US)
			break;
		/* Nothing left to happen at all (a run with no hosts). */
		if (!s->eng.n)
			break;
		until += slice;
	}
	if (!s->o.quiet)
		fprintf(stderr, "\n");
	s->wall_s = wall_now() - t0;
}

struct ideal_pkt {
	uint64_t ready, wire;      /* at the last hop */
};

static int by_ready(const void *a, const void *b)
{
	const struct ideal_pkt *x = a, *y = b;

	return x->ready < y->ready ? -1 : x->ready > y->ready;
}

uint64_t sim_ideal_ps(const struct sim_net *net, uint32_t src, uint32_t dst,
		      uint32_t len)
{
	uint64_t prop[4], *done, last = 0;
	uint32_t mbps[4];
	unsigned ways, hops = sim_topo_path(net, src, dst, mbps, prop, &ways);
	uint32_t per = SIM_MAX_HOMA - UH_HDR_DATA, left = len, k = 0;
	uint32_t npkts = len ? (len + per - 1) / per : 1;
	struct ideal_pkt *at = calloc(npkts, sizeof(*at));

	/* done[j * ways + w]: when hop j, by spine w, finished serializing
	 * the latest packet there. The middle hops of a 4-hop path are as
	 * many as the spines. With one spine every packet takes it in turn;
	 * with more, the ideal lets each packet through them unhindered:
	 * packets are sprayed at random, and a choice that lets a short last
	 * packet pass a full one (not the spines in turn) beat the turn-taking
	 * schedule this used, so slow uplinks read slowdowns below 1 (a
	 * MODEL ERROR; helper-29). Unhindered, this is a lower bound; where
	 * the uplinks are fast enough that nothing queues there anyway (the
	 * defaults: 10 Gb/s hosts, 40 Gb/s uplinks) it is the idle fabric's
	 * time exactly: every CSV of the defaults is byte-identical. */
	done = calloc((size_t)hops * ways, sizeof(*done));
	if (!done || !at)
		abort();
	do {
		uint32_t payload = left < per ? left : per;
		uint64_t wire = sim_wire_bytes(UH_HDR_DATA + payload);
		uint64_t ready = 0;     /* all are at the sender at time 0 */

		for (unsigned j = 0; j + 1 < hops; j++) {
			bool mid = j == 1 || j == 2;
			uint64_t clear = 0, *d = &clear;

			if (!mid || ways == 1)
				d = &done[j * ways];
			*d = (ready > *d ? ready : *d) +
			     sim_ser_ps(wire, mbps[j]);
			ready = *d + prop[j];
		}
		at[k++] = (struct ideal_pkt){ ready, wire };
		left -= payload;
	} while (left);
	/* The last hop takes them as they come, which (spines in parallel)
	 * need not be the order they were sent in. */
	qsort(at, k, sizeof(*at), by_ready);
	for (uint32_t i = 0; i < k; i++) {
		uint64_t start = at[i].ready > last ? at[i].ready : last;

		last = start + sim_ser_ps(at[i].wire, mbps[hops - 1]);
	}
	free(at);
	free(done);
	return last + prop[hops - 1];
}
