/*
 * test_timer.c - the core's clock-driven work (timer.c, twheel.c), driven
 * by the test's clock alone: RESENDs after resend_ticks of silence and not
 * before, timeouts after timeout_ticks (a client RPC fails with
 * UHOMA_ERR_TIMEDOUT, a server RPC ends), a packet restarting the silence,
 * the NEED_ACK schedule and its back-off, probes of a message that waits
 * for a grant and of the client of a response that waits for one, the
 * count uh_stack_tick returns, and reaping by the tick.
 *
 * Peers that do not exist as hosts (10.0.0.3 and up, or a missing 10.0.0.2)
 * are played by the test: their packets are built by hand (ct_inject), and
 * what the stack sends them stays on the queue for the test to read until
 * a delivery makes it vanish.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/sock.h"
#include "coretest.h"
#include "testutil.h"

#define SRV_PORT 80
#define CLI_PORT 5000           /* the port a played client sends from */
#define PAYLOAD 1424            /* DATA bytes per packet: 1480 - 56 */

/* Feeds @h the bytes [@lo, @hi) of that request, in whole packets. */
static void request_range(struct ct_host *h, int from, uint64_t cid,
			  uint32_t len, uint32_t lo, uint32_t hi,
			  uint32_t incoming)
{
	for (uint32_t off = lo; off < hi; off += PAYLOAD)
		ct_request_data(h, from, cid, len, off,
				hi - off < PAYLOAD ? hi - off : PAYLOAD, incoming);
}

/* A header-only packet @type from the client played at 10.0.0.@from about
 * its RPC @cid. */
static void client_ctl(struct ct_host *h, int from, uint8_t type,
		       uint64_t cid)
{
	ct_inject_ctl(h, from, type, CLI_PORT, SRV_PORT, cid);
}

/* Queued packets of @type to 10.0.0.@to. */
static size_t count_to(const struct ct_net *net, uint8_t type, int to)
{
	struct uh_addr a = ct_addr(to);
	size_t n = 0;

	for (size_t i = 0; i < net->nq; i++)
		if (uh_addr_eq(&net->q[i].dst, &a) &&
		    ct_hdr(net, i).type == type)
			n++;
	return n;
}

/* The first queued packet of @type, or -1. */
static long find_type(const struct ct_net *net, uint8_t type)
{
	for (size_t i = 0; i < net->nq; i++)
		if (ct_hdr(net, i).type == type)
			return (long)i;
	return -1;
}

/* ct_tick, returning what @h's uh_stack_tick returned. */
static uint64_t tick_ret(struct ct_net *net, struct ct_host *h)
{
	uint64_t r = 0;

	ct_now_ns += (uint64_t)h->st->cfg.tick_us * 1000;
	for (int n = 1; n <= CT_MAX_HOSTS; n++) {
		uint64_t v;

		if (!net->hosts[n])
			continue;
		v = uh_stack_tick(net->hosts[n]->st);
		if (net->hosts[n] == h)
			r = v;
	}
	return r;
}

/*
 * A client whose request drew no answer asks with RESEND(0, -1) after
 * exactly resend_ticks of silence, and again every resend_interval -- not
 * one tick earlier. Too early floods a server that is merely slow; too
 * late (or never) turns a lost request into a timeout. Non-default values
 * show the configuration is what the timer reads.
 */
static void timer__client_resend_after_resend_ticks_not_before(void **state)
{
	struct ct_net net;
	struct ct_host *a;
	struct uhoma_sock *cli;
	uint64_t id;
	unsigned seen[4], nseen = 0;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, "resend_ticks=7,resend_interval=3");
	cli = ct_sock(a, 0);
	id = ct_send(cli, 2, SRV_PORT, 100, 1, false);   /* nobody there */
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 1);
	ct_clear(&net);                                  /* lost */
	for (unsigned t = 1; t <= 13; t++) {
		long i;

		ct_tick(&net);
		assert_true(ct_count(&net, UH_PKT_RESEND) <= 1);
		i = find_type(&net, UH_PKT_RESEND);
		if (i >= 0) {
			struct uh_hdr h = ct_hdr(&net, (size_t)i);

			assert_true(h.sender_id == id);
			assert_int_equal(h.u.resend.offset, 0);
			assert_int_equal(h.u.resend.length, UH_RESEND_ALL);
			assert_int_equal(h.dport, SRV_PORT);
			/* Control packets go at the highest priority. */
			assert_int_equal(net.q[i].priority, 7);
			seen[nseen++] = t;
		}
		ct_clear(&net);
	}
	assert_int_equal(nseen, 3);
	assert_int_equal(seen[0], 7);
	assert_int_equal(seen[1], 10);
	assert_int_equal(seen[2], 13);
	ct_net_free(&net);
}

/* The peer 10.0.0.2 of host @a, its estimates (created if needed). */
static struct uh_peer *peer_of(struct ct_host *a)
{
	struct uh_addr addr;
	struct uh_peer *p;

	assert_int_equal(uh_addr_parse("10.0.0.2", &addr), 0);
	p = uh_peer_get(&a->st->peers, &addr, 0);
	assert_non_null(p);
	uh_peer_put(p);         /* the client RPC keeps it */
	return p;
}

/*
 * A server that has taken 40 ticks to answer this port gets 43 ticks of
 * silence before the first RESEND of a lost request (40 and the
 * estimator's floor of its deviation, 3), and the timeout moves by as
 * much (43 - 5 past timeout_ticks). Its answers to other
 * RPCs coming fast meanwhile (the estimate shrinking) move neither back:
 * before, the next look re-read the estimate and the request timed out at
 * timeout_ticks, never probed (helper-26). Another port of the same host
 * has learned nothing: the usual schedule.
 */
static void timer__learned_wait_kept_until_probed(void **state)
{
	struct ct_net net;
	struct ct_host *a;
	struct uhoma_sock *cli;
	struct uh_peer *peer;
	unsigned first = 0, other_first = 0;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, NULL);
	cli = ct_sock(a, 0);
	peer = peer_of(a);
	for (int i = 0; i < 30; i++)
		uh_delay_sample(uh_peer_resp_delay(peer, SRV_PORT), 40);
	assert_int_equal(uh_delay_bound(uh_peer_resp_delay(peer, SRV_PORT),
					100), 43);
	assert_int_equal(uh_delay_bound(uh_peer_resp_delay(peer,
							   SRV_PORT + 1),
					100), 0);
	(void)ct_send(cli, 2, SRV_PORT, 100, 1, false);
	(void)ct_send(cli, 2, SRV_PORT + 1, 100, 2, false);
	ct_clear(&net);                                  /* both lost */
	for (unsigned t = 1; t <= 150; t++) {
		ct_tick(&net);
		if (t == 10)    /* now it answers within a tick */
			for (int i = 0; i < 60; i++)
				uh_delay_sample(
					uh_peer_resp_delay(peer, SRV_PORT), 0);
		for (size_t i = 0; i < net.nq; i++) {
			struct uh_hdr h = ct_hdr(&net, i);

			if (h.type != UH_PKT_RESEND)
				continue;
			if (h.dport == SRV_PORT && !first)
				first = t;
			if (h.dport == SRV_PORT + 1 && !other_first)
				other_first = t;
		}
		ct_clear(&net);
		/* The other port's RPC timed out at 100, this one at
		 * 100 + 38. */
		if (t == 100 || t == 137)
			assert_int_equal(ct_metric(a, UH_M_RPC_TIMEOUTS), 1);
		if (t == 138)
			assert_int_equal(ct_metric(a, UH_M_RPC_TIMEOUTS), 2);
	}
	assert_int_equal(other_first, 5);
	assert_int_equal(first, 43);
	ct_net_free(&net);
}

/*
 * Any DATA from the sender restarts the silence: a request with a gap
 * draws its RESEND resend_ticks after the sender's LAST packet, not after
 * its first. Measuring from anything else would ask for data that is
 * still arriving. The RESEND asks for what is missing: the gap first.
 */
static void timer__packet_restarts_silence(void **state)
{
	struct ct_net net;
	struct ct_host *b;
	const uint64_t cid = 1000;
	const uint32_t len = 10000;
	long i;

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, NULL);                 /* resend_ticks 5 */
	ct_sock(b, SRV_PORT);
	ct_request_data(b, 3, cid, len, 0, PAYLOAD, len);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_INCOMING), 1);
	for (int t = 1; t <= 3; t++)
		ct_tick(&net);
	/* Tick 3: the third packet; the second is missing. */
	ct_request_data(b, 3, cid, len, 2 * PAYLOAD, PAYLOAD, len);
	for (int t = 4; t <= 7; t++) {
		ct_tick(&net);
		/* Tick 5 would be resend_ticks after the first packet. */
		assert_int_equal(ct_count(&net, UH_PKT_RESEND), 0);
	}
	ct_tick(&net);                              /* tick 8 */
	i = find_type(&net, UH_PKT_RESEND);
	assert_true(i >= 0);
	{
		struct uh_hdr h = ct_hdr(&net, (size_t)i);

		assert_true(h.sender_id == (cid | 1));
		assert_int_equal(h.u.resend.offset, PAYLOAD);
		assert_int_equal(h.u.resend.length, PAYLOAD);
	}
	assert_int_equal(count_to(&net, UH_PKT_RESEND, 3),
			 ct_count(&net, UH_PKT_RESEND));
	ct_net_free(&net);
}

/*
 * A client RPC whose server stays silent fails with UHOMA_ERR_TIMEDOUT
 * after exactly timeout_ticks, is handed to the application once, and
 * leaves the timer. Earlier would fail RPCs of a slow server; never would
 * hang the application forever.
 */
static void timer__client_times_out_with_timedout(void **state)
{
	struct ct_net net;
	struct ct_host *a;
	struct uhoma_sock *cli;
	struct uhoma_msg m;
	uint64_t id;
	int rc = 0;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, "timeout_ticks=40");
	cli = ct_sock(a, 0);
	id = ct_send(cli, 2, SRV_PORT, 3000, 7, false);
	for (int t = 1; t < 40; t++) {
		assert_true(tick_ret(&net, a) == 1);
		ct_deliver(&net, 0);                    /* into the void */
		assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 0);
	}
	assert_int_equal(ct_metric(a, UH_M_RPC_TIMEOUTS), 0);
	/* Tick 40: timed out, and nothing left for the timer. */
	assert_true(tick_ret(&net, a) == 0);
	assert_int_equal(ct_metric(a, UH_M_RPC_TIMEOUTS), 1);
	assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 1);
	assert_int_equal(rc, UHOMA_ERR_TIMEDOUT);
	assert_true(m.id == id && m.cookie == 7);
	assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 0);
	ct_net_free(&net);
}

/*
 * A server RPC whose client went silent mid-request ends after exactly
 * timeout_ticks: it is not handed to the application, and its state is
 * gone. Its RESENDs meanwhile back off (gaps 5, 10, 20, 40 ticks): a
 * vanished client draws a handful of packets, not one per resend_interval.
 */
static void timer__server_rpc_ends_after_timeout(void **state)
{
	static const unsigned want[] = { 5, 10, 20, 40, 80 };
	struct ct_net net;
	struct ct_host *b;
	struct uhoma_sock *srv;
	struct uhoma_msg m;
	unsigned seen[8], nseen = 0;
	int rc;

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, NULL);       /* 5 / 5 / 100 ticks */
	srv = ct_sock(b, SRV_PORT);
	ct_request_data(b, 3, 1000, 10000, 0, PAYLOAD, 10000);
	for (unsigned t = 1; t < 100; t++) {
		ct_tick(&net);
		if (ct_count(&net, UH_PKT_RESEND)) {
			assert_true(nseen < 8);
			seen[nseen++] = t;
		}
		ct_clear(&net);
	}
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_INCOMING), 1);
	assert_int_equal(nseen, sizeof(want) / sizeof(want[0]));
	for (unsigned i = 0; i < nseen; i++)
		assert_int_equal(seen[i], want[i]);
	ct_tick(&net);                    /* tick 100 */
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_INCOMING), 0);
	assert_int_equal(ct_metric(b, UH_M_RPC_TIMEOUTS), 1);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 0);
	ct_net_free(&net);
}

/*
 * A server whose response is fully sent asks for the ACK with NEED_ACK
 * request_ack_ticks after it went out, then backs off (gaps 5, 10, 20, 40
 * ticks, capped at 16 resend intervals); a client silent past the timeout
 * ends the RPC. The module asks every tick; a server with thousands of
 * responses for an overloaded client would make a storm of its own.
 */
static void timer__need_ack_backs_off_then_times_out(void **state)
{
	static const unsigned want[] = { 3, 8, 18, 38, 78 };
	struct ct_net net;
	struct ct_host *b;
	struct uhoma_sock *srv;
	struct uhoma_msg m;
	unsigned seen[8], nseen = 0;
	int rc;

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, NULL);
	srv = ct_sock(b, SRV_PORT);
	ct_request_data(b, 3, 1000, 100, 0, 100, 100);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	ct_reply(srv, &m, 200, 1);        /* tick 0: the response goes */
	ct_release(srv, &m);
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 1);
	ct_clear(&net);
	for (unsigned t = 1; t < 100; t++) {
		long i;

		ct_tick(&net);
		i = find_type(&net, UH_PKT_NEED_ACK);
		if (i >= 0) {
			assert_true(ct_hdr(&net, (size_t)i).sender_id == 1001);
			assert_true(nseen < 8);
			seen[nseen++] = t;
		}
		ct_clear(&net);
	}
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 1);
	assert_int_equal(nseen, sizeof(want) / sizeof(want[0]));
	for (unsigned i = 0; i < nseen; i++)
		assert_int_equal(seen[i], want[i]);
	ct_tick(&net);                    /* tick 100 */
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 0);
	assert_int_equal(ct_metric(b, UH_M_RPC_TIMEOUTS), 1);
	ct_net_free(&net);
}

/*
 * A client that answers the NEED_ACK with an ACK ends the server RPC at
 * once: no more NEED_ACKs, no timeout. And a client that stays alive
 * (a RESEND for the response counts as a word from it) moves the timeout:
 * the server measures the silence from the client's last packet.
 */
static void timer__need_ack_answered_and_silence_restarted(void **state)
{
	struct ct_net net;
	struct ct_host *b;
	struct uhoma_sock *srv;
	struct uhoma_msg m;
	int rc;

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, NULL);
	srv = ct_sock(b, SRV_PORT);
	/* Two requests; both answered at tick 0. */
	ct_request_data(b, 3, 1000, 100, 0, 100, 100);
	ct_request_data(b, 3, 2000, 100, 0, 100, 100);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
		ct_reply(srv, &m, 200, 1);
		ct_release(srv, &m);
	}
	ct_clear(&net);
	for (int t = 1; t <= 3; t++)
		ct_tick(&net);
	assert_int_equal(ct_count(&net, UH_PKT_NEED_ACK), 2);
	ct_clear(&net);
	/* RPC 1000 is acknowledged; RPC 2000's client asks again at 60. */
	client_ctl(b, 3, UH_PKT_ACK, 1000);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 1);
	for (int t = 4; t <= 110; t++) {
		ct_tick(&net);
		if (t == 60) {
			struct uh_hdr h;

			memset(&h, 0, sizeof(h));
			h.type = UH_PKT_RESEND;
			h.sport = CLI_PORT;
			h.dport = SRV_PORT;
			h.sender_id = 2000;
			h.u.resend.offset = 0;
			h.u.resend.length = UH_RESEND_ALL;
			ct_inject(b, 3, &h, NULL, 0);
		}
		for (size_t i = 0; i < net.nq; i++)
			if (ct_hdr(&net, i).type == UH_PKT_NEED_ACK)
				assert_true(ct_hdr(&net, i).sender_id == 2001);
		ct_clear(&net);
	}
	/* Tick 100 is past RPC 2000's reply but not past its client's
	 * last word (tick 60). */
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 1);
	assert_int_equal(ct_metric(b, UH_M_RPC_TIMEOUTS), 0);
	/* (The client acknowledged RPC 1000 3 ticks after its reply, but
	 * RPC 2000's first NEED_ACK had gone out at tick 2: a wait is not
	 * moved once its probe is sent, nor its timeout.) */
	for (int t = 111; t <= 160; t++)
		ct_tick(&net);
	ct_clear(&net);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 0);
	assert_int_equal(ct_metric(b, UH_M_RPC_TIMEOUTS), 1);
	ct_net_free(&net);
}

/*
 * uh_stack_tick returns how many RPCs wait on a timer: 0 on an idle stack
 * (the runtime may then stop ticking), one per request awaiting its
 * response, none for requests the application is serving (nothing can time
 * out until the reply), again one per response awaiting its ACK, and 0
 * once every RPC has finished.
 */
static void timer__tick_counts_rpcs_waiting_on_timers(void **state)
{
	struct ct_net net;
	struct ct_host *a, *b;
	struct uhoma_sock *cli, *srv;
	struct uhoma_msg m[2];
	int rc;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, NULL);
	b = ct_host(&net, 2, NULL);
	srv = ct_sock(b, SRV_PORT);
	cli = ct_sock(a, 0);
	assert_true(tick_ret(&net, a) == 0 && tick_ret(&net, b) == 0);
	ct_send(cli, 2, SRV_PORT, 100, 1, false);
	ct_send(cli, 2, SRV_PORT, 5000, 2, false);
	ct_deliver(&net, 0);
	for (int k = 0; k < 2; k++)
		assert_int_equal(ct_take_msg(srv, 0, &m[k], &rc), 1);
	/* The server's RPCs leave the wheel at their first look (lazy
	 * deadlines: within resend_ticks); the client's stay. */
	for (int t = 0; t < 5; t++)
		tick_ret(&net, b);
	assert_true(tick_ret(&net, a) == 2);
	assert_true(tick_ret(&net, b) == 0);
	for (int k = 0; k < 2; k++) {
		ct_reply(srv, &m[k], 300, 3);
		ct_release(srv, &m[k]);
	}
	assert_true(tick_ret(&net, b) == 2);    /* waiting for ACKs */
	ct_deliver(&net, 0);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(ct_take_msg(cli, 0, &m[k], &rc), 1);
		ct_release(cli, &m[k]);
	}
	assert_true(tick_ret(&net, a) == 0);    /* received: done */
	/* NEED_ACK, then ACK: the server's RPCs end. */
	for (int t = 0; t < 10 && ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING); t++) {
		tick_ret(&net, b);
		ct_deliver(&net, 0);
	}
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 0);
	assert_true(tick_ret(&net, b) == 0);
	ct_net_free(&net);
}

/*
 * The tick reaps dead RPCs when nothing else does: reap_limit at a time,
 * and at least an eighth of a large backlog per tick, so a flood of RPCs
 * that ended together is freed within a few dozen ticks. A dead RPC that
 * someone still holds a reference to is never freed under them; it goes
 * once the reference is dropped.
 */
static void timer__tick_reaps_dead_rpcs(void **state)
{
	enum { N = 400 };
	struct ct_net net;
	struct ct_host *a;
	struct uhoma_sock *cli;
	struct uh_rpc *held;
	uint64_t first = 0;
	int64_t r1;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, "reap_limit=4");
	cli = ct_sock(a, 0);
	for (int i = 0; i < N; i++) {
		uint64_t id = ct_send(cli, 2, SRV_PORT, 100, 0, false);

		if (i == 0)
			first = id;
	}
	ct_clear(&net);
	held = uh_rpc_find_client(cli, first);     /* locked, referenced */
	assert_non_null(held);
	uh_rpc_unlock(held);                       /* keep the reference */
	assert_int_equal(uh_call_abort(cli, 0, 0), UHOMA_OK);
	assert_int_equal(ct_gauge(a, UHOMA_RPCS_DEAD), N);
	assert_int_equal(ct_metric(a, UH_M_RPCS_REAPED), 0);
	ct_tick(&net);
	r1 = ct_metric(a, UH_M_RPCS_REAPED);
	assert_true(r1 >= N / 8 && r1 < N / 8 + 4);
	for (int t = 0; t < 60; t++)
		ct_tick(&net);
	assert_int_equal(ct_metric(a, UH_M_RPCS_REAPED), N - 1);
	assert_int_equal(ct_gauge(a, UHOMA_RPCS_DEAD), 1);
	assert_int_equal(held->state, UH_RPC_DEAD);  /* still allocated */
	uh_rpc_put(held);
	ct_tick(&net);
	assert_int_equal(ct_metric(a, UH_M_RPCS_REAPED), N);
	assert_int_equal(ct_gauge(a, UHOMA_RPCS_DEAD), 0);
	ct_net_free(&net);
}

/*
 * A message that received every byte granted so far waits on us (the
 * grant manager chose another), so its sender's silence proves nothing:
 * the timer probes it with an empty RESEND at the granted offset, a
 * quarter of the timeout after the last word, and a live sender's BUSY
 * keeps it alive indefinitely -- while a message whose
 * sender owes data and stays silent times out as usual.
 */
static void timer__waiting_for_grant_probed_kept_alive(void **state)
{
	struct ct_net net;
	struct ct_host *b;
	const uint64_t short_id = 1000, long_id = 2000;
	unsigned probes = 0;

	(void)state;
	ct_net_init(&net);
	/* One grant slot, a small fixed window: the 200 KB message from
	 * 10.0.0.4 queues behind the 100 KB one from 10.0.0.3. */
	b = ct_host(&net, 2, "max_overcommit=1,window=10000");
	ct_sock(b, SRV_PORT);
	request_range(b, 3, short_id, 100000, 0, 40000, 40000);
	request_range(b, 4, long_id, 200000, 0, 40000, 40000);
	assert_int_equal(count_to(&net, UH_PKT_GRANT, 4), 0);
	ct_clear(&net);
	for (int t = 1; t < 100; t++) {
		ct_tick(&net);
		for (size_t i = 0; i < net.nq; i++) {
			struct uh_hdr h = ct_hdr(&net, i);
			struct uh_addr to4 = ct_addr(4);

			if (h.type != UH_PKT_RESEND ||
			    !uh_addr_eq(&net.q[i].dst, &to4))
				continue;
			/* A probe: asks for nothing, at the grant. */
			assert_int_equal(h.u.resend.length, 0);
			assert_int_equal(h.u.resend.offset, 40000);
			probes++;
			client_ctl(b, 4, UH_PKT_BUSY, long_id);
		}
		assert_int_equal(count_to(&net, UH_PKT_GRANT, 4), 0);
		ct_clear(&net);
	}
	/* Answered at each probe, it is probed each quarter of the timeout
	 * (25 ticks): 3 times in 99 ticks, and no more -- at each
	 * resend_interval (19 times) a few hundred waiting messages made a
	 * storm of probes and BUSYs that starved the transfers (helper-43). */
	assert_int_equal(probes, 3);
	assert_int_equal(ct_metric(b, UH_M_RPC_TIMEOUTS), 0);
	/* Tick 100: the silent one times out; the probed one lives, and
	 * takes the grant slot it leaves. */
	ct_tick(&net);
	assert_int_equal(ct_metric(b, UH_M_RPC_TIMEOUTS), 1);
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_INCOMING), 1);
	assert_true(count_to(&net, UH_PKT_GRANT, 4) >= 1);
	ct_net_free(&net);
}

/*
 * A response that waits for grants its client never sends: once every
 * granted byte is out the server probes the client with BUSY on its
 * backing-off schedule (a live client need not answer; a client that is
 * gone must be sent something its host can refuse with an ICMP port
 * unreachable, which ends the RPC at once -- the response's first packets
 * may have drawn none), sends no NEED_ACK (the response is not all out),
 * and ends the RPC only after ten timeouts of silence.
 */
static void timer__response_waiting_for_grants_probes_client(void **state)
{
	static const unsigned want[] = { 5, 10, 20, 40, 80, 160, 240 };
	struct ct_net net;
	struct ct_host *b;
	struct uhoma_sock *srv;
	struct uhoma_msg m;
	unsigned seen[8], nseen = 0;
	int rc;

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, NULL);       /* 40,000 unscheduled bytes */
	srv = ct_sock(b, SRV_PORT);
	ct_request_data(b, 3, 1000, 100, 0, 100, 100);
	assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
	ct_reply(srv, &m, 100000, 1);     /* tick 0: 40,000 bytes go */
	ct_release(srv, &m);
	assert_true(ct_count(&net, UH_PKT_DATA) >= 1);
	ct_clear(&net);
	for (unsigned t = 1; t <= 250; t++) {
		long i;

		ct_tick(&net);
		assert_int_equal(ct_count(&net, UH_PKT_DATA), 0);
		assert_int_equal(ct_count(&net, UH_PKT_NEED_ACK), 0);
		i = find_type(&net, UH_PKT_BUSY);
		if (i >= 0) {
			assert_int_equal(count_to(&net, UH_PKT_BUSY, 3), 1);
			assert_true(ct_hdr(&net, (size_t)i).sender_id == 1001);
			assert_true(nseen < 8);
			seen[nseen++] = t;
		}
		ct_clear(&net);
	}
	assert_int_equal(nseen, sizeof(want) / sizeof(want[0]));
	for (unsigned i = 0; i < nseen; i++)
		assert_int_equal(seen[i], want[i]);
	for (unsigned t = 251; t < 1000; t++) {
		ct_tick(&net);
		ct_clear(&net);
	}
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 1);
	assert_int_equal(ct_metric(b, UH_M_RPC_TIMEOUTS), 0);
	ct_tick(&net);                    /* tick 1000: ten timeouts */
	assert_int_equal(ct_gauge(b, UHOMA_RPCS_SERVER_OUTGOING), 0);
	assert_int_equal(ct_metric(b, UH_M_RPC_TIMEOUTS), 1);
	ct_net_free(&net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(timer__client_resend_after_resend_ticks_not_before),
		UH_TEST(timer__learned_wait_kept_until_probed),
		UH_TEST(timer__packet_restarts_silence),
		UH_TEST(timer__client_times_out_with_timedout),
		UH_TEST(timer__server_rpc_ends_after_timeout),
		UH_TEST(timer__need_ack_backs_off_then_times_out),
		UH_TEST(timer__need_ack_answered_and_silence_restarted),
		UH_TEST(timer__tick_counts_rpcs_waiting_on_timers),
		UH_TEST(timer__tick_reaps_dead_rpcs),
		UH_TEST(timer__waiting_for_grant_probed_kept_alive),
		UH_TEST(timer__response_waiting_for_grants_probes_client),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
