/*
 * prio.c - unscheduled cutoffs and the priorities of each packet kind.
 */
#include <string.h>

#include "core/peer.h"
#include "core/prio.h"
#include "core/stack.h"
#include "sync/seqlock.h"

/* The module's receiver defaults, for 8 levels: <=200 B at 7, <=2800 at
 * 6, <=15000 at 5, everything else at 4; 0..3 are for scheduled bytes. */
#define UNSCHED_CLASSES 4
static const uint32_t default_classes[UNSCHED_CLASSES] = {
	1000000, 15000, 2800, 200,
};

/*
 * With fewer levels the classes keep their order and scheduled bytes keep
 * the lowest level: k = min(4, n - 1) levels n-k..n-1 take the classes
 * 0..k-1 (the shortest classes merge into the top one), 0..n-k-1 carry
 * scheduled bytes. The module keeps the 8-level cutoffs and, with 4
 * levels or fewer, sends every unscheduled byte at 0 and grants at up to
 * n - 1: scheduled data above short messages, in the urgent lane.
 */
void uh_prio_init(struct uhoma_stack *st)
{
	unsigned n = st->cfg.num_priorities;
	unsigned k = n - 1 < UNSCHED_CLASSES ? n - 1 : UNSCHED_CLASSES;

	memset(st->cutoffs.cutoff, 0, sizeof(st->cutoffs.cutoff));
	for (unsigned j = 0; j < k; j++)
		st->cutoffs.cutoff[n - k + j] = default_classes[j];
	/* As homa_prios_changed: [0] catches everything, and is INT_MAX
	 * on the wire, as the module writes it (any length is below). */
	st->cutoffs.cutoff[0] = INT32_MAX;
	st->cutoffs.version = 1;
}

uint8_t uh_prio_max_sched(const struct uhoma_stack *st)
{
	unsigned n = st->cfg.num_priorities;

	/* Just below the lowest level that carries unscheduled bytes; 0 if
	 * only level 0 does (one level: everything shares it). */
	for (unsigned i = 1; i < n; i++)
		if (st->cutoffs.cutoff[i] != 0)
			return (uint8_t)(i - 1);
	return 0;
}

uint8_t uh_prio_urgent(const struct uhoma_stack *st)
{
	unsigned n = st->cfg.num_priorities, next = uh_prio_max_sched(st) + 2u;

	/* Above the level of the longest messages' unscheduled bytes. */
	if (n < 2)
		return 0;
	return (uint8_t)(next < n ? next : n - 1);
}

uint8_t uh_prio_ctl(const struct uhoma_stack *st)
{
	return (uint8_t)(st->cfg.num_priorities - 1);
}

void uh_prio_peer_default(struct uh_cutoffs *c)
{
	/* No CUTOFFS yet: everything unscheduled at 6, as the module does. */
	memset(c, 0, sizeof(*c));
	c->cutoff[6] = UINT32_MAX;
	c->version = 0;
}

uint8_t uh_prio_unsched(const struct uhoma_stack *st, struct uh_peer *peer,
			uint32_t length, uint16_t *version)
{
	struct uh_cutoffs c;
	unsigned n = st->cfg.num_priorities;

	uh_seqlock_read(&peer->cut_lock, peer->cut, &c, sizeof(c));
	*version = c.version;
	for (unsigned i = UH_MAX_PRIORITIES; i-- > 0;)
		if (c.cutoff[i] >= length)
			return (uint8_t)(i < n ? i : n - 1);
	return 0;
}

void uh_prio_store(struct uh_peer *peer, const struct uh_hdr *h)
{
	struct uh_cutoffs c;

	memcpy(c.cutoff, h->u.cutoffs.cutoffs, sizeof(c.cutoff));
	c.cutoff[0] = UINT32_MAX;   /* every length has some priority */
	c.version = h->u.cutoffs.version;
	uh_seqlock_write(&peer->cut_lock, peer->cut, &c, sizeof(c));
}

void uh_prio_check_version(struct uhoma_stack *st, const struct uh_hdr *h,
			   const struct uh_addr *src, struct uh_deferred *p)
{
	struct uh_peer *peer;
	uint64_t now, last;
	struct uh_hdr r;

	if (h->u.data.cutoff_version == st->cutoffs.version)
		return;
	peer = uh_peer_find(&st->peers, src);
	if (!peer)
		return;
	now = atomic_load_explicit(&st->ticks, memory_order_relaxed) + 1;
	last = atomic_load_explicit(&peer->cutoffs_sent, memory_order_relaxed);
	if (last == now ||
	    !atomic_compare_exchange_strong(&peer->cutoffs_sent, &last, now))
		return;
	memset(&r, 0, sizeof(r));
	r.type = UH_PKT_CUTOFFS;
	r.sport = h->dport;
	r.dport = h->sport;
	r.sender_id = h->sender_id ^ 1;
	memcpy(r.u.cutoffs.cutoffs, st->cutoffs.cutoff,
	       sizeof(r.u.cutoffs.cutoffs));
	r.u.cutoffs.version = st->cutoffs.version;
	uh_deferred_ctl(p, &r, h->dport, src, h->sport);
	uh_metric_inc(st->metrics, UH_M_CUTOFFS_SENT);
}
