/*
 * test_sim.c - the simulator: exact timing on the model (at any rate),
 * strict priorities and tail drop at a switch port, SRPT at a receiver
 * through the real core, incast (with refused sends too), what priorities
 * are worth at load, request/response, the same output from the same
 * seed; the report's accounting (failed messages, messages in flight,
 * sustained, -1 where it cannot say); the command line's strict parsing
 * and checks (settings not modelled, runs too long or too large); a full
 * event queue, the drain's exact deadline; and uhoma-sim's exit status
 * and messages for files it cannot write.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/wire.h"
#include "opts.h"
#include "reference.h"
#include "sim.h"

/* The test fabric's latencies, each its own so that a delay counted in
 * the wrong place, or twice, shows (the defaults: test_defaults). */
#define PROP_NS 200
#define SWITCH_NS 250
#define HOST_NS 700
#define NIC_NS 300
/* A packet's fixed latency from host to host: every link's propagation,
 * every switch's forwarding, software at both ends, the sender's NIC. */
#define LAT_PS(links, switches) \
	(((links) * PROP_NS + (switches) * SWITCH_NS + 2 * HOST_NS + NIC_NS) * \
	 SIM_PS_PER_NS)
#define PS_PER_BYTE_10G 800     /* 8 bits at 10 Gb/s */

/* ---- a fabric with hosts, driven message by message ---------------------- */

struct taken {
	uint32_t host, len;
	uint64_t at_ps;
};

struct bed {
	struct sim_engine eng;
	struct sim_net net;
	struct sim_hosts hosts;
	struct taken got[16];
	unsigned ngot;
};

/* Records each request as its receiver takes it; answers one byte. */
static void on_msg(void *app, struct sim_host *h, const struct uhoma_msg *m,
		   int rc)
{
	struct bed *b = app;

	assert_true(rc >= 0);
	if (m->id & 1) {
		assert_true(b->ngot < 16);
		b->got[b->ngot++] = (struct taken){ h->index, m->length,
						    b->eng.now };
		assert_int_equal(sim_host_reply(h, m, 1), 0);
	}
	sim_host_release(h, m);
}

static void bed_up(struct bed *b, const char *topology)
{
	struct sim_topo_opts o;
	char err[128];

	memset(b, 0, sizeof(*b));
	sim_topo_defaults(&o);
	o.prop_ns = PROP_NS;
	o.switch_ns = SWITCH_NS;
	o.host_ns = HOST_NS;
	o.nic_ns = NIC_NS;
	sim_engine_init(&b->eng);
	sim_net_init(&b->net, &b->eng);
	assert_int_equal(sim_topo_build(&b->net, topology, &o, err,
					sizeof(err)), 0);
	assert_int_equal(sim_hosts_start(&b->hosts, &b->net, NULL, on_msg, b),
			 0);
}

static void bed_down(struct bed *b)
{
	sim_hosts_stop(&b->hosts);
	sim_net_free(&b->net);
	sim_engine_free(&b->eng);
}

/* Runs until @n requests were taken (at most a virtual second). */
static void run_until_taken(struct bed *b, unsigned n)
{
	while (b->ngot < n && b->eng.now < 1000000 * SIM_PS_PER_US)
		assert_true(sim_step(&b->eng));
	assert_int_equal(b->ngot, n);
}

static uint64_t ser(uint32_t payload)
{
	return (uint64_t)(payload + UH_HDR_DATA + SIM_WIRE_OVERHEAD) *
	       PS_PER_BYTE_10G;
}

/* One packet: serialized at the NIC, propagated, serialized again at the
 * switch (store-and-forward), propagated: to the picosecond. */
/* ---- the engine: fire order ---------------------------------------- */

struct fired {
	struct sim_engine *e;
	uint64_t time[4096], seq[4096];
	unsigned n;
	uint64_t rng, tag;       /* tag: the scheduling order */
};

static uint64_t rnd(struct fired *f)
{
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	return f->rng;
}

#define ENGINE_T (1ull << 35)   /* ps */

/* Records its firing; a third of the time schedules another event, from
 * 0 ps (the same instant) to 2^40 ps ahead. */
static void on_fire(void *a, void *b)
{
	struct fired *f = a;

	f->time[f->n] = f->e->now;
	f->seq[f->n] = (uint64_t)(uintptr_t)b;
	f->n++;
	/* Ten more at the instant ten early ones wait for (ENGINE_T), from
	 * much nearer: they meet those in one bucket only later. */
	if (f->n == 100)
		for (int i = 0; i < 10; i++)
			assert_int_equal(sim_at(f->e, ENGINE_T - f->e->now,
						on_fire, f,
						(void *)(uintptr_t)f->tag++),
					 0);
	if (f->n < 3000 && rnd(f) % 3 == 0) {
		uint64_t r = rnd(f), d = (r >> 8) & ((1ull << (r % 41)) - 1);

		assert_int_equal(sim_at(f->e, r % 5 == 0 ? 0 : d, on_fire, f,
					(void *)(uintptr_t)f->tag++),
				 0);
	}
}

/*
 * Events fire in (time, scheduling order) whatever the times -- equal
 * ones, the same instant scheduled from a firing event, gaps from 0 to
 * 2^40 ps -- and a schedule before the next event after sim_run_until
 * has moved the clock to a point short of it still fires first. (The
 * engine is a radix heap; byte-identical CSVs before and after it
 * replaced a 4-ary heap were the other check.)
 */
static void test_engine_order(void **state)
{
	struct sim_engine e;
	struct fired *f = calloc(1, sizeof(*f));
	uint64_t mine;

	(void)state;
	assert_non_null(f);
	sim_engine_init(&e);
	f->e = &e;
	f->rng = 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < 10; i++)
		assert_int_equal(sim_at(&e, ENGINE_T, on_fire, f,
					(void *)(uintptr_t)f->tag++),
				 0);
	for (uint64_t i = 0; i < 1000; i++) {
		uint64_t r = rnd(f);

		assert_int_equal(sim_at(&e, r % 7 == 0 ? 5000 : r % 100000000,
					on_fire, f, (void *)(uintptr_t)f->tag++),
				 0);
	}
	/* Fire up to a point, then schedule before the next event. */
	sim_run_until(&e, 50000000);
	assert_true(e.now == 50000000);
	mine = f->tag++;
	assert_int_equal(sim_at(&e, 1, on_fire, f, (void *)(uintptr_t)mine),
			 0);
	assert_true(sim_step(&e));
	assert_true(f->time[f->n - 1] == 50000001 && f->seq[f->n - 1] == mine);
	while (sim_step(&e))
		;
	assert_true(f->n > 1000);
	for (unsigned i = 1; i < f->n; i++)
		assert_true(f->time[i] >= f->time[i - 1]);
	/* Ties fire in the order they were scheduled. */
	for (unsigned i = 1, at_t = 0; i < f->n; i++) {
		if (f->time[i] == f->time[i - 1])
			assert_true(f->seq[i] > f->seq[i - 1]);
		at_t += f->time[i] == ENGINE_T;
		if (i == f->n - 1)
			assert_true(at_t >= 20);
	}
	sim_engine_free(&e);
	free(f);
}

/* The model's defaults are the Homa paper's simulator's: 250 ns per
 * switch, 500 ns of software at each end, 500 ns in the NIC, a NIC that
 * sends its most urgent packet first; a one-packet message across the
 * fabric idles at exactly its serializations plus them. */
static void test_defaults(void **state)
{
	struct sim_topo_opts o;
	struct sim_engine eng;
	struct sim_net net;
	char err[128];

	(void)state;
	sim_topo_defaults(&o);
	assert_int_equal(o.switch_ns, 250);
	assert_int_equal(o.host_ns, 500);
	assert_int_equal(o.nic_ns, 500);
	assert_int_equal(o.prop_ns, 200);
	assert_true(o.nic_prio);
	sim_engine_init(&eng);
	sim_net_init(&net, &eng);
	assert_int_equal(sim_topo_build(&net, "fabric:2x2", &o, err,
					sizeof(err)), 0);
	assert_true(net.nic[0].fifo == false);
	assert_int_equal(sim_ideal_ps(&net, 0, 3, 100),
			 2 * ser(100) + 2 * ser(100) / 4 +
			 (4 * 200 + 3 * 250 + 2 * 500 + 500) * SIM_PS_PER_NS);
	sim_net_free(&net);
	sim_engine_free(&eng);
}

static void test_one_packet_timing(void **state)
{
	struct bed b;
	uint64_t id, want = 2 * ser(100) + LAT_PS(2, 1);

	(void)state;
	bed_up(&b, "rack:2");
	assert_int_equal(sim_host_send(&b.hosts.h[0], 1, 100, 0, &id), 0);
	run_until_taken(&b, 1);
	assert_int_equal(b.got[0].host, 1);
	assert_int_equal(b.got[0].len, 100);
	assert_int_equal(b.got[0].at_ps, want);
	assert_int_equal(sim_ideal_ps(&b.net, 0, 1, 100), want);
	bed_down(&b);
}

/* Four packets back to back over two hops of one rate: the switch port
 * starts the first once it has all of it and is busy from then on (the
 * short last packet arrives while the third is still leaving), so the
 * last bit leaves it one full packet's serialization after the NIC's. The
 * fixed delays are latencies, counted once for the message: no packet
 * waits for the one before it to have spent them. */
static void test_message_timing(void **state)
{
	uint32_t per = SIM_MAX_HOMA - UH_HDR_DATA, last = 5000 - 3 * per;
	uint64_t want = ser(per) + (3 * ser(per) + ser(last)) + LAT_PS(2, 1);
	struct bed b;
	uint64_t id;

	(void)state;
	bed_up(&b, "rack:2");
	assert_int_equal(sim_host_send(&b.hosts.h[0], 1, 5000, 0, &id), 0);
	run_until_taken(&b, 1);
	assert_int_equal(b.got[0].len, 5000);
	assert_int_equal(b.got[0].at_ps, want);
	assert_int_equal(sim_ideal_ps(&b.net, 0, 1, 5000), want);
	/* Across racks: two more hops at 40 Gb/s, the same formula in
	 * sim_ideal_ps (checked here for one packet). */
	bed_down(&b);
	bed_up(&b, "fabric:2x2");
	assert_int_equal(sim_host_send(&b.hosts.h[0], 3, 100, 0, &id), 0);
	run_until_taken(&b, 1);
	assert_int_equal(b.got[0].at_ps,
			 2 * ser(100) + 2 * ser(100) / 4 + LAT_PS(4, 3));
	assert_int_equal(sim_ideal_ps(&b.net, 0, 3, 100), b.got[0].at_ps);
	bed_down(&b);
}

/* ---- the model alone: one switch port ------------------------------------ */

struct order {
	uint8_t tag[16];
	unsigned n;
};

static void record(void *arg, uint32_t host, struct sim_pkt *p)
{
	struct order *o = arg;

	assert_int_equal(host, 2);
	assert_true(o->n < 16);
	o->tag[o->n++] = p->data[0];
}

/* A rack of three hosts whose packets are recorded, not given to cores;
 * tests drive host 2's downlink port directly. */
struct port_bed {
	struct sim_engine eng;
	struct sim_net net;
	struct order got;
	struct sim_port *port;        /* the switch's port to host 2 */
	struct sim_port *tie_port;    /* enqueue_event's */
	struct sim_pkt *tie_pkt;
};

/* An event: b->tie_pkt arrives at b->tie_port. */
static void enqueue_event(void *a, void *unused)
{
	struct port_bed *b = a;

	(void)unused;
	assert_true(sim_port_enqueue(b->tie_port, b->tie_pkt));
}

static void port_bed_up(struct port_bed *b, struct sim_topo_opts *o)
{
	char err[128];

	memset(b, 0, sizeof(*b));
	sim_engine_init(&b->eng);
	sim_net_init(&b->net, &b->eng);
	assert_int_equal(sim_topo_build(&b->net, "rack:3", o, err,
					sizeof(err)), 0);
	b->net.deliver = record;
	b->net.deliver_arg = &b->got;
	b->port = &b->net.sw[0].ports[2];
}

/* Runs until no event is left. */
static void port_bed_run(struct port_bed *b)
{
	while (sim_step(&b->eng))
		;
}

static void port_bed_down(struct port_bed *b)
{
	sim_net_free(&b->net);
	sim_engine_free(&b->eng);
}

static struct sim_pkt *pkt(struct sim_net *net, uint8_t tag, uint8_t prio)
{
	struct sim_pkt *p = sim_pkt_alloc(net);

	assert_non_null(p);
	p->src = 0;
	p->dst = 2;
	p->len = 1000;
	p->wire = sim_wire_bytes(p->len);
	p->prio = prio;
	p->data[0] = tag;
	return p;
}

/* Five low-priority packets queue at a port, then a high-priority one
 * arrives: it leaves right after the packet already on the wire. */
static void test_priority_overtakes(void **state)
{
	struct sim_topo_opts o;
	struct port_bed b;
	static const uint8_t want[] = { 0, 9, 1, 2, 3, 4 };

	(void)state;
	sim_topo_defaults(&o);
	port_bed_up(&b, &o);
	for (uint8_t i = 0; i < 5; i++)
		assert_true(sim_port_enqueue(b.port, pkt(&b.net, i, 0)));
	assert_true(sim_port_enqueue(b.port, pkt(&b.net, 9, 7)));
	port_bed_run(&b);
	assert_int_equal(b.got.n, 6);
	assert_memory_equal(b.got.tag, want, sizeof(want));
	assert_int_equal(b.port->st.max_bytes[0], 5 * sim_wire_bytes(1000));
	assert_int_equal(b.port->st.max_bytes[7], sim_wire_bytes(1000));
	/* The last packet leaves the buffer when its last bit has left
	 * (looked at lazily: settled before reading). */
	sim_port_settle(b.port);
	assert_int_equal(b.net.sw[0].buf_used, 0);
	port_bed_down(&b);
}

/* A switch whose buffer holds three packets drops the next ones. */
static void test_tail_drop(void **state)
{
	struct sim_topo_opts o;
	struct port_bed b;

	(void)state;
	sim_topo_defaults(&o);
	o.switch_buf = 3 * sim_wire_bytes(1000);
	port_bed_up(&b, &o);
	for (uint8_t i = 0; i < 3; i++)
		assert_true(sim_port_enqueue(b.port, pkt(&b.net, i, 3)));
	assert_false(sim_port_enqueue(b.port, pkt(&b.net, 3, 6)));
	assert_false(sim_port_enqueue(b.port, pkt(&b.net, 4, 3)));
	port_bed_run(&b);
	assert_int_equal(b.got.n, 3);
	assert_int_equal(b.port->st.drops[6], 1);
	assert_int_equal(b.port->st.drops[3], 1);
	assert_int_equal(b.net.dropped, 2);
	port_bed_down(&b);
}

/* A packet leaves its port's queue and the switch's buffer when its last
 * bit has left, to the picosecond, though no event marks that instant
 * when nothing waits behind it: the buffer that holds one packet and not
 * two refuses a second one a picosecond before, takes it at that instant,
 * and the port's occupancy area is the packet's bytes times its time; its
 * busy time counts it only then. */
static void test_buffer_freed_at_last_bit(void **state)
{
	struct sim_topo_opts o;
	struct port_bed b;
	uint64_t end = (uint64_t)sim_wire_bytes(1000) * PS_PER_BYTE_10G;

	(void)state;
	sim_topo_defaults(&o);
	o.switch_buf = 2 * sim_wire_bytes(1000) - 1;
	port_bed_up(&b, &o);
	assert_true(sim_port_enqueue(b.port, pkt(&b.net, 0, 0)));
	sim_run_until(&b.eng, end - 1);
	assert_false(sim_port_enqueue(&b.net.sw[0].ports[1],
				      pkt(&b.net, 1, 0)));
	/* Not busy past now: a packet counts once it has left. */
	sim_port_settle(b.port);
	assert_int_equal(b.port->st.busy_ps, 0);
	assert_int_equal(b.port->st.tx_pkts, 0);
	sim_run_until(&b.eng, end);
	assert_true(sim_port_enqueue(&b.net.sw[0].ports[1],
				     pkt(&b.net, 2, 0)));
	sim_port_settle(b.port);
	assert_true(b.port->st.area[0] ==
		    (double)sim_wire_bytes(1000) * (double)end);
	assert_int_equal(b.port->st.max_bytes[0], sim_wire_bytes(1000));
	assert_int_equal(b.port->st.busy_ps, end);
	assert_int_equal(b.net.sw[0].buf_max, sim_wire_bytes(1000));
	port_bed_down(&b);
}

/* A hop costs one event, the packet's arrival at the far end: a port
 * that comes free starts the packet behind at that instant without an
 * event of its own (net.c's catch_up, when the arrival of the one before
 * looks at it). Six packets through one port: six events, in order, each
 * leaving at the instant the one before it left. */
static void test_one_event_per_hop(void **state)
{
	struct sim_topo_opts o;
	struct port_bed b;
	static const uint8_t want[] = { 0, 1, 2, 3, 4, 5 };
	uint64_t ser = (uint64_t)sim_wire_bytes(1000) * PS_PER_BYTE_10G;

	(void)state;
	sim_topo_defaults(&o);
	port_bed_up(&b, &o);
	for (uint8_t i = 0; i < 6; i++)
		assert_true(sim_port_enqueue(b.port, pkt(&b.net, i, 0)));
	port_bed_run(&b);
	assert_int_equal(b.got.n, 6);
	assert_memory_equal(b.got.tag, want, sizeof(want));
	assert_int_equal(b.eng.fired, 6);
	/* The port leads to a host: its software's delay too. */
	assert_int_equal(b.eng.now,
			 6 * ser + (o.prop_ns + o.host_ns) * SIM_PS_PER_NS);
	sim_port_settle(b.port);
	assert_int_equal(b.port->st.busy_ps, 6 * ser);
	assert_int_equal(b.port->st.tx_pkts, 6);
	port_bed_down(&b);
}

/* The rule at a tie: a port that comes free at t chooses among the
 * packets that waited before t. One arriving at t itself, however urgent,
 * goes after that choice; alone, it starts at t. */
static void test_tie_at_free(void **state)
{
	struct sim_topo_opts o;
	struct port_bed b;
	static const uint8_t want[] = { 0, 1, 9, 8 };
	uint64_t ser = (uint64_t)sim_wire_bytes(1000) * PS_PER_BYTE_10G;

	(void)state;
	sim_topo_defaults(&o);
	port_bed_up(&b, &o);
	/* 9's arrival is scheduled first, so it fires first of the events
	 * at that instant (a model that started the next packet in an event
	 * of its own chose 9, by the order in which they were scheduled). */
	b.tie_port = b.port;
	b.tie_pkt = pkt(&b.net, 9, 7);
	assert_int_equal(sim_at(&b.eng, ser, enqueue_event, &b, NULL), 0);
	assert_true(sim_port_enqueue(b.port, pkt(&b.net, 0, 0)));
	assert_true(sim_port_enqueue(b.port, pkt(&b.net, 1, 0)));
	sim_run_until(&b.eng, ser);
	assert_int_equal(b.port->head[7], b.tie_pkt);
	/* Free again at 3 x ser with nothing waiting: 8 starts then. */
	sim_run_until(&b.eng, 3 * ser);
	assert_true(sim_port_enqueue(b.port, pkt(&b.net, 8, 0)));
	port_bed_run(&b);
	assert_int_equal(b.got.n, 4);
	assert_memory_equal(b.got.tag, want, sizeof(want));
	assert_int_equal(b.eng.now,
			 4 * ser + (o.prop_ns + o.host_ns) * SIM_PS_PER_NS);
	port_bed_down(&b);
}

/* ---- SRPT through the core ----------------------------------------------- */

/* Three senders start at once to one receiver, the longest first: the
 * receiver's grants and the priorities finish them shortest first. */
static void test_srpt(void **state)
{
	static const uint32_t len[3] = { 400000, 100000, 20000 };
	uint64_t at[3] = { 0, 0, 0 };
	struct bed b;
	uint64_t id;

	(void)state;
	bed_up(&b, "rack:4");
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(sim_host_send(&b.hosts.h[i + 1], 0, len[i], i,
					       &id), 0);
	run_until_taken(&b, 3);
	for (unsigned i = 0; i < 3; i++)
		for (unsigned k = 0; k < 3; k++)
			if (b.got[i].len == len[k])
				at[k] = b.got[i].at_ps;
	assert_true(at[2] && at[1] && at[0]);
	assert_true(at[2] < at[1]);
	assert_true(at[1] < at[0]);
	/* The longest, last, still ran near the link's rate: all bytes of
	 * all three through one 10 Gb/s downlink, within 10%. */
	assert_true(at[0] < (uint64_t)(520000 * 1.1 * 1538 / 1416) *
			    PS_PER_BYTE_10G);
	bed_down(&b);
}

/* ---- rates that do not divide 8,000,000 Mb/s ----------------------------- */

/* A port at 3 Gb/s (2666.67 ps a byte) sends packets back to back: each
 * takes whole picoseconds, the fractions carried, so that the port's busy
 * time is the exact time of all its bytes, to the picosecond. */
static void test_odd_rate_exact(void **state)
{
	struct sim_topo_opts o;
	struct port_bed b;
	uint64_t bits = 0;

	(void)state;
	sim_topo_defaults(&o);
	o.host_mbps = 3000;
	port_bed_up(&b, &o);
	for (uint8_t i = 0; i < 7; i++) {
		struct sim_pkt *p = pkt(&b.net, i, 0);

		bits += (uint64_t)p->wire * 8000000ull;
		assert_true(sim_port_enqueue(b.port, p));
	}
	port_bed_run(&b);
	assert_int_equal(b.got.n, 7);
	sim_port_settle(b.port);      /* the counters, before reading them */
	assert_int_equal(b.port->st.busy_ps, bits / 3000);
	port_bed_down(&b);
}

/* The defaults, on @topology with @workload, @messages of them. */
static void opts(struct sim_opts *o, const char *topology,
		 const char *workload, uint64_t messages)
{
	sim_opts_default(o);
	o->topology = topology;
	o->workload = workload;
	o->messages = messages;
}

/* Whole runs at rates that used to divide by zero (above 8,000 Gb/s),
 * or to round (5,000 Gb/s simulated as 8,000; 3 Gb/s): every message
 * complete, none faster than the idle fabric -- the baseline rounds each
 * serialization down, the model never takes less. */
static void run_whole(struct sim_opts *o, struct sim_result *r);

static void test_any_rate(void **state)
{
	static const uint32_t host[] = { 3000, 5000000, 9000000, 10000000 };
	static const uint32_t up[] = { 7001, 10000000, 9000000, 333333 };
	struct sim_opts o;
	struct sim_result r;

	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		opts(&o, "fabric:2x3", "w2", 300);
		o.topo.host_mbps = host[i];
		o.topo.uplink_mbps = up[i];
		run_whole(&o, &r);
	}
}

/* The ideal is a lower bound whatever the spraying: on uplinks no faster
 * than the hosts' links, with 2 spines, a random choice that let a short
 * last packet pass a full one beat the spines-in-turn ideal used before,
 * and these runs read MODEL ERROR (helper-29). */
static void test_ideal_is_a_lower_bound(void **state)
{
	struct sim_opts o;
	struct sim_result r;

	(void)state;
	opts(&o, "fabric:2x1", "2860", 1);
	o.warmup = 0;
	o.seed = 2;
	o.topo.uplink_mbps = 10000;
	o.topo.spines = 2;
	run_whole(&o, &r);
	opts(&o, "fabric:2x1", "w5", 500);
	o.seed = 215;
	o.topo.host_mbps = 7500;
	o.topo.uplink_mbps = 10000;
	o.topo.spines = 2;
	o.topo.prop_ns = 1000;
	run_whole(&o, &r);
}

/* ---- whole runs ---------------------------------------------------------- */

/* Runs @o to its end and fills @r; every message complete, none faster
 * than the idle fabric allows. */
static void run_whole(struct sim_opts *o, struct sim_result *r)
{
	struct sim s;
	FILE *devnull = fopen("/dev/null", "w");

	assert_non_null(devnull);
	o->quiet = true;
	assert_int_equal(sim_create(&s, o), 0);
	assert_int_equal(sim_run(&s), 0);
	assert_int_equal(sim_report(&s, devnull, NULL, NULL, r), 0);
	fclose(devnull);
	assert_true(s.w.nmsgs == o->messages);
	assert_true(s.w.ndone == s.w.nmsgs);
	assert_true(s.w.nerrors == 0);
	assert_true(r->faster == 0);
	sim_destroy(&s);
}

/* 16 senders start 1 MB each to one receiver at the same instant: the
 * receiver's downlink stays busy, it grants to at most max_overcommit at
 * once, and the switch holds no more than the unscheduled bytes of all
 * and the receiver's granted window. */
static void test_incast(void **state)
{
	struct sim_opts o;
	struct sim_result r;
	/* The core's defaults: unsched_bytes, max_incoming (uhoma(7)). */
	const uint64_t unsched = 40000, incoming = 400000;

	(void)state;
	opts(&o, "rack:17", "incast:16,1000000", 16);
	o.warmup = 0;
	run_whole(&o, &r);
	assert_true(r.downlink_util >= 0.90);
	assert_true(r.max_active >= 2);          /* it did overcommit */
	assert_true(r.max_active <= 8);          /* max_overcommit */
	assert_true(r.max_switch_buf <= 16 * unsched + incoming +
					 16 * SIM_MAX_HOMA);
	/* Equal lengths: nothing starves, all end within the last fifth. */
	assert_true(r.b[0].p50 > 0.8 * r.b[0].p99);
}

/* The same W4 run at 80% load with every packet in one queue: the short
 * messages' P99 slowdown is much worse, the largest messages' no better
 * by much. */
static void test_priorities_matter(void **state)
{
	struct sim_opts o;
	struct sim_result on, off;

	(void)state;
	sim_opts_default(&o);
	o.topology = "rack:8";
	o.load = 0.8;
	o.seed = 3;
	o.messages = 3000;
	run_whole(&o, &on);
	o.core_config = "num_priorities=1";
	run_whole(&o, &off);
	assert_true(on.short_p99 >= 1.0);
	assert_true(off.short_p99 > 3 * on.short_p99);
}

/* Request and response: each message counts the round trip, so its ideal
 * is twice the one-way one; none beats it, all complete. */
static void test_rpc_mode(void **state)
{
	struct sim_opts o;
	struct sim_result r;

	(void)state;
	sim_opts_default(&o);
	o.topology = "fabric:2x4";
	o.mode = SIM_RPC;
	o.load = 0.3;
	o.messages = 1500;
	run_whole(&o, &r);
	assert_true(r.nb > 3);
	assert_true(r.b[0].s50 >= 1.0);
	assert_true(r.sustained > 0.9);
}

/* ---- determinism --------------------------------------------------------- */

/* Runs a small W4 workload on @topology in a child process (a process of
 * its own, as each uhoma-sim run is) and writes its CSV to @path. */
static void run_child(const char *topology, const char *path)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		struct sim_opts o;
		struct sim_file csv;
		struct sim s;
		FILE *devnull = fopen("/dev/null", "w");

		sim_opts_default(&o);
		o.topology = topology;
		o.workload = "w4";
		o.load = 0.6;
		o.seed = 7;
		o.messages = 1500;
		o.quiet = true;
		if (!devnull || sim_file_open(&csv, path) ||
		    sim_create(&s, &o) || sim_run(&s))
			_exit(1);
		if (sim_report(&s, devnull, &csv, NULL, NULL) ||
		    sim_file_close(&csv))
			_exit(1);
		if (s.w.ndone != s.w.nmsgs || s.w.nerrors)
			_exit(3);
		sim_destroy(&s);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = malloc(1 << 16);

	assert_non_null(f);
	assert_non_null(buf);
	*len = fread(buf, 1, 1 << 16, f);
	fclose(f);
	return buf;
}

/* Two runs of @topology with the same seed: byte-identical CSVs. */
static void same_twice(const char *topology)
{
	char a[] = "/tmp/test_sim_a.XXXXXX", b[] = "/tmp/test_sim_b.XXXXXX";
	int fa = mkstemp(a), fb = mkstemp(b);
	size_t la, lb;
	char *x, *y;

	assert_true(fa >= 0 && fb >= 0);
	close(fa);
	close(fb);
	run_child(topology, a);
	run_child(topology, b);
	x = slurp(a, &la);
	y = slurp(b, &lb);
	assert_true(la > 100);     /* a header and some buckets */
	assert_int_equal(la, lb);
	assert_memory_equal(x, y, la);
	free(x);
	free(y);
	unlink(a);
	unlink(b);
}

static void test_determinism(void **state)
{
	(void)state;
	same_twice("rack:8");
	same_twice("fabric:2x4");    /* spraying draws from the seed too */
}

/* ---- what the report counts --------------------------------------------- */

/* A finished run of @n messages of 10 KB on rack:2, one every 10 us, none
 * complete or failed yet (no hosts: only the report's accounting). */
static void fake_run(struct sim *s, uint64_t n)
{
	char err[128];

	memset(s, 0, sizeof(*s));
	sim_opts_default(&s->o);
	s->o.warmup = 0;
	sim_engine_init(&s->eng);
	sim_net_init(&s->net, &s->eng);
	assert_int_equal(sim_topo_build(&s->net, "rack:2", &s->o.topo, err,
					sizeof(err)), 0);
	s->w.msgs = calloc(n, sizeof(*s->w.msgs));
	assert_non_null(s->w.msgs);
	s->w.nmsgs = s->w.max_msgs = n;
	for (uint64_t i = 0; i < n; i++)
		s->w.msgs[i] = (struct sim_msg){ .start_ps = i * 10 *
						 SIM_PS_PER_US,
						 .len = 10000, .src = 0,
						 .dst = 1 };
	s->w.last_start_ps = (n - 1) * 10 * SIM_PS_PER_US;
	s->eng.now = s->w.last_start_ps + 1000 * SIM_PS_PER_US;
}

/* fake_run with @n messages of one's own (@m, in start order). */
static void fake_msgs(struct sim *s, const struct sim_msg *m, uint64_t n)
{
	fake_run(s, n);
	memcpy(s->w.msgs, m, n * sizeof(*m));
	s->w.last_start_ps = m[n - 1].start_ps;
}

static void fake_done(struct sim *s, uint64_t i, uint64_t after_ps,
		      int error)
{
	struct sim_msg *m = &s->w.msgs[i];

	m->done = true;
	m->done_ps = m->start_ps + after_ps;
	m->error = (int16_t)error;
	s->w.ndone++;
	if (error)
		s->w.nerrors++;
}

static void fake_down(struct sim *s)
{
	free(s->w.msgs);
	s->w.msgs = NULL;
	sim_net_free(&s->net);
	sim_engine_free(&s->eng);
}

/* Failed messages are never delivered: a run whose every send failed
 * sustained nothing (it read 1.000 with 0 delivered). */
static void test_failed_never_delivered(void **state)
{
	struct sim s;
	struct sim_result r;

	(void)state;
	fake_run(&s, 300);
	for (uint64_t i = 0; i < 300; i++)
		fake_done(&s, i, 0, UHOMA_ERR_AGAIN);
	assert_int_equal(sim_results(&s, &r), 0);
	assert_int_equal(r.failed, 300);
	assert_int_equal(r.measured, 0);
	assert_true(r.sustained < 0.01 && r.sustained > -0.01);
	/* The same run with every message complete in 5 us kept up. */
	fake_down(&s);
	fake_run(&s, 300);
	for (uint64_t i = 0; i < 300; i++)
		fake_done(&s, i, 5 * SIM_PS_PER_US, 0);
	assert_int_equal(sim_results(&s, &r), 0);
	assert_int_equal(r.measured, 300);
	assert_int_equal(r.in_flight, 0);
	assert_true(r.sustained > 0.99 && r.sustained <= 1.0);
	fake_down(&s);
}

/* A window of a few messages, or one outweighed by the backlog at its
 * start, says nothing: sustained -1 (--warmup 0.99 read 748). */
static void test_sustained_na(void **state)
{
	struct sim s;
	struct sim_result r;

	(void)state;
	fake_run(&s, 300);
	s.o.warmup = 0.99;      /* 3 messages measured */
	for (uint64_t i = 0; i < 300; i++)
		fake_done(&s, i, 5 * SIM_PS_PER_US, 0);
	assert_int_equal(sim_results(&s, &r), 0);
	assert_true(r.sustained == -1);
	fake_down(&s);
	/* 200 in the window, but 100 long ones still owed at its start,
	 * all done within it: the fabric "caught up" 1.5 times over. */
	fake_run(&s, 300);
	s.o.warmup = 1.0 / 3;
	for (uint64_t i = 0; i < 300; i++)
		fake_done(&s, i, i < 100 ? 1000 * SIM_PS_PER_US
					  : 5 * SIM_PS_PER_US, 0);
	assert_int_equal(sim_results(&s, &r), 0);
	assert_true(r.sustained == -1);
	fake_down(&s);
	/* 1 MB messages 10 us apart, each done as fast as the idle fabric
	 * allows (850 us): at the last start some 85 of them are in flight
	 * even there, against 300 offered -- the window is shorter than
	 * their transit and says nothing (it read 0.7; helper-41's 300 W4
	 * messages over 500 hosts read 0.015). */
	fake_run(&s, 300);
	for (uint64_t i = 0; i < 300; i++) {
		s.w.msgs[i].len = 1000000;
		fake_done(&s, i, sim_ideal_ps(&s.net, 0, 1, 1000000), 0);
	}
	assert_int_equal(sim_results(&s, &r), 0);
	assert_true(r.ideal_backlog_end >= 80e6);
	assert_true(r.sustained == -1);
	fake_down(&s);
	/* The same spacing with 10 KB messages: a window of their transit
	 * many times over, kept up with. */
	fake_run(&s, 300);
	for (uint64_t i = 0; i < 300; i++)
		fake_done(&s, i, sim_ideal_ps(&s.net, 0, 1, 10000), 0);
	assert_int_equal(sim_results(&s, &r), 0);
	assert_true(r.sustained > 0.99 && r.sustained <= 1.0);
	fake_down(&s);
}

/* A message's wire bytes: every DATA packet (1,416 payload bytes at
 * most, a 56-byte header) with 66 bytes of UDP, IP and Ethernet around
 * it; an empty message is one packet. */
static void test_msg_wire_bytes(void **state)
{
	(void)state;
	assert_int_equal(sim_msg_wire_bytes(0), 122);
	assert_int_equal(sim_msg_wire_bytes(1), 123);
	assert_int_equal(sim_msg_wire_bytes(1416), 1538);
	assert_int_equal(sim_msg_wire_bytes(1417), 1417 + 2 * 122);
	assert_int_equal(sim_msg_wire_bytes(100000), 100000 + 71 * 122);
}

/* The SRPT reference by hand: at host 1, a 100,000-byte message from
 * time 0 is preempted at 10 us by two of 1,000 bytes (the older first on
 * a tie) and ends after both; host 0's message is served on its own. */
static void test_srpt_reference(void **state)
{
	const uint64_t us = SIM_PS_PER_US, big = (100000 + 71 * 122) * 800,
		       small = (1000 + 122) * 800;
	static const struct sim_msg m[4] = {
		{ .start_ps = 0, .len = 100000, .src = 0, .dst = 1 },
		{ .start_ps = 5 * SIM_PS_PER_US, .len = 1000, .src = 1,
		  .dst = 0 },
		{ .start_ps = 10 * SIM_PS_PER_US, .len = 1000, .src = 0,
		  .dst = 1 },
		{ .start_ps = 10 * SIM_PS_PER_US, .len = 1000, .src = 0,
		  .dst = 1 },
	};
	struct sim s;
	uint64_t done[4];

	(void)state;
	fake_msgs(&s, m, 4);
	assert_int_equal(sim_srpt_reference(&s.w, s.net.nhosts,
					    s.o.topo.host_mbps, done), 0);
	assert_int_equal(done[1], 5 * us + small);
	assert_int_equal(done[2], 10 * us + small);
	assert_int_equal(done[3], 10 * us + 2 * small);
	assert_int_equal(done[0], big + 2 * small);
	fake_down(&s);
}

/* The matching reference by hand: host 0's short message to 2 goes
 * first and holds its long one to 1 back (a sender sends one message at a
 * time); host 3's 50,000 bytes to 2 wait for 2's downlink; at 10 us a
 * short message from 3 to 1 takes both its links, and the two it shares a
 * link with pause for it. Messages that end after @until read
 * UINT64_MAX. */
static void test_matching_reference(void **state)
{
	const uint64_t us = SIM_PS_PER_US, big = (100000 + 71 * 122) * 800,
		       mid = (50000 + 36 * 122) * 800,
		       small = (1000 + 122) * 800;
	static const struct sim_msg m[4] = {
		{ .start_ps = 0, .len = 100000, .src = 0, .dst = 1 },
		{ .start_ps = 0, .len = 1000, .src = 0, .dst = 2 },
		{ .start_ps = 0, .len = 50000, .src = 3, .dst = 2 },
		{ .start_ps = 10 * SIM_PS_PER_US, .len = 1000, .src = 3,
		  .dst = 1 },
	};
	struct sim s;
	uint64_t done[4];

	(void)state;
	fake_msgs(&s, m, 4);
	assert_int_equal(sim_matching_reference(&s.w, 4, s.o.topo.host_mbps,
						UINT64_MAX, done), 0);
	assert_int_equal(done[1], small);
	assert_int_equal(done[3], 10 * us + small);
	assert_int_equal(done[2], small + mid + small);
	assert_int_equal(done[0], small + big + small);
	/* Each receiver alone (sim_srpt_reference) would not wait for the
	 * senders: 0's long message ends sooner there. */
	assert_int_equal(sim_srpt_reference(&s.w, 4, s.o.topo.host_mbps,
					    done), 0);
	assert_int_equal(done[0], big + small);
	assert_int_equal(sim_matching_reference(&s.w, 4, s.o.topo.host_mbps,
						10 * us + small, done), 0);
	assert_int_equal(done[3], 10 * us + small);
	assert_true(done[0] == UINT64_MAX && done[2] == UINT64_MAX);
	fake_down(&s);
}

/* The report's reference runs the run's own messages: a run whose
 * 10,000-byte messages, one every 10 us to one receiver, each took 1 ms
 * fell behind (100 of them owed at the end: 0.90); the reference, 8.8 us
 * of work every 10 us, kept up. */
static void test_sustained_reference(void **state)
{
	struct sim s;
	struct sim_result r;

	(void)state;
	fake_run(&s, 1000);
	for (uint64_t i = 0; i < 1000; i++)
		fake_done(&s, i, 1000 * SIM_PS_PER_US, 0);
	assert_int_equal(sim_results(&s, &r), 0);
	assert_true(r.sustained < 0.95);
	assert_true(r.sustained_ref > 0.999 && r.sustained_ref <= 1.0);
	assert_true(r.ref_backlog_end <= 10000);
	/* One sender, one receiver: the matching reference is the same. */
	assert_true(r.sustained_match == r.sustained_ref);
	assert_true(r.match_backlog_end == r.ref_backlog_end);
	fake_down(&s);
	/* Request/response: the reference has no say (-1). */
	fake_run(&s, 1000);
	s.w.mode = SIM_RPC;
	for (uint64_t i = 0; i < 1000; i++)
		fake_done(&s, i, 5 * SIM_PS_PER_US, 0);
	assert_int_equal(sim_results(&s, &r), 0);
	assert_true(r.sustained > 0.99);
	assert_true(r.sustained_ref == -1 && r.sustained_match == -1);
	fake_down(&s);
}

/* Runs @o to its end; the report into a string (freed by the caller),
 * the SVG into @svg (NULL: none). */
static char *run_report(struct sim_opts *o, const char *svg, struct sim *s,
			struct sim_result *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct sim_file f;

	assert_non_null(out);
	if (svg)
		assert_int_equal(sim_file_open(&f, svg), 0);
	o->quiet = true;
	assert_int_equal(sim_create(s, o), 0);
	assert_int_equal(sim_run(s), 0);
	assert_int_equal(sim_report(s, out, NULL, svg ? &f : NULL, r), 0);
	if (svg)
		assert_int_equal(sim_file_close(&f), 0);
	fclose(out);
	return text;
}

/* The report's model line says what was modelled, exactly: rates to the
 * Mb/s, the buffer in bytes, uplinks and spines only where a fabric has
 * them (not on one rack); and latencies that outlast the cores' resend
 * interval are warned of (helper-32). */
static void test_report_model(void **state)
{
	struct sim_opts o;
	struct sim_result r;
	struct sim s;
	char *text;

	(void)state;
	opts(&o, "fabric:2x2", "100", 20);
	o.topo.host_mbps = 1234567;
	o.topo.uplink_mbps = 9999999;
	o.topo.switch_buf = 2047;
	text = run_report(&o, NULL, &s, &r);
	assert_non_null(strstr(text, "model: hosts 1234.567 Gb/s, uplinks "
				     "9999.999 Gb/s, 4 spines; latency ns: "
				     "link 200, switch 250, host 500 at each "
				     "end, NIC 500; NIC 8 priority queues; "
				     "buffer 2047 bytes a switch\n"));
	assert_null(strstr(text, "WARNING"));
	free(text);
	sim_destroy(&s);
	opts(&o, "fabric:1x3", "100", 20);
	o.topo.nic_prio = false;
	o.topo.switch_ns = 3000000;     /* 6 ms there and back */
	o.core_config = "timeout_ticks=1000";
	text = run_report(&o, NULL, &s, &r);
	assert_non_null(strstr(text, "model: hosts 10 Gb/s; latency ns: "
				     "link 200, switch 3000000, host 500 at "
				     "each end, NIC 500; NIC one FIFO;"));
	assert_non_null(strstr(text, "WARNING: the fabric's latencies make "
				     "a round trip 6003.8 us, more than the "
				     "cores' resend interval (5000.0 us"));
	free(text);
	sim_destroy(&s);
}

/* Sends the budget refuses (sndbuf=1000, a host's 100 KB messages at 90 %
 * load: one arrives while the last is in flight) fail with AGAIN and are
 * reported by reason. An incast's refused sends end their round like any
 * other, so the rounds go on and the run ends (it hung) -- but a round
 * starts only once the last one ended at both ends, so its senders hold
 * nothing and none is refused (helper-41: 19 of 30 were, the sender's
 * end of the last round still holding its budget). */
static void test_refused_sends(void **state)
{
	struct sim_opts o;
	struct sim_result r;
	struct sim s;
	char *text;

	(void)state;
	sim_opts_default(&o);
	o.topology = "rack:4";
	o.workload = "100000";
	o.load = 0.9;
	o.messages = 60;
	o.core_config = "sndbuf=1000";
	text = run_report(&o, NULL, &s, &r);
	assert_int_equal(s.w.nmsgs, 60);
	assert_int_equal(s.w.ndone, 60);
	assert_true(s.w.nerrors > 0);
	assert_int_equal(r.failed, s.w.nerrors);
	assert_non_null(strstr(text, "failed by reason: "));
	assert_non_null(strstr(text, uhoma_strerror(UHOMA_ERR_AGAIN)));
	free(text);
	sim_destroy(&s);

	for (int k = 0; k < 2; k++) {
		sim_opts_default(&o);
		o.topology = k ? "rack:2" : "rack:5";
		o.workload = k ? "incast:1,1000" : "incast:4,100000";
		o.messages = 20;
		o.core_config = k ? "sndbuf=2000" : "sndbuf=1000";
		text = run_report(&o, NULL, &s, &r);
		assert_int_equal(s.w.ndone, 20);
		assert_int_equal(s.w.nerrors, 0);
		free(text);
		sim_destroy(&s);
	}
}

/* Stopped with messages in flight (--drain-ms 0): the header counts them,
 * a WARNING says so, and the SVG asked for is written though nothing was
 * measured. */
static void test_in_flight_reported(void **state)
{
	char svg[] = "/tmp/test_sim_svg.XXXXXX";
	int fd = mkstemp(svg);
	struct sim_opts o;
	struct sim_result r;
	struct sim s;
	char *text;
	size_t len;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	unlink(svg);
	sim_opts_default(&o);
	o.workload = "1000000";
	o.messages = 2;
	o.drain_us = 0;
	text = run_report(&o, svg, &s, &r);
	assert_true(r.in_flight > 0);
	assert_int_equal(r.measured, 0);
	assert_non_null(strstr(text, "still in flight at the end"));
	assert_non_null(strstr(text, "WARNING: "));
	free(text);
	sim_destroy(&s);
	free(slurp(svg, &len));
	assert_true(len > 100);
	unlink(svg);
}

/* Spines by their number: with one spine, "spine 0", not the switch's
 * index among all (it read "spine 2" on fabric:2x2). */
static void test_spine_names(void **state)
{
	struct sim_topo_opts o;
	struct sim_engine eng;
	struct sim_net net;
	char err[128], name[32];

	(void)state;
	sim_topo_defaults(&o);
	o.spines = 1;
	sim_engine_init(&eng);
	sim_net_init(&net, &eng);
	assert_int_equal(sim_topo_build(&net, "fabric:2x2", &o, err,
					sizeof(err)), 0);
	assert_int_equal(net.nswitches, 3);
	assert_string_equal(sim_topo_switch_name(&net, &net.sw[2], name,
						 sizeof(name)), "spine 0");
	assert_string_equal(sim_topo_switch_name(&net, &net.sw[1], name,
						 sizeof(name)), "ToR 1");
	sim_net_free(&net);
	sim_engine_free(&eng);
}

/* ---- the command line ---------------------------------------------------- */

/* Copies @first and the rest of @ap (up to a NULL) into @copy and @argv
 * from @argc on (getopt_long may reorder argv, and its strings are not
 * const); NULL-terminates @argv and returns the count. */
static int fill_argv(char (*copy)[128], char **argv, int argc,
		     const char *first, va_list ap)
{
	const char *a = first;

	do {
		assert_true(argc < 31 && strlen(a) < sizeof(copy[0]));
		strcpy(copy[argc], a);
		argv[argc] = copy[argc];
		argc++;
	} while ((a = va_arg(ap, const char *)));
	argv[argc] = NULL;
	return argc;
}

/* Parses "uhoma-sim @args..." (NULL-terminated); the status, and the
 * message into @msg (@len bytes). */
static int parse(struct sim_cli *cli, char *msg, size_t len, ...)
{
	static char copy[32][128]; /* cli points into them afterwards */
	char *argv[32];
	char *text = NULL;
	size_t tlen = 0;
	FILE *err = open_memstream(&text, &tlen);
	FILE *out = fopen("/dev/null", "w");
	const char *a = "uhoma-sim";
	int argc = 0, rc;
	va_list ap;

	assert_non_null(err);
	assert_non_null(out);
	va_start(ap, len);
	argc = fill_argv(copy, argv, argc, a, ap);
	va_end(ap);
	rc = sim_cli_parse(cli, argc, argv, out, err);
	fclose(err);
	fclose(out);
	snprintf(msg, len, "%s", text ? text : "");
	free(text);
	return rc;
}

/* Every bad number: exit 2, and the message names the option. */
static void test_cli_rejects(void **state)
{
	static const char *const bad[][2] = {
		{ "--prop-ns", "-5" }, { "--prop-ns", "1e3" },
		{ "--prop-ns", "abc" }, { "--seed", "abc" },
		{ "--seed", "-1" }, { "--seed", "18446744073709551616" },
		{ "--warmup", "nan" }, { "--warmup", "abc" },
		{ "--warmup", "1" }, { "--messages", "0.5" },
		{ "--messages", "1e30" }, { "--messages", "0" },
		{ "--buffer", "1e30" }, { "--spines", "0.5" },
		{ "--spines", "0" }, { "--load", "1e-300" },
		{ "--load", "1e-9" }, { "--load", "2" }, { "--load", "inf" },
		{ "--load", "0x1p-1" }, { "--load", "0.5x" },
		{ "--host-gbps", "0.0005" }, { "--host-gbps", "10001" },
		{ "--host-gbps", "10.0005" }, { "--uplink-gbps", "0" },
		{ "--drain-ms", "-1" }, { "--mode", "both" },
		{ "--switch-ns", "-1" }, { "--host-ns", "1.5" },
		{ "--nic-ns", "1000000001" },
	};
	struct sim_cli cli;
	char msg[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&cli, msg, sizeof(msg), bad[i][0],
				       bad[i][1], NULL), 2);
		if (!strstr(msg, bad[i][0]))
			fail_msg("%s %s: '%s'", bad[i][0], bad[i][1], msg);
	}
	assert_int_equal(parse(&cli, msg, sizeof(msg), "--bogus", NULL), 2);
	assert_int_equal(parse(&cli, msg, sizeof(msg), "--seed", NULL), 2);
	assert_int_equal(parse(&cli, msg, sizeof(msg), "stray", NULL), 2);
}

static void test_cli_accepts(void **state)
{
	struct sim_cli cli;
	char msg[256];

	(void)state;
	assert_int_equal(parse(&cli, msg, sizeof(msg), "--seed",
			       "18446744073709551615", "--host-gbps", "2.5",
			       "--uplink-gbps", "0.001", "--drain-ms", "7",
			       "--prop-ns", "0", "--warmup", "0", "--load",
			       "1e-4", "--messages", "100000000", "--spines",
			       "3", "--svg", "x.svg", "--switch-ns", "1",
			       "--host-ns", "2", "--nic-ns", "3", "--nic-fifo",
			       NULL), 0);
	assert_int_equal(cli.o.topo.switch_ns, 1);
	assert_int_equal(cli.o.topo.host_ns, 2);
	assert_int_equal(cli.o.topo.nic_ns, 3);
	assert_false(cli.o.topo.nic_prio);
	assert_int_equal(cli.o.seed, UINT64_MAX);
	assert_int_equal(cli.o.topo.host_mbps, 2500);
	assert_int_equal(cli.o.topo.uplink_mbps, 1);
	assert_int_equal(cli.o.drain_us, 7000);
	assert_int_equal(cli.o.topo.prop_ns, 0);
	assert_int_equal(cli.o.messages, SIM_MAX_MESSAGES);
	assert_int_equal(cli.o.topo.spines, 3);
	assert_string_equal(cli.svg, "x.svg");
	assert_false(cli.help);
	assert_int_equal(parse(&cli, msg, sizeof(msg), "--help", NULL), 0);
	assert_true(cli.help);
}

/* What depends on several options, or on the core: @what is refused with
 * a message holding @want. */
static void check_refused(const struct sim_opts *o, const char *want)
{
	char err[512];

	assert_int_equal(sim_opts_check(o, err, sizeof(err)), -1);
	if (!strstr(err, want))
		fail_msg("want '%s' in '%s'", want, err);
}

static void test_opts_check(void **state)
{
	static const char *const topo[] = {
		"rack:1", "fabric:0x4", "fabric:1x1", "mesh:4", "rack:",
		"fabric:4294967297x2", "rack:16x", "rack:+16", "rack:65536",
		"fabric:300x300",
	};
	static const char *const work[] = {
		"w9", "1000001", "0", "+5", "incast:16,100", "incast:3,0",
		"incast:0,5", "incast:4294967297,100", "incast:3", "",
	};
	struct sim_opts o;
	char err[512], longer[1100];

	(void)state;
	sim_opts_default(&o);
	assert_int_equal(sim_opts_check(&o, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(topo) / sizeof(topo[0]); i++) {
		sim_opts_default(&o);
		o.topology = topo[i];
		check_refused(&o, "--topology");
	}
	for (size_t i = 0; i < sizeof(work) / sizeof(work[0]); i++) {
		sim_opts_default(&o);
		o.workload = work[i];
		check_refused(&o, "--workload");
	}
	/* Fewer messages than a round: 0 messages and no SVG, exit 0. */
	sim_opts_default(&o);
	o.workload = "incast:5,1000";
	o.messages = 3;
	check_refused(&o, "--messages");
	/* A value out of its range says which and what is allowed (it said
	 * "host 0: no stack"). */
	sim_opts_default(&o);
	o.core_config = "max_overcommit=0";
	check_refused(&o, "max_overcommit=0 (allowed: 1..8)");
	o.core_config = "num_priorities=9,tick_us=5";
	check_refused(&o, "tick_us=5 (allowed: 10..1000000)");
	o.core_config = "garbage";
	check_refused(&o, "garbage (not key=value)");
	memset(longer, 0, sizeof(longer));
	for (size_t i = 0; i + 12 < sizeof(longer) - 1; i += 12)
		memcpy(longer + i, "tick_us=100,", 12);
	o.core_config = longer;
	check_refused(&o, "--config");
	/* Hours of idle ticks between messages (--load 1e-9 ran for
	 * hours): refused from the expected length of the run. */
	sim_opts_default(&o);
	o.load = SIM_MIN_LOAD;
	o.topo.host_mbps = 1;
	check_refused(&o, "timer ticks");
	o.load = 1e-9;
	check_refused(&o, "--load");
	sim_opts_default(&o);
	o.topo.prop_ns = (uint64_t)-5;
	check_refused(&o, "--prop-ns");
}

/* The machine's physical memory, in bytes (sim_opts_check's limit). */
static double phys_bytes(void)
{
	return (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
}

/*
 * What no run could do, refused before anything is built: settings the
 * simulator does not model (they changed nothing: byte-identical CSVs),
 * runs whose drain or slow links make hours of ticks (the drain was not
 * counted), runs whose memory the machine has not; and what is accepted
 * for all that: a long run that fits, the starve workload.
 */
static void test_opts_refuse_more(void **state)
{
	static const char *const unmodelled[] = {
		"mtu=576", "mtu=9000", "rx_threads=4", "carrier=ip", "gso=0",
		"pacer_rt=1", "lanes=1", "landing=1", "addr=10.0.0.1",
		"port_offset=100", "local_unsched=1000000", "stat=1",
		"poll_us=0", "poll_always=1",
	};
	struct sim_opts o;
	char err[512], want[64];

	(void)state;
	for (size_t i = 0; i < sizeof(unmodelled) / sizeof(unmodelled[0]);
	     i++) {
		sim_opts_default(&o);
		o.core_config = unmodelled[i];
		snprintf(want, sizeof(want), "does not model %s",
			 unmodelled[i]);
		check_refused(&o, want);
	}
	/* What the core takes from the configuration is not refused. */
	sim_opts_default(&o);
	o.core_config = "tick_us=100,sndbuf=1000000,link_mbps=9000,"
			"max_overcommit=2,dedup_window=4096,reap_limit=5";
	assert_int_equal(sim_opts_check(&o, err, sizeof(err)), 0);
	/* A slow uplink and a long drain: 1,000 hosts ticking for up to
	 * 1,000 s (the estimate was the generation's 35 ns). */
	sim_opts_default(&o);
	o.topology = "fabric:2x500";
	o.topo.host_mbps = 10000000;
	o.topo.uplink_mbps = 1;
	o.workload = "1000000";
	o.messages = 20;
	o.drain_us = SIM_MAX_DRAIN_MS * 1000;
	check_refused(&o, "timer ticks");
	check_refused(&o, "--drain-ms 1000000");
	/* Incast rounds of seconds of latency: each counted as its bytes'
	 * 80 ns, 5,263 rounds of 4 s passed the check (helper-32). */
	sim_opts_default(&o);
	o.topology = "rack:20";
	o.workload = "incast:19,100";
	o.messages = 100000;
	o.warmup = 0;
	o.drain_us = SIM_MAX_DRAIN_MS * 1000;
	o.topo.switch_ns = o.topo.host_ns = o.topo.nic_ns = 1000000000;
	o.core_config = "timeout_ticks=1000000";
	check_refused(&o, "timer ticks");
	check_refused(&o, "and a packet's latency");
	sim_opts_default(&o);
	o.topology = "rack:10000";
	o.topo.host_mbps = 1;
	o.workload = "1000000";
	o.messages = 1;
	o.drain_us = SIM_MAX_DRAIN_MS * 1000;
	check_refused(&o, "timer ticks");
	/* Incast: rounds one after the other, each at least its bytes
	 * through the receiver's link. */
	opts(&o, "rack:101", "incast:100,1000000", 100000000);
	check_refused(&o, "rounds of incast");
	/* Long but feasible: the fabric, 100 M messages (hours). */
	sim_opts_default(&o);
	o.topology = "fabric:9x16";
	o.load = 0.8;
	o.messages = SIM_MAX_MESSAGES;
	if (phys_bytes() > 8e9)
		assert_int_equal(sim_opts_check(&o, err, sizeof(err)), 0);
	/* 1-byte messages at 1.5 leave a third in flight: ~170 GB. */
	opts(&o, "rack:2", "1", SIM_MAX_MESSAGES);
	o.load = 1.5;
	if (phys_bytes() < 150e9)
		check_refused(&o, "GB of memory");
	/* 134 M ports: ~76 GB. */
	sim_opts_default(&o);
	o.topology = "fabric:65535x1";
	o.topo.spines = SIM_MAX_SPINES;
	o.messages = 1;
	if (phys_bytes() < 70e9)
		check_refused(&o, "ports");
	/* starve: the Linux module's 100 KB to 1 MB. */
	sim_opts_default(&o);
	o.workload = "starve";
	assert_int_equal(sim_opts_check(&o, err, sizeof(err)), 0);
	o.workload = "starving";
	check_refused(&o, "starve (100 KB to 1 MB)");
}

/* UHOMA_CONFIG too long for a stack to parse says so (the reason was
 * empty). */
static void test_env_config_too_long(void **state)
{
	char *old = getenv("UHOMA_CONFIG"), *saved = NULL, *text;
	struct sim_opts o;

	(void)state;
	if (old)
		saved = strdup(old);
	text = malloc(1301);
	assert_non_null(text);
	for (size_t i = 0; i < 1300; i += 13)
		memcpy(text + i, "tick_us=1000,", 13);
	text[1300] = '\0';
	assert_int_equal(setenv("UHOMA_CONFIG", text, 1), 0);
	sim_opts_default(&o);
	check_refused(&o, "UHOMA_CONFIG in the environment: 1300 bytes, at "
			  "most 1023");
	if (saved)
		setenv("UHOMA_CONFIG", saved, 1);
	else
		unsetenv("UHOMA_CONFIG");
	free(saved);
	free(text);
}

/* An abbreviation of several options names them all (it said "unknown
 * option"); one of a single option still works. */
static void test_cli_ambiguous(void **state)
{
	struct sim_cli cli;
	char msg[2048];

	(void)state;
	assert_int_equal(parse(&cli, msg, sizeof(msg), "--c", "x", NULL), 2);
	assert_non_null(strstr(msg, "'--c' is ambiguous"));
	assert_non_null(strstr(msg, "--compare"));
	assert_non_null(strstr(msg, "--config"));
	assert_non_null(strstr(msg, "--csv"));
	assert_null(strstr(msg, "unknown option"));
	assert_int_equal(parse(&cli, msg, sizeof(msg), "--top", "rack:4",
			       NULL), 0);
	assert_string_equal(cli.o.topology, "rack:4");
}

/* ---- the engine's and the run's limits ----------------------------------- */

static void nop(void *a, void *b)
{
	(void)a;
	(void)b;
}

/* A full event queue is an error the run ends with, saying what it
 * needed (it aborted, "out of memory"): the engine takes nothing more and
 * fires nothing more; a whole run stops and sim_run says so. */
static void test_event_queue_full(void **state)
{
	struct sim_engine e;
	struct sim_opts o;
	struct sim s;
	char why[512];
	unsigned i;

	(void)state;
	sim_engine_init(&e);
	e.limit = 1024;
	for (i = 0; i < 1024; i++)
		assert_int_equal(sim_at(&e, i, nop, NULL, NULL), 0);
	assert_int_equal(sim_at(&e, 5, nop, NULL, NULL), -1);
	assert_int_equal(e.failed, SIM_ENG_FULL);
	assert_int_equal(sim_run_until(&e, UINT64_MAX), 0);
	assert_int_equal(sim_step(&e), 0);
	assert_non_null(strstr(sim_engine_error(&e, why, sizeof(why)),
			       "more than 1024 events pending at once"));
	assert_non_null(strstr(why, "--prop-ns"));
	sim_engine_free(&e);
	/* A millisecond's propagation holds ~800 packets a link, and
	 * messages sent whole unscheduled fill it: more than 2,048 events
	 * on rack:4. */
	opts(&o, "rack:4", "1000000", 20);
	o.load = 1;
	o.topo.prop_ns = 1000000;
	o.core_config = "unsched_bytes=1000000";
	o.quiet = true;
	assert_int_equal(sim_create(&s, &o), 0);
	s.eng.limit = 2048;
	assert_int_equal(sim_run(&s), -1);
	assert_int_equal(s.eng.failed, SIM_ENG_FULL);
	sim_destroy(&s);
}

/* --drain-ms N: the run ends exactly N ms after the last start (it ran on
 * to the end of a 100 us slice, and one more), or at the instant the
 * last message ends if that is sooner. */
static void test_drain_deadline(void **state)
{
	struct sim_opts o;
	struct sim_result r;
	struct sim s;
	uint64_t last = 0;
	char *text;

	(void)state;
	opts(&o, "rack:2", "1000000", 1);
	o.drain_us = 0;
	text = run_report(&o, NULL, &s, &r);
	assert_true(s.eng.now == s.w.last_start_ps);
	assert_int_equal(s.net.delivered, 0);
	assert_int_equal(r.in_flight, 1);
	free(text);
	sim_destroy(&s);
	/* Overloaded: some still in flight 1 ms after the last start. */
	opts(&o, "rack:4", "1000000", 20);
	o.load = 1.5;
	o.drain_us = 1000;
	text = run_report(&o, NULL, &s, &r);
	assert_true(r.in_flight > 0);
	assert_true(s.eng.now == s.w.last_start_ps + 1000 * SIM_PS_PER_US);
	free(text);
	sim_destroy(&s);
	/* All done well within the drain: the run ends with the last. */
	opts(&o, "rack:4", "w2", 300);
	text = run_report(&o, NULL, &s, &r);
	assert_int_equal(r.in_flight, 0);
	for (uint64_t i = 0; i < s.w.nmsgs; i++)
		if (s.w.msgs[i].done_ps > last)
			last = s.w.msgs[i].done_ps;
	assert_true(s.eng.now == last);
	free(text);
	sim_destroy(&s);
}

/* Nothing measured: short_p99 -1, not 0 (better than the best possible,
 * 1). Incast: sustained -1 (1 by construction: a round starts when the
 * last has ended), and no load in the header (--load does not drive
 * it). */
static void test_summary_na(void **state)
{
	struct sim_opts o;
	struct sim_result r;
	struct sim s;
	char *text;

	(void)state;
	opts(&o, "rack:2", "1000000", 1);
	o.drain_us = 0;
	text = run_report(&o, NULL, &s, &r);
	assert_int_equal(r.measured, 0);
	assert_true(r.short_p99 == -1);
	assert_non_null(strstr(text, "SUMMARY short_p99_slowdown=-1.00 "
				     "sustained=-1.000"));
	free(text);
	sim_destroy(&s);
	opts(&o, "rack:9", "incast:8,20000", 800);      /* 100 rounds: enough to say, were it Poisson */
	text = run_report(&o, NULL, &s, &r);
	assert_true(r.measured >= SIM_SUSTAINED_MIN);
	assert_true(r.short_p99 >= 1);
	assert_true(r.sustained == -1);
	assert_non_null(strstr(text, "sustained=-1.000"));
	assert_non_null(strstr(text, "rack:9 incast:8,20000 oneway seed 1:"));
	assert_null(strstr(text, " load "));
	free(text);
	sim_destroy(&s);
}

/* ---- uhoma-sim itself: exit status and messages -------------------------- */

/* uhoma-sim, built beside this test; NULL if it is not there. */
static char *sim_binary(void)
{
	static char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 16);
	char *slash;

	if (n <= 0)
		return NULL;
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (!slash)
		return NULL;
	strcpy(slash + 1, "uhoma-sim");
	return access(path, X_OK) ? NULL : path;
}

/* The text of the open file @f from its start (freed by the caller). */
static char *read_back(FILE *f)
{
	long n;
	char *buf;

	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	return buf;
}

/*
 * Runs uhoma-sim --quiet @args... (NULL-terminated) with stdout into
 * *@out, or into /dev/full if @out is NULL, and stderr into *@err (both
 * freed by the caller). Returns its exit status; skips the test if the
 * binary was not built.
 */
static int spawn(char **out, char **err, ...)
{
	static char copy[32][128];
	char *argv[32], *bin = sim_binary();
	const char *a = "--quiet";
	FILE *o = tmpfile(), *e = tmpfile();
	int argc = 1, status;
	va_list ap;
	pid_t pid;

	if (!bin)
		skip();
	assert_non_null(o);
	assert_non_null(e);
	argv[0] = bin;
	va_start(ap, err);
	argc = fill_argv(copy, argv, argc, a, ap);
	va_end(ap);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int full = open("/dev/full", O_WRONLY);

		if (dup2(out ? fileno(o) : full, 1) < 0 ||
		    dup2(fileno(e), 2) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (out)
		*out = read_back(o);
	*err = read_back(e);
	fclose(o);
	fclose(e);
	return WEXITSTATUS(status);
}

/* A file that cannot be written -- a full disk, a path with no
 * directory, a file that takes no writes -- is exit 1 with the file and
 * the reason (exit 0 and nothing, or exit 1 and nothing); a path that
 * cannot even be created fails before the run, not after it; a report
 * that does not reach standard output is exit 1 too. */
static void test_cli_unwritable(void **state)
{
	static const char *const opt[] = { "--csv", "--svg" };
	char *out, *err;

	(void)state;
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(spawn(&out, &err, "--topology", "rack:4",
				       "--messages", "100", opt[i],
				       "/dev/full", NULL), 1);
		assert_non_null(strstr(err, "uhoma-sim: /dev/full: "));
		assert_non_null(strstr(out, "SUMMARY"));
		free(out);
		free(err);
		assert_int_equal(spawn(&out, &err, "--topology", "rack:4",
				       "--messages", "100", "--compare",
				       opt[i], "/dev/full", NULL), 1);
		assert_non_null(strstr(err, "uhoma-sim: /dev/full: "));
		free(out);
		free(err);
		/* Before the run: no report at all. */
		assert_int_equal(spawn(&out, &err, "--messages", "100",
				       opt[i], "/no/such/dir/x", NULL), 1);
		assert_non_null(strstr(err, "uhoma-sim: /no/such/dir/x: "));
		assert_string_equal(out, "");
		free(out);
		free(err);
	}
	assert_int_equal(spawn(NULL, &err, "--topology", "rack:4",
			       "--messages", "100", NULL), 1);
	assert_non_null(strstr(err, "uhoma-sim: standard output: "));
	free(err);
}

/* The refusals as the binary says them: exit 2 and the reason. */
static void test_cli_refusals(void **state)
{
	char *out, *err;

	(void)state;
	assert_int_equal(spawn(&out, &err, "--topology", "rack:8",
			       "--messages", "100", "--config", "mtu=9000",
			       NULL), 2);
	assert_non_null(strstr(err, "does not model mtu=9000"));
	free(out);
	free(err);
	assert_int_equal(spawn(&out, &err, "--topology", "rack:10000",
			       "--host-gbps", "0.001", "--workload",
			       "1000000", "--messages", "1", "--drain-ms",
			       "1000000", NULL), 2);
	assert_non_null(strstr(err, "timer ticks"));
	assert_string_equal(out, "");
	free(out);
	free(err);
	assert_int_equal(spawn(&out, &err, "--c", "x", NULL), 2);
	assert_non_null(strstr(err, "ambiguous"));
	free(out);
	free(err);
	/* Nothing measured, and incast: -1, not applicable. */
	assert_int_equal(spawn(&out, &err, "--topology", "rack:2",
			       "--workload", "1000000", "--messages", "1",
			       "--drain-ms", "0", NULL), 0);
	assert_non_null(strstr(out, "SUMMARY short_p99_slowdown=-1.00 "));
	free(out);
	free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_order),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_report_model),
		cmocka_unit_test(test_one_packet_timing),
		cmocka_unit_test(test_message_timing),
		cmocka_unit_test(test_priority_overtakes),
		cmocka_unit_test(test_tail_drop),
		cmocka_unit_test(test_buffer_freed_at_last_bit),
		cmocka_unit_test(test_one_event_per_hop),
		cmocka_unit_test(test_tie_at_free),
		cmocka_unit_test(test_srpt),
		cmocka_unit_test(test_incast),
		cmocka_unit_test(test_priorities_matter),
		cmocka_unit_test(test_rpc_mode),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_odd_rate_exact),
		cmocka_unit_test(test_any_rate),
		cmocka_unit_test(test_ideal_is_a_lower_bound),
		cmocka_unit_test(test_failed_never_delivered),
		cmocka_unit_test(test_sustained_na),
		cmocka_unit_test(test_msg_wire_bytes),
		cmocka_unit_test(test_srpt_reference),
		cmocka_unit_test(test_matching_reference),
		cmocka_unit_test(test_sustained_reference),
		cmocka_unit_test(test_refused_sends),
		cmocka_unit_test(test_in_flight_reported),
		cmocka_unit_test(test_spine_names),
		cmocka_unit_test(test_cli_rejects),
		cmocka_unit_test(test_cli_accepts),
		cmocka_unit_test(test_opts_check),
		cmocka_unit_test(test_opts_refuse_more),
		cmocka_unit_test(test_env_config_too_long),
		cmocka_unit_test(test_cli_ambiguous),
		cmocka_unit_test(test_event_queue_full),
		cmocka_unit_test(test_drain_deadline),
		cmocka_unit_test(test_summary_na),
		cmocka_unit_test(test_cli_unwritable),
		cmocka_unit_test(test_cli_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
