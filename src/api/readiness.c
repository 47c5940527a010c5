/*
 * readiness.c - keeping a socket's pollable descriptor in step with its
 * ready list and its send budget (readiness.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/readiness.h"
#include "core/sock.h"
#include "net/ownfd.h"
#include "uhoma/uhoma.h"

static UH_LOCK_CLASS(tx_class, "readiness.tx", UH_RANK_LEAF,
		     UH_LC_LEAF | UH_LC_SLEEPS);

int uh_readiness_create(struct uh_readiness **out)
{
	struct uh_readiness *r = calloc(1, sizeof(*r));
	int sv[2], small = 1;

	if (!r)
		return UHOMA_ERR_NOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv) != 0) {
		int rc = errno == EMFILE || errno == ENFILE
			 ? UHOMA_ERR_NO_FILES : UHOMA_ERR_SYSTEM;

		free(r);
		return rc;
	}
	/* The smallest send buffer: a few writes fill it. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	r->fd = uh_fd_own(sv[0]);
	r->peer = uh_fd_own(sv[1]);
	atomic_init(&r->used, false);
	atomic_init(&r->tx_full, false);
	uh_lock_init(&r->tx_lock, &tx_class);
	*out = r;
	return UHOMA_OK;
}

void uh_readiness_destroy(struct uh_readiness *r)
{
	if (!r)
		return;
	uh_fd_close(r->fd);
	uh_fd_close(r->peer);
	free(r);
}

static bool sock_readable(struct uhoma_sock *s)
{
	bool ready;

	uh_lock(&s->lock);
	ready = !uh_list_empty(&s->ready) || atomic_load(&s->shutdown);
	uh_unlock(&s->lock);
	return ready;
}

/* Makes the descriptor readable: a byte from its other end (a failed
 * write means plenty are queued already). */
static void signal_fd(struct uh_readiness *r)
{
	(void)!write(r->peer, "r", 1);
}

/* Drains what signal_fd queued (all of it: signals may have piled up). */
static void drain(int fd)
{
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

void uh_readiness_rx(struct uhoma_sock *s)
{
	struct uh_readiness *r = s->readiness;

	/* Two system calls per message saved for applications that never
	 * poll the descriptor. */
	if (!r || !atomic_load_explicit(&r->used, memory_order_acquire))
		return;
	/* Each change to the descriptor is followed by a look, until one
	 * agrees with it. A deliverer's write that landed after a taker's
	 * drain (the message taken between the deliverer's look and its
	 * write) left the descriptor readable with nothing ready, until the
	 * next message: poll said POLLIN and recvmsg EAGAIN (helper-24, 12-19
	 * of 100 requests taken by a spinning MSG_DONTWAIT receive). And an
	 * RPC made ready between a drainer's look and its drain must leave
	 * the descriptor readable. */
	for (;;) {
		if (sock_readable(s)) {
			signal_fd(r);
			if (sock_readable(s))
				return;
		} else {
			drain(r->fd);
			if (!sock_readable(s))
				return;
		}
	}
}

/*
 * tx_lock held: makes the descriptor's writability what the budget says,
 * looking again after each change. A returner that gave back bytes while
 * we filled either sees tx_watch and comes here after us, or gave them
 * back before our next look (all seq_cst).
 */
static void settle_tx(struct uhoma_sock *s, struct uh_readiness *r)
{
	static const char junk[256];

	for (;;) {
		bool spent = uh_sock_tx_spent(s);

		if (spent == atomic_load(&r->tx_full))
			break;
		if (spent) {
			/* Fill the descriptor's tiny send buffer: poll
			 * then reports it not writable. */
			atomic_store(&s->tx_watch, true);
			while (write(r->fd, junk, sizeof(junk)) > 0)
				;
			atomic_store(&r->tx_full, true);
		} else {
			/* Said before the drain: a sender that spends the
			 * budget meanwhile then sees a descriptor not marked
			 * full and settles it under this lock after us. Said
			 * after, its unlocked look found "full" and "spent"
			 * agreeing, and the descriptor polled writable with
			 * the budget spent until this loop came round again
			 * (helper-39: for milliseconds, on a busy host). */
			atomic_store(&r->tx_full, false);
			drain(r->peer);
			atomic_store(&s->tx_watch, false);
		}
	}
}

void uh_readiness_tx(struct uhoma_sock *s)
{
	struct uh_readiness *r = s->readiness;

	if (!r || !atomic_load_explicit(&r->used, memory_order_acquire) ||
	    uh_sock_tx_spent(s) == atomic_load(&r->tx_full))
		return;    /* nobody polls it, or it says the truth already */
	uh_lock(&r->tx_lock);
	settle_tx(s, r);
	uh_unlock(&r->tx_lock);
}

void uh_readiness_tx_refused(struct uhoma_sock *s)
{
	struct uh_readiness *r = s->readiness;
	struct pollfd pf = { .events = POLLOUT };

	if (!r || !atomic_load_explicit(&r->used, memory_order_acquire))
		return;
	uh_lock(&r->tx_lock);
	/* tx_full says what we made the descriptor; believe the kernel
	 * instead, and settle from there. */
	pf.fd = r->fd;
	if (atomic_load(&r->tx_full) && poll(&pf, 1, 0) == 1 &&
	    (pf.revents & POLLOUT))
		atomic_store(&r->tx_full, false);
	settle_tx(s, r);
	uh_unlock(&r->tx_lock);
}

int uh_readiness_fd(struct uhoma_sock *s, bool keep)
{
	struct uh_readiness *r = s->readiness;

	if (keep && !atomic_exchange(&r->used, true)) {
		uh_readiness_rx(s);
		uh_readiness_tx(s);
	}
	return r->fd;
}
