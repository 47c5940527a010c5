/*
 * host.c - the core on a simulated carrier, in virtual time (host.h).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/calls.h"
#include "core/config.h"
#include "core/metrics.h"
#include "core/pool.h"
#include "core/rpc.h"
#include "core/sock.h"
#include "core/stack.h"
#include "core/wire.h"
#include "sync/rcu.h"
#include "host.h"

/*
 * The stacks' clock. uh_stack_parts.now takes no argument, so the engine
 * it reads is the one thing here that is global; one simulation runs at a
 * time. The core sees SIM_EPOCH_NS at time 0, never a clock of zero.
 */
#define SIM_EPOCH_NS 1000000000ull
static const struct sim_engine *clock_eng;

uint64_t sim_clock_ns(void)
{
	return SIM_EPOCH_NS + clock_eng->now / SIM_PS_PER_NS;
}

static struct sim_host *host_of(struct uh_carrier *c)
{
	return (struct sim_host *)(void *)c;
}

struct uh_addr sim_host_addr(uint32_t i)
{
	struct uh_addr a;

	memset(&a, 0, sizeof(a));
	a.b[10] = 0xff;
	a.b[11] = 0xff;
	a.b[12] = 10;
	a.b[13] = (uint8_t)((i + 1) >> 16);
	a.b[14] = (uint8_t)((i + 1) >> 8);
	a.b[15] = (uint8_t)(i + 1);
	return a;
}

/* The host index in @a (an address sim_host_addr made); UINT32_MAX for
 * any other. */
static uint32_t index_of(const struct uh_addr *a)
{
	uint32_t n = (uint32_t)a->b[13] << 16 | (uint32_t)a->b[14] << 8 |
		     a->b[15];

	if (!uh_addr_is_v4(a) || a->b[12] != 10 || n == 0)
		return UINT32_MAX;
	return n - 1;
}

uint32_t sim_msg_peer(const struct uhoma_msg *m)
{
	struct uh_addr a;
	uint16_t port;

	if (uh_addr_from_sockaddr((const struct sockaddr *)&m->peer,
				  m->peer_len, &a, &port))
		return UINT32_MAX;
	return index_of(&a);
}

/* ---- the carrier --------------------------------------------------------- */

static int sc_open_port(struct uh_carrier *c, uint16_t *port)
{
	(void)c;
	return *port == SIM_PORT ? UHOMA_OK : UHOMA_ERR_ADDR_IN_USE;
}

static void sc_close_port(struct uh_carrier *c, uint16_t port)
{
	(void)c;
	(void)port;
}

_Static_assert(SIM_PKT_CARRIED >= UH_HDR_ACK, "every header travels whole");

/* What of @t's packet travels, into @to: its header, and its payload if
 * the whole packet fits in SIM_PKT_CARRIED bytes. A longer packet's
 * payload is left behind: the receiver reads whatever bytes are there
 * (deliver), and reading them here would fault in every page of every
 * large message's buffer, which nothing ever writes (sim_host_send). */
static void carry(uint8_t *to, const struct uh_tx *t)
{
	size_t n = t->hdr_len < SIM_PKT_CARRIED ? t->hdr_len
						: SIM_PKT_CARRIED;

	memcpy(to, t->hdr, n);
	if (t->payload_len && n + t->payload_len <= SIM_PKT_CARRIED)
		memcpy(to + n, t->payload, t->payload_len);
}

static unsigned sc_send(struct uh_carrier *c, uint16_t sport,
			const struct uh_tx *pkts, unsigned n)
{
	struct sim_host *h = host_of(c);
	struct sim_net *net = h->all->net;

	(void)sport;     /* every host has the one port */
	for (unsigned i = 0; i < n; i++) {
		uint32_t to = index_of(&pkts[i].dst);
		struct sim_pkt *p;

		if (to >= net->nhosts ||
		    pkts[i].hdr_len + pkts[i].payload_len > SIM_MAX_HOMA)
			return i;
		/* The core's buffers are not ours past this call: the packet
		 * travels as a copy of its first bytes (net.h). */
		p = sim_pkt_alloc(net);
		if (!p)
			return i;   /* no memory: the run ends (engine.h) */
		p->src = h->index;
		p->dst = to;
		p->prio = pkts[i].priority & (SIM_PRIOS - 1);
		p->len = (uint32_t)(pkts[i].hdr_len + pkts[i].payload_len);
		carry(p->data, &pkts[i]);
		sim_nic_send(net, h->index, p);
	}
	return n;
}

static unsigned sc_recv(struct uh_carrier *c, struct uh_rx *rx, unsigned max,
			int64_t timeout_ns)
{
	(void)c;
	(void)rx;
	(void)max;
	(void)timeout_ns;
	return 0;     /* the simulator delivers: deliver() */
}

static void sc_kick(struct uh_carrier *c)
{
	(void)c;
}

static void sc_destroy(struct uh_carrier *c)
{
	(void)c;
}

static const struct uh_carrier_ops sim_carrier_ops = {
	.name = "sim",
	.open_port = sc_open_port,
	.close_port = sc_close_port,
	.send = sc_send,
	.recv = sc_recv,
	.kick = sc_kick,
	.destroy = sc_destroy,
};

/* ---- readiness, the pacer, after every call into a core ------------------ */

static struct sim_host *host_of_stack(struct uhoma_stack *st)
{
	return host_of(st->carrier);
}

static void up_kick(struct uhoma_stack *st)
{
	host_of_stack(st)->rx_ready = true;
}

static void up_rx_ready(struct uhoma_sock *s)
{
	host_of_stack(s->stack)->rx_ready = true;
}

static void after(struct sim_host *h);

static void pacer_fire(void *a, void *b)
{
	struct sim_host *h = a;
	uint64_t delay;

	(void)b;
	h->pacer_armed = false;
	delay = uh_pacer_run(h->st);
	if (delay) {
		h->pacer_armed = true;
		/* Failed: the engine has, and the run ends (engine.h). */
		(void)sim_at(h->all->net->eng, delay * SIM_PS_PER_NS,
			     pacer_fire, h, NULL);
	}
	after(h);
}

/*
 * What the runtime's threads would do next: take every message the core
 * made ready (the application waits in uhoma_recv), and wake the pacer
 * when something is throttled.
 */
static void after(struct sim_host *h)
{
	struct sim_hosts *hs = h->all;
	uint32_t active = atomic_load_explicit(&h->st->grant.num_active,
					       memory_order_relaxed);

	while (h->rx_ready) {
		struct uhoma_msg m;
		int rc;

		h->rx_ready = false;
		memset(&m, 0, sizeof(m));
		while (uh_call_take(h->sock, 0, &m, &rc) == 1) {
			hs->on_msg(hs->app, h, &m, rc);
			memset(&m, 0, sizeof(m));
		}
	}
	if (active != h->active) {
		sim_host_settle(h);
		h->active = active;
		if (active > h->max_active)
			h->max_active = active;
	}
	if (!h->pacer_armed && uh_pacer_throttled(h->st)) {
		h->pacer_armed = true;
		/* Failed: the engine has, and the run ends (engine.h). */
		(void)sim_at(hs->net->eng,
			     uh_pacer_delay_ns(h->st) * SIM_PS_PER_NS,
			     pacer_fire, h, NULL);
	}
}

void sim_host_settle(struct sim_host *h)
{
	uint64_t now = h->all->net->eng->now, dt = now - h->active_since;

	h->active_area += (long double)h->active * (long double)dt;
	if (h->active)
		h->granting_ps += dt;
	h->active_since = now;
}

static void deliver(void *arg, uint32_t host, struct sim_pkt *p)
{
	struct sim_hosts *hs = arg;
	struct sim_host *h = &hs->h[host];
	struct uh_addr src = sim_host_addr(p->src);
	/* A long packet's payload past what travelled: whatever is here
	 * (one thread runs the whole fabric). */
	static uint8_t scratch[SIM_MAX_HOMA];

	if (p->len <= SIM_PKT_CARRIED) {
		uh_stack_input(h->st, p->data, p->len, &src);
	} else {
		memcpy(scratch, p->data, SIM_PKT_CARRIED);
		uh_stack_input(h->st, scratch, p->len, &src);
	}
	after(h);
}

static void tick(void *a, void *b)
{
	struct sim_host *h = a;

	(void)b;
	uh_stack_tick(h->st);
	after(h);
	/* A host whose next tick cannot be scheduled would go silent and
	 * time its peers out: the failure fails the engine, which fires
	 * nothing more, and the run ends saying why (sim_run). */
	(void)sim_at(h->all->net->eng, h->all->tick_ps, tick, h, NULL);
}

/* ---- hosts --------------------------------------------------------------- */

/* The simulator's defaults, before the caller's configuration string. */
static const char sim_config[] =
	"rx_threads=0,"      /* the simulator drives the stacks */
	"sndbuf=0,"          /* open loop: the sender queues, never waits */
	"stat=0,lanes=0";

/*
 * The settings a stack takes that change nothing here, and why: each is
 * read only by the runtime's threads or a real carrier (src/runtime,
 * src/net), which the simulator replaces, or needs what it has not (two
 * sockets on a host). --config refuses them: a run that says mtu=9000 and
 * simulates 1500-byte packets would be a lie.
 */
static const struct {
	const char *key, *why;
} unmodelled[] = {
	{ "carrier", "the simulator is every stack's carrier" },
	{ "addr", "hosts have the simulator's addresses" },
	{ "mtu", "packets are the simulator's own, at most 1472 bytes of "
		 "Homa packet: a 1500-byte MTU" },
	{ "rx_threads", "the simulator drives the stacks: no threads" },
	{ "poll_us", "no thread waits: messages are taken when ready" },
	{ "poll_always", "no thread waits: messages are taken when ready" },
	{ "pacer_rt", "no pacer thread: the simulator runs the pacer" },
	{ "stat", "no shared-memory metrics: the report prints the cores' "
		  "counters" },
	{ "gso", "a UDP carrier's setting" },
	{ "lanes", "a UDP carrier's setting: the simulated carrier has one "
		   "receive queue" },
	{ "landing", "a UDP carrier's setting" },
	{ "port_offset", "a UDP carrier's setting" },
	{ "local_unsched", "no two sockets share a host" },
};
#define NUNMODELLED (sizeof(unmodelled) / sizeof(unmodelled[0]))

/* The items of @config (uhoma_config_parse's form: "key=value" between
 * commas or spaces) whose key is unmodelled, each with why, into @err.
 * Returns how many. */
static unsigned refuse_unmodelled(const char *config, char *err, size_t len)
{
	char buf[SIM_MAX_CONFIG + 1], *save = NULL, *tok;
	unsigned bad = 0;
	size_t used;

	used = (size_t)snprintf(err, len, "--config: the simulator does not "
				"model ");
	snprintf(buf, sizeof(buf), "%s", config);
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		size_t klen = strcspn(tok, "=");

		for (size_t i = 0; i < NUNMODELLED; i++) {
			if (strlen(unmodelled[i].key) != klen ||
			    strncmp(tok, unmodelled[i].key, klen))
				continue;
			if (used < len)
				used += (size_t)snprintf(err + used, len - used,
							 "%s%.48s (%s)",
							 bad ? "; " : "", tok,
							 unmodelled[i].why);
			bad++;
		}
	}
	if (bad && used < len)
		snprintf(err + used, len - used, "; leave %s out (uhoma-sim(1) "
			 "lists what the simulator refuses)",
			 bad > 1 ? "them" : "it");
	return bad;
}

int sim_hosts_config(const char *config, struct uhoma_config *cfg,
		     char *err, size_t len)
{
	const char *env = getenv("UHOMA_CONFIG");
	char why[256];

	/* uhoma_config_default applies UHOMA_CONFIG from the environment,
	 * as every stack does; the simulator's settings and @config come
	 * on top of it. Its settings the simulator does not model are let
	 * be: it configures every uhoma program, not this one alone. */
	if (uhoma_config_default(cfg)) {
		/* uh_config_explain says nothing of a string too long to
		 * parse at all. */
		if (env && strlen(env) > SIM_MAX_CONFIG)
			snprintf(why, sizeof(why), "%zu bytes, at most %u",
				 strlen(env), SIM_MAX_CONFIG);
		else if (!uh_config_explain(env, why, sizeof(why)) || !*why)
			snprintf(why, sizeof(why), "refused");
		snprintf(err, len, "UHOMA_CONFIG in the environment: %s", why);
		return -1;
	}
	if (uhoma_config_parse(cfg, sim_config)) {
		snprintf(err, len, "the simulator's own configuration "
			 "(%s) was refused", sim_config);
		return -1;
	}
	if (config && strlen(config) > SIM_MAX_CONFIG) {
		snprintf(err, len, "--config: %zu bytes, at most %u",
			 strlen(config), SIM_MAX_CONFIG);
		return -1;
	}
	if (config && refuse_unmodelled(config, err, len))
		return -1;
	if (config && uhoma_config_parse(cfg, config)) {
		if (!uh_config_explain(config, why, sizeof(why)))
			snprintf(why, sizeof(why), "refused");
		snprintf(err, len, "--config: %s", why);
		return -1;
	}
	/* Each value is in range (uhoma_config_parse checked it); what is
	 * left are combinations, such as carrier=memnet with no network. */
	if (uh_config_validate(cfg)) {
		snprintf(err, len, "--config '%s': the core refuses this "
			 "configuration as a whole (uh_config_validate)",
			 config ? config : "");
		return -1;
	}
	return 0;
}

/* Host @i's stack, socket and first tick. Returns 0, a uhoma error
 * (UHOMA_ERR_NOMEM: memory ran out), or 1: the tick could not be
 * scheduled (the engine has failed: sim_engine_error). */
static int host_start(struct sim_hosts *hs, uint32_t i,
		      const struct uhoma_config *cfg)
{
	struct sim_host *h = &hs->h[i];
	struct uh_stack_parts parts = {
		.now = sim_clock_ns,
		.up = { .kick_receiver = up_kick, .rx_ready = up_rx_ready },
	};
	int rc;

	h->all = hs;
	h->index = i;
	h->c.ops = &sim_carrier_ops;
	h->c.local = sim_host_addr(i);
	h->c.max_packet = SIM_MAX_HOMA;
	h->c.link_mtu = SIM_MTU;
	h->c.link_mbps = hs->net->nic[i].mbps;
	hs->tick_ps = (uint64_t)cfg->tick_us * SIM_PS_PER_US;
	hs->resend_ps = hs->tick_ps * cfg->resend_ticks;
	h->metrics = aligned_alloc(64, sizeof(*h->metrics));
	if (!h->metrics)
		return UHOMA_ERR_NOMEM;
	memset(h->metrics, 0, sizeof(*h->metrics));
	parts.carrier = &h->c;
	parts.metrics = h->metrics;
	/* Ids as dense as a real process's: one counter per host. */
	parts.own_ids = true;
	/* Nobody reads a message's bytes here (the senders' buffers are
	 * never written either): the cores account each DATA packet and
	 * copy nothing, which was 5 % of a fabric run's time. */
	parts.discard_payload = true;
	rc = uh_stack_new(cfg, &parts, &h->st);
	if (rc)
		return rc;
	rc = uh_sock_open(h->st, SIM_PORT, NULL, &h->sock);
	if (rc)
		return rc;
	rc = uh_pool_setup(&h->sock->pool, hs->region, SIM_REGION);
	if (rc)
		return rc;
	return sim_at(hs->net->eng, hs->tick_ps, tick, h, NULL) ? 1 : 0;
}

int sim_hosts_start(struct sim_hosts *hs, struct sim_net *net,
		    const char *config, sim_msg_fn on_msg, void *app)
{
	struct uhoma_config cfg;
	char err[512];

	memset(hs, 0, sizeof(*hs));
	/* One configuration for all, checked once: a bad one is reported
	 * for what is wrong with it, not as a host without a stack. */
	if (sim_hosts_config(config, &cfg, err, sizeof(err))) {
		fprintf(stderr, "uhoma-sim: %s\n", err);
		return -1;
	}
	hs->net = net;
	hs->on_msg = on_msg;
	hs->app = app;
	hs->h = calloc(net->nhosts, sizeof(*hs->h));
	if (!hs->h) {
		fprintf(stderr, "uhoma-sim: out of memory for %u hosts\n",
			net->nhosts);
		return -1;
	}
	hs->n = net->nhosts;
	hs->region = mmap(NULL, SIM_REGION, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hs->region == MAP_FAILED) {
		fprintf(stderr, "uhoma-sim: out of memory for the hosts' "
			"buffer region (%u MiB): %s\n", SIM_REGION >> 20,
			strerror(errno));
		hs->region = NULL;
		return -1;
	}
	clock_eng = net->eng;
	net->deliver = deliver;
	net->deliver_arg = hs;
	for (uint32_t i = 0; i < hs->n; i++) {
		int rc = host_start(hs, i, &cfg);

		if (rc == UHOMA_ERR_NOMEM) {
			fprintf(stderr, "uhoma-sim: out of memory building "
				"host %u's stack (of %u hosts)\n", i, hs->n);
			return -1;
		}
		if (rc < 0) {
			fprintf(stderr, "uhoma-sim: host %u: its stack could "
				"not be built: %s\n", i, uhoma_strerror(rc));
			return -1;
		}
		if (rc) {
			fprintf(stderr, "uhoma-sim: %s\n",
				sim_engine_error(net->eng, err, sizeof(err)));
			return -1;
		}
	}
	return 0;
}

void sim_hosts_stop(struct sim_hosts *hs)
{
	for (uint32_t i = 0; i < hs->n; i++) {
		struct sim_host *h = &hs->h[i];
		struct uhoma_sock *s;

		if (!h->st)
			continue;
		uh_stack_stop_sockets(h->st);
		while ((s = uh_stack_any_sock(h->st))) {
			uh_sock_close_start(s);
			/* Nothing else runs: every reference is gone. */
			uh_sock_reap_final(s);
			uh_sock_free(s);
		}
	}
	uh_synchronize_rcu();
	for (uint32_t i = 0; i < hs->n; i++) {
		struct sim_host *h = &hs->h[i];

		if (h->st)
			uh_stack_free(h->st);
		free(h->metrics);
	}
	if (hs->region)
		munmap(hs->region, SIM_REGION);
	free(hs->h);
	memset(hs, 0, sizeof(*hs));
}

/* ---- messages ------------------------------------------------------------ */

int sim_host_send(struct sim_host *h, uint32_t to, uint32_t len,
		  uint64_t cookie, uint64_t *id)
{
	struct uh_addr a = sim_host_addr(to);
	uint8_t *copy = uh_rpc_msgbuf_alloc(len);
	uint32_t charged = 0;
	int rc;

	if (!copy) {
		/* The simulator's memory, not a protocol's outcome: the run
		 * ends saying so (engine.h). */
		sim_engine_fail(h->all->net->eng, SIM_ENG_NOMEM);
		return UHOMA_ERR_NOMEM;
	}
	/* The message's bytes are whatever the buffer held: nothing looks
	 * at them, and copying a pattern in would cost time for nothing. */
	rc = uh_sock_tx_try_charge(h->sock, len, &charged);
	if (rc) {
		uh_rpc_msgbuf_free(copy, len);
		return rc;
	}
	rc = uh_call_send(h->sock, &a, SIM_PORT, copy, len, cookie, false,
			  charged, id);
	after(h);
	return rc;
}

int sim_host_reply(struct sim_host *h, const struct uhoma_msg *m,
		   uint32_t len)
{
	uint8_t *copy = uh_rpc_msgbuf_alloc(len);
	struct uh_addr a;
	uint16_t port;

	if (!copy) {
		sim_engine_fail(h->all->net->eng, SIM_ENG_NOMEM);
		return UHOMA_ERR_NOMEM;
	}
	if (uh_addr_from_sockaddr((const struct sockaddr *)&m->peer,
				  m->peer_len, &a, &port)) {
		uh_rpc_msgbuf_free(copy, len);
		return UHOMA_ERR_INVALID_ARGUMENT;
	}
	/* Called from after(): the caller's after() loop sees to the
	 * pacer once the callback returns. */
	return uh_call_reply(h->sock, &a, port, m->id, copy, len);
}

int sim_host_forget(struct sim_host *h, const struct uhoma_msg *m)
{
	struct uh_deferred p;
	struct uh_rpc *rpc;
	struct uh_addr a;
	uint16_t port;

	if (uh_addr_from_sockaddr((const struct sockaddr *)&m->peer,
				  m->peer_len, &a, &port))
		return UHOMA_ERR_INVALID_ARGUMENT;
	rpc = uh_rpc_find_server(h->sock, &a, port, m->id);
	if (!rpc)
		return UHOMA_ERR_NOT_FOUND;
	uh_deferred_init(&p);
	uh_rpc_end(rpc, &p);
	uh_rpc_release(rpc);
	uh_deferred_flush(h->st, &p);
	return UHOMA_OK;
}

void sim_host_abort(struct sim_host *h, uint64_t id)
{
	/* Nothing to take or pace follows: no after(h), which would take
	 * @h's messages from inside another host's callback. */
	(void)uh_call_abort(h->sock, id, 0);
}

void sim_host_release(struct sim_host *h, const struct uhoma_msg *m)
{
	if (m->num_bpages)
		uh_pool_release(&h->sock->pool, m->bpage_offsets,
				m->num_bpages);
	uh_sock_check_bufs(h->sock);
}
