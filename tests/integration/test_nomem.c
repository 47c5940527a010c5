/*
 * test_nomem.c - memory running out inside uhoma: every call either works
 * or says UHOMA_ERR_NOMEM, every RPC ends (complete or failed, never left
 * waiting), nothing crashes, the validator reports nothing on the paths
 * taken, and once memory is back the stack works as before.
 *
 * The failures are injected into uhoma's own allocations only
 * (sync/alloc_fault.h; builds with the validator): 2 %, 20 % and half
 * of them. One test runs the two stacks on a virtual clock,
 * deterministic; the other runs their threads, where the failures land on
 * the receive and timer threads too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "nettest.h"
#include "sync/alloc_fault.h"
#include "testutil.h"

#define TICK_NS 1000000ull       /* cfg.tick_us default */
#define NRPC 300

static uint8_t *msgbuf;

/* The request lengths: one packet, a few, and past the unscheduled
 * bytes (grants). */
static size_t len_of(unsigned i)
{
	static const size_t lens[] = { 100, 1400, 5000, 60000, 250000 };

	return lens[i % (sizeof(lens) / sizeof(lens[0]))];
}

/* A server that answers what it can and keeps the rest for later: a
 * reply refused for want of memory is retried, as an application must
 * (the request stays owed until answered). */
struct owed {
	struct sockaddr_storage peer;
	uint32_t peer_len;
	uint64_t id;
	size_t len;
	uint8_t *bytes;          /* the request's, echoed back */
};

struct server {
	struct uhoma_sock *s;
	struct owed *owed;
	size_t nowed;
	uint64_t nomem_replies, nomem_recvs;
};

static void serve(struct server *sv)
{
	struct uhoma_msg m;
	size_t keep = 0;
	int rc;

	/* Retry what is owed first. */
	for (size_t i = 0; i < sv->nowed; i++) {
		struct owed *o = &sv->owed[i];

		rc = uhoma_reply(sv->s, (struct sockaddr *)&o->peer,
				 o->peer_len, o->id, o->bytes, o->len);
		if (rc == UHOMA_ERR_NOMEM) {
			sv->nomem_replies++;
			sv->owed[keep++] = *o;
		} else {
			/* Its client may have given up: NOT_FOUND then. */
			assert_true(rc == UHOMA_OK ||
				    rc == UHOMA_ERR_NOT_FOUND);
			free(o->bytes);
		}
	}
	sv->nowed = keep;
	for (;;) {
		rc = nt_recv_nb(sv->s, &m);
		if (rc == UHOMA_ERR_AGAIN)
			break;
		if (rc == UHOMA_ERR_NOMEM) {
			sv->nomem_recvs++;
			continue;
		}
		assert_true(rc >= 0);
		sv->owed[sv->nowed] = (struct owed){
			.peer = m.peer, .peer_len = m.peer_len, .id = m.id,
			.len = (size_t)rc, .bytes = malloc((size_t)rc + 1) };
		assert_non_null(sv->owed[sv->nowed].bytes);
		assert_int_equal(uhoma_msg_copy(sv->s, &m, 0,
						sv->owed[sv->nowed].bytes,
						(size_t)rc), rc);
		sv->nowed++;
		uhoma_msg_release(sv->s, &m);
		assert_true(sv->nowed <= NRPC);
	}
}

/* The client's side of one run: sends NRPC requests (a send refused for
 * memory counts as ended), then takes every response or error. */
struct client {
	struct uhoma_sock *s;
	struct sockaddr_storage to;   /* the server */
	size_t to_len;
	uint64_t ids[NRPC];
	bool ended[NRPC];
	unsigned sent, ended_n, ok, failed, nomem_sends;
};

/* Sends request @i: UHOMA_OK, or UHOMA_ERR_AGAIN when the send budget is
 * spent (on a virtual clock a send returns rather than wait: the caller
 * runs the network and tries again); a send refused for memory ends the
 * RPC there. */
static int client_send(struct client *c, unsigned i)
{
	size_t len = len_of(i);
	int rc;

	nt_fill(msgbuf, len, 1000 + i);
	/* The server echoes the bytes; the client checks the response
	 * against the pattern of its cookie. */
	rc = uhoma_send(c->s, (struct sockaddr *)&c->to, c->to_len, msgbuf, len,
			1000 + i, 0, &c->ids[i]);
	if (rc == UHOMA_ERR_AGAIN)
		return rc;
	if (rc == UHOMA_ERR_NOMEM) {
		c->nomem_sends++;
		c->ended[i] = true;
		c->ended_n++;
		return UHOMA_OK;
	}
	assert_int_equal(rc, UHOMA_OK);
	c->sent++;
	return rc;
}

static void client_take(struct client *c)
{
	struct uhoma_msg m;
	int rc;

	while ((rc = nt_recv_nb(c->s, &m)) != UHOMA_ERR_AGAIN) {
		unsigned i = (unsigned)(m.cookie - 1000);

		if (rc == UHOMA_ERR_NOMEM && m.id == 0)
			continue;           /* the receive itself: try again */
		assert_true(m.cookie >= 1000 && i < NRPC);
		assert_int_equal(m.id, c->ids[i]);
		assert_false(c->ended[i]);  /* each RPC ends once */
		c->ended[i] = true;
		c->ended_n++;
		if (rc >= 0) {
			assert_int_equal((size_t)rc, len_of(i));
			assert_true(nt_check(c->s, &m, (size_t)rc, m.cookie));
			uhoma_msg_release(c->s, &m);
			c->ok++;
		} else {
			/* A failed RPC says why; memory, or the silence of
			 * a peer that could not answer. */
			assert_true(rc == UHOMA_ERR_NOMEM ||
				    rc == UHOMA_ERR_TIMEDOUT);
			c->failed++;
		}
	}
}

/* On failure: what each side still holds. */
static void dump(const char *side, struct uhoma_sock *s)
{
	struct uhoma_rpc_info info[32];
	int n = uhoma_rpc_info(s, info, 32);

	for (int i = 0; i < n && i < 32; i++)
		print_message("%s id %llu tx %d/%u granted %u rx %d left %u "
			      "granted %u flags %#x\n", side,
			      (unsigned long long)info[i].id,
			      info[i].tx_length, info[i].tx_sent,
			      info[i].tx_granted, info[i].rx_length,
			      info[i].rx_remaining, info[i].rx_granted,
			      info[i].flags);
}

/* One virtual-clock run with @per_million of uhoma's allocations failing:
 * every RPC ends, and after it a round with memory back completes
 * whole. */
static void virtual_run(uint32_t per_million, uint64_t seed)
{
	struct nt_pair d;
	struct server sv = { 0 };
	struct client c = { 0 };
	uint64_t t0, before = uh_alloc_faults();

	nt_pair_open(&d, seed, 1, 1500, NT_REGION, NT_REGION);
	sv.s = d.srv;
	sv.owed = calloc(NRPC, sizeof(*sv.owed));
	c.s = d.cli;
	nt_addr(1, 80, &c.to, &c.to_len);
	uh_alloc_fault_set(per_million, seed);
	for (unsigned i = 0; i < NRPC; i++) {
		while (client_send(&c, i) == UHOMA_ERR_AGAIN) {
			uhoma_memnet_run(d.net, TICK_NS);
			serve(&sv);
			client_take(&c);
		}
		if (i % 10 == 9) {
			uhoma_memnet_run(d.net, 200000);
			serve(&sv);
			client_take(&c);
		}
	}
	/* 400 ticks more with memory failing, then 300 with it back: every
	 * RPC must have ended by then (the timeout is 100 silent ticks). An
	 * RPC may be slow while its packets keep failing, but not stuck. */
	t0 = uhoma_memnet_now(d.net);
	while (c.ended_n < NRPC &&
	       uhoma_memnet_now(d.net) - t0 < 700 * TICK_NS) {
		if (uhoma_memnet_now(d.net) - t0 >= 400 * TICK_NS)
			uh_alloc_fault_set(0, 0);
		uhoma_memnet_run(d.net, TICK_NS);
		serve(&sv);
		client_take(&c);
	}
	uh_alloc_fault_set(0, 0);
	print_message("%u per million: %llu allocations failed; %u complete, "
		      "%u failed, %u sends and %llu replies refused\n",
		      per_million,
		      (unsigned long long)(uh_alloc_faults() - before), c.ok,
		      c.failed, c.nomem_sends,
		      (unsigned long long)sv.nomem_replies);
	if (c.ended_n != NRPC) {
		print_message("owed %zu, receives refused %llu\n", sv.nowed,
			      (unsigned long long)sv.nomem_recvs);
		dump("client", d.cli);
		dump("server", d.srv);
	}
	assert_int_equal(c.ended_n, NRPC);
	assert_int_equal(c.ok + c.failed + c.nomem_sends, NRPC);
	assert_true(uh_alloc_faults() > before);
	assert_true(c.ok > 0);
	/* Memory back: the same stacks carry a new round whole. */
	memset(&c.ended, 0, sizeof(c.ended));
	c.ended_n = c.ok = c.failed = c.nomem_sends = 0;
	for (unsigned i = 0; i < 50; i++)
		assert_int_equal(client_send(&c, i), UHOMA_OK);
	for (int t = 0; t < 100 && c.ended_n < 50; t++) {
		uhoma_memnet_run(d.net, TICK_NS);
		serve(&sv);
		client_take(&c);
	}
	assert_int_equal(c.ok, 50);
	assert_int_equal(sv.nowed, 0);
	free(sv.owed);
	nt_pair_close(&d);
}

static void virtual_clock__every_rpc_ends(void **state)
{
	(void)state;
	if (!uh_alloc_fault_set(0, 0))
		skip();                      /* no validator, no wrap */
	virtual_run(20000, 7);               /* 2 % */
	virtual_run(200000, 8);              /* 20 % */
	virtual_run(500000, 9);              /* half */
}

/* The same with the stacks' own threads, on memnet (real clock) or on
 * UDP over loopback: failures land on the receive and timer threads as
 * well, and on the UDP carrier's own buffers. */
static void threads_run(bool udp)
{
	struct server sv = { 0 };
	struct client c = { 0 };
	struct uhoma_memnet *net = NULL;
	struct uhoma_stack *a, *b;
	void *ra, *rb;
	double t0;
	uint64_t before = uh_alloc_faults();

	if (udp) {
		struct uhoma_config cfg;

		uhoma_config_default(&cfg);
		snprintf(cfg.addr, sizeof(cfg.addr), "127.0.0.1");
		cfg.stat = 0;
		assert_int_equal(uhoma_stack_create(&cfg, &a), UHOMA_OK);
		assert_int_equal(uhoma_stack_create(&cfg, &b), UHOMA_OK);
		assert_int_equal(uhoma_socket(a, 0, &sv.s), UHOMA_OK);
		assert_int_equal(uhoma_set_server(sv.s, 1), UHOMA_OK);
		nt_sockaddr("127.0.0.1", uhoma_port(sv.s), &c.to, &c.to_len);
	} else {
		net = uhoma_memnet_create(8, 0);
		a = nt_stack(net, 1, 1500, 1);
		b = nt_stack(net, 2, 1500, 1);
		assert_int_equal(uhoma_socket(a, 80, &sv.s), UHOMA_OK);
		nt_addr(1, 80, &c.to, &c.to_len);
	}
	assert_int_equal(uhoma_socket(b, 0, &c.s), UHOMA_OK);
	ra = nt_buffers(sv.s, NT_REGION);
	rb = nt_buffers(c.s, NT_REGION);
	sv.owed = calloc(NRPC, sizeof(*sv.owed));
	uh_alloc_fault_set(200000, udp ? 44 : 43);     /* 20 % */
	for (unsigned i = 0; i < NRPC; i++) {
		assert_int_equal(client_send(&c, i), UHOMA_OK);
		serve(&sv);
		client_take(&c);
	}
	/* 100 ticks of 1 ms is the timeout: 2 s is ample. */
	t0 = nt_now();
	while (c.ended_n < NRPC && nt_now() - t0 < 2.0) {
		serve(&sv);
		client_take(&c);
		uh_test_sleep_ns(200000);
	}
	uh_alloc_fault_set(0, 0);
	/* Then as long again with memory back. */
	t0 = nt_now();
	while (c.ended_n < NRPC && nt_now() - t0 < 2.0) {
		serve(&sv);
		client_take(&c);
		uh_test_sleep_ns(200000);
	}
	print_message("%s: %llu allocations failed; %u complete, %u "
		      "failed, %u sends and %llu replies refused\n",
		      udp ? "udp" : "memnet",
		      (unsigned long long)(uh_alloc_faults() - before), c.ok,
		      c.failed, c.nomem_sends,
		      (unsigned long long)sv.nomem_replies);
	if (c.ended_n != NRPC) {
		dump("client", c.s);
		dump("server", sv.s);
	}
	assert_int_equal(c.ended_n, NRPC);
	assert_int_equal(c.ok + c.failed + c.nomem_sends, NRPC);
	assert_true(uh_alloc_faults() > before);
	memset(&c.ended, 0, sizeof(c.ended));
	c.ended_n = c.ok = c.failed = c.nomem_sends = 0;
	for (unsigned i = 0; i < 50; i++)
		assert_int_equal(client_send(&c, i), UHOMA_OK);
	t0 = nt_now();
	while (c.ended_n < 50 && nt_now() - t0 < 2.0) {
		serve(&sv);
		client_take(&c);
		uh_test_sleep_ns(200000);
	}
	assert_int_equal(c.ok, 50);
	free(sv.owed);
	uhoma_close(c.s);
	uhoma_close(sv.s);
	uhoma_stack_destroy(a);
	uhoma_stack_destroy(b);
	if (net)
		uhoma_memnet_destroy(net);
	nt_unmap(ra, NT_REGION);
	nt_unmap(rb, NT_REGION);
}

static void threads__every_rpc_ends(void **state)
{
	(void)state;
	if (!uh_alloc_fault_set(0, 0))
		skip();
	threads_run(false);
	threads_run(true);
}

/* Setting up and tearing down with 2 %, 10 % or half of the allocations
 * failing:
 * stacks (memnet and UDP, threads or none), sockets, buffer regions,
 * each call either works or says NOMEM (SYSTEM where a thread or a
 * descriptor could not be made), and whatever was made closes cleanly --
 * under ASan, with nothing leaked. */
static void setup__fails_cleanly(void **state)
{
	unsigned made = 0, refused = 0;

	(void)state;
	if (!uh_alloc_fault_set(0, 0))
		skip();
	for (unsigned i = 0; i < 120; i++) {
		struct uhoma_memnet *net = uhoma_memnet_create(i, i % 2);
		struct uhoma_config cfg;
		struct uhoma_stack *st = NULL;
		struct uhoma_sock *s = NULL;
		void *r = NULL;
		int rc;

		assert_non_null(net);
		uhoma_config_default(&cfg);
		if (i % 3) {
			cfg.carrier = UHOMA_CARRIER_MEMNET;
			cfg.memnet = net;
			snprintf(cfg.addr, sizeof(cfg.addr), "10.0.0.1");
		} else {
			snprintf(cfg.addr, sizeof(cfg.addr), "127.0.0.1");
		}
		cfg.rx_threads = i % 2 ? 0 : 1;
		cfg.stat = 0;
		/* 2 %, 10 % and half, over each kind of stack. */
		uh_alloc_fault_set((i / 6) % 3 == 0   ? 20000
				   : (i / 6) % 3 == 1 ? 100000
						      : 500000, 100 + i);
		rc = uhoma_stack_create(&cfg, &st);
		if (rc == UHOMA_OK) {
			rc = uhoma_socket(st, (uint16_t)(i % 2 ? 80 : 0), &s);
			assert_true(rc == UHOMA_OK || rc == UHOMA_ERR_NOMEM ||
				    rc == UHOMA_ERR_SYSTEM);
		} else {
			assert_true(rc == UHOMA_ERR_NOMEM ||
				    rc == UHOMA_ERR_SYSTEM);
			assert_null(st);
		}
		if (s) {
			r = mmap(NULL, 4u << 20, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			assert_true(r != MAP_FAILED);
			rc = uhoma_set_buffers(s, r, 4u << 20);
			if (rc != UHOMA_OK && rc != UHOMA_ERR_NOMEM)
				print_message("set_buffers: %d\n", rc);
			assert_true(rc == UHOMA_OK || rc == UHOMA_ERR_NOMEM);
		}
		if (s)
			made++;
		else
			refused++;
		if (s)
			uhoma_close(s);
		if (st)
			uhoma_stack_destroy(st);
		uh_alloc_fault_set(0, 0);
		if (r)
			munmap(r, 4u << 20);
		uhoma_memnet_destroy(net);
	}
	print_message("%u sockets made, %u setups refused\n", made, refused);
	assert_true(made > 0 && refused > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(virtual_clock__every_rpc_ends),
		UH_TEST(threads__every_rpc_ends),
		UH_TEST(setup__fails_cleanly),
	};

	msgbuf = malloc(UHOMA_MAX_MESSAGE);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
