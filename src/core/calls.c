/*
 * calls.c - the operations behind the public calls, none of which waits
 * or copies the caller's memory (calls.h).
 */
#include <string.h>

#include "core/calls.h"
#include "core/outgoing.h"
#include "core/peer.h"
#include "core/stack.h"

bool uh_call_family_ok(const struct uhoma_stack *st, const struct uh_addr *a)
{
	static const uint8_t zero16[16];
	const struct uh_addr *l = &st->carrier->local;

	if (uh_addr_is_v4(l))
		return uh_addr_is_v4(a);
	return memcmp(l->b, zero16, 16) == 0 || !uh_addr_is_v4(a);
}

bool uh_stack_family_ok(const struct uhoma_stack *st, bool v4)
{
	struct uh_addr a;

	memset(&a, 0, sizeof(a));
	if (v4) {
		a.b[10] = a.b[11] = 0xff;     /* ::ffff:0.0.0.1 */
		a.b[15] = 1;
	} else {
		a.b[0] = 0x20;                /* 2000::1 */
		a.b[15] = 1;
	}
	return uh_call_family_ok(st, &a);
}

int uh_call_send(struct uhoma_sock *s, const struct uh_addr *addr,
		 uint16_t port, uint8_t *copy, uint32_t len, uint64_t cookie,
		 unsigned flags, uint32_t charged, uint64_t *id)
{
	struct uhoma_stack *st = s->stack;
	struct uh_peer *peer;
	struct uh_rpc *rpc;
	int rc;

	peer = uh_peer_get(&st->peers, addr,
			   atomic_load_explicit(&st->ticks,
						memory_order_relaxed));
	if (!peer) {
		if (!(flags & UHOMA_ZEROCOPY))
			uh_rpc_msgbuf_free(copy, len);
		uh_sock_tx_return(s, charged);
		return UHOMA_ERR_NOMEM;
	}
	rpc = uh_rpc_new_client(s, peer, port, copy, len, cookie, flags, &rc);
	if (!rpc) {
		uh_sock_tx_return(s, charged);
		return rc;
	}
	rpc->out.charged = charged;    /* returned from now on by the RPC */
	*id = rpc->id;
	uh_metric_inc(st->metrics, UH_M_REQUESTS_SENT);
	uh_out_xmit(rpc);
	uh_rpc_release(rpc);
	return UHOMA_OK;
}

int uh_call_reply(struct uhoma_sock *s, const struct uh_addr *addr,
		  uint16_t port, uint64_t id, uint8_t *copy, uint32_t len)
{
	struct uh_rpc *rpc = uh_rpc_find_reply(s, addr, port, id);

	if (!rpc) {
		/* The RPC ended (its client is gone): nothing to do, as the
		 * module says (0). */
		uh_rpc_msgbuf_free(copy, len);
		return UHOMA_OK;
	}
	if (rpc->state != UH_RPC_IN_SERVICE) {
		uh_rpc_release(rpc);
		uh_rpc_msgbuf_free(copy, len);
		return UHOMA_ERR_INVALID_ARGUMENT;
	}
	uh_rpc_set_msgout(rpc, copy, len);
	uh_rpc_heard(rpc);
	rpc->reply_tick = rpc->silent_since;
	uh_rpc_set_state(rpc, UH_RPC_OUTGOING);
	uh_rpc_arm(rpc, 1);        /* the response's timer starts */
	uh_out_xmit(rpc);
	uh_rpc_release(rpc);
	return UHOMA_OK;
}

/* Gives @rpc's (locked) message or error to the application. */
static int take_message(struct uhoma_sock *s, struct uh_rpc *rpc,
			struct uhoma_msg *msg, struct uh_deferred *p)
{
	struct uhoma_stack *st = s->stack;
	int rc;

	msg->id = rpc->id;
	msg->cookie = uh_rpc_is_client(rpc) ? rpc->cookie : 0;
	uh_addr_to_sockaddr(&rpc->peer->addr, rpc->dport, &msg->peer,
			    &msg->peer_len);
	msg->length = 0;
	msg->num_bpages = 0;
	if (rpc->error) {
		rc = rpc->error;
		uh_rpc_end(rpc, p);
		return rc;
	}
	msg->length = (uint32_t)rpc->in.length;
	msg->num_bpages = rpc->in.num_bpages;
	memcpy(msg->bpage_offsets, rpc->in.bpage_offsets,
	       rpc->in.num_bpages * sizeof(msg->bpage_offsets[0]));
	uh_pool_give_to_app(&s->pool, rpc->in.bpage_offsets,
			    rpc->in.num_bpages);
	rpc->in.given = true;
	if (uh_rpc_is_client(rpc)) {
		struct uh_ack ack = { rpc->id, rpc->dport }, full[UH_MAX_ACKS];
		unsigned n = 0;

		if (rpc->acked) {
			/* The server has it. */
		} else if (rpc->alias_answered) {
			/* Answered from another loopback address than the
			 * one it went to: the server's NEED_ACK would come
			 * from there too, and never take an ack stored on
			 * this peer, which would then never be idle
			 * (helper-42: max_peers filled for good). Acked now,
			 * in a packet of its own. */
			struct uh_hdr h;

			uh_out_ctl_init(&h, rpc, UH_PKT_ACK);
			uh_deferred_ctl(p, &h, s->port, &rpc->peer->addr,
					rpc->dport);
		} else {
			n = uh_peer_add_ack(rpc->peer, s->port, &ack, full);
		}
		if (n) {
			struct uh_hdr h;

			uh_out_ctl_init(&h, rpc, UH_PKT_ACK);
			h.u.ack.num_acks = (uint16_t)n;
			memcpy(h.u.ack.acks, full, n * sizeof(full[0]));
			uh_deferred_ctl(p, &h, s->port, &rpc->peer->addr,
					rpc->dport);
		}
		uh_metric_inc(st->metrics, UH_M_RESPONSES_RECEIVED);
		uh_rpc_end(rpc, p);
	} else {
		uh_rpc_set_state(rpc, UH_RPC_IN_SERVICE);
	}
	return (int)msg->length;
}

int uh_call_take(struct uhoma_sock *s, uint64_t want, struct uhoma_msg *msg,
		 int *rc)
{
	struct uh_deferred p;
	struct uh_rpc *rpc;

	uh_deferred_init(&p);
	if (want) {
		rpc = uh_rpc_find_client(s, want);
		if (!rpc || !rpc->is_private) {
			if (rpc)
				uh_rpc_release(rpc);
			/* Shutdown ended it: say so, as every later call
			 * does, not "unknown id". */
			*rc = !rpc && atomic_load(&s->shutdown)
				      ? UHOMA_ERR_SHUTDOWN
				      : UHOMA_ERR_INVALID_ARGUMENT;
			return 1;
		}
		if (!rpc->private_ready) {
			uh_rpc_release(rpc);
			return 0;
		}
		*rc = take_message(s, rpc, msg, &p);
		uh_rpc_release_borrowed(rpc);
		uh_deferred_flush(s->stack, &p);
		return 1;
	}
	for (;;) {
		uh_lock(&s->lock);
		rpc = uh_list_first(&s->ready, struct uh_rpc, ready_link);
		if (rpc) {
			uh_list_del(&rpc->ready_link);
			uh_rpc_hold(rpc);   /* on a list: not reapable */
		}
		uh_unlock(&s->lock);
		if (!rpc)
			return 0;
		uh_rpc_lock(rpc);
		if (rpc->state == UH_RPC_DEAD) {  /* aborted meanwhile */
			uh_rpc_release(rpc);
			continue;
		}
		*rc = take_message(s, rpc, msg, &p);
		uh_rpc_release_borrowed(rpc);
		p.signal_fd = true;
		p.wake_sock = s;
		uh_deferred_flush(s->stack, &p);
		return 1;
	}
}

static void abort_one(struct uh_rpc *rpc, int error, struct uh_deferred *p)
{
	uh_metric_inc(rpc->sock->stack->metrics, UH_M_ABORTS);
	if (error == 0)
		uh_rpc_end(rpc, p);
	else if (rpc->handed_off && !rpc->in.given)
		/* Its response (or its failure) is complete and waits to be
		 * received: the receive reports the abort's error instead, as
		 * the module's recvmsg does, whose abort sets the error
		 * whatever was there (its pages go back when the RPC is
		 * freed). uh_rpc_fail would leave it: it is handed off
		 * already (helpers 38 and 39). */
		rpc->error = error;
	else
		uh_rpc_fail(rpc, error, p);
}

int uh_call_abort(struct uhoma_sock *s, uint64_t id, int error)
{
	struct uh_deferred p;
	struct uh_rpc_walk w;
	struct uh_rpc *rpc;

	uh_deferred_init(&p);
	if (atomic_load(&s->shutdown))
		return UHOMA_ERR_SHUTDOWN;   /* every RPC has ended */
	if (id) {
		rpc = uh_rpc_find_client(s, id);
		if (!rpc)
			return atomic_load(&s->shutdown) ? UHOMA_ERR_SHUTDOWN
							 : UHOMA_ERR_NOT_FOUND;
		abort_one(rpc, error, &p);
		uh_rpc_release_borrowed(rpc);
		uh_deferred_flush(s->stack, &p);
		return UHOMA_OK;
	}
	if (!uh_rpc_walk_begin(&w, s))
		return UHOMA_ERR_SHUTDOWN;      /* nothing left */
	while ((rpc = uh_rpc_walk_next(&w))) {
		if (!uh_rpc_is_client(rpc))   /* immutable: no lock needed */
			continue;
		uh_rpc_lock(rpc);
		uh_rpc_hold(rpc);
		if (rpc->state != UH_RPC_DEAD)
			abort_one(rpc, error, &p);
		uh_rpc_release_borrowed(rpc);
		uh_deferred_flush(s->stack, &p);
	}
	uh_rpc_walk_end(&w);
	return UHOMA_OK;
}

