/*
 * xport_tcp.c - TCP as a uhoma-bench transport: each request is a 4-byte
 * length and the message; the response is resp_len bytes. A client thread
 * spreads lane-0 RPCs over a pool of `conns` connections per server (the
 * one with the fewest bytes outstanding, pipelined in order); with --conns 1
 * everything to a server shares one connection. Lane 1 (the bulk stream
 * of --hol) gets a connection of its own when conns > 1. The client is
 * event-driven (no connection's transfer waits for another's); the server
 * runs one thread per connection. Both sides busy-poll poll_us before
 * blocking, as uhoma does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MAX_CONNS 257     /* every server's pool, and --hol's stream */
#define FIFO 1024         /* RPCs outstanding per connection */
#define CHUNK (BENCH_MAX_LEN + 8)  /* bytes per recv, and per flush */

/*
 * A client connection. Nothing on it ever blocks the thread: requests
 * are written as far as the socket takes them (the rest when it is
 * writable again), responses read as their bytes come, so a 1 MB message
 * on one connection never holds up what arrives on another -- as an
 * event-driven TCP application works.
 */
struct rpc_slot {
	uint32_t len, resp, tag;          /* request and response bytes */
};

struct conn {
	int fd;
	bool want_out;                    /* EPOLLOUT registered */
	/* The RPCs outstanding, in order: requests go out from whead
	 * (woff bytes of it written), responses come back from rhead
	 * (roff bytes of it read); rhead <= whead <= tail. */
	unsigned rhead, whead, tail;
	uint32_t woff, roff;
	struct rpc_slot q[FIFO];
	uint64_t load;                    /* bytes of the RPCs outstanding:
					   * requests and responses */
	int error;                        /* fd < 0: why it failed */
};

struct tcp_client {
	struct xclient x;
	unsigned n, poll_us;              /* n: connections per server */
	unsigned nsrv;                    /* servers, n connections each */
	uint64_t rng;
	int ep;
	struct conn c[MAX_CONNS];
	uint8_t *rbuf;
	/* Completed RPCs not yet handed out by wait(). */
	unsigned done_head, done_tail;
	uint32_t done[4 * FIFO];
	int done_rc[4 * FIFO];
};

static void complete(struct tcp_client *c, uint32_t tag, int rc)
{
	if (c->done_tail - c->done_head < 4 * FIFO) {
		c->done[c->done_tail % (4 * FIFO)] = tag;
		c->done_rc[c->done_tail % (4 * FIFO)] = rc;
		c->done_tail++;
	}
}

static int want_out(struct tcp_client *c, struct conn *k, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
				  .data.ptr = k };

	if (k->want_out == on)
		return 0;
	k->want_out = on;
	return epoll_ctl(c->ep, EPOLL_CTL_MOD, k->fd, &ev) ? -errno : 0;
}

/* Writes what the socket takes of @k's queued requests, at most @budget
 * bytes: the rest when the event loop comes back to it, and it reads
 * first (tc_wait). */
static int flush(struct tcp_client *c, struct conn *k, size_t budget)
{
	while (k->whead != k->tail && budget > 0) {
		const struct rpc_slot *r = &k->q[k->whead % FIFO];
		uint32_t len = r->len;
		uint8_t head[4 + sizeof(struct bench_hdr)];
		struct bench_hdr h = { r->resp, 0 };
		struct iovec iov[2];
		int n = 0;
		ssize_t w;

		memcpy(head, &len, 4);
		memcpy(head + 4, &h, sizeof(h));
		/* 4 + len bytes in all, in one call (a short request is
		 * one segment): the prefix and header, then zeros. */
		if (k->woff < sizeof(head))
			iov[n++] = (struct iovec){ head + k->woff,
						   sizeof(head) - k->woff };
		iov[n++] = (struct iovec){
			bench_zeros, 4 + len - (k->woff > sizeof(head)
						  ? k->woff : sizeof(head)) };
		if (iov[n - 1].iov_len > budget)
			iov[n - 1].iov_len = budget;
		w = sendmsg(k->fd, &(struct msghdr){ .msg_iov = iov,
						     .msg_iovlen = (size_t)n },
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return want_out(c, k, true);
		if (w < 0)
			return -errno;
		k->woff += (uint32_t)w;
		budget = (size_t)w < budget ? budget - (size_t)w : 0;
		if (k->woff == 4 + len) {
			k->whead++;
			k->woff = 0;
		}
	}
	/* More to write: the loop comes back on EPOLLOUT. */
	return want_out(c, k, k->whead != k->tail);
}

/* Reads what has come on @k, completing the responses it ends. */
static int take_in(struct tcp_client *c, struct conn *k)
{
	bool more;

	for (;;) {
		ssize_t r = recv(k->fd, c->rbuf, CHUNK, MSG_DONTWAIT);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return 0;
		if (r <= 0)
			return r == 0 ? -ECONNRESET : -errno;
		more = r == (ssize_t)CHUNK;
		while (r > 0) {
			const struct rpc_slot *q = &k->q[k->rhead % FIFO];
			uint32_t need, take;

			if (k->rhead == k->whead)
				return -EPROTO;      /* bytes nobody asked for */
			need = q->resp - k->roff;
			take = (uint32_t)r < need ? (uint32_t)r : need;
			k->roff += take;
			r -= take;
			if (k->roff == q->resp) {
				k->load -= (uint64_t)q->len + q->resp;
				complete(c, q->tag, 1);
				k->rhead++;
				k->roff = 0;
			}
		}
		/* A short read drained the socket (almost surely): no recv
		 * just to hear EAGAIN; epoll says when more comes. */
		if (!more)
			return 0;
	}
}

/* A connection that failed (or that the server closed): its outstanding
 * RPCs end with @rc, and it is closed; later sends find it dead. */
static void fail_conn(struct tcp_client *c, struct conn *k, int rc)
{
	while (k->rhead != k->tail)
		complete(c, k->q[k->rhead++ % FIFO].tag, rc);
	k->whead = k->tail;
	k->load = 0;
	if (k->fd >= 0) {
		epoll_ctl(c->ep, EPOLL_CTL_DEL, k->fd, NULL);
		close(k->fd);
		k->fd = -1;
	}
	k->error = rc;
}

static int tcp_connect(const struct bench_opts *o, unsigned server)
{
	struct sockaddr_storage ss;
	socklen_t len = bench_server_addr(o, server, BENCH_TCP_PORT, &ss);
	int fd, one = 1;

	if (!len)
		return -1;
	/* A server still starting (a cluster's hosts start together)
	 * refuses: try again for up to 2 s. */
	for (unsigned tries = 0;; tries++) {
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, (struct sockaddr *)&ss, len) == 0)
			return fd;
		close(fd);
		if (errno != ECONNREFUSED || tries == 100)
			return -1;
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
}

static int tc_send(struct xclient *x, uint32_t len, uint32_t resp_len,
		   uint32_t tag, unsigned lane)
{
	struct tcp_client *c = (struct tcp_client *)x;
	struct conn *k, *pool;
	int rc;

	if (len < sizeof(struct bench_hdr))
		len = sizeof(struct bench_hdr);
	/* A server at random (as uhoma's client picks one), then its
	 * connection with the fewest RPCs outstanding. */
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	pool = &c->c[(c->nsrv > 1 ? c->rng % c->nsrv : 0) * c->n];
	k = pool;
	if (lane == 1 && c->n > 1) {
		k = &c->c[c->n];          /* the stream's own connection */
	} else if (c->n > 1) {
		/* The fewest bytes ahead: a short RPC does not queue behind
		 * a 1 MB one while another connection has less to carry. */
		for (unsigned i = 1; i < c->n; i++)
			if (pool[i].load < k->load)
				k = &pool[i];
	}
	if (k->fd < 0)
		return k->error ? k->error : -ENOTCONN;
	if (k->tail - k->rhead == FIFO)
		return -ENOBUFS;
	k->q[k->tail % FIFO] = (struct rpc_slot){ len, resp_len, tag };
	k->tail++;
	k->load += (uint64_t)len + resp_len;
	rc = flush(c, k, CHUNK);
	if (rc) {
		fail_conn(c, k, rc);
		return 0;                 /* its failure comes from wait() */
	}
	return 0;
}

static int tc_wait(struct xclient *x, uint32_t *tag, int64_t timeout_ns)
{
	struct tcp_client *c = (struct tcp_client *)x;
	uint64_t now = bench_now_ns();
	uint64_t spin_until = now + (timeout_ns == 0 ? 0
					: (uint64_t)c->poll_us * 1000);
	uint64_t deadline = timeout_ns < 0 ? UINT64_MAX
					   : now + (uint64_t)timeout_ns;

	for (;;) {
		struct epoll_event ev[16];
		int n;

		if (c->done_head != c->done_tail) {
			*tag = c->done[c->done_head % (4 * FIFO)];
			return c->done_rc[c->done_head++ % (4 * FIFO)];
		}
		now = bench_now_ns();
		if (now < spin_until || now >= deadline) {
			n = epoll_wait(c->ep, ev, 16, 0);
		} else {
			struct timespec ts = bench_timespec(
				(int64_t)(deadline - now));

			n = epoll_pwait2(c->ep, ev, 16,
					 deadline == UINT64_MAX ? NULL : &ts,
					 NULL);
		}
		if (n < 0 && errno != EINTR)
			return -errno;
		/* Reads first: a response that has come goes to the caller
		 * before the copy of a megabyte on another connection
		 * (epoll is level-triggered: the writes come back). */
		for (int i = 0; i < n; i++) {
			struct conn *k = ev[i].data.ptr;
			int rc = 0;

			if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				rc = take_in(c, k);
			if (rc)
				fail_conn(c, k, rc);
		}
		for (int i = 0; i < n && c->done_head == c->done_tail; i++) {
			struct conn *k = ev[i].data.ptr;
			int rc;

			if (!(ev[i].events & EPOLLOUT) || k->fd < 0)
				continue;
			/* A quarter of a megabyte at a time while waiting:
			 * a response that comes meanwhile is not held up by
			 * the copy of a whole one (a 100-byte RPC's P99 next
			 * to a 1 MB stream on its own connection: 1.1 ms
			 * with a megabyte a call). */
			rc = flush(c, k, 256u << 10);
			if (rc)
				fail_conn(c, k, rc);
		}
		/* The time is up even while events come that end nothing
		 * (a long response arriving a piece at a time). */
		if (bench_now_ns() >= deadline &&
		    c->done_head == c->done_tail)
			return 0;
	}
}

static void tc_close(struct xclient *x)
{
	struct tcp_client *c = (struct tcp_client *)x;

	for (unsigned i = 0; i < MAX_CONNS; i++)
		if (c->c[i].fd >= 0)
			close(c->c[i].fd);
	close(c->ep);
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
	c->nsrv = bench_nservers(o);
	c->n = o->conns < 1 ? 1 : o->conns;
	c->poll_us = o->poll_us;
	c->rng = 0x9E3779B97F4A7C15ull ^ (uintptr_t)c;
	c->rbuf = malloc(CHUNK);
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	for (unsigned i = 0; i < MAX_CONNS; i++)
		c->c[i].fd = -1;
	if (c->nsrv > 1 && o->hol) {
		fprintf(stderr, "uhoma-bench: --hol wants one server\n");
		tc_close(&c->x);
		return NULL;
	}
	total = c->n * c->nsrv + (o->hol && c->n > 1 ? 1 : 0);
	if (total > MAX_CONNS) {
		fprintf(stderr, "uhoma-bench: %u TCP connections per thread: "
			"at most %u\n", total, MAX_CONNS);
		tc_close(&c->x);
		return NULL;
	}
	for (unsigned i = 0; i < total; i++) {
		struct epoll_event ev = { .events = EPOLLIN,
					  .data.ptr = &c->c[i] };
		unsigned srv = i / c->n < c->nsrv ? i / c->n : 0;

		c->c[i].fd = tcp_connect(o, srv);
		if (c->c[i].fd < 0 || !c->rbuf || c->ep < 0 ||
		    epoll_ctl(c->ep, EPOLL_CTL_ADD, c->c[i].fd, &ev) < 0) {
			fprintf(stderr, "uhoma-bench: TCP connect to server "
				"%u (port %u): %s\n", srv, BENCH_TCP_PORT,
				strerror(errno));
			tc_close(&c->x);
			return NULL;
		}
	}
	return &c->x;
}

/* ---- server ----------------------------------------------------------- */

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
