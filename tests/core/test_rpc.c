/*
 * test_rpc.c - src/core/rpc.c driven alone: creating client and server
 * RPCs, finding them, their ids, their states and the gauges that count
 * them, ending versus failing, reaping, and what a duplicate request may
 * or may not do (at most once).
 *
 * Host 1 is the stack under test; the peer is played by the test, which
 * injects hand-built packets "from" 10.0.0.3 or 10.0.0.4 (hosts that do
 * not exist, so whatever the stack sends back only waits in the queue).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/peer.h"
#include "core/rpc.h"
#include "core/sock.h"
#include "sync/rcu.h"
#include "coretest.h"
#include "testutil.h"

#define PEER 3               /* the test's peer: 10.0.0.3 */
#define PEER_PORT 4000       /* its client port */

/* ---- helpers ------------------------------------------------------------- */

/* Feeds @h bytes [@off, @off + @len) of a @length-byte message from
 * 10.0.0.@from:@sport to port @dport, RPC @sender_id as the sender
 * numbers it. The payload is ct_byte(@seed, offset). */
static bool inject_data(struct ct_host *h, int from, uint16_t sport,
			uint16_t dport, uint64_t sender_id, uint32_t length,
			uint32_t off, uint32_t len, unsigned seed)
{
	uint8_t payload[1500];
	struct uh_hdr d;

	assert_true(len <= sizeof(payload));
	memset(&d, 0, sizeof(d));
	d.type = UH_PKT_DATA;
	d.sport = sport;
	d.dport = dport;
	d.sender_id = sender_id;
	d.u.data.message_length = length;
	d.u.data.incoming = length;
	d.u.data.offset = off;
	d.u.data.cutoff_version = h->st->cutoffs.version;
	for (uint32_t i = 0; i < len; i++)
		payload[i] = ct_byte(seed, off + i);
	return ct_inject(h, from, &d, payload, len);
}

/* The whole @length-byte request @sender_id from the test's peer. */
static void inject_request(struct ct_host *h, uint64_t sender_id,
			   uint32_t length, unsigned seed)
{
	uint32_t mp = h->st->max_payload;

	for (uint32_t off = 0; off < length; off += mp)
		assert_false(inject_data(h, PEER, PEER_PORT, 80, sender_id,
					 length, off,
					 length - off < mp ? length - off : mp,
					 seed));
}

static void inject_ctl(struct ct_host *h, int from, uint8_t type,
		       uint16_t sport, uint16_t dport, uint64_t sender_id)
{
	assert_false(ct_inject_ctl(h, from, type, sport, dport, sender_id));
}

/* The state of server RPC @id (our numbering) from 10.0.0.@from, or -1. */
static int server_state(struct uhoma_sock *s, int from, uint64_t id)
{
	struct uh_addr a = ct_addr(from);
	struct uh_rpc *rpc = uh_rpc_find_server(s, &a, PEER_PORT, id);
	int state;

	if (!rpc)
		return -1;
	state = rpc->state;
	uh_rpc_release(rpc);
	return state;
}

/* ---- tests --------------------------------------------------------------- */

/*
 * Client ids are even (the low bit tells a packet's receiver which side
 * it is: sender_id ^ 1 is its own id) and never repeat on this host (a
 * server keys RPCs by client address and id, ignoring the port, so two
 * sockets of one host sharing an id would collide at the server).
 */
static void rpc__client_ids_even_and_unique(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *c1, *c2;
	uint64_t prev = 0, a, b;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	for (int i = 0; i < 10000; i++) {
		uint64_t id = uh_rpc_new_client_id(h->st);

		assert_int_equal(id & 1, 0);
		assert_true(id > prev);     /* a counter: never repeats */
		prev = id;
	}
	/* Two sockets of one host draw from the same sequence. */
	c1 = ct_sock(h, 0);
	c2 = ct_sock(h, 0);
	a = ct_send(c1, PEER, 80, 100, 1, false);
	b = ct_send(c2, PEER, 80, 100, 2, false);
	assert_int_equal(a & 1, 0);
	assert_int_equal(b & 1, 0);
	assert_true(a != b && a > prev && b > prev);
	/* Each is found only on its own socket. */
	assert_int_equal(ct_client_state(c1, a), UH_RPC_OUTGOING);
	assert_int_equal(ct_client_state(c2, a), -1);
	assert_int_equal(ct_client_state(c2, b), UH_RPC_OUTGOING);
	ct_net_free(&net);
}

/*
 * A stack that asked for its own ids (a simulated host: its address is
 * its own) numbers its RPCs densely from its own counter, whatever other
 * stacks of the process do meanwhile; the others share the process's.
 */
static void rpc__own_ids_are_dense(void **state)
{
	struct ct_net net;
	struct ct_host *own, *shared;
	uint64_t a, b;

	(void)state;
	ct_net_init(&net);
	own = ct_host(&net, 1, NULL);
	shared = ct_host(&net, 2, NULL);
	own->st->own_ids = true;      /* before its first RPC */
	assert_int_equal(uh_rpc_new_client_id(own->st), 2);
	a = uh_rpc_new_client_id(shared->st);
	b = uh_rpc_new_client_id(shared->st);
	assert_int_equal(b - a, 2);
	assert_int_equal(ct_send(ct_sock(own, 0), PEER, 80, 100, 1, false), 4);
	assert_true(uh_rpc_new_client_id(shared->st) > b);
	assert_int_equal(uh_rpc_new_client_id(own->st), 6);
	ct_net_free(&net);
}

/*
 * A new client RPC starts OUTGOING with its first unsched_bytes granted,
 * is found by its id (locked, with a reference), only in the client
 * table, and carries what it was created with (peer, port, cookie).
 */
static void rpc__new_client_outgoing_and_found(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	struct uh_addr peer = ct_addr(PEER);
	struct uh_rpc *rpc;
	uint64_t id;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	cli = ct_sock(h, 0);
	id = ct_send(cli, PEER, 80, 100000, 42, false);

	rpc = uh_rpc_find_client(cli, id);
	assert_non_null(rpc);
	assert_int_equal(rpc->state, UH_RPC_OUTGOING);
	assert_true(rpc->id == id && uh_rpc_is_client(rpc));
	assert_int_equal(rpc->dport, 80);
	assert_true(uh_addr_eq(&rpc->peer->addr, &peer));
	assert_int_equal(rpc->cookie, 42);
	assert_int_equal(rpc->out.length, 100000);
	assert_int_equal(rpc->out.granted, h->st->cfg.unsched_bytes);
	assert_int_equal(rpc->in.length, -1);     /* nothing received */
	assert_true(atomic_load(&rpc->refs) >= 1);
	uh_rpc_release(rpc);

	assert_null(uh_rpc_find_client(cli, id + 2));
	assert_null(uh_rpc_find_server(cli, &peer, PEER_PORT, id | 1));
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_CLIENT_OUTGOING), 1);
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_SENT), 1);
	ct_net_free(&net);
}

/*
 * Server RPCs are keyed by (client address, port, id): the same id from two
 * hosts is two RPCs, and the first DATA creates the RPC (INCOMING, with
 * the message length it announced) while later DATA joins it.
 */
static void rpc__server_keyed_by_address_port_and_id(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;
	struct uh_addr a3 = ct_addr(3), a4 = ct_addr(4), a5 = ct_addr(5);
	struct uh_rpc *rpc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	assert_false(inject_data(h, 3, PEER_PORT, 80, 1000, 3000, 0, 1424, 1));
	assert_false(inject_data(h, 4, PEER_PORT, 80, 1000, 5000, 0, 1424, 1));
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_SERVER_INCOMING), 2);
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_RECEIVED), 2);

	rpc = uh_rpc_find_server(srv, &a3, PEER_PORT, 1001);
	assert_non_null(rpc);
	assert_int_equal(rpc->state, UH_RPC_INCOMING);
	assert_false(uh_rpc_is_client(rpc));
	assert_int_equal(rpc->in.length, 3000);
	assert_int_equal(rpc->in.bytes_remaining, 3000 - 1424);
	assert_int_equal(rpc->dport, PEER_PORT);
	uh_rpc_release(rpc);
	rpc = uh_rpc_find_server(srv, &a4, PEER_PORT, 1001);
	assert_non_null(rpc);
	assert_int_equal(rpc->in.length, 5000);
	uh_rpc_release(rpc);
	assert_null(uh_rpc_find_server(srv, &a5, PEER_PORT, 1001));
	assert_null(uh_rpc_find_server(srv, &a3, PEER_PORT, 1003));
	assert_null(uh_rpc_find_server(srv, &a3, PEER_PORT + 1, 1001));
	assert_null(uh_rpc_find_client(srv, 1000));

	/* More of the same request joins it. */
	assert_false(inject_data(h, 3, PEER_PORT, 80, 1000, 3000, 1424, 1424,
				 1));
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_RECEIVED), 2);
	rpc = uh_rpc_find_server(srv, &a3, PEER_PORT, 1001);
	assert_non_null(rpc);
	assert_int_equal(rpc->in.bytes_remaining, 3000 - 2 * 1424);
	uh_rpc_release(rpc);
	ct_net_free(&net);
}

/*
 * uh_rpc_find_or_new_server creates an RPC once and then returns the same
 * one (two threads racing on the first packets of one request must not
 * make two); a socket that is not a server creates nothing and says why.
 */
static void rpc__find_or_new_server_creates_once(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv, *cli;
	struct uh_addr a = ct_addr(PEER);
	struct uh_rpc *r1, *r2;
	enum uh_drop drop = UH_DROP_NONE;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	cli = ct_sock(h, 0);

	r1 = uh_rpc_find_or_new_server(srv, uh_peer_get(&h->st->peers, &a, 0),
				       PEER_PORT, 2001, 5000, &drop);
	assert_non_null(r1);
	assert_int_equal(r1->state, UH_RPC_INCOMING);
	assert_int_equal(r1->in.length, 5000);
	assert_int_equal(r1->id, 2001);
	uh_rpc_release(r1);
	r2 = uh_rpc_find_or_new_server(srv, uh_peer_get(&h->st->peers, &a, 0),
				       PEER_PORT, 2001, 5000, &drop);
	assert_ptr_equal(r1, r2);
	uh_rpc_release(r2);
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_RECEIVED), 1);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_SERVER_INCOMING), 1);

	assert_null(uh_rpc_find_or_new_server(
		cli, uh_peer_get(&h->st->peers, &a, 0), PEER_PORT, 2003, 5000,
		&drop));
	assert_int_equal(drop, UH_DROP_NOT_SERVER);
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_RECEIVED), 1);
	ct_net_free(&net);
}

/*
 * The per-state gauges follow one RPC through its whole life on both
 * sides, each step moving exactly one count: client OUTGOING -> INCOMING
 * (first response byte) -> DEAD (received) -> freed; server INCOMING ->
 * IN_SERVICE (received) -> OUTGOING (reply). uhoma-stat reads them; a
 * missed decrement shows RPCs that do not exist.
 */
static void rpc__state_gauges_follow_life_cycle(void **state)
{
	struct ct_net net;
	struct ct_host *a, *b;
	struct uhoma_sock *cli, *srv;
	struct uhoma_msg m;
	uint64_t id;
	int rc;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, NULL);
	b = ct_host(&net, 2, NULL);
	srv = ct_sock(b, 80);
	cli = ct_sock(a, 0);

	id = ct_send(cli, 2, 80, 100, 7, false);
	assert_int_equal(ct_gauge(a, UHOMA_RPCS_CLIENT_OUTGOING), 1);
	ct_deliver(&net, 0);
	/* Complete but not yet received: still INCOMING. */
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_INCOMING), 1);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	assert_int_equal(rc, 100);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_INCOMING), 0);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_IN_SERVICE), 1);
	ct_reply(srv, &m, 3000, 8);
	ct_release(srv, &m);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_IN_SERVICE), 0);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 1);

	ct_deliver(&net, 1);    /* the response's first packet */
	assert_int_equal(ct_gauge(a, UHOMA_RPCS_CLIENT_OUTGOING), 0);
	assert_int_equal(ct_gauge(a, UHOMA_RPCS_CLIENT_INCOMING), 1);
	ct_deliver(&net, 0);
	assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 1);
	assert_int_equal(rc, 3000);
	assert_true(m.id == id);
	ct_release(cli, &m);
	assert_int_equal(ct_gauge(a, UHOMA_RPCS_CLIENT_INCOMING), 0);
	assert_int_equal(ct_gauge(a, UHOMA_RPCS_DEAD), 1);
	assert_int_equal(uh_sock_reap(cli, true), 1);
	assert_int_equal(ct_gauge(a, UHOMA_RPCS_DEAD), 0);
	assert_int_equal(ct_metric(a, UH_M_RPCS_REAPED), 1);
	for (int s = 0; s < UHOMA_RPC_STATES; s++)
		assert_int_equal(ct_gauge(a, (unsigned)s), 0);
	ct_net_free(&net);
}

/*
 * Ending makes an RPC unreachable at once -- out of its bucket and the
 * active list, onto the dead list, DEAD in the gauges, its send budget
 * returned -- and ending it again changes nothing (shutdown, abort and a
 * timeout may all try to end the same RPC).
 */
static void rpc__end_unlinks_once(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	struct uh_deferred p;
	struct uh_rpc *rpc;
	uint64_t id;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	cli = ct_sock(h, 0);
	id = ct_send(cli, PEER, 80, 5000, 1, false);
	assert_true(atomic_load(&cli->tx_bytes) == 5000 + UH_TX_OVERHEAD);

	rpc = uh_rpc_find_client(cli, id);
	assert_non_null(rpc);
	uh_deferred_init(&p);
	uh_rpc_end(rpc, &p);
	assert_int_equal(rpc->state, UH_RPC_DEAD);
	uh_rpc_end(rpc, &p);
	uh_rpc_release(rpc);
	uh_deferred_flush(h->st, &p);

	assert_int_equal(ct_client_state(cli, id), -1);
	assert_int_equal(atomic_load(&cli->dead_count), 1);
	assert_ptr_equal(uh_rculist_next(&cli->active), &cli->active);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_CLIENT_OUTGOING), 0);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_DEAD), 1);
	assert_true(atomic_load(&cli->tx_bytes) == 0);
	/* Nothing to hand the application: ending is not failing. */
	{
		struct uhoma_msg m;
		int rc;

		assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 0);
	}
	ct_net_free(&net);
}

/*
 * Failing completes a client RPC with an error that the application then
 * receives, once, with the RPC's id and cookie; a second failure (a timeout
 * racing an abort) does not replace the first error. Failing is not
 * ending: the RPC lives until the application takes the error.
 */
static void rpc__fail_reports_first_error_once(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	struct uh_deferred p;
	struct uh_rpc *rpc;
	struct uhoma_msg m;
	uint64_t id;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	cli = ct_sock(h, 0);
	id = ct_send(cli, PEER, 80, 100, 77, false);

	rpc = uh_rpc_find_client(cli, id);
	assert_non_null(rpc);
	uh_deferred_init(&p);
	uh_rpc_fail(rpc, UHOMA_ERR_ABORTED, &p);
	uh_rpc_fail(rpc, UHOMA_ERR_TIMEDOUT, &p);
	assert_int_equal(rpc->error, UHOMA_ERR_ABORTED);
	assert_true(rpc->handed_off);
	assert_int_equal(rpc->state, UH_RPC_OUTGOING);
	uh_rpc_release(rpc);
	uh_deferred_flush(h->st, &p);
	assert_int_equal(ct_client_state(cli, id), UH_RPC_OUTGOING);

	assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 1);
	assert_int_equal(rc, UHOMA_ERR_ABORTED);
	assert_true(m.id == id && m.cookie == 77);
	assert_int_equal(m.num_bpages, 0);
	assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 0);
	assert_int_equal(ct_client_state(cli, id), -1);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_DEAD), 1);
	ct_net_free(&net);
}

/*
 * The reaper frees a dead RPC only once nobody holds a reference: a thread
 * that unlocked it to send or copy must still find it allocated when it
 * relocks. Once the last reference goes, the next reap frees it.
 */
static void rpc__reaper_waits_for_last_reference(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	struct uh_deferred p;
	struct uh_rpc *rpc;
	uint64_t id;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	cli = ct_sock(h, 0);
	id = ct_send(cli, PEER, 80, 100, 1, false);

	rpc = uh_rpc_find_client(cli, id);
	assert_non_null(rpc);
	uh_rpc_hold(rpc);              /* someone else's reference */
	uh_deferred_init(&p);
	uh_rpc_end(rpc, &p);
	uh_rpc_release(rpc);
	uh_deferred_flush(h->st, &p);

	assert_int_equal(uh_sock_reap(cli, true), 0);
	assert_int_equal(atomic_load(&cli->dead_count), 1);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_DEAD), 1);
	assert_int_equal(ct_metric(h, UH_M_RPCS_REAPED), 0);
	uh_rpc_put(rpc);
	assert_int_equal(uh_sock_reap(cli, true), 1);
	assert_int_equal(atomic_load(&cli->dead_count), 0);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_DEAD), 0);
	assert_int_equal(ct_metric(h, UH_M_RPCS_REAPED), 1);
	ct_net_free(&net);
}

/*
 * At most once: a request the application has seen never runs again. After
 * the RPC ended (ACKed), a retransmitted copy of the request is dropped as
 * already done and creates nothing.
 */
static void rpc__seen_request_never_runs_twice(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;
	struct uhoma_msg m;
	struct uh_hdr ack;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	inject_request(h, 5000, 100, 3);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	assert_true(m.id == 5001);
	ct_reply(srv, &m, 100, 4);
	ct_release(srv, &m);
	ct_clear(&net);

	memset(&ack, 0, sizeof(ack));
	ack.type = UH_PKT_ACK;
	ack.sport = PEER_PORT;
	ack.dport = 80;
	ack.sender_id = 5000;
	assert_false(ct_inject(h, PEER, &ack, NULL, 0));
	assert_int_equal(server_state(srv, PEER, 5001), -1);
	assert_int_equal(ct_metric(h, UH_M_RESPONSES_SENT), 1);

	inject_request(h, 5000, 100, 3);
	assert_int_equal(ct_drops(h, UH_DROP_DONE), 1);
	assert_int_equal(server_state(srv, PEER, 5001), -1);
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_RECEIVED), 1);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 0);
	ct_net_free(&net);
}

/* The port of message @m's sender. */
static uint16_t msg_port(const struct uhoma_msg *m)
{
	struct uh_addr a;
	uint16_t port = 0;

	assert_int_equal(uh_addr_from_sockaddr((const struct sockaddr *)&m->peer,
					       m->peer_len, &a, &port), 0);
	return port;
}

/*
 * Over UDP any local process can send from the host's address; only its
 * port is its own (the carrier drops datagrams whose Homa port is not the
 * UDP port). A process on the client's host that names the client's RPC
 * ids from its own port -- its next id ahead of it, an id far ahead that
 * would slide the at-most-once window past the client's, acks of the
 * client's RPCs -- must change nothing for the client: helper-17 made a
 * server refuse a real client's requests, and run one "from" the forger,
 * with one datagram each (server RPCs and records were keyed by address
 * and id).
 */
static void rpc__another_port_cannot_take_a_clients_ids(void **state)
{
	const uint64_t proc = 77ull << 41;
	const uint16_t forger = PEER_PORT + 1;
	uint64_t v1 = proc | 2, v2 = proc | 4, far = proc | (100000000ull << 1);
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;
	struct uhoma_msg m;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	/* The client's first request runs, is answered and acknowledged. */
	inject_request(h, v1, 100, 1);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	ct_reply(srv, &m, 10, 1);
	ct_release(srv, &m);
	inject_ctl(h, PEER, UH_PKT_ACK, PEER_PORT, 80, v1);
	assert_int_equal(server_state(srv, PEER, v1 | 1), -1);

	/* The forger, from its own port: the client's next id, and an id far
	 * ahead; both run (as the forger's), are answered and acknowledged. */
	assert_false(inject_data(h, PEER, forger, 80, v2, 100, 0, 100, 2));
	assert_false(inject_data(h, PEER, forger, 80, far, 100, 0, 100, 2));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
		assert_int_equal(msg_port(&m), forger);
		ct_reply(srv, &m, 10, 2);
		ct_release(srv, &m);
	}
	inject_ctl(h, PEER, UH_PKT_ACK, forger, 80, v2);
	inject_ctl(h, PEER, UH_PKT_ACK, forger, 80, far);

	/* The client's next request is new to the server: it runs. */
	inject_request(h, v2, 100, 3);
	assert_int_equal(ct_drops(h, UH_DROP_DONE), 0);
	assert_int_equal(ct_drops(h, UH_DROP_MISMATCH), 0);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	assert_true(m.id == (v2 | 1));
	assert_int_equal(msg_port(&m), PEER_PORT);
	assert_true(ct_check(srv, &m, 100, 3));
	ct_reply(srv, &m, 10, 3);
	ct_release(srv, &m);
	assert_int_equal(server_state(srv, PEER, v2 | 1), UH_RPC_OUTGOING);

	/* The forger's acks of it, alone and riding on its DATA, do not end
	 * it; the client's own does. */
	inject_ctl(h, PEER, UH_PKT_ACK, forger, 80, v2);
	{
		uint8_t byte = 0;
		struct uh_hdr d;

		memset(&d, 0, sizeof(d));
		d.type = UH_PKT_DATA;
		d.sport = forger;
		d.dport = 80;
		d.sender_id = far + 2;
		d.u.data.message_length = 1;
		d.u.data.incoming = 1;
		d.u.data.cutoff_version = h->st->cutoffs.version;
		d.u.data.ack.client_id = v2;
		d.u.data.ack.server_port = 80;
		assert_false(ct_inject(h, PEER, &d, &byte, 1));
	}
	assert_int_equal(server_state(srv, PEER, v2 | 1), UH_RPC_OUTGOING);
	inject_ctl(h, PEER, UH_PKT_ACK, PEER_PORT, 80, v2);
	assert_int_equal(server_state(srv, PEER, v2 | 1), -1);
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_RECEIVED), 5);
	/* And a late copy of the client's request is still refused. */
	inject_request(h, v2, 100, 3);
	assert_int_equal(ct_drops(h, UH_DROP_DONE), 1);
	ct_net_free(&net);
}

/*
 * The application answers a request by address, port and id; the module
 * finds the RPC by address and id alone, so an answer naming another port
 * (or port 0) still reaches the client, at the port its request came
 * from (helper-20: it was dropped, sendmsg said 0, and the client waited
 * for ever). Only packets must name the port.
 */
static void rpc__reply_found_by_address_and_id(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;
	struct uhoma_msg m;
	struct uh_addr a = ct_addr(PEER);
	uint16_t wrong[2] = { PEER_PORT + 1, 0 };
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	for (int i = 0; i < 2; i++) {
		uint64_t cid = 3000 + 2 * (uint64_t)i;
		uint8_t *copy = uh_rpc_msgbuf_alloc(10);
		struct uh_hdr d;

		inject_request(h, cid, 100, 1);
		assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
		ct_clear(&net);
		memset(copy, 7, 10);
		assert_int_equal(uh_call_reply(srv, &a, wrong[i], cid | 1, copy,
					       10), UHOMA_OK);
		ct_release(srv, &m);
		assert_int_equal(server_state(srv, PEER, cid | 1),
				 UH_RPC_OUTGOING);
		assert_int_equal(ct_count(&net, UH_PKT_DATA), 1);
		d = ct_hdr(&net, 0);
		assert_int_equal(d.dport, PEER_PORT);
		assert_true(d.sender_id == (cid | 1));
	}
	ct_net_free(&net);
}

/* Bytes of every at-most-once record @h keeps for 10.0.0.@from. */
static uint64_t record_bytes(struct ct_host *h, int from, unsigned *n)
{
	struct uh_addr a = ct_addr(from);
	struct uh_peer *peer;
	uint64_t sum = 0;

	*n = 0;
	uh_rcu_read_lock();
	peer = uh_peer_find(&h->st->peers, &a);
	for (struct uh_dedup *d = peer ? peer->dedup : NULL; d; d = d->next) {
		sum += uh_dedup_bytes(d);
		(*n)++;
	}
	uh_rcu_read_unlock();
	return sum;
}

/*
 * Two requests with ids far apart cost a server a 16 KiB at-most-once
 * record for dedup_quiet_ms: helper-17 flooded such pairs and took a
 * server from 355 MB to 1.1 GB. Every record of a stack is paid from
 * dedup_mb: past it rings stop growing, and a new client takes the place
 * of an idle record -- here 300 forged pairs (5 MB unbounded) hold at most
 * 1 MiB, the gauge says exactly what the records hold, and real clients
 * arriving afterwards, from that host or another, still run their
 * requests.
 */
static void rpc__records_bounded_by_dedup_mb(void **state)
{
	const uint16_t forger = PEER_PORT + 1;
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;
	struct uhoma_msg m;
	uint64_t bytes;
	unsigned n;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, "dedup_mb=1");
	srv = ct_sock(h, 80);
	for (uint64_t k = 1; k <= 300; k++) {
		uint64_t ids[2] = { k << 41 | 2, k << 41 | 60000ull << 1 };

		for (int i = 0; i < 2; i++)
			assert_false(inject_data(h, PEER, forger, 80, ids[i], 10,
						 0, 10, 1));
		for (int i = 0; i < 2; i++) {
			assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
			ct_reply(srv, &m, 10, 1);
			ct_release(srv, &m);
			inject_ctl(h, PEER, UH_PKT_ACK, forger, 80, ids[i]);
		}
		bytes = record_bytes(h, PEER, &n);
		assert_true(bytes <= 1u << 20);
		assert_int_equal(ct_metric(h, UH_M_DEDUP_BYTES), bytes);
		assert_int_equal(ct_metric(h, UH_M_DEDUP_RECORDS), n);
	}
	assert_int_equal(ct_drops(h, UH_DROP_NOMEM), 0);
	assert_true(ct_metric(h, UH_M_DEDUP_EVICTIONS) > 0);
	assert_true(bytes > (1u << 20) - 20 * 1024);    /* it was used */

	/* A real client, new to the server, runs its request: one from the
	 * flood's host takes the place of an idle record there, one from
	 * another host the place of the quietest record it finds quiet for
	 * an RPC timeout (it was refused until the flood's records went
	 * quiet: helper-18) -- not the first client's, idle but just used
	 * (helper-19 saw a busy client's request run twice). */
	for (uint32_t t = 0; t <= h->st->cfg.timeout_ticks; t++)
		ct_tick(&net);
	inject_request(h, 500ull << 41 | 2, 100, 7);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	assert_true(ct_check(srv, &m, 100, 7));
	ct_release(srv, &m);
	assert_true(record_bytes(h, PEER, &n) <= 1u << 20);
	assert_false(inject_data(h, PEER + 1, PEER_PORT, 80, 501ull << 41 | 2,
				 100, 0, 100, 8));
	assert_int_equal(ct_drops(h, UH_DROP_NOMEM), 0);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	assert_true(ct_check(srv, &m, 100, 8));
	ct_release(srv, &m);
	{
		struct uh_addr a = ct_addr(PEER);
		struct uh_peer *peer;
		bool kept = false;

		uh_rcu_read_lock();
		peer = uh_peer_find(&h->st->peers, &a);
		for (struct uh_dedup *d = peer->dedup; d; d = d->next)
			kept |= d->key == uh_dedup_key(500ull << 41, PEER_PORT);
		uh_rcu_read_unlock();
		assert_true(kept);
	}
	assert_int_equal(ct_metric(h, UH_M_DEDUP_BYTES),
			 record_bytes(h, PEER, &n) +
				 record_bytes(h, PEER + 1, &n));
	assert_true(ct_metric(h, UH_M_DEDUP_BYTES) <= 1 << 20);
	ct_net_free(&net);
}

/*
 * A process's id counter starts at the wall clock's milliseconds times
 * UH_ID_START_PER_MS, below 2^39: a process restarted with its
 * predecessor's pid (pid 1 of a container) starts past the ids of a
 * predecessor that averaged fewer RPCs than that per millisecond. From 1,
 * every restart reused the ids a server remembered as finished, and its
 * requests were refused for dedup_quiet_ms (helper-18). And the server
 * takes the restarted process's first request at once.
 */
static void rpc__restarted_process_ids_pass_its_predecessors(void **state)
{
	const uint64_t t0 = 1765000000ull * 1000000000ull;   /* 2025-12 */
	const uint64_t proc = 77ull << 41;
	uint64_t a = uh_rpc_id_start(t0), b = uh_rpc_id_start(t0 + 200000000);
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;
	struct uhoma_msg m;
	int rc;

	(void)state;
	assert_true(a >= 1 && a < 1ull << 39);
	assert_true(b == a + 200 * UH_ID_START_PER_MS);
	assert_true(uh_rpc_id_start(0) == 1);
	/* 10,000 RPCs of a predecessor that ran 200 ms, then its successor
	 * with the same pid: the server runs the successor's first. */
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	for (uint64_t i = 0; i < 10000; i += 1000) {
		inject_request(h, proc | (a + i) << 1, 100, 1);
		assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
		ct_reply(srv, &m, 10, 1);
		ct_release(srv, &m);
		inject_ctl(h, PEER, UH_PKT_ACK, PEER_PORT, 80, proc | (a + i) << 1);
	}
	inject_request(h, proc | b << 1, 100, 2);
	assert_int_equal(ct_drops(h, UH_DROP_DONE), 0);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	assert_true(m.id == (proc | b << 1 | 1));
	ct_release(srv, &m);
	/* The start wraps every 2^33 ms (99 days): a successor started just
	 * after a wrap numbers far below its predecessor, and a number 2^38
	 * below a record's floor is a new counter, not a late copy
	 * (helper-20: every request of such a successor was refused). */
	{
		const uint64_t wrap = (1ull << 33) * 1000000ull;  /* ns */
		uint64_t before = uh_rpc_id_start(wrap - 3000000000ull);
		uint64_t after = uh_rpc_id_start(wrap + 3000000000ull);
		const uint64_t p2 = 78ull << 41;

		assert_true(after < before);
		inject_request(h, p2 | before << 1, 100, 3);
		assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
		ct_reply(srv, &m, 10, 1);
		ct_release(srv, &m);
		inject_ctl(h, PEER, UH_PKT_ACK, PEER_PORT, 80, p2 | before << 1);
		inject_request(h, p2 | after << 1, 100, 4);
		assert_int_equal(ct_drops(h, UH_DROP_DONE), 0);
		assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
		assert_true(m.id == (p2 | after << 1 | 1));
		ct_release(srv, &m);
	}
	ct_net_free(&net);
}

/*
 * A client numbers every RPC, to every server, from one counter, so its
 * ids here are sparse; its first request to arrive may have overtaken an
 * earlier one still in its pacer or on another path through the fabric.
 * That earlier one is new, not finished: it runs (once), however far
 * below the first its number is -- uhoma-sim's 144-host fabric dropped
 * such requests as "already done", and they timed out with no packet
 * lost. Once it finished, its copies are refused like any other's.
 */
static void rpc__overtaken_first_request_runs(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;
	struct uhoma_msg m;
	uint64_t later = 2000000, earlier = 2000000 - 2 * 20000;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	inject_request(h, later, 100, 3);
	inject_request(h, earlier, 100, 4);
	assert_int_equal(ct_drops(h, UH_DROP_DONE), 0);
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_RECEIVED), 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
		ct_reply(srv, &m, 10, 5);
		ct_release(srv, &m);
	}
	/* Both answered and acknowledged: a late copy of either is refused. */
	{
		struct uh_hdr ack;

		memset(&ack, 0, sizeof(ack));
		ack.type = UH_PKT_ACK;
		ack.sport = PEER_PORT;
		ack.dport = 80;
		ack.sender_id = earlier;
		assert_false(ct_inject(h, PEER, &ack, NULL, 0));
		ack.sender_id = later;
		assert_false(ct_inject(h, PEER, &ack, NULL, 0));
	}
	inject_request(h, earlier, 100, 4);
	inject_request(h, later, 100, 3);
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_RECEIVED), 2);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 0);
	assert_true(ct_drops(h, UH_DROP_DONE) == 2);
	ct_net_free(&net);
}

/*
 * A request that ended before the application saw it (here its client
 * said RPC_UNKNOWN) did not run, so its client may send it again and it
 * then runs, in full.
 */
static void rpc__unseen_request_may_run_again(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;
	struct uhoma_msg m;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	srv = ct_sock(h, 80);
	assert_false(inject_data(h, PEER, PEER_PORT, 80, 6000, 3000, 0, 1424,
				 5));
	assert_int_equal(server_state(srv, PEER, 6001), UH_RPC_INCOMING);
	inject_ctl(h, PEER, UH_PKT_RPC_UNKNOWN, PEER_PORT, 80, 6000);
	assert_int_equal(server_state(srv, PEER, 6001), -1);

	inject_request(h, 6000, 3000, 5);
	assert_int_equal(ct_drops(h, UH_DROP_DONE), 0);
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_RECEIVED), 2);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	assert_int_equal(rc, 3000);
	assert_true(m.id == 6001);
	assert_true(ct_check(srv, &m, 3000, 5));
	ct_release(srv, &m);
	ct_net_free(&net);
}

/*
 * A socket holds at most max_unproven requests whose senders have not
 * shown that they exist (one forged first packet each could otherwise pin
 * memory and buffer space without bound). A new one evicts the oldest
 * unproven request; a proven one (second offset seen) is never evicted.
 */
static void rpc__oldest_unproven_request_evicted(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *srv;
	uint64_t sid = 100;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, "max_unproven=16");
	srv = ct_sock(h, 80);
	for (int i = 0; i < 16; i++, sid += 2)
		assert_false(inject_data(h, PEER, PEER_PORT, 80, sid, 3000, 0,
					 1424, 1));
	assert_int_equal(srv->nunproven, 16);
	/* The oldest shows it exists: a second offset. */
	assert_false(inject_data(h, PEER, PEER_PORT, 80, 100, 3000, 1424, 1424,
				 1));
	assert_int_equal(srv->nunproven, 15);
	assert_false(inject_data(h, PEER, PEER_PORT, 80, sid, 3000, 0, 1424,
				 1));
	sid += 2;
	assert_int_equal(ct_metric(h, UH_M_UNPROVEN_EVICTIONS), 0);
	assert_false(inject_data(h, PEER, PEER_PORT, 80, sid, 3000, 0, 1424,
				 1));
	assert_int_equal(ct_metric(h, UH_M_UNPROVEN_EVICTIONS), 1);
	assert_int_equal(srv->nunproven, 16);
	assert_int_equal(server_state(srv, PEER, 101), UH_RPC_INCOMING);
	assert_int_equal(server_state(srv, PEER, 103), -1);   /* evicted */
	assert_int_equal(server_state(srv, PEER, 105), UH_RPC_INCOMING);
	assert_int_equal(server_state(srv, PEER, sid | 1), UH_RPC_INCOMING);
	ct_net_free(&net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(rpc__client_ids_even_and_unique),
		UH_TEST(rpc__own_ids_are_dense),
		UH_TEST(rpc__restarted_process_ids_pass_its_predecessors),
		UH_TEST(rpc__new_client_outgoing_and_found),
		UH_TEST(rpc__server_keyed_by_address_port_and_id),
		UH_TEST(rpc__find_or_new_server_creates_once),
		UH_TEST(rpc__state_gauges_follow_life_cycle),
		UH_TEST(rpc__end_unlinks_once),
		UH_TEST(rpc__fail_reports_first_error_once),
		UH_TEST(rpc__reaper_waits_for_last_reference),
		UH_TEST(rpc__seen_request_never_runs_twice),
		UH_TEST(rpc__another_port_cannot_take_a_clients_ids),
		UH_TEST(rpc__records_bounded_by_dedup_mb),
		UH_TEST(rpc__reply_found_by_address_and_id),
		UH_TEST(rpc__overtaken_first_request_runs),
		UH_TEST(rpc__unseen_request_may_run_again),
		UH_TEST(rpc__oldest_unproven_request_evicted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
