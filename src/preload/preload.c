/*
 * preload.c - libuhoma-preload.so: runs programs written for the Linux
 * Homa module's socket API on uhoma, unchanged (LD_PRELOAD).
 *
 * socket(AF_INET or AF_INET6, SOCK_DGRAM, IPPROTO_HOMA) opens a uhoma
 * socket on the process's one stack (created on first use from
 * UHOMA_CONFIG; address "::" unless UHOMA_CONFIG names one) and returns a
 * duplicate of its readiness descriptor: poll, select and epoll work on it
 * as they would on a kernel Homa socket (readable while a message waits or
 * after shutdown; writable while the send budget is not spent). Every
 * call the module implements is intercepted on those descriptors and
 * mapped to the uhoma API with the
 * module's argument checks and errno values (homa-protocol.md §2);
 * everything else, and every other descriptor, goes to libc untouched.
 *
 * Differences, all documented in uhoma(7): Homa descriptors are
 * close-on-exec (a user-space socket cannot survive exec); in a fork child
 * the inherited ones fail with EBADFD (their stack's threads stayed in the
 * parent), and the child's first Homa socket makes the child's own stack
 * (runtime/fork.h makes that safe); of the SOL_SOCKET options SO_SNDBUF
 * sets the send budget (by Linux's rule), the rest are accepted and
 * ignored.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "api/api.h"
#include "api/readiness.h"
#include "api/recv_signals.h"
#include "api/usermem.h"
#include "core/config.h"
#include "core/sock.h"
#include "core/stack.h"
#include "net/ownfd.h"
#include "runtime/signals.h"
#include "util/addr.h"
#include "preload/fdtable.h"
#include "preload/regions.h"
#include "preload/sigwatch.h"

#define EXPORT __attribute__((visibility("default")))

/* recvmsg reports an abort's errno through uhoma codes below this. */
#define ERRNO_CODE_BASE (-65536)

static struct {
	int (*socket)(int, int, int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*getpeername)(int, struct sockaddr *, socklen_t *);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	int (*getsockopt)(int, int, int, void *, socklen_t *);
	ssize_t (*sendmsg)(int, const struct msghdr *, int);
	ssize_t (*recvmsg)(int, struct msghdr *, int);
	int (*poll)(struct pollfd *, nfds_t, int);
	int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *,
		     const sigset_t *);
	int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
	int (*pselect)(int, fd_set *, fd_set *, fd_set *,
		       const struct timespec *, const sigset_t *);
	int (*epoll_ctl)(int, int, int, struct epoll_event *);
	ssize_t (*sendto)(int, const void *, size_t, int,
			  const struct sockaddr *, socklen_t);
	ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *,
			    socklen_t *);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*recv)(int, void *, size_t, int);
	ssize_t (*read)(int, void *, size_t);
	ssize_t (*write)(int, const void *, size_t);
	ssize_t (*readv)(int, const struct iovec *, int);
	ssize_t (*writev)(int, const struct iovec *, int);
	ssize_t (*__read_chk)(int, void *, size_t, size_t);
	ssize_t (*__recv_chk)(int, void *, size_t, size_t, int);
	ssize_t (*__recvfrom_chk)(int, void *, size_t, size_t, int,
				  struct sockaddr *, socklen_t *);
	int (*sendmmsg)(int, struct mmsghdr *, unsigned, int);
	int (*recvmmsg)(int, struct mmsghdr *, unsigned, int,
			struct timespec *);
	int (*ioctl)(int, unsigned long, ...);
	int (*fcntl)(int, int, ...);
	int (*shutdown)(int, int);
	int (*close)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*close_range)(unsigned, unsigned, int);
	void (*closefrom)(int);
} real;                   /* set once, by resolve() under real_once */

static pthread_once_t real_once = PTHREAD_ONCE_INIT;
/* Outside uhoma's validator, as the application's: held across
 * uhoma_stack_create (docs/design.md §3.3). */
static pthread_mutex_t stack_lock = PTHREAD_MUTEX_INITIALIZER;
static struct uhoma_stack *stack;          /* stack_lock */
/* An inherited descriptor nothing will ever update: it is made readable,
 * so that a program polling it learns at once (its recvmsg fails with
 * EBADFD) rather than wait forever. Its number is pointed at a readable
 * eventfd of the child's own: the inherited one is shared with the parent,
 * whose readiness must not change. */
static void stale_readable(int fd)
{
	int e = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);

	if (e < 0)
		return;
	if (e != fd)
		(void)real.dup3(e, fd, O_CLOEXEC);
	real.close(e);
}

/* The process whose descriptor table the preload's describes (set once
 * resolved, and by a fork child for itself). */
static _Atomic pid_t owner_pid;

/*
 * Whether the calling process's descriptor table is that one: not so in a
 * vfork child (or a clone without CLONE_FILES), which shares the
 * preload's memory but has a copy of the descriptors. Its close, dup2 or
 * closefrom before exec acts on its copy only, and must not shut down the
 * parent's Homa sockets (helper-44: a vfork child's close loop did). A
 * system call: asked only for a call that would change the table.
 */
static bool table_ours(void)
{
	return getpid() == atomic_load_explicit(&owner_pid,
						memory_order_relaxed);
}

static void child_after_fork(void)
{
	atomic_store(&owner_pid, getpid());
	/* The parent's stack has no threads here, and its locks may have
	 * been held by threads that did not come along: never touch it. The
	 * first Homa socket of the child makes the child's own stack (the
	 * library's fork handlers, runtime/fork.h, left its process-wide
	 * state usable); inherited descriptors fail with EBADFD. */
	pthread_mutex_init(&stack_lock, NULL);
	stack = NULL;
	fdt_mark_stale(stale_readable);
	regions_forget_all();
}

static void resolve(void)
{
#define R(name) real.name = (__typeof__(real.name))dlsym(RTLD_NEXT, #name)
	R(socket); R(bind); R(getsockname); R(getpeername); R(connect);
	R(listen); R(accept); R(accept4);
	R(setsockopt); R(getsockopt); R(sendmsg); R(recvmsg); R(sendto);
	R(recvfrom); R(send); R(recv); R(read); R(write); R(ioctl); R(fcntl);
	R(readv); R(writev); R(__read_chk); R(__recv_chk); R(__recvfrom_chk);
	R(sendmmsg); R(recvmmsg);
	R(shutdown); R(close); R(dup); R(dup2); R(dup3);
	R(close_range); R(closefrom);
	R(poll); R(ppoll); R(select); R(pselect); R(epoll_ctl);
#undef R
	atomic_store(&owner_pid, getpid());
	pthread_atfork(NULL, NULL, child_after_fork);
}

static void need_real(void)
{
	pthread_once(&real_once, resolve);
}

/* Records @fmt as the socket's last error (HOMAIOCINFO's error_msg), sets
 * errno to @e and returns -1. */
__attribute__((format(printf, 3, 4)))
static int fail(struct hsock *h, int e, const char *fmt, ...)
{
	va_list ap;

	if (h) {
		pthread_mutex_lock(&h->lock);
		va_start(ap, fmt);
		vsnprintf(h->err, sizeof(h->err), fmt, ap);
		va_end(ap);
		pthread_mutex_unlock(&h->lock);
	}
	errno = e;
	return -1;
}

/* The module's errno for a uhoma code, where it differs from the generic
 * mapping, and the errno an abort carried. */
static int errno_of(int code)
{
	if (code <= ERRNO_CODE_BASE)
		return ERRNO_CODE_BASE - code;
	return uhoma_err_to_errno(code);
}

static int fail_code(struct hsock *h, int code, const char *what)
{
	return fail(h, errno_of(code), "%s: %s", what, uhoma_strerror(code));
}

/*
 * The process's stack, created on first use. NULL with *@rc set if it
 * cannot be: socket() then fails with that code's errno (EPERM for the
 * raw-IP carrier without CAP_NET_RAW, EINVAL for a configuration the stack
 * refuses...), not a misleading ENOMEM, and says why on stderr once.
 */
static struct uhoma_stack *get_stack(int *rc)
{
	static bool told;
	struct uhoma_stack *st;

	pthread_mutex_lock(&stack_lock);
	*rc = UHOMA_OK;
	if (!stack) {
		struct uhoma_config cfg;
		const char *env = getenv("UHOMA_CONFIG");

		if (uhoma_config_default(&cfg) != UHOMA_OK) {
			char why[512];

			uh_config_explain(env, why, sizeof(why));
			fprintf(stderr, "uhoma-preload: UHOMA_CONFIG: "
				"ignoring %s\n", why);
		}
		if (!env || !strstr(env, "addr="))
			strcpy(cfg.addr, "::");
		*rc = uhoma_stack_create(&cfg, &stack);
		if (*rc != UHOMA_OK) {
			stack = NULL;
			if (!told)
				fprintf(stderr, "uhoma-preload: cannot start Homa: "
					"%s%s\n", uhoma_strerror(*rc),
					*rc == UHOMA_ERR_PERMISSION &&
					cfg.carrier == UHOMA_CARRIER_IP
					? " (carrier=ip needs CAP_NET_RAW: run "
					  "as root, or leave the default UDP "
					  "carrier)" : "");
			told = true;
		}
	}
	st = stack;
	pthread_mutex_unlock(&stack_lock);
	return st;
}

/* ---- socket, bind, names ------------------------------------------------ */

static int homa_socket(int domain, int type)
{
	struct uhoma_stack *st;
	struct uhoma_sock *s;
	struct hsock *h;
	int rc, fd;

	if (!fdt_init())
		return errno = ENOMEM, -1;
	st = get_stack(&rc);
	if (!st)
		return errno = rc ? errno_of(rc) : ENOMEM, -1;
	/* A socket whose family the stack cannot reach would open, bind and
	 * then fail every send: refuse it here, as a host without that
	 * family would, and say why once. */
	if (!uh_stack_family_ok(st, domain == AF_INET)) {
		static atomic_bool said;

		if (!atomic_exchange(&said, true))
			fprintf(stderr, "uhoma-preload: UHOMA_CONFIG's addr "
				"reaches only IPv%c; an AF_INET%s Homa socket "
				"needs addr=:: (both families, the default)\n",
				domain == AF_INET ? '6' : '4',
				domain == AF_INET ? "" : "6");
		return errno = EAFNOSUPPORT, -1;
	}
	rc = uhoma_socket(st, 0, &s);
	if (rc) {
		static atomic_bool said;

		/* Say why once, as for a stack that cannot start: a port
		 * that cannot be bound is usually an addr= that is not this
		 * host's. */
		if (!atomic_exchange(&said, true))
			fprintf(stderr, "uhoma-preload: cannot open a Homa "
				"socket: %s%s\n", uhoma_strerror(rc),
				rc == UHOMA_ERR_INVALID_ARGUMENT
				? " (is UHOMA_CONFIG's addr an address of "
				  "this host?)" : "");
		return errno = errno_of(rc), -1;
	}
	/* Close-on-exec always: the socket lives in this process only. */
	/* The descriptor's readiness is kept in step only once the program
	 * polls it (homa_polled): two system calls per message saved for
	 * the usual program, whose threads just block in recvmsg. */
	fd = real.fcntl(uh_readiness_fd(s, false), F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		uhoma_close(s);
		return -1;
	}
	h = fdt_alloc(s, domain);
	if (!h) {
		real.close(fd);
		uhoma_close(s);
		return errno = ENOMEM, -1;
	}
	atomic_store(&h->nonblock, (type & SOCK_NONBLOCK) != 0);
	if (!fdt_install(fd, h)) {
		real.close(fd);
		fdt_put(h);
		return errno = EMFILE, -1;
	}
	fdt_put(h);             /* the slot holds it now */
	return fd;
}

EXPORT int socket(int domain, int type, int protocol)
{
	need_real();
	if (protocol == IPPROTO_HOMA &&
	    (domain == AF_INET || domain == AF_INET6) &&
	    (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_DGRAM) {
		int cs, r, e;

		/* The first makes the stack, under a lock, through the C
		 * library's cancellation points: never unwound there; nor
		 * entered again by a handler (sigwatch.h). */
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
		sigwatch_enter();
		r = homa_socket(domain, type);
		e = errno;
		pthread_setcancelstate(cs, NULL);
		sigwatch_leave();
		errno = e;
		return r;
	}
	return real.socket(domain, type, protocol);
}

/* Checks @sa against the socket's family; the port in *@port. */
static int parse_addr(struct hsock *h, const struct sockaddr *sa,
		      socklen_t len, uint16_t *port)
{
	if (!sa || len < sizeof(sa_family_t))
		return fail(h, EINVAL, "no address");
	if (sa->sa_family != h->family)
		return fail(h, EAFNOSUPPORT, "address family %d on an %s "
			    "socket", sa->sa_family,
			    h->family == AF_INET ? "AF_INET" : "AF_INET6");
	if (len < (h->family == AF_INET ? sizeof(struct sockaddr_in)
					: sizeof(struct sockaddr_in6)))
		return fail(h, EINVAL, "address length %u too short",
			    (unsigned)len);
	*port = ntohs(h->family == AF_INET
			      ? ((const struct sockaddr_in *)(const void *)sa)->sin_port
			      : ((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return 0;
}

/* Writes the peer in @ss (any family) as the socket's family: an IPv4
 * peer of an AF_INET6 socket in its v4-mapped form, as the module does. */
static socklen_t to_family(const struct hsock *h,
			   const struct sockaddr_storage *ss,
			   struct sockaddr_storage *out)
{
	struct sockaddr_in6 *in6 = (void *)out;
	struct uh_addr a;
	uint16_t port;
	uint32_t len;

	memset(out, 0, sizeof(*out));
	if (uh_addr_from_sockaddr((const struct sockaddr *)ss, sizeof(*ss), &a,
				  &port))
		return 0;
	if (h->family == AF_INET || !uh_addr_is_v4(&a)) {
		uh_addr_to_sockaddr(&a, port, out, &len);
		return len;
	}
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	memcpy(&in6->sin6_addr, a.b, 16);   /* uh_addr is v4-mapped already */
	return sizeof(*in6);
}

#define STALE_CHECK(h)                                                    \
	do {                                                              \
		if (atomic_load(&(h)->stale))                             \
			return fail(NULL, EBADFD, "inherited across fork"); \
	} while (0)

static int homa_bind(struct hsock *h, const struct sockaddr *sa,
		     socklen_t len)
{
	struct sockaddr_storage ss;
	uint16_t port;
	int rc;

	STALE_CHECK(h);
	/* As the kernel's bind: the address is copied in first. */
	if (len > sizeof(ss))
		return fail(h, EINVAL, "address length %u", (unsigned)len);
	uh_user_begin();
	if (sa && uh_user_read(&ss, sa, len))
		return fail(h, EFAULT, "address not readable");
	if (parse_addr(h, sa ? (const struct sockaddr *)&ss : NULL, len,
		       &port))
		return -1;
	if (port == 0)
		return 0;
	if (port >= HOMA_MIN_DEFAULT_PORT)
		return fail(h, EINVAL, "port %u is not below %u", port,
			    HOMA_MIN_DEFAULT_PORT);
	rc = uhoma_bind(h->s, port);
	if (rc == UHOMA_ERR_PERMISSION) {
		/* The UDP port is privileged here; the module would allow
		 * the Homa port. EACCES, as Linux says for such ports. */
		static atomic_bool said;

		if (!atomic_exchange(&said, true))
			fprintf(stderr, "uhoma-preload: Homa port %u is UDP "
				"port %u + port_offset, which needs "
				"CAP_NET_BIND_SERVICE here: set UHOMA_CONFIG="
				"port_offset=N (the same N on every host; Homa "
				"port P then uses UDP port P+N), or lower "
				"net.ipv4.ip_unprivileged_port_start\n",
				port, port);
		return fail(h, EACCES, "bind: Homa port %u needs a privileged "
			    "UDP port (UHOMA_CONFIG port_offset)", port);
	}
	return rc ? fail_code(h, rc, "bind") : 0;
}

EXPORT int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct hsock *h;
	int r;

	need_real();
	h = fdt_get(fd);
	if (!h)
		return real.bind(fd, sa, len);
	r = homa_bind(h, sa, len);
	fdt_put(h);
	return r;
}

EXPORT int getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct hsock *h;
	struct sockaddr_storage ss;
	socklen_t n, room;

	need_real();
	h = fdt_get(fd);
	if (!h)
		return real.getsockname(fd, sa, len);
	if (atomic_load(&h->stale)) {
		fdt_put(h);
		return errno = EBADFD, -1;   /* inherited across fork */
	}
	memset(&ss, 0, sizeof(ss));
	if (h->family == AF_INET) {
		struct sockaddr_in *in = (void *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(uhoma_port(h->s));
		n = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (void *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(uhoma_port(h->s));
		n = sizeof(*in6);
	}
	fdt_put(h);
	uh_user_begin();
	if (!sa || !len || uh_user_read(&room, len, sizeof(room)) ||
	    uh_user_write(sa, &ss, room < n ? room : n) ||
	    uh_user_write(len, &n, sizeof(n)))
		return errno = EFAULT, -1;
	return 0;
}

EXPORT int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct hsock *h;

	need_real();
	h = fdt_get(fd);
	if (!h)
		return real.getpeername(fd, sa, len);
	fdt_put(h);
	return errno = ENOTCONN, -1;     /* Homa sockets have no peer */
}

/* Fails with EOPNOTSUPP, as the module's connection calls do, if @fd is a
 * Homa descriptor; returns 0 (not one: call @real) otherwise. */
static int homa_unsupported(int fd)
{
	struct hsock *h;

	need_real();
	h = fdt_get(fd);
	if (!h)
		return 0;
	fdt_put(h);
	errno = EOPNOTSUPP;
	return -1;
}

EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return homa_unsupported(fd) ? -1 : real.connect(fd, sa, len);
}

/* Homa has no connections: listen and accept fail as in the module
 * (EOPNOTSUPP), not with ENOTSOCK from the eventfd underneath. */
EXPORT int listen(int fd, int backlog)
{
	return homa_unsupported(fd) ? -1 : real.listen(fd, backlog);
}

EXPORT int accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	return homa_unsupported(fd) ? -1 : real.accept(fd, sa, len);
}

EXPORT int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	return homa_unsupported(fd) ? -1 : real.accept4(fd, sa, len, flags);
}

/* ---- poll, select, epoll ------------------------------------------------ */

/*
 * A Homa descriptor is a readiness descriptor that uhoma keeps readable
 * while a message waits (and writable while the send budget is not
 * spent) -- from the first time the program hands it to poll,
 * ppoll, select, pselect or epoll_ctl, which these wrappers see before
 * libc does: until then nobody can be looking, and keeping it in step
 * would cost a write and a read per message. (A program that reaches the
 * descriptor only through other means -- io_uring, a raw system call --
 * should call poll on it once first; uhoma(7).)
 */
static void homa_polled(int fd)
{
	struct hsock *h = fdt_get(fd);

	if (h) {
		/* (Not an inherited one: its socket is the parent's.) */
		if (!atomic_load(&h->stale))
			(void)uhoma_fd(h->s);   /* starts keeping it in step */
		fdt_put(h);
	}
}

/*
 * The caller's arrays are read through usermem, a chunk at a time, and
 * only as far as a Homa descriptor can be (fdt_high): one the process
 * cannot read, or an nfds the kernel refuses, ends the scan and is left
 * to the kernel's call, which says so (EFAULT, EINVAL).
 */
#define SCAN_CHUNK 64

static void polled_fds(const struct pollfd *fds, nfds_t n)
{
	struct pollfd c[SCAN_CHUNK];
	int high = fdt_high();

	if (high < 0 || !fds || n > (1u << 20))
		return;
	uh_user_begin();
	for (nfds_t i = 0; i < n; i += SCAN_CHUNK) {
		nfds_t k = n - i < SCAN_CHUNK ? n - i : SCAN_CHUNK;

		if (uh_user_read(c, fds + i, k * sizeof(c[0])))
			return;
		for (nfds_t j = 0; j < k; j++)
			if (c[j].fd >= 0 && c[j].fd <= high)
				homa_polled(c[j].fd);
	}
}

/* The descriptors below @nfds in the caller's @set (the kernel takes sets
 * larger than FD_SETSIZE: the caller allocates nfds bits; FD_ISSET would
 * abort under _FORTIFY_SOURCE). */
static void polled_set(int nfds, const fd_set *set)
{
	const size_t bits = 8 * sizeof(unsigned long);
	size_t words = ((size_t)nfds + bits - 1) / bits;
	unsigned long w[SCAN_CHUNK];

	for (size_t at = 0; set && at < words; at += SCAN_CHUNK) {
		size_t k = words - at < SCAN_CHUNK ? words - at : SCAN_CHUNK;

		if (uh_user_read(w, (const unsigned long *)(const void *)set +
					    at, k * sizeof(w[0])))
			return;
		for (size_t i = 0; i < k; i++)
			for (unsigned long m = w[i]; m; m &= m - 1) {
				size_t fd = (at + i) * bits +
					    (size_t)__builtin_ctzl(m);

				if (fd < (size_t)nfds)
					homa_polled((int)fd);
			}
	}
}

static void polled_sets(int nfds, const fd_set *r, const fd_set *w,
			const fd_set *e)
{
	int high = fdt_high();

	if (high < 0 || nfds <= 0)
		return;
	if (nfds > high + 1)
		nfds = high + 1;
	uh_user_begin();
	polled_set(nfds, r);
	polled_set(nfds, w);
	polled_set(nfds, e);
}

EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	need_real();
	polled_fds(fds, n);
	return real.poll(fds, n, timeout);
}

/* glibc's _FORTIFY_SOURCE entry points for poll and ppoll. */
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		const sigset_t *mask, size_t fdslen);

EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout,
		      size_t fdslen)
{
	(void)fdslen;
	return poll(fds, n, timeout);
}

EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		 const sigset_t *mask)
{
	need_real();
	polled_fds(fds, n);
	return real.ppoll(fds, n, ts, mask);
}

EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n,
		       const struct timespec *ts, const sigset_t *mask,
		       size_t fdslen)
{
	(void)fdslen;
	return ppoll(fds, n, ts, mask);
}

EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e,
		  struct timeval *tv)
{
	need_real();
	polled_sets(nfds, r, w, e);
	return real.select(nfds, r, w, e, tv);
}

EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e,
		   const struct timespec *ts, const sigset_t *mask)
{
	need_real();
	polled_sets(nfds, r, w, e);
	return real.pselect(nfds, r, w, e, ts, mask);
}

EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	need_real();
	if (op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD)
		homa_polled(fd);
	return real.epoll_ctl(epfd, op, fd, ev);
}

/* The kernel's net.core.wmem_max, read once (Debian's default if it
 * cannot be read). */
static uint32_t wmem_max(void)
{
	static _Atomic uint32_t cached;
	uint32_t v = atomic_load_explicit(&cached, memory_order_relaxed);
	unsigned long long r;
	FILE *f;

	if (v)
		return v;
	v = 212992;
	f = fopen("/proc/sys/net/core/wmem_max", "re");
	if (f) {
		if (fscanf(f, "%llu", &r) == 1 && r > 0 && r <= INT32_MAX)
			v = (uint32_t)r;
		fclose(f);
	}
	atomic_store_explicit(&cached, v, memory_order_relaxed);
	return v;
}

/* What Linux makes of SO_SNDBUF @v: min(@v as unsigned, wmem_max) * 2,
 * and no less than SOCK_MIN_SNDBUF (2 * (2048 + sizeof(struct sk_buff))
 * on x86-64: 4608). */
static size_t linux_sndbuf(int v)
{
	uint32_t u = (uint32_t)v, max = wmem_max();
	size_t b = 2 * (size_t)(u < max ? u : max);

	return b < 4608 ? 4608 : b;
}

/* ---- socket options ----------------------------------------------------- */

static int homa_setsockopt(struct hsock *h, int level, int opt,
			   const void *val, socklen_t len)
{
	int rc;

	STALE_CHECK(h);
	uh_user_begin();
	if (level == SOL_SOCKET && opt == SO_SNDBUF) {
		int v;

		if (len < sizeof(int) || !val)
			return fail(h, EINVAL, "SO_SNDBUF needs an int");
		if (uh_user_read(&v, val, sizeof(v)))
			return fail(h, EFAULT, "option value not readable");
		/* The send budget (uhoma(7)), by Linux's rule for
		 * SO_SNDBUF: clamped to wmem_max (a negative value, taken
		 * unsigned, to it too), doubled, and at least
		 * SOCK_MIN_SNDBUF. */
		rc = uhoma_set_sndbuf(h->s, linux_sndbuf(v));
		return rc ? fail_code(h, rc, "SO_SNDBUF") : 0;
	}
	if (level == SOL_SOCKET)
		return 0;     /* other sizes and the like: nothing to do */
	if (level != IPPROTO_HOMA)
		return fail(h, ENOPROTOOPT, "option level %d", level);
	if (opt == SO_HOMA_RCVBUF) {
		struct homa_rcvbuf_args a;

		if (len != sizeof(a) || !val)
			return fail(h, EINVAL, "SO_HOMA_RCVBUF needs struct "
				    "homa_rcvbuf_args (%zu bytes)", sizeof(a));
		if (uh_user_read(&a, val, sizeof(a)))
			return fail(h, EFAULT, "option value not readable");
		rc = uhoma_set_buffers(h->s, (void *)(uintptr_t)a.start,
				       a.length);
		if (rc)
			return fail_code(h, rc, "SO_HOMA_RCVBUF");
		pthread_mutex_lock(&h->lock);
		h->rcvbuf = a;
		pthread_mutex_unlock(&h->lock);
		/* Kept mapped until the socket closes (regions.h); on no
		 * memory for the record, as before: the program's care. */
		(void)regions_add(h, (void *)(uintptr_t)a.start, a.length);
		return 0;
	}
	if (opt == SO_HOMA_SERVER) {
		int on;

		if (len != sizeof(int) || !val)
			return fail(h, EINVAL, "SO_HOMA_SERVER needs an int");
		if (uh_user_read(&on, val, sizeof(on)))
			return fail(h, EFAULT, "option value not readable");
		rc = uhoma_set_server(h->s, on);
		return rc ? fail_code(h, rc, "SO_HOMA_SERVER") : 0;
	}
	return fail(h, ENOPROTOOPT, "unknown option %d", opt);
}

EXPORT int setsockopt(int fd, int level, int opt, const void *val,
		      socklen_t len)
{
	struct hsock *h;
	int r;

	need_real();
	h = fdt_get(fd);
	if (!h)
		return real.setsockopt(fd, level, opt, val, len);
	r = homa_setsockopt(h, level, opt, val, len);
	fdt_put(h);
	return r;
}

/* Writes @n bytes at @v to the caller's @val, whose room *@len says (read
 * and written back through usermem: a bad pointer is EFAULT). */
static int put_opt(void *val, socklen_t *len, const void *v, socklen_t n)
{
	socklen_t room;

	if (!len || uh_user_read(&room, len, sizeof(room)))
		return errno = EFAULT, -1;
	if (!val || room < n)
		return errno = EINVAL, -1;
	if (uh_user_write(val, v, n) || uh_user_write(len, &n, sizeof(n)))
		return errno = EFAULT, -1;
	return 0;
}

static int put_int(void *val, socklen_t *len, int v)
{
	return put_opt(val, len, &v, sizeof(v));
}

static int homa_getsockopt(struct hsock *h, int level, int opt, void *val,
			   socklen_t *len)
{
	STALE_CHECK(h);
	uh_user_begin();
	if (level == SOL_SOCKET) {
		switch (opt) {
		case SO_TYPE:
			return put_int(val, len, SOCK_DGRAM);
		case SO_DOMAIN:
			return put_int(val, len, h->family);
		case SO_PROTOCOL:
			return put_int(val, len, IPPROTO_HOMA);
		case SO_ERROR:
			return put_int(val, len, 0);
		case SO_SNDBUF: {
			size_t b = uhoma_sndbuf(h->s);

			return put_int(val, len, b > INT32_MAX ? INT32_MAX
							       : (int)b);
		}
		default:
			return fail(h, ENOPROTOOPT, "SOL_SOCKET option %d",
				    opt);
		}
	}
	if (level != IPPROTO_HOMA)
		return fail(h, ENOPROTOOPT, "option level %d", level);
	if (opt == SO_HOMA_SERVER)
		return put_int(val, len, uhoma_is_server(h->s));
	if (opt == SO_HOMA_RCVBUF) {
		struct homa_rcvbuf_args a;

		pthread_mutex_lock(&h->lock);
		a = h->rcvbuf;
		pthread_mutex_unlock(&h->lock);
		return put_opt(val, len, &a, sizeof(a));
	}
	return fail(h, ENOPROTOOPT, "unknown option %d", opt);
}

EXPORT int getsockopt(int fd, int level, int opt, void *val, socklen_t *len)
{
	struct hsock *h;
	int r;

	need_real();
	h = fdt_get(fd);
	if (!h)
		return real.getsockopt(fd, level, opt, val, len);
	r = homa_getsockopt(h, level, opt, val, len);
	fdt_put(h);
	return r;
}

/* ---- sendmsg and recvmsg ------------------------------------------------ */

/*
 * The caller's msghdr, Homa arguments, address and iovec array are copied
 * in once, through api/usermem.h as the module's copy_from_user would
 * (a bad pointer anywhere: EFAULT, not a crash), and only the copies are
 * read after: another thread changing them meanwhile changes at most
 * what is sent, as with the module.
 */
struct msg_in {
	struct msghdr mh;
	struct sockaddr_storage name;
	socklen_t namelen;
	struct iovec few[16], *iov;     /* iov: few, or allocated */
};

static void msg_in_free(struct msg_in *m)
{
	if (m->iov != m->few)
		free(m->iov);
}

/* Copies in @msg's header, address and iovec array: 0, or -1 with errno
 * (EFAULT, EMSGSIZE past UHOMA_MAX_IOV iovecs, ENOMEM). */
static int msg_in_read(struct hsock *h, const struct msghdr *msg,
		       struct msg_in *m)
{
	m->iov = m->few;
	uh_user_begin();
	if (!msg || uh_user_read(&m->mh, msg, sizeof(m->mh)))
		return fail(h, EFAULT, "msghdr not readable");
	m->namelen = m->mh.msg_namelen < sizeof(m->name)
			     ? m->mh.msg_namelen : sizeof(m->name);
	if (m->mh.msg_name &&
	    uh_user_read(&m->name, m->mh.msg_name, m->namelen))
		return fail(h, EFAULT, "msg_name not readable");
	if (m->mh.msg_iovlen > UHOMA_MAX_IOV)
		return fail(h, EMSGSIZE, "more than %d iovecs", UHOMA_MAX_IOV);
	if (m->mh.msg_iovlen > sizeof(m->few) / sizeof(m->few[0]) &&
	    !(m->iov = malloc(m->mh.msg_iovlen * sizeof(*m->iov)))) {
		m->iov = m->few;
		return fail(h, ENOMEM, "no memory for %zu iovecs",
			    (size_t)m->mh.msg_iovlen);
	}
	if (m->mh.msg_iovlen &&
	    (!m->mh.msg_iov ||
	     uh_user_read(m->iov, m->mh.msg_iov,
			  m->mh.msg_iovlen * sizeof(*m->iov)))) {
		msg_in_free(m);
		m->iov = m->few;
		return fail(h, EFAULT, "iovec array not readable");
	}
	return 0;
}

static ssize_t homa_send_in(struct hsock *h, struct msg_in *m, int flags)
{
	struct homa_sendmsg_args a, *ua = m->mh.msg_control;
	const struct sockaddr *name = m->mh.msg_name
					      ? (const void *)&m->name : NULL;
	uint16_t port;
	size_t len = 0;
	int rc;

	if (m->mh.msg_controllen != 0)
		return fail(h, EINVAL, "msg_control must point to struct "
			    "homa_sendmsg_args, with msg_controllen 0");
	/* NULL is an address that cannot be read, as for the module's
	 * copy_from_user. */
	if (!ua)
		return fail(h, EFAULT, "msg_control is NULL: it must point to "
			    "struct homa_sendmsg_args");
	/* Read, and writable for the id that comes back: checked before
	 * anything is sent. */
	if (uh_user_read_rw(&a, ua, sizeof(a)))
		return fail(h, EFAULT, "homa_sendmsg_args not accessible");
	if (a.reserved || (a.flags & ~(uint32_t)HOMA_SENDMSG_VALID_FLAGS))
		return fail(h, EINVAL, "reserved field or unknown flags set "
			    "in homa_sendmsg_args");
	if (parse_addr(h, name, m->namelen, &port))
		return -1;
	for (size_t i = 0; i < m->mh.msg_iovlen; i++)
		len += m->iov[i].iov_len <= HOMA_MAX_MESSAGE_LENGTH
		       ? m->iov[i].iov_len : HOMA_MAX_MESSAGE_LENGTH + 1;
	if (len == 0 || len > HOMA_MAX_MESSAGE_LENGTH)
		return fail(h, EINVAL, "message length %zu not in 1..%d", len,
			    HOMA_MAX_MESSAGE_LENGTH);
	if (a.id == 0) {
		uint64_t id;

		/* The send budget is SO_SNDBUF's: a full one makes a
		 * non-blocking sendmsg fail with EAGAIN, as in the module. */
		unsigned uflags =
			((a.flags & HOMA_SENDMSG_PRIVATE) ? UHOMA_PRIVATE : 0) |
			((flags & MSG_DONTWAIT) || atomic_load(&h->nonblock)
			 ? UHOMA_NONBLOCK : 0);

		/* The parts are gathered in uhoma's one copy. */
		rc = uh_api_sendv_checked(h->s, name, m->namelen, m->iov,
					  m->mh.msg_iovlen,
					  a.completion_cookie, uflags, &id);
		if (rc == UHOMA_ERR_AGAIN)
			uh_readiness_tx_refused(h->s);
		if (rc)
			return fail_code(h, rc, "sendmsg (request)");
		if (uh_user_write(&ua->id, &id, sizeof(id)))
			return fail(h, EFAULT, "homa_sendmsg_args not "
				    "writable");
		return 0;
	}
	if (a.completion_cookie)
		return fail(h, EINVAL, "a response carries no completion "
			    "cookie");
	/* The module answers a response for an RPC it does not have with
	 * 0 (it may have been aborted meanwhile), whatever the id; an even
	 * id names no server RPC at all. */
	if (!(a.id & 1))
		return 0;
	rc = uh_api_replyv_checked(h->s, name, m->namelen, a.id, m->iov,
				   m->mh.msg_iovlen);
	return rc ? fail_code(h, rc, "sendmsg (response)") : 0;
}

static ssize_t homa_sendmsg(struct hsock *h, const struct msghdr *msg,
			    int flags)
{
	struct msg_in m;
	ssize_t r;

	STALE_CHECK(h);
	if (msg_in_read(h, msg, &m))
		return -1;
	r = homa_send_in(h, &m, flags);
	msg_in_free(&m);
	return r;
}

/* A cleanup handler: a call's socket reference, dropped as a
 * cancellation ends the thread in it. */
static void put_ref(void *h)
{
	fdt_put(h);
}

/*
 * The cancellation points (recvmsg, sendmsg): inside, cancellation is
 * disabled and deferred (see recvmsg); the program's state and type in
 * *@c. Deferred whatever the program's type: glibc acting on an
 * asynchronous request as cancellation is enabled ends the thread
 * without PTHREAD_CANCELED (helper-24: pthread_join saw NULL).
 */
struct cancel_state {
	int state, type;
};

static void cancel_hold(struct cancel_state *c)
{
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &c->state);
	pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &c->type);
}

/* A pthread_cancel woke the call: ends the thread here if it was for it
 * (and the program has cancellation enabled). */
static void cancel_act(const struct cancel_state *c)
{
	if (c->state != PTHREAD_CANCEL_ENABLE)
		return;
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	pthread_testcancel();
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
}

/* The program's state and type back. */
static void cancel_release(const struct cancel_state *c)
{
	pthread_setcancelstate(c->state, NULL);
	if (c->type == PTHREAD_CANCEL_ASYNCHRONOUS) {
		pthread_testcancel();
		pthread_setcanceltype(c->type, NULL);
	}
}

/* A cancellation point too, as recvmsg is (see there): a sender waiting
 * for send budget is woken by a pthread_cancel, acts on it if it is
 * for this thread, or sends again (nothing was sent: helper-24's blocked
 * sender ignored the request until the budget came back). */
EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct cancel_state cs;
	struct hsock *h;
	ssize_t r;
	uint64_t cancels;
	int e;

	need_real();
	cancels = uh_signals_cancels();
	h = fdt_get(fd);
	if (!h)
		return real.sendmsg(fd, msg, flags);
	sigwatch_enter();   /* deferred handlers run after all: sigwatch.h */
	pthread_cleanup_push(put_ref, h);
	pthread_testcancel();
	cancel_hold(&cs);
	for (;;) {
		r = homa_sendmsg(h, msg, flags);
		if (r >= 0 || errno != EINTR ||
		    uh_signals_cancels() == cancels)
			break;
		cancels = uh_signals_cancels();
		cancel_act(&cs);
	}
	e = errno;
	pthread_cleanup_pop(0);
	fdt_put(h);
	cancel_release(&cs);
	sigwatch_leave();
	errno = e;
	return r;
}

/*
 * As homa_sendmsg, the caller's msghdr and arguments are copied in once
 * and written back through api/usermem.h. The arguments (which say where
 * the message's pages are) are checked writable before a message is
 * taken, so that a bad pointer there loses no message; an address buffer
 * that cannot be written fails the call after it, as the module's copy
 * out does.
 */
static ssize_t recvmsg_checked(struct hsock *h, struct msghdr *msg,
			       int flags, struct uh_recv_signals *sig);

/* A blocking recvmsg keeps the thread's signals blocked from its entry,
 * before its argument checks, so that a signal during them is EINTR in
 * the wait, as under the module (api/recv_signals.h). *@cancel_woke: it
 * failed with EINTR only because a pthread_cancel was requested since
 * @cancels (runtime/signals.h). */
static ssize_t homa_recvmsg(struct hsock *h, struct msghdr *msg, int flags,
			    uint64_t cancels, bool *cancel_woke)
{
	struct uh_recv_signals sig = UH_RECV_SIGNALS_INIT(cancels);
	ssize_t r;
	int e;

	if (!(flags & MSG_DONTWAIT) && !atomic_load(&h->nonblock))
		uh_recv_signals_block(&sig);
	r = recvmsg_checked(h, msg, flags, &sig);
	e = errno;
	if (sig.blocked)
		uh_recv_signals_restore(&sig);
	*cancel_woke = r < 0 && e == EINTR && sig.cancel_woke;
	errno = e;
	return r;
}

static ssize_t recvmsg_checked(struct hsock *h, struct msghdr *msg,
			       int flags, struct uh_recv_signals *sig)
{
	struct homa_recvmsg_args a, *ua;
	struct uhoma_msg m;
	struct sockaddr_storage ss;
	struct msghdr mh;
	socklen_t n;
	int rc, zero = 0;
	bool bad_name;

	STALE_CHECK(h);
	uh_user_begin();
	if (!msg || uh_user_read_rw(&mh, msg, sizeof(mh)))
		return fail(h, EFAULT, "msghdr not accessible");
	ua = mh.msg_control;
	if (!ua || mh.msg_controllen != sizeof(a))
		return fail(h, EINVAL, "msg_control must point to struct "
			    "homa_recvmsg_args, msg_controllen %zu",
			    sizeof(a));
	if (uh_user_read_rw(&a, ua, sizeof(a)))
		return fail(h, EFAULT, "homa_recvmsg_args not accessible");
	(void)uh_user_write(&msg->msg_flags, &zero, sizeof(zero));
	if (a.reserved)
		return fail(h, EINVAL, "reserved field set in "
			    "homa_recvmsg_args");
	if (a.num_bpages > HOMA_MAX_BPAGES) {
		a.num_bpages = 0;
		(void)uh_user_write(&ua->num_bpages, &a.num_bpages,
				    sizeof(a.num_bpages));
		return fail(h, EINVAL, "num_bpages over %d", HOMA_MAX_BPAGES);
	}
	if (a.num_bpages) {
		rc = uhoma_release(h->s, a.bpage_offsets, a.num_bpages);
		a.num_bpages = 0;
		(void)uh_user_write(&ua->num_bpages, &a.num_bpages,
				    sizeof(a.num_bpages));
		if (rc)
			return fail(h, EINVAL, "returned bpages that the "
				    "application does not hold");
	}
	memset(&m, 0, sizeof(m));
	m.id = a.id;
	rc = uh_api_recv(h->s, &m,
			 (flags & MSG_DONTWAIT) || atomic_load(&h->nonblock)
				 ? UHOMA_NONBLOCK : 0, -1, sig);
	if (rc < 0 && !m.id)
		return fail_code(h, rc, "recvmsg");
	a.id = m.id;
	a.completion_cookie = m.cookie;
	n = to_family(h, &m.peer, &ss);
	bad_name = mh.msg_name &&
		   (uh_user_write(mh.msg_name, &ss,
				  mh.msg_namelen < n ? mh.msg_namelen : n) ||
		    uh_user_write(&msg->msg_namelen, &n, sizeof(n)));
	if (rc >= 0) {
		a.num_bpages = m.num_bpages;
		memcpy(a.bpage_offsets, m.bpage_offsets,
		       m.num_bpages * sizeof(m.bpage_offsets[0]));
	}
	/* Checked writable before the wait: only another thread changing
	 * its mapping since can make this fail, and then the pages are the
	 * application's. */
	if (uh_user_write(ua, &a, sizeof(a)))
		return fail(h, EFAULT, "homa_recvmsg_args not writable");
	if (bad_name)   /* the message's pages are in the arguments */
		return fail(h, EFAULT, "msg_name not writable");
	if (rc < 0)   /* this RPC failed; it is gone now */
		return fail_code(h, rc, "RPC failed");
	return rc;
}

/*
 * recvmsg is a cancellation point, as the module's is: a request pending
 * at its entry, or made while it waits, ends the thread there. Inside,
 * cancellation stays disabled, so that no cancellation point of the C
 * library's that uhoma calls (ppoll, recvmmsg, a condition wait) unwinds
 * the thread with uhoma's state held; a request wakes the wait instead
 * (cancel.c), and is acted on here, where the call holds only its
 * reference to the socket, which a cleanup handler drops. A thread that
 * is not the one cancelled goes back to its wait.
 */
EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct cancel_state cs;
	struct hsock *h;
	ssize_t r;
	uint64_t cancels;
	bool woke;
	int e;

	need_real();
	cancels = uh_signals_cancels();  /* before the check below */
	h = fdt_get(fd);
	if (!h)
		return real.recvmsg(fd, msg, flags);
	sigwatch_enter();   /* deferred handlers run after all: sigwatch.h */
	pthread_cleanup_push(put_ref, h);
	pthread_testcancel();
	cancel_hold(&cs);
	for (;;) {
		r = homa_recvmsg(h, msg, flags, cancels, &woke);
		if (!woke)
			break;
		cancels = uh_signals_cancels();
		cancel_act(&cs);
	}
	e = errno;
	pthread_cleanup_pop(0);
	fdt_put(h);        /* (the last reference closes: still disabled) */
	cancel_release(&cs);
	sigwatch_leave();
	errno = e;
	return r;
}

/* The byte-stream calls make no sense on Homa: the module's answer to a
 * send or receive without homa_*msg_args is EINVAL. */
#define NOT_FOR_HOMA(fd, call)                                            \
	do {                                                              \
		struct hsock *h_ = fdt_get(fd);                           \
		bool stale_;                                              \
		if (!h_)                                                  \
			return call;                                      \
		stale_ = atomic_load(&h_->stale);                         \
		fail(stale_ ? NULL : h_, stale_ ? EBADFD : EINVAL,        \
		     "use sendmsg/recvmsg with Homa's args");             \
		fdt_put(h_);                                              \
		return -1;                                                \
	} while (0)

EXPORT ssize_t sendto(int fd, const void *b, size_t n, int fl,
		      const struct sockaddr *sa, socklen_t len)
{
	need_real();
	NOT_FOR_HOMA(fd, real.sendto(fd, b, n, fl, sa, len));
}

EXPORT ssize_t recvfrom(int fd, void *b, size_t n, int fl, struct sockaddr *sa,
			socklen_t *len)
{
	need_real();
	NOT_FOR_HOMA(fd, real.recvfrom(fd, b, n, fl, sa, len));
}

EXPORT ssize_t send(int fd, const void *b, size_t n, int fl)
{
	need_real();
	NOT_FOR_HOMA(fd, real.send(fd, b, n, fl));
}

EXPORT ssize_t recv(int fd, void *b, size_t n, int fl)
{
	need_real();
	NOT_FOR_HOMA(fd, real.recv(fd, b, n, fl));
}

EXPORT ssize_t read(int fd, void *b, size_t n)
{
	need_real();
	NOT_FOR_HOMA(fd, real.read(fd, b, n));
}

EXPORT ssize_t write(int fd, const void *b, size_t n)
{
	need_real();
	NOT_FOR_HOMA(fd, real.write(fd, b, n));
}

/* The vector and fortified (_FORTIFY_SOURCE) forms of the same: without
 * these, a Homa descriptor's own readiness byte was read (helper-38: a
 * level-triggered epoll then missed a waiting message). */
EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
	need_real();
	NOT_FOR_HOMA(fd, real.readv(fd, iov, n));
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
	need_real();
	NOT_FOR_HOMA(fd, real.writev(fd, iov, n));
}

/* (glibc's fortified entry points: declared by no header.) */
ssize_t __read_chk(int fd, void *b, size_t n, size_t blen);
ssize_t __recv_chk(int fd, void *b, size_t n, size_t blen, int fl);
ssize_t __recvfrom_chk(int fd, void *b, size_t n, size_t blen, int fl,
		       struct sockaddr *sa, socklen_t *len);

EXPORT ssize_t __read_chk(int fd, void *b, size_t n, size_t blen)
{
	need_real();
	NOT_FOR_HOMA(fd, real.__read_chk(fd, b, n, blen));
}

EXPORT ssize_t __recv_chk(int fd, void *b, size_t n, size_t blen, int fl)
{
	need_real();
	NOT_FOR_HOMA(fd, real.__recv_chk(fd, b, n, blen, fl));
}

EXPORT ssize_t __recvfrom_chk(int fd, void *b, size_t n, size_t blen, int fl,
			      struct sockaddr *sa, socklen_t *len)
{
	need_real();
	NOT_FOR_HOMA(fd, real.__recvfrom_chk(fd, b, n, blen, fl, sa, len));
}

/* Whether @fd is one of ours (a moment's look: the call that follows
 * looks again). */
static bool is_homa(int fd)
{
	struct hsock *h = fdt_get(fd);

	if (!h)
		return false;
	fdt_put(h);
	return true;
}

/* sendmmsg and recvmmsg on Homa: the kernel's generic forms, which the
 * module gets, one sendmsg or recvmsg per entry (helper-38: sendmmsg
 * failed with EISCONN, recvmmsg returned readiness bytes as messages).
 * An error on the first entry is the call's; on a later one the count so
 * far is returned (the error is seen by the next call, as the kernel's). */
EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned n, int flags)
{
	unsigned i;

	need_real();
	if (!is_homa(fd))
		return real.sendmmsg(fd, v, n, flags);
	if (n > UIO_MAXIOV)
		n = UIO_MAXIOV;
	for (i = 0; i < n; i++) {
		ssize_t r = sendmsg(fd, &v[i].msg_hdr, flags);

		if (r < 0)
			return i ? (int)i : -1;
		v[i].msg_len = (unsigned)r;
	}
	return (int)i;
}

EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned n, int flags,
		    struct timespec *timeout)
{
	struct timespec end = { 0, 0 }, now;
	unsigned i;

	need_real();
	if (!is_homa(fd))
		return real.recvmmsg(fd, v, n, flags, timeout);
	if (timeout) {
		if (timeout->tv_sec < 0 || timeout->tv_nsec < 0 ||
		    timeout->tv_nsec >= 1000000000)
			return errno = EINVAL, -1;
		clock_gettime(CLOCK_MONOTONIC, &end);
		end.tv_sec += timeout->tv_sec;
		end.tv_nsec += timeout->tv_nsec;
		if (end.tv_nsec >= 1000000000) {
			end.tv_sec++;
			end.tv_nsec -= 1000000000;
		}
	}
	if (n > UIO_MAXIOV)
		n = UIO_MAXIOV;
	for (i = 0; i < n; i++) {
		int fl = flags & ~MSG_WAITFORONE;
		ssize_t r;

		if (i && (flags & MSG_WAITFORONE))
			fl |= MSG_DONTWAIT;
		r = recvmsg(fd, &v[i].msg_hdr, fl);
		if (r < 0)
			return i ? (int)i : -1;
		v[i].msg_len = (unsigned)r;
		/* As the kernel: the time is looked at after each one. */
		if (timeout) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec > end.tv_sec ||
			    (now.tv_sec == end.tv_sec &&
			     now.tv_nsec >= end.tv_nsec))
				return (int)i + 1;
		}
	}
	return (int)i;
}

/* ---- ioctl and fcntl ---------------------------------------------------- */

/* HOMAIOCINFO: the caller's struct and its array copied in and out
 * through usermem (a bad pointer is EFAULT). */
static int homa_info(struct hsock *h, struct homa_info *uinfo)
{
	struct homa_info info;
	size_t max, n;
	struct uhoma_rpc_info *rows = NULL;
	int rc;

	if (!uinfo || uh_user_read_rw(&info, uinfo, sizeof(info)))
		return fail(h, EFAULT, "homa_info not accessible");
	max = info.rpc_info ? info.rpc_info_length /
				      sizeof(struct homa_rpc_info)
			    : 0;
	if (max > 65536)
		max = 65536;
	if (max) {
		rows = calloc(max, sizeof(*rows));
		if (!rows)
			return fail(h, ENOMEM, "no memory for HOMAIOCINFO");
	}
	rc = uhoma_rpc_info(h->s, rows, max);
	if (rc < 0) {
		free(rows);
		return fail_code(h, rc, "HOMAIOCINFO");
	}
	n = (size_t)rc < max ? (size_t)rc : max;
	for (size_t i = 0; i < n; i++) {
		struct homa_rpc_info o;
		struct sockaddr_storage ss;

		memset(&o, 0, sizeof(o));
		o.id = rows[i].id;
		to_family(h, &rows[i].peer, &ss);
		memcpy(&o.peer, &ss, sizeof(o.peer));
		o.completion_cookie = rows[i].cookie;
		o.tx_length = rows[i].tx_length;
		o.tx_sent = rows[i].tx_sent;
		o.tx_granted = rows[i].tx_granted;
		o.tx_prio = rows[i].tx_prio;
		o.rx_length = rows[i].rx_length;
		o.rx_remaining = rows[i].rx_remaining;
		o.rx_gaps = rows[i].rx_gaps;
		o.rx_gap_bytes = rows[i].rx_gap_bytes;
		o.rx_granted = rows[i].rx_granted;
		o.flags = (uint16_t)rows[i].flags;
		if (uh_user_write((struct homa_rpc_info *)(uintptr_t)
					  info.rpc_info + i,
				  &o, sizeof(o))) {
			free(rows);
			return fail(h, EFAULT, "rpc_info not writable");
		}
	}
	free(rows);
	info.bpool_avail_bytes = uhoma_buffers_free(h->s);
	info.port = uhoma_port(h->s);
	info.num_rpcs = (uint32_t)rc;
	pthread_mutex_lock(&h->lock);
	memcpy(info.error_msg, h->err, sizeof(info.error_msg));
	pthread_mutex_unlock(&h->lock);
	if (uh_user_write(uinfo, &info, sizeof(info)))
		return fail(h, EFAULT, "homa_info not writable");
	return 0;
}

static int homa_ioctl(struct hsock *h, unsigned long req, void *arg)
{
	int rc;

	STALE_CHECK(h);
	uh_user_begin();
	if (req == HOMAIOCINFO)
		return homa_info(h, arg);
	if (req == HOMAIOCABORT) {
		struct homa_abort_args ab, *a = &ab;

		if (!arg || uh_user_read(&ab, arg, sizeof(ab)))
			return fail(h, EFAULT, "homa_abort_args not "
				    "readable");
		if (a->_pad1 || a->_pad2[0] || a->_pad2[1])
			return fail(h, EINVAL, "padding in homa_abort_args "
				    "must be zero");
		if (a->error > 4095)
			return fail(h, EINVAL, "error %u is not an errno",
				    a->error);
		if (a->id & 1)
			return fail(h, EINVAL, "RPC %llu is not a client RPC",
				    (unsigned long long)a->id);
		rc = uhoma_abort(h->s, a->id,
				 a->error ? ERRNO_CODE_BASE - (int)a->error : 0);
		/* The module's abort does not look at shutdown: all of
		 * none is done, one that shutdown ended is unknown. */
		if (rc == UHOMA_ERR_SHUTDOWN && !a->id)
			return 0;
		if (rc == UHOMA_ERR_NOT_FOUND || rc == UHOMA_ERR_SHUTDOWN)
			return fail(h, EINVAL, "no client RPC %llu",
				    (unsigned long long)a->id);
		return rc ? fail_code(h, rc, "HOMAIOCABORT") : 0;
	}
	if (req == HOMAIOCFREEZE)
		return 0;     /* no timetrace to freeze */
	if (req == FIONBIO) {
		int on;

		if (!arg || uh_user_read(&on, arg, sizeof(on)))
			return fail(h, EFAULT, "FIONBIO needs an int");
		atomic_store(&h->nonblock, on != 0);
		return 0;
	}
	return fail(h, EINVAL, "unknown ioctl 0x%lx", req);
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	struct hsock *h;
	va_list ap;
	void *arg;
	int r;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	need_real();
	h = fdt_get(fd);
	if (!h)
		return real.ioctl(fd, req, arg);
	r = homa_ioctl(h, req, arg);
	fdt_put(h);
	return r;
}

/* dup family: the new number names the same Homa socket. */
static int homa_dup_to(struct hsock *h, int newfd)
{
	if (newfd < 0)
		return newfd;
	if (!fdt_install(newfd, h)) {
		real.close(newfd);
		return errno = EMFILE, -1;
	}
	return newfd;
}

static int homa_fcntl(int fd, int cmd, long arg)
{
	struct hsock *h;
	int r;

	need_real();
	h = fdt_get(fd);
	if (!h)
		return real.fcntl(fd, cmd, arg);
	switch (cmd) {
	case F_SETFL:
		/* The eventfd stays non-blocking (uhoma reads it); the
		 * flag only decides how recvmsg waits. */
		atomic_store(&h->nonblock, (arg & O_NONBLOCK) != 0);
		r = real.fcntl(fd, F_SETFL, arg | O_NONBLOCK);
		break;
	case F_GETFL:
		r = real.fcntl(fd, F_GETFL);
		if (r >= 0 && !atomic_load(&h->nonblock))
			r &= ~O_NONBLOCK;
		break;
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		r = homa_dup_to(h, real.fcntl(fd, F_DUPFD_CLOEXEC, arg));
		break;
	default:
		r = real.fcntl(fd, cmd, arg);
		break;
	}
	fdt_put(h);
	return r;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);   /* int or pointer: one register either way */
	va_end(ap);
	return homa_fcntl(fd, cmd, arg);
}

/* What fcntl becomes with _FILE_OFFSET_BITS=64 on newer glibc. */
EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return homa_fcntl(fd, cmd, arg);
}

/* ---- munmap, mmap, mremap: live receive regions (regions.h) ------------- */

/* The system calls themselves (regions.c too): the C library's wrappers
 * add nothing on x86-64, and no symbol lookup can recurse into these.
 * Not instrumented, as a sanitizer's start-up calls mmap before its
 * runtime is up; regions.c is reached only once a region is registered. */
/* The regions' lock is held with the program's handlers deferred
 * (sigwatch.h): a handler that closes a Homa socket unmaps under it too,
 * and one that landed in munmap deadlocked on it (homa_api
 * handler_reenters, raw IP under ASan: hung to its alarm). */
static int region_call_end(int r)
{
	int e = errno;

	sigwatch_leave();
	errno = e;
	return r;
}

EXPORT uh_no_tsan int munmap(void *addr, size_t len)
{
	if (!regions_live())
		return (int)syscall(SYS_munmap, addr, len);
	sigwatch_enter();
	return region_call_end(regions_munmap(addr, len));
}

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static uh_no_tsan void *mapped(void *addr, size_t len, int prot, int flags,
			       int fd, off_t off)
{
	void *p;

	if (!(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) || !regions_live())
		return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd,
				       off);
	/* At a fixed address, under the regions' lock: a part of a region
	 * the program unmapped is its own again (regions.h). */
	sigwatch_enter();
	regions_lock();
	if ((flags & MAP_FIXED_NOREPLACE) && regions_pending_locked(addr, len))
		flags = (flags & ~MAP_FIXED_NOREPLACE) | MAP_FIXED;
	p = (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED)
		regions_mapped_fixed_locked(p, len);
	regions_unlock();
	region_call_end(0);
	return p;
}

EXPORT uh_no_tsan void *mmap(void *addr, size_t len, int prot, int flags,
			     int fd, off_t off)
{
	return mapped(addr, len, prot, flags, fd, off);
}

EXPORT uh_no_tsan void *mmap64(void *addr, size_t len, int prot, int flags,
			       int fd, off64_t off)
{
	return mapped(addr, len, prot, flags, fd, (off_t)off);
}

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

/*
 * Growing a live region in place is harmless; moving it, or shrinking
 * the mapping that holds it over part of it, would unmap pages the
 * library writes to (regions.h): EINVAL. A move the kernel would make
 * only for want of room is tried in place first.
 */
EXPORT uh_no_tsan void *mremap(void *old, size_t old_len, size_t new_len,
			       int flags, ...)
{
	void *to = NULL, *p;
	va_list ap;
	uintptr_t o = (uintptr_t)old;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		to = va_arg(ap, void *);
		va_end(ap);
	}
	if (!regions_live())
		return (void *)syscall(SYS_mremap, old, old_len, new_len,
				       flags, to);
	sigwatch_enter();
	regions_lock();
	if ((new_len < old_len && !(flags & MREMAP_FIXED) &&
	     regions_overlap_locked((void *)(o + new_len),
				    old_len - new_len)) ||
	    ((flags & MREMAP_MAYMOVE) && !(flags & MREMAP_DONTUNMAP) &&
	     (flags & MREMAP_FIXED) && regions_overlap_locked(old, old_len))) {
		p = MAP_FAILED;
		errno = EINVAL;
	} else if ((flags & MREMAP_MAYMOVE) && !(flags & MREMAP_DONTUNMAP) &&
		   regions_overlap_locked(old, old_len)) {
		/* Only in place: a move would unmap it. */
		p = (void *)syscall(SYS_mremap, old, old_len, new_len, 0,
				    NULL);
		if (p == MAP_FAILED)
			errno = EINVAL;
	} else {
		p = (void *)syscall(SYS_mremap, old, old_len, new_len, flags,
				    to);
		if (p != MAP_FAILED && (flags & MREMAP_FIXED))
			regions_mapped_fixed_locked(p, new_len);
	}
	regions_unlock();
	region_call_end(0);
	return p;
}

#ifndef SHM_REMAP
#define SHM_REMAP 040000
#endif

/* An attachment in place of what was there (SHM_REMAP) is a mapping at a
 * fixed address too. */
EXPORT uh_no_tsan void *shmat(int id, const void *addr, int flags)
{
	struct shmid_ds ds;
	void *p;

	if (!(flags & SHM_REMAP) || !addr || !regions_live())
		return (void *)syscall(SYS_shmat, id, addr, flags);
	sigwatch_enter();
	regions_lock();
	p = (void *)syscall(SYS_shmat, id, addr, flags);
	if (p != (void *)-1 && syscall(SYS_shmctl, id, IPC_STAT, &ds) == 0)
		regions_mapped_fixed_locked(p, ds.shm_segsz);
	regions_unlock();
	region_call_end(0);
	return p;
}

/* ---- shutdown, close, dup ----------------------------------------------- */

EXPORT int shutdown(int fd, int how)
{
	struct hsock *h;

	need_real();
	if (uh_fd_is_own(fd))   /* the library's (net/ownfd.h) */
		return errno = EBADF, -1;
	h = fdt_get(fd);
	if (!h)
		return real.shutdown(fd, how);
	if (atomic_load(&h->stale)) {
		fdt_put(h);
		return fail(NULL, EBADFD, "inherited across fork");
	}
	uhoma_shutdown(h->s);   /* the module ignores @how */
	fdt_put(h);
	return 0;
}

/* Forgets @fd if it is Homa; the socket shuts down with its last name. */
static void homa_forget(int fd)
{
	bool last;
	struct hsock *h = fdt_remove(fd, &last);

	if (!h)
		return;
	/* Wake threads blocked on it; the last reference closes it. */
	if (last && !atomic_load(&h->stale))
		uhoma_shutdown(h->s);
	fdt_put(h);
}

/* The close family forgets the Homa descriptors first, then closes:
 * handlers deferred meanwhile run after both (sigwatch.h), so they find
 * the descriptor closed, as after the kernel's close, and one that jumps
 * out leaves nothing half done. */
EXPORT int close(int fd)
{
	int r, e;

	need_real();
	if ((uh_fd_is_own(fd) || fdt_named(fd)) && !table_ours())
		return real.close(fd);     /* a vfork child's own copy */
	if (uh_fd_is_own(fd))   /* the library's (net/ownfd.h) */
		return errno = EBADF, -1;
	sigwatch_enter();
	homa_forget(fd);
	r = real.close(fd);
	e = errno;
	sigwatch_leave();
	errno = e;
	return r;
}

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1u << 1)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1u << 2)
#endif

/* Forgets the Homa descriptors in [@first, @last]. */
static void homa_forget_range(unsigned first, unsigned last)
{
	int high = fdt_high();

	for (unsigned fd = first; fd <= last && high >= 0 &&
				  fd <= (unsigned)high; fd++)
		homa_forget((int)fd);
}

static int real_close_range(unsigned first, unsigned last, int flags)
{
	if (real.close_range)
		return real.close_range(first, last, flags);
	return (int)syscall(SYS_close_range, first, last, flags);
}

/* close_range over [@first, @last] but the library's own descriptors
 * (net/ownfd.h), in as many calls as they cut it into. Setting
 * close-on-exec touches them too: they have it already. */
static int close_range_around_own(unsigned first, unsigned last, int flags)
{
	int r = 0;

	if ((unsigned)flags & CLOSE_RANGE_CLOEXEC)
		return real_close_range(first, last, flags);
	for (unsigned lo = first;;) {
		int own = uh_fd_own_next(lo, last);
		unsigned hi = own < 0 ? last : (unsigned)own - 1;

		if (own < 0 || (unsigned)own > lo) {
			if (real_close_range(lo, hi, flags) < 0)
				r = -1;
			/* The table is unshared by the first call. */
			flags &= ~(int)CLOSE_RANGE_UNSHARE;
		}
		if (own < 0 || (unsigned)own >= last)
			return r;
		lo = (unsigned)own + 1;
	}
}

/* close_range and closefrom close Homa descriptors too: forgotten first,
 * as by close (the number could otherwise be reused while still named
 * Homa: a file opened on it read as a Homa socket). */
EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	int r, e;

	need_real();
	if (first > last ||
	    ((unsigned)flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC)))
		return errno = EINVAL, -1;
	/* Another table than the one the preload describes -- a vfork
	 * child's, or the caller's own private copy (UNSHARE) -- loses its
	 * numbers alone: nothing of the process's is forgotten. */
	if (((unsigned)flags & CLOSE_RANGE_UNSHARE) || !table_ours())
		return real_close_range(first, last, flags);
	sigwatch_enter();
	if (!((unsigned)flags & CLOSE_RANGE_CLOEXEC))
		homa_forget_range(first, last);
	r = close_range_around_own(first, last, flags);
	e = errno;
	sigwatch_leave();
	errno = e;
	return r;
}

EXPORT void closefrom(int low)
{
	need_real();
	if (low < 0)
		low = 0;
	if (!table_ours()) {
		(void)real_close_range((unsigned)low, UINT_MAX, 0);
		return;
	}
	sigwatch_enter();
	homa_forget_range((unsigned)low, UINT_MAX);
	(void)close_range_around_own((unsigned)low, UINT_MAX, 0);
	sigwatch_leave();
}

EXPORT int dup(int fd)
{
	struct hsock *h;
	int r;

	need_real();
	h = fdt_get(fd);
	if (!h)
		return real.dup(fd);
	r = homa_dup_to(h, real.fcntl(fd, F_DUPFD_CLOEXEC, 0));
	fdt_put(h);
	return r;
}

static int dup_common(int fd, int newfd, int flags, bool three)
{
	struct hsock *h;
	int r;

	need_real();
	if ((uh_fd_is_own(fd) || uh_fd_is_own(newfd) || fdt_named(fd) ||
	     fdt_named(newfd)) && !table_ours())
		return three ? real.dup3(fd, newfd, flags)
			     : real.dup2(fd, newfd);   /* a vfork child's */
	/* Numbers the program never opened (net/ownfd.h): neither copied
	 * nor replaced. */
	if (uh_fd_is_own(fd) || uh_fd_is_own(newfd))
		return errno = EBADF, -1;
	h = fdt_get(fd);
	if (h && fd != newfd) {
		/* Homa descriptors stay close-on-exec: dup3 does dup2's job
		 * and sets it in the same call. */
		three = true;
		flags |= O_CLOEXEC;
	}
	r = three ? real.dup3(fd, newfd, flags) : real.dup2(fd, newfd);
	if (r >= 0 && fd != newfd) {
		homa_forget(newfd);    /* the call closed what newfd was */
		if (h)
			r = homa_dup_to(h, r);
	}
	if (h)
		fdt_put(h);
	return r;
}

EXPORT int dup2(int fd, int newfd)
{
	return dup_common(fd, newfd, 0, false);
}

EXPORT int dup3(int fd, int newfd, int flags)
{
	return dup_common(fd, newfd, flags, true);
}
