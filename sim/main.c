/*
 * main.c - uhoma-sim: hundreds of hosts running the uhoma protocol core in
 * virtual time over a modelled fabric. See sim/README.md.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: uhoma-sim [options]\n"
"  --topology T     rack:N or fabric:RxH (default rack:16)\n"
"  --workload W     w1..w5, a message length, or incast:N,SIZE (w4)\n"
"  --mode M         oneway (the message's arrival; default) or rpc\n"
"                   (request and an echo of its length, round trip)\n"
"  --load F         offered load, a fraction of each host's link in\n"
"                   message bytes (0.5)\n"
"  --seed N         (1); the same seed gives the same output\n"
"  --messages N     messages in all (20000)\n"
"  --warmup F       leading fraction of messages left out (0.1)\n"
"  --host-gbps N    host links (10)\n"
"  --uplink-gbps N  ToR-spine links (40)\n"
"  --spines N       (4)\n"
"  --prop-ns N      propagation delay of every link (200)\n"
"  --buffer BYTES   shared buffer per switch (12582912)\n"
"  --nic-prio       NICs with 8 priority queues (default: one FIFO)\n"
"  --config STR     uhoma configuration for every stack (key=value,...)\n"
"  --csv FILE       per-size-bucket results as CSV\n"
"  --svg FILE       P50/P99 slowdown against length, SVG\n"
"  --compare        four runs of the same workload and seed: the defaults\n"
"                   (with --config), priorities off (num_priorities=1),\n"
"                   overcommit 1 (max_overcommit=1) and the least\n"
"                   unscheduled data (unsched_bytes=1: one packet);\n"
"                   one table, CSV and plot for all\n"
"  --quiet          no progress line\n"
"  --help\n");
}

/* A positive number from @arg; exits on anything else. */
static double number(const char *name, const char *arg)
{
	char *end;
	double v = strtod(arg, &end);

	if (end == arg || *end || !(v > 0)) {
		fprintf(stderr, "uhoma-sim: --%s wants a positive number\n",
			name);
		exit(2);
	}
	return v;
}

/* One run, reported in full. Returns the exit status. */
static int one_run(const struct sim_opts *o, const char *csv,
		   const char *svg)
{
	struct sim s;
	int rc;

	if (sim_create(&s, o)) {
		sim_destroy(&s);
		return 1;
	}
	sim_run(&s);
	rc = sim_report(&s, stdout, csv, svg, NULL);
	sim_destroy(&s);
	return rc ? 1 : 0;
}

/* The --compare runs: each adds its configuration to the caller's. */
static const struct {
	const char *label, *config, *what;
} ablations[] = {
	{ "defaults", NULL, "Homa defaults" },
	{ "prio_off", "num_priorities=1", "priorities off" },
	{ "overcommit_1", "max_overcommit=1", "overcommit 1" },
	{ "unsched_min", "unsched_bytes=1", "unscheduled 1 packet" },
};
#define NABLATIONS (sizeof(ablations) / sizeof(ablations[0]))

/* Every ablation in turn, each reported in full, then one table, CSV and
 * plot for all and the defaults' SUMMARY last. Returns the exit status. */
static int compare_runs(const struct sim_opts *base, const char *csv,
		       const char *svg)
{
	static struct sim_result r[NABLATIONS];
	const char *labels[NABLATIONS];
	struct plot_series ps[NABLATIONS];
	char config[NABLATIONS][512];
	int rc = 0;

	for (size_t k = 0; k < NABLATIONS; k++) {
		struct sim_opts o = *base;
		struct sim s;

		labels[k] = ablations[k].label;
		if (ablations[k].config) {
			snprintf(config[k], sizeof(config[k]), "%s%s%s",
				 base->core_config ? base->core_config : "",
				 base->core_config ? "," : "",
				 ablations[k].config);
			o.core_config = config[k];
		}
		printf("== %s (%s) ==\n", ablations[k].what,
		       o.core_config ? o.core_config : "no --config");
		if (sim_create(&s, &o)) {
			sim_destroy(&s);
			return 1;
		}
		sim_run(&s);
		if (sim_report(&s, stdout, NULL, NULL, &r[k]))
			rc = 1;
		sim_destroy(&s);
		ps[k] = (struct plot_series){ ablations[k].what, r[k].b,
					      r[k].nb };
		printf("\n");
	}
	printf("== compared: %s %s load %.2f seed %llu ==\n", base->topology,
	       base->workload, base->load, (unsigned long long)base->seed);
	printf("%-22s %12s %12s %12s %10s %10s\n", "run", "short_p99",
	       "all_p50", "largest_p99", "sustained", "granted");
	for (size_t k = 0; k < NABLATIONS; k++) {
		const struct sim_result *x = &r[k];
		double p50 = 0;

		/* The median bucket's P50 stands for all lengths. */
		if (x->nb)
			p50 = x->b[x->nb / 2].s50;
		printf("%-22s %12.2f %12.2f %12.2f %10.3f %10.2f\n",
		       ablations[k].what, x->short_p99, p50,
		       x->nb ? x->b[x->nb - 1].s99 : 0, x->sustained,
		       x->mean_active);
	}
	if (csv && sim_write_csv(csv, labels, r, NABLATIONS))
		rc = 1;
	if (svg) {
		char title[160];

		snprintf(title, sizeof(title), "uhoma-sim %s %s load %.2f",
			 base->topology, base->workload, base->load);
		if (plot_svg(svg, title, ps, NABLATIONS))
			rc = 1;
	}
	printf("SUMMARY short_p99_slowdown=%.2f sustained=%.3f "
	       "pkts_per_s=%.0f\n", r[0].short_p99, r[0].sustained,
	       r[0].pkts_per_s);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "topology", required_argument, NULL, 't' },
		{ "workload", required_argument, NULL, 'w' },
		{ "mode", required_argument, NULL, 'm' },
		{ "load", required_argument, NULL, 'l' },
		{ "seed", required_argument, NULL, 's' },
		{ "messages", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'W' },
		{ "host-gbps", required_argument, NULL, 'H' },
		{ "uplink-gbps", required_argument, NULL, 'U' },
		{ "spines", required_argument, NULL, 'S' },
		{ "prop-ns", required_argument, NULL, 'P' },
		{ "buffer", required_argument, NULL, 'B' },
		{ "nic-prio", no_argument, NULL, 'N' },
		{ "config", required_argument, NULL, 'c' },
		{ "csv", required_argument, NULL, 'C' },
		{ "svg", required_argument, NULL, 'V' },
		{ "compare", no_argument, NULL, 'X' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *csv = NULL, *svg = NULL;
	bool compare = false;
	struct sim_opts o;
	int c;

	sim_opts_default(&o);
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 't': o.topology = optarg; break;
		case 'w': o.workload = optarg; break;
		case 'm':
			if (!strcmp(optarg, "oneway")) {
				o.mode = SIM_ONEWAY;
			} else if (!strcmp(optarg, "rpc")) {
				o.mode = SIM_RPC;
			} else {
				fprintf(stderr, "uhoma-sim: --mode oneway "
					"or rpc\n");
				return 2;
			}
			break;
		case 'l': o.load = number("load", optarg); break;
		case 's': o.seed = strtoull(optarg, NULL, 0); break;
		case 'n': o.messages = (uint64_t)number("messages", optarg);
			break;
		case 'W':
			o.warmup = strtod(optarg, NULL);
			if (o.warmup < 0 || o.warmup >= 1) {
				fprintf(stderr, "uhoma-sim: --warmup in "
					"[0, 1)\n");
				return 2;
			}
			break;
		case 'H': o.topo.host_mbps =
				(uint32_t)(number("host-gbps", optarg) * 1000);
			break;
		case 'U': o.topo.uplink_mbps =
				(uint32_t)(number("uplink-gbps", optarg) *
					   1000);
			break;
		case 'S': o.topo.spines = (uint32_t)number("spines", optarg);
			break;
		case 'P': o.topo.prop_ns = strtoull(optarg, NULL, 0); break;
		case 'B': o.topo.switch_buf =
				(uint64_t)number("buffer", optarg);
			break;
		case 'N': o.topo.nic_prio = true; break;
		case 'c': o.core_config = optarg; break;
		case 'C': csv = optarg; break;
		case 'V': svg = optarg; break;
		case 'X': compare = true; break;
		case 'q': o.quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (o.load > 1.5) {
		fprintf(stderr, "uhoma-sim: --load is a fraction (at most "
			"1.5)\n");
		return 2;
	}
	return compare ? compare_runs(&o, csv, svg) : one_run(&o, csv, svg);
}
