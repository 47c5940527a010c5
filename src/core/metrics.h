/*
 * metrics.h - per-stack counters.
 *
 * Counters are sharded: each thread adds to one of UH_METRIC_SHARDS
 * cache-line-aligned shards (chosen once per thread) with relaxed atomic
 * adds, so hot counters do not bounce between cores. A snapshot sums the
 * shards; it is not atomic across counters (each counter is exact).
 * Gauges (RPCs per state) are counters of +1/-1 deltas.
 */
#ifndef UHOMA_CORE_METRICS_H
#define UHOMA_CORE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/wire.h"
#include "uhoma/uhoma.h"
#include "util/compiler.h"

enum uh_metric {
	UH_M_PKT_SENT = 0,
	UH_M_PKT_RECV = UH_M_PKT_SENT + UH_PKT_NTYPES,
	UH_M_BYTES_SENT = UH_M_PKT_RECV + UH_PKT_NTYPES,
	UH_M_BYTES_RECV = UH_M_BYTES_SENT + UH_PKT_NTYPES,
	UH_M_DROP = UH_M_BYTES_RECV + UH_PKT_NTYPES,
	UH_M_REQUESTS_SENT = UH_M_DROP + UH_DROP_NREASONS,
	UH_M_RESPONSES_RECEIVED,
	UH_M_REQUESTS_RECEIVED,
	UH_M_RESPONSES_SENT,
	UH_M_RESENT_PACKETS,
	UH_M_STALE_RESENDS,      /* RESENDs for data we had just sent */
	UH_M_RPC_TIMEOUTS,
	UH_M_ABORTS,
	UH_M_BUFFER_WAITS,
	UH_M_SEND_WAITS,         /* uhoma_send calls that waited for budget */
	UH_M_RPCS_REAPED,
	UH_M_XMIT_ERRORS,
	UH_M_TIMER_TICKS,
	UH_M_TIMER_VISITS,       /* RPCs the timer looked at (twheel.h) */
	UH_M_GRANT_RECALCS,      /* grant-lock passes of the manager */
	UH_M_GRANT_ACTIVATIONS,  /* messages given a grant slot */
	UH_M_GRANT_EVICTIONS,    /* messages moved out of a slot for better */
	UH_M_NEEDY_GRANTS,       /* grants from freed headroom */
	UH_M_FIFO_GRANT_BYTES,   /* bytes granted by the FIFO share */
	UH_M_CUTOFFS_SENT,       /* CUTOFFS answering a stale version */
	UH_M_THROTTLE_ADDS,      /* messages the pacer had to hold back */
	UH_M_PACER_SENDS,        /* messages the pacer resumed */
	UH_M_PACER_FIFO_SENDS,   /* ... of them, for the FIFO share */
	UH_M_TX_DEFERRALS,       /* granted data a poller left for later */
	UH_M_DEFERRED_SENDS,     /* slices (or flushes) of deferred data sent */
	UH_M_DEDUP_FORGOTTEN,    /* request ids slid out of a dedup window
				  * unfinished (dedup.h) */
	UH_M_DEDUP_EVICTIONS,    /* client records evicted for room */
	UH_M_DEDUP_RECORDS,      /* gauge: client records held */
	UH_M_DEDUP_BYTES,        /* gauge: their memory (uh_dedup_budget) */
	UH_M_DEDUP_RESTARTS,     /* client records started over for a new
				  * counter (uh_dedup_reborn) */
	UH_M_PEERS,              /* gauge: peers in the table */
	UH_M_UNPROVEN_EVICTIONS, /* requests ended unproven for room */
	UH_M_PORT_UNREACHABLE,   /* ICMP port unreachable received */
	UH_M_DATA_LANDED,        /* DATA read straight into the region */
	UH_M_UNSCHED_CUTS,       /* local peers' unscheduled allowance
				  * set back (unsched.h) */
	UH_M_TICKS_HELD,         /* timer ticks held back: the host was
				  * behind its receive queue (runtime) */
	UH_M_PORT_CHECKS,        /* local peers' ports asked about */
	UH_M_LOCAL_WAITS,        /* timeouts not taken: the local peer's
				  * port was held (timer.c) */
	UH_M_MOVED_UNKNOWN,      /* client RPCs ended, not restarted: the
				  * socket moved since (incoming.c) */
	UH_M_PRIO_PKTS,          /* UH_MAX_PRIORITIES: packets sent per prio */
	UH_M_PRIO_BYTES = UH_M_PRIO_PKTS + UH_MAX_PRIORITIES,
	UH_M_RPC_STATE = UH_M_PRIO_BYTES + UH_MAX_PRIORITIES,          /* UHOMA_RPC_STATES gauges */
	UH_M_COUNT = UH_M_RPC_STATE + UHOMA_RPC_STATES
};

#define UH_METRIC_SHARDS 8

struct uh_metrics_shard {
	_Atomic int64_t c[UH_M_COUNT]; /* relaxed atomic adds */
} uh_cacheline_aligned;

struct uh_metrics {
	struct uh_metrics_shard shard[UH_METRIC_SHARDS];
};

/* The calling thread's shard index (assigned round-robin on first use). */
unsigned uh_metrics_shard_index(void);

static inline void uh_metric_add(struct uh_metrics *m, unsigned which,
				 int64_t v)
{
	atomic_fetch_add_explicit(&m->shard[uh_metrics_shard_index()].c[which],
				  v, memory_order_relaxed);
}

static inline void uh_metric_inc(struct uh_metrics *m, unsigned which)
{
	uh_metric_add(m, which, 1);
}

/* The name of counter @i ("packets_sent_DATA", ...) into @buf. */
void uh_metric_name(unsigned i, char *buf, size_t n);

/* The sum of counter @which over the shards. */
int64_t uh_metric_read(struct uh_metrics *m, unsigned which);

#endif /* UHOMA_CORE_METRICS_H */
