/*
 * stack.c - a stack's core state, made and freed (what assembles it --
 * carrier, counters, threads -- is the api layer's: api/stack.c); the
 * transmit funnel.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/stack.h"
#include "core/unsched.h"
#include "mem/cache.h"

static UH_LOCK_CLASS(socktab_class, "socktab", UH_RANK_TABLE, 0);
static UH_LOCK_CLASS(bind_class, "bind", UH_RANK_BIND, UH_LC_SLEEPS);

/* One RPC cache for every stack of the process (never destroyed). */
static struct uh_cache *rpc_cache;
static pthread_once_t rpc_cache_once = PTHREAD_ONCE_INIT;

static void rpc_cache_init(void)
{
	struct uh_cache_config cc = {
		.name = "rpc",
		.size = sizeof(struct uh_rpc),
		.align = UH_CACHELINE,
	};

	rpc_cache = uh_cache_create(&cc);
}

void uh_stack_xmit(struct uhoma_stack *st, uint16_t sport,
		   const struct uh_tx *pkts, unsigned n)
{
	/* Sum locally, then one atomic add per non-zero counter: no
	 * per-packet atomics on the transmit path. */
	int64_t pk[UH_PKT_NTYPES] = { 0 }, pb[UH_PKT_NTYPES] = { 0 };
	int64_t qk[UH_MAX_PRIORITIES] = { 0 }, qb[UH_MAX_PRIORITIES] = { 0 };
	unsigned sent;

	uh_lockdep_might_block("carrier send", UH_HERE);
	sent = st->carrier->ops->send(st->carrier, sport, pkts, n);
	for (unsigned i = 0; i < sent; i++) {
		unsigned t = (unsigned)(uh_wire_type(pkts[i].hdr) -
				    UH_PKT_MIN_TYPE);
		int64_t len = (int64_t)(pkts[i].hdr_len + pkts[i].payload_len);
		unsigned q = pkts[i].priority & (UH_MAX_PRIORITIES - 1);

		if (t < UH_PKT_NTYPES) {
			pk[t]++;
			pb[t] += len;
		}
		qk[q]++;
		qb[q] += len;
	}
	for (unsigned t = 0; t < UH_PKT_NTYPES; t++)
		if (pk[t]) {
			uh_metric_add(st->metrics, UH_M_PKT_SENT + t, pk[t]);
			uh_metric_add(st->metrics, UH_M_BYTES_SENT + t, pb[t]);
		}
	for (unsigned q = 0; q < UH_MAX_PRIORITIES; q++)
		if (qk[q]) {
			uh_metric_add(st->metrics, UH_M_PRIO_PKTS + q, qk[q]);
			uh_metric_add(st->metrics, UH_M_PRIO_BYTES + q, qb[q]);
		}
	if (sent < n)
		uh_metric_add(st->metrics, UH_M_XMIT_ERRORS, n - sent);
}

/* The peer table's sizing callback: the carrier's packet size for the
 * route to @a, less a DATA header. */
static uint32_t peer_size(void *ctx, const struct uh_addr *a, bool *local)
{
	struct uhoma_stack *st = ctx;
	uint32_t max = uh_carrier_max_packet_to(st->carrier, a, local);

	return max > UH_HDR_DATA ? max - UH_HDR_DATA : 0;
}

int uh_stack_new(const struct uhoma_config *cfg,
		 const struct uh_stack_parts *parts, struct uhoma_stack **out)
{
	struct uhoma_stack *st;
	size_t size = (sizeof(*st) + UH_CACHELINE - 1) &
		      ~(size_t)(UH_CACHELINE - 1);

	if (parts->carrier->max_packet <= UH_HDR_DATA + 64)
		return UHOMA_ERR_INVALID_ARGUMENT;
	pthread_once(&rpc_cache_once, rpc_cache_init);
	if (!rpc_cache)
		return UHOMA_ERR_NOMEM;
	st = aligned_alloc(UH_CACHELINE, size);
	if (!st)
		return UHOMA_ERR_NOMEM;
	memset(st, 0, size);
	if (parts->carrier->ops->port_held) {
		/* 512 KB of address space, touched only for ports asked
		 * about. */
		st->port_seen = calloc(65536, sizeof(*st->port_seen));
		if (!st->port_seen) {
			free(st);
			return UHOMA_ERR_NOMEM;
		}
	}
	st->cfg = *cfg;
	st->rpc_cache = rpc_cache;
	st->carrier = parts->carrier;
	st->carrier->stack = st;
	st->metrics = parts->metrics;
	st->now = parts->now;
	st->own_ids = parts->own_ids;
	st->discard_payload = parts->discard_payload;
	atomic_init(&st->next_id, 1);
	st->up = parts->up;
	st->dedup_cap = UH_DEDUP_MIN_CAP;
	while (st->dedup_cap < cfg->dedup_window)
		st->dedup_cap *= 2;
	st->dedup_budget.max = (uint64_t)cfg->dedup_mb << 20;
	st->dedup_budget.metrics = st->metrics;
	st->dedup_quiet = ((uint64_t)cfg->dedup_quiet_ms * 1000 +
			   cfg->tick_us - 1) / cfg->tick_us;
	uh_lock_init(&st->socktab_lock, &socktab_class);
	uh_lock_init(&st->bind_lock, &bind_class);
	uh_list_init(&st->all_socks);
	st->max_payload = st->carrier->max_packet - UH_HDR_DATA;
	uh_peertab_init(&st->peers, cfg->max_peers, st->metrics);
	uh_peertab_sizing(&st->peers, peer_size, st,
			  st->max_payload < 256 ? st->max_payload : 256);
	st->local_unsched = uh_unsched_local_cap(st);
	st->link_mbps = cfg->link_mbps ? cfg->link_mbps
				       : st->carrier->link_mbps;
	uh_prio_init(st);
	if (cfg->lanes)
		st->carrier->urgent_prio = uh_prio_urgent(st);
	uh_grant_init(st);
	uh_pacer_init(st, st->link_mbps, st->now);
	*out = st;
	return UHOMA_OK;
}

void uh_stack_stop_sockets(struct uhoma_stack *st)
{
	uh_lock(&st->socktab_lock);
	atomic_store(&st->destroying, true);
	uh_unlock(&st->socktab_lock);
}

struct uhoma_sock *uh_stack_any_sock(struct uhoma_stack *st)
{
	struct uhoma_sock *s;

	uh_lock(&st->socktab_lock);
	s = uh_list_first(&st->all_socks, struct uhoma_sock, stack_link);
	uh_unlock(&st->socktab_lock);
	return s;
}

void uh_stack_free(struct uhoma_stack *st)
{
	uh_peertab_destroy(&st->peers);
	free(st->port_seen);
	free(st);
}
