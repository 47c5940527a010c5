/*
 * api.h - what the api layer's files share (the public calls themselves
 * are in include/uhoma/uhoma.h).
 *
 * The api layer sits above the core and the runtime: it assembles stacks
 * (stack.c), keeps sockets' pollable descriptors (readiness.c), and does
 * every wait an application call may make -- for a message (api.c), for
 * send budget (send_wait.c), for a closing socket's last references.
 */
#ifndef UHOMA_API_API_H
#define UHOMA_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uhoma_sock;

/* Closes @s (no checks, no validator hook): uhoma_close's work, also
 * used by uhoma_stack_destroy for the sockets left open. */
void uh_api_close(struct uhoma_sock *s);

/*
 * Charges a request of @len bytes to @s's send budget (core/sock.h),
 * waiting while it is spent -- or failing with UHOMA_ERR_AGAIN if
 * @nonblock, UHOMA_ERR_NO_BUFFER if the budget can only come back once the
 * application releases buffers, UHOMA_ERR_SHUTDOWN, or
 * UHOMA_ERR_INTERRUPTED. Sets *@charged. No lock held.
 */
int uh_api_tx_charge(struct uhoma_sock *s, uint32_t len, bool nonblock,
		     uint32_t *charged);

/*
 * uhoma_sendv and uhoma_replyv for the preload library: a part the
 * process cannot read fails with UHOMA_ERR_BAD_ADDRESS (EFAULT) as the
 * module's copy from user memory does, instead of crashing the program
 * (api/usermem.h). @iov itself must be the caller's own copy: its
 * lengths are read twice.
 */
struct iovec;
struct sockaddr;
int uh_api_sendv_checked(struct uhoma_sock *s, const struct sockaddr *dest,
			 size_t dest_len, const struct iovec *iov,
			 size_t iovcnt, uint64_t cookie, unsigned flags,
			 uint64_t *id);
int uh_api_replyv_checked(struct uhoma_sock *s,
			  const struct sockaddr *client, size_t client_len,
			  uint64_t id, const struct iovec *iov, size_t iovcnt);

/*
 * uhoma_recv for the preload library, with the signal state of a recvmsg
 * that blocked the thread's signals at its entry (recv_signals.h); gives
 * the thread its mask back before returning.
 */
struct uhoma_msg;
struct uh_recv_signals;
int uh_api_recv(struct uhoma_sock *s, struct uhoma_msg *msg, unsigned flags,
		int64_t timeout_ns, struct uh_recv_signals *sig);

/* Wakes every thread waiting on @s, for a message or for send budget, to
 * look at its state again (the preload's pthread_cancel). */
void uh_api_wake_waiters(struct uhoma_sock *s);

#endif /* UHOMA_API_API_H */
