/*
 * main.c - uhoma-sim: hundreds of hosts running the uhoma protocol core in
 * virtual time over a modelled fabric. See sim/README.md.
 */
#include <getopt.h>
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
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *csv = NULL, *svg = NULL;
	struct sim_opts o;
	struct sim s;
	int c, rc;

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
	if (sim_create(&s, &o)) {
		sim_destroy(&s);
		return 1;
	}
	sim_run(&s);
	rc = sim_report(&s, stdout, csv, svg);
	sim_destroy(&s);
	return rc ? 1 : 0;
}
