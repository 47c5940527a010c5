/*
 * peer.c - the peer table and per-peer ack state.
 */
#include <stdlib.h>
#include <string.h>

#include "core/peer.h"
#include "mem/cache.h"
#include "sync/rcu.h"

static UH_LOCK_CLASS(peertab_class, "peertab", UH_RANK_TABLE, 0);
static UH_LOCK_CLASS(peer_class, "peer", UH_RANK_LEAF, UH_LC_LEAF);
static UH_LOCK_CLASS(cutoffs_class, "peer.cutoffs", UH_RANK_LEAF, UH_LC_LEAF);

void uh_peertab_init(struct uh_peertab *t)
{
	uh_lock_init(&t->lock, &peertab_class);
	for (unsigned i = 0; i < UH_PEERTAB_BUCKETS; i++)
		atomic_init(&t->buckets[i], NULL);
}

void uh_peertab_destroy(struct uh_peertab *t)
{
	for (unsigned i = 0; i < UH_PEERTAB_BUCKETS; i++) {
		struct uh_peer *p = atomic_load(&t->buckets[i]);

		while (p) {
			struct uh_peer *next = atomic_load(&p->next);

			free(p);
			p = next;
		}
		atomic_store(&t->buckets[i], NULL);
	}
}

static struct uh_peer *chain_find(struct uh_peer *p, const struct uh_addr *a)
{
	for (; p; p = atomic_load_explicit(&p->next, memory_order_acquire))
		if (uh_addr_eq(&p->addr, a))
			return p;
	return NULL;
}

struct uh_peer *uh_peer_find(struct uh_peertab *t, const struct uh_addr *addr)
{
	unsigned b = uh_addr_hash(addr) % UH_PEERTAB_BUCKETS;

	return chain_find(atomic_load_explicit(&t->buckets[b],
					       memory_order_acquire), addr);
}

struct uh_peer *uh_peer_get(struct uh_peertab *t, const struct uh_addr *addr)
{
	unsigned b = uh_addr_hash(addr) % UH_PEERTAB_BUCKETS;
	struct uh_peer *p, *fresh;

	uh_rcu_read_lock();
	p = uh_peer_find(t, addr);
	uh_rcu_read_unlock();
	if (p)
		return p;

	uh_lockdep_might_block("peer allocation", UH_HERE);
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh)
		return NULL;
	fresh->addr = *addr;
	uh_lock_init(&fresh->lock, &peer_class);
	uh_seqlock_init(&fresh->cut_lock, &cutoffs_class);
	{
		struct uh_cutoffs c;

		uh_prio_peer_default(&c);
		uh_seqlock_write(&fresh->cut_lock, fresh->cut, &c, sizeof(c));
	}

	uh_lock(&t->lock);
	p = chain_find(atomic_load_explicit(&t->buckets[b],
					    memory_order_relaxed), addr);
	if (!p) {
		atomic_store_explicit(&fresh->next,
				      atomic_load_explicit(&t->buckets[b],
							   memory_order_relaxed),
				      memory_order_relaxed);
		/* Publish the initialized peer to RCU readers. */
		atomic_store_explicit(&t->buckets[b], fresh,
				      memory_order_release);
		p = fresh;
		fresh = NULL;
	}
	uh_unlock(&t->lock);
	free(fresh);  /* lost a race: someone else inserted it */
	return p;
}

bool uh_peer_add_ack(struct uh_peer *p, const struct uh_ack *ack,
		     struct uh_ack *out)
{
	bool full = false;

	uh_lock(&p->lock);
	if (p->num_acks == UH_MAX_ACKS) {
		memcpy(out, p->acks, sizeof(p->acks));
		p->num_acks = 0;
		full = true;
	} else {
		p->acks[p->num_acks++] = *ack;
	}
	uh_unlock(&p->lock);
	return full;
}

unsigned uh_peer_take_acks(struct uh_peer *p, struct uh_ack *out, unsigned max)
{
	unsigned n;

	uh_lock(&p->lock);
	n = p->num_acks < max ? p->num_acks : max;
	p->num_acks -= n;
	memcpy(out, p->acks + p->num_acks, n * sizeof(*out));
	uh_unlock(&p->lock);
	return n;
}

static unsigned done_slot(uint64_t id)
{
	return (unsigned)(id >> 1) % UH_PEER_DONE_SLOTS;
}

void uh_peer_done_add(struct uh_peer *p, uint64_t id)
{
	uh_lock(&p->lock);
	p->done[done_slot(id)] = id;
	uh_unlock(&p->lock);
}

bool uh_peer_done_check(struct uh_peer *p, uint64_t id)
{
	bool hit;

	uh_lock(&p->lock);
	hit = p->done[done_slot(id)] == id;
	uh_unlock(&p->lock);
	return hit;
}
