/*
 * grant.c - the SRPT grant manager (policy and locking: grant.h).
 */
#include "core/grant.h"
#include "core/outgoing.h"
#include "core/prio.h"
#include "core/stack.h"

static UH_LOCK_CLASS(grant_class, "grant", UH_RANK_GRANT, 0);

static bool peer_better(const struct uh_pheap_node *a,
			const struct uh_pheap_node *b);
static bool older(const struct uh_pheap_node *a,
		  const struct uh_pheap_node *b);
static bool rpc_better(const struct uh_pheap_node *a,
		       const struct uh_pheap_node *b);

void uh_grant_peer_init(struct uh_peer *peer)
{
	uh_pheap_init(&peer->grant_q, rpc_better);
}

void uh_grant_init(struct uhoma_stack *st)
{
	struct uh_grant *g = &st->grant;

	uh_lock_init(&g->lock, &grant_class);
	for (unsigned i = 0; i < UHOMA_MAX_OVERCOMMIT; i++) {
		g->slot[i].rpc = NULL;
		atomic_init(&g->slot[i].remaining, UINT32_MAX);
		atomic_init(&g->slot[i].birth, 0);
	}
	atomic_init(&g->num_active, 0);
	uh_list_init(&g->queue);
	uh_pheap_init(&g->peers, peer_better);
	uh_pheap_init(&g->by_age, older);
	g->num_queued = 0;
	atomic_init(&g->total_incoming, 0);
	atomic_init(&g->needy, 0);
	atomic_init(&g->births, 1);
	atomic_init(&g->rescan, false);
	g->fifo_credit = 0;
	g->max_sched_prio = uh_prio_max_sched(st);
}

/* SRPT order: fewer unreceived bytes first, then the older message. */
static bool outranks(uint32_t ra, uint64_t ba, uint32_t rb, uint64_t bb)
{
	return ra < rb || (ra == rb && ba < bb);
}

/* ---- the queue's orders (grant lock) ------------------------------------- */

static const struct uh_rpc *queued_rpc(const struct uh_pheap_node *n)
{
	return uh_container_of_const(n, struct uh_rpc, granting.qnode);
}

/* A peer's heap: SRPT on the key each message was queued with. */
static bool rpc_better(const struct uh_pheap_node *a,
		       const struct uh_pheap_node *b)
{
	const struct uh_rpc *x = queued_rpc(a), *y = queued_rpc(b);

	return outranks(x->granting.key, x->granting.birth, y->granting.key,
			y->granting.birth);
}

/* The peers' heap: by each one's best queued message. */
static bool peer_better(const struct uh_pheap_node *a,
			const struct uh_pheap_node *b)
{
	const struct uh_peer *pa = uh_container_of_const(a, struct uh_peer,
							 grant_node);
	const struct uh_peer *pb = uh_container_of_const(b, struct uh_peer,
							 grant_node);

	return rpc_better(uh_pheap_min(&pa->grant_q),
			  uh_pheap_min(&pb->grant_q));
}

static bool older(const struct uh_pheap_node *a,
		  const struct uh_pheap_node *b)
{
	return uh_container_of_const(a, struct uh_rpc, granting.age)
		       ->granting.birth <
	       uh_container_of_const(b, struct uh_rpc, granting.age)
		       ->granting.birth;
}

static uint32_t received(const struct uh_rpc *rpc)
{
	return (uint32_t)rpc->in.length - rpc->in.bytes_remaining;
}

/* Whether @rpc (locked) should be granted to: a live incoming message
 * with buffers, not complete, not fully granted. */
static bool wants_grants(const struct uh_rpc *rpc)
{
	const struct uh_msgin *in = &rpc->in;

	return rpc->state == UH_RPC_INCOMING && !rpc->handed_off &&
	       in->length > 0 && in->has_bufs && in->bytes_remaining > 0 &&
	       in->granted < (uint32_t)in->length;
}

/*
 * Keeps @rpc's (locked) share of total_incoming equal to the bytes we
 * granted it and it has not sent, while it is scheduled; 0 otherwise.
 * Bytes its sender claimed unscheduled (in.claimed) count only once
 * received: a forged first packet claiming 40 KB it never sends held 39 KB
 * of max_incoming for a whole timeout, and about ten of them a second
 * stopped every grant at the receiver (helper-17). Nor do bytes granted to
 * a sender gone silent (uh_grant_silent): a forged message granted a
 * window would otherwise hold it until its timeout.
 */
static void account(struct uh_grant *g, struct uh_rpc *rpc, bool live)
{
	uint32_t now = 0, floor = received(rpc);

	if (floor < rpc->in.claimed)
		floor = rpc->in.claimed;
	if (live && !rpc->granting.silent && rpc->in.length > 0 &&
	    rpc->in.granted > floor)
		now = rpc->in.granted - floor;
	if (now != rpc->granting.acct) {
		atomic_fetch_add_explicit(&g->total_incoming,
					  (int64_t)now - (int64_t)rpc->granting.acct,
					  memory_order_relaxed);
		rpc->granting.acct = now;
	}
}

/* How many active messages outrank one with @rem bytes left and @birth,
 * other than slot @self: a lock-free, possibly stale scan. */
static unsigned rank_of(struct uh_grant *g, int self, uint32_t rem,
			uint64_t birth)
{
	unsigned r = 0;

	for (int i = 0; i < UHOMA_MAX_OVERCOMMIT; i++) {
		uint32_t ri;

		if (i == self)
			continue;
		ri = atomic_load_explicit(&g->slot[i].remaining,
					  memory_order_relaxed);
		if (ri != UINT32_MAX &&
		    outranks(ri, atomic_load_explicit(&g->slot[i].birth,
						      memory_order_relaxed),
			     rem, birth))
			r++;
	}
	return r;
}

uint8_t uh_grant_priority(const struct uh_grant *g, unsigned rank,
			  unsigned active)
{
	int m = g->max_sched_prio;
	int spare = m + 1 - (int)active;
	int prio = m - (int)rank - (spare > 0 ? spare : 0);

	return (uint8_t)(prio > 0 ? prio : 0);
}

/* How far past what arrived @rpc's sender may be granted: at least one of
 * its packets (their size is the route's: 64 KB on loopback). */
static uint32_t window_of(struct uhoma_stack *st, const struct uh_rpc *rpc)
{
	uint32_t w = st->cfg.window;

	if (w == 0)
		w = st->cfg.max_incoming /
		    (atomic_load_explicit(&st->grant.num_active,
					  memory_order_relaxed) + 1);
	return w < rpc->peer->max_payload ? rpc->peer->max_payload : w;
}

static void set_needy(struct uh_grant *g, int slot, bool on)
{
	uint32_t bit = 1u << slot;

	if (on)
		atomic_fetch_or_explicit(&g->needy, bit, memory_order_relaxed);
	else if (atomic_load_explicit(&g->needy, memory_order_relaxed) & bit)
		atomic_fetch_and_explicit(&g->needy, ~bit, memory_order_relaxed);
}

/*
 * Grants more to active @rpc (locked) if its window and the headroom under
 * max_incoming allow. Outside @needy_pass a message defers to needy ones.
 */
static void try_send(struct uhoma_stack *st, struct uh_rpc *rpc,
		     struct uh_deferred *p, bool needy_pass)
{
	struct uh_grant *g = &st->grant;
	struct uh_msgin *in = &rpc->in;
	int s = rpc->granting.slot;
	uint32_t len = (uint32_t)in->length, inc;
	uint64_t target = (uint64_t)received(rpc) + window_of(st, rpc);
	int64_t headroom;
	bool capped;

	if (target > len)
		target = len;
	if (target <= in->granted) {
		set_needy(g, s, false);
		return;
	}
	if (!needy_pass &&
	    (atomic_load_explicit(&g->needy, memory_order_relaxed) &
	     ~(1u << s))) {
		set_needy(g, s, true);     /* others were waiting first */
		return;
	}
	headroom = (int64_t)st->cfg.max_incoming -
		   atomic_load_explicit(&g->total_incoming, memory_order_relaxed);
	if (headroom <= 0) {
		set_needy(g, s, true);
		return;
	}
	inc = (uint32_t)(target - in->granted);
	capped = (int64_t)inc > headroom;
	if (capped)
		inc = (uint32_t)headroom;
	if (inc < rpc->peer->max_payload && in->granted + inc < len) {
		/* Less than a packet: wait for more progress or headroom --
		 * unless nothing at all is outstanding, where the wait would
		 * be for ever: a max_incoming below one packet (1,000 to
		 * 1,415 bytes of the 1500-byte MTU's) grants a packet at a
		 * time (helper-29: such messages never completed). */
		if (!capped || headroom < (int64_t)st->cfg.max_incoming) {
			set_needy(g, s, capped);
			return;
		}
		inc = (uint32_t)(target - in->granted);
		if (inc > rpc->peer->max_payload)
			inc = rpc->peer->max_payload;
	}
	in->granted += inc;
	rpc->granting.silent = false;     /* a new grant: it may send */
	account(g, rpc, true);
	set_needy(g, s, capped);
	if (needy_pass)
		uh_metric_inc(st->metrics, UH_M_NEEDY_GRANTS);
	rpc->granting.prio = uh_grant_priority(
		g, rank_of(g, s, in->bytes_remaining, rpc->granting.birth),
		atomic_load_explicit(&g->num_active, memory_order_relaxed));
	uh_grant_send(rpc, p);
}

/* Asks the manager to look at @rpc (locked) after the locks are gone. */
static void request(struct uh_rpc *rpc, struct uh_deferred *p)
{
	if (rpc->granting.requested)
		return;
	if (p->num_grant == UH_DEFERRED_GRANT) {
		atomic_store(&rpc->sock->stack->grant.rescan, true);
		p->grant_recalc = true;
		return;
	}
	uh_rpc_hold(rpc);
	p->grant[p->num_grant++] = rpc;
	rpc->granting.requested = true;
}

void uh_grant_send(struct uh_rpc *rpc, struct uh_deferred *p)
{
	struct uh_hdr h;

	uh_out_ctl_init(&h, rpc, UH_PKT_GRANT);
	h.u.grant.offset = rpc->in.granted;
	h.u.grant.priority = rpc->granting.prio;
	uh_deferred_ctl(p, &h, rpc->sock->port, &rpc->peer->addr, rpc->dport);
}

void uh_grant_check(struct uh_rpc *rpc, struct uh_deferred *p)
{
	struct uhoma_stack *st = rpc->sock->stack;
	struct uh_grant *g = &st->grant;
	bool want;

	if (rpc->in.length <= 0)
		return;
	rpc->granting.silent = false;     /* it spoke: its grant counts */
	if (!rpc->granting.birth)
		rpc->granting.birth = atomic_fetch_add_explicit(&g->births, 1,
							 memory_order_relaxed);
	want = wants_grants(rpc);
	if (rpc->granting.state == UH_G_NONE) {
		if (want)
			request(rpc, p);
		return;
	}
	account(g, rpc, true);
	if (rpc->granting.state == UH_G_QUEUED) {
		/* Promotion is the manager's; ask when it could happen. */
		uint32_t worst = 0;

		for (int i = 0; i < UHOMA_MAX_OVERCOMMIT; i++) {
			uint32_t r = atomic_load_explicit(
				&g->slot[i].remaining, memory_order_relaxed);

			if (r > worst)
				worst = r;
		}
		if (!want || worst == UINT32_MAX ||
		    rpc->in.bytes_remaining < worst)
			request(rpc, p);
		return;
	}
	atomic_store_explicit(&g->slot[rpc->granting.slot].remaining,
			      rpc->in.bytes_remaining, memory_order_relaxed);
	if (!want) {
		request(rpc, p);
		return;
	}
	try_send(st, rpc, p, false);
	if ((atomic_load_explicit(&g->needy, memory_order_relaxed) &
	     ~(1u << rpc->granting.slot)) &&
	    (int64_t)st->cfg.max_incoming -
			    atomic_load_explicit(&g->total_incoming,
						 memory_order_relaxed) >=
		    (int64_t)rpc->peer->max_payload)
		p->grant_recalc = true;   /* headroom for needy messages */
}

void uh_grant_silent(struct uh_rpc *rpc, struct uh_deferred *p)
{
	struct uh_grant *g = &rpc->sock->stack->grant;

	if (rpc->granting.silent || !rpc->granting.acct)
		return;           /* nothing held (it may wait for a grant) */
	rpc->granting.silent = true;
	account(g, rpc, true);
	p->grant_recalc = true;           /* its headroom to the needy */
}

void uh_grant_done(struct uh_rpc *rpc, struct uh_deferred *p)
{
	account(&rpc->sock->stack->grant, rpc, false);
	if (rpc->granting.state != UH_G_NONE)
		request(rpc, p);
}

/* ---- the manager's moves: grant lock held ------------------------------ */

/* Slots held by @peer's messages. */
static unsigned peer_active(const struct uh_grant *g,
			    const struct uh_peer *peer)
{
	unsigned n = 0;

	for (int i = 0; i < UHOMA_MAX_OVERCOMMIT; i++)
		if (g->slot[i].rpc && g->slot[i].rpc->peer == peer)
			n++;
	return n;
}

/*
 * A peer is in the peers' heap while it has queued messages and no
 * active one: the heap's root is then the candidate for the next free
 * slot, found without a walk. The few peers with active messages (at most
 * a slot each) are looked at through the slots. A peer's place depends on
 * its best queued message, and whether it is there on the slots, so it
 * leaves the heap while either changes (unlist, change, relist).
 */
static bool listed(const struct uh_grant *g, const struct uh_peer *p)
{
	return uh_pheap_min(&p->grant_q) && !peer_active(g, p);
}

static void unlist(struct uh_grant *g, struct uh_peer *p)
{
	if (listed(g, p))
		uh_pheap_remove(&g->peers, &p->grant_node);
}

static void relist(struct uh_grant *g, struct uh_peer *p)
{
	if (listed(g, p))
		uh_pheap_insert(&g->peers, &p->grant_node);
}

/* @rpc into the heaps, ranked by its bytes left now. */
static void heaps_insert(struct uh_grant *g, struct uh_rpc *rpc)
{
	struct uh_peer *peer = rpc->peer;
	const struct uh_pheap_node *best = uh_pheap_min(&peer->grant_q);
	bool first;

	rpc->granting.key = rpc->in.bytes_remaining;
	first = !best || rpc_better(&rpc->granting.qnode, best);
	if (first)
		unlist(g, peer);
	uh_pheap_insert(&peer->grant_q, &rpc->granting.qnode);
	if (first)
		relist(g, peer);
	if (!peer->local)
		uh_pheap_insert(&g->by_age, &rpc->granting.age);
}

static void heaps_remove(struct uh_grant *g, struct uh_rpc *rpc)
{
	struct uh_peer *peer = rpc->peer;
	bool first = uh_pheap_min(&peer->grant_q) == &rpc->granting.qnode;

	if (first)
		unlist(g, peer);
	uh_pheap_remove(&peer->grant_q, &rpc->granting.qnode);
	if (first)
		relist(g, peer);
	if (!peer->local)
		uh_pheap_remove(&g->by_age, &rpc->granting.age);
}

static void queue_insert(struct uh_grant *g, struct uh_rpc *rpc)
{
	heaps_insert(g, rpc);
	uh_list_add_tail(&rpc->granting.link, &g->queue);
	g->num_queued++;
}

static void queue_remove(struct uh_grant *g, struct uh_rpc *rpc)
{
	heaps_remove(g, rpc);
	uh_list_del(&rpc->granting.link);
	g->num_queued--;
}

static void slot_clear(struct uh_grant *g, int s)
{
	struct uh_peer *peer = g->slot[s].rpc->peer;

	unlist(g, peer);
	g->slot[s].rpc = NULL;
	relist(g, peer);
	atomic_store_explicit(&g->slot[s].remaining, UINT32_MAX,
			      memory_order_relaxed);
	set_needy(g, s, false);
	atomic_fetch_sub_explicit(&g->num_active, 1, memory_order_relaxed);
}

/* Takes @rpc (locked) out of the manager; the caller drops the manager's
 * reference after unlocking. */
static void unmanage(struct uh_grant *g, struct uh_rpc *rpc)
{
	if (rpc->granting.state == UH_G_QUEUED) {
		queue_remove(g, rpc);
	} else if (rpc->granting.state == UH_G_ACTIVE) {
		slot_clear(g, rpc->granting.slot);
	}
	rpc->granting.state = UH_G_NONE;
	rpc->granting.slot = -1;
}

/* Brings the manager up to date with @rpc. */
static void examine(struct uhoma_stack *st, struct uh_rpc *rpc)
{
	struct uh_grant *g = &st->grant;
	bool want, drop = false;

	uh_rpc_lock(rpc);
	rpc->granting.requested = false;
	want = wants_grants(rpc);
	if (want && rpc->granting.state == UH_G_NONE) {
		uh_rpc_hold(rpc);               /* the manager's reference */
		account(g, rpc, true);
		queue_insert(g, rpc);
		rpc->granting.state = UH_G_QUEUED;
	} else if (!want && rpc->granting.state != UH_G_NONE) {
		unmanage(g, rpc);
		drop = true;
	} else if (want && rpc->granting.state == UH_G_QUEUED) {
		/* Re-ranked in place: the list, which a rescan walks
		 * calling this, keeps its order. */
		heaps_remove(g, rpc);
		heaps_insert(g, rpc);
	}
	uh_rpc_unlock(rpc);
	if (drop)
		uh_rpc_put(rpc);
}

/* The queued message to activate next: the best one of a peer without an
 * active message (the root of the peers' heap), else of the peer with the
 * fewest (the better of equals), one of those holding slots. */
static struct uh_rpc *pick_candidate(struct uh_grant *g, unsigned *count)
{
	struct uh_pheap_node *top = uh_pheap_min(&g->peers);
	struct uh_peer *best = NULL;
	unsigned best_n = UINT32_MAX;

	if (top) {
		best = uh_container_of(top, struct uh_peer, grant_node);
		best_n = 0;
	}
	for (int i = 0; !top && i < UHOMA_MAX_OVERCOMMIT; i++) {
		struct uh_peer *p = g->slot[i].rpc ? g->slot[i].rpc->peer : NULL;
		unsigned n;

		if (!p || !uh_pheap_min(&p->grant_q))
			continue;
		n = peer_active(g, p);
		if (n < best_n ||
		    (n == best_n && rpc_better(uh_pheap_min(&p->grant_q),
					       uh_pheap_min(&best->grant_q)))) {
			best = p;
			best_n = n;
		}
	}
	*count = best_n;
	if (!best)
		return NULL;
	return uh_container_of(uh_pheap_min(&best->grant_q), struct uh_rpc,
			       granting.qnode);
}

/* The active message to evict: the worst one of the peer with the most
 * active messages. */
static int pick_victim(struct uh_grant *g, unsigned limit, unsigned *count)
{
	int victim = -1;
	unsigned vn = 0;

	for (unsigned i = 0; i < limit; i++) {
		unsigned n;

		if (!g->slot[i].rpc)
			continue;
		n = peer_active(g, g->slot[i].rpc->peer);
		if (victim < 0 || n > vn ||
		    (n == vn &&
		     outranks(atomic_load(&g->slot[victim].remaining),
			      atomic_load(&g->slot[victim].birth),
			      atomic_load(&g->slot[i].remaining),
			      atomic_load(&g->slot[i].birth)))) {
			victim = (int)i;
			vn = n;
		}
	}
	*count = vn;
	return victim;
}

static void activate(struct uhoma_stack *st, struct uh_rpc *rpc, int s,
		     struct uh_deferred *out)
{
	struct uh_grant *g = &st->grant;

	uh_rpc_lock(rpc);
	queue_remove(g, rpc);
	if (!wants_grants(rpc)) {
		/* Ended or completed since it was queued. */
		rpc->granting.state = UH_G_NONE;
		uh_rpc_unlock(rpc);
		uh_rpc_put(rpc);
		return;
	}
	rpc->granting.state = UH_G_ACTIVE;
	rpc->granting.slot = (int8_t)s;
	unlist(g, rpc->peer);
	g->slot[s].rpc = rpc;     /* its peer stays out of the heap now */
	atomic_store(&g->slot[s].birth, rpc->granting.birth);
	atomic_store(&g->slot[s].remaining, rpc->in.bytes_remaining);
	atomic_fetch_add(&g->num_active, 1);
	uh_metric_inc(st->metrics, UH_M_GRANT_ACTIVATIONS);
	try_send(st, rpc, out, false);
	uh_rpc_unlock(rpc);
}

static void deactivate(struct uhoma_stack *st, int s)
{
	struct uh_grant *g = &st->grant;
	struct uh_rpc *rpc = g->slot[s].rpc;

	uh_rpc_lock(rpc);
	slot_clear(g, s);
	rpc->granting.slot = -1;
	rpc->granting.state = UH_G_QUEUED;
	queue_insert(g, rpc);
	uh_metric_inc(st->metrics, UH_M_GRANT_EVICTIONS);
	uh_rpc_unlock(rpc);
}

/* Fills free slots and lets better queued messages displace worse active
 * ones. */
static void fill(struct uhoma_stack *st, struct uh_deferred *out)
{
	struct uh_grant *g = &st->grant;
	unsigned limit = st->cfg.max_overcommit;

	for (unsigned iter = 0; iter < 4 * UHOMA_MAX_OVERCOMMIT &&
				g->num_queued > 0; iter++) {
		unsigned cn, vn;
		struct uh_rpc *cand = pick_candidate(g, &cn);
		int s = -1, v;
		bool same, better;

		for (unsigned i = 0; i < limit; i++)
			if (!g->slot[i].rpc) {
				s = (int)i;
				break;
			}
		if (s >= 0) {
			activate(st, cand, s, out);
			continue;
		}
		v = pick_victim(g, limit, &vn);
		same = g->slot[v].rpc->peer == cand->peer;
		better = outranks(cand->granting.key, cand->granting.birth,
				  atomic_load(&g->slot[v].remaining),
				  atomic_load(&g->slot[v].birth));
		if (same ? !better
			 : !(cn < vn && (better || (cn == 0 && vn > 1))))
			break;
		deactivate(st, v);
		activate(st, cand, v, out);
	}
}

/* Spends headroom on needy messages, best first. */
static void serve_needy(struct uhoma_stack *st, struct uh_deferred *out)
{
	struct uh_grant *g = &st->grant;

	for (unsigned iter = 0; iter < UHOMA_MAX_OVERCOMMIT; iter++) {
		uint32_t mask = atomic_load(&g->needy);
		int best = -1;
		struct uh_rpc *rpc;

		/* Whether the headroom makes a packet is try_send's to say
		 * (packet sizes differ by peer): it leaves the message needy
		 * when it does not, and the loop ends. */
		if (!mask || (int64_t)st->cfg.max_incoming -
				     atomic_load(&g->total_incoming) <= 0)
			return;
		for (int i = 0; i < UHOMA_MAX_OVERCOMMIT; i++)
			if ((mask & (1u << i)) &&
			    (best < 0 ||
			     outranks(atomic_load(&g->slot[i].remaining),
				      atomic_load(&g->slot[i].birth),
				      atomic_load(&g->slot[best].remaining),
				      atomic_load(&g->slot[best].birth))))
				best = i;
		rpc = g->slot[best].rpc;
		if (!rpc) {
			set_needy(g, best, false);
			continue;
		}
		uh_rpc_lock(rpc);
		if (wants_grants(rpc))
			try_send(st, rpc, out, true);
		else
			set_needy(g, best, false);
		uh_rpc_unlock(rpc);
		if (atomic_load(&g->needy) & (1u << best))
			return;          /* capped: no headroom left */
	}
}

void uh_grant_recalc(struct uhoma_stack *st, struct uh_rpc **rpcs,
		     unsigned n)
{
	struct uh_grant *g = &st->grant;
	struct uh_deferred out;

	uh_deferred_init(&out);
	uh_lock(&g->lock);
	uh_metric_inc(st->metrics, UH_M_GRANT_RECALCS);
	for (unsigned i = 0; i < n; i++)
		examine(st, rpcs[i]);
	if (atomic_exchange(&g->rescan, false)) {
		struct uh_list *pos, *next;

		for (int i = 0; i < UHOMA_MAX_OVERCOMMIT; i++)
			if (g->slot[i].rpc)
				examine(st, g->slot[i].rpc);
		for (pos = g->queue.next; pos != &g->queue; pos = next) {
			next = pos->next;
			examine(st, uh_list_entry(pos, struct uh_rpc, granting.link));
		}
	}
	fill(st, &out);
	serve_needy(st, &out);
	uh_unlock(&g->lock);
	for (unsigned i = 0; i < n; i++)
		uh_rpc_put(rpcs[i]);
	uh_deferred_flush(st, &out);
}

/* The oldest managed message from a peer across a link. A peer on this
 * host takes no share of a link (as the pacer leaves it alone): without
 * this, a loopback stack's "link" of 100 Gbit/s sent FIFO grants at the
 * high priority, into the urgent lane, for W4 through the preload 30 MB/s
 * of them. */
static struct uh_rpc *oldest(struct uh_grant *g)
{
	struct uh_rpc *best = NULL;
	uint64_t bb = UINT64_MAX;

	for (int i = 0; i < UHOMA_MAX_OVERCOMMIT; i++)
		if (g->slot[i].rpc && !g->slot[i].rpc->peer->local &&
		    atomic_load(&g->slot[i].birth) < bb) {
			best = g->slot[i].rpc;
			bb = atomic_load(&g->slot[i].birth);
		}
	if (uh_pheap_min(&g->by_age)) {
		struct uh_rpc *r = uh_container_of(uh_pheap_min(&g->by_age),
						   struct uh_rpc, granting.age);

		if (r->granting.birth < bb)
			best = r;
	}
	return best;
}

void uh_grant_tick(struct uhoma_stack *st)
{
	struct uh_grant *g = &st->grant;
	const struct uhoma_config *c = &st->cfg;
	uint32_t inc = c->fifo_grant_increment;
	struct uh_deferred out;
	struct uh_rpc *rpc;

	uh_deferred_init(&out);
	uh_lock(&g->lock);
	/* The stack's link rate, the configured one or the interface's (a
	 * config of 0, the default, means the interface's: reading the
	 * config's here kept the FIFO share off by default). */
	if (c->grant_fifo_fraction && st->link_mbps) {
		/* link_mbps * tick_us / 8 bytes cross the link per tick. */
		g->fifo_credit += (uint64_t)st->link_mbps * c->tick_us / 8 *
				  c->grant_fifo_fraction / 1000;
		if (g->fifo_credit > inc)
			g->fifo_credit = inc;   /* no bursts after idling */
	}
	rpc = g->fifo_credit >= inc ? oldest(g) : NULL;
	if (rpc) {
		uh_rpc_lock(rpc);
		uint32_t rcvd = rpc->in.length > 0 ? received(rpc) : 0;

		if (wants_grants(rpc) && rpc->in.granted >= rcvd &&
		    rpc->in.granted - rcvd <
			    (uint64_t)window_of(st, rpc) + 2ull * inc) {
			uint32_t len = (uint32_t)rpc->in.length;
			uint32_t before = rpc->in.granted;

			rpc->in.granted = len - before < inc ? len
							     : before + inc;
			account(g, rpc, true);
			/* The highest scheduled level, not the module's
			 * num_priorities - 2: above every SRPT grant, so
			 * the oldest gets through; below every unscheduled
			 * byte, so no short message waits behind a 50 KB
			 * burst (tests/unit/test_sched.c says by how much). */
			rpc->granting.prio = uh_prio_max_sched(st);
			uh_grant_send(rpc, &out);
			g->fifo_credit -= inc;
			uh_metric_add(st->metrics, UH_M_FIFO_GRANT_BYTES,
				      rpc->in.granted - before);
		}
		uh_rpc_unlock(rpc);
	}
	/* A safety net for headroom freed without a recalc. */
	serve_needy(st, &out);
	uh_unlock(&g->lock);
	uh_deferred_flush(st, &out);
}

uint32_t uh_grant_count(struct uhoma_stack *st)
{
	return atomic_load_explicit(&st->grant.num_active,
				    memory_order_relaxed) +
	       atomic_load_explicit(&st->grant.num_queued,
				    memory_order_relaxed);
}
