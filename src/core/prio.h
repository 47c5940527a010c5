/*
 * prio.h - network priorities (homa-protocol.md §1.7, §4.1).
 *
 * The receiver decides which priority each sender uses for unscheduled
 * bytes: its cutoff table (entry i = the longest message sent at priority
 * i) goes to senders in CUTOFFS packets, with a version that every DATA
 * packet echoes; a DATA packet with a stale version draws a new CUTOFFS,
 * at most once per tick per peer. Senders keep each peer's table under the
 * peer's seqlock: read on every message, written only by CUTOFFS.
 * Scheduled bytes use the priority of the last GRANT (0..max_sched_prio;
 * a FIFO-share grant the second-highest level, as in the module); control
 * packets the highest priority.
 */
#ifndef UHOMA_CORE_PRIO_H
#define UHOMA_CORE_PRIO_H

#include <stdint.h>

#include "core/wire.h"

struct uhoma_stack;
struct uh_peer;
struct uh_deferred;
struct uh_addr;

/* What a peer told us (or the defaults until it does). */
struct uh_cutoffs {
	uint32_t cutoff[UH_MAX_PRIORITIES];
	uint16_t version;
};

/* Fills st->cutoffs (this stack's table as a receiver). */
void uh_prio_init(struct uhoma_stack *st);

/* The highest priority for scheduled bytes under st's table. */
uint8_t uh_prio_max_sched(const struct uhoma_stack *st);

/* The lowest priority of the urgent receive lane (carrier.h): the levels
 * above the one the longest messages' unscheduled bytes travel at. */
uint8_t uh_prio_urgent(const struct uhoma_stack *st);

/* Control packets. */
uint8_t uh_prio_ctl(const struct uhoma_stack *st);

/* A sender's table for a peer that has not sent CUTOFFS yet. */
void uh_prio_peer_default(struct uh_cutoffs *c);

/* The unscheduled priority for a @length-byte message to @peer, and the
 * cutoff version to put in its DATA packets. Lock-free (seqlock read). */
uint8_t uh_prio_unsched(const struct uhoma_stack *st, struct uh_peer *peer,
			uint32_t length, uint16_t *version);

/* A CUTOFFS packet @h arrived from @peer: remember its table. */
void uh_prio_store(struct uh_peer *peer, const struct uh_hdr *h);

/* DATA @h from @src carried cutoff version @h->u.data.cutoff_version:
 * queue a CUTOFFS in @p if it is stale (rate-limited per peer). */
void uh_prio_check_version(struct uhoma_stack *st, const struct uh_hdr *h,
			   const struct uh_addr *src, struct uh_deferred *p);

#endif /* UHOMA_CORE_PRIO_H */
