/*
 * test_sndbuf.c - the send budget (uhoma_set_sndbuf): what it admits,
 * when it gives the bytes back, and that a sender waiting for it is never
 * left waiting forever.
 *
 * The first three run on a virtual clock (deterministic; there a spent
 * budget gives UHOMA_ERR_AGAIN, since nothing moves until the caller
 * returns). The last runs real threads and checks the blocking path.
 */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nettest.h"
#include "testutil.h"
#include "util/clock.h"

#define TICK_NS 1000000ull
#define CHARGE(len) ((size_t)(len) + 1024)   /* UH_TX_OVERHEAD */

static uint8_t *msgbuf;

static int send_to(struct uhoma_sock *s, int host, uint16_t port, size_t len,
		   uint64_t seed, unsigned flags)
{
	struct sockaddr_storage to;
	size_t to_len;
	uint64_t id;

	nt_addr(host, port, &to, &to_len);
	nt_fill(msgbuf, len, seed);
	return uhoma_send(s, (struct sockaddr *)&to, to_len, msgbuf, len, seed,
			  flags, &id);
}

/* Client RPCs whose response is not yet complete. */
static int in_flight(struct uhoma_sock *s)
{
	struct uhoma_rpc_info info[64];
	int n = uhoma_rpc_info(s, info, 64), k = 0;

	assert_true(n >= 0 && n <= 64);
	for (int i = 0; i < n; i++)
		if (!(info[i].id & 1) && !(info[i].flags & UHOMA_RPC_RX_READY))
			k++;
	return k;
}

static void budget__admits_up_to_the_limit(void **state)
{
	struct nt_pair p;
	struct uhoma_metrics met;
	struct uhoma_msg m;
	int got = 0, rc;

	(void)state;
	nt_pair_open(&p, 11, 1, 9000, NT_REGION, NT_REGION);
	assert_int_equal(uhoma_sndbuf(p.cli), 8u << 20);   /* the default */
	assert_int_equal(uhoma_set_sndbuf(p.cli, 3 * CHARGE(20000)), UHOMA_OK);
	assert_int_equal(uhoma_sndbuf(p.cli), 3 * CHARGE(20000));
	for (int i = 0; i < 3; i++)
		assert_int_equal(send_to(p.cli, 1, 80, 20000, 1u + (unsigned)i,
					 0), UHOMA_OK);
	assert_int_equal(send_to(p.cli, 1, 80, 20000, 9, UHOMA_NONBLOCK),
			 UHOMA_ERR_AGAIN);
	/* Virtual clock: waiting could never end, so it fails at once. */
	assert_int_equal(send_to(p.cli, 1, 80, 20000, 9, 0), UHOMA_ERR_AGAIN);
	assert_int_equal(send_to(p.cli, 1, 80, 1, 9, UHOMA_NONBLOCK),
			 UHOMA_ERR_AGAIN);
	assert_int_equal(in_flight(p.cli), 3);
	/* The responses complete: the budget comes back before the
	 * application receives them. */
	for (int t = 0; t < 20 && in_flight(p.cli) > 0; t++) {
		nt_echo_ready(p.srv, msgbuf);
		uhoma_memnet_run(p.net, TICK_NS);
	}
	assert_int_equal(in_flight(p.cli), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(send_to(p.cli, 1, 80, 20000, 4u + (unsigned)i,
					 UHOMA_NONBLOCK), UHOMA_OK);
	for (int t = 0; t < 20 && got < 6; t++) {
		nt_echo_ready(p.srv, msgbuf);
		uhoma_memnet_run(p.net, TICK_NS);
		while ((rc = nt_recv_nb(p.cli, &m)) > 0) {
			assert_int_equal(rc, 20000);
			assert_true(nt_check(p.cli, &m, 20000, m.cookie));
			uhoma_msg_release(p.cli, &m);
			got++;
		}
	}
	assert_int_equal(got, 6);
	uhoma_metrics(p.b, &met);
	assert_int_equal(met.send_waits, 0);   /* nothing slept */
	nt_pair_close(&p);
}

static void budget__long_message_alone_and_zero_is_unlimited(void **state)
{
	struct nt_pair p;

	(void)state;
	nt_pair_open(&p, 11, 1, 9000, NT_REGION, NT_REGION);
	assert_int_equal(uhoma_set_sndbuf(p.cli, 1000), UHOMA_OK);
	/* Longer than the budget: goes when nothing else is in flight. */
	assert_int_equal(send_to(p.cli, 1, 80, 50000, 1, UHOMA_NONBLOCK),
			 UHOMA_OK);
	assert_int_equal(send_to(p.cli, 1, 80, 10, 2, UHOMA_NONBLOCK),
			 UHOMA_ERR_AGAIN);
	assert_int_equal(uhoma_set_sndbuf(p.cli, 0), UHOMA_OK);
	for (int i = 0; i < 40; i++)
		assert_int_equal(send_to(p.cli, 1, 80, 50000, 3u + (unsigned)i,
					 UHOMA_NONBLOCK), UHOMA_OK);
	assert_int_equal(uhoma_set_sndbuf(NULL, 1), UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_set_sndbuf(p.cli, (size_t)UINT32_MAX + 1),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(send_to(p.cli, 1, 80, 10, 2, 0x80),
			 UHOMA_ERR_INVALID_ARGUMENT);
	nt_pair_close(&p);
}

/* A request that fails (its server is gone) gives its bytes back; so does
 * one the application aborts. */
static void budget__returned_by_failure_and_abort(void **state)
{
	struct nt_pair p;
	struct sockaddr_storage to;
	size_t to_len;
	uint64_t id;
	struct uhoma_msg m;
	int rc = 0;

	(void)state;
	nt_pair_open(&p, 11, 1, 9000, NT_REGION, NT_REGION);
	assert_int_equal(uhoma_set_sndbuf(p.cli, CHARGE(5000)), UHOMA_OK);
	/* Host 3 does not exist: the RPC times out. */
	assert_int_equal(send_to(p.cli, 3, 80, 5000, 1, 0), UHOMA_OK);
	assert_int_equal(send_to(p.cli, 1, 80, 5000, 2, UHOMA_NONBLOCK),
			 UHOMA_ERR_AGAIN);
	for (int t = 0; t < 200 && rc == 0; t++) {
		uhoma_memnet_run(p.net, TICK_NS);
		rc = send_to(p.cli, 1, 80, 5000, 2, UHOMA_NONBLOCK) == UHOMA_OK;
	}
	assert_int_equal(rc, 1);     /* the timeout freed the budget... */
	assert_int_equal(nt_recv_nb(p.cli, &m), UHOMA_ERR_TIMEDOUT);
	/* ...before the application collected the error. Now abort the
	 * request just sent: its bytes come back too. */
	nt_addr(1, 80, &to, &to_len);
	assert_int_equal(send_to(p.cli, 1, 80, 5000, 3, UHOMA_NONBLOCK),
			 UHOMA_ERR_AGAIN);
	assert_int_equal(uhoma_abort(p.cli, 0, 0), UHOMA_OK);
	assert_int_equal(uhoma_send(p.cli, (struct sockaddr *)&to, to_len,
				    msgbuf, 5000, 3, UHOMA_NONBLOCK, &id),
			 UHOMA_OK);
	nt_pair_close(&p);
}

/*
 * Responses that wait for space in a region full of messages the
 * application holds can only complete once it releases them: a send that
 * would wait for their budget fails with UHOMA_ERR_NO_BUFFER instead.
 */
static void budget__full_region_gives_no_buffer(void **state)
{
	const size_t small = 2 * 65536 + 2000000;   /* 32 pages + slack */
	const size_t len = 500000;                  /* 8 pages each */
	struct nt_pair p;
	struct uhoma_msg held[8], m;
	int n = 0, rc;

	(void)state;
	nt_pair_open(&p, 11, 1, 9000, NT_REGION, small);
	assert_int_equal(uhoma_set_sndbuf(p.cli, 2 * CHARGE(len)), UHOMA_OK);
	/* Four responses fill the region; two more wait for it. */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 2; i++)
			assert_int_equal(send_to(p.cli, 1, 80, len,
						 (uint64_t)(10 * round + i),
						 UHOMA_NONBLOCK), UHOMA_OK);
		for (int t = 0; t < 30; t++) {
			nt_echo_ready(p.srv, msgbuf);
			uhoma_memnet_run(p.net, TICK_NS);
		}
	}
	assert_int_equal(in_flight(p.cli), 2);
	assert_int_equal(send_to(p.cli, 1, 80, len, 99, 0),
			 UHOMA_ERR_NO_BUFFER);
	/* Receiving and releasing frees pages, responses complete, the
	 * budget returns. */
	while ((rc = nt_recv_nb(p.cli, &held[n])) > 0)
		n++;
	assert_int_equal(n, 4);
	for (int i = 0; i < n; i++) {
		assert_true(nt_check(p.cli, &held[i], len, held[i].cookie));
		uhoma_msg_release(p.cli, &held[i]);
	}
	for (int t = 0; t < 30 && in_flight(p.cli) > 0; t++)
		uhoma_memnet_run(p.net, TICK_NS);
	assert_int_equal(in_flight(p.cli), 0);
	assert_int_equal(send_to(p.cli, 1, 80, len, 99, 0), UHOMA_OK);
	while ((rc = nt_recv_nb(p.cli, &m)) > 0)
		uhoma_msg_release(p.cli, &m);
	nt_pair_close(&p);
}

/* Lets the server (10.0.0.1) take packets again after 300 ms. */
static void *unstall_later(void *arg)
{
	uh_sleep_ns(300 * 1000000ull);
	uhoma_memnet_stall(arg, "10.0.0.1", 0);
	return NULL;
}

/*
 * Real threads: one thread sends 60 requests without receiving between
 * them. It must block (send_waits), never have more than the budget's
 * three requests in flight, and be released by the receive thread as
 * responses complete -- no uhoma_recv needed. The server starts stalled,
 * so the fourth send finds the budget spent however the threads are
 * scheduled (a fast echo on a loaded machine could otherwise answer each
 * request before the next is sent).
 */
static void budget__blocked_sender_released_by_responses(void **state)
{
	pthread_t unstaller;
	struct nt_pair p;
	struct nt_echo echo;
	struct uhoma_metrics met;
	struct uhoma_msg m;
	int got = 0, most = 0, rc;

	(void)state;
	/* Real time on 2 cores under a sanitizer can leave a peer
	 * unscheduled past the 100 ms timeout; this test is about the
	 * budget, not timeouts: give peers 60 s (as a user would). */
	setenv("UHOMA_CONFIG", "timeout_ticks=60000", 1);
	nt_pair_open(&p, 11, 0, 9000, NT_REGION, NT_REGION);
	unsetenv("UHOMA_CONFIG");
	nt_echo_start(&echo, p.srv, 1);
	assert_int_equal(uhoma_set_sndbuf(p.cli, 3 * CHARGE(30000)), UHOMA_OK);
	assert_int_equal(uhoma_memnet_stall(p.net, "10.0.0.1", 1), 0);
	assert_int_equal(pthread_create(&unstaller, NULL, unstall_later, p.net),
			 0);
	for (int i = 0; i < 60; i++) {
		int k;

		assert_int_equal(send_to(p.cli, 1, 80, 30000, 100u + (unsigned)i,
					 0), UHOMA_OK);
		k = in_flight(p.cli);
		if (k > most)
			most = k;
	}
	assert_true(most <= 3);
	pthread_join(unstaller, NULL);
	uhoma_metrics(p.b, &met);
	assert_true(met.send_waits > 0);
	while (got < 60) {
		memset(&m, 0, sizeof(m));
		rc = uhoma_recv(p.cli, &m, 0, 5 * 1000 * 1000 * 1000ll);
		assert_int_equal(rc, 30000);
		assert_true(nt_check(p.cli, &m, 30000, m.cookie));
		uhoma_msg_release(p.cli, &m);
		got++;
	}
	nt_echo_stop(&echo);
	assert_int_equal(atomic_load(&echo.dups), 0);
	nt_pair_close(&p);
}

/* A server that answers each request 5 ms after it comes, until @stop. */
struct slow_server {
	struct uhoma_sock *s;
	_Atomic bool stop;
};

static void *slow_serve(void *arg)
{
	struct slow_server *ss = arg;

	while (!atomic_load(&ss->stop)) {
		struct uhoma_msg m;

		memset(&m, 0, sizeof(m));
		if (uhoma_recv(ss->s, &m, 0, 10 * 1000 * 1000) <= 0)
			continue;
		uhoma_msg_release(ss->s, &m);
		uh_sleep_ns(5 * 1000000ull);
		(void)uhoma_reply(ss->s, (struct sockaddr *)&m.peer,
				  m.peer_len, m.id, "done", 4);
	}
	return NULL;
}

/* The client's receiver: takes every response until @stop. */
static void *take_responses(void *arg)
{
	struct slow_server *ss = arg;   /* (its s is the client here) */

	while (!atomic_load(&ss->stop)) {
		struct uhoma_msg m;

		memset(&m, 0, sizeof(m));
		if (uhoma_recv(ss->s, &m, 0, 10 * 1000 * 1000) > 0)
			uhoma_msg_release(ss->s, &m);
	}
	return NULL;
}

/*
 * The readiness descriptor says writable exactly while a send would be
 * admitted, with the responses taken by another thread: a budget of one
 * request, a sender that polls for POLLOUT and sends. Right after a send
 * the descriptor must not poll writable while a second send is refused
 * (helper-39: it did, for milliseconds at a time, and a sender that
 * trusted poll spun).
 */
static void budget__pollout_agrees_with_a_receiving_thread(void **state)
{
	struct nt_pair p;
	struct slow_server srv, cli;
	pthread_t t[2];
	int fd, wrong = 0, sent = 0;

	(void)state;
	setenv("UHOMA_CONFIG", "timeout_ticks=60000", 1);
	nt_pair_open(&p, 12, 0, 9000, NT_REGION, NT_REGION);
	unsetenv("UHOMA_CONFIG");
	srv.s = p.srv;
	cli.s = p.cli;
	atomic_store(&srv.stop, false);
	atomic_store(&cli.stop, false);
	assert_int_equal(uhoma_set_sndbuf(p.cli, 1), UHOMA_OK);
	fd = uhoma_fd(p.cli);
	assert_int_equal(pthread_create(&t[0], NULL, slow_serve, &srv), 0);
	assert_int_equal(pthread_create(&t[1], NULL, take_responses, &cli), 0);
	for (int i = 0; i < 40; i++) {
		struct pollfd pf = { .fd = fd, .events = POLLOUT };

		assert_int_equal(poll(&pf, 1, 10000), 1);
		if (send_to(p.cli, 1, 80, 100, (unsigned)i, UHOMA_NONBLOCK) !=
		    UHOMA_OK)
			continue;    /* (taken back by a racing response) */
		sent++;
		pf.revents = 0;
		if (poll(&pf, 1, 0) == 1 &&
		    send_to(p.cli, 1, 80, 100, (unsigned)i,
			    UHOMA_NONBLOCK) == UHOMA_ERR_AGAIN)
			wrong++;
	}
	atomic_store(&srv.stop, true);
	atomic_store(&cli.stop, true);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	assert_true(sent > 0);
	assert_int_equal(wrong, 0);
	nt_pair_close(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(budget__admits_up_to_the_limit),
		UH_TEST(budget__long_message_alone_and_zero_is_unlimited),
		UH_TEST(budget__returned_by_failure_and_abort),
		UH_TEST(budget__full_region_gives_no_buffer),
		UH_TEST(budget__blocked_sender_released_by_responses),
		UH_TEST(budget__pollout_agrees_with_a_receiving_thread),
	};
	int rc;

	msgbuf = malloc(UHOMA_MAX_MESSAGE);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(msgbuf);
	return rc;
}
