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
 *
 * ICMP, as the module speaks it (homa-protocol.md §2): a packet for a port
 * no process on the host holds, or a request to a socket of ours that is
 * not a server, is answered with an ICMP port unreachable quoting it, so
 * that its sender fails at once (ENOTCONN) rather than at its timeout.
 * Every uhoma process on the host sees a packet for nobody's port; one of
 * them answers: the one holding the host-wide "refuser" name for its
 * address, taken by the first stack of that address when it starts (or
 * by one that needs it once its holder is gone) and freed when it exits.
 * A stack bound to the wildcard holds the name "any", and leaves a packet
 * to an address whose own name is held to that holder: one refusal per
 * packet, as from the module.
 * Answers are rate limited as Linux limits its own ICMP (1,000 a second,
 * bursts of 50). The other way, IP_RECVERR queues the ICMP errors for
 * what we send (port, protocol and host unreachable, from kernel peers and
 * from uhoma ones alike), and the core fails the RPCs they name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
/* After netinet/in.h: the kernel's headers defer to glibc's. */
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/wire.h"
#include "net/carriers.h"
#include "net/claim.h"
#include "net/icmp.h"
#include "net/iface.h"
#include "net/ownfd.h"
#include "net/waitset.h"
#include "sync/lock.h"
#include "uhoma/homa.h"
#include "uhoma/uhoma.h"
#include "util/clock.h"

static UH_LOCK_CLASS(claim_class, "ipraw.ports", UH_RANK_LEAF,
		     UH_LC_LEAF | UH_LC_SLEEPS);

#define RAW_BATCH 16
#define RAW_SOCKBUF (4 << 20)
#define IPV4_HDR 20
#define IPV6_HDR 40
#define IP_MAX_TOTAL 65535
#define REFUSE_GAP_NS 1000000          /* one ICMP a millisecond ... */
#define REFUSE_BURST 50                /* ... after a burst of this many */
#define REFUSER_RETRY_NS 10000000      /* tries for the refuser name */
#define HELD_SLOTS 4096                /* cache of ports others hold ... */
#define HELD_MS 10                     /* ... trusted this long: well
					* under the timeout (100 ms), so a
					* port that closes is refused by
					* the next probe or two of whoever
					* still sends to it (a client's
					* RESENDs; a server's NEED_ACKs,
					* or BUSYs while its response
					* waits for grants: timer.c) */
#define ERRQ_GAP_NS 1000000            /* polls ask the error queues */

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
	struct uh_lock claim_lock;    /* class ipraw.ports (leaf, sleeps:
				       * binds claim names under it):
				       * serializes open/close_port */
	uint32_t next_auto;           /* claim_lock: next automatic port */
	int icmp4, icmp6;             /* immutable: raw ICMP sockets that
				       * send refusals, or -1 */
	char refuser_name[96];        /* immutable: the host-wide name whose
				       * holder refuses for our address */
	bool refuses_any;             /* immutable: that name is the
				       * wildcard's ("any") */
	_Atomic int refuser;          /* its socket once we hold it, else -1:
				       * set once, by CAS */
	_Atomic int64_t refuser_retry; /* when we may try for the name
					* again */
	_Atomic int64_t errq_next;    /* when a poll next asks the error
				       * queues (errq_due) */
	_Atomic int64_t refuse_next;  /* rate limit: when the next refusal
				       * is due (theoretical arrival time) */
	_Atomic uint64_t held[HELD_SLOTS]; /* ports another process held
					    * when last asked: port | until
					    * (ms) << 16 */
};

static struct ipraw_carrier *raw_of(struct uh_carrier *c)
{
	return (struct ipraw_carrier *)(void *)c;
}

static void port_name(char *buf, size_t size, uint16_t port)
{
	snprintf(buf, size, "uhoma/ip146/port/%u", port);
}

/* Claims Homa port @port host-wide; returns the claim socket or -errno. */
static int claim_port(uint16_t port)
{
	char name[32];

	port_name(name, sizeof(name), port);
	return uh_claim(name);
}

/* Whether some process on the host holds Homa port @port. */
static bool port_held(uint16_t port)
{
	char name[32];

	port_name(name, sizeof(name), port);
	return uh_claim_held(name);
}

/* The host-wide name of the refuser for @addr (NULL: the wildcard's). */
static void refuser_name(char *buf, size_t size, const struct uh_addr *addr)
{
	char a[64];

	snprintf(buf, size, "uhoma/ip146/refuser/%s",
		 addr ? uh_addr_format(addr, a, sizeof(a)) : "any");
}

/* Whether a stack bound to @dst itself answers for it: then a wildcard
 * stack's refuser leaves it that packet (both see it; the module sends
 * one refusal). */
static bool dst_has_refuser(const struct uh_addr *dst)
{
	char name[96];

	refuser_name(name, sizeof(name), dst);
	return uh_claim_held(name);
}

static int ipraw_open_port(struct uh_carrier *c, uint16_t *port)
{
	struct ipraw_carrier *r = raw_of(c);
	int fd = -EADDRINUSE;

	uh_lock(&r->claim_lock);
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
	uh_unlock(&r->claim_lock);
	return fd >= 0 ? UHOMA_OK : uh_net_error(-fd);
}

static void ipraw_close_port(struct uh_carrier *c, uint16_t port)
{
	struct ipraw_carrier *r = raw_of(c);
	int fd;

	uh_lock(&r->claim_lock);
	fd = atomic_exchange(&r->claim[port], 0) - 1;
	uh_unlock(&r->claim_lock);
	if (fd >= 0)
		uh_fd_close(fd);
}

union raw_cmsg {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};

/* Receive side: IPv6's traffic class and destination address. */
union raw_rx_cmsg {
	char buf[CMSG_SPACE(sizeof(int)) +
		 CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct cmsghdr align;
};

/* Whether a refusal may go now (rate limit, shared by every thread). */
static bool refuse_due(struct ipraw_carrier *r, int64_t now)
{
	int64_t tat = atomic_load_explicit(&r->refuse_next,
					   memory_order_relaxed), base;

	do {
		base = tat > now ? tat : now;
		if (base - now >= (int64_t)REFUSE_BURST * REFUSE_GAP_NS)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
			 &r->refuse_next, &tat, base + REFUSE_GAP_NS,
			 memory_order_relaxed, memory_order_relaxed));
	return true;
}

/* Sends the ICMP port unreachable for @pkt (@len bytes of @rx), rate
 * limited; the core's verdict (uh_stack_input) or ours. */
static void ipraw_refuse(struct uh_carrier *c, const struct uh_rx *rx,
			 const uint8_t *pkt, size_t len)
{
	struct ipraw_carrier *r = raw_of(c);
	int fd = uh_addr_is_v4(&rx->src) ? r->icmp4 : r->icmp6;

	if (fd >= 0 && refuse_due(r, (int64_t)uh_now_ns()))
		uh_icmp_refuse(fd, rx, pkt, len);
}

/* Whether this stack answers for ports nobody on the host holds: it holds
 * the refuser name, or takes it now (its holder is gone, or never was;
 * tried at most every 10 ms: a successor takes over well within an RPC
 * timeout). */
static bool is_refuser(struct ipraw_carrier *r, int64_t now)
{
	int64_t due = atomic_load_explicit(&r->refuser_retry,
					   memory_order_relaxed);
	int fd, none = -1;

	if (atomic_load_explicit(&r->refuser, memory_order_acquire) >= 0)
		return true;
	if (now < due || !atomic_compare_exchange_strong_explicit(
				 &r->refuser_retry, &due, now + REFUSER_RETRY_NS,
				 memory_order_relaxed, memory_order_relaxed))
		return false;
	fd = uh_claim(r->refuser_name);
	if (fd < 0)
		return false;
	if (!atomic_compare_exchange_strong(&r->refuser, &none, fd))
		uh_fd_close(fd);
	return true;
}

/*
 * A packet for Homa port @dport, which is not ours: refused when we answer
 * for the host and no process holds the port. Most such packets are for
 * another uhoma process here, so what the common case costs matters: a
 * stack that does not answer checks a word; the one that does looks in a
 * cache of ports known held before it asks the kernel (three system calls).
 */
static void foreign(struct ipraw_carrier *r, const struct uh_rx *rx,
		    uint16_t dport)
{
	_Atomic uint64_t *slot = &r->held[dport % HELD_SLOTS];
	int64_t now;
	uint64_t v;
	int fd = uh_addr_is_v4(&rx->src) ? r->icmp4 : r->icmp6;

	if (fd < 0)
		return;
	now = (int64_t)uh_now_ns();
	if (!is_refuser(r, now))
		return;
	v = atomic_load_explicit(slot, memory_order_relaxed);
	if ((v & 0xFFFF) == dport && (int64_t)(v >> 16) > now / 1000000)
		return;
	if (!refuse_due(r, now))
		return;
	if (port_held(dport)) {
		atomic_store_explicit(
			slot, (uint64_t)(now / 1000000 + HELD_MS) << 16 | dport,
			memory_order_relaxed);
		return;
	}
	if (r->refuses_any && dst_has_refuser(&rx->dst))
		return;
	uh_icmp_refuse(fd, rx, rx->buf, rx->len);
}

/* Sends @n packets of one family through @fd; returns how many went. */
static unsigned send_family(int fd, int family, const struct uh_tx *pkts,
			    unsigned n)
{
	struct mmsghdr msgs[RAW_BATCH];
	struct iovec iov[RAW_BATCH][2];
	struct sockaddr_storage dst[RAW_BATCH];
	union raw_cmsg cm[RAW_BATCH];
	unsigned done = 0;
	bool errored = false;

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
		if (r < 0 && !errored && uh_icmp_send_took_error(errno)) {
			/* An earlier packet's error (icmp.h): this send did
			 * nothing; the error waits in the queue, which the
			 * next poll that finds nothing reads. */
			errored = true;
			continue;
		}
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

/* Whether a poll that found nothing should ask the error queues: every
 * ERRQ_GAP_NS, shared by every polling thread. */
static bool errq_due(struct ipraw_carrier *r)
{
	int64_t now = (int64_t)uh_now_ns();
	int64_t due = atomic_load_explicit(&r->errq_next,
					   memory_order_relaxed);

	return now >= due &&
	       atomic_compare_exchange_strong_explicit(
		       &r->errq_next, &due, now + ERRQ_GAP_NS,
		       memory_order_relaxed, memory_order_relaxed);
}

/*
 * Reads @fd's error queue, keeping only the errors about packets we sent.
 * Every raw protocol-146 socket on the host gets a copy of each ICMP
 * error that quotes a protocol-146 packet between its addresses: one that
 * another process's packet drew (from another port of this host) is not
 * word about our peers, and acting on it would fail or end RPCs of ours
 * that share the quoted address and port.
 */
static unsigned our_errors(struct ipraw_carrier *r, int fd, struct uh_rx *rx,
			   unsigned max)
{
	unsigned n = uh_icmp_read_errors(fd, UH_ICMP_PORT_IN_DATA, rx, max);
	unsigned kept = 0;

	for (unsigned i = 0; i < n; i++) {
		if (atomic_load_explicit(&r->claim[rx[i].unreach_from],
					 memory_order_acquire) == 0)
			continue;
		if (kept != i) {
			/* Swap, buffers and all (carrier.h). */
			struct uh_rx t = rx[kept];

			rx[kept] = rx[i];
			rx[i] = t;
		}
		kept++;
	}
	return kept;
}

/* Whether @rx is for a port of ours (refused if nobody's, see foreign). */
static bool ours(struct ipraw_carrier *r, const struct uh_rx *rx)
{
	uint16_t dport;

	/* Shorter than the common header: no port to read, as for the
	 * module, which drops it before it looks for a socket. The core
	 * counts it (short), and nothing is refused. */
	if (rx->len < UH_HDR_COMMON)
		return true;
	dport = (uint16_t)(rx->buf[2] << 8 | rx->buf[3]);
	if (atomic_load_explicit(&r->claim[dport], memory_order_acquire) != 0)
		return true;
	foreign(r, rx, dport);
	return false;
}

/* Receives what is queued on raw socket @fd into @rx (at most @max). */
static unsigned recv_family(struct ipraw_carrier *r, int fd, bool v4,
			    bool woke, struct uh_rx *rx, unsigned max)
{
	struct mmsghdr msgs[RAW_BATCH];
	struct iovec iov[RAW_BATCH][2];
	uint8_t iph[RAW_BATCH][IPV4_HDR];
	struct sockaddr_storage src[RAW_BATCH];
	union raw_rx_cmsg cm[RAW_BATCH];
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
	if (n <= 0 && (woke || errq_due(r)))
		/* Nothing to read: an ICMP error for what we sent may be
		 * why we woke. A raw socket does not fail its reads for
		 * one as a UDP socket does; its error queue must be asked
		 * (polls, which are never woken, ask now and then). */
		return our_errors(r, fd, rx, max);
	for (int i = 0; i < n; i++) {
		struct uh_rx *out = &rx[got];
		size_t len = msgs[i].msg_len;
		uint8_t prio = 0;
		uint16_t port;

		memset(&rx[i].dst, 0, sizeof(rx[i].dst));
		if (v4) {
			size_t ihl = (size_t)(iph[i][0] & 0xF) * 4;

			if (len < IPV4_HDR || (iph[i][0] >> 4) != 4 ||
			    ihl < IPV4_HDR || len < ihl)
				continue;
			prio = (uint8_t)(iph[i][1] >> 5);
			rx[i].dst.b[10] = rx[i].dst.b[11] = 0xFF;
			memcpy(rx[i].dst.b + 12, iph[i] + 16, 4);
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
				if (cmh->cmsg_level == IPPROTO_IPV6 &&
				    cmh->cmsg_type == IPV6_PKTINFO &&
				    cmh->cmsg_len >= CMSG_LEN(
					    sizeof(struct in6_pktinfo)))
					memcpy(rx[i].dst.b, CMSG_DATA(cmh), 16);
			}
		}
		rx[i].len = len;
		rx[i].priority = prio;
		if (uh_addr_from_sockaddr((struct sockaddr *)&src[i],
					  sizeof(src[i]), &rx[i].src, &port) ||
		    !ours(r, &rx[i]))
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
			out->src = rx[i].src;
			out->dst = rx[i].dst;
		}
		out->len = len;
		out->priority = prio;
		out->seg_size = 0;
		out->unreachable = UH_REACHED;
		got++;
	}
	return got;
}

static unsigned ipraw_recv(struct uh_carrier *c, struct uh_rx *rx,
			   unsigned max, int64_t timeout_ns)
{
	struct ipraw_carrier *r = raw_of(c);
	unsigned got = 0;

	bool woke = false;

	if (timeout_ns != 0) {
		void *ready[2];

		if (uh_waitset_wait(&r->ws, ready, 2, timeout_ns) <= 0)
			return 0;
		woke = true;
	}
	if (r->fd4 >= 0)
		got += recv_family(r, r->fd4, true, woke, rx, max);
	if (r->fd6 >= 0 && got < max)
		got += recv_family(r, r->fd6, false, woke, rx + got,
				   max - got);
	return got;
}

static void ipraw_kick(struct uh_carrier *c)
{
	uh_waitset_kick(&raw_of(c)->ws);
}

/* Closes the carrier's own sockets (not the port claims). */
static void close_fds(struct ipraw_carrier *r)
{
	int fds[] = { r->fd4, r->fd6, r->icmp4, r->icmp6,
		      atomic_load(&r->refuser) };

	for (unsigned i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			uh_fd_close(fds[i]);
}

static void ipraw_forget(struct uh_carrier *c)
{
	struct ipraw_carrier *r = raw_of(c);

	for (unsigned p = 0; p < 65536; p++) {
		int fd = atomic_load(&r->claim[p]) - 1;

		if (fd >= 0)
			uh_fd_close(fd);
	}
	close_fds(r);
	if (r->have_ws)
		uh_waitset_forget(&r->ws);
}

static void ipraw_destroy(struct uh_carrier *c)
{
	struct ipraw_carrier *r = raw_of(c);

	for (unsigned p = 0; p < 65536; p++)
		ipraw_close_port(c, (uint16_t)p);
	close_fds(r);
	uh_waitset_destroy(&r->ws);
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
	.refuse = ipraw_refuse,
	.destroy = ipraw_destroy,
};

/* A raw protocol-146 socket of @family bound to @local (unless @any). */
static int open_raw(int family, const struct uh_addr *local, bool any)
{
	int fd = uh_fd_own(socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
				  IPPROTO_HOMA));
	int one = 1, size = RAW_SOCKBUF;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	/* ICMP errors for what we send, to the error queue (ipraw.c top). */
	if (family == AF_INET) {
		setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	} else {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof(one));
		/* The address each packet came to: a refusal quotes it. */
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
			   sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
	}
	if (!any) {
		struct sockaddr_storage ss;
		uint32_t len;

		uh_addr_to_sockaddr(local, 0, &ss, &len);
		if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
			int e = errno;

			uh_fd_close(fd);
			return -e;
		}
	}
	return fd;
}

/* A raw ICMP socket of @family that only sends: it would otherwise get a
 * copy of every ICMP message to the host. -1 if it cannot be had (then
 * nothing is refused: senders time out instead). */
static int open_icmp(int family)
{
	int fd = uh_fd_own(socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
				  family == AF_INET ? IPPROTO_ICMP
						    : IPPROTO_ICMPV6));
	int small = 1;

	if (fd < 0)
		return -1;
	if (family == AF_INET) {
		struct icmp_filter none = { .data = ~0u };

		setsockopt(fd, SOL_RAW, ICMP_FILTER, &none, sizeof(none));
	} else {
		struct icmp6_filter none;

		memset(&none, 0xFF, sizeof(none));
		setsockopt(fd, IPPROTO_ICMPV6, ICMPV6_FILTER, &none,
			   sizeof(none));
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
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
	r->fd4 = r->fd6 = r->icmp4 = r->icmp6 = -1;
	atomic_init(&r->refuser, -1);
	uh_lock_init(&r->claim_lock, &claim_class);
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
	if (r->fd4 >= 0)
		r->icmp4 = open_icmp(AF_INET);
	if (r->fd6 >= 0)
		r->icmp6 = open_icmp(AF_INET6);
	refuser_name(r->refuser_name, sizeof(r->refuser_name),
		     any ? NULL : &r->c.local);
	r->refuses_any = any;
	rc = uh_waitset_init(&r->ws);
	if (rc)
		goto fail;
	r->have_ws = true;
	if ((r->fd4 >= 0 && (rc = uh_waitset_add(&r->ws, r->fd4, &r->fd4))) ||
	    (r->fd6 >= 0 && (rc = uh_waitset_add(&r->ws, r->fd6, &r->fd6))))
		goto fail;
	/* Answer for the address from the start, if nobody does: a wildcard
	 * stack's refuser defers to this name, which must then be held
	 * before the first packet both see. */
	if (r->icmp4 >= 0 || r->icmp6 >= 0)
		(void)is_refuser(r, (int64_t)uh_now_ns());
	*out = &r->c;
	return UHOMA_OK;
fail:
	close_fds(r);
	if (r->have_ws)
		uh_waitset_destroy(&r->ws);
	free(r);
	return rc;
}
