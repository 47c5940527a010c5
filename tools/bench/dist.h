/*
 * dist.h - message-length distributions: the Homa workloads W1-W5 and
 * fixed lengths, built exactly as the Linux module's util/dist.cc does
 * (homa-protocol.md §6.3).
 *
 * A workload is a table of (length, weight) points (w1-w5.csv, compiled
 * in). uh_dist_create() turns it into a sampled CDF: weights are
 * normalised and accumulated from (0, 0); a point is emitted when the
 * fraction grew by at least 0.25% since the last emitted point, or when
 * 1.2 x the last emitted length is below the next raw length; the table
 * stops (fraction forced to 1) at its end, at the first length at or
 * above max_length (emitted as max_length), or when the fraction reaches
 * 1. Sampling draws u in [0, 1) and returns the first point whose
 * fraction is >= u, so a merged bucket reports its largest length.
 */
#ifndef UHOMA_BENCH_DIST_H
#define UHOMA_BENCH_DIST_H

#include <stddef.h>
#include <stdint.h>

struct uh_dist_point {
	uint32_t length;
	double fraction;     /* cumulative, the last one 1.0 */
};

struct uh_dist {
	char name[16];
	size_t n;
	struct uh_dist_point *points;
	double mean;         /* exact mean of the sampled distribution */
};

/* Builds workload @name ("w1".."w5", "starve", or a decimal length) capped
 * at @max_length. Returns 0, or -1 for an unknown name or no memory. */
int uh_dist_create(const char *name, uint32_t max_length, struct uh_dist *d);
void uh_dist_destroy(struct uh_dist *d);

/* One length drawn from @d, using and advancing the generator @rng. */
uint32_t uh_dist_sample(const struct uh_dist *d, uint64_t *rng);

/* A uniform double in [0, 1) from @rng (splitmix64). */
double uh_dist_uniform(uint64_t *rng);

/* The fraction of samples with length <= @len. */
double uh_dist_cdf(const struct uh_dist *d, uint32_t len);

/* The raw table (w1-w5.csv text, compiled in). */
extern const char uh_dist_csv[];

#endif /* UHOMA_BENCH_DIST_H */
