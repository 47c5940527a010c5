/*
 * test_reorder.c - reordering alone costs no drop: 1 MB messages in
 * 1,500-byte packets, half of them delayed by up to 1 ms, arrive in any
 * order and are taken as they come (gaps.h). The old record tracked 8 gaps
 * and dropped the packet that would open a ninth: millions of drops, and
 * as many retransmissions, in a 9-minute soak.
 *
 * Deterministic: one seed, one thread, virtual time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nettest.h"
#include "testutil.h"

#define MSG_LEN 1000000
#define MSGS 40

static void reorder__no_drop_no_resend(void **state)
{
	const struct uhoma_memnet_faults f = {
		.reorder_ppm = 500000, .delay_ns = 5000,
		.max_delay_ns = 1000000,
	};
	struct nt_pair p;
	struct sockaddr_storage to;
	size_t to_len;
	uint8_t *buf = malloc(UHOMA_MAX_MESSAGE);
	unsigned done = 0, rounds = 0, gaps_drop;
	struct uhoma_metrics ma, mb;
	struct uhoma_memnet_stats ns;
	(void)state;

	nt_pair_open(&p, 41, 1, 1500, 256u << 20, 256u << 20);
	uhoma_memnet_set_faults(p.net, &f);
	assert_int_equal(uhoma_set_sndbuf(p.cli, 0), UHOMA_OK);  /* 40 MB */
	nt_addr(1, 80, &to, &to_len);
	for (unsigned i = 0; i < MSGS; i++) {
		uint64_t id;

		nt_fill(buf, MSG_LEN, i);
		assert_int_equal(uhoma_send(p.cli, (struct sockaddr *)&to,
					    to_len, buf, MSG_LEN, i, 0, &id),
				 UHOMA_OK);
	}
	while (done < MSGS) {
		struct uhoma_msg m;
		int rc;

		nt_echo_ready(p.srv, buf);
		while ((rc = nt_recv_nb(p.cli, &m)) != UHOMA_ERR_AGAIN) {
			assert_int_equal(rc, MSG_LEN);
			assert_true(nt_check(p.cli, &m, MSG_LEN, m.cookie));
			assert_int_equal(uhoma_msg_release(p.cli, &m), UHOMA_OK);
			done++;
		}
		uhoma_memnet_run(p.net, 100 * 1000);
		assert_true(++rounds < 200000);
	}
	uhoma_metrics(p.a, &ma);
	uhoma_metrics(p.b, &mb);
	uhoma_memnet_stats(p.net, &ns);
	for (gaps_drop = 0; gaps_drop < UHOMA_DROP_REASONS; gaps_drop++)
		if (strcmp(uhoma_drop_name(gaps_drop), "too_many_gaps") == 0)
			break;
	assert_true(gaps_drop < UHOMA_DROP_REASONS);
	print_message("    %u x 1 MB each way, %llu packets reordered: dropped "
		      "for gaps %llu + %llu, resent %llu + %llu\n", MSGS,
		      (unsigned long long)ns.reordered,
		      (unsigned long long)ma.drops[gaps_drop],
		      (unsigned long long)mb.drops[gaps_drop],
		      (unsigned long long)ma.resent_packets,
		      (unsigned long long)mb.resent_packets);
	assert_true(ns.reordered > 10000);
	assert_true(ma.drops[gaps_drop] == 0 && mb.drops[gaps_drop] == 0);
	assert_true(ma.resent_packets == 0 && mb.resent_packets == 0);
	nt_pair_close(&p);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(reorder__no_drop_no_resend),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
