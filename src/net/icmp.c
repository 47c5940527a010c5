/*
 * icmp.c - reading ICMP errors from a socket's error queue, and sending
 * the ICMP port unreachable a Homa host owes a packet nobody takes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
/* After the libc headers: it needs struct timespec. */
#include <linux/errqueue.h>

#include "net/icmp.h"

#define ICMP_HDR 8
#define IPV4_HDR 20
#define IPV6_HDR 40
#define QUOTE_MAX 128         /* Homa bytes quoted: every header whole */
#define PROTO_HOMA 146

/* What error @e says of its destination. */
static enum uh_unreach classify(const struct sock_extended_err *e)
{
	if (e->ee_origin == SO_EE_ORIGIN_ICMP && e->ee_type == 3) {
		switch (e->ee_code) {
		case 2:
			return UH_UNREACH_PROTO;
		case 3:
			return UH_UNREACH_PORT;
		case 4:
			return UH_REACHED;   /* fragmentation needed: path MTU */
		default:
			return UH_UNREACH_HOST;   /* net, host, prohibited... */
		}
	}
	if (e->ee_origin == SO_EE_ORIGIN_ICMP6) {
		if (e->ee_type == 1)          /* destination unreachable */
			return e->ee_code == 4 ? UH_UNREACH_PORT
					       : UH_UNREACH_HOST;
		if (e->ee_type == 4 && e->ee_code == 1)
			return UH_UNREACH_PROTO;   /* unknown next header */
	}
	return UH_REACHED;
}

unsigned uh_icmp_read_errors(int fd, enum uh_icmp_port where,
			     struct uh_rx *rx, unsigned max)
{
	unsigned got = 0;

	while (got < max) {
		struct sockaddr_storage dst;
		/* The error comes with whatever else the socket asked for
		 * (TOS, traffic class, packet info): room for all. */
		union {
			char buf[CMSG_SPACE(sizeof(struct sock_extended_err) +
					    sizeof(struct sockaddr_in6)) +
				 4 * CMSG_SPACE(sizeof(struct in6_pktinfo))];
			struct cmsghdr align;
		} cm;
		uint8_t data[64];
		struct iovec iov = { data, sizeof(data) };
		struct msghdr m = {
			.msg_name = &dst, .msg_namelen = sizeof(dst),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cm.buf, .msg_controllen = sizeof(cm.buf),
		};
		ssize_t n = recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c;
		     c = CMSG_NXTHDR(&m, c)) {
			struct sock_extended_err e;
			struct uh_rx *out = &rx[got];
			uint16_t port;

			if (!((c->cmsg_level == IPPROTO_IP &&
			       c->cmsg_type == IP_RECVERR) ||
			      (c->cmsg_level == IPPROTO_IPV6 &&
			       c->cmsg_type == IPV6_RECVERR)) ||
			    c->cmsg_len < CMSG_LEN(sizeof(e)))
				continue;
			memcpy(&e, CMSG_DATA(c), sizeof(e));
			out->unreachable = (uint8_t)classify(&e);
			if (out->unreachable == UH_REACHED ||
			    uh_addr_from_sockaddr((struct sockaddr *)&dst,
						  m.msg_namelen, &out->src,
						  &port))
				break;
			out->unreach_from = 0;
			if (where == UH_ICMP_PORT_IN_DATA) {
				port = (uint16_t)(n >= 4 ? data[2] << 8 | data[3]
							 : 0);
				out->unreach_from = (uint16_t)(
					n >= 2 ? data[0] << 8 | data[1] : 0);
			}
			out->unreach_port = port;
			/* A port unreachable naming no port says nothing. */
			if (out->unreachable == UH_UNREACH_PORT && port == 0)
				break;
			out->len = 0;
			out->seg_size = 0;
			out->priority = 0;
			got++;
			break;
		}
	}
	return got;
}

/* The Internet checksum of @len bytes at @p. */
static uint16_t inet_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xFFFF) + (sum >> 16);
	return (uint16_t)~sum;
}

bool uh_icmp_refuse(int fd, const struct uh_rx *r, const uint8_t *pkt,
		    size_t len)
{
	uint8_t msg[ICMP_HDR + IPV6_HDR + QUOTE_MAX];
	size_t quote = len < QUOTE_MAX ? len : QUOTE_MAX, n;
	struct sockaddr_storage to;
	uint32_t to_len;
	ssize_t sent;

	memset(msg, 0, sizeof(msg));
	if (uh_addr_is_v4(&r->src)) {
		uint8_t *ip = msg + ICMP_HDR;
		uint16_t total = (uint16_t)(IPV4_HDR + len), csum;

		msg[0] = 3;                       /* destination unreachable */
		msg[1] = 3;                       /* port unreachable */
		/* The header the packet came with, as far as it matters. */
		ip[0] = 0x45;
		ip[1] = (uint8_t)(r->priority << 5);
		ip[2] = (uint8_t)(total >> 8);
		ip[3] = (uint8_t)total;
		ip[8] = 64;
		ip[9] = PROTO_HOMA;
		memcpy(ip + 12, r->src.b + 12, 4);
		memcpy(ip + 16, r->dst.b + 12, 4);
		csum = inet_csum(ip, IPV4_HDR);
		ip[10] = (uint8_t)(csum >> 8);
		ip[11] = (uint8_t)csum;
		memcpy(ip + IPV4_HDR, pkt, quote);
		n = ICMP_HDR + IPV4_HDR + quote;
		csum = inet_csum(msg, n);
		msg[2] = (uint8_t)(csum >> 8);
		msg[3] = (uint8_t)csum;
	} else {
		uint8_t *ip = msg + ICMP_HDR;

		msg[0] = 1;                       /* destination unreachable */
		msg[1] = 4;                       /* port unreachable */
		/* The checksum is the kernel's (ICMPv6 raw sockets). */
		ip[0] = (uint8_t)(0x60 | r->priority << 1);
		ip[1] = 0;
		ip[4] = (uint8_t)(len >> 8);
		ip[5] = (uint8_t)len;
		ip[6] = PROTO_HOMA;
		ip[7] = 64;
		memcpy(ip + 8, r->src.b, 16);
		memcpy(ip + 24, r->dst.b, 16);
		memcpy(ip + IPV6_HDR, pkt, quote);
		n = ICMP_HDR + IPV6_HDR + quote;
	}
	uh_addr_to_sockaddr(&r->src, 0, &to, &to_len);
	do
		sent = sendto(fd, msg, n, MSG_DONTWAIT, (struct sockaddr *)&to,
			      to_len);
	while (sent < 0 && errno == EINTR);
	return sent == (ssize_t)n;
}

bool uh_icmp_send_took_error(int e)
{
	return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH ||
	       e == EHOSTDOWN || e == ENONET || e == EPROTO;
}
