/*
 * bench_floor.c - what the system calls alone cost a user-space transport's
 * round trip: a 100-byte UDP ping-pong between two processes (client CPU 0,
 * server CPU 1, both busy-polling), in three variants measured in rounds
 * that alternate within one run, reported as ratios to the first:
 *
 *   plain   recv + send on a connected socket: `uhoma-bench compare`'s
 *           UDP floor;
 *   carrier recvmmsg / sendmmsg on an unbound-peer socket, each datagram
 *           with a TOS control message (its Homa priority), received with
 *           its source address and TOS: what any UDP carrier of Homa
 *           needs, and what uhoma's does;
 *   epoll   carrier, with both sockets also in an epoll set: what uhoma
 *           paid before its waitset (net/waitset.h) kept busy-polled
 *           sockets out of epoll.
 *
 * `carrier` over `plain` is the part of `rtt_p50_vs_udp` that no protocol
 * work can remove. Usage: bench_floor [--quick]
 * The last line is machine-readable: SUMMARY key=value ...
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/clock.h"

enum variant { PLAIN, CARRIER, EPOLL, NVARIANTS };

static const char *const names[NVARIANTS] = { "plain", "carrier", "epoll" };

#define LEN 100
#define BATCH 16
#define ROUNDS 5

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET((unsigned)cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static struct sockaddr_in lo(uint16_t port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* A bound socket set up for @v, and its epoll set (-1 if none). */
static int open_sock(enum variant v, uint16_t port, uint16_t peer, int *ep)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), one = 1;
	struct sockaddr_in a = lo(port), p = lo(peer);

	*ep = -1;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("bench_floor: socket");
		exit(1);
	}
	if (v == PLAIN) {
		connect(fd, (struct sockaddr *)&p, sizeof(p));
		return fd;
	}
	setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one));
	if (v == EPOLL) {
		struct epoll_event ev = { .events = EPOLLIN };

		*ep = epoll_create1(0);
		epoll_ctl(*ep, EPOLL_CTL_ADD, fd, &ev);
	}
	return fd;
}

static char buf[BATCH][2048];

static void send_one(enum variant v, int fd, uint16_t peer)
{
	struct sockaddr_in p = lo(peer);
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov[2] = { { buf[0], 40 }, { buf[0] + 40, LEN - 40 } };
	struct mmsghdr m;
	struct cmsghdr *c;
	int tos = 7 << 5;

	if (v == PLAIN) {
		(void)!send(fd, buf[0], LEN, 0);
		return;
	}
	memset(&m, 0, sizeof(m));
	memset(&cm, 0, sizeof(cm));
	m.msg_hdr.msg_name = &p;
	m.msg_hdr.msg_namelen = sizeof(p);
	m.msg_hdr.msg_iov = iov;       /* header and payload apart */
	m.msg_hdr.msg_iovlen = 2;
	m.msg_hdr.msg_control = cm.b;
	m.msg_hdr.msg_controllen = sizeof(cm.b);
	c = CMSG_FIRSTHDR(&m.msg_hdr);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_TOS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &tos, sizeof(tos));
	(void)!sendmmsg(fd, &m, 1, 0);
}

/* One non-blocking receive; whether a datagram came. */
static int recv_one(enum variant v, int fd)
{
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in src[BATCH];
	char cm[BATCH][64];

	if (v == PLAIN)
		return recv(fd, buf[0], sizeof(buf[0]), MSG_DONTWAIT) > 0;
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = sizeof(buf[i]);
		memset(&m[i], 0, sizeof(m[i]));
		m[i].msg_hdr.msg_name = &src[i];
		m[i].msg_hdr.msg_namelen = sizeof(src[i]);
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
		m[i].msg_hdr.msg_control = cm[i];
		m[i].msg_hdr.msg_controllen = sizeof(cm[i]);
	}
	return recvmmsg(fd, m, BATCH, MSG_DONTWAIT, NULL) > 0;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One round of @n round trips of variant @v; returns the median in ns. */
static double round_trip(enum variant v, int n, uint16_t base)
{
	uint16_t cport = base, sport = (uint16_t)(base + 1);
	uint64_t *t = malloc((size_t)n * sizeof(*t)), med;
	int fd, ep, cfd, cep;
	pid_t server;

	fd = open_sock(v, sport, cport, &ep);
	server = fork();
	if (server == 0) {
		pin(1);
		for (;;)
			if (recv_one(v, fd))
				send_one(v, fd, cport);
	}
	close(fd);
	if (ep >= 0)
		close(ep);
	cfd = open_sock(v, cport, sport, &cep);
	for (int i = -n / 10; i < n; i++) {  /* a tenth as warm-up */
		uint64_t s = uh_now_ns();

		send_one(v, cfd, sport);
		while (!recv_one(v, cfd))
			;
		if (i >= 0)
			t[i] = uh_now_ns() - s;
	}
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	close(cfd);
	if (cep >= 0)
		close(cep);
	qsort(t, (size_t)n, sizeof(*t), cmp);
	med = t[n / 2];
	free(t);
	return (double)med;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n = argc > 1 && strcmp(argv[1], "--quick") == 0 ? 5000 : 40000;
	double med[NVARIANTS][ROUNDS], ratio[NVARIANTS][ROUNDS];

	pin(0);
	printf("100-byte UDP ping-pong, both sides busy-polling, client CPU 0, "
	       "server CPU 1\n%-8s", "round");
	for (int v = 0; v < NVARIANTS; v++)
		printf(" %10s", names[v]);
	printf("   (median RTT, us)\n");
	for (int r = 0; r < ROUNDS; r++) {
		printf("%-8d", r + 1);
		for (int v = 0; v < NVARIANTS; v++) {
			med[v][r] = round_trip((enum variant)v, n,
					       (uint16_t)(47000 + 2 * v));
			printf(" %10.2f", med[v][r] / 1000);
			fflush(stdout);
		}
		printf("\n");
		for (int v = 0; v < NVARIANTS; v++)
			ratio[v][r] = med[v][r] / med[PLAIN][r];
	}
	/* The median over rounds of each round's own ratio: the host's state
	 * moves between rounds, rarely within one. */
	for (int v = 0; v < NVARIANTS; v++)
		qsort(ratio[v], ROUNDS, sizeof(double), cmp_double);
	printf("SUMMARY carrier_over_plain=%.3f epoll_over_plain=%.3f\n",
	       ratio[CARRIER][ROUNDS / 2], ratio[EPOLL][ROUNDS / 2]);
	return 0;
}
