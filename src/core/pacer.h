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
 * The throttled set is SRPT-ordered on bytes left to send (ties: the
 * older), a pairing heap (util/pheap.h): inserting costs O(1), taking the
 * best O(log n) -- never a scan of the throttled messages, the failure
 * measured in the kernel module (a single-lock, linearly scanned list cut
 * throughput tenfold). A pacer_fifo_fraction share of sends goes to the
 * oldest throttled message instead, so long messages cannot starve: the
 * root of a second heap, on age. (Until 2026-12-07 the SRPT order was
 * buckets of 1/8 octave, each a sorted list that an insert walked -- all
 * of it for a message the size of thousands of others -- and the FIFO
 * share walked every message.)
 *
 * A second set of the same kind holds deferred messages: granted data
 * that an application thread's poll left for later (outgoing.h, "transmit
 * deferral"). The polling threads send those a slice at a time between
 * their receives (uh_pacer_send_slice); the pacer thread never wakes for
 * them. A deferred message whose packet the backlog does not admit moves
 * to the throttled set.
 *
 * Locking: the throttle lock (a priority-inheritance lock, because the
 * pacer thread may run SCHED_FIFO and wait for it behind an ordinary
 * thread) ranks after RPC and socket locks and is a leaf; it protects both
 * sets and each RPC's throttle_* fields. A queued RPC holds a reference
 * owned by its set; uh_pacer_pop() hands it to the caller.
 */
#ifndef UHOMA_CORE_PACER_H
#define UHOMA_CORE_PACER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sync/pi_lock.h"
#include "sync/wait.h"
#include "util/list.h"
#include "util/pheap.h"

struct uhoma_stack;
struct uh_rpc;

/* A set of messages in SRPT order (bytes left to send), with a FIFO
 * share; all fields under the throttle lock. */
struct uh_txq {
	struct uh_pheap srpt;            /* by throttle_key, then birth */
	struct uh_pheap age;             /* the same messages by throttle_birth:
					  * the FIFO share's oldest at the root */
	_Atomic uint32_t num;            /* read racily without the lock */
	int fifo_count;
};

struct uh_pacer {
	_Atomic uint64_t link_idle_ns;   /* CAS: when the link drains */
	uint64_t ps_per_byte;            /* immutable: 0 = no pacing */
	uint64_t max_backlog_ns;         /* immutable */
	uint32_t wire_overhead;          /* immutable: bytes per packet the
					  * link adds (headers, framing) */
	uint64_t (*now)(void);           /* immutable: the clock (tests mock) */
	struct uh_pi_lock lock;          /* class throttle */
	struct uh_txq throttled;         /* throttle lock: the pacer's */
	struct uh_txq deferred;          /* throttle lock: the pollers' */
	_Atomic uint64_t births;         /* ages of queued messages */
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

/* Adds @rpc (locked) to the deferred set (no-op if it is in either set):
 * an application thread's poll left its granted data for later. */
void uh_pacer_defer(struct uh_rpc *rpc);

/*
 * What a polling thread sends of deferred data between two receives: two
 * 64 KB loopback datagrams, ~20 us of system calls on the project's VM.
 * Measured on loopback (bench/README.md): a slice of one datagram cost a
 * tenth of bulk throughput (a receive per datagram), two cost none
 * measurable, and a short message waits for at most one slice.
 */
#define UH_TX_SLICE (128u * 1024)

/* Sends a slice (whole packets up to UH_TX_SLICE bytes) of the deferred
 * message that goes next (SRPT, or the oldest for the FIFO share); it
 * stays deferred while granted bytes remain. False if nothing was
 * deferred. No lock may be held. */
bool uh_pacer_send_slice(struct uhoma_stack *st);

/* Sends every deferred message's granted bytes now (as far as the backlog
 * admits; the rest is throttled). No lock may be held. */
void uh_pacer_flush_deferred(struct uhoma_stack *st);

/* Takes @rpc (locked) out of the set it is in, if any. */
void uh_pacer_remove(struct uh_rpc *rpc);

/* Removes and returns the message to send next -- the fewest bytes left,
 * or the oldest for the FIFO share -- with the set's reference, which the
 * caller now owns; NULL if none is throttled. */
struct uh_rpc *uh_pacer_pop(struct uhoma_stack *st);

/* The pacer's work: sends throttled messages while the backlog allows.
 * Returns 0 if nothing is left throttled, else how long to wait (ns)
 * before calling again. No lock may be held. */
uint64_t uh_pacer_run(struct uhoma_stack *st);

/* How many messages are throttled, deferred (racy snapshots). */
uint32_t uh_pacer_throttled(struct uhoma_stack *st);
uint32_t uh_pacer_deferred(struct uhoma_stack *st);

#endif /* UHOMA_CORE_PACER_H */
