/*
 * grant.c - the per-message grant window.
 */
#include "core/grant.h"
#include "core/outgoing.h"
#include "core/stack.h"

void uh_grant_send(struct uh_rpc *rpc, struct uh_pending *p)
{
	struct uh_hdr h;

	uh_out_ctl_init(&h, rpc, UH_PKT_GRANT);
	h.u.grant.offset = rpc->in.granted;
	h.u.grant.priority = 0;   /* lowest scheduled level (§4.2) */
	uh_pending_ctl(p, &h, rpc->sock->port, &rpc->peer->addr, rpc->dport);
}

void uh_grant_done(struct uh_rpc *rpc)
{
	if (rpc->in.managed) {
		atomic_fetch_sub(&rpc->sock->stack->granting, 1);
		rpc->in.managed = false;
	}
}

void uh_grant_check(struct uh_rpc *rpc, struct uh_pending *p)
{
	struct uhoma_stack *st = rpc->sock->stack;
	struct uh_msgin *in = &rpc->in;
	uint32_t length, received, window, want;

	if (in->length <= 0)
		return;
	length = (uint32_t)in->length;
	if (in->granted >= length || in->bytes_remaining == 0) {
		uh_grant_done(rpc);
		return;
	}
	if (!in->managed) {
		in->managed = true;
		atomic_fetch_add(&st->granting, 1);
	}
	window = st->cfg.window;
	if (window == 0)
		window = st->cfg.max_incoming /
			 (atomic_load_explicit(&st->granting,
					       memory_order_relaxed) + 1);
	if (window < st->max_payload)
		window = st->max_payload;
	received = length - in->bytes_remaining;
	want = received + window;
	if (want > length)
		want = length;
	/* One GRANT per packet's worth of progress, not per byte. */
	if (want >= in->granted + st->max_payload ||
	    (want == length && want > in->granted)) {
		in->granted = want;
		uh_grant_send(rpc, p);
	}
}
