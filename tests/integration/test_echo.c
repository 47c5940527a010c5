/*
 * test_echo.c - request/response basics on the in-memory network with
 * real threads: sizes from 1 byte to the maximum, private RPCs, cookies,
 * the readiness fd, and argument errors.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

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
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(echo__sizes, env_up, env_down),
		cmocka_unit_test_setup_teardown(echo__private, env_up, env_down),
		cmocka_unit_test_setup_teardown(echo__poll_fd, env_up, env_down),
		cmocka_unit_test_setup_teardown(echo__bad_arguments, env_up,
						env_down),
		cmocka_unit_test_setup_teardown(echo__abort, env_up, env_down),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
