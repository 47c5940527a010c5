/*
 * gen_corpus.c - seeds for the fuzz targets, captured from real traffic:
 * two stacks exchange RPCs of several sizes through a capturing wire that
 * loses one packet in 17, so that grants, RESENDs, BUSYs, NEED_ACKs, ACKs
 * and CUTOFFS all occur. Every packet is saved twice:
 *   corpus_wire/NNNN       the packet alone (fuzz_wire: the decoder);
 *   corpus/cap_NNNN        one fuzz_input record (kind, length, bytes),
 *                          kind pointing it at the socket it was for.
 *
 *   gen_corpus DIR         (DIR holds corpus/ and corpus_wire/)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util/addr.h"
#include "core/stack.h"
#include "net/memnet.h"
#include "uhoma/memnet.h"
#include "uhoma/uhoma.h"

#define MAXQ 4096
#define REGION (16u << 20)

struct pkt {
	int to;               /* 0: server stack, 1: client stack */
	uint16_t len;
	uint8_t data[2048];
};

static struct pkt q[MAXQ];
static unsigned qhead, qtail, seq;
static struct uhoma_stack *stk[2];
static struct uh_addr addr[2];

/* Each stack's transmit hook: the packets go into the wire's queue. */
static void capture(void *arg, const struct uh_tx *pkts, unsigned n)
{
	int from = (int)(intptr_t)arg;

	for (unsigned i = 0; i < n; i++) {
		size_t len = pkts[i].hdr_len + pkts[i].payload_len;
		struct pkt *p;

		if (len > sizeof(q[0].data) || qtail - qhead == MAXQ)
			continue;
		p = &q[qtail++ % MAXQ];
		p->to = !from;
		p->len = (uint16_t)len;
		memcpy(p->data, pkts[i].hdr, pkts[i].hdr_len);
		if (pkts[i].payload_len)   /* control packets: NULL */
			memcpy(p->data + pkts[i].hdr_len, pkts[i].payload,
			       pkts[i].payload_len);
	}
}

static void save(const char *dir, const struct pkt *p)
{
	char path[512];
	FILE *f;
	uint8_t rec[3];

	snprintf(path, sizeof(path), "%s/corpus_wire/%04u", dir, seq);
	if ((f = fopen(path, "wb"))) {
		fwrite(p->data, 1, p->len, f);
		fclose(f);
	}
	/* fuzz_input's record: kind bit 0 = for the client socket. */
	rec[0] = (uint8_t)(p->to == 1);
	rec[1] = (uint8_t)p->len;
	rec[2] = (uint8_t)(p->len >> 8);
	snprintf(path, sizeof(path), "%s/corpus/cap_%04u", dir, seq);
	if ((f = fopen(path, "wb"))) {
		fwrite(rec, 1, 3, f);
		fwrite(p->data, 1, p->len, f);
		fclose(f);
	}
	seq++;
}

static struct uhoma_stack *make(struct uhoma_memnet *net, const char *a,
				int i)
{
	struct uhoma_config cfg;
	struct uhoma_stack *st;

	uhoma_config_default(&cfg);
	cfg.carrier = UHOMA_CARRIER_MEMNET;
	cfg.memnet = net;
	cfg.rx_threads = 0;
	cfg.mtu = 1500;
	strcpy(cfg.addr, a);
	if (uhoma_stack_create(&cfg, &st) != UHOMA_OK)
		abort();
	uh_memnet_divert(st->carrier, capture, (void *)(intptr_t)i);
	uh_addr_parse(a, &addr[i]);
	return st;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 100, 3000, 60000, 300000 };
	struct uhoma_memnet *net = uhoma_memnet_create(1, 1);
	struct uhoma_sock *srv, *cli;
	struct sockaddr_storage to;
	uint32_t to_len;
	uint8_t *buf = calloc(1, 300000);
	unsigned done = 0, sent = 0, n = 0;

	if (argc != 2 || !net || !buf)
		return 2;
	stk[0] = make(net, "10.0.0.1", 0);
	stk[1] = make(net, "10.0.0.2", 1);
	if (uhoma_socket(stk[0], 1, &srv) || uhoma_socket(stk[1], 0, &cli) ||
	    uhoma_set_buffers(srv, mmap(NULL, REGION, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
			      REGION) ||
	    uhoma_set_buffers(cli, mmap(NULL, REGION, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
			      REGION))
		return 1;
	uh_addr_to_sockaddr(&addr[0], 1, &to, &to_len);
	for (unsigned round = 0; round < 3000 && done < 8; round++) {
		struct uhoma_msg m;
		uint64_t id;

		if (sent < 8 && sent == done)
			uhoma_send(cli, (struct sockaddr *)&to, to_len, buf,
				   sizes[sent % 4], sent, 0, &id), sent++;
		while (qhead != qtail) {
			struct pkt *p = &q[qhead++ % MAXQ];

			if (seq < 400)
				save(argv[1], p);
			if (++n % 17 == 0)
				continue;          /* lost */
			uh_stack_input(stk[p->to], p->data, p->len,
				       &addr[!p->to]);
		}
		memset(&m, 0, sizeof(m));
		while (uhoma_recv(srv, &m, UHOMA_NONBLOCK, 0) > 0) {
			uhoma_msg_release(srv, &m);
			uhoma_reply(srv, (struct sockaddr *)&m.peer, m.peer_len,
				    m.id, buf, 2000);
			memset(&m, 0, sizeof(m));
		}
		memset(&m, 0, sizeof(m));
		while (uhoma_recv(cli, &m, UHOMA_NONBLOCK, 0) != UHOMA_ERR_AGAIN) {
			uhoma_msg_release(cli, &m);
			memset(&m, 0, sizeof(m));
			done++;
		}
		uh_stack_tick(stk[0]);
		uh_stack_tick(stk[1]);
	}
	printf("gen_corpus: %u RPCs, %u packets, %u saved\n", done, n, seq);
	return done == 8 ? 0 : 1;
}
