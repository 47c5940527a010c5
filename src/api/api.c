/*
 * api.c - the public socket and RPC calls (include/uhoma/uhoma.h), above
 * the core and the runtime: the waits of uhoma_recv live here.
 *
 * Every call validates its arguments, does anything that can block
 * (allocating, copying the caller's message) before taking a lock, and
 * returns with no lock held (checked by the validator in test builds).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "api/api.h"
#include "api/recv_signals.h"
#include "api/readiness.h"
#include "api/usermem.h"
#include "core/calls.h"
#include "core/grant.h"
#include "core/outgoing.h"
#include "core/peer.h"
#include "core/pool.h"
#include "core/stack.h"
#include "runtime/runtime.h"
#include "runtime/signals.h"
#include "sync/rcu.h"
#include "util/clock.h"

/* Every public call returns through here: the validator checks that the
 * caller gets its thread back holding no lock (lockdep.h). */
#define RETURN_TO_APP(rc) do { \
	uh_lockdep_return_to_app(__func__, UH_HERE); \
	return (rc); \
} while (0)

int uhoma_socket(struct uhoma_stack *st, uint16_t port,
		 struct uhoma_sock **out)
{
	int rc;

	struct uh_readiness *r;

	if (!st || !out || port >= 0x8000)
		RETURN_TO_APP(UHOMA_ERR_INVALID_ARGUMENT);
	rc = uh_readiness_create(&r);
	if (rc)
		RETURN_TO_APP(rc);
	rc = uh_sock_open(st, port, r, out);
	if (rc)
		uh_readiness_destroy(r);
	RETURN_TO_APP(rc);
}

uint16_t uhoma_port(const struct uhoma_sock *s)
{
	return s ? s->port : 0;
}

int uhoma_fd(const struct uhoma_sock *s)
{
	int fd;

	if (!s)
		return -1;
	/* The descriptor is kept in step with the ready list only from the
	 * first call on; the socket is internally mutable here. */
	fd = uh_readiness_fd((struct uhoma_sock *)(uintptr_t)s, true);
	uh_lockdep_return_to_app(__func__, UH_HERE);
	return fd;
}

int uhoma_set_server(struct uhoma_sock *s, int on)
{
	int rc = UHOMA_OK;

	if (!s)
		RETURN_TO_APP(UHOMA_ERR_INVALID_ARGUMENT);
	uh_lock(&s->lock);
	if (atomic_load(&s->shutdown))
		rc = UHOMA_ERR_SHUTDOWN;
	else
		atomic_store(&s->is_server, on != 0);
	uh_unlock(&s->lock);
	RETURN_TO_APP(rc);
}

int uhoma_bind(struct uhoma_sock *s, uint16_t port)
{
	if (!s || port == 0 || port >= 0x8000)
		RETURN_TO_APP(UHOMA_ERR_INVALID_ARGUMENT);
	RETURN_TO_APP(uh_sock_bind(s, port));
}

int uhoma_is_server(const struct uhoma_sock *s)
{
	return s && atomic_load(&s->is_server);
}

uint64_t uhoma_buffers_free(struct uhoma_sock *s)
{
	return s ? uh_pool_free_bytes(&s->pool) : 0;
}

/* One RPC's row of uhoma_rpc_info. RPC lock held: fills @i only. */
static void rpc_info_fill(const struct uh_rpc *rpc, struct uhoma_rpc_info *i)
{
	uint32_t len;

	memset(i, 0, sizeof(*i));
	i->id = rpc->id;
	i->cookie = uh_rpc_is_client(rpc) ? rpc->cookie : 0;
	uh_addr_to_sockaddr(&rpc->peer->addr, rpc->dport, &i->peer, &len);
	i->peer_len = len;
	/* Messages have at least one byte: length 0 means none yet. */
	i->tx_length = rpc->out.length ? (int32_t)rpc->out.length : -1;
	i->tx_sent = rpc->out.next_xmit;
	i->tx_granted = rpc->out.granted;
	i->tx_prio = rpc->out.sched_prio;
	i->rx_length = rpc->in.length;
	i->rx_remaining = rpc->in.length < 0 ? 0 : rpc->in.bytes_remaining;
	i->rx_gaps = rpc->in.num_gaps;
	for (unsigned g = 0; g < rpc->in.num_gaps; g++)
		i->rx_gap_bytes += rpc->in.gaps[g].end - rpc->in.gaps[g].start;
	i->rx_granted = rpc->in.granted;
	i->flags = (rpc->in.waiting_bufs ? UHOMA_RPC_BUF_STALL : 0) |
		   (rpc->is_private ? UHOMA_RPC_PRIVATE : 0) |
		   (rpc->handed_off && !rpc->in.given ? UHOMA_RPC_RX_READY : 0) |
		   (rpc->in.copies ? UHOMA_RPC_RX_COPY : 0);
}

int uhoma_rpc_info(struct uhoma_sock *s, struct uhoma_rpc_info *out,
		   size_t max)
{
	struct uh_rpc_walk w;
	struct uh_rpc *rpc;
	size_t n = 0;

	if (!s || (max && !out))
		RETURN_TO_APP(UHOMA_ERR_INVALID_ARGUMENT);
	if (!uh_rpc_walk_begin(&w, s))
		RETURN_TO_APP(UHOMA_ERR_SHUTDOWN);
	while ((rpc = uh_rpc_walk_next(&w))) {
		struct uhoma_rpc_info row;
		bool live;

		uh_rpc_lock(rpc);
		live = rpc->state != UH_RPC_DEAD;
		if (live && n < max)
			rpc_info_fill(rpc, &row);
		uh_rpc_unlock(rpc);
		/* The caller's memory is written with no lock held. */
		if (live && n < max)
			out[n] = row;
		n += live;
	}
	uh_rpc_walk_end(&w);
	RETURN_TO_APP(n > INT32_MAX ? INT32_MAX : (int)n);
}

int uhoma_set_buffers(struct uhoma_sock *s, void *region, size_t length)
{
	int rc;

	if (!s)
		RETURN_TO_APP(UHOMA_ERR_INVALID_ARGUMENT);
	if (atomic_load(&s->shutdown))
		RETURN_TO_APP(UHOMA_ERR_SHUTDOWN);
	/* The receive path writes the region with no lock to catch a fault:
	 * one it cannot write would crash the process later, at the first
	 * message. */
	if (uh_pool_region_ok(region, length) &&
	    uh_user_mapped_writable(region, length))
		RETURN_TO_APP(UHOMA_ERR_BAD_ADDRESS);
	rc = uh_pool_setup(&s->pool, region, length);
	if (rc == UHOMA_OK)
		uh_sock_check_bufs(s);    /* requests that arrived before */
	RETURN_TO_APP(rc);
}

/* The total length of @iov[0..@n), or SIZE_MAX if a part without a base
 * has bytes or the sum would pass UHOMA_MAX_MESSAGE + 1. */
static size_t iov_length(const struct iovec *iov, size_t n)
{
	size_t len = 0;

	for (size_t i = 0; i < n; i++) {
		if (!iov[i].iov_base && iov[i].iov_len)
			return SIZE_MAX;
		if (iov[i].iov_len > UHOMA_MAX_MESSAGE + 1 - len)
			return UHOMA_MAX_MESSAGE + 1;
		len += iov[i].iov_len;
	}
	return len;
}

/*
 * Gathers @n parts at @iov (@len bytes) into @dst. With @checked, a part
 * the process cannot read fails with UHOMA_ERR_BAD_ADDRESS instead of
 * crashing it (api/usermem.h). A copy never passes @len, whatever the
 * parts say by now.
 */
static int gather(uint8_t *dst, const struct iovec *iov, size_t n, size_t len,
		  bool checked)
{
	size_t off = 0;

	if (checked)
		return uh_user_gather(dst, len, iov, n);
	for (size_t i = 0; i < n && off < len; i++) {
		size_t part = iov[i].iov_len < len - off ? iov[i].iov_len
							 : len - off;

		if (part)
			memcpy(dst + off, iov[i].iov_base, part);
		off += part;
	}
	return UHOMA_OK;
}

/*
 * What the sends and replies share: checks the peer address (@sa, @sa_len
 * -> *@addr, *@port) and the socket, charges a request (@charged
 * non-NULL) to the send budget, then gathers the caller's message (@n
 * parts at @iov, *@len bytes in all) into *@copy, its one copy (no lock
 * held: may block) -- or, with UHOMA_ZEROCOPY in @flags, points *@copy at
 * the caller's one part.
 */
static int prepare_message(struct uhoma_sock *s, const struct sockaddr *sa,
			   size_t sa_len, const struct iovec *iov, size_t n,
			   size_t *len, struct uh_addr *addr, uint16_t *port,
			   uint8_t **copy, unsigned flags, uint32_t *charged,
			   bool checked)
{
	int rc = uh_addr_from_sockaddr(sa, sa_len, addr, port);

	if (rc)
		return rc;
	if ((!iov && n) || n > UHOMA_MAX_IOV)
		return UHOMA_ERR_INVALID_ARGUMENT;
	*len = iov_length(iov, n);
	if (*len == SIZE_MAX && checked)
		return UHOMA_ERR_BAD_ADDRESS;   /* a part with no base */
	/* A reply's port may be 0: the module finds the RPC by address
	 * and id (uh_rpc_find_reply). */
	if ((charged && *port == 0) || *len == 0 || *len == SIZE_MAX)
		return UHOMA_ERR_INVALID_ARGUMENT;
	if (!uh_call_family_ok(s->stack, addr))
		return UHOMA_ERR_AF_NOT_SUPPORTED;
	if (*len > UHOMA_MAX_MESSAGE)
		return UHOMA_ERR_MSG_TOO_LONG;
	if (atomic_load(&s->shutdown))
		return UHOMA_ERR_SHUTDOWN;
	if (charged) {
		rc = uh_api_tx_charge(s, (uint32_t)*len,
				      flags & UHOMA_NONBLOCK, charged);
		if (rc)
			return rc;
	}
	uh_sock_reap_some(s);
	if (flags & UHOMA_ZEROCOPY) {
		*copy = iov[0].iov_base;   /* borrowed: sent from there */
		return UHOMA_OK;
	}
	*copy = uh_rpc_msgbuf_alloc(*len);
	if (!*copy) {
		if (charged)
			uh_sock_tx_return(s, *charged);
		return UHOMA_ERR_NOMEM;
	}
	rc = gather(*copy, iov, n, *len, checked);
	if (rc) {
		uh_rpc_msgbuf_free(*copy, *len);
		if (charged)
			uh_sock_tx_return(s, *charged);
	}
	return rc;
}

static int sendv(struct uhoma_sock *s, const struct sockaddr *dest,
		 size_t dest_len, const struct iovec *iov, size_t iovcnt,
		 uint64_t cookie, unsigned flags, uint64_t *id, bool checked)
{
	struct uh_addr addr;
	uint16_t port;
	uint32_t charged;
	uint8_t *copy;
	size_t len;
	int rc;

	if (!s || !id ||
	    (flags & ~(UHOMA_PRIVATE | UHOMA_NONBLOCK | UHOMA_ZEROCOPY)) ||
	    ((flags & UHOMA_ZEROCOPY) && (checked || iovcnt != 1)))
		return UHOMA_ERR_INVALID_ARGUMENT;
	rc = prepare_message(s, dest, dest_len, iov, iovcnt, &len, &addr,
			     &port, &copy, flags, &charged, checked);
	if (rc)
		return rc;
	return uh_call_send(s, &addr, port, copy, (uint32_t)len, cookie,
			    flags & (UHOMA_PRIVATE | UHOMA_ZEROCOPY), charged,
			    id);
}

int uhoma_sendv(struct uhoma_sock *s, const struct sockaddr *dest,
		size_t dest_len, const struct iovec *iov, size_t iovcnt,
		uint64_t cookie, unsigned flags, uint64_t *id)
{
	RETURN_TO_APP(sendv(s, dest, dest_len, iov, iovcnt, cookie, flags,
			    id, false));
}

int uh_api_sendv_checked(struct uhoma_sock *s, const struct sockaddr *dest,
			 size_t dest_len, const struct iovec *iov,
			 size_t iovcnt, uint64_t cookie, unsigned flags,
			 uint64_t *id)
{
	RETURN_TO_APP(sendv(s, dest, dest_len, iov, iovcnt, cookie, flags,
			    id, true));
}

int uhoma_send(struct uhoma_sock *s, const struct sockaddr *dest,
	       size_t dest_len, const void *buf, size_t len, uint64_t cookie,
	       unsigned flags, uint64_t *id)
{
	struct iovec iov = { (void *)(uintptr_t)buf, len };

	if (!buf)
		RETURN_TO_APP(UHOMA_ERR_INVALID_ARGUMENT);
	return uhoma_sendv(s, dest, dest_len, &iov, 1, cookie, flags, id);
}

static int replyv(struct uhoma_sock *s, const struct sockaddr *client,
		  size_t client_len, uint64_t id, const struct iovec *iov,
		  size_t iovcnt, bool checked)
{
	struct uh_addr addr;
	uint16_t port;
	uint8_t *copy;
	size_t len;
	int rc;

	if (!s || !(id & 1))
		return UHOMA_ERR_INVALID_ARGUMENT;
	rc = prepare_message(s, client, client_len, iov, iovcnt, &len, &addr,
			     &port, &copy, 0, NULL, checked);
	if (rc)
		return rc;
	return uh_call_reply(s, &addr, port, id, copy, (uint32_t)len);
}

int uhoma_replyv(struct uhoma_sock *s, const struct sockaddr *client,
		 size_t client_len, uint64_t id, const struct iovec *iov,
		 size_t iovcnt)
{
	RETURN_TO_APP(replyv(s, client, client_len, id, iov, iovcnt, false));
}

int uh_api_replyv_checked(struct uhoma_sock *s,
			  const struct sockaddr *client, size_t client_len,
			  uint64_t id, const struct iovec *iov, size_t iovcnt)
{
	RETURN_TO_APP(replyv(s, client, client_len, id, iov, iovcnt, true));
}

int uhoma_reply(struct uhoma_sock *s, const struct sockaddr *client,
		size_t client_len, uint64_t id, const void *buf, size_t len)
{
	struct iovec iov = { (void *)(uintptr_t)buf, len };

	if (!buf)
		RETURN_TO_APP(UHOMA_ERR_INVALID_ARGUMENT);
	return uhoma_replyv(s, client, client_len, id, &iov, 1);
}

/* The longest single wait of a blocking receiver in the carrier (it then
 * looks at its socket and the clock again). */
#define BLOCK_MAX_NS (50 * 1000 * 1000ll)

/* The longest single sleep on the socket's futex. Any bound will do: a
 * futex wait with none is restarted after a handler installed with
 * SA_RESTART (signal() installs them so), and the signal was lost; with
 * one, the kernel returns EINTR, as the module's wait does. */
#define SLEEP_MAX_NS 1000000000ull

/* How long a busy poll trusts its check of the caller's pages. */
#define USER_RECHECK_NS 1000000ull

/* A receive that ends with EINTR after a poll that kept a message from
 * the socket's sleepers (@kept, uh_sock_taker_end) hands it on to one. */
static int interrupted(struct uhoma_sock *s, bool kept)
{
	if (kept)
		uh_wait_wake_one(&s->wait);
	return UHOMA_ERR_INTERRUPTED;
}

/* uhoma_recv's loop; *@polling tells whether it left a busy-poll open. */
static int recv_loop(struct uhoma_sock *s, struct uhoma_msg *msg,
		     unsigned flags, int64_t timeout_ns, bool *polling,
		     struct uh_recv_signals *sig)
{
	struct uhoma_stack *st;
	uint64_t want, start, poll_end, now, checked;
	struct uh_wait *wq;
	int64_t remaining;
	unsigned got;
	bool kept;
	int rc = 0;

	if (!s || !msg || (flags & ~UHOMA_NONBLOCK))
		return (UHOMA_ERR_INVALID_ARGUMENT);
	want = msg->id;
	if (want & 1)
		return (UHOMA_ERR_INVALID_ARGUMENT);
	msg->id = 0;
	st = s->stack;
	/* A private RPC's receiver sleeps apart: only its RPC's end wakes
	 * it, not every message's. */
	wq = want ? uh_sock_private_wait(s, want) : &s->wait;
	if (!uh_pool_region(&s->pool))   /* shut down says so first */
		return atomic_load(&s->shutdown) ? UHOMA_ERR_SHUTDOWN
						 : UHOMA_ERR_NO_BUFFER;
	uh_sock_reap_some(s);
	(void)uh_runtime_take_interrupt();   /* another call's, if any */
	start = checked = uh_now_ns();
	poll_end = start + (uint64_t)st->cfg.poll_us * 1000;
	for (;;) {
		uint32_t ticket = uh_wait_prepare(wq);

		if (uh_call_take(s, want, msg, &rc))
			return (rc);
		if (atomic_load(&s->shutdown))
			return (UHOMA_ERR_SHUTDOWN);
		if (flags & UHOMA_NONBLOCK) {
			uh_sock_reap(s, false);
			return (UHOMA_ERR_AGAIN);
		}
		now = uh_now_ns();
		if (timeout_ns >= 0 && now - start >= (uint64_t)timeout_ns)
			return (UHOMA_ERR_AGAIN);
		/* It will wait: a signal from here on is its EINTR. */
		uh_recv_signals_block(sig);
		if (uh_recv_signals_pending(sig, false)) {
			uh_recv_signals_restore(sig);  /* its handler runs here */
			return UHOMA_ERR_INTERRUPTED;
		}
		if (uh_runtime_manual(st)) {
			if (uh_runtime_virtual(st))
				return (UHOMA_ERR_AGAIN);
			uhoma_poll(st, 1000000);
			continue;
		}
		if (now < poll_end && uh_runtime_spin_pays(st, now)) {
			/* Busy-poll: receive packets in this thread (the
			 * receive threads stand aside meanwhile) -- while
			 * no other thread waits for a CPU (cpuidle.h). */
			if (!*polling) {
				uh_runtime_poll_begin(st);
				*polling = true;
			}
			/* Between receives, a slice of the granted data that
			 * polling deferred (outgoing.h): a message for this
			 * thread then waits for one slice, not for a burst.
			 * Packets keep the poll going: sleeping now would
			 * hand them to a receive thread that competes with
			 * this one for the CPU. */
			uh_pacer_send_slice(st);
			uh_out_defer(true);
			/* A message it completes is its own to take: no
			 * sleeping receiver is woken for it (sock.h). */
			uh_sock_taker_begin(want ? NULL : s);
			got = uh_runtime_poll(st, 0);
			kept = uh_sock_taker_end();
			uh_out_defer(false);
			/* A long poll is a wait too: the caller's pages are
			 * checked again after each millisecond of it (a
			 * program made its arguments read-only during a
			 * 500 ms poll: the delivery crashed it). */
			if (now - checked > USER_RECHECK_NS) {
				uh_user_begin();
				checked = now;
			}
			/* (A poll of many ports is a ppoll with the
			 * thread's mask: a handler may have run in it.) */
			if (uh_runtime_take_interrupt())
				return interrupted(s, kept);
			if (got)
				poll_end = uh_now_ns() +
					   (uint64_t)st->cfg.poll_us * 1000;
			continue;
		}
		remaining = timeout_ns < 0 ? INT64_MAX
					   : timeout_ns - (int64_t)(now - start);
		if (remaining > 0 && uh_runtime_block_begin(st)) {
			/* Wait in the carrier: the packet that completes
			 * our message wakes this thread, not a receive
			 * thread that would then wake it. */
			if (!*polling) {
				uh_runtime_poll_begin(st);
				*polling = true;
			}
			uh_pacer_flush_deferred(st);
			uh_sock_reap(s, false);
			uh_recv_signals_test_raise("UHOMA_TEST_SIGNAL_GAP");
			(void)uh_runtime_take_interrupt();
			uh_user_begin();   /* the caller's pages: check again */
			if (uh_recv_signals_pending(sig, false)) {
				uh_runtime_block_end(st);
				return UHOMA_ERR_INTERRUPTED;
			}
			uh_sock_taker_begin(want ? NULL : s);
			if (uh_wait_prepare(wq) == ticket)
				uh_runtime_poll(st, remaining > BLOCK_MAX_NS
						? BLOCK_MAX_NS : remaining);
			kept = uh_sock_taker_end();
			uh_runtime_block_end(st);
			/* A signal: EINTR, as the module's wait gives, and
			 * as the wait on the socket below does. */
			if (uh_runtime_take_interrupt())
				return interrupted(s, kept);
			uh_recv_signals_rebase(sig);
			continue;
		}
		if (*polling) {
			uh_runtime_poll_end(st, true);
			*polling = false;
		}
		uh_pacer_flush_deferred(st);
		uh_sock_reap(s, false);
		uh_user_begin();           /* the caller's pages: check again */
		/* The futex wait takes no mask: open it just before, taking
		 * a signal that came meanwhile as EINTR, and close it just
		 * after. */
		if (uh_recv_signals_pending(sig, true)) {
			uh_recv_signals_restore(sig);
			return UHOMA_ERR_INTERRUPTED;
		}
		uh_recv_signals_restore(sig);
		rc = uh_wait_sleep(wq, ticket,
				   timeout_ns < 0 ||
				   (uint64_t)timeout_ns - (now - start) >
				   SLEEP_MAX_NS ? SLEEP_MAX_NS
				   : (uint64_t)timeout_ns - (now - start));
		if (rc == UHOMA_ERR_INTERRUPTED)
			return (rc);
		uh_recv_signals_block(sig);
	}
}

int uh_api_recv(struct uhoma_sock *s, struct uhoma_msg *msg, unsigned flags,
		int64_t timeout_ns, struct uh_recv_signals *sig)
{
	bool polling = false;
	int rc;

	uh_recv_signals_test_raise("UHOMA_TEST_SIGNAL_ENTRY");
	rc = recv_loop(s, msg, flags, timeout_ns, &polling, sig);

	uh_recv_signals_restore(sig);
	/* A thread that takes a message is back for the next within
	 * microseconds, and the receive threads leave it the packets for a
	 * grace (uh_runtime_grace). A call told AGAIN at once, having
	 * polled nothing, leaves the grace as it is: each such call pushed
	 * it on, and a program spinning on MSG_DONTWAIT kept the sockets
	 * unread until a tick's nudge (helper-43: every response 1-2 ms
	 * late). Nor does it end it: a look for what is ready between
	 * sends, before a blocking receive, is no reason to wake a receive
	 * thread that would then race the caller (the native 100 B RTT
	 * rose from 13 to 35 us). */
	if (polling)
		uh_runtime_poll_end(s->stack, false);
	else if (s && rc != UHOMA_ERR_AGAIN)
		uh_runtime_grace(s->stack);
	RETURN_TO_APP(rc);    /* the preload's return too */
}

void uh_api_wake_waiters(struct uhoma_sock *s)
{
	uh_sock_wake_receivers(s);
	uh_wait_wake_all(&s->tx_wait);
	uh_runtime_kick_receiver(s->stack);   /* the one in the carrier */
}

int uhoma_recv(struct uhoma_sock *s, struct uhoma_msg *msg, unsigned flags,
	       int64_t timeout_ns)
{
	struct uh_recv_signals sig = UH_RECV_SIGNALS_INIT(uh_signals_cancels());

	RETURN_TO_APP(uh_api_recv(s, msg, flags, timeout_ns, &sig));
}

int uhoma_release(struct uhoma_sock *s, const uint32_t *offsets, unsigned n)
{
	int rc;

	if (!s || (n && !offsets))
		RETURN_TO_APP(UHOMA_ERR_INVALID_ARGUMENT);
	rc = uh_pool_release(&s->pool, offsets, n);
	if (rc == UHOMA_OK && n)
		uh_sock_check_bufs(s);
	RETURN_TO_APP(rc);
}

int uhoma_msg_release(struct uhoma_sock *s, struct uhoma_msg *msg)
{
	int rc;

	if (!msg || msg->num_bpages > UHOMA_MAX_BPAGES)
		return UHOMA_ERR_INVALID_ARGUMENT;
	rc = uhoma_release(s, msg->bpage_offsets, msg->num_bpages);
	if (rc == UHOMA_OK)
		msg->num_bpages = 0;
	return rc;
}

size_t uhoma_msg_copy(const struct uhoma_sock *s, const struct uhoma_msg *msg,
		      size_t offset, void *dst, size_t len)
{
	uint8_t *region, *out = dst;
	size_t done = 0;

	if (!s || !msg || !dst || offset >= msg->length)
		return 0;
	region = uh_pool_region((struct uh_pool *)(uintptr_t)&s->pool);
	if (len > msg->length - offset)
		len = msg->length - offset;
	while (done < len) {
		size_t o = offset + done, page = o >> UH_BPAGE_SHIFT;
		size_t in_page = UH_BPAGE_SIZE - (o & (UH_BPAGE_SIZE - 1));
		size_t n = len - done < in_page ? len - done : in_page;

		if (page >= msg->num_bpages)
			break;
		memcpy(out + done, region + msg->bpage_offsets[page] +
					   (o & (UH_BPAGE_SIZE - 1)), n);
		done += n;
	}
	return done;
}

int uhoma_abort(struct uhoma_sock *s, uint64_t id, int error)
{
	if (!s || error > 0 || (id & 1))
		RETURN_TO_APP(UHOMA_ERR_INVALID_ARGUMENT);
	RETURN_TO_APP(uh_call_abort(s, id, error));
}

int uhoma_shutdown(struct uhoma_sock *s)
{
	if (!s)
		RETURN_TO_APP(UHOMA_ERR_INVALID_ARGUMENT);
	uh_sock_shutdown(s);
	RETURN_TO_APP(UHOMA_OK);
}

void uh_api_close(struct uhoma_sock *s)
{
	struct uh_readiness *r = s->readiness;

	uh_sock_close_start(s);
	while (!uh_sock_reap_final(s))
		uh_sleep_ns(100000);  /* a reference still held: wait */
	uh_sock_free(s);
	uh_readiness_destroy(r);
}

void uhoma_close(struct uhoma_sock *s)
{
	if (!s)
		return;
	uh_api_close(s);
	uh_lockdep_return_to_app("uhoma_close", UH_HERE);
}
