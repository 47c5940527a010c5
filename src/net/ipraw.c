/*
 * ipraw.c - the raw-IP carrier: Homa packets directly in IP protocol 146,
 * byte for byte what the Linux kernel module sends, so a uhoma stack can
 * talk to kernel Homa peers (homa-protocol.md §1.1, §9). Needs CAP_NET_RAW.
 *
 * A raw socket sees every protocol-146 packet addressed to the host (to its
 * bound address, if any), whoever it is for; the kernel does no port
 * demultiplexing. So this carrier keeps its own table of the Homa ports it
 * owns and drops the rest before the core sees them: they belong to
 * another process on the host. Ports are claimed host-wide (per network
 * namespace) by binding an abstract AF_UNIX socket named after the port:
 * the kernel arbitrates between processes and frees the name when the
 * process dies, so no stale claim outlives it.
 *
 * IPv4 raw sockets deliver the IP header; its TOS byte carries the priority.
 * IPv6 raw sockets deliver the payload alone; the traffic class comes as a
 * control message. Sends leave the IP header to the kernel and pass the
 * priority as IP_TOS / IPV6_TCLASS. A stack on "::" opens both families.
 *
 * The receive path needs no RCU: the port table holds only the claim
 * descriptors, and a packet that slips past a port being closed reaches the
 * core, which finds no socket there and counts the drop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/carrier.h"
#include "net/iface.h"
#include "net/waitset.h"
#include "uhoma/homa.h"
#include "uhoma/uhoma.h"

#define RAW_BATCH 16
#define RAW_SOCKBUF (4 << 20)
#define IPV4_HDR 20
#define IPV6_HDR 40
#define IP_MAX_TOTAL 65535

struct ipraw_carrier {
	struct uh_carrier c;          /* first */
	int fd4, fd6;                 /* immutable: raw sockets, or -1 */
	struct uh_waitset ws;         /* its own locking */
	bool have_ws;                 /* immutable: @ws initialized */
	uint32_t cfg_mtu;             /* immutable: cfg.mtu (0: each
				       * route's) */
	_Atomic int claim[65536];     /* claim socket + 1 of each port we
				       * own, 0 if not ours: written under
				       * claim_lock, read by receivers */
	pthread_mutex_t claim_lock;   /* serializes open/close_port */
	uint32_t next_auto;           /* claim_lock: next automatic port */
};

static struct ipraw_carrier *raw_of(struct uh_carrier *c)
{
	return (struct ipraw_carrier *)(void *)c;
}

/* Claims Homa port @port host-wide; returns the claim socket or -errno. */
static int claim_port(uint16_t port)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd, n;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* Abstract name: sun_path[0] is NUL; not a file. */
	n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
		     "uhoma/ip146/port/%u", port);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	if (bind(fd, (struct sockaddr *)&sun, len) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static int ipraw_open_port(struct uh_carrier *c, uint16_t *port)
{
	struct ipraw_carrier *r = raw_of(c);
	int fd = -EADDRINUSE;

	pthread_mutex_lock(&r->claim_lock);
	if (*port) {
		if (atomic_load(&r->claim[*port]) == 0)
			fd = claim_port(*port);
	} else {
		/* Automatic ports: 0x8000..0xFFFF in turn, as the module
		 * assigns them, skipping any port some process holds. */
		for (unsigned i = 0; i < 0x8000 && fd == -EADDRINUSE; i++) {
			uint16_t p = (uint16_t)(0x8000 + r->next_auto++ % 0x8000);

			if (atomic_load(&r->claim[p]) != 0)
				continue;
			fd = claim_port(p);
			if (fd >= 0)
				*port = p;
		}
	}
	if (fd >= 0)
		atomic_store_explicit(&r->claim[*port], fd + 1,
				      memory_order_release);
	pthread_mutex_unlock(&r->claim_lock);
	return fd >= 0 ? UHOMA_OK : uh_net_error(-fd);
}

static void ipraw_close_port(struct uh_carrier *c, uint16_t port)
{
	struct ipraw_carrier *r = raw_of(c);
	int fd;

	pthread_mutex_lock(&r->claim_lock);
	fd = atomic_exchange(&r->claim[port], 0) - 1;
	pthread_mutex_unlock(&r->claim_lock);
	if (fd >= 0)
		close(fd);
}

union raw_cmsg {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};

/* Sends @n packets of one family through @fd; returns how many went. */
static unsigned send_family(int fd, int family, const struct uh_tx *pkts,
			    unsigned n)
{
	struct mmsghdr msgs[RAW_BATCH];
	struct iovec iov[RAW_BATCH][2];
	struct sockaddr_storage dst[RAW_BATCH];
	union raw_cmsg cm[RAW_BATCH];
	unsigned done = 0;

	while (done < n) {
		unsigned m = n - done < RAW_BATCH ? n - done : RAW_BATCH;
		int r;

		for (unsigned i = 0; i < m; i++) {
			const struct uh_tx *t = &pkts[done + i];
			struct msghdr *h = &msgs[i].msg_hdr;
			uint32_t len;

			memset(&msgs[i], 0, sizeof(msgs[i]));
			/* Port 0: a raw IPv6 socket rejects any other value
			 * than its protocol. */
			uh_addr_to_sockaddr(&t->dst, 0, &dst[i], &len);
			h->msg_name = &dst[i];
			h->msg_namelen = len;
			iov[i][0].iov_base = (void *)(uintptr_t)t->hdr;
			iov[i][0].iov_len = t->hdr_len;
			iov[i][1].iov_base = (void *)(uintptr_t)t->payload;
			iov[i][1].iov_len = t->payload_len;
			h->msg_iov = iov[i];
			h->msg_iovlen = t->payload_len ? 2 : 1;
			memset(&cm[i], 0, sizeof(cm[i]));
			h->msg_control = cm[i].buf;
			h->msg_controllen = uh_net_put_tos(
				(struct cmsghdr *)(void *)cm[i].buf, family,
				t->priority);
		}
		r = sendmmsg(fd, msgs, m, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;      /* full or unreachable: Homa's timers recover */
		done += (unsigned)r;
		if ((unsigned)r < m)
			break;
	}
	return done;
}

static unsigned ipraw_send(struct uh_carrier *c, uint16_t sport,
			   const struct uh_tx *pkts, unsigned n)
{
	struct ipraw_carrier *r = raw_of(c);
	unsigned done = 0;

	(void)sport;   /* the port is in the Homa header */
	while (done < n) {
		bool v4 = uh_addr_is_v4(&pkts[done].dst);
		int fd = v4 ? r->fd4 : r->fd6;
		unsigned run = 1, sent;

		while (done + run < n &&
		       uh_addr_is_v4(&pkts[done + run].dst) == v4)
			run++;
		if (fd < 0)
			break;      /* a family this stack cannot reach */
		sent = send_family(fd, v4 ? AF_INET : AF_INET6, pkts + done,
				   run);
		done += sent;
		if (sent < run)
			break;
	}
	return done;
}

/* Whether @len bytes at @buf are for a port of ours. */
static bool ours(struct ipraw_carrier *r, const uint8_t *buf, size_t len)
{
	uint16_t dport;

	if (len < 4)
		return true;     /* let the core count it as short */
	dport = (uint16_t)(buf[2] << 8 | buf[3]);
	return atomic_load_explicit(&r->claim[dport], memory_order_acquire) != 0;
}

/* Receives what is queued on raw socket @fd into @rx (at most @max). */
static unsigned recv_family(struct ipraw_carrier *r, int fd, bool v4,
			    struct uh_rx *rx, unsigned max)
{
	struct mmsghdr msgs[RAW_BATCH];
	struct iovec iov[RAW_BATCH][2];
	uint8_t iph[RAW_BATCH][IPV4_HDR];
	struct sockaddr_storage src[RAW_BATCH];
	union raw_cmsg cm[RAW_BATCH];
	unsigned got = 0;
	int n;

	if (max > RAW_BATCH)
		max = RAW_BATCH;
	for (unsigned i = 0; i < max; i++) {
		memset(&msgs[i], 0, sizeof(msgs[i]));
		/* IPv4: the usual 20-byte header lands apart, the Homa
		 * packet at the start of the caller's buffer. */
		iov[i][0].iov_base = iph[i];
		iov[i][0].iov_len = IPV4_HDR;
		iov[i][1].iov_base = rx[i].buf;
		iov[i][1].iov_len = rx[i].cap;
		msgs[i].msg_hdr.msg_iov = v4 ? iov[i] : iov[i] + 1;
		msgs[i].msg_hdr.msg_iovlen = 1 + v4;
		msgs[i].msg_hdr.msg_name = &src[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(src[i]);
		msgs[i].msg_hdr.msg_control = cm[i].buf;
		msgs[i].msg_hdr.msg_controllen = sizeof(cm[i].buf);
	}
	n = recvmmsg(fd, msgs, max, MSG_DONTWAIT, NULL);
	for (int i = 0; i < n; i++) {
		struct uh_rx *out = &rx[got];
		size_t len = msgs[i].msg_len;
		uint8_t prio = 0;
		uint16_t port;

		if (v4) {
			size_t ihl = (size_t)(iph[i][0] & 0xF) * 4;

			if (len < IPV4_HDR || (iph[i][0] >> 4) != 4 ||
			    ihl < IPV4_HDR || len < ihl)
				continue;
			prio = (uint8_t)(iph[i][1] >> 5);
			len -= IPV4_HDR;
			if (ihl > IPV4_HDR) {   /* options: rare */
				len -= ihl - IPV4_HDR;
				memmove(rx[i].buf, rx[i].buf + ihl - IPV4_HDR,
					len);
			}
		} else {
			struct msghdr *h = &msgs[i].msg_hdr;

			for (struct cmsghdr *cmh = CMSG_FIRSTHDR(h); cmh;
			     cmh = CMSG_NXTHDR(h, cmh)) {
				int v;

				if (cmh->cmsg_level == IPPROTO_IPV6 &&
				    cmh->cmsg_type == IPV6_TCLASS &&
				    cmh->cmsg_len >= CMSG_LEN(sizeof(int))) {
					memcpy(&v, CMSG_DATA(cmh), sizeof(v));
					prio = (uint8_t)((v >> 5) & 7);
				}
			}
		}
		if (!ours(r, rx[i].buf, len))
			continue;
		if (got != (unsigned)i) {
			/* Close the gap a dropped packet left: trade
			 * buffers, never copy bytes. */
			uint8_t *b = out->buf;
			size_t cap = out->cap;

			out->buf = rx[i].buf;
			out->cap = rx[i].cap;
			rx[i].buf = b;
			rx[i].cap = cap;
		}
		out->len = len;
		out->priority = prio;
		out->seg_size = 0;
		out->unreachable = 0;
		if (uh_addr_from_sockaddr((struct sockaddr *)&src[i],
					  sizeof(src[i]), &out->src, &port))
			continue;
		got++;
	}
	return got;
}

static unsigned ipraw_recv(struct uh_carrier *c, struct uh_rx *rx,
			   unsigned max, int64_t timeout_ns)
{
	struct ipraw_carrier *r = raw_of(c);
	unsigned got = 0;

	if (timeout_ns != 0) {
		void *ready[2];

		if (uh_waitset_wait(&r->ws, ready, 2, timeout_ns) <= 0)
			return 0;
	}
	if (r->fd4 >= 0)
		got += recv_family(r, r->fd4, true, rx, max);
	if (r->fd6 >= 0 && got < max)
		got += recv_family(r, r->fd6, false, rx + got, max - got);
	return got;
}

static void ipraw_kick(struct uh_carrier *c)
{
	uh_waitset_kick(&raw_of(c)->ws);
}

static void ipraw_forget(struct uh_carrier *c)
{
	struct ipraw_carrier *r = raw_of(c);

	for (unsigned p = 0; p < 65536; p++) {
		int fd = atomic_load(&r->claim[p]) - 1;

		if (fd >= 0)
			close(fd);
	}
	if (r->fd4 >= 0)
		close(r->fd4);
	if (r->fd6 >= 0)
		close(r->fd6);
	if (r->have_ws)
		uh_waitset_forget(&r->ws);
}

static void ipraw_destroy(struct uh_carrier *c)
{
	struct ipraw_carrier *r = raw_of(c);

	for (unsigned p = 0; p < 65536; p++)
		ipraw_close_port(c, (uint16_t)p);
	if (r->fd4 >= 0)
		close(r->fd4);
	if (r->fd6 >= 0)
		close(r->fd6);
	uh_waitset_destroy(&r->ws);
	pthread_mutex_destroy(&r->claim_lock);
	free(r);
}

/* The route's MTU to @dst less the IP header, as the module sizes packets
 * by the device's MTU (cfg.mtu: one MTU for every destination). */
static uint32_t ipraw_max_packet_to(struct uh_carrier *c,
				    const struct uh_addr *dst, bool *local)
{
	struct ipraw_carrier *r = (struct ipraw_carrier *)(void *)c;
	uint32_t mtu = 1500, hdr = uh_addr_is_v4(dst) ? IPV4_HDR : IPV6_HDR;
	uint32_t max;

	if (!uh_iface_route(dst, &mtu, local))
		*local = false;
	if (r->cfg_mtu)
		mtu = r->cfg_mtu;
	max = mtu > hdr ? mtu - hdr : 0;
	if (uh_addr_is_v4(dst) && max > IP_MAX_TOTAL - IPV4_HDR)
		max = IP_MAX_TOTAL - IPV4_HDR;
	return max < c->max_packet ? max : c->max_packet;
}

static const struct uh_carrier_ops ipraw_ops = {
	.name = "ip",
	.open_port = ipraw_open_port,
	.close_port = ipraw_close_port,
	.send = ipraw_send,
	.recv = ipraw_recv,
	.kick = ipraw_kick,
	.max_packet_to = ipraw_max_packet_to,
	.forget = ipraw_forget,
	.destroy = ipraw_destroy,
};

/* A raw protocol-146 socket of @family bound to @local (unless @any). */
static int open_raw(int family, const struct uh_addr *local, bool any)
{
	int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			IPPROTO_HOMA);
	int one = 1, size = RAW_SOCKBUF;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof(one));
	}
	if (!any) {
		struct sockaddr_storage ss;
		uint32_t len;

		uh_addr_to_sockaddr(local, 0, &ss, &len);
		if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
	}
	return fd;
}

int uh_ipraw_create(const struct uhoma_config *cfg, struct uh_carrier **out)
{
	struct ipraw_carrier *r = calloc(1, sizeof(*r));
	static const uint8_t zero16[16];
	uint32_t mtu, link = 0, ip_hdr;
	bool any, v4;
	int rc = UHOMA_OK;

	if (!r)
		return UHOMA_ERR_NOMEM;
	r->c.ops = &ipraw_ops;
	r->fd4 = r->fd6 = -1;
	pthread_mutex_init(&r->claim_lock, NULL);
	if (uh_addr_parse(cfg->addr, &r->c.local)) {
		rc = UHOMA_ERR_INVALID_ARGUMENT;
		goto fail;
	}
	v4 = uh_addr_is_v4(&r->c.local);
	any = v4 ? memcmp(r->c.local.b + 12, zero16, 4) == 0
		 : memcmp(r->c.local.b, zero16, 16) == 0;
	/* "::" listens on both families, as the UDP carrier's does. */
	if (v4 || any) {
		r->fd4 = open_raw(AF_INET, &r->c.local, any);
		if (r->fd4 < 0) {
			rc = uh_net_error(-r->fd4);
			goto fail;
		}
	}
	if (!v4) {
		r->fd6 = open_raw(AF_INET6, &r->c.local, any);
		if (r->fd6 < 0) {
			rc = uh_net_error(-r->fd6);
			goto fail;
		}
	}
	ip_hdr = v4 ? IPV4_HDR : IPV6_HDR;
	uh_iface_info(&r->c.local, any, &mtu, &link);
	/* Packets are sized per destination (ipraw_max_packet_to); this is
	 * the largest, for receive buffers. */
	r->cfg_mtu = cfg->mtu;
	r->c.link_mtu = cfg->mtu ? cfg->mtu : mtu;
	mtu = cfg->mtu ? cfg->mtu : IP_MAX_TOTAL + (v4 ? 0u : IPV6_HDR);
	if (mtu > IP_MAX_TOTAL + (v4 ? 0u : IPV6_HDR))
		mtu = IP_MAX_TOTAL + (v4 ? 0u : IPV6_HDR);
	r->c.max_packet = mtu - ip_hdr;
	r->c.rx_buf_size = r->c.max_packet;
	r->c.link_mbps = link;
	r->next_auto = (uint32_t)getpid();
	rc = uh_waitset_init(&r->ws);
	if (rc)
		goto fail;
	r->have_ws = true;
	if ((r->fd4 >= 0 && (rc = uh_waitset_add(&r->ws, r->fd4, &r->fd4))) ||
	    (r->fd6 >= 0 && (rc = uh_waitset_add(&r->ws, r->fd6, &r->fd6))))
		goto fail;
	*out = &r->c;
	return UHOMA_OK;
fail:
	if (r->fd4 >= 0)
		close(r->fd4);
	if (r->fd6 >= 0)
		close(r->fd6);
	if (r->have_ws)
		uh_waitset_destroy(&r->ws);
	pthread_mutex_destroy(&r->claim_lock);
	free(r);
	return rc;
}
