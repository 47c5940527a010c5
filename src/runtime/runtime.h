/*
 * runtime.h - the threads that drive a stack's protocol core.
 *
 * Threads (docs/design.md §2):
 *  - cfg.rx_threads receive threads: each blocks in the carrier's recv()
 *    and feeds every packet to uh_stack_input();
 *  - one timer thread: uh_stack_tick() every cfg.tick_us, and the object
 *    caches' periodic maintenance;
 *  - one pacer thread when the stack paces (core/pacer.h): sends what the
 *    pacer held back, SCHED_FIFO if cfg.pacer_rt and permitted;
 *  - application threads waiting in uhoma_recv() busy-poll the carrier
 *    themselves (uh_runtime_poll) before sleeping.
 * With cfg.rx_threads = 0 there are no threads: uhoma_poll() or a virtual
 * memnet clock drives the stack, the pacer included.
 */
#ifndef UHOMA_RUNTIME_RUNTIME_H
#define UHOMA_RUNTIME_RUNTIME_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct uhoma_stack;

/* Once per process, before a stack takes any process-wide lock: the
 * fork(2) handlers (runtime/fork.h). */
void uh_runtime_process_init(void);

/* Whether a thread waiting for a message should busy-poll at @now_ns:
 * always with cfg.poll_always, else only while the host has a CPU to spare
 * (runtime/cpuidle.h). */
bool uh_runtime_spin_pays(const struct uhoma_stack *st, uint64_t now_ns);

/* Starts the threads @st's config asks for. 0 or a uhoma error. */
int uh_runtime_start(struct uhoma_stack *st);

/* Stops and joins them. */
void uh_runtime_stop(struct uhoma_stack *st);

/* Receives one batch (waiting up to @timeout_ns, as carrier recv) and
 * processes it in the calling thread. Returns the number of packets. */
unsigned uh_runtime_poll(struct uhoma_stack *st, int64_t timeout_ns);

/*
 * An application thread starts / stops busy-polling @st. While any thread
 * polls, the receive threads park on a futex instead of waiting in the
 * carrier: otherwise every packet would wake a receive thread to race the
 * poller for it (a context switch per packet on a shared CPU). A poller
 * that stops to sleep (@to_sleep) wakes them at once; one that returns a
 * message to its application leaves them parked for cfg.poll_us more, as
 * it usually comes back sooner. Should it not, packets wait for a receive
 * thread at most max(cfg.poll_us, one tick).
 */
void uh_runtime_poll_begin(struct uhoma_stack *st);
void uh_runtime_poll_end(struct uhoma_stack *st, bool to_sleep);

/* An application thread returns from receiving without having polled (the
 * message was ready): it too will likely be back within cfg.poll_us, so
 * the receive threads keep standing aside until then. Otherwise a receive
 * thread that once got in first would stay the receiver, the application
 * taking ready messages without ever polling. */
void uh_runtime_grace(struct uhoma_stack *st);
/* When the current grace ends (uh_now_ns; 0: none) (tests). */
uint64_t uh_runtime_grace_ns(struct uhoma_stack *st);

/* Whether a carrier wait of this thread was interrupted by a signal since
 * it last asked (the blocking receiver's EINTR); clears the mark. */
bool uh_runtime_take_interrupt(void);

/* The signal mask this thread's carrier waits run with (NULL: its own);
 * see uh_waitset_wait_sigmask. */
void uh_runtime_wait_sigmask(const sigset_t *mask);

/*
 * The blocking receiver. An application thread about to sleep in
 * uhoma_recv may instead wait in the carrier itself, as the one blocking
 * receiver of @st (uh_runtime_block_begin: true if it now is; it must be
 * polling, see above, so that the receive threads stay parked). A packet
 * then wakes the thread that wants it directly -- one wake-up instead of
 * two (the receive thread, then the application), which on a VM whose idle
 * vCPU takes tens of microseconds to wake is most of a round trip.
 * A thread that makes a message ready (or shuts a socket down) calls
 * uh_runtime_kick_receiver after bumping the socket's wait count, so that
 * a blocking receiver waiting for that socket notices; a receiver checks
 * the count after block_begin (both seq_cst: one sees the other).
 */
bool uh_runtime_block_begin(struct uhoma_stack *st);
void uh_runtime_block_end(struct uhoma_stack *st);
void uh_runtime_kick_receiver(struct uhoma_stack *st);

/* True if no runtime threads drive @st. */
bool uh_runtime_manual(const struct uhoma_stack *st);

/* True if @st moves only with a virtual memnet clock. */
bool uh_runtime_virtual(const struct uhoma_stack *st);

#endif /* UHOMA_RUNTIME_RUNTIME_H */
