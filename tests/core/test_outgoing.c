/*
 * test_outgoing.c - src/core/outgoing.c driven alone: how host 1 cuts a
 * message into DATA packets, sends its unscheduled bytes and then waits
 * for GRANTs, retransmits what a RESEND asks for, which priority each
 * packet travels at, and the control packets it builds. The test plays
 * the peer at 10.0.0.3 (a host that does not exist), so every packet host
 * 1 sends waits in the queue for the test to decode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/outgoing.h"
#include "core/pacer.h"
#include "core/peer.h"
#include "core/rpc.h"
#include "core/sock.h"
#include "coretest.h"
#include "testutil.h"

#define PEER 3
#define PEER_PORT 4000       /* the peer's client port */
#define CTL_PRIO 7           /* num_priorities - 1, by default */
#define UNSCHED_PRIO 6       /* a peer's default table: all at 6 */

/* ---- helpers ------------------------------------------------------------- */

static uint32_t payload_len(const struct ct_net *net, size_t i)
{
	return (uint32_t)(net->q[i].len - UH_HDR_DATA);
}

/* A request of @len bytes ct_byte(@seed, i) from @s to the peer's port
 * 80 (no send budget charged). */
static uint64_t send_req(struct uhoma_sock *s, uint32_t len, unsigned seed)
{
	uint8_t *copy = uh_rpc_msgbuf_alloc(len);
	struct uh_addr a = ct_addr(PEER);
	uint64_t id = 0;

	assert_non_null(copy);
	for (uint32_t i = 0; i < len; i++)
		copy[i] = ct_byte(seed, i);
	assert_int_equal(uh_call_send(s, &a, 80, copy, len, seed, false, 0,
				      &id), UHOMA_OK);
	return id;
}

/* Feeds @h a control packet from the peer's server port 80 about our
 * client RPC @id. */
static void to_client(struct ct_host *h, struct uhoma_sock *cli, uint64_t id,
		      struct uh_hdr *c, uint8_t type)
{
	c->type = type;
	c->sport = 80;
	c->dport = cli->port;
	c->sender_id = id | 1;
	assert_false(ct_inject(h, PEER, c, NULL, 0));
}

static void grant(struct ct_host *h, struct uhoma_sock *cli, uint64_t id,
		  uint32_t offset, uint8_t prio)
{
	struct uh_hdr g;

	memset(&g, 0, sizeof(g));
	g.u.grant.offset = offset;
	g.u.grant.priority = prio;
	to_client(h, cli, id, &g, UH_PKT_GRANT);
}

static void resend(struct ct_host *h, struct uhoma_sock *cli, uint64_t id,
		   uint32_t offset, uint32_t length, uint8_t prio)
{
	struct uh_hdr r;

	memset(&r, 0, sizeof(r));
	r.u.resend.offset = offset;
	r.u.resend.length = length;
	r.u.resend.priority = prio;
	to_client(h, cli, id, &r, UH_PKT_RESEND);
}

/* Request bytes [@off, @off + @len) of @sender_id from the peer. */
static void inject_req(struct ct_host *h, uint64_t sender_id, uint32_t length,
		       uint32_t off, uint32_t len)
{
	uint8_t payload[1500];
	struct uh_hdr d;

	assert_true(len <= sizeof(payload));
	memset(&d, 0, sizeof(d));
	d.type = UH_PKT_DATA;
	d.sport = PEER_PORT;
	d.dport = 80;
	d.sender_id = sender_id;
	d.u.data.message_length = length;
	d.u.data.incoming = length;
	d.u.data.offset = off;
	d.u.data.cutoff_version = h->st->cutoffs.version;
	for (uint32_t i = 0; i < len; i++)
		payload[i] = ct_byte(1, off + i);
	assert_false(ct_inject(h, PEER, &d, payload, len));
}

/* Packet @k of a @length-byte request. */
static void inject_req_pkt(struct ct_host *h, uint64_t sender_id,
			   uint32_t length, unsigned k)
{
	uint32_t mp = h->st->max_payload, off = k * mp;

	inject_req(h, sender_id, length, off,
		   length - off < mp ? length - off : mp);
}

/* Asks, as the timer would, for what server RPC @id is missing. */
static void request_resend(struct ct_host *h, struct uhoma_sock *srv,
			   uint64_t id, bool all)
{
	struct uh_addr a = ct_addr(PEER);
	struct uh_rpc *rpc = uh_rpc_find_server(srv, &a, PEER_PORT, id);
	struct uh_deferred p;

	assert_non_null(rpc);
	uh_deferred_init(&p);
	uh_out_request_resend(rpc, &p, all);
	uh_rpc_release(rpc);
	uh_deferred_flush(h->st, &p);
}

/*
 * Checks that the DATA packets queued from @first on are the message's
 * bytes [@from, @to) in order, each a full max_payload segment but the
 * message's last, with the fields of a first transmission at @prio.
 * Returns how many there were.
 */
static size_t check_fresh(const struct ct_net *net, size_t first,
			  uint64_t id, uint32_t length, uint32_t unsched,
			  uint32_t from, uint32_t to, uint8_t prio)
{
	uint32_t mp = net->hosts[1]->st->max_payload, off = from;
	size_t i = first;

	while (off < to) {
		struct uh_hdr d;

		assert_true(i < net->nq);
		d = ct_hdr(net, i);
		assert_int_equal(d.type, UH_PKT_DATA);
		assert_true(d.sender_id == id);
		assert_int_equal(d.u.data.offset, off);
		assert_int_equal(d.u.data.message_length, length);
		assert_int_equal(d.u.data.incoming, unsched);
		assert_int_equal(d.u.data.retransmit, 0);
		assert_int_equal(payload_len(net, i),
				 length - off < mp ? length - off : mp);
		assert_int_equal(net->q[i].priority, prio);
		off += payload_len(net, i);
		i++;
	}
	return i - first;
}

/* ---- tests --------------------------------------------------------------- */

/*
 * A message goes out in segments of max_payload bytes (the MTU less the
 * IP and DATA headers: 1424 at 1500), each a complete DATA packet whose
 * offset is in both `sequence` and the segment header (homa-protocol.md
 * §1.5: a receiver may read either), carrying the message's own bytes.
 */
static void outgoing__segments_of_max_payload(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	struct uh_addr a = ct_addr(PEER);
	uint64_t id;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	cli = ct_sock(h, 0);
	assert_int_equal(h->st->max_payload, 1500 - 20 - UH_HDR_DATA);
	id = send_req(cli, 5000, 3);
	assert_int_equal(net.nq, 4);
	assert_int_equal(check_fresh(&net, 0, id, 5000, 5000, 0, 5000,
				     UNSCHED_PRIO), 4);
	for (size_t i = 0; i < net.nq; i++) {
		const struct ct_pkt *p = &net.q[i];
		struct uh_hdr d = ct_hdr(&net, i);
		uint32_t seq = (uint32_t)p->data[4] << 24 |
			       (uint32_t)p->data[5] << 16 |
			       (uint32_t)p->data[6] << 8 | p->data[7];

		assert_int_equal(seq, d.u.data.offset);
		assert_int_equal(p->data[12], UH_DOFF_DATA);
		assert_int_equal(p->sport, cli->port);
		assert_int_equal(d.sport, cli->port);
		assert_int_equal(p->dport, 80);
		assert_int_equal(d.dport, 80);
		assert_true(uh_addr_eq(&p->dst, &a));
		assert_true(d.u.data.ack.client_id == 0);
		for (uint32_t k = 0; k < payload_len(&net, i); k++)
			assert_int_equal(p->data[UH_HDR_DATA + k],
					 ct_byte(3, d.u.data.offset + k));
	}
	assert_int_equal(ct_metric(h, UH_M_PKT_SENT + UH_PKT_DATA -
				       UH_PKT_MIN_TYPE), 4);
	ct_net_free(&net);
}

/*
 * A long message sends its unscheduled bytes at once (whole segments, so
 * up to the end of the segment holding byte unsched_bytes - 1), every
 * packet saying `incoming` = unsched_bytes, at the unscheduled priority;
 * then nothing until a GRANT, whose offset it sends up to (again to the
 * segment's end) at the GRANT's priority. A GRANT below what was granted
 * sends nothing; one past the end sends the rest.
 */
static void outgoing__unscheduled_then_waits_for_grants(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	uint32_t unsched;
	uint64_t id;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	cli = ct_sock(h, 0);
	unsched = h->st->cfg.unsched_bytes;
	assert_int_equal(unsched, 40000);
	id = send_req(cli, 100000, 1);
	/* 28 * 1424 = 39872 < 40000: 29 segments, to 41296. */
	assert_int_equal(net.nq, 29);
	assert_int_equal(check_fresh(&net, 0, id, 100000, unsched, 0, 41296,
				     UNSCHED_PRIO), 29);
	ct_clear(&net);
	for (int t = 0; t < 3; t++)
		ct_tick(&net);
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 0);

	grant(h, cli, id, 60000, 3);
	assert_int_equal(net.nq, 14);
	assert_int_equal(check_fresh(&net, 0, id, 100000, unsched, 41296,
				     61232, 3), 14);
	ct_clear(&net);
	grant(h, cli, id, 50000, 1);
	assert_int_equal(net.nq, 0);
	grant(h, cli, id, 200000, 2);
	assert_int_equal(net.nq, 28);
	assert_int_equal(check_fresh(&net, 0, id, 100000, unsched, 61232,
				     100000, 2), 28);
	assert_int_equal(payload_len(&net, 27), 100000 - 99680);
	assert_int_equal(ct_metric(h, UH_M_PRIO_PKTS + UNSCHED_PRIO), 29);
	assert_int_equal(ct_metric(h, UH_M_PRIO_PKTS + 3), 14);
	assert_int_equal(ct_metric(h, UH_M_PRIO_PKTS + 2), 28);
	ct_net_free(&net);
}

/*
 * RESEND(offset, length, prio) retransmits the segments holding those
 * bytes (segments start at multiples of max_payload, so they line up with
 * what the receiver has), flagged retransmit, at the priority the RESEND
 * names, `incoming` = the end of the range. The same RESEND again right
 * away -- written before our retransmission could arrive -- is counted
 * stale and served with a BUSY alone (we are alive, the data is on its
 * way); a later one is served again.
 */
static void outgoing__resend_retransmits_range(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	uint64_t id;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	cli = ct_sock(h, 0);
	id = send_req(cli, 5000, 2);
	ct_clear(&net);
	/* Data sent within resend_ticks - 1 ticks is "sent lately". */
	for (unsigned t = 0; t + 1 < h->st->cfg.resend_ticks; t++)
		ct_tick(&net);
	ct_clear(&net);

	resend(h, cli, id, 2000, 1500, 5);
	assert_int_equal(net.nq, 2);
	for (size_t i = 0; i < 2; i++) {
		struct uh_hdr d = ct_hdr(&net, i);

		assert_int_equal(d.type, UH_PKT_DATA);
		assert_true(d.sender_id == id);
		assert_int_equal(d.u.data.offset, 1424 * (i + 1));
		assert_int_equal(payload_len(&net, i), 1424);
		assert_int_equal(d.u.data.retransmit, 1);
		assert_int_equal(d.u.data.incoming, 3500);
		assert_int_equal(net.q[i].priority, 5);
		assert_int_equal(net.q[i].data[UH_HDR_DATA],
				 ct_byte(2, 1424 * (uint32_t)(i + 1)));
	}
	assert_int_equal(ct_metric(h, UH_M_RESENT_PACKETS), 2);
	ct_clear(&net);

	resend(h, cli, id, 2000, 1500, 5);
	assert_int_equal(net.nq, 1);
	assert_int_equal(ct_hdr(&net, 0).type, UH_PKT_BUSY);
	assert_int_equal(ct_metric(h, UH_M_STALE_RESENDS), 1);
	assert_int_equal(ct_metric(h, UH_M_RESENT_PACKETS), 2);

	for (unsigned t = 0; t + 1 < h->st->cfg.resend_ticks; t++)
		ct_tick(&net);
	ct_clear(&net);
	resend(h, cli, id, 2000, 1500, 4);
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 2);
	assert_int_equal(net.q[0].priority, 4);
	assert_int_equal(ct_metric(h, UH_M_RESENT_PACKETS), 4);
	ct_net_free(&net);
}

/*
 * A RESEND for bytes we have not sent yet means a GRANT was lost: granted
 * rises to the end of the range and those bytes go out as first
 * transmissions, and since nothing in the range could be retransmitted
 * the answer includes BUSY (homa-protocol.md §1.8).
 */
static void outgoing__resend_past_sent_is_lost_grant(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	struct uh_rpc *rpc;
	size_t busy = 0, data = 0;
	uint64_t id;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	cli = ct_sock(h, 0);
	id = send_req(cli, 100000, 1);
	for (unsigned t = 0; t + 1 < h->st->cfg.resend_ticks; t++)
		ct_tick(&net);
	ct_clear(&net);

	resend(h, cli, id, 60000, 10000, 4);
	rpc = uh_rpc_find_client(cli, id);
	assert_non_null(rpc);
	assert_int_equal(rpc->out.granted, 70000);
	assert_int_equal(rpc->out.next_xmit, 41296 + 21 * 1424);
	uh_rpc_release(rpc);
	for (size_t i = 0; i < net.nq; i++) {
		struct uh_hdr x = ct_hdr(&net, i);

		if (x.type == UH_PKT_BUSY) {
			busy++;
			assert_true(x.sender_id == id);
		} else {
			assert_int_equal(x.type, UH_PKT_DATA);
			assert_int_equal(x.u.data.retransmit, 0);
			assert_int_equal(x.u.data.offset, 41296 + data * 1424);
			data++;
		}
	}
	assert_int_equal(busy, 1);
	assert_int_equal(data, 21);
	assert_int_equal(ct_metric(h, UH_M_RESENT_PACKETS), 0);
	ct_net_free(&net);
}

/*
 * Every control packet travels at the highest priority (num_priorities -
 * 1), above all DATA: a BUSY, RPC_UNKNOWN, ACK or RESEND stuck behind
 * bulk data would time out the very RPCs it keeps alive. Unscheduled DATA
 * to a peer that sent no CUTOFFS uses 6.
 */
static void outgoing__control_packets_highest_priority(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	struct uh_hdr c;
	uint64_t id;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	ct_sock(h, 80);
	cli = ct_sock(h, 0);
	id = send_req(cli, 100, 1);
	assert_int_equal(net.q[0].priority, UNSCHED_PRIO);
	ct_clear(&net);

	inject_req(h, 100, 3000, 0, 1424);
	memset(&c, 0, sizeof(c));
	c.type = UH_PKT_RESEND;              /* -> BUSY + RESEND */
	c.sport = PEER_PORT;
	c.dport = 80;
	c.sender_id = 100;
	assert_false(ct_inject(h, PEER, &c, NULL, 0));
	c.sender_id = 200;                   /* -> RPC_UNKNOWN */
	assert_false(ct_inject(h, PEER, &c, NULL, 0));
	memset(&c, 0, sizeof(c));
	to_client(h, cli, id + 2, &c, UH_PKT_NEED_ACK);   /* -> ACK */
	assert_int_equal(net.nq, 4);
	assert_int_equal(ct_count(&net, UH_PKT_BUSY), 1);
	assert_int_equal(ct_count(&net, UH_PKT_RESEND), 1);
	assert_int_equal(ct_count(&net, UH_PKT_RPC_UNKNOWN), 1);
	assert_int_equal(ct_count(&net, UH_PKT_ACK), 1);
	for (size_t i = 0; i < net.nq; i++) {
		assert_int_equal(net.q[i].priority, CTL_PRIO);
		assert_int_equal(net.q[i].data[12], UH_DOFF_CONTROL);
		if (ct_hdr(&net, i).type == UH_PKT_RESEND)
			assert_int_equal(ct_hdr(&net, i).u.resend.priority,
					 CTL_PRIO);
	}
	ct_net_free(&net);
}

/*
 * A receiver asks for what it is missing: one RESEND per gap, then one
 * from the highest byte received up to what it granted -- each capped at
 * 8 packets' worth and at most 8 gaps a round (a receiver that fell
 * behind must not ask for a whole window again each round). With @all
 * (or no length known) it asks for everything: RESEND(0, -1). A probe
 * asks for nothing at the granted offset.
 */
static void outgoing__request_resend_asks_for_gaps(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;
	struct uh_hdr r;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	/* 30000 bytes, granted in full: packets 0, 3 and 6 only. */
	inject_req_pkt(h, 100, 30000, 0);
	inject_req_pkt(h, 100, 30000, 3);
	inject_req_pkt(h, 100, 30000, 6);
	ct_clear(&net);
	request_resend(h, srv, 101, false);
	assert_int_equal(net.nq, 3);
	{
		static const uint32_t want[3][2] = {
			{ 1424, 2848 }, { 5696, 2848 }, { 9968, 8 * 1424 },
		};

		for (size_t i = 0; i < 3; i++) {
			r = ct_hdr(&net, i);
			assert_int_equal(r.type, UH_PKT_RESEND);
			assert_true(r.sender_id == 101);
			assert_int_equal(r.sport, 80);
			assert_int_equal(r.dport, PEER_PORT);
			assert_int_equal(r.u.resend.offset, want[i][0]);
			assert_int_equal(r.u.resend.length, want[i][1]);
			assert_int_equal(r.u.resend.priority, CTL_PRIO);
		}
	}
	ct_clear(&net);

	request_resend(h, srv, 101, true);
	assert_int_equal(net.nq, 1);
	r = ct_hdr(&net, 0);
	assert_int_equal(r.u.resend.offset, 0);
	assert_true(r.u.resend.length == UH_RESEND_ALL);
	ct_clear(&net);

	/* Ten gaps: the first eight and the tail this round. */
	for (unsigned k = 0; k <= 20; k += 2)
		inject_req_pkt(h, 102, 30000, k);
	ct_clear(&net);
	request_resend(h, srv, 103, false);
	assert_int_equal(net.nq, 9);
	for (size_t i = 0; i < 8; i++) {
		r = ct_hdr(&net, i);
		assert_int_equal(r.u.resend.offset, (2 * i + 1) * 1424);
		assert_int_equal(r.u.resend.length, 1424);
	}
	r = ct_hdr(&net, 8);
	assert_int_equal(r.u.resend.offset, 21 * 1424);
	assert_int_equal(r.u.resend.length, 30000 - 21 * 1424);
	ct_clear(&net);

	{
		struct uh_addr a = ct_addr(PEER);
		struct uh_rpc *rpc = uh_rpc_find_server(srv, &a, PEER_PORT, 101);
		struct uh_deferred p;

		assert_non_null(rpc);
		uh_deferred_init(&p);
		uh_out_probe(rpc, &p);
		uh_rpc_release(rpc);
		uh_deferred_flush(h->st, &p);
	}
	assert_int_equal(net.nq, 1);
	r = ct_hdr(&net, 0);
	assert_int_equal(r.type, UH_PKT_RESEND);
	assert_int_equal(r.u.resend.offset, 30000);
	assert_int_equal(r.u.resend.length, 0);
	ct_net_free(&net);
}

/*
 * A server's response goes to the client's address and port under the
 * server's (odd) id; once it is all out, the server asks for the client's
 * ACK (NEED_ACK) after request_ack_ticks, and not at every tick.
 */
static void outgoing__response_then_need_ack(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;
	struct uh_addr a = ct_addr(PEER);
	struct uhoma_msg m;
	int rc, first = 0, need_acks = 0;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	inject_req(h, 100, 100, 0, 100);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	ct_reply(srv, &m, 3000, 5);
	ct_release(srv, &m);
	assert_int_equal(net.nq, 3);
	for (size_t i = 0; i < 3; i++) {
		struct uh_hdr d = ct_hdr(&net, i);

		assert_int_equal(d.type, UH_PKT_DATA);
		assert_true(d.sender_id == 101);
		assert_int_equal(d.sport, 80);
		assert_int_equal(d.dport, PEER_PORT);
		assert_int_equal(d.u.data.message_length, 3000);
		assert_int_equal(d.u.data.offset, i * 1424);
		assert_true(uh_addr_eq(&net.q[i].dst, &a));
	}
	ct_clear(&net);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_SERVER_OUTGOING), 1);

	for (int t = 1; t <= 10; t++) {
		ct_tick(&net);
		for (size_t i = 0; i < net.nq; i++) {
			struct uh_hdr x = ct_hdr(&net, i);

			assert_int_equal(x.type, UH_PKT_NEED_ACK);
			assert_true(x.sender_id == 101);
			assert_int_equal(x.dport, PEER_PORT);
			if (!first)
				first = t;
			need_acks++;
		}
		ct_clear(&net);
	}
	assert_true(first > (int)h->st->cfg.request_ack_ticks);
	assert_true(first <= (int)h->st->cfg.request_ack_ticks + 1);
	assert_true(need_acks >= 1 && need_acks <= 3);
	ct_net_free(&net);
}

/*
 * The ack a client owes for a response it received rides on the first
 * DATA packet of its next request to that server (one per packet, only
 * the first): no ACK packet of its own, and the server's RPC ends when the
 * request arrives.
 */
static void outgoing__piggybacks_stored_ack(void **state)
{
	struct ct_net net;
	struct ct_host *a, *b;
	struct uhoma_sock *cli, *srv;
	struct uhoma_msg m;
	uint64_t id1, id2;
	int rc;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, NULL);
	b = ct_host(&net, 2, NULL);
	srv = ct_sock(b, 80);
	cli = ct_sock(a, 0);
	id1 = ct_send(cli, 2, 80, 100, 1, false);
	ct_deliver(&net, 0);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	ct_reply(srv, &m, 100, 2);
	ct_release(srv, &m);
	ct_deliver(&net, 0);
	assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 1);
	ct_release(cli, &m);
	assert_int_equal(net.nq, 0);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 1);

	id2 = ct_send(cli, 2, 80, 3000, 3, false);
	assert_int_equal(net.nq, 3);
	assert_int_equal(ct_count(&net, UH_PKT_ACK), 0);
	assert_true(ct_hdr(&net, 0).sender_id == id2);
	assert_true(ct_hdr(&net, 0).u.data.ack.client_id == id1);
	assert_int_equal(ct_hdr(&net, 0).u.data.ack.server_port, 80);
	assert_true(ct_hdr(&net, 1).u.data.ack.client_id == 0);
	assert_true(ct_hdr(&net, 2).u.data.ack.client_id == 0);
	ct_deliver(&net, 0);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 0);
	assert_int_equal(ct_metric(b, UH_M_RESPONSES_SENT), 1);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_INCOMING), 1);
	ct_net_free(&net);
}

/*
 * A GRANT's priority applies to the scheduled bytes sent after it even
 * when its offset grants nothing new (homa-protocol.md §1.8: "granted =
 * max(granted, offset) ...; sched_priority = the packet's priority"; the
 * module's homa_grant_pkt sets it unconditionally). Data granted earlier
 * but sent later -- deferred by a polling thread, or throttled -- must go
 * at the receiver's latest choice.
 */
static void outgoing__grant_priority_without_new_offset(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	uint64_t id;

	(void)state;
	/* (helper-5 found handle_grant taking the priority only from a GRANT
	 * that raised the offset: these packets went at 3.) */
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	cli = ct_sock(h, 0);
	id = send_req(cli, 100000, 1);
	ct_clear(&net);

	uh_out_defer(true);            /* as a thread polling would */
	grant(h, cli, id, 60000, 3);
	assert_int_equal(net.nq, 0);   /* deferred, not sent */
	grant(h, cli, id, 60000, 1);   /* same offset, new priority */
	uh_out_defer(false);
	assert_int_equal(uh_pacer_deferred(h->st), 1);
	uh_pacer_flush_deferred(h->st);
	assert_int_equal(net.nq, 14);
	for (size_t i = 0; i < net.nq; i++)
		assert_int_equal(net.q[i].priority, 1);
	ct_net_free(&net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(outgoing__segments_of_max_payload),
		UH_TEST(outgoing__unscheduled_then_waits_for_grants),
		UH_TEST(outgoing__resend_retransmits_range),
		UH_TEST(outgoing__resend_past_sent_is_lost_grant),
		UH_TEST(outgoing__control_packets_highest_priority),
		UH_TEST(outgoing__request_resend_asks_for_gaps),
		UH_TEST(outgoing__response_then_need_ack),
		UH_TEST(outgoing__piggybacks_stored_ack),
		UH_TEST(outgoing__grant_priority_without_new_offset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
