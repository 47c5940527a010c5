/*
 * test_signals.c - what the library knows of the process's signal
 * handlers (runtime/signals.c): watched (the preload) and unwatched. The
 * state is process-wide and sticky, so each case runs in a child of its
 * own.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "runtime/signals.h"

static void on_sig(int sig)
{
	(void)sig;
}

/* Runs @body in a child; returns what it returned (-1 if it died). */
static int in_child(int (*body)(void))
{
	int st;
	pid_t pid = fork();

	if (pid == 0)
		_exit(body());
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static int install(int sig, void (*h)(int))
{
	struct sigaction sa = { 0 };

	sa.sa_handler = h;
	return sigaction(sig, &sa, NULL);
}

/* cmocka and the sanitizers may catch signals of their own: start every
 * case from none caught. */
static void reset_all(void)
{
	for (int s = 1; s < 65; s++)
		if (s != SIGKILL && s != SIGSTOP)
			(void)install(s, SIG_DFL);
}

/* A program linked with the library (unwatched): unknown (so, yes) until
 * surveyed, then surveyed again 100 ms later while it catches nothing. */
static int unwatched_resurveys(void)
{
	reset_all();
	if (!uh_signals_may_be_caught())
		return 1;
	uh_signals_refresh();
	if (uh_signals_may_be_caught())
		return 2;
	(void)install(SIGUSR1, on_sig);   /* unseen: not through the preload */
	uh_signals_refresh();
	if (uh_signals_may_be_caught())
		return 3;                  /* the last survey holds for 100 ms */
	usleep(120 * 1000);
	uh_signals_refresh();
	return uh_signals_may_be_caught() ? 0 : 4;
}

static int none_caught(void)
{
	reset_all();
	(void)install(SIGUSR1, SIG_IGN);      /* ignored: interrupts nothing */
	(void)install(SIGSEGV, on_sig);       /* synchronous: left out */
	uh_signals_watch();
	return uh_signals_may_be_caught() ? 1 : 0;
}

static int caught_before_survey(void)
{
	reset_all();
	(void)install(SIGRTMIN + 3, on_sig);
	uh_signals_watch();
	return uh_signals_may_be_caught() ? 0 : 1;
}

static int installed_after_survey(void)
{
	reset_all();
	uh_signals_watch();
	if (uh_signals_may_be_caught())
		return 1;
	uh_signals_installed(SIGPIPE, SIG_IGN);
	uh_signals_installed(SIGBUS, on_sig);
	uh_signals_installed(SIGTERM, SIG_DFL);
	if (uh_signals_may_be_caught())
		return 2;
	uh_signals_installed(SIGALRM, on_sig);
	if (!uh_signals_may_be_caught())
		return 3;
	uh_signals_survey();               /* sticky: a survey keeps it */
	return uh_signals_may_be_caught() ? 0 : 4;
}

static void signals__unwatched_program_is_surveyed_again(void **state)
{
	(void)state;
	assert_int_equal(in_child(unwatched_resurveys), 0);
}

static void signals__ignored_and_synchronous_count_as_none(void **state)
{
	(void)state;
	assert_int_equal(in_child(none_caught), 0);
}

static void signals__survey_sees_a_handler(void **state)
{
	(void)state;
	assert_int_equal(in_child(caught_before_survey), 0);
}

static void signals__handler_installed_later_counts(void **state)
{
	(void)state;
	assert_int_equal(in_child(installed_after_survey), 0);
}

/* A waiter's view of handlers that returned on other threads: only
 * signals that interrupt a wait count, only since its baseline, and not
 * those the waiter's own mask blocks. */
static void signals__handled_elsewhere_since_a_baseline(void **state)
{
	sigset_t none, usr1;
	uint64_t base = uh_signals_handled_count(), later;

	(void)state;
	sigemptyset(&none);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	assert_false(uh_signals_handled_since(base, &none));
	uh_signals_handled(SIGSEGV);       /* synchronous */
	uh_signals_handled(SIGRTMIN - 1);  /* the C library's */
	uh_signals_handled(0);
	uh_signals_handled(65);
	assert_int_equal(uh_signals_handled_count(), base);
	uh_signals_handled(SIGUSR1);
	assert_true(uh_signals_handled_since(base, &none));
	assert_false(uh_signals_handled_since(base, &usr1));
	later = uh_signals_handled_count();
	assert_int_equal(later, base + 1);
	assert_false(uh_signals_handled_since(later, &none));
	uh_signals_handled(SIGTERM);
	assert_true(uh_signals_handled_since(later, &usr1));
	assert_true(uh_signals_handled_since(base, &usr1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(signals__unwatched_program_is_surveyed_again),
		UH_TEST(signals__ignored_and_synchronous_count_as_none),
		UH_TEST(signals__survey_sees_a_handler),
		UH_TEST(signals__handler_installed_later_counts),
		UH_TEST(signals__handled_elsewhere_since_a_baseline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
