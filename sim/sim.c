/*
 * sim.c - assembling and running one simulation (sim.h).
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* The machine's physical memory, in bytes; 0 if it cannot be told. */
static double phys_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);

	return pages > 0 && size > 0 ? (double)pages * (double)size : 0;
}

/* @ps of simulated time, readably, into @buf. */
static const char *duration(double ps, char *buf, size_t len)
{
	if (ps >= 1e12)
		snprintf(buf, len, "%.1f s", ps / 1e12);
	else if (ps >= 1e9)
		snprintf(buf, len, "%.1f ms", ps / 1e9);
	else
		snprintf(buf, len, "%.3g us", ps / 1e6);
	return buf;
}

/*
 * The most simulated time @o's run may take, in ps, with what it is made
 * of and what would shorten it in @what (@len bytes). Poisson: the
 * messages' generation at the load asked for, then the whole drain -- a
 * bound, whatever the links (a slow one only makes the drain run its
 * course). Incast: a round at least its bytes through the receiver's
 * downlink, or through the spines into its rack when senders are
 * elsewhere, plus one packet's fixed latency, the rounds one after the
 * other; one the drain cuts short ends the run.
 */
static double run_length_ps(const struct sim_opts *o, uint32_t racks,
			    uint32_t per_rack, double wire, char *what,
			    size_t len)
{
	const struct sim_topo_opts *t = &o->topo;
	uint32_t nhosts = racks * per_rack;
	double drain_ps = (double)o->drain_us * SIM_PS_PER_US, gen_ps, round;
	double n, rounds, lat;
	char a[32];

	if (strncmp(o->workload, "incast:", 7)) {
		gen_ps = (double)o->messages * wire * 8e6 /
			 (o->load * t->host_mbps * nhosts);
		snprintf(what, len, "%s to start its messages at --load %g, "
			 "then up to --drain-ms %llu for the rest; raise "
			 "--load or --host-gbps, or lower --messages, "
			 "--drain-ms or the hosts",
			 duration(gen_ps, a, sizeof(a)), o->load,
			 (unsigned long long)o->drain_us / 1000);
		return gen_ps + drain_ps;
	}
	n = (double)strtoull(o->workload + 7, NULL, 10);
	rounds = floor((double)o->messages / n);
	/* Nothing arrives before a packet's fixed latency on the shortest
	 * path (two links, a switch): latencies of a second made rounds of
	 * seconds that this counted as microseconds (helper-32). */
	lat = (double)(2 * t->prop_ns + t->switch_ns + 2 * t->host_ns +
		       t->nic_ns) * SIM_PS_PER_NS;
	round = n * wire * 8e6 / t->host_mbps;
	if (racks > 1) {
		/* The senders of other racks (uniform over the hosts) come
		 * down the spines, all of them together, into the ToR. */
		double cross = ceil(n * (nhosts - per_rack) / (nhosts - 1.0));
		double down = cross * wire * 8e6 /
			      ((double)t->spines * t->uplink_mbps);

		if (down > round)
			round = down;
	}
	round += lat;
	snprintf(what, len, "%.0f rounds of incast one after the other, each "
		 "at least %s on the receiver's links and a packet's "
		 "latency, or one cut short by "
		 "--drain-ms %llu; lower --messages (the rounds), --drain-ms, "
		 "the hosts or the latencies, or raise the link rates",
		 rounds,
		 duration(round, a, sizeof(a)),
		 (unsigned long long)o->drain_us / 1000);
	return round < drain_ps ? rounds * round : drain_ps;
}

/*
 * Whether @o's run fits in the machine's physical memory, counting what it
 * needs at least: every message's record and report entry; the messages
 * a load the links cannot carry (above 1, or above 0.5 in rpc mode, whose
 * echoes come on top) leaves in flight, the excess of what was offered;
 * each host's stack; each port. Returns 0, or -1 with what weighs how
 * much in @err (@len bytes).
 */
static int check_memory(const struct sim_opts *o, uint32_t racks,
			uint32_t per_rack, char *err, size_t len)
{
	uint32_t nhosts = racks * per_rack;
	double spines = racks > 1 ? o->topo.spines : 0;
	double offered = o->load * (o->mode == SIM_RPC ? 2 : 1);
	double msgs, flight = 0, hosts, ports, all, phys = phys_bytes();
	size_t used, port = sizeof(struct sim_port);

	if (!strncmp(o->workload, "incast:", 7))
		offered = 0;    /* a round at a time: no backlog */
	msgs = (double)o->messages *
	       (double)(sizeof(struct sim_msg) + SIM_REPORT_MSG_BYTES);
	if (offered > 1)
		flight = (double)o->messages * (1 - 1 / offered);
	hosts = nhosts * SIM_HOST_BYTES + SIM_REGION;
	/* NICs, ToR ports (hosts and uplinks), spine ports (one a rack). */
	ports = (nhosts + racks * (per_rack + spines) + spines * racks) *
		(double)port;
	all = msgs + flight * SIM_IN_FLIGHT_BYTES + hosts + ports;
	if (phys <= 0 || all <= phys)
		return 0;
	/* What weighs, the parts of a hundredth or more. */
	used = (size_t)snprintf(err, len, "this run would need at least "
				"%.1f GB of memory, more than this machine's "
				"%.1f GB:", all / 1e9, phys / 1e9);
	if (msgs >= all / 100 && used < len)
		used += (size_t)snprintf(err + used, len - used, " %.1f GB for "
					 "the records of --messages %llu;",
					 msgs / 1e9,
					 (unsigned long long)o->messages);
	if (flight * SIM_IN_FLIGHT_BYTES >= all / 100 && used < len)
		used += (size_t)snprintf(err + used, len - used, " %.1f GB for "
					 "the %.3g messages --load %g%s leaves "
					 "in flight, more than the links "
					 "carry;",
					 flight * SIM_IN_FLIGHT_BYTES / 1e9,
					 flight, o->load,
					 o->mode == SIM_RPC ? " (twice that "
					 "with the echoes)" : "");
	if (hosts >= all / 100 && used < len)
		used += (size_t)snprintf(err + used, len - used, " %.1f GB for "
					 "the stacks of %u hosts;",
					 hosts / 1e9, nhosts);
	if (ports >= all / 100 && used < len)
		used += (size_t)snprintf(err + used, len - used, " %.1f GB for "
					 "the fabric's %.3g ports (--topology, "
					 "--spines);", ports / 1e9,
					 ports / (double)port);
	if (used < len)
		snprintf(err + used - 1, len - used + 1, "; lower what weighs "
			 "most");
	return -1;
}

int sim_opts_check(const struct sim_opts *o, char *err, size_t len)
{
	const struct sim_topo_opts *t = &o->topo;
	struct uhoma_config cfg;
	uint32_t racks, per_rack, nhosts;
	double wire, run_ps, ticks;
	char what[384];

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
	if (t->switch_ns > SIM_MAX_PROP_NS || t->host_ns > SIM_MAX_PROP_NS ||
	    t->nic_ns > SIM_MAX_PROP_NS) {
		snprintf(err, len, "--switch-ns, --host-ns, --nic-ns: want 0 "
			 "to %llu", SIM_MAX_PROP_NS);
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
	/* How long the run may take in simulated time, every host ticking
	 * all along. */
	run_ps = run_length_ps(o, racks, per_rack, wire, what, sizeof(what));
	ticks = (double)nhosts * run_ps /
		((double)cfg.tick_us * SIM_PS_PER_US);
	if (ticks > SIM_MAX_TICKS) {
		char a[32];

		snprintf(err, len, "this run may simulate up to %s, %.3g timer "
			 "ticks of its %u hosts, more than the %.3g allowed "
			 "(each a call into a core: minutes to hours of wall "
			 "time): %s", duration(run_ps, a, sizeof(a)), ticks,
			 nhosts, SIM_MAX_TICKS, what);
		return -1;
	}
	return check_memory(o, racks, per_rack, err, len);
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
	if (sim_workload_start(&s->w, &s->hosts,
			       o->drain_us * SIM_PS_PER_US)) {
		fprintf(stderr, "uhoma-sim: %s\n",
			sim_engine_error(&s->eng, err, sizeof(err)));
		return -1;
	}
	return 0;
}

const char *sim_load_label(const struct sim_opts *o, char *buf, size_t len)
{
	if (!strncmp(o->workload, "incast:", 7))
		snprintf(buf, len, "%s", "");
	else
		snprintf(buf, len, " load %g", o->load);
	return buf;
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

int sim_run(struct sim *s)
{
	const uint64_t slice = 100 * SIM_PS_PER_US;   /* progress period */
	double t0 = wall_now();
	uint64_t until = slice;
	char why[512];
	int rc = 0;

	/*
	 * Slices only pace the progress line: the run's end is exact. The
	 * workload moves the engine's stop_at to it as it becomes known --
	 * the last message's start plus the drain (incast: each round's),
	 * or the instant the last message ends -- and sim_run_until fires
	 * nothing after it, wherever in a slice it falls.
	 */
	for (;;) {
		struct sim_workload *w = &s->w;
		bool generated;

		sim_run_until(&s->eng, until);
		if (s->eng.failed) {
			rc = -1;
			break;
		}
		generated = w->nmsgs >= w->max_msgs;
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
	if (rc)
		fprintf(stderr, "uhoma-sim: %s\n",
			sim_engine_error(&s->eng, why, sizeof(why)));
	s->wall_s = wall_now() - t0;
	return rc;
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
