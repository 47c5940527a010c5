/*
 * send_wait.c - a sender waiting for its send budget (the budget itself:
 * core/sndbuf.c).
 */
#include "api/api.h"
#include "api/usermem.h"
#include "core/metrics.h"
#include "core/sock.h"
#include "core/stack.h"
#include "runtime/runtime.h"
#include "runtime/signals.h"
#include "sync/lockdep.h"
#include "sync/wait.h"
#include "uhoma/uhoma.h"

int uh_api_tx_charge(struct uhoma_sock *s, uint32_t len, bool nonblock,
		     uint32_t *charged)
{
	bool waiting = false, counted = false;
	uint64_t cancels = uh_signals_cancels();
	int rc;

	for (;;) {
		uint32_t ticket;

		rc = uh_sock_tx_try_charge(s, len, charged);
		if (rc != UHOMA_ERR_AGAIN || nonblock)
			break;
		if (!waiting) {
			/* Register, then look again (core/sock.h). */
			uh_sock_tx_wait_begin(s);
			waiting = true;
			continue;
		}
		/* A virtual clock only moves when the caller returns. */
		if (uh_runtime_virtual(s->stack))
			break;
		if (!counted) {
			uh_metric_inc(s->stack->metrics, UH_M_SEND_WAITS);
			counted = true;
		}
		if (uh_runtime_manual(s->stack)) {
			/* No threads to return charges: drive the stack. */
			uhoma_poll(s->stack, 1000000);
			continue;
		}
		ticket = uh_wait_prepare(&s->tx_wait);
		if (uh_sock_tx_open(s) || atomic_load(&s->shutdown))
			continue;
		/* A pthread_cancel woke us: the preload looks whether it was
		 * for this thread (runtime/signals.h). */
		if (uh_signals_cancels() != cancels) {
			rc = UHOMA_ERR_INTERRUPTED;
			break;
		}
		uh_lockdep_might_sleep("uhoma_send waiting for its budget",
				       UH_HERE);
		uh_user_begin();    /* the caller's pages: check again after */
		if (uh_wait_sleep(&s->tx_wait, ticket, UINT64_MAX) ==
		    UHOMA_ERR_INTERRUPTED) {
			rc = UHOMA_ERR_INTERRUPTED;
			break;
		}
	}
	if (waiting)
		uh_sock_tx_wait_end(s);
	return rc;
}
