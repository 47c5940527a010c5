/*
 * iface.c - interface MTU and speed for the socket carriers.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/iface.h"
#include "net/ownfd.h"
#include "uhoma/uhoma.h"

bool uh_iface_is_loopback(const struct uh_addr *a)
{
	static const uint8_t v6lo[16] = { [15] = 1 };

	return uh_addr_is_v4(a) ? a->b[12] == 127 : memcmp(a->b, v6lo, 16) == 0;
}

void uh_iface_info(const struct uh_addr *local, bool any, uint32_t *mtu,
		   uint32_t *mbps)
{
	struct ifaddrs *ifa, *i;

	*mtu = 1500;
	*mbps = 25000;
	if (uh_iface_is_loopback(local)) {
		*mtu = 65536;
		*mbps = 100000;
		return;
	}
	if (any || getifaddrs(&ifa) != 0)
		return;
	for (i = ifa; i; i = i->ifa_next) {
		struct uh_addr a;
		uint16_t port;
		struct ifreq req;
		char path[128];
		FILE *f;
		int fd, speed;

		if (!i->ifa_addr ||
		    uh_addr_from_sockaddr(i->ifa_addr,
					  i->ifa_addr->sa_family == AF_INET
						  ? sizeof(struct sockaddr_in)
						  : sizeof(struct sockaddr_in6),
					  &a, &port) ||
		    !uh_addr_eq(&a, local))
			continue;
		memset(&req, 0, sizeof(req));
		snprintf(req.ifr_name, sizeof(req.ifr_name), "%s", i->ifa_name);
		fd = uh_fd_own(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
		if (fd >= 0 && ioctl(fd, SIOCGIFMTU, &req) == 0 &&
		    req.ifr_mtu >= 576)
			*mtu = (uint32_t)req.ifr_mtu;
		uh_fd_close(fd);
		snprintf(path, sizeof(path), "/sys/class/net/%s/speed",
			 i->ifa_name);
		f = fopen(path, "re");
		if (f) {
			if (fscanf(f, "%d", &speed) == 1 && speed > 0)
				*mbps = (uint32_t)speed;
			fclose(f);
		}
		break;
	}
	freeifaddrs(ifa);
}

/* The route lookup's sockets (ownfd.h): [1] IPv4. */
static struct uh_fd_pool route_pool[2] = { UH_FD_POOL_INIT(AF_INET6),
					   UH_FD_POOL_INIT(AF_INET) };

static bool route_with(int fd, int v4, const struct uh_addr *dst,
		       uint32_t *mtu, bool *local)
{
	struct sockaddr_storage ss, src;
	socklen_t len, slen = sizeof(src), mlen;
	struct uh_addr s;
	uint16_t port;
	int m = 0;

	mlen = sizeof(m);
	/* Any port: connect() on a datagram socket only looks up the
	 * route (each call replaces the last one's). */
	uh_addr_to_sockaddr(dst, 9, &ss, &len);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) != 0 ||
	    getsockopt(fd, v4 ? IPPROTO_IP : IPPROTO_IPV6,
		       v4 ? IP_MTU : IPV6_MTU, &m, &mlen) != 0 || m < 576 ||
	    getsockname(fd, (struct sockaddr *)&src, &slen) != 0 ||
	    uh_addr_from_sockaddr((struct sockaddr *)&src, slen, &s, &port))
		return false;
	*mtu = (uint32_t)m;
	/* This host's: the route's source is the address itself, or it is a
	 * loopback address, whatever source the route picks (127.0.0.2
	 * leaves from 127.0.0.1; helper-33). */
	*local = uh_addr_eq(&s, dst) || uh_iface_is_loopback(dst);
	return true;
}

bool uh_iface_route(const struct uh_addr *dst, uint32_t *mtu, bool *local)
{
	int v4 = uh_addr_is_v4(dst), slot;
	int fd = uh_fd_pool_get(&route_pool[v4], &slot);
	bool ok = route_with(fd, v4, dst, mtu, local);

	uh_fd_pool_put(&route_pool[v4], fd, slot);
	return ok;
}

int uh_net_error(int e)
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
	case EMFILE:
	case ENFILE:
		return UHOMA_ERR_NO_FILES;
	case EADDRNOTAVAIL:
		return UHOMA_ERR_INVALID_ARGUMENT;
	default:
		return UHOMA_ERR_SYSTEM;
	}
}

size_t uh_net_put_tos(struct cmsghdr *cm, int family, uint8_t prio)
{
	int tos = prio << 5;

	cm->cmsg_level = family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
	cm->cmsg_type = family == AF_INET ? IP_TOS : IPV6_TCLASS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &tos, sizeof(tos));
	return CMSG_SPACE(sizeof(int));
}
