/*
 * memnet.c - the in-memory network: a carrier joining stacks in one
 * process, with a seeded fault injector and an optional virtual clock.
 *
 * Synchronization. Sending is the hot path and takes no global lock:
 *  - the node list and the fault policy (faults + partitions, an
 *    immutable object replaced as a whole) are read under RCU; `memnet`
 *    (rank NET) serializes their writers, which free old versions after a
 *    grace period;
 *  - each node's random generator is under its `memnet.tx` lock (rank
 *    NET), so the same seed and call order give the same faults;
 *  - each node's queue of packets in flight (a min-heap on due time, then
 *    send order) and port bitmap are under its `memnet.node` lock (leaf);
 *  - statistics are relaxed atomic counters.
 * Packets are copied (malloc) with no lock held.
 */
#include <stdlib.h>
#include <string.h>

#include "mem/cache.h"
#include "net/memnet.h"
#include "sync/lock.h"
#include "sync/rcu.h"
#include "sync/wait.h"
#include "uhoma/memnet.h"
#include "uhoma/uhoma.h"
#include "util/clock.h"

static UH_LOCK_CLASS(net_class, "memnet", UH_RANK_NET, 0);
static UH_LOCK_CLASS(node_class, "memnet.node", UH_RANK_LEAF, UH_LC_LEAF);
static UH_LOCK_CLASS(tx_class, "memnet.tx", UH_RANK_NET, 0);

#define MN_QUEUE_MAX 65536     /* packets in flight per node */
#define MN_MAX_CUTS 32

/* A packet in flight: owned by whoever holds it (the sender, then the
 * destination queue under memnet.node, then the receiver). */
struct mn_pkt {
	struct uh_cache *cache;        /* where it came from */
	uint64_t due, seq;
	struct uh_addr src;
	uint32_t len;
	uint8_t data[];
};

struct mn_policy {
	struct uhoma_memnet_faults f;
	unsigned ncuts;
	struct { struct uh_addr a, b; } cuts[MN_MAX_CUTS];
};

/* Packet buffers come from two object caches: control packets and small
 * DATA, and full-size packets. */
#define MN_SMALL_PKT 2048
#define MN_LARGE_PKT 65536

struct mn_node {
	struct uh_carrier c;           /* first: the carrier handle */
	struct uhoma_memnet *net;      /* immutable */
	struct mn_node *_Atomic next;  /* memnet lock; RCU readers */
	struct uh_lock tx_lock;        /* memnet.tx: rng */
	uint64_t rng;
	struct uh_lock lock;           /* memnet.node: below */
	struct mn_pkt **heap;
	unsigned n;
	_Atomic uint64_t qbytes;       /* bytes of the packets in @heap:
					* written under memnet.node, read
					* relaxed (mn_queued) */
	uint64_t ports[65536 / 64];
	uint32_t next_port;
	struct uh_wait wait;           /* recv sleepers */
	_Atomic uint32_t kicks;        /* kicks so far: wakes every waiter
					* (atomic) */
	_Atomic bool kicked;           /* a kick no recv had begun to wait
					* for: the next one returns (atomic) */
	_Atomic bool stalled;          /* takes no packets from its queue
					* (uhoma_memnet_stall; atomic) */
	/* Virtual clock driver: written under memnet lock, used by run(). */
	uh_memnet_input_fn input;
	uh_memnet_tick_fn tick;
	void *arg;
	uint64_t tick_ns, next_tick;
	/* A tap (uh_memnet_divert): arg written before fn (release), read
	 * after it (acquire). */
	_Atomic uh_memnet_divert_fn divert;
	void *_Atomic divert_arg;
};

struct uhoma_memnet {
	struct uh_lock lock;           /* memnet: writers of the below */
	bool virtual_clock;            /* immutable */
	uint64_t seed;                 /* immutable */
	_Atomic uint64_t vnow;         /* virtual clock: run() writes */
	_Atomic uint64_t seq;          /* send order, for ties */
	struct mn_policy *_Atomic policy; /* RCU */
	struct uh_cache *small, *large;   /* immutable */
	struct mn_node *_Atomic nodes;    /* RCU */
	struct {
		_Atomic uint64_t sent, delivered, lost, duplicated, corrupted,
			garbled, reordered, partitioned, overflowed,
			unroutable;
	} st;                          /* relaxed atomics */
};

#define MN_COUNT(net, f) atomic_fetch_add_explicit(&(net)->st.f, 1, \
					       memory_order_relaxed)

/* xorshift64*, per node under its tx lock. */
static uint64_t rng_next(struct mn_node *n)
{
	uint64_t x = n->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	n->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static bool roll(struct mn_node *n, uint32_t ppm)
{
	return ppm && rng_next(n) % 1000000 < ppm;
}

uint64_t uhoma_memnet_now(struct uhoma_memnet *net)
{
	if (!net)
		return 0;
	return net->virtual_clock ? atomic_load(&net->vnow) : uh_now_ns();
}

struct uhoma_memnet *uhoma_memnet_create(uint64_t seed, int virtual_clock)
{
	struct uhoma_memnet *net = calloc(1, sizeof(*net));

	if (!net)
		return NULL;
	uh_lock_init(&net->lock, &net_class);
	net->virtual_clock = virtual_clock != 0;
	atomic_init(&net->vnow, 0);
	net->seed = seed ? seed : 0x9E3779B97F4A7C15ull;
	atomic_init(&net->policy, calloc(1, sizeof(struct mn_policy)));
	{
		struct uh_cache_config small = {
			.name = "memnet.pkt_small",
			.size = sizeof(struct mn_pkt) + MN_SMALL_PKT,
		}, large = {
			.name = "memnet.pkt_large",
			.size = sizeof(struct mn_pkt) + MN_LARGE_PKT,
		};

		net->small = uh_cache_create(&small);
		net->large = uh_cache_create(&large);
	}
	if (!atomic_load(&net->policy) || !net->small || !net->large) {
		uh_cache_destroy(net->small);
		uh_cache_destroy(net->large);
		free(atomic_load(&net->policy));
		free(net);
		return NULL;
	}
	return net;
}

void uhoma_memnet_destroy(struct uhoma_memnet *net)
{
	if (!net)
		return;
	free(atomic_load(&net->policy));
	uh_cache_destroy(net->small);
	uh_cache_destroy(net->large);
	free(net);
}

/*
 * Policy updates copy the current policy (policy_begin: allocates, then
 * takes the memnet lock), change the copy, and publish it (policy_commit:
 * swaps, unlocks, frees the old one after a grace period). NULL if memory
 * is short (nothing locked then).
 */
static struct mn_policy *policy_begin(struct uhoma_memnet *net)
{
	struct mn_policy *np = malloc(sizeof(*np));

	if (!np)
		return NULL;
	uh_lock(&net->lock);
	*np = *atomic_load(&net->policy);
	return np;
}

static void policy_commit(struct uhoma_memnet *net, struct mn_policy *np)
{
	struct mn_policy *old = atomic_load(&net->policy);

	atomic_store_explicit(&net->policy, np, memory_order_release);
	uh_unlock(&net->lock);
	uh_synchronize_rcu();       /* no sender still reads @old */
	free(old);
}

void uhoma_memnet_set_faults(struct uhoma_memnet *net,
			     const struct uhoma_memnet_faults *f)
{
	struct mn_policy *np;

	if (!net || !f)
		return;
	np = policy_begin(net);
	if (!np)
		return;
	np->f = *f;
	policy_commit(net, np);
}

int uhoma_memnet_partition(struct uhoma_memnet *net, const char *a,
			   const char *b, int cut)
{
	struct uh_addr x, y;
	int rc = 0;

	struct mn_policy *np;

	if (!net || !a || !b || uh_addr_parse(a, &x) || uh_addr_parse(b, &y))
		return -1;
	np = policy_begin(net);
	if (!np)
		return -1;
	for (unsigned i = 0; i < np->ncuts; i++) {
		if ((uh_addr_eq(&np->cuts[i].a, &x) &&
		     uh_addr_eq(&np->cuts[i].b, &y)) ||
		    (uh_addr_eq(&np->cuts[i].a, &y) &&
		     uh_addr_eq(&np->cuts[i].b, &x))) {
			if (!cut)
				np->cuts[i] = np->cuts[--np->ncuts];
			goto out;
		}
	}
	if (cut) {
		if (np->ncuts == MN_MAX_CUTS) {
			rc = -1;
		} else {
			np->cuts[np->ncuts].a = x;
			np->cuts[np->ncuts].b = y;
			np->ncuts++;
		}
	}
out:
	policy_commit(net, np);
	return rc;
}

void uhoma_memnet_stats(struct uhoma_memnet *net,
			struct uhoma_memnet_stats *st)
{
	if (!net || !st)
		return;
#define RD(f) st->f = atomic_load_explicit(&net->st.f, memory_order_relaxed)
	RD(sent); RD(delivered); RD(lost); RD(duplicated); RD(corrupted);
	RD(garbled); RD(reordered); RD(partitioned); RD(overflowed);
	RD(unroutable);
#undef RD
}

/* ---- the per-node queue (node lock held) -------------------------------- */

static bool pkt_before(const struct mn_pkt *a, const struct mn_pkt *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static bool heap_push(struct mn_node *n, struct mn_pkt *p)
{
	unsigned i;

	if (n->n == MN_QUEUE_MAX)
		return false;
	i = n->n++;
	while (i > 0 && pkt_before(p, n->heap[(i - 1) / 2])) {
		n->heap[i] = n->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	n->heap[i] = p;
	atomic_store_explicit(&n->qbytes,
			      atomic_load_explicit(&n->qbytes,
						   memory_order_relaxed) +
				      p->len,
			      memory_order_relaxed);
	return true;
}

static struct mn_pkt *heap_pop(struct mn_node *n)
{
	struct mn_pkt *top = n->heap[0], *last = n->heap[--n->n];
	unsigned i = 0;

	atomic_store_explicit(&n->qbytes,
			      atomic_load_explicit(&n->qbytes,
						   memory_order_relaxed) -
				      top->len,
			      memory_order_relaxed);

	for (;;) {
		unsigned c = 2 * i + 1;

		if (c >= n->n)
			break;
		if (c + 1 < n->n && pkt_before(n->heap[c + 1], n->heap[c]))
			c++;
		if (!pkt_before(n->heap[c], last))
			break;
		n->heap[i] = n->heap[c];
		i = c;
	}
	if (n->n)
		n->heap[i] = last;
	return top;
}

/* ---- carrier operations ------------------------------------------------- */

static struct mn_node *node_of(struct uh_carrier *c)
{
	return (struct mn_node *)(void *)c;
}

static int mn_open_port(struct uh_carrier *c, uint16_t *port)
{
	struct mn_node *n = node_of(c);
	int rc = UHOMA_OK;

	uh_lock(&n->lock);
	if (*port == 0) {
		unsigned tries;

		for (tries = 0; tries < 0x8000; tries++) {
			uint32_t p = n->next_port;

			n->next_port = p == 0xFFFF ? 0x8000 : p + 1;
			if (!(n->ports[p / 64] & (1ull << (p % 64)))) {
				*port = (uint16_t)p;
				break;
			}
		}
		if (tries == 0x8000)
			rc = UHOMA_ERR_ADDR_IN_USE;
	} else if (n->ports[*port / 64] & (1ull << (*port % 64))) {
		rc = UHOMA_ERR_ADDR_IN_USE;
	}
	if (rc == UHOMA_OK)
		n->ports[*port / 64] |= 1ull << (*port % 64);
	uh_unlock(&n->lock);
	return rc;
}

static void mn_close_port(struct uh_carrier *c, uint16_t port)
{
	struct mn_node *n = node_of(c);

	uh_lock(&n->lock);
	n->ports[port / 64] &= ~(1ull << (port % 64));
	uh_unlock(&n->lock);
}

/* The node at @a (RCU read section or memnet lock), or NULL. */
static struct mn_node *find_node(struct uhoma_memnet *net,
				 const struct uh_addr *a)
{
	for (struct mn_node *n = atomic_load_explicit(&net->nodes,
						      memory_order_acquire);
	     n; n = atomic_load_explicit(&n->next, memory_order_acquire))
		if (uh_addr_eq(&n->c.local, a))
			return n;
	return NULL;
}

int uhoma_memnet_stall(struct uhoma_memnet *net, const char *addr,
		       int stall)
{
	struct uh_addr a;
	struct mn_node *n;
	int rc = -1;

	if (!net || !addr || uh_addr_parse(addr, &a))
		return -1;
	uh_rcu_read_lock();
	n = find_node(net, &a);
	if (n) {
		atomic_store(&n->stalled, stall != 0);
		uh_wait_wake_all(&n->wait);
		rc = 0;
	}
	uh_rcu_read_unlock();
	return rc;
}

static bool is_cut(const struct mn_policy *pol, const struct uh_addr *a,
		   const struct uh_addr *b)
{
	for (unsigned i = 0; i < pol->ncuts; i++)
		if ((uh_addr_eq(&pol->cuts[i].a, a) &&
		     uh_addr_eq(&pol->cuts[i].b, b)) ||
		    (uh_addr_eq(&pol->cuts[i].a, b) &&
		     uh_addr_eq(&pol->cuts[i].b, a)))
			return true;
	return false;
}

static void pkt_free(struct mn_pkt *p)
{
	if (p)
		uh_cache_free(p->cache, p);
}

/* Queues @p for @dst; frees it if the queue is full. */
static void deliver(struct uhoma_memnet *net, struct mn_node *dst,
		    struct mn_pkt *p)
{
	bool ok;

	p->seq = atomic_fetch_add_explicit(&net->seq, 1, memory_order_relaxed);
	uh_lock(&dst->lock);
	ok = heap_push(dst, p);
	uh_unlock(&dst->lock);
	if (!ok) {
		MN_COUNT(net, overflowed);
		pkt_free(p);
	}
}

static struct mn_pkt *pkt_copy(struct uhoma_memnet *net,
			       const struct uh_tx *t, const struct uh_addr *src)
{
	size_t len = t->hdr_len + t->payload_len;
	struct uh_cache *c = len <= MN_SMALL_PKT ? net->small : net->large;
	struct mn_pkt *p;

	if (len > MN_LARGE_PKT)
		return NULL;
	p = uh_cache_alloc(c);
	if (!p)
		return NULL;
	p->cache = c;
	p->src = *src;
	p->len = (uint32_t)len;
	memcpy(p->data, t->hdr, t->hdr_len);
	if (t->payload_len)
		memcpy(p->data + t->hdr_len, t->payload, t->payload_len);
	return p;
}

void uh_memnet_divert(struct uh_carrier *c, uh_memnet_divert_fn fn,
		      void *arg)
{
	struct mn_node *self = node_of(c);

	atomic_store_explicit(&self->divert_arg, arg, memory_order_relaxed);
	atomic_store_explicit(&self->divert, fn, memory_order_release);
}

static unsigned mn_send(struct uh_carrier *c, uint16_t sport,
			const struct uh_tx *pkts, unsigned count)
{
	struct mn_node *self = node_of(c);
	struct uhoma_memnet *net = self->net;
	uh_memnet_divert_fn divert = atomic_load_explicit(&self->divert,
							  memory_order_acquire);
	unsigned sent = 0;

	(void)sport;
	if (divert) {
		divert(atomic_load_explicit(&self->divert_arg,
					    memory_order_relaxed), pkts, count);
		return count;
	}
	for (unsigned i = 0; i < count; i++) {
		const struct uh_tx *t = &pkts[i];
		struct mn_pkt *p = pkt_copy(net, t, &c->local), *dup = NULL;
		const struct mn_policy *pol;
		struct mn_node *dst;
		bool lose, corrupt, garble, reorder, twice;
		uint64_t now, r1 = 0, r2 = 0, r3 = 0;

		if (!p)
			continue;
		if (p->len > c->max_packet) {
			pkt_free(p);
			continue;
		}
		sent++;
		MN_COUNT(net, sent);
		uh_rcu_read_lock();
		pol = atomic_load_explicit(&net->policy, memory_order_acquire);
		dst = find_node(net, &t->dst);
		if (!dst) {
			MN_COUNT(net, unroutable);
			goto drop;
		}
		if (is_cut(pol, &c->local, &t->dst)) {
			MN_COUNT(net, partitioned);
			goto drop;
		}
		uh_lock(&self->tx_lock);
		lose = roll(self, pol->f.loss_ppm);
		corrupt = roll(self, pol->f.corrupt_ppm);
		garble = roll(self, pol->f.garble_ppm);
		reorder = pol->f.max_delay_ns && roll(self, pol->f.reorder_ppm);
		twice = roll(self, pol->f.dup_ppm);
		r1 = rng_next(self);
		r2 = rng_next(self);
		r3 = rng_next(self);
		uh_unlock(&self->tx_lock);
		/* The copy for duplication, only when one is due (no lock
		 * held: the cache may allocate). */
		if (twice && !(dup = pkt_copy(net, t, &c->local)))
			twice = false;
		if (lose) {
			MN_COUNT(net, lost);
			goto drop;
		}
		if (corrupt) {
			MN_COUNT(net, corrupted);   /* the checksum catches it */
			goto drop;
		}
		if (garble) {
			uint32_t span = p->len < 56 ? p->len : 56;

			p->data[r1 % span] ^= (uint8_t)(1 + r2 % 255);
			MN_COUNT(net, garbled);
		}
		now = uhoma_memnet_now(net);
		p->due = now + pol->f.delay_ns;
		if (reorder) {
			p->due += r3 % pol->f.max_delay_ns;
			MN_COUNT(net, reordered);
		}
		if (twice) {
			dup->due = p->due + (pol->f.max_delay_ns
				? r2 % pol->f.max_delay_ns : 0);
			MN_COUNT(net, duplicated);
			deliver(net, dst, dup);
			dup = NULL;
		}
		deliver(net, dst, p);
		p = NULL;
		/* The RCU read section keeps @dst allocated (mn_destroy
		 * waits a grace period before freeing a node). */
		uh_wait_wake_all(&dst->wait);
drop:
		uh_rcu_read_unlock();
		pkt_free(p);
		pkt_free(dup);
	}
	return sent;
}

static unsigned mn_recv(struct uh_carrier *c, struct uh_rx *rx, unsigned max,
			int64_t timeout_ns)
{
	struct mn_node *n = node_of(c);
	struct uhoma_memnet *net = n->net;
	uint64_t start = uh_now_ns(), kicks = atomic_load(&n->kicks);
	/* A kick that came before this recv began (between a caller's
	 * check and its wait) is not lost: it is still pending here. */
	bool pending = timeout_ns != 0 && atomic_exchange(&n->kicked, false);

	for (;;) {
		struct mn_pkt *got[64];
		unsigned k = 0, i;
		uint64_t now = uhoma_memnet_now(net), next_due = UINT64_MAX;
		uint32_t ticket = uh_wait_prepare(&n->wait);

		if (max > 64)
			max = 64;
		if (!net->virtual_clock && !atomic_load(&n->stalled)) {
			uh_lock(&n->lock);
			while (k < max && n->n && n->heap[0]->due <= now)
				got[k++] = heap_pop(n);
			if (n->n)
				next_due = n->heap[0]->due;
			uh_unlock(&n->lock);
		}
		for (i = 0; i < k; i++) {
			size_t len = got[i]->len < rx[i].cap ? got[i]->len
							      : rx[i].cap;

			memcpy(rx[i].buf, got[i]->data, len);
			rx[i].len = len;
			rx[i].src = got[i]->src;
			rx[i].priority = 0;
			rx[i].seg_size = 0;
			rx[i].unreachable = UH_REACHED;
			pkt_free(got[i]);
			MN_COUNT(net, delivered);
		}
		if (k || timeout_ns == 0 || net->virtual_clock || pending ||
		    atomic_load(&n->kicks) != kicks)
			return k;
		now = uh_now_ns();
		if (timeout_ns > 0 && now - start >= (uint64_t)timeout_ns)
			return 0;
		{
			uint64_t wait = timeout_ns > 0
				? (uint64_t)timeout_ns - (now - start) : UINT64_MAX;

			if (next_due != UINT64_MAX)
				wait = next_due > now && next_due - now < wait
					? next_due - now : (next_due > now ? wait : 1);
			uh_wait_sleep(&n->wait, ticket, wait);
		}
	}
}

static void mn_kick(struct uh_carrier *c)
{
	struct mn_node *n = node_of(c);

	atomic_store(&n->kicked, true);
	atomic_fetch_add(&n->kicks, 1);
	uh_wait_wake_all(&n->wait);
}

static void mn_destroy(struct uh_carrier *c)
{
	struct mn_node *n = node_of(c);
	struct uhoma_memnet *net = n->net;

	uh_lock(&net->lock);
	for (struct mn_node *_Atomic *pp = &net->nodes; atomic_load(pp);
	     pp = &atomic_load(pp)->next)
		if (atomic_load(pp) == n) {
			atomic_store_explicit(pp, atomic_load(&n->next),
					      memory_order_release);
			break;
		}
	uh_unlock(&net->lock);
	uh_synchronize_rcu();     /* senders may still be waking us */
	while (n->n)
		pkt_free(heap_pop(n));
	free(n->heap);
	free(n);
}

/* What waits in the node's queue, in flight or arrived and not taken. */
static uint64_t mn_queued(struct uh_carrier *c)
{
	struct mn_node *n = (struct mn_node *)(void *)c;

	return atomic_load_explicit(&n->qbytes, memory_order_relaxed);
}

static const struct uh_carrier_ops memnet_ops = {
	.name = "memnet",
	.open_port = mn_open_port,
	.close_port = mn_close_port,
	.send = mn_send,
	.recv = mn_recv,
	.kick = mn_kick,
	.queued = mn_queued,
	.destroy = mn_destroy,
};

int uh_memnet_carrier_create(const struct uhoma_config *cfg,
			     struct uh_carrier **out)
{
	struct uhoma_memnet *net = cfg->memnet;
	struct mn_node *n = calloc(1, sizeof(*n));

	if (!n)
		return UHOMA_ERR_NOMEM;
	n->heap = malloc(MN_QUEUE_MAX * sizeof(*n->heap));
	if (!n->heap) {
		free(n);
		return UHOMA_ERR_NOMEM;
	}
	n->c.ops = &memnet_ops;
	n->c.max_packet = (cfg->mtu ? cfg->mtu : 1500) - 28; /* as IPv4 + UDP
							    * would leave */
	/* The queue is taken for a UDP socket's with rmem_max at 4 MiB (the
	 * runtime's held-back ticks); its peers are never local, so no
	 * unscheduled allowance follows from it. */
	n->c.rcvbuf = 8u << 20;
	if (uh_addr_parse(cfg->addr, &n->c.local)) {
		free(n->heap);
		free(n);
		return UHOMA_ERR_INVALID_ARGUMENT;
	}
	n->net = net;
	n->next_port = 0x8000;
	n->rng = net->seed ^ ((uint64_t)uh_addr_hash(&n->c.local) << 20 |
			      uh_addr_hash(&n->c.local));
	if (!n->rng)
		n->rng = 1;
	uh_lock_init(&n->tx_lock, &tx_class);
	uh_lock_init(&n->lock, &node_class);
	uh_wait_init(&n->wait);
	uh_lock(&net->lock);
	if (find_node(net, &n->c.local)) {
		uh_unlock(&net->lock);
		free(n->heap);
		free(n);
		return UHOMA_ERR_ADDR_IN_USE;
	}
	atomic_store_explicit(&n->next, atomic_load(&net->nodes),
			      memory_order_relaxed);
	atomic_store_explicit(&net->nodes, n, memory_order_release);
	uh_unlock(&net->lock);
	*out = &n->c;
	return UHOMA_OK;
}

bool uh_memnet_is_virtual(const struct uh_carrier *c)
{
	return c->ops == &memnet_ops &&
	       ((const struct mn_node *)(const void *)c)->net->virtual_clock;
}

void uh_memnet_set_driver(struct uh_carrier *c, uh_memnet_input_fn input,
			  uh_memnet_tick_fn tick, void *arg, uint64_t tick_ns)
{
	struct mn_node *n = node_of(c);

	uh_lock(&n->net->lock);
	n->input = input;
	n->tick = tick;
	n->arg = arg;
	n->tick_ns = tick_ns;
	n->next_tick = atomic_load(&n->net->vnow) + tick_ns;
	uh_unlock(&n->net->lock);
}

uint64_t uhoma_memnet_run(struct uhoma_memnet *net, uint64_t ns)
{
	uint64_t end, delivered = 0;

	if (!net || !net->virtual_clock)
		return 0;
	end = atomic_load(&net->vnow) + ns;
	for (;;) {
		struct mn_node *best = NULL;
		uint64_t when = UINT64_MAX;
		bool is_tick = false;
		struct mn_pkt *p = NULL;
		uh_memnet_input_fn input;
		uh_memnet_tick_fn tick;
		void *arg;

		uh_lock(&net->lock);
		for (struct mn_node *n = atomic_load(&net->nodes); n;
		     n = atomic_load(&n->next)) {
			if (!n->input)
				continue;
			uh_lock(&n->lock);
			if (n->n && n->heap[0]->due < when &&
			    !atomic_load(&n->stalled)) {
				when = n->heap[0]->due;
				best = n;
				is_tick = false;
			}
			uh_unlock(&n->lock);
			if (n->next_tick < when) {
				when = n->next_tick;
				best = n;
				is_tick = true;
			}
		}
		if (!best || when > end) {
			uh_unlock(&net->lock);
			break;
		}
		if (when > atomic_load(&net->vnow))
			atomic_store(&net->vnow, when);
		if (is_tick) {
			best->next_tick += best->tick_ns;
		} else {
			uh_lock(&best->lock);
			p = heap_pop(best);
			uh_unlock(&best->lock);
			MN_COUNT(net, delivered);
		}
		input = best->input;
		tick = best->tick;
		arg = best->arg;
		uh_unlock(&net->lock);
		if (p) {
			input(arg, p->data, p->len, &p->src);
			pkt_free(p);
			delivered++;
		} else {
			tick(arg);
		}
	}
	atomic_store(&net->vnow, end);
	return delivered;
}
