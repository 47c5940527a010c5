/*
 * driver.c - load generation. Each client thread owns one transport
 * client and keeps its RPCs in a slot table (the slot index is the tag):
 *   closed loop: `outstanding` RPCs always in flight;
 *   open loop:   Poisson arrivals at gbps / (mean length x threads) per
 *                second; an arrival with no free slot is counted as
 *                skipped, never queued (queueing would hide latency);
 *   --hol:       lane 1 keeps `outstanding` 1,000,000-byte requests in
 *                flight while lane 0 runs one 100-byte RPC at a time
 *                (with --gbps: 100-byte RPCs at Poisson arrivals of that
 *                many Gbit/s, whatever is in flight).
 * RPCs completing after the warm-up and before the end are recorded. The
 * clock starts once every thread has opened its client (opening maps and
 * populates a buffer region: tens of milliseconds that would otherwise
 * start the run with a burst of overdue arrivals), and a thread catching
 * up on arrivals takes the responses that are ready between sends, as an
 * application would.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "dist.h"

struct slot {
	uint64_t t0;
	uint32_t len;
	uint8_t lane;
	bool used;
};

struct worker {
	const struct bench_opts *o;
	const struct uh_dist *dist;
	unsigned idx;
	pthread_barrier_t *ready;   /* with run_client: every client is
				     * open; then: the clock is set */
	uint64_t start, measure_from, end;
	struct run_result r;
	_Atomic uint64_t done;      /* progress: RPCs completed */
	int error;
};

static struct xclient *open_client(const struct bench_opts *o)
{
	switch (o->proto) {
	case PROTO_HOMA:
		return homa_client_open(o);
	case PROTO_TCP:
		return tcp_client_open(o);
	default:
		return udp_client_open(o);
	}
}

static int start_rpc(struct worker *w, struct xclient *c, struct slot *slots,
		     uint32_t *free_list, unsigned *nfree, uint32_t len,
		     unsigned lane)
{
	uint32_t tag;
	uint32_t resp = w->o->resp_len ? w->o->resp_len : len;
	int rc;

	if (*nfree == 0) {
		w->r.skipped++;
		return 0;
	}
	tag = free_list[--*nfree];
	if (lane == 1 || (w->o->hol && lane == 0))
		resp = 100;
	slots[tag] = (struct slot){ bench_now_ns(), len, (uint8_t)lane, true };
	rc = c->ops->send(c, len, resp, tag, lane);
	if (rc) {
		slots[tag].used = false;
		free_list[(*nfree)++] = tag;
		w->r.errors++;
		w->r.last_error = rc;
	}
	return rc;
}

/* Records the completion of RPC @tag (@rc < 0: its error); false if @tag
 * is not an RPC in flight. */
static bool finish_rpc(struct worker *w, struct slot *slots,
		       uint32_t *free_list, unsigned *nfree, uint32_t tag,
		       int rc)
{
	const struct bench_opts *o = w->o;
	uint64_t now;

	if (tag >= BENCH_MAX_SLOTS || !slots[tag].used) {
		w->r.errors++;
		return false;
	}
	now = bench_now_ns();
	slots[tag].used = false;
	free_list[(*nfree)++] = tag;
	if (rc < 0) {
		w->r.errors++;
		w->r.last_error = rc;
	} else if (now >= w->measure_from) {
		struct samples *v = o->hol && slots[tag].lane == 0
					    ? &w->r.hol_small
					    : &w->r.all;

		samples_add(v, slots[tag].len, now - slots[tag].t0);
		w->r.rpcs++;
		w->r.bytes += slots[tag].len;
	}
	atomic_fetch_add_explicit(&w->done, 1, memory_order_relaxed);
	return true;
}

/* Records every response already waiting (between the sends of a burst,
 * as an application catching up would take them). */
static void take_ready(struct worker *w, struct xclient *c, struct slot *slots,
		       uint32_t *free_list, unsigned *nfree)
{
	uint32_t tag;
	int rc;

	while ((rc = c->ops->wait(c, &tag, 0)) != 0)
		finish_rpc(w, slots, free_list, nfree, tag, rc);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct bench_opts *o = w->o;
	struct xclient *c = open_client(o);
	struct slot *slots = calloc(BENCH_MAX_SLOTS, sizeof(*slots));
	uint32_t *free_list = malloc(BENCH_MAX_SLOTS * sizeof(uint32_t));
	unsigned nfree = 0, in_small = 0;
	uint64_t rng = 0x9E3779B97F4A7C15ull * (w->idx + 1), next_arrival;
	double rate = 0;     /* arrivals per ns */

	pthread_barrier_wait(w->ready);   /* run_client sets the clock */
	pthread_barrier_wait(w->ready);
	if (!c || !slots || !free_list) {
		w->error = -1;
		goto out;
	}
	for (unsigned i = BENCH_MAX_SLOTS; i-- > 0;)
		free_list[nfree++] = i;
	if (o->gbps > 0)
		rate = o->gbps * 1e9 / 8 /
		       (o->hol ? 100.0 : w->dist->mean) / o->threads / 1e9;
	next_arrival = w->start;
	if (o->hol) {
		for (unsigned i = 0; i < o->outstanding; i++)
			start_rpc(w, c, slots, free_list, &nfree, BENCH_MAX_LEN,
				  1);
	}
	for (;;) {
		uint64_t now = bench_now_ns();
		int64_t timeout = 20 * 1000 * 1000;
		uint32_t tag;
		int rc;

		if (now >= w->end)
			break;
		if (o->hol && rate == 0 && in_small == 0) {
			start_rpc(w, c, slots, free_list, &nfree, 100, 0);
			in_small = 1;
		}
		/* Closed loop: refill to `outstanding` in flight, taking
		 * what is ready between sends (the first fill is long). */
		while (rate == 0 && !o->hol && now < w->end &&
		       BENCH_MAX_SLOTS - nfree < o->outstanding) {
			if (start_rpc(w, c, slots, free_list, &nfree,
				      uh_dist_sample(w->dist, &rng), 0))
				break;   /* counted; retried next round */
			take_ready(w, c, slots, free_list, &nfree);
			now = bench_now_ns();
		}
		if (rate > 0) {
			/* A transport that cannot keep up falls behind the
			 * arrivals: the run still ends on time (a blocking
			 * send re-reads the clock). */
			while (now >= next_arrival && now < w->end) {
				start_rpc(w, c, slots, free_list, &nfree,
					  o->hol ? 100
						 : uh_dist_sample(w->dist, &rng),
					  0);
				next_arrival += (uint64_t)(
					-log(1.0 - uh_dist_uniform(&rng)) / rate);
				take_ready(w, c, slots, free_list, &nfree);
				now = bench_now_ns();
			}
			if (now >= w->end)
				break;
			timeout = (int64_t)(next_arrival - now);
		}
		rc = c->ops->wait(c, &tag, timeout);
		if (rc == 0)
			continue;
		if (!finish_rpc(w, slots, free_list, &nfree, tag, rc))
			continue;
		if (o->hol) {
			if (slots[tag].lane == 0)
				in_small = 0;
			else
				start_rpc(w, c, slots, free_list, &nfree,
					  BENCH_MAX_LEN, 1);
		}
	}
out:
	if (c)
		c->ops->close(c);
	free(slots);
	free(free_list);
	return NULL;
}

int run_client(const struct bench_opts *o, struct run_result *r)
{
	struct uh_dist dist;
	struct worker *w = calloc(o->threads, sizeof(*w));
	pthread_t *t = calloc(o->threads, sizeof(*t));
	pthread_barrier_t ready;
	uint64_t start, base, next_report;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	if (!w || !t || uh_dist_create(o->workload, BENCH_MAX_LEN, &dist)) {
		fprintf(stderr, "uhoma-bench: unknown workload %s\n",
			o->workload);
		free(w);
		free(t);
		return -1;
	}
	if (o->proto == PROTO_HOMA && homa_client_init(o)) {
		uh_dist_destroy(&dist);
		free(w);
		free(t);
		return -1;
	}
	pthread_barrier_init(&ready, NULL, o->threads + 1);
	for (unsigned i = 0; i < o->threads; i++) {
		w[i].o = o;
		w[i].dist = &dist;
		w[i].idx = i;
		w[i].ready = &ready;
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	pthread_barrier_wait(&ready);      /* every client is open */
	start = bench_now_ns();
	base = start;
	if (o->start_at > 0) {
		/* A cluster's node opened its clients (TCP's connections)
		 * ahead of the start every host shares, and its run ends
		 * with every other host's, at --start-at + warmup + seconds,
		 * however late it began; else its peers, done and gone,
		 * would reset its last RPCs. */
		double late = bench_realtime_s() - o->start_at;

		if (late < 0) {
			struct timespec ts = bench_timespec(
				(int64_t)(-late * 1e9));

			nanosleep(&ts, NULL);
			start = base = bench_now_ns();
		} else {
			base = start - (uint64_t)(late * 1e9);
		}
		if (late > 0.25)
			fprintf(stderr, "uhoma-bench: this node's clients "
				"began %.2f s after --start-at: its run is "
				"that much shorter\n", late);
	}
	for (unsigned i = 0; i < o->threads; i++) {
		w[i].start = start;
		w[i].measure_from = base + (uint64_t)(o->warmup * 1e9);
		if (w[i].measure_from < start)
			w[i].measure_from = start;
		w[i].end = base + (uint64_t)((o->warmup + o->seconds) * 1e9);
		if (w[i].end < w[i].measure_from)
			w[i].end = w[i].measure_from;
	}
	pthread_barrier_wait(&ready);
	next_report = start + 1000000000ull;
	if (o->progress) {
		uint64_t end = w[0].end;

		while (bench_now_ns() < end) {
			uint64_t now = bench_now_ns(), done = 0;

			if (now < next_report) {
				struct timespec ts = { 0, 50 * 1000 * 1000 };

				nanosleep(&ts, NULL);
				continue;
			}
			next_report += 1000000000ull;
			for (unsigned i = 0; i < o->threads; i++)
				done += atomic_load(&w[i].done);
			fprintf(stderr, "\r  [%s %s] %4.1f / %.1f s  %8llu RPCs ",
				proto_name(o->proto), o->workload,
				(double)(now - start) / 1e9,
				o->warmup + o->seconds, (unsigned long long)done);
		}
		fprintf(stderr, "\n");
	}
	for (unsigned i = 0; i < o->threads; i++) {
		pthread_join(t[i], NULL);
		if (w[i].error)
			rc = -1;
		for (size_t k = 0; k < w[i].r.all.n; k++)
			samples_add(&r->all, w[i].r.all.s[k].len,
				    w[i].r.all.s[k].rtt_ns);
		for (size_t k = 0; k < w[i].r.hol_small.n; k++)
			samples_add(&r->hol_small, w[i].r.hol_small.s[k].len,
				    w[i].r.hol_small.s[k].rtt_ns);
		r->rpcs += w[i].r.rpcs;
		r->bytes += w[i].r.bytes;
		r->errors += w[i].r.errors;
		if (w[i].r.last_error)
			r->last_error = w[i].r.last_error;
		r->skipped += w[i].r.skipped;
		run_result_free(&w[i].r);
	}
	pthread_barrier_destroy(&ready);
	/* The time measured: shorter than asked for a node that began
	 * late. */
	r->seconds = (double)(w[0].end - w[0].measure_from) / 1e9;
	if (r->seconds <= 0)
		r->seconds = o->seconds;
	if (o->proto == PROTO_HOMA)
		homa_client_fini();
	uh_dist_destroy(&dist);
	free(w);
	free(t);
	return rc;
}

void run_result_free(struct run_result *r)
{
	samples_free(&r->all);
	samples_free(&r->hol_small);
}
