/*
 * rculist.h - a doubly-linked list that one set of threads edits under a
 * lock while others walk it with no lock at all.
 *
 * Design. Writers (holding the list's lock) link and unlink nodes; `next`
 * is an atomic pointer published with release stores, walkers read it with
 * acquire loads, so a walker that reaches a node sees it fully initialized.
 * Unlinking leaves the removed node's `next` intact: a walker standing on
 * it continues to the node that followed it at removal time.
 *
 * The invariant that makes walking safe: no node a walker can reach is
 * freed while it walks. Two ways to provide it: an RCU read section with
 * frees deferred by call_rcu, or -- the one uhoma uses for RPCs -- the
 * socket's protect count, which holds off the reaper (see core/sock.h).
 * Proof sketch for the second: a walker starts at the head, so it reaches
 * only nodes linked when it loaded the pointer to them, or removed after
 * that. A node removed before the walker started is unreachable from the
 * head, and a removed node only points at a node that was linked when it
 * was removed; reaping requires protect_count == 0, checked under the same
 * lock that raises it, so nothing reachable is reaped during the walk.
 *
 * A walker may see a node that was removed (it must check the object's own
 * state after locking it) and may miss nodes added during the walk.
 */
#ifndef UHOMA_SYNC_RCULIST_H
#define UHOMA_SYNC_RCULIST_H

#include <stdatomic.h>
#include <stdbool.h>

#include "util/compiler.h"

struct uh_rculist {
	struct uh_rculist *_Atomic next; /* release-stored by writers */
	struct uh_rculist *prev;         /* writers only */
};

static inline void uh_rculist_init(struct uh_rculist *h)
{
	atomic_init(&h->next, h);
	h->prev = h;
}

/* A node not on any list (uh_rculist_linked() is false). */
static inline void uh_rculist_node_init(struct uh_rculist *n)
{
	atomic_init(&n->next, NULL);
	n->prev = NULL;
}

/* Writer (lock held): adds @n right after the head. */
static inline void uh_rculist_add_head(struct uh_rculist *n,
				       struct uh_rculist *h)
{
	struct uh_rculist *first =
		atomic_load_explicit(&h->next, memory_order_relaxed);

	atomic_store_explicit(&n->next, first, memory_order_relaxed);
	n->prev = h;
	first->prev = n;
	/* Publish: a walker that loads @n sees n->next initialized. */
	atomic_store_explicit(&h->next, n, memory_order_release);
}

/* Writer (lock held): unlinks @n; n->next stays valid for walkers. */
static inline void uh_rculist_del(struct uh_rculist *n)
{
	struct uh_rculist *next =
		atomic_load_explicit(&n->next, memory_order_relaxed);

	atomic_store_explicit(&n->prev->next, next, memory_order_release);
	next->prev = n->prev;
	n->prev = NULL;             /* marks "not linked" for writers */
}

static inline bool uh_rculist_linked(const struct uh_rculist *n)
{
	return n->prev != NULL;
}

/* Walker: the node after @n (acquire, pairs with the writers' release). */
static inline struct uh_rculist *uh_rculist_next(struct uh_rculist *n)
{
	return atomic_load_explicit(&n->next, memory_order_acquire);
}

#endif /* UHOMA_SYNC_RCULIST_H */
