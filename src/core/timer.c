/*
 * timer.c - the core's clock-driven work (homa-protocol.md §4.4): resends
 * after silence, timeouts, NEED_ACKs, lost-grant recovery, reaping.
 *
 * uh_stack_tick() runs once per tick (cfg.tick_us), from the runtime's
 * timer thread or a virtual clock. It walks each socket's RPCs against the
 * lock order (the walk is a socket-level list, yet it takes RPC locks), so
 * it holds the socket's protect count instead of the socket lock: the
 * reaper frees nothing meanwhile, and each RPC is locked in turn and
 * skipped if it died.
 *
 * A socket with many RPCs is walked less often: each walk visits at most
 * about SCAN_BUDGET RPCs per tick on average, and counts the ticks it
 * covers (k) towards every RPC's silence. Without it the walk is O(RPCs)
 * every tick -- thousands of RPCs under overload took two thirds of the
 * timer thread's core, the feedback that turned overload into collapse.
 * Periodic actions fire when the silence crosses their boundary, so a walk
 * covering several ticks loses none of them (it sends them late, by less
 * than k ticks).
 */
#include "core/grant.h"
#include "core/outgoing.h"
#include "core/stack.h"
#include "sync/rcu.h"

#define SCAN_BUDGET 256

/* True if some t in (v - k, v] has t >= start and (t - start) % every == 0:
 * a periodic action due at start, start + every, ... fell in this walk. */
static bool crossed(uint64_t v, uint64_t k, uint64_t start, uint64_t every)
{
	if (v < start)
		return false;
	if (k > v || v - k < start)
		return true;
	return (v - start) / every > (v - k - start) / every;
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

static void check_server(struct uh_rpc *rpc, uint64_t now, uint32_t k,
			 struct uh_pending *p)
{
	const struct uhoma_config *c = &rpc->sock->stack->cfg;

	if (rpc->state == UH_RPC_IN_SERVICE ||
	    (rpc->state == UH_RPC_INCOMING && rpc->handed_off)) {
		/* The application has the request, or it is complete and
		 * waiting for the application: nothing to hear from the
		 * client. */
		rpc->silent_ticks = 0;
		return;
	}
	if (rpc->state == UH_RPC_OUTGOING &&
	    rpc->out.next_xmit < rpc->out.length) {
		/* Response waiting for grants (or the pacer): a live client
		 * sends nothing while it grants to other messages, so only
		 * a long silence -- ten timeouts, far beyond what FIFO grants
		 * allow -- means that it is gone. */
		rpc->silent_ticks += k;
		if (rpc->silent_ticks >= 10ull * c->timeout_ticks) {
			uh_metric_inc(rpc->sock->stack->metrics,
				      UH_M_RPC_TIMEOUTS);
			uh_rpc_end(rpc, p);
		}
		return;
	}
	if (rpc->state == UH_RPC_OUTGOING) {
		/* Response fully sent: ask for the ACK after request_ack_ticks
		 * and then every resend_interval ticks. (The Linux module asks
		 * every tick; with thousands of responses awaiting ACKs from
		 * an overloaded client that is a storm of its own.) A client
		 * silent (no RESEND, BUSY or ACK) past the timeout is gone,
		 * and the RPC with it. */
		if (!rpc->done_tick)
			rpc->done_tick = now;
		if (crossed(now - rpc->done_tick, k, c->request_ack_ticks,
			    c->resend_interval))
			uh_out_ctl(rpc, UH_PKT_NEED_ACK, p);
		rpc->silent_ticks += k;
		if (rpc->silent_ticks >= c->timeout_ticks) {
			uh_metric_inc(rpc->sock->stack->metrics,
				      UH_M_RPC_TIMEOUTS);
			uh_rpc_end(rpc, p);
		}
		return;
	}
	if (rpc->in.waiting_bufs || waiting_for_grant(rpc)) {
		rpc->silent_ticks = 0;
		return;
	}
	rpc->silent_ticks += k;
	if (rpc->silent_ticks >= c->timeout_ticks) {
		uh_metric_inc(rpc->sock->stack->metrics, UH_M_RPC_TIMEOUTS);
		uh_rpc_end(rpc, p);
		return;
	}
	if (rpc->state == UH_RPC_INCOMING &&
	    crossed(rpc->silent_ticks, k, c->resend_ticks, c->resend_interval))
		uh_out_request_resend(rpc, p, false);
}

static void check_client(struct uh_rpc *rpc, uint64_t now, uint32_t k,
			 struct uh_pending *p)
{
	const struct uhoma_config *c = &rpc->sock->stack->cfg;
	uint32_t limit = rpc->out.granted < rpc->out.length ? rpc->out.granted
							    : rpc->out.length;
	uint32_t first = c->resend_ticks, every = c->resend_interval;
	uint64_t silence;

	if (rpc->handed_off || rpc->in.waiting_bufs ||
	    waiting_for_grant(rpc)) {
		rpc->silent_ticks = 0;  /* complete, or waiting on us */
		return;
	}
	if (rpc->state == UH_RPC_OUTGOING && rpc->out.next_xmit < limit) {
		uh_out_xmit(rpc);       /* granted bytes unsent: send them */
		rpc->silent_ticks = 0;
		return;
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
	rpc->silent_ticks += k;
	silence = rpc->silent_ticks;
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
	if (silence >= c->timeout_ticks) {
		uh_metric_inc(rpc->sock->stack->metrics, UH_M_RPC_TIMEOUTS);
		uh_rpc_fail(rpc, UHOMA_ERR_TIMEDOUT, p);
		return;
	}
	if (crossed(rpc->silent_ticks, k, first, every))
		/* No response yet: RESEND(0, -1) draws BUSY from a live
		 * server, RPC_UNKNOWN from one that lost the request. */
		uh_out_request_resend(rpc, p, rpc->state == UH_RPC_OUTGOING);
}

static void tick_sock(struct uhoma_sock *s, uint64_t now)
{
	struct uh_pending p;
	struct uh_rculist *pos;
	uint32_t k, n = 0, step;

	uh_sock_reap(s, false);
	if (now < atomic_load_explicit(&s->next_scan, memory_order_relaxed))
		return;
	k = atomic_load_explicit(&s->scan_step, memory_order_relaxed);
	if (!uh_sock_protect(s))
		return;
	uh_pending_init(&p);
	for (pos = uh_rculist_next(&s->active); pos != &s->active;
	     pos = uh_rculist_next(pos)) {
		struct uh_rpc *rpc = uh_container_of(pos, struct uh_rpc, active);

		uh_rpc_lock(rpc);
		uh_rpc_hold(rpc);
		if (rpc->state != UH_RPC_DEAD) {
			if (uh_rpc_is_client(rpc))
				check_client(rpc, now, k, &p);
			else
				check_server(rpc, now, k, &p);
		}
		uh_rpc_release(rpc);
		uh_pending_flush(s->stack, &p);
		n++;
	}
	uh_sock_unprotect(s);
	step = n / SCAN_BUDGET + 1;
	atomic_store_explicit(&s->scan_step, step, memory_order_relaxed);
	atomic_store_explicit(&s->next_scan, now + step, memory_order_relaxed);
}

void uh_stack_tick(struct uhoma_stack *st)
{
	uint64_t now = atomic_fetch_add(&st->ticks, 1) + 1;
	unsigned n;

	uh_metric_inc(st->metrics, UH_M_TIMER_TICKS);
	uh_rcu_read_lock();
	for (unsigned b = 0; b < UH_SOCKTAB_BUCKETS; b++) {
		struct uhoma_sock *s = atomic_load_explicit(&st->socktab[b],
							 memory_order_acquire);

		for (; s; s = atomic_load_explicit(&s->tab_next,
						   memory_order_acquire))
			if (!atomic_load(&s->shutdown))
				tick_sock(s, now);
	}
	uh_rcu_read_unlock();
	uh_grant_tick(st);
	/* At-most-once records of clients gone quiet: one peer-table bucket
	 * a tick, so a record outlives its quiet time by at most
	 * UH_PEERTAB_BUCKETS ticks. */
	n = uh_peertab_expire(&st->peers, st->dedup_scan, now,
			      st->dedup_quiet);
	st->dedup_scan = (st->dedup_scan + 1) % UH_PEERTAB_BUCKETS;
	if (n)
		uh_metric_add(st->metrics, UH_M_DEDUP_RECORDS, -(int64_t)n);
}
