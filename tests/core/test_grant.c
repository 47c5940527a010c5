/*
 * test_grant.c - the receiver's SRPT grant manager (grant.c), through the
 * core alone: a long message is granted a window ahead of what arrived,
 * the slots go to the messages with the fewest bytes left (not the
 * shortest, not the oldest), max_overcommit and max_incoming bound the
 * grants, freed headroom goes to the best waiting message, grants carry
 * rank-based priorities that the sender then uses, and a message that
 * finishes or dies leaves the manager (its slot, its bytes, its
 * reference).
 *
 * The server is a real stack at 10.0.0.2; its clients at 10.0.0.3 and up
 * are played with hand-built DATA, and the GRANTs they are sent wait on
 * the queue for the test to read. tests/unit/test_sched.c covers eviction
 * by a newcomer, one active message per peer, completion promoting the
 * next, the FIFO share and the max_incoming bound over rounds; these tests
 * look at other edges.
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
#define CLI_PORT 5000
#define PAYLOAD 1424            /* DATA bytes per packet: 1480 - 56 */

static int64_t total_incoming(struct ct_host *h)
{
	return atomic_load(&h->st->grant.total_incoming);
}

/* Bytes [@lo, @hi) of that request in whole packets. */
static void request_range(struct ct_host *h, int from, uint64_t cid,
			  uint32_t len, uint32_t lo, uint32_t hi,
			  uint32_t incoming)
{
	for (uint32_t off = lo; off < hi; off += PAYLOAD)
		ct_request_data(h, from, cid, len, off,
				hi - off < PAYLOAD ? hi - off : PAYLOAD, incoming);
}

/* The last queued GRANT to 10.0.0.@to (its header in *@h, its packet's
 * index returned), or -1. */
static long last_grant(const struct ct_net *net, int to, struct uh_hdr *h)
{
	struct uh_addr a = ct_addr(to);
	long found = -1;

	for (size_t i = 0; i < net->nq; i++)
		if (uh_addr_eq(&net->q[i].dst, &a) &&
		    ct_hdr(net, i).type == UH_PKT_GRANT) {
			found = (long)i;
			if (h)
				*h = ct_hdr(net, i);
		}
	return found;
}

static size_t grants_to(const struct ct_net *net, int to)
{
	struct uh_addr a = ct_addr(to);
	size_t n = 0;

	for (size_t i = 0; i < net->nq; i++)
		if (uh_addr_eq(&net->q[i].dst, &a) &&
		    ct_hdr(net, i).type == UH_PKT_GRANT)
			n++;
	return n;
}

/*
 * A message longer than its unscheduled bytes is granted as soon as it
 * arrives, a window ahead of what it received (max_incoming / (active + 1)
 * by default), and the grant slides with each packet. One that fits its
 * unscheduled bytes never enters the manager, and one whose whole length
 * is granted leaves it (by its next packet: the manager looks at a
 * message when its data arrives). Without grants a long message would
 * stop after its unscheduled bytes.
 */
static void grant__long_message_granted_window_ahead(void **state)
{
	struct ct_net net;
	struct ct_host *b;
	struct uh_hdr h;

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, NULL);           /* max_incoming 400000 */
	ct_sock(b, SRV_PORT);
	/* 30 KB, all unscheduled: no grant, not managed. */
	request_range(b, 3, 1000, 30000, 0, 30000, 30000);
	assert_int_equal(ct_count(&net, UH_PKT_GRANT), 0);
	assert_int_equal(uh_grant_count(b->st), 0);
	/* 1 MB: granted 200000 past the first packet, at once. */
	ct_request_data(b, 4, 1000, 1000000, 0, PAYLOAD, 40000);
	assert_true(last_grant(&net, 4, &h) >= 0);
	assert_true(h.sender_id == 1001);
	assert_int_equal(h.u.grant.offset, PAYLOAD + 200000);
	assert_int_equal(h.u.grant.priority, 0);   /* alone: the lowest */
	assert_int_equal(uh_grant_count(b->st), 1);
	ct_clear(&net);
	ct_request_data(b, 4, 1000, 1000000, PAYLOAD, PAYLOAD, 40000);
	assert_int_equal(grants_to(&net, 4), 1);
	assert_true(last_grant(&net, 4, &h) >= 0);
	assert_int_equal(h.u.grant.offset, 2 * PAYLOAD + 200000);
	ct_clear(&net);
	/* 120 KB, second of two active (window 400000 / 3): granted whole
	 * at once, and out of the manager by its next packet. */
	ct_request_data(b, 5, 1000, 120000, 0, PAYLOAD, 40000);
	assert_true(last_grant(&net, 5, &h) >= 0);
	assert_int_equal(h.u.grant.offset, 120000);
	ct_request_data(b, 5, 1000, 120000, PAYLOAD, PAYLOAD, 40000);
	assert_int_equal(grants_to(&net, 5), 1);
	assert_int_equal(uh_grant_count(b->st), 1);
	ct_net_free(&net);
}

/*
 * max_incoming below one packet (1,000, the least the configuration
 * allows, against 1,424-byte packets): with nothing else outstanding a
 * message is still granted a packet at a time, and so completes. The
 * manager used to wait for headroom of a whole packet, which never came:
 * the message stalled for good, kept alive by BUSYs (helper-29).
 */
static void grant__max_incoming_below_a_packet_still_grants(void **state)
{
	struct ct_net net;
	struct ct_host *b;
	struct uh_hdr h;
	uint32_t got = 2 * PAYLOAD;

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, "max_incoming=1000");
	ct_sock(b, SRV_PORT);
	request_range(b, 3, 1000, 10 * PAYLOAD, 0, got, got);
	assert_true(last_grant(&net, 3, &h) >= 0);
	assert_int_equal(h.u.grant.offset, got + PAYLOAD);
	/* Each granted packet that arrives draws the next grant. */
	while (got < 10 * PAYLOAD) {
		ct_clear(&net);
		request_range(b, 3, 1000, 10 * PAYLOAD, got, got + PAYLOAD,
			      2 * PAYLOAD);
		got += PAYLOAD;
		if (got < 10 * PAYLOAD) {
			assert_true(last_grant(&net, 3, &h) >= 0);
			assert_int_equal(h.u.grant.offset, got + PAYLOAD);
		}
	}
	assert_int_equal(uh_grant_count(b->st), 0);
	assert_true(total_incoming(b) == 0);
	ct_net_free(&net);
}

/*
 * SRPT ranks by bytes still to receive, not by length: a 300 KB message
 * with 50 KB left keeps its slot against a fresh 100 KB one, and loses it
 * to a 45 KB one. Ranking by length would starve messages that are nearly
 * done, the opposite of shortest-remaining-first.
 */
static void grant__srpt_by_remaining_not_length(void **state)
{
	struct ct_net net;
	struct ct_host *b;

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, "max_overcommit=1,window=10000");
	ct_sock(b, SRV_PORT);
	request_range(b, 3, 1000, 300000, 0, 250000, 10000);
	assert_true(grants_to(&net, 3) > 0);
	ct_clear(&net);
	/* 100 KB fresh: 98576 left against 50000: queued. */
	ct_request_data(b, 4, 1000, 100000, 0, PAYLOAD, 10000);
	assert_int_equal(grants_to(&net, 4), 0);
	assert_int_equal(ct_metric(b, UH_M_GRANT_EVICTIONS), 0);
	assert_int_equal(uh_grant_count(b->st), 2);
	ct_request_data(b, 3, 1000, 300000, 250000, PAYLOAD, 10000);
	assert_int_equal(grants_to(&net, 3), 1);     /* still granted */
	ct_clear(&net);
	/* 45 KB fresh: 43576 left against 48576: takes the slot. */
	ct_request_data(b, 5, 1000, 45000, 0, PAYLOAD, 10000);
	assert_int_equal(ct_metric(b, UH_M_GRANT_EVICTIONS), 1);
	assert_int_equal(grants_to(&net, 5), 1);
	ct_clear(&net);
	ct_request_data(b, 3, 1000, 300000, 250000 + PAYLOAD, PAYLOAD, 10000);
	ct_request_data(b, 4, 1000, 100000, PAYLOAD, PAYLOAD, 10000);
	assert_int_equal(grants_to(&net, 3), 0);
	assert_int_equal(grants_to(&net, 4), 0);
	assert_int_equal(uh_grant_count(b->st), 3);
	ct_net_free(&net);
}

/*
 * At most max_overcommit messages are granted to at once, and they are the
 * ones with the fewest bytes left, whatever the order they came in: six
 * messages arriving longest first leave the three shortest active. More
 * active messages than that would split the link too thin for any to
 * finish soon.
 */
static void grant__overcommit_bounds_active(void **state)
{
	struct ct_net net;
	struct ct_host *b;

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, "max_overcommit=3,window=10000");
	ct_sock(b, SRV_PORT);
	/* 10.0.0.3: 600 KB ... 10.0.0.8: 100 KB. */
	for (int p = 3; p <= 8; p++)
		ct_request_data(b, p, 1000, (uint32_t)(9 - p) * 100000, 0,
				PAYLOAD, PAYLOAD);
	assert_int_equal(atomic_load(&b->st->grant.num_active), 3);
	assert_int_equal(uh_grant_count(b->st), 6);
	assert_int_equal(ct_metric(b, UH_M_GRANT_EVICTIONS), 3);
	ct_clear(&net);
	for (int p = 3; p <= 8; p++)
		ct_request_data(b, p, 1000, (uint32_t)(9 - p) * 100000, PAYLOAD,
				PAYLOAD, PAYLOAD);
	for (int p = 3; p <= 5; p++)
		assert_int_equal(grants_to(&net, p), 0);
	for (int p = 6; p <= 8; p++)
		assert_int_equal(grants_to(&net, p), 1);
	ct_net_free(&net);
}

/*
 * Granted-but-unreceived bytes never exceed max_incoming: messages that
 * would pass it wait ("needy"). When a message dies, its granted bytes are
 * freed, and the headroom goes to the needy message with the fewest bytes
 * left -- not to the one that waited longest. Leaking a dead message's
 * bytes would shrink max_incoming for good.
 */
static void grant__freed_headroom_goes_to_best_needy(void **state)
{
	static const uint32_t len[] = { 500000, 600000, 650000, 800000,
					700000 };
	struct ct_net net;
	struct ct_host *b;
	struct uh_hdr h, u;

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, "max_incoming=30000,window=10000");
	ct_sock(b, SRV_PORT);
	/* 10.0.0.3..5 take 10000 each; 6 (800 KB, older) and 7 (700 KB)
	 * find no headroom. */
	for (int p = 3; p <= 7; p++) {
		ct_request_data(b, p, 1000, len[p - 3], 0, PAYLOAD, PAYLOAD);
		assert_true(total_incoming(b) <= 30000);
	}
	assert_int_equal(total_incoming(b), 30000);
	for (int p = 3; p <= 5; p++)
		assert_int_equal(grants_to(&net, p), 1);
	assert_int_equal(grants_to(&net, 6), 0);
	assert_int_equal(grants_to(&net, 7), 0);
	ct_clear(&net);
	/* 10.0.0.4's client forgets its request: it dies. */
	memset(&u, 0, sizeof(u));
	u.type = UH_PKT_RPC_UNKNOWN;
	u.sport = CLI_PORT;
	u.dport = SRV_PORT;
	u.sender_id = 1000;
	ct_inject(b, 4, &u, NULL, 0);
	assert_int_equal(uh_grant_count(b->st), 4);
	assert_true(last_grant(&net, 7, &h) >= 0);
	assert_int_equal(h.u.grant.offset, PAYLOAD + 10000);
	assert_int_equal(grants_to(&net, 6), 0);
	assert_int_equal(total_incoming(b), 30000);
	assert_true(ct_metric(b, UH_M_NEEDY_GRANTS) >= 1);
	ct_net_free(&net);
}

/*
 * Each GRANT carries the priority of its message's rank among the active
 * ones: with five active and scheduled levels 0..3, the shortest is
 * granted at 3, then 2, 1, and the rest at 0. The priority is what lets
 * the network serve the shortest message first.
 */
static void grant__priority_follows_rank(void **state)
{
	static const uint8_t want[] = { 3, 2, 1, 0, 0 };
	struct ct_net net;
	struct ct_host *b;

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, "window=10000");
	ct_sock(b, SRV_PORT);
	for (int p = 3; p <= 7; p++)           /* 100 KB ... 500 KB */
		ct_request_data(b, p, 1000, (uint32_t)(p - 2) * 100000, 0,
				PAYLOAD, PAYLOAD);
	assert_int_equal(atomic_load(&b->st->grant.num_active), 5);
	ct_clear(&net);
	for (int p = 7; p >= 3; p--)            /* longest first */
		ct_request_data(b, p, 1000, (uint32_t)(p - 2) * 100000, PAYLOAD,
				PAYLOAD, PAYLOAD);
	for (int p = 3; p <= 7; p++) {
		struct uh_hdr h;
		long i = last_grant(&net, p, &h);

		assert_true(i >= 0);
		assert_int_equal(h.u.grant.priority, want[p - 3]);
		/* Control packets travel at the top level anyway. */
		assert_int_equal(net.q[i].priority, 7);
	}
	/* The formula itself, for few active messages: lowest levels. */
	assert_int_equal(uh_grant_priority(&b->st->grant, 0, 1), 0);
	assert_int_equal(uh_grant_priority(&b->st->grant, 0, 2), 1);
	assert_int_equal(uh_grant_priority(&b->st->grant, 1, 2), 0);
	assert_int_equal(uh_grant_priority(&b->st->grant, 0, 4), 3);
	ct_net_free(&net);
}

/*
 * End to end: the sender sends scheduled bytes at the priority of the
 * latest GRANT for them, and unscheduled bytes at the unscheduled one;
 * two messages granted at different ranks reach the receiver whole.
 */
static void grant__sender_uses_granted_priority(void **state)
{
	enum { MAXSEG = 512 };
	struct ct_net net;
	struct ct_host *a, *b;
	struct uhoma_sock *cli, *srv;
	uint64_t ids[2];
	/* Per message: the grants seen, as ranges [end[i-1], end[i]) of
	 * offsets first granted at prio[i]. */
	static uint32_t end[2][MAXSEG];
	static uint8_t prio[2][MAXSEG];
	unsigned nseg[2] = { 0, 0 }, used[2][8];
	struct uh_addr to_b = ct_addr(2);

	(void)state;
	memset(used, 0, sizeof(used));
	ct_net_init(&net);
	a = ct_host(&net, 1, NULL);
	b = ct_host(&net, 2, "window=30000");
	srv = ct_sock(b, SRV_PORT);
	cli = ct_sock(a, 0);
	ids[0] = ct_send(cli, 2, SRV_PORT, 200000, 1, false);
	ids[1] = ct_send(cli, 2, SRV_PORT, 300000, 2, false);
	while (net.nq) {
		struct uh_hdr h = ct_hdr(&net, 0);
		int k;

		if (h.type == UH_PKT_GRANT) {
			k = (h.sender_id ^ 1) == ids[0] ? 0 : 1;
			assert_true((h.sender_id ^ 1) == ids[k]);
			if (h.u.grant.offset >
			    (nseg[k] ? end[k][nseg[k] - 1] : 40000)) {
				assert_true(nseg[k] < MAXSEG);
				end[k][nseg[k]] = h.u.grant.offset;
				prio[k][nseg[k]++] = h.u.grant.priority;
			}
		} else if (h.type == UH_PKT_DATA &&
			   uh_addr_eq(&net.q[0].dst, &to_b)) {
			k = h.sender_id == ids[0] ? 0 : 1;
			assert_true(h.sender_id == ids[k]);
			if (h.u.data.offset >= 40000) {
				/* Sent when the grant covering it came. */
				unsigned i = 0;

				while (i < nseg[k] &&
				       end[k][i] <= h.u.data.offset)
					i++;
				assert_true(i < nseg[k]);
				assert_int_equal(net.q[0].priority,
						 prio[k][i]);
				used[k][prio[k][i]]++;
			} else {
				assert_true(net.q[0].priority >= 4);
			}
		}
		ct_deliver(&net, 1);
	}
	/* Both ranks were used: the shorter message at the higher level. */
	assert_true(used[0][1] > 0);
	assert_true(used[1][0] > 0);
	{
		struct uhoma_msg m;
		int rc;

		for (int k = 0; k < 2; k++) {
			assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
			assert_int_equal(rc, k ? 300000 : 200000);
			assert_true(ct_check(srv, &m, (size_t)rc,
					     (unsigned)k + 1));
			ct_release(srv, &m);
		}
	}
	assert_int_equal(uh_grant_count(b->st), 0);
	assert_int_equal(total_incoming(b), 0);
	ct_net_free(&net);
}

/*
 * A message leaves the manager when it dies or finishes: its slot goes to
 * the queued message with the fewest bytes left (not the first queued),
 * its bytes leave total_incoming, and the manager's reference goes with it
 * (a dead message is then reaped). A dead message left in a slot would
 * block the slot forever and leak its RPC.
 */
static void grant__dead_or_finished_message_leaves(void **state)
{
	struct ct_net net;
	struct ct_host *b;
	struct uhoma_sock *srv;
	struct uhoma_msg m;
	struct uh_hdr u;
	int rc;

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, "max_overcommit=1,window=10000");
	srv = ct_sock(b, SRV_PORT);
	ct_request_data(b, 3, 1000, 100000, 0, PAYLOAD, PAYLOAD);
	ct_request_data(b, 4, 1000, 200000, 0, PAYLOAD, PAYLOAD);
	ct_request_data(b, 5, 1000, 150000, 0, PAYLOAD, PAYLOAD);
	assert_int_equal(uh_grant_count(b->st), 3);
	assert_int_equal(grants_to(&net, 4) + grants_to(&net, 5), 0);
	ct_clear(&net);
	/* The active one dies: the best queued one is granted. */
	memset(&u, 0, sizeof(u));
	u.type = UH_PKT_RPC_UNKNOWN;
	u.sport = CLI_PORT;
	u.dport = SRV_PORT;
	u.sender_id = 1000;
	ct_inject(b, 3, &u, NULL, 0);
	assert_int_equal(uh_grant_count(b->st), 2);
	assert_int_equal(grants_to(&net, 5), 1);
	assert_int_equal(grants_to(&net, 4), 0);
	assert_int_equal(total_incoming(b), 10000);
	assert_int_equal(ct_metric(b, UH_M_RPCS_REAPED), 0);
	ct_tick(&net);
	assert_int_equal(ct_metric(b, UH_M_RPCS_REAPED), 1);
	ct_clear(&net);
	/* It finishes: the last one is granted. */
	request_range(b, 5, 1000, 150000, PAYLOAD, 150000, PAYLOAD);
	assert_int_equal(uh_grant_count(b->st), 1);
	assert_int_equal(grants_to(&net, 4), 1);
	ct_clear(&net);
	/* That one finishes too: nothing is left to grant to. */
	request_range(b, 4, 1000, 200000, PAYLOAD, 200000, PAYLOAD);
	assert_int_equal(uh_grant_count(b->st), 0);
	assert_int_equal(total_incoming(b), 0);
	assert_int_equal(atomic_load(&b->st->grant.num_active), 0);
	for (int k = 0; k < 2; k++) {
		assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
		assert_int_equal(rc, k ? 200000 : 150000);
		ct_release(srv, &m);
	}
	ct_net_free(&net);
}

/*
 * Forged first packets (helper-17): 30 "senders" each claim a 1 MB message
 * with 40 KB unscheduled and send one packet. Their claims hold no grant
 * headroom (bytes a sender says it will send unasked count once they
 * arrive), and what we grant them stops counting once they stay silent
 * past resend_ticks: a real 120 KB request arriving among them is granted
 * whole within a resend interval, not after their timeout (100 ticks),
 * when about ten such packets a second had stopped every grant.
 */
static void grant__forged_claims_do_not_starve_real_messages(void **state)
{
	struct ct_net net;
	struct ct_host *b;
	struct uh_hdr h;
	uint32_t sent = 40000;
	int ticks = 0;

	(void)state;
	ct_net_init(&net);
	b = ct_host(&net, 2, NULL);           /* max_incoming 400000 */
	ct_sock(b, SRV_PORT);
	for (int p = 10; p < 40; p++) {
		ct_request_data(b, p, 1000, 1000000, 0, PAYLOAD, 40000);
		assert_true(total_incoming(b) <= 400000);
	}
	ct_clear(&net);
	request_range(b, 3, 1000, 120000, 0, sent, 40000);
	/* The real sender sends whatever it is granted, at once. */
	while (sent < 120000 && ticks <= (int)b->st->cfg.resend_ticks + 1) {
		if (last_grant(&net, 3, &h) >= 0 && h.u.grant.offset > sent) {
			request_range(b, 3, 1000, 120000, sent,
				      h.u.grant.offset, 40000);
			sent = h.u.grant.offset;
		} else {
			ct_tick(&net);
			ticks++;
		}
		assert_true(total_incoming(b) <= 400000);
	}
	assert_int_equal(sent, 120000);
	ct_net_free(&net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(grant__long_message_granted_window_ahead),
		UH_TEST(grant__max_incoming_below_a_packet_still_grants),
		UH_TEST(grant__srpt_by_remaining_not_length),
		UH_TEST(grant__overcommit_bounds_active),
		UH_TEST(grant__freed_headroom_goes_to_best_needy),
		UH_TEST(grant__priority_follows_rank),
		UH_TEST(grant__sender_uses_granted_priority),
		UH_TEST(grant__dead_or_finished_message_leaves),
		UH_TEST(grant__forged_claims_do_not_starve_real_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
