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

/* What the options may be (sim_opts_check; the command line's parsers
 * take the same ranges). */
#define SIM_MIN_LOAD 1e-4            /* below it, hours of idle ticks */
#define SIM_MAX_LOAD 1.5
#define SIM_MAX_MESSAGES 100000000ull  /* 32 bytes each, all kept */
#define SIM_MAX_PROP_NS 1000000000ull  /* a second */
#define SIM_MAX_DRAIN_MS 1000000ull
#define SIM_MIN_BUFFER 1538ull       /* one full packet on the wire */
#define SIM_MAX_BUFFER (1ull << 40)
/* The most timer ticks (hosts x simulated time / tick_us) a run may take:
 * each costs a call into a core, and a run of tiny load or rate would
 * tick for hours between its messages. The simulated time counted is the
 * most the run may last: the messages' generation and the whole drain
 * after it (sim_opts_check). */
#define SIM_MAX_TICKS 200000000.0
/*
 * Memory, for the check that a run fits in the machine's (sim_opts_check).
 * A message's record and the report's entry for it, allocated up front;
 * a message still in flight when the run stops, a client RPC at its
 * sender and its id (measured: rack:2, load 1.5, 1-byte to 100 KB
 * messages, 5-6 KB each); a host's stack, socket and pool (measured:
 * rack:4000, 86 KB a host); the buffer region all hosts share.
 */
#define SIM_REPORT_MSG_BYTES 24      /* report.c's struct done */
#define SIM_IN_FLIGHT_BYTES 5120.0
#define SIM_HOST_BYTES 90000.0
/* Fewer messages than this starting after the warmup, or bytes offered in
 * that window fewer than SIM_SUSTAINED_RATIO times the backlog it starts
 * with or than the bytes the idle fabric would still hold at its end, and
 * sustained says nothing (-1): a window of one or two messages measures
 * their lengths, one that a draining backlog outweighs reads far above 1,
 * and one shorter than its messages' own transit reads them in flight as
 * the fabric falling behind. */
#define SIM_SUSTAINED_MIN 100
#define SIM_SUSTAINED_RATIO 10

struct sim_opts {
	const char *topology;        /* "rack:N", "fabric:RxH" */
	const char *workload;        /* "w1".."w5", "starve", a length,
				      * incast:N,SIZE */
	enum sim_mode mode;
	double load;                 /* fraction of the host link */
	uint64_t seed;
	uint64_t messages;
	double warmup;               /* leading fraction left out of stats */
	uint64_t drain_us;           /* after the last message starts, at
				      * most this long for the rest
				      * (--drain-ms; 200 ms) */
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

/*
 * Whether @o makes a run: every field in its range, the topology and the
 * workload well formed and fitting each other (an incast round within the
 * hosts and --messages), the stacks' configuration accepted
 * (sim_hosts_config), the run taking at most SIM_MAX_TICKS ticks however
 * long its messages take (the drain counted whole), and its memory --
 * the messages' records, what a load the links cannot carry leaves in
 * flight, the hosts and the fabric's ports -- within the machine's
 * physical memory. Returns 0, or -1 with what is wrong, naming the
 * option, in @err (@len bytes). Builds nothing.
 */
int sim_opts_check(const struct sim_opts *o, char *err, size_t len);

/* Builds everything for @o (sim_opts_check first). Returns 0, or -1 (a
 * message on stderr); on failure as on success, sim_destroy frees what
 * there is. */
int sim_create(struct sim *s, const struct sim_opts *o);
void sim_destroy(struct sim *s);

/* Runs the workload to its end: the instant every message has ended; or
 * no incast round in flight and no whole one left to start; or, once no
 * more will be generated (incast: from each round's start), exactly
 * drain_us after the last one started. Always ends: messages are finite,
 * and so is the drain. Returns 0, or -1 if the engine failed (its event
 * queue full, or memory short): the reason is on stderr, and the run is
 * not fit to report. */
int sim_run(struct sim *s);

/* " load F" for a run's name (headers, titles), or "" for incast, which
 * --load does not drive; into @buf (@len bytes). */
const char *sim_load_label(const struct sim_opts *o, char *buf, size_t len);

/* The completion time, in ps, of a message of @len bytes from @src to @dst
 * alone on the idle fabric: its packets back to back from the sender,
 * each serialized on each hop once the hop is free and the whole packet
 * has arrived, plus every link's latency (propagation and the fixed
 * delays of switches, hosts and NICs: topo.h); across racks each packet
 * passes the spines unhindered by the others (with one spine, in turn),
 * and the last hop sends them as they arrive. Each serialization is rounded down to the
 * picosecond (sim_ser_ps), never more than the model takes. */
uint64_t sim_ideal_ps(const struct sim_net *net, uint32_t src, uint32_t dst,
		      uint32_t len);

#define SIM_NBUCKETS 10

/* What a run measured (sim_results). */
struct sim_result {
	struct bucket b[SIM_NBUCKETS];  /* by length, about equal counts */
	size_t nb;
	size_t measured;             /* messages in the percentiles */
	uint64_t failed;             /* messages that ended in an error */
	uint64_t in_flight;          /* neither complete nor failed when the
				      * run stopped (--drain-ms) */
	double short_p99;            /* P99 slowdown, one-packet messages;
				      * -1 when no message was measured */
	/* Offered load met: bytes completed over bytes offered between the
	 * end of the warmup and the last message's start, that is 1 - (the
	 * growth of the backlog) / (bytes offered); backlog = the lengths of
	 * the messages started and not yet complete (a failed message never
	 * is). -1 when the window is too short to say (SIM_SUSTAINED_MIN,
	 * _RATIO: also against the idle fabric's backlog at its end), and for
	 * incast, where it would be 1 by construction (a round starts when
	 * the last has ended: nothing is offered that the fabric has not
	 * taken). */
	double sustained;
	double backlog_start, backlog_end;   /* bytes */
	double ideal_backlog_start, ideal_backlog_end; /* the idle fabric's */
	/* The same for the SRPT reference (reference.h) on the same
	 * arrivals: what a perfect receiver makes of them. -1 where
	 * sustained is, and for RPCs (their responses' starts are the
	 * run's). */
	double sustained_ref;
	double ref_backlog_start, ref_backlog_end;
	/* The same for the matching reference (reference.h): senders'
	 * uplinks count too. */
	double sustained_match;
	double match_backlog_start, match_backlog_end;
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

/*
 * A file the report writes (--csv, --svg). Opened -- created or truncated
 * -- before the run, so that a path that cannot be written fails at once,
 * not after the simulation; every write checked, and closing says whether
 * all of it reached the file.
 */
struct sim_file {
	const char *path;
	FILE *f;
	int err;                     /* the first write's errno, or 0 */
	bool made;                   /* there was no such file before */
};

/* Opens @path for writing into @sf. Returns 0, or -1 with
 * "uhoma-sim: PATH: reason" on stderr. */
int sim_file_open(struct sim_file *sf, const char *path);
/* Flushes and closes @sf (opened or not). Returns 0, or -1 with
 * "uhoma-sim: PATH: reason" on stderr if any write failed. */
int sim_file_close(struct sim_file *sf);
/* Closes @sf (opened, closed already, or never opened) for a run that
 * failed: the file is removed if the open made it, so that a failed run
 * leaves none behind. */
void sim_file_discard(struct sim_file *sf);

/* Reports: the table, the busiest links, the cores' counters (to @out),
 * the CSV and SVG into @csv and @svg (NULL: none), the SUMMARY line last;
 * @r (may be NULL) gets the results. Returns 0, or -1: no memory (a
 * message on stderr), or a write to @csv or @svg failed (sim_file_close
 * says why). @out is the caller's to check. */
int sim_report(struct sim *s, FILE *out, struct sim_file *csv,
	       struct sim_file *svg, struct sim_result *r);

/* Writes @n runs' buckets as one CSV into @f, a row per bucket, the first
 * column the run's @label. Returns 0, or -1 if a write failed
 * (sim_file_close says why). */
int sim_write_csv(struct sim_file *f, const char *const *label,
		  const struct sim_result *r, size_t n);

/* Writes plot_svg's figure of @ns series, titled @title, into @f. Returns
 * 0, or -1: the figure could not be drawn (a message on stderr), or a
 * write failed (sim_file_close says why). */
int sim_write_svg(struct sim_file *f, const char *title,
		  const struct plot_series *ps, size_t ns);

#endif /* UHOMA_SIM_SIM_H */
