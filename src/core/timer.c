/*
 * timer.c - the core's clock-driven work (homa-protocol.md §4.4): resends
 * after silence, timeouts, NEED_ACKs, lost-grant recovery, reaping.
 *
 * uh_stack_tick() runs once per tick (cfg.tick_us), from the runtime's
 * timer thread or a virtual clock. Each socket keeps its RPCs in a timer
 * wheel (twheel.h) by the tick they are next due, so a tick looks only at
 * the RPCs due then: the cost of a tick follows the RPCs that have
 * something to time now (a RESEND boundary, a NEED_ACK, a timeout), not
 * the RPCs alive. Silence is elapsed time: now minus rpc->silent_since,
 * the tick of the peer's last word, however rarely the RPC is looked at;
 * each check puts the RPC back at the next tick anything could be due, or
 * out of the wheel when nothing is (the RPC is armed again when its state
 * changes: a reply, a resumed buffer wait).
 *
 * The walk takes RPCs from the wheel against the lock order (the wheel is
 * per socket, yet it leads to RPC locks), so it holds the socket's protect
 * count: the reaper frees nothing meanwhile, and each RPC is locked in turn
 * and dropped if it died.
 */
#include "core/grant.h"
#include "core/outgoing.h"
#include "core/stack.h"
#include "sync/rcu.h"

/*
 * Probe schedules. A probe (RESEND, NEED_ACK, BUSY) goes out at silence
 * @start, then after gaps of @every, 2 @every, 4 @every, ... up to
 * @backoff @every. A peer that answers resets the silence, and the
 * schedule, at once. A server's probes back off (SERVER_BACKOFF): a client
 * that vanished, or a sender of bogus partial messages, draws a handful of
 * packets before the timeout instead of one per resend_interval -- output
 * proportional to its input, not ten times it. A client's own probes for
 * its own requests stay at the full rate (backoff 1): they recover its
 * losses, and they are what the application asked for.
 */
#define SERVER_BACKOFF 16
#define CLIENT_BACKOFF 1

/* The first probe time of the schedule above @v (in ticks of silence). */
static uint64_t sched_next(uint64_t v, uint64_t start, uint64_t every,
			   uint64_t backoff)
{
	uint64_t t = start, gap = every;

	while (t <= v) {
		t += gap;
		if (gap < backoff * every)
			gap *= 2;
	}
	return t;
}

/* True if a probe time of the schedule falls in (v - k, v]: one is due
 * between this look (at silence v) and the last, @k ticks before. */
static bool sched_crossed(uint64_t v, uint64_t k, uint64_t start,
			  uint64_t every, uint64_t backoff)
{
	if (v < start)
		return false;
	if (k > v)
		return true;
	return sched_next(v - k, start, every, backoff) <= v;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* An incoming message that received every byte granted so far: the
 * sender is waiting for us (the grant manager chose other messages), so
 * its silence means nothing. */
static bool waiting_for_grant(const struct uh_rpc *rpc)
{
	const struct uh_msgin *in = &rpc->in;

	return rpc->state == UH_RPC_INCOMING && in->length > 0 &&
	       in->num_gaps == 0 && in->recv_end >= in->granted &&
	       in->granted < (uint32_t)in->length;
}

/*
 * The wait before @rpc's first probe, at least @usual: the bound its
 * peer (its port, for responses) has earned in @est (capped at @cap),
 * kept in rpc->probe_wait. Until the probe is sent (rpc->probe_sent) a
 * larger bound moves it later -- a burst's queue builds while its RPCs
 * wait -- but nothing moves it earlier: a bound that shrank meanwhile
 * (the server's other answers came faster) moved the timeout before the
 * probe it had been promised, and a lost request timed out unprobed
 * (helper-26). Its timeout moves with it.
 */
static uint64_t later_wait(struct uh_rpc *rpc, const struct uh_delay_est *est,
			   uint64_t usual, uint64_t cap)
{
	if (rpc->probe_wait < usual)
		rpc->probe_wait = (uint32_t)usual;
	if (!rpc->probe_sent) {
		uint64_t b = uh_delay_bound(est, cap);

		if (b > rpc->probe_wait)
			rpc->probe_wait = (uint32_t)b;
	}
	return rpc->probe_wait;
}

static void timed_out(struct uh_rpc *rpc, struct uh_deferred *p)
{
	uh_metric_inc(rpc->sock->stack->metrics, UH_M_RPC_TIMEOUTS);
	if (uh_rpc_is_client(rpc))
		uh_rpc_fail(rpc, UHOMA_ERR_TIMEDOUT, p);
	else
		uh_rpc_end(rpc, p);
	rpc->timer_due = 0;
}

/*
 * A peer on this host is alive while its port is held. Its threads may
 * run rarely -- at nice 19 behind busy loops, in slices hundreds of
 * milliseconds apart -- and then not even its BUSY comes within a
 * timeout; the module's clients would hear the server's kernel, which
 * answers whatever the application's priority. Here the nearest thing to
 * that kernel is the port: a process that died closed it (and its next
 * packet from us draws ICMP port unreachable, which ends the RPC anyway),
 * one that merely runs late holds it. So before an RPC to a local peer
 * times out, the carrier is asked (port_held, at the end of the tick,
 * with no lock held); until the answer, the RPC waits a tick at a time;
 * a held port counts as the peer's word. One answer serves every RPC to
 * that port for PORT_FRESH ticks. A carrier that cannot tell, a port
 * nobody holds, or an answer that does not come within PORT_PATIENCE
 * ticks: the timeout stands.
 */
#define PORT_FRESH 2
#define PORT_PATIENCE 64        /* x UH_PORT_WANTS: 4,096 ports at once
				 * (16 x 8 timed RPCs to the 129th out:
				 * helper-33) */
#define PORT_TICK_MASK 0x3fffffffu

enum liveness { GONE, ALIVE, ASKING };

static enum liveness local_alive(struct uh_rpc *rpc, uint64_t now,
				 uint64_t overdue)
{
	struct uhoma_stack *st = rpc->sock->stack;
	uint32_t want = (uint32_t)rpc->dport + 2, tick;
	uint64_t v;

	/* Not a peer that said it does not have the request (RPC_UNKNOWN,
	 * which counts restarts) and has not spoken of it since: a socket
	 * that is not a server holds its port too, answers a probe so, and
	 * must still end in a timeout (over UDP nothing refuses the request
	 * itself). A peer silent from the start may be one whose threads
	 * have not run since. */
	if (!rpc->peer->local || !st->port_seen ||
	    (!rpc->answered && rpc->restarts))
		return GONE;
	v = atomic_load_explicit(&st->port_seen[rpc->dport],
				 memory_order_relaxed);
	tick = (uint32_t)v >> 2;
	if (v && (uint32_t)(v >> 32) == uh_addr_hash(&rpc->peer->addr) &&
	    (((uint32_t)now - tick) & PORT_TICK_MASK) <= PORT_FRESH)
		return v & 1 ? ALIVE : GONE;
	if (overdue >= PORT_PATIENCE)
		return GONE;
	for (unsigned i = 0; i < UH_PORT_WANTS; i++) {
		uint32_t cur = atomic_load_explicit(&st->port_want[i],
						    memory_order_acquire);

		/* Asked already (perhaps about another local address with
		 * this port: then its answer does not match, and the next
		 * tick asks again). */
		if (cur == want)
			return ASKING;
		if (cur == 0 &&
		    atomic_compare_exchange_strong(&st->port_want[i], &cur,
						   1u)) {
			st->port_want_addr[i] = rpc->peer->addr;
			atomic_store_explicit(&st->port_want[i], want,
					      memory_order_release);
			return ASKING;
		}
	}
	return ASKING;          /* no slot: next tick */
}

/* The end of a tick: the carrier asked about each port wanted. */
static void ask_ports(struct uhoma_stack *st, uint64_t now)
{
	for (unsigned i = 0; i < UH_PORT_WANTS; i++) {
		uint32_t want = atomic_load_explicit(&st->port_want[i],
						     memory_order_acquire);
		struct uh_addr addr;
		int held;

		if (want < 2)
			continue;
		addr = st->port_want_addr[i];
		if (!atomic_compare_exchange_strong(&st->port_want[i], &want,
						    0u))
			continue;       /* an overlapping tick took it */
		held = st->carrier->ops->port_held(st->carrier, &addr,
						   (uint16_t)(want - 2));
		uh_metric_inc(st->metrics, UH_M_PORT_CHECKS);
		atomic_store_explicit(&st->port_seen[want - 2],
				      (uint64_t)uh_addr_hash(&addr) << 32 |
					      ((uint32_t)now & PORT_TICK_MASK)
						      << 2 |
					      2u | (held == 1),
				      memory_order_relaxed);
	}
}

/*
 * A message that waits on us -- for a grant, or for buffer space -- hears
 * nothing from its sender by design, so its silence alone proves nothing.
 * But a sender that is gone (or never was: a forged first packet claiming
 * a megabyte) would pin the message forever. So it is probed: an empty
 * RESEND every quarter of the timeout, which a live sender answers with
 * BUSY (resetting the silence); one that stays silent past the timeout
 * ends like any other.
 */
static void waiting_on_us(struct uh_rpc *rpc, uint64_t now, uint64_t k,
			  struct uh_deferred *p)
{
	const struct uhoma_config *c = &rpc->sock->stack->cfg;
	uint64_t silence = now - rpc->silent_since;
	/* Often enough to hear a live sender three times within the
	 * timeout, and no more. Each BUSY restarts the silence, so the
	 * resend schedule probed every waiting message each resend_interval:
	 * a few hundred 1 MB responses waiting for buffer space made 57 K
	 * probes and 75 K BUSYs a second, which starved the transfers they
	 * waited for (helper-43: 1 % of the rate offered). */
	uint64_t every = c->timeout_ticks / 4 > c->resend_ticks
				 ? c->timeout_ticks / 4
				 : c->resend_ticks;

	if (silence >= c->timeout_ticks) {
		timed_out(rpc, p);
		return;
	}
	if (sched_crossed(silence, k, every, every, 1))
		uh_out_probe(rpc, p);
	rpc->timer_due = min_u64(rpc->silent_since +
				 sched_next(silence, every, every, 1),
				 rpc->silent_since + c->timeout_ticks);
	/* Waiting for a region that may never come: looked at again when
	 * the socket's patience ends (check_server, sock.h). */
	if (rpc->in.waiting_bufs)
		rpc->timer_due = min_u64(rpc->timer_due,
					 uh_sock_region_due(rpc->sock));
}

/* Looks at server RPC @rpc at tick @now, @k ticks after the last look;
 * sets rpc->timer_due to the next tick to look again (0: none). */
static void check_server(struct uh_rpc *rpc, uint64_t now, uint64_t k,
			 struct uh_deferred *p)
{
	const struct uhoma_config *c = &rpc->sock->stack->cfg;
	uint64_t silence = now - rpc->silent_since;

	if (rpc->state == UH_RPC_IN_SERVICE ||
	    (rpc->state == UH_RPC_INCOMING && rpc->handed_off)) {
		/* The application has the request, or it is complete and
		 * waiting for the application: nothing to hear from the
		 * client until the reply, which arms the timer again. */
		rpc->silent_since = now;
		rpc->timer_due = 0;
		return;
	}
	if (rpc->state == UH_RPC_OUTGOING &&
	    rpc->out.next_xmit < rpc->out.length) {
		/* Response waiting for grants (or the pacer): a live client
		 * sends nothing while it grants to other messages, so only
		 * a long silence -- ten timeouts, far beyond what FIFO grants
		 * allow -- means that it is gone. But one that is gone must
		 * hear from us again, or its host has nothing to refuse: a
		 * response that stops for grants sends no more, and if its
		 * first packets drew no ICMP port unreachable (the raw-IP
		 * refuser trusts for 10 ms what it last knew of a port and
		 * of who refuses; any ICMP may be rate limited or lost), it
		 * sat here the ten timeouts. So while every granted byte is
		 * out, BUSY on the probes' backing-off schedule: a live
		 * client takes it as news that we are alive, a free port
		 * draws the refusal that ends the RPC. */
		if (silence >= 10ull * c->timeout_ticks) {
			timed_out(rpc, p);
			return;
		}
		if (rpc->out.next_xmit >= rpc->out.granted &&
		    sched_crossed(silence, k, c->resend_ticks,
				  c->resend_interval, SERVER_BACKOFF))
			uh_out_ctl(rpc, UH_PKT_BUSY, p);
		rpc->timer_due = min_u64(
			rpc->silent_since + sched_next(silence, c->resend_ticks,
						       c->resend_interval,
						       SERVER_BACKOFF),
			rpc->silent_since + 10ull * c->timeout_ticks);
		return;
	}
	if (rpc->state == UH_RPC_OUTGOING) {
		/* Response fully sent: ask for the ACK after request_ack_ticks
		 * and then every resend_interval ticks. (The Linux module asks
		 * every tick; with thousands of responses awaiting ACKs from
		 * an overloaded client that is a storm of its own.) A client
		 * silent (no RESEND, BUSY or ACK) past the timeout is gone,
		 * and the RPC with it. */
		uint64_t ask, slack;

		/* A client that usually takes longer to acknowledge (a
		 * queue of responses in front of it) is not asked before
		 * that: at a thousand RPCs in flight, NEED_ACKs went out
		 * for most responses, and the ACKs came back for them.
		 * As for a client's RESEND: later_wait. */
		if (!rpc->done_tick)
			rpc->done_tick = now;
		ask = later_wait(rpc, &rpc->peer->ack_delay,
				 c->request_ack_ticks, c->timeout_ticks);
		slack = ask - c->request_ack_ticks;
		if (silence >= c->timeout_ticks + slack) {
			timed_out(rpc, p);
			return;
		}
		if (sched_crossed(now - rpc->done_tick, k, ask,
				  c->resend_interval, SERVER_BACKOFF)) {
			uh_out_ctl(rpc, UH_PKT_NEED_ACK, p);
			rpc->probe_sent = true;
		}
		rpc->timer_due = min_u64(
			rpc->done_tick + sched_next(now - rpc->done_tick, ask,
						    c->resend_interval,
						    SERVER_BACKOFF),
			rpc->silent_since + c->timeout_ticks + slack);
		return;
	}
	if (rpc->in.waiting_bufs && uh_sock_region_overdue(rpc->sock)) {
		/* Still no region to put it in: the socket refuses requests
		 * now, and this one ends, so that its client's next probe
		 * draws RPC_UNKNOWN (or the refusal) and it fails rather
		 * than wait for ever (sock.h). */
		uh_stack_drop(rpc->sock->stack, UH_DROP_NO_REGION);
		uh_rpc_end(rpc, p);
		return;
	}
	if (rpc->in.waiting_bufs || waiting_for_grant(rpc)) {
		waiting_on_us(rpc, now, k, p);
		return;
	}
	if (silence >= c->timeout_ticks) {
		timed_out(rpc, p);
		return;
	}
	if (rpc->state == UH_RPC_INCOMING &&
	    sched_crossed(silence, k, c->resend_ticks, c->resend_interval,
			  SERVER_BACKOFF)) {
		uh_out_request_resend(rpc, p, false);
		uh_grant_silent(rpc, p);   /* its grant is not arriving */
	}
	rpc->timer_due = min_u64(rpc->silent_since +
				 sched_next(silence, c->resend_ticks,
					    c->resend_interval, SERVER_BACKOFF),
				 rpc->silent_since + c->timeout_ticks);
}

/* The same for client RPC @rpc. */
static void check_client(struct uh_rpc *rpc, uint64_t now, uint64_t k,
			 struct uh_deferred *p)
{
	const struct uhoma_config *c = &rpc->sock->stack->cfg;
	uint32_t limit = rpc->out.granted < rpc->out.length ? rpc->out.granted
							    : rpc->out.length;
	uint64_t first = c->resend_ticks, every = c->resend_interval;
	uint64_t silence, slack = 0, backoff;

	if (rpc->handed_off) {
		rpc->timer_due = 0;      /* complete: the application next */
		return;
	}
	if (rpc->in.waiting_bufs || waiting_for_grant(rpc)) {
		waiting_on_us(rpc, now, k, p);
		return;
	}
	if (rpc->state == UH_RPC_OUTGOING && rpc->out.next_xmit < limit) {
		uh_out_xmit(rpc);       /* granted bytes unsent: send them */
		rpc->silent_since = now;
		rpc->timer_due = now + 1;
		return;
	}
	/*
	 * Waiting on a server that takes long to answer -- behind a queue
	 * of requests, or because we are (a receive backlog of our own):
	 * its silence means nothing until it has lasted longer than its
	 * answers usually take (peer->resp_delay for its port, capped at
	 * the timeout).
	 * With a fixed resend_ticks, a thousand small RPCs in flight made
	 * every one of them RESEND after 5 ms of waiting in a queue; the
	 * server resent responses already on their way or answered
	 * RPC_UNKNOWN to a RESEND that overtook its request, and that load
	 * lengthened the queue: 10x the cost per RPC, and timeouts on a
	 * lossless loopback (helper-25). The timeout moves by as much.
	 */
	if (rpc->state == UH_RPC_OUTGOING && !rpc->restarts) {
		/* Only the first wait for a response stretches: later
		 * probes keep resend_interval (by then a live server has
		 * answered the first with BUSY, below, or it was lost, and
		 * as many probes fit before the timeout as at the usual
		 * schedule), and an RPC restarted after RPC_UNKNOWN is
		 * recovering from a loss, on the usual schedule. */
		struct uh_delay_est *est = uh_peer_resp_delay(rpc->peer,
							      rpc->dport);
		uint64_t w = later_wait(rpc, est, first, c->timeout_ticks);

		slack = w - first;
		first = w;
	}
	/*
	 * Waiting on a server that has our request (it answered BUSY) and
	 * has spoken lately: it is alive and behind, not gone. Time out on
	 * the server's silence, not the RPC's, and probe 8x less often --
	 * still enough to learn that it forgot the request (RPC_UNKNOWN, a
	 * restart), without the thousands of RESENDs a second that an
	 * overloaded server would spend its time answering with BUSY. Until
	 * the first BUSY the usual schedule stands: a lost request is found
	 * after resend_ticks, and a server that keeps answering RPC_UNKNOWN
	 * (which clears busy_seen) still ends in a timeout.
	 */
	silence = now - rpc->silent_since;
	if (rpc->state == UH_RPC_OUTGOING && rpc->busy_seen) {
		uint64_t heard = now - atomic_load_explicit(
				&rpc->peer->heard_tick, memory_order_relaxed);

		if (heard < c->resend_ticks) {
			first *= 8;
			every *= 8;
		}
		if (heard < silence)
			silence = heard;
	}
	if (silence >= c->timeout_ticks + slack) {
		switch (local_alive(rpc, now,
				    silence - c->timeout_ticks - slack)) {
		case GONE:
			timed_out(rpc, p);
			return;
		case ASKING:
			rpc->timer_due = now + 1;
			return;
		case ALIVE:
			/* As if it had spoken: a fresh silence, probes on
			 * the schedule from here. */
			uh_metric_inc(rpc->sock->stack->metrics,
				      UH_M_LOCAL_WAITS);
			rpc->silent_since = now;
			rpc->late = true;
			silence = 0;
			break;
		}
	}
	/* A server that runs late answers late: each probe it has to
	 * answer takes from what little CPU it gets. */
	backoff = rpc->late ? SERVER_BACKOFF : CLIENT_BACKOFF;
	if (sched_crossed(now - rpc->silent_since, k, first, every,
			  backoff)) {
		/* No response yet: RESEND(0, -1) draws BUSY from a live
		 * server, RPC_UNKNOWN from one that lost the request. */
		uh_out_request_resend(rpc, p, rpc->state == UH_RPC_OUTGOING);
		rpc->probe_sent = true;
		if (rpc->state == UH_RPC_INCOMING)
			uh_grant_silent(rpc, p);
	}
	rpc->timer_due = min_u64(rpc->silent_since +
				 sched_next(now - rpc->silent_since, first,
					    every, backoff),
				 now + c->timeout_ticks + slack - silence);
}

/* Looks at every RPC of @s due at tick @now. */
/* One tick of socket @s; returns how many of its RPCs wait on a timer. */
static uint64_t tick_sock(struct uhoma_sock *s, uint64_t now)
{
	struct uh_deferred p;
	struct uh_list due;
	unsigned n;

	/* Threads reap reap_limit RPCs in passing; the timer also frees an
	 * eighth of any backlog each tick (a flood of RPCs that ended
	 * together is memory until then). */
	{
		uint32_t backlog = atomic_load_explicit(
			&s->dead_count, memory_order_relaxed) / 8;
		unsigned got, freed = 0;

		do {
			got = uh_sock_reap(s, false);
			freed += got;
		} while (got && freed < backlog);
	}
	if (!uh_sock_protect(s))
		return 0;
	uh_list_init(&due);
	n = uh_twheel_take(&s->timers, now, &due);
	uh_deferred_init(&p);
	while (!uh_list_empty(&due)) {
		struct uh_rpc *rpc = uh_list_entry(due.next, struct uh_rpc,
						   timer_link);

		uh_rpc_lock(rpc);
		uh_rpc_hold(rpc);
		if (rpc->state != UH_RPC_DEAD && rpc->timer_due &&
		    rpc->timer_due <= now) {
			uint64_t k = now - rpc->timer_seen;

			rpc->timer_seen = now;
			if (uh_rpc_is_client(rpc))
				check_client(rpc, now, k ? k : 1, &p);
			else
				check_server(rpc, now, k ? k : 1, &p);
			if (rpc->timer_due && rpc->timer_due <= now)
				rpc->timer_due = now + 1;
		}
		/* Later in this turn of the wheel: back to its slot. */
		uh_twheel_put_back(&s->timers, rpc);
		uh_rpc_release(rpc);
		uh_deferred_flush(s->stack, &p);
	}
	uh_sock_unprotect(s);
	if (n)
		uh_metric_add(s->stack->metrics, UH_M_TIMER_VISITS, n);
	return uh_twheel_armed(&s->timers);
}

struct expiry {
	uint64_t now, quiet;
	struct uh_dedup_budget *budget;
	unsigned freed;
};

static void expire_peer(struct uh_peer *peer, void *arg)
{
	struct expiry *e = arg;

	e->freed += uh_peer_dedup_expire(peer, e->now, e->quiet, e->budget);
}

uint64_t uh_stack_tick(struct uhoma_stack *st)
{
	uint64_t now = atomic_fetch_add(&st->ticks, 1) + 1, armed = 0;
	struct expiry exp;

	uh_metric_inc(st->metrics, UH_M_TIMER_TICKS);
	uh_rcu_read_lock();
	for (unsigned b = 0; b < UH_SOCKTAB_BUCKETS; b++) {
		struct uhoma_sock *s = atomic_load_explicit(&st->socktab[b],
							 memory_order_acquire);

		for (; s; s = atomic_load_explicit(&s->tab_next,
						   memory_order_acquire))
			if (!atomic_load(&s->shutdown))
				armed += tick_sock(s, now);
	}
	uh_rcu_read_unlock();
	if (st->port_seen)
		ask_ports(st, now);
	uh_grant_tick(st);
	/* At-most-once records of clients gone quiet: one peer-table bucket
	 * a tick, so a record outlives its quiet time by at most
	 * UH_PEERTAB_BUCKETS ticks. */
	exp.now = now;
	exp.quiet = st->dedup_quiet;
	exp.budget = &st->dedup_budget;
	exp.freed = 0;
	uh_peertab_walk(&st->peers, st->dedup_scan, expire_peer, &exp);
	/* ... and peers gone idle after them. */
	uh_peertab_expire(&st->peers, st->dedup_scan, now, st->dedup_quiet);
	st->dedup_scan = (st->dedup_scan + 1) % UH_PEERTAB_BUCKETS;
	if (exp.freed)
		uh_metric_add(st->metrics, UH_M_DEDUP_RECORDS,
			      -(int64_t)exp.freed);
	return armed;
}
