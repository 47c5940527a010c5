/*
 * apiload.c - uhoma-apiload: a load generator written the way Linux Homa
 * applications are, against the kernel module's socket API only
 * (<uhoma/homa.h> as the module's uapi header, no libuhoma). Run under
 * LD_PRELOAD=libuhoma-preload.so it measures uhoma as such a program sees
 * it; with --proto tcp the same threads speak length-prefixed TCP, the
 * baseline. `uhoma-bench api` (and `compare`) start it; it can be run by
 * hand too.
 *
 * Thread structure (the usual one of Linux Homa benchmark programs):
 *   client, per client port: one sender thread that issues requests and
 *     spins while it waits to issue the next (closed loop: --outstanding
 *     in flight; open loop: Poisson arrivals, --gbps), and --receivers
 *     threads blocked in recvmsg that take the responses. With
 *     --blocking the sender instead waits for each response itself
 *     (sendmsg, then recvmsg: one in flight, no other thread).
 *   server, per server port: --port-threads threads blocked in recvmsg
 *     that answer each request with sendmsg (TCP: the same number of
 *     threads sharing one epoll set of the accepted connections).
 *
 * Every request starts with struct req_hdr; the response has the
 * requested length and echoes the header. The client prints one line:
 *   RESULT rpcs=N seconds=S rps=R gbps=G p50=U p99=U short=N
 *          short_p50=U short_p99=U errors=N     (latencies in µs; "short"
 *          are requests below 1000 bytes)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dist.h"
#include "uhoma/homa.h"

#define MAX_LEN 1000000u
#define MAX_SLOTS 4096u            /* RPCs in flight per client port */
#define REGION_BYTES (64u << 20)   /* Homa buffer region per socket */
#define SHORT_LEN 1000u

struct req_hdr {
	uint32_t len;        /* request length */
	uint32_t resp_len;   /* response length wanted */
	uint64_t cookie;     /* TCP: the client's slot (Homa uses the RPC's) */
};

struct opts {
	bool server, tcp, blocking;
	char addr[64];
	unsigned port, ports, port_threads;    /* server side */
	unsigned client_ports, receivers, outstanding;
	double gbps, seconds, warmup;
	uint32_t resp_len;                     /* 0: as long as the request */
	char workload[16];
};

static struct opts O = {
	.addr = "127.0.0.1", .port = 4100, .ports = 1, .port_threads = 1,
	.client_ports = 1, .receivers = 1, .outstanding = 1,
	.seconds = 5, .warmup = 0.5, .workload = "100",
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "uhoma-apiload: %s: %s\n", what, strerror(errno));
	exit(2);
}

static socklen_t make_addr(unsigned port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, O.addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		return sizeof(*in);
	}
	if (inet_pton(AF_INET6, O.addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return sizeof(*in6);
	}
	fprintf(stderr, "uhoma-apiload: bad address %s\n", O.addr);
	exit(2);
}

/* A Homa socket with its buffer region; @port 0: any. */
static int homa_open(unsigned port, uint8_t **region)
{
	struct sockaddr_storage ss;
	socklen_t len = make_addr(port, &ss);
	struct homa_rcvbuf_args rb;
	int fd = socket(ss.ss_family, SOCK_DGRAM, IPPROTO_HOMA);

	if (fd < 0)
		die("socket(IPPROTO_HOMA) (run under libuhoma-preload.so)");
	if (port && bind(fd, (struct sockaddr *)&ss, len) < 0)
		die("bind");
	*region = mmap(NULL, REGION_BYTES, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*region == MAP_FAILED)
		die("mmap");
	rb.start = (uintptr_t)*region;
	rb.length = REGION_BYTES;
	if (setsockopt(fd, IPPROTO_HOMA, SO_HOMA_RCVBUF, &rb, sizeof(rb)) < 0)
		die("setsockopt(SO_HOMA_RCVBUF)");
	return fd;
}

/* recvmsg on a Homa socket, handing back the previous message's bpages
 * (kept in @a). Returns the length or -1 with errno; @a->id and
 * completion_cookie say which RPC. */
static ssize_t homa_recv(int fd, struct homa_recvmsg_args *a, uint64_t id)
{
	struct sockaddr_storage peer;
	struct msghdr m = {
		.msg_name = &peer, .msg_namelen = sizeof(peer),
		.msg_control = a, .msg_controllen = sizeof(*a),
	};

	a->id = id;
	a->completion_cookie = 0;
	return recvmsg(fd, &m, 0);
}

static ssize_t homa_send(int fd, const struct sockaddr_storage *to,
			 socklen_t to_len, uint64_t id, uint64_t cookie,
			 const void *buf, size_t len, uint64_t *new_id)
{
	struct homa_sendmsg_args a = { .id = id, .completion_cookie = cookie };
	struct iovec iov = { (void *)(uintptr_t)buf, len };
	struct msghdr m = {
		.msg_name = (void *)(uintptr_t)to, .msg_namelen = to_len,
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = &a, .msg_controllen = 0,
	};
	ssize_t rc = sendmsg(fd, &m, 0);

	if (rc >= 0 && new_id)
		*new_id = a.id;
	return rc;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads exactly @len bytes (or discards them when @buf is NULL). */
static int read_all(int fd, void *buf, size_t len)
{
	static __thread uint8_t sink[65536];
	uint8_t *p = buf;

	while (len) {
		size_t want = buf ? len : (len < sizeof(sink) ? len
							      : sizeof(sink));
		ssize_t n = read(fd, buf ? p : sink, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (buf)
			p += n;
		len -= (size_t)n;
	}
	return 0;
}

static uint8_t *payload(void)
{
	static __thread uint8_t *buf;

	if (!buf) {
		buf = calloc(1, MAX_LEN);
		if (!buf)
			die("calloc");
	}
	return buf;
}

/* ---- server -------------------------------------------------------------- */

struct server_port {
	int fd;              /* Homa socket, or TCP listener */
	int epfd;            /* TCP: the accepted connections */
	uint8_t *region;
};

static void *homa_server_thread(void *arg)
{
	struct server_port *sp = arg;
	struct homa_recvmsg_args *a = calloc(1, sizeof(*a));
	uint8_t *out = payload();

	if (!a)
		die("calloc");
	for (;;) {
		struct sockaddr_storage peer;
		struct msghdr m = {
			.msg_name = &peer, .msg_namelen = sizeof(peer),
			.msg_control = a, .msg_controllen = sizeof(*a),
		};
		struct req_hdr h;
		ssize_t n;

		a->id = 0;
		n = recvmsg(sp->fd, &m, 0);
		if (n < 0) {
			if (errno == EINTR || errno == ETIMEDOUT ||
			    errno == ENOTCONN)
				continue;
			return NULL;     /* shut down */
		}
		if ((size_t)n < sizeof(h) || a->num_bpages == 0)
			continue;
		memcpy(&h, sp->region + a->bpage_offsets[0], sizeof(h));
		if (h.resp_len < sizeof(h) || h.resp_len > MAX_LEN)
			h.resp_len = sizeof(h);
		memcpy(out, &h, sizeof(h));
		homa_send(sp->fd, &peer, m.msg_namelen, a->id, 0, out,
			  h.resp_len, NULL);
		/* a->num_bpages hands this message's pages back next time */
	}
}

static void *tcp_accept_thread(void *arg)
{
	struct server_port *sp = arg;

	for (;;) {
		int one = 1, c = accept(sp->fd, NULL, NULL);
		struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT };

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		ev.data.fd = c;
		if (epoll_ctl(sp->epfd, EPOLL_CTL_ADD, c, &ev) < 0)
			close(c);
	}
}

static void *tcp_server_thread(void *arg)
{
	struct server_port *sp = arg;
	uint8_t *out = payload();

	for (;;) {
		struct epoll_event ev;
		struct req_hdr h;
		int c;

		if (epoll_wait(sp->epfd, &ev, 1, -1) != 1)
			continue;
		c = ev.data.fd;
		/* One message per event; EPOLLONESHOT keeps the connection
		 * to this thread until it re-arms it. */
		if (read_all(c, &h, sizeof(h)) < 0 || h.len < sizeof(h) ||
		    h.len > MAX_LEN ||
		    read_all(c, NULL, h.len - sizeof(h)) < 0) {
			close(c);
			continue;
		}
		if (h.resp_len < sizeof(h) || h.resp_len > MAX_LEN)
			h.resp_len = sizeof(h);
		memcpy(out, &h, sizeof(h));
		if (write_all(c, out, h.resp_len) < 0) {
			close(c);
			continue;
		}
		ev.events = EPOLLIN | EPOLLONESHOT;
		epoll_ctl(sp->epfd, EPOLL_CTL_MOD, c, &ev);
	}
	return NULL;
}

static int run_server(void)
{
	pthread_t t;

	signal(SIGPIPE, SIG_IGN);
	for (unsigned p = 0; p < O.ports; p++) {
		struct server_port *sp = calloc(1, sizeof(*sp));

		if (!sp)
			die("calloc");
		if (O.tcp) {
			struct sockaddr_storage ss;
			socklen_t len = make_addr(O.port + p, &ss);
			int one = 1;

			sp->fd = socket(ss.ss_family, SOCK_STREAM, 0);
			if (sp->fd < 0)
				die("socket");
			setsockopt(sp->fd, SOL_SOCKET, SO_REUSEADDR, &one,
				   sizeof(one));
			if (bind(sp->fd, (struct sockaddr *)&ss, len) < 0 ||
			    listen(sp->fd, 1024) < 0)
				die("bind/listen");
			sp->epfd = epoll_create1(0);
			if (sp->epfd < 0)
				die("epoll_create1");
			if (pthread_create(&t, NULL, tcp_accept_thread, sp))
				die("pthread_create");
		} else {
			sp->fd = homa_open(O.port + p, &sp->region);
		}
		for (unsigned i = 0; i < O.port_threads; i++)
			if (pthread_create(&t, NULL, O.tcp ? tcp_server_thread
							   : homa_server_thread,
					   sp))
				die("pthread_create");
	}
	printf("READY\n");
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}

/* ---- client -------------------------------------------------------------- */

struct slot {
	uint64_t t0;
	uint32_t len;
};

struct sample {
	uint32_t len, rtt_ns;
};

struct samples {
	struct sample *v;
	size_t n, cap;
};

struct client_port;

struct receiver {
	struct client_port *cp;
	unsigned idx;
	struct samples s;
	uint64_t rpcs, bytes, errors;
};

struct client_port {
	unsigned idx;
	int fd;                       /* Homa socket */
	int *conns;                   /* TCP: one per receiver */
	uint8_t *region;
	struct sockaddr_storage srv[16];
	socklen_t srv_len[16];
	struct slot slots[MAX_SLOTS];
	pthread_mutex_t free_lock;    /* free[], nfree */
	uint32_t free[MAX_SLOTS];
	unsigned nfree;
	_Atomic unsigned in_flight;
	struct receiver *rx;          /* O.receivers of them */
	struct receiver self;         /* --blocking: the sender's own */
	uint64_t skipped, send_errors;
};

static const struct uh_dist *Dist;
static _Atomic int Measuring, Stop;

static void record(struct receiver *r, struct client_port *cp,
		   uint64_t cookie, ssize_t n, uint64_t now)
{
	struct slot *sl;

	if (cookie == 0 || cookie > MAX_SLOTS)
		return;
	sl = &cp->slots[cookie - 1];
	if (n < 0) {
		r->errors++;
	} else if (atomic_load_explicit(&Measuring, memory_order_relaxed)) {
		if (r->s.n == r->s.cap) {
			size_t cap = r->s.cap ? 2 * r->s.cap : 65536;
			struct sample *v = realloc(r->s.v, cap * sizeof(*v));

			if (!v)
				die("realloc");
			r->s.v = v;
			r->s.cap = cap;
		}
		r->s.v[r->s.n++] = (struct sample){
			sl->len, (uint32_t)(now - sl->t0 > UINT32_MAX
					    ? UINT32_MAX : now - sl->t0) };
		r->rpcs++;
		r->bytes += sl->len;
	}
	pthread_mutex_lock(&cp->free_lock);
	cp->free[cp->nfree++] = (uint32_t)(cookie - 1);
	pthread_mutex_unlock(&cp->free_lock);
	atomic_fetch_sub(&cp->in_flight, 1);
}

static void *homa_receiver(void *arg)
{
	struct receiver *r = arg;
	struct client_port *cp = r->cp;
	struct homa_recvmsg_args *a = calloc(1, sizeof(*a));

	if (!a)
		die("calloc");
	for (;;) {
		ssize_t n = homa_recv(cp->fd, a, 0);

		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0 && a->completion_cookie == 0) {
			if (errno == ESHUTDOWN || errno == EBADF ||
			    errno == ENOTSOCK)
				break;   /* shut down */
			continue;
		}
		record(r, cp, a->completion_cookie, n, now_ns());
	}
	free(a);
	return NULL;
}

static void *tcp_receiver(void *arg)
{
	struct receiver *r = arg;
	struct client_port *cp = r->cp;
	int c = cp->conns[r->idx];

	for (;;) {
		struct req_hdr h;

		if (read_all(c, &h, sizeof(h)) < 0 ||
		    read_all(c, NULL, h.resp_len - sizeof(h)) < 0)
			break;
		record(r, cp, h.cookie, 0, now_ns());
	}
	return NULL;
}

static bool take_slot(struct client_port *cp, uint32_t *s)
{
	bool ok;

	pthread_mutex_lock(&cp->free_lock);
	ok = cp->nfree > 0;
	if (ok)
		*s = cp->free[--cp->nfree];
	pthread_mutex_unlock(&cp->free_lock);
	return ok;
}

/* Issues one request of @len bytes in slot @s; 0 or -1. */
static int issue(struct client_port *cp, uint32_t s, uint32_t len,
		 uint64_t seq)
{
	uint8_t *buf = payload();
	struct req_hdr h = { len, O.resp_len ? O.resp_len : len, s + 1 };
	unsigned server = (unsigned)(seq % O.ports);

	if (h.resp_len < sizeof(h))
		h.resp_len = sizeof(h);
	memcpy(buf, &h, sizeof(h));
	cp->slots[s] = (struct slot){ now_ns(), len };
	atomic_fetch_add(&cp->in_flight, 1);
	if (O.tcp) {
		/* Each receiver owns a connection; requests go round. */
		int c = cp->conns[seq % O.receivers];

		return write_all(c, buf, len);
	}
	return homa_send(cp->fd, &cp->srv[server], cp->srv_len[server], 0,
			 s + 1, buf, len, NULL) < 0 ? -1 : 0;
}

static void *sender(void *arg)
{
	struct client_port *cp = arg;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (cp->idx + 1), seq = cp->idx;
	double rate = 0;     /* open loop: arrivals per ns */
	uint64_t next = now_ns();
	struct homa_recvmsg_args *a = NULL;

	if (O.gbps > 0)
		rate = O.gbps * 1e9 / 8 / Dist->mean / O.client_ports / 1e9;
	if (O.blocking && !(a = calloc(1, sizeof(*a))))
		die("calloc");
	while (!atomic_load_explicit(&Stop, memory_order_relaxed)) {
		uint32_t len = uh_dist_sample(Dist, &rng), s;

		if (len < sizeof(struct req_hdr))
			len = sizeof(struct req_hdr);
		if (rate > 0) {
			/* Poisson: spin until the arrival, as applications
			 * that keep a precise schedule do. */
			next += (uint64_t)(-log(1 - uh_dist_uniform(&rng)) /
					   rate);
			while (now_ns() < next)
				if (atomic_load_explicit(&Stop,
						memory_order_relaxed))
					return NULL;
			if (!take_slot(cp, &s)) {
				cp->skipped++;
				continue;
			}
		} else {
			while (atomic_load_explicit(&cp->in_flight,
					memory_order_relaxed) >= O.outstanding)
				if (atomic_load_explicit(&Stop,
						memory_order_relaxed))
					return NULL;
			if (!take_slot(cp, &s))
				continue;
		}
		if (issue(cp, s, len, seq++) < 0) {
			cp->send_errors++;
			record(&cp->self, cp, s + 1, -1, 0);
			continue;
		}
		if (O.blocking && O.tcp) {
			/* Wait for this response in this thread. */
			struct req_hdr h;

			if (read_all(cp->conns[0], &h, sizeof(h)) < 0 ||
			    read_all(cp->conns[0], NULL,
				     h.resp_len - sizeof(h)) < 0)
				break;
			record(&cp->self, cp, h.cookie, 0, now_ns());
		} else if (O.blocking) {
			ssize_t n;

			do
				n = homa_recv(cp->fd, a, 0);
			while (n < 0 && (errno == EINTR || errno == EAGAIN));
			if (n < 0 && a->completion_cookie == 0)
				break;
			record(&cp->self, cp, a->completion_cookie, n,
			       now_ns());
		}
	}
	free(a);
	return NULL;
}

static int cmp_rtt(const void *a, const void *b)
{
	uint32_t x = ((const struct sample *)a)->rtt_ns;
	uint32_t y = ((const struct sample *)b)->rtt_ns;

	return x < y ? -1 : x > y;
}

static double pct_us(const struct sample *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p / 100 * (double)n);
	if (i >= n)
		i = n - 1;
	return v[i].rtt_ns / 1e3;
}

static void connect_tcp(struct client_port *cp)
{
	cp->conns = calloc(O.receivers, sizeof(int));
	if (!cp->conns)
		die("calloc");
	for (unsigned i = 0; i < O.receivers; i++) {
		unsigned server = (cp->idx + i) % O.ports;
		int one = 1, c = socket(cp->srv[server].ss_family,
					SOCK_STREAM, 0);

		if (c < 0 || connect(c, (struct sockaddr *)&cp->srv[server],
				     cp->srv_len[server]) < 0)
			die("connect");
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		cp->conns[i] = c;
	}
}

static int run_client(void)
{
	struct client_port *cps = calloc(O.client_ports, sizeof(*cps));
	pthread_t *senders = calloc(O.client_ports, sizeof(pthread_t));
	pthread_t *rx = calloc((size_t)O.client_ports * O.receivers,
			       sizeof(pthread_t));
	struct samples all = { 0 };
	uint64_t rpcs = 0, bytes = 0, errors = 0, skipped = 0, t0, t1;
	struct uh_dist dist;
	size_t nshort = 0;

	if (!cps || !senders || !rx)
		die("calloc");
	if (uh_dist_create(O.workload, MAX_LEN, &dist)) {
		fprintf(stderr, "uhoma-apiload: unknown workload %s\n",
			O.workload);
		return 2;
	}
	Dist = &dist;
	signal(SIGPIPE, SIG_IGN);
	if (O.blocking)
		O.receivers = 1;    /* TCP: the one connection */
	for (unsigned p = 0; p < O.client_ports; p++) {
		struct client_port *cp = &cps[p];

		cp->idx = p;
		pthread_mutex_init(&cp->free_lock, NULL);
		for (unsigned i = 0; i < MAX_SLOTS; i++)
			cp->free[i] = MAX_SLOTS - 1 - i;
		cp->nfree = MAX_SLOTS;
		cp->self.cp = cp;
		for (unsigned s = 0; s < O.ports && s < 16; s++)
			cp->srv_len[s] = make_addr(O.port + s, &cp->srv[s]);
		if (O.tcp)
			connect_tcp(cp);
		else
			cp->fd = homa_open(0, &cp->region);
		cp->rx = calloc(O.receivers, sizeof(*cp->rx));
		if (!cp->rx)
			die("calloc");
	}
	for (unsigned p = 0; p < O.client_ports; p++) {
		struct client_port *cp = &cps[p];

		if (O.blocking)
			continue;
		for (unsigned i = 0; i < O.receivers; i++) {
			cp->rx[i].cp = cp;
			cp->rx[i].idx = i;
			if (pthread_create(&rx[p * O.receivers + i], NULL,
					   O.tcp ? tcp_receiver : homa_receiver,
					   &cp->rx[i]))
				die("pthread_create");
		}
	}
	for (unsigned p = 0; p < O.client_ports; p++)
		if (pthread_create(&senders[p], NULL, sender, &cps[p]))
			die("pthread_create");
	usleep((useconds_t)(O.warmup * 1e6));
	t0 = now_ns();
	atomic_store(&Measuring, 1);
	usleep((useconds_t)(O.seconds * 1e6));
	atomic_store(&Measuring, 0);
	t1 = now_ns();
	atomic_store(&Stop, 1);
	for (unsigned p = 0; p < O.client_ports; p++)
		pthread_join(senders[p], NULL);
	/* Let what is in flight finish (2 s at most), then shut down. */
	for (int i = 0; i < 2000; i++) {
		unsigned left = 0;

		for (unsigned p = 0; p < O.client_ports; p++)
			left += atomic_load(&cps[p].in_flight);
		if (!left)
			break;
		usleep(1000);
	}
	for (unsigned p = 0; p < O.client_ports; p++) {
		if (O.tcp)
			for (unsigned i = 0; i < O.receivers; i++)
				shutdown(cps[p].conns[i], SHUT_RDWR);
		else
			shutdown(cps[p].fd, SHUT_RDWR);
	}
	for (unsigned p = 0; p < O.client_ports; p++) {
		struct client_port *cp = &cps[p];
		unsigned nrx = O.receivers + 1;

		if (!O.blocking)
			for (unsigned i = 0; i < O.receivers; i++)
				pthread_join(rx[p * O.receivers + i], NULL);
		for (unsigned i = 0; i < nrx; i++) {
			struct receiver *r = i < O.receivers ? &cp->rx[i]
							     : &cp->self;
			struct sample *v = realloc(all.v, (all.n + r->s.n) *
							  sizeof(*v) + 1);

			if (!v)
				die("realloc");
			all.v = v;
			memcpy(all.v + all.n, r->s.v, r->s.n * sizeof(*v));
			all.n += r->s.n;
			rpcs += r->rpcs;
			bytes += r->bytes;
			errors += r->errors;
		}
		skipped += cp->skipped;
	}
	qsort(all.v, all.n, sizeof(*all.v), cmp_rtt);
	{
		struct sample *sv = malloc(all.n * sizeof(*sv) + 1);
		double secs = (double)(t1 - t0) / 1e9;

		if (!sv)
			die("malloc");
		for (size_t i = 0; i < all.n; i++)
			if (all.v[i].len < SHORT_LEN)
				sv[nshort++] = all.v[i];
		printf("RESULT rpcs=%llu seconds=%.3f rps=%.0f gbps=%.3f "
		       "p50=%.1f p99=%.1f short=%zu short_p50=%.1f "
		       "short_p99=%.1f errors=%llu skipped=%llu\n",
		       (unsigned long long)rpcs, secs, (double)rpcs / secs,
		       (double)bytes * 8 / secs / 1e9, pct_us(all.v, all.n, 50),
		       pct_us(all.v, all.n, 99), nshort,
		       pct_us(sv, nshort, 50), pct_us(sv, nshort, 99),
		       (unsigned long long)errors,
		       (unsigned long long)skipped);
		free(sv);
	}
	fflush(stdout);
	/* Threads blocked in the library may outlive the sockets; leave
	 * without running the library's exit handlers under them. */
	_exit(rpcs > 0 ? 0 : 1);
}

static void usage(void)
{
	fputs(
"usage: uhoma-apiload server|client [options]\n"
"  --proto homa|tcp     Homa through the socket API (under LD_PRELOAD=\n"
"                       libuhoma-preload.so) or TCP (default homa)\n"
"  --addr A             server address (default 127.0.0.1)\n"
"  --port P             first server port (default 4100)\n"
"  --ports N            server ports (default 1)\n"
"server:\n"
"  --port-threads N     threads per server port (default 1)\n"
"client:\n"
"  --client-ports N     client sockets, one sender thread each (1)\n"
"  --receivers N        receiver threads per client port (1)\n"
"  --blocking           the sender waits for each response itself\n"
"  --outstanding N      closed loop: RPCs in flight per port (1)\n"
"  --gbps G             open loop: Poisson requests, G Gbit/s in all\n"
"  --workload W         w1..w5 or a length (default 100)\n"
"  --response N         response length (default: the request's)\n"
"  --seconds S --warmup S   measured and unmeasured time (5, 0.5)\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "proto", 1, 0, 'P' }, { "addr", 1, 0, 'a' },
		{ "port", 1, 0, 'p' }, { "ports", 1, 0, 'n' },
		{ "port-threads", 1, 0, 't' }, { "client-ports", 1, 0, 'c' },
		{ "receivers", 1, 0, 'r' }, { "blocking", 0, 0, 'b' },
		{ "outstanding", 1, 0, 'o' }, { "gbps", 1, 0, 'g' },
		{ "workload", 1, 0, 'w' }, { "response", 1, 0, 'R' },
		{ "seconds", 1, 0, 's' }, { "warmup", 1, 0, 'W' },
		{ 0, 0, 0, 0 },
	};
	int c;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "server") == 0)
		O.server = true;
	else if (strcmp(argv[1], "client") != 0)
		usage();
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'P':
			O.tcp = strcmp(optarg, "tcp") == 0;
			if (!O.tcp && strcmp(optarg, "homa") != 0)
				usage();
			break;
		case 'a': snprintf(O.addr, sizeof(O.addr), "%s", optarg); break;
		case 'p': O.port = (unsigned)atoi(optarg); break;
		case 'n': O.ports = (unsigned)atoi(optarg); break;
		case 't': O.port_threads = (unsigned)atoi(optarg); break;
		case 'c': O.client_ports = (unsigned)atoi(optarg); break;
		case 'r': O.receivers = (unsigned)atoi(optarg); break;
		case 'b': O.blocking = true; break;
		case 'o': O.outstanding = (unsigned)atoi(optarg); break;
		case 'g': O.gbps = atof(optarg); break;
		case 'w':
			snprintf(O.workload, sizeof(O.workload), "%s", optarg);
			break;
		case 'R': O.resp_len = (uint32_t)atoi(optarg); break;
		case 's': O.seconds = atof(optarg); break;
		case 'W': O.warmup = atof(optarg); break;
		default: usage();
		}
	}
	if (O.ports < 1 || O.ports > 16 || O.port_threads < 1 ||
	    O.client_ports < 1 || O.receivers < 1 || O.outstanding < 1 ||
	    O.outstanding > MAX_SLOTS || O.port == 0 ||
	    O.port + O.ports > 0x8000 || O.seconds <= 0 ||
	    O.resp_len > MAX_LEN) {
		fprintf(stderr, "uhoma-apiload: option out of range\n");
		return 2;
	}
	return O.server ? run_server() : run_client();
}
