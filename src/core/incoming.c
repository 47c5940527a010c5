/*
 * incoming.c - what the core does with each received packet
 * (homa-protocol.md §1.8).
 *
 * Every packet is decoded and validated first (wire.c); anything malformed
 * is dropped and counted by reason. A valid packet is matched to its
 * socket (under RCU) and RPC (lookup and lock in one step); handlers run
 * under that RPC's lock and queue any reply packets, acks for other RPCs
 * and wake-ups in a struct uh_deferred, performed after the lock is gone.
 */
#include <string.h>

#include "core/gaps.h"
#include "core/grant.h"
#include "core/incoming.h"
#include "core/outgoing.h"
#include "core/peer.h"
#include "core/prio.h"
#include "core/stack.h"
#include "core/unsched.h"
#include "sync/rcu.h"

/* Copies @len bytes of message data at message offset @off into the
 * region (no lock held: the caller owns the range and a reference). */
static void copy_to_region(uint8_t *region, const uint32_t *offsets,
			   uint32_t off, const uint8_t *src, uint32_t len)
{
	while (len) {
		uint32_t in_page = UH_BPAGE_SIZE - (off & (UH_BPAGE_SIZE - 1));
		uint32_t n = len < in_page ? len : in_page;

		memcpy(region + offsets[off >> UH_BPAGE_SHIFT] +
			       (off & (UH_BPAGE_SIZE - 1)),
		       src, n);
		off += n;
		src += n;
		len -= n;
	}
}

bool uh_in_data_accept(struct uh_rpc *rpc, const struct uh_hdr *h,
		       const struct uh_addr *src, struct uh_deferred *p,
		       struct uh_runs *runs)
{
	struct uhoma_sock *s = rpc->sock;
	struct uhoma_stack *st = s->stack;
	struct uh_msgin *in = &rpc->in;
	uint32_t start, n, len, incoming, off, end, total = 0;
	bool full = false;

	if (uh_rpc_is_client(rpc)) {
		if (rpc->state == UH_RPC_OUTGOING) {
			/* The first bytes of the response: how long the
			 * server took, for a request that needed no grant
			 * (a one-way trip of its own). */
			in->length = (int32_t)h->u.data.message_length;
			in->bytes_remaining = h->u.data.message_length;
			uh_rpc_set_state(rpc, UH_RPC_INCOMING);
			if (rpc->out.length <= rpc->out.unsched &&
			    !rpc->restarts)
				uh_delay_sample(
					uh_peer_resp_delay(rpc->peer,
							   rpc->dport),
					atomic_load_explicit(
						&st->ticks,
						memory_order_relaxed) -
						rpc->born_tick);
		} else if (rpc->state != UH_RPC_INCOMING) {
			uh_stack_drop(st, UH_DROP_WRONG_STATE);
			return false;
		}
	} else if (rpc->state != UH_RPC_INCOMING) {
		uh_stack_drop(st, UH_DROP_DUPLICATE); /* request complete */
		return false;
	}
	if ((uint32_t)in->length != h->u.data.message_length) {
		uh_stack_drop(st, UH_DROP_MISMATCH);
		/* Two messages claim this request id. While ours has shown
		 * nothing but its first packet, it may be a forged one that
		 * would pin the id (the real sender's retransmissions keep it
		 * alive): end it, unrun, and let the next copy start over. */
		if (!uh_rpc_is_client(rpc) && !in->proven && !rpc->handed_off)
			uh_rpc_end(rpc, p);
		return false;
	}
	len = (uint32_t)in->length;
	uh_rpc_heard(rpc);
	if (!in->data_seen) {
		in->data_seen = true;
		in->first_offset = h->u.data.offset;
	} else if (!in->proven && h->u.data.offset != in->first_offset) {
		uh_rpc_proven(rpc);
	}
	uh_prio_check_version(st, h, src, p);
	if (h->u.data.ack.client_id && !uh_rpc_is_client(rpc) &&
	    p->num_acks < UH_DEFERRED_ACKS) {
		p->acks[p->num_acks].src = *src;
		p->acks[p->num_acks].sport = h->sport;
		p->acks[p->num_acks].ack = h->u.data.ack;
		p->num_acks++;
	}
	if (rpc->handed_off || in->bytes_remaining == 0) {
		uh_stack_drop(st, UH_DROP_DUPLICATE);
		return false;
	}
	incoming = h->u.data.incoming < len ? h->u.data.incoming : len;
	if (in->granted < incoming) {
		in->granted = incoming;
		in->claimed = incoming;
	}
	if (!in->has_bufs) {
		if (uh_pool_region(&s->pool) &&
		    uh_pool_alloc(&s->pool, len, in->bpage_offsets,
				  &in->num_bpages)) {
			in->has_bufs = true;
			if (in->waiting_bufs)
				uh_sock_unwait_bufs(s, rpc);
		}
		if (!in->has_bufs) {
			uh_sock_wait_bufs(s, rpc, p);
			uh_stack_drop(st, UH_DROP_NO_BUFFER);
			return false;
		}
	}
	/* Each new run of the packet, in order: a packet that overlaps
	 * bytes already here (a retransmission cut otherwise, a hostile
	 * sender) fills every gap it covers, not only its first. */
	off = h->u.data.offset;
	end = off + h->u.data.payload_len;
	runs->n = 0;
	while (off < end && runs->n < UH_DATA_RUNS) {
		n = uh_gaps_accept(in, off, end - off, &start);
		if (n == 0)
			break;
		if (n == UINT32_MAX) {
			full = true;
			break;
		}
		runs->start[runs->n] = start;
		runs->len[runs->n++] = n;
		total += n;
		off = start + n;
	}
	if (runs->n == 0) {
		uh_stack_drop(st, full ? UH_DROP_TOO_MANY_GAPS
				       : UH_DROP_DUPLICATE);
		return false;
	}
	/* New bytes left out are not lost silently: counted, and the gaps
	 * they would have filled stay for a RESEND. */
	if (full || (off < end && uh_gaps_any_new(in, off, end - off)))
		uh_stack_drop(st, UH_DROP_TOO_MANY_GAPS);
	in->bytes_remaining -= total;
	in->copies++;
	uh_grant_check(rpc, p);
	return true;
}

void uh_in_data_placed(struct uh_rpc *rpc, struct uh_deferred *p)
{
	struct uh_msgin *in = &rpc->in;

	in->copies--;
	if (rpc->state != UH_RPC_DEAD && in->bytes_remaining == 0 &&
	    in->copies == 0) {
		uh_grant_done(rpc, p);
		uh_rpc_handoff(rpc, p);
	}
}

static void handle_data(struct uh_rpc *rpc, const struct uh_hdr *h,
			const struct uh_addr *src, struct uh_deferred *p)
{
	struct uh_msgin *in = &rpc->in;
	uint32_t offsets[UH_MAX_BPAGES];
	struct uh_runs runs;
	uint8_t *region;

	if (!uh_in_data_accept(rpc, h, src, p, &runs))
		return;
	memcpy(offsets, in->bpage_offsets, in->num_bpages * sizeof(offsets[0]));
	region = uh_pool_region(&rpc->sock->pool);

	/* Copy with the lock dropped; the ranges are ours (accounted above)
	 * and our reference keeps the RPC and its pages. */
	uh_rpc_unlock(rpc);
	if (!rpc->sock->stack->discard_payload)
		for (unsigned i = 0; i < runs.n; i++)
			copy_to_region(region, offsets, runs.start[i],
				       h->u.data.payload +
					       (runs.start[i] -
						h->u.data.offset),
				       runs.len[i]);
	uh_rpc_lock(rpc);
	uh_in_data_placed(rpc, p);
}

static void handle_grant(struct uh_rpc *rpc, const struct uh_hdr *h)
{
	uint32_t off;

	if (rpc->state != UH_RPC_OUTGOING || !rpc->out.buf) {
		uh_stack_drop(rpc->sock->stack, UH_DROP_WRONG_STATE);
		return;
	}
	uh_rpc_heard(rpc);
	off = h->u.grant.offset < rpc->out.length ? h->u.grant.offset
						  : rpc->out.length;
	/* A GRANT sets the priority of what is granted, even when it grants
	 * nothing new (the receiver repeats a lost grant, or re-ranks the
	 * message: §1.8); only an older one, overtaken by a later grant on
	 * the way, says nothing. */
	if (off >= rpc->out.granted) {
		rpc->out.granted = off;
		rpc->out.sched_prio = h->u.grant.priority;
	}
	uh_out_xmit_granted(rpc);
}

static void handle_resend(struct uh_rpc *rpc, const struct uh_hdr *h,
			  struct uh_deferred *p)
{
	uint64_t start = h->u.resend.offset, end;
	bool stale;

	uh_rpc_heard(rpc);
	if (!uh_rpc_is_client(rpc) && rpc->state != UH_RPC_OUTGOING) {
		/* No response yet: "alive, working on it". */
		uh_out_ctl(rpc, UH_PKT_BUSY, p);
		if (rpc->state == UH_RPC_INCOMING && !rpc->in.waiting_bufs)
			uh_out_request_resend(rpc, p, false);
		return;
	}
	if (rpc->state != UH_RPC_OUTGOING || !rpc->out.buf) {
		uh_stack_drop(rpc->sock->stack, UH_DROP_WRONG_STATE);
		return;
	}
	end = h->u.resend.length == UH_RESEND_ALL
		      ? rpc->out.next_xmit : start + h->u.resend.length;
	if (end > rpc->out.length)
		end = rpc->out.length;
	if (end > rpc->out.granted)
		rpc->out.granted = (uint32_t)end;   /* a GRANT was lost */
	/* Asked before our data could arrive (stale): it waited in a queue
	 * while we sent. Serving each such RESEND is how a peer that fell
	 * behind gets buried in duplicates. Whatever is not served gets a
	 * BUSY: our data may wait for long in a starved band, and a peer
	 * that hears nothing takes us for dead. */
	stale = start < end && uh_out_sent_lately(rpc, (uint32_t)start);
	if (stale)
		uh_metric_inc(rpc->sock->stack->metrics, UH_M_STALE_RESENDS);
	else if (start < end && start < rpc->out.unsched)
		/* Bytes we sent before any grant did not arrive. */
		uh_unsched_loss(rpc->sock->stack, rpc->peer);
	if (stale || start >= end ||
	    uh_out_resend(rpc, (uint32_t)start, (uint32_t)end,
			  h->u.resend.priority) == 0)
		uh_out_ctl(rpc, UH_PKT_BUSY, p);
	uh_out_xmit_granted(rpc);
}

static void handle_unknown(struct uh_rpc *rpc, struct uh_deferred *p)
{
	struct uhoma_stack *st = rpc->sock->stack;

	if (!uh_rpc_is_client(rpc)) {
		uh_rpc_end(rpc, p);      /* the client forgot it */
		return;
	}
	if (rpc->sport != atomic_load_explicit(&rpc->sock->port,
					       memory_order_relaxed)) {
		/* The socket moved (uhoma_bind) since the request left. A
		 * server knows its clients by address and port, so it does
		 * not know this RPC under the new port, but it may have it,
		 * or have run it, under the old one: sent again from here the
		 * request would run twice. Its outcome is unknown, as after
		 * a timeout. */
		uh_metric_inc(st->metrics, UH_M_MOVED_UNKNOWN);
		uh_rpc_fail(rpc, UHOMA_ERR_TIMEDOUT, p);
		return;
	}
	rpc->busy_seen = false;          /* it does not have the request */
	rpc->answered = false;
	uh_unsched_loss(st, rpc->peer);  /* nor its unscheduled bytes */
	/* The server is alive and the request starts over: a restart gets
	 * the time a new request gets (else an RPC that waited behind a
	 * busy server times out just after sending again). Only a few: a
	 * server that keeps answering RPC_UNKNOWN (it refuses the
	 * retransmission, e.g. because it already served that id) must end
	 * in a timeout, not a loop. A server that takes the retransmission
	 * answers with DATA or BUSY. */
	if (rpc->restarts < UH_MAX_RESTARTS) {
		rpc->restarts++;
		uh_rpc_heard(rpc);
	}
	if (rpc->state == UH_RPC_INCOMING && !rpc->handed_off &&
	    rpc->in.copies == 0) {
		/* The server lost the RPC while responding: start over. */
		if (rpc->in.has_bufs)
			uh_pool_free(&rpc->sock->pool, rpc->in.bpage_offsets,
				     rpc->in.num_bpages);
		if (rpc->in.waiting_bufs)  /* the reset forgets the wait */
			uh_sock_unwait_bufs(rpc->sock, rpc);
		uh_grant_done(rpc, p);
		{
			struct uh_gap *block = rpc->in.gaps;
			uint16_t cap = rpc->in.gaps_cap;

			memset(&rpc->in, 0, sizeof(rpc->in));
			rpc->in.gaps = block == rpc->in.gaps_inline ? NULL
								    : block;
			rpc->in.gaps_cap = cap;
			uh_gaps_reset(&rpc->in);
		}
		rpc->in.length = -1;
		uh_rpc_set_state(rpc, UH_RPC_OUTGOING);
	}
	if (rpc->state == UH_RPC_OUTGOING) {
		uint16_t version;

		uh_out_resend(rpc, 0, rpc->out.next_xmit,
			      uh_prio_unsched(st, rpc->peer, rpc->out.length,
					      &version));
	}
}

/* ACKs our client RPC @id to the server @src:@dport, with whatever other
 * acks wait for that peer (@peer may be NULL: none). */
static void send_ack(struct uhoma_sock *s, struct uh_peer *peer,
		     const struct uh_addr *src, uint16_t dport, uint64_t id,
		     struct uh_deferred *p)
{
	struct uh_hdr r;

	memset(&r, 0, sizeof(r));
	r.type = UH_PKT_ACK;
	r.sport = s->port;
	r.dport = dport;
	r.sender_id = id;
	if (peer)
		r.u.ack.num_acks = (uint16_t)uh_peer_take_acks(
			peer, s->port, r.u.ack.acks, UH_MAX_ACKS);
	uh_deferred_ctl(p, &r, s->port, src, dport);
}

/*
 * The server sent its whole response and wants an ACK.
 *
 * If the response is complete here (or the RPC failed), the server may
 * forget the RPC now, whether or not the application has taken the
 * response yet: ACK at once, as the Linux module does. Waiting for
 * uhoma_recv instead lets an application that is slow to receive draw a
 * NEED_ACK per response every resend_interval until it does -- with
 * thousands of responses waiting, a storm of its own.
 *
 * If it is incomplete, re-request the missing data only if the response
 * has gone quiet (our own resend timer would soon do the same). While it
 * waits for buffer space, or while its data still arrives (an overloaded
 * client is simply behind), a RESEND would only fetch duplicates -- under
 * load, thousands a second, the storm that turns overload into collapse --
 * so answer BUSY: it keeps the server's RPC alive, and the pool's RESEND
 * restarts a waiting message when space frees up.
 */
static void handle_need_ack(struct uh_rpc *rpc, struct uh_deferred *p)
{
	const struct uhoma_config *c = &rpc->sock->stack->cfg;

	if (!uh_rpc_is_client(rpc))
		return;
	if (rpc->handed_off) {
		send_ack(rpc->sock, rpc->peer, &rpc->peer->addr, rpc->dport,
			 rpc->id, p);
		rpc->acked = true;
		return;
	}
	if (rpc->in.waiting_bufs ||
	    (rpc->state == UH_RPC_INCOMING &&
	     atomic_load_explicit(&rpc->sock->stack->ticks,
				  memory_order_relaxed) - rpc->silent_since <
		     c->resend_ticks)) {
		uh_out_ctl(rpc, UH_PKT_BUSY, p);
		return;
	}
	uh_out_request_resend(rpc, p, rpc->state == UH_RPC_OUTGOING);
}

/* Answers @h (from @src, to our port h->dport) with a bare control
 * packet of @type about the same RPC. */
static void answer(const struct uh_hdr *h, const struct uh_addr *src,
		   uint8_t type, struct uh_deferred *p)
{
	struct uh_hdr r;

	memset(&r, 0, sizeof(r));
	r.type = type;
	r.sport = h->dport;
	r.dport = h->sport;
	r.sender_id = h->sender_id ^ 1;      /* our id for the RPC */
	uh_deferred_ctl(p, &r, h->dport, src, h->sport);
}

/* A packet for an RPC we do not have. */
static void no_rpc(struct uhoma_stack *st, struct uhoma_sock *s,
		   const struct uh_hdr *h, const struct uh_addr *src,
		   uint64_t id, struct uh_deferred *p)
{
	if (h->type == UH_PKT_RESEND) {
		/* A client asks about a request we do not know. While we are
		 * behind it may be waiting unread in our own queue: RPC_UNKNOWN
		 * would restart it and queue its bytes a second time, and
		 * those restarts, dropped by the full socket, timed RPCs out
		 * on a live server (helper-31: 16 clients on 2 CPUs, 500-600
		 * failures a run). BUSY keeps the client waiting; once we
		 * have caught up, a request that really was lost draws
		 * RPC_UNKNOWN at its next probe. */
		answer(h, src,
		       (id & 1) && atomic_load_explicit(&st->behind,
							memory_order_relaxed)
			       ? UH_PKT_BUSY : UH_PKT_RPC_UNKNOWN,
		       p);
	} else if (h->type == UH_PKT_NEED_ACK && !(id & 1)) {
		send_ack(s, uh_peer_find(&st->peers, src), src, h->sport, id,
			 p);
	} else {
		uh_stack_drop(st, UH_DROP_UNKNOWN_RPC);
	}
}

/* Returns whether the packet is a request this socket does not serve. */
struct uh_rpc *uh_in_find_rpc(struct uhoma_sock *s, const struct uh_hdr *h,
			      const struct uh_addr *src, bool *mismatch)
{
	uint64_t id = h->sender_id ^ 1;     /* our id for this RPC */
	struct uh_rpc *rpc = (id & 1) ? uh_rpc_find_server(s, src, h->sport, id)
				      : uh_rpc_find_client(s, id);

	/*
	 * A server RPC's key holds both; a client RPC is ours by id, and
	 * its packets must come from the port and address it was sent to --
	 * but for a server on this host reached through another loopback
	 * address (127.0.0.2, Debian's 127.0.1.1 for the host's name): its
	 * answers leave from the address the route picks, 127.0.0.1. The
	 * module, which finds a client RPC by id alone, takes them too.
	 */
	*mismatch = rpc && rpc->dport != h->sport;
	if (!rpc)
		return NULL;
	if (!*mismatch && !uh_addr_eq(&rpc->peer->addr, src)) {
		*mismatch = !uh_addr_is_loopback(&rpc->peer->addr) ||
			    !uh_addr_is_loopback(src);
		rpc->alias_answered |= !*mismatch;
	}
	if (*mismatch) {
		uh_rpc_release(rpc);             /* someone else's packet */
		return NULL;
	}
	return rpc;
}

static bool dispatch(struct uhoma_stack *st, struct uhoma_sock *s,
		     const struct uh_hdr *h, const struct uh_addr *src,
		     struct uh_deferred *p)
{
	uint64_t id = h->sender_id ^ 1;     /* our id for this RPC */
	enum uh_drop drop = UH_DROP_NONE;
	bool mismatch;
	struct uh_rpc *rpc = uh_in_find_rpc(s, h, src, &mismatch);

	if (mismatch) {
		uh_stack_drop(st, UH_DROP_MISMATCH);
		return false;
	}
	if (id & 1) {
		if (!rpc && h->type == UH_PKT_DATA) {
			struct uh_peer *peer = uh_peer_get(
				&st->peers, src,
				atomic_load_explicit(&st->ticks,
						     memory_order_relaxed));

			if (!peer) {
				uh_stack_drop(st, UH_DROP_NOMEM);
				return false;
			}
			rpc = uh_rpc_find_or_new_server(
				s, peer, h->sport, id,
				h->u.data.message_length, &drop);
			if (!rpc) {
				uh_stack_drop(st, drop);
				return drop == UH_DROP_NOT_SERVER ||
				       drop == UH_DROP_NO_REGION;
			}
		}
	}
	if (!rpc) {
		no_rpc(st, s, h, src, id, p);
		return false;
	}
	/* The peer is alive: the timer probes its waiting RPCs less. */
	uh_peer_heard(rpc->peer,
		      atomic_load_explicit(&st->ticks, memory_order_relaxed));
	switch (h->type) {
	case UH_PKT_DATA:
		rpc->answered = true;
		handle_data(rpc, h, src, p);
		break;
	case UH_PKT_GRANT:
		rpc->answered = true;
		handle_grant(rpc, h);
		break;
	case UH_PKT_RESEND:
		rpc->answered = true;
		handle_resend(rpc, h, p);
		break;
	case UH_PKT_RPC_UNKNOWN:
		handle_unknown(rpc, p);
		break;
	case UH_PKT_BUSY:
		uh_rpc_heard(rpc);
		rpc->busy_seen = true;
		rpc->answered = true;
		if (!rpc->in.proven)
			uh_rpc_proven(rpc);   /* it answered our probe */
		break;
	case UH_PKT_NEED_ACK:
		handle_need_ack(rpc, p);
		break;
	default:
		break;
	}
	uh_rpc_release(rpc);
	return false;
}

void uh_in_apply_ack(struct uhoma_stack *st, const struct uh_addr *src,
		     uint16_t sport, const struct uh_ack *ack)
{
	struct uh_deferred p;
	struct uhoma_sock *s;
	struct uh_rpc *rpc;

	uh_deferred_init(&p);
	uh_rcu_read_lock();
	s = uh_sock_find(st, ack->server_port);
	rpc = s ? uh_rpc_find_server(s, src, sport, ack->client_id ^ 1) : NULL;
	if (rpc) {
		if (rpc->state == UH_RPC_OUTGOING) {
			uh_metric_inc(st->metrics, UH_M_RESPONSES_SENT);
			/* How long its client took to acknowledge (a
			 * response that needed no grant). */
			if (rpc->out.length <= rpc->out.unsched)
				uh_delay_sample(
					&rpc->peer->ack_delay,
					atomic_load_explicit(
						&st->ticks,
						memory_order_relaxed) -
						rpc->reply_tick);
			uh_rpc_end(rpc, &p);
		} else {
			uh_stack_drop(st, UH_DROP_WRONG_STATE);
		}
		uh_rpc_release(rpc);
		uh_deferred_flush(st, &p);
	}
	uh_rcu_read_unlock();
}

static void handle_ack_pkt(struct uhoma_stack *st, const struct uh_hdr *h,
			   const struct uh_addr *src)
{
	struct uh_ack a = { .client_id = h->sender_id, .server_port = h->dport };

	if (!(h->sender_id & 1))
		uh_in_apply_ack(st, src, h->sport, &a);
	for (unsigned i = 0; i < h->u.ack.num_acks; i++)
		uh_in_apply_ack(st, src, h->sport, &h->u.ack.acks[i]);
}

void uh_in_count(struct uhoma_stack *st, uint8_t type, size_t len)
{
	if (type >= UH_PKT_MIN_TYPE && type <= UH_PKT_MAX_TYPE) {
		uh_metric_inc(st->metrics, UH_M_PKT_RECV + type - UH_PKT_MIN_TYPE);
		uh_metric_add(st->metrics,
			      UH_M_BYTES_RECV + type - UH_PKT_MIN_TYPE,
			      (int64_t)len);
	}
}

bool uh_stack_input(struct uhoma_stack *st, const uint8_t *buf, size_t len,
		    const struct uh_addr *src)
{
	bool refuse = false;
	struct uh_hdr h;
	struct uh_deferred p;
	struct uhoma_sock *s;
	enum uh_drop d = uh_wire_decode(buf, len, &h);

	uh_in_count(st, h.type, len);
	if (d == UH_DROP_NONE && h.dport == 0)
		d = UH_DROP_BAD_PORT;
	if (d == UH_DROP_NONE && h.type == UH_PKT_FREEZE)
		d = UH_DROP_FREEZE;
	if (d != UH_DROP_NONE) {
		uh_stack_drop(st, d);
		return false;
	}
	uh_deferred_init(&p);
	if (h.type == UH_PKT_DATA)
		uh_gaps_prepare();   /* no lock yet: a gap block may be needed */
	uh_rcu_read_lock();
	s = uh_sock_find(st, h.dport);
	if (!s) {
		uh_stack_drop(st, UH_DROP_NO_SOCKET);
		refuse = true;
		if (!st->carrier->ops->refuse && h.type == UH_PKT_RESEND &&
		    !(h.sender_id & 1)) {
			/* The port is ours (the packet came to it) but no
			 * socket serves it: shut down, or closing. A carrier
			 * that cannot refuse (UDP: no ICMP without
			 * privileges) leaves the client nothing to hear,
			 * and a local client takes the held port for a live
			 * server (timer.c local_alive): waited forever on a
			 * socket shut down (helper-33). A client's probe is
			 * answered as for any RPC we do not know. */
			answer(&h, src, UH_PKT_RPC_UNKNOWN, &p);
		}
	} else if (atomic_load_explicit(&s->shutdown, memory_order_relaxed)) {
		uh_stack_drop(st, UH_DROP_SHUTDOWN);
	} else if (h.type == UH_PKT_ACK) {
		handle_ack_pkt(st, &h, src);
	} else if (h.type == UH_PKT_CUTOFFS) {
		/* Processed whether or not we know the peer yet, as by the
		 * module: a receiver may announce its cutoffs before our
		 * first message to it. (A peer is what any first DATA
		 * makes too, and the table bounds them.) */
		struct uh_peer *peer = uh_peer_get(
			&st->peers, src,
			atomic_load_explicit(&st->ticks, memory_order_relaxed));

		if (peer) {
			uh_prio_store(peer, &h);
			uh_peer_put(peer);      /* the table keeps it */
		} else {
			uh_stack_drop(st, UH_DROP_NOMEM);
		}
	} else {
		refuse = dispatch(st, s, &h, src, &p);
	}
	uh_deferred_flush(st, &p);
	uh_rcu_read_unlock();
	return refuse;
}

/* Fails or ends the RPCs of @s to (@addr, @port) (see stack.h). */
static void unreachable_sock(struct uhoma_sock *s, const struct uh_addr *addr,
			     uint16_t port, int err)
{
	struct uh_deferred p;
	struct uh_rpc_walk w;
	struct uh_rpc *rpc;

	if (!uh_rpc_walk_begin(&w, s))
		return;
	uh_deferred_init(&p);
	while ((rpc = uh_rpc_walk_next(&w))) {
		if ((port && rpc->dport != port) ||
		    !uh_addr_eq(&rpc->peer->addr, addr))
			continue;   /* immutable fields: read unlocked */
		uh_rpc_lock(rpc);
		uh_rpc_hold(rpc);
		if (uh_rpc_is_client(rpc) && rpc->state == UH_RPC_OUTGOING)
			uh_rpc_fail(rpc, err, &p);
		else if (!uh_rpc_is_client(rpc))
			uh_rpc_end(rpc, &p);   /* its client is gone */
		uh_rpc_release(rpc);
		uh_deferred_flush(s->stack, &p);
	}
	uh_rpc_walk_end(&w);
}

void uh_stack_unreachable(struct uhoma_stack *st, const struct uh_addr *addr,
			  uint16_t port, int err)
{
	uh_metric_inc(st->metrics, UH_M_PORT_UNREACHABLE);
	uh_rcu_read_lock();
	for (unsigned b = 0; b < UH_SOCKTAB_BUCKETS; b++)
		for (struct uhoma_sock *s = atomic_load_explicit(
			     &st->socktab[b], memory_order_acquire);
		     s; s = atomic_load_explicit(&s->tab_next,
						 memory_order_acquire))
			if (!atomic_load(&s->shutdown))
				unreachable_sock(s, addr, port, err);
	uh_rcu_read_unlock();
}
