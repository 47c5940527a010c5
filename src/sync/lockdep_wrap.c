/*
 * lockdep_wrap.c - the validator sees every wait, not only the annotated
 * ones.
 *
 * Rules 5 and 6 (design.md §3.4) were checked only where a call site said
 * uh_lockdep_might_block or _might_sleep: a plain malloc, a blocking
 * read() or a pthread mutex inside uhoma, under an RPC lock, went unseen.
 * In builds with the validator every uhoma object -- the library, the
 * preload and the programs that link them -- is linked with
 * -Wl,--wrap=NAME for each function below (CMakeLists.txt,
 * UHOMA_LOCKDEP_WRAPPED), so that its calls reach __wrap_NAME here, which
 * checks and then calls the real one (__real_NAME). Calls made inside
 * libc or liburcu are not redirected; the validator's own machinery
 * (src/sync: the lock slow path's sleep, the registries' mutexes) calls
 * the real functions directly (sync/real.h).
 *
 * What each counts as:
 *  - allocation and freeing (malloc ... munmap): blocking;
 *  - a system call on a descriptor: blocking if the descriptor is
 *    non-blocking (or the call says MSG_DONTWAIT), a sleep otherwise (it
 *    waits for a peer); a datagram socket's connect, blocking;
 *  - a wait (poll, epoll_wait, a condition variable, nanosleep, a join):
 *    a sleep, unless its time limit is zero;
 *  - a pthread mutex: a lock of a class that may sleep, so blocking (not
 *    under a non-blocking lock, but allowed in a read section).
 * Allocations may also be made to fail on a test's request
 * (alloc_fault.h), so that the paths taken when memory runs out run too.
 *
 * A report names the call's callers by their frames (module+offset, for
 * addr2line), since the call site has no source location to give.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "sync/alloc_fault.h"
#include "sync/lockdep.h"
#include "util/compiler.h"

#ifdef UHOMA_LOCKDEP

/* The __wrap_ and __real_ functions are named only by the linker's
 * --wrap: nothing includes a prototype of them. */
#pragma GCC diagnostic ignored "-Wmissing-prototypes"

/* Where the wrapped call came from, for the report: its callers, each
 * as module+offset (for addr2line -f -i -e MODULE OFFSET), innermost
 * first. Kept per thread: a hook may read the report after the call. */
static __thread char where[512];

static struct uh_srcloc caller(const void *ret)
{
	void *frames[12];
	int n = backtrace(frames, 12), first = 0;
	size_t len = 0;

	/* The frames from the wrapped call's caller (@ret) out; this file's
	 * own are left out. */
	while (first < n && frames[first] != ret)
		first++;
	if (first == n) {
		memcpy(&frames[0], &ret, sizeof(ret));
		first = 0;
		n = 1;
	}
	where[0] = 0;
	for (int i = first; i < n && len + 1 < sizeof(where); i++) {
		Dl_info info;
		const char *mod = "?";
		unsigned long off = (unsigned long)frames[i];

		if (dladdr(frames[i], &info) && info.dli_fname) {
			const char *slash = strrchr(info.dli_fname, '/');

			mod = slash ? slash + 1 : info.dli_fname;
			off = (unsigned long)((char *)frames[i] -
					      (char *)info.dli_fbase);
		}
		len += (size_t)snprintf(where + len, sizeof(where) - len,
					"%s%s+%#lx", i > first ? " < " : "", mod,
					off);
	}
	return (struct uh_srcloc){ where, 0 };
}

/* Nothing held, no read section: nothing to check (the common case, and
 * the only cost the wrap adds to it). */
static bool idle(void)
{
	return uh_lockdep_depth() == 0 && uh_lockdep_rcu_depth() == 0;
}

static void blocks(const char *what, const void *ret)
{
	if (!idle())
		uh_lockdep_might_block(what, caller(ret));
}

static void sleeps(const char *what, const void *ret)
{
	if (!idle())
		uh_lockdep_might_sleep(what, caller(ret));
}

/* A system call on @fd: a sleep unless @fd is non-blocking or @flags has
 * MSG_DONTWAIT. */
static void on_fd(const char *what, int fd, int flags, const void *ret)
{
	int fl;

	if (idle())
		return;
	fl = fcntl(fd, F_GETFL);
	if ((flags & MSG_DONTWAIT) || (fl != -1 && (fl & O_NONBLOCK)))
		uh_lockdep_might_block(what, caller(ret));
	else
		uh_lockdep_might_sleep(what, caller(ret));
}

static void on_timeout_ms(const char *what, int ms, const void *ret)
{
	if (ms == 0)
		blocks(what, ret);
	else
		sleeps(what, ret);
}

#define RET __builtin_return_address(0)

/* ---- allocation ---------------------------------------------------------- */

/* A failed allocation (alloc_fault.h): NULL, errno ENOMEM, as libc's. */
static void *fail_null(void)
{
	errno = ENOMEM;
	return NULL;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__real_aligned_alloc(size_t align, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__real_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off);
int __real_munmap(void *a, size_t n);

void *__wrap_malloc(size_t n)
{
	blocks("malloc", RET);
	return uh_alloc_fault_now() ? fail_null() : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	blocks("calloc", RET);
	return uh_alloc_fault_now() ? fail_null() : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	blocks("realloc", RET);
	return uh_alloc_fault_now() ? fail_null() : __real_realloc(p, n);
}

void __wrap_free(void *p)
{
	if (p)
		blocks("free", RET);
	__real_free(p);
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
	blocks("aligned_alloc", RET);
	return uh_alloc_fault_now() ? fail_null()
				    : __real_aligned_alloc(align, n);
}

int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
	blocks("posix_memalign", RET);
	return uh_alloc_fault_now() ? ENOMEM
				    : __real_posix_memalign(p, align, n);
}

char *__wrap_strdup(const char *s)
{
	blocks("strdup", RET);
	return uh_alloc_fault_now() ? fail_null() : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	blocks("strndup", RET);
	return uh_alloc_fault_now() ? fail_null() : __real_strndup(s, n);
}

void *__wrap_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off)
{
	blocks("mmap", RET);
	if (uh_alloc_fault_now()) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return __real_mmap(a, n, prot, flags, fd, off);
}

int __wrap_munmap(void *a, size_t n)
{
	blocks("munmap", RET);
	return __real_munmap(a, n);
}

/* ---- system calls on descriptors ----------------------------------------- */

ssize_t __real_read(int fd, void *b, size_t n);
ssize_t __real_write(int fd, const void *b, size_t n);
ssize_t __real_readv(int fd, const struct iovec *v, int n);
ssize_t __real_writev(int fd, const struct iovec *v, int n);
ssize_t __real_recv(int fd, void *b, size_t n, int flags);
ssize_t __real_recvfrom(int fd, void *b, size_t n, int flags,
			struct sockaddr *a, socklen_t *alen);
ssize_t __real_recvmsg(int fd, struct msghdr *m, int flags);
int __real_recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags,
		    struct timespec *t);
ssize_t __real_send(int fd, const void *b, size_t n, int flags);
ssize_t __real_sendto(int fd, const void *b, size_t n, int flags,
		      const struct sockaddr *a, socklen_t alen);
ssize_t __real_sendmsg(int fd, const struct msghdr *m, int flags);
int __real_sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags);
int __real_connect(int fd, const struct sockaddr *a, socklen_t alen);
int __real_close(int fd);

ssize_t __wrap_read(int fd, void *b, size_t n)
{
	on_fd("read", fd, 0, RET);
	return __real_read(fd, b, n);
}

ssize_t __wrap_write(int fd, const void *b, size_t n)
{
	on_fd("write", fd, 0, RET);
	return __real_write(fd, b, n);
}

ssize_t __wrap_readv(int fd, const struct iovec *v, int n)
{
	on_fd("readv", fd, 0, RET);
	return __real_readv(fd, v, n);
}

ssize_t __wrap_writev(int fd, const struct iovec *v, int n)
{
	on_fd("writev", fd, 0, RET);
	return __real_writev(fd, v, n);
}

ssize_t __wrap_recv(int fd, void *b, size_t n, int flags)
{
	on_fd("recv", fd, flags, RET);
	return __real_recv(fd, b, n, flags);
}

ssize_t __wrap_recvfrom(int fd, void *b, size_t n, int flags,
			struct sockaddr *a, socklen_t *alen)
{
	on_fd("recvfrom", fd, flags, RET);
	return __real_recvfrom(fd, b, n, flags, a, alen);
}

ssize_t __wrap_recvmsg(int fd, struct msghdr *m, int flags)
{
	on_fd("recvmsg", fd, flags, RET);
	return __real_recvmsg(fd, m, flags);
}

int __wrap_recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags,
		    struct timespec *t)
{
	on_fd("recvmmsg", fd, flags, RET);
	return __real_recvmmsg(fd, v, n, flags, t);
}

ssize_t __wrap_send(int fd, const void *b, size_t n, int flags)
{
	on_fd("send", fd, flags, RET);
	return __real_send(fd, b, n, flags);
}

ssize_t __wrap_sendto(int fd, const void *b, size_t n, int flags,
		      const struct sockaddr *a, socklen_t alen)
{
	on_fd("sendto", fd, flags, RET);
	return __real_sendto(fd, b, n, flags, a, alen);
}

ssize_t __wrap_sendmsg(int fd, const struct msghdr *m, int flags)
{
	on_fd("sendmsg", fd, flags, RET);
	return __real_sendmsg(fd, m, flags);
}

int __wrap_sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	on_fd("sendmmsg", fd, flags, RET);
	return __real_sendmmsg(fd, v, n, flags);
}

int __wrap_connect(int fd, const struct sockaddr *a, socklen_t alen)
{
	int type = 0;
	socklen_t len = sizeof(type);

	/* A datagram socket's connect only looks up a route: bounded work
	 * that waits for nobody (the route and MTU lookups, iface.c). */
	if (!idle() && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	    type != SOCK_STREAM && type != SOCK_SEQPACKET)
		blocks("connect", RET);
	else
		on_fd("connect", fd, 0, RET);
	return __real_connect(fd, a, alen);
}

int __wrap_close(int fd)
{
	blocks("close", RET);
	return __real_close(fd);
}

/* ---- waits --------------------------------------------------------------- */

int __real_poll(struct pollfd *f, nfds_t n, int ms);
int __real_ppoll(struct pollfd *f, nfds_t n, const struct timespec *t,
		 const sigset_t *mask);
int __real_epoll_wait(int ep, struct epoll_event *e, int n, int ms);
int __real_epoll_pwait(int ep, struct epoll_event *e, int n, int ms,
		       const sigset_t *mask);
int __real_select(int n, fd_set *r, fd_set *w, fd_set *x, struct timeval *t);
int __real_nanosleep(const struct timespec *t, struct timespec *rem);
int __real_clock_nanosleep(clockid_t c, int flags, const struct timespec *t,
			   struct timespec *rem);
int __real_usleep(useconds_t us);
int __real_pthread_mutex_lock(pthread_mutex_t *m);
int __real_pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m);
int __real_pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
				  const struct timespec *t);
int __real_pthread_join(pthread_t th, void **ret);
int __real_sem_wait(sem_t *s);
int __real_sem_timedwait(sem_t *s, const struct timespec *t);
int __real_sigwaitinfo(const sigset_t *set, siginfo_t *info);
int __real_sigtimedwait(const sigset_t *set, siginfo_t *info,
			const struct timespec *t);

static bool zero_ts(const struct timespec *t)
{
	return t && t->tv_sec == 0 && t->tv_nsec == 0;
}

int __wrap_poll(struct pollfd *f, nfds_t n, int ms)
{
	on_timeout_ms("poll", ms, RET);
	return __real_poll(f, n, ms);
}

int __wrap_ppoll(struct pollfd *f, nfds_t n, const struct timespec *t,
		 const sigset_t *mask)
{
	on_timeout_ms("ppoll", zero_ts(t) ? 0 : -1, RET);
	return __real_ppoll(f, n, t, mask);
}

int __wrap_epoll_wait(int ep, struct epoll_event *e, int n, int ms)
{
	on_timeout_ms("epoll_wait", ms, RET);
	return __real_epoll_wait(ep, e, n, ms);
}

int __wrap_epoll_pwait(int ep, struct epoll_event *e, int n, int ms,
		       const sigset_t *mask)
{
	on_timeout_ms("epoll_pwait", ms, RET);
	return __real_epoll_pwait(ep, e, n, ms, mask);
}

int __wrap_select(int n, fd_set *r, fd_set *w, fd_set *x, struct timeval *t)
{
	on_timeout_ms("select", t && !t->tv_sec && !t->tv_usec ? 0 : -1, RET);
	return __real_select(n, r, w, x, t);
}

int __wrap_nanosleep(const struct timespec *t, struct timespec *rem)
{
	sleeps("nanosleep", RET);
	return __real_nanosleep(t, rem);
}

int __wrap_clock_nanosleep(clockid_t c, int flags, const struct timespec *t,
			   struct timespec *rem)
{
	sleeps("clock_nanosleep", RET);
	return __real_clock_nanosleep(c, flags, t, rem);
}

int __wrap_usleep(useconds_t us)
{
	sleeps("usleep", RET);
	return __real_usleep(us);
}

int __wrap_pthread_mutex_lock(pthread_mutex_t *m)
{
	/* A lock the validator does not know (the carriers' own): as a
	 * sleeping class's, never under a non-blocking one (rule 5), but
	 * allowed in a read section, as any lock is. */
	blocks("pthread_mutex_lock", RET);
	return __real_pthread_mutex_lock(m);
}

int __wrap_pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	sleeps("pthread_cond_wait", RET);
	return __real_pthread_cond_wait(c, m);
}

int __wrap_pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
				  const struct timespec *t)
{
	sleeps("pthread_cond_timedwait", RET);
	return __real_pthread_cond_timedwait(c, m, t);
}

int __wrap_pthread_join(pthread_t th, void **ret)
{
	sleeps("pthread_join", RET);
	return __real_pthread_join(th, ret);
}

int __wrap_sem_wait(sem_t *s)
{
	sleeps("sem_wait", RET);
	return __real_sem_wait(s);
}

int __wrap_sem_timedwait(sem_t *s, const struct timespec *t)
{
	sleeps("sem_timedwait", RET);
	return __real_sem_timedwait(s, t);
}

int __wrap_sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	sleeps("sigwaitinfo", RET);
	return __real_sigwaitinfo(set, info);
}

int __wrap_sigtimedwait(const sigset_t *set, siginfo_t *info,
			const struct timespec *t)
{
	on_timeout_ms("sigtimedwait", zero_ts(t) ? 0 : -1, RET);
	return __real_sigtimedwait(set, info, t);
}

#endif /* UHOMA_LOCKDEP */
