/*
 * main.c - uhoma-sim: hundreds of hosts running the uhoma protocol core in
 * virtual time over a modelled fabric. See sim/README.md.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "sim.h"

/* One run, reported in full. Returns the exit status. */
static int one_run(const struct sim_opts *o, const char *csv,
		   const char *svg)
{
	struct sim s;
	int rc;

	if (sim_create(&s, o)) {
		sim_destroy(&s);
		return 1;
	}
	sim_run(&s);
	rc = sim_report(&s, stdout, csv, svg, NULL);
	sim_destroy(&s);
	return rc ? 1 : 0;
}

/* The --compare runs: each adds its configuration to the caller's. */
static const struct {
	const char *label, *config, *what;
} ablations[] = {
	{ "defaults", NULL, "Homa defaults" },
	{ "prio_off", "num_priorities=1", "priorities off" },
	{ "overcommit_1", "max_overcommit=1", "overcommit 1" },
	{ "unsched_min", "unsched_bytes=1", "unscheduled 1 packet" },
};
#define NABLATIONS (sizeof(ablations) / sizeof(ablations[0]))

/*
 * The ablations' configurations, each the caller's --config and its own
 * setting after it (the later wins), into @config (freed by the caller),
 * every one checked as a run of its own: a --config too long for a stack
 * with the setting added is refused up front, never cut short. Returns 0,
 * 1 (no memory) or 2 (a message on stderr).
 */
static int compare_configs(const struct sim_opts *base,
			   char *config[NABLATIONS])
{
	const char *mine = base->core_config;

	for (size_t k = 0; k < NABLATIONS; k++) {
		struct sim_opts o = *base;
		char err[512];
		size_t len;

		if (!ablations[k].config)
			continue;
		len = (mine ? strlen(mine) + 1 : 0) +
		      strlen(ablations[k].config) + 1;
		config[k] = malloc(len);
		if (!config[k]) {
			fprintf(stderr, "uhoma-sim: out of memory\n");
			return 1;
		}
		snprintf(config[k], len, "%s%s%s", mine ? mine : "",
			 mine ? "," : "", ablations[k].config);
		o.core_config = config[k];
		if (sim_opts_check(&o, err, sizeof(err))) {
			fprintf(stderr, "uhoma-sim: --compare, %s: %s\n",
				ablations[k].what, err);
			return 2;
		}
	}
	return 0;
}

/* Every ablation in turn, each reported in full, then one table, CSV and
 * plot for all and the defaults' SUMMARY last. Returns the exit status. */
static int compare_runs(const struct sim_opts *base, const char *csv,
		       const char *svg)
{
	static struct sim_result r[NABLATIONS];
	const char *labels[NABLATIONS];
	struct plot_series ps[NABLATIONS];
	char *config[NABLATIONS] = { NULL };
	int rc = compare_configs(base, config), failed = 0;

	for (size_t k = 0; k < NABLATIONS && !rc; k++) {
		struct sim_opts o = *base;
		struct sim s;

		labels[k] = ablations[k].label;
		if (config[k])
			o.core_config = config[k];
		printf("== %s (%s) ==\n", ablations[k].what,
		       o.core_config ? o.core_config : "no --config");
		if (sim_create(&s, &o)) {
			sim_destroy(&s);
			rc = 1;
			break;
		}
		sim_run(&s);
		if (sim_report(&s, stdout, NULL, NULL, &r[k]))
			failed = 1;
		sim_destroy(&s);
		ps[k] = (struct plot_series){ ablations[k].what, r[k].b,
					      r[k].nb };
		printf("\n");
	}
	for (size_t k = 0; k < NABLATIONS; k++)
		free(config[k]);
	if (rc)
		return rc;
	printf("== compared: %s %s load %g seed %llu ==\n", base->topology,
	       base->workload, base->load, (unsigned long long)base->seed);
	/* median_bucket_p50: the P50 slowdown of the middle bucket by
	 * length, standing for the median message (not a P50 of all). */
	printf("%-22s %12s %18s %12s %10s %10s\n", "run", "short_p99",
	       "median_bucket_p50", "largest_p99", "sustained", "granted");
	for (size_t k = 0; k < NABLATIONS; k++) {
		const struct sim_result *x = &r[k];
		double p50 = 0;

		if (x->nb)
			p50 = x->b[x->nb / 2].s50;
		printf("%-22s %12.2f %18.2f %12.2f %10.3f %10.2f\n",
		       ablations[k].what, x->short_p99, p50,
		       x->nb ? x->b[x->nb - 1].s99 : 0, x->sustained,
		       x->mean_active);
	}
	if (csv && sim_write_csv(csv, labels, r, NABLATIONS))
		failed = 1;
	if (svg) {
		char title[160];

		snprintf(title, sizeof(title), "uhoma-sim %s %s load %g",
			 base->topology, base->workload, base->load);
		if (plot_svg(svg, title, ps, NABLATIONS))
			failed = 1;
	}
	printf("SUMMARY short_p99_slowdown=%.2f sustained=%.3f "
	       "pkts_per_s=%.0f\n", r[0].short_p99, r[0].sustained,
	       r[0].pkts_per_s);
	return failed;
}

int main(int argc, char **argv)
{
	struct sim_cli cli;
	char err[512];
	int rc = sim_cli_parse(&cli, argc, argv, stdout, stderr);

	if (rc || cli.help)
		return rc;
	/* Everything that depends on several options, before anything is
	 * built: a bad option is exit 2, with what is wrong. */
	if (sim_opts_check(&cli.o, err, sizeof(err))) {
		fprintf(stderr, "uhoma-sim: %s\n", err);
		return 2;
	}
	return cli.compare ? compare_runs(&cli.o, cli.csv, cli.svg)
			   : one_run(&cli.o, cli.csv, cli.svg);
}
