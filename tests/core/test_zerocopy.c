/*
 * test_zerocopy.c - a request sent with UHOMA_ZEROCOPY (calls.c, rpc.c,
 * outgoing.c): its packets carry the caller's own memory, uhoma never
 * frees it, and no call that hands it back to the caller -- the response
 * taken, the RPC aborted, the socket shut down -- returns while a thread
 * is still sending from it.
 *
 * Host 1 is the client; the server (10.0.0.3) is played by the test, so
 * whatever host 1 sends waits in the queue.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/rpc.h"
#include "core/sock.h"
#include "coretest.h"
#include "testutil.h"

#define PEER 3
#define SRV_PORT 80
#define LEN 100000u

/* ---- a carrier whose next DATA send stops until the test lets it go ---- */

static const struct uh_carrier_ops *real_ops;
static struct uh_carrier_ops stop_ops;
static pthread_mutex_t send_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t stop_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cv = PTHREAD_COND_INITIALIZER;
static bool stop_armed, stopped, stop_released, send_done;

static unsigned stop_send(struct uh_carrier *c, uint16_t sport,
			  const struct uh_tx *pkts, unsigned n)
{
	unsigned sent;

	pthread_mutex_lock(&stop_mu);
	if (stop_armed && pkts[0].payload_len) {
		stop_armed = false;
		stopped = true;
		pthread_cond_broadcast(&stop_cv);
		while (!stop_released)
			pthread_cond_wait(&stop_cv, &stop_mu);
		pthread_mutex_unlock(&stop_mu);
		pthread_mutex_lock(&send_mu);   /* the queue is not shared */
		sent = real_ops->send(c, sport, pkts, n);
		pthread_mutex_unlock(&send_mu);
		pthread_mutex_lock(&stop_mu);
		send_done = true;
		pthread_cond_broadcast(&stop_cv);
		pthread_mutex_unlock(&stop_mu);
		return sent;
	}
	pthread_mutex_unlock(&stop_mu);
	pthread_mutex_lock(&send_mu);
	sent = real_ops->send(c, sport, pkts, n);
	pthread_mutex_unlock(&send_mu);
	return sent;
}

static void stop_install(struct ct_host *h)
{
	real_ops = h->c.ops;
	stop_ops = *real_ops;
	stop_ops.send = stop_send;
	h->c.ops = &stop_ops;
	stop_armed = stopped = stop_released = send_done = false;
}

static void stop_wait_stopped(void)
{
	pthread_mutex_lock(&stop_mu);
	while (!stopped)
		pthread_cond_wait(&stop_cv, &stop_mu);
	pthread_mutex_unlock(&stop_mu);
}

static void stop_release(void)
{
	pthread_mutex_lock(&stop_mu);
	stop_released = true;
	pthread_cond_broadcast(&stop_cv);
	pthread_mutex_unlock(&stop_mu);
}

static bool stop_send_done(void)
{
	bool d;

	pthread_mutex_lock(&stop_mu);
	d = send_done;
	pthread_mutex_unlock(&stop_mu);
	return d;
}

/* ---- helpers ----------------------------------------------------------- */

static uint8_t *pattern(size_t len, unsigned seed)
{
	uint8_t *b = malloc(len);

	assert_non_null(b);
	for (size_t i = 0; i < len; i++)
		b[i] = ct_byte(seed, i);
	return b;
}

static uint64_t send_zc(struct uhoma_sock *s, uint8_t *buf, uint32_t len)
{
	struct uh_addr a = ct_addr(PEER);
	uint64_t id = 0;

	assert_int_equal(uh_call_send(s, &a, SRV_PORT, buf, len, 7,
				      UHOMA_ZEROCOPY, 0, &id), UHOMA_OK);
	return id;
}

/* Feeds @h a packet from the server about client RPC @id. */
static void from_server(struct ct_host *h, struct uhoma_sock *cli,
			struct uh_hdr *c, uint64_t id, const void *payload,
			size_t len)
{
	c->sport = SRV_PORT;
	c->dport = cli->port;
	c->sender_id = id | 1;
	ct_inject(h, PEER, c, payload, len);
}

/* The whole 10-byte response to @id. */
static void respond(struct ct_host *h, struct uhoma_sock *cli, uint64_t id)
{
	static const uint8_t body[10] = "0123456789";
	struct uh_hdr d;

	memset(&d, 0, sizeof(d));
	d.type = UH_PKT_DATA;
	d.u.data.message_length = sizeof(body);
	d.u.data.incoming = sizeof(body);
	d.u.data.cutoff_version = h->st->cutoffs.version;
	from_server(h, cli, &d, id, body, sizeof(body));
}

/* ---- tests ------------------------------------------------------------- */

/*
 * The packets carry the caller's bytes, sent from its memory (the RPC
 * holds the caller's pointer, no copy), and the caller's memory is its
 * own again once the response is taken: uhoma never frees it (ASan would
 * see the test's free below as a double free).
 */
static void zerocopy__sent_from_callers_memory(void **state)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	struct uhoma_msg m;
	uint8_t *buf = pattern(LEN, 3);
	struct uh_rpc *rpc;
	uint64_t id;
	int rc;

	(void)state;
	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	cli = ct_sock(h, 0);
	id = send_zc(cli, buf, LEN);
	rpc = uh_rpc_find_client(cli, id);
	assert_non_null(rpc);
	assert_ptr_equal(rpc->out.buf, buf);
	assert_true(rpc->out.borrowed);
	uh_rpc_release(rpc);
	assert_true(net.nq > 0);
	for (size_t i = 0; i < net.nq; i++) {
		struct uh_hdr d = ct_hdr(&net, i);
		size_t n = net.q[i].len - UH_HDR_DATA;

		assert_int_equal(d.type, UH_PKT_DATA);
		assert_memory_equal(net.q[i].data + UH_HDR_DATA,
				    buf + d.u.data.offset, n);
	}
	ct_clear(&net);
	respond(h, cli, id);
	assert_int_equal(ct_take_msg(cli, 0, &m, &rc), 1);
	assert_true(m.id == id);
	assert_int_equal(rc, 10);
	ct_release(cli, &m);
	assert_int_equal(ct_client_state(cli, id), -1);
	free(buf);
	ct_net_free(&net);
}

struct taker {
	struct uhoma_sock *s;
	uint64_t id;
	int how;                 /* 0: take the response, 1: abort, 2: shut
				  * down, 3: shut down from two threads */
	bool returned;
	bool send_was_done;      /* what the taker saw as it returned */
	pthread_mutex_t mu;
};

static void *taker_main(void *arg)
{
	struct taker *t = arg;
	struct uhoma_msg m;
	int rc;

	if (t->how == 0) {
		while (ct_take_msg(t->s, 0, &m, &rc) == 0)
			;
		ct_release(t->s, &m);
	} else if (t->how == 1) {
		assert_int_equal(uh_call_abort(t->s, t->id, 0), UHOMA_OK);
	} else {
		uh_sock_shutdown(t->s);   /* 2, or 3: two threads at once */
	}
	pthread_mutex_lock(&t->mu);
	t->send_was_done = stop_send_done();
	t->returned = true;
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

static void *resender_main(void *arg)
{
	struct ct_host *h = ((void **)arg)[0];
	struct uhoma_sock *cli = ((void **)arg)[1];
	uint64_t id = *(uint64_t *)((void **)arg)[2];
	struct uh_hdr r;

	memset(&r, 0, sizeof(r));
	r.type = UH_PKT_RESEND;
	r.u.resend.offset = 0;
	r.u.resend.length = 3000;
	r.u.resend.priority = 5;
	from_server(h, cli, &r, id, NULL, 0);
	return NULL;
}

/*
 * A thread is inside the carrier, sending a retransmission from the
 * caller's memory, when the RPC's end hands that memory back (@how: the
 * response taken, the RPC aborted, the socket shut down). The call that
 * hands it back must not return before that send has: the caller may
 * free or reuse the memory at once.
 */
static void hand_back_waits(int how)
{
	struct ct_net net;
	struct ct_host *h;
	struct uhoma_sock *cli;
	uint8_t *buf = pattern(LEN, 4);
	struct taker t = { .how = how }, t2;
	pthread_t resender, taker, taker2;
	void *args[3];
	uint64_t id;
	struct timespec pause = { 0, 50 * 1000 * 1000 };

	ct_net_init(&net);
	h = ct_host(&net, 1, NULL);
	cli = ct_sock(h, 0);
	id = send_zc(cli, buf, LEN);
	/* Long enough ago that a RESEND is answered (not "sent lately"). */
	for (uint32_t i = 0; i <= h->st->cfg.resend_ticks; i++)
		ct_tick(&net);
	ct_clear(&net);
	stop_install(h);
	stop_armed = true;
	args[0] = h;
	args[1] = cli;
	args[2] = &id;
	assert_int_equal(pthread_create(&resender, NULL, resender_main, args),
			 0);
	stop_wait_stopped();             /* it is sending from buf now */
	if (how == 0)
		respond(h, cli, id);     /* its sends take send_mu */
	pthread_mutex_init(&t.mu, NULL);
	t.s = cli;
	t.id = id;
	t2 = t;
	pthread_mutex_init(&t2.mu, NULL);
	assert_int_equal(pthread_create(&taker, NULL, taker_main, &t), 0);
	if (how == 3) {
		/* A second shutdown, once the first has begun. */
		while (!atomic_load(&cli->shutdown))
			sched_yield();
		assert_int_equal(pthread_create(&taker2, NULL, taker_main,
						&t2), 0);
	}
	nanosleep(&pause, NULL);
	pthread_mutex_lock(&t.mu);
	assert_false(t.returned);        /* still waiting for the send */
	pthread_mutex_unlock(&t.mu);
	pthread_mutex_lock(&t2.mu);
	assert_false(t2.returned);
	pthread_mutex_unlock(&t2.mu);
	stop_release();
	assert_int_equal(pthread_join(taker, NULL), 0);
	if (how == 3) {
		assert_int_equal(pthread_join(taker2, NULL), 0);
		assert_true(t2.returned && t2.send_was_done);
	}
	assert_int_equal(pthread_join(resender, NULL), 0);
	assert_true(t.returned && t.send_was_done);
	memset(buf, 0, LEN);             /* the caller's again */
	free(buf);
	pthread_mutex_destroy(&t.mu);
	pthread_mutex_destroy(&t2.mu);
	h->c.ops = real_ops;
	ct_net_free(&net);
}

static void zerocopy__response_waits_for_send_in_progress(void **state)
{
	(void)state;
	hand_back_waits(0);
}

static void zerocopy__abort_waits_for_send_in_progress(void **state)
{
	(void)state;
	hand_back_waits(1);
}

static void zerocopy__shutdown_waits_for_send_in_progress(void **state)
{
	(void)state;
	hand_back_waits(2);
}

/* Two threads shutting the socket down at once: neither returns before
 * the send (the second used to return at once: helper-19). */
static void zerocopy__second_shutdown_waits_too(void **state)
{
	(void)state;
	hand_back_waits(3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(zerocopy__sent_from_callers_memory),
		UH_TEST(zerocopy__response_waits_for_send_in_progress),
		UH_TEST(zerocopy__abort_waits_for_send_in_progress),
		UH_TEST(zerocopy__shutdown_waits_for_send_in_progress),
		UH_TEST(zerocopy__second_shutdown_waits_too),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
