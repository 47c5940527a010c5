/*
 * test_config.c - defaults, UHOMA_CONFIG, uhoma_config_set, validation,
 * and address conversions.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "util/addr.h"
#include "core/config.h"
#include "testutil.h"

static void config__defaults_are_the_modules(void **state)
{
	struct uhoma_config c;

	(void)state;
	unsetenv("UHOMA_CONFIG");
	assert_int_equal(uhoma_config_default(&c), UHOMA_OK);
	assert_int_equal(c.unsched_bytes, 40000);
	assert_int_equal(c.max_incoming, 400000);
	assert_int_equal(c.resend_ticks, 5);
	assert_int_equal(c.resend_interval, 5);
	assert_int_equal(c.timeout_ticks, 100);
	assert_int_equal(c.request_ack_ticks, 2);
	assert_int_equal(c.num_priorities, 8);
	assert_int_equal(uh_config_validate(&c), UHOMA_OK);
}

static void config__environment_overrides(void **state)
{
	struct uhoma_config c;

	(void)state;
	setenv("UHOMA_CONFIG", "mtu=9000, timeout_ticks=250,carrier=memnet", 1);
	assert_int_equal(uhoma_config_default(&c), UHOMA_OK);
	assert_int_equal(c.mtu, 9000);
	assert_int_equal(c.timeout_ticks, 250);
	assert_int_equal(c.carrier, UHOMA_CARRIER_MEMNET);
	setenv("UHOMA_CONFIG", "mtu=9000,bogus=1,window=x", 1);
	assert_int_equal(uhoma_config_default(&c), UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(c.mtu, 9000);         /* the good key applied */
	unsetenv("UHOMA_CONFIG");
}

static void config__set_and_validate(void **state)
{
	struct uhoma_config c;

	(void)state;
	uhoma_config_default(&c);
	assert_int_equal(uhoma_config_set(&c, "num_priorities", "9"),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_config_set(&c, "mtu", "100"),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_config_set(&c, "addr", "not-an-address"),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_config_set(&c, "addr", "127.0.0.1"), UHOMA_OK);
	assert_int_equal(uhoma_config_set(&c, "window", "0x1000"), UHOMA_OK);
	assert_int_equal(c.window, 4096);
	/* Decimal or 0x hexadecimal: never octal, no sign, no blanks. */
	assert_int_equal(uhoma_config_set(&c, "window", "010"), UHOMA_OK);
	assert_int_equal(c.window, 10);
	assert_int_equal(uhoma_config_set(&c, "max_overcommit", "010"),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_config_set(&c, "window", "+5000"),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_config_set(&c, "window", " 5000"),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_config_set(&c, "window", "0x"),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_config_set(&c, "window", "0x-1"),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_config_set(&c, "window", "0xFF"), UHOMA_OK);
	assert_int_equal(c.window, 255);
	c.num_priorities = 0;
	assert_int_equal(uh_config_validate(&c), UHOMA_ERR_INVALID_ARGUMENT);
	uhoma_config_default(&c);
	c.version = 99;
	assert_int_equal(uh_config_validate(&c), UHOMA_ERR_INVALID_ARGUMENT);
	uhoma_config_default(&c);
	c.carrier = UHOMA_CARRIER_MEMNET;      /* but no memnet */
	assert_int_equal(uh_config_validate(&c), UHOMA_ERR_INVALID_ARGUMENT);
}

static void addr__round_trips(void **state)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
				  .sin_port = htons(4000) };
	struct sockaddr_storage ss;
	struct uh_addr a, b;
	uint32_t len;
	uint16_t port;
	char text[64];

	(void)state;
	inet_pton(AF_INET, "10.1.2.3", &in.sin_addr);
	assert_int_equal(uh_addr_from_sockaddr((struct sockaddr *)&in,
					       sizeof(in), &a, &port), 0);
	assert_int_equal(port, 4000);
	assert_true(uh_addr_is_v4(&a));
	assert_string_equal(uh_addr_format(&a, text, sizeof(text)), "10.1.2.3");
	uh_addr_to_sockaddr(&a, 4000, &ss, &len);
	assert_int_equal(len, sizeof(in));
	assert_memory_equal(&ss, &in, sizeof(in));
	assert_int_equal(uh_addr_parse("fe80::1", &b), 0);
	assert_false(uh_addr_is_v4(&b));
	uh_addr_to_sockaddr(&b, 1, &ss, &len);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(uh_addr_from_sockaddr((struct sockaddr *)&in, 4, &a,
					       &port),
			 UHOMA_ERR_INVALID_ARGUMENT);
	in.sin_family = AF_UNIX;
	assert_int_equal(uh_addr_from_sockaddr((struct sockaddr *)&in,
					       sizeof(in), &a, &port),
			 UHOMA_ERR_AF_NOT_SUPPORTED);
	assert_int_equal(uh_addr_parse("1.2.3", &a), -1);
}

/* The text form UHOMA_CONFIG and uhoma-bench --config share. */
static void config__parse_text(void **state)
{
	struct uhoma_config c;

	(void)state;
	unsetenv("UHOMA_CONFIG");
	uhoma_config_default(&c);
	assert_int_equal(uhoma_config_parse(&c, "max_overcommit=2, link_mbps=1000"),
			 UHOMA_OK);
	assert_int_equal(c.max_overcommit, 2);
	assert_int_equal(c.link_mbps, 1000);
	assert_int_equal(uhoma_config_parse(&c, "max_overcommit=9,window=7"),
			 UHOMA_ERR_INVALID_ARGUMENT);   /* 9 > 8 */
	assert_int_equal(c.max_overcommit, 2);   /* unchanged */
	assert_int_equal(c.window, 7);           /* the good item applied */
	assert_int_equal(uhoma_config_parse(&c, "mtu"),
			 UHOMA_ERR_INVALID_ARGUMENT);
	assert_int_equal(uhoma_config_parse(&c, ""), UHOMA_OK);
}

/* A bad item is named with the reason, so that a user whose UHOMA_CONFIG
 * is partly ignored learns which part and why (the preload prints it);
 * good items are not mentioned. */
static void config__explains_bad_items(void **state)
{
	char why[512];

	(void)state;
	assert_int_equal(uh_config_explain("poll_us=10,timeout_ticks=1", why,
					   sizeof(why)), 1);
	assert_string_equal(why, "timeout_ticks=1 (allowed: 2..1000000)");
	assert_int_equal(uh_config_explain("colour=red mtu=x carrier=tcp",
					   why, sizeof(why)), 3);
	assert_string_equal(why, "colour=red (no such key), mtu=x (allowed: "
			    "0 or 576..65536), carrier=tcp (allowed: udp, memnet, ip "
			    "or 0..2)");
	assert_int_equal(uh_config_explain("addr=1.2.3,lanes", why,
					   sizeof(why)), 2);
	assert_string_equal(why, "addr=1.2.3 (not an IPv4 or IPv6 address), "
			    "lanes (not key=value)");
	assert_int_equal(uh_config_explain("addr=::1,lanes=0", why,
					   sizeof(why)), 0);
	assert_string_equal(why, "");
	/* A long key or value is cut, its reason kept (helper-8). */
	{
		char item[400];

		memset(item, 'k', 300);
		strcpy(item + 300, "=1");
		assert_int_equal(uh_config_explain(item, why, sizeof(why)), 1);
		assert_non_null(strstr(why, "...=1 (no such key)"));
		assert_true(strlen(why) < 60);
	}
	/* Truncated, never overrun. */
	assert_int_equal(uh_config_explain("a=1,b=2", why, 8), 2);
	assert_int_equal(strlen(why), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(config__defaults_are_the_modules),
		UH_TEST(config__environment_overrides),
		UH_TEST(config__set_and_validate),
		UH_TEST(config__parse_text),
		UH_TEST(config__explains_bad_items),
		UH_TEST(addr__round_trips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
