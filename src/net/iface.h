/*
 * iface.h - what the socket carriers share: the MTU and link speed of the
 * interface holding an address, and errno translation.
 */
#ifndef UHOMA_NET_IFACE_H
#define UHOMA_NET_IFACE_H

#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>
#include <sys/socket.h>

#include "util/addr.h"

/* Whether @a is 127.x.y.z or ::1. */
bool uh_iface_is_loopback(const struct uh_addr *a);

/*
 * The MTU and speed (Mbit/s) of the interface holding @local: on loopback
 * 65536 and 100000 (memory speed: the pacer only keeps the receiver's queue
 * short); elsewhere the interface's MTU and its /sys/class/net speed; 1500
 * and 25000 when unknown (also for the wildcard address, @any).
 */
void uh_iface_info(const struct uh_addr *local, bool any, uint32_t *mtu,
		   uint32_t *mbps);

/*
 * The route to @dst, as the kernel would use it for a packet sent now: its
 * MTU (IP_MTU / IPV6_MTU of a connected probe socket: the device's, or the
 * route's own mtu attribute) into *@mtu, and in *@local whether the route
 * stays inside this host (the kernel picks @dst itself as the source
 * address: loopback, or one of the host's own addresses). Four system
 * calls; false (and nothing written) when there is no route.
 */
bool uh_iface_route(const struct uh_addr *dst, uint32_t *mtu, bool *local);

/* The uhoma code for a socket call's errno @e (EADDRINUSE: ADDR_IN_USE,
 * EPERM/EACCES: PERMISSION, ENOMEM/ENOBUFS: NOMEM, EMFILE/ENFILE:
 * NO_FILES, EADDRNOTAVAIL: INVALID_ARGUMENT, anything else: SYSTEM). */
int uh_net_error(int e);

/* Writes at @cm the control message that sends a packet of @family at
 * Homa priority @prio (IP_TOS / IPV6_TCLASS = prio << 5, §1.7); returns
 * its CMSG_SPACE. */
size_t uh_net_put_tos(struct cmsghdr *cm, int family, uint8_t prio);

#endif /* UHOMA_NET_IFACE_H */
