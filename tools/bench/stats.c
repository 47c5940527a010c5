/*
 * stats.c - latency samples, percentiles, size buckets, slowdown, CSV.
 *
 * Slowdown (as the module's cperf.py): RTT / (baseline + length x 8 /
 * link rate), the best a message of that length could do; 1 is perfect.
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
	v->s[v->n++] = (struct sample){
		len, rtt_ns > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt_ns };
	return 0;
}

void samples_free(struct samples *v)
{
	free(v->s);
	memset(v, 0, sizeof(*v));
}

static int by_rtt(const void *a, const void *b)
{
	uint32_t x = ((const struct sample *)a)->rtt_ns;
	uint32_t y = ((const struct sample *)b)->rtt_ns;

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
	return s[i].rtt_ns / 1000.0;
}

double samples_pct_us(struct samples *v, double p)
{
	qsort(v->s, v->n, sizeof(*v->s), by_rtt);
	return pct(v->s, v->n, p);
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
		double ideal;

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
		ideal = o->baseline_us + b->max_len * 8.0 / (o->link_gbps * 1e3);
		b->s50 = b->p50 / ideal;
		b->s99 = b->p99 / ideal;
		b->s999 = b->p999 / ideal;
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
