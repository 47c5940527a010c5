/*
 * compare.c - `uhoma-bench compare`: one server process (CPU 1) and one
 * client process (CPU 0), the same request/response protocol and the same
 * busy-poll-then-block waiting for every transport, run back to back:
 *
 *   rtt   one 100-byte RPC at a time: UDP ping-pong (the floor), TCP, uhoma
 *   rps   100-byte RPCs, 16 in flight, one client and one server thread
 *         (TCP pipelines them on one connection)
 *   bulk  1,000,000-byte requests (100-byte responses), 4 in flight;
 *         uhoma also with UHOMA_ZEROCOPY (sent from the caller's memory)
 *   hol   one 100-byte RPC at a time while 2 x 1 MB requests stream
 *         between the same two processes: TCP on the same connection and
 *         on separate connections, uhoma on one socket
 *
 * then, as users run Linux Homa programs (api.c: uhoma-apiload through
 * libuhoma-preload.so with the default settings, against the same program
 * over TCP; unpinned, the usual threads):
 *   api rtt     100 B, one in flight, the sender blocking in recvmsg
 *   api rtt2    100 B, one in flight, a spinning sender thread and a
 *               receiver thread blocked in recvmsg
 *   api w4      W4, 8 in flight, sender + receiver threads, one server
 *               thread
 *
 * The last line is machine-readable:
 *   SUMMARY rtt_p50_vs_udp=.. rtt_p50_vs_tcp=.. rps_vs_tcp=.. bulk_vs_tcp=..
 *           bulk_zerocopy_vs_tcp=.. hol_p99_tcp_over_homa=..
 *           api_rtt_vs_tcp=.. api_w4_rps_vs_tcp=.. api_w4_short_p99_vs_tcp=..
 *
 * With --repeat N the whole set runs N times (each ratio from its own
 * round: TCP and uhoma a few seconds apart) and SUMMARY gives each
 * ratio's median over the rounds, a RANGES line before it the least and
 * the most. One loopback run's ratio moves by half between runs a minute
 * apart on a small shared machine (bench/README.md); a median of rounds
 * is what holds up when it is rerun.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct measure {
	double p50, p99, rps, gbps;
	unsigned long long errors;
	int ok;
};

static struct measure run(const struct bench_opts *base, enum bench_proto p,
			  const char *workload, unsigned outstanding,
			  unsigned conns, uint32_t resp, bool hol)
{
	struct bench_opts o = *base;
	struct run_result r;
	struct measure m = { 0 };
	struct samples *v;

	o.proto = p;
	snprintf(o.workload, sizeof(o.workload), "%s", workload);
	o.outstanding = outstanding;
	o.conns = conns;
	o.resp_len = resp;
	o.hol = hol;
	o.threads = 1;
	o.gbps = 0;
	if (run_client(&o, &r) != 0)
		return m;
	v = hol ? &r.hol_small : &r.all;
	m.ok = v->n > 0;
	m.p50 = samples_pct_us(v, 50);
	m.p99 = samples_pct_us(v, 99);
	m.rps = (double)r.rpcs / r.seconds;
	m.gbps = (double)r.bytes * 8 / r.seconds / 1e9;
	m.errors = r.errors;
	run_result_free(&r);
	return m;
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

/* The SUMMARY's ratios, in its order. */
enum { R_RTT_UDP, R_RTT_TCP, R_RPS, R_BULK, R_BULK_ZC, R_HOL, R_API_RTT,
       R_API_W4_RPS, R_API_W4_P99, R_COUNT };

static const char *const ratio_name[R_COUNT] = {
	"rtt_p50_vs_udp", "rtt_p50_vs_tcp", "rps_vs_tcp", "bulk_vs_tcp",
	"bulk_zerocopy_vs_tcp", "hol_p99_tcp_over_homa", "api_rtt_vs_tcp",
	"api_w4_rps_vs_tcp", "api_w4_short_p99_vs_tcp",
};

/* One round: every row, its table on stdout, its ratios into @ratios.
 * Returns whether every uhoma row measured something. */
static bool one_round(const struct bench_opts *base, double *ratios)
{
	struct bench_opts o = *base;
	struct measure rtt[3], rps[2], bulk[3], hol[3];
	struct api_result api[3][2];
	struct api_shape sh = { .outstanding = 1, .client_ports = 1,
				.receivers = 1, .server_ports = 1,
				.port_threads = 1, .workload = "100" };
	int server, api_ok = 0;

	server = bench_spawn_server(&o);
	if (server < 0) {
		fprintf(stderr, "uhoma-bench: cannot start the server\n");
		return false;
	}
	rtt[0] = run(&o, PROTO_UDP, "100", 1, 1, 0, false);
	rtt[1] = run(&o, PROTO_TCP, "100", 1, 1, 0, false);
	rtt[2] = run(&o, PROTO_HOMA, "100", 1, 1, 0, false);
	rps[0] = run(&o, PROTO_TCP, "100", 16, 1, 0, false);
	rps[1] = run(&o, PROTO_HOMA, "100", 16, 1, 0, false);
	bulk[0] = run(&o, PROTO_TCP, "1000000", 4, 1, 100, false);
	bulk[1] = run(&o, PROTO_HOMA, "1000000", 4, 1, 100, false);
	o.zerocopy = true;
	bulk[2] = run(&o, PROTO_HOMA, "1000000", 4, 1, 100, false);
	o.zerocopy = false;
	hol[0] = run(&o, PROTO_TCP, "100", 2, 1, 0, true);
	hol[1] = run(&o, PROTO_TCP, "100", 2, 2, 0, true);
	hol[2] = run(&o, PROTO_HOMA, "100", 2, 1, 0, true);
	bench_stop_server(server);
	/* The Linux-API rows: the defaults, as users run them. */
	o.resp_len = 0;
	sh.blocking = true;
	api_ok += !api_run(&o, true, &sh, &api[0][0]);
	api_ok += !api_run(&o, false, &sh, &api[0][1]);
	sh.blocking = false;
	api_ok += !api_run(&o, true, &sh, &api[1][0]);
	api_ok += !api_run(&o, false, &sh, &api[1][1]);
	sh.outstanding = 8;
	snprintf(sh.workload, sizeof(sh.workload), "w4");
	api_ok += !api_run(&o, true, &sh, &api[2][0]);
	api_ok += !api_run(&o, false, &sh, &api[2][1]);

	printf("%-34s %12s %12s %12s\n", "", "UDP floor", "TCP", "uhoma");
	printf("%-34s %12.1f %12.1f %12.1f\n", "100 B RTT p50 (us)", rtt[0].p50,
	       rtt[1].p50, rtt[2].p50);
	printf("%-34s %12.1f %12.1f %12.1f\n", "100 B RTT p99 (us)", rtt[0].p99,
	       rtt[1].p99, rtt[2].p99);
	printf("%-34s %12s %12.0f %12.0f\n", "100 B RPC/s, 16 in flight", "-",
	       rps[0].rps, rps[1].rps);
	printf("%-34s %12s %12.2f %12.2f\n", "1 MB messages, Gbit/s", "-",
	       bulk[0].gbps, bulk[1].gbps);
	printf("%-34s %12s %12s %12.2f\n", "  ... UHOMA_ZEROCOPY", "-", "-",
	       bulk[2].gbps);
	printf("%-34s %12s %12.1f %12.1f\n", "100 B p99 next to 1 MB stream (us)",
	       "-", hol[0].p99, hol[2].p99);
	printf("%-34s %12s %12.1f %12s\n", "  ... TCP on separate connections",
	       "-", hol[1].p99, "-");
	printf("%-34s %12s %12.1f %12.1f\n", "  ... p50 (us)", "-", hol[0].p50,
	       hol[2].p50);
	printf("Linux API through the preload, default settings, unpinned:\n");
	printf("%-34s %12s %12.1f %12.1f\n", "100 B RTT p50, blocking (us)", "-",
	       api[0][1].p50, api[0][0].p50);
	printf("%-34s %12s %12.1f %12.1f\n", "100 B RTT p50, 2 threads (us)",
	       "-", api[1][1].p50, api[1][0].p50);
	printf("%-34s %12s %12.0f %12.0f\n", "W4, 8 in flight: RPC/s", "-",
	       api[2][1].rps, api[2][0].rps);
	printf("%-34s %12s %12.1f %12.1f\n", "  ... < 1000 B p50 (us)", "-",
	       api[2][1].short_p50, api[2][0].short_p50);
	printf("%-34s %12s %12.1f %12.1f\n", "  ... < 1000 B p99 (us)", "-",
	       api[2][1].short_p99, api[2][0].short_p99);
	if (rtt[2].errors + rps[1].errors + bulk[1].errors + bulk[2].errors +
	    hol[2].errors)
		printf("uhoma RPC errors: %llu\n",
		       rtt[2].errors + rps[1].errors + bulk[1].errors +
			       bulk[2].errors + hol[2].errors);
	ratios[R_RTT_UDP] = ratio(rtt[2].p50, rtt[0].p50);
	ratios[R_RTT_TCP] = ratio(rtt[2].p50, rtt[1].p50);
	ratios[R_RPS] = ratio(rps[1].rps, rps[0].rps);
	ratios[R_BULK] = ratio(bulk[1].gbps, bulk[0].gbps);
	ratios[R_BULK_ZC] = ratio(bulk[2].gbps, bulk[0].gbps);
	ratios[R_HOL] = ratio(hol[0].p99, hol[2].p99);
	ratios[R_API_RTT] = ratio(api[0][0].p50, api[0][1].p50);
	ratios[R_API_W4_RPS] = ratio(api[2][0].rps, api[2][1].rps);
	ratios[R_API_W4_P99] = ratio(api[2][0].short_p99, api[2][1].short_p99);
	return rtt[2].ok && rps[1].ok && bulk[1].ok && bulk[2].ok &&
	       hol[2].ok && api_ok == 6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of @n values (sorted in place); the mean of the middle two
 * for an even @n. */
static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int run_compare(const struct bench_opts *base, int argc, char **argv)
{
	struct bench_opts o = *base;
	double (*r)[R_COUNT], v[BENCH_MAX_REPEAT], mid[R_COUNT];
	bool ok = true;

	(void)argc;
	(void)argv;
	if (o.cpu < 0)
		o.cpu = 0;
	o.progress = false;
	r = calloc(o.repeat, sizeof(*r));
	if (!r) {
		fprintf(stderr, "uhoma-bench: out of memory\n");
		return 1;
	}
	bench_pin(o.cpu);
	fprintf(stderr, "compare: %.1f s per run after %.1f s warm-up, "
			"client CPU %d, server CPU %d, %u round%s\n",
		o.seconds, o.warmup, o.cpu, 1 - o.cpu, o.repeat,
		o.repeat == 1 ? "" : "s");
	for (unsigned k = 0; k < o.repeat; k++) {
		if (o.repeat > 1)
			printf("round %u of %u:\n", k + 1, o.repeat);
		/* A round that failed still counts: its ratios say 0 where
		 * uhoma measured nothing, and the exit status says so. */
		ok &= one_round(&o, r[k]);
		fflush(stdout);
	}
	for (unsigned i = 0; i < R_COUNT; i++) {
		for (unsigned k = 0; k < o.repeat; k++)
			v[k] = r[k][i];
		mid[i] = median(v, o.repeat);
		if (o.repeat > 1)
			printf("%s%s=%.2f-%.2f", i ? " " : "RANGES ",
			       ratio_name[i], v[0], v[o.repeat - 1]);
	}
	if (o.repeat > 1)
		printf("\n");
	printf("SUMMARY");
	for (unsigned i = 0; i < R_COUNT; i++)
		printf(i == R_HOL ? " %s=%.1f" : " %s=%.2f", ratio_name[i],
		       mid[i]);
	printf("\n");
	free(r);
	return ok ? 0 : 1;
}
