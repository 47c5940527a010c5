/*
 * test_loss.c - thousands of RPCs between 4 stacks on a virtual-clock
 * in-memory network, sizes from the W1-W5 workloads (1 B .. 1,000,000 B),
 * under 0%, 1%, 5% and 20% loss plus duplication, reordering and
 * checksum-caught corruption. Every RPC must complete exactly once with
 * the right bytes; servers must never see a request twice; nothing may
 * leak; the validator must stay silent (it aborts otherwise).
 *
 * Deterministic: one seed, one thread, virtual time (timeouts cost no
 * real time). tests/integration/test_threads.c covers real concurrency.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nettest.h"
#include "testutil.h"
#include "dist.h"

#define HOSTS 4
#define SERVER_PORT 700
#define OUTSTANDING 6           /* per client socket */
#define REGION (96u << 20)

struct pending_rpc {
	uint64_t id;
	uint32_t len;
	uint64_t seed;
	int host;
	bool done;
};

struct world {
	struct uhoma_memnet *net;
	struct uhoma_stack *st[HOSTS];
	struct uhoma_sock *srv[HOSTS], *cli[HOSTS];
	void *rs[HOSTS], *rc[HOSTS];
	struct pending_rpc *rpcs;
	size_t nrpcs, cap;
	unsigned outstanding[HOSTS];
	uint64_t served[HOSTS], completed, bytes;
	uint8_t *buf;
};

static struct uh_dist wl[5];

static void world_up(struct world *w, uint64_t seed,
		     const struct uhoma_memnet_faults *f)
{
	memset(w, 0, sizeof(*w));
	w->net = uhoma_memnet_create(seed, 1);
	uhoma_memnet_set_faults(w->net, f);
	for (int h = 0; h < HOSTS; h++) {
		/* Hosts 0-1 use 1500-byte packets, 2-3 jumbo ones. */
		w->st[h] = nt_stack(w->net, h + 1, h < 2 ? 1500 : 9000, 0);
		assert_int_equal(uhoma_socket(w->st[h], SERVER_PORT, &w->srv[h]),
				 UHOMA_OK);
		assert_int_equal(uhoma_socket(w->st[h], 0, &w->cli[h]),
				 UHOMA_OK);
		w->rs[h] = nt_buffers(w->srv[h], REGION);
		w->rc[h] = nt_buffers(w->cli[h], REGION);
	}
	w->buf = malloc(UHOMA_MAX_MESSAGE);
}

static void world_down(struct world *w)
{
	struct uhoma_metrics m;

	for (int h = 0; h < HOSTS; h++) {
		uhoma_metrics(w->st[h], &m);
		/* Every RPC was reaped or is a dead one waiting for it. */
		assert_true(m.rpcs[UHOMA_RPCS_CLIENT_OUTGOING] == 0);
		assert_true(m.rpcs[UHOMA_RPCS_CLIENT_INCOMING] == 0);
		uhoma_close(w->cli[h]);
		uhoma_close(w->srv[h]);
		uhoma_stack_destroy(w->st[h]);
		nt_unmap(w->rs[h], REGION);
		nt_unmap(w->rc[h], REGION);
	}
	uhoma_memnet_destroy(w->net);
	free(w->rpcs);
	free(w->buf);
}

static void send_one(struct world *w, int h, uint64_t *rng)
{
	struct sockaddr_storage to;
	size_t to_len;
	struct pending_rpc *p;
	int dst = (int)(uh_test_rand(rng) % (HOSTS - 1));
	uint32_t len = uh_dist_sample(&wl[uh_test_rand(rng) % 5], rng);

	if (dst >= h)
		dst++;
	if (w->nrpcs == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 1024;
		w->rpcs = realloc(w->rpcs, w->cap * sizeof(*w->rpcs));
	}
	p = &w->rpcs[w->nrpcs];
	p->len = len;
	p->seed = w->nrpcs * 31 + 7;
	p->host = h;
	p->done = false;
	nt_fill(w->buf, len, p->seed);
	nt_addr(dst + 1, SERVER_PORT, &to, &to_len);
	assert_int_equal(uhoma_send(w->cli[h], (struct sockaddr *)&to, to_len,
				    w->buf, len, w->nrpcs, 0, &p->id),
			 UHOMA_OK);
	w->nrpcs++;
	w->outstanding[h]++;
}

static void serve(struct world *w, int h)
{
	struct uhoma_msg m;
	int rc;

	for (;;) {
		memset(&m, 0, sizeof(m));
		rc = uhoma_recv(w->srv[h], &m, UHOMA_NONBLOCK, 0);
		if (rc == UHOMA_ERR_AGAIN)
			return;
		assert_true(rc > 0);
		assert_int_equal(uhoma_msg_copy(w->srv[h], &m, 0, w->buf,
						(size_t)rc), (size_t)rc);
		assert_int_equal(uhoma_msg_release(w->srv[h], &m), UHOMA_OK);
		assert_int_equal(uhoma_reply(w->srv[h], (struct sockaddr *)&m.peer,
					     m.peer_len, m.id, w->buf,
					     (size_t)rc), UHOMA_OK);
		w->served[h]++;
	}
}

static void collect(struct world *w, int h)
{
	struct uhoma_msg m;
	int rc;

	for (;;) {
		struct pending_rpc *p;

		memset(&m, 0, sizeof(m));
		rc = uhoma_recv(w->cli[h], &m, UHOMA_NONBLOCK, 0);
		if (rc == UHOMA_ERR_AGAIN)
			return;
		if (rc < 0)
			fail_msg("RPC %llu failed: %s",
				 (unsigned long long)m.id, uhoma_strerror(rc));
		assert_true(m.cookie < w->nrpcs);
		p = &w->rpcs[m.cookie];
		assert_true(p->id == m.id);
		assert_false(p->done);            /* exactly once */
		assert_int_equal(rc, (int)p->len);
		assert_true(nt_check(w->cli[h], &m, p->len, p->seed));
		assert_int_equal(uhoma_msg_release(w->cli[h], &m), UHOMA_OK);
		p->done = true;
		w->completed++;
		w->bytes += p->len;
		w->outstanding[h]--;
	}
}

static void run_world(uint64_t seed, const struct uhoma_memnet_faults *f,
		      unsigned total)
{
	struct world w;
	uint64_t rng = seed, served = 0, rounds = 0;
	struct uhoma_memnet_stats ns;

	world_up(&w, seed, f);
	while (w.completed < total) {
		for (int h = 0; h < HOSTS; h++) {
			while (w.outstanding[h] < OUTSTANDING &&
			       w.nrpcs < total)
				send_one(&w, h, &rng);
			serve(&w, h);
			collect(&w, h);
		}
		uhoma_memnet_run(w.net, 200 * 1000);   /* 200 us */
		/* 20 virtual seconds without finishing is a hang. */
		assert_true(++rounds < 100000);
	}
	for (int h = 0; h < HOSTS; h++)
		served += w.served[h];
	assert_true(served == total);     /* no request served twice */
	/* Let acks flow and the timers reap; then nothing may be left. */
	uhoma_memnet_run(w.net, 400 * 1000 * 1000ull);
	uhoma_memnet_stats(w.net, &ns);
	print_message("    %u RPCs, %.1f MB, %.2f virtual s; net: sent %llu "
		      "lost %llu dup %llu reordered %llu corrupted %llu\n",
		      total, (double)w.bytes / 1e6, (double)rounds * 200e-6,
		      (unsigned long long)ns.sent, (unsigned long long)ns.lost,
		      (unsigned long long)ns.duplicated,
		      (unsigned long long)ns.reordered,
		      (unsigned long long)ns.corrupted);
	for (int h = 0; h < HOSTS; h++) {
		struct uhoma_metrics m;

		uhoma_metrics(w.st[h], &m);
		assert_true(m.rpcs[UHOMA_RPCS_SERVER_INCOMING] == 0);
		assert_true(m.rpcs[UHOMA_RPCS_SERVER_IN_SERVICE] == 0);
		assert_true(m.rpcs[UHOMA_RPCS_SERVER_OUTGOING] == 0);
	}
	world_down(&w);
}

/* The four fault levels: loss, then duplication, reordering (up to
 * max_delay) and checksum-caught corruption growing with it. */
static const struct {
	uint64_t seed;
	unsigned rpcs;
	struct uhoma_memnet_faults f;
} cases[] = {
	{ 11, 2000, { 0 } },
	{ 12, 1500, { .loss_ppm = 10000, .dup_ppm = 5000, .reorder_ppm = 20000,
		      .corrupt_ppm = 2000, .delay_ns = 5000,
		      .max_delay_ns = 200000 } },
	{ 13, 1000, { .loss_ppm = 50000, .dup_ppm = 20000, .reorder_ppm = 50000,
		      .corrupt_ppm = 10000, .delay_ns = 5000,
		      .max_delay_ns = 500000 } },
	{ 14, 600, { .loss_ppm = 200000, .dup_ppm = 50000,
		     .reorder_ppm = 100000, .corrupt_ppm = 20000,
		     .delay_ns = 5000, .max_delay_ns = 1000000 } },
};

static void run_case(void **state)
{
	unsigned i = (unsigned)(uintptr_t)*state;

	run_world(cases[i].seed, &cases[i].f, cases[i].rpcs);
}

/* uh_test_setup, keeping the case index cmocka passes in *state. */
static int case_setup(void **state)
{
	void *index = *state;
	int rc = uh_test_setup(state);

	*state = index;
	return rc;
}

int main(void)
{
#define CASE(name, i) { name, run_case, case_setup, uh_test_teardown, \
			   (void *)(uintptr_t)(i) }
	const struct CMUnitTest tests[] = {
		CASE("loss__none", 0),
		CASE("loss__1pct", 1),
		CASE("loss__5pct", 2),
		CASE("loss__20pct", 3),
	};
	static const char *const names[5] = { "w1", "w2", "w3", "w4", "w5" };

	for (int i = 0; i < 5; i++)
		if (uh_dist_create(names[i], UHOMA_MAX_MESSAGE, &wl[i]) != 0) {
			fprintf(stderr, "cannot load workload %s\n", names[i]);
			return 1;
		}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
