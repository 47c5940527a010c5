/*
 * udp.c - the UDP carrier: each uhoma socket owns a UDP socket bound to
 * its port; the Homa header is the first bytes of each UDP payload.
 *
 * Ports live in a table indexed by port number (for send) and in one epoll
 * set (for recv). Closing a port must not free it under a thread that got
 * it from epoll_wait: receivers hold an RCU read section across
 * epoll_wait and the processing of its events, and close_port unlinks the
 * port, kicks the receivers and waits a grace period before closing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/carrier.h"
#include "sync/rcu.h"
#include "uhoma/uhoma.h"

#define UDP_BATCH 16
#define UDP_SOCKBUF (4 << 20)

struct udp_port {
	int fd;          /* immutable; closed after a grace period */
	uint16_t port;   /* immutable */
};

struct udp_carrier {
	struct uh_carrier c;                 /* first */
	int family;                          /* immutable */
	struct sockaddr_storage bind_ss;     /* immutable (port 0) */
	socklen_t bind_len;
	bool any;                            /* bound to the wildcard */
	int epfd, kickfd;                    /* immutable */
	struct udp_port *_Atomic ports[65536]; /* RCU: set at open, cleared
						* at close */
};

static struct udp_carrier *udp_of(struct uh_carrier *c)
{
	return (struct udp_carrier *)(void *)c;
}

static int err_from_errno(int e)
{
	switch (e) {
	case EADDRINUSE:
		return UHOMA_ERR_ADDR_IN_USE;
	case EACCES:
	case EPERM:
		return UHOMA_ERR_PERMISSION;
	case ENOMEM:
	case ENOBUFS:
		return UHOMA_ERR_NOMEM;
	case EADDRNOTAVAIL:
		return UHOMA_ERR_INVALID_ARGUMENT;
	default:
		return UHOMA_ERR_SYSTEM;
	}
}

static int udp_open_port(struct uh_carrier *c, uint16_t *port)
{
	struct udp_carrier *u = udp_of(c);
	struct sockaddr_storage ss = u->bind_ss;
	socklen_t len = u->bind_len;
	struct udp_port *p;
	struct epoll_event ev;
	int fd, one = 1, zero = 0, size = UDP_SOCKBUF, e;

	fd = socket(u->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_from_errno(errno);
	if (u->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, u->any ? &zero : &one,
			   sizeof(int));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (u->family == AF_INET)
		((struct sockaddr_in *)(void *)&ss)->sin_port = htons(*port);
	else
		((struct sockaddr_in6 *)(void *)&ss)->sin6_port = htons(*port);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		e = errno;
		close(fd);
		return err_from_errno(e);
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*port = ntohs(u->family == AF_INET
			      ? ((struct sockaddr_in *)(void *)&ss)->sin_port
			      : ((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
	p = malloc(sizeof(*p));
	if (!p) {
		close(fd);
		return UHOMA_ERR_NOMEM;
	}
	p->fd = fd;
	p->port = *port;
	atomic_store_explicit(&u->ports[*port], p, memory_order_release);
	ev.events = EPOLLIN;
	ev.data.ptr = p;
	if (epoll_ctl(u->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		atomic_store(&u->ports[*port], NULL);
		close(fd);
		free(p);
		return UHOMA_ERR_SYSTEM;
	}
	return UHOMA_OK;
}

static void udp_kick(struct uh_carrier *c)
{
	uint64_t one = 1;

	/* Fails only if already readable: the kick is pending anyway. */
	(void)!write(udp_of(c)->kickfd, &one, sizeof(one));
}

static void udp_close_port(struct uh_carrier *c, uint16_t port)
{
	struct udp_carrier *u = udp_of(c);
	struct udp_port *p = atomic_load(&u->ports[port]);

	if (!p)
		return;
	epoll_ctl(u->epfd, EPOLL_CTL_DEL, p->fd, NULL);
	atomic_store(&u->ports[port], NULL);
	udp_kick(c);
	uh_synchronize_rcu();     /* no receiver still holds @p */
	close(p->fd);
	free(p);
}

static socklen_t to_sockaddr(const struct udp_carrier *u,
			     const struct uh_addr *a, uint16_t port,
			     struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (u->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, a->b + 12, 4);
		return sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, a->b, 16);
		return sizeof(*in6);
	}
}

static unsigned udp_send(struct uh_carrier *c, uint16_t sport,
			 const struct uh_tx *pkts, unsigned n)
{
	struct udp_carrier *u = udp_of(c);
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH][2];
	struct sockaddr_storage dst[UDP_BATCH];
	struct udp_port *p;
	unsigned done = 0;

	uh_rcu_read_lock();
	p = atomic_load_explicit(&u->ports[sport], memory_order_acquire);
	while (p && done < n) {
		unsigned k = n - done < UDP_BATCH ? n - done : UDP_BATCH;
		int r;

		for (unsigned i = 0; i < k; i++) {
			const struct uh_tx *t = &pkts[done + i];

			iov[i][0].iov_base = (void *)(uintptr_t)t->hdr;
			iov[i][0].iov_len = t->hdr_len;
			iov[i][1].iov_base = (void *)(uintptr_t)t->payload;
			iov[i][1].iov_len = t->payload_len;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_name = &dst[i];
			msgs[i].msg_hdr.msg_namelen =
				to_sockaddr(u, &t->dst, t->dport, &dst[i]);
			msgs[i].msg_hdr.msg_iov = iov[i];
			msgs[i].msg_hdr.msg_iovlen = t->payload_len ? 2 : 1;
		}
		r = sendmmsg(p->fd, msgs, k, 0);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			/* Full buffer or unreachable: the rest is lost, as
			 * on a congested wire; Homa's timers recover. */
			break;
		}
		done += (unsigned)r;
	}
	uh_rcu_read_unlock();
	return done;
}

static void from_sockaddr(const struct sockaddr_storage *ss,
			  struct uh_addr *a)
{
	uint16_t port;

	if (uh_addr_from_sockaddr((const struct sockaddr *)ss, sizeof(*ss), a,
				  &port))
		memset(a, 0, sizeof(*a));
}

static unsigned udp_recv(struct uh_carrier *c, struct uh_rx *rx, unsigned max,
			 int64_t timeout_ns)
{
	struct udp_carrier *u = udp_of(c);
	struct epoll_event ev[8];
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage src[UDP_BATCH];
	unsigned got = 0;
	int ne, ms;

	if (max > UDP_BATCH)
		max = UDP_BATCH;
	ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
	uh_rcu_read_lock();
	ne = epoll_wait(u->epfd, ev, 8, ms);
	for (int e = 0; e < ne && got < max; e++) {
		struct udp_port *p = ev[e].data.ptr;
		int r;

		if (!p) {     /* the kick eventfd: drain it */
			uint64_t v;

			(void)!read(u->kickfd, &v, sizeof(v));
			continue;
		}
		for (unsigned i = 0; i < max - got; i++) {
			iov[i].iov_base = rx[got + i].buf;
			iov[i].iov_len = rx[got + i].cap;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_name = &src[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(src[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		r = recvmmsg(p->fd, msgs, max - got, MSG_DONTWAIT, NULL);
		for (int i = 0; i < r; i++) {
			rx[got].len = msgs[i].msg_len;
			rx[got].priority = 0;
			from_sockaddr(&src[i], &rx[got].src);
			got++;
		}
	}
	uh_rcu_read_unlock();
	return got;
}

static void udp_destroy(struct uh_carrier *c)
{
	struct udp_carrier *u = udp_of(c);

	close(u->epfd);
	close(u->kickfd);
	free(u);
}

static const struct uh_carrier_ops udp_ops = {
	.name = "udp",
	.open_port = udp_open_port,
	.close_port = udp_close_port,
	.send = udp_send,
	.recv = udp_recv,
	.kick = udp_kick,
	.destroy = udp_destroy,
};

int uh_udp_create(const struct uhoma_config *cfg, struct uh_carrier **out)
{
	struct udp_carrier *u = calloc(1, sizeof(*u));
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	static const uint8_t zero16[16];
	uint32_t ip_hdr, len;

	if (!u)
		return UHOMA_ERR_NOMEM;
	u->c.ops = &udp_ops;
	if (uh_addr_parse(cfg->addr, &u->c.local)) {
		free(u);
		return UHOMA_ERR_INVALID_ARGUMENT;
	}
	if (uh_addr_is_v4(&u->c.local)) {
		u->family = AF_INET;
		u->any = memcmp(u->c.local.b + 12, zero16, 4) == 0;
		ip_hdr = 20;
	} else {
		u->family = AF_INET6;
		u->any = memcmp(u->c.local.b, zero16, 16) == 0;
		ip_hdr = 40;
	}
	uh_addr_to_sockaddr(&u->c.local, 0, &u->bind_ss, &len);
	u->bind_len = len;
	u->c.max_packet = cfg->mtu - ip_hdr - 8;
	u->epfd = epoll_create1(EPOLL_CLOEXEC);
	u->kickfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->epfd < 0 || u->kickfd < 0 ||
	    epoll_ctl(u->epfd, EPOLL_CTL_ADD, u->kickfd, &ev) < 0) {
		if (u->epfd >= 0)
			close(u->epfd);
		if (u->kickfd >= 0)
			close(u->kickfd);
		free(u);
		return UHOMA_ERR_SYSTEM;
	}
	*out = &u->c;
	return UHOMA_OK;
}
