/*
 * signals.h - whether the process may catch an asynchronous signal.
 *
 * A thread waiting in uhoma_recv returns EINTR when a signal is handled,
 * as the module's wait does. Its waits in the carrier are bounded, so a
 * signal could fall between two of them, run its handler and be forgotten;
 * the thread therefore keeps its asynchronous signals blocked between its
 * waits (api.c), at two system calls per blocking receive. A process that
 * catches no asynchronous signal needs none of that: an ignored signal
 * interrupts nothing, one with its default action ends or stops the
 * process (a stopped wait is restarted, as the module's is).
 *
 * What the library knows, process-wide:
 *  - UNKNOWN (the start): a stack linked into a program cannot see its
 *    sigaction calls, so it blocks, always;
 *  - NONE: the preload, which interposes every libc call that installs a
 *    handler (sigaction, signal and their aliases), surveyed the process
 *    at load (/proc/self/status, SigCgt) and found no handler;
 *  - CAUGHT: a handler was found or installed since. Sticky.
 * A handler installed by a raw rt_sigaction system call, bypassing libc,
 * is not seen (uhoma_recv(3)).
 *
 * Synchronous signals (a fault) are left out: a thread never blocks them
 * (usermem.h), and their handlers are the sanitizers' and debuggers'.
 */
#ifndef UHOMA_RUNTIME_SIGNALS_H
#define UHOMA_RUNTIME_SIGNALS_H

#include <signal.h>
#include <stdbool.h>

/* Whether @sig is raised by the thread's own instruction (SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGTRAP, SIGSYS). */
bool uh_signal_synchronous(int sig);

/* Fills @set with every asynchronous signal. */
void uh_signals_async(sigset_t *set);

/* A disposition @handler was installed for @sig (by an interposed libc
 * call that succeeded). Async-signal-safe. */
void uh_signals_installed(int sig, void (*handler)(int));

/* Reads which signals the process catches now; NONE unless it catches an
 * asynchronous one or a handler was installed already. Once, before
 * main (the preload's constructor): it opens a file. */
void uh_signals_survey(void);

/* Whether a thread waiting in uhoma_recv must block its signals between
 * waits: not NONE. */
bool uh_signals_may_be_caught(void);

#endif /* UHOMA_RUNTIME_SIGNALS_H */
