/*
 * test_peer.c - what a stack remembers about each host (peer.c): peers
 * made on demand and found again, per-peer state (packet size, the
 * peer's cutoffs), removal of idle peers after dedup_quiet_ms (and never of
 * one in use), the max_peers cap, and the acks a client stores for a
 * server and how they leave (a full store, a piggyback, a NEED_ACK).
 *
 * Peers at 10.0.0.3 and up are played by the test with hand-built packets;
 * 10.0.0.1 and 10.0.0.2 are real stacks when a test needs both ends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/peer.h"
#include "core/sock.h"
#include "sync/rcu.h"
#include "coretest.h"
#include "testutil.h"

#define SRV_PORT 80
#define CLI_PORT 5000
#define PAYLOAD 1424            /* DATA bytes per packet: 1480 - 56 */

/* The peer of @h for 10.0.0.@n, or NULL. The pointer is only compared or
 * read while the test knows the peer is in the table. */
static struct uh_peer *find(struct ct_host *h, int n)
{
	struct uh_addr a = ct_addr(n);
	struct uh_peer *p;

	uh_rcu_read_lock();
	p = uh_peer_find(&h->st->peers, &a);
	uh_rcu_read_unlock();
	return p;
}

static uint64_t now_tick(struct ct_host *h)
{
	return atomic_load(&h->st->ticks);
}

/* A request's DATA claiming the whole message unscheduled. */
static void request_data(struct ct_host *h, int from, uint64_t cid,
			 uint32_t len, uint32_t off, uint32_t n)
{
	ct_request_data(h, from, cid, len, off, n, len);
}

/* Ticks @net until @h's peer for 10.0.0.@n is gone (at most @max ticks);
 * returns the tick it went at, or 0 if it stayed. */
static uint64_t tick_until_gone(struct ct_net *net, struct ct_host *h, int n,
				unsigned max)
{
	for (unsigned t = 0; t < max; t++) {
		ct_tick(net);
		if (!find(h, n))
			return now_tick(h);
	}
	return 0;
}

/*
 * A peer is made the first time a host is talked to -- by a request
 * arriving or one being sent -- and found again afterwards: one entry per
 * address, whatever the number of RPCs, each with its own state. A second
 * entry for an address would split its acks and cutoffs.
 */
static void peer__created_on_demand_and_found_again(void **state)
{
	struct ct_net net;
	struct ct_host *b;
	struct uhoma_sock *srv, *cli;
	struct uh_peer *p3, *p, *p4;
	struct uh_addr a3 = ct_addr(3);

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, NULL);
	srv = ct_sock(b, SRV_PORT);
	cli = ct_sock(b, 0);
	assert_null(find(b, 3));
	assert_int_equal(ct_metric(b, UH_M_PEERS), 0);
	request_data(b, 3, 1000, 100, 0, 100);
	p3 = find(b, 3);
	assert_non_null(p3);
	assert_true(uh_addr_eq(&p3->addr, &a3));
	assert_int_equal(ct_metric(b, UH_M_PEERS), 1);
	/* Its packets are the carrier's size less a DATA header. */
	assert_int_equal(p3->max_payload, PAYLOAD);
	assert_false(p3->local);
	/* More RPCs with it, both ways: the same peer. */
	request_data(b, 3, 1002, 100, 0, 100);
	ct_send(cli, 3, SRV_PORT, 100, 1, false);
	assert_ptr_equal(find(b, 3), p3);
	assert_int_equal(ct_metric(b, UH_M_PEERS), 1);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_INCOMING) +
			 ct_gauge(b, UHOMA_RPCS_CLIENT_OUTGOING), 3);
	/* Each RPC holds a reference; uh_peer_get adds one more. */
	assert_int_equal(atomic_load(&p3->refs), 3);
	p = uh_peer_get(&b->st->peers, &a3, now_tick(b));
	assert_ptr_equal(p, p3);
	assert_int_equal(atomic_load(&p3->refs), 4);
	uh_peer_put(p);
	/* Another address: another peer. */
	ct_send(cli, 4, SRV_PORT, 100, 1, false);
	p4 = find(b, 4);
	assert_non_null(p4);
	assert_ptr_not_equal(p4, p3);
	assert_int_equal(ct_metric(b, UH_M_PEERS), 2);
	(void)srv;
	ct_net_free(&net);
}

/*
 * The cutoffs a receiver sends are its own: a CUTOFFS from one peer
 * changes the priority (and the version echoed) of messages to that peer
 * only. Applying one peer's table to another would put its unscheduled
 * bytes at priorities the other never planned for.
 */
static void peer__cutoffs_kept_per_peer(void **state)
{
	struct ct_net net;
	struct ct_host *a;
	struct uhoma_sock *cli;
	struct uh_hdr h, c;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, NULL);
	cli = ct_sock(a, 0);
	ct_send(cli, 2, SRV_PORT, 100, 1, false);
	ct_send(cli, 3, SRV_PORT, 100, 1, false);
	/* No CUTOFFS yet: everything unscheduled at 6, version 0. */
	for (size_t i = 0; i < 2; i++) {
		h = ct_hdr(&net, i);
		assert_int_equal(net.q[i].priority, 6);
		assert_int_equal(h.u.data.cutoff_version, 0);
	}
	ct_clear(&net);
	/* 10.0.0.3 puts messages up to 1 MB at priority 2. */
	memset(&c, 0, sizeof(c));
	c.type = UH_PKT_CUTOFFS;
	c.sport = SRV_PORT;
	c.dport = cli->port;
	c.sender_id = 1;
	c.u.cutoffs.cutoffs[0] = 0xFFFFFFFFu;
	c.u.cutoffs.cutoffs[2] = 1000000;
	c.u.cutoffs.version = 9;
	ct_inject(a, 3, &c, NULL, 0);
	ct_send(cli, 2, SRV_PORT, 100, 1, false);
	ct_send(cli, 3, SRV_PORT, 100, 1, false);
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 2);
	h = ct_hdr(&net, 0);                  /* to 10.0.0.2: unchanged */
	assert_int_equal(net.q[0].priority, 6);
	assert_int_equal(h.u.data.cutoff_version, 0);
	h = ct_hdr(&net, 1);                  /* to 10.0.0.3: its table */
	assert_int_equal(net.q[1].priority, 2);
	assert_int_equal(h.u.data.cutoff_version, 9);
	ct_net_free(&net);
}

/*
 * A peer nobody uses -- no reference, no record, no ack owed -- is removed
 * dedup_quiet_ms after its LAST use, and not before: the table does not
 * grow without bound with senders that come and go, and a peer in
 * occasional use keeps its state. The walk visits one bucket a tick, so it
 * goes within a turn of the table (256 ticks) after its quiet time.
 */
static void peer__idle_peer_removed_after_quiet(void **state)
{
	struct ct_net net;
	struct ct_host *b;
	struct uh_addr a3 = ct_addr(3);
	struct uh_peer *p;
	uint64_t gone;

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, "dedup_quiet_ms=300");   /* 300 ticks */
	p = uh_peer_get(&b->st->peers, &a3, now_tick(b));
	uh_peer_put(p);
	assert_int_equal(ct_metric(b, UH_M_PEERS), 1);
	/* Used again at tick 280: its quiet time runs from there. The walk
	 * reaches its bucket at least once in [300, 580). */
	assert_int_equal(tick_until_gone(&net, b, 3, 280), 0);
	p = uh_peer_get(&b->st->peers, &a3, now_tick(b));
	uh_peer_put(p);
	gone = tick_until_gone(&net, b, 3, 600);
	assert_true(gone >= 280 + 300);
	assert_true(gone <= 280 + 300 + 256);
	assert_int_equal(ct_metric(b, UH_M_PEERS), 0);
	/* Asked for again: a new one. */
	p = uh_peer_get(&b->st->peers, &a3, now_tick(b));
	assert_non_null(p);
	assert_int_equal(ct_metric(b, UH_M_PEERS), 1);
	uh_peer_put(p);
	ct_net_free(&net);
}

/*
 * A peer that is referenced (an RPC's, or a getter's) or that we owe acks
 * is never removed, however long it has been quiet: the reference would
 * dangle, and the owed acks are what lets its server forget finished
 * RPCs. Once the reference is dropped and the acks taken, it goes.
 */
static void peer__peer_in_use_never_removed(void **state)
{
	struct ct_net net;
	struct ct_host *b;
	struct uh_addr a3 = ct_addr(3), a4 = ct_addr(4);
	struct uh_peer *p3, *p4;
	struct uh_ack ack = { 1234, SRV_PORT }, out[UH_MAX_ACKS];

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, "dedup_quiet_ms=10");
	p3 = uh_peer_get(&b->st->peers, &a3, now_tick(b));   /* held */
	p4 = uh_peer_get(&b->st->peers, &a4, now_tick(b));
	assert_int_equal(uh_peer_add_ack(p4, 4000, &ack, out), 0); /* owed */
	uh_peer_put(p4);
	/* Two turns of the table, far past the quiet time. */
	for (int t = 0; t < 600; t++)
		ct_tick(&net);
	assert_ptr_equal(find(b, 3), p3);
	assert_ptr_equal(find(b, 4), p4);
	assert_int_equal(ct_metric(b, UH_M_PEERS), 2);
	uh_peer_put(p3);
	assert_int_equal(uh_peer_take_acks(p4, 4000, out, UH_MAX_ACKS), 1);
	assert_true(out[0].client_id == 1234);
	assert_true(tick_until_gone(&net, b, 3, 300) != 0);
	assert_true(tick_until_gone(&net, b, 4, 300) != 0);
	assert_int_equal(ct_metric(b, UH_M_PEERS), 0);
	ct_net_free(&net);
}

/*
 * max_peers caps the table: a request from one more host is dropped (as
 * out of memory) and a request to one more host fails with
 * UHOMA_ERR_NOMEM, giving back its send budget; known hosts are still
 * served. Once peers idle out, new hosts get room again. Without the cap,
 * a sender with many addresses grows the stack without bound.
 */
static void peer__max_peers_caps_table(void **state)
{
	struct ct_net net;
	struct ct_host *b;
	struct uhoma_sock *cli;
	struct uh_addr a6 = ct_addr(6);
	uint8_t *copy;
	uint32_t charged = 0;
	uint64_t id = 0;

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, "max_peers=2,dedup_quiet_ms=10");
	ct_sock(b, SRV_PORT);
	cli = ct_sock(b, 0);
	/* Partial requests: they time out, then their peers may go. */
	request_data(b, 3, 1000, 10000, 0, PAYLOAD);
	request_data(b, 4, 1000, 10000, 0, PAYLOAD);
	assert_int_equal(ct_metric(b, UH_M_PEERS), 2);
	request_data(b, 5, 1000, 10000, 0, PAYLOAD);
	assert_null(find(b, 5));
	assert_int_equal(ct_metric(b, UH_M_PEERS), 2);
	assert_int_equal(ct_metric(b, UH_M_DROP + UH_DROP_NOMEM), 1);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_INCOMING), 2);
	/* Sending to a new host fails and returns its budget. */
	copy = uh_rpc_msgbuf_alloc(100);
	assert_non_null(copy);
	memset(copy, 0, 100);
	assert_int_equal(uh_sock_tx_try_charge(cli, 100, &charged), UHOMA_OK);
	assert_true(atomic_load(&cli->tx_bytes) > 0);
	assert_int_equal(uh_call_send(cli, &a6, SRV_PORT, copy, 100, 0, false,
				      charged, &id),
			 UHOMA_ERR_NOMEM);
	assert_true(atomic_load(&cli->tx_bytes) == 0);
	/* A known host is still served. */
	request_data(b, 3, 1002, 10000, 0, PAYLOAD);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_INCOMING), 3);
	assert_int_equal(ct_metric(b, UH_M_PEERS), 2);
	/* The requests time out, the peers idle out: room again. */
	for (int t = 0; t < 1000 && ct_metric(b, UH_M_PEERS); t++) {
		ct_tick(&net);
		ct_clear(&net);
	}
	assert_int_equal(ct_metric(b, UH_M_PEERS), 0);
	request_data(b, 5, 1000, 10000, 0, PAYLOAD);
	assert_non_null(find(b, 5));
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_INCOMING), 1);
	ct_net_free(&net);
}

/* @n requests of 100 bytes from @cli (host 1) to host 2, served and
 * answered, responses delivered (not taken); their ids in @ids. */
static void served(struct ct_net *net, struct uhoma_sock *cli,
		   struct uhoma_sock *srv, int n, uint64_t *ids)
{
	struct uhoma_msg m;
	int rc;

	for (int i = 0; i < n; i++)
		ids[i] = ct_send(cli, 2, SRV_PORT, 100, (unsigned)i, false);
	ct_deliver(net, 0);
	for (int i = 0; i < n; i++) {
		assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
		ct_reply(srv, &m, 50, 1);
		ct_release(srv, &m);
	}
	ct_deliver(net, 0);
}

/*
 * A client stores the ack of each response it receives for its server
 * (5 at most): no packet for the first five; the sixth sends an ACK at
 * once, naming its own RPC in the header and carrying the five stored
 * ones, and empties the store. The server then forgets all six without a
 * single NEED_ACK. Losing an ack would leave the server asking.
 */
static void peer__full_ack_store_flushed(void **state)
{
	struct ct_net net;
	struct ct_host *a, *b;
	struct uhoma_sock *cli, *srv;
	struct uh_peer *p2;
	struct uhoma_msg m;
	struct uh_hdr h;
	uint64_t ids[6], acked = 0;
	int rc;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, NULL);
	b = ct_host(&net, 2, NULL);
	srv = ct_sock(b, SRV_PORT);
	cli = ct_sock(a, 0);
	served(&net, cli, srv, 6, ids);
	p2 = find(a, 2);
	assert_non_null(p2);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 1);
		assert_true(m.id == ids[i]);
		ct_release(cli, &m);
		if (i < 5) {
			assert_int_equal(ct_count(&net, 0), 0);
			assert_int_equal(p2->num_acks, (unsigned)i + 1);
		}
	}
	assert_int_equal(ct_count(&net, 0), 1);
	h = ct_hdr(&net, 0);
	assert_int_equal(h.type, UH_PKT_ACK);
	assert_true(h.sender_id == ids[5]);
	assert_int_equal(h.dport, SRV_PORT);
	assert_int_equal(h.u.ack.num_acks, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(h.u.ack.acks[i].server_port, SRV_PORT);
		for (int k = 0; k < 5; k++)
			if (h.u.ack.acks[i].client_id == ids[k])
				acked |= 1u << k;
	}
	assert_true(acked == 0x1F);           /* each of the first five */
	assert_int_equal(p2->num_acks, 0);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 6);
	ct_deliver(&net, 0);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 0);
	assert_int_equal(ct_metric(b, UH_M_RESPONSES_SENT), 6);
	ct_net_free(&net);
}

/*
 * A stored ack rides on the next DATA packet to that server: the server
 * ends the acknowledged RPC as the new request arrives, with no ACK packet
 * and no NEED_ACK.
 */
static void peer__stored_ack_rides_next_data(void **state)
{
	struct ct_net net;
	struct ct_host *a, *b;
	struct uhoma_sock *cli, *srv;
	struct uhoma_msg m;
	struct uh_hdr h;
	uint64_t ids[1], id2;
	int rc;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, NULL);
	b = ct_host(&net, 2, NULL);
	srv = ct_sock(b, SRV_PORT);
	cli = ct_sock(a, 0);
	served(&net, cli, srv, 1, ids);
	assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 1);
	ct_release(cli, &m);
	assert_int_equal(find(a, 2)->num_acks, 1);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 1);
	id2 = ct_send(cli, 2, SRV_PORT, 100, 1, false);
	assert_int_equal(ct_count(&net, 0), 1);
	h = ct_hdr(&net, 0);
	assert_true(h.type == UH_PKT_DATA && h.sender_id == id2);
	assert_true(h.u.data.ack.client_id == ids[0]);
	assert_int_equal(h.u.data.ack.server_port, SRV_PORT);
	assert_int_equal(find(a, 2)->num_acks, 0);
	ct_deliver(&net, 0);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 0);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_INCOMING), 1);
	assert_int_equal(ct_count(&net, UH_PKT_ACK), 0);
	ct_net_free(&net);
}

/*
 * A NEED_ACK for an RPC the client already finished is answered with an
 * ACK that also drains the stored acks for that server: one round trip
 * ends every finished RPC, not one per NEED_ACK.
 */
static void peer__need_ack_drains_stored_acks(void **state)
{
	struct ct_net net;
	struct ct_host *a, *b;
	struct uhoma_sock *cli, *srv;
	struct uhoma_msg m;
	struct uh_hdr h;
	uint64_t ids[3];
	int rc;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, NULL);
	b = ct_host(&net, 2, NULL);
	srv = ct_sock(b, SRV_PORT);
	cli = ct_sock(a, 0);
	served(&net, cli, srv, 3, ids);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 1);
		ct_release(cli, &m);
	}
	assert_int_equal(find(a, 2)->num_acks, 3);
	while (ct_count(&net, UH_PKT_NEED_ACK) < 3) {
		assert_true(now_tick(b) < 10);
		ct_tick(&net);
	}
	assert_int_equal(ct_count(&net, 0), 3);
	ct_deliver(&net, 3);                  /* the NEED_ACKs, to 10.0.0.1 */
	assert_int_equal(ct_count(&net, UH_PKT_ACK), 3);
	h = ct_hdr(&net, 0);
	assert_int_equal(h.u.ack.num_acks, 3);
	assert_int_equal(ct_hdr(&net, 1).u.ack.num_acks, 0);
	assert_int_equal(ct_hdr(&net, 2).u.ack.num_acks, 0);
	assert_int_equal(find(a, 2)->num_acks, 0);
	ct_deliver(&net, 1);                  /* the first ACK alone */
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 0);
	ct_net_free(&net);
}

/*
 * A server applies an ack only to an RPC of the port the packet came from
 * (a client's port is the one thing another local process cannot forge),
 * so a client keeps each ack with its socket's port and sends it only from
 * there: on a DATA of that socket, in its full-store flush, in its answer
 * to NEED_ACK. A full store holding only other sockets' acks drops the
 * oldest (its server asks with NEED_ACK) rather than send it from the
 * wrong port, where it would be lost silently.
 */
static void peer__acks_leave_from_their_own_port(void **state)
{
	struct ct_net net;
	struct ct_host *a, *b;
	struct uhoma_sock *c1, *c2, *srv;
	struct uh_ack out[UH_MAX_ACKS], ack = { 2, SRV_PORT };
	struct uhoma_msg m;
	struct uh_peer *p2;
	uint64_t id1, id2, id3;
	struct uh_hdr h;
	int rc;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, NULL);
	b = ct_host(&net, 2, NULL);
	srv = ct_sock(b, SRV_PORT);
	c1 = ct_sock(a, 0);
	c2 = ct_sock(a, 0);
	id1 = ct_send(c1, 2, SRV_PORT, 100, 1, false);
	id2 = ct_send(c2, 2, SRV_PORT, 100, 2, false);
	ct_deliver(&net, 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
		ct_reply(srv, &m, 50, 1);
		ct_release(srv, &m);
	}
	ct_deliver(&net, 0);
	assert_int_equal(ct_take_msg(c1, 0, &m, &rc), 1);
	ct_release(c1, &m);
	assert_int_equal(ct_take_msg(c2, 0, &m, &rc), 1);
	ct_release(c2, &m);
	p2 = find(a, 2);
	assert_int_equal(p2->num_acks, 2);

	/* c2's next request carries c2's ack, not c1's (the newer). */
	id3 = ct_send(c2, 2, SRV_PORT, 100, 3, false);
	h = ct_hdr(&net, 0);
	assert_true(h.sender_id == id3 && h.sport == c2->port);
	assert_true(h.u.data.ack.client_id == id2);
	assert_int_equal(p2->num_acks, 1);
	ct_deliver(&net, 0);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 1);
	/* c1's ack is still owed, and only c1 can pay it. */
	assert_int_equal(uh_peer_take_acks(p2, c2->port, out, UH_MAX_ACKS), 0);
	assert_int_equal(uh_peer_take_acks(p2, c1->port, out, UH_MAX_ACKS), 1);
	assert_true(out[0].client_id == id1);

	/* The store itself: full of port 7's acks, one of port 9's drops the
	 * oldest of 7's; full again, 9's next flushes only 9's. */
	for (uint64_t i = 0; i < UH_MAX_ACKS; i++) {
		ack.client_id = 100 + 2 * i;
		assert_int_equal(uh_peer_add_ack(p2, 7, &ack, out), 0);
	}
	ack.client_id = 200;
	assert_int_equal(uh_peer_add_ack(p2, 9, &ack, out), 0);
	assert_int_equal(p2->num_acks, UH_MAX_ACKS);
	ack.client_id = 202;
	assert_int_equal(uh_peer_add_ack(p2, 9, &ack, out), 1);
	assert_true(out[0].client_id == 200);
	assert_int_equal(uh_peer_take_acks(p2, 7, out, UH_MAX_ACKS),
			 UH_MAX_ACKS - 1);
	assert_true(out[0].client_id == 108 && out[3].client_id == 102);
	assert_int_equal(p2->num_acks, 0);
	ct_net_free(&net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(peer__created_on_demand_and_found_again),
		UH_TEST(peer__cutoffs_kept_per_peer),
		UH_TEST(peer__idle_peer_removed_after_quiet),
		UH_TEST(peer__peer_in_use_never_removed),
		UH_TEST(peer__max_peers_caps_table),
		UH_TEST(peer__full_ack_store_flushed),
		UH_TEST(peer__stored_ack_rides_next_data),
		UH_TEST(peer__need_ack_drains_stored_acks),
		UH_TEST(peer__acks_leave_from_their_own_port),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
