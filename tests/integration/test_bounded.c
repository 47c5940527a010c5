/*
 * test_bounded.c - what a server sends and keeps is bounded by what its
 * peers send: probes to a client that vanished back off, and a client that
 * closes its socket acknowledges what it received instead of leaving the
 * server to time out.
 *
 * Deterministic: one seed, one thread, virtual time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nettest.h"
#include "testutil.h"


#define TICK_NS 1000000ull    /* cfg.tick_us default */

static void send_n(struct uhoma_sock *s, unsigned n, size_t len)
{
	struct sockaddr_storage to;
	size_t to_len;
	uint8_t buf[200];
	uint64_t id;

	memset(buf, 1, sizeof(buf));
	nt_addr(1, 80, &to, &to_len);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(uhoma_send(s, (struct sockaddr *)&to, to_len,
					    buf, len, i, 0, &id), UHOMA_OK);
}

/* A forged first DATA packet claiming @claim bytes, from 10.@net.x.y
 * (@n picks the address and the id). */
static void forge(struct uhoma_stack *st, unsigned net, unsigned n,
		  uint32_t claim)
{
	char text[32];

	snprintf(text, sizeof(text), "10.%u.%u.%u", net, (n / 250) % 250,
		 n % 250 + 1);
	nt_forge_request(st, text, 999, 2 + 2ull * n, claim);
}

/* 2,000 one-packet requests from a client that vanishes once they are in:
 * the server answers them all, then probes for the ACKs that never come
 * with at most 5 NEED_ACKs each before its timeout (the old schedule sent
 * one every resend_interval: 19), and keeps nothing afterwards. */
static void bounded__need_acks_to_vanished_client_back_off(void **state)
{
	enum { N = 2000 };
	struct nt_pair p;
	struct uhoma_metrics m;
	uint8_t *buf = malloc(UHOMA_MAX_MESSAGE);
	uint64_t need_acks;
	(void)state;

	nt_pair_open(&p, 51, 1, 1500, NT_REGION, NT_REGION);
	send_n(p.cli, N, 100);
	do {
		uhoma_memnet_run(p.net, 100 * 1000);
		uhoma_metrics(p.a, &m);
	} while (m.requests_received < N);
	uhoma_memnet_partition(p.net, "10.0.0.1", "10.0.0.2", 1);
	assert_int_equal(nt_echo_ready(p.srv, buf), N);
	uhoma_memnet_run(p.net, 300 * TICK_NS);
	uhoma_metrics(p.a, &m);
	need_acks = m.packets_sent[0x17 - 0x10];
	print_message("    %u responses to a vanished client: %llu NEED_ACKs "
		      "(%.1f each), %llu timeouts\n", N,
		      (unsigned long long)need_acks, (double)need_acks / N,
		      (unsigned long long)m.rpc_timeouts);
	assert_true(need_acks >= N);
	assert_true(need_acks <= 5ull * N);
	assert_true(m.rpc_timeouts == N);
	assert_true(m.rpcs[UHOMA_RPCS_SERVER_OUTGOING] == 0);
	nt_pair_close(&p);
	free(buf);
}

/* A client takes its responses and closes its socket: the ACKs it still
 * owed go out at close, and the server forgets the RPCs at once. */
static void bounded__closing_client_sends_its_acks(void **state)
{
	enum { N = 50 };
	struct nt_pair p;
	struct uhoma_metrics m;
	struct uhoma_msg msg;
	uint8_t *buf = malloc(UHOMA_MAX_MESSAGE);
	unsigned got = 0;
	int rc;
	(void)state;

	nt_pair_open(&p, 52, 1, 1500, NT_REGION, NT_REGION);
	send_n(p.cli, N, 100);
	while (got < N) {
		uhoma_memnet_run(p.net, 100 * 1000);
		nt_echo_ready(p.srv, buf);
		while ((rc = nt_recv_nb(p.cli, &msg)) != UHOMA_ERR_AGAIN) {
			assert_int_equal(rc, 100);
			uhoma_msg_release(p.cli, &msg);
			got++;
		}
	}
	/* No NEED_ACK yet (request_ack_ticks is 2): the acks are stored. */
	uhoma_metrics(p.a, &m);
	assert_true(m.rpcs[UHOMA_RPCS_SERVER_OUTGOING] > 0);
	uhoma_close(p.cli);
	p.cli = NULL;
	uhoma_memnet_run(p.net, 100 * 1000);
	uhoma_metrics(p.a, &m);
	print_message("    after close: %lld responses still kept, %llu "
		      "NEED_ACKs sent\n",
		      (long long)m.rpcs[UHOMA_RPCS_SERVER_OUTGOING],
		      (unsigned long long)m.packets_sent[0x17 - 0x10]);
	assert_true(m.rpcs[UHOMA_RPCS_SERVER_OUTGOING] == 0);
	assert_true(m.rpc_timeouts == 0);
	nt_pair_close(&p);
	free(buf);
}

/* 10,000 hosts each send the first packet of a request and vanish: the
 * server keeps at most max_unproven (4,096) such requests, ending the
 * oldest for each new one, and a peer for each host while its RPCs live;
 * it frees every peer once idle for dedup_quiet_ms (here 500 ms). */
static void bounded__idle_peers_are_freed(void **state)
{
	enum { PEERS = 10000 };
	struct nt_pair p;
	struct uhoma_metrics m;
	(void)state;

	setenv("UHOMA_CONFIG", "dedup_quiet_ms=500", 1);
	nt_pair_open(&p, 53, 1, 1500, NT_REGION, NT_REGION);
	unsetenv("UHOMA_CONFIG");
	for (unsigned i = 0; i < PEERS; i++)
		forge(p.a, 1, i, 1000);
	uhoma_metrics(p.a, &m);
	assert_true(m.peers == PEERS);
	assert_true(m.rpcs[UHOMA_RPCS_SERVER_INCOMING] == 4096);
	assert_true(m.unproven_evictions == PEERS - 4096);
	uhoma_memnet_run(p.net, 1500 * TICK_NS);
	uhoma_metrics(p.a, &m);
	print_message("    %u one-packet senders: after 1.5 s, %llu peers, "
		      "%lld RPCs, %llu timeouts\n", PEERS,
		      (unsigned long long)m.peers,
		      (long long)m.rpcs[UHOMA_RPCS_SERVER_INCOMING],
		      (unsigned long long)m.rpc_timeouts);
	assert_true(m.rpcs[UHOMA_RPCS_SERVER_INCOMING] == 0);
	assert_true(m.peers == 0);
	nt_pair_close(&p);
}

/*
 * 2,000 forged 1 MB claims a second for 3 s, into a server whose buffer
 * region holds 16 such messages, while a legitimate client sends 1 MB
 * requests two at a time: each of them completes within a second, and
 * when the flood is over the server's state goes back to what it was.
 */
static void bounded__legit_client_not_starved_by_forged_claims(void **state)
{
	enum { MB = 1000000 };
	struct nt_pair p;
	struct uhoma_metrics m;
	struct sockaddr_storage to;
	size_t to_len;
	uint8_t *buf = malloc(2 * UHOMA_MAX_MESSAGE);  /* request, echo */
	uint64_t sent_at[64], worst = 0, t;
	unsigned sent = 0, done = 0, forged = 0, in_flight = 0;
	(void)state;

	nt_pair_open(&p, 54, 1, 1500, 16u * MB + (1u << 20), 64u << 20);
	nt_addr(1, 80, &to, &to_len);
	nt_fill(buf, MB, 5);
	while ((t = uhoma_memnet_now(p.net)) < 3000 * TICK_NS || done < sent) {
		struct uhoma_msg msg;
		int rc;

		while (t < 3000 * TICK_NS && in_flight < 2 && sent < 64) {
			uint64_t id;

			assert_int_equal(uhoma_send(p.cli, (struct sockaddr *)&to,
						    to_len, buf, MB, sent, 0,
						    &id), UHOMA_OK);
			sent_at[sent++] = t;
			in_flight++;
		}
		while (t < 3000 * TICK_NS && forged < t / (500 * 1000))
			forge(p.a, 3, forged++, MB);      /* every 0.5 ms */
		nt_echo_ready(p.srv, buf + UHOMA_MAX_MESSAGE);
		while ((rc = nt_recv_nb(p.cli, &msg)) != UHOMA_ERR_AGAIN) {
			assert_int_equal(rc, MB);
			uhoma_msg_release(p.cli, &msg);
			if (t - sent_at[msg.cookie] > worst)
				worst = t - sent_at[msg.cookie];
			in_flight--;
			done++;
		}
		uhoma_memnet_run(p.net, 100 * 1000);
		assert_true(t < 10000 * TICK_NS);
	}
	uhoma_metrics(p.a, &m);
	print_message("    %u forged claims; %u legitimate 1 MB requests, the "
		      "slowest %.0f ms; server: %lld RPCs, %llu peers left\n",
		      forged, done, (double)worst / 1e6,
		      (long long)(m.rpcs[UHOMA_RPCS_SERVER_INCOMING] +
				  m.rpcs[UHOMA_RPCS_SERVER_IN_SERVICE] +
				  m.rpcs[UHOMA_RPCS_SERVER_OUTGOING]),
		      (unsigned long long)m.peers);
	assert_true(done >= 8);
	assert_true(worst < 1000 * TICK_NS);
	/* After the timeout and the quiet time, back to the base state: no
	 * RPC, and only the legitimate client's peer. */
	uhoma_memnet_run(p.net, 11000 * TICK_NS);
	uhoma_metrics(p.a, &m);
	assert_true(m.rpcs[UHOMA_RPCS_SERVER_INCOMING] == 0);
	assert_true(m.rpcs[UHOMA_RPCS_SERVER_OUTGOING] == 0);
	assert_true(m.peers <= 1);
	nt_pair_close(&p);
	free(buf);
}

/* A forged first packet takes the id a real client will use next, from its
 * own address and port, claiming a megabyte: when the real request (100
 * bytes) comes, the conflicting, unproven one gives way and the request
 * completes. (Before, the real sender's retransmissions kept the forged
 * RPC alive and the request never ran.) */
static void bounded__forged_claim_on_next_id_gives_way(void **state)
{
	struct nt_pair p;
	struct sockaddr_storage to;
	size_t to_len;
	uint8_t *buf = malloc(UHOMA_MAX_MESSAGE);
	struct uhoma_msg m;
	uint64_t id;
	int rc = UHOMA_ERR_AGAIN;
	(void)state;

	nt_pair_open(&p, 55, 1, 1500, NT_REGION, NT_REGION);
	nt_addr(1, 80, &to, &to_len);
	memset(buf, 4, 100);
	assert_int_equal(uhoma_send(p.cli, (struct sockaddr *)&to, to_len, buf,
				    100, 1, 0, &id), UHOMA_OK);
	for (int i = 0; i < 50 && rc == UHOMA_ERR_AGAIN; i++) {
		uhoma_memnet_run(p.net, 100 * 1000);
		nt_echo_ready(p.srv, buf);
		rc = nt_recv_nb(p.cli, &m);
	}
	assert_int_equal(rc, 100);
	uhoma_msg_release(p.cli, &m);
	nt_forge_request(p.a, "10.0.0.2", uhoma_port(p.cli), id + 2, 1000000);
	assert_int_equal(uhoma_send(p.cli, (struct sockaddr *)&to, to_len, buf,
				    100, 2, 0, &id), UHOMA_OK);
	rc = UHOMA_ERR_AGAIN;
	for (int i = 0; i < 2000 && rc == UHOMA_ERR_AGAIN; i++) {
		uhoma_memnet_run(p.net, 100 * 1000);
		nt_echo_ready(p.srv, buf);
		rc = nt_recv_nb(p.cli, &m);
	}
	assert_int_equal(rc, 100);       /* answered, within 200 ms */
	uhoma_msg_release(p.cli, &m);
	nt_pair_close(&p);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(bounded__need_acks_to_vanished_client_back_off),
		UH_TEST(bounded__closing_client_sends_its_acks),
		UH_TEST(bounded__idle_peers_are_freed),
		UH_TEST(bounded__legit_client_not_starved_by_forged_claims),
		UH_TEST(bounded__forged_claim_on_next_id_gives_way),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
