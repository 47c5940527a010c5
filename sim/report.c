/*
 * report.c - what a run measured (sim.h): completion time and slowdown by
 * message length, the busiest downlinks, CSV, SVG, the SUMMARY line.
 *
 * A message's slowdown is its completion time over sim_ideal_ps, the same
 * message alone on the idle fabric; 1 is the best possible. Messages that
 * started in the leading --warmup fraction, failed, or never completed are
 * left out of the percentiles (the counts say how many). Buckets hold
 * about equal numbers of messages, a length never split between two.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "core/metrics.h"
#include "core/wire.h"
#include "sim.h"

#define NBUCKETS 10
#define NPORTS 5              /* downlinks listed */

struct done {
	uint32_t len;
	uint64_t ps;              /* completion time */
	double slow;
};

static int by_len(const void *a, const void *b)
{
	const struct done *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->ps < y->ps ? -1 : x->ps > y->ps;
}

static int by_ps(const void *a, const void *b)
{
	const struct done *x = a, *y = b;

	return x->ps < y->ps ? -1 : x->ps > y->ps;
}

static int by_slow(const void *a, const void *b)
{
	const struct done *x = a, *y = b;

	return x->slow < y->slow ? -1 : x->slow > y->slow;
}

static size_t rank(size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (double)n);

	return i < n ? i : n - 1;
}

/* Fills @b from @n messages (sorted by length; re-sorted here). */
static void fill_bucket(struct bucket *b, struct done *d, size_t n)
{
	b->max_len = d[n - 1].len;
	b->count = n;
	qsort(d, n, sizeof(*d), by_ps);
	b->p50 = (double)d[rank(n, 50)].ps / 1e6;
	b->p99 = (double)d[rank(n, 99)].ps / 1e6;
	b->p999 = (double)d[rank(n, 99.9)].ps / 1e6;
	qsort(d, n, sizeof(*d), by_slow);
	b->s50 = d[rank(n, 50)].slow;
	b->s99 = d[rank(n, 99)].slow;
	b->s999 = d[rank(n, 99.9)].slow;
}

/* The measured messages, with their slowdowns, sorted by length. */
static struct done *collect(struct sim *s, size_t *count)
{
	const struct sim_workload *w = &s->w;
	uint64_t first = (uint64_t)(s->o.warmup * (double)w->nmsgs);
	struct done *d = malloc((w->nmsgs + 1) * sizeof(*d));
	uint32_t cache_len[2] = { 0, 0 };
	uint64_t cache_ps[2] = { 0, 0 };
	size_t n = 0;

	if (!d)
		return NULL;
	for (uint64_t i = first; i < w->nmsgs; i++) {
		const struct sim_msg *m = &w->msgs[i];
		unsigned c;

		if (!m->done_ps || m->error)
			continue;
		d[n].len = m->len;
		d[n].ps = m->done_ps - m->start_ps;
		/* The ideal is a round trip in rpc mode (the echo). */
		c = sim_topo_same_rack(&s->net, m->src, m->dst);
		if (cache_len[c] != m->len || !cache_ps[c]) {
			cache_len[c] = m->len;
			cache_ps[c] = sim_ideal_ps(&s->net, m->src, m->dst,
						   m->len);
			if (w->mode == SIM_RPC)
				cache_ps[c] *= 2;
		}
		d[n].slow = (double)d[n].ps / (double)cache_ps[c];
		n++;
	}
	qsort(d, n, sizeof(*d), by_len);
	*count = n;
	return d;
}

static size_t buckets(struct done *d, size_t n, struct bucket *out)
{
	size_t filled = 0, start = 0;

	while (start < n && filled < NBUCKETS) {
		size_t end = start + (n - start) / (NBUCKETS - filled);

		if (end <= start)
			end = start + 1;
		while (end < n && d[end].len == d[end - 1].len)
			end++;
		fill_bucket(&out[filled++], d + start, end - start);
		start = end;
	}
	return filled;
}

static int by_busy(const void *a, const void *b)
{
	const struct sim_port *x = *(const struct sim_port *const *)a;
	const struct sim_port *y = *(const struct sim_port *const *)b;

	if (x->st.busy_ps != y->st.busy_ps)
		return x->st.busy_ps > y->st.busy_ps ? -1 : 1;
	return x->to_host < y->to_host ? -1 : x->to_host > y->to_host;
}

static void print_ports(struct sim *s, FILE *out)
{
	struct sim_net *net = &s->net;
	struct sim_port **p = malloc(net->nhosts * sizeof(*p));
	uint64_t elapsed = s->eng.now ? s->eng.now : 1;
	size_t n = 0;

	if (!p)
		return;
	for (uint32_t i = 0; i < net->nswitches; i++)
		for (uint32_t k = 0; k < net->sw[i].nports; k++)
			if (net->sw[i].ports[k].is_downlink)
				p[n++] = &net->sw[i].ports[k];
	qsort(p, n, sizeof(*p), by_busy);
	fprintf(out, "busiest downlinks (queue per priority, KB: mean/max; "
		     "priorities never used left out):\n");
	for (size_t i = 0; i < n && i < NPORTS; i++) {
		struct sim_port *port = p[i];
		uint64_t drops = 0;

		sim_port_settle(port);
		for (unsigned q = 0; q < SIM_PRIOS; q++)
			drops += port->st.drops[q];
		fprintf(out, "  to host %4u: util %5.1f%% drops %llu ",
			port->to_host,
			100.0 * (double)port->st.busy_ps / (double)elapsed,
			(unsigned long long)drops);
		for (int q = SIM_PRIOS - 1; q >= 0; q--)
			if (port->st.max_bytes[q])
				fprintf(out, " p%d %.1f/%.1f", q,
					(double)(port->st.area[q] /
						 (long double)elapsed) / 1e3,
					(double)port->st.max_bytes[q] / 1e3);
		fprintf(out, "\n");
	}
	free(p);
	/* The NICs: one FIFO each, kept short by the senders' pacers. */
	{
		uint64_t max = 0;
		long double area = 0;
		uint32_t at = 0;

		/* The largest of any one queue (the only one, unless
		 * nic_prio), and the mean of them all together. */
		for (uint32_t h = 0; h < net->nhosts; h++) {
			sim_port_settle(&net->nic[h]);
			for (unsigned q = 0; q < SIM_PRIOS; q++) {
				area += net->nic[h].st.area[q];
				if (net->nic[h].st.max_bytes[q] > max) {
					max = net->nic[h].st.max_bytes[q];
					at = h;
				}
			}
		}
		fprintf(out, "host NICs: mean queue %.2f KB, max %.1f KB "
			     "(host %u)\n",
			(double)(area / elapsed / net->nhosts) / 1e3,
			(double)max / 1e3, at);
	}
}

/* The cores' own counters, summed over the hosts: packets sent by type,
 * drops by reason and the events, wherever not zero. */
static void print_core(struct sim *s, FILE *out)
{
	static const unsigned ranges[][2] = {
		{ UH_M_PKT_SENT, UH_M_PKT_RECV },
		{ UH_M_DROP, UH_M_DEDUP_RECORDS },
	};
	unsigned col = 0;

	fprintf(out, "core counters (all hosts):");
	for (unsigned r = 0; r < 2; r++)
		for (unsigned i = ranges[r][0]; i < ranges[r][1]; i++) {
			int64_t sum = 0;
			char name[64];

			for (uint32_t h = 0; h < s->hosts.n; h++)
				sum += uh_metric_read(s->hosts.h[h].metrics, i);
			if (!sum)
				continue;
			uh_metric_name(i, name, sizeof(name));
			fprintf(out, "%s%s=%lld", col++ % 4 ? " " : "\n  ",
				name, (long long)sum);
		}
	fprintf(out, "\n");
}

static int write_csv(const char *path, const struct bucket *b, size_t n)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		perror(path);
		return -1;
	}
	fprintf(f, "max_len,count,p50_us,p99_us,p999_us,slowdown_p50,"
		   "slowdown_p99,slowdown_p999\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%u,%zu,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f\n",
			b[i].max_len, b[i].count, b[i].p50, b[i].p99,
			b[i].p999, b[i].s50, b[i].s99, b[i].s999);
	return fclose(f) ? -1 : 0;
}

/* P99 slowdown of one-packet messages; of the first bucket if none. */
static double short_p99(struct done *d, size_t n, const struct bucket *b,
			size_t nb)
{
	uint32_t one = SIM_MAX_HOMA - UH_HDR_DATA;
	size_t k = 0;

	while (k < n && d[k].len <= one)
		k++;
	if (k == 0)
		return nb ? b[0].s99 : 0;
	qsort(d, k, sizeof(*d), by_slow);
	return d[rank(k, 99)].slow;
}

/* Bytes completed over bytes offered while messages were being made. */
static double sustained(const struct sim_workload *w)
{
	double offered = 0, done = 0;

	for (uint64_t i = 0; i < w->nmsgs; i++) {
		uint64_t at = w->msgs[i].done_ps;

		offered += w->msgs[i].len;
		if (at && at <= w->last_start_ps)
			done += w->msgs[i].len;
	}
	return offered > 0 ? done / offered : 0;
}

int sim_report(struct sim *s, FILE *out, const char *csv, const char *svg)
{
	struct bucket b[NBUCKETS];
	size_t n = 0, nb;
	struct done *d = collect(s, &n);
	const struct sim_workload *w = &s->w;
	double wall = s->wall_s > 0 ? s->wall_s : 1e-9;
	int rc = 0;

	if (!d)
		return -1;
	nb = buckets(d, n, b);
	fprintf(out, "%s %s %s load %.2f seed %llu: %llu messages, %llu "
		     "complete, %llu failed, %zu measured; %.3f ms simulated\n",
		s->o.topology, s->o.workload,
		w->mode == SIM_RPC ? "rpc" : "oneway", s->o.load,
		(unsigned long long)s->o.seed, (unsigned long long)w->nmsgs,
		(unsigned long long)(w->ndone - w->nerrors),
		(unsigned long long)w->nerrors, n, (double)s->eng.now / 1e9);
	fprintf(out, "%9s %8s %10s %10s %10s %8s %8s %8s\n", "len<=",
		"count", "p50_us", "p99_us", "p99.9_us", "slow50", "slow99",
		"slow99.9");
	for (size_t i = 0; i < nb; i++)
		fprintf(out, "%9u %8zu %10.1f %10.1f %10.1f %8.2f %8.2f "
			     "%8.2f\n",
			b[i].max_len, b[i].count, b[i].p50, b[i].p99,
			b[i].p999, b[i].s50, b[i].s99, b[i].s999);
	print_ports(s, out);
	print_core(s, out);
	fprintf(out, "packets delivered %llu, dropped %llu; %llu events in "
		     "%.2f s\n",
		(unsigned long long)s->net.delivered,
		(unsigned long long)s->net.dropped,
		(unsigned long long)s->eng.fired, s->wall_s);
	if (csv && write_csv(csv, b, nb))
		rc = -1;
	if (svg) {
		char title[160];
		struct plot_series ps = { "uhoma (simulated)", b, nb };

		snprintf(title, sizeof(title), "uhoma-sim %s %s load %.2f",
			 s->o.topology, s->o.workload, s->o.load);
		if (nb && plot_svg(svg, title, &ps, 1))
			rc = -1;
	}
	fprintf(out, "SUMMARY short_p99_slowdown=%.2f sustained=%.3f "
		     "pkts_per_s=%.0f\n", short_p99(d, n, b, nb), sustained(w),
		(double)s->net.delivered / wall);
	free(d);
	return rc;
}
