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
 */
#include "core/grant.h"
#include "core/outgoing.h"
#include "core/stack.h"
#include "sync/rcu.h"

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

static void check_server(struct uh_rpc *rpc, uint64_t now,
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
		if (++rpc->silent_ticks >= 10ull * c->timeout_ticks) {
			uh_metric_inc(rpc->sock->stack->metrics,
				      UH_M_RPC_TIMEOUTS);
			uh_rpc_end(rpc, p);
		}
		return;
	}
	if (rpc->state == UH_RPC_OUTGOING) {
		/* Response fully sent: ask for the ACK every tick after
		 * request_ack_ticks. A client silent (no RESEND, no ACK) past
		 * the timeout is gone, and the RPC with it. */
		if (!rpc->done_tick)
			rpc->done_tick = now;
		if (now - rpc->done_tick >= c->request_ack_ticks)
			uh_out_ctl(rpc, UH_PKT_NEED_ACK, p);
		if (++rpc->silent_ticks >= c->timeout_ticks) {
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
	if (++rpc->silent_ticks >= c->timeout_ticks) {
		uh_metric_inc(rpc->sock->stack->metrics, UH_M_RPC_TIMEOUTS);
		uh_rpc_end(rpc, p);
		return;
	}
	if (rpc->state == UH_RPC_INCOMING &&
	    rpc->silent_ticks >= c->resend_ticks &&
	    (rpc->silent_ticks - c->resend_ticks) % c->resend_interval == 0)
		uh_out_request_resend(rpc, p, false);
}

static void check_client(struct uh_rpc *rpc, struct uh_pending *p)
{
	const struct uhoma_config *c = &rpc->sock->stack->cfg;
	uint32_t limit = rpc->out.granted < rpc->out.length ? rpc->out.granted
							    : rpc->out.length;

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
	if (++rpc->silent_ticks >= c->timeout_ticks) {
		uh_metric_inc(rpc->sock->stack->metrics, UH_M_RPC_TIMEOUTS);
		uh_rpc_fail(rpc, UHOMA_ERR_TIMEDOUT, p);
		return;
	}
	if (rpc->silent_ticks >= c->resend_ticks &&
	    (rpc->silent_ticks - c->resend_ticks) % c->resend_interval == 0)
		/* No response yet: RESEND(0, -1) draws BUSY from a live
		 * server, RPC_UNKNOWN from one that lost the request. */
		uh_out_request_resend(rpc, p, rpc->state == UH_RPC_OUTGOING);
}

static void tick_sock(struct uhoma_sock *s, uint64_t now)
{
	struct uh_pending p;
	struct uh_rculist *pos;

	uh_sock_reap(s, false);
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
				check_client(rpc, &p);
			else
				check_server(rpc, now, &p);
		}
		uh_rpc_release(rpc);
		uh_pending_flush(s->stack, &p);
	}
	uh_sock_unprotect(s);
}

void uh_stack_tick(struct uhoma_stack *st)
{
	uint64_t now = atomic_fetch_add(&st->ticks, 1) + 1;

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
}
