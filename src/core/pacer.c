/*
 * pacer.c - the transmit backlog estimate and the throttled set (pacer.h).
 */
#include "core/outgoing.h"
#include "core/pacer.h"
#include "core/rpc.h"
#include "core/stack.h"

static UH_LOCK_CLASS(throttle_class, "throttle", UH_RANK_THROTTLE, UH_LC_LEAF);

/* The SRPT heap's order: fewest bytes left to send when queued, then the
 * older (births are unique). */
static bool shorter(const struct uh_pheap_node *a, const struct uh_pheap_node *b)
{
	const struct uh_rpc *x = uh_container_of_const(a, struct uh_rpc,
						       throttle_srpt);
	const struct uh_rpc *y = uh_container_of_const(b, struct uh_rpc,
						       throttle_srpt);

	return x->throttle_key < y->throttle_key ||
	       (x->throttle_key == y->throttle_key &&
		x->throttle_birth < y->throttle_birth);
}

/* The age heap's order: throttled first, first out (births are unique). */
static bool older(const struct uh_pheap_node *a, const struct uh_pheap_node *b)
{
	const struct uh_rpc *x = uh_container_of_const(a, struct uh_rpc,
						       throttle_age);
	const struct uh_rpc *y = uh_container_of_const(b, struct uh_rpc,
						       throttle_age);

	return x->throttle_birth < y->throttle_birth;
}

static void txq_init(struct uh_txq *q)
{
	uh_pheap_init(&q->srpt, shorter);
	uh_pheap_init(&q->age, older);
	atomic_init(&q->num, 0);
	q->fifo_count = 1000;
}

void uh_pacer_init(struct uhoma_stack *st, uint32_t link_mbps,
		   uint64_t (*now)(void))
{
	struct uh_pacer *pc = &st->pacer;
	uint64_t pkt_ns;

	atomic_init(&pc->link_idle_ns, 0);
	/* 8e6 ps per megabit... : 8 bits per byte at link_mbps, 1% margin
	 * (the module inflates its rate the same way). */
	pc->ps_per_byte = link_mbps ? 8000000ull * 101 / 100 / link_mbps : 0;
	pc->wire_overhead = 8 + 40 + 42;   /* UDP, IPv6, Ethernet framing */
	pc->max_backlog_ns = (uint64_t)st->cfg.max_nic_backlog_us * 1000;
	/* The backlog must hold at least two full packets, or with large
	 * packets (loopback's 64 KiB) nobody but the pacer could ever send. */
	pkt_ns = (uint64_t)((st->carrier->link_mtu ? st->carrier->link_mtu
						   : st->max_payload) +
			    pc->wire_overhead) *
		 pc->ps_per_byte / 1000;
	if (pc->max_backlog_ns < 2 * pkt_ns)
		pc->max_backlog_ns = 2 * pkt_ns;
	pc->now = now;
	uh_pi_lock_init(&pc->lock, &throttle_class, true);
	txq_init(&pc->throttled);
	txq_init(&pc->deferred);
	atomic_init(&pc->births, 1);
	uh_wait_init(&pc->wait);
}

bool uh_pacer_admit(struct uhoma_stack *st, uint32_t wire_bytes, bool force)
{
	struct uh_pacer *pc = &st->pacer;
	uint64_t now, idle, next;

	if (!pc->ps_per_byte)
		return true;
	now = pc->now();
	idle = atomic_load_explicit(&pc->link_idle_ns, memory_order_relaxed);
	do {
		if (!force && idle > now + pc->max_backlog_ns)
			return false;
		next = (idle > now ? idle : now) +
		       (wire_bytes + pc->wire_overhead) * pc->ps_per_byte / 1000;
	} while (!atomic_compare_exchange_weak_explicit(
		&pc->link_idle_ns, &idle, next, memory_order_relaxed,
		memory_order_relaxed));
	return true;
}

uint64_t uh_pacer_delay_ns(struct uhoma_stack *st)
{
	struct uh_pacer *pc = &st->pacer;
	uint64_t now = pc->now();
	uint64_t idle = atomic_load_explicit(&pc->link_idle_ns,
					     memory_order_relaxed);

	return idle > now + pc->max_backlog_ns
		       ? idle - now - pc->max_backlog_ns : 0;
}

/* Throttle lock held. */
static void unlink_rpc(struct uh_rpc *rpc)
{
	struct uh_txq *q = rpc->throttle_q;

	uh_pheap_remove(&q->srpt, &rpc->throttle_srpt);
	uh_pheap_remove(&q->age, &rpc->throttle_age);
	rpc->throttle_q = NULL;
	atomic_fetch_sub_explicit(&q->num, 1, memory_order_relaxed);
}

/* Adds @rpc (locked) to @q; false if it was in a set already. */
static bool enqueue(struct uh_rpc *rpc, struct uh_txq *q)
{
	struct uh_pacer *pc = &rpc->sock->stack->pacer;
	uint32_t key = rpc->out.length - rpc->out.next_xmit;
	bool added = false;

	rpc->out.throttled = true;
	uh_pi_lock(&pc->lock);
	if (!rpc->throttle_q) {
		if (!rpc->throttle_birth)
			rpc->throttle_birth = atomic_fetch_add_explicit(
				&pc->births, 1, memory_order_relaxed);
		rpc->throttle_key = key;
		uh_pheap_insert(&q->srpt, &rpc->throttle_srpt);
		uh_pheap_insert(&q->age, &rpc->throttle_age);
		rpc->throttle_q = q;
		uh_rpc_hold(rpc);               /* the set's reference */
		atomic_fetch_add_explicit(&q->num, 1, memory_order_relaxed);
		added = true;
	}
	uh_pi_unlock(&pc->lock);
	return added;
}

void uh_pacer_throttle(struct uh_rpc *rpc)
{
	struct uhoma_stack *st = rpc->sock->stack;

	if (enqueue(rpc, &st->pacer.throttled)) {
		uh_metric_inc(st->metrics, UH_M_THROTTLE_ADDS);
		uh_wait_wake_one(&st->pacer.wait);
	}
}

void uh_pacer_defer(struct uh_rpc *rpc)
{
	struct uhoma_stack *st = rpc->sock->stack;

	if (enqueue(rpc, &st->pacer.deferred))
		uh_metric_inc(st->metrics, UH_M_TX_DEFERRALS);
}

void uh_pacer_remove(struct uh_rpc *rpc)
{
	struct uh_pacer *pc = &rpc->sock->stack->pacer;
	bool was = false;

	if (!rpc->out.throttled)
		return;
	uh_pi_lock(&pc->lock);
	if (rpc->throttle_q) {
		unlink_rpc(rpc);
		was = true;
	}
	uh_pi_unlock(&pc->lock);
	rpc->out.throttled = false;
	if (was)
		uh_rpc_put(rpc);   /* the caller still holds its own */
}

/* Removes and returns @q's next message (see uh_pacer_pop). */
static struct uh_rpc *pop(struct uhoma_stack *st, struct uh_txq *q)
{
	struct uh_pacer *pc = &st->pacer;
	struct uh_rpc *best = NULL;

	if (!atomic_load_explicit(&q->num, memory_order_relaxed))
		return NULL;
	uh_pi_lock(&pc->lock);
	q->fifo_count -= (int)st->cfg.pacer_fifo_fraction;
	if (q->fifo_count <= 0 && st->cfg.pacer_fifo_fraction) {
		/* The FIFO share: the oldest message, the age heap's root. */
		struct uh_pheap_node *oldest = uh_pheap_min(&q->age);

		q->fifo_count += 1000;
		if (oldest) {
			best = uh_container_of(oldest, struct uh_rpc,
					       throttle_age);
			uh_metric_add(st->metrics, UH_M_PACER_FIFO_SENDS, 1);
		}
	}
	if (!best && uh_pheap_min(&q->srpt))
		best = uh_container_of(uh_pheap_min(&q->srpt), struct uh_rpc,
				       throttle_srpt);
	if (best)
		unlink_rpc(best);
	uh_pi_unlock(&pc->lock);
	return best;
}

struct uh_rpc *uh_pacer_pop(struct uhoma_stack *st)
{
	return pop(st, &st->pacer.throttled);
}

/* Sends popped @rpc (the set's reference, which this drops): @budget
 * bytes as xmit() counts them, the first packet regardless of the backlog
 * if @paced; @metric counts the send. */
static void send_popped(struct uhoma_stack *st, struct uh_rpc *rpc,
			unsigned metric, bool paced, uint32_t budget)
{
	uh_rpc_lock(rpc);
	rpc->out.throttled = false;
	if (rpc->state != UH_RPC_DEAD) {
		uh_metric_inc(st->metrics, metric);
		if (paced)
			uh_out_xmit_paced(rpc);
		else
			uh_out_xmit_some(rpc, budget);
	}
	uh_rpc_release(rpc);
}

uint64_t uh_pacer_run(struct uhoma_stack *st)
{
	for (unsigned rounds = 0; rounds < 64; rounds++) {
		struct uh_rpc *rpc;
		uint64_t delay = uh_pacer_delay_ns(st);

		if (!uh_pacer_throttled(st))
			return 0;
		if (delay)
			return delay;
		rpc = uh_pacer_pop(st);
		if (!rpc)
			return 0;
		send_popped(st, rpc, UH_M_PACER_SENDS, true, UINT32_MAX);
	}
	return uh_pacer_throttled(st) ? 1 : 0;
}

/* Pops a deferred message and sends @budget bytes of it (see xmit). */
static bool send_deferred(struct uhoma_stack *st, uint32_t budget)
{
	struct uh_rpc *rpc = pop(st, &st->pacer.deferred);

	if (!rpc)
		return false;
	send_popped(st, rpc, UH_M_DEFERRED_SENDS, false, budget);
	return true;
}

bool uh_pacer_send_slice(struct uhoma_stack *st)
{
	return send_deferred(st, UH_TX_SLICE);
}

void uh_pacer_flush_deferred(struct uhoma_stack *st)
{
	/* Bounded: a message that other threads keep deferring meanwhile
	 * is left for them. */
	for (unsigned n = uh_pacer_deferred(st); n > 0; n--)
		if (!send_deferred(st, UINT32_MAX))
			break;
}

uint32_t uh_pacer_throttled(struct uhoma_stack *st)
{
	return atomic_load_explicit(&st->pacer.throttled.num,
				    memory_order_relaxed);
}

uint32_t uh_pacer_deferred(struct uhoma_stack *st)
{
	return atomic_load_explicit(&st->pacer.deferred.num,
				    memory_order_relaxed);
}
