/*
 * test_lanes.c - the UDP carrier's receive lanes on loopback, white-box.
 *
 * A port's datagrams at or above the carrier's urgent_prio land in a
 * socket of their own that is read first (net/udp.c). The tests queue
 * long low-priority datagrams ahead of a short urgent one from a plain UDP
 * socket and check what recv() hands out first; that the split follows
 * the priority exactly at the threshold, for IPv4 TOS and IPv6 traffic
 * class, and from a dual-stack carrier's own sends to an IPv4 peer; that
 * a carrier's sends arrive with every priority 0-7 (the default level
 * needs no control message, the others do); that nothing is lost or
 * reordered within a lane; that a busy poll
 * that got urgent packets leaves the bulk lane to the next poll, never two
 * in a row; that with lanes off the order is the socket's FIFO; and that a
 * port with lanes stays
 * exclusive (SO_REUSEPORT must not let a second uhoma bind share it, and
 * a reuse-port socket of the same user that joins gets no datagram).
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/stack.h"
#include "net/carriers.h"
#include "nettest.h"
#include "testutil.h"

#define NBULK 4
#define BULK_LEN 30000     /* several per bulk read, all queued at once */
#define RXCAP 65536

static struct uh_carrier *carrier(const char *addr, uint8_t urgent_prio)
{
	struct uhoma_config cfg;
	struct uh_carrier *c = NULL;

	uhoma_config_default(&cfg);
	snprintf(cfg.addr, sizeof(cfg.addr), "%s", addr);
	if (uh_udp_create(&cfg, &c) != UHOMA_OK)
		return NULL;
	c->urgent_prio = urgent_prio;
	return c;
}

/* A carrier on @addr with a port open (ephemeral: *@port is 0). */
static struct uh_carrier *carrier_port(const char *addr, uint8_t urgent_prio,
				       uint16_t *port)
{
	struct uh_carrier *c = carrier(addr, urgent_prio);

	assert_non_null(c);
	assert_int_equal(c->ops->open_port(c, port), UHOMA_OK);
	return c;
}

/* The tag a test datagram carries: after the source port, which the
 * carrier checks against the UDP port it came from. */
#define TAG_AT 4

/* A plain UDP socket sending datagrams at priority @prio to @port, the
 * first two bytes its own port, as a Homa packet's source port. */
static void send_at(const char *addr, uint16_t port, uint8_t prio,
		    uint8_t tag, size_t len)
{
	struct sockaddr_storage ss, me;
	socklen_t me_len = sizeof(me);
	size_t sl;
	int fd, tos = prio << 5;
	uint8_t *buf = calloc(1, len);
	uint16_t mine;

	assert_non_null(buf);
	nt_sockaddr(addr, port, &ss, &sl);
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	/* A port of its own, to write in the packet. */
	nt_sockaddr(addr, 0, &me, &sl);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, (socklen_t)sl), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &me_len), 0);
	mine = me.ss_family == AF_INET
		       ? ntohs(((struct sockaddr_in *)&me)->sin_port)
		       : ntohs(((struct sockaddr_in6 *)&me)->sin6_port);
	buf[0] = (uint8_t)(mine >> 8);
	buf[1] = (uint8_t)mine;
	nt_sockaddr(addr, port, &ss, &sl);
	if (ss.ss_family == AF_INET)
		assert_int_equal(setsockopt(fd, IPPROTO_IP, IP_TOS, &tos,
					    sizeof(tos)), 0);
	else
		assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS,
					    &tos, sizeof(tos)), 0);
	buf[TAG_AT] = tag;
	assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&ss,
				(socklen_t)sl), (ssize_t)len);
	close(fd);
	free(buf);
}

static bool have_ipv6_loopback(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

struct got {
	uint8_t tag[NBULK + 1], prio[NBULK + 1];
	unsigned n, first_call;   /* first_call: datagrams in the first recv */
};

/* Receives the NBULK + 1 datagrams, waiting up to a second for each. */
static void recv_all(struct uh_carrier *c, struct got *g)
{
	uint8_t *mem = malloc((size_t)RXCAP * (NBULK + 1));
	struct uh_rx rx[NBULK + 1];

	assert_non_null(mem);
	memset(g, 0, sizeof(*g));
	for (unsigned calls = 0; g->n < NBULK + 1 && calls < 50; calls++) {
		unsigned n;

		for (unsigned i = 0; i < NBULK + 1; i++)
			rx[i] = (struct uh_rx){ .buf = mem + i * RXCAP,
						.cap = RXCAP };
		n = c->ops->recv(c, rx, NBULK + 1 - g->n, 1000 * 1000 * 1000);
		if (g->n == 0)
			g->first_call = n;
		for (unsigned i = 0; i < n; i++) {
			g->tag[g->n] = rx[i].buf[TAG_AT];
			g->prio[g->n++] = rx[i].priority;
		}
	}
	free(mem);
}

/* NBULK long datagrams at @bulk_prio (tags 0..), then a short one at
 * @urgent (tag 0xAA), all queued before the first recv. */
static void queue_then_recv(const char *addr, uint8_t urgent_prio,
			    uint8_t bulk_prio, uint8_t urgent, struct got *g)
{
	uint16_t port = 0;
	struct uh_carrier *c = carrier_port(addr, urgent_prio, &port);

	for (uint8_t i = 0; i < NBULK; i++)
		send_at(addr, port, bulk_prio, i, BULK_LEN);
	send_at(addr, port, urgent, 0xAA, 100);
	recv_all(c, g);
	c->ops->close_port(c, port);
	c->ops->destroy(c);
	assert_int_equal(g->n, NBULK + 1);
}

static void check_urgent_first(const struct got *g)
{
	assert_true(g->first_call >= 1);
	assert_int_equal(g->tag[0], 0xAA);
	for (unsigned i = 1; i <= NBULK; i++)
		assert_int_equal(g->tag[i], i - 1);   /* FIFO within a lane */
}

static void lanes__urgent_read_first_ipv4(void **state)
{
	struct got g;

	(void)state;
	/* Priority 5 is the threshold itself; 4 is just below it. */
	queue_then_recv("127.0.0.1", 5, 4, 5, &g);
	check_urgent_first(&g);
	assert_int_equal(g.prio[0], 5);
	assert_int_equal(g.prio[1], 4);
}

static void lanes__urgent_read_first_ipv6(void **state)
{
	struct got g;

	(void)state;
	if (!have_ipv6_loopback()) {
		print_message("    skipped: no IPv6 loopback (::1) here\n");
		skip();
	}
	/* Traffic class 7 << 5 and 1 << 5: the filter's IPv6 path. */
	queue_then_recv("::1", 5, 1, 7, &g);
	check_urgent_first(&g);
	assert_int_equal(g.prio[0], 7);
	assert_int_equal(g.prio[1], 1);
}

/*
 * A carrier on @from sends one datagram at each priority 0-7 to a carrier
 * on @to, given as @dst: each must arrive with its own. The sending socket
 * carries the default level (7) as its own TOS and sends it with no
 * control message; every other level still needs one, and a dual-stack
 * socket's IPv4 peers need the IPv4 TOS.
 */
static void every_priority_arrives(const char *from, const char *to,
				   const char *dst)
{
	uint16_t rport = 0, sport = 0;
	struct uh_carrier *r = carrier_port(to, 4, &rport);
	struct uh_carrier *s = carrier_port(from, 4, &sport);
	uint8_t pkt[8][100], *mem = malloc((size_t)RXCAP * 8);
	unsigned seen = 0, got = 0;

	assert_non_null(mem);
	for (uint8_t prio = 0; prio < 8; prio++) {
		struct uh_tx tx = { .hdr = pkt[prio], .hdr_len = 100,
				    .dport = rport, .priority = prio };

		memset(pkt[prio], 0, sizeof(pkt[prio]));
		pkt[prio][0] = (uint8_t)(sport >> 8);
		pkt[prio][1] = (uint8_t)sport;
		pkt[prio][TAG_AT] = prio;
		assert_int_equal(uh_addr_parse(dst, &tx.dst), 0);
		assert_int_equal(s->ops->send(s, sport, &tx, 1), 1);
	}
	for (unsigned calls = 0; got < 8 && calls < 50; calls++) {
		struct uh_rx rx[8];
		unsigned n;

		for (unsigned i = 0; i < 8; i++)
			rx[i] = (struct uh_rx){ .buf = mem + i * RXCAP,
						.cap = RXCAP };
		n = r->ops->recv(r, rx, 8 - got, 1000 * 1000 * 1000);
		for (unsigned i = 0; i < n; i++) {
			/* Its tag is the priority it was sent at. */
			assert_int_equal(rx[i].priority, rx[i].buf[TAG_AT]);
			seen |= 1u << rx[i].priority;
		}
		got += n;
	}
	assert_int_equal(got, 8);
	assert_int_equal(seen, 0xff);
	free(mem);
	s->ops->close_port(s, sport);
	s->ops->destroy(s);
	r->ops->close_port(r, rport);
	r->ops->destroy(r);
}

static void lanes__every_priority_arrives_ipv4(void **state)
{
	(void)state;
	every_priority_arrives("127.0.0.1", "127.0.0.1", "127.0.0.1");
}

static void lanes__every_priority_arrives_dual_stack_to_ipv4(void **state)
{
	(void)state;
	every_priority_arrives("::", "::", "127.0.0.1");
}

static void lanes__every_priority_arrives_ipv6(void **state)
{
	(void)state;
	if (!have_ipv6_loopback()) {
		print_message("    skipped: no IPv6 loopback (::1) here\n");
		skip();
	}
	every_priority_arrives("::1", "::1", "::1");
	every_priority_arrives("::", "::", "::1");
}

/* Busy polls (timeout 0) into @rx; the tags of what one returned. */
static unsigned poll_once(struct uh_carrier *c, uint8_t *mem, uint8_t *tags)
{
	struct uh_rx rx[NBULK + 1];
	unsigned n;

	for (unsigned i = 0; i < NBULK + 1; i++)
		rx[i] = (struct uh_rx){ .buf = mem + i * RXCAP, .cap = RXCAP };
	n = c->ops->recv(c, rx, NBULK + 1, 0);
	for (unsigned i = 0; i < n; i++)
		tags[i] = rx[i].buf[TAG_AT];
	return n;
}

/* With bulk datagrams queued: a busy poll that finds an urgent one returns
 * it alone; the next poll reads the bulk lane even though another urgent
 * datagram waits (never two yields in a row); one with no urgent datagram
 * reads the bulk lane. */
/*
 * A dual-stack carrier ("::") sending to an IPv4 peer (127.0.0.1) through
 * its own send path: the priority must leave in the IPv4 TOS byte (an
 * IPV6_TCLASS control message is ignored on the IPv4 path, and every
 * packet went out at priority 0: the bulk lane, the lowest band on the
 * wire), and the dual-stack receiver must see it.
 */
static void lanes__dual_stack_ipv4_keeps_priority(void **state)
{
	uint16_t rport = 0, sport = 0;
	struct uh_carrier *r = carrier_port("::", 5, &rport);
	struct uh_carrier *s = carrier_port("::", 5, &sport);
	static uint8_t bulk[NBULK][BULK_LEN], urgent[100];
	struct uh_tx tx[NBULK + 1];
	struct got g;

	(void)state;
	memset(tx, 0, sizeof(tx));
	for (unsigned i = 0; i <= NBULK; i++) {
		uint8_t *b = i < NBULK ? bulk[i] : urgent;

		b[0] = (uint8_t)(sport >> 8);
		b[1] = (uint8_t)sport;
		b[TAG_AT] = i < NBULK ? (uint8_t)i : 0xAA;
		tx[i].hdr = b;
		tx[i].hdr_len = i < NBULK ? BULK_LEN : sizeof(urgent);
		assert_int_equal(uh_addr_parse("127.0.0.1", &tx[i].dst), 0);
		tx[i].dport = rport;
		tx[i].priority = i < NBULK ? 1 : 6;
	}
	/* One at a time: no GSO run joins them. */
	for (unsigned i = 0; i <= NBULK; i++)
		assert_int_equal(s->ops->send(s, sport, &tx[i], 1), 1);
	recv_all(r, &g);
	assert_int_equal(g.n, NBULK + 1);
	check_urgent_first(&g);
	assert_int_equal(g.prio[0], 6);
	assert_int_equal(g.prio[1], 1);
	s->ops->close_port(s, sport);
	s->ops->destroy(s);
	r->ops->close_port(r, rport);
	r->ops->destroy(r);
}

static void lanes__poll_yields_bulk_once(void **state)
{
	uint8_t *mem = malloc((size_t)RXCAP * (NBULK + 1)), tags[NBULK + 1];
	uint16_t port = 0;
	struct uh_carrier *c = carrier_port("127.0.0.1", 5, &port);
	unsigned n;

	(void)state;
	assert_non_null(mem);
	for (uint8_t i = 0; i < NBULK; i++)
		send_at("127.0.0.1", port, 0, i, BULK_LEN);
	send_at("127.0.0.1", port, 7, 0xAA, 100);
	n = poll_once(c, mem, tags);
	assert_int_equal(n, 1);
	assert_int_equal(tags[0], 0xAA);
	send_at("127.0.0.1", port, 6, 0xBB, 100);
	n = poll_once(c, mem, tags);
	assert_true(n >= 2);                      /* 0xBB and bulk */
	assert_int_equal(tags[0], 0xBB);
	assert_int_equal(tags[1], 0);
	n = poll_once(c, mem, tags);              /* no urgent: bulk */
	assert_true(n >= 1);
	assert_int_not_equal(tags[0], 0xAA);
	assert_int_not_equal(tags[0], 0xBB);
	c->ops->close_port(c, port);
	c->ops->destroy(c);
	free(mem);
}

static void lanes__below_threshold_stays_in_order(void **state)
{
	struct got g;

	(void)state;
	/* Urgent threshold 6: priority 5 is bulk, so arrival order holds. */
	queue_then_recv("127.0.0.1", 6, 0, 5, &g);
	for (unsigned i = 0; i < NBULK; i++)
		assert_int_equal(g.tag[i], i);
	assert_int_equal(g.tag[NBULK], 0xAA);
}

static void lanes__off_is_one_fifo(void **state)
{
	struct got g;

	(void)state;
	queue_then_recv("127.0.0.1", 0, 0, 7, &g);
	assert_int_equal(g.tag[0], 0);
	assert_int_equal(g.tag[NBULK], 0xAA);
}

/* A reuse-port socket of another program on @port's address. */
static int intruder(uint16_t port)
{
	struct sockaddr_storage ss;
	size_t sl;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), one = 1;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	nt_sockaddr("127.0.0.1", port, &ss, &sl);
	if (bind(fd, (struct sockaddr *)&ss, (socklen_t)sl) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void lanes__port_stays_exclusive(void **state)
{
	struct uh_carrier *a = carrier("127.0.0.1", 5);
	struct uh_carrier *b = carrier("127.0.0.1", 5);
	struct sockaddr_storage ss;
	uint16_t pa = 0, pb = 0, again;
	size_t sl;
	int fd;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->ops->open_port(a, &pa), UHOMA_OK);
	assert_int_equal(b->ops->open_port(b, &pb), UHOMA_OK);
	assert_int_not_equal(pa, pb);     /* ephemeral ports never shared */
	again = pa;
	assert_int_equal(b->ops->open_port(b, &again), UHOMA_ERR_ADDR_IN_USE);
	/* A plain bind fails as it would on a single socket. */
	nt_sockaddr("127.0.0.1", pa, &ss, &sl);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, (socklen_t)sl), -1);
	assert_int_equal(errno, EADDRINUSE);
	close(fd);
	/* Closed: the port is free again, for lanes too. */
	a->ops->close_port(a, pa);
	again = pa;
	assert_int_equal(b->ops->open_port(b, &again), UHOMA_OK);
	assert_int_equal(again, pa);
	b->ops->close_port(b, pa);
	b->ops->close_port(b, pb);
	a->ops->destroy(a);
	b->ops->destroy(b);
}

static void lanes__reuseport_intruder_gets_nothing(void **state)
{
	uint8_t *mem = malloc(2 * RXCAP), byte;
	struct uh_rx rx[2];
	uint16_t port = 0;
	struct uh_carrier *c = carrier_port("127.0.0.1", 5, &port);
	unsigned got = 0;
	int fd;

	(void)state;
	assert_non_null(mem);
	/* The same user may join the group (the kernel allows it)... */
	fd = intruder(port);
	assert_true(fd >= 0);
	send_at("127.0.0.1", port, 7, 1, 100);
	send_at("127.0.0.1", port, 0, 2, 100);
	for (unsigned calls = 0; got < 2 && calls < 20; calls++) {
		rx[0] = (struct uh_rx){ .buf = mem, .cap = RXCAP };
		rx[1] = (struct uh_rx){ .buf = mem + RXCAP, .cap = RXCAP };
		got += c->ops->recv(c, rx, 2 - got, 100 * 1000 * 1000);
	}
	/* ...but the filter steers every datagram to the carrier's two. */
	assert_int_equal(got, 2);
	assert_int_equal(recv(fd, &byte, 1, 0), -1);
	close(fd);
	c->ops->close_port(c, port);
	c->ops->destroy(c);
	free(mem);
}

/* The threshold the stack gives its carrier, from its own cutoffs. */
static uint8_t stack_threshold(const char *items)
{
	struct uhoma_config cfg;
	struct uhoma_stack *st = NULL;
	uint8_t t;

	uhoma_config_default(&cfg);
	snprintf(cfg.addr, sizeof(cfg.addr), "127.0.0.1");
	assert_int_equal(uhoma_config_parse(&cfg, items), UHOMA_OK);
	assert_int_equal(uhoma_stack_create(&cfg, &st), UHOMA_OK);
	t = st->carrier->urgent_prio;
	uhoma_stack_destroy(st);
	return t;
}

static void lanes__stack_sets_threshold(void **state)
{
	(void)state;
	/* Default cutoffs: long messages' unscheduled bytes at 4. */
	assert_int_equal(stack_threshold("lanes=1"), 5);
	/* Three levels: unscheduled bytes and control share the top one. */
	assert_int_equal(stack_threshold("num_priorities=3"), 2);
	assert_int_equal(stack_threshold("num_priorities=1"), 0);
	assert_int_equal(stack_threshold("lanes=0"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(lanes__urgent_read_first_ipv4),
		UH_TEST(lanes__urgent_read_first_ipv6),
		UH_TEST(lanes__dual_stack_ipv4_keeps_priority),
		UH_TEST(lanes__every_priority_arrives_ipv4),
		UH_TEST(lanes__every_priority_arrives_dual_stack_to_ipv4),
		UH_TEST(lanes__every_priority_arrives_ipv6),
		UH_TEST(lanes__poll_yields_bulk_once),
		UH_TEST(lanes__below_threshold_stays_in_order),
		UH_TEST(lanes__off_is_one_fifo),
		UH_TEST(lanes__port_stays_exclusive),
		UH_TEST(lanes__reuseport_intruder_gets_nothing),
		UH_TEST(lanes__stack_sets_threshold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
