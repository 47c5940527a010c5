/*
 * testutil.h - what every uhoma test shares.
 *
 * Every test runs with the validator on (test builds define UHOMA_LOCKDEP)
 * and ends in uh_test_teardown(), which fails the test if the calling thread
 * still holds a lock or is inside an RCU read-side section, or if the
 * validator reported anything that the test did not expect.
 *
 * Tests that commit a violation on purpose wrap it in uh_expect_report():
 * the hook records the report instead of aborting, and the test asserts on
 * the kind and the text.
 */
#ifndef UHOMA_TESTS_TESTUTIL_H
#define UHOMA_TESTS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sync/lockdep.h"

/* Starts capturing validator reports (instead of aborting). */
void uh_capture_start(void);
/* Stops capturing; returns how many reports arrived meanwhile. */
int uh_capture_stop(void);
/* The kind and text of the last captured report (0 / "" if none). */
int uh_capture_kind(void);
const char *uh_capture_text(void);

/* cmocka setup/teardown: resets the validator; checks no lock/RCU leaks. */
int uh_test_setup(void **state);
int uh_test_teardown(void **state);

/* Deterministic pseudo-random numbers for tests (xorshift64*). */
uint64_t uh_test_rand(uint64_t *state);

/* Seconds a stress test may run: UHOMA_STRESS_SECONDS or @dflt. */
double uh_stress_seconds(double dflt);

/* Sleeps @ns. A test's own sleep: unlike uh_sleep_ns, which is uhoma's
 * code and so checked by the validator (src/sync/lockdep_wrap.c), it may
 * be taken with a lock or a read section held on purpose -- to make
 * contention, or a long reader. */
void uh_test_sleep_ns(uint64_t ns);

#define UH_TEST(f) cmocka_unit_test_setup_teardown(f, uh_test_setup, uh_test_teardown)

#endif /* UHOMA_TESTS_TESTUTIL_H */
