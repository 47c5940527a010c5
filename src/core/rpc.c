/*
 * rpc.c - RPC creation, lookup, state changes, ending and freeing.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/gaps.h"
#include "core/grant.h"
#include "core/pacer.h"
#include "core/peer.h"
#include "core/rpc.h"
#include "core/sock.h"
#include "core/stack.h"
#include "core/unsched.h"
#include "mem/cache.h"

/*
 * Client ids: bits 63..41 the process id, bits 40..1 a per-process
 * counter, bit 0 clear. The module keys a server's RPCs by (address, id),
 * ignoring the port, so two processes on one host must never share an id:
 * the pid separates processes, the counter RPCs within one (2^40 before it
 * wraps). (uhoma's servers key them by address, port and id.)
 * Processes in different pid namespaces that share an IP address could in
 * principle collide; docs/design.md notes it.
 *
 * The counter does not start at 1 but at the wall clock's milliseconds
 * times UH_ID_START_PER_MS (uh_rpc_id_start): a process that comes back
 * with its predecessor's pid (pid 1 of a restarted container) and port
 * would otherwise reuse ids a server still remembers as finished, and
 * see them refused for dedup_quiet_ms (helper-18). It starts past them
 * unless its predecessor averaged more than UH_ID_START_PER_MS RPCs a
 * millisecond. Below 2^39, so 2^39 RPCs still come before a wrap.
 */
static _Atomic uint64_t id_counter = 1;
static _Atomic uint64_t id_pid_bits;
static pthread_once_t id_once = PTHREAD_ONCE_INIT;

uint64_t uh_rpc_id_start(uint64_t realtime_ns)
{
	return 1 + ((realtime_ns / 1000000 * UH_ID_START_PER_MS) &
		    ((1ull << 39) - 1));
}

static void id_reset_after_fork(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	atomic_store(&id_pid_bits, (uint64_t)(getpid() & 0x7FFFFF) << 41);
	atomic_store(&id_counter,
		     uh_rpc_id_start((uint64_t)ts.tv_sec * 1000000000ull +
				     (uint64_t)ts.tv_nsec));
}

static void id_init(void)
{
	id_reset_after_fork();
	pthread_atfork(NULL, NULL, id_reset_after_fork);
}

uint64_t uh_rpc_new_client_id(struct uhoma_stack *st)
{
	uint64_t n;

	if (st->own_ids)
		return atomic_fetch_add_explicit(&st->next_id, 1,
						 memory_order_relaxed) << 1;
	pthread_once(&id_once, id_init);
	n = atomic_fetch_add_explicit(&id_counter, 1, memory_order_relaxed);
	return atomic_load_explicit(&id_pid_bits, memory_order_relaxed) |
	       ((n & ((1ull << 40) - 1)) << 1);
}

/*
 * Copies of outgoing messages come from object caches in power-of-two size
 * classes, 2 KiB to 1 MiB. Not malloc: glibc maps and unmaps (or trims) the
 * large blocks, and every first touch of a fresh page is a fault -- with
 * W4 on this VM 40,000 faults a second, a fifth of a core. A cached buffer
 * stays mapped while its size class is in the working set; the caches'
 * working-set reaping returns the rest within a few intervals.
 */
#define MSG_MIN_SHIFT 11
#define MSG_CLASSES 10                  /* 2 KiB .. 1 MiB */
_Static_assert((1u << (MSG_MIN_SHIFT + MSG_CLASSES - 1)) >= UHOMA_MAX_MESSAGE,
	       "the largest class holds the largest message");

static struct uh_cache *msg_cache[MSG_CLASSES];
static pthread_once_t msg_once = PTHREAD_ONCE_INIT;

static void msg_cache_init(void)
{
	static const char *const names[MSG_CLASSES] = {
		"msg.2k", "msg.4k", "msg.8k", "msg.16k", "msg.32k",
		"msg.64k", "msg.128k", "msg.256k", "msg.512k", "msg.1m",
	};

	for (unsigned i = 0; i < MSG_CLASSES; i++) {
		struct uh_cache_config cc = {
			.name = names[i],
			.size = (size_t)1 << (MSG_MIN_SHIFT + i),
			.align = 64,
		};

		msg_cache[i] = uh_cache_create(&cc);
	}
}

static unsigned msg_class(size_t len)
{
	unsigned c = 0;

	while (((size_t)1 << (MSG_MIN_SHIFT + c)) < len)
		c++;
	return c;
}

uint8_t *uh_rpc_msgbuf_alloc(size_t len)
{
	unsigned c;

	pthread_once(&msg_once, msg_cache_init);
	uh_lockdep_might_block("message allocation", UH_HERE);
	if (len == 0 || len > UHOMA_MAX_MESSAGE)
		return NULL;
	c = msg_class(len);
	return msg_cache[c] ? uh_cache_alloc(msg_cache[c]) : malloc(len);
}

void uh_rpc_msgbuf_free(uint8_t *buf, size_t len)
{
	unsigned c;

	if (!buf)
		return;
	c = msg_class(len);
	if (msg_cache[c])
		uh_cache_free(msg_cache[c], buf);
	else
		free(buf);
}

struct uh_bucket *uh_rpc_client_bucket(struct uhoma_sock *s, uint64_t id)
{
	return &s->client_buckets[(id >> 1) & (UH_RPC_BUCKETS - 1)];
}

struct uh_bucket *uh_rpc_server_bucket(struct uhoma_sock *s,
				       const struct uh_addr *a, uint64_t id)
{
	return &s->server_buckets[((id >> 1) ^ uh_addr_hash(a)) &
				  (UH_RPC_BUCKETS - 1)];
}

/* The RPC @id in @b; a server's (@a not NULL) also from @a's @port. */
static struct uh_rpc *bucket_search(struct uh_bucket *b, uint64_t id,
				    const struct uh_addr *a, uint16_t port)
{
	for (struct uh_rpc *r = b->head; r; r = r->hash_next)
		if (r->id == id &&
		    (!a || (r->dport == port && uh_addr_eq(&r->peer_addr, a))))
			return r;
	return NULL;
}

/* Locks @b and returns its RPC (as bucket_search finds it) with a
 * reference, still locked; or NULL with @b unlocked. */
static struct uh_rpc *find_locked(struct uh_bucket *b, uint64_t id,
				  const struct uh_addr *a, uint16_t port)
{
	struct uh_rpc *r;

	uh_lock(&b->lock);
	r = bucket_search(b, id, a, port);
	if (r)
		uh_rpc_hold(r);
	else
		uh_unlock(&b->lock);
	return r;
}

struct uh_rpc *uh_rpc_find_client(struct uhoma_sock *s, uint64_t id)
{
	return find_locked(uh_rpc_client_bucket(s, id), id, NULL, 0);
}

struct uh_rpc *uh_rpc_find_server(struct uhoma_sock *s, const struct uh_addr *a,
				  uint16_t port, uint64_t id)
{
	return find_locked(uh_rpc_server_bucket(s, a, id), id, a, port);
}

struct uh_rpc *uh_rpc_find_reply(struct uhoma_sock *s, const struct uh_addr *a,
				 uint16_t port, uint64_t id)
{
	struct uh_bucket *b = uh_rpc_server_bucket(s, a, id);
	struct uh_rpc *r;

	uh_lock(&b->lock);
	r = bucket_search(b, id, a, port);
	if (!r)         /* the module's lookup: the port does not count */
		for (struct uh_rpc *o = b->head; o && !r; o = o->hash_next)
			if (o->id == id && o->state == UH_RPC_IN_SERVICE &&
			    uh_addr_eq(&o->peer_addr, a))
				r = o;
	if (r)
		uh_rpc_hold(r);
	else
		uh_unlock(&b->lock);
	return r;
}

static int state_metric(const struct uh_rpc *rpc, int state)
{
	if (state == UH_RPC_DEAD)
		return UHOMA_RPCS_DEAD;
	if (uh_rpc_is_client(rpc))
		return state == UH_RPC_OUTGOING ? UHOMA_RPCS_CLIENT_OUTGOING
						: UHOMA_RPCS_CLIENT_INCOMING;
	if (state == UH_RPC_INCOMING)
		return UHOMA_RPCS_SERVER_INCOMING;
	return state == UH_RPC_IN_SERVICE ? UHOMA_RPCS_SERVER_IN_SERVICE
					  : UHOMA_RPCS_SERVER_OUTGOING;
}

void uh_rpc_set_state(struct uh_rpc *rpc, enum uh_rpc_state state)
{
	struct uh_metrics *m = rpc->sock->stack->metrics;

	if (rpc->state)
		uh_metric_add(m, UH_M_RPC_STATE + (unsigned)state_metric(rpc, rpc->state), -1);
	uh_metric_add(m, UH_M_RPC_STATE + (unsigned)state_metric(rpc, state), 1);
	rpc->state = state;
}

static struct uh_rpc *rpc_alloc(struct uhoma_sock *s, struct uh_peer *peer,
				uint64_t id, uint16_t dport)
{
	struct uh_rpc *rpc = uh_cache_alloc(s->stack->rpc_cache);

	if (!rpc)
		return NULL;
	memset(rpc, 0, sizeof(*rpc));
	uh_gaps_reset(&rpc->in);
	rpc->sock = s;
	rpc->peer = peer;
	rpc->peer_addr = peer->addr;
	rpc->id = id;
	rpc->dport = dport;
	rpc->sport = atomic_load_explicit(&s->port, memory_order_relaxed);
	rpc->bucket = (id & 1) ? uh_rpc_server_bucket(s, &peer->addr, id)
			       : uh_rpc_client_bucket(s, id);
	atomic_init(&rpc->refs, 1);      /* the creator's */
	rpc->in.length = -1;
	uh_rculist_node_init(&rpc->active);
	uh_list_init(&rpc->ready_link);
	uh_list_init(&rpc->dead_link);
	uh_list_init(&rpc->unproven_link);
	uh_list_init(&rpc->granting.link);
	rpc->granting.slot = -1;
	rpc->throttle_q = NULL;
	uh_list_init(&rpc->timer_link);
	rpc->timer_slot = UH_TW_NONE;
	rpc->timer_due = 0;
	rpc->born_tick = rpc->timer_seen = rpc->silent_since =
		atomic_load_explicit(&s->stack->ticks, memory_order_relaxed);
	return rpc;
}

/* Socket lock held: takes @rpc off the unproven list, if it is on it. */
static void unproven_del(struct uhoma_sock *s, struct uh_rpc *rpc)
{
	if (uh_list_linked(&rpc->unproven_link)) {
		uh_list_del(&rpc->unproven_link);
		s->nunproven--;
	}
}

void uh_rpc_heard(struct uh_rpc *rpc)
{
	rpc->silent_since = atomic_load_explicit(&rpc->sock->stack->ticks,
						 memory_order_relaxed);
}

void uh_rpc_proven(struct uh_rpc *rpc)
{
	struct uhoma_sock *s = rpc->sock;

	rpc->in.proven = true;
	/* On s->unproven only while a server's request is incoming (the RPC
	 * lock tells; the list link itself is the socket lock's). */
	if ((uh_rpc_is_client(rpc) || rpc->handed_off ||
	     rpc->state != UH_RPC_INCOMING) && !rpc->in.waiting_bufs)
		return;
	uh_lock(&s->lock);
	unproven_del(s, rpc);
	uh_unlock(&s->lock);
	if (rpc->in.waiting_bufs)
		uh_sock_requeue_bufs(s, rpc);
}

void uh_rpc_arm(struct uh_rpc *rpc, uint64_t ticks)
{
	uint64_t now = atomic_load_explicit(&rpc->sock->stack->ticks,
					    memory_order_relaxed);

	uh_twheel_arm(&rpc->sock->timers, rpc, now + (ticks ? ticks : 1));
}

/*
 * A new request is about to be created while @s holds cfg.max_unproven
 * unproven ones: the oldest goes (a real sender proves itself within a
 * round trip of its first packet; one that has not after all the newer
 * ones came is most likely a forged claim). No lock held.
 */
static void evict_unproven(struct uhoma_sock *s, struct uh_deferred *p)
{
	struct uh_rpc *victim = NULL;

	uh_lock(&s->lock);
	if (s->nunproven >= s->stack->cfg.max_unproven) {
		victim = uh_list_first(&s->unproven, struct uh_rpc,
				       unproven_link);
		if (victim)            /* (never NULL while counted) */
			uh_rpc_hold(victim);   /* on the list: not reaped */
	}
	uh_unlock(&s->lock);
	if (!victim)
		return;
	uh_rpc_lock(victim);
	if (victim->state == UH_RPC_INCOMING && !victim->in.proven &&
	    !victim->handed_off) {
		uh_metric_inc(s->stack->metrics, UH_M_UNPROVEN_EVICTIONS);
		uh_rpc_end(victim, p);
	}
	uh_rpc_release(victim);
}

/* Links @rpc (its bucket locked) into @s; false if @s is shut down. */
static bool rpc_attach(struct uhoma_sock *s, struct uh_rpc *rpc, bool server)
{
	uh_lock(&s->lock);
	if (atomic_load(&s->shutdown) ||
	    (server && !atomic_load(&s->is_server))) {
		uh_unlock(&s->lock);
		return false;
	}
	uh_rculist_add_head(&rpc->active, &s->active);
	if (server) {   /* unproven until its sender shows it exists */
		uh_list_add_tail(&rpc->unproven_link, &s->unproven);
		s->nunproven++;
	}
	uh_unlock(&s->lock);
	rpc->hash_next = rpc->bucket->head;
	rpc->bucket->head = rpc;
	return true;
}

void uh_rpc_set_msgout(struct uh_rpc *rpc, uint8_t *buf, uint32_t len)
{
	uint32_t unsched = uh_unsched_bytes(rpc->sock->stack, rpc->peer);

	rpc->out.buf = buf;
	rpc->out.length = len;
	rpc->out.unsched = unsched;
	rpc->out.granted = len < unsched ? len : unsched;
}

struct uh_rpc *uh_rpc_new_client(struct uhoma_sock *s, struct uh_peer *peer,
				 uint16_t dport, uint8_t *buf, uint32_t len,
				 uint64_t cookie, unsigned flags, int *err)
{
	struct uh_rpc *rpc = rpc_alloc(s, peer, uh_rpc_new_client_id(s->stack), dport);
	bool borrowed = flags & UHOMA_ZEROCOPY;

	if (!rpc) {
		if (!borrowed)
			uh_rpc_msgbuf_free(buf, len);
		uh_peer_put(peer);
		*err = UHOMA_ERR_NOMEM;
		return NULL;
	}
	rpc->cookie = cookie;
	rpc->is_private = flags & UHOMA_PRIVATE;
	rpc->out.borrowed = borrowed;
	uh_rpc_set_msgout(rpc, buf, len);
	uh_rpc_lock(rpc);
	if (!rpc_attach(s, rpc, false)) {
		uh_rpc_unlock(rpc);
		if (!borrowed)
			uh_rpc_msgbuf_free(buf, len);
		uh_cache_free(s->stack->rpc_cache, rpc);
		uh_peer_put(peer);
		*err = UHOMA_ERR_SHUTDOWN;
		return NULL;
	}
	uh_rpc_set_state(rpc, UH_RPC_OUTGOING);
	uh_rpc_arm(rpc, s->stack->cfg.resend_ticks);
	return rpc;
}

/* At most once: may request @id from @peer create an RPC? (dedup.h) */
static enum uh_dedup_verdict dedup_admit(struct uhoma_sock *s,
					 struct uh_peer *peer, uint16_t port,
					 uint64_t id)
{
	struct uhoma_stack *st = s->stack;
	const struct uh_dedup_limits lim = {
		.now = atomic_load_explicit(&st->ticks, memory_order_relaxed),
		.max_cap = st->dedup_cap,
		.max_records = UH_PEER_MAX_CLIENTS,
		.settle = 2ull * st->cfg.timeout_ticks,
		.budget = &st->dedup_budget,
		.table = &st->peers,
		.steal_quiet = st->cfg.timeout_ticks,
	};
	struct uh_dedup_counts n = { 0 };
	enum uh_dedup_verdict v = uh_peer_dedup_admit(peer, port, id, &lim, &n);

	if (n.forgotten)
		uh_metric_add(st->metrics, UH_M_DEDUP_FORGOTTEN,
			      (int64_t)n.forgotten);
	if (n.evicted)
		uh_metric_add(st->metrics, UH_M_DEDUP_EVICTIONS, n.evicted);
	if (n.restarted)
		uh_metric_add(st->metrics, UH_M_DEDUP_RESTARTS, n.restarted);
	if (n.created != n.evicted)
		uh_metric_add(st->metrics, UH_M_DEDUP_RECORDS,
			      n.created - n.evicted);
	return v;
}

static void dedup_end(struct uhoma_sock *s, struct uh_peer *peer,
		      uint16_t port, uint64_t id, bool ran)
{
	uh_peer_dedup_end(peer, port, id, ran,
			  atomic_load_explicit(&s->stack->ticks,
					       memory_order_relaxed));
}

struct uh_rpc *uh_rpc_find_or_new_server(struct uhoma_sock *s,
					 struct uh_peer *peer, uint16_t sport,
					 uint64_t id, uint32_t length,
					 enum uh_drop *drop)
{
	struct uh_rpc *rpc, *fresh;

	rpc = uh_rpc_find_server(s, &peer->addr, sport, id);
	if (rpc)
		goto drop_ref;
	if (!atomic_load(&s->is_server)) {
		*drop = UH_DROP_NOT_SERVER;
		goto drop_ref;
	}
	if (uh_sock_region_overdue(s)) {
		*drop = UH_DROP_NO_REGION;  /* refused as by a non-server */
		goto drop_ref;
	}
	switch (dedup_admit(s, peer, sport, id)) {
	case UH_DEDUP_NEW:
		break;
	case UH_DEDUP_FINISHED:
		*drop = UH_DROP_DONE;
		goto drop_ref;
	case UH_DEDUP_NOMEM:
		*drop = UH_DROP_NOMEM;
		goto drop_ref;
	}
	/* Admitted: every way out below ends the admission once. */
	{
		struct uh_deferred p;

		uh_deferred_init(&p);
		evict_unproven(s, &p);
		uh_deferred_flush(s->stack, &p);
	}
	fresh = rpc_alloc(s, peer, id, sport);  /* no lock held: may block */
	if (!fresh) {
		dedup_end(s, peer, sport, id, false);
		*drop = UH_DROP_NOMEM;
		goto drop_ref;
	}
	uh_lock(&fresh->bucket->lock);
	if (bucket_search(fresh->bucket, id, &peer->addr, sport)) {
		/* Another thread created it. Free ours outside the bucket
		 * lock (a free may block), then look it up as usual; if it
		 * ended in between, this packet is for a finished request. */
		uh_unlock(&fresh->bucket->lock);
		uh_cache_free(s->stack->rpc_cache, fresh);
		dedup_end(s, peer, sport, id, false);
		rpc = uh_rpc_find_server(s, &peer->addr, sport, id);
		if (!rpc)
			*drop = UH_DROP_DONE;
		goto drop_ref;
	}
	if (!rpc_attach(s, fresh, true)) {
		uh_unlock(&fresh->bucket->lock);
		*drop = atomic_load(&s->shutdown) ? UH_DROP_SHUTDOWN
						  : UH_DROP_NOT_SERVER;
		uh_cache_free(s->stack->rpc_cache, fresh);
		dedup_end(s, peer, sport, id, false);
		goto drop_ref;
	}
	fresh->in.length = (int32_t)length;
	fresh->in.bytes_remaining = length;
	uh_rpc_set_state(fresh, UH_RPC_INCOMING);
	uh_rpc_arm(fresh, s->stack->cfg.resend_ticks);
	uh_metric_inc(s->stack->metrics, UH_M_REQUESTS_RECEIVED);
	return fresh;        /* the creator's reference is the caller's;
			      * the peer's reference is the RPC's */
drop_ref:
	uh_peer_put(peer);
	return rpc;
}

static void unhash(struct uh_rpc *rpc)
{
	struct uh_rpc **pp = &rpc->bucket->head;

	while (*pp && *pp != rpc)
		pp = &(*pp)->hash_next;
	if (*pp)
		*pp = rpc->hash_next;
	rpc->hash_next = NULL;
}

void uh_rpc_end(struct uh_rpc *rpc, struct uh_deferred *p)
{
	struct uhoma_sock *s = rpc->sock;

	uh_lock_assert_held(&rpc->bucket->lock);
	if (rpc->state == UH_RPC_DEAD)
		return;
	/* At most once: once the application has seen a request, a late
	 * copy of it must never create a new RPC, however this one ends. One
	 * that never reached the application may come again and run. */
	if (!uh_rpc_is_client(rpc))
		dedup_end(s, rpc->peer, rpc->dport, rpc->id,
			  rpc->state == UH_RPC_IN_SERVICE ||
			  rpc->state == UH_RPC_OUTGOING);
	uh_grant_done(rpc, p);
	uh_pacer_remove(rpc);
	uh_twheel_disarm(&s->timers, rpc);
	uh_rpc_tx_uncharge(rpc, p);
	uh_rpc_set_state(rpc, UH_RPC_DEAD);
	unhash(rpc);
	uh_lock(&s->lock);
	if (uh_rculist_linked(&rpc->active))
		uh_rculist_del(&rpc->active);
	uh_list_del(&rpc->ready_link);
	uh_sock_bufs_del(s, rpc);
	unproven_del(s, rpc);
	rpc->in.waiting_bufs = false;
	uh_list_add_tail(&rpc->dead_link, &s->dead);
	atomic_fetch_add_explicit(&s->dead_count, 1, memory_order_relaxed);
	uh_unlock(&s->lock);
	if (rpc->is_private)
		uh_deferred_wake_private(p, s, rpc->id);
	p->signal_fd = true;    /* it may have left the ready list */
	p->wake_sock = s;
}

void uh_rpc_handoff(struct uh_rpc *rpc, struct uh_deferred *p)
{
	struct uhoma_sock *s = rpc->sock;

	if (rpc->handed_off || rpc->state == UH_RPC_DEAD)
		return;
	rpc->handed_off = true;
	uh_rpc_tx_uncharge(rpc, p);     /* complete: no longer in flight */
	if (rpc->is_private) {   /* a client's: never on unproven */
		rpc->private_ready = true;
		/* Its own waiter only: a socket shared by many threads,
		 * each waiting for its own RPC, woke them all for each
		 * response (helper-43: 256 threads, 1.6 K RPC/s, 30
		 * context switches an RPC). */
		uh_deferred_wake_private(p, s, rpc->id);
		return;
	}
	uh_lock(&s->lock);
	unproven_del(s, rpc);      /* complete: its sender existed */
	if (!atomic_load(&s->shutdown)) {
		uh_list_add_tail(&rpc->ready_link, &s->ready);
		uh_deferred_wake(p, s, false);
		p->signal_fd = true;
	}
	uh_unlock(&s->lock);
}

void uh_rpc_fail(struct uh_rpc *rpc, int error, struct uh_deferred *p)
{
	if (rpc->handed_off || rpc->state == UH_RPC_DEAD)
		return;
	rpc->error = error;
	uh_rpc_handoff(rpc, p);
}

void uh_rpc_release_borrowed(struct uh_rpc *rpc)
{
	bool borrowed = rpc->out.borrowed;

	uh_lock_assert_held(&rpc->bucket->lock);
	uh_rpc_unlock(rpc);
	if (borrowed) {
		uh_lockdep_might_block("waiting for sends from a borrowed "
				       "message", UH_HERE);
		while (atomic_load_explicit(&rpc->out.senders,
					    memory_order_acquire))
			sched_yield();
	}
	uh_rpc_put(rpc);
}

void uh_rpc_free(struct uh_rpc *rpc)
{
	struct uhoma_sock *s = rpc->sock;

	if (rpc->in.has_bufs && !rpc->in.given)
		uh_pool_free(&s->pool, rpc->in.bpage_offsets,
			     rpc->in.num_bpages);
	if (!rpc->out.borrowed)
		uh_rpc_msgbuf_free(rpc->out.buf, rpc->out.length);
	uh_gaps_release(&rpc->in);
	uh_peer_put(rpc->peer);
	uh_metric_add(s->stack->metrics, UH_M_RPC_STATE + UHOMA_RPCS_DEAD, -1);
	uh_metric_inc(s->stack->metrics, UH_M_RPCS_REAPED);
	uh_cache_free(s->stack->rpc_cache, rpc);
}
