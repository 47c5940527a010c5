/*
 * sndbuf.c - the send budget: back-pressure on uhoma_send.
 *
 * Without it nothing bounds what a client may start: under open-loop load
 * beyond what the two ends can process, requests pile up by the thousand,
 * each with its unscheduled bytes already on the wire and its response
 * already claiming receive-buffer pages. The server's socket queue and
 * the client's buffer region overflow, packets are dropped, and the
 * resends, BUSYs and NEED_ACKs for thousands of waiting RPCs take the CPU
 * that completing them needed (measured: W4 at 2 Gbit/s on loopback
 * collapsed to RTTs above a second). The Linux module bounds a socket's
 * outgoing packet memory by SO_SNDBUF and makes sendmsg wait; this is the
 * same rule in bytes of requests.
 *
 * A request's charge is returned when its response is complete (or the
 * RPC fails or ends): the budget bounds requests in flight, and with them
 * the responses being received -- the unscheduled bytes and buffer pages
 * they claim. A client blocked in uhoma_send is therefore released by the
 * receive thread, without calling uhoma_recv; only a buffer region full
 * of messages the application has not released can stop responses from
 * completing, and then uhoma_send fails with UHOMA_ERR_NO_BUFFER rather
 * than wait for a release that may never come. Responses are never
 * charged: their requests were already bounded by their clients.
 *
 * This file is the admission and the accounting; the wait of a sender
 * whose budget is spent is the api layer's (api/send_wait.c). Lost
 * wake-ups: a sender registers in tx_waiters before it re-reads tx_bytes;
 * a returner subtracts from tx_bytes before it reads tx_waiters (all
 * seq_cst). Either the sender sees the space or the returner sees the
 * sender and wakes it.
 */
#include "core/metrics.h"
#include "core/rpc.h"
#include "core/sock.h"
#include "core/stack.h"
#include "sync/lockdep.h"

/*
 * Responses wait for buffer pages: the region is full of messages the
 * application holds. Charges then come back only once it receives and
 * releases them, which a thread waiting here cannot do: waiting could be
 * forever (one thread sending many requests before receiving any), so the
 * sender is told instead.
 */
static bool region_full(struct uhoma_sock *s)
{
	bool full;

	uh_lock(&s->lock);
	full = uh_pheap_min(&s->waiting_bufs) != NULL;
	uh_unlock(&s->lock);
	return full;
}

bool uh_sock_tx_spent(struct uhoma_sock *s)
{
	uint32_t limit = atomic_load_explicit(&s->tx_limit,
					      memory_order_relaxed);

	return limit != 0 && atomic_load(&s->tx_bytes) >= limit;
}

/* The module's rule: a send is admitted while the budget is not spent,
 * whatever its size (so one message may overshoot it), and poll reports
 * the descriptor writable exactly then. */
bool uh_sock_tx_open(struct uhoma_sock *s)
{
	return !uh_sock_tx_spent(s);
}

/* Tells the layer above that @s's budget may have changed (spent or not):
 * its descriptor's writability follows. */
static void tx_changed(struct uhoma_sock *s)
{
	if (s->stack->up.tx_budget)
		s->stack->up.tx_budget(s);
}

int uh_sock_tx_try_charge(struct uhoma_sock *s, uint32_t len,
			  uint32_t *charged)
{
	uint64_t want = (uint64_t)len + UH_TX_OVERHEAD;

	*charged = 0;
	for (;;) {
		uint32_t limit = atomic_load_explicit(&s->tx_limit,
						      memory_order_relaxed);
		uint64_t cur = atomic_load(&s->tx_bytes);

		if (limit == 0 || cur < limit) {
			if (atomic_compare_exchange_weak(&s->tx_bytes, &cur,
							 cur + want))
				break;
			continue;
		}
		if (atomic_load(&s->shutdown))
			return UHOMA_ERR_SHUTDOWN;
		return region_full(s) ? UHOMA_ERR_NO_BUFFER : UHOMA_ERR_AGAIN;
	}
	*charged = (uint32_t)want;
	tx_changed(s);     /* may be spent now: no POLLOUT */
	return UHOMA_OK;
}

void uh_sock_tx_wait_begin(struct uhoma_sock *s)
{
	atomic_fetch_add(&s->tx_waiters, 1);
}

void uh_sock_tx_wait_end(struct uhoma_sock *s)
{
	atomic_fetch_sub(&s->tx_waiters, 1);
}

/* Subtracts @bytes; true if a sender may be waiting for them, or the
 * readiness descriptor may have to become writable again. */
static bool give_back(struct uhoma_sock *s, uint32_t bytes)
{
	atomic_fetch_sub(&s->tx_bytes, bytes);
	return atomic_load(&s->tx_waiters) != 0 ||
	       atomic_load(&s->tx_watch);
}

void uh_sock_tx_return(struct uhoma_sock *s, uint32_t bytes)
{
	if (bytes && give_back(s, bytes)) {
		uh_wait_wake_all(&s->tx_wait);
		tx_changed(s);
	}
}

void uh_rpc_tx_uncharge(struct uh_rpc *rpc, struct uh_deferred *p)
{
	uint32_t bytes = rpc->out.charged;

	uh_lock_assert_held(&rpc->bucket->lock);
	if (!bytes)
		return;
	rpc->out.charged = 0;
	if (give_back(rpc->sock, bytes))
		p->wake_tx = rpc->sock;
}

int uhoma_set_sndbuf(struct uhoma_sock *s, size_t bytes)
{
	if (!s || bytes > UINT32_MAX)
		return UHOMA_ERR_INVALID_ARGUMENT;
	atomic_store_explicit(&s->tx_limit, (uint32_t)bytes,
			      memory_order_relaxed);
	/* A larger budget may admit a waiting sender now. */
	if (atomic_load(&s->tx_waiters))
		uh_wait_wake_all(&s->tx_wait);
	tx_changed(s);
	return UHOMA_OK;
}

size_t uhoma_sndbuf(const struct uhoma_sock *s)
{
	return s ? atomic_load_explicit(&s->tx_limit, memory_order_relaxed)
		 : 0;
}
