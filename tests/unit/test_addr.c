/*
 * test_addr.c - peer addresses: the hash the peer table and the server RPC
 * buckets index by must spread addresses that differ only in their last
 * bytes (the hosts of one subnet), over any power-of-two table.
 */
#include "testutil.h"

#include "util/addr.h"

#define BUCKETS 256

/* The longest chain when @n addresses made by @make fill BUCKETS. */
static unsigned longest(unsigned n, void (*make)(unsigned, struct uh_addr *))
{
	unsigned count[BUCKETS] = { 0 }, max = 0;

	for (unsigned i = 0; i < n; i++) {
		struct uh_addr a;
		unsigned b;

		make(i, &a);
		b = uh_addr_hash(&a) % BUCKETS;
		if (++count[b] > max)
			max = count[b];
	}
	return max;
}

/* 10.0.x.y: IPv4-mapped, the last two bytes counting. */
static void v4_subnet(unsigned i, struct uh_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->b[10] = a->b[11] = 0xff;
	a->b[12] = 10;
	a->b[14] = (uint8_t)(i >> 8);
	a->b[15] = (uint8_t)i;
}

/* fd00::x:y, the last bytes counting. */
static void v6_subnet(unsigned i, struct uh_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->b[0] = 0xfd;
	a->b[14] = (uint8_t)(i >> 8);
	a->b[15] = (uint8_t)i;
}

/* 2001:db8:x::1, a byte in the first half counting. */
static void v6_prefix(unsigned i, struct uh_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->b[0] = 0x20;
	a->b[1] = 0x01;
	a->b[2] = 0x0d;
	a->b[3] = 0xb8;
	a->b[5] = (uint8_t)i;
	a->b[15] = 1;
}

/*
 * 1,024 addresses in 256 buckets average 4 a bucket; a uniform hash's
 * longest chain is about 12 (the old hash put a subnet's last byte in one
 * bucket: chains of 256 and more).
 */
static void addr__hash_spreads_a_subnet(void **state)
{
	(void)state;
	assert_true(longest(1024, v4_subnet) <= 16);
	assert_true(longest(1024, v6_subnet) <= 16);
	assert_true(longest(256, v6_prefix) <= 8);
	/* 256 hosts differing in the last byte only. */
	assert_true(longest(256, v4_subnet) <= 8);
}

static void addr__hash_is_a_function_of_the_address(void **state)
{
	struct uh_addr a, b;

	(void)state;
	v4_subnet(77, &a);
	v4_subnet(77, &b);
	assert_int_equal(uh_addr_hash(&a), uh_addr_hash(&b));
	v4_subnet(78, &b);
	assert_int_not_equal(uh_addr_hash(&a), uh_addr_hash(&b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(addr__hash_spreads_a_subnet),
		UH_TEST(addr__hash_is_a_function_of_the_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
