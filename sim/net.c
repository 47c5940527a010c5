/*
 * net.c - ports, links, switches and packets (net.h).
 */
#include <stdlib.h>
#include <string.h>

#include "net.h"

void sim_net_init(struct sim_net *net, struct sim_engine *eng)
{
	memset(net, 0, sizeof(*net));
	net->eng = eng;
}

void sim_net_free(struct sim_net *net)
{
	struct sim_pkt *p;

	/* Every packet ever allocated, wherever it is now: queued, on a
	 * wire, in an event that will never fire, or free. */
	while ((p = net->all_pkts)) {
		net->all_pkts = p->all_next;
		free(p);
	}
	for (uint32_t s = 0; s < net->nswitches; s++)
		free(net->sw[s].ports);
	free(net->nic);
	free(net->sw);
	free(net->topo);
	memset(net, 0, sizeof(*net));
}

void sim_port_init(struct sim_port *port, struct sim_net *net,
		   struct sim_switch *sw, uint32_t mbps, uint64_t lat_ns,
		   struct sim_switch *to_sw, uint32_t to_host)
{
	memset(port, 0, sizeof(*port));
	port->net = net;
	port->sw = sw;
	port->to_sw = to_sw;
	port->to_host = to_host;
	port->mbps = mbps;
	port->lat_ps = lat_ns * SIM_PS_PER_NS;
	port->ps_per_byte = 8000000u % mbps ? 0 : 8000000u / mbps;
	port->fifo = sw == NULL;
	port->is_downlink = sw != NULL && to_sw == NULL;
}

/* NULL when memory runs out, where net.h still says it aborts: the engine
 * has then failed, and the run ends saying why (sim_run). */
struct sim_pkt *sim_pkt_alloc(struct sim_net *net)
{
	struct sim_pkt *p = net->free_pkts;

	if (p) {
		net->free_pkts = p->next;
	} else {
		p = malloc(sizeof(*p));
		if (!p) {
			/* The run cannot go on without the packet: it ends
			 * with the reason (engine.h). */
			sim_engine_fail(net->eng, SIM_ENG_NOMEM);
			return NULL;
		}
		p->all_next = net->all_pkts;
		net->all_pkts = p;
	}
	p->next = NULL;
	return p;
}

void sim_pkt_free(struct sim_net *net, struct sim_pkt *p)
{
	p->next = net->free_pkts;
	net->free_pkts = p;
}

/* Brings queue @q's area up to @t (not before its last change). */
static void settle_queue_at(struct sim_port *port, unsigned q, uint64_t t)
{
	port->st.area[q] += (double)port->qbytes[q] *
			    (double)(t - port->last_ps[q]);
	port->last_ps[q] = t;
}

/* Occupancy of queue @q changes by @delta bytes at @t (now, or the end of
 * a transmission that nothing has looked at since). */
static void occupy_at(struct sim_port *port, unsigned q, int64_t delta,
		      uint64_t t)
{
	settle_queue_at(port, q, t);
	port->qbytes[q] += (uint64_t)delta;
	if (port->qbytes[q] > port->st.max_bytes[q])
		port->st.max_bytes[q] = port->qbytes[q];
	if (port->sw) {
		port->sw->buf_used += (uint64_t)delta;
		if (port->sw->buf_used > port->sw->buf_max)
			port->sw->buf_max = port->sw->buf_used;
	}
}

static void arrive(void *a, void *b);

/* The highest-priority packet waiting at @port, taken off its queue. */
static struct sim_pkt *dequeue(struct sim_port *port)
{
	unsigned q;
	struct sim_pkt *p;

	if (!port->waiting)
		return NULL;
	q = 31u - (unsigned)__builtin_clz(port->waiting);
	p = port->head[q];
	port->head[q] = p->next;
	if (!p->next) {
		port->tail[q] = NULL;
		port->waiting &= (uint8_t)~(1u << q);
	}
	p->next = NULL;
	return p;
}

/* Puts @p on @port's wire from @t (now, or the instant the packet before
 * it left: catch_up) and schedules its arrival at the far end (last bit +
 * propagation), the one event a hop costs. */
static void start_at(struct sim_port *port, struct sim_pkt *p, uint64_t t)
{
	struct sim_engine *eng = port->net->eng;
	/* Whole picoseconds, the fraction carried to the next packet: no
	 * rate is rounded (sim_ser_ps). */
	port->sending = true;
	if (port->ps_per_byte) {
		port->tx_ps = (uint64_t)p->wire * port->ps_per_byte;
	} else {
		uint64_t scaled = (uint64_t)p->wire * 8000000ull +
				  port->ser_rem;

		port->tx_ps = scaled / port->mbps;
		port->ser_rem = scaled % port->mbps;
	}
	port->tx_end = t + port->tx_ps;
	port->tx_q = port->fifo ? 0 : p->prio;
	port->tx_wire = p->wire;
	if (port->sw && port->tx_end < port->sw->next_release)
		port->sw->next_release = port->tx_end;
	/* If the event queue is full (or memory short), the packet never
	 * arrives: the engine has failed and the run ends with the reason,
	 * the packet freed with the rest (sim_net_free). */
	(void)sim_at(eng, port->tx_end + port->lat_ps - eng->now, arrive,
		     port, p);
}

/*
 * Brings @port up to now. A packet leaves the port's queue when its last
 * bit has left (tx_end), and the next waiting one starts at that instant,
 * but no event marks it: whoever looks at the port next settles it, at
 * the time it happened -- occupancy, areas, the switch's buffer, and the
 * start of the next packet, which chooses among those queued then. Those
 * are exactly the packets queued now: every enqueue catches its port up
 * first, so every packet waiting was queued at or before the last look,
 * which was before the instant the port came free (a look leaves it
 * sending past the look, or idle with nothing waiting).
 *
 * Someone always looks in time: at the latest the packet's own arrival
 * at the far end (tx_end + propagation), so a packet started here at
 * tx_end arrives (tx_end + its serialization + propagation) after now.
 * A packet shorter than the propagation may have left already too: the
 * loop settles it and starts the one behind it.
 */
static void catch_up(struct sim_port *port)
{
	uint64_t now = port->net->eng->now;

	while (port->sending && port->tx_end <= now) {
		uint64_t t = port->tx_end;
		struct sim_pkt *p;

		/* The packet itself may be gone (delivered, freed,
		 * reused): what it held was noted when it started. */
		port->sending = false;
		occupy_at(port, port->tx_q, -(int64_t)port->tx_wire, t);
		/* Counted once it has left: a port still sending when
		 * the run stops is not busy past the end. */
		port->st.tx_pkts++;
		port->st.tx_bytes += port->tx_wire;
		port->st.busy_ps += port->tx_ps;
		p = dequeue(port);
		if (p)
			start_at(port, p, t);
	}
}

void sim_port_settle(struct sim_port *port)
{
	catch_up(port);
	for (unsigned q = 0; q < SIM_PRIOS; q++)
		settle_queue_at(port, q, port->net->eng->now);
}

/* Every port of @sw settled: its buffer use is exact now. The ports are
 * walked only once one of them can have finished (next_release), so a
 * switch whose buffer stays full walks them once per packet that leaves,
 * not once per packet that arrives. */
static void settle_switch(struct sim_switch *sw)
{
	uint64_t next = UINT64_MAX;

	if (sw->net->eng->now < sw->next_release)
		return;
	for (uint32_t i = 0; i < sw->nports; i++) {
		struct sim_port *port = &sw->ports[i];

		catch_up(port);
		if (port->sending && port->tx_end < next)
			next = port->tx_end;
	}
	sw->next_release = next;
}

void sim_net_settle(struct sim_net *net)
{
	for (uint32_t h = 0; h < net->nhosts; h++)
		sim_port_settle(&net->nic[h]);
	for (uint32_t s = 0; s < net->nswitches; s++)
		for (uint32_t i = 0; i < net->sw[s].nports; i++)
			sim_port_settle(&net->sw[s].ports[i]);
}

bool sim_port_enqueue(struct sim_port *port, struct sim_pkt *p)
{
	struct sim_engine *eng = port->net->eng;
	unsigned q = port->fifo ? 0 : p->prio;

	catch_up(port);
	if (port->sw && port->sw->buf_used + p->wire > port->sw->buf_max)
		/* A full buffer, or a new peak: exact only with every
		 * port's finished packet taken out. */
		settle_switch(port->sw);
	if (port->sw && port->sw->buf_used + p->wire > port->sw->buf_cap) {
		port->st.drops[p->prio]++;
		port->net->dropped++;
		sim_pkt_free(port->net, p);
		return false;
	}
	occupy_at(port, q, p->wire, eng->now);
	p->next = NULL;
	if (!port->sending) {
		/* Idle and caught up: nothing waits. */
		start_at(port, p, eng->now);
		return true;
	}
	if (port->tail[q])
		port->tail[q]->next = p;
	else
		port->head[q] = p;
	port->tail[q] = p;
	port->waiting |= (uint8_t)(1u << q);
	return true;
}

/* The last bit of @b has arrived at the far end of @a's link. */
static void arrive(void *a, void *b)
{
	struct sim_port *from = a;
	struct sim_pkt *p = b;
	struct sim_net *net = from->net;
	struct sim_switch *sw = from->to_sw;

	catch_up(from);         /* the packet behind this one starts */
	if (sw) {
		sim_port_enqueue(&sw->ports[net->route(net, sw, p)], p);
		return;
	}
	net->delivered++;
	net->deliver(net->deliver_arg, from->to_host, p);
	sim_pkt_free(net, p);
}

void sim_nic_send(struct sim_net *net, uint32_t host, struct sim_pkt *p)
{
	p->wire = sim_wire_bytes(p->len);
	sim_port_enqueue(&net->nic[host], p);
}
