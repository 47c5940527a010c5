/*
 * test_unsched.c - src/core/unsched.c: how many bytes host 1 sends before
 * any grant, to a peer on another host and to one on the same host
 * (local_unsched): the cap, the start at unsched_bytes, the growth a
 * tick at a time, and the fall back on a RESEND or an RPC_UNKNOWN. The
 * peer is 10.0.0.3, a host that does not exist: what host 1 sends waits
 * in the queue for the test to read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/metrics.h"
#include "core/sock.h"
#include "coretest.h"
#include "testutil.h"

#define PEER 3
#define RCVBUF (8u << 20)        /* rmem_max 4 MiB, doubled */
#define FLOOR 40000u             /* unsched_bytes by default */
#define STEP (1000000u >> 6)     /* growth per tick with a 1 MB cap */

/* Sends a @len-byte request and returns the bytes it claims unscheduled
 * (its first DATA packet's incoming), after checking that what went out
 * before any grant is that many bytes, in whole packets. Empties the
 * queue. */
static uint32_t unsched_of(struct ct_net *net, struct uhoma_sock *s,
			   uint32_t len, uint64_t *id)
{
	uint32_t claimed, sent = 0, mp = s->stack->max_payload;
	uint64_t rid = ct_send(s, PEER, 80, len, 1, false);

	assert_true(net->nq > 0);
	claimed = ct_hdr(net, 0).u.data.incoming;
	for (size_t i = 0; i < net->nq; i++) {
		struct uh_hdr h = ct_hdr(net, i);

		assert_int_equal(h.type, UH_PKT_DATA);
		assert_int_equal(h.u.data.incoming, claimed);
		sent += (uint32_t)(net->q[i].len - UH_HDR_DATA);
	}
	assert_true(sent >= claimed && sent < claimed + mp);
	ct_clear(net);
	if (id)
		*id = rid;
	return claimed;
}

static void ticks(struct ct_net *net, unsigned n)
{
	while (n--)
		ct_tick(net);
	ct_clear(net);        /* the timers' RESENDs and the like */
}

/* A control packet of @type from the peer's server port 80 about our
 * client RPC @id; @off/@len: a RESEND's range. */
static void from_server(struct ct_host *h, struct uhoma_sock *cli,
			uint64_t id, uint8_t type, uint32_t off, uint32_t len)
{
	struct uh_hdr c;

	memset(&c, 0, sizeof(c));
	c.type = type;
	c.sport = 80;
	c.dport = cli->port;
	c.sender_id = id | 1;
	c.u.resend.offset = off;
	c.u.resend.length = len;
	assert_false(ct_inject(h, PEER, &c, NULL, 0));
}

static struct ct_host *host(struct ct_net *net, uint32_t rcvbuf,
			    const char *config)
{
	struct ct_host *h;

	ct_net_init(net);
	ct_rcvbuf = rcvbuf;
	h = ct_host(net, 1, config);
	ct_rcvbuf = 0;
	return h;
}

static void unsched__remote_peer_gets_unsched_bytes(void **state)
{
	struct ct_net net;
	struct ct_host *h = host(&net, 0, "local_unsched=1000000");
	struct uhoma_sock *s = ct_sock(h, 0);

	(void)state;
	assert_int_equal(h->st->local_unsched, 0);  /* no kernel queue */
	ticks(&net, 100);
	assert_int_equal(unsched_of(&net, s, 200000, NULL), FLOOR);
	ct_net_free(&net);
}

static void unsched__local_peer_off_by_default(void **state)
{
	struct ct_net net;
	struct ct_host *h = host(&net, RCVBUF, NULL);
	struct uhoma_sock *s = ct_sock(h, 0);

	(void)state;
	assert_int_equal(h->st->local_unsched, 0);
	ticks(&net, 100);
	assert_int_equal(unsched_of(&net, s, 200000, NULL), FLOOR);
	assert_int_equal(unsched_of(&net, s, 3000, NULL), 3000);
	ct_net_free(&net);
}

static void unsched__local_peer_grows_to_cap(void **state)
{
	struct ct_net net;
	struct ct_host *h = host(&net, RCVBUF, "local_unsched=1000000");
	struct uhoma_sock *s = ct_sock(h, 0);

	(void)state;
	assert_int_equal(h->st->local_unsched, 1000000);
	/* A new peer starts where a remote one stays. */
	assert_int_equal(unsched_of(&net, s, 600000, NULL), FLOOR);
	ticks(&net, 10);
	assert_int_equal(unsched_of(&net, s, 600000, NULL),
			 FLOOR + 10 * STEP);
	ticks(&net, 60);
	assert_int_equal(unsched_of(&net, s, 1000000, NULL), 1000000);
	assert_int_equal(unsched_of(&net, s, 700, NULL), 700);
	assert_int_equal(ct_metric(h, UH_M_UNSCHED_CUTS), 0);
	ct_net_free(&net);
}

static void unsched__loss_falls_back_and_grows_again(void **state)
{
	struct ct_net net;
	struct ct_host *h = host(&net, RCVBUF, "local_unsched=1000000");
	struct uhoma_sock *s = ct_sock(h, 0);
	uint64_t id, id2;

	(void)state;
	assert_int_equal(unsched_of(&net, s, 500000, NULL), FLOOR);
	ticks(&net, 70);
	assert_int_equal(unsched_of(&net, s, 500000, &id), 500000);
	assert_int_equal(unsched_of(&net, s, 500000, &id2), 500000);
	/* Past the window in which a RESEND is taken as stale. */
	ticks(&net, h->st->cfg.resend_ticks);
	from_server(h, s, id, UH_PKT_RESEND, 100000, 20000);
	assert_int_equal(ct_metric(h, UH_M_UNSCHED_CUTS), 1);
	ct_clear(&net);
	/* The same tick: one cut for one loss event. */
	from_server(h, s, id2, UH_PKT_RESEND, 0, 1000);
	assert_int_equal(ct_metric(h, UH_M_UNSCHED_CUTS), 1);
	ct_clear(&net);
	assert_int_equal(unsched_of(&net, s, 500000, NULL), FLOOR);
	ticks(&net, 2);
	assert_int_equal(unsched_of(&net, s, 500000, NULL), FLOOR + 2 * STEP);
	/* A server that does not know a request we sent. */
	from_server(h, s, id2, UH_PKT_RPC_UNKNOWN, 0, 0);
	assert_int_equal(ct_metric(h, UH_M_UNSCHED_CUTS), 2);
	ct_clear(&net);
	assert_int_equal(unsched_of(&net, s, 500000, NULL), FLOOR);
	/* At the floor there is nothing to cut. */
	ticks(&net, 1);
	from_server(h, s, id, UH_PKT_RESEND, 0, 1000);
	ct_clear(&net);
	assert_int_equal(ct_metric(h, UH_M_UNSCHED_CUTS), 3);
	from_server(h, s, id, UH_PKT_RPC_UNKNOWN, 0, 0);
	ct_clear(&net);
	assert_int_equal(ct_metric(h, UH_M_UNSCHED_CUTS), 3);
	ct_net_free(&net);
}

static void unsched__cap_is_an_eighth_of_the_kernel_queue(void **state)
{
	struct ct_net net;
	struct ct_host *h = host(&net, 425984, "local_unsched=1000000");
	struct uhoma_sock *s = ct_sock(h, 0);

	(void)state;
	/* Debian's rmem_max (212,992), doubled. */
	assert_int_equal(h->st->local_unsched, 425984 / 8);
	assert_int_equal(unsched_of(&net, s, 200000, NULL), FLOOR);
	ticks(&net, 100);
	assert_int_equal(unsched_of(&net, s, 200000, NULL), 425984 / 8);
	ct_net_free(&net);

	/* Too small a queue for more than unsched_bytes: off. */
	h = host(&net, 300000, "local_unsched=1000000");
	assert_int_equal(h->st->local_unsched, 0);
	ct_net_free(&net);
	/* Nor is a cap at or below unsched_bytes an allowance. */
	h = host(&net, RCVBUF, "local_unsched=40000");
	assert_int_equal(h->st->local_unsched, 0);
	ct_net_free(&net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(unsched__remote_peer_gets_unsched_bytes),
		UH_TEST(unsched__local_peer_off_by_default),
		UH_TEST(unsched__local_peer_grows_to_cap),
		UH_TEST(unsched__loss_falls_back_and_grows_again),
		UH_TEST(unsched__cap_is_an_eighth_of_the_kernel_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
