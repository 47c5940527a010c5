/*
 * metrics.c - snapshots and printing of a stack's counters.
 */
#include <stdio.h>

#include "core/metrics.h"
#include "core/stack.h"
#include "sync/lock_class.h"

static _Atomic unsigned next_shard;
static __thread unsigned my_shard = ~0u;

unsigned uh_metrics_shard_index(void)
{
	if (uh_unlikely(my_shard == ~0u))
		my_shard = atomic_fetch_add_explicit(&next_shard, 1,
						     memory_order_relaxed) %
			   UH_METRIC_SHARDS;
	return my_shard;
}

int64_t uh_metric_read(struct uh_metrics *m, unsigned which)
{
	int64_t sum = 0;

	for (unsigned i = 0; i < UH_METRIC_SHARDS; i++)
		sum += atomic_load_explicit(&m->shard[i].c[which],
					    memory_order_relaxed);
	return sum;
}

static const char *const state_name[UHOMA_RPC_STATES] = {
	"rpcs_client_outgoing", "rpcs_client_incoming",
	"rpcs_server_incoming", "rpcs_server_in_service",
	"rpcs_server_outgoing", "rpcs_dead",
};

static const char *const plain_name[] = {
	[UH_M_REQUESTS_SENT] = "requests_sent",
	[UH_M_RESPONSES_RECEIVED] = "responses_received",
	[UH_M_REQUESTS_RECEIVED] = "requests_received",
	[UH_M_RESPONSES_SENT] = "responses_sent",
	[UH_M_RESENT_PACKETS] = "resent_packets",
	[UH_M_STALE_RESENDS] = "stale_resends",
	[UH_M_RPC_TIMEOUTS] = "rpc_timeouts",
	[UH_M_ABORTS] = "aborts",
	[UH_M_BUFFER_WAITS] = "buffer_waits",
	[UH_M_SEND_WAITS] = "send_waits",
	[UH_M_RPCS_REAPED] = "rpcs_reaped",
	[UH_M_XMIT_ERRORS] = "xmit_errors",
	[UH_M_TIMER_TICKS] = "timer_ticks",
	[UH_M_TIMER_VISITS] = "timer_visits",
	[UH_M_GRANT_RECALCS] = "grant_recalcs",
	[UH_M_GRANT_ACTIVATIONS] = "grant_activations",
	[UH_M_GRANT_EVICTIONS] = "grant_evictions",
	[UH_M_NEEDY_GRANTS] = "needy_grants",
	[UH_M_FIFO_GRANT_BYTES] = "fifo_grant_bytes",
	[UH_M_CUTOFFS_SENT] = "cutoffs_sent",
	[UH_M_THROTTLE_ADDS] = "throttle_adds",
	[UH_M_PACER_SENDS] = "pacer_sends",
	[UH_M_PACER_FIFO_SENDS] = "pacer_fifo_sends",
	[UH_M_TX_DEFERRALS] = "tx_deferrals",
	[UH_M_DEFERRED_SENDS] = "deferred_sends",
	[UH_M_DEDUP_FORGOTTEN] = "dedup_forgotten",
	[UH_M_DEDUP_EVICTIONS] = "dedup_evictions",
	[UH_M_DEDUP_RECORDS] = "dedup_records",
	[UH_M_DEDUP_BYTES] = "dedup_bytes",
	[UH_M_DEDUP_RESTARTS] = "dedup_restarts",
	[UH_M_UNSCHED_CUTS] = "unsched_cuts",
	[UH_M_TICKS_HELD] = "ticks_held",
	[UH_M_PORT_CHECKS] = "port_checks",
	[UH_M_LOCAL_WAITS] = "local_waits",
	[UH_M_MOVED_UNKNOWN] = "moved_unknown",
	[UH_M_PEERS] = "peers",
	[UH_M_UNPROVEN_EVICTIONS] = "unproven_evictions",
	[UH_M_PORT_UNREACHABLE] = "port_unreachable",
	[UH_M_DATA_LANDED] = "data_landed",
};

void uh_metric_name(unsigned i, char *buf, size_t n)
{
	static const char *const group[] = { "packets_sent_", "packets_received_",
					     "bytes_sent_", "bytes_received_" };

	if (i < UH_M_DROP) {
		snprintf(buf, n, "%s%s", group[i / UH_PKT_NTYPES],
			 uh_wire_type_name(i % UH_PKT_NTYPES + UH_PKT_MIN_TYPE));
	} else if (i < UH_M_REQUESTS_SENT) {
		snprintf(buf, n, "drop_%s", uh_wire_drop_name(i - UH_M_DROP));
	} else if (i < UH_M_PRIO_PKTS) {
		snprintf(buf, n, "%s", plain_name[i]);
	} else if (i < UH_M_PRIO_BYTES) {
		snprintf(buf, n, "prio%u_packets", i - UH_M_PRIO_PKTS);
	} else if (i < UH_M_RPC_STATE) {
		snprintf(buf, n, "prio%u_bytes", i - UH_M_PRIO_BYTES);
	} else if (i < UH_M_COUNT) {
		snprintf(buf, n, "%s", state_name[i - UH_M_RPC_STATE]);
	} else {
		snprintf(buf, n, "?");
	}
}

static uint64_t rd(struct uh_metrics *m, unsigned which)
{
	return (uint64_t)uh_metric_read(m, which);
}

void uhoma_metrics(struct uhoma_stack *st, struct uhoma_metrics *out)
{
	struct uh_metrics *m;

	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	if (!st)
		return;             /* no stack: every counter 0 */
	m = st->metrics;
	for (unsigned t = 0; t < UH_PKT_NTYPES; t++) {
		out->packets_sent[t] = rd(m, UH_M_PKT_SENT + t);
		out->packets_received[t] = rd(m, UH_M_PKT_RECV + t);
		out->bytes_sent[t] = rd(m, UH_M_BYTES_SENT + t);
		out->bytes_received[t] = rd(m, UH_M_BYTES_RECV + t);
	}
	for (unsigned r = 0; r < UH_DROP_NREASONS && r < UHOMA_DROP_REASONS; r++)
		out->drops[r] = rd(m, UH_M_DROP + r);
	out->requests_sent = rd(m, UH_M_REQUESTS_SENT);
	out->responses_received = rd(m, UH_M_RESPONSES_RECEIVED);
	out->requests_received = rd(m, UH_M_REQUESTS_RECEIVED);
	out->responses_sent = rd(m, UH_M_RESPONSES_SENT);
	out->resent_packets = rd(m, UH_M_RESENT_PACKETS);
	out->stale_resends = rd(m, UH_M_STALE_RESENDS);
	out->rpc_timeouts = rd(m, UH_M_RPC_TIMEOUTS);
	out->aborts = rd(m, UH_M_ABORTS);
	out->buffer_waits = rd(m, UH_M_BUFFER_WAITS);
	out->send_waits = rd(m, UH_M_SEND_WAITS);
	out->rpcs_reaped = rd(m, UH_M_RPCS_REAPED);
	out->xmit_errors = rd(m, UH_M_XMIT_ERRORS);
	out->timer_ticks = rd(m, UH_M_TIMER_TICKS);
	out->timer_visits = rd(m, UH_M_TIMER_VISITS);
	for (unsigned s = 0; s < UHOMA_RPC_STATES; s++)
		out->rpcs[s] = uh_metric_read(m, UH_M_RPC_STATE + s);
	for (unsigned p = 0; p < UH_MAX_PRIORITIES; p++) {
		out->prio_packets[p] = rd(m, UH_M_PRIO_PKTS + p);
		out->prio_bytes[p] = rd(m, UH_M_PRIO_BYTES + p);
	}
	out->grant_recalcs = rd(m, UH_M_GRANT_RECALCS);
	out->grant_activations = rd(m, UH_M_GRANT_ACTIVATIONS);
	out->grant_evictions = rd(m, UH_M_GRANT_EVICTIONS);
	out->needy_grants = rd(m, UH_M_NEEDY_GRANTS);
	out->fifo_grant_bytes = rd(m, UH_M_FIFO_GRANT_BYTES);
	out->cutoffs_sent = rd(m, UH_M_CUTOFFS_SENT);
	out->throttle_adds = rd(m, UH_M_THROTTLE_ADDS);
	out->pacer_sends = rd(m, UH_M_PACER_SENDS);
	out->pacer_fifo_sends = rd(m, UH_M_PACER_FIFO_SENDS);
	out->tx_deferrals = rd(m, UH_M_TX_DEFERRALS);
	out->deferred_sends = rd(m, UH_M_DEFERRED_SENDS);
	out->dedup_forgotten = rd(m, UH_M_DEDUP_FORGOTTEN);
	out->dedup_evictions = rd(m, UH_M_DEDUP_EVICTIONS);
	out->dedup_records = rd(m, UH_M_DEDUP_RECORDS);
	out->dedup_bytes = rd(m, UH_M_DEDUP_BYTES);
	out->peers = rd(m, UH_M_PEERS);
	out->unproven_evictions = rd(m, UH_M_UNPROVEN_EVICTIONS);
	out->port_unreachable = rd(m, UH_M_PORT_UNREACHABLE);
	out->data_landed = rd(m, UH_M_DATA_LANDED);
	out->dedup_restarts = rd(m, UH_M_DEDUP_RESTARTS);
	out->unsched_cuts = rd(m, UH_M_UNSCHED_CUTS);
	out->ticks_held = rd(m, UH_M_TICKS_HELD);
	out->port_checks = rd(m, UH_M_PORT_CHECKS);
	out->local_waits = rd(m, UH_M_LOCAL_WAITS);
	out->moved_unknown = rd(m, UH_M_MOVED_UNKNOWN);
	out->grantable = uh_grant_count(st);
	out->throttled = uh_pacer_throttled(st);
	out->deferred = uh_pacer_deferred(st);
}

const char *uhoma_drop_name(unsigned i)
{
	return uh_wire_drop_name(i);
}

const char *uhoma_packet_type_name(unsigned i)
{
	return uh_wire_type_name(i + UH_PKT_MIN_TYPE);
}

size_t uhoma_lock_stats(struct uhoma_lock_stat *out, size_t max)
{
	struct uh_lock_class_stats st[UH_LOCK_CLASS_MAX];
	size_t n = uh_lock_class_stats(st, UH_LOCK_CLASS_MAX);

	if (!out)
		max = 0;            /* the count only */
	for (size_t i = 0; i < n && i < max; i++) {
		out[i].name = st[i].name;
		out[i].misses = st[i].misses;
		out[i].wait_ns = st[i].miss_ns;
	}
	return n;
}


void uhoma_metrics_print(struct uhoma_stack *st, void *fp)
{
	FILE *f = fp;
	struct uhoma_lock_stat ls[UH_LOCK_CLASS_MAX];
	char name[64];
	unsigned gauge[3];
	static const char *const gauge_name[3] = { "grantable", "throttled",
						   "deferred" };
	size_t n;

	if (!st || !f)
		return;
	/* Every counter by the name uhoma-stat shows, then the gauges. */
	for (unsigned i = 0; i < UH_M_COUNT; i++) {
		int64_t v = uh_metric_read(st->metrics, i);

		if (!v)
			continue;
		uh_metric_name(i, name, sizeof(name));
		fprintf(f, "%s %lld\n", name, (long long)v);
	}
	gauge[0] = uh_grant_count(st);
	gauge[1] = uh_pacer_throttled(st);
	gauge[2] = uh_pacer_deferred(st);
	for (unsigned i = 0; i < 3; i++)
		if (gauge[i])
			fprintf(f, "%s %u\n", gauge_name[i], gauge[i]);
	n = uhoma_lock_stats(ls, UH_LOCK_CLASS_MAX);
	for (size_t i = 0; i < n && i < UH_LOCK_CLASS_MAX; i++)
		if (ls[i].misses)
			fprintf(f, "lock_%s_misses %llu\nlock_%s_wait_ns %llu\n",
				ls[i].name, (unsigned long long)ls[i].misses,
				ls[i].name, (unsigned long long)ls[i].wait_ns);
}
