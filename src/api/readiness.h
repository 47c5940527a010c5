/*
 * readiness.h - the descriptor an application polls for a socket.
 *
 * Each socket has one end of a UNIX stream pair (uhoma_fd): readable while
 * a message is ready or the socket is shut down (a byte written to the
 * other end), not writable while the send budget is spent (its minimal
 * send buffer filled). The core says when either may have changed (the
 * stack's upcalls, core/stack.h); this file keeps the descriptor in step
 * -- only once someone asked for it, so that applications that never poll
 * pay no system call per message.
 */
#ifndef UHOMA_API_READINESS_H
#define UHOMA_API_READINESS_H

#include <stdatomic.h>
#include <stdbool.h>

#include "sync/lock.h"

struct uhoma_sock;
struct uhoma_stack;

struct uh_readiness {
	int fd;                    /* immutable: the end the application
				    * polls */
	int peer;                  /* immutable: the other end; uhoma writes
				    * here to make fd readable */
	_Atomic bool used;         /* the descriptor was asked for: keep it
				    * in step (set once) */
	struct uh_lock tx_lock;    /* class readiness.tx (leaf, sleeps):
				    * tx_full, and the writes that fill fd /
				    * reads that drain peer (system calls) */
	_Atomic bool tx_full;      /* fd made unwritable: written under
				    * tx_lock, read as a hint */
};

/* A new pair: 0, UHOMA_ERR_NO_FILES or UHOMA_ERR_SYSTEM. */
int uh_readiness_create(struct uh_readiness **out);
void uh_readiness_destroy(struct uh_readiness *r);

/* The stack's upcalls (core/stack.h): @s's receive readiness / send
 * budget may have changed. */
void uh_readiness_rx(struct uhoma_sock *s);
void uh_readiness_tx(struct uhoma_sock *s);

/*
 * A non-blocking send was refused for want of budget: the descriptor must
 * not be writable now. If it is anyway, it is made unwritable again. (The
 * adversary of 2026-12-06 saw the filled descriptor turn writable with no
 * drain by uhoma in between, on a 6.18 kernel, and a program spin between
 * POLLOUT and EAGAIN; the cause is not found. This keeps the poll and the
 * send in agreement whatever it is, at the cost of one poll per refusal.)
 */
void uh_readiness_tx_refused(struct uhoma_sock *s);

/* @s's descriptor; with @keep, kept in step from now on (uhoma_fd), else
 * not yet (a caller that starts that when someone polls: the preload). */
int uh_readiness_fd(struct uhoma_sock *s, bool keep);

#endif /* UHOMA_API_READINESS_H */
