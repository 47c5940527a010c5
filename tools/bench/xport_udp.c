/*
 * xport_udp.c - the floor: plain UDP ping-pong, one datagram each way,
 * waiting the way uhoma does (busy-poll poll_us, then block). Requests and
 * responses must fit in one datagram. The server echoes the request's
 * header, so the client finds the tag (sent in bench_hdr.lane) again.
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define UDP_MAX 65000

struct udp_client {
	struct xclient x;
	int fd;
	unsigned poll_us;
	uint8_t buf[UDP_MAX];
};

static int uc_send(struct xclient *x, uint32_t len, uint32_t resp_len,
		   uint32_t tag, unsigned lane)
{
	struct udp_client *c = (struct udp_client *)x;
	struct bench_hdr h = { resp_len, tag };

	(void)lane;
	if (len > UDP_MAX || resp_len > UDP_MAX || len < sizeof(h))
		return -EMSGSIZE;
	memcpy(c->buf, &h, sizeof(h));
	return send(c->fd, c->buf, len, 0) == (ssize_t)len ? 0 : -errno;
}

static ssize_t recv_polling(int fd, void *buf, size_t cap, unsigned poll_us,
			    int64_t timeout_ns)
{
	/* A zero timeout only looks (the driver takes ready responses
	 * between sends that way): no busy-poll then. */
	uint64_t until = bench_now_ns() +
			 (timeout_ns == 0 ? 0 : (uint64_t)poll_us * 1000);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct timespec ts = bench_timespec(timeout_ns);

	for (;;) {
		ssize_t r = recv(fd, buf, cap, MSG_DONTWAIT);

		if (r >= 0 || (errno != EAGAIN && errno != EINTR))
			return r;
		if (bench_now_ns() >= until)
			break;
	}
	if (ppoll(&p, 1, timeout_ns < 0 ? NULL : &ts, NULL) <= 0)
		return -1;
	return recv(fd, buf, cap, MSG_DONTWAIT);
}

static int uc_wait(struct xclient *x, uint32_t *tag, int64_t timeout_ns)
{
	struct udp_client *c = (struct udp_client *)x;
	struct bench_hdr h;
	ssize_t r = recv_polling(c->fd, c->buf, sizeof(c->buf), c->poll_us,
				 timeout_ns);

	if (r < (ssize_t)sizeof(h))
		return 0;
	memcpy(&h, c->buf, sizeof(h));
	*tag = h.lane;
	return 1;
}

static void uc_close(struct xclient *x)
{
	struct udp_client *c = (struct udp_client *)x;

	close(c->fd);
	free(c);
}

static const struct xclient_ops udp_client_ops = {
	uc_send, uc_wait, uc_close,
};

struct xclient *udp_client_open(const struct bench_opts *o)
{
	struct udp_client *c = calloc(1, sizeof(*c));
	struct sockaddr_storage ss;
	socklen_t len = bench_addr(o, BENCH_UDP_PORT, &ss);

	if (!c || !len)
		goto fail;
	c->x.ops = &udp_client_ops;
	c->poll_us = o->poll_us;
	c->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&ss, len) < 0)
		goto fail;
	return &c->x;
fail:
	fprintf(stderr, "uhoma-bench: UDP socket: %s\n", strerror(errno));
	free(c);
	return NULL;
}

static unsigned server_poll_us;

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static __thread uint8_t buf[UDP_MAX];
	unsigned poll_us = server_poll_us;

	for (;;) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		struct bench_hdr h;
		ssize_t r;
		uint64_t until = bench_now_ns() + (uint64_t)poll_us * 1000;

		do {
			flen = sizeof(from);
			r = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &flen);
		} while (r < 0 && bench_now_ns() < until);
		if (r < 0) {
			flen = sizeof(from);
			r = recvfrom(fd, buf, sizeof(buf), 0,
				     (struct sockaddr *)&from, &flen);
		}
		if (r < (ssize_t)sizeof(h))
			continue;
		memcpy(&h, buf, sizeof(h));
		if (h.resp_len < sizeof(h) || h.resp_len > UDP_MAX)
			h.resp_len = (uint32_t)r;
		sendto(fd, buf, h.resp_len, 0, (struct sockaddr *)&from, flen);
	}
	return NULL;
}

int udp_server_start(const struct bench_opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len = bench_addr(o, BENCH_UDP_PORT, &ss);
	int fd = len ? socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0) : -1;
	pthread_t t;

	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0) {
		fprintf(stderr, "uhoma-bench: UDP bind %u: %s\n",
			BENCH_UDP_PORT, strerror(errno));
		return -1;
	}
	server_poll_us = o->poll_us;
	if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd))
		return -1;
	pthread_detach(t);
	return 0;
}
