/*
 * outgoing.c - DATA transmission and control packets.
 */
#include <string.h>

#include "core/grant.h"
#include "core/outgoing.h"
#include "core/pacer.h"
#include "core/prio.h"
#include "core/peer.h"
#include "core/stack.h"

#define XMIT_BATCH 8

void uh_out_ctl_init(struct uh_hdr *h, const struct uh_rpc *rpc, uint8_t type)
{
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->sport = rpc->sock->port;
	h->dport = rpc->dport;
	h->sender_id = rpc->id;
}

void uh_out_ctl(struct uh_rpc *rpc, uint8_t type, struct uh_deferred *p)
{
	struct uh_hdr h;

	uh_out_ctl_init(&h, rpc, type);
	uh_deferred_ctl(p, &h, rpc->sock->port, &rpc->peer->addr, rpc->dport);
}

struct batch {
	uint8_t hdr[XMIT_BATCH][UH_HDR_DATA];
	struct uh_tx tx[XMIT_BATCH];
	unsigned n;
};

static void batch_add(struct batch *b, struct uh_rpc *rpc, uint32_t off,
		      uint32_t len, uint32_t incoming, bool retransmit,
		      uint8_t prio, uint16_t cutoff_version)
{
	struct uh_hdr h;

	uh_out_ctl_init(&h, rpc, UH_PKT_DATA);
	h.u.data.message_length = rpc->out.length;
	h.u.data.incoming = incoming;
	h.u.data.offset = off;
	h.u.data.retransmit = retransmit;
	h.u.data.cutoff_version = cutoff_version;
	if (b->n == 0) {
		/* Piggyback one stored ack of this socket's for this peer
		 * (client side). */
		struct uh_ack ack;

		if (uh_peer_take_acks(rpc->peer, rpc->sock->port, &ack, 1) == 1)
			h.u.data.ack = ack;
	}
	uh_wire_encode(&h, b->hdr[b->n]);
	b->tx[b->n] = (struct uh_tx){
		.hdr = b->hdr[b->n], .hdr_len = UH_HDR_DATA,
		.payload = rpc->out.buf + off, .payload_len = len,
		.dst = rpc->peer->addr, .dport = rpc->dport, .priority = prio,
	};
	b->n++;
}

/* Sends @b with @rpc unlocked (the caller holds a reference). A borrowed
 * message's sender is counted while it reads the application's memory
 * (uh_rpc_release_borrowed waits for it). */
static void batch_send(struct batch *b, struct uh_rpc *rpc)
{
	struct uhoma_stack *st = rpc->sock->stack;
	uint16_t sport = rpc->sock->port;
	bool borrowed = rpc->out.borrowed;

	if (borrowed)
		atomic_fetch_add_explicit(&rpc->out.senders, 1,
					  memory_order_relaxed);
	uh_rpc_unlock(rpc);
	uh_stack_xmit(st, sport, b->tx, b->n);
	if (borrowed)
		atomic_fetch_sub_explicit(&rpc->out.senders, 1,
					  memory_order_release);
	uh_rpc_lock(rpc);
	b->n = 0;
}

/* Ticks within which a transmission counts as recent (uh_out_sent_lately). */
static uint64_t lately(const struct uhoma_stack *st)
{
	return st->cfg.resend_ticks > 1 ? st->cfg.resend_ticks - 1 : 1;
}

static uint64_t now_tick(const struct uhoma_stack *st)
{
	return atomic_load_explicit(&st->ticks, memory_order_relaxed);
}

/* New data from offset @off is about to go: extends the recent window, or
 * starts a new one at @off if the current one is old. */
static void note_fresh(struct uh_rpc *rpc, uint32_t off)
{
	uint64_t now = now_tick(rpc->sock->stack);

	if (now - rpc->out.fresh_tick >= lately(rpc->sock->stack)) {
		rpc->out.fresh_tick = now;
		rpc->out.fresh_lo = off;
	}
}

/* Bytes [@lo, @hi) are about to be retransmitted. */
static void note_resent(struct uh_rpc *rpc, uint32_t lo, uint32_t hi)
{
	struct uh_msgout *out = &rpc->out;
	uint64_t now = now_tick(rpc->sock->stack);

	if (now - out->resent_tick < lately(rpc->sock->stack) &&
	    lo <= out->resent_hi && hi >= out->resent_lo) {
		if (lo < out->resent_lo)
			out->resent_lo = lo;
		if (hi > out->resent_hi)
			out->resent_hi = hi;
		return;
	}
	out->resent_tick = now;
	out->resent_lo = lo;
	out->resent_hi = hi;
}

bool uh_out_sent_lately(const struct uh_rpc *rpc, uint32_t start)
{
	const struct uhoma_stack *st = rpc->sock->stack;
	const struct uh_msgout *out = &rpc->out;
	uint64_t now = now_tick(st), h = lately(st);
	uint32_t off = start - start % rpc->peer->max_payload;

	return (now - out->fresh_tick < h && off >= out->fresh_lo &&
		off < out->next_xmit) ||
	       (now - out->resent_tick < h && off >= out->resent_lo &&
		off < out->resent_hi);
}

/* Set while this thread polls for its application (uh_out_defer). */
static __thread bool tl_defer;

void uh_out_defer(bool on)
{
	tl_defer = on;
}

/*
 * Sends granted bytes of @rpc's message, whole packets up to @budget bytes
 * (at least one, unless @budget is 0); granted bytes left beyond the budget
 * defer the message (uh_pacer_defer) for a polling thread's next
 * uh_pacer_send_slice(). Each packet must be admitted by the pacer unless
 * the message is nearly done (defer_min_bytes) or, for
 * the pacer's own call (@paced), it is the first packet; a packet that is
 * not admitted throttles the message and the pacer takes over.
 */
static void xmit(struct uh_rpc *rpc, bool paced, uint32_t budget)
{
	struct uhoma_stack *st = rpc->sock->stack;
	struct batch b = { .n = 0 };
	uint32_t sent = 0, unsched = rpc->out.unsched < rpc->out.length
					     ? rpc->out.unsched
					     : rpc->out.length;
	bool pace = st->pacer.ps_per_byte != 0, force = paced, throttle = false;
	bool spent = budget == 0;
	uint16_t version;
	uint8_t uprio = uh_prio_unsched(st, rpc->peer, rpc->out.length,
					&version);

	if (rpc->out.throttled && !paced)
		return;                 /* the pacer owns this message now */
	while (!throttle && rpc->state != UH_RPC_DEAD && rpc->out.buf) {
		uint32_t limit = rpc->out.granted < rpc->out.length
					 ? rpc->out.granted : rpc->out.length;

		if (rpc->out.next_xmit >= limit)
			break;
		if (spent) {
			uh_pacer_defer(rpc);
			return;
		}
		while (b.n < XMIT_BATCH && rpc->out.next_xmit < limit) {
			uint32_t off = rpc->out.next_xmit;
			uint32_t len = rpc->out.length - off;

			if (len > rpc->peer->max_payload)
				len = rpc->peer->max_payload;
			if (sent && len > budget - sent) {
				spent = true;
				break;
			}
			if (pace && !rpc->peer->local &&
			    !uh_pacer_admit(st, len + UH_HDR_DATA,
					    force || rpc->out.length - off <=
							     st->cfg.defer_min_bytes)) {
				throttle = true;
				break;
			}
			force = false;
			if (b.n == 0)
				note_fresh(rpc, off);
			batch_add(&b, rpc, off, len, unsched, false,
				  off < unsched ? uprio : rpc->out.sched_prio,
				  version);
			rpc->out.next_xmit = off + len;
			sent += len;
		}
		if (b.n)
			batch_send(&b, rpc);
	}
	if (throttle && rpc->state != UH_RPC_DEAD)
		uh_pacer_throttle(rpc);
	else if (sent && !uh_rpc_is_client(rpc) &&
		 rpc->state == UH_RPC_OUTGOING &&
		 rpc->out.next_xmit >= rpc->out.length)
		/* The response is out: its NEED_ACK schedule starts. */
		uh_rpc_arm(rpc, 1);
}

void uh_out_xmit(struct uh_rpc *rpc)
{
	xmit(rpc, false, UINT32_MAX);
}

void uh_out_xmit_granted(struct uh_rpc *rpc)
{
	xmit(rpc, false, tl_defer ? 0 : UINT32_MAX);
}

void uh_out_xmit_some(struct uh_rpc *rpc, uint32_t budget)
{
	xmit(rpc, false, budget);
}

void uh_out_xmit_paced(struct uh_rpc *rpc)
{
	xmit(rpc, true, UINT32_MAX);
}

unsigned uh_out_resend(struct uh_rpc *rpc, uint32_t start, uint32_t end,
		       uint8_t prio)
{
	struct uhoma_stack *st = rpc->sock->stack;
	struct batch b = { .n = 0 };
	unsigned sent = 0;
	uint32_t off;
	uint16_t version;

	if (!rpc->out.buf)
		return 0;
	(void)uh_prio_unsched(st, rpc->peer, rpc->out.length, &version);
	if (end > rpc->out.length)
		end = rpc->out.length;
	/* Segments always start at multiples of max_payload, so a
	 * retransmission lines up with what the receiver has. */
	off = start - start % rpc->peer->max_payload;
	if (off < end && off < rpc->out.next_xmit)
		note_resent(rpc, off, end < rpc->out.next_xmit
					      ? end : rpc->out.next_xmit);
	while (rpc->state != UH_RPC_DEAD && off < end &&
	       off < rpc->out.next_xmit) {
		uint32_t len = rpc->out.length - off;

		if (len > rpc->peer->max_payload)
			len = rpc->peer->max_payload;
		/* Sent now, whatever the backlog (the receiver is waiting),
		 * but it takes the link like any packet: the pacer counts it,
		 * or the messages it paces next would overfill the NIC's
		 * queue by as much. */
		if (st->pacer.ps_per_byte && !rpc->peer->local)
			(void)uh_pacer_admit(st, len + UH_HDR_DATA, true);
		batch_add(&b, rpc, off, len, end, true, prio, version);
		off += len;
		sent++;
		if (b.n == XMIT_BATCH) {
			uh_metric_add(st->metrics, UH_M_RESENT_PACKETS, b.n);
			batch_send(&b, rpc);
		}
	}
	if (b.n) {
		uh_metric_add(st->metrics, UH_M_RESENT_PACKETS, b.n);
		batch_send(&b, rpc);
	}
	return sent;
}

/* At most this many packets' worth per RESEND. A receiver that fell
 * behind (its silence may only mean that packets still wait in its own
 * queue) must not ask for a whole window again at every timer round: that
 * feeds on itself. Later rounds ask for what is still missing. */
#define RESEND_MAX_PKTS 8
/* Gaps asked for per round (a message may have hundreds: gaps.h). */
#define RESEND_MAX_GAPS 8

static void resend_req(struct uh_rpc *rpc, struct uh_deferred *p,
		       uint32_t off, uint32_t len, uint8_t prio)
{
	uint32_t cap = RESEND_MAX_PKTS * rpc->peer->max_payload;
	struct uh_hdr h;

	if (len != UH_RESEND_ALL && len > cap)
		len = cap;
	uh_out_ctl_init(&h, rpc, UH_PKT_RESEND);
	h.u.resend.offset = off;
	h.u.resend.length = len;
	h.u.resend.priority = prio;
	uh_deferred_ctl(p, &h, rpc->sock->port, &rpc->peer->addr, rpc->dport);
}

void uh_out_probe(struct uh_rpc *rpc, struct uh_deferred *p)
{
	uint32_t at = rpc->in.length < 0 ? 0 : rpc->in.granted;

	/* Asks for nothing: a live sender answers BUSY (and, if our last
	 * GRANT was lost, takes this offset as one and sends). */
	resend_req(rpc, p, at, 0, uh_prio_ctl(rpc->sock->stack));
}

void uh_out_request_resend(struct uh_rpc *rpc, struct uh_deferred *p, bool all)
{
	struct uhoma_stack *st = rpc->sock->stack;
	struct uh_msgin *in = &rpc->in;
	uint8_t prio = uh_prio_ctl(st);

	if (all || in->length < 0) {
		resend_req(rpc, p, 0, UH_RESEND_ALL, prio);
		return;
	}
	/* The first few gaps a round: later rounds ask for the rest. */
	for (unsigned i = 0; i < in->num_gaps && i < RESEND_MAX_GAPS; i++)
		resend_req(rpc, p, in->gaps[i].start,
			   in->gaps[i].end - in->gaps[i].start, prio);
	if (in->recv_end < in->granted)
		resend_req(rpc, p, in->recv_end, in->granted - in->recv_end,
			   prio);
	else if (in->granted < (uint32_t)in->length)
		uh_grant_send(rpc, p);   /* a GRANT may have been lost */
}
