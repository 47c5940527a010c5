/*
 * iface.h - what the kernel says about the interface holding an address:
 * its MTU and link speed. Shared by the carriers that use real sockets.
 */
#ifndef UHOMA_NET_IFACE_H
#define UHOMA_NET_IFACE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/addr.h"

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

#endif /* UHOMA_NET_IFACE_H */
