/*
 * waitset.c - the sockets a carrier's receivers sleep on: ppoll while they
 * are few, an epoll set once they are many (see waitset.h for why).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "net/ownfd.h"
#include "net/waitset.h"
#include "sync/lockdep.h"
#include "sync/wait.h"
#include "uhoma/uhoma.h"

#define WAIT_EVENTS 16

int uh_waitset_init(struct uh_waitset *ws)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	ws->members = NULL;
	ws->n = ws->cap = 0;
	ws->armed = false;
	ws->epfd = uh_fd_own(epoll_create1(EPOLL_CLOEXEC));
	ws->kickfd = uh_fd_own(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
	if (ws->epfd < 0 || ws->kickfd < 0 ||
	    epoll_ctl(ws->epfd, EPOLL_CTL_ADD, ws->kickfd, &ev) < 0) {
		if (ws->epfd >= 0)
			uh_fd_close(ws->epfd);
		if (ws->kickfd >= 0)
			uh_fd_close(ws->kickfd);
		return UHOMA_ERR_SYSTEM;
	}
	ws->polling[0] = ws->polling[1] = 0;
	ws->gen[0] = ws->gen[1] = 0;
	ws->phase = 0;
	pthread_mutex_init(&ws->lock, NULL);
	pthread_mutex_init(&ws->del_lock, NULL);
	pthread_cond_init(&ws->drained, NULL);
	return UHOMA_OK;
}

void uh_waitset_destroy(struct uh_waitset *ws)
{
	uh_fd_close(ws->epfd);
	uh_fd_close(ws->kickfd);
	pthread_mutex_destroy(&ws->lock);
	pthread_mutex_destroy(&ws->del_lock);
	pthread_cond_destroy(&ws->drained);
	free(ws->members);
	ws->members = NULL;
}

static int reg(struct uh_waitset *ws, const struct uh_waitset_member *m)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = m->ptr };

	return epoll_ctl(ws->epfd, EPOLL_CTL_ADD, m->fd, &ev);
}

/* Takes the first @n members out of the epoll set. */
static void unreg(struct uh_waitset *ws, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		epoll_ctl(ws->epfd, EPOLL_CTL_DEL, ws->members[i].fd, NULL);
}

int uh_waitset_add(struct uh_waitset *ws, int fd, void *ptr)
{
	struct uh_waitset_member m = { fd, ptr };
	int rc = UHOMA_OK;

	pthread_mutex_lock(&ws->lock);
	if (ws->n == ws->cap) {
		unsigned cap = ws->cap ? 2 * ws->cap : 4;
		struct uh_waitset_member *a =
			realloc(ws->members, cap * sizeof(*a));

		if (!a) {
			rc = UHOMA_ERR_NOMEM;
			goto out;
		}
		ws->members = a;
		ws->cap = cap;
	}
	ws->members[ws->n++] = m;
	if (ws->armed) {
		if (reg(ws, &m) < 0) {
			ws->n--;
			rc = UHOMA_ERR_SYSTEM;
		}
	} else if (ws->n > UH_WAITSET_POLL_MAX) {
		unsigned i;

		for (i = 0; i < ws->n && reg(ws, &ws->members[i]) == 0; i++)
			;
		if (i == ws->n) {
			ws->armed = true;
		} else {
			unreg(ws, i);
			ws->n--;
			rc = UHOMA_ERR_SYSTEM;
		}
	}
out:
	pthread_mutex_unlock(&ws->lock);
	/* A ppoll wait that began before: let it start over with @fd. */
	if (rc == UHOMA_OK)
		uh_waitset_kick(ws);
	return rc;
}

/* A drain gives up on waits still counted after this long of kicks (ns):
 * a live one returns within a kick (a millisecond), so those left are
 * gone -- a thread that jumped out of its wait (siglongjmp from a
 * handler) or was cancelled in it -- and waiting for them hung every later
 * close for ever (helper-22). */
#define DRAIN_GIVE_UP_NS 500000000ll

/* @lock held: sleeps until no ppoll wait of phase @old is in progress,
 * kicking the waiters (a kick one of them drained may have found another
 * not yet asleep, hence a kick per round). */
static void drain_phase(struct uh_waitset *ws, unsigned old)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ws->polling[old] > 0) {
		struct timespec until, t;

		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000000000ll +
		    (t.tv_nsec - t0.tv_nsec) > DRAIN_GIVE_UP_NS) {
			ws->polling[old] = 0;
			ws->gen[old]++;    /* their returns, if any, count not */
			break;
		}

		uh_waitset_kick(ws);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&ws->drained, &ws->lock, &until);
	}
}

void uh_waitset_del(struct uh_waitset *ws, int fd)
{
	bool disarmed = false;

	uh_lockdep_might_sleep("uh_waitset_del", UH_HERE);
	pthread_mutex_lock(&ws->del_lock);
	pthread_mutex_lock(&ws->lock);
	for (unsigned i = 0; i < ws->n; i++) {
		if (ws->members[i].fd != fd)
			continue;
		if (ws->armed)
			epoll_ctl(ws->epfd, EPOLL_CTL_DEL, fd, NULL);
		ws->members[i] = ws->members[--ws->n];
		break;
	}
	if (ws->armed && ws->n <= UH_WAITSET_POLL_MAX) {
		unreg(ws, ws->n);
		ws->armed = false;
		disarmed = true;
	}
	ws->phase ^= 1;
	drain_phase(ws, ws->phase ^ 1);
	pthread_mutex_unlock(&ws->lock);
	pthread_mutex_unlock(&ws->del_lock);
	/* Epoll waiters would sleep on an empty set: back through ppoll. */
	if (disarmed)
		uh_waitset_kick(ws);
}

/* The kick is level-triggered until someone reads it: drain it. */
static void drain_kick(struct uh_waitset *ws)
{
	uint64_t v;

	(void)!read(ws->kickfd, &v, sizeof(v));
}

static struct timespec *to_ts(int64_t ns, struct timespec *ts)
{
	if (ns < 0)
		return NULL;
	ts->tv_sec = (time_t)(ns / 1000000000);
	ts->tv_nsec = (long)(ns % 1000000000);
	return ts;
}

/* Copies the members for a ppoll wait into @pf and @ptr, the kick last,
 * and joins the wait to the current phase (*@phase); returns their count,
 * or -1 if the set is armed (wait with epoll). */
static int snapshot(struct uh_waitset *ws, struct pollfd *pf, void **ptr,
		    unsigned *phase, unsigned *gen)
{
	int n = -1;

	pthread_mutex_lock(&ws->lock);
	if (!ws->armed) {
		*phase = ws->phase;
		*gen = ws->gen[*phase];
		ws->polling[*phase]++;
		for (n = 0; n < (int)ws->n; n++) {
			pf[n].fd = ws->members[n].fd;
			pf[n].events = POLLIN;
			ptr[n] = ws->members[n].ptr;
		}
		pf[n].fd = ws->kickfd;
		pf[n].events = POLLIN;
	}
	pthread_mutex_unlock(&ws->lock);
	return n;
}

/* Set when this thread's wait was interrupted by a signal (EINTR). */
static __thread bool tl_interrupted;
/* The mask this thread's waits run with (NULL: its own). */
static __thread const sigset_t *tl_wait_mask;

void uh_waitset_wait_sigmask(const sigset_t *mask)
{
	tl_wait_mask = mask;
}

bool uh_waitset_take_interrupt(void)
{
	bool was = tl_interrupted;

	tl_interrupted = false;
	return was;
}

/* A wait on @n snapshot members (and the kick, pf[@n]) of @phase. */
static int wait_poll(struct uh_waitset *ws, struct pollfd *pf, void **ptr,
		     int n, unsigned phase, unsigned gen, void **ready,
		     int max, int64_t timeout_ns)
{
	struct timespec ts;
	int got = 0, r;

	uh_wait_mark_syscall(timeout_ns != 0);   /* (sync/wait.h) */
	r = ppoll(pf, (nfds_t)n + 1, to_ts(timeout_ns, &ts), tl_wait_mask);
	uh_wait_mark_syscall(false);
	/* (Before the lock calls below can change errno.) */
	if (r < 0 && errno == EINTR)
		tl_interrupted = true;
	pthread_mutex_lock(&ws->lock);   /* our files are released now */
	if (gen == ws->gen[phase] && --ws->polling[phase] == 0 &&
	    phase != ws->phase)
		pthread_cond_broadcast(&ws->drained);
	pthread_mutex_unlock(&ws->lock);
	if (r <= 0)
		return 0;
	for (int i = 0; i < n && got < max; i++)
		if (pf[i].revents)
			ready[got++] = ptr[i];
	/* A kick is for a thread that waits: a poll that does not wait
	 * leaves it pending, or it would take the kick meant for the
	 * blocking receiver, which would then sleep on (seen: a private
	 * response ready and its thread asleep for a whole wait). */
	if (pf[n].revents && timeout_ns != 0)
		drain_kick(ws);
	return got;
}

/* epoll_wait with a timeout in nanoseconds (< 0: none), exact where the
 * kernel has epoll_pwait2 (5.11), else rounded up to milliseconds: the
 * wait of a blocking receiver is often shorter than a millisecond. */
static int epoll_wait_ns(int epfd, struct epoll_event *ev, int max,
			 int64_t timeout_ns)
{
#if !defined(__SANITIZE_THREAD__)
	/* (ThreadSanitizer intercepts epoll_ctl and epoll_wait, not
	 * epoll_pwait2: without the interceptor it would miss the ordering
	 * epoll gives between adding a port and receiving on it, and report
	 * races that are not there. Its builds wait in milliseconds.) */
	static _Atomic bool no_pwait2;

	if (timeout_ns >= 0 && !atomic_load_explicit(&no_pwait2,
						     memory_order_relaxed)) {
		struct timespec ts;
		int r = epoll_pwait2(epfd, ev, max, to_ts(timeout_ns, &ts),
				     tl_wait_mask);

		if (r >= 0 || errno != ENOSYS)
			return r;
		atomic_store_explicit(&no_pwait2, true, memory_order_relaxed);
	}
#endif
	return epoll_pwait(epfd, ev, max,
			   timeout_ns < 0 ? -1
					  : (int)((timeout_ns + 999999) / 1000000),
			   tl_wait_mask);
}

int uh_waitset_wait(struct uh_waitset *ws, void **ready, int max,
		    int64_t timeout_ns)
{
	struct pollfd pf[UH_WAITSET_POLL_MAX + 1];
	void *ptr[UH_WAITSET_POLL_MAX];
	struct epoll_event ev[WAIT_EVENTS];
	unsigned phase = 0, gen = 0;
	int ne, got = 0, n;

	if (timeout_ns != 0)
		uh_lockdep_might_sleep("a carrier wait", UH_HERE);
	n = snapshot(ws, pf, ptr, &phase, &gen);
	if (n >= 0)
		return wait_poll(ws, pf, ptr, n, phase, gen, ready, max,
				 timeout_ns);
	if (max > WAIT_EVENTS)
		max = WAIT_EVENTS;
	uh_wait_mark_syscall(timeout_ns != 0);
	ne = epoll_wait_ns(ws->epfd, ev, max, timeout_ns);
	uh_wait_mark_syscall(false);
	if (ne < 0 && errno == EINTR)
		tl_interrupted = true;
	for (int e = 0; e < ne; e++) {
		if (ev[e].data.ptr)
			ready[got++] = ev[e].data.ptr;
		else if (timeout_ns != 0)
			drain_kick(ws);    /* as in wait_poll */
	}
	return got;
}

void uh_waitset_kick(struct uh_waitset *ws)
{
	uint64_t one = 1;

	/* Fails only if already readable: the kick is pending anyway. */
	(void)!write(ws->kickfd, &one, sizeof(one));
}

bool uh_waitset_armed(struct uh_waitset *ws)
{
	bool armed;

	pthread_mutex_lock(&ws->lock);
	armed = ws->armed;
	pthread_mutex_unlock(&ws->lock);
	return armed;
}

void uh_waitset_forget(struct uh_waitset *ws)
{
	uh_fd_close(ws->epfd);
	uh_fd_close(ws->kickfd);
}
