/*
 * test_echo.c - request/response basics on the in-memory network with
 * real threads: sizes from 1 byte to the maximum, private RPCs, cookies,
 * the readiness fd, and argument errors.
 */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nettest.h"
#include "testutil.h"

struct env {
	struct uhoma_memnet *net;
	struct uhoma_stack *a, *b;
	struct uhoma_sock *srv, *cli;
	void *rs, *rc;
	struct nt_echo echo;
	struct sockaddr_storage to;
	size_t to_len;
};

static int env_up(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	uh_test_setup(state);
	e->net = uhoma_memnet_create(1, 0);
	e->a = nt_stack(e->net, 1, 1500, 1);
	e->b = nt_stack(e->net, 2, 1500, 1);
	assert_int_equal(uhoma_socket(e->a, 99, &e->srv), UHOMA_OK);
	assert_int_equal(uhoma_socket(e->b, 0, &e->cli), UHOMA_OK);
	e->rs = nt_buffers(e->srv, NT_REGION);
	e->rc = nt_buffers(e->cli, NT_REGION);
	nt_echo_start(&e->echo, e->srv, 2);
	nt_addr(1, 99, &e->to, &e->to_len);
	*state = e;
	return 0;
}

static int env_down(void **state)
{
	struct env *e = *state;

	nt_echo_stop(&e->echo);
	assert_int_equal(atomic_load(&e->echo.dups), 0);
	uhoma_close(e->cli);
	uhoma_close(e->srv);
	uhoma_stack_destroy(e->a);
	uhoma_stack_destroy(e->b);
	uhoma_memnet_destroy(e->net);
	nt_unmap(e->rs, NT_REGION);
	nt_unmap(e->rc, NT_REGION);
	free(e);
	*state = NULL;
	return uh_test_teardown(state);
}

static void round_trip(struct env *e, size_t len, uint64_t seed)
{
	uint8_t *buf = malloc(len);
	struct uhoma_msg m;
	uint64_t id;
	int rc;

	nt_fill(buf, len, seed);
	assert_int_equal(uhoma_send(e->cli, (struct sockaddr *)&e->to,
				    e->to_len, buf, len, seed + 7, 0, &id),
			 UHOMA_OK);
	assert_true(id != 0 && (id & 1) == 0);
	memset(&m, 0, sizeof(m));
	rc = uhoma_recv(e->cli, &m, 0, 10 * 1000000000ll);
	assert_int_equal(rc, (int)len);
	assert_true(m.id == id);
	assert_true(m.cookie == seed + 7);
	assert_true(nt_check(e->cli, &m, len, seed));
	assert_int_equal(uhoma_msg_release(e->cli, &m), UHOMA_OK);
	free(buf);
}

static void echo__sizes(void **state)
{
	static const size_t sizes[] = { 1, 2, 100, 1367, 1368, 1369, 5000,
					39999, 40000, 40001, 65535, 65536,
					65537, 200000, 999999, 1000000 };

	for (size_t i = 0; i < UH_ARRAY_SIZE(sizes); i++)
		round_trip(*state, sizes[i], i + 1);
}

static void echo__private(void **state)
{
	struct env *e = *state;
	uint8_t buf[300];
	uint64_t id1, id2;
	struct uhoma_msg m;

	nt_fill(buf, sizeof(buf), 5);
	assert_int_equal(uhoma_send(e->cli, (struct sockaddr *)&e->to,
				    e->to_len, buf, sizeof(buf), 1,
				    UHOMA_PRIVATE, &id1), UHOMA_OK);
	assert_int_equal(uhoma_send(e->cli, (struct sockaddr *)&e->to,
				    e->to_len, buf, sizeof(buf), 2,
				    UHOMA_PRIVATE, &id2), UHOMA_OK);
	/* A shared receive never sees private responses. */
	memset(&m, 0, sizeof(m));
	assert_int_equal(uhoma_recv(e->cli, &m, 0, 200 * 1000000ll),
			 UHOMA_ERR_AGAIN);
	memset(&m, 0, sizeof(m));
	m.id = id2;
	assert_int_equal(uhoma_recv(e->cli, &m, 0, -1), (int)sizeof(buf));
	assert_true(m.id == id2 && m.cookie == 2);
	assert_true(nt_check(e->cli, &m, sizeof(buf), 5));
	uhoma_msg_release(e->cli, &m);
	memset(&m, 0, sizeof(m));
	m.id = id1;
	assert_int_equal(uhoma_recv(e->cli, &m, 0, -1), (int)sizeof(buf));
	assert_true(m.id == id1 && m.cookie == 1);
	uhoma_msg_release(e->cli, &m);
	/* Gone now: receiving it again is an error. */
	m.id = id1;
	assert_int_equal(uhoma_recv(e->cli, &m, 0, 0),
			 UHOMA_ERR_INVALID_ARGUMENT);
}

static void echo__poll_fd(void **state)
{
	struct env *e = *state;
	struct pollfd pfd = { .fd = uhoma_fd(e->cli), .events = POLLIN };
	uint8_t buf[10] = { 0 };
	struct uhoma_msg m;
	uint64_t id;

	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(uhoma_send(e->cli, (struct sockaddr *)&e->to,
				    e->to_len, buf, sizeof(buf), 0, 0, &id),
			 UHOMA_OK);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	memset(&m, 0, sizeof(m));
	assert_int_equal(uhoma_recv(e->cli, &m, UHOMA_NONBLOCK, 0), 10);
	uhoma_msg_release(e->cli, &m);
	assert_int_equal(poll(&pfd, 1, 0), 0);
}

static void echo__bad_arguments(void **state)
{
	struct env *e = *state;
	uint8_t buf[10] = { 0 };
	uint64_t id;
	struct uhoma_msg m;
	struct sockaddr sa = { .sa_family = AF_UNIX };
	uint32_t bogus = 5u << 16;

	assert_int_equal(uhoma_send(e->cli, (struct sockaddr *)&e->to,
				    e->to_len, buf, 0, 0, 0, &id),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_send(e->cli, (struct sockaddr *)&e->to,
				    e->to_len, buf, UHOMA_MAX_MESSAGE + 1, 0,
				    0, &id), UHOMA_ERR_MSG_TOO_LONG);
	assert_int_equal(uhoma_send(e->cli, &sa, sizeof(sa), buf, 10, 0, 0,
				    &id), UHOMA_ERR_AF_NOT_SUPPORTED);
	assert_int_equal(uhoma_send(e->cli, (struct sockaddr *)&e->to, 3, buf,
				    10, 0, 0, &id), UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_send(e->cli, (struct sockaddr *)&e->to,
				    e->to_len, buf, 10, 0, 0x80, &id),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_send(NULL, (struct sockaddr *)&e->to,
				    e->to_len, buf, 10, 0, 0, &id),
			 UHOMA_ERR_INVALID_ARGUMENT);
	memset(&m, 0, sizeof(m));
	assert_int_equal(uhoma_recv(e->cli, &m, 0x40, 0),
			 UHOMA_ERR_INVALID_ARGUMENT);
	m.id = 3;
	assert_int_equal(uhoma_recv(e->cli, &m, 0, 0),
			 UHOMA_ERR_INVALID_ARGUMENT);
	m.id = 1000;   /* no such private RPC */
	assert_int_equal(uhoma_recv(e->cli, &m, 0, 0),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_reply(e->cli, (struct sockaddr *)&e->to,
				     e->to_len, 2, buf, 10),
			 UHOMA_ERR_INVALID_ARGUMENT);
	/* A reply to an RPC that does not exist is silently accepted. */
	assert_int_equal(uhoma_reply(e->cli, (struct sockaddr *)&e->to,
				     e->to_len, 12345, buf, 10), UHOMA_OK);
	assert_int_equal(uhoma_release(e->cli, &bogus, 1),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_abort(e->cli, 4444, 0), UHOMA_ERR_NOT_FOUND);
	assert_int_equal(uhoma_abort(e->cli, 3, 0), UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_abort(e->cli, 0, 5), UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_set_buffers(e->cli, e->rc, NT_REGION),
			 UHOMA_ERR_INVALID_ARGUMENT);   /* only once */
	/* The metrics and memnet calls take NULL as nothing to do: no crash
	 * (helper-36: 13 of them crashed). */
	{
		struct uhoma_metrics met;
		struct uhoma_memnet_stats ms;
		struct uhoma_memnet_faults f;

		memset(&met, 0xff, sizeof(met));
		uhoma_metrics(NULL, &met);
		assert_int_equal(met.requests_sent, 0);
		uhoma_metrics(e->a, NULL);
		uhoma_metrics_print(NULL, stdout);
		uhoma_metrics_print(e->a, NULL);
		assert_true(uhoma_lock_stats(NULL, 5) > 0);
		memset(&f, 0, sizeof(f));
		uhoma_memnet_set_faults(NULL, &f);
		uhoma_memnet_set_faults(e->net, NULL);
		assert_int_equal(uhoma_memnet_partition(NULL, "10.0.0.1",
							"10.0.0.2", 1), -1);
		assert_int_equal(uhoma_memnet_partition(e->net, NULL,
							"10.0.0.2", 1), -1);
		assert_int_equal(uhoma_memnet_stall(NULL, "10.0.0.1", 1), -1);
		assert_int_equal(uhoma_memnet_stall(e->net, NULL, 1), -1);
		assert_int_equal(uhoma_memnet_now(NULL), 0);
		assert_int_equal(uhoma_memnet_run(NULL, 1000), 0);
		uhoma_memnet_stats(NULL, &ms);
		uhoma_memnet_stats(e->net, NULL);
	}
	/* uhoma_metrics_print writes the non-zero counters only (the
	 * gauges included: it printed "grantable 0"). */
	{
		char *text = NULL;
		size_t len = 0;
		FILE *mf = open_memstream(&text, &len);

		assert_non_null(mf);
		uhoma_metrics_print(e->a, mf);
		fclose(mf);
		assert_true(len > 0);      /* the socket has done things */
		assert_null(strstr(text, " 0\n"));
		free(text);
	}
	/* The socket still works. */
	round_trip(e, 77, 77);
}

static void echo__abort(void **state)
{
	struct env *e = *state;
	uint8_t buf[10] = { 0 };
	struct sockaddr_storage nowhere;
	size_t nlen;
	uint64_t id;
	struct uhoma_msg m;

	nt_addr(9, 9, &nowhere, &nlen);   /* no such host: never answers */
	assert_int_equal(uhoma_send(e->cli, (struct sockaddr *)&nowhere, nlen,
				    buf, 10, 42, 0, &id), UHOMA_OK);
	assert_int_equal(uhoma_abort(e->cli, id, UHOMA_ERR_ABORTED), UHOMA_OK);
	memset(&m, 0, sizeof(m));
	assert_int_equal(uhoma_recv(e->cli, &m, 0, -1), UHOMA_ERR_ABORTED);
	assert_true(m.id == id && m.cookie == 42);
	/* Silent abort: it disappears. */
	assert_int_equal(uhoma_send(e->cli, (struct sockaddr *)&nowhere, nlen,
				    buf, 10, 43, 0, &id), UHOMA_OK);
	assert_int_equal(uhoma_abort(e->cli, 0, 0), UHOMA_OK);
	memset(&m, 0, sizeof(m));
	assert_int_equal(uhoma_recv(e->cli, &m, UHOMA_NONBLOCK, 0),
			 UHOMA_ERR_AGAIN);
	/* A response complete but not yet received: an abort with an error
	 * is what the receive returns, as the module's recvmsg does, and the
	 * response's pages go back (helper-38: the response came instead). */
	{
		static uint8_t big[200000];
		uint64_t free_before = uhoma_buffers_free(e->cli);
		struct pollfd pf = { .fd = uhoma_fd(e->cli), .events = POLLIN };

		assert_int_equal(uhoma_send(e->cli, (struct sockaddr *)&e->to,
					    e->to_len, big, sizeof(big), 44, 0,
					    &id), UHOMA_OK);
		assert_int_equal(poll(&pf, 1, 10000), 1);   /* it is in */
		assert_true(uhoma_buffers_free(e->cli) < free_before);
		assert_int_equal(uhoma_abort(e->cli, id, UHOMA_ERR_ABORTED),
				 UHOMA_OK);
		memset(&m, 0, sizeof(m));
		assert_int_equal(uhoma_recv(e->cli, &m, 0, -1),
				 UHOMA_ERR_ABORTED);
		assert_true(m.id == id && m.cookie == 44 && m.num_bpages == 0);
		/* Back when the ended RPC is reaped (a tick or two), but for
		 * the partial bpage its tail started, kept for packing. */
		for (int i = 0; i < 400 && uhoma_buffers_free(e->cli) +
						   65536 < free_before; i++)
			usleep(5000);
		assert_true(uhoma_buffers_free(e->cli) + 65536 >= free_before);
	}
	/* The same for one that failed and waits to be received: the
	 * abort's error replaces its own (helper-39). */
	{
		struct pollfd pf = { .fd = uhoma_fd(e->cli), .events = POLLIN };

		assert_int_equal(uhoma_send(e->cli,
					    (struct sockaddr *)&nowhere, nlen,
					    buf, 10, 45, 0, &id), UHOMA_OK);
		assert_int_equal(poll(&pf, 1, 10000), 1);   /* it timed out */
		assert_int_equal(uhoma_abort(e->cli, id, UHOMA_ERR_ABORTED),
				 UHOMA_OK);
		memset(&m, 0, sizeof(m));
		assert_int_equal(uhoma_recv(e->cli, &m, 0, -1),
				 UHOMA_ERR_ABORTED);
		assert_true(m.id == id && m.cookie == 45);
	}
}

/*
 * A message in parts arrives as the parts' concatenation, both ways:
 * uhoma_sendv with parts of every shape (empty ones among them), and
 * uhoma_replyv from a server that answers with its request's own pages,
 * one part per bpage, as Linux programs answer through the preload.
 */
static void echo__scatter_gather(void **state)
{
	struct env *e = *state;
	static const size_t len = 300000;
	uint8_t *buf = malloc(len);
	struct uhoma_sock *srv2;
	struct sockaddr_storage to2;
	size_t to2_len;
	void *r2;
	uint64_t id;
	struct uhoma_msg m, req;
	struct iovec iov[6];

	nt_fill(buf, len, 9);
	iov[0] = (struct iovec){ buf, 1 };
	iov[1] = (struct iovec){ NULL, 0 };
	iov[2] = (struct iovec){ buf + 1, 65535 };
	iov[3] = (struct iovec){ buf + 65536, 100000 };
	iov[4] = (struct iovec){ buf + 165536, 0 };
	iov[5] = (struct iovec){ buf + 165536, len - 165536 };
	assert_int_equal(uhoma_sendv(e->cli, (struct sockaddr *)&e->to,
				     e->to_len, iov, 6, 5, 0, &id), UHOMA_OK);
	memset(&m, 0, sizeof(m));
	assert_int_equal(uhoma_recv(e->cli, &m, 0, 10 * 1000000000ll),
			 (int)len);
	assert_true(m.id == id && nt_check(e->cli, &m, len, 9));
	uhoma_msg_release(e->cli, &m);

	/* A server of the test's own answers with replyv. */
	assert_int_equal(uhoma_socket(e->a, 98, &srv2), UHOMA_OK);
	r2 = nt_buffers(srv2, NT_REGION);
	nt_addr(1, 98, &to2, &to2_len);
	assert_int_equal(uhoma_send(e->cli, (struct sockaddr *)&to2, to2_len,
				    buf, len, 6, 0, &id), UHOMA_OK);
	memset(&req, 0, sizeof(req));
	assert_int_equal(uhoma_recv(srv2, &req, 0, 10 * 1000000000ll),
			 (int)len);
	assert_true(req.num_bpages == 5);
	for (unsigned i = 0; i < req.num_bpages; i++) {
		size_t off = (size_t)i * UHOMA_BPAGE_SIZE;

		iov[i].iov_base = (uint8_t *)r2 + req.bpage_offsets[i];
		iov[i].iov_len = len - off < UHOMA_BPAGE_SIZE
				 ? len - off : UHOMA_BPAGE_SIZE;
	}
	assert_int_equal(uhoma_replyv(srv2, (struct sockaddr *)&req.peer,
				      req.peer_len, req.id, iov,
				      req.num_bpages), UHOMA_OK);
	uhoma_msg_release(srv2, &req);
	memset(&m, 0, sizeof(m));
	assert_int_equal(uhoma_recv(e->cli, &m, 0, 10 * 1000000000ll),
			 (int)len);
	assert_true(m.id == id && m.cookie == 6 && nt_check(e->cli, &m, len, 9));
	uhoma_msg_release(e->cli, &m);

	/* What a list of parts may not be. */
	iov[0] = (struct iovec){ NULL, 10 };
	assert_int_equal(uhoma_sendv(e->cli, (struct sockaddr *)&e->to,
				     e->to_len, iov, 1, 0, 0, &id),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_sendv(e->cli, (struct sockaddr *)&e->to,
				     e->to_len, NULL, 2, 0, 0, &id),
			 UHOMA_ERR_INVALID_ARGUMENT);
	iov[0] = (struct iovec){ buf, 0 };
	assert_int_equal(uhoma_sendv(e->cli, (struct sockaddr *)&e->to,
				     e->to_len, iov, 1, 0, 0, &id),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_sendv(e->cli, (struct sockaddr *)&e->to,
				     e->to_len, iov, UHOMA_MAX_IOV + 1, 0, 0,
				     &id), UHOMA_ERR_INVALID_ARGUMENT);
	iov[0] = (struct iovec){ buf, len };
	iov[1] = (struct iovec){ buf, len };
	iov[2] = (struct iovec){ buf, len };
	iov[3] = (struct iovec){ buf, len };
	assert_int_equal(uhoma_sendv(e->cli, (struct sockaddr *)&e->to,
				     e->to_len, iov, 4, 0, 0, &id),
			 UHOMA_ERR_MSG_TOO_LONG);
	iov[0] = (struct iovec){ buf, SIZE_MAX };
	assert_int_equal(uhoma_sendv(e->cli, (struct sockaddr *)&e->to,
				     e->to_len, iov, 2, 0, 0, &id),
			 UHOMA_ERR_MSG_TOO_LONG);
	uhoma_close(srv2);
	nt_unmap(r2, NT_REGION);
	free(buf);
	round_trip(e, 77, 77);     /* the socket still works */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(echo__sizes, env_up, env_down),
		cmocka_unit_test_setup_teardown(echo__scatter_gather, env_up,
						env_down),
		cmocka_unit_test_setup_teardown(echo__private, env_up, env_down),
		cmocka_unit_test_setup_teardown(echo__poll_fd, env_up, env_down),
		cmocka_unit_test_setup_teardown(echo__bad_arguments, env_up,
						env_down),
		cmocka_unit_test_setup_teardown(echo__abort, env_up, env_down),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
