/*
 * test_magazine.c - magazine types, magazines and the depot's working set.
 */
#include <stdlib.h>

#include "testutil.h"

#include "mem/magazine.h"

static void test_magtype_initial__by_object_size(void **state)
{
	(void)state;
	/* Bonwick's table: size > minbuf picks the type. */
	assert_int_equal(uh_magtypes[uh_magtype_initial(8)].rounds, 15);
	assert_int_equal(uh_magtypes[uh_magtype_initial(64)].rounds, 15);
	assert_int_equal(uh_magtypes[uh_magtype_initial(65)].rounds, 7);
	assert_int_equal(uh_magtypes[uh_magtype_initial(300)].rounds, 3);
	assert_int_equal(uh_magtypes[uh_magtype_initial(4000)].rounds, 1);
}

static void test_magtype_can_grow__bounded_by_size(void **state)
{
	(void)state;
	assert_true(uh_magtype_can_grow(3, 64));       /* 15 -> 31 */
	assert_false(uh_magtype_can_grow(3, 8192));    /* maxbuf 8192 */
	assert_true(uh_magtype_can_grow(7, 100));      /* 95 -> 143 */
	assert_false(uh_magtype_can_grow(7, 512));
	assert_false(uh_magtype_can_grow(uh_nmagtypes - 1, 8));
}

static void test_magazine__push_pop_lifo(void **state)
{
	struct uh_magazine *m = uh_magazine_new(3);
	int a, b, c;
	(void)state;
	assert_non_null(m);
	assert_int_equal(m->rounds, 0);
	uh_mag_push(m, &a);
	uh_mag_push(m, &b);
	uh_mag_push(m, &c);
	assert_true(uh_mag_full(m));
	assert_ptr_equal(uh_mag_pop(m), &c);
	assert_ptr_equal(uh_mag_pop(m), &b);
	assert_ptr_equal(uh_mag_pop(m), &a);
	free(m);
}

static void test_depot__working_set(void **state)
{
	struct uh_depot d;
	struct uh_magazine *m[4];
	(void)state;
	uh_depot_init(&d);
	for (int i = 0; i < 4; i++)     /* allocated first: never under */
		m[i] = uh_magazine_new(1);  /* the depot lock (rule 5) */
	uh_depot_lock(&d);
	for (int i = 0; i < 4; i++)
		uh_depot_put_full(&d, m[i]);
	uh_depot_ws_update(&d);          /* interval 1 starts with 4 full */
	assert_ptr_equal(uh_depot_take_full(&d), m[3]);
	uh_depot_put_full(&d, m[3]);     /* the low point was 3 */
	uh_depot_ws_update(&d);
	assert_int_equal(d.full_reapable, 3);  /* 3 never used all interval */
	assert_int_equal(d.nfull, 4);
	uh_depot_ws_update(&d);          /* a quiet interval: all 4 idle */
	assert_int_equal(d.full_reapable, 4);
	for (int i = 0; i < 4; i++)
		free(uh_depot_take_full(&d));
	assert_null(uh_depot_take_full(&d));
	assert_null(uh_depot_take_empty(&d));
	uh_depot_unlock(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(test_magtype_initial__by_object_size),
		UH_TEST(test_magtype_can_grow__bounded_by_size),
		UH_TEST(test_magazine__push_pop_lifo),
		UH_TEST(test_depot__working_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
