/*
 * reference.h - what a perfect scheduler makes of the same arrivals.
 *
 * "sustained" (sim.h) reads below 1 in any finite run, because a
 * heavy-tailed workload's backlog takes long to settle. To tell how much
 * of the shortfall is the protocol's, the report also runs the run's own
 * messages -- the same starts, lengths and receivers -- through an ideal:
 * each receiver's downlink a single preemptive SRPT server of the
 * message's wire bytes (every DATA packet with its headers and framing,
 * sim_wire_bytes) at the host rate, from the instant the message starts.
 * No sender's uplink, no latency, no grants, no loss: no schedule of the
 * model delivers all of a receiver's bytes sooner, and SRPT leaves the
 * fewest messages unfinished. Its backlog is the one a work-conserving
 * receiver cannot avoid; the difference from the run's is bandwidth the
 * run left idle or spent on the wrong message.
 */
#ifndef UHOMA_SIM_REFERENCE_H
#define UHOMA_SIM_REFERENCE_H

#include <stdint.h>

struct sim_workload;

/* The bytes of DATA packets, with every per-packet overhead, that carry a
 * message of @len bytes (at least one packet). */
uint64_t sim_msg_wire_bytes(uint32_t len);

/*
 * Fills @done (w->nmsgs entries) with when each message of @w ends at a
 * receiver of @mbps running SRPT alone (above), in ps since time 0.
 * Returns 0, or -1 if memory ran out.
 */
int sim_srpt_reference(const struct sim_workload *w, uint32_t nhosts,
		       uint32_t mbps, uint64_t *done);

#endif
