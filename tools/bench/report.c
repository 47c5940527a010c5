/*
 * report.c - `uhoma-bench report LABEL=FILE ...`: the size buckets, CSV
 * and plot of samples that `node` processes wrote (one file per protocol,
 * every host's lines together), with the slowdown of --baseline-us,
 * --link-gbps, --mtu and --hops (bench_ideal_us). A FILE ending in .csv
 * holds buckets already made (uhoma-sim's --csv): they join the table and
 * the plot as they are. Besides the table it prints,
 * per label, one line a script can read:
 *   SHORT label count=N p50_us=A p99_us=B slowdown_p99=S
 * for the one-packet requests (as uhoma-sim's short_p99_slowdown; the
 * smallest bucket if there are none), and
 *   LONG label len=L count=N p50_us=A p99_us=B slowdown_p50=S slowdown_p99=T
 * for the requests of the greatest length (1 MB in W1-W5).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define MAX_SERIES 4
#define MAX_BUCKETS 64

int samples_write(const char *path, const struct samples *v)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "uhoma-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < v->n; i++)
		fprintf(f, "%u %llu\n", v->s[i].len,
			(unsigned long long)v->s[i].rtt_ns);
	if (fclose(f)) {
		fprintf(stderr, "uhoma-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* A decimal number at *@p (digits only) that fits 64 bits; advances *@p. */
static bool read_u64(const char **p, unsigned long long *out)
{
	unsigned long long v = 0;
	const char *q = *p;

	if (*q < '0' || *q > '9')
		return false;
	for (; *q >= '0' && *q <= '9'; q++) {
		if (v > (ULLONG_MAX - (unsigned)(*q - '0')) / 10)
			return false;
		v = v * 10 + (unsigned)(*q - '0');
	}
	*p = q;
	*out = v;
	return true;
}

int samples_read(const char *path, struct samples *v)
{
	/* An hour: a longer RTT is not a measurement. */
	const unsigned long long max_rtt = 3600ull * 1000000000ull;
	FILE *f = fopen(path, "r");
	char line[128];
	unsigned long long len, rtt;
	unsigned long n = 0;

	if (!f) {
		fprintf(stderr, "uhoma-bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		const char *p = line;
		const char *why = NULL;

		n++;
		if (!strchr(line, '\n') && !feof(f))
			why = "too long";
		else if (!read_u64(&p, &len) || *p++ != ' ' ||
			 !read_u64(&p, &rtt) ||
			 (*p != '\n' && *p != '\0'))
			why = "not two decimal numbers \"len rtt_ns\"";
		else if (len > BENCH_MAX_LEN)
			why = "a length above 1,000,000 bytes";
		else if (rtt > max_rtt)
			why = "an RTT above an hour";
		if (why) {
			fprintf(stderr, "uhoma-bench: %s: line %lu: %s\n",
				path, n, why);
			fclose(f);
			return -1;
		}
		if (samples_add(v, (uint32_t)len, rtt)) {
			fprintf(stderr, "uhoma-bench: %s: out of memory\n",
				path);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

/* The one-packet requests of @v (as uhoma-sim's short_p99_slowdown: if
 * there are none, the smallest bucket's): count, P50/P99 RTT, P99
 * slowdown. */
static void print_short(const struct bench_opts *o, const char *label,
			const struct samples *v, const struct bucket *first)
{
	uint32_t one = o->mtu ? bench_payload(o->mtu) : 1000;
	struct samples s = { 0 };
	struct bucket b = { 0 };

	for (size_t i = 0; i < v->n; i++)
		if (v->s[i].len <= one)
			samples_add(&s, v->s[i].len, v->s[i].rtt_ns);
	if (s.n == 0) {
		printf("SHORT %s count=%zu p50_us=%.1f p99_us=%.1f "
		       "slowdown_p99=%.3f (no one-packet requests: the "
		       "smallest bucket, <= %u bytes)\n", label, first->count,
		       first->p50, first->p99, first->s99, first->max_len);
		return;
	}
	/* One bucket: its slowdowns are the requests' own. */
	samples_buckets(&s, o, &b, 1);
	printf("SHORT %s count=%zu p50_us=%.1f p99_us=%.1f "
	       "slowdown_p99=%.3f\n", label, s.n, b.p50, b.p99, b.s99);
	samples_free(&s);
}

/* The requests of @v's greatest length (W1-W5's largest are cut to 1 MB,
 * so many are exactly that): count and P50/P99 slowdown. */
static void print_long(const struct bench_opts *o, const char *label,
		       const struct samples *v)
{
	uint32_t top = 0;
	struct samples s = { 0 };
	struct bucket b = { 0 };

	for (size_t i = 0; i < v->n; i++)
		if (v->s[i].len > top)
			top = v->s[i].len;
	for (size_t i = 0; i < v->n; i++)
		if (v->s[i].len == top)
			samples_add(&s, v->s[i].len, v->s[i].rtt_ns);
	samples_buckets(&s, o, &b, 1);
	printf("LONG %s len=%u count=%zu p50_us=%.1f p99_us=%.1f "
	       "slowdown_p50=%.3f slowdown_p99=%.3f\n", label, top, s.n,
	       b.p50, b.p99, b.s50, b.s99);
	samples_free(&s);
}

static bool is_csv(const char *path)
{
	size_t n = strlen(path);

	return n > 4 && !strcmp(path + n - 4, ".csv");
}

/* Buckets from a CSV with report_csv's columns (uhoma-sim writes the
 * same, its first column the configuration): how many, 0 on an error. */
static size_t buckets_read(const char *path, struct bucket *b, size_t max)
{
	FILE *f = fopen(path, "r");
	char line[512];
	size_t n = 0;

	if (!f) {
		fprintf(stderr, "uhoma-bench: %s: %s\n", path, strerror(errno));
		return 0;
	}
	if (!fgets(line, sizeof(line), f) ||
	    !strstr(line, ",max_len,count,p50_us,p99_us,p999_us,")) {
		fprintf(stderr, "uhoma-bench: %s: not a bucket CSV\n", path);
		fclose(f);
		return 0;
	}
	while (n < max && fgets(line, sizeof(line), f)) {
		const char *p = strchr(line, ',');
		struct bucket *x = &b[n];

		if (!p || sscanf(p + 1, "%u,%zu,%lf,%lf,%lf,%lf,%lf,%lf",
				 &x->max_len, &x->count, &x->p50, &x->p99,
				 &x->p999, &x->s50, &x->s99, &x->s999) != 8) {
			fprintf(stderr, "uhoma-bench: %s: bad line %zu\n",
				path, n + 2);
			fclose(f);
			return 0;
		}
		n++;
	}
	fclose(f);
	if (n == 0)
		fprintf(stderr, "uhoma-bench: %s: no buckets\n", path);
	return n;
}

int report_run(const struct bench_opts *o, int argc, char **argv)
{
	static struct bucket b[MAX_SERIES][MAX_BUCKETS];
	struct plot_series series[MAX_SERIES];
	char labels[MAX_SERIES][32];
	size_t ns = 0;
	int rc = 0;

	if (argc < 1 || argc > MAX_SERIES) {
		fprintf(stderr, "uhoma-bench report: want 1 to %d LABEL=FILE "
			"arguments\n", MAX_SERIES);
		return 2;
	}
	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		struct samples v = { 0 };
		size_t n;

		if (!eq || eq == argv[i] || eq - argv[i] >= 32 || !eq[1]) {
			fprintf(stderr, "uhoma-bench report: '%s' is not "
				"LABEL=FILE\n", argv[i]);
			return 2;
		}
		snprintf(labels[ns], sizeof(labels[ns]), "%.*s",
			 (int)(eq - argv[i]), argv[i]);
		if (is_csv(eq + 1)) {
			/* Buckets already made (uhoma-sim's CSV, or ours):
			 * into the table and the plot as they are. */
			n = buckets_read(eq + 1, b[ns], MAX_BUCKETS);
			if (n == 0)
				return 1;
			report_print(labels[ns], b[ns], n);
			if (o->csv && report_csv(o->csv, labels[ns], b[ns], n,
						 ns > 0))
				rc = 1;
			series[ns] = (struct plot_series){ labels[ns], b[ns],
							   n };
			ns++;
			continue;
		}
		if (samples_read(eq + 1, &v))
			return 1;
		if (v.n == 0) {
			fprintf(stderr, "uhoma-bench report: %s has no "
				"samples\n", eq + 1);
			samples_free(&v);
			rc = 1;
			continue;
		}
		print_long(o, labels[ns], &v);
		n = samples_buckets(&v, o, b[ns],
				    o->buckets < MAX_BUCKETS ? o->buckets
							     : MAX_BUCKETS);
		print_short(o, labels[ns], &v, &b[ns][0]);
		report_print(labels[ns], b[ns], n);
		if (o->csv && report_csv(o->csv, labels[ns], b[ns], n, ns > 0))
			rc = 1;
		series[ns] = (struct plot_series){ labels[ns], b[ns], n };
		ns++;
		samples_free(&v);
	}
	if (o->svg && ns) {
		char title[160];

		snprintf(title, sizeof(title), "%s", o->title[0] ? o->title
				: "slowdown by request length");
		if (plot_svg(o->svg, title, series, ns))
			rc = 1;
	}
	return rc;
}
