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

#include "nettest.h"
#include "testutil.h"

#include "core/sock.h"

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

static void serve(struct uhoma_sock *srv, uint8_t *buf)
{
	struct uhoma_msg m;
	int rc;

	for (int i = 0; i < SERVE_BATCH && (rc = nt_recv_nb(srv, &m)) > 0;
	     i++) {
		assert_int_equal(uhoma_msg_copy(srv, &m, 0, buf, (size_t)rc),
				 (size_t)rc);
		assert_int_equal(uhoma_msg_release(srv, &m), UHOMA_OK);
		assert_int_equal(uhoma_reply(srv, (struct sockaddr *)&m.peer,
					     m.peer_len, m.id, buf,
					     (size_t)rc), UHOMA_OK);
	}
}

static void run(uint64_t seed, unsigned total, unsigned window)
{
	const struct uhoma_memnet_faults f = {
		.loss_ppm = 10000, .delay_ns = 5000,
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
		serve(p.srv, echo);
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
	nt_pair_close(&p);
	free(echo);
}

static void timeouts__many_in_flight_at_one_pct_loss(void **state)
{
	(void)state;
	run(31, env_or("UHOMA_SOAK_RPCS", 100000),
	    env_or("UHOMA_SOAK_WINDOW", 30000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(timeouts__many_in_flight_at_one_pct_loss),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
