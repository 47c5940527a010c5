/*
 * workload.c - see workload.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "workload.h"

int nt_workload_load(struct nt_workload *w, const char *name)
{
	char line[256], path[512];
	FILE *f;
	size_t cap = 0;
	double total = 0, acc = 0;
	double *weight = NULL;

	snprintf(path, sizeof(path), "%s/tests/data/w1-w5.csv",
		 UHOMA_SOURCE_DIR);
	f = fopen(path, "r");
	if (!f)
		return -1;
	memset(w, 0, sizeof(*w));
	while (fgets(line, sizeof(line), f)) {
		char wl[16];
		unsigned long len;
		double wt;

		if (sscanf(line, "%15[^,],%lu,%lf", wl, &len, &wt) != 3 ||
		    strcmp(wl, name) != 0)
			continue;
		if (w->n == cap) {
			cap = cap ? cap * 2 : 256;
			w->len = realloc(w->len, cap * sizeof(*w->len));
			weight = realloc(weight, cap * sizeof(*weight));
		}
		w->len[w->n] = len > 1000000 ? 1000000 : (uint32_t)len;
		weight[w->n++] = wt;
		total += wt;
	}
	fclose(f);
	if (w->n == 0) {
		free(weight);
		return -1;
	}
	w->cdf = malloc(w->n * sizeof(*w->cdf));
	for (size_t i = 0; i < w->n; i++) {
		acc += weight[i] / total;
		w->cdf[i] = acc;
	}
	w->cdf[w->n - 1] = 1.0;
	free(weight);
	return 0;
}

void nt_workload_free(struct nt_workload *w)
{
	free(w->len);
	free(w->cdf);
}

uint32_t nt_workload_sample(const struct nt_workload *w, uint64_t *rng)
{
	double u = (double)(uh_test_rand(rng) >> 11) / 9007199254740992.0;
	size_t lo = 0, hi = w->n - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (w->cdf[mid] >= u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return w->len[lo] ? w->len[lo] : 1;
}
