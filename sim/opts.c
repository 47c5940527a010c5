/*
 * opts.c - uhoma-sim's command line (opts.h).
 *
 * Every number goes through one of two strict parsers: an integer in a
 * range, or a finite number in a range. strtoull and strtod alone accept
 * too much -- "-1" as 2^64 - 1, "abc" as 0, "1e3" as 1 -- and a wrapped or
 * truncated value runs a different simulation than the one asked for.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "opts.h"

void sim_usage(FILE *f)
{
	fprintf(f,
"usage: uhoma-sim [options]\n"
"  --topology T     rack:N or fabric:RxH (default rack:16)\n"
"  --workload W     w1..w5, starve, a message length, or incast:N,SIZE\n"
"                   (w4); starve: 100 KB to 1 MB in steps of 100 KB, the\n"
"                   Linux module's workload for the starvation of long\n"
"                   messages under SRPT\n"
"  --mode M         oneway (the message's arrival; default) or rpc\n"
"                   (request and an echo of its length, round trip)\n"
"  --load F         offered load: the fraction of each host's link its\n"
"                   messages' DATA packets keep busy, headers and framing\n"
"                   included (0.5; 0.0001 to 1.5). rpc: the requests'\n"
"                   alone; the echoes, as long, come on top, so the links\n"
"                   carry about twice F (above 0.5, more than they can).\n"
"                   incast: not used\n"
"  --seed N         a decimal integer (1); the same seed gives the same\n"
"                   results\n"
"  --messages N     messages in all (20000; incast: whole rounds)\n"
"  --warmup F       leading fraction of messages left out (0.1)\n"
"  --drain-ms N     after the last message starts, simulate at most N ms\n"
"                   more for the rest (200); those still in flight are\n"
"                   reported\n"
"  --host-gbps N    host links (10), a whole number of Mb/s\n"
"  --uplink-gbps N  ToR-spine links (40), a whole number of Mb/s\n"
"  --spines N       (4)\n"
"  --prop-ns N      propagation delay of every link, integer ns (200)\n"
"  --switch-ns N    a switch's forwarding latency, integer ns (250)\n"
"  --host-ns N      a host's software latency at each end of a packet's\n"
"                   trip, integer ns (500)\n"
"  --nic-ns N       a NIC's latency before a packet leaves, integer ns\n"
"                   (500); all three: latencies, not costs (they delay a\n"
"                   packet, never the one behind it), the Homa paper's\n"
"                   simulator's values; 0 for none\n"
"  --buffer BYTES   shared buffer per switch (12582912)\n"
"  --nic-fifo       NICs with one FIFO (default: 8 strict-priority queues,\n"
"                   as switch ports; --nic-prio says so explicitly)\n"
"  --config STR     uhoma configuration for every stack (key=value,...);\n"
"                   settings the simulator does not model are refused\n"
"  --csv FILE       per-size-bucket results as CSV\n"
"  --svg FILE       P50/P99 slowdown against length, SVG\n"
"  --compare        four runs of the same workload and seed: the defaults\n"
"                   (with --config), priorities off (num_priorities=1),\n"
"                   overcommit 1 (max_overcommit=1) and the least\n"
"                   unscheduled data (unsched_bytes=1: one packet);\n"
"                   one table, CSV and plot for all\n"
"  --quiet          no progress line\n"
"  --help\n"
"Options may be abbreviated to any unambiguous prefix (--top).\n"
"Exit status: 0; 1 if a run could not be set up or failed, or a file\n"
"(or standard output) not written; 2 for a bad option, or a run too long\n"
"or too large to attempt. See uhoma-sim(1).\n");
}

const char *sim_decimal(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;
	const char *p = s;

	for (; *p >= '0' && *p <= '9'; p++) {
		uint64_t d = (uint64_t)(*p - '0');

		/* x * 10 + d > max, asked without overflowing. */
		if (x > (max - d) / 10)
			return NULL;
		x = x * 10 + d;
	}
	if (p == s)
		return NULL;
	*v = x;
	return p;
}

int sim_parse_uint(const char *name, const char *arg, uint64_t min,
		   uint64_t max, FILE *err, uint64_t *out)
{
	const char *end = sim_decimal(arg, max, out);

	if (end && !*end && *out >= min)
		return 0;
	fprintf(err, "uhoma-sim: --%s '%s': want a whole number from %llu "
		"to %llu\n", name, arg, (unsigned long long)min,
		(unsigned long long)max);
	return -1;
}

int sim_parse_double(const char *name, const char *arg, double min,
		     double max, FILE *err, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	/* strtod takes "nan", "inf" and hexadecimal too: digits or a point
	 * first, and no 'x' anywhere, keep to the decimal forms. */
	if (end != arg && !*end && !errno && isfinite(v) && v >= min &&
	    v <= max && *arg && strchr("0123456789.", *arg) &&
	    !strpbrk(arg, "xX")) {
		*out = v;
		return 0;
	}
	if (err)                     /* NULL: the caller says it */
		fprintf(err, "uhoma-sim: --%s '%s': want a number from %g "
			"to %g\n", name, arg, min, max);
	return -1;
}

/* --@name in Gb/s, into Mb/s: a whole number of them, as the links are
 * modelled (net.h). */
static int parse_gbps(const char *name, const char *arg, FILE *err,
		      uint32_t *mbps)
{
	double g, m;

	if (sim_parse_double(name, arg, SIM_MIN_MBPS / 1000.0,
			     SIM_MAX_MBPS / 1000.0, err, &g))
		return -1;
	m = g * 1000;
	if (fabs(m - round(m)) > 1e-6) {
		fprintf(err, "uhoma-sim: --%s '%s': %.4f Mb/s; want a whole "
			"number of Mb/s\n", name, arg, m);
		return -1;
	}
	*mbps = (uint32_t)round(m);
	return 0;
}

/* Why getopt_long refused @arg: an abbreviation of several of @opts
 * (each named, so that the user sees what to write), or of none. */
static void refuse_option(const char *arg, const struct option *opts,
			  FILE *err)
{
	size_t len = 0, n = 0;

	if (!strncmp(arg, "--", 2)) {
		len = strcspn(arg + 2, "=");
		for (size_t k = 0; len && opts[k].name; k++)
			n += !strncmp(opts[k].name, arg + 2, len);
	}
	if (n < 2) {
		fprintf(err, "uhoma-sim: unknown option '%s'\n", arg);
		return;
	}
	fprintf(err, "uhoma-sim: option '--%.*s' is ambiguous: it could be",
		(int)len, arg + 2);
	for (size_t k = 0, i = 0; opts[k].name; k++) {
		if (strncmp(opts[k].name, arg + 2, len))
			continue;
		i++;
		fprintf(err, "%s--%s", i == 1 ? " " : i == n ? " or " : ", ",
			opts[k].name);
	}
	fprintf(err, "; write more of its name\n");
}

/* Whether paths @a and @b name one file: the same text, or (both there
 * already) the same inode. */
static bool same_file(const char *a, const char *b)
{
	struct stat x, y;

	if (strcmp(a, b) == 0)
		return true;
	return stat(a, &x) == 0 && stat(b, &y) == 0 &&
	       x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

int sim_cli_parse(struct sim_cli *cli, int argc, char **argv, FILE *out,
		  FILE *err)
{
	static const struct option longopts[] = {
		{ "topology", required_argument, NULL, 't' },
		{ "workload", required_argument, NULL, 'w' },
		{ "mode", required_argument, NULL, 'm' },
		{ "load", required_argument, NULL, 'l' },
		{ "seed", required_argument, NULL, 's' },
		{ "messages", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'W' },
		{ "drain-ms", required_argument, NULL, 'D' },
		{ "host-gbps", required_argument, NULL, 'H' },
		{ "uplink-gbps", required_argument, NULL, 'U' },
		{ "spines", required_argument, NULL, 'S' },
		{ "prop-ns", required_argument, NULL, 'P' },
		{ "switch-ns", required_argument, NULL, 'y' },
		{ "host-ns", required_argument, NULL, 'o' },
		{ "nic-ns", required_argument, NULL, 'i' },
		{ "buffer", required_argument, NULL, 'B' },
		{ "nic-prio", no_argument, NULL, 'N' },
		{ "nic-fifo", no_argument, NULL, 'F' },
		{ "config", required_argument, NULL, 'c' },
		{ "csv", required_argument, NULL, 'C' },
		{ "svg", required_argument, NULL, 'V' },
		{ "compare", no_argument, NULL, 'X' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sim_opts *o = &cli->o;
	uint64_t u = 0;
	int c, bad = 0;

	memset(cli, 0, sizeof(*cli));
	sim_opts_default(o);
	optind = 0;           /* glibc: start afresh (tests parse often) */
	opterr = 0;           /* our messages, on @err */
	/* ":" first: a missing argument is ':', an unknown option '?'. */
	while (!bad &&
	       (c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case 't': o->topology = optarg; break;
		case 'w': o->workload = optarg; break;
		case 'm':
			if (!strcmp(optarg, "oneway")) {
				o->mode = SIM_ONEWAY;
			} else if (!strcmp(optarg, "rpc")) {
				o->mode = SIM_RPC;
			} else {
				fprintf(err, "uhoma-sim: --mode '%s': want "
					"oneway or rpc\n", optarg);
				bad = 1;
			}
			break;
		case 'l':
			bad = sim_parse_double("load", optarg, SIM_MIN_LOAD,
					       SIM_MAX_LOAD, err, &o->load);
			break;
		case 's':
			bad = sim_parse_uint("seed", optarg, 0, UINT64_MAX,
					     err, &o->seed);
			break;
		case 'n':
			bad = sim_parse_uint("messages", optarg, 1,
					     SIM_MAX_MESSAGES, err,
					     &o->messages);
			break;
		case 'W':
			/* [0, 1): a warmup of all leaves nothing. Either
			 * refusal says the same range. */
			bad = sim_parse_double("warmup", optarg, 0, 1,
					       NULL, &o->warmup);
			if (bad || o->warmup == 1) {
				fprintf(err, "uhoma-sim: --warmup '%s': want "
					"a number from 0 to below 1\n", optarg);
				bad = 1;
			}
			break;
		case 'D':
			bad = sim_parse_uint("drain-ms", optarg, 0,
					     SIM_MAX_DRAIN_MS, err, &u);
			o->drain_us = u * 1000;
			break;
		case 'H':
			bad = parse_gbps("host-gbps", optarg, err,
					 &o->topo.host_mbps);
			break;
		case 'U':
			bad = parse_gbps("uplink-gbps", optarg, err,
					 &o->topo.uplink_mbps);
			break;
		case 'S':
			bad = sim_parse_uint("spines", optarg, 1,
					     SIM_MAX_SPINES, err, &u);
			o->topo.spines = (uint32_t)u;
			break;
		case 'P':
			bad = sim_parse_uint("prop-ns", optarg, 0,
					     SIM_MAX_PROP_NS, err,
					     &o->topo.prop_ns);
			break;
		case 'y':
			bad = sim_parse_uint("switch-ns", optarg, 0,
					     SIM_MAX_PROP_NS, err,
					     &o->topo.switch_ns);
			break;
		case 'o':
			bad = sim_parse_uint("host-ns", optarg, 0,
					     SIM_MAX_PROP_NS, err,
					     &o->topo.host_ns);
			break;
		case 'i':
			bad = sim_parse_uint("nic-ns", optarg, 0,
					     SIM_MAX_PROP_NS, err,
					     &o->topo.nic_ns);
			break;
		case 'B':
			bad = sim_parse_uint("buffer", optarg, SIM_MIN_BUFFER,
					     SIM_MAX_BUFFER, err,
					     &o->topo.switch_buf);
			break;
		case 'N': o->topo.nic_prio = true; break;
		case 'F': o->topo.nic_prio = false; break;
		case 'c': o->core_config = optarg; break;
		case 'C': cli->csv = optarg; break;
		case 'V': cli->svg = optarg; break;
		case 'X': cli->compare = true; break;
		case 'q': o->quiet = true; break;
		case 'h':
			sim_usage(out);
			cli->help = true;
			return 0;
		case ':':
			fprintf(err, "uhoma-sim: %s wants an argument\n",
				argv[optind - 1]);
			return 2;
		default:
			refuse_option(argv[optind - 1], longopts, err);
			sim_usage(err);
			return 2;
		}
	}
	if (bad)
		return 2;
	if (optind < argc) {
		fprintf(err, "uhoma-sim: unexpected argument '%s'\n",
			argv[optind]);
		sim_usage(err);
		return 2;
	}
	if (cli->csv && cli->svg && same_file(cli->csv, cli->svg)) {
		/* One would overwrite the other (helper-41: the CSV lost). */
		fprintf(err, "uhoma-sim: --csv and --svg name one file (%s)\n",
			cli->svg);
		return 2;
	}
	return 0;
}
