/*
 * landing.c - DATA received straight into the buffer region (carrier.h).
 *
 * A 64 KB datagram read into a staging buffer and then copied into the
 * region costs a second pass over every byte, on the receiving core that
 * bulk transfer is bound by. Landing reads it once: the carrier peeks at
 * the header, the core accounts the packet as handle_data does and names
 * the region range, the carrier reads the datagram there, and the core
 * finishes what handle_data finishes after its copy. The RPC is unlocked
 * in between, exactly as around handle_data's copy: its copy count holds
 * the message back from the application, its reference keeps it and its
 * pages.
 */
#include <string.h>

#include "core/carrier.h"
#include "core/incoming.h"
#include "core/gaps.h"
#include "core/metrics.h"
#include "core/peer.h"
#include "core/pool.h"
#include "core/rpc.h"
#include "core/sock.h"
#include "core/stack.h"
#include "sync/rcu.h"

/* The RPC that DATA @h from @src is for, locked with a reference, if it
 * is ready to take data in place: incoming, its buffers allocated. */
static struct uh_rpc *landing_rpc(struct uhoma_sock *s,
				  const struct uh_hdr *h,
				  const struct uh_addr *src)
{
	bool mismatch;
	struct uh_rpc *rpc = uh_in_find_rpc(s, h, src, &mismatch);

	if (!rpc)
		return NULL;
	if (rpc->state != UH_RPC_INCOMING || !rpc->in.has_bufs ||
	    rpc->handed_off) {
		uh_rpc_release(rpc);
		return NULL;       /* uh_stack_input knows what to do */
	}
	return rpc;
}

static void add(struct uh_landing *l, void *base, size_t len)
{
	struct iovec *last = l->niov ? &l->iov[l->niov - 1] : NULL;

	if (len && last && (uint8_t *)last->iov_base + last->iov_len == base) {
		last->iov_len += len;          /* one piece of the sink */
	} else if (len) {
		l->iov[l->niov].iov_base = base;
		l->iov[l->niov].iov_len = len;
		l->niov++;
	}
}

/* @l's vector for a datagram of @h's header and payload, whose message
 * ranges @runs go to @rpc's region, the rest (header, bytes received
 * already) to @sink. */
static void build(struct uh_landing *l, const struct uh_rpc *rpc,
		  const struct uh_hdr *h, const struct uh_runs *runs,
		  uint8_t *sink)
{
	uint8_t *region = uh_pool_region(&rpc->sock->pool);
	uint32_t off = h->u.data.offset, end = off + h->u.data.payload_len;
	uint32_t at = off;             /* the payload placed so far */

	l->niov = 0;
	add(l, sink, UH_HDR_DATA);
	for (unsigned i = 0; i < runs->n; i++) {
		uint32_t start = runs->start[i], n = runs->len[i];

		/* Bytes before the run: the sink. */
		add(l, sink + UH_HDR_DATA + (at - off), start - at);
		while (n) {
			uint32_t in_page = UH_BPAGE_SIZE -
					   (start & (UH_BPAGE_SIZE - 1));
			uint32_t k = n < in_page ? n : in_page;

			add(l, region +
				       rpc->in.bpage_offsets[start >>
							     UH_BPAGE_SHIFT] +
				       (start & (UH_BPAGE_SIZE - 1)),
			    k);
			start += k;
			n -= k;
		}
		at = start;
	}
	/* Bytes after the last run: the sink again. */
	add(l, sink + UH_HDR_DATA + (at - off), end - at);
}

enum uh_land uh_stack_land_begin(struct uhoma_stack *st, const uint8_t *hdr,
				 size_t peeked, size_t total,
				 const struct uh_addr *src, uint8_t *sink,
				 size_t sink_cap, struct uh_landing *l)
{
	struct uh_deferred p;
	struct uhoma_sock *s;
	struct uh_rpc *rpc;
	struct uh_hdr h;
	struct uh_runs runs;
	enum uh_land r = UH_LAND_NO;

	/* A DATA header is all the decoder reads of a DATA packet; the
	 * payload's length is what the datagram has beyond it. */
	if (peeked < UH_HDR_DATA || total > sink_cap ||
	    hdr[UH_WIRE_TYPE_OFFSET] != UH_PKT_DATA ||
	    uh_wire_decode(hdr, total, &h) != UH_DROP_NONE || h.dport == 0)
		return UH_LAND_NO;
	uh_gaps_prepare();
	uh_deferred_init(&p);
	uh_rcu_read_lock();
	s = uh_sock_find(st, h.dport);
	if (!s || atomic_load_explicit(&s->shutdown, memory_order_relaxed))
		goto out;
	rpc = landing_rpc(s, &h, src);
	if (!rpc)
		goto out;
	uh_in_count(st, UH_PKT_DATA, total);
	uh_peer_heard(rpc->peer,
		      atomic_load_explicit(&st->ticks, memory_order_relaxed));
	if (uh_in_data_accept(rpc, &h, src, &p, &runs)) {
		build(l, rpc, &h, &runs, sink);
		l->rpc = rpc;
		uh_rpc_unlock(rpc);      /* the reference stays, as in
					  * handle_data's copy */
		r = UH_LAND_PLACE;
	} else {
		uh_rpc_release(rpc);
		r = UH_LAND_DISCARD;     /* dropped and counted */
	}
out:
	uh_deferred_flush(st, &p);
	uh_rcu_read_unlock();
	return r;
}

void uh_stack_land_end(struct uhoma_stack *st, struct uh_landing *l, bool ok)
{
	struct uh_rpc *rpc = l->rpc;
	struct uh_deferred p;

	uh_deferred_init(&p);
	uh_rpc_lock(rpc);
	if (ok) {
		uh_metric_inc(st->metrics, UH_M_DATA_LANDED);
		uh_in_data_placed(rpc, &p);
	} else {
		/* Bytes counted as received are not the message's: it must
		 * never reach the application. */
		rpc->in.copies--;
		uh_stack_drop(st, UH_DROP_MISMATCH);
		if (uh_rpc_is_client(rpc))
			uh_rpc_fail(rpc, UHOMA_ERR_SYSTEM, &p);
		else
			uh_rpc_end(rpc, &p);   /* unrun: it may come again */
	}
	uh_rpc_release(rpc);
	l->rpc = NULL;
	uh_deferred_flush(st, &p);
}
