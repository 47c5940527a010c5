/*
 * signals.h - whether the process may catch an asynchronous signal.
 *
 * A thread waiting in uhoma_recv returns EINTR when a signal is handled,
 * as the module's wait does. Its waits in the carrier are bounded, so a
 * signal could fall between two of them, run its handler and be forgotten;
 * the thread therefore keeps its asynchronous signals blocked between its
 * waits (api/recv_signals.c), at two system calls per blocking receive. A
 * process that catches no asynchronous signal needs none of that: an
 * ignored signal interrupts nothing, one with its default action ends or
 * stops the process (a stopped wait is restarted, as the module's is).
 *
 * What the library knows, process-wide: UNKNOWN at the start, then NONE
 * or CAUGHT (sticky) from a survey of /proc/self/status (SigCgt, the
 * signals with a handler). The preload watches: it interposes every libc
 * call that installs a handler (sigaction, signal and their aliases) and
 * surveys before main, so its NONE holds until it sees a handler. A
 * program linked with the library is not watched: it is surveyed as a
 * stack starts and again every 100 ms (by the timer thread, off the
 * receive path) while it catches nothing, so a handler it installs later
 * counts within 100 ms (a signal in that time may still be lost between
 * two waits). A handler
 * installed by a raw rt_sigaction system call, bypassing libc, is seen
 * only by the surveys.
 *
 * Synchronous signals (a fault) are left out: a thread never blocks them
 * (usermem.h), and their handlers are the sanitizers' and debuggers'. So
 * are the C library's own (32 up to SIGRTMIN: cancellation, set*id), which
 * glibc and ThreadSanitizer catch and no program can block.
 */
#ifndef UHOMA_RUNTIME_SIGNALS_H
#define UHOMA_RUNTIME_SIGNALS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* Whether @sig is raised by the thread's own instruction (SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGTRAP, SIGSYS). */
bool uh_signal_synchronous(int sig);

/* Fills @set with every asynchronous signal. */
void uh_signals_async(sigset_t *set);

/* Whether a handler for @sig can interrupt a program's wait: not a
 * synchronous signal, nor one the C library keeps for itself (32 up to
 * SIGRTMIN: thread cancellation and set*id, whose handlers glibc -- and
 * ThreadSanitizer's runtime -- install, and which no program can block). */
bool uh_signal_interrupts(int sig);

/*
 * Handlers that ran on another thread. A waiting thread holds its signals
 * blocked between its waits, so a signal sent to the process meanwhile
 * goes to another thread of the program's that does not block it -- where
 * under the module, whose waiting thread never blocks, the kernel could
 * have chosen the waiter and its recvmsg would have returned EINTR (a
 * `while (!stop) recvmsg()` server with an idle helper thread outlived
 * SIGTERM, helper-22). The preload wraps the program's handlers
 * (preload/sigwatch.c) and reports each that returns, unless its signal
 * was sent to one thread by name (tgkill: raise, pthread_kill); a waiter
 * that held the signal blocked meanwhile returns EINTR
 * (api/recv_signals.c).
 */

/* A handler of the program's for @sig returned. Async-signal-safe. */
void uh_signals_handled(int sig);

/* How many have returned so far: a waiter's baseline. */
uint64_t uh_signals_handled_count(void);

/* Whether a handler for a signal not in @blocked returned since the
 * baseline @count. One load unless one has. */
bool uh_signals_handled_since(uint64_t count, const sigset_t *blocked);

/* A disposition @handler was installed for @sig (by an interposed libc
 * call that succeeded). Async-signal-safe. */
void uh_signals_installed(int sig, void (*handler)(int));

/* Reads which signals the process catches now; NONE unless it catches an
 * asynchronous one or a handler was installed already. Opens a file: not
 * in a signal handler. */
void uh_signals_survey(void);

/* The preload, before main: every handler will be reported through
 * uh_signals_installed; surveys once. */
void uh_signals_watch(void);

/* Unwatched, surveys again if the last survey is 100 ms old and nothing
 * was caught yet: the runtime's timer thread (or a manual-mode stack's
 * uhoma_poll) every 100 ms, and each stack at its start. Opens a file. */
void uh_signals_refresh(void);

/* Whether a thread waiting in uhoma_recv must block its signals between
 * waits: not NONE (UNKNOWN: yes). A load; never surveys. */
bool uh_signals_may_be_caught(void);

/*
 * pthread_cancel. A thread in the preload's recvmsg keeps cancellation
 * disabled (so that no cancellation point inside uhoma -- ppoll,
 * recvmmsg, a condition wait -- unwinds it with uhoma's state held), and
 * acts on a request where it holds nothing. glibc sends no signal to a
 * thread that disabled cancellation, so the preload's pthread_cancel
 * counts each request and wakes every waiter (preload/cancel.c); a waiter
 * that sees the count move leaves its wait to look (recv_signals.h).
 */

/* A pthread_cancel succeeded. */
void uh_signals_cancel_requested(void);

/* How many have: a waiter's baseline. */
uint64_t uh_signals_cancels(void);

#endif /* UHOMA_RUNTIME_SIGNALS_H */
