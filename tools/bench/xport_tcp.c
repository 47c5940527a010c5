/*
 * xport_tcp.c - TCP as a uhoma-bench transport: each request is a 4-byte
 * length and the message; the response is resp_len bytes. A client thread
 * spreads lane-0 RPCs over a pool of `conns` connections (the one with the
 * fewest outstanding, pipelined in order); with --conns 1 everything shares
 * one connection. Lane 1 (the bulk stream of --hol) gets a connection of
 * its own when conns > 1. The server runs one thread per connection. Both
 * sides busy-poll poll_us before blocking, as uhoma does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define MAX_CONNS 65
#define FIFO 1024

struct conn {
	int fd;
	unsigned head, tail;              /* FIFO of outstanding RPCs */
	uint32_t tag[FIFO], resp[FIFO];
};

struct tcp_client {
	struct xclient x;
	unsigned n, poll_us;
	int ep;
	struct conn c[MAX_CONNS];
	uint8_t *buf, *rbuf;
	/* Responses read while a send waited for room (see tc_send). */
	unsigned done_head, done_tail;
	uint32_t done[FIFO];
	int done_rc[FIFO];
};

static int read_one(struct tcp_client *c, struct conn *k, uint32_t *tag);

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads exactly @n bytes; busy-polls @poll_us first. */
static int read_all(int fd, void *p, size_t n, unsigned poll_us)
{
	uint8_t *b = p;
	uint64_t until = bench_now_ns() + (uint64_t)poll_us * 1000;

	while (n) {
		ssize_t r = recv(fd, b, n, MSG_DONTWAIT);

		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (bench_now_ns() < until)
				continue;
			r = recv(fd, b, n, 0);
			if (r < 0 && errno == EINTR)
				continue;
		}
		if (r <= 0)
			return r == 0 ? -ECONNRESET : -errno;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static int tcp_connect(const struct bench_opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len = bench_addr(o, BENCH_TCP_PORT, &ss);
	int fd, one = 1;

	if (!len)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int tc_send(struct xclient *x, uint32_t len, uint32_t resp_len,
		   uint32_t tag, unsigned lane)
{
	struct tcp_client *c = (struct tcp_client *)x;
	struct bench_hdr h = { resp_len, lane };
	struct conn *k = &c->c[0];
	uint32_t prefix = len;
	int rc;

	if (lane == 1 && c->n > 1) {
		k = &c->c[c->n];          /* the stream's own connection */
	} else if (c->n > 1) {
		for (unsigned i = 1; i < c->n; i++)
			if (c->c[i].tail - c->c[i].head < k->tail - k->head)
				k = &c->c[i];
	}
	if (k->tail - k->head == FIFO)
		return -ENOBUFS;
	memcpy(c->buf, &prefix, 4);
	memcpy(c->buf + 4, &h, sizeof(h));
	/* Queue the response first: while the request waits for room, the
	 * server may be answering earlier requests on this connection, and
	 * both sides blocked in send() would deadlock. So a send that would
	 * block reads what responses there are and keeps them for wait(). */
	k->tag[k->tail % FIFO] = tag;
	k->resp[k->tail % FIFO] = resp_len;
	k->tail++;
	for (size_t off = 0; off < len + 4;) {
		ssize_t w = send(k->fd, c->buf + off, len + 4 - off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		struct pollfd p = { .fd = k->fd, .events = POLLIN | POLLOUT };

		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			return -errno;
		if ((p.revents & POLLIN) && k->head != k->tail - 1 &&
		    c->done_tail - c->done_head < FIFO) {
			uint32_t t;

			rc = read_one(c, k, &t);
			c->done[c->done_tail % FIFO] = t;
			c->done_rc[c->done_tail % FIFO] = rc;
			c->done_tail++;
		}
	}
	return 0;
}

/* Reads the response at the head of @k's FIFO. */
static int read_one(struct tcp_client *c, struct conn *k, uint32_t *tag)
{
	int rc = read_all(k->fd, c->rbuf, k->resp[k->head % FIFO], c->poll_us);

	*tag = k->tag[k->head % FIFO];
	k->head++;
	return rc ? rc : 1;
}

static int tc_wait(struct xclient *x, uint32_t *tag, int64_t timeout_ns)
{
	struct tcp_client *c = (struct tcp_client *)x;
	struct epoll_event ev;
	uint64_t until = bench_now_ns() +
			 (timeout_ns == 0 ? 0 : (uint64_t)c->poll_us * 1000);
	struct timespec ts = bench_timespec(timeout_ns);
	struct conn *k;
	int n;

	if (c->done_head != c->done_tail) {
		*tag = c->done[c->done_head % FIFO];
		return c->done_rc[c->done_head++ % FIFO];
	}
	for (;;) {
		n = epoll_wait(c->ep, &ev, 1, 0);
		if (n != 0 || bench_now_ns() >= until)
			break;
	}
	if (n == 0 && timeout_ns != 0)
		n = epoll_pwait2(c->ep, &ev, 1, timeout_ns < 0 ? NULL : &ts,
				 NULL);
	if (n <= 0)
		return 0;
	k = ev.data.ptr;
	if (k->head == k->tail)
		return -EPROTO;          /* bytes nobody asked for */
	return read_one(c, k, tag);
}

static void tc_close(struct xclient *x)
{
	struct tcp_client *c = (struct tcp_client *)x;

	for (unsigned i = 0; i <= c->n; i++)
		if (c->c[i].fd >= 0)
			close(c->c[i].fd);
	close(c->ep);
	free(c->buf);
	free(c->rbuf);
	free(c);
}

static const struct xclient_ops tcp_client_ops = {
	tc_send, tc_wait, tc_close,
};

struct xclient *tcp_client_open(const struct bench_opts *o)
{
	struct tcp_client *c = calloc(1, sizeof(*c));
	unsigned total;

	if (!c)
		return NULL;
	c->x.ops = &tcp_client_ops;
	c->n = o->conns < 1 ? 1 : o->conns > MAX_CONNS - 1 ? MAX_CONNS - 1
							   : o->conns;
	c->poll_us = o->poll_us;
	c->buf = malloc(BENCH_MAX_LEN + 8);
	c->rbuf = malloc(BENCH_MAX_LEN + 8);
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	total = c->n + (o->hol && c->n > 1 ? 1 : 0);
	for (unsigned i = 0; i < MAX_CONNS; i++)
		c->c[i].fd = -1;
	for (unsigned i = 0; i < total; i++) {
		struct epoll_event ev = { .events = EPOLLIN,
					  .data.ptr = &c->c[i] };

		c->c[i].fd = tcp_connect(o);
		if (c->c[i].fd < 0 || !c->buf || !c->rbuf ||
		    epoll_ctl(c->ep, EPOLL_CTL_ADD, c->c[i].fd, &ev) < 0) {
			fprintf(stderr, "uhoma-bench: TCP connect to %s:%u: %s\n",
				o->server, BENCH_TCP_PORT, strerror(errno));
			tc_close(&c->x);
			return NULL;
		}
	}
	return &c->x;
}

/* ---- server ----------------------------------------------------------- */

struct tcp_conn_arg {
	int fd;
	unsigned poll_us;
};

static void *serve_conn(void *arg)
{
	struct tcp_conn_arg a = *(struct tcp_conn_arg *)arg;
	uint8_t *buf = malloc(BENCH_MAX_LEN + 8);
	int one = 1;

	free(arg);
	setsockopt(a.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (buf) {
		uint32_t len;
		struct bench_hdr h;

		if (read_all(a.fd, &len, 4, a.poll_us) || len < sizeof(h) ||
		    len > BENCH_MAX_LEN || read_all(a.fd, buf, len, a.poll_us))
			break;
		memcpy(&h, buf, sizeof(h));
		if (h.resp_len == 0 || h.resp_len > BENCH_MAX_LEN)
			h.resp_len = len;
		memset(buf, 0, sizeof(h));
		if (write_all(a.fd, buf, h.resp_len))
			break;
	}
	free(buf);
	close(a.fd);
	return NULL;
}

static void *accept_loop(void *arg)
{
	const struct bench_opts *o = arg;
	struct sockaddr_storage ss;
	socklen_t len = bench_addr(o, BENCH_TCP_PORT, &ss);
	int lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&ss, len) < 0 ||
	    listen(lfd, 128) < 0) {
		fprintf(stderr, "uhoma-bench: TCP listen on %u: %s\n",
			BENCH_TCP_PORT, strerror(errno));
		exit(1);
	}
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		struct tcp_conn_arg *a;
		pthread_t t;

		if (fd < 0)
			continue;
		a = malloc(sizeof(*a));
		if (!a) {
			close(fd);
			continue;
		}
		a->fd = fd;
		a->poll_us = o->poll_us;
		if (pthread_create(&t, NULL, serve_conn, a)) {
			close(fd);
			free(a);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

int tcp_server_start(const struct bench_opts *o)
{
	static struct bench_opts copy;
	pthread_t t;

	copy = *o;
	if (pthread_create(&t, NULL, accept_loop, &copy))
		return -1;
	pthread_detach(t);
	return 0;
}
