/*
 * test_pacer.c - the sender's pacer (pacer.c) on the test clock: with a
 * link rate set, packets beyond the allowed backlog are held back and
 * released as time advances, at the link's rate; held messages go
 * shortest-remaining first; short messages are never held; a message that
 * ends leaves the throttled set; and a paced message is never stranded.
 *
 * The core has no pacer thread: the runtime calls uh_pacer_run, and here
 * the test does, after moving ct_now_ns (nanoseconds; ct_tick's 1 ms steps
 * are far coarser than a packet's time on the wire). At link_mbps=1000 a
 * full DATA packet (1424 + 56 bytes, + 90 of framing) takes 12,685 ns, and
 * the backlog allowed is two full-MTU packets (25,694 ns).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/pacer.h"
#include "core/sock.h"
#include "coretest.h"
#include "testutil.h"

#define SRV_PORT 80
#define PKT_NS 12685            /* one full DATA packet at 1 Gbit/s */
#define BACKLOG_NS 25694        /* two 1500-byte MTU packets + framing */
#define UNSCHED_PKTS 29         /* 40000 bytes: 28 x 1424 + 128 */

/*
 * Without a link rate nothing is paced: a request's unscheduled bytes go
 * out at once. With one, only the backlog's worth goes (three packets:
 * the third still starts within the allowed 25.7 us) and the message is
 * throttled. This is the baseline the other tests stand on.
 */
static void pacer__backlog_limits_first_burst(void **state)
{
	struct ct_net net;
	struct ct_host *a, *b;
	struct uhoma_sock *ca, *cb;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, NULL);
	b = ct_host(&net, 2, "link_mbps=1000");
	ca = ct_sock(a, 0);
	cb = ct_sock(b, 0);
	assert_true(a->st->pacer.ps_per_byte == 0);
	ct_send(ca, 3, SRV_PORT, 100000, 1, false);
	assert_int_equal(ct_count(&net, UH_PKT_DATA), UNSCHED_PKTS);
	assert_int_equal(uh_pacer_throttled(a->st), 0);
	ct_clear(&net);
	ct_send(cb, 3, SRV_PORT, 100000, 1, false);
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 3);
	assert_int_equal(uh_pacer_throttled(b->st), 1);
	assert_int_equal(ct_metric(b, UH_M_THROTTLE_ADDS), 1);
	ct_net_free(&net);
}

/*
 * A throttled message is released exactly when the backlog has drained
 * enough -- uh_pacer_run says how long that is, sends nothing a nanosecond
 * early, and one packet then -- and from there at the link's rate: one
 * packet per 12.7 us, until its unscheduled bytes are all out. Releasing
 * early builds the queue the pacer exists to avoid; late wastes the link.
 */
static void pacer__releases_at_link_rate(void **state)
{
	struct ct_net net;
	struct ct_host *a;
	struct uhoma_sock *cli;
	uint64_t d, t0;
	size_t sent;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, "link_mbps=1000");
	cli = ct_sock(a, 0);
	ct_send(cli, 3, SRV_PORT, 100000, 1, false);
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 3);
	/* Three packets are on the link; the next may go when only the
	 * allowed backlog is left of them. */
	d = uh_pacer_run(a->st);
	assert_int_equal(d, 3 * PKT_NS - BACKLOG_NS);
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 3);
	ct_now_ns += d - 1;
	assert_true(uh_pacer_run(a->st) == 1);
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 3);
	ct_now_ns += 1;
	d = uh_pacer_run(a->st);
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 4);
	assert_true(d > PKT_NS - 100 && d <= PKT_NS);
	/* 200 us in 1 us steps: 200 / 12.685 = 15.8 packets. */
	t0 = ct_now_ns;
	for (int i = 0; i < 200; i++) {
		ct_now_ns += 1000;
		uh_pacer_run(a->st);
	}
	sent = ct_count(&net, UH_PKT_DATA) - 4;
	assert_true(sent >= (ct_now_ns - t0) / PKT_NS);
	assert_true(sent <= (ct_now_ns - t0) / PKT_NS + 1);
	/* Then the rest, and the pacer has nothing left. */
	for (int i = 0; i < 1000 && uh_pacer_throttled(a->st); i++) {
		ct_now_ns += 1000;
		uh_pacer_run(a->st);
	}
	assert_int_equal(ct_count(&net, UH_PKT_DATA), UNSCHED_PKTS);
	assert_int_equal(uh_pacer_throttled(a->st), 0);
	assert_true(uh_pacer_run(a->st) == 0);
	assert_true(ct_metric(a, UH_M_PACER_SENDS) >= UNSCHED_PKTS - 3);
	ct_net_free(&net);
}

/*
 * A retransmission is sent at once (the receiver is waiting for it), but
 * it takes the link like any packet, so the pacer counts it: after a
 * RESEND for a whole 4000-byte request (three packets: 1424, 1424 and 1152
 * bytes), the link is busy for exactly their time from now. Uncounted,
 * the next paced packets would go out on top of them, and a sender
 * answering RESENDs would overfill its NIC's queue by all it resent.
 */
static void pacer__resent_bytes_take_the_link(void **state)
{
	struct ct_net net;
	struct ct_host *a;
	struct uhoma_sock *cli;
	struct uh_hdr r;
	uint64_t id, idle;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, "link_mbps=1000");
	cli = ct_sock(a, 0);
	id = ct_send(cli, 3, SRV_PORT, 4000, 1, false);
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 3);
	/* Long enough that those packets are off the link and that a
	 * RESEND is not taken for a stale one; not so long that the client
	 * asks for its response (a packet on the link too). */
	for (unsigned t = 0; t + 1 < a->st->cfg.resend_ticks; t++)
		ct_tick(&net);
	ct_clear(&net);
	idle = atomic_load(&a->st->pacer.link_idle_ns);
	assert_true(idle < ct_now_ns);

	memset(&r, 0, sizeof(r));
	r.type = UH_PKT_RESEND;
	r.sport = SRV_PORT;
	r.dport = cli->port;
	r.sender_id = id | 1;
	r.u.resend.offset = 0;
	r.u.resend.length = 4000;
	r.u.resend.priority = 0;
	assert_false(ct_inject(a, 3, &r, NULL, 0));
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 3);
	/* (1424 + 56 + 90) x 8.08 ns twice, and (1152 + 56 + 90) x 8.08. */
	idle = atomic_load(&a->st->pacer.link_idle_ns);
	assert_int_equal(idle - ct_now_ns, 2 * PKT_NS + 10487);
	ct_net_free(&net);
}

/*
 * Held messages go out fewest-bytes-left first, re-ranked as they shrink:
 * requests of 105, 200 and 100 KB sent while a 300 KB one is held overtake
 * it, each whole, shortest first (100 KB before 105 KB, though they share
 * a bucket of the throttled set and came in the other order); the 300 KB
 * one goes last. Serving them in arrival order would make short messages
 * wait behind long ones -- what Homa's sender-side SRPT is for.
 */
static void pacer__srpt_order_on_the_wire(void **state)
{
	static const uint32_t lens[4] = { 300000, 105000, 200000, 100000 };
	static const int order[4] = { 3, 1, 2, 0 };
	struct ct_net net;
	struct ct_host *a;
	struct uhoma_sock *cli;
	uint64_t ids[4];
	unsigned n[4] = { 0, 0, 0, 0 };
	int at = 0;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, "link_mbps=1000,pacer_fifo_fraction=0");
	cli = ct_sock(a, 0);
	for (int k = 0; k < 4; k++)
		ids[k] = ct_send(cli, 3, SRV_PORT, lens[k], (unsigned)k,
				 false);
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 3);  /* the first's */
	assert_int_equal(uh_pacer_throttled(a->st), 4);
	ct_clear(&net);
	for (int i = 0; i < 10000 && uh_pacer_throttled(a->st); i++) {
		ct_now_ns += 1000;
		uh_pacer_run(a->st);
		while (net.nq) {
			struct uh_hdr h = ct_hdr(&net, 0);
			int k = 0;

			while (k < 3 && h.sender_id != ids[k])
				k++;
			assert_true(h.sender_id == ids[k]);
			/* Message order[at] until it is done, then the
			 * next: never interleaved. */
			if (k != order[at]) {
				assert_int_equal(n[order[at]], UNSCHED_PKTS);
				at++;
				assert_true(at < 4);
				assert_int_equal(k, order[at]);
			}
			n[k]++;
			ct_drop(&net, 0);
		}
	}
	assert_int_equal(at, 3);
	assert_int_equal(n[0], UNSCHED_PKTS - 3);
	for (int k = 1; k < 4; k++)
		assert_int_equal(n[k], UNSCHED_PKTS);
	assert_int_equal(ct_metric(a, UH_M_PACER_FIFO_SENDS), 0);
	ct_net_free(&net);
}

/*
 * A message with at most defer_min_bytes to send is never held back,
 * however full the backlog: a 500-byte request goes out at once while a
 * long one is throttled, and a 5000-byte one waits. Short messages are
 * most of the traffic and the ones latency matters for.
 */
static void pacer__short_message_not_held(void **state)
{
	struct ct_net net;
	struct ct_host *a;
	struct uhoma_sock *cli;
	uint64_t id;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, "link_mbps=1000");
	cli = ct_sock(a, 0);
	ct_send(cli, 3, SRV_PORT, 100000, 1, false);
	assert_int_equal(uh_pacer_throttled(a->st), 1);
	assert_true(uh_pacer_delay_ns(a->st) > 0);
	ct_clear(&net);
	id = ct_send(cli, 3, SRV_PORT, 500, 2, false);
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 1);
	assert_true(ct_hdr(&net, 0).sender_id == id);
	assert_int_equal(uh_pacer_throttled(a->st), 1);
	ct_clear(&net);
	ct_send(cli, 3, SRV_PORT, 5000, 3, false);
	assert_int_equal(ct_count(&net, UH_PKT_DATA), 0);
	assert_int_equal(uh_pacer_throttled(a->st), 2);
	ct_net_free(&net);
}

/*
 * A throttled message that ends (here, aborted) leaves the throttled set at
 * once: the pacer sends nothing more of it, and the set's reference goes
 * with it, so the dead RPC is reaped. Otherwise the pacer would transmit
 * for a dead RPC, or hold it in memory forever.
 */
static void pacer__ended_message_leaves_set(void **state)
{
	struct ct_net net;
	struct ct_host *a;
	struct uhoma_sock *cli;
	uint64_t id;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, "link_mbps=1000");
	cli = ct_sock(a, 0);
	id = ct_send(cli, 3, SRV_PORT, 100000, 1, false);
	assert_int_equal(uh_pacer_throttled(a->st), 1);
	ct_clear(&net);
	assert_int_equal(uh_call_abort(cli, id, 0), UHOMA_OK);
	assert_int_equal(uh_pacer_throttled(a->st), 0);
	ct_now_ns += 1000000;
	assert_true(uh_pacer_run(a->st) == 0);
	assert_int_equal(ct_count(&net, 0), 0);
	ct_tick(&net);
	assert_int_equal(ct_metric(a, UH_M_RPCS_REAPED), 1);
	ct_net_free(&net);
}

/*
 * Nothing is stranded: a 300 KB request paced at 1 Gbit/s -- throttled,
 * granted while throttled, sent by the pacer between grants -- reaches
 * its server whole, the pacer ends idle, and the transfer took at least
 * the link's time for its bytes (the whole message was paced, not only
 * its first burst).
 */
static void pacer__paced_message_delivered_whole(void **state)
{
	struct ct_net net;
	struct ct_host *a, *b;
	struct uhoma_sock *cli, *srv;
	struct uhoma_msg m;
	uint64_t t0, id;
	int rc = 0, got = 0;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, "link_mbps=1000");
	b = ct_host(&net, 2, NULL);
	srv = ct_sock(b, SRV_PORT);
	cli = ct_sock(a, 0);
	t0 = ct_now_ns;
	id = ct_send(cli, 2, SRV_PORT, 300000, 5, false);
	for (int i = 0; i < 100000 && !got; i++) {
		ct_now_ns += 2000;
		uh_pacer_run(a->st);
		ct_deliver(&net, 0);
		got = ct_take_msg(srv, 0, &m, &rc);
	}
	assert_int_equal(got, 1);
	assert_int_equal(rc, 300000);
	assert_true(m.id == (id | 1));
	assert_true(ct_check(srv, &m, 300000, 5));
	ct_release(srv, &m);
	assert_int_equal(uh_pacer_throttled(a->st), 0);
	assert_true(uh_pacer_run(a->st) == 0);
	/* 211 packets, each 12.7 us on the wire, less the three of the
	 * first burst that the backlog admits at once (the last packet
	 * goes 25.7 us of backlog before the link is idle). */
	assert_true(ct_now_ns - t0 >= (211ull - 4) * PKT_NS);
	assert_true(ct_metric(a, UH_M_THROTTLE_ADDS) > 1);
	ct_net_free(&net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(pacer__backlog_limits_first_burst),
		UH_TEST(pacer__releases_at_link_rate),
		UH_TEST(pacer__resent_bytes_take_the_link),
		UH_TEST(pacer__srpt_order_on_the_wire),
		UH_TEST(pacer__short_message_not_held),
		UH_TEST(pacer__ended_message_leaves_set),
		UH_TEST(pacer__paced_message_delivered_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
