/*
 * icmp.h - what the socket carriers hear from ICMP and what the raw-IP
 * carrier says with it.
 *
 * Reading: a socket with IP_RECVERR / IPV6_RECVERR queues each ICMP error
 * for what it sent; uh_icmp_read_errors turns the ones that say a peer
 * cannot be reached into uh_rx entries (carrier.h), which the core turns
 * into the module's errnos (homa-protocol.md §2: port unreachable ->
 * ENOTCONN, protocol unreachable -> EPROTONOSUPPORT, other destination
 * unreachable -> EHOSTUNREACH).
 *
 * Writing: a host without the module answers a Homa packet for a port
 * nobody holds with an ICMP port unreachable quoting it; the raw-IP
 * carrier must do the same for the module's peers (and its own) to fail
 * fast. uh_icmp_refuse builds and sends that message.
 */
#ifndef UHOMA_NET_ICMP_H
#define UHOMA_NET_ICMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"
#include "core/carrier.h"

/* Where the Homa port of an error is found. */
enum uh_icmp_port {
	UH_ICMP_PORT_IN_NAME,    /* the address of the error (UDP) */
	UH_ICMP_PORT_IN_DATA,    /* bytes 2-3 of the quoted packet: the Homa
				  * header's dport (raw IP); bytes 0-1, its
				  * sport, into @unreach_from */
};

/*
 * Reads @fd's error queue (without waiting) into @rx, at most @max
 * entries: each error that says its destination cannot be reached becomes
 * an entry with @unreachable set, @src the destination and, for a port
 * unreachable, @unreach_port its port (with @where). Other errors (path
 * MTU, local ones) are read and dropped: the protocol's timers handle
 * them. Returns the number of entries written.
 */
unsigned uh_icmp_read_errors(int fd, enum uh_icmp_port where,
			     struct uh_rx *rx, unsigned max);

/*
 * Whether a send that failed with @e only reported an ICMP error that
 * arrived for an earlier packet: IP_RECVERR sets the socket's error, and
 * the next send (UDP or raw) takes it and sends nothing. That send is to
 * be tried again, and the error's details are still in the error queue.
 */
bool uh_icmp_send_took_error(int e);

/*
 * Sends an ICMP port unreachable (IPv4 type 3 code 3, IPv6 type 1 code 4)
 * to @r->src through @fd (a raw IPPROTO_ICMP or IPPROTO_ICMPV6 socket of
 * @r->src's family), quoting the IP header the packet came with (from
 * @r->src to @r->dst, protocol 146) and its first bytes (@pkt, @len), as
 * Linux quotes them. Returns whether it went.
 */
bool uh_icmp_refuse(int fd, const struct uh_rx *r, const uint8_t *pkt,
		    size_t len);

#endif /* UHOMA_NET_ICMP_H */
