/*
 * rcu.h - RCU for uhoma: liburcu's "memb" flavor behind a thin layer, so the
 * rest of the code reads like the seeds (read lock/unlock, dereference,
 * assign, synchronize, call_rcu) and the validator sees every read section.
 *
 * Why memb (docs/design.md, "RCU"): its readers cost a thread-local counter
 * update and compiler barriers; the cost is on the updater (membarrier(2)),
 * and uhoma's RCU updates (socket bind/close, peer creation) are rare.
 * qsbr would be cheaper still but requires every reader thread to announce
 * quiescent states; our readers include application threads that can sleep
 * for hours inside unrelated code, which would stall every grace period.
 * bp needs no registration but pays for it on every read.
 *
 * Registration is automatic: the first read lock (or call_rcu/synchronize)
 * in a thread registers it with liburcu, and a thread-exit destructor
 * unregisters it, so application threads need not know about RCU.
 *
 * Rules:
 *  - no sleeping inside a read section: nothing that waits for another
 *    thread's action (uh_wait_sleep, a carrier wait, synchronize_rcu,
 *    rcu_barrier), since every grace period would wait for it. Bounded work
 *    that waits for no thread (an allocation, a non-blocking send) is
 *    allowed, as in the kernel's receive path. The validator reports the
 *    sleeps (SLEEP_IN_READ, SYNC_IN_READ) and, treating the read side as a
 *    lock class, any lock taken inside a read section that is also held
 *    across synchronize_rcu (a CYCLE through "rcu_read");
 *  - a pointer obtained by uh_rcu_dereference is valid only until the
 *    matching uh_rcu_read_unlock.
 */
#ifndef UHOMA_SYNC_RCU_H
#define UHOMA_SYNC_RCU_H

#include <stdatomic.h>
#include <stdbool.h>

/*
 * Inline liburcu's read-side fast paths (a thread-local counter and compiler
 * barriers) instead of calling into the shared library. liburcu's README
 * allows _LGPL_SOURCE for code under an LGPL- or GPL-compatible licence;
 * uhoma is MIT. TSan builds call the library instead: liburcu's inline code
 * uses volatile accesses and barriers that TSan would report as races.
 */
#if !defined(_LGPL_SOURCE) && !defined(UHOMA_TSAN)
#define _LGPL_SOURCE
#endif
#include <urcu/urcu-memb.h>

#include "sync/lockdep.h"
#include "sync/tsan.h"
#include "sync/yield.h"
#include "util/compiler.h"

extern __thread bool uh_rcu_registered;
void uh_rcu_register_slow(void);

/*
 * The fork gate (rcu.c, uh_rcu_fork_prepare): while a fork is being
 * prepared, no thread may enter an outermost read section, so that no
 * thread is inside one when the child is made -- the child inherits every
 * thread's liburcu reader state but not the threads, and a reader frozen
 * inside a section would stall the child's grace periods forever. The
 * gate is checked after the reader's counter is set (a closing fork's
 * grace period either waits for the reader or is seen by it).
 */
extern _Atomic int uh_rcu_fork_gate;
extern __thread unsigned uh_rcu_depth;   /* this thread's nesting */
void uh_rcu_gate_wait(void);

/* fork(2) handlers (runtime/fork.c): liburcu's callback threads paused,
 * the gate closed and every read section drained before the fork; the
 * gate opened after it, in the parent and in the child. */
void uh_rcu_fork_prepare(void);
void uh_rcu_fork_parent(void);
void uh_rcu_fork_child(void);

/* The address TSan annotations use for "a grace period separates these". */
extern char uh_rcu_tsan_gp;

static inline void uh_rcu_ensure_registered(void)
{
	if (uh_unlikely(!uh_rcu_registered))
		uh_rcu_register_slow();
}

static inline void uh_rcu_read_lock_(struct uh_srcloc loc)
{
	uh_rcu_ensure_registered();
	uh_lockdep_rcu_read_lock(loc);
	urcu_memb_read_lock();
	if (uh_rcu_depth++ == 0 &&
	    uh_unlikely(atomic_load_explicit(&uh_rcu_fork_gate,
					     memory_order_relaxed))) {
		/* A fork is being prepared: step out until it is made. */
		urcu_memb_read_unlock();
		uh_rcu_gate_wait();
		urcu_memb_read_lock();
	}
	uh_yield_point();
}

static inline void uh_rcu_read_unlock_(struct uh_srcloc loc)
{
	uh_yield_point();
	uh_tsan_release(&uh_rcu_tsan_gp);
	uh_rcu_depth--;
	urcu_memb_read_unlock();
	uh_lockdep_rcu_read_unlock(loc);
}

#define uh_rcu_read_lock() uh_rcu_read_lock_(UH_HERE)
#define uh_rcu_read_unlock() uh_rcu_read_unlock_(UH_HERE)

/*
 * Loads an RCU-protected pointer. An acquire load: free on x86, and what
 * C11 offers in place of the dependency ordering the kernel relies on.
 */
#define uh_rcu_dereference(p) __atomic_load_n(&(p), __ATOMIC_ACQUIRE)

/* Publishes @v in @p: everything written to *v before is visible to readers
 * that see the new pointer. */
#define uh_rcu_assign_pointer(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)

/* Waits until every read section that began before the call has ended.
 * Blocking: the validator reports it under a non-blocking lock or inside a
 * read section. */
void uh_synchronize_rcu_(struct uh_srcloc loc);
#define uh_synchronize_rcu() uh_synchronize_rcu_(UH_HERE)

/* Embed in an object to free it after a grace period with uh_call_rcu. */
struct uh_rcu_head {
	struct rcu_head urcu;
	void (*fn)(struct uh_rcu_head *head);
#ifdef UHOMA_LOCKDEP
	struct uh_srcloc queued;   /* where uh_call_rcu was called */
#endif
};

/* Calls @fn(@head) from liburcu's call_rcu thread after a grace period.
 * Never blocks; may be called inside a read section. The callback must
 * return with no lock held and no read section open (the validator checks,
 * and learns the locks it takes for rcu_barrier's sake). */
void uh_call_rcu_(struct uh_rcu_head *head, void (*fn)(struct uh_rcu_head *),
		  struct uh_srcloc loc);
#define uh_call_rcu(head, fn) uh_call_rcu_((head), (fn), UH_HERE)

/* Waits for every uh_call_rcu callback queued so far to finish. Blocking:
 * the validator reports it inside a read section or a callback, and learns
 * the locks held across it. */
void uh_rcu_barrier_(struct uh_srcloc loc);
#define uh_rcu_barrier() uh_rcu_barrier_(UH_HERE)

#endif /* UHOMA_SYNC_RCU_H */
