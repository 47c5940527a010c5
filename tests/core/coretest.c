/*
 * coretest.c - the core alone on a test carrier and a test clock
 * (coretest.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/metrics.h"
#include "core/rpc.h"
#include "core/sock.h"
#include "coretest.h"
#include "clientpkt.h"

uint64_t ct_now_ns = 1000000000ull;

static uint64_t ct_clock(void)
{
	return ct_now_ns;
}

static struct ct_host *host_of(struct uh_carrier *c)
{
	return (struct ct_host *)(void *)c;
}

/* ---- the test carrier ---------------------------------------------------- */

static int ct_open_port(struct uh_carrier *c, uint16_t *port)
{
	struct ct_host *h = host_of(c);

	if (*port == 0)
		*port = h->next_port++;
	return UHOMA_OK;
}

static void ct_close_port(struct uh_carrier *c, uint16_t port)
{
	(void)c;
	(void)port;
}

static unsigned ct_send_pkts(struct uh_carrier *c, uint16_t sport,
			     const struct uh_tx *pkts, unsigned n)
{
	struct ct_host *h = host_of(c);
	struct ct_net *net = h->net;

	for (unsigned i = 0; i < n; i++) {
		struct ct_pkt *p;

		if (net->nq == net->capq) {
			net->capq = net->capq ? 2 * net->capq : 256;
			net->q = realloc(net->q, net->capq * sizeof(*net->q));
			assert_non_null(net->q);
		}
		p = &net->q[net->nq++];
		p->src = h->addr;
		p->dst = pkts[i].dst;
		p->sport = sport;
		p->dport = pkts[i].dport;
		p->priority = pkts[i].priority;
		p->len = pkts[i].hdr_len + pkts[i].payload_len;
		p->data = malloc(p->len);
		assert_non_null(p->data);
		memcpy(p->data, pkts[i].hdr, pkts[i].hdr_len);
		if (pkts[i].payload_len)
			memcpy(p->data + pkts[i].hdr_len, pkts[i].payload,
			       pkts[i].payload_len);
		net->sent++;
	}
	return n;
}

static unsigned ct_recv(struct uh_carrier *c, struct uh_rx *rx, unsigned max,
			int64_t timeout_ns)
{
	(void)c;
	(void)rx;
	(void)max;
	(void)timeout_ns;
	return 0;     /* the test delivers: ct_deliver */
}

static void ct_kick(struct uh_carrier *c)
{
	(void)c;
}

static void ct_destroy(struct uh_carrier *c)
{
	(void)c;
}

/* Peers "on this host" when the host was made with ct_rcvbuf. */
static uint32_t ct_max_packet_to(struct uh_carrier *c,
				 const struct uh_addr *dst, bool *local)
{
	(void)dst;
	*local = c->rcvbuf != 0;
	return c->max_packet;
}

static const struct uh_carrier_ops ct_ops = {
	.name = "coretest",
	.open_port = ct_open_port,
	.close_port = ct_close_port,
	.send = ct_send_pkts,
	.recv = ct_recv,
	.kick = ct_kick,
	.max_packet_to = ct_max_packet_to,
	.destroy = ct_destroy,
};

uint32_t ct_rcvbuf;

/* ---- hosts ---------------------------------------------------------------- */

struct uh_addr ct_addr(int n)
{
	struct uh_addr a;
	char text[32];

	snprintf(text, sizeof(text), "10.0.0.%d", n);
	assert_int_equal(uh_addr_parse(text, &a), 0);
	return a;
}

void ct_net_init(struct ct_net *net)
{
	memset(net, 0, sizeof(*net));
}

struct ct_host *ct_host(struct ct_net *net, int n, const char *config)
{
	struct ct_host *h = calloc(1, sizeof(*h));
	struct uhoma_config cfg;
	struct uh_stack_parts parts = { .now = ct_clock };

	assert_non_null(h);
	assert_true(n > 0 && n <= CT_MAX_HOSTS && !net->hosts[n]);
	h->net = net;
	h->n = n;
	h->addr = ct_addr(n);
	h->next_port = 0x8000;
	h->c.ops = &ct_ops;
	h->c.rcvbuf = ct_rcvbuf;
	h->c.local = h->addr;
	h->c.max_packet = 1500 - 20;       /* an Ethernet MTU less IPv4 */
	h->c.link_mtu = 1500;
	assert_int_equal(uhoma_config_default(&cfg), UHOMA_OK);
	if (config)
		assert_int_equal(uhoma_config_parse(&cfg, config), UHOMA_OK);
	assert_int_equal(uh_config_validate(&cfg), UHOMA_OK);
	h->metrics = aligned_alloc(64, sizeof(*h->metrics));
	assert_non_null(h->metrics);
	memset(h->metrics, 0, sizeof(*h->metrics));
	parts.carrier = &h->c;
	parts.metrics = h->metrics;
	assert_int_equal(uh_stack_new(&cfg, &parts, &h->st), UHOMA_OK);
	net->hosts[n] = h;
	return h;
}

struct uhoma_sock *ct_sock(struct ct_host *h, uint16_t port)
{
	struct uhoma_sock *s;
	void *region = mmap(NULL, CT_REGION, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(region != MAP_FAILED);
	assert_int_equal(uh_sock_open(h->st, port, NULL, &s), UHOMA_OK);
	assert_int_equal(uh_pool_setup(&s->pool, region, CT_REGION), UHOMA_OK);
	return s;
}

void ct_sock_close(struct uhoma_sock *s)
{
	void *region = uh_pool_region(&s->pool);

	uh_sock_close_start(s);
	/* Nothing else runs: every reference is gone once this returns. */
	assert_true(uh_sock_reap_final(s));
	uh_sock_free(s);
	if (region)
		munmap(region, CT_REGION);
}

void ct_net_free(struct ct_net *net)
{
	for (int n = 1; n <= CT_MAX_HOSTS; n++) {
		struct ct_host *h = net->hosts[n];
		struct uhoma_sock *s;

		if (!h)
			continue;
		uh_stack_stop_sockets(h->st);
		while ((s = uh_stack_any_sock(h->st)))
			ct_sock_close(s);
		uh_synchronize_rcu();
		uh_stack_free(h->st);
		free(h->metrics);
		free(h);
	}
	for (size_t i = 0; i < net->nq; i++)
		free(net->q[i].data);
	free(net->q);
	memset(net, 0, sizeof(*net));
}

/* ---- moving packets and time ----------------------------------------------- */

struct ct_pkt ct_take(struct ct_net *net, size_t i)
{
	struct ct_pkt p;

	assert_true(i < net->nq);
	p = net->q[i];
	memmove(&net->q[i], &net->q[i + 1], (net->nq - i - 1) * sizeof(p));
	net->nq--;
	return p;
}

void ct_drop(struct ct_net *net, size_t i)
{
	free(ct_take(net, i).data);
}

void ct_clear(struct ct_net *net)
{
	while (net->nq)
		ct_drop(net, 0);
}

int64_t ct_metric(struct ct_host *h, unsigned which)
{
	return uh_metric_read(h->metrics, which);
}

int64_t ct_gauge(struct ct_host *h, unsigned state)
{
	return ct_metric(h, UH_M_RPC_STATE + state);
}

int64_t ct_drops(struct ct_host *h, enum uh_drop why)
{
	return ct_metric(h, UH_M_DROP + (unsigned)why);
}

struct uh_hdr ct_hdr(const struct ct_net *net, size_t i)
{
	struct uh_hdr h;

	assert_true(i < net->nq);
	assert_int_equal(uh_wire_decode(net->q[i].data, net->q[i].len, &h),
			 UH_DROP_NONE);
	return h;
}

size_t ct_count(const struct ct_net *net, uint8_t type)
{
	size_t n = 0;

	for (size_t i = 0; i < net->nq; i++)
		if (!type || ct_hdr(net, i).type == type)
			n++;
	return n;
}

size_t ct_deliver(struct ct_net *net, size_t max)
{
	size_t done = 0;

	while (net->nq && (!max || done < max)) {
		struct ct_pkt p = ct_take(net, 0);
		struct ct_host *to = NULL;

		for (int n = 1; n <= CT_MAX_HOSTS; n++)
			if (net->hosts[n] &&
			    uh_addr_eq(&net->hosts[n]->addr, &p.dst))
				to = net->hosts[n];
		if (to)
			uh_stack_input(to->st, p.data, p.len, &p.src);
		free(p.data);
		done++;
		assert_true(done < 10000000);   /* a livelock, not a test */
	}
	return done;
}

void ct_tick(struct ct_net *net)
{
	{
		uint32_t us = 0;

		for (int n = 1; n <= CT_MAX_HOSTS && !us; n++)
			if (net->hosts[n])
				us = net->hosts[n]->st->cfg.tick_us;
		ct_now_ns += (uint64_t)(us ? us : 1000) * 1000;
	}
	for (int n = 1; n <= CT_MAX_HOSTS; n++)
		if (net->hosts[n])
			uh_stack_tick(net->hosts[n]->st);
}

bool ct_inject(struct ct_host *h, int from, const struct uh_hdr *hdr,
	       const void *payload, size_t len)
{
	uint8_t buf[UH_MAX_HEADER + 65536];
	size_t hl = uh_wire_encode(hdr, buf);
	struct uh_addr src = ct_addr(from);

	assert_true(len <= 65536);
	if (len)
		memcpy(buf + hl, payload, len);
	return uh_stack_input(h->st, buf, hl + len, &src);
}

bool ct_inject_ctl(struct ct_host *h, int from, uint8_t type,
		   uint16_t sport, uint16_t dport, uint64_t sender_id)
{
	struct uh_hdr c;

	memset(&c, 0, sizeof(c));
	c.type = type;
	c.sport = sport;
	c.dport = dport;
	c.sender_id = sender_id;
	return ct_inject(h, from, &c, NULL, 0);
}

void ct_request_data(struct ct_host *h, int from, uint64_t cid, uint32_t len,
		     uint32_t off, uint32_t n, uint32_t incoming)
{
	static const uint8_t zeros[1424];
	struct uh_hdr hdr;

	assert_true(n <= sizeof(zeros));
	uh_client_data_hdr(&hdr, cid, len, off, incoming);
	ct_inject(h, from, &hdr, zeros, n);
}

/* ---- messages ----------------------------------------------------------------- */

uint8_t ct_byte(unsigned seed, size_t i)
{
	return (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

int ct_client_state(struct uhoma_sock *s, uint64_t id)
{
	struct uh_rpc *rpc = uh_rpc_find_client(s, id);
	int state;

	if (!rpc)
		return -1;
	state = (int)rpc->state;
	uh_rpc_release(rpc);
	return state;
}

uint64_t ct_send(struct uhoma_sock *s, int to, uint16_t port, size_t len,
		 unsigned seed, bool is_private)
{
	uint8_t *copy = uh_rpc_msgbuf_alloc(len);
	struct uh_addr a = ct_addr(to);
	uint32_t charged = 0;
	uint64_t id = 0;

	assert_non_null(copy);
	for (size_t i = 0; i < len; i++)
		copy[i] = ct_byte(seed, i);
	assert_int_equal(uh_sock_tx_try_charge(s, (uint32_t)len, &charged),
			 UHOMA_OK);
	assert_int_equal(uh_call_send(s, &a, port, copy, (uint32_t)len, seed,
				      is_private ? UHOMA_PRIVATE : 0, charged,
				      &id), UHOMA_OK);
	return id;
}

void ct_reply(struct uhoma_sock *s, const struct uhoma_msg *m, size_t len,
	      unsigned seed)
{
	uint8_t *copy = uh_rpc_msgbuf_alloc(len);
	struct uh_addr a;
	uint16_t port;

	assert_non_null(copy);
	for (size_t i = 0; i < len; i++)
		copy[i] = ct_byte(seed, i);
	assert_int_equal(uh_addr_from_sockaddr((const struct sockaddr *)&m->peer,
					       m->peer_len, &a, &port), 0);
	assert_int_equal(uh_call_reply(s, &a, port, m->id, copy,
				       (uint32_t)len), UHOMA_OK);
}

int ct_take_msg(struct uhoma_sock *s, uint64_t want, struct uhoma_msg *m,
		int *rc)
{
	memset(m, 0, sizeof(*m));
	return uh_call_take(s, want, m, rc);
}

bool ct_check(struct uhoma_sock *s, const struct uhoma_msg *m, size_t len,
	      unsigned seed)
{
	uint8_t *region = uh_pool_region(&s->pool);

	if (m->length != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		size_t page = i >> UH_BPAGE_SHIFT;

		if (region[m->bpage_offsets[page] + (i & (UH_BPAGE_SIZE - 1))] !=
		    ct_byte(seed, i))
			return false;
	}
	return true;
}

void ct_release(struct uhoma_sock *s, struct uhoma_msg *m)
{
	assert_int_equal(uh_pool_release(&s->pool, m->bpage_offsets,
					 m->num_bpages), UHOMA_OK);
	m->num_bpages = 0;
	uh_sock_check_bufs(s);     /* messages waiting for pages */
}
