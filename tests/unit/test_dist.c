/*
 * test_dist.c - the workload generator reproduces the Linux module's
 * distributions: the check values of homa-protocol.md §6.3 (mean after
 * merging, merged-point counts, share of messages up to 1000 bytes), the
 * 1 MB cap, fixed lengths, and sampling that matches the CDF.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "dist.h"
#include "testutil.h"

static const struct {
	const char *name;
	double mean;         /* digest: mean after dist_point_gen merging */
	size_t points;       /* merged points as counted here */
	double cdf1000;
} check[] = {
	{ "w1", 192.8, 157, 0.965 },
	{ "w2", 440.8, 95, 0.953 },
	{ "w3", 2568, 113, 0.858 },
	{ "w4", 61008, 224, 0.602 },
	{ "w5", 386161, 109, 0.000 },
};

static void dist__check_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(check) / sizeof(check[0]); i++) {
		struct uh_dist d;

		assert_int_equal(uh_dist_create(check[i].name, 1000000, &d), 0);
		assert_true(fabs(d.mean - check[i].mean) / check[i].mean < 0.001);
		assert_int_equal(d.n, check[i].points);
		assert_true(fabs(uh_dist_cdf(&d, 1000) - check[i].cdf1000) < 0.002);
		assert_true(d.points[d.n - 1].fraction == 1.0);
		assert_true(d.points[d.n - 1].length <= 1000000);
		uh_dist_destroy(&d);
	}
}

static void dist__sampling_matches_mean(void **state)
{
	struct uh_dist d;
	uint64_t rng = 42;
	double sum = 0;
	uint32_t max = 0;

	(void)state;
	assert_int_equal(uh_dist_create("w4", 1000000, &d), 0);
	for (int i = 0; i < 400000; i++) {
		uint32_t v = uh_dist_sample(&d, &rng);

		sum += v;
		max = v > max ? v : max;
	}
	/* W4 is heavy-tailed: 1% on 400k samples. */
	assert_true(fabs(sum / 400000 - d.mean) / d.mean < 0.03);
	assert_int_equal(max, 1000000);     /* the cap is reached */
	uh_dist_destroy(&d);
}

static void dist__fixed_and_unknown(void **state)
{
	struct uh_dist d;
	uint64_t rng = 1;

	(void)state;
	assert_int_equal(uh_dist_create("100", 1000000, &d), 0);
	assert_int_equal(uh_dist_sample(&d, &rng), 100);
	uh_dist_destroy(&d);
	assert_int_equal(uh_dist_create("w9", 1000000, &d), -1);
	assert_int_equal(uh_dist_create("0", 1000000, &d), -1);
	assert_int_equal(uh_dist_create("2000000", 1000000, &d), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(dist__check_values),
		UH_TEST(dist__sampling_matches_mean),
		UH_TEST(dist__fixed_and_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
