/*
 * lock_class.h - lock classes: a name, a rank, rules, and contention counters.
 *
 * Every uhoma lock names its class at init time. Classes, not instances, are
 * what the validator orders (as in Linux lockdep): the 1024 bucket locks of a
 * socket's RPC table are all of class "rpc.bucket". Classes are defined
 * statically with UH_LOCK_CLASS() and register themselves on first use.
 *
 * Contention accounting (the Solaris depot pattern): an acquisition first
 * tries the lock; only when the try fails does it count a miss and time the
 * wait. The counters are relaxed atomics touched only on that slow path, so
 * they stay on in release builds.
 */
#ifndef UHOMA_SYNC_LOCK_CLASS_H
#define UHOMA_SYNC_LOCK_CLASS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/lock_order.h"
#include "util/compiler.h"

enum uh_lock_class_flags {
	/* Holders may block: sleep on a wait queue, allocate, synchronize_rcu.
	 * Without this flag the class is non-blocking (the default). */
	UH_LC_SLEEPS = 1u << 0,
	/* Nothing may be acquired while a lock of this class is held. */
	UH_LC_LEAF = 1u << 1,
};

#define UH_LOCK_CLASS_MAX 128

struct uh_lock_class {
	const char *name;   /* immutable */
	unsigned rank;      /* immutable: an enum uh_lock_rank value */
	unsigned flags;     /* immutable: enum uh_lock_class_flags */
	struct uh_srcloc def; /* immutable: where UH_LOCK_CLASS() stands */
	_Atomic int id;     /* 0 until registered, then 1..MAX; set once
			     * under the registry mutex */
	_Atomic uint64_t misses;  /* try failed: relaxed atomic adds */
	_Atomic uint64_t miss_ns; /* time spent waiting after a miss */
};

/* Define each class once, in a .c file: a class defined static in a header
 * becomes one class per file that includes it (the validator reports two
 * classes registered under one name). */
#define UH_LOCK_CLASS(sym, cname, crank, cflags) \
	struct uh_lock_class sym = { .name = (cname), .rank = (crank), \
				     .flags = (cflags), .def = UH_HERE }

/* Registers @cls (idempotent) and returns its id (1..UH_LOCK_CLASS_MAX). */
int uh_lock_class_register(struct uh_lock_class *cls);

static inline int uh_lock_class_id(struct uh_lock_class *cls)
{
	int id = atomic_load_explicit(&cls->id, memory_order_acquire);

	return id ? id : uh_lock_class_register(cls);
}

/* The registered class with id @id, or NULL. */
struct uh_lock_class *uh_lock_class_by_id(int id);

/* Records one failed try and @waited_ns of waiting for @cls. */
static inline void uh_lock_class_miss(struct uh_lock_class *cls,
				      uint64_t waited_ns)
{
	atomic_fetch_add_explicit(&cls->misses, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&cls->miss_ns, waited_ns,
				  memory_order_relaxed);
}

/* A snapshot of one class's counters. */
struct uh_lock_class_stats {
	const char *name;
	unsigned rank;
	uint64_t misses;
	uint64_t miss_ns;
};

/*
 * Copies the counters of up to @max registered classes into @out, in
 * registration order; returns how many classes are registered.
 */
size_t uh_lock_class_stats(struct uh_lock_class_stats *out, size_t max);

/* fork(2) handlers: the class registry's lock around the fork. */
void uh_lock_class_fork_prepare(void);
void uh_lock_class_fork_release(void);

#endif /* UHOMA_SYNC_LOCK_CLASS_H */
