/*
 * test_at_most_once.c - a request is executed at most once, whatever the
 * network does to its copies, within the window uhoma(7) states.
 *
 * A client and a server on a virtual-clock memnet. Each request carries
 * its number in its first 8 bytes; the server counts how often it saw each
 * number. Any count above 1 is a re-execution: the guarantee broken. The
 * cases are the ones that broke the old, direct-mapped memory of finished
 * ids: thousands of requests in flight with loss, duplication and
 * reordering (a late copy arrives after more than 1,024 other requests of
 * that client finished), and one request in flight with duplicates delayed
 * far beyond the round trip.
 *
 * Deterministic: one seed, one thread, virtual time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nettest.h"
#include "testutil.h"

#define REQ_LEN 200

struct amo {
	struct nt_pair p;
	uint8_t *seen;          /* executions per request number */
	uint64_t *ids;          /* RPC id per request number */
	bool *done;             /* response received */
	unsigned total, sent, completed, failed;
	unsigned in_flight;
	uint64_t reexecuted;
};

static void send_req(struct amo *a)
{
	struct sockaddr_storage to;
	size_t to_len;
	uint8_t buf[REQ_LEN];
	uint64_t n = a->sent;

	memset(buf, 0xA5, sizeof(buf));
	memcpy(buf, &n, sizeof(n));
	nt_addr(1, 80, &to, &to_len);
	assert_int_equal(uhoma_send(a->p.cli, (struct sockaddr *)&to, to_len,
				    buf, sizeof(buf), n, 0, &a->ids[n]),
			 UHOMA_OK);
	a->sent++;
	a->in_flight++;
}

/* The server: counts each request number, answers with the same bytes. */
static void serve(struct amo *a)
{
	struct uhoma_msg m;
	uint8_t buf[REQ_LEN];
	uint64_t n;
	int rc;

	while ((rc = nt_recv_nb(a->p.srv, &m)) != UHOMA_ERR_AGAIN) {
		assert_int_equal(rc, REQ_LEN);
		assert_int_equal(uhoma_msg_copy(a->p.srv, &m, 0, buf, REQ_LEN),
				 REQ_LEN);
		assert_int_equal(uhoma_msg_release(a->p.srv, &m), UHOMA_OK);
		memcpy(&n, buf, sizeof(n));
		assert_true(n < a->total);
		if (a->seen[n]++)
			a->reexecuted++;
		assert_int_equal(uhoma_reply(a->p.srv, (struct sockaddr *)&m.peer,
					     m.peer_len, m.id, buf, REQ_LEN),
				 UHOMA_OK);
	}
}

static void collect(struct amo *a)
{
	struct uhoma_msg m;
	int rc;

	while ((rc = nt_recv_nb(a->p.cli, &m)) != UHOMA_ERR_AGAIN) {
		assert_true(m.cookie < a->total);
		assert_false(a->done[m.cookie]);
		assert_true(a->ids[m.cookie] == m.id);
		a->done[m.cookie] = true;
		a->in_flight--;
		if (rc < 0) {
			a->failed++;
			continue;
		}
		assert_int_equal(rc, REQ_LEN);
		assert_int_equal(uhoma_msg_release(a->p.cli, &m), UHOMA_OK);
		a->completed++;
	}
}

/*
 * Runs @total requests with @window in flight under @f, then lets late
 * copies arrive for @drain_ns of virtual time. Returns re-executions.
 */
static uint64_t run(uint64_t seed, const struct uhoma_memnet_faults *f,
		    unsigned total, unsigned window, uint64_t drain_ns)
{
	struct amo a;
	unsigned rounds = 0;
	uint64_t r;
	struct uhoma_memnet_stats ns;

	memset(&a, 0, sizeof(a));
	a.total = total;
	a.seen = calloc(total, 1);
	a.ids = calloc(total, sizeof(*a.ids));
	a.done = calloc(total, sizeof(*a.done));
	nt_pair_open(&a.p, seed, 1, 1500, 64u << 20, 64u << 20);
	uhoma_memnet_set_faults(a.p.net, f);
	while (a.completed + a.failed < total) {
		while (a.in_flight < window && a.sent < total)
			send_req(&a);
		serve(&a);
		collect(&a);
		uhoma_memnet_run(a.p.net, 100 * 1000);   /* 100 us */
		assert_true(++rounds < 2000000);          /* 200 virtual s */
	}
	/* Late copies still in the network arrive now. */
	for (uint64_t t = 0; t < drain_ns; t += 1000000) {
		uhoma_memnet_run(a.p.net, 1000000);
		serve(&a);
		collect(&a);
	}
	uhoma_memnet_stats(a.p.net, &ns);
	print_message("    %u RPCs (%u in flight): %u completed, %u failed, "
		      "%llu re-executed; net: lost %llu dup %llu reordered %llu\n",
		      total, window, a.completed, a.failed,
		      (unsigned long long)a.reexecuted,
		      (unsigned long long)ns.lost,
		      (unsigned long long)ns.duplicated,
		      (unsigned long long)ns.reordered);
	/* Every request ran at least once... */
	for (unsigned i = 0; i < total; i++)
		if (!a.seen[i] && !a.done[i])
			fail_msg("request %u neither ran nor ended", i);
	r = a.reexecuted;
	/* The server remembers this client while it is quiet, then forgets
	 * it: memory back to base (dedup_quiet_ms, 10 s by default). */
	{
		struct uhoma_metrics m;

		uhoma_metrics(a.p.a, &m);
		assert_true(m.dedup_records == 1);
		assert_true(m.dedup_bytes >= 256);
		assert_true(m.dedup_evictions == 0);
		uhoma_memnet_run(a.p.net, 11000000000ull);
		uhoma_metrics(a.p.a, &m);
		assert_true(m.dedup_records == 0);
		assert_true(m.dedup_bytes == 0);
	}
	nt_pair_close(&a.p);
	free(a.seen);
	free(a.ids);
	free(a.done);
	return r;
}

/* Thousands in flight: a late copy meets a server that finished more than
 * a thousand other requests of this client since. */
static void amo__thousands_in_flight(void **state)
{
	const struct uhoma_memnet_faults f = {
		.loss_ppm = 10000, .dup_ppm = 50000, .reorder_ppm = 50000,
		.delay_ns = 5000, .max_delay_ns = 1000000,
	};
	(void)state;
	assert_true(run(21, &f, 20000, 2000, 50000000) == 0);
}

/* One in flight, duplicates delayed up to 500 ms: far past the round
 * trip and past the response's acknowledgement. */
static void amo__late_duplicates(void **state)
{
	const struct uhoma_memnet_faults f = {
		.dup_ppm = 100000, .delay_ns = 5000,
		.max_delay_ns = 500000000,
	};
	(void)state;
	assert_true(run(22, &f, 4000, 1, 600000000) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(amo__thousands_in_flight),
		UH_TEST(amo__late_duplicates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
