/*
 * node.c - `uhoma-bench node`: one host of a cluster (uhoma-cluster(1)).
 * The process serves the protocol under test at its own address (--self),
 * waits for the cluster's common start (--start-at, a CLOCK_REALTIME
 * second every host was given), then runs the usual client (driver.c)
 * against its peers (--servers: each RPC to one at random), writes each
 * measured RPC to --samples, and goes on serving --linger seconds so that
 * the peers' last RPCs are answered. With --serve-only it only serves
 * (for the run's length and the linger): an incast's receiver. Servers and clients share one uhoma
 * stack, as one process of a real host would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bench.h"

static void sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* uhoma's counters once the peers are done, for the cluster's report
 * (resends, timeouts, drops by reason). */
static void print_counters(const struct bench_opts *o)
{
	if (o->proto == PROTO_HOMA) {
		printf("metrics:\n");
		homa_print_metrics(stdout);
	}
}

int run_node(const struct bench_opts *o)
{
	struct bench_opts so = *o;
	struct run_result r;
	int rc;

	if (o->self[0])
		snprintf(so.server, sizeof(so.server), "%s", o->self);
	rc = o->proto == PROTO_HOMA ? homa_server_start(&so)
	     : o->proto == PROTO_TCP ? tcp_server_start(&so)
				     : udp_server_start(&so);
	if (rc) {
		fprintf(stderr, "uhoma-bench node %s: cannot serve %s\n",
			so.server, proto_name(o->proto));
		return 1;
	}
	if (o->start_at > 0) {
		double wait = o->start_at - bench_realtime_s();

		if (wait > 60 || wait < -10) {
			fprintf(stderr, "uhoma-bench node: --start-at is "
				"%.0f s %s (the hosts' clocks, or the time, "
				"are not the cluster's)\n", wait < 0 ? -wait
								      : wait,
				wait < 0 ? "past" : "away");
			return 2;
		}
		/* Half a second to open the clients (TCP connects to every
		 * server, whose listeners are up by then) before the start
		 * that run_client waits for. */
		sleep_s(o->serve_only ? wait : wait - 0.5);
	}
	if (o->serve_only) {
		/* The incast's receiver: it only answers. */
		sleep_s(o->warmup + o->seconds + o->linger);
		print_counters(o);
		return 0;
	}
	if (run_client(&so, &r))
		return 1;
	/* --hol's 100-byte RPCs go in with the stream's (by length). */
	for (size_t i = 0; i < r.hol_small.n; i++)
		samples_add(&r.all, r.hol_small.s[i].len,
			    r.hol_small.s[i].rtt_ns);
	if (o->samples && samples_write(o->samples, &r.all)) {
		run_result_free(&r);
		return 1;
	}
	printf("node %s %s: %llu RPCs in %.1f s, %.3f Gbit/s of requests, "
	       "%llu errors%s%s%s, %llu arrivals skipped\n", so.server,
	       proto_name(o->proto), (unsigned long long)r.rpcs, r.seconds,
	       (double)r.bytes * 8 / r.seconds / 1e9,
	       (unsigned long long)r.errors, r.last_error ? " (last: " : "",
	       r.last_error ? strerror(-r.last_error) : "",
	       r.last_error ? ")" : "", (unsigned long long)r.skipped);
	fflush(stdout);
	/* A host whose every RPC failed (its link down, its peers gone)
	 * has no result: the cluster's run must not report one. */
	rc = r.rpcs == 0 ? 1 : 0;
	if (rc)
		fprintf(stderr, "uhoma-bench node %s: no RPC completed\n",
			so.server);
	run_result_free(&r);
	sleep_s(o->linger);
	print_counters(o);
	return rc;
}
