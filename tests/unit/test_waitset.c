/*
 * test_waitset.c - the carriers' wait set (net/waitset.h), with pipes as
 * its members.
 *
 * Checks that while the members are few none of them is in the epoll set
 * (the point of the module: no epoll callback on a socket's wait queue
 * while threads busy-poll), read from the kernel's own listing of the
 * set; that past UH_WAITSET_POLL_MAX they all are, and leave again; that
 * each mode reports exactly the ready members and times out; and the two
 * hand-overs that could strand a sleeper: a member added during a ppoll
 * wait, and a disarm during an epoll wait, both must wake it (the waits
 * below would otherwise sleep for ten seconds).
 */
#define _GNU_SOURCE /* pthread_tryjoin_np */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/waitset.h"
#include "testutil.h"
#include "util/clock.h"
#include "uhoma/uhoma.h"

#define MAXP 12
#define LONG_WAIT_NS (10 * 1000 * 1000 * 1000ll)
#define PROMPT_NS (2 * 1000 * 1000 * 1000ull)

struct fixture {
	struct uh_waitset ws;
	int p[MAXP][2];          /* pipes: [0] is the member */
	int tag[MAXP];           /* what a wait reports for pipe i */
	unsigned n;              /* members added */
};

static struct fixture fx;

static int setup(void **state)
{
	if (uh_test_setup(state))
		return -1;
	memset(&fx, 0, sizeof(fx));
	if (uh_waitset_init(&fx.ws) != UHOMA_OK)
		return -1;
	for (int i = 0; i < MAXP; i++) {
		if (pipe(fx.p[i]) < 0)
			return -1;
		fx.tag[i] = i;
	}
	return 0;
}

static int teardown(void **state)
{
	uh_waitset_destroy(&fx.ws);
	for (int i = 0; i < MAXP; i++) {
		close(fx.p[i][0]);
		close(fx.p[i][1]);
	}
	return uh_test_teardown(state);
}

static void add_members(unsigned upto)
{
	for (; fx.n < upto; fx.n++)
		assert_int_equal(uh_waitset_add(&fx.ws, fx.p[fx.n][0],
						&fx.tag[fx.n]),
				 UHOMA_OK);
}

/* The fds in the epoll set, as the kernel lists them. */
static int epoll_members(void)
{
	char path[64], line[256];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fx.ws.epfd);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strncmp(line, "tfd:", 4) == 0;
	fclose(f);
	return n;
}

static void fill(int i)
{
	assert_int_equal(write(fx.p[i][1], "x", 1), 1);
}

static void drain(int i)
{
	char c;

	assert_int_equal(read(fx.p[i][0], &c, 1), 1);
}

/* A poll consumes the kick that each add leaves pending. */
/* A wait (1 ns: a poll that waits) takes pending kicks; a poll with no
 * timeout would leave them (see the test below). */
static void drain_kicks(void)
{
	void *ready[16];

	assert_int_equal(uh_waitset_wait(&fx.ws, ready, 16, 1), 0);
}

/* Waits once for up to 1 s; returns the mask of the reported members. */
static unsigned wait_mask(void)
{
	void *ready[16];
	unsigned mask = 0;
	int n = uh_waitset_wait(&fx.ws, ready, 16, 1000 * 1000 * 1000);

	for (int k = 0; k < n; k++)
		mask |= 1u << *(int *)ready[k];
	return mask;
}

static void test_waitset__few_members_stay_out_of_epoll(void **state)
{
	(void)state;
	add_members(UH_WAITSET_POLL_MAX);
	assert_false(uh_waitset_armed(&fx.ws));
	assert_int_equal(epoll_members(), 1);        /* the kick alone */
	add_members(UH_WAITSET_POLL_MAX + 1);
	assert_true(uh_waitset_armed(&fx.ws));
	assert_int_equal(epoll_members(), UH_WAITSET_POLL_MAX + 2);
	uh_waitset_del(&fx.ws, fx.p[0][0]);
	assert_false(uh_waitset_armed(&fx.ws));
	assert_int_equal(epoll_members(), 1);
}

/* Each mode reports exactly the ready members, then times out. */
static void check_reports(int members)
{
	uint64_t t;

	add_members((unsigned)members);
	drain_kicks();
	fill(1);
	fill(members - 1);
	assert_int_equal(wait_mask(), (1u << 1) | (1u << (members - 1)));
	drain(1);
	assert_int_equal(wait_mask(), 1u << (members - 1));
	drain(members - 1);
	t = uh_now_ns();
	assert_int_equal(uh_waitset_wait(&fx.ws, (void *[4]){ 0 }, 4,
					 20 * 1000 * 1000),
			 0);
	assert_true(uh_now_ns() - t >= 19 * 1000 * 1000);
}

static void test_waitset__ppoll_reports_ready_members(void **state)
{
	(void)state;
	check_reports(3);
	assert_false(uh_waitset_armed(&fx.ws));
}

static void test_waitset__epoll_reports_ready_members(void **state)
{
	(void)state;
	check_reports(UH_WAITSET_POLL_MAX + 2);
	assert_true(uh_waitset_armed(&fx.ws));
}

/* A sleeper that loops until member @want is reported -- with @want < 0,
 * until its first wait returns -- or it is told to stop (a failing test
 * must still end it). */
struct sleeper {
	int want;
	_Atomic bool done, stop;
	pthread_t th;
};

static void *sleeper_main(void *arg)
{
	struct sleeper *s = arg;
	void *ready[16];

	while (!atomic_load(&s->stop)) {
		int n = uh_waitset_wait(&fx.ws, ready, 16, LONG_WAIT_NS);

		if (s->want < 0) {
			atomic_store(&s->done, true);
			return NULL;
		}
		for (int k = 0; k < n; k++)
			if (*(int *)ready[k] == s->want) {
				atomic_store(&s->done, true);
				return NULL;
			}
	}
	return NULL;
}

static void start(struct sleeper *s, int want)
{
	s->want = want;
	atomic_init(&s->done, false);
	atomic_init(&s->stop, false);
	assert_int_equal(pthread_create(&s->th, NULL, sleeper_main, s), 0);
	/* Let it fall asleep. */
	uh_sleep_ns(100 * 1000 * 1000);
}

/* Whether the sleeper saw its member within PROMPT_NS. */
static void finish(struct sleeper *s)
{
	uint64_t t = uh_now_ns();
	bool done;

	while (!atomic_load(&s->done) && uh_now_ns() - t < PROMPT_NS)
		uh_sleep_ns(1000 * 1000);
	done = atomic_load(&s->done);
	atomic_store(&s->stop, true);
	while (pthread_tryjoin_np(s->th, NULL) != 0) {
		uh_waitset_kick(&fx.ws);
		uh_sleep_ns(1000 * 1000);
	}
	assert_true(done);
}

static void test_waitset__added_member_wakes_a_ppoll_wait(void **state)
{
	struct sleeper s;

	(void)state;
	add_members(2);
	start(&s, 2);              /* sleeps in ppoll on members 0 and 1 */
	add_members(3);
	fill(2);
	finish(&s);
}

static void test_waitset__disarm_wakes_an_epoll_wait(void **state)
{
	struct sleeper s;

	(void)state;
	add_members(UH_WAITSET_POLL_MAX + 1);
	start(&s, 0);              /* sleeps in epoll */
	uh_waitset_del(&fx.ws, fx.p[UH_WAITSET_POLL_MAX][0]);
	assert_false(uh_waitset_armed(&fx.ws));
	fill(0);                   /* no longer in the epoll set */
	finish(&s);
}

static void test_waitset__kick_wakes_a_waiter(void **state)
{
	struct sleeper s;

	(void)state;
	add_members(2);
	drain_kicks();
	start(&s, -1);
	assert_false(atomic_load(&s.done));
	uh_waitset_kick(&fx.ws);
	finish(&s);
}

/* A busy poll (no timeout) must not take a kick meant for the thread that
 * waits (the blocking receiver): the kick stays pending and ends the next
 * wait at once, in ppoll and in epoll mode. */
static void test_waitset__poll_leaves_the_kick(void **state)
{
	void *ready[16];

	(void)state;
	for (int round = 0; round < 2; round++) {
		add_members(round ? UH_WAITSET_POLL_MAX + 1 : 2);
		drain_kicks();
		uh_waitset_kick(&fx.ws);
		assert_int_equal(uh_waitset_wait(&fx.ws, ready, 16, 0), 0);
		assert_int_equal(uh_waitset_wait(&fx.ws, ready, 16, 0), 0);
		/* Still pending: a 5 s wait returns at once. */
		{
			uint64_t t0 = uh_now_ns();

			assert_int_equal(uh_waitset_wait(&fx.ws, ready, 16,
							 5000000000ll), 0);
			assert_true(uh_now_ns() - t0 < 1000000000ull);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_waitset__few_members_stay_out_of_epoll, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_waitset__ppoll_reports_ready_members, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_waitset__epoll_reports_ready_members, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_waitset__added_member_wakes_a_ppoll_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_waitset__disarm_wakes_an_epoll_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_waitset__kick_wakes_a_waiter,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_waitset__poll_leaves_the_kick, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
