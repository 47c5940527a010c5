/*
 * test_srpt.c - Homa's promise, end to end: short messages finish first
 * while long ones compete for the receiver.
 *
 * Three clients on a virtual-clock memnet send to one server at the same
 * instant: a 900 KB request, a 300 KB request and ten 2 KB requests. The
 * server grants one message at a time (max_overcommit=1), so arrival order
 * alone would finish the 900 KB request (sent first) before the 300 KB
 * one. SRPT must deliver every 2 KB request first (they fit in their
 * unscheduled bytes), then the 300 KB request, then the 900 KB one; and
 * every request must arrive intact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nettest.h"
#include "testutil.h"

static uint8_t buf[1000000];

static struct uhoma_sock *sock_on(struct uhoma_stack *st, uint16_t port,
				  void **region)
{
	struct uhoma_sock *s;

	assert_int_equal(uhoma_socket(st, port, &s), UHOMA_OK);
	*region = nt_buffers(s, NT_REGION);
	return s;
}

static void send_to(struct uhoma_sock *s, size_t len, uint64_t seed)
{
	struct sockaddr_storage to;
	size_t to_len;
	uint64_t id;

	nt_addr(1, 80, &to, &to_len);
	nt_fill(buf, len, seed);
	assert_int_equal(uhoma_send(s, (struct sockaddr *)&to, to_len, buf, len,
				    seed, 0, &id), UHOMA_OK);
}

static void srpt__short_messages_finish_first(void **state)
{
	struct uhoma_memnet *net = uhoma_memnet_create(3, 1);
	struct uhoma_stack *st[4];
	struct uhoma_sock *s[4];
	void *r[4];
	uint32_t order[16];
	unsigned got = 0;

	(void)state;
	setenv("UHOMA_CONFIG", "max_overcommit=1", 1);
	for (int h = 0; h < 4; h++) {
		st[h] = nt_stack(net, h + 1, 0, 0);
		s[h] = sock_on(st[h], h == 0 ? 80 : 0, &r[h]);
	}
	unsetenv("UHOMA_CONFIG");
	send_to(s[1], 900000, 900000);
	send_to(s[2], 300000, 300000);
	for (int i = 0; i < 10; i++)
		send_to(s[3], 2000, 2000 + (uint64_t)i);
	for (int step = 0; step < 20000 && got < 12; step++) {
		struct uhoma_msg m;
		int rc;

		uhoma_memnet_run(net, 10 * 1000);       /* 10 us */
		for (;;) {
			memset(&m, 0, sizeof(m));
			rc = uhoma_recv(s[0], &m, UHOMA_NONBLOCK, 0);
			if (rc == UHOMA_ERR_AGAIN)
				break;
			assert_true(rc > 0);
			if (rc != 2000)      /* long ones: seed = length */
				assert_true(nt_check(s[0], &m, (size_t)rc,
						     (uint64_t)rc));
			order[got++] = (uint32_t)rc;
			assert_int_equal(uhoma_msg_release(s[0], &m), UHOMA_OK);
			assert_int_equal(uhoma_reply(s[0], (struct sockaddr *)&m.peer,
						     m.peer_len, m.id, buf, 100),
					 UHOMA_OK);
		}
	}
	assert_int_equal(got, 12);
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(order[i], 2000);
	assert_int_equal(order[10], 300000);
	assert_int_equal(order[11], 900000);
	for (int h = 3; h >= 0; h--) {
		uhoma_close(s[h]);
		uhoma_stack_destroy(st[h]);
		nt_unmap(r[h], NT_REGION);
	}
	uhoma_memnet_destroy(net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(srpt__short_messages_finish_first),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
