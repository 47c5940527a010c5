/*
 * test_error.c - error codes: text, fatality, errno mapping, version.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#include "uhoma/uhoma.h"

static void test_strerror__every_code_has_text(void **state)
{
	(void)state;
	for (int code = UHOMA_ERR_INVALID_ARGUMENT;
	     code >= UHOMA_ERR_NO_FILES; code--)
		assert_string_not_equal(uhoma_strerror(code),
					"unknown uhoma error");
	assert_string_equal(uhoma_strerror(UHOMA_OK), "success");
}

static void test_strerror__unknown_code(void **state)
{
	(void)state;
	assert_string_equal(uhoma_strerror(-1), "unknown uhoma error");
	assert_string_equal(uhoma_strerror(12345), "unknown uhoma error");
}

static void test_err_is_fatal__threshold(void **state)
{
	(void)state;
	assert_false(uhoma_err_is_fatal(UHOMA_ERR_TIMEDOUT));
	assert_false(uhoma_err_is_fatal(UHOMA_OK));
	assert_true(uhoma_err_is_fatal(UHOMA_ERR_FATAL));
	assert_true(uhoma_err_is_fatal(UHOMA_ERR_INTERNAL));
}

static void test_err_to_errno__module_values(void **state)
{
	(void)state;
	assert_int_equal(uhoma_err_to_errno(UHOMA_OK), 0);
	assert_int_equal(uhoma_err_to_errno(UHOMA_ERR_INVALID_ARGUMENT), EINVAL);
	assert_int_equal(uhoma_err_to_errno(UHOMA_ERR_TIMEDOUT), ETIMEDOUT);
	assert_int_equal(uhoma_err_to_errno(UHOMA_ERR_SHUTDOWN), ESHUTDOWN);
	assert_int_equal(uhoma_err_to_errno(UHOMA_ERR_ADDR_IN_USE), EADDRINUSE);
	assert_int_equal(uhoma_err_to_errno(UHOMA_ERR_NOT_CONNECTED), ENOTCONN);
	assert_int_equal(uhoma_err_to_errno(-9999), EIO);
}

static void test_version__matches_macros(void **state)
{
	char want[32];
	(void)state;
	snprintf(want, sizeof(want), "%d.%d.%d", UHOMA_VERSION_MAJOR,
		 UHOMA_VERSION_MINOR, UHOMA_VERSION_PATCH);
	assert_string_equal(uhoma_version(), want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(test_strerror__every_code_has_text),
		UH_TEST(test_strerror__unknown_code),
		UH_TEST(test_err_is_fatal__threshold),
		UH_TEST(test_err_to_errno__module_values),
		UH_TEST(test_version__matches_macros),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
