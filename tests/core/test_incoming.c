/*
 * test_incoming.c - src/core/incoming.c driven alone: every packet type
 * arriving at host 1, hand-built by the test, which plays the peer at
 * 10.0.0.3 (a host that does not exist: what host 1 answers waits in the
 * queue for the test to decode). Each test says what the packet must do
 * (homa-protocol.md §1.8) and checks the drop counter of every packet that
 * must not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/calls.h"
#include "core/peer.h"
#include "core/rpc.h"
#include "core/sock.h"
#include "coretest.h"
#include "sync/rcu.h"
#include "testutil.h"

#define PEER 3
#define PEER_PORT 4000       /* the peer's client port */

/* ---- helpers ------------------------------------------------------------- */

/* Every drop, whatever the reason. */
static int64_t all_drops(struct ct_host *h)
{
	int64_t n = 0;

	for (unsigned r = 1; r < UH_DROP_NREASONS; r++)
		n += ct_drops(h, (enum uh_drop)r);
	return n;
}

/* A DATA header for bytes from @off of a @length-byte message. */
static struct uh_hdr data_hdr(uint16_t sport, uint16_t dport,
			      uint64_t sender_id, uint32_t length, uint32_t off)
{
	struct uh_hdr d;

	memset(&d, 0, sizeof(d));
	d.type = UH_PKT_DATA;
	d.sport = sport;
	d.dport = dport;
	d.sender_id = sender_id;
	d.u.data.message_length = length;
	d.u.data.incoming = length;
	d.u.data.offset = off;
	d.u.data.cutoff_version = 1;    /* the stacks' own version */
	return d;
}

/* Feeds @h DATA @d from 10.0.0.@from with @len bytes of pattern @seed. */
static bool inject_hdr(struct ct_host *h, int from, const struct uh_hdr *d,
		       uint32_t len, unsigned seed)
{
	uint8_t payload[1500];

	assert_true(len <= sizeof(payload));
	for (uint32_t i = 0; i < len; i++)
		payload[i] = ct_byte(seed, d->u.data.offset + i);
	return ct_inject(h, from, d, payload, len);
}

/* Request bytes [@off, @off + @len) of @sender_id from the peer. */
static bool inject_req(struct ct_host *h, uint64_t sender_id, uint32_t length,
		       uint32_t off, uint32_t len, unsigned seed)
{
	struct uh_hdr d = data_hdr(PEER_PORT, 80, sender_id, length, off);

	return inject_hdr(h, PEER, &d, len, seed);
}

/* Packet @k (of max_payload bytes) of a @length-byte request. */
static void inject_req_pkt(struct ct_host *h, uint64_t sender_id,
			   uint32_t length, unsigned k, unsigned seed)
{
	uint32_t mp = h->st->max_payload, off = k * mp;

	assert_false(inject_req(h, sender_id, length, off,
				length - off < mp ? length - off : mp, seed));
}

static void inject_request(struct ct_host *h, uint64_t sender_id,
			   uint32_t length, unsigned seed)
{
	for (unsigned k = 0; k * h->st->max_payload < length; k++)
		inject_req_pkt(h, sender_id, length, k, seed);
}

/* Response bytes [@off, @off + @len) of client RPC @id of @cli, from the
 * peer's server port 80. */
static bool inject_resp(struct ct_host *h, struct uhoma_sock *cli,
			uint64_t id, uint32_t length, uint32_t off,
			uint32_t len, unsigned seed)
{
	struct uh_hdr d = data_hdr(80, cli->port, id | 1, length, off);

	return inject_hdr(h, PEER, &d, len, seed);
}

static bool input_raw(struct ct_host *h, const uint8_t *buf, size_t len)
{
	struct uh_addr src = ct_addr(PEER);

	return uh_stack_input(h->st, buf, len, &src);
}

/* Server RPC @id (ours) from the peer, locked with a reference; or NULL. */
static struct uh_rpc *server_rpc(struct uhoma_sock *s, uint64_t id)
{
	struct uh_addr a = ct_addr(PEER);

	return uh_rpc_find_server(s, &a, PEER_PORT, id);
}

static int server_state(struct uhoma_sock *s, uint64_t id)
{
	struct uh_rpc *rpc = server_rpc(s, id);
	int state;

	if (!rpc)
		return -1;
	state = rpc->state;
	uh_rpc_release(rpc);
	return state;
}

/* Takes the request @sender_id ^ 1 (which must be ready) and replies with
 * @len bytes. */
static void serve(struct ct_net *net, struct uhoma_sock *srv,
		  uint64_t sender_id, uint32_t len)
{
	struct uhoma_msg m;
	int rc;

	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	assert_true(m.id == (sender_id ^ 1));
	ct_reply(srv, &m, len, 9);
	ct_release(srv, &m);
	ct_clear(net);
}

/* ---- tests --------------------------------------------------------------- */

/*
 * DATA in order builds the message: the first packet creates the server
 * RPC, each one lowers the bytes remaining, the last makes the request
 * ready, and the application finds exactly the bytes that were sent. No
 * packet is dropped and nothing is sent back (no grants needed).
 */
static void incoming__data_in_order_completes(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;
	struct uhoma_msg m;
	struct uh_rpc *rpc;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	inject_req_pkt(h, 100, 3000, 0, 4);
	rpc = server_rpc(srv, 101);
	assert_non_null(rpc);
	assert_int_equal(rpc->in.bytes_remaining, 3000 - 1424);
	assert_int_equal(rpc->in.recv_end, 1424);
	uh_rpc_release(rpc);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 0);
	inject_req_pkt(h, 100, 3000, 1, 4);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 0);
	inject_req_pkt(h, 100, 3000, 2, 4);

	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	assert_int_equal(rc, 3000);
	assert_true(m.id == 101);
	assert_true(ct_check(srv, &m, 3000, 4));
	ct_release(srv, &m);
	assert_int_equal(ct_metric(h, UH_M_PKT_RECV + UH_PKT_DATA -
				       UH_PKT_MIN_TYPE), 3);
	assert_int_equal(all_drops(h), 0);
	assert_int_equal(net.nq, 0);
	ct_net_free(&net);
}

/*
 * DATA out of order: each early packet opens a gap below it, each late
 * one closes (or splits) a gap, and the message completes -- with the
 * right bytes in the right places -- only when the last gap closes.
 */
static void incoming__data_out_of_order_tracks_gaps(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;
	struct uhoma_msg m;
	struct uh_rpc *rpc;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	/* 7000 bytes: packets at 0, 1424, 2848, 4272, 5696. */
	inject_req_pkt(h, 100, 7000, 4, 6);
	rpc = server_rpc(srv, 101);
	assert_non_null(rpc);
	assert_int_equal(rpc->in.num_gaps, 1);
	assert_true(rpc->in.gaps[0].start == 0 && rpc->in.gaps[0].end == 5696);
	assert_int_equal(rpc->in.recv_end, 7000);
	uh_rpc_release(rpc);

	inject_req_pkt(h, 100, 7000, 2, 6);
	rpc = server_rpc(srv, 101);
	assert_int_equal(rpc->in.num_gaps, 2);
	assert_true(rpc->in.gaps[0].start == 0 && rpc->in.gaps[0].end == 2848);
	assert_true(rpc->in.gaps[1].start == 4272 &&
		    rpc->in.gaps[1].end == 5696);
	uh_rpc_release(rpc);

	inject_req_pkt(h, 100, 7000, 0, 6);
	inject_req_pkt(h, 100, 7000, 3, 6);
	rpc = server_rpc(srv, 101);
	assert_int_equal(rpc->in.num_gaps, 1);
	assert_true(rpc->in.gaps[0].start == 1424 &&
		    rpc->in.gaps[0].end == 2848);
	assert_int_equal(rpc->in.bytes_remaining, 1424);
	uh_rpc_release(rpc);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 0);

	inject_req_pkt(h, 100, 7000, 1, 6);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	assert_int_equal(rc, 7000);
	assert_true(ct_check(srv, &m, 7000, 6));
	ct_release(srv, &m);
	assert_int_equal(all_drops(h), 0);
	ct_net_free(&net);
}

/*
 * Bytes already received are never written again: an exact duplicate is
 * dropped as such (even one with other contents), an overlapping packet
 * contributes only its new bytes -- all of them, however many gaps it
 * covers -- and DATA for a request already complete is a duplicate too.
 */
static void incoming__duplicate_and_overlap(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;
	struct uhoma_msg m;
	struct uh_rpc *rpc;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	assert_false(inject_req(h, 100, 3000, 0, 1424, 1));
	assert_false(inject_req(h, 100, 3000, 0, 1424, 2));  /* other bytes */
	assert_int_equal(ct_drops(h, UH_DROP_DUPLICATE), 1);
	assert_false(inject_req(h, 100, 3000, 700, 1424, 1)); /* half new */
	assert_int_equal(ct_drops(h, UH_DROP_DUPLICATE), 1);
	rpc = server_rpc(srv, 101);
	assert_non_null(rpc);
	assert_int_equal(rpc->in.bytes_remaining, 3000 - 2124);
	assert_int_equal(rpc->in.recv_end, 2124);
	uh_rpc_release(rpc);
	assert_false(inject_req(h, 100, 3000, 2124, 876, 1));
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	assert_int_equal(rc, 3000);
	assert_true(ct_check(srv, &m, 3000, 1));
	ct_release(srv, &m);

	/* Complete (and taken): more of it is a duplicate, and runs nothing. */
	assert_false(inject_req(h, 100, 3000, 0, 1424, 1));
	assert_int_equal(ct_drops(h, UH_DROP_DUPLICATE), 2);
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_RECEIVED), 1);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 0);

	/* A packet that overlaps bytes already received keeps every new
	 * byte it brings: each gap it covers, and what lies past the last
	 * byte received (helper-40: only the first new run was kept, the
	 * rest thrown away uncounted, and fetched again by a RESEND). Past
	 * UH_DATA_RUNS runs the rest waits for another packet, counted as
	 * too_many_gaps. */
	assert_false(inject_req(h, 300, 10000, 5, 1, 1));
	assert_false(inject_req(h, 300, 10000, 0, 1424, 1));   /* 2 runs */
	assert_false(inject_req(h, 300, 10000, 1500, 100, 1));
	assert_false(inject_req(h, 300, 10000, 1400, 1424, 1)); /* 2 runs */
	rpc = server_rpc(srv, 301);
	assert_non_null(rpc);
	assert_int_equal(rpc->in.bytes_remaining, 10000 - 2824);
	assert_int_equal(rpc->in.num_gaps, 0);
	uh_rpc_release(rpc);
	assert_int_equal(ct_drops(h, UH_DROP_DUPLICATE), 2);

	/* Five gaps under one packet: four filled, the rest counted. */
	for (uint32_t k = 0; k < 5; k++)
		assert_false(inject_req(h, 300, 10000, 3000 + 10 * k, 1, 1));
	assert_false(inject_req(h, 300, 10000, 2824, 1424, 1));
	assert_int_equal(ct_drops(h, UH_DROP_TOO_MANY_GAPS), 1);
	rpc = server_rpc(srv, 301);
	assert_non_null(rpc);
	assert_int_equal(rpc->in.bytes_remaining,
			 10000 - 2824 - 5 - (3030 - 2824 - 3));
	uh_rpc_release(rpc);
	for (uint32_t off = 3031; off < 10000; off += 1424)
		assert_false(inject_req(h, 300, 10000, off,
					10000 - off < 1424 ? 10000 - off : 1424,
					1));
	assert_int_equal(ct_drops(h, UH_DROP_TOO_MANY_GAPS), 1);
	assert_int_equal(ct_drops(h, UH_DROP_DUPLICATE), 2);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	assert_int_equal(rc, 10000);
	assert_true(ct_check(srv, &m, 10000, 1));
	ct_release(srv, &m);
	ct_net_free(&net);
}

/*
 * Malformed packets are dropped before they touch any state, each counted
 * under its own reason: too short (for the common header, or for its
 * type's full header), unknown type, DATA with length 0 or over 1,000,000,
 * offset at or past the end, payload past the end, no payload, ACK with
 * more than 5 acks, port 0, FREEZE. Nothing is created, nothing answered.
 */
static void incoming__malformed_dropped_by_reason(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	uint8_t buf[UH_MAX_HEADER + 1500];
	struct uh_hdr x;
	size_t hl;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	ct_sock(h, 80);
	memset(buf, 0, sizeof(buf));

	assert_false(input_raw(h, buf, 10));
	assert_int_equal(ct_drops(h, UH_DROP_SHORT), 1);
	buf[11] = 0x20;
	assert_false(input_raw(h, buf, UH_HDR_COMMON));
	assert_int_equal(ct_drops(h, UH_DROP_BAD_TYPE), 1);

	memset(&x, 0, sizeof(x));
	x.type = UH_PKT_GRANT;
	x.sport = PEER_PORT;
	x.dport = 80;
	hl = uh_wire_encode(&x, buf);
	assert_int_equal(hl, UH_HDR_GRANT);
	assert_false(input_raw(h, buf, hl - 3));
	assert_int_equal(ct_drops(h, UH_DROP_SHORT), 2);

	x = data_hdr(PEER_PORT, 80, 100, 0, 0);
	hl = uh_wire_encode(&x, buf);
	assert_false(input_raw(h, buf, hl + 10));
	x = data_hdr(PEER_PORT, 80, 100, UH_MAX_MESSAGE + 1, 0);
	hl = uh_wire_encode(&x, buf);
	assert_false(input_raw(h, buf, hl + 10));
	assert_int_equal(ct_drops(h, UH_DROP_BAD_LENGTH), 2);

	x = data_hdr(PEER_PORT, 80, 100, 3000, 3000);
	hl = uh_wire_encode(&x, buf);
	assert_false(input_raw(h, buf, hl + 10));
	assert_int_equal(ct_drops(h, UH_DROP_BAD_OFFSET), 1);

	x = data_hdr(PEER_PORT, 80, 100, 3000, 2000);
	hl = uh_wire_encode(&x, buf);
	assert_false(input_raw(h, buf, hl + 1424));
	assert_int_equal(ct_drops(h, UH_DROP_PAST_END), 1);

	x = data_hdr(PEER_PORT, 80, 100, 3000, 0);
	hl = uh_wire_encode(&x, buf);
	assert_false(input_raw(h, buf, hl));
	assert_int_equal(ct_drops(h, UH_DROP_EMPTY), 1);

	memset(&x, 0, sizeof(x));
	x.type = UH_PKT_ACK;
	x.sport = PEER_PORT;
	x.dport = 80;
	x.sender_id = 100;
	hl = uh_wire_encode(&x, buf);
	buf[29] = UH_MAX_ACKS + 1;           /* num_acks, low byte */
	assert_false(input_raw(h, buf, hl));
	assert_int_equal(ct_drops(h, UH_DROP_BAD_ACKS), 1);

	x = data_hdr(PEER_PORT, 0, 100, 3000, 0);
	hl = uh_wire_encode(&x, buf);
	assert_false(input_raw(h, buf, hl + 100));
	assert_int_equal(ct_drops(h, UH_DROP_BAD_PORT), 1);

	assert_false(ct_inject_ctl(h, PEER, UH_PKT_FREEZE, PEER_PORT, 80, 100));
	assert_int_equal(ct_drops(h, UH_DROP_FREEZE), 1);

	assert_int_equal(all_drops(h), 11);
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_RECEIVED), 0);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_SERVER_INCOMING), 0);
	assert_int_equal(net.nq, 0);
	ct_net_free(&net);
}

/*
 * DATA whose message length disagrees with the RPC's is dropped as a
 * mismatch. While the request has shown nothing but its first packet it
 * may be a forged one pinning the id, so it ends, unrun (the real
 * client's next copy starts over); a proven request survives the
 * mismatch.
 */
static void incoming__length_mismatch(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	assert_false(inject_req(h, 100, 5000, 0, 1424, 1));
	assert_false(inject_req(h, 100, 6000, 1424, 1424, 1));
	assert_int_equal(ct_drops(h, UH_DROP_MISMATCH), 1);
	assert_int_equal(server_state(srv, 101), -1);

	assert_false(inject_req(h, 102, 5000, 0, 1424, 1));
	assert_false(inject_req(h, 102, 5000, 1424, 1424, 1));   /* proven */
	assert_false(inject_req(h, 102, 6000, 2848, 1424, 1));
	assert_int_equal(ct_drops(h, UH_DROP_MISMATCH), 2);
	assert_int_equal(server_state(srv, 103), UH_RPC_INCOMING);

	/* The real 6000-byte request 100 now starts over. */
	assert_false(inject_req(h, 100, 6000, 0, 1424, 1));
	assert_int_equal(server_state(srv, 101), UH_RPC_INCOMING);
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_RECEIVED), 3);
	ct_net_free(&net);
}

/*
 * Packets for an RPC we do not have: RESEND is answered RPC_UNKNOWN (the
 * sender then restarts or gives up), NEED_ACK for a client id is answered
 * ACK (the server may forget it), DATA for a client id and every other
 * type is dropped as unknown. Only request DATA creates an RPC.
 */
static void incoming__unknown_rpc(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv, *cli;
	struct uh_hdr r;
	uint8_t payload[100] = { 0 };
	struct uh_hdr d;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	cli = ct_sock(h, 0);

	assert_false(ct_inject_ctl(h, PEER, UH_PKT_RESEND, PEER_PORT, 80, 7000));
	assert_int_equal(net.nq, 1);
	r = ct_hdr(&net, 0);
	assert_int_equal(r.type, UH_PKT_RPC_UNKNOWN);
	assert_true(r.sender_id == 7001);
	assert_int_equal(r.sport, 80);
	assert_int_equal(r.dport, PEER_PORT);
	{
		struct uh_addr a = ct_addr(PEER);

		assert_true(uh_addr_eq(&net.q[0].dst, &a));
	}
	ct_clear(&net);
	/* Behind its own queue (the runtime's verdict), a server may have
	 * the request unread there: BUSY, not a restart (helper-31). A
	 * client's RPC we do not know is unknown all the same. */
	atomic_store(&h->st->behind, true);
	assert_false(ct_inject_ctl(h, PEER, UH_PKT_RESEND, PEER_PORT, 80, 7000));
	assert_int_equal(net.nq, 1);
	r = ct_hdr(&net, 0);
	assert_int_equal(r.type, UH_PKT_BUSY);
	assert_true(r.sender_id == 7001);
	ct_clear(&net);
	assert_false(ct_inject_ctl(h, PEER, UH_PKT_RESEND, 80, cli->port, 7005));
	assert_int_equal(net.nq, 1);
	assert_int_equal(ct_hdr(&net, 0).type, UH_PKT_RPC_UNKNOWN);
	ct_clear(&net);
	atomic_store(&h->st->behind, false);

	assert_false(ct_inject_ctl(h, PEER, UH_PKT_NEED_ACK, 80, cli->port, 7003));
	assert_int_equal(net.nq, 1);
	r = ct_hdr(&net, 0);
	assert_int_equal(r.type, UH_PKT_ACK);
	assert_true(r.sender_id == 7002);
	assert_int_equal(r.sport, cli->port);
	assert_int_equal(r.dport, 80);
	ct_clear(&net);

	/* Dropped: NEED_ACK for a server id, GRANT, BUSY, RPC_UNKNOWN, and a
	 * response's DATA. */
	assert_false(ct_inject_ctl(h, PEER, UH_PKT_NEED_ACK, PEER_PORT, 80, 7004));
	assert_false(ct_inject_ctl(h, PEER, UH_PKT_GRANT, 80, cli->port, 7005));
	assert_false(ct_inject_ctl(h, PEER, UH_PKT_BUSY, PEER_PORT, 80, 7006));
	assert_false(ct_inject_ctl(h, PEER, UH_PKT_RPC_UNKNOWN, 80, cli->port,
				7007));
	d = data_hdr(80, cli->port, 7009, 100, 0);
	assert_false(ct_inject(h, PEER, &d, payload, sizeof(payload)));
	assert_int_equal(ct_drops(h, UH_DROP_UNKNOWN_RPC), 5);
	assert_int_equal(all_drops(h), 5);
	assert_int_equal(net.nq, 0);
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_RECEIVED), 0);
	assert_ptr_equal(uh_rculist_next(&srv->active), &srv->active);
	assert_ptr_equal(uh_rculist_next(&cli->active), &cli->active);
	ct_net_free(&net);
}

/*
 * uh_stack_input returns true -- "refuse it; the module sends ICMP port
 * unreachable" -- for any packet to a port without a socket, and for a
 * request to a socket that is not a server; false for everything a socket
 * takes (even if it drops it).
 */
static void incoming__no_socket_or_not_server_refused(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	struct uh_hdr d;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	ct_sock(h, 80);
	cli = ct_sock(h, 0);

	d = data_hdr(PEER_PORT, 99, 100, 100, 0);
	assert_true(inject_hdr(h, PEER, &d, 100, 1));
	assert_true(ct_inject_ctl(h, PEER, UH_PKT_GRANT, PEER_PORT, 99, 100));
	assert_int_equal(ct_drops(h, UH_DROP_NO_SOCKET), 2);

	d = data_hdr(PEER_PORT, cli->port, 100, 100, 0);   /* a request */
	assert_true(inject_hdr(h, PEER, &d, 100, 1));
	assert_int_equal(ct_drops(h, UH_DROP_NOT_SERVER), 1);
	assert_ptr_equal(uh_rculist_next(&cli->active), &cli->active);

	/* Taken (and dropped) by the socket: not refused. */
	d = data_hdr(80, cli->port, 101, 100, 0);          /* a response */
	assert_false(inject_hdr(h, PEER, &d, 100, 1));
	assert_false(ct_inject_ctl(h, PEER, UH_PKT_BUSY, 80, cli->port, 103));
	assert_false(inject_req(h, 104, 100, 0, 100, 1));
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_RECEIVED), 1);
	assert_int_equal(all_drops(h), 5);
	ct_net_free(&net);
}

/* Sends a 100 B request from @cli to @to:80; its id. */
static uint64_t send_to(struct uhoma_sock *cli, const char *to)
{
	uint8_t *copy = uh_rpc_msgbuf_alloc(100);
	struct uh_addr a;
	uint32_t charged = 0;
	uint64_t id = 0;

	assert_non_null(copy);
	memset(copy, 1, 100);
	assert_int_equal(uh_addr_parse(to, &a), 0);
	assert_int_equal(uh_sock_tx_try_charge(cli, 100, &charged), UHOMA_OK);
	assert_int_equal(uh_call_send(cli, &a, 80, copy, 100, 0, 0, charged,
				      &id), UHOMA_OK);
	return id;
}

/* Feeds @h a 100 B response to @id, as if from @from port 80. */
static bool resp_from(struct ct_host *h, struct uhoma_sock *cli, uint64_t id,
		      const char *from)
{
	struct uh_hdr d = data_hdr(80, cli->port, id | 1, 100, 0);
	uint8_t buf[UH_MAX_HEADER + 100];
	size_t hl = uh_wire_encode(&d, buf);
	struct uh_addr src;

	memset(buf + hl, 2, 100);
	assert_int_equal(uh_addr_parse(from, &src), 0);
	return uh_stack_input(h->st, buf, hl + 100, &src);
}

/*
 * A client RPC sent to a loopback address takes its response from any
 * loopback address (a server on this host reached through 127.0.1.1
 * answers from 127.0.0.1), and from nowhere else; one sent to another
 * host still takes it from that host's address only.
 */
static void incoming__loopback_answers_from_any_loopback(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	struct uhoma_msg m;
	uint64_t via, v6, far;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	cli = ct_sock(h, 0);
	via = send_to(cli, "127.0.1.1");
	v6 = send_to(cli, "::1");
	far = send_to(cli, "10.0.0.2");
	ct_clear(&net);

	assert_false(resp_from(h, cli, via, "10.0.0.1"));  /* our other */
	assert_false(resp_from(h, cli, far, "127.0.0.1"));
	assert_int_equal(ct_drops(h, UH_DROP_MISMATCH), 2);
	assert_false(resp_from(h, cli, via, "127.0.0.1"));
	assert_false(resp_from(h, cli, v6, "127.0.0.1"));
	assert_false(resp_from(h, cli, far, "10.0.0.2"));
	assert_int_equal(ct_drops(h, UH_DROP_MISMATCH), 2);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 1);
		assert_int_equal(rc, 100);
		assert_true(m.id == via || m.id == v6 || m.id == far);
		ct_release(cli, &m);
	}
	/* The two answered from another address are acked at once, in
	 * packets of their own: an ack stored on their peers would wait for
	 * a NEED_ACK that comes from elsewhere, and pin those peers for good
	 * (helper-42). The other's waits on its peer, as usual. */
	assert_int_equal(ct_count(&net, UH_PKT_ACK), 2);
	{
		static const char *const addrs[] = { "127.0.1.1", "::1",
						     "10.0.0.2" };

		for (int k = 0; k < 3; k++) {
			struct uh_addr a;
			struct uh_peer *peer;

			assert_int_equal(uh_addr_parse(addrs[k], &a), 0);
			uh_rcu_read_lock();
			peer = uh_peer_find(&h->st->peers, &a);
			assert_non_null(peer);
			assert_int_equal(peer->num_acks, k == 2);
			uh_rcu_read_unlock();
		}
	}
	ct_net_free(&net);
}

/*
 * A private RPC's end wakes the receiver waiting for it, and no other: a
 * socket shared by many threads, each waiting for its own RPC, woke them
 * all for each response (helper-43: 64 threads, 7 K RPC/s, 30 context
 * switches an RPC). Waiters for any message and for other private RPCs
 * sleep on.
 */
static void incoming__private_end_wakes_its_waiter_only(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	struct uhoma_msg m;
	uint64_t x, y;
	uint32_t any, wx, wy;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	cli = ct_sock(h, 0);
	x = ct_send(cli, PEER, 80, 100, 1, true);
	y = ct_send(cli, PEER, 80, 100, 2, true);
	assert_true(uh_sock_private_wait(cli, x) !=
		    uh_sock_private_wait(cli, y));
	ct_clear(&net);
	any = uh_wait_prepare(&cli->wait);
	wx = uh_wait_prepare(uh_sock_private_wait(cli, x));
	wy = uh_wait_prepare(uh_sock_private_wait(cli, y));
	assert_false(inject_resp(h, cli, x, 100, 0, 100, 3));
	assert_true(uh_wait_prepare(uh_sock_private_wait(cli, x)) != wx);
	assert_int_equal(uh_wait_prepare(uh_sock_private_wait(cli, y)), wy);
	assert_int_equal(uh_wait_prepare(&cli->wait), any);
	/* Aborted: the same. */
	wx = uh_wait_prepare(uh_sock_private_wait(cli, x));
	assert_int_equal(uh_call_abort(cli, y, UHOMA_ERR_ABORTED), UHOMA_OK);
	assert_true(uh_wait_prepare(uh_sock_private_wait(cli, y)) != wy);
	assert_int_equal(uh_wait_prepare(uh_sock_private_wait(cli, x)), wx);
	assert_int_equal(uh_wait_prepare(&cli->wait), any);
	assert_int_equal(ct_take_msg(cli, x, &m, &rc), 1);
	assert_int_equal(rc, 100);
	ct_release(cli, &m);
	ct_net_free(&net);
}

/*
 * Packets that make no sense in the RPC's state are dropped and change
 * nothing: GRANT or ACK for a request still arriving, GRANT or RESEND for
 * a client whose response arrives, DATA for a complete message, and
 * packets for our client RPC from another address or port.
 */
static void incoming__wrong_state_dropped(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv, *cli;
	struct uh_hdr x;
	struct uhoma_msg m;
	uint64_t id;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	cli = ct_sock(h, 0);

	assert_false(inject_req(h, 100, 3000, 0, 1424, 1));
	assert_false(ct_inject_ctl(h, PEER, UH_PKT_GRANT, PEER_PORT, 80, 100));
	assert_int_equal(ct_drops(h, UH_DROP_WRONG_STATE), 1);
	memset(&x, 0, sizeof(x));
	x.type = UH_PKT_ACK;
	x.sport = PEER_PORT;
	x.dport = 80;
	x.sender_id = 100;
	assert_false(ct_inject(h, PEER, &x, NULL, 0));
	assert_int_equal(ct_drops(h, UH_DROP_WRONG_STATE), 2);
	assert_int_equal(server_state(srv, 101), UH_RPC_INCOMING);

	id = ct_send(cli, PEER, 80, 100, 1, false);
	ct_clear(&net);
	assert_false(inject_resp(h, cli, id, 100, 0, 100, 2));   /* complete */
	assert_false(ct_inject_ctl(h, PEER, UH_PKT_GRANT, 80, cli->port, id | 1));
	assert_false(ct_inject_ctl(h, PEER, UH_PKT_RESEND, 80, cli->port,
				id | 1));
	assert_int_equal(ct_drops(h, UH_DROP_WRONG_STATE), 4);
	assert_false(inject_resp(h, cli, id, 100, 0, 100, 3));
	assert_int_equal(ct_drops(h, UH_DROP_DUPLICATE), 1);
	assert_int_equal(net.nq, 0);

	/* Someone else's packet for our id: another port, another host. */
	x = data_hdr(81, cli->port, id | 1, 100, 0);
	assert_false(inject_hdr(h, PEER, &x, 100, 4));
	x = data_hdr(80, cli->port, id | 1, 100, 0);
	assert_false(inject_hdr(h, 4, &x, 100, 4));
	assert_int_equal(ct_drops(h, UH_DROP_MISMATCH), 2);

	/* The response is intact. */
	assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 1);
	assert_true(m.id == id);
	assert_true(ct_check(cli, &m, 100, 2));
	ct_release(cli, &m);
	ct_net_free(&net);
}

/*
 * A server that has no response yet answers RESEND with BUSY ("alive,
 * working on it"), and while the request is still arriving it also asks
 * for what it is missing.
 */
static void incoming__resend_to_busy_server(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;
	struct uhoma_msg m;
	struct uh_hdr r;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	assert_false(inject_req(h, 100, 3000, 0, 1424, 1));
	assert_false(ct_inject_ctl(h, PEER, UH_PKT_RESEND, PEER_PORT, 80, 100));
	assert_int_equal(net.nq, 2);
	r = ct_hdr(&net, 0);
	assert_int_equal(r.type, UH_PKT_BUSY);
	assert_true(r.sender_id == 101);
	assert_int_equal(r.dport, PEER_PORT);
	r = ct_hdr(&net, 1);
	assert_int_equal(r.type, UH_PKT_RESEND);
	assert_int_equal(r.u.resend.offset, 1424);
	assert_int_equal(r.u.resend.length, 3000 - 1424);
	ct_clear(&net);

	assert_false(inject_req(h, 100, 3000, 1424, 1424, 1));
	assert_false(inject_req(h, 100, 3000, 2848, 152, 1));
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	ct_release(srv, &m);
	assert_int_equal(server_state(srv, 101), UH_RPC_IN_SERVICE);
	assert_false(ct_inject_ctl(h, PEER, UH_PKT_RESEND, PEER_PORT, 80, 100));
	assert_int_equal(net.nq, 1);
	assert_int_equal(ct_hdr(&net, 0).type, UH_PKT_BUSY);
	assert_int_equal(all_drops(h), 0);
	ct_net_free(&net);
}

/*
 * A stack built with discard_payload (a simulated host) accounts every
 * DATA packet as any stack does -- the message completes, its length and
 * pages right -- but copies none of its bytes into the region: the
 * region keeps what was there, where an ordinary stack holds the
 * pattern (the simulator's saving: 5 % of a fabric run).
 */
static void incoming__discard_payload(void **state)
{
	struct ct_net net;
	struct ct_host *h[2];
	struct uhoma_msg m;
	int rc;

	(void)state;
	ct_net_init(&net);
	for (int i = 0; i < 2; i++) {
		struct uhoma_sock *srv;

		h[i] = ct_host(&net, i + 1, NULL);
		h[i]->st->discard_payload = i == 1;
		srv = ct_sock(h[i], 80);
		memset(uh_pool_region(&srv->pool), 0xA5, 3 * UH_BPAGE_SIZE);
		inject_request(h[i], 300, 3000, 5);
		assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
		assert_int_equal(rc, 3000);
		assert_int_equal(m.length, 3000);
		assert_int_equal(m.num_bpages, 1);
		if (i == 0) {
			assert_true(ct_check(srv, &m, 3000, 5));
		} else {
			const uint8_t *b = (const uint8_t *)
				uh_pool_region(&srv->pool) + m.bpage_offsets[0];

			assert_false(ct_check(srv, &m, 3000, 5));
			for (size_t k = 0; k < 3000; k++)
				assert_int_equal(b[k], 0xA5);
		}
		ct_release(srv, &m);
	}
	ct_net_free(&net);
}

/*
 * RPC_UNKNOWN: the server lost our request, so a client sends everything
 * sent so far again (retransmit set, at the unscheduled priority), also if
 * a response had started to arrive (it starts over, OUTGOING); a server
 * told it by its client ends the RPC.
 */
static void incoming__rpc_unknown(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv, *cli;
	struct uh_rpc *rpc;
	uint64_t id, id2;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	cli = ct_sock(h, 0);

	id = ct_send(cli, PEER, 80, 3000, 1, false);
	ct_clear(&net);
	assert_false(ct_inject_ctl(h, PEER, UH_PKT_RPC_UNKNOWN, 80, cli->port,
				id | 1));
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 3);
	assert_int_equal(net.nq, 3);
	for (size_t i = 0; i < 3; i++) {
		struct uh_hdr d = ct_hdr(&net, i);

		assert_true(d.sender_id == id);
		assert_int_equal(d.u.data.offset, i * 1424);
		assert_int_equal(d.u.data.retransmit, 1);
		assert_int_equal(net.q[i].priority, 6);  /* unscheduled */
	}
	ct_clear(&net);

	id2 = ct_send(cli, PEER, 80, 3000, 2, false);
	ct_clear(&net);
	assert_false(inject_resp(h, cli, id2, 5000, 0, 1424, 3));
	assert_int_equal(ct_client_state(cli, id2), UH_RPC_INCOMING);
	assert_false(ct_inject_ctl(h, PEER, UH_PKT_RPC_UNKNOWN, 80, cli->port,
				id2 | 1));
	rpc = uh_rpc_find_client(cli, id2);
	assert_non_null(rpc);
	assert_int_equal(rpc->state, UH_RPC_OUTGOING);
	assert_int_equal(rpc->in.length, -1);
	assert_int_equal(rpc->restarts, 1);
	uh_rpc_release(rpc);
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 3);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_CLIENT_INCOMING), 0);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_CLIENT_OUTGOING), 2);
	ct_clear(&net);

	inject_request(h, 300, 100, 1);
	serve(&net, srv, 300, 100);
	assert_int_equal(server_state(srv, 301), UH_RPC_OUTGOING);
	assert_false(ct_inject_ctl(h, PEER, UH_PKT_RPC_UNKNOWN, PEER_PORT, 80,
				300));
	assert_int_equal(server_state(srv, 301), -1);
	assert_int_equal(net.nq, 0);
	ct_net_free(&net);
}

/*
 * BUSY from the server resets a client RPC's silence: of two requests
 * sent at once, the one whose server said BUSY at tick 50 is alive at
 * tick 105, the silent one failed with TIMEDOUT at tick 100.
 */
static void incoming__busy_keeps_client_alive(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *c1, *c2;
	struct uhoma_msg m;
	uint64_t id1, id2;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	c1 = ct_sock(h, 0);
	c2 = ct_sock(h, 0);
	assert_int_equal(h->st->cfg.timeout_ticks, 100);
	id1 = ct_send(c1, PEER, 80, 100, 1, false);
	id2 = ct_send(c2, 4, 80, 100, 2, false);
	for (int t = 1; t <= 105; t++) {
		ct_tick(&net);
		ct_clear(&net);
		if (t == 50) {
			struct uh_rpc *rpc;

			assert_false(ct_inject_ctl(h, PEER, UH_PKT_BUSY, 80,
						c1->port, id1 | 1));
			rpc = uh_rpc_find_client(c1, id1);
			assert_non_null(rpc);
			assert_true(rpc->busy_seen);
			assert_int_equal(rpc->silent_since, 50);
			uh_rpc_release(rpc);
		}
	}
	assert_int_equal(ct_take_msg(c2, 0, &m, &rc), 1);
	assert_int_equal(rc, UHOMA_ERR_TIMEDOUT);
	assert_true(m.id == id2);
	assert_int_equal(ct_take_msg(c1, 0, &m, &rc), 0);
	assert_int_equal(ct_client_state(c1, id1), UH_RPC_OUTGOING);
	assert_int_equal(ct_metric(h, UH_M_RPC_TIMEOUTS), 1);
	ct_net_free(&net);
}

/*
 * NEED_ACK: a client whose response is complete ACKs at once (taken by
 * the application or not), and then owes no other ack for it; one whose
 * response is still arriving answers BUSY; one with no response yet asks
 * for it. A server ignores NEED_ACK.
 */
static void incoming__need_ack(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv, *cli;
	struct uh_addr a = ct_addr(PEER);
	struct uh_ack left[UH_MAX_ACKS];
	struct uhoma_msg m;
	struct uh_hdr r;
	uint64_t id1, id2, id3;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	cli = ct_sock(h, 0);
	id1 = ct_send(cli, PEER, 80, 100, 1, false);
	id2 = ct_send(cli, PEER, 80, 100, 2, false);
	id3 = ct_send(cli, PEER, 80, 100, 3, false);
	ct_clear(&net);
	assert_false(inject_resp(h, cli, id1, 100, 0, 100, 1));
	assert_false(inject_resp(h, cli, id2, 3000, 0, 1424, 1));

	assert_false(ct_inject_ctl(h, PEER, UH_PKT_NEED_ACK, 80, cli->port,
				id1 | 1));
	assert_int_equal(net.nq, 1);
	r = ct_hdr(&net, 0);
	assert_int_equal(r.type, UH_PKT_ACK);
	assert_true(r.sender_id == id1);
	assert_int_equal(r.dport, 80);
	assert_int_equal(r.sport, cli->port);
	ct_clear(&net);
	assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 1);
	assert_true(m.id == id1);
	ct_release(cli, &m);
	{
		struct uh_peer *peer;

		uh_rcu_read_lock();
		peer = uh_peer_find(&h->st->peers, &a);
		assert_non_null(peer);
		assert_int_equal(uh_peer_take_acks(peer, cli->port, left,
						   UH_MAX_ACKS),
				 0);
		uh_rcu_read_unlock();
	}

	assert_false(ct_inject_ctl(h, PEER, UH_PKT_NEED_ACK, 80, cli->port,
				id2 | 1));
	assert_int_equal(net.nq, 1);
	r = ct_hdr(&net, 0);
	assert_int_equal(r.type, UH_PKT_BUSY);
	assert_true(r.sender_id == id2);
	ct_clear(&net);

	assert_false(ct_inject_ctl(h, PEER, UH_PKT_NEED_ACK, 80, cli->port,
				id3 | 1));
	assert_int_equal(net.nq, 1);
	r = ct_hdr(&net, 0);
	assert_int_equal(r.type, UH_PKT_RESEND);
	assert_true(r.sender_id == id3);
	assert_int_equal(r.u.resend.offset, 0);
	assert_true(r.u.resend.length == UH_RESEND_ALL);
	ct_clear(&net);

	inject_request(h, 400, 100, 1);
	assert_false(ct_inject_ctl(h, PEER, UH_PKT_NEED_ACK, PEER_PORT, 80, 400));
	assert_int_equal(net.nq, 0);
	assert_int_equal(server_state(srv, 401), UH_RPC_INCOMING);
	assert_int_equal(all_drops(h), 0);
	ct_net_free(&net);
}

/*
 * ACK ends the server RPC its header names and every one it lists for
 * this server port; an ack piggybacked on a request's DATA does too. Each
 * counts as a response sent. Acks naming another port end nothing here.
 */
static void incoming__ack_ends_server_rpcs(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;
	struct uh_hdr x;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	for (uint64_t sid = 200; sid <= 204; sid += 2) {
		inject_request(h, sid, 100, 1);
		serve(&net, srv, sid, 100);
	}
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_SERVER_OUTGOING), 3);

	memset(&x, 0, sizeof(x));
	x.type = UH_PKT_ACK;
	x.sport = PEER_PORT;
	x.dport = 80;
	x.sender_id = 200;
	x.u.ack.num_acks = 2;
	x.u.ack.acks[0] = (struct uh_ack){ .client_id = 202,
					   .server_port = 80 };
	x.u.ack.acks[1] = (struct uh_ack){ .client_id = 204,
					   .server_port = 81 };
	assert_false(ct_inject(h, PEER, &x, NULL, 0));
	assert_int_equal(server_state(srv, 201), -1);
	assert_int_equal(server_state(srv, 203), -1);
	assert_int_equal(server_state(srv, 205), UH_RPC_OUTGOING);
	assert_int_equal(ct_metric(h, UH_M_RESPONSES_SENT), 2);

	x = data_hdr(PEER_PORT, 80, 206, 100, 0);
	x.u.data.ack = (struct uh_ack){ .client_id = 204, .server_port = 80 };
	assert_false(inject_hdr(h, PEER, &x, 100, 1));
	assert_int_equal(server_state(srv, 205), -1);
	assert_int_equal(server_state(srv, 207), UH_RPC_INCOMING);
	assert_int_equal(ct_metric(h, UH_M_RESPONSES_SENT), 3);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_SERVER_OUTGOING), 0);
	assert_int_equal(net.nq, 0);
	ct_net_free(&net);
}

/*
 * CUTOFFS from a peer we send to become the table our unscheduled bytes
 * to it use (priority and the version echoed in DATA); from a peer we
 * never spoke to yet, too -- the module processes them from anyone
 * (helper-40: ours were dropped, and the first message went at 6). As a
 * receiver, DATA echoing a stale
 * version draws our table -- at most once a tick per peer.
 */
static void incoming__cutoffs(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	struct uh_hdr x, r;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	ct_sock(h, 80);
	cli = ct_sock(h, 0);
	ct_send(cli, PEER, 80, 100, 1, false);
	assert_int_equal(net.nq, 1);
	assert_int_equal(net.q[0].priority, 6);        /* no table yet */
	assert_int_equal(ct_hdr(&net, 0).u.data.cutoff_version, 0);
	ct_clear(&net);

	memset(&x, 0, sizeof(x));
	x.type = UH_PKT_CUTOFFS;
	x.sport = 80;
	x.dport = cli->port;
	x.u.cutoffs.cutoffs[2] = UH_MAX_MESSAGE;
	x.u.cutoffs.version = 9;
	assert_false(ct_inject(h, PEER, &x, NULL, 0));
	ct_send(cli, PEER, 80, 100, 2, false);
	assert_int_equal(net.nq, 1);
	assert_int_equal(net.q[0].priority, 2);
	assert_int_equal(ct_hdr(&net, 0).u.data.cutoff_version, 9);
	ct_clear(&net);

	x.u.cutoffs.cutoffs[2] = 0;
	x.u.cutoffs.cutoffs[4] = UH_MAX_MESSAGE;
	x.u.cutoffs.version = 11;
	assert_false(ct_inject(h, 5, &x, NULL, 0));
	assert_int_equal(ct_drops(h, UH_DROP_UNKNOWN_RPC), 0);
	{
		/* Made, and held by nothing: it can expire (a reference
		 * kept per CUTOFFS pinned it; helper-42's alias test). */
		struct uh_addr a = ct_addr(5);
		struct uh_peer *peer;

		uh_rcu_read_lock();
		peer = uh_peer_find(&h->st->peers, &a);
		assert_non_null(peer);
		assert_int_equal(atomic_load(&peer->refs), 0);
		uh_rcu_read_unlock();
	}
	ct_send(cli, 5, 80, 100, 3, false);
	assert_int_equal(net.nq, 1);
	assert_int_equal(net.q[0].priority, 4);
	assert_int_equal(ct_hdr(&net, 0).u.data.cutoff_version, 11);
	ct_clear(&net);

	/* As a receiver: a stale version draws our table, once a tick. */
	x = data_hdr(PEER_PORT, 80, 500, 100, 0);
	x.u.data.cutoff_version = 0;
	assert_false(inject_hdr(h, PEER, &x, 100, 1));
	assert_int_equal(net.nq, 1);
	r = ct_hdr(&net, 0);
	assert_int_equal(r.type, UH_PKT_CUTOFFS);
	assert_int_equal(r.u.cutoffs.version, h->st->cutoffs.version);
	assert_memory_equal(r.u.cutoffs.cutoffs, h->st->cutoffs.cutoff,
			    sizeof(r.u.cutoffs.cutoffs));
	assert_int_equal(r.u.cutoffs.cutoffs[0], 0x7FFFFFFF);  /* INT_MAX */
	assert_int_equal(r.sport, 80);
	assert_int_equal(r.dport, PEER_PORT);
	ct_clear(&net);
	x.sender_id = 502;
	assert_false(inject_hdr(h, PEER, &x, 100, 1));
	assert_int_equal(net.nq, 0);
	ct_tick(&net);
	ct_clear(&net);
	x.sender_id = 504;
	assert_false(inject_hdr(h, PEER, &x, 100, 1));
	assert_int_equal(ct_count(&net, UH_PKT_CUTOFFS), 1);
	assert_int_equal(ct_metric(h, UH_M_CUTOFFS_SENT), 2);
	ct_net_free(&net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(incoming__data_in_order_completes),
		UH_TEST(incoming__data_out_of_order_tracks_gaps),
		UH_TEST(incoming__duplicate_and_overlap),
		UH_TEST(incoming__malformed_dropped_by_reason),
		UH_TEST(incoming__length_mismatch),
		UH_TEST(incoming__loopback_answers_from_any_loopback),
		UH_TEST(incoming__private_end_wakes_its_waiter_only),
		UH_TEST(incoming__unknown_rpc),
		UH_TEST(incoming__no_socket_or_not_server_refused),
		UH_TEST(incoming__wrong_state_dropped),
		UH_TEST(incoming__resend_to_busy_server),
		UH_TEST(incoming__rpc_unknown),
		UH_TEST(incoming__discard_payload),
		UH_TEST(incoming__busy_keeps_client_alive),
		UH_TEST(incoming__need_ack),
		UH_TEST(incoming__ack_ends_server_rpcs),
		UH_TEST(incoming__cutoffs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
