/*
 * bench_scale.c - what a step costs when thousands of messages are
 * already there. Each set the core keeps messages in is measured holding
 * 100 and holding 5,000, and the figure is the ratio (1.0: the step does
 * not depend on how many there are):
 *   - pacer: the sender takes its next throttled message (every twentieth
 *     time the oldest: the FIFO share) and throttles it again;
 *   - grant: the first packet of a message that queues for grants (ten
 *     senders), at the receiver;
 *   - bufwait: the first packet of a 1 MB message that waits for space in
 *     a full buffer region.
 * Until 2026-12-07 each of these walked a list of the messages: at 5,000
 * they cost 7.3 us, 35 us and 14 us (design.md). One stack on the
 * in-memory network with a virtual clock and no threads; packets are
 * handed to the core directly, its own output thrown away (each message
 * sends one, so max_unproven is raised past the 5,000). Every figure
 * is the best of several repetitions. Usage: bench_scale [--quick]
 * The last line is machine-readable: SUMMARY key=value ...
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/pacer.h"
#include "core/stack.h"
#include "core/wire.h"
#include "net/memnet.h"
#include "uhoma/memnet.h"
#include "uhoma/uhoma.h"
#include "util/addr.h"
#include "util/clock.h"
#include "clientpkt.h"

#define REGION (64u << 20)
#define SMALL 100
#define LARGE 5000
#define TIMED 200          /* packets timed after the given number */

static int reps = 5;

struct fx {
	struct uhoma_memnet *net;
	struct uhoma_stack *st;
	struct uhoma_sock *srv;
	void *region;
};

static void discard(void *arg, const struct uh_tx *t, unsigned n)
{
	(void)arg;
	(void)t;
	(void)n;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_scale: %s\n", what);
	exit(1);
}

static void fx_up(struct fx *f, const char *config)
{
	struct uhoma_config cfg;

	f->net = uhoma_memnet_create(1, 1);
	uhoma_config_default(&cfg);
	cfg.carrier = UHOMA_CARRIER_MEMNET;
	cfg.memnet = f->net;
	cfg.rx_threads = 0;
	snprintf(cfg.addr, sizeof(cfg.addr), "10.0.0.1");
	if (!f->net || uhoma_config_parse(&cfg, config) != UHOMA_OK ||
	    uhoma_stack_create(&cfg, &f->st) != UHOMA_OK ||
	    uhoma_socket(f->st, 80, &f->srv) != UHOMA_OK)
		die("cannot set up a stack");
	f->region = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (f->region == MAP_FAILED ||
	    uhoma_set_buffers(f->srv, f->region, REGION) != UHOMA_OK)
		die("cannot set up a buffer region");
	uh_memnet_divert(f->st->carrier, discard, NULL);
}

static void fx_down(struct fx *f)
{
	uhoma_close(f->srv);
	uhoma_stack_destroy(f->st);
	uhoma_memnet_destroy(f->net);
	munmap(f->region, REGION);
}

/* The first DATA packet (1,000 bytes) of a @len-byte request with client
 * id @cid from 10.0.0.@peer, claiming @unsched bytes unscheduled. */
static void first_packet(struct fx *f, int peer, uint64_t cid, uint32_t len,
			 uint32_t unsched)
{
	static uint8_t buf[2048];
	struct uh_hdr h;
	struct uh_addr a;
	char text[32];
	size_t hl;

	uh_client_data_hdr(&h, cid, len, 0, unsched);
	hl = uh_wire_encode(&h, buf);
	snprintf(text, sizeof(text), "10.0.0.%d", peer);
	if (uh_addr_parse(text, &a))
		die("bad address");
	uh_stack_input(f->st, buf, hl + 1000, &a);
}

/* ---- the three steps ----------------------------------------------------- */

static uint64_t mock_ns;

static uint64_t mock_now(void)
{
	return mock_ns;
}

/* @k times: the next throttled message, throttled again. */
static void pop_again(struct fx *f, unsigned k)
{
	while (k--) {
		struct uh_rpc *rpc = uh_pacer_pop(f->st);

		if (!rpc)
			die("nothing throttled");
		uh_rpc_lock(rpc);
		uh_pacer_throttle(rpc);
		uh_rpc_unlock(rpc);
		uh_rpc_put(rpc);
	}
}

/* ns per pop and re-throttle, @n messages throttled. */
static double pacer_step(unsigned n)
{
	static uint8_t msg[40000];
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(80) };
	struct uhoma_sock *cli;
	struct fx f;
	uint64_t t0;
	double ns;

	fx_up(&f, "sndbuf=0");
	mock_ns = 1000000;
	uh_pacer_init(f.st, 1000, mock_now);    /* 1 Gbit/s, clock stopped */
	to.sin_addr.s_addr = htonl(0x0a000009);
	if (uhoma_socket(f.st, 0, &cli) != UHOMA_OK)
		die("no client socket");
	for (unsigned i = 0; i < n; i++) {
		uint64_t id;

		if (uhoma_send(cli, (struct sockaddr *)&to, sizeof(to), msg,
			       2000 + (i * 7919u) % 38000u, 0, 0,
			       &id) != UHOMA_OK)
			die("send refused");
	}
	/* Untimed first: a heap's first pop after a burst of inserts
	 * gathers them all (paid once, amortized over the later pops). */
	pop_again(&f, 2 * n);
	t0 = uh_now_ns();
	pop_again(&f, 50 * TIMED);
	ns = (double)(uh_now_ns() - t0) / (50 * TIMED);
	while (uh_pacer_throttled(f.st))
		uh_rpc_put(uh_pacer_pop(f.st));
	uhoma_close(cli);
	fx_down(&f);
	return ns;
}

/* ns per first packet of a @len-byte message claiming @unsched bytes
 * unscheduled, with @n such messages there before it (and up to TIMED
 * more), on a stack configured with @config. */
static double first_packets(unsigned n, const char *config, uint32_t len,
			    uint32_t unsched, struct fx *f)
{
	uint64_t t0;

	fx_up(f, config);
	for (unsigned i = 0; i < n; i++)
		first_packet(f, 1 + (int)(i % 10), 2 + 2 * i, len, unsched);
	t0 = uh_now_ns();
	for (unsigned i = n; i < n + TIMED; i++)
		first_packet(f, 1 + (int)(i % 10), 2 + 2 * i, len, unsched);
	return (double)(uh_now_ns() - t0) / TIMED;
}

/* Messages that queue for grants (6,000 bytes, 2,000 unscheduled). */
static double grant_step(unsigned n)
{
	struct fx f;
	double ns = first_packets(n, "max_incoming=100000000,"
				     "max_unproven=100000",
				  6000, 2000, &f);

	if (uh_grant_count(f.st) < n)
		die("messages not queued for grants");
	fx_down(&f);
	return ns;
}

/* 1 MB messages, which wait for buffer space (the region holds about
 * sixty). */
static double bufwait_step(unsigned n)
{
	struct fx f;
	double ns = first_packets(n, "max_unproven=100000", 1000000, 10000,
				  &f);

	fx_down(&f);
	return ns;
}

static double best(double (*fn)(unsigned), unsigned n)
{
	double b = 0;

	for (int r = 0; r < reps; r++) {
		double v = fn(n);

		if (r == 0 || v < b)
			b = v;
	}
	return b;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		double (*fn)(unsigned);
	} steps[] = {
		{ "pacer_pop", pacer_step },
		{ "grant_first", grant_step },
		{ "bufwait_pkt", bufwait_step },
	};
	double ratio[3];

	if (argc > 1 && !strcmp(argv[1], "--quick"))
		reps = 2;
	else if (argc > 1) {
		fprintf(stderr, "usage: bench_scale [--quick]\n");
		return 2;
	}
	printf("%-12s %12s %12s %8s\n", "step", "ns at 100",
	       "ns at 5000", "ratio");
	for (unsigned i = 0; i < 3; i++) {
		double a = best(steps[i].fn, SMALL);
		double b = best(steps[i].fn, LARGE);

		ratio[i] = b / a;
		printf("%-12s %12.1f %12.1f %8.2f\n", steps[i].name, a, b,
		       ratio[i]);
	}
	printf("SUMMARY pacer_pop_5000_vs_100=%.2f grant_first_5000_vs_100=%.2f "
	       "bufwait_pkt_5000_vs_100=%.2f\n",
	       ratio[0], ratio[1], ratio[2]);
	return 0;
}
