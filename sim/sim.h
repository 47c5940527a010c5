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
 * has arrived, plus every link's propagation. */
uint64_t sim_ideal_ps(const struct sim_net *net, uint32_t src, uint32_t dst,
		      uint32_t len);

/* Reports: the table and the downlinks (to @out), the CSV and SVG (NULL:
 * none), the SUMMARY line last. Returns 0 or -1 (a file failed). */
int sim_report(struct sim *s, FILE *out, const char *csv, const char *svg);

#endif /* UHOMA_SIM_SIM_H */
