/*
 * iface.c - interface MTU and speed for the socket carriers.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/iface.h"
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
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && ioctl(fd, SIOCGIFMTU, &req) == 0 &&
		    req.ifr_mtu >= 576)
			*mtu = (uint32_t)req.ifr_mtu;
		if (fd >= 0)
			close(fd);
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

int uh_net_epoll_wait(int epfd, struct epoll_event *ev, int max,
		      int64_t timeout_ns)
{
#if !defined(__SANITIZE_THREAD__)
	/* (ThreadSanitizer intercepts epoll_ctl and epoll_wait, not
	 * epoll_pwait2: without the interceptor it would miss the ordering
	 * epoll gives between adding a port and receiving on it, and report
	 * races that are not there. Its builds wait in milliseconds.) */
	static _Atomic bool no_pwait2;

	if (timeout_ns >= 0 && !atomic_load_explicit(&no_pwait2,
						     memory_order_relaxed)) {
		struct timespec ts = { (time_t)(timeout_ns / 1000000000),
				       (long)(timeout_ns % 1000000000) };
		int r = epoll_pwait2(epfd, ev, max, &ts, NULL);

		if (r >= 0 || errno != ENOSYS)
			return r;
		atomic_store_explicit(&no_pwait2, true, memory_order_relaxed);
	}
#endif
	return epoll_wait(epfd, ev, max,
			  timeout_ns < 0 ? -1
					 : (int)((timeout_ns + 999999) / 1000000));
}
