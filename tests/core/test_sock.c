/*
 * test_sock.c - src/core/sock.c driven alone: opening and binding sockets,
 * the port table, shutdown (every RPC ends, nothing attaches afterwards),
 * the protect count against the reaper, the order of buffer waiters, and
 * the steps of close.
 *
 * Host 1 is the stack under test; 10.0.0.3 is a peer the test plays by
 * injecting packets (it does not exist: what host 1 sends it waits in the
 * queue for the test to look at).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "core/peer.h"
#include "core/rpc.h"
#include "core/sock.h"
#include "coretest.h"
#include "sync/rcu.h"
#include "testutil.h"

#define PEER 3
#define PEER_PORT 4000

/* ---- helpers ------------------------------------------------------------- */

static bool inject_data(struct ct_host *h, int from, uint16_t sport,
			uint16_t dport, uint64_t sender_id, uint32_t length,
			uint32_t off, uint32_t len)
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
		payload[i] = (uint8_t)(off + i);
	return ct_inject(h, from, &d, payload, len);
}

/* A whole request @sender_id of @length bytes from the test's peer. */
static void inject_request(struct ct_host *h, uint64_t sender_id,
			   uint32_t length)
{
	uint32_t mp = h->st->max_payload;

	for (uint32_t off = 0; off < length; off += mp)
		assert_false(inject_data(h, PEER, PEER_PORT, 80, sender_id,
					 length, off,
					 length - off < mp ? length - off
							    : mp));
}

/* Whether @port leads to @s in the port table (NULL: to nothing). */
static bool port_is(struct uhoma_stack *st, uint16_t port,
		    struct uhoma_sock *s)
{
	bool ok;

	uh_rcu_read_lock();
	ok = uh_sock_find(st, port) == s;
	uh_rcu_read_unlock();
	return ok;
}

/* Ends every client RPC of @s silently (as an abort of them all). */
static void end_all_clients(struct uhoma_sock *s)
{
	assert_int_equal(uh_call_abort(s, 0, 0), UHOMA_OK);
}

/* Nodes of the buffer waits' heap under @n into @r (at most @max). */
static void collect(const struct uh_pheap_node *n, const struct uh_rpc **r,
		    unsigned *k, unsigned max)
{
	for (; n; n = n->next) {
		if (*k < max)
			r[(*k)++] = uh_container_of_const(n, struct uh_rpc,
							  buf_node);
		collect(n->child, r, k, max);
	}
}

/* The ids waiting for buffers on @s, in the order they will be served
 * (the keys' order, and the first is the heap's root), into @ids; how
 * many. */
static unsigned waiting_ids(struct uhoma_sock *s, uint64_t *ids, unsigned max)
{
	const struct uh_rpc *r[16];
	unsigned n = 0;

	assert_true(max <= 16);
	uh_lock(&s->lock);
	collect(s->waiting_bufs.root, r, &n, max);
	for (unsigned i = 1; i < n; i++)      /* insertion sort by key */
		for (unsigned j = i; j > 0; j--) {
			const struct uh_rpc *a = r[j - 1], *b = r[j];
			bool swap = a->buf_proven != b->buf_proven
					    ? b->buf_proven
					    : a->buf_len != b->buf_len
						      ? b->buf_len < a->buf_len
						      : b->buf_seq < a->buf_seq;

			if (!swap)
				break;
			r[j - 1] = b;
			r[j] = a;
		}
	if (n)
		assert_ptr_equal(&r[0]->buf_node, s->waiting_bufs.root);
	for (unsigned i = 0; i < n; i++)
		ids[i] = r[i]->id;
	uh_unlock(&s->lock);
	return n;
}

/* ---- tests --------------------------------------------------------------- */

/*
 * Port 0 asks for an automatic port (0x8000 and up), which makes a
 * client-only socket; an explicit port below 0x8000 makes a server. The
 * port table finds each by its port; a port already taken is refused.
 */
static void sock__open_ports_and_table(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *c1, *c2, *s80, *dup = NULL;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	c1 = ct_sock(h, 0);
	c2 = ct_sock(h, 0);
	s80 = ct_sock(h, 80);
	assert_true(c1->port >= 0x8000 && c2->port >= 0x8000);
	assert_true(c1->port != c2->port);
	assert_false(atomic_load(&c1->is_server));
	assert_false(atomic_load(&c2->is_server));
	assert_int_equal(s80->port, 80);
	assert_true(atomic_load(&s80->is_server));
	assert_true(port_is(h->st, 80, s80));
	assert_true(port_is(h->st, c1->port, c1));
	assert_true(port_is(h->st, c2->port, c2));
	assert_true(port_is(h->st, 81, NULL));

	assert_int_equal(uh_sock_open(h->st, 80, NULL, &dup),
			 UHOMA_ERR_ADDR_IN_USE);
	assert_null(dup);
	assert_true(port_is(h->st, 80, s80));
	ct_net_free(&net);
}

/*
 * Binding moves a socket to its new port (the old one leads nowhere) and
 * makes it a server that requests may reach; a port in use is refused
 * and the socket stays where it was; a shut-down socket cannot bind.
 */
static void sock__bind_moves_and_makes_server(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *c, *s80;
	uint16_t old;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	c = ct_sock(h, 0);
	s80 = ct_sock(h, 80);
	old = c->port;
	/* A client socket refuses requests... */
	assert_true(inject_data(h, PEER, PEER_PORT, old, 100, 100, 0, 100));
	assert_int_equal(ct_drops(h, UH_DROP_NOT_SERVER), 1);

	assert_int_equal(uh_sock_bind(c, 90), UHOMA_OK);
	assert_int_equal(c->port, 90);
	assert_true(atomic_load(&c->is_server));
	assert_true(port_is(h->st, 90, c));
	assert_true(port_is(h->st, old, NULL));
	/* ... a bound one serves them. */
	assert_false(inject_data(h, PEER, PEER_PORT, 90, 102, 100, 0, 100));
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_RECEIVED), 1);

	assert_int_equal(uh_sock_bind(c, 80), UHOMA_ERR_ADDR_IN_USE);
	assert_int_equal(c->port, 90);
	assert_true(port_is(h->st, 90, c));
	assert_true(port_is(h->st, 80, s80));

	uh_sock_shutdown(c);
	assert_int_equal(uh_sock_bind(c, 91), UHOMA_ERR_SHUTDOWN);
	assert_true(port_is(h->st, 91, NULL));
	ct_net_free(&net);
}

/*
 * Shutdown ends every RPC whatever its state -- client OUTGOING and
 * INCOMING, server INCOMING, IN_SERVICE and OUTGOING -- and afterwards
 * nothing attaches: no new client RPC, no new server RPC, no protect
 * count, and packets no longer find the socket. An RPC left alive would
 * pin the socket's memory forever (close waits for every RPC to be
 * reaped).
 */
static void sock__shutdown_ends_every_state(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *s;
	struct uh_addr a = ct_addr(PEER);
	struct uhoma_msg m1, m2;
	enum uh_drop drop = UH_DROP_NONE;
	uint64_t id2, id = 0;
	uint8_t *copy;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	s = ct_sock(h, 80);     /* a server that is also a client */

	ct_send(s, PEER, 80, 100, 1, false);              /* client OUTGOING */
	id2 = ct_send(s, PEER, 80, 100, 2, false);
	assert_false(inject_data(h, PEER, 80, 80, id2 | 1, 3000, 0, 1424));
	inject_request(h, 1002, 100);                   /* -> IN_SERVICE */
	assert_int_equal(ct_take_msg(s, 0, &m1, &rc), 1);
	assert_true(m1.id == 1003);
	inject_request(h, 1004, 100);                   /* -> OUTGOING */
	assert_int_equal(ct_take_msg(s, 0, &m2, &rc), 1);
	assert_true(m2.id == 1005);
	ct_reply(s, &m2, 100, 3);
	ct_release(s, &m1);
	ct_release(s, &m2);
	assert_false(inject_data(h, PEER, PEER_PORT, 80, 1000, 3000, 0, 1424));
	ct_clear(&net);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_CLIENT_OUTGOING), 1);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_CLIENT_INCOMING), 1);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_SERVER_INCOMING), 1);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_SERVER_IN_SERVICE), 1);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_SERVER_OUTGOING), 1);

	uh_sock_shutdown(s);
	assert_true(atomic_load(&s->shutdown));
	for (int i = 0; i < UHOMA_RPCS_DEAD; i++)
		assert_int_equal(ct_gauge(h, (unsigned)i), 0);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_DEAD), 5);
	assert_int_equal(atomic_load(&s->dead_count), 5);
	assert_ptr_equal(uh_rculist_next(&s->active), &s->active);
	assert_true(uh_list_empty(&s->ready));
	assert_int_equal(s->nunproven, 0);
	assert_null(uh_rpc_find_client(s, id2));
	assert_null(uh_rpc_find_server(s, &a, PEER_PORT, 1005));

	/* Nothing attaches afterwards. */
	copy = uh_rpc_msgbuf_alloc(100);
	assert_non_null(copy);
	assert_int_equal(uh_call_send(s, &a, 80, copy, 100, 0, false, 0, &id),
			 UHOMA_ERR_SHUTDOWN);
	assert_false(uh_sock_protect(s));
	assert_null(uh_rpc_find_or_new_server(
		s, uh_peer_get(&h->st->peers, &a, 0), PEER_PORT, 2001, 100,
		&drop));
	assert_int_equal(drop, UH_DROP_SHUTDOWN);
	assert_true(inject_data(h, PEER, PEER_PORT, 80, 2002, 100, 0, 100));
	assert_int_equal(ct_drops(h, UH_DROP_NO_SOCKET), 1);
	assert_ptr_equal(uh_rculist_next(&s->active), &s->active);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_DEAD), 5);
	/* Shutting down again changes nothing. */
	uh_sock_shutdown(s);
	assert_int_equal(atomic_load(&s->dead_count), 5);
	ct_net_free(&net);
}

/*
 * While a walker holds the protect count the reaper frees nothing (the
 * walker may stand on any dead RPC); neither the reaper called directly
 * nor the timer's. After the unprotect, the next reap frees them all.
 */
static void sock__protect_holds_off_reaper(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	cli = ct_sock(h, 0);
	for (int i = 0; i < 3; i++)
		ct_send(cli, PEER, 80, 100, (unsigned)i, false);
	end_all_clients(cli);
	assert_int_equal(atomic_load(&cli->dead_count), 3);

	assert_true(uh_sock_protect(cli));
	assert_int_equal(atomic_load(&cli->protect_count), 1);
	assert_int_equal(uh_sock_reap(cli, true), 0);
	assert_int_equal(uh_sock_reap(cli, false), 0);
	ct_tick(&net);
	assert_int_equal(atomic_load(&cli->dead_count), 3);
	assert_int_equal(ct_metric(h, UH_M_RPCS_REAPED), 0);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_DEAD), 3);

	uh_sock_unprotect(cli);
	assert_int_equal(atomic_load(&cli->protect_count), 0);
	assert_int_equal(uh_sock_reap(cli, true), 3);
	assert_int_equal(atomic_load(&cli->dead_count), 0);
	assert_int_equal(ct_metric(h, UH_M_RPCS_REAPED), 3);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_DEAD), 0);
	ct_net_free(&net);
}

/*
 * A reap frees at most reap_limit RPCs (it runs in the paths of sends and
 * receives, which must stay short); one asked for all frees the rest.
 */
static void sock__reap_limit_bounds_a_pass(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, "reap_limit=2");
	cli = ct_sock(h, 0);
	for (int i = 0; i < 5; i++)
		ct_send(cli, PEER, 80, 100, (unsigned)i, false);
	end_all_clients(cli);
	assert_int_equal(atomic_load(&cli->dead_count), 5);
	assert_int_equal(uh_sock_reap(cli, false), 2);
	assert_int_equal(atomic_load(&cli->dead_count), 3);
	uh_sock_reap_some(cli);
	assert_int_equal(atomic_load(&cli->dead_count), 1);
	assert_int_equal(uh_sock_reap(cli, true), 1);
	assert_int_equal(atomic_load(&cli->dead_count), 0);
	assert_int_equal(uh_sock_reap(cli, true), 0);
	assert_int_equal(ct_metric(h, UH_M_RPCS_REAPED), 5);
	ct_net_free(&net);
}

/*
 * A server that never sets a buffer region does not keep its clients
 * waiting for ever. Requests wait for a region for timeout_ticks after
 * the socket opened (a server sets it just after it opens); then the
 * timer ends those still waiting, and later requests are refused like
 * those to a socket that is not a server (the packet's input says
 * "refuse": an ICMP-capable carrier answers port unreachable). A region
 * set afterwards makes the socket serve again.
 */
static void sock__no_region_refuses_after_timeout(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *s;
	uint32_t timeout;
	void *region;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	timeout = h->st->cfg.timeout_ticks;
	assert_int_equal(uh_sock_open(h->st, 80, NULL, &s), UHOMA_OK);
	assert_false(inject_data(h, PEER, PEER_PORT, 80, 10, 30000, 0, 1424));
	assert_int_equal(ct_metric(h, UH_M_BUFFER_WAITS), 1);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_SERVER_INCOMING), 1);
	for (uint32_t t = 0; t + 1 < timeout; t++)
		ct_tick(&net);
	/* Still within its patience: a second request waits too. */
	assert_false(inject_data(h, PEER, PEER_PORT, 80, 12, 10000, 0, 1424));
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_SERVER_INCOMING), 2);
	assert_int_equal(ct_drops(h, UH_DROP_NO_REGION), 0);
	/* Overdue: the first ends at once, the second at its first look
	 * (resend_ticks after it came); a new request is refused. */
	ct_tick(&net);
	ct_tick(&net);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_SERVER_INCOMING), 1);
	for (uint32_t t = 0; t < h->st->cfg.resend_ticks; t++)
		ct_tick(&net);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_SERVER_INCOMING), 0);
	assert_int_equal(ct_drops(h, UH_DROP_NO_REGION), 2);
	assert_true(inject_data(h, PEER, PEER_PORT, 80, 14, 10000, 0, 1424));
	assert_int_equal(ct_drops(h, UH_DROP_NO_REGION), 3);
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_SERVER_INCOMING), 0);
	/* A client's probe for an ended one draws RPC_UNKNOWN. */
	ct_clear(&net);
	ct_inject_ctl(h, PEER, UH_PKT_RESEND, PEER_PORT, 80, 10);
	assert_int_equal(ct_count(&net, UH_PKT_RPC_UNKNOWN), 1);
	/* With a region, it serves again. */
	region = mmap(NULL, CT_REGION, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(region != MAP_FAILED);
	assert_int_equal(uh_pool_setup(&s->pool, region, CT_REGION), UHOMA_OK);
	assert_false(inject_data(h, PEER, PEER_PORT, 80, 16, 1000, 0, 1000));
	assert_int_equal(ct_drops(h, UH_DROP_NO_REGION), 3);
	assert_int_equal(ct_metric(h, UH_M_REQUESTS_RECEIVED), 3);
	ct_net_free(&net);
}

/*
 * Messages without buffer space wait in order: those whose senders have
 * shown they exist first (a flood of forged first packets must not queue
 * ahead of real senders), then shortest first, FIFO among equals. When
 * space comes, each in that order gets it and asks its sender to start
 * over (RESEND(0, -1): its DATA was dropped meanwhile).
 */
static void sock__buffer_waiters_proven_then_shortest(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *s;
	uint64_t ids[8];
	void *region;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	/* A server without a buffer region (yet). */
	assert_int_equal(uh_sock_open(h->st, 80, NULL, &s), UHOMA_OK);
	assert_false(inject_data(h, PEER, PEER_PORT, 80, 10, 30000, 0, 1424));
	assert_false(inject_data(h, PEER, PEER_PORT, 80, 12, 10000, 0, 1424));
	assert_false(inject_data(h, PEER, PEER_PORT, 80, 14, 20000, 0, 1424));
	assert_false(inject_data(h, PEER, PEER_PORT, 80, 16, 10000, 0, 1424));
	assert_int_equal(ct_drops(h, UH_DROP_NO_BUFFER), 4);
	assert_int_equal(ct_metric(h, UH_M_BUFFER_WAITS), 4);
	assert_int_equal(waiting_ids(s, ids, 8), 4);
	assert_true(ids[0] == 13 && ids[1] == 17 && ids[2] == 15 &&
		    ids[3] == 11);

	/* The longest one's sender proves itself (a second offset). */
	assert_false(inject_data(h, PEER, PEER_PORT, 80, 10, 30000, 1424,
				 1424));
	assert_int_equal(ct_drops(h, UH_DROP_NO_BUFFER), 5);
	assert_int_equal(ct_metric(h, UH_M_BUFFER_WAITS), 4);   /* no new wait */
	assert_int_equal(waiting_ids(s, ids, 8), 4);
	assert_true(ids[0] == 11 && ids[1] == 13 && ids[2] == 17 &&
		    ids[3] == 15);
	assert_int_equal(net.nq, 0);

	/* Space arrives: each asks, in that order, for its message again. */
	region = mmap(NULL, CT_REGION, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(region != MAP_FAILED);
	assert_int_equal(uh_pool_setup(&s->pool, region, CT_REGION), UHOMA_OK);
	uh_sock_check_bufs(s);
	assert_int_equal(waiting_ids(s, ids, 8), 0);
	assert_int_equal(ct_count(&net, UH_PKT_RESEND), 4);
	assert_int_equal(net.nq, 4);
	{
		static const uint64_t order[] = { 11, 13, 17, 15 };

		for (size_t i = 0; i < 4; i++) {
			struct uh_hdr r = ct_hdr(&net, i);

			assert_true(r.sender_id == order[i]);
			assert_int_equal(r.u.resend.offset, 0);
			assert_true(r.u.resend.length == UH_RESEND_ALL);
			assert_int_equal(r.dport, PEER_PORT);
		}
	}
	/* And its data is taken now. */
	assert_false(inject_data(h, PEER, PEER_PORT, 80, 12, 10000, 0, 1424));
	assert_int_equal(ct_drops(h, UH_DROP_NO_BUFFER), 5);
	ct_net_free(&net);
}

/*
 * A response waiting for buffer space whose server then says RPC_UNKNOWN
 * (it restarted, or a forged packet said so) starts over: it leaves the
 * wait list as its message is reset. Before, it stayed listed with its
 * waiting flag cleared, and the next uh_sock_check_bufs -- every message
 * release -- spun on it forever (helper-18); waiting again would have
 * linked it twice.
 */
static void sock__restarted_response_leaves_buffer_wait(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *c;
	struct uh_hdr u;
	uint64_t ids[4], id;
	void *region;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	/* A client without a buffer region (yet). */
	assert_int_equal(uh_sock_open(h->st, 0, NULL, &c), UHOMA_OK);
	id = ct_send(c, PEER, 80, 100, 1, false);
	ct_clear(&net);
	assert_false(inject_data(h, PEER, 80, c->port, id | 1, 30000, 0,
				 1424));
	assert_int_equal(waiting_ids(c, ids, 4), 1);
	memset(&u, 0, sizeof(u));
	u.type = UH_PKT_RPC_UNKNOWN;
	u.sport = 80;
	u.dport = c->port;
	u.sender_id = id | 1;
	assert_false(ct_inject(h, PEER, &u, NULL, 0));
	assert_int_equal(ct_client_state(c, id), UH_RPC_OUTGOING);
	assert_int_equal(waiting_ids(c, ids, 4), 0);
	/* The restarted response waits again, once. */
	assert_false(inject_data(h, PEER, 80, c->port, id | 1, 30000, 0,
				 1424));
	assert_false(inject_data(h, PEER, 80, c->port, id | 1, 30000, 1424,
				 1424));
	assert_int_equal(waiting_ids(c, ids, 4), 1);
	assert_true(ids[0] == id);
	region = mmap(NULL, CT_REGION, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(region != MAP_FAILED);
	assert_int_equal(uh_pool_setup(&c->pool, region, CT_REGION), UHOMA_OK);
	uh_sock_check_bufs(c);
	assert_int_equal(waiting_ids(c, ids, 4), 0);
	ct_net_free(&net);
}

/*
 * Close, step one, sends the ACKs this stack still owes servers (one
 * stored per response received): else each server keeps the response
 * until its timeout. Step two reaps; step three frees. The port is gone
 * from the table after step one.
 */
static void sock__close_sends_owed_acks(void **state)
{
	struct ct_net net;
	struct ct_host *a, *b;
	struct uhoma_sock *cli, *srv;
	struct uhoma_msg m;
	struct uh_hdr ack;
	uint16_t port;
	uint64_t id;
	void *region;
	int rc;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, NULL);
	b = ct_host(&net, 2, NULL);
	srv = ct_sock(b, 80);
	cli = ct_sock(a, 0);
	port = cli->port;
	id = ct_send(cli, 2, 80, 100, 1, false);
	ct_deliver(&net, 0);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	ct_reply(srv, &m, 100, 2);
	ct_release(srv, &m);
	ct_deliver(&net, 0);
	assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 1);
	ct_release(cli, &m);
	assert_int_equal(net.nq, 0);    /* the ack is stored, not sent */
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 1);

	region = uh_pool_region(&cli->pool);
	uh_sock_close_start(cli);
	assert_true(port_is(a->st, port, NULL));
	assert_int_equal(ct_count(&net, UH_PKT_ACK), 1);
	ack = ct_hdr(&net, 0);
	assert_true(ack.sender_id == id);
	assert_int_equal(ack.sport, port);
	assert_int_equal(ack.dport, 80);
	assert_true(uh_sock_reap_final(cli));
	uh_sock_free(cli);
	munmap(region, CT_REGION);

	ct_deliver(&net, 0);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 0);
	assert_int_equal(ct_metric(b, UH_M_RESPONSES_SENT), 1);
	ct_net_free(&net);
}

/*
 * uh_sock_reap_final says false while any reference to a dead RPC is
 * still held (the socket must not be freed under that holder), and true
 * once it is dropped.
 */
static void sock__reap_final_waits_for_references(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	struct uh_rpc *rpc;
	uint64_t id;
	void *region;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	cli = ct_sock(h, 0);
	id = ct_send(cli, PEER, 80, 100, 1, false);
	rpc = uh_rpc_find_client(cli, id);
	assert_non_null(rpc);
	uh_rpc_unlock(rpc);            /* keep the reference only */

	region = uh_pool_region(&cli->pool);
	uh_sock_close_start(cli);
	assert_int_equal(rpc->state, UH_RPC_DEAD);
	assert_false(uh_sock_reap_final(cli));
	assert_false(uh_sock_reap_final(cli));
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_DEAD), 1);
	uh_rpc_put(rpc);
	assert_true(uh_sock_reap_final(cli));
	assert_int_equal(ct_gauge(h, UHOMA_RPCS_DEAD), 0);
	uh_sock_free(cli);
	munmap(region, CT_REGION);
	ct_net_free(&net);
}

/*
 * A thread receiving for a caller that takes any message keeps the first
 * message it completes from the socket's sleeping receivers: it takes the
 * message itself, and a second server thread asleep on the socket was
 * woken for every request its sibling took (uh_sock_taker_begin). Any
 * further message it completes wakes one as before, as does one made
 * ready by a thread that takes nothing or takes from another socket.
 */
static void sock__taker_keeps_its_first_message(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *s80, *other;
	uint32_t seq;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	s80 = ct_sock(h, 80);
	other = ct_sock(h, 0);
	seq = atomic_load(&s80->wait.seq);
	uh_sock_taker_begin(s80);
	inject_request(h, 100, 100);
	assert_int_equal(atomic_load(&s80->wait.seq), seq);    /* kept */
	inject_request(h, 102, 100);
	assert_int_equal(atomic_load(&s80->wait.seq), seq + 1);
	assert_true(uh_sock_taker_end());
	inject_request(h, 104, 100);                 /* nobody's to take */
	assert_int_equal(atomic_load(&s80->wait.seq), seq + 2);
	uh_sock_taker_begin(other);
	inject_request(h, 106, 100);
	assert_int_equal(atomic_load(&s80->wait.seq), seq + 3);
	assert_false(uh_sock_taker_end());
	uh_sock_taker_begin(NULL);                   /* a private RPC's */
	inject_request(h, 108, 100);
	assert_int_equal(atomic_load(&s80->wait.seq), seq + 4);
	assert_false(uh_sock_taker_end());
	ct_net_free(&net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(sock__open_ports_and_table),
		UH_TEST(sock__bind_moves_and_makes_server),
		UH_TEST(sock__shutdown_ends_every_state),
		UH_TEST(sock__protect_holds_off_reaper),
		UH_TEST(sock__reap_limit_bounds_a_pass),
		UH_TEST(sock__buffer_waiters_proven_then_shortest),
		UH_TEST(sock__no_region_refuses_after_timeout),
		UH_TEST(sock__restarted_response_leaves_buffer_wait),
		UH_TEST(sock__close_sends_owed_acks),
		UH_TEST(sock__reap_final_waits_for_references),
		UH_TEST(sock__taker_keeps_its_first_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
