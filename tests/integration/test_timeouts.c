/*
 * test_timeouts.c - silence is measured in elapsed time, whatever the
 * number of RPCs: tens of thousands in flight at 1 % loss end with no
 * false timeout, and the timer looks only at the RPCs due (twheel.h).
 *
 * The old timer visited each RPC once every n/256 + 1 ticks and charged
 * that many ticks of silence at once: with 30,000 RPCs on a socket, the
 * first visit after a lost packet failed the RPC before any RESEND.
 *
 * Deterministic: one seed, one thread, virtual time. UHOMA_SOAK_RPCS and
 * UHOMA_SOAK_WINDOW make it the soak's longer run (make soak).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nettest.h"
#include "testutil.h"

#include "util/addr.h"
#include "core/sock.h"
#include "core/stack.h"
#include "net/memnet.h"
#include "core/wire.h"
#include "runtime/runtime.h"

#define REQ_LEN 100

static unsigned env_or(const char *name, unsigned dflt)
{
	const char *v = getenv(name);

	return v && *v ? (unsigned)strtoul(v, NULL, 0) : dflt;
}

/* The server answers SERVE_BATCH requests per 200 us round (750,000 a
 * second): requests queue there for tens of milliseconds, silent, as at
 * any loaded server. */
#define SERVE_BATCH 150

static void serve(struct uhoma_sock *srv, uint8_t *buf, int batch)
{
	struct uhoma_msg m;
	int rc;

	for (int i = 0; i < batch && (rc = nt_recv_nb(srv, &m)) > 0; i++) {
		assert_int_equal(uhoma_msg_copy(srv, &m, 0, buf, (size_t)rc),
				 (size_t)rc);
		assert_int_equal(uhoma_msg_release(srv, &m), UHOMA_OK);
		assert_int_equal(uhoma_reply(srv, (struct sockaddr *)&m.peer,
					     m.peer_len, m.id, buf,
					     (size_t)rc), UHOMA_OK);
	}
}

/* @total RPCs, @window in flight, the server answering @batch per round
 * over a network losing @loss_ppm; the two stacks' metrics at the end into
 * @mc (client) and @ms (server). */
static void run(uint64_t seed, unsigned total, unsigned window,
		uint32_t loss_ppm, int batch, struct uhoma_metrics *mc_out,
		struct uhoma_metrics *ms_out)
{
	const struct uhoma_memnet_faults f = {
		.loss_ppm = loss_ppm, .delay_ns = 5000,
	};
	struct nt_pair p;
	struct sockaddr_storage to;
	size_t to_len;
	uint8_t buf[REQ_LEN], *echo = malloc(UHOMA_MAX_MESSAGE);
	unsigned sent = 0, done = 0, in_flight = 0, rounds = 0, peak = 0;
	struct uhoma_metrics mc, ms;
	uint64_t ticks_before, visits_before;

	nt_pair_open(&p, seed, 1, 1500, 512u << 20, 512u << 20);
	uhoma_memnet_set_faults(p.net, &f);
	/* Tens of thousands of requests outstanding: no send budget. */
	assert_int_equal(uhoma_set_sndbuf(p.cli, 0), UHOMA_OK);
	nt_addr(1, 80, &to, &to_len);
	memset(buf, 0x5A, sizeof(buf));
	uhoma_metrics(p.b, &mc);
	ticks_before = mc.timer_ticks;
	visits_before = mc.timer_visits;
	while (done < total) {
		struct uhoma_msg m;
		uint64_t id;
		int rc;

		while (in_flight < window && sent < total) {
			assert_int_equal(uhoma_send(p.cli, (struct sockaddr *)&to,
						    to_len, buf, sizeof(buf),
						    sent, 0, &id), UHOMA_OK);
			sent++;
			in_flight++;
		}
		if (in_flight > peak)
			peak = in_flight;
		serve(p.srv, echo, batch);
		while ((rc = nt_recv_nb(p.cli, &m)) != UHOMA_ERR_AGAIN) {
			if (rc < 0)
				fail_msg("RPC %llu failed: %s",
					 (unsigned long long)m.cookie,
					 uhoma_strerror(rc));
			assert_int_equal(rc, REQ_LEN);
			assert_int_equal(uhoma_msg_release(p.cli, &m), UHOMA_OK);
			done++;
			in_flight--;
		}
		uhoma_memnet_run(p.net, 200 * 1000);    /* 200 us */
		assert_true(++rounds < 1000000);        /* 200 virtual s */
	}
	uhoma_metrics(p.b, &mc);
	uhoma_metrics(p.a, &ms);
	print_message("    %u RPCs, %u in flight at the peak, %.3f virtual s: "
		      "timeouts client %llu server %llu; resent %llu; timer "
		      "%.0f RPCs looked at per tick (client)\n",
		      total, peak, rounds * 200e-6,
		      (unsigned long long)mc.rpc_timeouts,
		      (unsigned long long)ms.rpc_timeouts,
		      (unsigned long long)(mc.resent_packets +
					   ms.resent_packets),
		      (double)(mc.timer_visits - visits_before) /
			      (double)(mc.timer_ticks - ticks_before));
	assert_true(peak >= window);
	assert_true(mc.rpc_timeouts == 0);
	assert_true(ms.rpc_timeouts == 0);
	/* The timer's work follows what is due, not what is alive: far
	 * fewer looks per tick than RPCs in flight. */
	assert_true(mc.timer_visits - visits_before <
		    (mc.timer_ticks - ticks_before) * (uint64_t)window / 4);
	/* Every RPC ended: none is left in either timer wheel. */
	uhoma_memnet_run(p.net, 400 * 1000 * 1000ull);
	assert_true(uh_twheel_armed(&p.cli->timers) == 0);
	assert_true(uh_twheel_armed(&p.srv->timers) == 0);
	*mc_out = mc;
	*ms_out = ms;
	nt_pair_close(&p);
	free(echo);
}

static void timeouts__many_in_flight_at_one_pct_loss(void **state)
{
	struct uhoma_metrics mc, ms;

	(void)state;
	run(31, env_or("UHOMA_SOAK_RPCS", 100000),
	    env_or("UHOMA_SOAK_WINDOW", 30000), 10000, SERVE_BATCH, &mc, &ms);
}

/*
 * A queue is not silence: 3,000 small RPCs in flight at a server that
 * answers 250,000 a second wait 12 ms each, longer than resend_ticks, on
 * a network that loses nothing. The client learns how long this server
 * takes (its responses' delays: uh_delay_est) and probes no RPC before
 * that, the server likewise asks for no ACK before its client usually
 * sends one. Before, every RPC drew a RESEND and every response a
 * NEED_ACK: over UDP on loopback the answers to them (responses sent
 * again, RPC_UNKNOWN for RESENDs that overtook their requests) made each
 * RPC cost 10 times as much and timed RPCs out (helper-25).
 */
static void timeouts__queueing_is_not_silence(void **state)
{
	struct uhoma_metrics mc, ms;
	const unsigned total = 30000;

	(void)state;
	run(33, total, 3000, 0, 50, &mc, &ms);
	print_message("    RESENDs %llu, NEED_ACKs %llu, BUSYs %llu for %u "
		      "RPCs\n",
		      (unsigned long long)mc.packets_sent[UH_PKT_RESEND - 0x10],
		      (unsigned long long)ms.packets_sent[UH_PKT_NEED_ACK - 0x10],
		      (unsigned long long)ms.packets_sent[UH_PKT_BUSY - 0x10],
		      total);
	assert_true(mc.packets_sent[UH_PKT_RESEND - 0x10] < total / 50);
	assert_true(ms.packets_sent[UH_PKT_NEED_ACK - 0x10] < total / 50);
	assert_true(ms.resent_packets < total / 50);
}

/* The server's packets go straight into the client stack, but for the
 * BUSYs after the first one: lost, while the server's other traffic keeps
 * arriving (the client's RPC stays alive on the server's liveness). */
static struct uhoma_stack *client_stack;
static unsigned busys;

static void server_wire(void *arg, const struct uh_tx *pkts, unsigned n)
{
	struct uh_addr src;
	uint8_t buf[2048];

	(void)arg;
	uh_addr_parse("10.0.0.1", &src);
	for (unsigned i = 0; i < n; i++) {
		size_t len = pkts[i].hdr_len + pkts[i].payload_len;

		if (pkts[i].hdr[11] == UH_PKT_BUSY && busys++ > 0)
			continue;
		if (len > sizeof(buf))
			continue;
		memcpy(buf, pkts[i].hdr, pkts[i].hdr_len);
		if (pkts[i].payload_len)   /* control packets: NULL */
			memcpy(buf + pkts[i].hdr_len, pkts[i].payload,
			       pkts[i].payload_len);
		uh_stack_input(client_stack, buf, len, &src);
	}
}

/*
 * A client RPC waits 95 ms behind a busy server (its BUSYs lost after the
 * first, at tick 5, but the server otherwise heard), then the server says
 * RPC_UNKNOWN: the request starts over and gets the time a new one gets.
 * (Before, the silence it had before the restart counted, and it timed out
 * at the timer's next look.)
 */
static void timeouts__restart_gets_a_fresh_timeout(void **state)
{
	struct nt_pair p;
	struct sockaddr_storage to;
	size_t to_len;
	uint8_t buf[100] = { 0 };
	struct uhoma_msg m;
	struct uh_hdr h;
	struct uh_addr srv;
	uint8_t pkt[UH_MAX_HEADER];
	uint64_t a, b;
	(void)state;

	nt_pair_open(&p, 32, 1, 1500, NT_REGION, NT_REGION);
	client_stack = p.b;
	busys = 0;
	uh_memnet_divert(p.a->carrier, server_wire, NULL);
	nt_addr(1, 80, &to, &to_len);
	/* A: stays queued at the server. */
	assert_int_equal(uhoma_send(p.cli, (struct sockaddr *)&to, to_len, buf,
				    sizeof(buf), 1, UHOMA_PRIVATE, &a), UHOMA_OK);
	uhoma_memnet_run(p.net, 100 * 1000);
	/* The server hears and answers other requests every few ticks. */
	for (int t = 0; t < 95; t++) {
		if (t % 4 == 0)
			assert_int_equal(uhoma_send(p.cli, (struct sockaddr *)&to,
						    to_len, buf, sizeof(buf), 2,
						    0, &b), UHOMA_OK);
		uhoma_memnet_run(p.net, 1000 * 1000);
		while (nt_recv_nb(p.srv, &m) > 0) {
			uhoma_msg_release(p.srv, &m);
			if ((m.id ^ 1) == a)
				continue;   /* A: taken, never answered */
			assert_int_equal(uhoma_reply(p.srv,
						     (struct sockaddr *)&m.peer,
						     m.peer_len, m.id, buf,
						     sizeof(buf)), UHOMA_OK);
		}
		while (nt_recv_nb(p.cli, &m) != UHOMA_ERR_AGAIN)
			uhoma_msg_release(p.cli, &m);
	}
	assert_true(busys >= 2);
	/* RPC_UNKNOWN for A, from the server. */
	memset(&h, 0, sizeof(h));
	h.type = UH_PKT_RPC_UNKNOWN;
	h.sport = 80;
	h.dport = uhoma_port(p.cli);
	h.sender_id = a ^ 1;
	uh_addr_parse("10.0.0.1", &srv);
	uh_stack_input(p.b, pkt, uh_wire_encode(&h, pkt), &srv);
	/* Its last BUSY came at tick 5: the timer's next look (at its next
	 * probe, tick 125) would find 120 ticks of silence and end it. Forty
	 * ticks on, the restarted request must be alive. */
	for (int t = 0; t < 40; t++)
		uhoma_memnet_run(p.net, 1000 * 1000);
	memset(&m, 0, sizeof(m));
	m.id = a;
	assert_int_equal(uhoma_recv(p.cli, &m, UHOMA_NONBLOCK, 0),
			 UHOMA_ERR_AGAIN);
	uh_memnet_divert(p.a->carrier, NULL, NULL);
	nt_pair_close(&p);
}

/*
 * A poller that stops polling -- a page fault, or another thread's mmap
 * holding the process's memory-map lock -- keeps the receive threads
 * standing aside. The response it should have read waits unread; that is
 * not silence, and the RPC must not time out. Here the test registers a
 * poller that never polls, for four timeouts' worth of time.
 */
static void timeouts__stuck_poller_is_not_silence(void **state)
{
	struct nt_pair p;
	struct nt_echo echo;
	struct sockaddr_storage to;
	struct uhoma_msg m;
	uint8_t req[REQ_LEN];
	size_t to_len;
	uint64_t id;

	(void)state;
	nt_pair_open(&p, 7, 0, 0, NT_REGION, NT_REGION);
	nt_echo_start(&echo, p.srv, 1);
	nt_addr(1, 80, &to, &to_len);
	nt_fill(req, sizeof(req), 3);
	uh_runtime_poll_begin(p.b);          /* ... and it never polls */
	/* The receive thread, out of its wait, now stands aside. */
	p.b->carrier->ops->kick(p.b->carrier);
	usleep(20 * 1000);
	assert_int_equal(uhoma_send(p.cli, (struct sockaddr *)&to, to_len, req,
				    sizeof(req), 0, 0, &id), UHOMA_OK);
	usleep(4 * p.b->cfg.timeout_ticks * p.b->cfg.tick_us);
	memset(&m, 0, sizeof(m));
	assert_int_equal(nt_recv_nb(p.cli, &m), REQ_LEN);
	assert_true(m.id == id && nt_check(p.cli, &m, REQ_LEN, 3));
	uhoma_msg_release(p.cli, &m);
	uh_runtime_poll_end(p.b, false);
	nt_echo_stop(&echo);
	nt_pair_close(&p);
}

/*
 * A host behind its own receive queue: the client takes nothing from its
 * queue for two seconds, twice the timeout, while the responses to its 150
 * requests (30 KB each, 4.5 MB) wait for it there. What waits unread is
 * not silence: while its queue holds more than a quarter of a socket's
 * buffer at most one tick in four counts (runtime.c, held_back), and
 * every RPC completes once the client reads again. Counted as silence,
 * the RPCs timed out.
 */
static void timeouts__behind_its_queue_is_not_silence(void **state)
{
	enum { N = 150, LEN = 30000 };
	struct nt_pair p;
	struct nt_echo echo;
	struct sockaddr_storage to;
	struct uhoma_metrics mc;
	size_t to_len;
	uint8_t *buf = malloc(LEN);
	char *old;
	int got = 0;

	(void)state;
	assert_non_null(buf);
	/* A timeout of a second: the queue must fill before the ticks are
	 * held, and under the sanitizers the server takes a good part of a
	 * default timeout (100 ms) to send 4.5 MB. */
	old = getenv("UHOMA_CONFIG");
	old = old ? strdup(old) : NULL;
	assert_int_equal(setenv("UHOMA_CONFIG", "timeout_ticks=1000", 1), 0);
	nt_pair_open(&p, 9, 0, 0, NT_REGION, NT_REGION);
	if (old)
		setenv("UHOMA_CONFIG", old, 1);
	else
		unsetenv("UHOMA_CONFIG");
	free(old);
	assert_int_equal(p.b->cfg.timeout_ticks, 1000);
	nt_echo_start(&echo, p.srv, 1);
	nt_addr(1, 80, &to, &to_len);
	assert_int_equal(uhoma_memnet_stall(p.net, "10.0.0.2", 1), 0);
	for (unsigned i = 0; i < N; i++) {
		uint64_t id;

		nt_fill(buf, LEN, i);
		assert_int_equal(uhoma_send(p.cli, (struct sockaddr *)&to,
					    to_len, buf, LEN, i, 0, &id),
				 UHOMA_OK);
	}
	usleep(2 * p.b->cfg.timeout_ticks * p.b->cfg.tick_us);
	assert_int_equal(uhoma_memnet_stall(p.net, "10.0.0.2", 0), 0);
	while (got < N) {
		struct uhoma_msg m;
		int rc;

		memset(&m, 0, sizeof(m));
		rc = uhoma_recv(p.cli, &m, 0, 5 * 1000000000ll);
		if (rc < 0)
			fail_msg("RPC %llu failed: %s",
				 (unsigned long long)m.cookie,
				 uhoma_strerror(rc));
		assert_int_equal(rc, LEN);
		assert_true(nt_check(p.cli, &m, LEN, m.cookie));
		uhoma_msg_release(p.cli, &m);
		got++;
	}
	uhoma_metrics(p.b, &mc);
	print_message("    %llu ticks held back, %llu timeouts\n",
		      (unsigned long long)mc.ticks_held,
		      (unsigned long long)mc.rpc_timeouts);
	assert_true(mc.ticks_held > 0);
	/* At most three in a row: timers still run at a quarter of their
	 * pace, and a host that stays behind still finds its losses. */
	assert_true(mc.ticks_held <= 3 * (mc.timer_ticks + 1));
	assert_int_equal(mc.rpc_timeouts, 0);
	nt_echo_stop(&echo);
	nt_pair_close(&p);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(timeouts__many_in_flight_at_one_pct_loss),
		UH_TEST(timeouts__queueing_is_not_silence),
		UH_TEST(timeouts__restart_gets_a_fresh_timeout),
		UH_TEST(timeouts__stuck_poller_is_not_silence),
		UH_TEST(timeouts__behind_its_queue_is_not_silence),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
