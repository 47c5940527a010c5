/*
 * test_sched.c - the scheduling policies, white-box: the SRPT grant
 * manager (who is granted, in what order, at what priority; one active
 * message per peer first; the FIFO share; max_incoming) and the pacer
 * (backlog admission on a mocked clock; throttled-set order and its FIFO
 * share), and transmit deferral (granted data a polling thread leaves for
 * later: sent by slices in SRPT order, flushed, never stranded).
 *
 * A stack on a virtual-clock memnet that never runs, so nothing moves
 * unless the test moves it. DATA packets from invented peers are fed to
 * uh_stack_input(); everything the stack sends goes to a hook that decodes
 * it instead of to the network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/outgoing.h"
#include "core/peer.h"
#include "core/prio.h"
#include "core/stack.h"
#include "sync/rcu.h"
#include "net/memnet.h"
#include "util/clock.h"
#include "nettest.h"
#include "testutil.h"
#include "clientpkt.h"

#define MAX_PKTS 4096
#define PKT 1     /* data(): a full packet */

struct sent {
	uint8_t type, peer, prio;       /* peer: last byte of the address */
	uint64_t id;                    /* the RPC id on the wire (odd) */
	uint32_t offset, len;           /* len: DATA payload bytes */
};

static struct sent pkts[MAX_PKTS];
static unsigned npkts;

static void hook(void *arg, const struct uh_tx *t, unsigned n)
{
	(void)arg;
	for (unsigned i = 0; i < n && npkts < MAX_PKTS; i++) {
		uint8_t buf[70000];
		struct uh_hdr h;

		memcpy(buf, t[i].hdr, t[i].hdr_len);
		if (t[i].payload_len)
			memcpy(buf + t[i].hdr_len, t[i].payload, t[i].payload_len);
		assert_int_equal(uh_wire_decode(buf, t[i].hdr_len + t[i].payload_len,
						&h), UH_DROP_NONE);
		pkts[npkts++] = (struct sent){
			.type = h.type, .peer = t[i].dst.b[15],
			.prio = h.type == UH_PKT_GRANT ? h.u.grant.priority
						       : t[i].priority,
			.id = h.sender_id,
			.offset = h.type == UH_PKT_GRANT ? h.u.grant.offset
						 : h.u.data.offset,
			.len = (uint32_t)t[i].payload_len,
		};
	}
}

struct fixture {
	struct uhoma_memnet *net;
	struct uhoma_stack *st;
	struct uhoma_sock *srv;
	void *region;
};

static struct fixture fx;

static void setup(const char *config)
{
	setenv("UHOMA_CONFIG", config, 1);
	fx.net = uhoma_memnet_create(1, 1);
	fx.st = nt_stack(fx.net, 1, 0, 0);
	unsetenv("UHOMA_CONFIG");
	assert_int_equal(uhoma_socket(fx.st, 80, &fx.srv), UHOMA_OK);
	fx.region = nt_buffers(fx.srv, NT_REGION);
	uh_memnet_divert(fx.st->carrier, hook, NULL);
	npkts = 0;
}

static void teardown(void)
{
	uhoma_close(fx.srv);
	uhoma_stack_destroy(fx.st);
	uhoma_memnet_destroy(fx.net);
	nt_unmap(fx.region, NT_REGION);
}

/* DATA [off, off + n) of a @len-byte request, client id @cid, from
 * 10.0.0.@peer; the sender claims @incoming unscheduled bytes. */
static void data(int peer, uint64_t cid, uint32_t len, uint32_t off,
		 uint32_t n, uint32_t incoming)
{
	static uint8_t payload[65536];
	uint8_t buf[70000];
	struct uh_hdr h;
	struct uh_addr a;
	char text[32];
	size_t hl;

	uh_client_data_hdr(&h, cid, len, off, incoming);
	hl = uh_wire_encode(&h, buf);
	if (n == PKT)
		n = fx.st->max_payload;     /* one full packet */
	memcpy(buf + hl, payload, n);
	snprintf(text, sizeof(text), "10.0.0.%d", peer);
	assert_int_equal(uh_addr_parse(text, &a), 0);
	uh_stack_input(fx.st, buf, hl + n, &a);
}

/* The last GRANT sent to peer @peer since packet @from; NULL if none. */
static const struct sent *last_grant(int peer, unsigned from)
{
	const struct sent *g = NULL;

	for (unsigned i = from; i < npkts; i++)
		if (pkts[i].type == UH_PKT_GRANT && pkts[i].peer == peer)
			g = &pkts[i];
	return g;
}

static uint64_t metric(unsigned which)
{
	return (uint64_t)uh_metric_read(fx.st->metrics, which);
}

/* Shortest first; a newcomer evicts the longest; ranks set priorities. */
static void grant__srpt_order_and_priorities(void **state)
{
	const struct sent *g3, *g4;
	unsigned mark;

	(void)state;
	setup("max_overcommit=2");
	/* Each sender claims only its first packet unscheduled: its next
	 * packets, received, free granted headroom (claimed bytes hold
	 * none). */
	data(2, 2, 500000, 0, 1000, 1000);
	assert_non_null(last_grant(2, 0));   /* alone: granted */
	assert_int_equal(last_grant(2, 0)->prio, 0); /* lowest level */
	data(3, 2, 200000, 0, 1000, 1000);
	assert_non_null(last_grant(2, 0));
	mark = npkts;
	data(4, 2, 300000, 0, 1000, 1000);
	/* The 500 KB message lost its slot to the 300 KB one. */
	assert_int_equal(metric(UH_M_GRANT_EVICTIONS), 1);
	data(2, 2, 500000, 1000, PKT, 1000);
	data(3, 2, 200000, 1000, PKT, 1000);
	data(4, 2, 300000, 1000, PKT, 1000);
	g3 = NULL;
	g4 = NULL;
	for (unsigned i = mark; i < npkts; i++) {
		if (pkts[i].type != UH_PKT_GRANT)
			continue;
		assert_int_not_equal(pkts[i].peer, 2);  /* no more for it */
		if (pkts[i].peer == 3)
			g3 = &pkts[i];
		if (pkts[i].peer == 4)
			g4 = &pkts[i];
	}
	assert_non_null(g3);
	assert_non_null(g4);
	/* Two active of max_sched_prio 3: levels 1 and 0, shorter higher. */
	assert_int_equal(g3->prio, 1);
	assert_int_equal(g4->prio, 0);
	assert_int_equal(uh_grant_count(fx.st), 3);
	teardown();
}

/* Every peer gets one active message before any peer gets a second. */
static void grant__one_active_per_peer_first(void **state)
{
	unsigned mark;

	(void)state;
	setup("max_overcommit=2");
	data(2, 2, 500000, 0, 1000, 10000);
	data(2, 4, 600000, 0, 1000, 10000);
	data(3, 2, 900000, 0, 1000, 10000);
	/* The 900 KB message displaced peer 2's second, though longer
	 * (messages stay shorter than a window would cover). */
	assert_int_equal(metric(UH_M_GRANT_EVICTIONS), 1);
	mark = npkts;
	data(2, 2, 500000, 1000, PKT, 10000);
	data(2, 4, 600000, 1000, PKT, 10000);
	data(3, 2, 900000, 1000, PKT, 10000);
	for (unsigned i = mark; i < npkts; i++)  /* never its second */
		if (pkts[i].type == UH_PKT_GRANT)
			assert_false(pkts[i].peer == 2 && pkts[i].id == 5);
	/* (peer 2's second message is its id 4: 5 on the wire) */
	assert_non_null(last_grant(3, 0));      /* the newcomer got grants */
	teardown();
}

/* Hundreds of messages from forty peers (the manager keeps them in
 * heaps: grant.h): every one tracked; the eight slots held by eight
 * different peers; no queued message of a peer without a slot better
 * than the worst active one (it would have displaced it); each peer's
 * count of slots right; and the FIFO share's pick the oldest queued. */
static void grant__many_queued_messages(void **state)
{
	enum { MANY = 400, PEERS = 40 };
	struct uh_grant *g;
	const struct uh_rpc *worst = NULL;
	unsigned queued = 0;
	uint64_t min_birth = UINT64_MAX;

	(void)state;
	setup("max_overcommit=8");
	g = &fx.st->grant;
	for (unsigned i = 0; i < MANY; i++)
		data(1 + (int)(i % PEERS), 2 + 2 * i,
		     20000 + (i * 7919u) % 130000u, 0, 1000, 10000);
	assert_int_equal(uh_grant_count(fx.st), MANY);
	for (int i = 0; i < 8; i++) {
		const struct uh_rpc *r = g->slot[i].rpc;
		unsigned same = 0;

		assert_non_null(r);
		for (int j = 0; j < 8; j++)
			same += g->slot[j].rpc->peer == r->peer;
		assert_int_equal(same, 1);
		if (!worst || r->in.bytes_remaining > worst->in.bytes_remaining ||
		    (r->in.bytes_remaining == worst->in.bytes_remaining &&
		     r->granting.birth > worst->granting.birth))
			worst = r;
	}
	for (struct uh_list *pos = g->queue.next; pos != &g->queue;
	     pos = pos->next) {
		const struct uh_rpc *r = uh_list_entry(pos, struct uh_rpc,
						       granting.link);
		bool has_slot = false;

		queued++;
		if (r->granting.birth < min_birth)
			min_birth = r->granting.birth;
		for (int j = 0; j < 8; j++)
			has_slot |= g->slot[j].rpc->peer == r->peer;
		if (has_slot)
			continue;
		assert_true(r->in.bytes_remaining > worst->in.bytes_remaining ||
			    (r->in.bytes_remaining ==
				     worst->in.bytes_remaining &&
			     r->granting.birth > worst->granting.birth));
	}
	assert_int_equal(queued, MANY - 8);
	assert_int_equal(g->num_queued, MANY - 8);
	assert_int_equal(uh_container_of(uh_pheap_min(&g->by_age),
					 struct uh_rpc, granting.age)
				 ->granting.birth,
			 min_birth);
	teardown();
}

/* Completing the active message promotes the queued one. */
static void grant__completion_promotes_next(void **state)
{
	uint32_t len = 20000;
	unsigned mark;

	(void)state;
	setup("max_overcommit=1");
	data(2, 2, len, 0, 1000, 1000);
	data(3, 2, 500000, 0, 1000, 1000);
	for (unsigned i = 0; i < npkts; i++)     /* nothing for peer 3 yet */
		assert_false(pkts[i].type == UH_PKT_GRANT && pkts[i].peer == 3);
	mark = npkts;
	for (uint32_t off = 1000; off < len; off += 1000)
		data(2, 2, len, off, 1000, 1000);
	/* Peer 2's request is complete; peer 3's is granted now. */
	{
		bool p3 = false;

		for (unsigned i = mark; i < npkts; i++)
			p3 |= pkts[i].type == UH_PKT_GRANT && pkts[i].peer == 3;
		assert_true(p3);
	}
	teardown();
}

/* Two requests under max_overcommit=1 (@config, and the stack's link rate
 * @link_mbps if not 0), then a tick: the FIFO share's GRANT to the oldest,
 * checked to add one increment. */
static const struct sent *fifo_grant_after_tick(const char *config,
						uint32_t link_mbps)
{
	const struct sent *g;
	uint32_t before;

	setup(config);
	if (link_mbps)
		fx.st->link_mbps = link_mbps;   /* what the interface said */
	data(2, 2, 500000, 0, 1000, 10000);     /* oldest */
	data(3, 2, 200000, 0, 1000, 10000);     /* shorter: takes the slot */
	g = last_grant(2, 0);
	before = g ? g->offset : 10000;
	uh_grant_tick(fx.st);
	g = last_grant(2, 0);
	assert_non_null(g);
	assert_int_equal(g->offset, before + 50000);
	assert_int_equal(metric(UH_M_FIFO_GRANT_BYTES), 50000);
	return g;
}

/* The FIFO share goes to the oldest message at the highest scheduled
 * level: above every byte granted by SRPT (its point: the oldest gets
 * through the receiver's queue), below every unscheduled byte. The module
 * sends it at num_priorities - 2 (6), above the unscheduled bytes of
 * messages longer than 2,800 bytes: in uhoma-sim, W5 at 80 % load, a
 * 7 KB message's P99 slowdown was 4.37 behind the 50 KB bursts, 1.58
 * below them, the 1 MB messages' the same (sim/README.md). */
static void grant__fifo_share_to_oldest(void **state)
{
	const struct sent *g;

	(void)state;
	g = fifo_grant_after_tick("max_overcommit=1,grant_fifo_fraction=500,"
				  "link_mbps=100000", 0);
	assert_int_equal(g->prio, uh_prio_max_sched(fx.st));
	assert_int_equal(g->prio, 3);   /* 4..7 carry unscheduled bytes */
	assert_true(g->prio >= last_grant(3, 0)->prio);
	teardown();
}

/* The FIFO share runs at the stack's link rate when the configuration
 * leaves it to the interface (link_mbps=0, the default): it read the
 * configured rate only, and never ran by default. */
static void grant__fifo_share_at_interface_rate(void **state)
{
	(void)state;
	fifo_grant_after_tick("max_overcommit=1,grant_fifo_fraction=500",
			      100000);
	teardown();
}

/* A message from a peer on this host takes no FIFO share: there is no
 * link for it to have a share of (a loopback stack's was 100 Gbit/s). */
static void grant__no_fifo_share_for_local_peers(void **state)
{
	struct uh_addr a;
	struct uh_peer *p;
	const struct sent *g;
	uint32_t before;

	(void)state;
	setup("max_overcommit=1,grant_fifo_fraction=500,link_mbps=100000");
	/* Peer 2 made local (as a loopback peer's route says) before any
	 * of its messages arrives: the field is immutable once it has. */
	assert_int_equal(uh_addr_parse("10.0.0.2", &a), 0);
	p = uh_peer_get(&fx.st->peers, &a, 0);
	assert_non_null(p);
	p->local = true;
	uh_peer_put(p);
	data(2, 2, 500000, 0, 1000, 10000);     /* oldest */
	data(3, 2, 200000, 0, 1000, 10000);     /* shorter: takes the slot */
	uh_rcu_read_lock();
	assert_ptr_equal(uh_peer_find(&fx.st->peers, &a), p);
	uh_rcu_read_unlock();
	g = last_grant(2, 0);
	before = g ? g->offset : 0;
	uh_grant_tick(fx.st);
	g = last_grant(2, 0);
	assert_int_equal(g ? g->offset : 0, before);
	assert_int_equal(metric(UH_M_FIFO_GRANT_BYTES), 0);
	teardown();
}

/* The highest level of the stack's own cutoffs that takes a message of
 * @len unscheduled bytes. */
static unsigned unsched_level(const struct uhoma_stack *st, uint32_t len)
{
	for (unsigned i = UH_MAX_PRIORITIES; i-- > 0;)
		if (st->cutoffs.cutoff[i] >= len)
			return i;
	return 0;
}

/* For every count of priorities, scheduled bytes stay below every
 * unscheduled byte, shorter messages never below longer ones, control at
 * the top, and the urgent lane takes short messages but not the longest
 * messages' unscheduled bytes (with 4 levels or fewer the 8-level
 * defaults sent unscheduled bytes at 0 and grants up to the top). */
static void prio__levels_ordered_for_any_count(void **state)
{
	static const uint32_t lens[] = { 100, 2000, 10000, 100000, 1000000 };
	char cfg[40];

	(void)state;
	for (unsigned n = 1; n <= UH_MAX_PRIORITIES; n++) {
		unsigned sched, urgent, prev = UH_MAX_PRIORITIES;

		snprintf(cfg, sizeof(cfg), "num_priorities=%u", n);
		setup(cfg);
		sched = uh_prio_max_sched(fx.st);
		urgent = uh_prio_urgent(fx.st);
		assert_int_equal(uh_prio_ctl(fx.st), n - 1);
		for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			unsigned l = unsched_level(fx.st, lens[i]);

			assert_true(l < n && l <= prev);
			if (n >= 2)
				assert_true(l > sched);
			prev = l;
		}
		if (n >= 3) {
			assert_true(urgent > unsched_level(fx.st, 1000000));
			assert_true(urgent <= unsched_level(fx.st, 2000));
		}
		teardown();
	}
	/* Eight levels: the module's table. */
	setup("num_priorities=8");
	assert_int_equal(uh_prio_max_sched(fx.st), 3);
	assert_int_equal(unsched_level(fx.st, 100), 7);
	assert_int_equal(unsched_level(fx.st, 1000000), 4);
	assert_int_equal(uh_prio_urgent(fx.st), 5);
	teardown();
}

/* Granted-but-unreceived bytes exceed max_incoming by no more than the
 * senders' own unscheduled bytes. */
static void grant__max_incoming_bounds_grants(void **state)
{
	uint32_t granted[8] = { 0 }, received[8] = { 0 };

	(void)state;
	setup("max_incoming=100000");
	for (int round = 0; round < 20; round++) {
		uint64_t total = 0, unsched;

		for (int p = 2; p < 7; p++) {
			if (received[p] < (granted[p] ? granted[p] : 10000)) {
				data(p, 2, 1000000, received[p], 1000, 10000);
				received[p] += 1000;
			}
		}
		for (unsigned i = 0; i < npkts; i++)
			if (pkts[i].type == UH_PKT_GRANT &&
			    pkts[i].offset > granted[pkts[i].peer])
				granted[pkts[i].peer] = pkts[i].offset;
		unsched = 0;
		for (int p = 2; p < 7; p++) {
			uint32_t g = granted[p] > 10000 ? granted[p] : 10000;

			total += g > received[p] ? g - received[p] : 0;
			unsched += received[p] < 10000 ? 10000 - received[p] : 0;
		}
		/* Unscheduled bytes are the senders' to send; only grants
		 * are held to the limit. */
		assert_true(total <= 100000 + unsched);
	}
	/* Not vacuous: grants did go out, and the limit made some wait. */
	{
		int granted_any = 0;

		for (int p = 2; p < 7; p++)
			granted_any += granted[p] > 10000;
		assert_true(granted_any >= 2);
	}
	teardown();
}

/* ---- pacer --------------------------------------------------------------- */

static uint64_t mock_ns;

static uint64_t mock_now(void)
{
	return mock_ns;
}

static void pacer__backlog_admission_on_mock_clock(void **state)
{
	unsigned admitted = 0;

	(void)state;
	setup("max_nic_backlog_us=5");
	mock_ns = 1000000;
	uh_pacer_init(fx.st, 1000, mock_now);     /* 1 Gbit/s */
	/* The backlog holds at least two full packets. */
	while (uh_pacer_admit(fx.st, 1400, false))
		admitted++;
	assert_true(admitted >= 2 && admitted <= 4);
	assert_true(uh_pacer_delay_ns(fx.st) > 0);
	assert_true(uh_pacer_admit(fx.st, 1400, true));  /* forced */
	mock_ns += 1000000;                           /* the link drained */
	assert_int_equal(uh_pacer_delay_ns(fx.st), 0);
	assert_true(uh_pacer_admit(fx.st, 1400, false));
	teardown();
}

static struct uhoma_sock *throttle_three(uint64_t *ids)
{
	static const size_t lens[3] = { 300000, 100000, 200000 };
	static uint8_t buf[300000];
	struct sockaddr_storage to;
	size_t to_len;
	struct uhoma_sock *cli;

	mock_ns = 1000000;
	uh_pacer_init(fx.st, 1000, mock_now);
	assert_int_equal(uhoma_socket(fx.st, 0, &cli), UHOMA_OK);
	nt_addr(9, 80, &to, &to_len);
	for (int i = 0; i < 3; i++)
		assert_int_equal(uhoma_send(cli, (struct sockaddr *)&to, to_len,
					    buf, lens[i], 0, 0, &ids[i]),
				 UHOMA_OK);
	assert_int_equal(uh_pacer_throttled(fx.st), 3);
	return cli;
}

static uint32_t pop_len(void)
{
	struct uh_rpc *rpc = uh_pacer_pop(fx.st);
	uint32_t len;

	assert_non_null(rpc);
	len = rpc->out.length;
	uh_rpc_put(rpc);
	return len;
}

static void pacer__throttled_srpt_order(void **state)
{
	uint64_t ids[3];
	struct uhoma_sock *cli;

	(void)state;
	setup("pacer_fifo_fraction=0");
	cli = throttle_three(ids);
	assert_int_equal(pop_len(), 100000);
	assert_int_equal(pop_len(), 200000);
	assert_int_equal(pop_len(), 300000);
	assert_null(uh_pacer_pop(fx.st));
	uhoma_close(cli);
	teardown();
}

static void pacer__fifo_share_picks_oldest(void **state)
{
	uint64_t ids[3];
	struct uhoma_sock *cli;

	(void)state;
	setup("pacer_fifo_fraction=500");
	cli = throttle_three(ids);
	assert_int_equal(pop_len(), 100000);   /* SRPT */
	assert_int_equal(pop_len(), 300000);   /* FIFO: the oldest */
	assert_int_equal(pop_len(), 200000);
	assert_int_equal(metric(UH_M_PACER_FIFO_SENDS), 1);
	uhoma_close(cli);
	teardown();
}

/* Many throttled messages, popped, and one in three throttled again (as
 * the pacer does with a message it sent a packet of): each FIFO turn
 * takes the oldest message in the set -- a message back in it keeps its
 * first age -- and each other turn the one with the fewest bytes left
 * (the oldest of those). Checked against a list of what is in the set. */
static void pacer__fifo_share_among_many(void **state)
{
	enum { MANY = 600 };
	static uint8_t buf[40000];
	static struct uh_rpc *in[2 * MANY];
	struct sockaddr_storage to;
	size_t to_len;
	struct uhoma_sock *cli;
	unsigned n = 0, fifo_turns = 0, back = 0;
	uint64_t fifo = 0;

	(void)state;
	/* No send budget: all of them at once. */
	setup("pacer_fifo_fraction=500 sndbuf=0");
	mock_ns = 1000000;
	uh_pacer_init(fx.st, 1000, mock_now);
	assert_int_equal(uhoma_socket(fx.st, 0, &cli), UHOMA_OK);
	nt_addr(9, 80, &to, &to_len);
	for (unsigned i = 0; i < MANY; i++) {
		uint64_t id;
		/* Lengths in no relation to age: SRPT and FIFO disagree. */
		size_t len = 2000 + (i * 7919u) % 38000u;

		assert_int_equal(uhoma_send(cli, (struct sockaddr *)&to,
					    to_len, buf, len, 0, 0, &id),
				 UHOMA_OK);
	}
	/* What is in the set: each message's RPC, found by popping them
	 * all once and throttling them again (their ages stay). */
	while ((in[n] = uh_pacer_pop(fx.st)))
		n++;
	assert_true(n >= MANY - 4);
	for (unsigned i = 0; i < n; i++) {
		uh_rpc_lock(in[i]);
		uh_pacer_throttle(in[i]);
		uh_rpc_unlock(in[i]);
		uh_rpc_put(in[i]);      /* the set holds its own */
	}
	fifo = metric(UH_M_PACER_FIFO_SENDS);
	while (n) {
		struct uh_rpc *rpc = uh_pacer_pop(fx.st), *want = NULL;
		bool fifo_turn = metric(UH_M_PACER_FIFO_SENDS) > fifo;
		unsigned at = n;

		assert_non_null(rpc);
		fifo = metric(UH_M_PACER_FIFO_SENDS);
		for (unsigned i = 0; i < n; i++) {
			struct uh_rpc *r = in[i];

			if (r == rpc)
				at = i;
			if (!want ||
			    (fifo_turn ? r->throttle_birth < want->throttle_birth
				       : r->throttle_key < want->throttle_key ||
						 (r->throttle_key ==
							  want->throttle_key &&
						  r->throttle_birth <
							  want->throttle_birth)))
				want = r;
		}
		assert_ptr_equal(rpc, want);
		assert_true(at < n);
		in[at] = in[--n];
		fifo_turns += fifo_turn;
		if (rpc->throttle_birth % 3 == 0 && back < MANY / 3) {
			back++;
			uh_rpc_lock(rpc);
			uh_pacer_throttle(rpc);
			uh_rpc_unlock(rpc);
			in[n++] = rpc;
		}
		uh_rpc_put(rpc);
	}
	assert_null(uh_pacer_pop(fx.st));
	assert_true(fifo_turns >= MANY / 3);
	uhoma_close(cli);
	teardown();
}

/* GRANT from 10.0.0.9:80 to our client RPC @id (port @port) up to
 * @offset. */
static void grant_to(uint16_t port, uint64_t id, uint32_t offset)
{
	uint8_t buf[128];
	struct uh_hdr h;
	struct uh_addr a;

	memset(&h, 0, sizeof(h));
	h.type = UH_PKT_GRANT;
	h.sport = 80;
	h.dport = port;
	h.sender_id = id ^ 1;           /* the server's id for it */
	h.u.grant.offset = offset;
	h.u.grant.priority = 2;
	assert_int_equal(uh_addr_parse("10.0.0.9", &a), 0);
	uh_stack_input(fx.st, buf, uh_wire_encode(&h, buf), &a);
}

/* DATA payload bytes sent for client RPC @id since packet @from. */
static uint64_t data_bytes(uint64_t id, unsigned from)
{
	uint64_t n = 0;

	for (unsigned i = from; i < npkts; i++)
		if (pkts[i].type == UH_PKT_DATA && pkts[i].id == id)
			n += pkts[i].len;
	return n;
}

/* A client socket of fx.st with requests of @lens[0..@n) sent to
 * 10.0.0.9:80 (their unscheduled bytes go out); ids in @ids. */
static struct uhoma_sock *send_requests(const uint32_t *lens, unsigned n,
					uint64_t *ids)
{
	static uint8_t buf[1000000];
	struct sockaddr_storage to;
	size_t to_len;
	struct uhoma_sock *cli;

	assert_int_equal(uhoma_socket(fx.st, 0, &cli), UHOMA_OK);
	nt_addr(9, 80, &to, &to_len);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(uhoma_send(cli, (struct sockaddr *)&to, to_len,
					    buf, lens[i], 0, 0, &ids[i]),
				 UHOMA_OK);
	return cli;
}

/* GRANTs that a polling thread processes send nothing: the messages are
 * deferred (not throttled: the pacer thread is not woken). Slices then go
 * shortest message first, whole packets, at most UH_TX_SLICE bytes each;
 * a flush sends the rest; a GRANT outside a poll sends at once. */
static void defer__grants_sent_by_slices_in_srpt_order(void **state)
{
	static const uint32_t lens[3] = { 600000, 200000, 100000 };
	uint64_t ids[3], first[3];
	struct uhoma_sock *cli;
	unsigned from;
	uint16_t port;

	(void)state;
	setup("unsched_bytes=10000 pacer_fifo_fraction=0");
	uh_pacer_init(fx.st, 0, mock_now);       /* no pacing */
	cli = send_requests(lens, 3, ids);
	for (int i = 0; i < 3; i++)      /* unscheduled: whole packets */
		first[i] = data_bytes(ids[i], 0);
	assert_true(first[0] >= 10000 && first[0] < 10000 + fx.st->max_payload);
	port = atomic_load(&cli->port);
	from = npkts;
	uh_out_defer(true);
	grant_to(port, ids[0], lens[0]);
	grant_to(port, ids[1], lens[1]);
	uh_out_defer(false);
	assert_int_equal(npkts, from);           /* nothing went out */
	assert_int_equal(uh_pacer_deferred(fx.st), 2);
	assert_int_equal(uh_pacer_throttled(fx.st), 0);
	assert_int_equal(metric(UH_M_TX_DEFERRALS), 2);
	assert_int_equal(metric(UH_M_THROTTLE_ADDS), 0);

	/* First slice: the shorter message, whole packets, within budget. */
	assert_true(uh_pacer_send_slice(fx.st));
	assert_int_equal(data_bytes(ids[0], from), 0);
	assert_true(data_bytes(ids[1], from) <= UH_TX_SLICE);
	assert_true(data_bytes(ids[1], from) > UH_TX_SLICE - fx.st->max_payload);
	assert_int_equal(uh_pacer_deferred(fx.st), 2);
	/* The rest of it fits the next slice. */
	assert_true(uh_pacer_send_slice(fx.st));
	assert_int_equal(data_bytes(ids[1], from), lens[1] - first[1]);
	assert_int_equal(data_bytes(ids[0], from), 0);
	assert_int_equal(uh_pacer_deferred(fx.st), 1);
	assert_true(uh_pacer_send_slice(fx.st));
	assert_true(data_bytes(ids[0], from) <= UH_TX_SLICE);
	assert_true(data_bytes(ids[0], from) > 0);
	uh_pacer_flush_deferred(fx.st);
	assert_int_equal(data_bytes(ids[0], from), lens[0] - first[0]);
	assert_int_equal(uh_pacer_deferred(fx.st), 0);
	assert_false(uh_pacer_send_slice(fx.st));
	assert_int_equal(metric(UH_M_DEFERRED_SENDS), 4);

	/* Outside a poll, a GRANT is served at once. */
	from = npkts;
	grant_to(port, ids[2], lens[2]);
	assert_int_equal(data_bytes(ids[2], from), lens[2] - first[2]);
	assert_int_equal(uh_pacer_deferred(fx.st), 0);
	uhoma_close(cli);
	teardown();
}

/* A deferred message whose RPC ends leaves the set (its reference with
 * it: ASan would report the leak); a GRANT for a message already
 * deferred does not queue it twice. */
static void defer__ended_rpc_leaves_the_set(void **state)
{
	static const uint32_t lens[2] = { 300000, 200000 };
	uint64_t ids[2];
	struct uhoma_sock *cli;

	(void)state;
	setup("unsched_bytes=10000");
	uh_pacer_init(fx.st, 0, mock_now);
	cli = send_requests(lens, 2, ids);
	uh_out_defer(true);
	grant_to(atomic_load(&cli->port), ids[0], 100000);
	grant_to(atomic_load(&cli->port), ids[0], lens[0]);
	grant_to(atomic_load(&cli->port), ids[1], lens[1]);
	uh_out_defer(false);
	assert_int_equal(uh_pacer_deferred(fx.st), 2);
	assert_int_equal(metric(UH_M_TX_DEFERRALS), 2);
	assert_int_equal(uhoma_abort(cli, ids[0], 0), UHOMA_OK);
	assert_int_equal(uh_pacer_deferred(fx.st), 1);
	uhoma_close(cli);
	assert_int_equal(uh_pacer_deferred(fx.st), 0);
	teardown();
}

static _Atomic uint64_t hook_data_bytes;

static void count_hook(void *arg, const struct uh_tx *t, unsigned n)
{
	(void)arg;
	for (unsigned i = 0; i < n; i++)
		if (t[i].hdr[11] == UH_PKT_DATA)   /* the type byte */
			atomic_fetch_add(&hook_data_bytes, t[i].payload_len);
}

/* Deferred data whose poller went back to its application and never
 * came back is not stranded: with the runtime's threads running and no
 * thread polling, it all goes out within a few ticks. */
static void defer__left_data_flushed_without_poller(void **state)
{
	static const uint32_t lens[1] = { 500000 };
	struct uhoma_memnet *net = uhoma_memnet_create(2, 0);
	struct uhoma_stack *st;
	struct uhoma_sock *cli;
	uint64_t ids[1], first, t0;

	(void)state;
	setup("unsched_bytes=10000");
	/* A second stack, on the real clock, with its receive and timer
	 * threads. */
	st = fx.st;
	setenv("UHOMA_CONFIG", "unsched_bytes=10000", 1);
	fx.st = nt_stack(net, 2, 0, 1);
	unsetenv("UHOMA_CONFIG");
	atomic_store(&hook_data_bytes, 0);
	uh_memnet_divert(fx.st->carrier, count_hook, NULL);
	cli = send_requests(lens, 1, ids);
	first = atomic_load(&hook_data_bytes);
	assert_true(first > 0 && first < lens[0]);
	uh_out_defer(true);
	grant_to(atomic_load(&cli->port), ids[0], lens[0]);
	uh_out_defer(false);
	t0 = uh_now_ns();
	while (atomic_load(&hook_data_bytes) < lens[0] &&
	       uh_now_ns() - t0 < 2000000000ull)
		uh_sleep_ns(1000000);
	assert_int_equal(atomic_load(&hook_data_bytes), lens[0]);
	assert_int_equal(uh_pacer_deferred(fx.st), 0);
	uhoma_close(cli);
	uhoma_stack_destroy(fx.st);
	uhoma_memnet_destroy(net);
	fx.st = st;
	teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(grant__srpt_order_and_priorities),
		UH_TEST(grant__one_active_per_peer_first),
		UH_TEST(grant__many_queued_messages),
		UH_TEST(grant__completion_promotes_next),
		UH_TEST(grant__fifo_share_to_oldest),
		UH_TEST(grant__fifo_share_at_interface_rate),
		UH_TEST(grant__no_fifo_share_for_local_peers),
		UH_TEST(prio__levels_ordered_for_any_count),
		UH_TEST(grant__max_incoming_bounds_grants),
		UH_TEST(pacer__backlog_admission_on_mock_clock),
		UH_TEST(pacer__throttled_srpt_order),
		UH_TEST(pacer__fifo_share_picks_oldest),
		UH_TEST(pacer__fifo_share_among_many),
		UH_TEST(defer__grants_sent_by_slices_in_srpt_order),
		UH_TEST(defer__ended_rpc_leaves_the_set),
		UH_TEST(defer__left_data_flushed_without_poller),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
