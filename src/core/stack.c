/*
 * stack.c - creating and destroying a stack; the transmit funnel.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/stack.h"
#include "mem/cache.h"
#include "runtime/runtime.h"
#include "runtime/stat.h"
#include "sync/rcu.h"
#include "util/clock.h"

static UH_LOCK_CLASS(socktab_class, "socktab", UH_RANK_TABLE, 0);

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
	if (uh_unlikely(st->xmit_hook)) {
		st->xmit_hook(st->xmit_hook_arg, pkts, n);
		return;
	}
	sent = st->carrier->ops->send(st->carrier, sport, pkts, n);
	for (unsigned i = 0; i < sent; i++) {
		unsigned t = (unsigned)(pkts[i].hdr[11] - UH_PKT_MIN_TYPE);
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

int uhoma_stack_create(const struct uhoma_config *cfg,
		       struct uhoma_stack **out)
{
	struct uhoma_config c;
	struct uhoma_stack *st;
	size_t size = (sizeof(*st) + UH_CACHELINE - 1) &
		      ~(size_t)(UH_CACHELINE - 1);
	int rc;

	if (!out)
		return UHOMA_ERR_INVALID_ARGUMENT;
	/* Before any process-wide lock is first taken (the caches'): a
	 * fork from now on finds none of them held (runtime/fork.h). */
	uh_runtime_process_init();
	if (cfg)
		c = *cfg;
	else
		uhoma_config_default(&c);
	rc = uh_config_validate(&c);
	if (rc)
		return rc;
	pthread_once(&rpc_cache_once, rpc_cache_init);
	if (!rpc_cache)
		return UHOMA_ERR_NOMEM;
	st = aligned_alloc(UH_CACHELINE, size);
	if (!st)
		return UHOMA_ERR_NOMEM;
	memset(st, 0, size);
	st->cfg = c;
	st->rpc_cache = rpc_cache;
	st->dedup_cap = UH_DEDUP_MIN_CAP;
	while (st->dedup_cap < c.dedup_window)
		st->dedup_cap *= 2;
	st->dedup_quiet = ((uint64_t)c.dedup_quiet_ms * 1000 + c.tick_us - 1) /
			  c.tick_us;
	uh_lock_init(&st->socktab_lock, &socktab_class);
	pthread_mutex_init(&st->bind_mutex, NULL);
	uh_list_init(&st->all_socks);
	rc = uh_carrier_create(&c, &st->carrier);
	if (rc) {
		free(st);
		return rc;
	}
	if (st->carrier->max_packet <= UH_HDR_DATA + 64) {
		st->carrier->ops->destroy(st->carrier);
		free(st);
		return UHOMA_ERR_INVALID_ARGUMENT;
	}
	st->max_payload = st->carrier->max_packet - UH_HDR_DATA;
	rc = uh_stat_create(st);
	if (rc) {
		st->carrier->ops->destroy(st->carrier);
		free(st);
		return rc;
	}
	uh_peertab_init(&st->peers, c.max_peers, st->metrics);
	uh_peertab_sizing(&st->peers, peer_size, st,
			  st->max_payload < 256 ? st->max_payload : 256);
	st->now = uh_now_ns;
	st->link_mbps = c.link_mbps ? c.link_mbps : st->carrier->link_mbps;
	uh_prio_init(st);
	if (c.lanes)
		st->carrier->urgent_prio = uh_prio_urgent(st);
	uh_grant_init(st);
	uh_pacer_init(st, st->link_mbps, st->now);
	rc = uh_runtime_start(st);
	if (rc) {
		uh_stat_destroy(st);
		st->carrier->ops->destroy(st->carrier);
		free(st);
		return rc;
	}
	*out = st;
	uh_lockdep_return_to_app("uhoma_stack_create", UH_HERE);
	return UHOMA_OK;
}

void uhoma_stack_destroy(struct uhoma_stack *st)
{
	if (!st)
		return;
	atomic_store(&st->destroying, true);
	uh_runtime_stop(st);
	for (;;) {
		struct uhoma_sock *s = NULL;

		uh_lock(&st->socktab_lock);
		s = uh_list_first(&st->all_socks, struct uhoma_sock, stack_link);
		uh_unlock(&st->socktab_lock);
		if (!s)
			break;
		uh_sock_close(s);
	}
	uh_synchronize_rcu();
	st->carrier->ops->destroy(st->carrier);
	uh_peertab_destroy(&st->peers);
	uh_stat_destroy(st);
	free(st);
	uh_lockdep_return_to_app("uhoma_stack_destroy", UH_HERE);
}
