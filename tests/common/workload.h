/*
 * workload.h - message sizes drawn from the Homa workloads W1-W5
 * (../shared/reference/workloads/w1-w5.csv, copied into tests/data), capped
 * at the 1,000,000-byte maximum. Tests only need the size mix; the
 * benchmark's generator follows dist_point_gen exactly.
 */
#ifndef UHOMA_TESTS_WORKLOAD_H
#define UHOMA_TESTS_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

struct nt_workload {
	size_t n;
	uint32_t *len;
	double *cdf;
};

/* Loads workload @name ("w1".."w5"); 0 on success. */
int nt_workload_load(struct nt_workload *w, const char *name);
void nt_workload_free(struct nt_workload *w);

/* A length drawn with the pseudo-random state @rng. */
uint32_t nt_workload_sample(const struct nt_workload *w, uint64_t *rng);

#endif /* UHOMA_TESTS_WORKLOAD_H */
