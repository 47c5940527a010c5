/*
 * workload.h - the applications on the hosts: open-loop Poisson message
 * generation, one socket per host, and the record of every message.
 *
 * Each host draws its messages' arrival times from a Poisson process of
 * rate load x (its link's rate in bytes/s) / (the mean message's wire
 * bytes): --load is the fraction of the link the messages' DATA packets
 * would keep busy, headers and framing included (a W1 message of 8 bytes
 * is 130 on the wire); control packets (grants, acks) come on top.
 * Lengths come from W1-W5, from the Linux module's "starve" (100 KB to
 * 1 MB) or are fixed; destinations are uniform over the other hosts.
 * Each host draws from its own generator, seeded from the run's seed and
 * its index. The run stops generating after --messages messages in all.
 *
 * Modes:
 *   oneway  the message is a request; it is complete when the receiver
 *           takes it (as the Homa paper measures one-way messages). Homa
 *           has only RPCs: the simulator then ends the RPC at both ends
 *           itself, with no response and no further packet.
 *   rpc     the receiver echoes the request's length back; the message is
 *           complete when the client takes the response. --load is the
 *           requests' alone: the echoes come on top, and the links carry
 *           about twice --load.
 *   incast  (incast:N,SIZE) rounds of N hosts each sending SIZE bytes to
 *           one receiver at the same instant; a round starts when the
 *           previous one has ended (each message complete or failed).
 *           --load is not used; --messages is taken in whole rounds.
 *
 * A message whose send fails (with --config sndbuf=N, a spent budget:
 * the open loop never waits) ends at once, failed, with the core's error.
 */
#ifndef UHOMA_SIM_WORKLOAD_H
#define UHOMA_SIM_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "dist.h"
#include "host.h"

enum sim_mode { SIM_ONEWAY, SIM_RPC };

struct sim_msg {
	uint64_t start_ps, done_ps;   /* done_ps: when it ended, if done */
	uint32_t len;
	uint32_t src, dst;
	int16_t error;                /* 0, or the RPC's error (UHOMA_ERR_*) */
	bool done;                    /* complete or failed (a send refused at
				       * time 0 ends at done_ps 0) */
};

struct sim_id_map;

struct sim_workload {
	struct sim_hosts *hosts;
	struct sim_engine *eng;
	struct uh_dist dist;
	enum sim_mode mode;
	double load;
	uint64_t seed;
	uint32_t incast_n, incast_size;  /* incast_n 0: Poisson */
	uint64_t max_msgs;
	uint64_t *rng;                /* [hosts]: each host's generator */
	double *mean_gap_ps;          /* [hosts] */
	struct sim_msg *msgs;
	uint64_t nmsgs;               /* generated so far */
	uint64_t ndone, nerrors;
	uint64_t last_start_ps;       /* the last message's generation */
	uint64_t drain_ps;            /* --drain-ms: the run ends at most
				       * this long after the last start */
	uint64_t incast_left;         /* messages of the round not done */
	bool in_rounds;               /* incast_rounds() is running */
	uint64_t incast_rng;
	struct sim_id_map *ids;       /* oneway: client RPC id -> message */
};

/*
 * Checks @workload ("w1".."w5", "starve", a length of 1 to
 * UHOMA_MAX_MESSAGE bytes in decimal, or "incast:N,SIZE" with
 * 1 <= N < @nhosts) and that @max_msgs holds one incast round at least.
 * *@mean_wire: the mean message's wire bytes (its DATA packets whole).
 * Returns 0, or -1 with a message naming the option in @err (@len bytes).
 */
int sim_workload_check(const char *workload, uint32_t nhosts,
		       uint64_t max_msgs, double *mean_wire, char *err,
		       size_t len);

/* Parses @workload (as sim_workload_check) and sets up @w for @max_msgs
 * messages. Returns 0, or -1 with a message on stderr. */
int sim_workload_init(struct sim_workload *w, const char *workload,
		      enum sim_mode mode, double load, uint64_t seed,
		      uint64_t max_msgs, uint32_t nhosts);
void sim_workload_free(struct sim_workload *w);

/* The application callback for sim_hosts_start (@app: the workload). */
void sim_workload_on_msg(void *app, struct sim_host *h,
			 const struct uhoma_msg *m, int rc);

/*
 * Schedules every host's first message on the running @hs (incast: starts
 * the first round). The workload also says when the run ends, as the
 * engine's stop_at: @drain_ps after the last message's start (incast:
 * each round's), or the instant the last message ends. Returns 0, or -1
 * if the engine failed (sim_engine_error says why).
 */
int sim_workload_start(struct sim_workload *w, struct sim_hosts *hs,
		       uint64_t drain_ps);

#endif /* UHOMA_SIM_WORKLOAD_H */
