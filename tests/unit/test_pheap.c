/*
 * test_pheap.c - the pairing heap: against a plain array under random
 * inserts, removals of the minimum and of nodes in the middle, its root
 * is always the least node and every node comes out exactly once; and
 * taking out a node anywhere keeps the shape (every child's back link
 * right, no node reachable twice).
 */
#include "testutil.h"

#include "util/compiler.h"
#include "util/pheap.h"

#define N 2000

struct item {
	struct uh_pheap_node node;
	uint64_t key;
	bool in;
};

static bool item_less(const struct uh_pheap_node *a,
		      const struct uh_pheap_node *b)
{
	return uh_container_of_const(a, struct item, node)->key <
	       uh_container_of_const(b, struct item, node)->key;
}

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Nodes below @n, each checked for its back link; returns their count. */
static unsigned check_subtree(const struct uh_pheap_node *n)
{
	unsigned count = 1;
	const struct uh_pheap_node *prev = n;

	for (const struct uh_pheap_node *c = n->child; c; c = c->next) {
		assert_ptr_equal(c->prev, prev);
		/* A heap: no child below its parent. */
		assert_false(item_less(c, n));
		count += check_subtree(c);
		prev = c;
	}
	return count;
}

static void pheap__matches_an_array(void **state)
{
	static struct item it[N];
	struct uh_pheap h;
	unsigned in = 0, ops;

	(void)state;
	uh_pheap_init(&h, item_less);
	assert_null(uh_pheap_min(&h));
	for (unsigned i = 0; i < N; i++) {
		/* Unique keys: the order is then the only right answer. */
		it[i].key = (next_rand() % 1000000) * N + i;
		it[i].in = false;
	}
	for (ops = 0; ops < 200000; ops++) {
		unsigned r = (unsigned)(next_rand() % N);
		const struct item *least = NULL;
		unsigned what = (unsigned)(next_rand() % 3);

		if (!it[r].in) {
			uh_pheap_insert(&h, &it[r].node);
			it[r].in = true;
			in++;
		} else if (what == 0) {
			uh_pheap_remove(&h, &it[r].node);  /* anywhere */
			it[r].in = false;
			in--;
		} else if (what == 1 && h.root) {
			struct item *m = uh_container_of(uh_pheap_min(&h),
							 struct item, node);

			uh_pheap_remove(&h, &m->node);
			m->in = false;
			in--;
		}
		for (unsigned i = 0; i < N; i++)
			if (it[i].in && (!least || it[i].key < least->key))
				least = &it[i];
		if (least)
			assert_ptr_equal(uh_pheap_min(&h), &least->node);
		else
			assert_null(uh_pheap_min(&h));
		if (ops % 1000 == 0 && h.root) {
			assert_null(h.root->prev);
			assert_null(h.root->next);
			assert_int_equal(check_subtree(h.root), in);
		}
	}
	/* Drained in order. */
	for (uint64_t last = 0; h.root;) {
		struct item *m = uh_container_of(uh_pheap_min(&h), struct item,
						 node);

		assert_true(m->key >= last);
		last = m->key;
		uh_pheap_remove(&h, &m->node);
		m->in = false;
		in--;
	}
	assert_int_equal(in, 0);
}

/* Removing the one node, a leaf, an inner node with children, and the
 * root with children, in a small heap whose shape is known. */
static void pheap__remove_every_kind_of_node(void **state)
{
	struct item it[6];
	struct uh_pheap h;

	(void)state;
	uh_pheap_init(&h, item_less);
	it[0].key = 5;
	uh_pheap_insert(&h, &it[0].node);
	uh_pheap_remove(&h, &it[0].node);
	assert_null(uh_pheap_min(&h));
	for (unsigned i = 0; i < 6; i++) {
		it[i].key = 10 + i;
		uh_pheap_insert(&h, &it[i].node);
	}
	/* Melds put later, larger nodes first among the root's children. */
	assert_ptr_equal(uh_pheap_min(&h), &it[0].node);
	uh_pheap_remove(&h, &it[3].node);          /* a middle child */
	assert_int_equal(check_subtree(h.root), 5);
	uh_pheap_remove(&h, &it[0].node);          /* the root */
	assert_ptr_equal(uh_pheap_min(&h), &it[1].node);
	assert_int_equal(check_subtree(h.root), 4);
	uh_pheap_remove(&h, &it[5].node);
	uh_pheap_remove(&h, &it[1].node);
	assert_ptr_equal(uh_pheap_min(&h), &it[2].node);
	uh_pheap_remove(&h, &it[2].node);
	assert_ptr_equal(uh_pheap_min(&h), &it[4].node);
	assert_int_equal(check_subtree(h.root), 1);
	uh_pheap_remove(&h, &it[4].node);
	assert_null(uh_pheap_min(&h));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(pheap__matches_an_array),
		UH_TEST(pheap__remove_every_kind_of_node),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
