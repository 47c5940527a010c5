/*
 * soak_guarantees.c - the guarantees of uhoma(7) over minutes, not seconds
 * (make soak): a client and a server on a virtual-clock memnet with loss,
 * duplication, reordering and duplicates delayed past many round trips,
 * thousands of requests in flight, and a flood of forged first packets
 * from thousands of addresses. Every request carries its number; the
 * server counts executions.
 *
 * Prints a line every 10 seconds of wall time (RPCs, re-executions,
 * errors, resident memory less this program's own per-request counters,
 * peers, at-most-once records, RPCs alive) and exits non-zero if a request
 * ran twice, an RPC failed, or that memory grew after the first fifth of
 * the run by more than a quarter.
 *
 *   soak_guarantees [seconds (300)] [in flight (2000)]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nettest.h"

#define REQ_LEN 200
#define MAX_REQS (64u << 20)

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A forged first DATA packet claiming a 1 MB request, from 10.2.x.y. */
static void forge(struct uhoma_stack *st, unsigned n)
{
	char text[32];

	snprintf(text, sizeof(text), "10.2.%u.%u", (n / 250) % 250,
		 n % 250 + 1);
	nt_forge_request(st, text, 999, 2 + 2ull * n, 1000000);
}

int main(int argc, char **argv)
{
	const struct uhoma_memnet_faults f = {
		.loss_ppm = 10000, .dup_ppm = 50000, .reorder_ppm = 50000,
		.delay_ns = 5000, .max_delay_ns = 300000000,
	};
	double seconds = argc > 1 ? atof(argv[1]) : 300;
	unsigned window = argc > 2 ? (unsigned)atoi(argv[2]) : 2000;
	uint8_t *seen = calloc(MAX_REQS, 1);  /* executions per request */
	uint8_t buf[REQ_LEN];
	struct nt_pair p;
	struct sockaddr_storage to;
	size_t to_len;
	uint64_t sent = 0, done = 0, failed = 0, reexec = 0, forged = 0;
	unsigned in_flight = 0;
	double start = wall(), next_report = start + 10;
	long rss_base = 0, rss_max = 0;
	int rc = 0;

	if (!seen)
		return 2;
	nt_pair_open(&p, 71, 1, 1500, 256u << 20, 256u << 20);
	uhoma_memnet_set_faults(p.net, &f);
	uhoma_set_sndbuf(p.cli, 0);
	nt_addr(1, 80, &to, &to_len);
	printf("soak: %.0f s, %u in flight; loss 1%%, dup 5%%, reorder 5%% "
	       "up to 300 ms; 200 forged 1 MB claims per virtual second\n",
	       seconds, window);
	for (;;) {
		struct uhoma_msg m;
		double now = wall();
		int r;

		while (in_flight < window && sent < MAX_REQS) {
			uint64_t id, n = sent;

			memset(buf, 0x33, sizeof(buf));
			memcpy(buf, &n, sizeof(n));
			if (uhoma_send(p.cli, (struct sockaddr *)&to, to_len,
				       buf, sizeof(buf), n, 0, &id) != UHOMA_OK)
				break;
			sent++;
			in_flight++;
		}
		while ((r = nt_recv_nb(p.srv, &m)) > 0) {
			uint64_t n;

			uhoma_msg_copy(p.srv, &m, 0, buf, REQ_LEN);
			uhoma_msg_release(p.srv, &m);
			memcpy(&n, buf, sizeof(n));
			if (n < MAX_REQS && seen[n]++)
				reexec++;
			uhoma_reply(p.srv, (struct sockaddr *)&m.peer,
				    m.peer_len, m.id, buf, REQ_LEN);
		}
		while ((r = nt_recv_nb(p.cli, &m)) != UHOMA_ERR_AGAIN) {
			in_flight--;
			if (r < 0) {
				failed++;
				continue;
			}
			uhoma_msg_release(p.cli, &m);
			done++;
		}
		/* 1 ms of virtual time, with a forged claim every 5 ms. */
		uhoma_memnet_run(p.net, 1000 * 1000);
		if (uhoma_memnet_now(p.net) / 5000000 > forged)
			forge(p.a, (unsigned)forged++);
		if (now >= next_report || now - start >= seconds) {
			struct uhoma_metrics ms;
			/* Less the counters touched so far (a byte each). */
			long rss = rss_kb() - (long)(sent / 1024);

			uhoma_metrics(p.a, &ms);
			if (now - start >= seconds / 5 && !rss_base)
				rss_base = rss;
			if (rss_base && rss > rss_max)
				rss_max = rss;
			printf("  %5.0f s  %9llu RPCs  re-executed %llu  failed "
			       "%llu  RSS %ld KB  peers %llu  records %llu  "
			       "server RPCs %lld  forged %llu\n",
			       now - start, (unsigned long long)done,
			       (unsigned long long)reexec,
			       (unsigned long long)failed, rss,
			       (unsigned long long)ms.peers,
			       (unsigned long long)ms.dedup_records,
			       (long long)(ms.rpcs[UHOMA_RPCS_SERVER_INCOMING] +
					   ms.rpcs[UHOMA_RPCS_SERVER_IN_SERVICE] +
					   ms.rpcs[UHOMA_RPCS_SERVER_OUTGOING]),
			       (unsigned long long)forged);
			fflush(stdout);
			next_report = now + 10;
			if (now - start >= seconds)
				break;
		}
	}
	if (reexec || failed) {
		printf("FAIL: %llu re-executed, %llu failed\n",
		       (unsigned long long)reexec, (unsigned long long)failed);
		rc = 1;
	}
	if (rss_base && rss_max > rss_base + rss_base / 4) {
		printf("FAIL: RSS grew from %ld to %ld KB\n", rss_base, rss_max);
		rc = 1;
	}
	if (!rc)
		printf("soak: passed: %llu RPCs, 0 re-executed, 0 failed, RSS "
		       "%ld..%ld KB after the first fifth\n",
		       (unsigned long long)done, rss_base, rss_max);
	nt_pair_close(&p);
	free(seen);
	return rc;
}
