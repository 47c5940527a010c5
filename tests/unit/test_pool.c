/*
 * test_pool.c - bpage allocation, tails sharing a partial page, ownership
 * passing to the application and back, and all-or-nothing release.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "core/pool.h"
#include "testutil.h"
#include "uhoma/uhoma.h"

#define REGION UH_POOL_MIN_BYTES   /* 32 whole bpages */

static void *region(void)
{
	void *r = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(r != MAP_FAILED);
	return r;
}

static void pool__setup_rules(void **state)
{
	struct uh_pool p;
	uint8_t *r = region();

	(void)state;
	uh_pool_init(&p);
	assert_int_equal(uh_pool_setup(&p, r + 1, REGION - 4096),
			 UHOMA_ERR_INVALID_ARGUMENT);   /* not page-aligned */
	assert_int_equal(uh_pool_setup(&p, r, UH_POOL_MIN_BYTES - 1),
			 UHOMA_ERR_INVALID_ARGUMENT);   /* too small */
	assert_int_equal(uh_pool_setup(&p, NULL, REGION),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uh_pool_setup(&p, r, REGION), UHOMA_OK);
	assert_int_equal(uh_pool_setup(&p, r, REGION),
			 UHOMA_ERR_INVALID_ARGUMENT);   /* only once */
	assert_true(uh_pool_region(&p) == r);
	assert_true(uh_pool_free_bytes(&p) == 32ull * UH_BPAGE_SIZE);
	uh_pool_destroy(&p);
	munmap(r, REGION);
}

static void pool__whole_pages_then_tail(void **state)
{
	struct uh_pool p;
	uint8_t *r = region();
	uint32_t off[UH_MAX_BPAGES], n, off2[UH_MAX_BPAGES], n2;

	(void)state;
	uh_pool_init(&p);
	assert_int_equal(uh_pool_setup(&p, r, REGION), UHOMA_OK);
	/* 2.5 pages: two whole pages (lowest first) and a tail. */
	assert_true(uh_pool_alloc(&p, 2 * UH_BPAGE_SIZE + 1000, off, &n));
	assert_int_equal(n, 3);
	assert_int_equal(off[0], 0);
	assert_int_equal(off[1], UH_BPAGE_SIZE);
	assert_int_equal(off[2], 2 * UH_BPAGE_SIZE);
	/* A small message shares the partial page, 64-byte aligned. */
	assert_true(uh_pool_alloc(&p, 10, off2, &n2));
	assert_int_equal(n2, 1);
	assert_int_equal(off2[0], 2 * UH_BPAGE_SIZE + 1024);
	uh_pool_free(&p, off2, n2);
	uh_pool_free(&p, off, n);
	assert_true(uh_pool_free_bytes(&p) == 31ull * UH_BPAGE_SIZE);
	uh_pool_destroy(&p);
	munmap(r, REGION);
}

static void pool__full_then_room_again(void **state)
{
	struct uh_pool p;
	uint8_t *r = region();
	uint32_t a[UH_MAX_BPAGES], na, b[UH_MAX_BPAGES], nb, c[UH_MAX_BPAGES], nc;

	(void)state;
	uh_pool_init(&p);
	assert_int_equal(uh_pool_setup(&p, r, REGION), UHOMA_OK);
	assert_true(uh_pool_alloc(&p, 16 * UH_BPAGE_SIZE, a, &na));
	assert_true(uh_pool_alloc(&p, 16 * UH_BPAGE_SIZE, b, &nb));
	assert_false(uh_pool_alloc(&p, 1, c, &nc));       /* full */
	uh_pool_give_to_app(&p, a, na);
	assert_int_equal(uh_pool_release(&p, a, na), UHOMA_OK);
	assert_true(uh_pool_alloc(&p, 15 * UH_BPAGE_SIZE + 5, c, &nc));
	uh_pool_free(&p, b, nb);
	uh_pool_free(&p, c, nc);
	uh_pool_destroy(&p);
	munmap(r, REGION);
}

static void pool__release_checks_ownership(void **state)
{
	struct uh_pool p;
	uint8_t *r = region();
	uint32_t a[UH_MAX_BPAGES], na, bad[2];

	(void)state;
	uh_pool_init(&p);
	assert_int_equal(uh_pool_setup(&p, r, REGION), UHOMA_OK);
	assert_true(uh_pool_alloc(&p, 3 * UH_BPAGE_SIZE, a, &na));
	/* Not yet the application's: refused. */
	assert_int_equal(uh_pool_release(&p, a, 1), UHOMA_ERR_INVALID_ARGUMENT);
	uh_pool_give_to_app(&p, a, na);
	/* One good offset and one out of range: nothing is released. */
	bad[0] = a[0];
	bad[1] = 1000u * UH_BPAGE_SIZE;
	assert_int_equal(uh_pool_release(&p, bad, 2),
			 UHOMA_ERR_INVALID_ARGUMENT);
	/* The same page twice in one call is one too many. */
	bad[1] = a[0];
	assert_int_equal(uh_pool_release(&p, bad, 2),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uh_pool_release(&p, a, na), UHOMA_OK);
	/* Twice: refused. */
	assert_int_equal(uh_pool_release(&p, a, na), UHOMA_ERR_INVALID_ARGUMENT);
	assert_true(uh_pool_free_bytes(&p) == 32ull * UH_BPAGE_SIZE);
	uh_pool_destroy(&p);
	munmap(r, REGION);
}

/* Two small messages share a bpage: releasing the first twice is refused
 * the second time (it used to take the second's reference, whose own
 * release then failed), and an offset inside a message, not where it
 * starts, is no message's. (helper-36) */
static void pool__shared_page_released_once_each(void **state)
{
	struct uh_pool p;
	uint8_t *r = region();
	uint32_t a[UH_MAX_BPAGES], b[UH_MAX_BPAGES], na, nb, inside;

	(void)state;
	uh_pool_init(&p);
	assert_int_equal(uh_pool_setup(&p, r, REGION), UHOMA_OK);
	assert_true(uh_pool_alloc(&p, 8, a, &na));
	assert_true(uh_pool_alloc(&p, 8, b, &nb));
	assert_int_equal(na, 1);
	assert_int_equal(nb, 1);
	assert_int_equal(a[0] >> UH_BPAGE_SHIFT, b[0] >> UH_BPAGE_SHIFT);
	uh_pool_give_to_app(&p, a, na);
	uh_pool_give_to_app(&p, b, nb);
	inside = a[0] + 8;
	assert_int_equal(uh_pool_release(&p, &inside, 1),
			 UHOMA_ERR_INVALID_ARGUMENT);
	inside = b[0] + 64;      /* aligned, but nobody's piece */
	assert_int_equal(uh_pool_release(&p, &inside, 1),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uh_pool_release(&p, a, na), UHOMA_OK);
	assert_int_equal(uh_pool_release(&p, a, na),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uh_pool_release(&p, b, nb), UHOMA_OK);
	assert_int_equal(uh_pool_release(&p, b, nb),
			 UHOMA_ERR_INVALID_ARGUMENT);
	uh_pool_destroy(&p);
	munmap(r, REGION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(pool__setup_rules),
		UH_TEST(pool__whole_pages_then_tail),
		UH_TEST(pool__full_then_room_again),
		UH_TEST(pool__release_checks_ownership),
		UH_TEST(pool__shared_page_released_once_each),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
