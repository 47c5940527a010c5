/*
 * sim.h - one simulation: a fabric (net.h, topo.h), a uhoma core on every
 * host (host.h), a workload (workload.h), run in virtual time (engine.h)
 * and reported (report.c). uhoma-sim (main.c) and tests/sim drive it.
 */
#ifndef UHOMA_SIM_SIM_H
#define UHOMA_SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench.h"
#include "engine.h"
#include "host.h"
#include "net.h"
#include "topo.h"
#include "workload.h"

struct sim_opts {
	const char *topology;        /* "rack:N", "fabric:RxH" */
	const char *workload;        /* "w1".."w5", a length, incast:N,SIZE */
	enum sim_mode mode;
	double load;                 /* fraction of the host link */
	uint64_t seed;
	uint64_t messages;
	double warmup;               /* leading fraction left out of stats */
	uint64_t drain_us;           /* after the last message starts, at
				      * most this long for the rest */
	const char *core_config;     /* "key=value,..." for every stack */
	struct sim_topo_opts topo;
	bool quiet;                  /* no progress line */
};

struct sim {
	struct sim_opts o;
	struct sim_engine eng;
	struct sim_net net;
	struct sim_hosts hosts;
	struct sim_workload w;
	double wall_s;               /* wall-clock seconds of sim_run */
};

void sim_opts_default(struct sim_opts *o);

/* Builds everything for @o. Returns 0, or -1 (a message on stderr); on
 * failure as on success, sim_destroy frees what there is. */
int sim_create(struct sim *s, const struct sim_opts *o);
void sim_destroy(struct sim *s);

/* Runs the workload to its end: every message complete, or drain_us after
 * the last one started. */
void sim_run(struct sim *s);

/* The completion time, in ps, of a message of @len bytes from @src to @dst
 * alone on the idle fabric: its packets back to back from the sender,
 * each serialized on each hop once the hop is free and the whole packet
 * has arrived, plus every link's propagation; across racks the packets
 * take the spines in turn (the best spraying can do), and the last hop
 * sends them as they arrive. */
uint64_t sim_ideal_ps(const struct sim_net *net, uint32_t src, uint32_t dst,
		      uint32_t len);

#define SIM_NBUCKETS 10

/* What a run measured (sim_results). */
struct sim_result {
	struct bucket b[SIM_NBUCKETS];  /* by length, about equal counts */
	size_t nb;
	size_t measured;             /* messages in the percentiles */
	double short_p99;            /* P99 slowdown, one-packet messages */
	/* Offered load met: bytes completed over bytes offered between the
	 * end of the warmup and the last message's start, that is 1 - (the
	 * growth of the backlog) / (bytes offered); backlog = bytes offered
	 * and not yet delivered. */
	double sustained;
	double backlog_start, backlog_end;   /* bytes */
	uint64_t faster;             /* messages faster than the idle fabric
				      * allows: a model error if not 0 */
	double pkts_per_s;           /* packet deliveries per wall second */
	double downlink_util;        /* the busiest downlink's */
	uint64_t max_switch_buf;     /* bytes, the most of any switch */
	uint32_t max_active;         /* most messages one receiver granted
				      * to at once */
	double mean_active;          /* mean over receivers' granting time */
};

/* Computes @r for the run @s has finished. Returns 0 or -1 (memory). */
int sim_results(struct sim *s, struct sim_result *r);

/* Reports: the table, the busiest links, the cores' counters (to @out),
 * the CSV and SVG (NULL: none), the SUMMARY line last; @r (may be NULL)
 * gets the results. Returns 0 or -1 (a file failed). */
int sim_report(struct sim *s, FILE *out, const char *csv, const char *svg,
	       struct sim_result *r);

/* Writes @n runs' buckets as one CSV, a row per bucket, the first column
 * the run's @label. Returns 0 or -1. */
int sim_write_csv(const char *path, const char *const *label,
		  const struct sim_result *r, size_t n);

#endif /* UHOMA_SIM_SIM_H */
