/*
 * test_sim.c - the simulator: exact timing on the model, strict priorities
 * and tail drop at a switch port, SRPT at a receiver through the real
 * core, incast, what priorities are worth at load, request/response, and
 * the same output from the same seed.
 */
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
#include "sim.h"

#define PROP_NS 200
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
static void test_one_packet_timing(void **state)
{
	struct bed b;
	uint64_t id, want = 2 * ser(100) + 2 * PROP_NS * SIM_PS_PER_NS;

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
 * last bit leaves it one full packet's serialization after the NIC's. */
static void test_message_timing(void **state)
{
	uint32_t per = SIM_MAX_HOMA - UH_HDR_DATA, last = 5000 - 3 * per;
	uint64_t want = ser(per) + (3 * ser(per) + ser(last)) +
			2 * PROP_NS * SIM_PS_PER_NS;
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
			 2 * ser(100) + 2 * ser(100) / 4 +
			 4 * PROP_NS * SIM_PS_PER_NS);
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

static struct sim_pkt *pkt(struct sim_net *net, uint8_t tag, uint8_t prio)
{
	struct sim_pkt *p = sim_pkt_alloc(net);

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
	struct sim_engine eng;
	struct sim_net net;
	struct order got = { .n = 0 };
	struct sim_port *port;
	char err[128];
	static const uint8_t want[] = { 0, 9, 1, 2, 3, 4 };

	(void)state;
	sim_topo_defaults(&o);
	sim_engine_init(&eng);
	sim_net_init(&net, &eng);
	assert_int_equal(sim_topo_build(&net, "rack:3", &o, err, sizeof(err)),
			 0);
	net.deliver = record;
	net.deliver_arg = &got;
	port = &net.sw[0].ports[2];
	for (uint8_t i = 0; i < 5; i++)
		assert_true(sim_port_enqueue(port, pkt(&net, i, 0)));
	assert_true(sim_port_enqueue(port, pkt(&net, 9, 7)));
	while (sim_step(&eng))
		;
	assert_int_equal(got.n, 6);
	assert_memory_equal(got.tag, want, sizeof(want));
	assert_int_equal(port->st.max_bytes[0], 5 * sim_wire_bytes(1000));
	assert_int_equal(port->st.max_bytes[7], sim_wire_bytes(1000));
	assert_int_equal(net.sw[0].buf_used, 0);
	sim_net_free(&net);
	sim_engine_free(&eng);
}

/* A switch whose buffer holds three packets drops the next ones. */
static void test_tail_drop(void **state)
{
	struct sim_topo_opts o;
	struct sim_engine eng;
	struct sim_net net;
	struct order got = { .n = 0 };
	struct sim_port *port;
	char err[128];

	(void)state;
	sim_topo_defaults(&o);
	o.switch_buf = 3 * sim_wire_bytes(1000);
	sim_engine_init(&eng);
	sim_net_init(&net, &eng);
	assert_int_equal(sim_topo_build(&net, "rack:3", &o, err, sizeof(err)),
			 0);
	net.deliver = record;
	net.deliver_arg = &got;
	port = &net.sw[0].ports[2];
	for (uint8_t i = 0; i < 3; i++)
		assert_true(sim_port_enqueue(port, pkt(&net, i, 3)));
	assert_false(sim_port_enqueue(port, pkt(&net, 3, 6)));
	assert_false(sim_port_enqueue(port, pkt(&net, 4, 3)));
	while (sim_step(&eng))
		;
	assert_int_equal(got.n, 3);
	assert_int_equal(port->st.drops[6], 1);
	assert_int_equal(port->st.drops[3], 1);
	assert_int_equal(net.dropped, 2);
	sim_net_free(&net);
	sim_engine_free(&eng);
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
	sim_run(&s);
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
	sim_opts_default(&o);
	o.topology = "rack:17";
	o.workload = "incast:16,1000000";
	o.messages = 16;
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
		struct sim s;
		FILE *devnull = fopen("/dev/null", "w");

		sim_opts_default(&o);
		o.topology = topology;
		o.workload = "w4";
		o.load = 0.6;
		o.seed = 7;
		o.messages = 1500;
		o.quiet = true;
		if (!devnull || sim_create(&s, &o))
			_exit(1);
		sim_run(&s);
		if (sim_report(&s, devnull, path, NULL, NULL))
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_packet_timing),
		cmocka_unit_test(test_message_timing),
		cmocka_unit_test(test_priority_overtakes),
		cmocka_unit_test(test_tail_drop),
		cmocka_unit_test(test_srpt),
		cmocka_unit_test(test_incast),
		cmocka_unit_test(test_priorities_matter),
		cmocka_unit_test(test_rpc_mode),
		cmocka_unit_test(test_determinism),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
