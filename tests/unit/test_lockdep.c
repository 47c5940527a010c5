/*
 * test_lockdep.c - the validator catches every violation class, each
 * committed here on purpose, and stays silent on correct locking.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "mem/cache.h"
#include "sync/lock.h"
#include "sync/lockdep.h"
#include "sync/rcu.h"
#include "sync/wait.h"

static UH_LOCK_CLASS(c_grant, "t.grant", UH_RANK_GRANT, 0);
static UH_LOCK_CLASS(c_rpc, "t.rpc", UH_RANK_RPC, 0);
static UH_LOCK_CLASS(c_sock, "t.socket", UH_RANK_SOCKET, 0);
static UH_LOCK_CLASS(c_leaf, "t.leaf", UH_RANK_LEAF, UH_LC_LEAF);
static UH_LOCK_CLASS(c_leaf2, "t.leaf2", UH_RANK_LEAF, UH_LC_LEAF);
static UH_LOCK_CLASS(c_x, "t.x", 500, 0);
static UH_LOCK_CLASS(c_y, "t.y", 500, 0);
static UH_LOCK_CLASS(c_z, "t.z", 500, 0);
static UH_LOCK_CLASS(c_mutex, "t.sleeping", 50, UH_LC_SLEEPS);

#define LOCKS(...) struct uh_lock __VA_ARGS__

static void init(struct uh_lock *l, struct uh_lock_class *c)
{
	uh_lock_init(l, c);
}

/* Correct order through every rank: no report at all. */
static void test_lockdep__documented_order_is_silent(void **state)
{
	LOCKS(g, r, s, lf);
	(void)state;
	init(&g, &c_grant); init(&r, &c_rpc); init(&s, &c_sock);
	init(&lf, &c_leaf);
	uh_capture_start();
	for (int i = 0; i < 3; i++) {
		uh_lock(&g); uh_lock(&r); uh_lock(&s); uh_lock(&lf);
		uh_unlock(&lf); uh_unlock(&s); uh_unlock(&r); uh_unlock(&g);
	}
	/* Skipping levels is fine, and so is releasing out of order. */
	uh_lock(&g); uh_lock(&s); uh_unlock(&g); uh_unlock(&s);
	assert_int_equal(uh_capture_stop(), 0);
}

static void test_lockdep__rank_violation(void **state)
{
	LOCKS(r, s);
	(void)state;
	init(&r, &c_rpc); init(&s, &c_sock);
	uh_capture_start();
	uh_lock(&s);
	uh_lock(&r);   /* socket -> RPC: against lock_order.h */
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_ORDER);
	assert_non_null(strstr(uh_capture_text(), "\"t.rpc\" (rank 200)"));
	assert_non_null(strstr(uh_capture_text(), "\"t.socket\" (rank 300"));
	assert_non_null(strstr(uh_capture_text(), "test_lockdep.c:"));
	uh_unlock(&r); uh_unlock(&s);
	/* The wrong edge was not learned: the right order stays silent. */
	uh_capture_start();
	uh_lock(&r); uh_lock(&s); uh_unlock(&s); uh_unlock(&r);
	assert_int_equal(uh_capture_stop(), 0);
}

static void test_lockdep__two_class_cycle(void **state)
{
	LOCKS(x, y);
	(void)state;
	init(&x, &c_x); init(&y, &c_y);
	uh_capture_start();
	uh_lock(&x); uh_lock(&y); uh_unlock(&y); uh_unlock(&x);
	assert_int_equal(uh_capture_stop(), 0);
	uh_capture_start();
	uh_lock(&y); uh_lock(&x);   /* never deadlocks here: one thread */
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_CYCLE);
	const char *t = uh_capture_text();
	assert_non_null(strstr(t, "acquires \"t.x\""));
	assert_non_null(strstr(t, "while holding \"t.y\""));
	assert_non_null(strstr(t, "(2-class cycle)"));
	/* The earlier side's chain and location are named too. */
	assert_non_null(strstr(t, "\"t.x\" -> \"t.y\": \"t.y\" acquired at"));
	uh_unlock(&x); uh_unlock(&y);
}

static void test_lockdep__three_class_cycle_found_at_depth(void **state)
{
	LOCKS(x, y, z);
	(void)state;
	init(&x, &c_x); init(&y, &c_y); init(&z, &c_z);
	uh_capture_start();
	uh_lock(&x); uh_lock(&y); uh_unlock(&y); uh_unlock(&x);
	uh_lock(&y); uh_lock(&z); uh_unlock(&z); uh_unlock(&y);
	assert_int_equal(uh_capture_stop(), 0);
	uh_capture_start();
	uh_lock(&z); uh_lock(&x);   /* closes x -> y -> z -> x */
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_CYCLE);
	assert_non_null(strstr(uh_capture_text(), "(3-class cycle)"));
	assert_non_null(strstr(uh_capture_text(), "\"t.y\" -> \"t.z\""));
	uh_unlock(&x); uh_unlock(&z);
}

struct edge_arg {
	struct uh_lock *a, *b;
};

static void *take_in_order(void *p)
{
	struct edge_arg *e = p;

	uh_lock(e->a); uh_lock(e->b); uh_unlock(e->b); uh_unlock(e->a);
	return NULL;
}

/* The graph is global: an edge learned by one thread convicts another. */
static void test_lockdep__cycle_across_threads(void **state)
{
	LOCKS(x, y);
	pthread_t th;
	struct edge_arg e = { &x, &y };
	(void)state;
	init(&x, &c_x); init(&y, &c_y);
	pthread_create(&th, NULL, take_in_order, &e);
	pthread_join(th, NULL);
	uh_capture_start();
	uh_lock(&y); uh_lock(&x);
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_CYCLE);
	uh_unlock(&x); uh_unlock(&y);
}

static void test_lockdep__leaf_holds_nothing(void **state)
{
	LOCKS(a, b);
	(void)state;
	init(&a, &c_leaf); init(&b, &c_leaf2);
	uh_capture_start();
	uh_lock(&a); uh_lock(&b);
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_LEAF);
	assert_non_null(strstr(uh_capture_text(), "leaf \"t.leaf\""));
	uh_unlock(&b); uh_unlock(&a);
}

static void test_lockdep__recursion_same_lock(void **state)
{
	LOCKS(a);
	(void)state;
	init(&a, &c_rpc);
	uh_capture_start();
	uh_lock(&a);
	/* A real second uh_lock would hang; the check runs before the wait,
	 * which is the point: report instead of deadlock. Use trylock-free
	 * path by calling the validator hook directly. */
	uh_lockdep_acquire(&a, &c_rpc, 0, UH_HERE);
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_RECURSION);
	assert_non_null(strstr(uh_capture_text(), "the same lock"));
	uh_lockdep_release(&a, UH_HERE);
	uh_unlock(&a);
}

static void test_lockdep__recursion_same_class(void **state)
{
	LOCKS(a, b);
	(void)state;
	init(&a, &c_rpc); init(&b, &c_rpc);
	uh_capture_start();
	uh_lock(&a); uh_lock(&b);
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_RECURSION);
	assert_non_null(strstr(uh_capture_text(), "a lock of class \"t.rpc\""));
	uh_unlock(&b); uh_unlock(&a);
}

static void test_lockdep__nested_annotation(void **state)
{
	LOCKS(a, b, c);
	(void)state;
	init(&a, &c_sock); init(&b, &c_sock); init(&c, &c_sock);
	uh_capture_start();
	uh_lock(&a); uh_lock_nested(&b, 1);
	uh_unlock(&b); uh_unlock(&a);
	assert_int_equal(uh_capture_stop(), 0);
	/* A subclass must rise above every held one of the class. */
	uh_capture_start();
	uh_lock_nested(&a, 1); uh_lock_nested(&c, 1);
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_RECURSION);
	uh_unlock(&c); uh_unlock(&a);
}

static void test_lockdep__unlock_not_held(void **state)
{
	LOCKS(a);
	(void)state;
	init(&a, &c_rpc);
	uh_capture_start();
	uh_unlock(&a);
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_UNLOCK_NOT_HELD);
	assert_non_null(strstr(uh_capture_text(), "does not hold"));
}

static void *exit_holding(void *p)
{
	uh_lock((struct uh_lock *)p);
	return NULL;   /* exits with the lock held */
}

static void test_lockdep__thread_exit_with_lock(void **state)
{
	LOCKS(a);
	pthread_t th;
	(void)state;
	init(&a, &c_sock);
	uh_capture_start();
	pthread_create(&th, NULL, exit_holding, &a);
	pthread_join(th, NULL);
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_EXIT_HELD);
	assert_non_null(strstr(uh_capture_text(), "\"t.socket\""));
}

static void *exit_in_rcu(void *p)
{
	(void)p;
	uh_rcu_read_lock();
	return NULL;
}

static void test_lockdep__thread_exit_in_rcu_section(void **state)
{
	pthread_t th;
	(void)state;
	uh_capture_start();
	pthread_create(&th, NULL, exit_in_rcu, NULL);
	pthread_join(th, NULL);
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_EXIT_HELD);
	assert_non_null(strstr(uh_capture_text(), "RCU depth 1"));
}

static void test_lockdep__return_to_app_with_lock(void **state)
{
	LOCKS(a);
	(void)state;
	init(&a, &c_rpc);
	uh_capture_start();
	uh_lock(&a);
	uh_lockdep_return_to_app("uhoma_recv", UH_HERE);
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_RETURN_HELD);
	assert_non_null(strstr(uh_capture_text(), "uhoma_recv returns"));
	uh_unlock(&a);
	uh_capture_start();
	uh_lockdep_return_to_app("uhoma_recv", UH_HERE);
	assert_int_equal(uh_capture_stop(), 0);
}

static void test_lockdep__cache_alloc_under_spin_class(void **state)
{
	LOCKS(a);
	struct uh_cache_config cfg = { .name = "t.obj", .size = 64 };
	struct uh_cache *c = uh_cache_create(&cfg);
	void *obj;
	(void)state;
	init(&a, &c_rpc);
	/* Warm this thread's magazines: a cold first allocation would also
	 * (rightly) be reported for taking the sleeping registry lock. */
	uh_cache_free(c, uh_cache_alloc(c));
	uh_capture_start();
	uh_lock(&a);
	obj = uh_cache_alloc(c);
	uh_unlock(&a);
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_BLOCKING);
	assert_non_null(strstr(uh_capture_text(), "uh_cache_alloc"));
	assert_non_null(strstr(uh_capture_text(), "non-blocking \"t.rpc\""));
	uh_cache_free(c, obj);
	uh_cache_destroy(c);
}

static void test_lockdep__sleeping_wait_under_spin_class(void **state)
{
	LOCKS(a);
	struct uh_wait w = UH_WAIT_INITIALIZER;
	(void)state;
	init(&a, &c_sock);
	uh_capture_start();
	uh_lock(&a);
	uh_wait_sleep(&w, uh_wait_prepare(&w), 1000);
	uh_unlock(&a);
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_BLOCKING);
	assert_non_null(strstr(uh_capture_text(), "uh_wait_sleep"));
}

static void test_lockdep__synchronize_rcu_under_spin_class(void **state)
{
	LOCKS(a);
	(void)state;
	init(&a, &c_leaf);
	uh_capture_start();
	uh_lock(&a);
	uh_synchronize_rcu();
	uh_unlock(&a);
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_BLOCKING);
	assert_non_null(strstr(uh_capture_text(), "synchronize_rcu"));
}

static void test_lockdep__sleeping_class_under_spin_class(void **state)
{
	LOCKS(a, m);
	(void)state;
	init(&a, &c_grant); init(&m, &c_mutex);
	uh_capture_start();
	uh_lock(&m); uh_lock(&a);   /* fine: spin class under a sleeping one */
	uh_unlock(&a); uh_unlock(&m);
	assert_int_equal(uh_capture_stop(), 0);
	uh_capture_start();
	uh_lock(&a); uh_lock(&m);
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_BLOCKING);
	uh_unlock(&m); uh_unlock(&a);
}

static void test_lockdep__blocking_allowed_under_sleeping_class(void **state)
{
	LOCKS(m);
	(void)state;
	init(&m, &c_mutex);
	uh_capture_start();
	uh_lock(&m);
	uh_synchronize_rcu();
	uh_unlock(&m);
	assert_int_equal(uh_capture_stop(), 0);
}

static void test_lockdep__synchronize_rcu_in_read_section(void **state)
{
	(void)state;
	uh_capture_start();
	uh_rcu_read_lock();
	uh_synchronize_rcu();   /* reported before it could self-deadlock */
	uh_rcu_read_unlock();
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_SYNC_IN_READ);
}

static void test_lockdep__rcu_unlock_unbalanced(void **state)
{
	(void)state;
	uh_capture_start();
	uh_lockdep_rcu_read_unlock(UH_HERE);
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_RCU_UNBALANCED);
}

/* A successful try-lock against the order cannot deadlock: no report, no
 * edge learned, but the lock counts as held. */
static void test_lockdep__trylock_adds_no_edge(void **state)
{
	LOCKS(r, s);
	(void)state;
	init(&r, &c_rpc); init(&s, &c_sock);
	uh_capture_start();
	uh_lock(&s);
	assert_true(uh_trylock(&r));
	assert_true(uh_lockdep_holds(&r));
	assert_int_equal(uh_lockdep_depth(), 2);
	uh_unlock(&r); uh_unlock(&s);
	uh_lock(&r); uh_lock(&s); uh_unlock(&s); uh_unlock(&r);
	assert_int_equal(uh_capture_stop(), 0);
}

/* ...but a blocking acquisition while holding a try-locked lock is checked
 * like any other. */
static void test_lockdep__trylocked_lock_orders_later_acquisitions(void **state)
{
	LOCKS(r, s);
	(void)state;
	init(&r, &c_rpc); init(&s, &c_sock);
	uh_capture_start();
	assert_true(uh_trylock(&s));
	uh_lock(&r);
	assert_int_equal(uh_capture_stop(), 1);
	assert_int_equal(uh_capture_kind(), UH_LD_ORDER);
	assert_non_null(strstr(uh_capture_text(), "try-lock"));
	uh_unlock(&r); uh_unlock(&s);
}

/*
 * The lock-order table in docs/design.md is the same table as
 * lock_order.h: every `UH_RANK_*` row there names the rank defined here.
 */
static void test_lockdep__design_doc_matches_lock_order(void **state)
{
	static const struct { const char *name; int rank; } ranks[] = {
		{ "UH_RANK_GRANT", UH_RANK_GRANT },
		{ "UH_RANK_RPC", UH_RANK_RPC },
		{ "UH_RANK_SOCKET", UH_RANK_SOCKET },
		{ "UH_RANK_TABLE", UH_RANK_TABLE },
		{ "UH_RANK_THROTTLE", UH_RANK_THROTTLE },
		{ "UH_RANK_NET", UH_RANK_NET },
		{ "UH_RANK_CACHE_REGISTRY", UH_RANK_CACHE_REGISTRY },
		{ "UH_RANK_LEAF", UH_RANK_LEAF },
	};
	FILE *f = fopen(UHOMA_SOURCE_DIR "/docs/design.md", "r");
	char line[512];
	int found = 0;
	(void)state;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		for (size_t i = 0; i < sizeof(ranks) / sizeof(ranks[0]); i++) {
			char want[96];

			snprintf(want, sizeof(want), "| `%s` | %d |",
				 ranks[i].name, ranks[i].rank);
			if (strstr(line, want))
				found |= 1 << i;
		}
	}
	fclose(f);
	assert_int_equal(found, (1 << (sizeof(ranks) / sizeof(ranks[0]))) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(test_lockdep__documented_order_is_silent),
		UH_TEST(test_lockdep__rank_violation),
		UH_TEST(test_lockdep__two_class_cycle),
		UH_TEST(test_lockdep__three_class_cycle_found_at_depth),
		UH_TEST(test_lockdep__cycle_across_threads),
		UH_TEST(test_lockdep__leaf_holds_nothing),
		UH_TEST(test_lockdep__recursion_same_lock),
		UH_TEST(test_lockdep__recursion_same_class),
		UH_TEST(test_lockdep__nested_annotation),
		UH_TEST(test_lockdep__unlock_not_held),
		UH_TEST(test_lockdep__thread_exit_with_lock),
		UH_TEST(test_lockdep__thread_exit_in_rcu_section),
		UH_TEST(test_lockdep__return_to_app_with_lock),
		UH_TEST(test_lockdep__cache_alloc_under_spin_class),
		UH_TEST(test_lockdep__sleeping_wait_under_spin_class),
		UH_TEST(test_lockdep__synchronize_rcu_under_spin_class),
		UH_TEST(test_lockdep__sleeping_class_under_spin_class),
		UH_TEST(test_lockdep__blocking_allowed_under_sleeping_class),
		UH_TEST(test_lockdep__synchronize_rcu_in_read_section),
		UH_TEST(test_lockdep__rcu_unlock_unbalanced),
		UH_TEST(test_lockdep__trylock_adds_no_edge),
		UH_TEST(test_lockdep__trylocked_lock_orders_later_acquisitions),
		UH_TEST(test_lockdep__design_doc_matches_lock_order),
	};

#ifndef UHOMA_LOCKDEP
	printf("test_lockdep: validator compiled out; nothing to test\n");
	return 0;
#endif
	return cmocka_run_group_tests(tests, NULL, NULL);
}
