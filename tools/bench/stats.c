/*
 * stats.c - latency samples, percentiles, size buckets, slowdown, CSV.
 *
 * Slowdown: an RPC's RTT over the best an RPC of its length could do
 * (bench_ideal_us: baseline + length x 8 / link rate, or with --mtu the
 * request's and response's packets); 1 is perfect. A bucket's slowdown
 * percentiles are of its RPCs' own slowdowns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

int samples_add(struct samples *v, uint32_t len, uint64_t rtt_ns)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 4096;
		struct sample *s = realloc(v->s, cap * sizeof(*s));

		if (!s)
			return -1;
		v->s = s;
		v->cap = cap;
	}
	v->s[v->n++] = (struct sample){ rtt_ns, len };
	return 0;
}

void samples_free(struct samples *v)
{
	free(v->s);
	memset(v, 0, sizeof(*v));
}

static int by_rtt(const void *a, const void *b)
{
	uint64_t x = ((const struct sample *)a)->rtt_ns;
	uint64_t y = ((const struct sample *)b)->rtt_ns;

	return x < y ? -1 : x > y;
}

static int by_len(const void *a, const void *b)
{
	uint32_t x = ((const struct sample *)a)->len;
	uint32_t y = ((const struct sample *)b)->len;

	return x < y ? -1 : x > y;
}

/* Percentile @p of @n samples sorted by RTT, in microseconds. */
static double pct(const struct sample *s, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p / 100.0 * (double)n);
	if (i >= n)
		i = n - 1;
	return (double)s[i].rtt_ns / 1000.0;
}

double samples_pct_us(struct samples *v, double p)
{
	qsort(v->s, v->n, sizeof(*v->s), by_rtt);
	return pct(v->s, v->n, p);
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Percentile @p of the @n sorted values @v (as pct). */
static double slow_pct(const double *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)n);

	return v[i < n ? i : n - 1];
}

/* Homa's DATA header, and what UDP, IPv4 and Ethernet add to a packet. */
#define HOMA_DATA_HDR 56
#define PKT_OVERHEAD (HOMA_DATA_HDR + 8 + 20 + 14)

uint32_t bench_payload(unsigned mtu)
{
	return mtu - (HOMA_DATA_HDR + 8 + 20);
}

uint64_t bench_wire_bytes(uint32_t len, unsigned mtu)
{
	uint32_t per = bench_payload(mtu);
	uint64_t pkts = len ? (len + per - 1) / per : 1;

	return len + pkts * PKT_OVERHEAD;
}

/* Bytes' worth of link time for @len bytes one way over @hops store-and-
 * forward links: all of them once, and the first packet again at each
 * further hop (as uhoma-sim's ideal). */
static double one_way_bytes(uint32_t len, unsigned mtu, unsigned hops)
{
	uint32_t per = bench_payload(mtu);
	uint32_t first = len < per ? len : per;

	return (double)bench_wire_bytes(len, mtu) +
	       (double)(hops > 1 ? hops - 1 : 0) *
		       (double)bench_wire_bytes(first, mtu);
}

double bench_ideal_us(const struct bench_opts *o, uint32_t len)
{
	uint32_t resp = o->resp_len ? o->resp_len : len;
	double bytes = len;

	if (o->mtu)
		bytes = one_way_bytes(len, o->mtu, o->hops) +
			one_way_bytes(resp, o->mtu, o->hops);
	return o->baseline_us + bytes * 8.0 / (o->link_gbps * 1e3);
}

size_t samples_buckets(struct samples *v, const struct bench_opts *o,
		       struct bucket *out, size_t nb)
{
	size_t filled = 0, start = 0;

	if (v->n == 0 || nb == 0)
		return 0;
	qsort(v->s, v->n, sizeof(*v->s), by_len);
	while (start < v->n && filled < nb) {
		size_t end = start + (v->n - start) / (nb - filled);
		struct bucket *b = &out[filled];
		double *slow;

		if (end <= start)
			end = start + 1;
		/* A length never straddles two buckets. */
		while (end < v->n && v->s[end].len == v->s[end - 1].len)
			end++;
		b->max_len = v->s[end - 1].len;
		b->count = end - start;
		qsort(v->s + start, b->count, sizeof(*v->s), by_rtt);
		b->p50 = pct(v->s + start, b->count, 50);
		b->p99 = pct(v->s + start, b->count, 99);
		b->p999 = pct(v->s + start, b->count, 99.9);
		/* Slowdown is each RPC's own (its RTT over its length's
		 * ideal), then the percentiles: a bucket may span lengths
		 * whose ideals differ a hundredfold. */
		slow = malloc(b->count * sizeof(*slow));
		if (!slow)
			return filled;
		for (size_t i = 0; i < b->count; i++)
			slow[i] = (double)v->s[start + i].rtt_ns / 1000.0 /
				  bench_ideal_us(o, v->s[start + i].len);
		qsort(slow, b->count, sizeof(*slow), by_value);
		b->s50 = slow_pct(slow, b->count, 50);
		b->s99 = slow_pct(slow, b->count, 99);
		b->s999 = slow_pct(slow, b->count, 99.9);
		free(slow);
		filled++;
		start = end;
	}
	return filled;
}

void report_print(const char *label, const struct bucket *b, size_t n)
{
	printf("%-6s %9s %8s %10s %10s %10s %8s %8s %8s\n", label, "len<=",
	       "count", "p50_us", "p99_us", "p99.9_us", "slow50", "slow99",
	       "slow99.9");
	for (size_t i = 0; i < n; i++)
		printf("%-6s %9u %8zu %10.1f %10.1f %10.1f %8.2f %8.2f %8.2f\n",
		       "", b[i].max_len, b[i].count, b[i].p50, b[i].p99,
		       b[i].p999, b[i].s50, b[i].s99, b[i].s999);
}

int report_csv(const char *path, const char *label, const struct bucket *b,
	       size_t n, bool append)
{
	FILE *f = fopen(path, append ? "a" : "w");

	if (!f) {
		perror(path);
		return -1;
	}
	if (!append)
		fprintf(f, "protocol,max_len,count,p50_us,p99_us,p999_us,"
			   "slowdown_p50,slowdown_p99,slowdown_p999\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s,%u,%zu,%.2f,%.2f,%.2f,%.3f,%.3f,%.3f\n", label,
			b[i].max_len, b[i].count, b[i].p50, b[i].p99, b[i].p999,
			b[i].s50, b[i].s99, b[i].s999);
	fclose(f);
	return 0;
}
