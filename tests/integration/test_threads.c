/*
 * test_threads.c - real threads on a real-clock in-memory network: three
 * stacks, each with a server socket answered by two threads and a client
 * socket on which two threads send and receive at once, under 1% loss,
 * duplication and reordering. Receive threads, the timer thread and
 * application threads all run the core concurrently; every RPC must
 * complete once with the right bytes, and the validator stays silent.
 * Also: a thread blocked in uhoma_recv wakes with UHOMA_ERR_SHUTDOWN.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nettest.h"
#include "util/clock.h"
#include "testutil.h"

#define HOSTS 3
#define PORT 900
#define PER_THREAD 150
#define CLIENT_THREADS 2

struct host {
	struct uhoma_stack *st;
	struct uhoma_sock *srv, *cli;
	void *rs, *rc;
	struct nt_echo echo;
};

static struct host hosts[HOSTS];
static _Atomic uint64_t completed, wrong;

struct client_arg {
	int host, thread;
};

static void *client_main(void *p)
{
	struct client_arg *a = p;
	struct host *h = &hosts[a->host];
	uint8_t *buf = malloc(300000);
	uint64_t rng = (uint64_t)a->host * 77 + (uint64_t)a->thread + 1;
	int sent = 0, got = 0;

	/* Send and receive interleaved: up to 4 outstanding per thread.
	 * Both threads receive from the same socket, so each completes
	 * whichever responses it gets; the totals must add up. */
	while (got < PER_THREAD) {
		struct uhoma_msg m;
		int rc;

		while (sent < PER_THREAD && sent - got < 4) {
			struct sockaddr_storage to;
			size_t to_len, len;
			int dst = (a->host + 1 + (int)(uh_test_rand(&rng) % 2)) %
				  HOSTS;
			uint64_t id, seed = uh_test_rand(&rng) >> 24;

			len = uh_test_rand(&rng) % 8 == 0
				      ? 1 + uh_test_rand(&rng) % 300000
				      : 1 + uh_test_rand(&rng) % 3000;
			nt_fill(buf, len, seed);
			nt_addr(dst + 1, PORT, &to, &to_len);
			/* The cookie carries seed and length for checking. */
			if (uhoma_send(h->cli, (struct sockaddr *)&to, to_len,
				       buf, len, (seed << 20) | len, 0,
				       &id) != UHOMA_OK) {
				print_error("send failed\n");
				atomic_fetch_add(&wrong, 1);
			}
			sent++;
		}
		memset(&m, 0, sizeof(m));
		rc = uhoma_recv(h->cli, &m, 0, 20 * 1000000000ll);
		if (rc < 0) {
			print_error("recv: %s (id %llu)\n", uhoma_strerror(rc),
				    (unsigned long long)m.id);
			atomic_fetch_add(&wrong, 1);
			break;
		}
		if ((size_t)rc != (m.cookie & 0xFFFFF) ||
		    !nt_check(h->cli, &m, (size_t)rc, m.cookie >> 20)) {
			print_error("bad response: %d bytes, expected %llu\n",
				    rc, (unsigned long long)(m.cookie & 0xFFFFF));
			atomic_fetch_add(&wrong, 1);
		}
		uhoma_msg_release(h->cli, &m);
		got++;
		atomic_fetch_add(&completed, 1);
	}
	free(buf);
	return NULL;
}

static void threads__concurrent_rpcs_under_loss(void **state)
{
	struct uhoma_memnet *net = uhoma_memnet_create(21, 0);
	struct uhoma_memnet_faults f = {
		.loss_ppm = 10000, .dup_ppm = 10000, .reorder_ppm = 20000,
		.corrupt_ppm = 5000, .max_delay_ns = 300000,
	};
	pthread_t t[HOSTS][CLIENT_THREADS];
	struct client_arg args[HOSTS][CLIENT_THREADS];
	uint64_t served = 0;

	(void)state;
	uhoma_memnet_set_faults(net, &f);
	for (int i = 0; i < HOSTS; i++) {
		struct host *h = &hosts[i];

		h->st = nt_stack(net, i + 1, 1500, 1);
		assert_int_equal(uhoma_socket(h->st, PORT, &h->srv), UHOMA_OK);
		assert_int_equal(uhoma_socket(h->st, 0, &h->cli), UHOMA_OK);
		h->rs = nt_buffers(h->srv, NT_REGION);
		h->rc = nt_buffers(h->cli, NT_REGION);
		nt_echo_start(&h->echo, h->srv, 2);
	}
	for (int i = 0; i < HOSTS; i++)
		for (int j = 0; j < CLIENT_THREADS; j++) {
			args[i][j] = (struct client_arg){ i, j };
			pthread_create(&t[i][j], NULL, client_main, &args[i][j]);
		}
	for (int i = 0; i < HOSTS; i++)
		for (int j = 0; j < CLIENT_THREADS; j++)
			pthread_join(t[i][j], NULL);
	if (atomic_load(&wrong))
		for (int i = 0; i < HOSTS; i++) {
			print_error("--- host %d\n", i + 1);
			uhoma_metrics_print(hosts[i].st, stderr);
		}
	assert_int_equal(atomic_load(&wrong), 0);
	assert_int_equal(atomic_load(&completed),
			 HOSTS * CLIENT_THREADS * PER_THREAD);
	for (int i = 0; i < HOSTS; i++) {
		struct host *h = &hosts[i];

		nt_echo_stop(&h->echo);
		assert_int_equal(atomic_load(&h->echo.dups), 0);
		assert_int_equal(atomic_load(&h->echo.errors), 0);
		served += atomic_load(&h->echo.served);
	}
	assert_int_equal(served, HOSTS * CLIENT_THREADS * PER_THREAD);
	for (int i = 0; i < HOSTS; i++) {
		uhoma_close(hosts[i].cli);
		uhoma_close(hosts[i].srv);
		uhoma_stack_destroy(hosts[i].st);
		nt_unmap(hosts[i].rs, NT_REGION);
		nt_unmap(hosts[i].rc, NT_REGION);
	}
	uhoma_memnet_destroy(net);
}

struct waiter {
	struct uhoma_sock *s;
	uint64_t id;
	int rc;
};

static void *wait_main(void *p)
{
	struct waiter *w = p;
	struct uhoma_msg m;

	memset(&m, 0, sizeof(m));
	m.id = w->id;
	w->rc = uhoma_recv(w->s, &m, 0, -1);
	return NULL;
}

/* One stack with one socket on a real-time memnet, and the address of a
 * host that does not exist: its RPCs stay in flight until ended. */
struct lone {
	struct uhoma_memnet *net;
	struct uhoma_stack *st;
	struct uhoma_sock *s;
	void *region;
	struct sockaddr_storage nobody;
	size_t nobody_len;
};

static void lone_open(struct lone *l, uint64_t seed)
{
	l->net = uhoma_memnet_create(seed, 0);
	l->st = nt_stack(l->net, 1, 1500, 1);
	assert_int_equal(uhoma_socket(l->st, 0, &l->s), UHOMA_OK);
	l->region = nt_buffers(l->s, NT_REGION);
	nt_addr(7, 7, &l->nobody, &l->nobody_len);
}

/* Starts an 8-byte RPC to nobody; its id. */
static uint64_t lone_send(struct lone *l, unsigned flags)
{
	uint8_t b[8] = { 0 };
	uint64_t id;

	assert_int_equal(uhoma_send(l->s, (struct sockaddr *)&l->nobody,
				    l->nobody_len, b, 8, 0, flags, &id),
			 UHOMA_OK);
	return id;
}

static void lone_close(struct lone *l)
{
	uhoma_close(l->s);
	uhoma_stack_destroy(l->st);
	uhoma_memnet_destroy(l->net);
	nt_unmap(l->region, NT_REGION);
}

static void threads__shutdown_wakes_every_waiter(void **state)
{
	struct lone l;
	struct uhoma_sock *s;
	struct waiter w[3];
	pthread_t t[3];

	(void)state;
	lone_open(&l, 22);
	s = l.s;
	w[0] = (struct waiter){ s, 0, 0 };
	w[1] = (struct waiter){ s, 0, 0 };
	w[2] = (struct waiter){ s, lone_send(&l, UHOMA_PRIVATE), 0 };
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, wait_main, &w[i]);
	uh_sleep_ns(30 * 1000000);       /* let them block */
	assert_int_equal(uhoma_shutdown(s), UHOMA_OK);
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		/* The private waiter's RPC is gone: it may see either. */
		assert_true(w[i].rc == UHOMA_ERR_SHUTDOWN ||
			    (i == 2 && w[i].rc == UHOMA_ERR_INVALID_ARGUMENT));
	}
	lone_close(&l);
}

/*
 * A thread sleeping in uhoma_recv waits in the carrier itself (the
 * blocking receiver). A message made ready by another thread, with no
 * packet arriving -- here an abort -- must wake it at once through the
 * carrier's kick, not when its wait there next times out (50 ms). Three
 * rounds, each timed from the abort; a missing kick would show as ~40 ms.
 */
static void threads__blocking_receiver_kicked(void **state)
{
	struct lone l;

	(void)state;
	lone_open(&l, 23);
	for (int round = 0; round < 3; round++) {
		struct waiter w = { l.s, 0, 0 };
		pthread_t t;
		uint64_t id = lone_send(&l, 0);
		double t0;

		pthread_create(&t, NULL, wait_main, &w);
		uh_sleep_ns(10 * 1000000);       /* it polls, then blocks */
		t0 = nt_now();
		assert_int_equal(uhoma_abort(l.s, id, UHOMA_ERR_ABORTED),
				 UHOMA_OK);
		pthread_join(t, NULL);
		assert_int_equal(w.rc, UHOMA_ERR_ABORTED);
		assert_true(nt_now() - t0 < 0.025);
	}
	lone_close(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(threads__concurrent_rpcs_under_loss),
		UH_TEST(threads__shutdown_wakes_every_waiter),
		UH_TEST(threads__blocking_receiver_kicked),
	};

	/* Real time on 2 cores with ~20 threads, under ASan or TSan, can
	 * leave a peer unscheduled for longer than the 100 ms default
	 * timeout. This test is about concurrency, not timeouts (those are
	 * tested in virtual time by test_failures), so give peers 5 s. Set
	 * through the environment, as a user would. */
	setenv("UHOMA_CONFIG", "timeout_ticks=5000", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
