/*
 * pacer.h - sender-side scheduling (homa-protocol.md §4.3).
 *
 * The pacer keeps the transmit backlog -- an estimate of when the link
 * would drain what was handed to it (link_idle_ns) -- under
 * max_nic_backlog_us at link_mbps, so that a later short message is not
 * stuck behind a long queue of earlier bytes. Any thread may transmit
 * while the backlog is short: uh_pacer_admit() advances the estimate with
 * a compare-and-swap and says yes. Otherwise the message is throttled: it
 * joins the throttled set and a pacer thread (or, without threads, the
 * tick) sends it when the backlog drains. Messages with at most
 * defer_min_bytes left are never throttled.
 *
 * The throttled set is SRPT-ordered on bytes left to send, in buckets of
 * 1/8 octave (eight buckets per power of two) with a bitmap of non-empty
 * buckets: inserting costs a scan of one short bucket, finding the best a
 * few bit operations -- never a scan of every throttled message, the
 * failure measured in the kernel module (a single-lock, linearly scanned
 * list cut throughput tenfold). A pacer_fifo_fraction share of sends goes
 * to the oldest throttled message instead, so long messages cannot starve.
 *
 * Locking: the throttle lock (a priority-inheritance lock, because the
 * pacer thread may run SCHED_FIFO and wait for it behind an ordinary
 * thread) ranks after RPC and socket locks and is a leaf; it protects the
 * buckets and each RPC's throttle_* fields. A throttled RPC holds a
 * reference owned by the set; uh_pacer_pop() hands it to the caller.
 */
#ifndef UHOMA_CORE_PACER_H
#define UHOMA_CORE_PACER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sync/pi_lock.h"
#include "sync/wait.h"
#include "util/list.h"

struct uhoma_stack;
struct uh_rpc;

#define UH_PACER_BUCKETS 160

struct uh_pacer {
	_Atomic uint64_t link_idle_ns;   /* CAS: when the link drains */
	uint64_t ps_per_byte;            /* immutable: 0 = no pacing */
	uint64_t max_backlog_ns;         /* immutable */
	uint32_t wire_overhead;          /* immutable: bytes per packet the
					  * link adds (headers, framing) */
	uint64_t (*now)(void);           /* immutable: the clock (tests mock) */
	struct uh_pi_lock lock;          /* class throttle */
	struct uh_list bucket[UH_PACER_BUCKETS]; /* throttle lock */
	uint64_t bitmap[(UH_PACER_BUCKETS + 63) / 64]; /* throttle lock */
	_Atomic uint32_t num_throttled;  /* written under the throttle lock */
	int fifo_count;                  /* throttle lock */
	_Atomic uint64_t births;         /* ages of throttled messages */
	struct uh_wait wait;             /* the pacer thread sleeps here */
};

/* Sets up st->pacer for @link_mbps (0: no pacing) with clock @now. */
void uh_pacer_init(struct uhoma_stack *st, uint32_t link_mbps,
		   uint64_t (*now)(void));

/* Whether a packet of @wire_bytes may go now; if so (or if @force) it is
 * added to the backlog. Lock-free. */
bool uh_pacer_admit(struct uhoma_stack *st, uint32_t wire_bytes, bool force);

/* Nanoseconds until the backlog is short enough for the next packet. */
uint64_t uh_pacer_delay_ns(struct uhoma_stack *st);

/* Adds @rpc (locked) to the throttled set (no-op if there) and wakes the
 * pacer. */
void uh_pacer_throttle(struct uh_rpc *rpc);

/* Takes @rpc (locked) out of the throttled set if it is there. */
void uh_pacer_remove(struct uh_rpc *rpc);

/* Removes and returns the message to send next -- the fewest bytes left,
 * or the oldest for the FIFO share -- with the set's reference, which the
 * caller now owns; NULL if none is throttled. */
struct uh_rpc *uh_pacer_pop(struct uhoma_stack *st);

/* The pacer's work: sends throttled messages while the backlog allows.
 * Returns 0 if nothing is left throttled, else how long to wait (ns)
 * before calling again. No lock may be held. */
uint64_t uh_pacer_run(struct uhoma_stack *st);

/* How many messages are throttled (a racy snapshot). */
uint32_t uh_pacer_throttled(struct uhoma_stack *st);

#endif /* UHOMA_CORE_PACER_H */
