/*
 * test_failures.c - peers that die or restart, shutdown with RPCs in every
 * state, and a receive buffer region that fills up. Virtual clock: the
 * 100-tick timeouts take no real time and the outcomes are deterministic.
 */
#include <stdlib.h>
#include <string.h>

#include "core/wire.h"
#include "nettest.h"
#include "testutil.h"

#define TICK_NS 1000000ull    /* cfg.tick_us default */

static uint8_t *msgbuf;

static struct uhoma_sock *sock_on(struct uhoma_stack *st, uint16_t port,
				  size_t region, void **r)
{
	struct uhoma_sock *s;

	assert_int_equal(uhoma_socket(st, port, &s), UHOMA_OK);
	*r = nt_buffers(s, region);
	return s;
}

static uint64_t send_to(struct uhoma_sock *s, int host, uint16_t port,
			size_t len, uint64_t seed)
{
	struct sockaddr_storage to;
	size_t to_len;
	uint64_t id;

	nt_addr(host, port, &to, &to_len);
	nt_fill(msgbuf, len, seed);
	assert_int_equal(uhoma_send(s, (struct sockaddr *)&to, to_len, msgbuf,
				    len, seed, 0, &id), UHOMA_OK);
	return id;
}

static void dead_peer__client_times_out(void **state)
{
	struct nt_pair d;
	struct uhoma_msg m;
	uint64_t ids[3], t0;
	int got = 0, rc;

	(void)state;
	nt_pair_open(&d, 3, 1, 1500, NT_REGION, NT_REGION);
	/* One RPC whose request is lost entirely, one cut mid-request, one
	 * whose response never comes: all must fail with TIMEDOUT. */
	uhoma_memnet_partition(d.net, "10.0.0.1", "10.0.0.2", 1);
	ids[0] = send_to(d.cli, 1, 80, 100, 1);
	uhoma_memnet_partition(d.net, "10.0.0.1", "10.0.0.2", 0);
	ids[1] = send_to(d.cli, 1, 80, 300000, 2);
	uhoma_memnet_run(d.net, 20000);       /* unscheduled bytes arrive */
	ids[2] = send_to(d.cli, 1, 80, 1000, 3);
	uhoma_memnet_run(d.net, 20000);
	uhoma_memnet_partition(d.net, "10.0.0.1", "10.0.0.2", 1);
	t0 = uhoma_memnet_now(d.net);
	while (got < 3) {
		uhoma_memnet_run(d.net, TICK_NS);
		while ((rc = nt_recv_nb(d.cli, &m)) != UHOMA_ERR_AGAIN) {
			assert_int_equal(rc, UHOMA_ERR_TIMEDOUT);
			assert_true(m.id == ids[0] || m.id == ids[1] ||
				    m.id == ids[2]);
			got++;
		}
		/* Timeout is 100 silent ticks: allow one tick of slack. */
		assert_true(uhoma_memnet_now(d.net) - t0 <= 102 * TICK_NS);
	}
	assert_true(uhoma_memnet_now(d.net) - t0 >= 90 * TICK_NS);
	nt_pair_close(&d);
}

static void restart__rpc_unknown_recovers(void **state)
{
	struct nt_pair d;
	struct uhoma_metrics met;
	struct uhoma_msg m;
	int done = 0, rc;

	(void)state;
	nt_pair_open(&d, 4, 1, 1500, NT_REGION, NT_REGION);
	for (int i = 0; i < 5; i++)
		send_to(d.cli, 1, 80,
			i == 4 ? 200000u : 1000u * (unsigned)(i + 1),
			10u + (unsigned)i);
	uhoma_memnet_run(d.net, 3 * TICK_NS);
	/* The server received the requests but dies before answering. */
	uhoma_close(d.srv);
	uhoma_stack_destroy(d.a);
	nt_unmap(d.ra, NT_REGION);
	/* A new server process at the same address and port. */
	d.a = nt_stack(d.net, 1, 1500, 0);
	d.srv = sock_on(d.a, 80, NT_REGION, &d.ra);
	for (int t = 0; t < 60 && done < 5; t++) {
		uhoma_memnet_run(d.net, TICK_NS);
		nt_echo_ready(d.srv, msgbuf);
		while ((rc = nt_recv_nb(d.cli, &m)) > 0) {
			assert_true(nt_check(d.cli, &m, (size_t)rc, m.cookie));
			uhoma_msg_release(d.cli, &m);
			done++;
		}
		assert_int_equal(rc, UHOMA_ERR_AGAIN);
	}
	assert_int_equal(done, 5);
	uhoma_metrics(d.a, &met);
	assert_true(met.packets_sent[UH_PKT_RPC_UNKNOWN - UH_PKT_MIN_TYPE] > 0);
	nt_pair_close(&d);
}

static void shutdown__rpcs_in_every_state(void **state)
{
	struct nt_pair d;
	struct uhoma_metrics ma, mb;
	struct uhoma_msg m, held[2];
	uint64_t id;
	int rc;

	(void)state;
	nt_pair_open(&d, 5, 1, 1500, NT_REGION, NT_REGION);
	/* Server: two requests received (IN_SERVICE), one answered with a
	 * large response still going out (OUTGOING), one request half
	 * arrived (INCOMING). Client: RPCs OUTGOING and INCOMING. */
	send_to(d.cli, 1, 80, 100, 1);
	send_to(d.cli, 1, 80, 200, 2);
	send_to(d.cli, 1, 80, 300, 3);
	uhoma_memnet_run(d.net, 100000);
	for (int i = 0; i < 3; i++) {
		rc = nt_recv_nb(d.srv, i < 2 ? &held[i] : &m);
		assert_true(rc > 0);
	}
	memset(msgbuf, 1, UHOMA_MAX_MESSAGE);
	assert_int_equal(uhoma_reply(d.srv, (struct sockaddr *)&m.peer,
				     m.peer_len, m.id, msgbuf, 900000),
			 UHOMA_OK);
	uhoma_msg_release(d.srv, &m);
	send_to(d.cli, 1, 80, 800000, 4);     /* only unscheduled bytes go */
	uhoma_memnet_run(d.net, 20000);
	uhoma_metrics(d.a, &ma);
	uhoma_metrics(d.b, &mb);
	assert_true(ma.rpcs[UHOMA_RPCS_SERVER_IN_SERVICE] == 2);
	assert_true(ma.rpcs[UHOMA_RPCS_SERVER_OUTGOING] == 1);
	assert_true(ma.rpcs[UHOMA_RPCS_SERVER_INCOMING] == 1);
	assert_true(mb.rpcs[UHOMA_RPCS_CLIENT_OUTGOING] +
		    mb.rpcs[UHOMA_RPCS_CLIENT_INCOMING] == 4);

	assert_int_equal(uhoma_shutdown(d.srv), UHOMA_OK);
	assert_int_equal(uhoma_shutdown(d.srv), UHOMA_OK);   /* idempotent */
	uhoma_metrics(d.a, &ma);
	assert_true(ma.rpcs[UHOMA_RPCS_SERVER_IN_SERVICE] == 0);
	assert_true(ma.rpcs[UHOMA_RPCS_SERVER_OUTGOING] == 0);
	assert_true(ma.rpcs[UHOMA_RPCS_SERVER_INCOMING] == 0);
	/* Every call on a shut-down socket fails clearly. */
	assert_int_equal(nt_recv_nb(d.srv, &m), UHOMA_ERR_SHUTDOWN);
	assert_int_equal(uhoma_reply(d.srv, (struct sockaddr *)&held[0].peer,
				     held[0].peer_len, held[0].id, msgbuf, 10),
			 UHOMA_ERR_SHUTDOWN);
	assert_int_equal(uhoma_set_server(d.srv, 1), UHOMA_ERR_SHUTDOWN);
	/* Pages the application holds stay valid and can be returned. */
	assert_int_equal(uhoma_msg_release(d.srv, &held[0]), UHOMA_OK);
	assert_int_equal(uhoma_msg_release(d.srv, &held[1]), UHOMA_OK);

	{
		struct sockaddr_storage to;
		size_t to_len;
		struct uhoma_msg pm;
		uint64_t priv;

		/* A private RPC that shutdown ends: waiting for it, or
		 * aborting it (or all), says SHUTDOWN, not "unknown id"
		 * (helper-17). */
		nt_addr(1, 80, &to, &to_len);
		assert_int_equal(uhoma_send(d.cli, (struct sockaddr *)&to,
					    to_len, msgbuf, 10, 0,
					    UHOMA_PRIVATE, &priv),
				 UHOMA_OK);
		assert_int_equal(uhoma_shutdown(d.cli), UHOMA_OK);
		memset(&pm, 0, sizeof(pm));
		pm.id = priv;
		assert_int_equal(uhoma_recv(d.cli, &pm, UHOMA_NONBLOCK, 0),
				 UHOMA_ERR_SHUTDOWN);
		pm.id = priv;
		assert_int_equal(uhoma_recv(d.cli, &pm, 0, 1000000),
				 UHOMA_ERR_SHUTDOWN);
		assert_int_equal(uhoma_abort(d.cli, priv, 0),
				 UHOMA_ERR_SHUTDOWN);
		assert_int_equal(uhoma_abort(d.cli, 0, 0), UHOMA_ERR_SHUTDOWN);
		assert_int_equal(uhoma_send(d.cli, (struct sockaddr *)&to,
					    to_len, msgbuf, 10, 0, 0, &id),
				 UHOMA_ERR_SHUTDOWN);
	}
	uhoma_memnet_run(d.net, 10 * TICK_NS);  /* packets to nobody */
	uhoma_close(d.cli);
	uhoma_close(d.srv);
	uhoma_metrics(d.a, &ma);
	uhoma_metrics(d.b, &mb);
	for (int s = 0; s < UHOMA_RPC_STATES; s++) {
		assert_true(ma.rpcs[s] == 0);    /* all reaped at close */
		assert_true(mb.rpcs[s] == 0);
	}
	assert_true(ma.rpcs_reaped == 4 && mb.rpcs_reaped == 5);
	uhoma_stack_destroy(d.a);
	uhoma_stack_destroy(d.b);
	uhoma_memnet_destroy(d.net);
	nt_unmap(d.ra, NT_REGION);
	nt_unmap(d.rb, NT_REGION);
}

static void pool__full_region_waits_then_completes(void **state)
{
	const size_t small = 2 * 65536 + 2000000;   /* the minimum: 32 pages */
	struct nt_pair d;
	struct uhoma_msg held[8], m;
	struct uhoma_metrics met;
	int nheld = 0, done = 0, rc;

	(void)state;
	nt_pair_open(&d, 6, 1, 9000, small, NT_REGION);
	for (int i = 0; i < 8; i++)
		send_to(d.cli, 1, 80, 1000000 - (size_t)i, 100u + (unsigned)i);
	/* The server keeps every request's pages: after two 1 MB messages
	 * (16 pages each) the region is full and the rest must wait. */
	for (int t = 0; t < 50; t++) {
		uhoma_memnet_run(d.net, TICK_NS);
		while (nheld < 8 && (rc = nt_recv_nb(d.srv, &held[nheld])) > 0)
			nheld++;
	}
	assert_int_equal(nheld, 2);
	uhoma_metrics(d.a, &met);
	assert_true(met.buffer_waits >= 6);
	assert_true(met.drops[UH_DROP_NO_BUFFER] > 0);
	/* Nothing timed out while waiting; returning pages resumes all. */
	for (int t = 0; t < 400 && done < 8; t++) {
		while (nheld > 0) {
			struct uhoma_msg *h = &held[--nheld];

			assert_true(nt_check(d.srv, h, h->length,
					     100 + (1000000 - h->length)));
			uhoma_msg_copy(d.srv, h, 0, msgbuf, h->length);
			uhoma_msg_release(d.srv, h);
			assert_int_equal(uhoma_reply(d.srv,
				(struct sockaddr *)&h->peer, h->peer_len,
				h->id, msgbuf, h->length), UHOMA_OK);
		}
		uhoma_memnet_run(d.net, TICK_NS);
		while (nheld < 8 && (rc = nt_recv_nb(d.srv, &held[nheld])) > 0)
			nheld++;
		while ((rc = nt_recv_nb(d.cli, &m)) > 0) {
			assert_true(nt_check(d.cli, &m, (size_t)rc, m.cookie));
			uhoma_msg_release(d.cli, &m);
			done++;
		}
		assert_int_equal(rc, UHOMA_ERR_AGAIN);
	}
	assert_int_equal(done, 8);
	uhoma_metrics(d.a, &met);
	assert_true(met.rpc_timeouts == 0);
	nt_pair_close(&d);
}

/*
 * A thousand RPCs to a peer cut off: every RPC fails at its timeout (the
 * timer wheel looks at each at the tick it is due, twheel.h) and sends a
 * RESEND at every resend boundary on the way (5, 10, ... 95 ticks: 19; a
 * client's probes for its own requests do not back off).
 */
static void many_rpcs__walk_keeps_timeouts_and_resends(void **state)
{
	enum { N = 1000 };
	struct nt_pair d;
	struct uhoma_metrics met;
	struct uhoma_msg m;
	uint64_t t0;
	int failed = 0, rc;

	(void)state;
	nt_pair_open(&d, 5, 1, 1500, NT_REGION, NT_REGION);
	uhoma_memnet_partition(d.net, "10.0.0.1", "10.0.0.2", 1);
	for (int i = 0; i < N; i++)
		send_to(d.cli, 1, 80, 100, (uint64_t)i + 1);
	t0 = uhoma_memnet_now(d.net);
	while (failed < N) {
		uhoma_memnet_run(d.net, TICK_NS);
		while ((rc = nt_recv_nb(d.cli, &m)) != UHOMA_ERR_AGAIN) {
			assert_int_equal(rc, UHOMA_ERR_TIMEDOUT);
			failed++;
		}
		/* 100 ticks, late by at most one. */
		assert_true(uhoma_memnet_now(d.net) - t0 <= 101 * TICK_NS);
	}
	assert_true(uhoma_memnet_now(d.net) - t0 >= 99 * TICK_NS);
	uhoma_metrics(d.b, &met);
	assert_true(met.packets_sent[UH_PKT_RESEND - UH_PKT_MIN_TYPE] >=
		    (uint64_t)N * 19);
	nt_pair_close(&d);
}

/*
 * A server that has the requests (it answers BUSY) but whose application
 * does not serve them, while the same host keeps answering on another
 * port: its RPCs must neither time out nor be probed every 5 ticks.
 */
static void live_server__confirmed_rpcs_probed_less(void **state)
{
	enum { N = 100, TICKS = 200 };
	struct nt_pair d;
	struct uhoma_sock *echo;
	void *recho;
	struct uhoma_metrics met;
	struct uhoma_msg m;
	uint64_t resends;
	int echoed = 0, rc;

	(void)state;
	nt_pair_open(&d, 6, 1, 1500, NT_REGION, NT_REGION);
	echo = sock_on(d.a, 81, NT_REGION, &recho);
	for (int i = 0; i < N; i++)
		send_to(d.cli, 1, 80, 100, (uint64_t)i + 1);
	for (int t = 0; t < TICKS; t++) {
		send_to(d.cli, 1, 81, 100, 5000u + (unsigned)t);
		uhoma_memnet_run(d.net, TICK_NS);
		nt_echo_ready(echo, msgbuf);
		uhoma_memnet_run(d.net, 100000);
		while ((rc = nt_recv_nb(d.cli, &m)) > 0) {
			assert_true(m.cookie >= 5000);   /* only the echoes */
			uhoma_msg_release(d.cli, &m);
			echoed++;
		}
		assert_int_equal(rc, UHOMA_ERR_AGAIN);
	}
	assert_true(echoed >= TICKS - 2);
	uhoma_metrics(d.b, &met);
	assert_int_equal(met.rpc_timeouts, 0);
	resends = met.packets_sent[UH_PKT_RESEND - UH_PKT_MIN_TYPE];
	/* One probe each to learn of the BUSY, then one per 40 ticks: about
	 * 6 per RPC; the plain schedule would send 40. */
	assert_true(resends >= N);
	assert_true(resends <= (uint64_t)N * 10);
	uhoma_close(echo);
	nt_unmap(recho, NT_REGION);
	nt_pair_close(&d);
}

/*
 * A client that completes responses but is slow to take them: the server
 * asks for each ACK once and the client answers at once, so the server
 * forgets its RPCs before the application receives anything -- instead of
 * asking again every resend_interval until it does. The responses are
 * still whole afterwards, and taking them sends no second ACK.
 */
static void slow_taker__complete_responses_acked_on_request(void **state)
{
	enum { N = 50 };
	struct nt_pair d;
	struct uhoma_rpc_info info[N];
	struct uhoma_metrics ma, mb;
	struct uhoma_msg m;
	uint64_t need_acks, acks;
	int got = 0, rc;

	(void)state;
	nt_pair_open(&d, 7, 1, 1500, NT_REGION, NT_REGION);
	for (int i = 0; i < N; i++)
		send_to(d.cli, 1, 80, 3000, (uint64_t)i + 1);
	uhoma_memnet_run(d.net, TICK_NS);
	assert_int_equal(nt_echo_ready(d.srv, msgbuf), N);
	/* 50 ticks: ten resend_intervals past the first NEED_ACK. */
	uhoma_memnet_run(d.net, 50 * TICK_NS);
	assert_int_equal(uhoma_rpc_info(d.srv, info, N), 0);
	uhoma_metrics(d.a, &ma);
	uhoma_metrics(d.b, &mb);
	need_acks = ma.packets_sent[UH_PKT_NEED_ACK - UH_PKT_MIN_TYPE];
	acks = mb.packets_sent[UH_PKT_ACK - UH_PKT_MIN_TYPE];
	assert_int_equal(ma.responses_sent, N);
	assert_int_equal(ma.rpc_timeouts, 0);
	assert_int_equal(need_acks, N);
	assert_int_equal(acks, N);
	while ((rc = nt_recv_nb(d.cli, &m)) > 0) {
		assert_int_equal(rc, 3000);
		assert_true(nt_check(d.cli, &m, 3000, m.cookie));
		uhoma_msg_release(d.cli, &m);
		got++;
	}
	assert_int_equal(got, N);
	uhoma_memnet_run(d.net, 50 * TICK_NS);
	uhoma_metrics(d.b, &mb);
	assert_int_equal(mb.packets_sent[UH_PKT_ACK - UH_PKT_MIN_TYPE], acks);
	assert_int_equal(mb.responses_received, N);
	nt_pair_close(&d);
}

/*
 * A server that fell behind: its receive queue holds the clients' RESENDs,
 * sent while the requests waited, when it has just sent the responses. It
 * must not answer each with the whole response again (a duplicate per
 * RESEND -- the feedback that buries a slow peer); a RESEND that asks for
 * data sent too recently to have arrived is stale: answered with a BUSY
 * alone (counted). The responses arrive once each.
 */
static void behind_server__stale_resends_ignored(void **state)
{
	enum { N = 10, LEN = 3000 };
	struct nt_pair d;
	struct uhoma_metrics ma, mb;
	struct uhoma_msg m;
	int got = 0, rc;

	(void)state;
	nt_pair_open(&d, 8, 1, 1500, NT_REGION, NT_REGION);
	for (int i = 0; i < N; i++)
		send_to(d.cli, 1, 80, LEN, (uint64_t)i + 1);
	uhoma_memnet_run(d.net, TICK_NS / 2);        /* requests arrive */
	assert_int_equal(uhoma_memnet_stall(d.net, "10.0.0.1", 1), 0);
	uhoma_memnet_run(d.net, 12 * TICK_NS);       /* RESENDs at 5 and 10 */
	uhoma_metrics(d.b, &mb);
	assert_int_equal(mb.packets_sent[UH_PKT_RESEND - UH_PKT_MIN_TYPE],
			 2 * N);
	assert_int_equal(nt_echo_ready(d.srv, msgbuf), N);
	assert_int_equal(uhoma_memnet_stall(d.net, "10.0.0.1", 0), 0);
	uhoma_memnet_run(d.net, 2 * TICK_NS);        /* the backlog */
	while ((rc = nt_recv_nb(d.cli, &m)) > 0) {
		assert_int_equal(rc, LEN);
		assert_true(nt_check(d.cli, &m, LEN, m.cookie));
		uhoma_msg_release(d.cli, &m);
		got++;
	}
	assert_int_equal(got, N);
	uhoma_metrics(d.a, &ma);
	uhoma_metrics(d.b, &mb);
	assert_int_equal(ma.stale_resends, 2 * N);
	assert_true(ma.packets_sent[UH_PKT_BUSY - UH_PKT_MIN_TYPE] >= 2 * N);
	assert_int_equal(ma.resent_packets, 0);
	assert_int_equal(mb.drops[UH_DROP_DUPLICATE], 0);
	assert_int_equal(uhoma_memnet_stall(d.net, "10.9.9.9", 1), -1);
	nt_pair_close(&d);
}

/* Two stacks on a virtual clock, as nt_pair_open makes them, but the
 * server's socket without a buffer region (give_region sets one). */
/* Which request @len is (100, 300,000 or 1,000 bytes); -1: none. */
static int moved_which(int len)
{
	return len == 100 ? 0 : len == 300000 ? 1 : len == 1000 ? 2 : -1;
}

/*
 * A client socket moves (uhoma_bind) while its server holds two of its
 * requests, one short and one of many packets. The server's responses go
 * to the old port; under the new one the server does not know the RPCs,
 * and the client must not send them again (they would run twice): they
 * end with TIMEDOUT. A request sent after the move is served as usual.
 * (helper-36: the server ran the request a second time.)
 */
static void bind__moved_client_never_reruns_a_request(void **state)
{
	struct nt_pair d;
	struct uhoma_metrics met;
	struct uhoma_msg m, held[2];
	uint64_t ids[3];
	int runs[3] = { 0 }, got = 0, ended = 0, rc;

	(void)state;
	nt_pair_open(&d, 5, 1, 1500, NT_REGION, NT_REGION);
	ids[0] = send_to(d.cli, 1, 80, 100, 1);
	ids[1] = send_to(d.cli, 1, 80, 300000, 2);
	for (int t = 0; t < 50 && got < 2; t++) {
		uhoma_memnet_run(d.net, TICK_NS);
		while (got < 2 && (rc = nt_recv_nb(d.srv, &held[got])) > 0) {
			assert_true(moved_which(rc) >= 0);
			runs[moved_which(rc)]++;
			uhoma_msg_release(d.srv, &held[got]);
			got++;
		}
	}
	assert_int_equal(got, 2);
	assert_int_equal(uhoma_bind(d.cli, 7000), UHOMA_OK);
	ids[2] = send_to(d.cli, 1, 80, 1000, 3);
	for (int i = 0; i < 2; i++)
		assert_int_equal(uhoma_reply(d.srv, (struct sockaddr *)&held[i].peer,
					     held[i].peer_len, held[i].id,
					     "done", 4), UHOMA_OK);
	for (int t = 0; t < 600 && ended < 3; t++) {
		uhoma_memnet_run(d.net, TICK_NS);
		while ((rc = nt_recv_nb(d.srv, &m)) > 0) {
			assert_true(moved_which(rc) >= 0);
			runs[moved_which(rc)]++;
			uhoma_msg_release(d.srv, &m);
			assert_int_equal(uhoma_reply(d.srv,
						     (struct sockaddr *)&m.peer,
						     m.peer_len, m.id, "done",
						     4), UHOMA_OK);
		}
		while ((rc = nt_recv_nb(d.cli, &m)) != UHOMA_ERR_AGAIN) {
			if (m.id == ids[2]) {
				assert_int_equal(rc, 4);
				uhoma_msg_release(d.cli, &m);
			} else {
				assert_true(m.id == ids[0] || m.id == ids[1]);
				assert_int_equal(rc, UHOMA_ERR_TIMEDOUT);
			}
			ended++;
		}
	}
	assert_int_equal(ended, 3);
	/* Each request ran once, none twice. */
	assert_int_equal(runs[0], 1);
	assert_int_equal(runs[1], 1);
	assert_int_equal(runs[2], 1);
	uhoma_metrics(d.b, &met);
	assert_int_equal(met.moved_unknown, 2);
	nt_pair_close(&d);
}

static void pair_no_region(struct nt_pair *d, uint64_t seed)
{
	memset(d, 0, sizeof(*d));
	d->net = uhoma_memnet_create(seed, 1);
	d->a = nt_stack(d->net, 1, 1500, 0);
	d->b = nt_stack(d->net, 2, 1500, 0);
	assert_int_equal(uhoma_socket(d->a, 80, &d->srv), UHOMA_OK);
	assert_int_equal(uhoma_socket(d->b, 0, &d->cli), UHOMA_OK);
	d->rb = nt_buffers(d->cli, NT_REGION);
	d->rb_len = NT_REGION;
}

static void give_region(struct nt_pair *d)
{
	d->ra = nt_buffers(d->srv, NT_REGION);
	d->ra_len = NT_REGION;
}

/* A server that never sets its buffer region: its clients fail -- they
 * used to wait for ever, every probe answered BUSY -- and once it sets
 * one it serves again. */
static void no_region__clients_fail_not_wait(void **state)
{
	struct nt_pair d;
	struct uhoma_metrics met;
	struct uhoma_msg m;
	uint64_t t0;
	int got = 0, rc = 0;

	(void)state;
	pair_no_region(&d, 9);
	send_to(d.cli, 1, 80, 100, 1);
	send_to(d.cli, 1, 80, 200000, 2);
	t0 = uhoma_memnet_now(d.net);
	while (got < 2 && uhoma_memnet_now(d.net) - t0 < 1000 * TICK_NS) {
		uhoma_memnet_run(d.net, TICK_NS);
		while ((rc = nt_recv_nb(d.cli, &m)) != UHOMA_ERR_AGAIN) {
			assert_true(rc == UHOMA_ERR_TIMEDOUT ||
				    rc == UHOMA_ERR_NOT_CONNECTED);
			got++;
		}
	}
	assert_int_equal(got, 2);
	/* Receiving there says why it cannot. */
	assert_int_equal(nt_recv_nb(d.srv, &m), UHOMA_ERR_NO_BUFFER);
	/* The timeout, then the restarts' timeout: well within 5 of them. */
	assert_true(uhoma_memnet_now(d.net) - t0 <= 500 * TICK_NS);
	uhoma_metrics(d.a, &met);
	assert_true(met.drops[UH_DROP_NO_REGION] > 0);
	/* The region set now: the socket serves again. */
	give_region(&d);
	send_to(d.cli, 1, 80, 1000, 3);
	for (int t = 0;
	     t < 50 && (rc = nt_recv_nb(d.cli, &m)) == UHOMA_ERR_AGAIN; t++) {
		uhoma_memnet_run(d.net, TICK_NS);
		nt_echo_ready(d.srv, msgbuf);
	}
	assert_int_equal(rc, 1000);
	uhoma_msg_release(d.cli, &m);
	nt_pair_close(&d);
}

/* Set within the timeout, the region takes the requests that waited. */
static void late_region__early_requests_served(void **state)
{
	struct nt_pair d;
	struct uhoma_msg m;
	int got = 0, rc;

	(void)state;
	pair_no_region(&d, 10);
	send_to(d.cli, 1, 80, 100, 1);
	send_to(d.cli, 1, 80, 200000, 2);
	uhoma_memnet_run(d.net, 30 * TICK_NS);
	give_region(&d);
	for (int t = 0; t < 100 && got < 2; t++) {
		uhoma_memnet_run(d.net, TICK_NS);
		nt_echo_ready(d.srv, msgbuf);
		while ((rc = nt_recv_nb(d.cli, &m)) != UHOMA_ERR_AGAIN) {
			assert_true(rc == 100 || rc == 200000);
			assert_true(nt_check(d.cli, &m, (size_t)rc, m.cookie));
			uhoma_msg_release(d.cli, &m);
			got++;
		}
	}
	assert_int_equal(got, 2);
	nt_pair_close(&d);
}

/* A socket shut down before it had a region: receiving says SHUTDOWN, as
 * every other call on it does, not NO_BUFFER. */
static void no_region__shutdown_says_shutdown(void **state)
{
	struct uhoma_memnet *net = uhoma_memnet_create(11, 1);
	struct uhoma_stack *a = nt_stack(net, 1, 1500, 0);
	struct uhoma_sock *s;
	struct uhoma_msg m;

	(void)state;
	assert_int_equal(uhoma_socket(a, 80, &s), UHOMA_OK);
	assert_int_equal(nt_recv_nb(s, &m), UHOMA_ERR_NO_BUFFER);
	assert_int_equal(uhoma_shutdown(s), UHOMA_OK);
	assert_int_equal(nt_recv_nb(s, &m), UHOMA_ERR_SHUTDOWN);
	uhoma_close(s);
	uhoma_stack_destroy(a);
	uhoma_memnet_destroy(net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(dead_peer__client_times_out),
		UH_TEST(restart__rpc_unknown_recovers),
		UH_TEST(bind__moved_client_never_reruns_a_request),
		UH_TEST(shutdown__rpcs_in_every_state),
		UH_TEST(pool__full_region_waits_then_completes),
		UH_TEST(many_rpcs__walk_keeps_timeouts_and_resends),
		UH_TEST(live_server__confirmed_rpcs_probed_less),
		UH_TEST(slow_taker__complete_responses_acked_on_request),
		UH_TEST(behind_server__stale_resends_ignored),
		UH_TEST(no_region__clients_fail_not_wait),
		UH_TEST(late_region__early_requests_served),
		UH_TEST(no_region__shutdown_says_shutdown),
	};
	int rc;

	msgbuf = malloc(UHOMA_MAX_MESSAGE);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(msgbuf);
	return rc;
}
