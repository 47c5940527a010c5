/*
 * twheel.h - a socket's timer wheel: each live RPC that has something to
 * time (a RESEND, a NEED_ACK, a timeout) waits in the slot of the tick it is
 * next due, so the timer visits only the RPCs due at each tick, not all of
 * them (homa-protocol.md §4.4 walks every RPC every tick; with 100,000 RPCs
 * that is the timer's whole core).
 *
 * Lazy deadlines: a packet that arrives for an RPC only records the tick
 * (rpc->silent_since, under the RPC lock); it never touches the wheel. The
 * RPC's slot is a lower bound: when the timer reaches it, it looks at the
 * RPC, decides what is due now from the elapsed silence, and puts it back
 * at the next tick anything could be due. An RPC with nothing to time (a
 * request the application is serving, a response waiting to be received)
 * leaves the wheel, and is armed again when it changes state.
 *
 * Locking: the wheel's lock (class "twheel", a leaf) guards the slots and
 * every RPC's timer_link and timer_slot. The RPC lock guards timer_due.
 * Arm and disarm run under the RPC lock (rank RPC, then the leaf). The
 * timer takes a slot's whole list under the wheel lock, marking each entry
 * UH_TW_WALK (the walker owns its link), then locks each RPC in turn with
 * the socket's protect count held (the reaper frees nothing meanwhile), as
 * every walk against the lock order does. An RPC armed or ended while the
 * walker owns it only updates timer_due / its state; the walker puts it
 * back or drops it.
 */
#ifndef UHOMA_CORE_TWHEEL_H
#define UHOMA_CORE_TWHEEL_H

#include <stdint.h>

#include "sync/lock.h"
#include "util/list.h"

struct uh_rpc;

#define UH_TW_SLOTS 1024     /* ticks in one turn (a power of two) */
#define UH_TW_NONE (-1)      /* timer_slot: not in the wheel */
#define UH_TW_WALK (-2)      /* timer_slot: on the walker's list */

struct uh_twheel {
	struct uh_lock lock;                 /* class twheel (leaf) */
	struct uh_list slot[UH_TW_SLOTS];    /* lock: RPCs due at ticks
					      * congruent to the index */
	uint64_t armed;                      /* lock: RPCs in the slots */
};

void uh_twheel_init(struct uh_twheel *w);

/* Makes @rpc due at tick @due (> 0), or earlier if it already is. RPC lock
 * held. */
void uh_twheel_arm(struct uh_twheel *w, struct uh_rpc *rpc, uint64_t due);

/* Takes @rpc out of the wheel (it ended). RPC lock held. */
void uh_twheel_disarm(struct uh_twheel *w, struct uh_rpc *rpc);

/* The timer: moves every RPC of tick @now's slot to @out (a list head),
 * each marked UH_TW_WALK; returns how many. */
unsigned uh_twheel_take(struct uh_twheel *w, uint64_t now,
			struct uh_list *out);

/* The timer, done with @rpc from its list (RPC lock held): back in the
 * wheel at rpc->timer_due if set, else out. */
void uh_twheel_put_back(struct uh_twheel *w, struct uh_rpc *rpc);

/* RPCs in the slots now (statistics, tests). */
uint64_t uh_twheel_armed(struct uh_twheel *w);

#endif /* UHOMA_CORE_TWHEEL_H */
