/*
 * xport_homa.c - uhoma as a uhoma-bench transport: one stack per process,
 * one socket per client thread; the server answers from several threads
 * sharing one socket.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"
#include "uhoma/uhoma.h"

#define REGION (64u << 20)       /* receive buffer region per socket */

static struct uhoma_stack *stack;
static bool serving;               /* a server runs on the stack: set
				    * before any client thread starts */

/* The process's stack, made by its server (@server) or first client. */
static int make_stack(const struct bench_opts *o, bool server)
{
	struct uhoma_config cfg;
	char poll[16];
	int rc;

	if (stack)
		return 0;
	uhoma_config_default(&cfg);
	/* The stack's own address: --self; else a server's, or a client's
	 * of a loopback server (client and server on this host); else any
	 * of the server's family (a client of a remote server). */
	if (o->self[0])
		snprintf(cfg.addr, sizeof(cfg.addr), "%s", o->self);
	else if (server || !strncmp(o->server, "127.", 4) ||
		 !strcmp(o->server, "::1"))
		snprintf(cfg.addr, sizeof(cfg.addr), "%s", o->server);
	else
		snprintf(cfg.addr, sizeof(cfg.addr), "%s",
			 strchr(o->server, ':') ? "::" : "0.0.0.0");
	snprintf(poll, sizeof(poll), "%u", o->poll_us);
	uhoma_config_set(&cfg, "poll_us", poll);
	if (uhoma_config_parse(&cfg, o->config) != UHOMA_OK) {
		fprintf(stderr, "uhoma-bench: bad --config %s\n", o->config);
		return -1;
	}
	rc = uhoma_stack_create(&cfg, &stack);
	if (rc) {
		fprintf(stderr, "uhoma-bench: uhoma stack: %s\n",
			uhoma_strerror(rc));
		return -1;
	}
	return 0;
}

static struct uhoma_sock *open_sock(uint16_t port)
{
	struct uhoma_sock *s;
	void *region;
	int rc = uhoma_socket(stack, port, &s);

	if (rc) {
		fprintf(stderr, "uhoma-bench: uhoma socket %u: %s\n", port,
			uhoma_strerror(rc));
		return NULL;
	}
	/* Populated up front: first touches fault a page at a time, and
	 * 64 MB of faults mid-run is a stall of a tenth of a second. */
	region = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (region == MAP_FAILED || uhoma_set_buffers(s, region, REGION)) {
		fprintf(stderr, "uhoma-bench: buffer region: %s\n",
			strerror(errno));
		uhoma_close(s);
		return NULL;
	}
	return s;
}

/* ---- client ----------------------------------------------------------- */

struct homa_client {
	struct xclient x;
	struct uhoma_sock *s;
	unsigned ndst;                  /* --servers: each RPC to one */
	uint64_t rng;
	struct sockaddr_storage dst[BENCH_MAX_SERVERS];
	socklen_t dst_len[BENCH_MAX_SERVERS];
	uint8_t *req;
	/* --zerocopy: a request stays the caller's until its response, so
	 * each slot (tag) has its own, made at its first use. */
	bool zerocopy;
	uint8_t *slot_req[BENCH_MAX_SLOTS];
};

/* The destination of the next RPC: uniform over the servers. */
static unsigned pick(uint64_t *rng, unsigned n)
{
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	return n > 1 ? (unsigned)(*rng % n) : 0;
}

static int hc_send(struct xclient *x, uint32_t len, uint32_t resp_len,
		   uint32_t tag, unsigned lane)
{
	struct homa_client *c = (struct homa_client *)x;
	struct bench_hdr h = { resp_len, lane };
	unsigned d = pick(&c->rng, c->ndst);
	uint64_t id;
	int rc;

	uint8_t *req = c->req;

	if (c->zerocopy) {
		if (tag >= BENCH_MAX_SLOTS)
			return -EINVAL;
		if (!c->slot_req[tag] &&
		    !(c->slot_req[tag] = calloc(1, BENCH_MAX_LEN)))
			return -ENOMEM;
		req = c->slot_req[tag];
	}
	memcpy(req, &h, sizeof(h));
	rc = uhoma_send(c->s, (struct sockaddr *)&c->dst[d], c->dst_len[d],
			req, len, tag, c->zerocopy ? UHOMA_ZEROCOPY : 0, &id);
	return rc ? -uhoma_err_to_errno(rc) : 0;
}

static int hc_wait(struct xclient *x, uint32_t *tag, int64_t timeout_ns)
{
	struct homa_client *c = (struct homa_client *)x;
	struct uhoma_msg m;
	int rc;

	memset(&m, 0, sizeof(m));
	rc = uhoma_recv(c->s, &m, 0, timeout_ns);
	if (rc == UHOMA_ERR_AGAIN)
		return 0;
	*tag = (uint32_t)m.cookie;
	if (rc < 0)
		return m.id ? -uhoma_err_to_errno(rc) : -EIO;
	uhoma_msg_release(c->s, &m);
	return 1;
}

static void hc_close(struct xclient *x)
{
	struct homa_client *c = (struct homa_client *)x;

	uhoma_close(c->s);     /* returns the zero-copy requests */
	for (unsigned i = 0; i < BENCH_MAX_SLOTS; i++)
		free(c->slot_req[i]);
	free(c->req);
	free(c);
}

static const struct xclient_ops homa_client_ops = {
	hc_send, hc_wait, hc_close,
};

int homa_client_init(const struct bench_opts *o)
{
	return make_stack(o, false);
}

void homa_print_metrics(FILE *f)
{
	if (stack)
		uhoma_metrics_print(stack, f);
}

void homa_client_fini(void)
{
	if (serving)
		return;    /* node: the server in this process goes on */
	uhoma_stack_destroy(stack);
	stack = NULL;
}

struct xclient *homa_client_open(const struct bench_opts *o)
{
	struct homa_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->x.ops = &homa_client_ops;
	c->zerocopy = o->zerocopy;
	c->req = calloc(1, BENCH_MAX_LEN);
	c->s = c->req ? open_sock(0) : NULL;
	c->ndst = bench_nservers(o);
	c->rng = 0x9E3779B97F4A7C15ull ^ (uintptr_t)c;
	for (unsigned i = 0; i < c->ndst && c->s; i++) {
		c->dst_len[i] = bench_server_addr(o, i, BENCH_HOMA_PORT,
						  &c->dst[i]);
		if (!c->dst_len[i]) {
			uhoma_close(c->s);
			c->s = NULL;
		}
	}
	if (!c->s) {
		free(c->req);
		free(c);
		return NULL;
	}
	return &c->x;
}

/* ---- server ----------------------------------------------------------- */

static void *serve(void *arg)
{
	struct uhoma_sock *s = arg;

	for (;;) {
		struct uhoma_msg m;
		struct bench_hdr h = { 0, 0 };
		int rc;

		memset(&m, 0, sizeof(m));
		rc = uhoma_recv(s, &m, 0, -1);
		if (rc == UHOMA_ERR_SHUTDOWN)
			return NULL;
		if (rc <= 0)
			continue;
		uhoma_msg_copy(s, &m, 0, &h, sizeof(h));
		uhoma_msg_release(s, &m);
		if (h.resp_len == 0 || h.resp_len > BENCH_MAX_LEN)
			h.resp_len = (uint32_t)rc;
		uhoma_reply(s, (struct sockaddr *)&m.peer, m.peer_len, m.id,
			    bench_zeros, h.resp_len);
	}
}

int homa_server_start(const struct bench_opts *o)
{
	struct uhoma_sock *s;

	if (make_stack(o, true))
		return -1;
	s = open_sock(BENCH_HOMA_PORT);
	if (!s)
		return -1;
	serving = true;
	for (unsigned i = 0; i < o->server_threads; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, serve, s))
			return -1;
		pthread_detach(t);
	}
	return 0;
}

