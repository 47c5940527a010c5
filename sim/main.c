/*
 * main.c - uhoma-sim: hundreds of hosts running the uhoma protocol core in
 * virtual time over a modelled fabric. See sim/README.md.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "sim.h"

/* One run, reported in full into @csv and @svg (NULL: none). Returns 0,
 * 1 if the report failed (a message on stderr), or -1 if the run could
 * not be set up or failed (a message on stderr; nothing reported). */
static int one_run(const struct sim_opts *o, struct sim_file *csv,
		   struct sim_file *svg)
{
	struct sim s;
	int rc;

	if (sim_create(&s, o) || sim_run(&s)) {
		sim_destroy(&s);
		return -1;
	}
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

/* Every ablation in turn, each with its @config (compare_configs),
 * reported in full, then one table, CSV and plot for all and the
 * defaults' SUMMARY last. Returns as one_run. */
static int compare_runs(const struct sim_opts *base,
			char *const config[NABLATIONS], struct sim_file *csv,
			struct sim_file *svg)
{
	static struct sim_result r[NABLATIONS];
	const char *labels[NABLATIONS];
	struct plot_series ps[NABLATIONS];
	int failed = 0;
	char load[32];

	for (size_t k = 0; k < NABLATIONS; k++) {
		struct sim_opts o = *base;
		struct sim s;

		labels[k] = ablations[k].label;
		if (config[k])
			o.core_config = config[k];
		printf("== %s (%s) ==\n", ablations[k].what,
		       o.core_config ? o.core_config : "no --config");
		if (sim_create(&s, &o) || sim_run(&s)) {
			sim_destroy(&s);
			return -1;
		}
		if (sim_report(&s, stdout, NULL, NULL, &r[k]))
			failed = 1;
		sim_destroy(&s);
		ps[k] = (struct plot_series){ ablations[k].what, r[k].b,
					      r[k].nb };
		printf("\n");
	}
	sim_load_label(base, load, sizeof(load));
	printf("== compared: %s %s%s seed %llu ==\n", base->topology,
	       base->workload, load, (unsigned long long)base->seed);
	/* median_bucket_p50: the P50 slowdown of the middle bucket by
	 * length, standing for the median message (not a P50 of all). */
	printf("%-22s %12s %18s %12s %10s %10s\n", "run", "short_p99",
	       "median_bucket_p50", "largest_p99", "sustained", "granted");
	for (size_t k = 0; k < NABLATIONS; k++) {
		const struct sim_result *x = &r[k];
		double p50 = -1;     /* nothing measured: as short_p99 */

		if (x->nb)
			p50 = x->b[x->nb / 2].s50;
		printf("%-22s %12.2f %18.2f %12.2f %10.3f %10.2f\n",
		       ablations[k].what, x->short_p99, p50,
		       x->nb ? x->b[x->nb - 1].s99 : -1, x->sustained,
		       x->mean_active);
	}
	if (csv && sim_write_csv(csv, labels, r, NABLATIONS))
		failed = 1;
	if (svg) {
		char title[160];

		snprintf(title, sizeof(title), "uhoma-sim %s %s%s",
			 base->topology, base->workload, load);
		if (sim_write_svg(svg, title, ps, NABLATIONS))
			failed = 1;
	}
	printf("SUMMARY short_p99_slowdown=%.2f sustained=%.3f "
	       "pkts_per_s=%.0f\n", r[0].short_p99, r[0].sustained,
	       r[0].pkts_per_s);
	return failed;
}

/* Whether all of the report reached standard output. Returns 0, or 1
 * (the exit status) with the reason on stderr. */
static int stdout_written(void)
{
	errno = 0;
	if (!fflush(stdout) && !ferror(stdout))
		return 0;
	fprintf(stderr, "uhoma-sim: standard output: %s\n",
		errno ? strerror(errno) : "a write failed");
	return 1;
}

int main(int argc, char **argv)
{
	struct sim_cli cli;
	struct sim_file csv = { 0 }, svg = { 0 };
	char *config[NABLATIONS] = { NULL };
	char err[512];
	int rc = sim_cli_parse(&cli, argc, argv, stdout, stderr);

	if (rc)
		return rc;
	if (cli.help)
		return stdout_written();
	/* Everything that depends on several options, before anything is
	 * built: a bad option is exit 2, with what is wrong, and no file
	 * made. */
	if (sim_opts_check(&cli.o, err, sizeof(err))) {
		fprintf(stderr, "uhoma-sim: %s\n", err);
		return 2;
	}
	if (cli.compare) {
		rc = compare_configs(&cli.o, config);
		if (rc)
			goto out;
	}
	/* The files, before the run: a path that cannot be written is
	 * known now, not after an hour of simulation. */
	rc = 1;
	if (cli.csv && sim_file_open(&csv, cli.csv))
		goto out;
	if (cli.svg && sim_file_open(&svg, cli.svg)) {
		sim_file_discard(&csv);
		goto out;
	}
	rc = cli.compare ? compare_runs(&cli.o, config,
					cli.csv ? &csv : NULL,
					cli.svg ? &svg : NULL)
			 : one_run(&cli.o, cli.csv ? &csv : NULL,
				   cli.svg ? &svg : NULL);
	if (rc < 0) {
		/* Nothing to write: no file of the failed run's left. */
		sim_file_discard(&csv);
		sim_file_discard(&svg);
		stdout_written();
		rc = 1;
		goto out;
	}
	/* Every file closed and checked, each failure said. */
	if (sim_file_close(&csv))
		rc = 1;
	if (sim_file_close(&svg))
		rc = 1;
	if (stdout_written())
		rc = 1;
	if (rc) {
		/* One output failed: the run failed, and leaves no file it
		 * made (the other one's, written in full, goes too). */
		sim_file_discard(&csv);
		sim_file_discard(&svg);
	}
out:
	for (size_t k = 0; k < NABLATIONS; k++)
		free(config[k]);
	return rc;
}
