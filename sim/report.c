/*
 * report.c - what a run measured (sim.h): completion time and slowdown by
 * message length, the busiest downlinks, CSV, SVG, the SUMMARY line.
 *
 * A message's slowdown is its completion time over sim_ideal_ps, the same
 * message alone on the idle fabric; 1 is the best possible (one below it
 * is counted as a model error: sim_result.faster). Messages that
 * started in the leading --warmup fraction, failed, or never completed are
 * left out of the percentiles (the counts say how many). Buckets hold
 * about equal numbers of messages, a length never split between two.
 */
#define _GNU_SOURCE         /* memfd_create */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "core/metrics.h"
#include "core/stack.h"
#include "core/wire.h"
#include "reference.h"
#include "sim.h"

#define NBUCKETS SIM_NBUCKETS
#define NPORTS 5              /* downlinks listed */
#define NUPLINKS 3            /* uplinks listed */

struct done {
	uint32_t len;
	uint64_t ps;              /* completion time */
	double slow;
};

/* What sim_opts_check counts for it, per message. */
_Static_assert(sizeof(struct done) <= SIM_REPORT_MSG_BYTES,
	       "SIM_REPORT_MSG_BYTES: the report's entry per message");

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
static struct done *collect(struct sim *s, size_t *count, uint64_t *faster)
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

		if (!m->done || m->error)
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
		if (d[n].ps < cache_ps[c])
			(*faster)++;
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
	/* Ties (idle ports) in the order the fabric lists them. */
	return x < y ? -1 : x > y;
}

/* The switch ports that are downlinks (@down) or not, busiest first;
 * NULL if memory is short. */
static struct sim_port **busiest(struct sim_net *net, bool down, size_t *n)
{
	size_t cap = 0, k = 0;
	struct sim_port **p;

	for (uint32_t i = 0; i < net->nswitches; i++)
		cap += net->sw[i].nports;
	p = malloc((cap + 1) * sizeof(*p));
	if (!p)
		return NULL;
	for (uint32_t i = 0; i < net->nswitches; i++)
		for (uint32_t j = 0; j < net->sw[i].nports; j++)
			if (net->sw[i].ports[j].is_downlink == down)
				p[k++] = &net->sw[i].ports[j];
	qsort(p, k, sizeof(*p), by_busy);
	*n = k;
	return p;
}

static void print_port(FILE *out, struct sim_port *port, uint64_t elapsed)
{
	uint64_t drops = 0;

	for (unsigned q = 0; q < SIM_PRIOS; q++)
		drops += port->st.drops[q];
	fprintf(out, "util %5.1f%% drops %llu ",
		100.0 * (double)port->st.busy_ps / (double)elapsed,
		(unsigned long long)drops);
	for (int q = SIM_PRIOS - 1; q >= 0; q--)
		if (port->st.max_bytes[q])
			fprintf(out, " p%d %.1f/%.1f", q,
				port->st.area[q] / (double)elapsed / 1e3,
				(double)port->st.max_bytes[q] / 1e3);
	fprintf(out, "\n");
}

/* Returns 0, or -1 with a message on stderr (no memory). */
static int print_ports(struct sim *s, FILE *out)
{
	struct sim_net *net = &s->net;
	uint64_t elapsed = s->eng.now ? s->eng.now : 1;
	struct sim_port **p;
	size_t n = 0;

	p = busiest(net, true, &n);
	if (!p)
		goto nomem;
	fprintf(out, "busiest downlinks (queue per priority, KB: mean/max; "
		     "priorities never used left out):\n");
	for (size_t i = 0; i < n && i < NPORTS; i++) {
		fprintf(out, "  to host %4u: ", p[i]->to_host);
		print_port(out, p[i], elapsed);
	}
	free(p);
	p = busiest(net, false, &n);
	if (!p)
		goto nomem;
	if (n) {
		fprintf(out, "busiest uplinks (ToR to spine, spine to ToR):\n");
		for (size_t i = 0; i < n && i < NUPLINKS; i++) {
			char a[32], b[32];

			/* Spines by their number, 0 .. --spines - 1, not by
			 * their index among all the switches. */
			fprintf(out, "  %s to %s: ",
				sim_topo_switch_name(net, p[i]->sw, a,
						     sizeof(a)),
				sim_topo_switch_name(net, p[i]->to_sw, b,
						     sizeof(b)));
			print_port(out, p[i], elapsed);
		}
	}
	free(p);
	/* The NICs, kept short by the senders' pacers. */
	{
		uint64_t max = 0;
		long double area = 0;
		uint32_t at = 0;

		/* The largest of any one queue (the only one with one
		 * FIFO), and the mean of them all together. */
		for (uint32_t h = 0; h < net->nhosts; h++) {
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
	if (net->nswitches) {
		uint64_t buf = 0;
		uint32_t at = 0;
		char name[32];

		for (uint32_t i = 0; i < net->nswitches; i++)
			if (net->sw[i].buf_max > buf) {
				buf = net->sw[i].buf_max;
				at = i;
			}
		fprintf(out, "switch buffers: peak %.1f KB (%s) of %.1f KB\n",
			(double)buf / 1e3,
			sim_topo_switch_name(net, &net->sw[at], name,
					     sizeof(name)),
			(double)net->sw[0].buf_cap / 1e3);
	}
	return 0;
nomem:
	fprintf(stderr, "uhoma-sim: out of memory for the report's list of "
		"links\n");
	return -1;
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

/* ---- files --------------------------------------------------------------- */

int sim_file_open(struct sim_file *sf, const char *path)
{
	sf->path = path;
	sf->err = 0;
	sf->made = access(path, F_OK) != 0;
	sf->f = fopen(path, "w");
	if (sf->f)
		return 0;
	fprintf(stderr, "uhoma-sim: %s: %s\n", path, strerror(errno));
	return -1;
}

/* A write to @sf returned @rc (negative: failed): the first failure's
 * errno is kept for sim_file_close to report. */
static void noted(struct sim_file *sf, int rc)
{
	if (rc < 0 && !sf->err)
		sf->err = errno ? errno : EIO;
}

int sim_file_close(struct sim_file *sf)
{
	int err = sf->err;

	if (!sf->f)
		return 0;
	/* A full disk shows first when the buffer is written out: here,
	 * for a file smaller than it. */
	errno = 0;
	if (fflush(sf->f) && !err)
		err = errno ? errno : EIO;
	if (ferror(sf->f) && !err)
		err = EIO;
	errno = 0;
	if (fclose(sf->f) && !err)
		err = errno ? errno : EIO;
	sf->f = NULL;
	if (!err)
		return 0;
	/* Below 0: already said (sim_write_svg). */
	if (err > 0)
		fprintf(stderr, "uhoma-sim: %s: %s\n", sf->path,
			strerror(err));
	return -1;
}

void sim_file_discard(struct sim_file *sf)
{
	if (sf->f)
		fclose(sf->f);
	sf->f = NULL;
	if (sf->made)
		unlink(sf->path);
	sf->made = false;
}

int sim_write_csv(struct sim_file *f, const char *const *label,
		  const struct sim_result *r, size_t n)
{
	noted(f, fprintf(f->f, "config,max_len,count,p50_us,p99_us,p999_us,"
			 "slowdown_p50,slowdown_p99,slowdown_p999\n"));
	for (size_t k = 0; k < n; k++)
		for (size_t i = 0; i < r[k].nb; i++) {
			const struct bucket *b = &r[k].b[i];

			noted(f, fprintf(f->f, "%s,%u,%zu,%.3f,%.3f,%.3f,"
					 "%.3f,%.3f,%.3f\n", label[k],
					 b->max_len, b->count, b->p50, b->p99,
					 b->p999, b->s50, b->s99, b->s999));
		}
	return f->err ? -1 : 0;
}

/*
 * plot_svg (tools/bench) takes a path, and checks none of its writes: it
 * draws into an anonymous file here (a memfd, named through /proc), and
 * the figure is copied into @f, every write checked.
 */
int sim_write_svg(struct sim_file *f, const char *title,
		  const struct plot_series *ps, size_t ns)
{
	int fd = memfd_create("uhoma-sim-svg", MFD_CLOEXEC);
	char path[64], buf[8192];
	FILE *tmp;
	size_t k;

	if (fd < 0) {
		fprintf(stderr, "uhoma-sim: %s: no scratch file to draw the "
			"SVG in (memfd_create: %s)\n", f->path,
			strerror(errno));
		f->err = -1;
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	tmp = fdopen(fd, "r");
	if (!tmp || plot_svg(path, title, ps, ns)) {
		fprintf(stderr, "uhoma-sim: %s: the SVG could not be drawn "
			"in a scratch file (%s)\n", f->path, path);
		if (tmp)
			fclose(tmp);
		else
			close(fd);
		f->err = -1;
		return -1;
	}
	while ((k = fread(buf, 1, sizeof(buf), tmp)) > 0)
		if (fwrite(buf, 1, k, f->f) != k) {
			noted(f, -1);
			break;
		}
	if (ferror(tmp)) {
		fprintf(stderr, "uhoma-sim: %s: the SVG's scratch file could "
			"not be read back\n", f->path);
		f->err = -1;
	}
	fclose(tmp);
	return f->err ? -1 : 0;
}

/* P99 slowdown of one-packet messages; of the first bucket if none; -1
 * if no message was measured at all (0 would read better than the best
 * possible, 1). */
static double short_p99(struct done *d, size_t n, const struct bucket *b,
			size_t nb)
{
	uint32_t one = SIM_MAX_HOMA - UH_HDR_DATA;
	size_t k = 0;

	while (k < n && d[k].len <= one)
		k++;
	if (k == 0)
		return nb ? b[0].s99 : -1;
	qsort(d, k, sizeof(*d), by_slow);
	return d[rank(k, 99)].slow;
}

/* The backlog at @t: the lengths of messages started by @t and not complete
 * by it -- by the run, or if @ref is not NULL by the reference
 * (reference.h), which delivers message i at ref[i]. A failed message
 * never is: it stays in the backlog for good, or a run whose every send
 * failed would read as one that kept up. */
static double backlog_at(const struct sim_workload *w, uint64_t t,
			 const uint64_t *ref)
{
	double b = 0;

	for (uint64_t i = 0; i < w->nmsgs && w->msgs[i].start_ps <= t; i++) {
		const struct sim_msg *m = &w->msgs[i];

		if (ref ? ref[i] > t : !m->done || m->error || m->done_ps > t)
			b += m->len;
	}
	return b;
}

/* Bytes that even the idle fabric would still hold at @t: messages started
 * by @t that, each alone on it, would not be delivered yet. A window that
 * offers little more than this measures messages in flight, not the
 * fabric (helper-41: 300 messages over 500 hosts read 0.015, every one
 * complete). */
static double ideal_backlog_at(const struct sim *s, uint64_t t)
{
	const struct sim_workload *w = &s->w;
	unsigned mult = w->mode == SIM_RPC ? 2 : 1;
	uint64_t longest;
	double b = 0;

	if (!w->nmsgs)
		return 0;
	longest = mult * sim_ideal_ps(&s->net, 0, s->net.nhosts - 1,
				      UHOMA_MAX_MESSAGE);
	for (uint64_t i = w->nmsgs; i-- > 0;) {
		const struct sim_msg *m = &w->msgs[i];

		if (m->start_ps > t)
			continue;
		if (t - m->start_ps >= longest)
			break;             /* every earlier one is through */
		if (m->start_ps + mult * sim_ideal_ps(&s->net, m->src, m->dst,
						      m->len) > t)
			b += m->len;
	}
	return b;
}

/* One reference's reading of the window [@t0, @t1] (reference.h): each
 * receiver alone (@matching false) or the matching of both ends; @ref
 * holds the messages' ends. Returns 0, or -1 (said) if memory ran out. */
static int reference(const struct sim *s, bool matching, uint64_t t0,
		     uint64_t t1, double offered, uint64_t *ref,
		     double *start, double *end, double *sustained)
{
	const struct sim_workload *w = &s->w;
	uint32_t mbps = s->o.topo.host_mbps;

	if (matching ? sim_matching_reference(w, s->net.nhosts, mbps, t1, ref)
		     : sim_srpt_reference(w, s->net.nhosts, mbps, ref)) {
		fprintf(stderr, "uhoma-sim: out of memory for the %s reference "
			"of %llu messages\n", matching ? "matching" : "SRPT",
			(unsigned long long)w->nmsgs);
		return -1;
	}
	*start = backlog_at(w, t0, ref);
	*end = backlog_at(w, t1, ref);
	*sustained = 1 - (*end - *start) / offered;
	return 0;
}

/* Fills @r's sustained and backlogs, and those of the references: the
 * window runs from the first measured message's start to the last
 * message's. */
static int sustained(const struct sim *s, struct sim_result *r)
{
	const struct sim_workload *w = &s->w;
	uint64_t first = (uint64_t)(s->o.warmup * (double)w->nmsgs);
	uint64_t t0, t1 = w->last_start_ps, *ref;
	double offered = 0;

	r->sustained = r->sustained_ref = r->sustained_match = -1;
	if (first >= w->nmsgs)
		return 0;
	t0 = w->msgs[first].start_ps;
	for (uint64_t i = first + 1; i < w->nmsgs; i++)
		offered += w->msgs[i].len;
	r->backlog_start = backlog_at(w, t0, NULL);
	r->backlog_end = backlog_at(w, t1, NULL);
	r->ideal_backlog_start = ideal_backlog_at(s, t0);
	r->ideal_backlog_end = ideal_backlog_at(s, t1);
	/* Incast offers a round only once the last has ended: the backlog
	 * at each start is nil, and the ratio 1 whatever the fabric does.
	 * Not applicable: -1. */
	if (w->incast_n)
		return 0;
	/* Too few messages in the window, and the ratio measures their
	 * lengths, not the fabric (one long message behind the window's
	 * start and a short one in it read as 748); too little offered
	 * against the backlog at its start, and that backlog draining
	 * reads as a fabric doing better than keeping up; too little
	 * against what the idle fabric would still hold at its end, and
	 * messages merely in flight read as a fabric falling behind: -1,
	 * n/a. */
	if (w->nmsgs - first - 1 < SIM_SUSTAINED_MIN || offered <= 0 ||
	    offered < SIM_SUSTAINED_RATIO * r->backlog_start ||
	    offered < SIM_SUSTAINED_RATIO * r->ideal_backlog_end)
		return 0;
	r->sustained = 1 - (r->backlog_end - r->backlog_start) / offered;
	/* The reference knows one-way messages only: an RPC's response
	 * starts when its request ends, in the run. */
	if (w->mode != SIM_ONEWAY)
		return 0;
	ref = malloc(w->nmsgs * sizeof(*ref));
	if (!ref) {
		fprintf(stderr, "uhoma-sim: out of memory for the references "
			"of %llu messages\n", (unsigned long long)w->nmsgs);
		return -1;
	}
	if (reference(s, false, t0, t1, offered, ref, &r->ref_backlog_start,
		      &r->ref_backlog_end, &r->sustained_ref) ||
	    reference(s, true, t0, t1, offered, ref, &r->match_backlog_start,
		      &r->match_backlog_end, &r->sustained_match)) {
		free(ref);
		return -1;
	}
	free(ref);
	return 0;
}

static void receivers(struct sim *s, struct sim_result *r)
{
	long double area = 0;
	uint64_t granting = 0;

	for (uint32_t i = 0; i < s->hosts.n; i++) {
		struct sim_host *h = &s->hosts.h[i];

		sim_host_settle(h);
		if (h->max_active > r->max_active)
			r->max_active = h->max_active;
		area += h->active_area;
		granting += h->granting_ps;
	}
	r->mean_active = granting ? (double)(area / granting) : 0;
}

int sim_results(struct sim *s, struct sim_result *r)
{
	size_t n = 0;
	struct done *d;
	uint64_t elapsed = s->eng.now ? s->eng.now : 1;
	struct sim_port **p;

	memset(r, 0, sizeof(*r));
	/* Every port's occupancy, buffer use and counters up to now: the
	 * report (sim_report) reads them after this too. */
	sim_net_settle(&s->net);
	d = collect(s, &n, &r->faster);
	if (!d) {
		fprintf(stderr, "uhoma-sim: out of memory for the report of "
			"%llu messages\n", (unsigned long long)s->w.nmsgs);
		return -1;
	}
	r->measured = n;
	r->failed = s->w.nerrors;
	r->in_flight = s->w.nmsgs - s->w.ndone;
	r->nb = buckets(d, n, r->b);
	r->short_p99 = short_p99(d, n, r->b, r->nb);
	free(d);
	if (sustained(s, r))
		return -1;
	r->pkts_per_s = (double)s->net.delivered /
			(s->wall_s > 0 ? s->wall_s : 1e-9);
	p = busiest(&s->net, true, &n);
	if (!p) {
		fprintf(stderr, "uhoma-sim: out of memory for the report's "
			"list of links\n");
		return -1;
	}
	if (n)
		r->downlink_util = (double)p[0]->st.busy_ps / (double)elapsed;
	free(p);
	for (uint32_t i = 0; i < s->net.nswitches; i++)
		if (s->net.sw[i].buf_max > r->max_switch_buf)
			r->max_switch_buf = s->net.sw[i].buf_max;
	receivers(s, r);
	return 0;
}

struct reason {
	int code;
	uint64_t n;
};

/* The failed messages by reason, most frequent first. */
static void print_failures(const struct sim_workload *w, FILE *out)
{
	struct reason why[16];
	size_t nwhy = 0, other = 0;

	for (uint64_t i = 0; i < w->nmsgs; i++) {
		int code = w->msgs[i].error;
		size_t k;

		if (!w->msgs[i].done || !code)
			continue;
		for (k = 0; k < nwhy && why[k].code != code; k++)
			;
		if (k == nwhy) {
			if (nwhy == sizeof(why) / sizeof(why[0])) {
				other++;
				continue;
			}
			why[nwhy++] = (struct reason){ code, 0 };
		}
		why[k].n++;
	}
	for (size_t i = 1; i < nwhy; i++)
		for (size_t j = i; j > 0 && why[j].n > why[j - 1].n; j--) {
			struct reason t = why[j];

			why[j] = why[j - 1];
			why[j - 1] = t;
		}
	fprintf(out, "failed by reason:");
	for (size_t k = 0; k < nwhy; k++)
		fprintf(out, "%s %llu %s (%d)", k ? "," : "",
			(unsigned long long)why[k].n,
			uhoma_strerror(why[k].code), why[k].code);
	if (other)
		fprintf(out, ", %zu other", other);
	fprintf(out, "\n");
}

/* @mbps as Gb/s, exactly (a whole number of Mb/s: at most 3 decimals). */
static const char *gbps(uint32_t mbps, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%u.%03u", mbps / 1000, mbps % 1000);

	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '.')
		buf[--n] = '\0';
	return buf;
}

/* The fabric's rates and fixed delays, so that a report says what it
 * modelled (the baseline's terms: sim_ideal_ps). Uplinks and spines only
 * where there are some (not on rack:N, nor on a fabric of one rack). */
static void print_model(const struct sim *s, FILE *out)
{
	const struct sim_topo_opts *t = &s->o.topo;
	char a[24], b[24];

	fprintf(out, "model: hosts %s Gb/s", gbps(t->host_mbps, a, sizeof(a)));
	if (s->net.nswitches > 1)
		fprintf(out, ", uplinks %s Gb/s, %u spines",
			gbps(t->uplink_mbps, b, sizeof(b)), t->spines);
	fprintf(out, "; latency ns: link %llu, switch %llu, host %llu at "
		     "each end, NIC %llu; NIC %s; buffer %llu bytes a "
		     "switch\n",
		(unsigned long long)t->prop_ns,
		(unsigned long long)t->switch_ns,
		(unsigned long long)t->host_ns, (unsigned long long)t->nic_ns,
		t->nic_prio ? "8 priority queues" : "one FIFO",
		(unsigned long long)t->switch_buf);
	/* Latencies that outlast the cores' resend interval make every
	 * message's packets look lost (and past the timeout, the message
	 * fail): say so rather than let a run of resends pass for a
	 * result (helper-32). The longest path, there and back. */
	{
		uint64_t lat[4], rtt = 0;
		uint32_t mbps[4];
		unsigned ways, hops = sim_topo_path(&s->net, 0,
						    s->net.nhosts - 1, mbps,
						    lat, &ways);

		for (unsigned j = 0; j < hops; j++)
			rtt += 2 * lat[j];
		if (rtt > s->hosts.resend_ps)
			fprintf(out, "WARNING: the fabric's latencies make a "
				     "round trip %.1f us, more than the "
				     "cores' resend interval (%.1f us: "
				     "resend_ticks x tick_us): packets in "
				     "flight will be asked for again, and "
				     "past timeout_ticks messages fail; raise "
				     "both with --config\n",
				(double)rtt / SIM_PS_PER_US,
				(double)s->hosts.resend_ps / SIM_PS_PER_US);
	}
}

int sim_report(struct sim *s, FILE *out, struct sim_file *csv,
	       struct sim_file *svg, struct sim_result *res)
{
	struct sim_result mine, *r = res ? res : &mine;
	const struct sim_workload *w = &s->w;
	const char *label = "uhoma";
	char load[32];
	int rc = 0;

	if (sim_results(s, r))
		return -1;
	fprintf(out, "%s %s %s%s seed %llu: %llu messages, %llu "
		     "complete, %llu failed, %llu still in flight at the end, "
		     "%zu measured; %.3f ms simulated\n",
		s->o.topology, s->o.workload,
		w->mode == SIM_RPC ? "rpc" : "oneway",
		sim_load_label(&s->o, load, sizeof(load)),
		(unsigned long long)s->o.seed, (unsigned long long)w->nmsgs,
		(unsigned long long)(w->ndone - w->nerrors),
		(unsigned long long)w->nerrors,
		(unsigned long long)r->in_flight, r->measured,
		(double)s->eng.now / 1e9);
	print_model(s, out);
	if (r->in_flight)
		fprintf(out, "WARNING: %llu messages still in flight when the "
			     "run stopped, %.1f ms after the last start "
			     "(--drain-ms): left out of the percentiles, "
			     "counted in the backlog\n",
			(unsigned long long)r->in_flight,
			(double)s->o.drain_us / 1e3);
	if (w->nerrors)
		print_failures(w, out);
	if (w->nmsgs < s->o.messages)
		fprintf(out, "note: %llu of --messages %llu started (incast "
			     "starts whole rounds, each once the last ended)\n",
			(unsigned long long)w->nmsgs,
			(unsigned long long)s->o.messages);
	fprintf(out, "%9s %8s %10s %10s %10s %8s %8s %8s\n", "len<=",
		"count", "p50_us", "p99_us", "p99.9_us", "slow50", "slow99",
		"slow99.9");
	for (size_t i = 0; i < r->nb; i++)
		fprintf(out, "%9u %8zu %10.1f %10.1f %10.1f %8.2f %8.2f "
			     "%8.2f\n",
			r->b[i].max_len, r->b[i].count, r->b[i].p50,
			r->b[i].p99, r->b[i].p999, r->b[i].s50, r->b[i].s99,
			r->b[i].s999);
	if (r->faster)
		fprintf(out, "MODEL ERROR: %llu messages faster than on the "
			     "idle fabric\n", (unsigned long long)r->faster);
	if (print_ports(s, out))
		return -1;
	fprintf(out, "receivers: at most %u messages granted at once, %.2f "
		     "on average while granting (max_overcommit %u)\n",
		r->max_active, r->mean_active,
		s->hosts.n ? s->hosts.h[0].st->cfg.max_overcommit : 0);
	fprintf(out, "backlog (lengths of the messages started, not yet "
		     "complete): %.1f KB after the warmup, %.1f KB at the "
		     "last start (the idle fabric: %.1f KB, %.1f KB)\n",
		r->backlog_start / 1e3, r->backlog_end / 1e3,
		r->ideal_backlog_start / 1e3, r->ideal_backlog_end / 1e3);
	if (r->sustained_ref >= 0)
		fprintf(out, "reference (the same messages, each receiver's "
			     "downlink one perfect SRPT server: reference.h): "
			     "sustained %.3f, backlog %.1f KB after the "
			     "warmup, %.1f KB at the last start\n",
			r->sustained_ref, r->ref_backlog_start / 1e3,
			r->ref_backlog_end / 1e3);
	if (r->sustained_match >= 0)
		fprintf(out, "reference (the same messages, greedy SRPT "
			     "matching of senders' uplinks and receivers' "
			     "downlinks: reference.h): sustained %.3f, backlog "
			     "%.1f KB after the warmup, %.1f KB at the last "
			     "start\n",
			r->sustained_match, r->match_backlog_start / 1e3,
			r->match_backlog_end / 1e3);
	print_core(s, out);
	fprintf(out, "packets delivered %llu, dropped %llu; %llu events in "
		     "%.2f s\n",
		(unsigned long long)s->net.delivered,
		(unsigned long long)s->net.dropped,
		(unsigned long long)s->eng.fired, s->wall_s);
	if (csv && sim_write_csv(csv, &label, r, 1))
		rc = -1;
	/* Written even with nothing measured (empty axes): a file asked
	 * for is never silently missing. */
	if (svg) {
		char title[160];
		struct plot_series ps = { "uhoma (simulated)", r->b, r->nb };

		snprintf(title, sizeof(title), "uhoma-sim %s %s%s",
			 s->o.topology, s->o.workload,
			 sim_load_label(&s->o, load, sizeof(load)));
		if (sim_write_svg(svg, title, &ps, 1))
			rc = -1;
	}
	fprintf(out, "SUMMARY short_p99_slowdown=%.2f sustained=%.3f "
		     "pkts_per_s=%.0f\n", r->short_p99, r->sustained,
		r->pkts_per_s);
	return rc;
}
