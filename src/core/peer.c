/*
 * peer.c - the peer table and per-peer ack state.
 */
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "core/grant.h"
#include "core/peer.h"
#include "mem/cache.h"
#include "sync/rcu.h"

static UH_LOCK_CLASS(peertab_class, "peertab", UH_RANK_TABLE, 0);
static UH_LOCK_CLASS(peer_class, "peer", UH_RANK_LEAF, UH_LC_LEAF);
static UH_LOCK_CLASS(cutoffs_class, "peer.cutoffs", UH_RANK_LEAF, UH_LC_LEAF);

void uh_peertab_init(struct uh_peertab *t, uint32_t max,
		     struct uh_metrics *metrics)
{
	uh_lock_init(&t->lock, &peertab_class);
	for (unsigned i = 0; i < UH_PEERTAB_BUCKETS; i++)
		atomic_init(&t->buckets[i], NULL);
	t->count = 0;
	t->max = max;
	t->metrics = metrics;
}

void uh_peertab_sizing(struct uh_peertab *t,
		       uint32_t (*size_to)(void *ctx, const struct uh_addr *a,
					   bool *local),
		       void *ctx, uint32_t min_payload)
{
	t->size_to = size_to;
	t->size_ctx = ctx;
	t->min_payload = min_payload;
}

/* The DATA bytes per packet to @addr (no lock held: may ask the kernel). */
static uint32_t peer_payload(struct uh_peertab *t, const struct uh_addr *addr,
			     bool *local)
{
	uint32_t max;

	*local = false;
	if (!t->size_to)
		return t->min_payload;
	max = t->size_to(t->size_ctx, addr, local);
	return max > t->min_payload ? max : t->min_payload;
}

static void peer_free(struct uh_peer *p)
{
	/* Records are freed here only as the stack goes (a peer with one is
	 * never idle, never removed): their bytes go with the budget. */
	while (p->dedup) {
		struct uh_dedup *d = p->dedup;

		p->dedup = d->next;
		uh_dedup_free(d);
	}
	free(p);
}

static void peer_free_rcu(struct uh_rcu_head *h)
{
	peer_free(uh_container_of(h, struct uh_peer, rcu));
}

void uh_peertab_destroy(struct uh_peertab *t)
{
	for (unsigned i = 0; i < UH_PEERTAB_BUCKETS; i++) {
		struct uh_peer *p = atomic_load(&t->buckets[i]);

		while (p) {
			struct uh_peer *next = atomic_load(&p->next);

			peer_free(p);
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

/* A reference to @p unless it was removed (refs dead). */
static bool peer_tryget(struct uh_peer *p)
{
	uint32_t r = atomic_load_explicit(&p->refs, memory_order_relaxed);

	while (r != UH_PEER_DEAD)
		if (atomic_compare_exchange_weak_explicit(
			    &p->refs, &r, r + 1, memory_order_acquire,
			    memory_order_relaxed))
			return true;
	return false;
}

struct uh_peer *uh_peer_get(struct uh_peertab *t, const struct uh_addr *addr,
			    uint64_t now)
{
	unsigned b = uh_addr_hash(addr) % UH_PEERTAB_BUCKETS;
	struct uh_peer *p, *fresh;

	uh_rcu_read_lock();
	p = uh_peer_find(t, addr);
	if (p && !peer_tryget(p))
		p = NULL;            /* being removed: make a new one */
	uh_rcu_read_unlock();
	if (p)
		goto found;

	uh_lockdep_might_block("peer allocation", UH_HERE);
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh)
		return NULL;
	fresh->addr = *addr;
	fresh->max_payload = peer_payload(t, addr, &fresh->local);
	atomic_init(&fresh->refs, 1);       /* the caller's */
	atomic_init(&fresh->unsched, (uint32_t)now);  /* unsched.c */
	uh_lock_init(&fresh->lock, &peer_class);
	uh_seqlock_init(&fresh->cut_lock, &cutoffs_class);
	uh_grant_peer_init(fresh);
	{
		struct uh_cutoffs c;

		uh_prio_peer_default(&c);
		uh_seqlock_write(&fresh->cut_lock, fresh->cut, &c, sizeof(c));
	}

	uh_lock(&t->lock);
	/* Removals unlink under this lock: what it finds is alive. */
	p = chain_find(atomic_load_explicit(&t->buckets[b],
					    memory_order_relaxed), addr);
	if (p) {
		atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	} else if (t->count < t->max) {
		atomic_store_explicit(&fresh->next,
				      atomic_load_explicit(&t->buckets[b],
							   memory_order_relaxed),
				      memory_order_relaxed);
		/* Publish the initialized peer to RCU readers. */
		atomic_store_explicit(&t->buckets[b], fresh,
				      memory_order_release);
		t->count++;
		uh_metric_add(t->metrics, UH_M_PEERS, 1);
		p = fresh;
		fresh = NULL;
	}
	uh_unlock(&t->lock);
	free(fresh);  /* lost a race, or the table is full */
	if (!p)
		return NULL;
found:
	if (atomic_load_explicit(&p->used_tick, memory_order_relaxed) != now)
		atomic_store_explicit(&p->used_tick, now,
				      memory_order_relaxed);
	return p;
}

/* Table lock held: nothing but the table refers to @p (no reference), it
 * was not used for @quiet ticks, and it holds nothing (no at-most-once
 * record, no ack owed: checked under its own lock). */
static bool peer_idle(struct uh_peer *p, uint64_t now, uint64_t quiet)
{
	bool idle;

	if (atomic_load_explicit(&p->refs, memory_order_relaxed) != 0 ||
	    now - atomic_load_explicit(&p->used_tick,
				       memory_order_relaxed) < quiet)
		return false;
	uh_lock(&p->lock);
	idle = !p->dedup && p->num_acks == 0;
	uh_unlock(&p->lock);
	return idle;
}

unsigned uh_peertab_expire(struct uh_peertab *t, unsigned b, uint64_t now,
			   uint64_t quiet)
{
	struct uh_peer *_Atomic *pp = &t->buckets[b];
	struct uh_peer *p;
	unsigned n = 0;

	uh_lock(&t->lock);
	while ((p = atomic_load_explicit(pp, memory_order_relaxed))) {
		uint32_t zero = 0;

		if (peer_idle(p, now, quiet) &&
		    atomic_compare_exchange_strong(&p->refs, &zero,
						   UH_PEER_DEAD)) {
			/* Readers may still be on it: its own next stays. */
			atomic_store_explicit(
				pp, atomic_load_explicit(&p->next,
							 memory_order_relaxed),
				memory_order_release);
			t->count--;
			n++;
			uh_call_rcu(&p->rcu, peer_free_rcu);
			continue;
		}
		pp = &p->next;
	}
	uh_unlock(&t->lock);
	if (n)
		uh_metric_add(t->metrics, UH_M_PEERS, -(int64_t)n);
	return n;
}

/* Peer lock held: moves up to @max of @port's acks to @out, the newest
 * first, keeping the others in order; returns how many. */
static unsigned acks_take_locked(struct uh_peer *p, uint16_t port,
				 struct uh_ack *out, unsigned max)
{
	bool taken[UH_MAX_ACKS] = { false };
	unsigned n = 0, keep = 0;

	for (unsigned i = p->num_acks; i-- > 0 && n < max;)
		if (p->ack_port[i] == port) {
			out[n++] = p->acks[i];
			taken[i] = true;
		}
	for (unsigned i = 0; n && i < p->num_acks; i++)
		if (!taken[i]) {
			p->acks[keep] = p->acks[i];
			p->ack_port[keep] = p->ack_port[i];
			keep++;
		}
	if (n)
		p->num_acks = keep;
	return n;
}

unsigned uh_peer_add_ack(struct uh_peer *p, uint16_t port,
			 const struct uh_ack *ack, struct uh_ack *out)
{
	unsigned n = 0;

	uh_lock(&p->lock);
	if (p->num_acks == UH_MAX_ACKS) {
		n = acks_take_locked(p, port, out, UH_MAX_ACKS);
		if (n == 0) {
			/* Every stored ack is another socket's: its server
			 * will ask for the oldest with NEED_ACK. */
			memmove(p->acks, p->acks + 1,
				(UH_MAX_ACKS - 1) * sizeof(p->acks[0]));
			memmove(p->ack_port, p->ack_port + 1,
				(UH_MAX_ACKS - 1) * sizeof(p->ack_port[0]));
			p->num_acks--;
		}
	}
	if (n == 0) {
		p->acks[p->num_acks] = *ack;
		p->ack_port[p->num_acks] = port;
		p->num_acks++;
	}
	uh_unlock(&p->lock);
	return n;
}

unsigned uh_peer_take_acks(struct uh_peer *p, uint16_t port,
			   struct uh_ack *out, unsigned max)
{
	unsigned n;

	uh_lock(&p->lock);
	n = acks_take_locked(p, port, out, max);
	uh_unlock(&p->lock);
	return n;
}

/* Peer lock held: the record of client @key (uh_dedup_key), or NULL. */
static struct uh_dedup *dedup_find(struct uh_peer *p, uint64_t key)
{
	for (struct uh_dedup *d = p->dedup; d; d = d->next)
		if (d->key == key)
			return d;
	return NULL;
}

/* Peer lock held: unlinks the idle record (nothing alive, quiet for
 * @quiet ticks at @now) that was active longest ago, for the caller to
 * free; NULL if there is none. */
static struct uh_dedup *dedup_victim(struct uh_peer *p, uint64_t now,
				     uint64_t quiet)
{
	struct uh_dedup **best = NULL, *v;

	for (struct uh_dedup **pp = &p->dedup; *pp; pp = &(*pp)->next)
		if ((*pp)->alive == 0 && now - (*pp)->active_tick >= quiet &&
		    (!best || (*pp)->active_tick < (*best)->active_tick))
			best = pp;
	if (!best)
		return NULL;
	v = *best;
	*best = v->next;
	p->ndedup--;
	return v;
}

/* Takes @n bytes from @b; false (nothing taken) past its limit. */
static bool budget_take(struct uh_dedup_budget *b, uint64_t n)
{
	if (atomic_fetch_add_explicit(&b->used, n, memory_order_relaxed) + n >
	    b->max) {
		atomic_fetch_sub_explicit(&b->used, n, memory_order_relaxed);
		return false;
	}
	uh_metric_add(b->metrics, UH_M_DEDUP_BYTES, (int64_t)n);
	return true;
}

/* Takes @n bytes from @b whatever its limit (an eviction pays them back
 * at once). */
static void budget_force(struct uh_dedup_budget *b, uint64_t n)
{
	atomic_fetch_add_explicit(&b->used, n, memory_order_relaxed);
	uh_metric_add(b->metrics, UH_M_DEDUP_BYTES, (int64_t)n);
}

static void budget_give(struct uh_dedup_budget *b, uint64_t n)
{
	atomic_fetch_sub_explicit(&b->used, n, memory_order_relaxed);
	uh_metric_add(b->metrics, UH_M_DEDUP_BYTES, -(int64_t)n);
}

/* A ring of @cap ids paid from @b; NULL past its limit or with no
 * memory. */
static uint64_t *ring_get(struct uh_dedup_budget *b, uint32_t cap)
{
	uint64_t *r;

	if (!budget_take(b, uh_dedup_ring_bytes(cap)))
		return NULL;
	r = uh_dedup_ring(cap);
	if (!r)
		budget_give(b, uh_dedup_ring_bytes(cap));
	return r;
}

static void ring_put(struct uh_dedup_budget *b, uint64_t *r, uint32_t cap)
{
	if (r) {
		free(r);
		budget_give(b, uh_dedup_ring_bytes(cap));
	}
}

static void record_put(struct uh_dedup_budget *b, struct uh_dedup *d)
{
	if (d) {
		budget_give(b, uh_dedup_bytes(d));
		uh_dedup_free(d);
	}
}

/* Peers a search for an idle record looks at, at most. */
#define STEAL_PEERS 64

/*
 * The budget is spent and a new client needs a record: unlinks and
 * returns the idle record (nothing alive, quiet for @quiet ticks: its
 * client can no longer be retransmitting a request it finished) that was
 * active longest ago among those of up to STEAL_PEERS peers, from where
 * the last search stopped; NULL if there is none. Records of a flood's first moments would
 * otherwise hold the budget for their whole quiet time, and every new
 * client meanwhile be refused (helper-18). Takes each peer's lock in turn
 * (none may be held); the caller frees the record.
 */
static struct uh_dedup *steal_idle(struct uh_peertab *t,
				   struct uh_dedup_budget *b, uint64_t now,
				   uint64_t quiet)
{
	unsigned bucket = atomic_load_explicit(&b->cursor,
					       memory_order_relaxed) %
			  UH_PEERTAB_BUCKETS;
	struct uh_peer *best = NULL;
	struct uh_dedup *v = NULL;
	uint64_t best_tick = UINT64_MAX;
	unsigned seen = 0, i;

	uh_rcu_read_lock();
	for (i = 0; i < UH_PEERTAB_BUCKETS && seen < STEAL_PEERS; i++) {
		unsigned k = (bucket + i) % UH_PEERTAB_BUCKETS;

		for (struct uh_peer *p = atomic_load_explicit(
			     &t->buckets[k], memory_order_acquire);
		     p && seen < STEAL_PEERS;
		     p = atomic_load_explicit(&p->next, memory_order_acquire)) {
			seen++;
			uh_lock(&p->lock);
			for (struct uh_dedup *d = p->dedup; d; d = d->next)
				if (d->alive == 0 &&
				    now - d->active_tick >= quiet &&
				    d->active_tick < best_tick) {
					best = p;
					best_tick = d->active_tick;
				}
			uh_unlock(&p->lock);
		}
	}
	atomic_store_explicit(&b->cursor, bucket + i, memory_order_relaxed);
	if (best) {
		/* Its quietest idle record now (it may have changed). */
		uh_lock(&best->lock);
		v = dedup_victim(best, now, quiet);
		uh_unlock(&best->lock);
	}
	uh_rcu_read_unlock();
	return v;
}

/* The rings records gave up during one admission, freed once its lock is
 * dropped (a free may block: rule 5). Two installs in one admission
 * (lowered, then grown) give up two. */
struct spares {
	uint64_t *r[2];
	uint32_t cap[2];
};

/* Installs @ring (@cap entries) in @d (locked), keeping the ring it gives
 * up in @s. */
static void install(struct uh_dedup_budget *b, struct uh_dedup *d,
		    uint64_t *ring, uint32_t cap, struct spares *s)
{
	uint32_t old_cap = d->cap;
	uint64_t *old = uh_dedup_install(d, ring, cap);
	int i = s->r[0] ? 1 : 0;

	if (!old)
		return;
	if (s->r[i])                 /* a third, which no admission makes */
		ring_put(b, s->r[i], s->cap[i]);
	s->r[i] = old;
	s->cap[i] = old == ring ? cap : old_cap;
}

enum uh_dedup_verdict uh_peer_dedup_admit(struct uh_peer *p, uint16_t port,
					  uint64_t id,
					  const struct uh_dedup_limits *lim,
					  struct uh_dedup_counts *counts)
{
	uint64_t key = uh_dedup_key(id, port);
	struct uh_dedup_budget *b = lim->budget;
	struct uh_dedup *fresh = NULL, *victim = NULL, *d;
	struct spares spares = { { NULL, NULL }, { 0, 0 } };
	uint64_t *ring = NULL;
	uint32_t need, ring_cap = 0;
	bool can_grow = true, fresh_paid = false;
	enum uh_dedup_verdict v;

	uh_lockdep_might_block("dedup record allocation", UH_HERE);
	/* Each pass either decides, or finds what to allocate and does it
	 * with the lock dropped: a record, or a larger ring. */
	for (;;) {
		uh_lock(&p->lock);
		d = dedup_find(p, key);
		if (!d && fresh) {
			/* Past either limit a new record takes the place
			 * of the quietest idle one. */
			if ((p->ndedup >= lim->max_records || !fresh_paid) &&
			    !(victim = dedup_victim(p, lim->now, 0))) {
				uh_unlock(&p->lock);
				v = UH_DEDUP_NOMEM;   /* every one busy */
				break;
			}
			if (!fresh_paid) {
				budget_force(b, uh_dedup_bytes(fresh));
				fresh_paid = true;
			}
			fresh->next = p->dedup;
			p->dedup = d = fresh;
			p->ndedup++;
			counts->created++;
			fresh = NULL;
		}
		if (!d) {
			uh_unlock(&p->lock);
			fresh = uh_dedup_new(key, id, lim->now);
			if (!fresh)
				return UH_DEDUP_NOMEM;
			fresh_paid = budget_take(b, uh_dedup_bytes(fresh));
			if (!fresh_paid && lim->table) {
				struct uh_dedup *stolen = steal_idle(
					lim->table, b, lim->now,
					lim->steal_quiet);

				if (stolen) {
					counts->evicted++;
					record_put(b, stolen);
					fresh_paid = budget_take(
						b, uh_dedup_bytes(fresh));
				}
			}
			continue;
		}
		if (uh_dedup_reborn(d, id)) {
			uh_dedup_restart(d, id, lim->now);
			counts->restarted++;
		}
		if (uh_dedup_finished(d, id)) {
			/* Below a young record's first floor: not known
			 * finished, only never seen (dedup.h). */
			uint32_t low = uh_dedup_lower_needs(d, id, lim->max_cap,
							    lim->now,
							    lim->settle);

			if (low == UINT32_MAX || (low && !can_grow)) {
				uh_unlock(&p->lock);
				v = UH_DEDUP_FINISHED;
				break;
			}
			if (low && !(ring && ring_cap >= low)) {
				uh_unlock(&p->lock);
				ring_put(b, ring, ring_cap);
				ring = ring_get(b, low);
				ring_cap = low;
				can_grow = ring != NULL;
				continue;
			}
			if (low) {
				install(b, d, ring, ring_cap, &spares);
				ring = NULL;
			}
			uh_dedup_lower(d, id);
		}
		need = can_grow ? uh_dedup_needs(d, id, lim->max_cap, lim->now,
						 lim->settle)
				: 0;
		if (need && ring && ring_cap >= need) {
			install(b, d, ring, ring_cap, &spares);
			ring = NULL;
			need = 0;
		}
		if (!need) {
			/* Big enough (or at its limit: admit slides). */
			counts->forgotten += uh_dedup_admit(d, id, lim->now,
							    lim->settle);
			uh_unlock(&p->lock);
			v = UH_DEDUP_NEW;
			break;
		}
		uh_unlock(&p->lock);
		ring_put(b, ring, ring_cap);
		ring = ring_get(b, need);
		ring_cap = need;
		can_grow = ring != NULL;   /* no memory: slide instead */
	}
	ring_put(b, ring, ring_cap);
	for (int i = 0; i < 2; i++)
		ring_put(b, spares.r[i], spares.cap[i]);
	if (fresh_paid)
		record_put(b, fresh);
	else
		uh_dedup_free(fresh);
	if (victim) {
		counts->evicted++;
		record_put(b, victim);
	}
	return v;
}

void uh_peer_dedup_end(struct uh_peer *p, uint16_t port, uint64_t id,
		       bool ran, uint64_t now)
{
	struct uh_dedup *d;

	uh_lock(&p->lock);
	d = dedup_find(p, uh_dedup_key(id, port));
	if (d)      /* always: a record with RPCs alive is never freed */
		uh_dedup_end(d, id, ran, now);
	uh_unlock(&p->lock);
}

unsigned uh_peer_dedup_expire(struct uh_peer *p, uint64_t now,
			      uint64_t quiet, struct uh_dedup_budget *b)
{
	struct uh_dedup *gone = NULL;
	unsigned n = 0;

	uh_lock(&p->lock);
	for (struct uh_dedup **pp = &p->dedup; *pp;) {
		struct uh_dedup *d = *pp;

		if (uh_dedup_idle(d, now, quiet)) {
			*pp = d->next;
			d->next = gone;
			gone = d;
			p->ndedup--;
			n++;
		} else {
			pp = &d->next;
		}
	}
	uh_unlock(&p->lock);
	while (gone) {
		struct uh_dedup *next = gone->next;

		record_put(b, gone);
		gone = next;
	}
	return n;
}

void uh_peertab_walk(struct uh_peertab *t, unsigned b,
		     void (*fn)(struct uh_peer *p, void *arg), void *arg)
{
	unsigned first = b < UH_PEERTAB_BUCKETS ? b : 0;
	unsigned last = b < UH_PEERTAB_BUCKETS ? b : UH_PEERTAB_BUCKETS - 1;

	uh_rcu_read_lock();
	for (unsigned i = first; i <= last; i++)
		for (struct uh_peer *p = atomic_load_explicit(
			     &t->buckets[i], memory_order_acquire);
		     p; p = atomic_load_explicit(&p->next, memory_order_acquire))
			fn(p, arg);
	uh_rcu_read_unlock();
}

/* ---- how long a peer takes to answer ------------------------------------ */

void uh_delay_sample(struct uh_delay_est *e, uint64_t ticks)
{
	uint64_t old = atomic_load_explicit(&e->v, memory_order_relaxed), est;
	int64_t sample = ticks > (1u << 24) ? (1 << 24) : (int64_t)ticks;

	/* Answers within a tick from a peer that always gave them: nothing
	 * to change, and no write to a line every receiver shares (one a
	 * response or ACK otherwise). */
	if (!old && !sample)
		return;
	do {
		int64_t srtt8 = (int64_t)(old >> 32);
		int64_t var4 = (int64_t)(old & 0xffffffffu);
		int64_t err;

		if (!old) {
			srtt8 = sample * 8;
			var4 = sample * 2;      /* deviation: half the sample */
		} else {
			err = sample - srtt8 / 8;
			srtt8 += err;
			var4 += (err < 0 ? -err : err) - var4 / 4;
		}
		est = (uint64_t)srtt8 << 32 | (uint64_t)var4;
	} while (!atomic_compare_exchange_weak_explicit(
		&e->v, &old, est, memory_order_relaxed, memory_order_relaxed));
}

uint64_t uh_delay_bound(const struct uh_delay_est *e, uint64_t cap)
{
	uint64_t est = atomic_load_explicit(&e->v, memory_order_relaxed);
	uint64_t bound = (est >> 32) / 8 + (est & 0xffffffffu);

	return bound < cap ? bound : cap;
}
