/*
 * waitset.h - what a socket carrier's receivers sleep on: its sockets and
 * a kick, waited on with ppoll while they are few and with an epoll set
 * once they are many.
 *
 * A socket in an epoll set keeps epoll's callback on its wait queue for as
 * long as it stays in the set, and every datagram queued to it (and every
 * send buffer it frees) then takes the queue's lock and runs the callback,
 * in the sending thread's system call, even when nobody sleeps: about
 * 0.7 us of a 10 us loopback round trip on this VM (bench/README.md).
 * Busy pollers read the sockets directly and need none of it. ppoll puts
 * its entries on the queues only for the length of one wait, so a carrier
 * with up to UH_WAITSET_POLL_MAX sockets costs its senders nothing while
 * its threads busy-poll. Beyond that, the sockets join the epoll set
 * (arming), whose wait does not grow with their number, and leave it again
 * once they are few (disarming, which kicks the epoll waiters so that they
 * come back through ppoll).
 *
 * Locking: @lock is a pthread mutex taken with no uhoma lock held and
 * never across a wait. A member added during a ppoll wait kicks the
 * waiters, so that the next wait includes it. A wait sleeps, so it never
 * runs inside an RCU read section (the validator checks): what it reports
 * for a member must be looked up again by the caller, not dereferenced.
 *
 * Removal: a ppoll wait holds a reference to every file it polls until it
 * returns, so a socket closed during one would stay bound until the wait
 * ended. uh_waitset_del therefore returns only once every ppoll wait that
 * could have included the fd has returned: waits join one of two phases,
 * a removal flips the phase and kicks until the old phase has drained
 * (SRCU's two counters, for one kind of reader). Removals are serialized
 * by @del_lock. A wait still counted after 500 ms of kicks is taken for
 * gone -- its thread jumped out of it (siglongjmp from a signal handler)
 * or was cancelled in it, and never counts down -- and the drain goes on
 * without it (every later close hung, helper-22); the phase's generation
 * moves, so that such a wait, should it return after all, counts nothing.
 */
#ifndef UHOMA_NET_WAITSET_H
#define UHOMA_NET_WAITSET_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct uh_waitset_member {
	int fd;
	void *ptr;                 /* what a wait reports for @fd */
};

struct uh_waitset {
	int epfd;                           /* immutable */
	int kickfd;                         /* immutable; always in @epfd */
	pthread_mutex_t lock;               /* members, arming, disarming: a
					     * pthread mutex for @drained's
					     * sake, outside the validator
					     * (docs/design.md §3.3) */
	struct uh_waitset_member *members;  /* @lock */
	unsigned n, cap;                    /* @lock */
	bool armed;                         /* @lock: members in @epfd */
	unsigned polling[2];                /* @lock: ppoll waits in progress,
					     * by the phase they joined */
	unsigned gen[2];                    /* @lock: bumped when a drain gives
					     * up on a phase's waits (one left
					     * by a longjmp or a cancel); a
					     * wait of an older generation does
					     * not count down on its return */
	unsigned phase;                     /* @lock: the phase a wait joins */
	pthread_cond_t drained;             /* with @lock: a phase emptied */
	pthread_mutex_t del_lock;           /* one removal at a time; taken
					     * before @lock */
};

/* Members up to which a wait uses ppoll (a UDP carrier's four directly
 * polled ports, two lanes each). */
#define UH_WAITSET_POLL_MAX 8

/* Creates the epoll set and its kick eventfd. Returns a uhoma code. */
int uh_waitset_init(struct uh_waitset *ws);

/* Closes the set (not its members' fds). No thread may be waiting. */
void uh_waitset_destroy(struct uh_waitset *ws);

/* Adds @fd, to be reported as @ptr (not NULL), arming the set when the
 * members become more than UH_WAITSET_POLL_MAX, and kicks the waiters.
 * Returns a uhoma code (NOMEM, SYSTEM). */
int uh_waitset_add(struct uh_waitset *ws, int fd, void *ptr);

/* Removes @fd (before the caller closes it), disarming the set when the
 * members become few again. Returns once no wait still polls @fd; it
 * sleeps (kicking the waiters) until then. */
void uh_waitset_del(struct uh_waitset *ws, int fd);

/*
 * Waits up to @timeout_ns (< 0: no limit; 0: a poll) for a member to
 * become readable. Writes up to @max ready members' pointers to @ready (a
 * member may appear more than once, and one removed meanwhile may appear)
 * and returns their count; 0 on timeout, kick or error. Not inside an RCU
 * read section unless @timeout_ns is 0.
 */
int uh_waitset_wait(struct uh_waitset *ws, void **ready, int max,
		    int64_t timeout_ns);

/* Whether this thread's last waits were interrupted by a signal since it
 * last asked; clears the mark. */
bool uh_waitset_take_interrupt(void);

/* The signal mask this thread's waits run with (ppoll / epoll_pwait2),
 * NULL: its own. A thread that keeps signals blocked outside its waits
 * gets each one as EINTR in the next wait, however it falls (api.c,
 * uhoma_recv). */
void uh_waitset_wait_sigmask(const sigset_t *mask);

/* Wakes the threads waiting in uh_waitset_wait (and the next one, if none
 * is). */
void uh_waitset_kick(struct uh_waitset *ws);

/* Whether the members are in the epoll set now (tests). */
bool uh_waitset_armed(struct uh_waitset *ws);

/* In a fork child: closes the waitset's own descriptors (no lock). */
void uh_waitset_forget(struct uh_waitset *ws);

#endif /* UHOMA_NET_WAITSET_H */
