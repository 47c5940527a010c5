/*
 * dist.c - building and sampling workload distributions (dist.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"

#define MIN_BUCKET_FRAC 0.0025
#define MAX_SIZE_RATIO 1.2

struct raw {
	uint32_t length;
	double weight;
};

/* The raw points of @name from the compiled-in table; *@n of them. */
static struct raw *load(const char *name, size_t *n)
{
	const char *p = uh_dist_csv;
	struct raw *r = NULL;
	size_t cap = 0;

	*n = 0;
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char line[128], wl[16];
		unsigned long l;
		double w;

		if (len < sizeof(line)) {
			memcpy(line, p, len);
			line[len] = '\0';
			if (line[0] != '#' &&
			    sscanf(line, "%15[^,],%lu,%lf", wl, &l, &w) == 3 &&
			    strcmp(wl, name) == 0) {
				if (*n == cap) {
					struct raw *g;

					cap = cap ? 2 * cap : 256;
					g = realloc(r, cap * sizeof(*r));
					if (!g) {
						free(r);
						return NULL;
					}
					r = g;
				}
				r[*n].length = (uint32_t)l;
				r[(*n)++].weight = w;
			}
		}
		p += len + (eol ? 1 : 0);
	}
	return r;
}

int uh_dist_create(const char *name, uint32_t max_length, struct uh_dist *d)
{
	struct raw *r;
	size_t n;
	double total = 0, cum = 0, last_frac = 0, prev = 0;
	uint32_t last_len = 0;
	char *end;
	unsigned long fixed;

	memset(d, 0, sizeof(*d));
	snprintf(d->name, sizeof(d->name), "%s", name);
	fixed = strtoul(name, &end, 10);
	if (*name && !*end) {
		if (fixed == 0 || fixed > max_length)
			return -1;
		d->points = malloc(sizeof(*d->points));
		if (!d->points)
			return -1;
		d->points[0] = (struct uh_dist_point){ (uint32_t)fixed, 1.0 };
		d->n = 1;
		d->mean = (double)fixed;
		return 0;
	}
	r = load(name, &n);
	if (!r || n == 0) {
		free(r);
		return -1;
	}
	d->points = malloc(n * sizeof(*d->points));
	if (!d->points) {
		free(r);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		total += r[i].weight;
	for (size_t i = 0; i < n; i++) {
		uint32_t len = r[i].length;

		cum += r[i].weight / total;
		if (len >= max_length) {
			d->points[d->n++] = (struct uh_dist_point){ max_length, 1.0 };
			break;
		}
		if (i == n - 1 || cum >= 1.0) {
			d->points[d->n++] = (struct uh_dist_point){ len, 1.0 };
			break;
		}
		if (cum - last_frac >= MIN_BUCKET_FRAC ||
		    (d->n > 0 && MAX_SIZE_RATIO * last_len < r[i + 1].length)) {
			d->points[d->n++] = (struct uh_dist_point){ len, cum };
			last_frac = cum;
			last_len = len;
		}
	}
	free(r);
	for (size_t i = 0; i < d->n; i++) {
		d->mean += d->points[i].length * (d->points[i].fraction - prev);
		prev = d->points[i].fraction;
	}
	return 0;
}

void uh_dist_destroy(struct uh_dist *d)
{
	free(d->points);
	memset(d, 0, sizeof(*d));
}

double uh_dist_uniform(uint64_t *rng)
{
	uint64_t z = (*rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

uint32_t uh_dist_sample(const struct uh_dist *d, uint64_t *rng)
{
	double u = uh_dist_uniform(rng);
	size_t lo = 0, hi = d->n - 1;

	while (lo < hi) {          /* first point with fraction >= u */
		size_t mid = (lo + hi) / 2;

		if (d->points[mid].fraction >= u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return d->points[lo].length;
}

double uh_dist_cdf(const struct uh_dist *d, uint32_t len)
{
	double f = 0;

	for (size_t i = 0; i < d->n && d->points[i].length <= len; i++)
		f = d->points[i].fraction;
	return f;
}
