/*
 * wait.c - the eventcount (see wait.h).
 */
#include "sync/wait.h"

#include <limits.h>

#include "sync/futex.h"
#include "sync/lockdep.h"
#include "uhoma/uhoma.h"

/* Thread-local, read by the thread's own signal handlers (wait.h). */
static __thread volatile bool tl_in_syscall;

bool uh_wait_in_syscall(void)
{
	return tl_in_syscall;
}

void uh_wait_mark_syscall(bool in)
{
	tl_in_syscall = in;
}

int uh_wait_sleep_(struct uh_wait *w, uint32_t ticket, uint64_t timeout_ns,
		   struct uh_srcloc loc)
{
	struct timespec ts, *tsp = NULL;
	int r;

	uh_lockdep_might_sleep("uh_wait_sleep", loc);
	if (timeout_ns != UINT64_MAX) {
		ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
		ts.tv_nsec = (long)(timeout_ns % 1000000000u);
		tsp = &ts;
	}
	/* seq_cst on both sides (Dekker): either the waker sees sleepers != 0,
	 * or we see its new seq and the futex returns EAGAIN. */
	atomic_fetch_add(&w->sleepers, 1);
	tl_in_syscall = true;
	r = uh_futex_wait(&w->seq, ticket, tsp);
	tl_in_syscall = false;
	atomic_fetch_sub(&w->sleepers, 1);
	if (r == -ETIMEDOUT)
		return UHOMA_ERR_TIMEDOUT;
	if (r == -EINTR)
		return UHOMA_ERR_INTERRUPTED;
	return 0;
}

void uh_wait_wake_all(struct uh_wait *w)
{
	atomic_fetch_add(&w->seq, 1);
	if (atomic_load(&w->sleepers))
		uh_futex_wake(&w->seq, INT_MAX);
}

void uh_wait_wake_one(struct uh_wait *w)
{
	atomic_fetch_add(&w->seq, 1);
	if (atomic_load(&w->sleepers))
		uh_futex_wake(&w->seq, 1);
}
