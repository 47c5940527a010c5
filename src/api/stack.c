/*
 * stack.c - assembling a stack from its parts, and taking it apart: the
 * carrier the configuration asks for, the counters' storage (shared with
 * uhoma-stat), the core's state, and the runtime's threads.
 */
#include <stdlib.h>

#include "api/api.h"
#include "api/readiness.h"
#include "core/config.h"
#include "core/stack.h"
#include "net/carriers.h"
#include "runtime/runtime.h"
#include "runtime/stat.h"
#include "sync/lockdep.h"
#include "sync/rcu.h"
#include "uhoma/uhoma.h"
#include "util/clock.h"

/* The carrier @cfg asks for. */
static int carrier_create(const struct uhoma_config *cfg,
			  struct uh_carrier **out)
{
	if (cfg->carrier == UHOMA_CARRIER_MEMNET)
		return uh_memnet_carrier_create(cfg, out);
	if (cfg->carrier == UHOMA_CARRIER_IP)
		return uh_ipraw_create(cfg, out);
	return uh_udp_create(cfg, out);
}

int uhoma_stack_create(const struct uhoma_config *cfg,
		       struct uhoma_stack **out)
{
	struct uh_stack_parts parts = {
		.now = uh_now_ns,
		.up = {
			.kick_receiver = uh_runtime_kick_receiver,
			.rx_ready = uh_readiness_rx,
			.tx_budget = uh_readiness_tx,
		},
	};
	struct uhoma_config c;
	struct uhoma_stack *st;
	struct uh_stat *stat;
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
	rc = carrier_create(&c, &parts.carrier);
	if (rc)
		return rc;
	rc = uh_stat_create(&c, parts.carrier->ops->name, &parts.metrics,
			    &stat);
	if (rc) {
		parts.carrier->ops->destroy(parts.carrier);
		return rc;
	}
	rc = uh_stack_new(&c, &parts, &st);
	if (rc) {
		uh_stat_destroy(parts.metrics, stat);
		parts.carrier->ops->destroy(parts.carrier);
		return rc;
	}
	st->stat = stat;
	rc = uh_runtime_start(st);
	if (rc) {
		uh_stack_free(st);
		uh_stat_destroy(parts.metrics, stat);
		parts.carrier->ops->destroy(parts.carrier);
		return rc;
	}
	*out = st;
	uh_lockdep_return_to_app("uhoma_stack_create", UH_HERE);
	return UHOMA_OK;
}

void uhoma_stack_destroy(struct uhoma_stack *st)
{
	struct uh_carrier *carrier;
	struct uh_metrics *metrics;
	struct uh_stat *stat;
	struct uhoma_sock *s;

	if (!st)
		return;
	uh_stack_stop_sockets(st);
	uh_runtime_stop(st);
	while ((s = uh_stack_any_sock(st)))
		uh_api_close(s);
	uh_synchronize_rcu();
	carrier = st->carrier;
	metrics = st->metrics;
	stat = st->stat;
	carrier->ops->destroy(carrier);
	uh_stack_free(st);
	uh_stat_destroy(metrics, stat);
	uh_lockdep_return_to_app("uhoma_stack_destroy", UH_HERE);
}
