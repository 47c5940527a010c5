/*
 * main.c - uhoma-bench's command line.
 *
 *   uhoma-bench server  [options]   serve uhoma, TCP and UDP (until killed)
 *   uhoma-bench client  [options]   generate load, report, CSV, SVG
 *   uhoma-bench compare [options]   UDP floor vs TCP vs uhoma, SUMMARY line
 *   uhoma-bench api     [options]   a Linux Homa program (uhoma-apiload)
 *                                   under the preload, defaults, vs TCP
 *   uhoma-bench workloads           W1-W5 as generated, with check values
 *   uhoma-bench node    [options]   one host of uhoma-cluster: serve, then
 *                                   load --servers from --start-at
 *   uhoma-bench report  [options] LABEL=FILE...   nodes' samples: buckets
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "dist.h"
#include "uhoma/uhoma.h"

uint8_t bench_zeros[BENCH_MAX_LEN + 8];

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double bench_realtime_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct timespec bench_timespec(int64_t ns)
{
	if (ns < 0)
		ns = 0;
	return (struct timespec){ (time_t)(ns / 1000000000),
				  (long)(ns % 1000000000) };
}

void bench_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET((size_t)cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("uhoma-bench: sched_setaffinity");
}

const char *proto_name(enum bench_proto p)
{
	return p == PROTO_HOMA ? "uhoma" : p == PROTO_TCP ? "tcp" : "udp";
}

socklen_t bench_addr(const struct bench_opts *o, uint16_t port,
		     struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, o->server, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		return sizeof(*in);
	}
	if (inet_pton(AF_INET6, o->server, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		return sizeof(*in6);
	}
	fprintf(stderr, "uhoma-bench: bad server address %s\n", o->server);
	return 0;
}

/* The @i'th name of the comma list @list into @out; false past the end. */
static bool list_item(const char *list, unsigned i, char *out, size_t len)
{
	const char *p = list;

	for (; i > 0; i--) {
		p = strchr(p, ',');
		if (!p)
			return false;
		p++;
	}
	snprintf(out, len, "%.*s", (int)strcspn(p, ","), p);
	return true;
}

unsigned bench_nservers(const struct bench_opts *o)
{
	unsigned n = 1;

	if (!o->servers[0])
		return 1;
	for (const char *p = o->servers; *p; p++)
		n += *p == ',';
	return n;
}

socklen_t bench_server_addr(const struct bench_opts *o, unsigned i,
			    uint16_t port, struct sockaddr_storage *ss)
{
	struct bench_opts one;

	if (!o->servers[0])
		return bench_addr(o, port, ss);
	one = *o;
	if (!list_item(o->servers, i, one.server, sizeof(one.server)))
		return 0;
	return bench_addr(&one, port, ss);
}

void bench_opts_default(struct bench_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->proto = PROTO_HOMA;
	strcpy(o->server, "127.0.0.1");
	strcpy(o->workload, "100");
	o->outstanding = 1;
	o->threads = 1;
	o->conns = 1;
	o->server_threads = 1;
	o->seconds = 5;
	o->warmup = 0.5;
	o->poll_us = 50;
	o->cpu = -1;
	o->baseline_us = 15;
	o->link_gbps = 25;
	o->buckets = 10;
	o->progress = isatty(2);
	o->client_ports = 1;
	o->receivers = 1;
	o->server_ports = 1;
	o->port_threads = 1;
	o->hops = 1;
	o->repeat = 1;
}

static void usage(void)
{
	fputs(
"usage: uhoma-bench server|client|compare|api|workloads|node|report [options]\n"
"  --protocol P      homa, tcp or udp (client: a comma list runs each)\n"
"  --server ADDR     server IP address (default 127.0.0.1)\n"
"  --workload W      w1..w5, starve, or a length in bytes (default 100)\n"
"  --gbps G          open loop: Poisson arrivals of G Gbit/s of requests\n"
"  --outstanding N   closed loop: N RPCs in flight per thread (default 1)\n"
"  --threads N       client threads (default 1)\n"
"  --conns N         TCP connections per thread (default 1)\n"
"  --server-threads N  server threads for uhoma (default 1)\n"
"  --seconds S       measured seconds (default 5); --warmup S (0.5)\n"
"  --response N      response length (default: as long as the request)\n"
"  --hol             100-byte RPCs next to a 1 MB stream (lane 1)\n"
"  --zerocopy        uhoma: send requests with UHOMA_ZEROCOPY (no copy)\n"
"  --poll-us N       busy-poll before blocking, every protocol (50)\n"
"  --cpu N           pin this process to CPU N\n"
"  --config K=V,...  uhoma configuration (see uhoma(7))\n"
"  --baseline-us X --link-gbps G   slowdown = rtt / (X + len*8/G)\n"
"  --buckets N       size buckets in reports (default 10)\n"
"  --csv FILE --svg FILE   write the buckets / the slowdown plot\n"
"  --local           client: start a server process on CPU 1 first\n"
"  --quiet           no progress line\n"
"  --repeat N        compare: N rounds; SUMMARY has each ratio's median\n"
"                    and RANGES its least and most (default 1)\n"
"api (uhoma-apiload under libuhoma-preload.so, then over TCP; also\n"
"--workload --outstanding --gbps --seconds --warmup --response --config):\n"
"  --client-ports N  client sockets, one spinning sender thread each (1)\n"
"  --receivers N     receiver threads per client socket (1)\n"
"  --blocking        the sender waits for each response (one in flight)\n"
"  --server-ports N  server sockets (1); --port-threads N threads each (1)\n"
"  --apiload PATH --preload PATH   default: found next to uhoma-bench\n"
"node (one host of uhoma-cluster; also the client's options):\n"
"  --self ADDR       serve here  --servers A,B,..  each RPC to one at random\n"
"  --start-at T      start the clients at CLOCK_REALTIME second T\n"
"  --samples FILE    write every measured RPC as \"len rtt_ns\"\n"
"  --linger S        go on serving S seconds after the run (0)\n"
"  --serve-only      no client: serve for the run's time and the linger\n"
"report LABEL=FILE... (nodes' samples; up to 4 labels):\n"
"  --mtu N           slowdown counts request and response as Homa packets\n"
"                    of N bytes with their headers (0: message bytes)\n"
"  --hops H          with --mtu: store-and-forward links each way (1)\n"
"  --title T         the plot's title; also --baseline-us --link-gbps\n"
"                    --response --buckets --csv --svg\n",
	      stderr);
}

/* A number for --@name: all of @s, finite, in [@lo, @hi], whole if
 * @whole; else a message naming the option and the range, and -1. */
static int num(const char *name, const char *s, double lo, double hi,
	       bool whole, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !(v >= lo && v <= hi) ||
	    (whole && v != (double)(long)v)) {
		fprintf(stderr, "uhoma-bench: --%s '%s': want a %s from %g "
				"to %g\n", name, s,
			whole ? "whole number" : "number", lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_proto(const char *s, enum bench_proto *p)
{
	if (!strcmp(s, "homa") || !strcmp(s, "uhoma"))
		*p = PROTO_HOMA;
	else if (!strcmp(s, "tcp"))
		*p = PROTO_TCP;
	else if (!strcmp(s, "udp"))
		*p = PROTO_UDP;
	else
		return -1;
	return 0;
}

static int start_servers(const struct bench_opts *o)
{
	if (homa_server_start(o) || tcp_server_start(o) || udp_server_start(o))
		return -1;
	return 0;
}

/* Forks a server process pinned to CPU 1; returns its pid once it
 * serves, or -1. */
int bench_spawn_server(const struct bench_opts *o)
{
	int fds[2];
	pid_t pid;
	char ok;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid == 0) {
		struct bench_opts so = *o;

		close(fds[0]);
		so.cpu = o->cpu >= 0 ? 1 - o->cpu : -1;
		bench_pin(so.cpu);
		if (start_servers(&so))
			_exit(1);
		ok = 1;
		(void)!write(fds[1], &ok, 1);
		for (;;)
			pause();
	}
	close(fds[1]);
	if (pid < 0 || read(fds[0], &ok, 1) != 1) {
		close(fds[0]);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		return -1;
	}
	close(fds[0]);
	return pid;
}

void bench_stop_server(int pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static int cmd_client(struct bench_opts *o, const char *protos, bool local)
{
	struct plot_series series[4];
	struct bucket buckets[4][64];
	char list[64], *save = NULL, *tok;
	size_t ns = 0;
	pid_t server = -1;
	int rc = 0;

	if (local) {
		if (o->cpu < 0)
			o->cpu = 0;
		server = bench_spawn_server(o);
		if (server < 0) {
			fprintf(stderr, "uhoma-bench: cannot start a server\n");
			return 1;
		}
	}
	bench_pin(o->cpu);
	snprintf(list, sizeof(list), "%s", protos);
	for (tok = strtok_r(list, ",", &save); tok && ns < 4;
	     tok = strtok_r(NULL, ",", &save)) {
		struct run_result r;
		struct samples *v;
		size_t n;

		if (parse_proto(tok, &o->proto)) {
			fprintf(stderr, "uhoma-bench: unknown protocol %s\n", tok);
			rc = 1;
			break;
		}
		if (run_client(o, &r)) {
			rc = 1;
			break;
		}
		v = o->hol ? &r.hol_small : &r.all;
		printf("%s: %llu RPCs in %.1f s (%.0f/s), %.2f Gbit/s of "
		       "requests, %llu errors, %llu arrivals skipped\n",
		       proto_name(o->proto), (unsigned long long)r.rpcs,
		       r.seconds, (double)r.rpcs / r.seconds,
		       (double)r.bytes * 8 / r.seconds / 1e9,
		       (unsigned long long)r.errors,
		       (unsigned long long)r.skipped);
		n = samples_buckets(v, o, buckets[ns],
				    o->buckets < 64 ? o->buckets : 64);
		report_print(proto_name(o->proto), buckets[ns], n);
		if (o->csv && report_csv(o->csv, proto_name(o->proto),
					 buckets[ns], n, ns > 0))
			rc = 1;         /* said why */
		/* A run that completed no RPC (every one failed, or none
		 * was answered) measured nothing: say so in the exit status,
		 * as node does. */
		if (r.rpcs == 0) {
			fprintf(stderr, "uhoma-bench: %s: no RPC completed "
					"(%llu errors)\n", proto_name(o->proto),
				(unsigned long long)r.errors);
			rc = 1;
		}
		series[ns] = (struct plot_series){ proto_name(o->proto),
						   buckets[ns], n };
		ns++;
		run_result_free(&r);
	}
	if (o->svg && ns && rc == 0) {
		char title[128];

		snprintf(title, sizeof(title),
			 "workload %s, %s, loopback", o->workload,
			 o->gbps > 0 ? "open loop" : "closed loop");
		if (plot_svg(o->svg, title, series, ns))
			rc = 1;
		else
			printf("plot: %s\n", o->svg);
	}
	bench_stop_server(server);
	return rc;
}

static int cmd_workloads(void)
{
	static const char *const names[] = { "w1", "w2", "w3", "w4", "w5" };

	printf("%-4s %7s %12s %14s %16s\n", "name", "points", "mean", "CDF(<=1000)",
	       "sampled mean");
	for (int i = 0; i < 5; i++) {
		struct uh_dist d;
		uint64_t rng = 1;
		double sum = 0;

		if (uh_dist_create(names[i], BENCH_MAX_LEN, &d))
			return 1;
		for (int k = 0; k < 1000000; k++)
			sum += uh_dist_sample(&d, &rng);
		printf("%-4s %7zu %12.1f %14.3f %16.1f\n", names[i], d.n,
		       d.mean, uh_dist_cdf(&d, 1000), sum / 1000000);
		uh_dist_destroy(&d);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "protocol", 1, 0, 'p' }, { "server", 1, 0, 's' },
		{ "workload", 1, 0, 'w' }, { "gbps", 1, 0, 'g' },
		{ "outstanding", 1, 0, 'o' }, { "threads", 1, 0, 't' },
		{ "conns", 1, 0, 'c' }, { "server-threads", 1, 0, 'S' },
		{ "seconds", 1, 0, 'd' }, { "warmup", 1, 0, 'W' },
		{ "response", 1, 0, 'r' }, { "hol", 0, 0, 'H' },
		{ "poll-us", 1, 0, 'P' }, { "cpu", 1, 0, 'C' },
		{ "config", 1, 0, 'k' }, { "baseline-us", 1, 0, 'b' },
		{ "link-gbps", 1, 0, 'l' }, { "buckets", 1, 0, 'B' },
		{ "csv", 1, 0, 'v' }, { "svg", 1, 0, 'G' },
		{ "local", 0, 0, 'L' }, { "quiet", 0, 0, 'q' },
		{ "help", 0, 0, 'h' }, { "blocking", 0, 0, 'x' },
		{ "client-ports", 1, 0, 'X' }, { "receivers", 1, 0, 'R' },
		{ "server-ports", 1, 0, 'y' }, { "port-threads", 1, 0, 'Y' },
		{ "apiload", 1, 0, 'a' }, { "preload", 1, 0, 'A' },
		{ "servers", 1, 0, 'N' }, { "self", 1, 0, 'F' },
		{ "start-at", 1, 0, 'T' }, { "linger", 1, 0, 'I' },
		{ "samples", 1, 0, 'M' }, { "mtu", 1, 0, 'U' },
		{ "title", 1, 0, 'E' }, { "hops", 1, 0, 'u' }, { "serve-only", 0, 0, 'O' },
		{ "zerocopy", 0, 0, 'Z' }, { "repeat", 1, 0, 'e' },
		{ 0, 0, 0, 0 },
	};
	struct bench_opts o;
	const char *cmd, *protos = "homa";
	char *end;
	bool local = false;
	int c;

	bench_opts_default(&o);
	if (argc < 2) {
		usage();
		return 2;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage();
		return 0;
	}
	optind = 2;
	/* Each number whole and in range, or exit 2 naming the option. */
#define NUM(name, lo, hi, whole, field)                                       \
	do {                                                                  \
		double v_;                                                    \
		if (num(name, optarg, lo, hi, whole, &v_))                    \
			return 2;                                             \
		field = (__typeof__(field))v_;                                \
	} while (0)
#define D(name, lo, hi, field) NUM(name, lo, hi, false, field)
#define U(name, lo, hi, field) NUM(name, lo, hi, true, field)
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': protos = optarg; break;
		case 's': snprintf(o.server, sizeof(o.server), "%s", optarg); break;
		case 'w': snprintf(o.workload, sizeof(o.workload), "%s", optarg); break;
		case 'g': D("gbps", 0, 10000, o.gbps); break;
		case 'o': U("outstanding", 1, BENCH_MAX_SLOTS / 2, o.outstanding); break;
		case 't': U("threads", 1, 64, o.threads); break;
		case 'c': U("conns", 1, 1024, o.conns); break;
		case 'S': U("server-threads", 1, 64, o.server_threads); break;
		case 'd': D("seconds", 0.001, 86400, o.seconds); break;
		case 'W': D("warmup", 0, 3600, o.warmup); break;
		case 'r': U("response", 0, 1000000, o.resp_len); break;
		case 'H': o.hol = true; break;
		case 'Z': o.zerocopy = true; break;
		case 'e': U("repeat", 1, BENCH_MAX_REPEAT, o.repeat); break;
		case 'P': U("poll-us", 0, 1000000, o.poll_us); break;
		case 'C': U("cpu", -1, 4095, o.cpu); break;
		case 'k': snprintf(o.config, sizeof(o.config), "%s", optarg); break;
		case 'b': D("baseline-us", 0, 1e6, o.baseline_us); break;
		case 'l': D("link-gbps", 0.001, 1e5, o.link_gbps); break;
		case 'B': U("buckets", 1, 64, o.buckets); break;
		case 'v': o.csv = optarg; break;
		case 'G': o.svg = optarg; break;
		case 'L': local = true; break;
		case 'q': o.progress = false; break;
		case 'x': o.blocking = true; break;
		case 'X': U("client-ports", 1, 64, o.client_ports); break;
		case 'R': U("receivers", 1, 64, o.receivers); break;
		case 'y': U("server-ports", 1, 16, o.server_ports); break;
		case 'Y': U("port-threads", 1, 64, o.port_threads); break;
		case 'a': snprintf(o.apiload, sizeof(o.apiload), "%s", optarg); break;
		case 'A': snprintf(o.preload, sizeof(o.preload), "%s", optarg); break;
		case 'N':
			if (!*optarg || strlen(optarg) >= sizeof(o.servers)) {
				fprintf(stderr, "uhoma-bench: --servers: "
					"1 to %zu characters\n",
					sizeof(o.servers) - 1);
				return 2;
			}
			snprintf(o.servers, sizeof(o.servers), "%s", optarg);
			break;
		case 'F': snprintf(o.self, sizeof(o.self), "%s", optarg); break;
		case 'T':
			o.start_at = strtod(optarg, &end);
			if (end == optarg || *end || !(o.start_at > 0)) {
				fprintf(stderr, "uhoma-bench: --start-at '%s': "
					"a CLOCK_REALTIME second\n", optarg);
				return 2;
			}
			break;
		case 'I': D("linger", 0, 3600, o.linger); break;
		case 'M': o.samples = optarg; break;
		case 'U': U("mtu", 0, 65536, o.mtu); break;
		case 'O': o.serve_only = true; break;
		case 'u': U("hops", 1, 8, o.hops); break;
		case 'E': snprintf(o.title, sizeof(o.title), "%s", optarg); break;
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
#undef D
#undef U
#undef NUM
	if (o.threads < 1 || o.threads > 64 || o.outstanding < 1 ||
	    o.outstanding > BENCH_MAX_SLOTS / 2 || o.seconds <= 0 ||
	    o.server_threads < 1 || o.buckets < 1 || o.link_gbps <= 0 ||
	    o.client_ports < 1 || o.client_ports > 64 || o.receivers < 1 ||
	    o.receivers > 64 || o.server_ports < 1 || o.server_ports > 16 ||
	    o.port_threads < 1 || o.port_threads > 64 ||
	    bench_nservers(&o) > BENCH_MAX_SERVERS || o.linger < 0 ||
	    o.linger > 3600 || (o.mtu && (o.mtu < 576 || o.mtu > 65536)) ||
	    o.hops < 1 || o.hops > 8 || o.baseline_us < 0 || o.repeat < 1 ||
	    o.repeat > BENCH_MAX_REPEAT) {
		fprintf(stderr, "uhoma-bench: option out of range\n");
		return 2;
	}
	if (!strcmp(cmd, "server")) {
		bench_pin(o.cpu);
		if (start_servers(&o))
			return 1;
		printf("serving uhoma :%d, tcp :%d, udp :%d on %s\n",
		       BENCH_HOMA_PORT, BENCH_TCP_PORT, BENCH_UDP_PORT, o.server);
		fflush(stdout);
		for (;;)
			pause();
	}
	if (!strcmp(cmd, "client"))
		return cmd_client(&o, protos, local);
	if (!strcmp(cmd, "compare"))
		return run_compare(&o, argc, argv);
	if (!strcmp(cmd, "api"))
		return run_api(&o);
	if (!strcmp(cmd, "workloads"))
		return cmd_workloads();
	if (!strcmp(cmd, "node")) {
		if (parse_proto(protos, &o.proto)) {
			fprintf(stderr, "uhoma-bench: node runs one protocol: "
				"homa, tcp or udp\n");
			return 2;
		}
		return run_node(&o);
	}
	if (!strcmp(cmd, "report"))
		return report_run(&o, argc - optind, argv + optind);
	usage();
	return 2;
}
