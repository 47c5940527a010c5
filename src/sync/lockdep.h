/*
 * lockdep.h - the lock-order validator ("a way to unit test SMP locking").
 *
 * Compiled in when UHOMA_LOCKDEP is defined (debug, test, ASan and TSan
 * builds); in release builds every hook below is an empty inline function.
 *
 * What it checks, per thread, at the moment of the operation (design.md
 * section 3.4 lists each rule with its check and its blind spots):
 *  - ORDER: acquiring class B while holding class A with rank(A) > rank(B)
 *    breaks the documented order in lock_order.h;
 *  - CYCLE: the class graph learned from every blocking acquisition so far
 *    (edge A->B: B acquired while A held) would gain a cycle of any length;
 *    reported the first time the closing edge is taken, whether or not the
 *    deadlock ever happens. Two pseudo-classes model RCU as a lock, as
 *    Linux lockdep's rcu_lock_map does: "rcu_read" (edges rcu_read->B for
 *    every B acquired inside a read section; edges A->rcu_read for every A
 *    held across synchronize_rcu, which waits for those readers) and
 *    "rcu_callback" (B acquired inside a call_rcu callback; A held across
 *    rcu_barrier, which waits for the callbacks);
 *  - LEAF: anything acquired, or try-locked, while a UH_LC_LEAF class is
 *    held;
 *  - RECURSION: a class acquired while already held, unless annotated as
 *    nested with a subclass above every held subclass of that class; a
 *    try-lock of a lock the thread already holds;
 *  - UNLOCK_NOT_HELD: releasing a lock this thread does not hold;
 *  - EXIT_HELD / RETURN_HELD: a thread exiting (pthread_exit, return from
 *    its start routine, or the process's exit() and return from main), or
 *    an API call returning to the application, with a lock held or inside
 *    an RCU read-side section;
 *  - CALLBACK_HELD: an RCU callback returning with a lock held or inside a
 *    read section (liburcu's callback thread never exits, so EXIT_HELD
 *    would never see it);
 *  - BLOCKING: a blocking operation (uh_lockdep_might_block: allocation,
 *    a cache free, a system call that may wait; and every sleep below)
 *    while holding a lock of a non-blocking class;
 *  - SLEEP_IN_READ: a sleep (uh_lockdep_might_sleep: waiting for another
 *    thread's action, such as uh_wait_sleep, a carrier wait or
 *    rcu_barrier) inside an RCU read-side section, where it could stall
 *    every grace period without bound;
 *  - SYNC_IN_READ: synchronize_rcu inside an RCU read-side section;
 *  - RCU_UNBALANCED: rcu_read_unlock without a matching lock;
 *  - DUPLICATE_CLASS: two lock class objects registered under one name
 *    (typically a class defined static in a header), which would make every
 *    later report about them ambiguous.
 * A successful try-lock cannot deadlock, so it adds no edge and skips the
 * order checks (only LEAF and same-lock RECURSION apply to it), but the lock
 * is tracked as held from then on.
 *
 * A report names the classes involved, the chain of locks held on each side
 * and their source locations. By default it is printed to stderr and the
 * process aborts, so a test that commits a violation fails; tests that
 * commit violations on purpose install a hook with uh_lockdep_set_hook().
 */
#ifndef UHOMA_SYNC_LOCKDEP_H
#define UHOMA_SYNC_LOCKDEP_H

#include <stdbool.h>

#include "sync/lock_class.h"
#include "util/compiler.h"

enum uh_lockdep_kind {
	UH_LD_ORDER = 1,
	UH_LD_CYCLE,
	UH_LD_LEAF,
	UH_LD_RECURSION,
	UH_LD_UNLOCK_NOT_HELD,
	UH_LD_EXIT_HELD,
	UH_LD_RETURN_HELD,
	UH_LD_BLOCKING,
	UH_LD_SYNC_IN_READ,
	UH_LD_RCU_UNBALANCED,
	UH_LD_TOO_DEEP,
	UH_LD_SLEEP_IN_READ,
	UH_LD_CALLBACK_HELD,
	UH_LD_DUPLICATE_CLASS,
};

/* Called with each report; @text is the full multi-line report. */
typedef void (*uh_lockdep_hook_fn)(enum uh_lockdep_kind kind,
				   const char *text, void *arg);

#ifdef UHOMA_LOCKDEP

#define UH_LOCKDEP_MAX_HELD 48

/* Before a blocking acquisition of @lock: checks, then records it held. */
void uh_lockdep_acquire(const void *lock, struct uh_lock_class *cls,
			unsigned subclass, struct uh_srcloc loc);
/* Before a try-lock of @lock: the checks that apply to an attempt (LEAF,
 * same-lock RECURSION), whether or not it will succeed. */
void uh_lockdep_try_check(const void *lock, struct uh_lock_class *cls,
			  struct uh_srcloc loc);
/* After a successful try-lock: records it held; no edges, no order checks. */
void uh_lockdep_acquired_try(const void *lock, struct uh_lock_class *cls,
			     unsigned subclass, struct uh_srcloc loc);
/* Before releasing @lock. */
void uh_lockdep_release(const void *lock, struct uh_srcloc loc);
/* Is @lock held by the calling thread? */
bool uh_lockdep_holds(const void *lock);
/* A blocking operation named @what is about to happen: one that may take
 * long (allocation, a system call) but waits for no other thread. */
void uh_lockdep_might_block(const char *what, struct uh_srcloc loc);
/* A sleep named @what is about to happen: it waits for another thread's
 * action. Checked as blocking, and also inside read sections. */
void uh_lockdep_might_sleep(const char *what, struct uh_srcloc loc);
void uh_lockdep_rcu_read_lock(struct uh_srcloc loc);
void uh_lockdep_rcu_read_unlock(struct uh_srcloc loc);
/* Returns false (after reporting) if the caller is inside a read section,
 * where waiting for a grace period would wait for itself forever. */
bool uh_lockdep_synchronize_rcu(struct uh_srcloc loc);
/* The same for rcu_barrier, which waits for queued callbacks. */
bool uh_lockdep_rcu_barrier(struct uh_srcloc loc);
/* Around an RCU callback queued at @queued: checks that it leaves no lock
 * held and no read section open, and learns what it acquires. */
void uh_lockdep_callback_enter(struct uh_srcloc queued);
void uh_lockdep_callback_exit(void);
/* Called by lock_class.c when @cls is registered with the same name as the
 * already registered @other. */
void uh_lockdep_duplicate_class(const struct uh_lock_class *cls,
				const struct uh_lock_class *other);
/* An API call named @api is returning to the application. */
void uh_lockdep_return_to_app(const char *api, struct uh_srcloc loc);
/* Number of locks the calling thread holds; its RCU read nesting depth. */
int uh_lockdep_depth(void);
int uh_lockdep_rcu_depth(void);

/* Installs @fn (NULL restores print-and-abort); returns the previous hook. */
uh_lockdep_hook_fn uh_lockdep_set_hook(uh_lockdep_hook_fn fn, void *arg);
/* Number of reports since start or the last reset. */
unsigned long uh_lockdep_reports(void);
/* Tests only: forget the learned graph and the calling thread's state. */
void uh_lockdep_reset(void);

#else /* !UHOMA_LOCKDEP */

static inline void uh_lockdep_acquire(const void *lock,
				      struct uh_lock_class *cls,
				      unsigned subclass, struct uh_srcloc loc)
{
	(void)lock; (void)cls; (void)subclass; (void)loc;
}
static inline void uh_lockdep_try_check(const void *lock,
					struct uh_lock_class *cls,
					struct uh_srcloc loc)
{
	(void)lock; (void)cls; (void)loc;
}
static inline void uh_lockdep_acquired_try(const void *lock,
					   struct uh_lock_class *cls,
					   unsigned subclass,
					   struct uh_srcloc loc)
{
	(void)lock; (void)cls; (void)subclass; (void)loc;
}
static inline void uh_lockdep_release(const void *lock, struct uh_srcloc loc)
{
	(void)lock; (void)loc;
}
static inline void uh_lockdep_might_block(const char *what,
					  struct uh_srcloc loc)
{
	(void)what; (void)loc;
}
static inline void uh_lockdep_might_sleep(const char *what,
					  struct uh_srcloc loc)
{
	(void)what; (void)loc;
}
static inline void uh_lockdep_rcu_read_lock(struct uh_srcloc loc) { (void)loc; }
static inline void uh_lockdep_rcu_read_unlock(struct uh_srcloc loc) { (void)loc; }
static inline bool uh_lockdep_synchronize_rcu(struct uh_srcloc loc)
{
	(void)loc;
	return true;
}
static inline bool uh_lockdep_rcu_barrier(struct uh_srcloc loc)
{
	(void)loc;
	return true;
}
static inline void uh_lockdep_callback_enter(struct uh_srcloc queued)
{
	(void)queued;
}
static inline void uh_lockdep_callback_exit(void) {}
static inline void uh_lockdep_return_to_app(const char *api,
					    struct uh_srcloc loc)
{
	(void)api; (void)loc;
}

#endif /* UHOMA_LOCKDEP */

/* fork(2) handlers: the validator's own locks, taken before the fork and
 * released after it in both processes (no-ops when compiled out). */
#ifdef UHOMA_LOCKDEP
void uh_lockdep_fork_prepare(void);
void uh_lockdep_fork_release(void);
#else
static inline void uh_lockdep_fork_prepare(void) {}
static inline void uh_lockdep_fork_release(void) {}
#endif

#endif /* UHOMA_SYNC_LOCKDEP_H */
