/*
 * sock.c - socket open/close, the port table, deferred work, protect
 * counts, reaping and buffer waiters.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "core/grant.h"
#include "core/incoming.h"
#include "core/outgoing.h"
#include "core/sock.h"
#include "core/stack.h"
#include "sync/rcu.h"

static UH_LOCK_CLASS(sock_class, "socket", UH_RANK_SOCKET, 0);
static UH_LOCK_CLASS(rpc_class, "rpc", UH_RANK_RPC, 0);

static bool bufs_first(const struct uh_pheap_node *a,
		       const struct uh_pheap_node *b);

/* ---- deferred work ------------------------------------------------------ */

void uh_deferred_ctl(struct uh_deferred *p, const struct uh_hdr *h,
		     uint16_t sport, const struct uh_addr *dst, uint16_t dport)
{
	if (p->num_ctl == UH_DEFERRED_CTL)
		return;   /* a control packet lost; the timer repeats it */
	p->ctl[p->num_ctl].len = uh_wire_encode(h, p->ctl[p->num_ctl].hdr);
	p->ctl[p->num_ctl].dst = *dst;
	p->ctl[p->num_ctl].sport = sport;
	p->ctl[p->num_ctl].dport = dport;
	p->num_ctl++;
}

void uh_deferred_wake(struct uh_deferred *p, struct uhoma_sock *s, bool all)
{
	p->wake_sock = s;
	if (all) {
		p->wake_all = true;
	} else {
		p->wake_more = p->wake_one;
		p->wake_one = true;
	}
}

void uh_deferred_wake_private(struct uh_deferred *p, struct uhoma_sock *s,
			      uint64_t id)
{
	p->wake_sock = s;
	p->wake_private |= 1u << ((id >> 1) % UH_PRIVATE_WAITS);
}

/* The socket this thread receives for and will take any message of, and
 * whether it has kept one from the sleepers (uh_sock_taker_begin). */
static __thread struct uhoma_sock *tl_taker;
static __thread bool tl_kept;

void uh_sock_taker_begin(struct uhoma_sock *s)
{
	tl_taker = s;
	tl_kept = false;
}

bool uh_sock_taker_end(void)
{
	bool kept = tl_kept;

	tl_taker = NULL;
	tl_kept = false;
	return kept;
}

void uh_sock_wake_receivers(struct uhoma_sock *s)
{
	uh_wait_wake_all(&s->wait);
	for (unsigned i = 0; i < UH_PRIVATE_WAITS; i++)
		uh_wait_wake_all(&s->pwait[i]);
}

void uh_deferred_flush(struct uhoma_stack *st, struct uh_deferred *p)
{
	uh_lockdep_might_block("uh_deferred_flush", UH_HERE);
	for (unsigned i = 0; i < p->num_ctl; i++) {
		struct uh_tx tx = {
			.hdr = p->ctl[i].hdr, .hdr_len = p->ctl[i].len,
			.dst = p->ctl[i].dst, .dport = p->ctl[i].dport,
			.priority = (uint8_t)(st->cfg.num_priorities - 1),
		};
		/* Control packets are never held back, but they take the
		 * link as data does: the pacer counts them, or the NIC's
		 * queue grows by them (a GRANT for about every second
		 * DATA packet received at line rate) behind its back. */
		uh_pacer_admit(st, (uint32_t)p->ctl[i].len, true);
		uh_stack_xmit(st, p->ctl[i].sport, &tx, 1);
	}
	for (unsigned i = 0; i < p->num_acks; i++)
		uh_in_apply_ack(st, &p->acks[i].src, p->acks[i].sport,
				&p->acks[i].ack);
	if (p->num_grant || p->grant_recalc) {
		struct uh_rpc *g[UH_DEFERRED_GRANT];
		unsigned n = p->num_grant;

		memcpy(g, p->grant, n * sizeof(g[0]));
		p->num_grant = 0;
		p->grant_recalc = false;
		uh_grant_recalc(st, g, n);
	}
	if (p->wake_sock) {
		struct uhoma_sock *s = p->wake_sock;

		if (p->wake_all) {
			uh_wait_wake_all(&s->wait);
		} else if (p->wake_one && tl_taker == s && !tl_kept) {
			tl_kept = true;   /* this thread takes one */
			if (p->wake_more)
				uh_wait_wake_one(&s->wait);
		} else if (p->wake_one) {
			uh_wait_wake_one(&s->wait);
		}
		for (uint32_t b = p->wake_private; b; b &= b - 1)
			uh_wait_wake_all(&s->pwait[__builtin_ctz(b)]);
		if ((p->wake_all || p->wake_one || p->wake_private) &&
		    st->up.kick_receiver)
			st->up.kick_receiver(st);
		if (p->signal_fd && st->up.rx_ready)
			st->up.rx_ready(s);
	}
	if (p->wake_tx) {
		uh_wait_wake_all(&p->wake_tx->tx_wait);
		if (st->up.tx_budget)
			st->up.tx_budget(p->wake_tx);
	}
	uh_deferred_init(p);
}

/* ---- the port table ----------------------------------------------------- */

static unsigned port_bucket(uint16_t port)
{
	return (port * 2654435761u >> 8) % UH_SOCKTAB_BUCKETS;
}

struct uhoma_sock *uh_sock_find(struct uhoma_stack *st, uint16_t port)
{
	struct uhoma_sock *s = atomic_load_explicit(&st->socktab[port_bucket(port)],
						 memory_order_acquire);

	for (; s; s = atomic_load_explicit(&s->tab_next, memory_order_acquire))
		if (s->port == port)
			return s;
	return NULL;
}

static void socktab_link(struct uhoma_stack *st, struct uhoma_sock *s)
{
	unsigned b = port_bucket(s->port);

	atomic_store_explicit(&s->tab_next,
			      atomic_load_explicit(&st->socktab[b],
						   memory_order_relaxed),
			      memory_order_relaxed);
	/* Publish the initialized socket to RCU readers. */
	atomic_store_explicit(&st->socktab[b], s, memory_order_release);
}

int uh_sock_open(struct uhoma_stack *st, uint16_t port,
		 struct uh_readiness *readiness, struct uhoma_sock **out)
{
	struct uhoma_sock *s;
	int rc;

	uh_lockdep_might_block("uh_sock_open", UH_HERE);
	s = aligned_alloc(UH_CACHELINE, (sizeof(*s) + UH_CACHELINE - 1) &
					~(size_t)(UH_CACHELINE - 1));
	if (!s)
		return UHOMA_ERR_NOMEM;
	memset(s, 0, sizeof(*s));
	s->stack = st;
	s->open_tick = atomic_load_explicit(&st->ticks, memory_order_relaxed);
	uh_lock_init(&s->lock, &sock_class);
	uh_rculist_init(&s->active);
	uh_twheel_init(&s->timers);
	uh_list_init(&s->unproven);
	s->nunproven = 0;
	uh_list_init(&s->ready);
	uh_list_init(&s->dead);
	uh_pheap_init(&s->waiting_bufs, bufs_first);
	s->bufs_seq = 0;
	uh_wait_init(&s->wait);
	for (unsigned i = 0; i < UH_PRIVATE_WAITS; i++)
		uh_wait_init(&s->pwait[i]);
	uh_wait_init(&s->tx_wait);
	atomic_init(&s->tx_limit, st->cfg.sndbuf);
	uh_pool_init(&s->pool);
	for (unsigned i = 0; i < UH_RPC_BUCKETS; i++) {
		uh_lock_init(&s->client_buckets[i].lock, &rpc_class);
		uh_lock_init(&s->server_buckets[i].lock, &rpc_class);
	}
	s->readiness = readiness;
	atomic_init(&s->tx_watch, false);
	rc = st->carrier->ops->open_port(st->carrier, &port);
	if (rc) {
		free(s);
		return rc;
	}
	s->port = port;
	atomic_init(&s->is_server, port < 0x8000);

	uh_lock(&st->socktab_lock);
	if (atomic_load(&st->destroying) || uh_sock_find(st, port)) {
		rc = atomic_load(&st->destroying) ? UHOMA_ERR_SHUTDOWN
						  : UHOMA_ERR_ADDR_IN_USE;
		uh_unlock(&st->socktab_lock);
		st->carrier->ops->close_port(st->carrier, port);
		free(s);
		return rc;
	}
	socktab_link(st, s);
	uh_list_add_tail(&s->stack_link, &st->all_socks);
	uh_unlock(&st->socktab_lock);
	*out = s;
	return UHOMA_OK;
}

static void socktab_unlink(struct uhoma_stack *st, struct uhoma_sock *s)
{
	struct uhoma_sock *_Atomic *pp;

	uh_lock(&st->socktab_lock);
	pp = &st->socktab[port_bucket(s->port)];
	for (struct uhoma_sock *c; (c = atomic_load(pp)); pp = &c->tab_next) {
		if (c == s) {
			/* s->tab_next stays valid for readers standing on s. */
			atomic_store_explicit(pp, atomic_load(&s->tab_next),
					      memory_order_release);
			break;
		}
	}
	uh_unlock(&st->socktab_lock);
}

int uh_sock_bind(struct uhoma_sock *s, uint16_t port)
{
	struct uhoma_stack *st = s->stack;
	uint16_t old;
	int rc;

	uh_lockdep_might_block("uh_sock_bind", UH_HERE);
	uh_lock(&st->bind_lock);
	old = s->port;
	if (old == port) {
		rc = atomic_load(&s->shutdown) ? UHOMA_ERR_SHUTDOWN : UHOMA_OK;
		goto out;
	}
	rc = st->carrier->ops->open_port(st->carrier, &port);
	if (rc)
		goto out;
	uh_lock(&st->socktab_lock);
	if (atomic_load(&s->shutdown) || uh_sock_find(st, port)) {
		rc = atomic_load(&s->shutdown) ? UHOMA_ERR_SHUTDOWN
					       : UHOMA_ERR_ADDR_IN_USE;
		uh_unlock(&st->socktab_lock);
		st->carrier->ops->close_port(st->carrier, port);
		goto out;
	}
	uh_unlock(&st->socktab_lock);
	socktab_unlink(st, s);
	/* A reader may stand on @s in its old bucket's chain: only after a
	 * grace period may s->tab_next point into another chain. */
	uh_synchronize_rcu();
	uh_lock(&st->socktab_lock);
	s->port = port;
	/* Shut down meanwhile: stay out of the table (close releases the
	 * new port, the one s->port names). */
	if (!atomic_load(&s->shutdown)) {
		socktab_link(st, s);
		atomic_store(&s->is_server, true);
	} else {
		rc = UHOMA_ERR_SHUTDOWN;
	}
	uh_unlock(&st->socktab_lock);
	st->carrier->ops->close_port(st->carrier, old);
out:
	uh_unlock(&st->bind_lock);
	return rc;
}

/* ---- protect count and reaping ------------------------------------------ */

bool uh_sock_protect(struct uhoma_sock *s)
{
	bool ok;

	uh_lock(&s->lock);
	ok = !atomic_load(&s->shutdown);
	if (ok)
		atomic_fetch_add(&s->protect_count, 1);
	uh_unlock(&s->lock);
	return ok;
}

void uh_sock_unprotect(struct uhoma_sock *s)
{
	atomic_fetch_sub(&s->protect_count, 1);
}

#define REAP_BATCH 32

unsigned uh_sock_reap(struct uhoma_sock *s, bool all)
{
	struct uh_rpc *batch[REAP_BATCH];
	unsigned limit = all ? UINT32_MAX : s->stack->cfg.reap_limit;
	unsigned total = 0;
	bool pages = false;

	uh_lockdep_might_block("uh_sock_reap", UH_HERE);
	while (total < limit) {
		unsigned n = 0;
		struct uh_list *pos, *next;

		uh_lock(&s->lock);
		/* Walkers hold a protect count: they may stand on any of
		 * these RPCs, so free nothing (checked under the lock that
		 * raises the count). */
		if (atomic_load(&s->protect_count) > 0) {
			uh_unlock(&s->lock);
			break;
		}
		for (pos = s->dead.next; pos != &s->dead && n < REAP_BATCH &&
		     total + n < limit; pos = next) {
			struct uh_rpc *rpc = uh_list_entry(pos, struct uh_rpc,
							   dead_link);

			next = pos->next;
			/* Acquire: pairs with uh_rpc_put's release. */
			if (atomic_load_explicit(&rpc->refs,
						 memory_order_acquire) != 0)
				continue;
			uh_list_del(&rpc->dead_link);
			atomic_fetch_sub_explicit(&s->dead_count, 1,
						  memory_order_relaxed);
			batch[n++] = rpc;
		}
		uh_unlock(&s->lock);
		for (unsigned i = 0; i < n; i++) {
			/* Dead, unreferenced: read without its lock. */
			pages |= batch[i]->in.has_bufs && !batch[i]->in.given;
			uh_rpc_free(batch[i]);
		}
		total += n;
		if (n < REAP_BATCH)
			break;
	}
	/* Pages came back: a message waiting for them may take them now,
	 * not only when the application next returns some. */
	if (pages && !all)
		uh_sock_check_bufs(s);
	return total;
}

/* ---- waiting for buffer space ------------------------------------------- */

/* The buffer waits' order: messages whose senders have proven themselves
 * first (a flood of forged first packets must not queue ahead of real
 * senders), then shortest first, FIFO among equals. A heap: with
 * thousands waiting (an incast into a full region), a sorted list made
 * every arrival walk them under the socket lock. */
static bool bufs_first(const struct uh_pheap_node *a,
		       const struct uh_pheap_node *b)
{
	const struct uh_rpc *x = uh_container_of_const(a, struct uh_rpc,
						       buf_node);
	const struct uh_rpc *y = uh_container_of_const(b, struct uh_rpc,
						       buf_node);

	if (x->buf_proven != y->buf_proven)
		return x->buf_proven;
	if (x->buf_len != y->buf_len)
		return x->buf_len < y->buf_len;
	return x->buf_seq < y->buf_seq;
}

void uh_sock_bufs_del(struct uhoma_sock *s, struct uh_rpc *rpc)
{
	if (uh_pheap_contains(&s->waiting_bufs, &rpc->buf_node))
		uh_pheap_remove(&s->waiting_bufs, &rpc->buf_node);
}

/* Socket lock held (and @rpc's lock, whose fields the keys copy). */
static void bufs_insert(struct uhoma_sock *s, struct uh_rpc *rpc)
{
	rpc->buf_proven = rpc->in.proven;
	rpc->buf_len = (uint32_t)rpc->in.length;
	rpc->buf_seq = s->bufs_seq++;
	uh_pheap_insert(&s->waiting_bufs, &rpc->buf_node);
}

void uh_sock_wait_bufs(struct uhoma_sock *s, struct uh_rpc *rpc,
		       struct uh_deferred *p)
{
	if (rpc->in.waiting_bufs)
		return;
	uh_lock(&s->lock);
	if (!atomic_load(&s->shutdown)) {
		bufs_insert(s, rpc);
		rpc->in.waiting_bufs = true;
		uh_metric_inc(s->stack->metrics, UH_M_BUFFER_WAITS);
	}
	uh_unlock(&s->lock);
	/* A sender waiting for its budget must learn that only the
	 * application can free the space now (uh_sock_tx_charge). */
	if (atomic_load(&s->tx_waiters))
		p->wake_tx = s;
}

void uh_sock_unwait_bufs(struct uhoma_sock *s, struct uh_rpc *rpc)
{
	uh_lock(&s->lock);
	uh_sock_bufs_del(s, rpc);
	uh_unlock(&s->lock);
	rpc->in.waiting_bufs = false;
}

void uh_sock_requeue_bufs(struct uhoma_sock *s, struct uh_rpc *rpc)
{
	uh_lock(&s->lock);
	if (uh_pheap_contains(&s->waiting_bufs, &rpc->buf_node)) {
		uh_sock_bufs_del(s, rpc);
		bufs_insert(s, rpc);
	}
	uh_unlock(&s->lock);
}

uint64_t uh_sock_region_due(struct uhoma_sock *s)
{
	return uh_pool_region(&s->pool)
		       ? UINT64_MAX
		       : s->open_tick + s->stack->cfg.timeout_ticks;
}

bool uh_sock_region_overdue(struct uhoma_sock *s)
{
	return atomic_load_explicit(&s->stack->ticks, memory_order_relaxed) >=
	       uh_sock_region_due(s);
}

void uh_sock_check_bufs(struct uhoma_sock *s)
{
	struct uh_deferred p;

	uh_deferred_init(&p);
	for (;;) {
		struct uh_pheap_node *first;
		struct uh_rpc *rpc;
		bool got;

		uh_lock(&s->lock);
		first = uh_pheap_min(&s->waiting_bufs);
		rpc = first ? uh_container_of(first, struct uh_rpc, buf_node)
			    : NULL;
		if (rpc)
			uh_rpc_hold(rpc);   /* on the list: not reaped */
		uh_unlock(&s->lock);
		if (!rpc)
			break;
		/* The RPC lock ranks above the socket lock: take it only
		 * after dropping the socket lock, then re-check. */
		uh_rpc_lock(rpc);
		got = false;
		if (rpc->state != UH_RPC_DEAD && rpc->in.waiting_bufs) {
			got = uh_pool_alloc(&s->pool, (uint32_t)rpc->in.length,
					    rpc->in.bpage_offsets,
					    &rpc->in.num_bpages);
			if (got) {
				uh_lock(&s->lock);
				uh_sock_bufs_del(s, rpc);
				uh_unlock(&s->lock);
				rpc->in.waiting_bufs = false;
				rpc->in.has_bufs = true;
				uh_rpc_heard(rpc);
				uh_rpc_arm(rpc, s->stack->cfg.resend_ticks);
				uh_out_request_resend(rpc, &p, true);
			}
		} else {
			/* Gone meanwhile: look at the next. One still listed
			 * (nothing should leave it so) must not be looked at
			 * forever. */
			uh_lock(&s->lock);
			uh_sock_bufs_del(s, rpc);
			uh_unlock(&s->lock);
			got = true;
		}
		uh_rpc_release(rpc);
		uh_deferred_flush(s->stack, &p);
		if (!got)
			break;          /* still no room for the shortest */
	}
}

/* ---- shutdown and close ------------------------------------------------- */

void uh_sock_shutdown(struct uhoma_sock *s)
{
	struct uh_deferred p;
	struct uh_rpc_walk w;
	struct uh_rpc *rpc;

	uh_deferred_init(&p);
	uh_lock(&s->lock);
	if (atomic_load(&s->shutdown)) {
		uh_unlock(&s->lock);
		/* Another thread is shutting it down: return as it does,
		 * when every RPC has ended and no sender still reads a
		 * borrowed message (UHOMA_ZEROCOPY's promise; helper-19 saw
		 * the second call return at once). */
		uh_lockdep_might_block("waiting for another shutdown",
				       UH_HERE);
		while (!atomic_load_explicit(&s->shut_done,
					     memory_order_acquire))
			sched_yield();
		return;
	}
	atomic_store(&s->shutdown, true);
	atomic_fetch_add(&s->protect_count, 1);
	uh_unlock(&s->lock);

	socktab_unlink(s->stack, s);

	/* The protect count taken above (uh_sock_protect fails from now on)
	 * keeps every RPC we can reach allocated. */
	uh_rpc_walk_protected(&w, s);
	while ((rpc = uh_rpc_walk_next(&w))) {
		uh_rpc_lock(rpc);
		uh_rpc_hold(rpc);
		uh_rpc_end(rpc, &p);
		uh_rpc_release_borrowed(rpc);
		uh_deferred_flush(s->stack, &p);
	}
	uh_sock_unprotect(s);
	atomic_store_explicit(&s->shut_done, true, memory_order_release);
	uh_sock_wake_receivers(s);
	if (s->stack->up.kick_receiver)
		s->stack->up.kick_receiver(s->stack);
	uh_wait_wake_all(&s->tx_wait);
	if (s->stack->up.rx_ready)
		s->stack->up.rx_ready(s);    /* readable: it is shut down */
}

struct ack_flush {
	struct uhoma_sock *s;
	struct uh_deferred p;
};

/* Sends every ack of the socket's stored for @peer, UH_MAX_ACKS + 1 to a
 * packet: the first names the packet's RPC (and the server port it goes
 * to). */
static void flush_peer_acks(struct uh_peer *peer, void *arg)
{
	struct ack_flush *f = arg;
	struct uh_ack a[UH_MAX_ACKS + 1];
	unsigned n;

	while ((n = uh_peer_take_acks(peer, f->s->port, a,
				      UH_MAX_ACKS + 1)) > 0) {
		struct uh_hdr h;

		memset(&h, 0, sizeof(h));
		h.type = UH_PKT_ACK;
		h.sport = f->s->port;
		h.dport = a[0].server_port;
		h.sender_id = a[0].client_id;
		h.u.ack.num_acks = (uint16_t)(n - 1);
		memcpy(h.u.ack.acks, a + 1, (n - 1) * sizeof(a[0]));
		if (f->p.num_ctl == UH_DEFERRED_CTL)
			uh_deferred_flush(f->s->stack, &f->p);
		uh_deferred_ctl(&f->p, &h, f->s->port, &peer->addr,
				a[0].server_port);
	}
}

void uh_sock_close_start(struct uhoma_sock *s)
{
	struct uhoma_stack *st = s->stack;
	struct ack_flush f = { .s = s };

	uh_sock_shutdown(s);
	/* The acks this socket still owes servers go out now: else each
	 * server keeps the last responses it sent us until its timeout (its
	 * NEED_ACK would find the port closed). */
	uh_deferred_init(&f.p);
	uh_peertab_walk(&st->peers, UH_PEERTAB_BUCKETS, flush_peer_acks, &f);
	uh_deferred_flush(st, &f.p);
	/* Receive and timer threads find sockets under RCU: after a grace
	 * period none of them can still be using this one (or sending from
	 * its port), so the port can go. */
	uh_synchronize_rcu();
	st->carrier->ops->close_port(st->carrier, s->port);
	uh_lock(&st->socktab_lock);
	uh_list_del(&s->stack_link);
	uh_unlock(&st->socktab_lock);
}

bool uh_sock_reap_final(struct uhoma_sock *s)
{
	bool empty;

	uh_sock_reap(s, true);
	uh_lock(&s->lock);
	empty = uh_list_empty(&s->dead);
	uh_unlock(&s->lock);
	return empty;
}

void uh_sock_free(struct uhoma_sock *s)
{
	uh_pool_destroy(&s->pool);
	free(s);
}
