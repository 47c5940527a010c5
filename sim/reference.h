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

/*
 * The same messages through an ideal that also respects the senders: at
 * every arrival and completion, the messages are matched to links by
 * greedy SRPT (the shortest message whose sender's uplink and receiver's
 * downlink are both free takes them both, and so on down the list -- the
 * "ideal" of pFabric and of the Homa paper's discussion), each served one
 * moving at the host rate, all others waiting. Still no latency, grants
 * or loss; it is not optimal (no greedy matching is), but it is what an
 * omniscient SRPT scheduler does when a host sends one message at a time
 * at line rate. Fills @done as above, for messages that end by @until;
 * the others read UINT64_MAX. Returns 0, or -1 if memory ran out.
 */
int sim_matching_reference(const struct sim_workload *w, uint32_t nhosts,
			   uint32_t mbps, uint64_t until, uint64_t *done);

#endif
