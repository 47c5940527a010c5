/*
 * nettest.c - see nettest.h.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "nettest.h"
#include "testutil.h"

#include "util/addr.h"
#include "core/stack.h"
#include "core/wire.h"

double nt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct uhoma_stack *nt_stack(struct uhoma_memnet *net, int host,
			     uint32_t mtu, uint32_t rx_threads)
{
	struct uhoma_config cfg;
	struct uhoma_stack *st = NULL;

	uhoma_config_default(&cfg);
	cfg.carrier = UHOMA_CARRIER_MEMNET;
	cfg.memnet = net;
	cfg.mtu = mtu;
	cfg.rx_threads = rx_threads;
	snprintf(cfg.addr, sizeof(cfg.addr), "10.0.0.%d", host);
	if (uhoma_stack_create(&cfg, &st) != UHOMA_OK) {
		fprintf(stderr, "nt_stack: cannot create stack %d\n", host);
		abort();
	}
	return st;
}

void nt_pair_open(struct nt_pair *p, uint64_t seed, int virtual_clock,
		  uint32_t mtu, size_t srv_region, size_t cli_region)
{
	uint32_t threads = virtual_clock ? 0 : 1;

	p->net = uhoma_memnet_create(seed, virtual_clock);
	p->a = nt_stack(p->net, 1, mtu, threads);
	p->b = nt_stack(p->net, 2, mtu, threads);
	assert_int_equal(uhoma_socket(p->a, 80, &p->srv), UHOMA_OK);
	assert_int_equal(uhoma_socket(p->b, 0, &p->cli), UHOMA_OK);
	p->ra = nt_buffers(p->srv, srv_region);
	p->rb = nt_buffers(p->cli, cli_region);
	p->ra_len = srv_region;
	p->rb_len = cli_region;
}

void nt_pair_close(struct nt_pair *p)
{
	uhoma_close(p->cli);
	uhoma_close(p->srv);
	uhoma_stack_destroy(p->a);
	uhoma_stack_destroy(p->b);
	uhoma_memnet_destroy(p->net);
	nt_unmap(p->ra, p->ra_len);
	nt_unmap(p->rb, p->rb_len);
}

void *nt_buffers(struct uhoma_sock *s, size_t len)
{
	void *r = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (r == MAP_FAILED || uhoma_set_buffers(s, r, len) != UHOMA_OK) {
		fprintf(stderr, "nt_buffers failed\n");
		abort();
	}
	return r;
}

void nt_unmap(void *region, size_t len)
{
	munmap(region, len);
}

void nt_sockaddr(const char *text, uint16_t port, struct sockaddr_storage *ss,
		 size_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		inet_pton(AF_INET6, text, &in6->sin6_addr);
		*len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		inet_pton(AF_INET, text, &in->sin_addr);
		*len = sizeof(*in);
	}
}

void nt_addr(int host, uint16_t port, struct sockaddr_storage *ss,
	     size_t *len)
{
	char text[32];

	snprintf(text, sizeof(text), "10.0.0.%d", host);
	nt_sockaddr(text, port, ss, len);
}

static uint8_t pattern(uint64_t seed, size_t i)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + i / 8;

	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ull;
	return (uint8_t)(x >> (8 * (i % 8)));
}

void nt_fill(uint8_t *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(seed, i);
}

bool nt_check(struct uhoma_sock *s, const struct uhoma_msg *m, size_t len,
	      uint64_t seed)
{
	uint8_t *tmp;
	bool ok = true;

	if (m->length != len)
		return false;
	tmp = malloc(len);
	if (uhoma_msg_copy(s, m, 0, tmp, len) != len)
		ok = false;
	for (size_t i = 0; ok && i < len; i++)
		if (tmp[i] != pattern(seed, i))
			ok = false;
	free(tmp);
	return ok;
}

/* Returns true if @id was seen before (and records it). */
static bool seen_add(struct nt_echo *e, struct uhoma_msg *m)
{
	uint64_t key = m->id ^ ((uint64_t)((struct sockaddr_in *)(void *)&m->peer)->sin_addr.s_addr << 1);
	size_t i;
	bool dup = false;

	pthread_mutex_lock(&e->seen_lock);
	for (i = (key * 0x9E3779B97F4A7C15ull) % e->seen_cap; e->seen[i];
	     i = (i + 1) % e->seen_cap)
		if (e->seen[i] == key) {
			dup = true;
			break;
		}
	if (!dup)
		e->seen[i] = key;
	pthread_mutex_unlock(&e->seen_lock);
	return dup;
}

static void *echo_main(void *arg)
{
	struct nt_echo *e = arg;
	uint8_t *buf = malloc(UHOMA_MAX_MESSAGE);

	for (;;) {
		struct uhoma_msg m;
		int rc;

		memset(&m, 0, sizeof(m));
		rc = uhoma_recv(e->s, &m, 0, -1);
		if (rc == UHOMA_ERR_SHUTDOWN)
			break;
		if (rc < 0) {
			atomic_fetch_add(&e->errors, 1);
			continue;
		}
		if (seen_add(e, &m))
			atomic_fetch_add(&e->dups, 1);
		uhoma_msg_copy(e->s, &m, 0, buf, m.length);
		uhoma_msg_release(e->s, &m);
		if (uhoma_reply(e->s, (struct sockaddr *)&m.peer, m.peer_len,
				m.id, buf, (size_t)rc) != UHOMA_OK)
			atomic_fetch_add(&e->errors, 1);
		atomic_fetch_add(&e->served, 1);
	}
	free(buf);
	return NULL;
}

void nt_echo_start(struct nt_echo *e, struct uhoma_sock *s, unsigned n)
{
	e->s = s;
	e->nthreads = n;
	atomic_init(&e->served, 0);
	atomic_init(&e->dups, 0);
	atomic_init(&e->errors, 0);
	pthread_mutex_init(&e->seen_lock, NULL);
	e->seen_cap = 1u << 20;
	e->seen = calloc(e->seen_cap, sizeof(uint64_t));
	for (unsigned i = 0; i < n; i++)
		pthread_create(&e->t[i], NULL, echo_main, e);
}

void nt_echo_stop(struct nt_echo *e)
{
	uhoma_shutdown(e->s);
	for (unsigned i = 0; i < e->nthreads; i++)
		pthread_join(e->t[i], NULL);
	free(e->seen);
	pthread_mutex_destroy(&e->seen_lock);
}

int nt_recv_nb(struct uhoma_sock *s, struct uhoma_msg *m)
{
	memset(m, 0, sizeof(*m));
	return uhoma_recv(s, m, UHOMA_NONBLOCK, 0);
}

int nt_echo_ready(struct uhoma_sock *srv, uint8_t *buf)
{
	struct uhoma_msg m;
	int rc, n = 0;

	while ((rc = nt_recv_nb(srv, &m)) > 0) {
		uhoma_msg_copy(srv, &m, 0, buf, (size_t)rc);
		uhoma_msg_release(srv, &m);
		assert_int_equal(uhoma_reply(srv, (struct sockaddr *)&m.peer,
					     m.peer_len, m.id, buf,
					     (size_t)rc), UHOMA_OK);
		n++;
	}
	return n;
}

void nt_forge_request(struct uhoma_stack *st, const char *src,
		      uint16_t sport, uint64_t sender_id, uint32_t claim)
{
	uint8_t pkt[UH_MAX_HEADER + 64];
	struct uh_hdr h;
	struct uh_addr a;
	size_t len;

	if (uh_addr_parse(src, &a))
		abort();
	memset(&h, 0, sizeof(h));
	h.type = UH_PKT_DATA;
	h.sport = sport;
	h.dport = 80;
	h.sender_id = sender_id;
	h.u.data.message_length = claim;
	h.u.data.incoming = 64;
	len = uh_wire_encode(&h, pkt);
	memset(pkt + len, 9, 64);
	uh_stack_input(st, pkt, len + 64, &a);
}
