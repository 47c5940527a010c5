/*
 * test_core_link.c - the protocol core runs alone: this program links only
 * the core library (core, sync, mem, util) and the test carrier, so the
 * core calling up into net, runtime or api would fail its link. Through
 * that core, RPCs of every size complete between two hosts, driven only by
 * the test's deliveries and the test's clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/sock.h"
#include "coretest.h"
#include "testutil.h"

static void core_link__rpcs_of_every_size(void **state)
{
	static const size_t sizes[] = { 1, 100, 1400, 1500, 10000, 60000,
					200000, 1000000 };
	struct ct_net net;
	struct ct_host *a, *b;
	struct uhoma_sock *cli, *srv;

	(void)state;
	ct_net_init(&net);
	a = ct_host(&net, 1, NULL);
	b = ct_host(&net, 2, NULL);
	srv = ct_sock(b, 80);
	cli = ct_sock(a, 0);
	assert_true(srv->port == 80 && cli->port >= 0x8000);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct uhoma_msg m;
		uint64_t id = ct_send(cli, 2, 80, sizes[i], (unsigned)i, false);
		int rc;

		ct_deliver(&net, 0);
		assert_int_equal(ct_take_msg(srv, 0, &m, &rc), 1);
		assert_int_equal(rc, (int)sizes[i]);
		assert_true(m.id == (id | 1));
		assert_true(ct_check(srv, &m, sizes[i], (unsigned)i));
		ct_reply(srv, &m, sizes[i] / 2 + 1, (unsigned)i + 100);
		ct_release(srv, &m);
		ct_deliver(&net, 0);
		assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 1);
		assert_int_equal(rc, (int)(sizes[i] / 2 + 1));
		assert_true(m.id == id && m.cookie == i);
		assert_true(ct_check(cli, &m, sizes[i] / 2 + 1,
				     (unsigned)i + 100));
		ct_release(cli, &m);
		assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 0);
	}
	/* The client's acks end the server's RPCs (NEED_ACK, then ACK). */
	for (int t = 0; t < 200 && b->metrics && uh_metric_read(
			     b->metrics, UH_M_RPC_STATE + UHOMA_RPCS_SERVER_OUTGOING); t++) {
		ct_tick(&net);
		ct_deliver(&net, 0);
	}
	assert_int_equal(uh_metric_read(b->metrics,
					UH_M_RPC_STATE + UHOMA_RPCS_SERVER_OUTGOING), 0);
	ct_net_free(&net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(core_link__rpcs_of_every_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
