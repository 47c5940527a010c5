/*
 * test_ipraw.c - the raw-IP carrier (IP protocol 146) on loopback.
 *
 * Two stacks exchange messages of every size over IPv4 and IPv6 (each raw
 * socket sees every protocol-146 packet on the host; neither core may see
 * the other's). Then the test plays a kernel Homa client itself, through
 * its own raw socket, with packets built byte by byte as the module writes
 * them (homa-protocol.md §1): a request whose DATA carries its offset only
 * in `sequence` (seg.offset 0xFFFFFFFF, the module's default), and an ACK.
 * It checks every byte of what uhoma answers -- DATA and NEED_ACK -- and
 * the IP protocol and TOS they travel with.
 *
 * Needs CAP_NET_RAW; skips with a message without it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nettest.h"
#include "testutil.h"

#define PROTO_HOMA 146

static bool may_use_raw(void)
{
	int fd = socket(AF_INET, SOCK_RAW, PROTO_HOMA);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

#define NEED_RAW()                                                         \
	do {                                                               \
		if (!may_use_raw()) {                                      \
			print_message("    skipped: raw IP sockets need "      \
				      "CAP_NET_RAW (run as root)\n");      \
			skip();                                            \
		}                                                          \
	} while (0)

static struct uhoma_stack *ip_stack(const char *addr)
{
	struct uhoma_config cfg;
	struct uhoma_stack *st = NULL;

	uhoma_config_default(&cfg);
	assert_int_equal(uhoma_config_set(&cfg, "carrier", "ip"), UHOMA_OK);
	snprintf(cfg.addr, sizeof(cfg.addr), "%s", addr);
	if (uhoma_stack_create(&cfg, &st) != UHOMA_OK)
		return NULL;
	return st;
}

/* Raw sockets of our own: *@fd sends Homa packets (IPv4), *@icmp reads
 * the ICMP messages that come back. */
static void raw_pair(int *fd, int *icmp)
{
	*fd = socket(AF_INET, SOCK_RAW, PROTO_HOMA);
	*icmp = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	assert_true(*fd >= 0 && *icmp >= 0);
}

/* A port nobody holds: one a socket of @st just held and gave back. */
static uint16_t free_port(struct uhoma_stack *st)
{
	struct uhoma_sock *tmp;
	uint16_t port;

	assert_int_equal(uhoma_socket(st, 0, &tmp), UHOMA_OK);
	port = (uint16_t)uhoma_port(tmp);
	uhoma_close(tmp);
	return port;
}

static void two_stacks(const char *addr)
{
	static const size_t sizes[] = { 1, 1400, 20000, 150000, 1000000 };
	struct uhoma_stack *a = ip_stack(addr), *b = ip_stack(addr);
	struct uhoma_sock *srv, *cli;
	struct nt_echo echo;
	struct sockaddr_storage to;
	struct uhoma_metrics ma, mb;
	size_t to_len;
	uint8_t *buf = malloc(UHOMA_MAX_MESSAGE);
	void *region;
	uint16_t port = (uint16_t)(1000 + getpid() % 20000);

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(uhoma_socket(a, port, &srv), UHOMA_OK);
	/* The port is claimed host-wide: no second stack gets it. */
	{
		struct uhoma_sock *dup;

		assert_int_equal(uhoma_socket(b, port, &dup),
				 UHOMA_ERR_ADDR_IN_USE);
	}
	nt_buffers(srv, NT_REGION);
	nt_echo_start(&echo, srv, 1);
	assert_int_equal(uhoma_socket(b, 0, &cli), UHOMA_OK);
	assert_true(uhoma_port(cli) >= 0x8000);
	region = nt_buffers(cli, NT_REGION);
	nt_sockaddr(addr, port, &to, &to_len);
	for (size_t i = 0; i < UH_ARRAY_SIZE(sizes); i++) {
		struct uhoma_msg m;
		uint64_t id;

		nt_fill(buf, sizes[i], i + 7);
		assert_int_equal(uhoma_send(cli, (struct sockaddr *)&to, to_len,
					    buf, sizes[i], i, 0, &id),
				 UHOMA_OK);
		memset(&m, 0, sizeof(m));
		assert_int_equal(uhoma_recv(cli, &m, 0, 10 * 1000000000ll),
				 (int)sizes[i]);
		assert_true(m.id == id && m.cookie == i);
		assert_true(nt_check(cli, &m, sizes[i], i + 7));
		uhoma_msg_release(cli, &m);
	}
	/* Both raw sockets saw every packet; each core saw only its own. */
	uhoma_metrics(a, &ma);
	uhoma_metrics(b, &mb);
	assert_int_equal(ma.drops[9], 0);   /* no_socket */
	assert_int_equal(mb.drops[9], 0);
	assert_string_equal(uhoma_drop_name(9), "no_socket");
	assert_true(ma.requests_received == UH_ARRAY_SIZE(sizes));
	uhoma_close(cli);
	uhoma_shutdown(srv);
	nt_echo_stop(&echo);
	uhoma_close(srv);
	uhoma_stack_destroy(a);
	uhoma_stack_destroy(b);
	nt_unmap(region, NT_REGION);
	free(buf);
}

static void ipraw__two_stacks_ipv4(void **state)
{
	(void)state;
	NEED_RAW();
	two_stacks("127.0.0.1");
}

static void ipraw__two_stacks_ipv6(void **state)
{
	struct uhoma_stack *st;

	(void)state;
	NEED_RAW();
	st = ip_stack("::1");
	if (!st) {
		print_message("    skipped: no IPv6 loopback (::1) here\n");
		skip();
	}
	uhoma_stack_destroy(st);
	two_stacks("::1");
}

/* ---- the test as a kernel Homa peer ------------------------------------ */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }

/* The module's common header (§1.3): TCP-shaped, flags SYN|RST, urgent
 * 0xB97D, checksum 0 as uhoma writes it (the module never reads it). */
static void common(uint8_t *p, uint16_t sport, uint16_t dport, uint32_t seq,
		   uint8_t type, uint64_t id)
{
	memset(p, 0, 28);
	put16(p, sport);
	put16(p + 2, dport);
	put32(p + 4, seq);
	p[11] = type;
	p[12] = type == 0x10 ? 0xE0 : 0x50;
	p[13] = 6;
	put16(p + 18, 0xB97D);
	put64(p + 20, id);
}

static void raw_send(int fd, const uint8_t *pkt, size_t len, int tos)
{
	struct sockaddr_in to = { .sin_family = AF_INET };

	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	assert_int_equal(setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)), 0);
	assert_int_equal(sendto(fd, pkt, len, 0, (struct sockaddr *)&to,
				sizeof(to)), (ssize_t)len);
}

/* The next packet of @type for port @dport: IP header in @ip, Homa packet
 * in @pkt; returns the Homa length (0 on timeout). */
static size_t raw_expect(int fd, uint16_t dport, uint8_t type, uint8_t *ip,
			 uint8_t *pkt, size_t cap)
{
	double end = nt_now() + 3;

	while (nt_now() < end) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint8_t buf[70000];
		ssize_t n;
		size_t ihl;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 20)
			continue;
		ihl = (size_t)(buf[0] & 0xF) * 4;
		if ((size_t)n < ihl + 28 || buf[ihl + 11] != type ||
		    (buf[ihl + 2] << 8 | buf[ihl + 3]) != dport)
			continue;
		memcpy(ip, buf, 20);
		if ((size_t)n - ihl > cap)
			return 0;
		memcpy(pkt, buf + ihl, (size_t)n - ihl);
		return (size_t)n - ihl;
	}
	return 0;
}

/*
 * Holds Homa port @port host-wide for the test's own raw socket, as a
 * kernel peer's packets would come from another host: otherwise a uhoma
 * stack here finds nobody holding the port and refuses what is sent to it
 * (ICMP port unreachable). Returns the claim (close it to release).
 */
static int hold_port(uint16_t port)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	int n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1,
			 "uhoma/ip146/port/%u", port);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun,
			      (socklen_t)(offsetof(struct sockaddr_un,
						   sun_path) + 1 + (size_t)n)),
			 0);
	return fd;
}

static void ipraw__speaks_the_module_wire_format(void **state)
{
	const uint16_t kport = 40000 + (uint16_t)(getpid() % 1000);
	const uint64_t kid = 0x0000123400005678ull;  /* kernel client id */
	struct uhoma_stack *st;
	struct uhoma_sock *s;
	struct uhoma_metrics before, after;
	struct uhoma_msg m;
	uint8_t req[56 + 200], want[56 + 300], got[70000], ip[20];
	uint8_t body[300];
	uint16_t port = (uint16_t)(1000 + getpid() % 20000);
	int fd, claim, prio = -1;
	size_t n;

	(void)state;
	NEED_RAW();
	fd = socket(AF_INET, SOCK_RAW, PROTO_HOMA);
	assert_true(fd >= 0);
	claim = hold_port(kport);
	st = ip_stack("127.0.0.1");
	assert_non_null(st);
	assert_int_equal(uhoma_socket(st, port, &s), UHOMA_OK);
	nt_buffers(s, NT_REGION);

	/* A 200-byte request as the module sends it: seg.offset -1, the
	 * offset (0) in sequence; priority 5 in TOS. */
	memset(req, 0, sizeof(req));
	common(req, kport, port, 0, 0x10, kid);
	put32(req + 28, 200);            /* message_length */
	put32(req + 32, 200);            /* incoming */
	put32(req + 52, 0xFFFFFFFFu);    /* seg.offset: see sequence */
	for (int i = 0; i < 200; i++)
		req[56 + i] = (uint8_t)(i * 7);
	raw_send(fd, req, sizeof(req), 5 << 5);

	memset(&m, 0, sizeof(m));
	assert_int_equal(uhoma_recv(s, &m, 0, 5 * 1000000000ll), 200);
	assert_true(m.id == (kid ^ 1));
	assert_int_equal(ntohs(((struct sockaddr_in *)(void *)&m.peer)->sin_port),
			 kport);
	{
		uint8_t copy[200];

		assert_int_equal(uhoma_msg_copy(s, &m, 0, copy, 200), 200);
		assert_memory_equal(copy, req + 56, 200);
	}

	/* The response: one DATA packet, every byte as the module's. */
	for (int i = 0; i < 300; i++)
		body[i] = (uint8_t)(255 - i);
	uhoma_metrics(st, &before);
	assert_int_equal(uhoma_reply(s, (struct sockaddr *)&m.peer, m.peer_len,
				     m.id, body, sizeof(body)), UHOMA_OK);
	uhoma_msg_release(s, &m);
	n = raw_expect(fd, kport, 0x10, ip, got, sizeof(got));
	assert_int_equal(n, 56 + 300);
	memset(want, 0, sizeof(want));
	common(want, port, kport, 0, 0x10, kid ^ 1);
	put32(want + 28, 300);           /* message_length */
	put32(want + 32, 300);           /* incoming: all unscheduled */
	put32(want + 52, 0);             /* seg.offset = sequence = 0 */
	memcpy(want + 56, body, 300);
	assert_memory_equal(got, want, 56 + 300);
	assert_int_equal(ip[9], PROTO_HOMA);
	/* TOS = priority << 5, the priority uhoma counted for it. */
	assert_int_equal(ip[1] & 0x1F, 0);
	uhoma_metrics(st, &after);
	for (int p = 0; p < 8; p++)
		if (after.prio_packets[p] != before.prio_packets[p])
			prio = p;
	assert_int_equal(ip[1] >> 5, prio);

	/* No ACK yet: the server asks for one (NEED_ACK, header only, at the
	 * control priority, num_priorities - 1 = 7). */
	n = raw_expect(fd, kport, 0x17, ip, got, sizeof(got));
	assert_int_equal(n, 28);
	common(want, port, kport, 0, 0x17, kid ^ 1);
	assert_memory_equal(got, want, 28);
	assert_int_equal(ip[1], 7 << 5);

	/* The module's ACK: 80 bytes, no extra acks. The RPC ends. */
	{
		uint8_t ack[80];
		double end = nt_now() + 3;

		common(ack, kport, port, 0, 0x18, kid);
		raw_send(fd, ack, sizeof(ack), 7 << 5);
		do {
			uhoma_metrics(st, &after);
			if (after.rpcs[UHOMA_RPCS_SERVER_OUTGOING] == 0)
				break;
			usleep(1000);
		} while (nt_now() < end);
		assert_int_equal(after.rpcs[UHOMA_RPCS_SERVER_OUTGOING], 0);
		assert_int_equal(after.drops[1], 0);   /* short */
	}

	/* A RESEND for an RPC it never had: RPC_UNKNOWN comes back. */
	{
		uint8_t rs[37];

		common(rs, kport, port, 0, 0x12, kid + 2);
		put32(rs + 28, 0);
		put32(rs + 32, 0xFFFFFFFFu);
		rs[36] = 6;
		raw_send(fd, rs, sizeof(rs), 7 << 5);
		n = raw_expect(fd, kport, 0x13, ip, got, sizeof(got));
		assert_int_equal(n, 28);
		common(want, port, kport, 0, 0x13, (kid + 2) ^ 1);
		assert_memory_equal(got, want, 28);
	}
	uhoma_close(s);
	uhoma_stack_destroy(st);
	close(claim);
	close(fd);
}

/* ---- ICMP, as the module speaks it -------------------------------------- */

/* The Internet checksum of @len bytes at @p (written independently of the
 * library's, to check it). */
static uint16_t csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | (i + 1 < len ? p[i + 1] : 0));
	while (sum >> 16)
		sum = (sum & 0xFFFF) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Counts the ICMP port unreachables on @icmp (a raw ICMP socket) for
 * packets from Homa port @sport to @dport within @ms (@dport < 0: to any,
 * and any too short to name its ports); the first one's bytes (ICMP
 * header on) into @first, if given. */
static int count_refusals(int icmp, uint16_t sport, int dport, int ms,
			  uint8_t *first, size_t *first_len)
{
	double end = nt_now() + ms / 1000.0;
	int n = 0;

	while (nt_now() < end) {
		struct pollfd pfd = { .fd = icmp, .events = POLLIN };
		uint8_t buf[2000];
		ssize_t len;
		size_t ihl, q;
		bool short_one;

		if (poll(&pfd, 1, 10) <= 0)
			continue;
		len = recv(icmp, buf, sizeof(buf), 0);
		if (len < 20)
			continue;
		ihl = (size_t)(buf[0] & 0xF) * 4;
		q = ihl + 8;                   /* the quoted IP header */
		if ((size_t)len < q + 20 || buf[ihl] != 3 ||
		    buf[ihl + 1] != 3 || buf[q + 9] != PROTO_HOMA)
			continue;
		q += 20;                       /* the quoted Homa packet */
		short_one = (size_t)len < q + 4;
		if (dport < 0 ? !short_one && (buf[q] << 8 | buf[q + 1]) != sport
			      : short_one ||
				(buf[q] << 8 | buf[q + 1]) != sport ||
				(buf[q + 2] << 8 | buf[q + 3]) != dport)
			continue;
		if (n++ == 0 && first) {
			*first_len = (size_t)len - ihl;
			memcpy(first, buf + ihl, *first_len);
		}
	}
	return n;
}

/* A Homa request of @len bytes (header included) from @sport to @dport. */
static void request_pkt(uint8_t *pkt, size_t len, uint16_t sport,
			uint16_t dport, uint64_t id)
{
	memset(pkt, 0, len);
	common(pkt, sport, dport, 0, 0x10, id);
	put32(pkt + 28, (uint32_t)(len - 56));
	put32(pkt + 32, (uint32_t)(len - 56));
}

/*
 * A stack bound to the wildcard address and one bound to 127.0.0.1 both
 * see a packet to 127.0.0.1 for a port nobody holds, and each may answer
 * for its own address: the wildcard's refuser leaves the packet to the
 * specific one, so the sender gets one refusal, as from the module.
 */
static void ipraw__one_refusal_with_wildcard_stack(void **state)
{
	const uint16_t kport = 42000 + (uint16_t)(getpid() % 1000);
	struct uhoma_stack *spec, *any;
	uint8_t req[56 + 40];
	uint16_t nobody;
	int fd, icmp;

	(void)state;
	NEED_RAW();
	raw_pair(&fd, &icmp);
	spec = ip_stack("127.0.0.1");
	any = ip_stack("0.0.0.0");
	assert_non_null(spec);
	assert_non_null(any);
	nobody = free_port(spec);
	/* Each stack takes its refuser name on the first foreign packet. */
	for (int i = 0; i < 3; i++) {
		request_pkt(req, sizeof(req), kport, nobody,
			    (uint64_t)(0x2000 + 2 * i));
		raw_send(fd, req, sizeof(req), 0);
		assert_int_equal(count_refusals(icmp, kport, nobody, 100, NULL,
						NULL), 1);
		usleep(12000);   /* past the refuser's retry interval */
	}
	uhoma_stack_destroy(any);
	uhoma_stack_destroy(spec);
	close(icmp);
	close(fd);
}

/*
 * A packet for a port no process holds, and a request to a socket that is
 * not a server, are answered with an ICMP port unreachable (IPv4 type 3
 * code 3) quoting the IP header and the packet, as the module answers.
 * Two stacks see each such packet; one answers. Answers are rate limited
 * (1,000 a second after a burst of 50).
 */
static void ipraw__refuses_like_the_module(void **state)
{
	const uint16_t kport = 41000 + (uint16_t)(getpid() % 1000);
	struct uhoma_stack *a, *b;
	struct uhoma_sock *client_only;
	uint8_t req[56 + 40], icmp_msg[2000];
	uint16_t nobody;
	size_t len = 0;
	int fd, icmp, n;
	double t0, elapsed_ms;

	(void)state;
	NEED_RAW();
	raw_pair(&fd, &icmp);
	a = ip_stack("127.0.0.1");
	b = ip_stack("127.0.0.1");
	assert_non_null(a);
	assert_non_null(b);
	nobody = free_port(a);
	request_pkt(req, sizeof(req), kport, nobody, 0x1000);
	raw_send(fd, req, sizeof(req), 0);
	n = count_refusals(icmp, kport, nobody, 300, icmp_msg, &len);
	assert_int_equal(n, 1);             /* one stack answered, once */
	/* ICMP header: type, code, a checksum that checks, 4 unused. */
	assert_true(len >= 8 + 20 + 8);
	assert_int_equal(csum(icmp_msg, len), 0);
	assert_int_equal(icmp_msg[0], 3);
	assert_int_equal(icmp_msg[1], 3);
	/* The quoted IP header: IPv4, protocol 146, our request's length
	 * and addresses, its own checksum right. */
	assert_int_equal(icmp_msg[8], 0x45);
	assert_int_equal(icmp_msg[8 + 9], PROTO_HOMA);
	assert_int_equal(icmp_msg[8 + 2] << 8 | icmp_msg[8 + 3],
			 20 + sizeof(req));
	assert_int_equal(csum(icmp_msg + 8, 20), 0);
	{
		uint8_t lo[4] = { 127, 0, 0, 1 };

		assert_memory_equal(icmp_msg + 8 + 12, lo, 4);
		assert_memory_equal(icmp_msg + 8 + 16, lo, 4);
	}
	/* Then the packet itself: at least the 8 bytes RFC 792 asks. */
	assert_memory_equal(icmp_msg + 28, req,
			    len - 28 < sizeof(req) ? len - 28 : sizeof(req));

	/* A request to a client-only socket: refused by its owner. */
	assert_int_equal(uhoma_socket(a, 0, &client_only), UHOMA_OK);
	request_pkt(req, sizeof(req), kport, uhoma_port(client_only), 0x1002);
	raw_send(fd, req, sizeof(req), 0);
	assert_int_equal(count_refusals(icmp, kport, uhoma_port(client_only),
					300, NULL, NULL), 1);

	/* A flood: answered at the burst, then 1 a millisecond. */
	usleep(100 * 1000);                 /* the bucket refills */
	t0 = nt_now();
	for (unsigned i = 0; i < 400; i++) {
		request_pkt(req, sizeof(req), kport, nobody, 0x2000 + 2u * i);
		raw_send(fd, req, sizeof(req), 0);
	}
	elapsed_ms = (nt_now() - t0) * 1000;
	n = count_refusals(icmp, kport, nobody, 200, NULL, NULL);
	print_message("    flood of 400 in %.1f ms: %d answers\n", elapsed_ms, n);
	assert_true(n >= 1);
	assert_true(n <= 50 + (int)elapsed_ms + 200 / 2);
	assert_true(n < 400);
	uhoma_close(client_only);
	uhoma_stack_destroy(a);
	uhoma_stack_destroy(b);
	close(icmp);
	close(fd);
}

/* Drops of reason @name counted by @st. */
static uint64_t drops_of(struct uhoma_stack *st, const char *name)
{
	struct uhoma_metrics m;

	uhoma_metrics(st, &m);
	for (unsigned i = 0; i < UHOMA_DROP_REASONS; i++)
		if (strcmp(uhoma_drop_name(i), name) == 0)
			return m.drops[i];
	fail_msg("no drop reason %s", name);
	return 0;
}

/*
 * A packet shorter than the common header (28 bytes) is dropped, as the
 * module drops it before it looks for a socket: counted (short), never
 * refused, whatever its first bytes say -- an empty one, one naming port
 * 0, one naming a port nobody holds (helper-40: ICMP for the last two,
 * and no count but for a held port's).
 */
static void ipraw__short_packets_counted_not_refused(void **state)
{
	const uint16_t kport = 43000 + (uint16_t)(getpid() % 1000);
	static const size_t lens[] = { 0, 3, 10, 27 };
	struct uhoma_stack *st;
	uint8_t pkt[28];
	uint16_t nobody;
	uint64_t before;
	unsigned sent = 0;
	int fd, icmp;

	(void)state;
	NEED_RAW();
	raw_pair(&fd, &icmp);
	st = ip_stack("127.0.0.1");
	assert_non_null(st);
	nobody = free_port(st);
	before = drops_of(st, "short");
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++)
		for (int which = 0; which < 2; which++) {
			memset(pkt, 0, sizeof(pkt));
			put16(pkt, kport);
			put16(pkt + 2, which ? nobody : 0);
			raw_send(fd, pkt, lens[k], 0);
			sent++;
		}
	/* No refusal quotes any of them back. */
	assert_int_equal(count_refusals(icmp, kport, -1, 200, NULL, NULL), 0);
	assert_int_equal(drops_of(st, "short") - before, sent);
	uhoma_stack_destroy(st);
	close(icmp);
	close(fd);
}

/* An RPC outstanding from a client on stack @cli to @port (a server that
 * never answers); returns its id. */
static uint64_t outstanding(struct uhoma_sock *cli, const char *addr,
			    uint16_t port)
{
	struct sockaddr_storage to;
	size_t to_len;
	uint64_t id;
	uint8_t b[10] = { 0 };

	nt_sockaddr(addr, port, &to, &to_len);
	assert_int_equal(uhoma_send(cli, (struct sockaddr *)&to, to_len, b,
				    sizeof(b), 0, 0, &id), UHOMA_OK);
	return id;
}

/* Plays a router: an ICMP destination unreachable of @code for a Homa
 * packet from 127.0.0.1 port @sport to 127.0.0.1 port @dport. */
static void router_says(int icmp, uint8_t code, uint16_t sport,
			uint16_t dport)
{
	uint8_t m[8 + 20 + 28];
	struct sockaddr_in to = { .sin_family = AF_INET };
	uint16_t c;

	memset(m, 0, sizeof(m));
	m[0] = 3;
	m[1] = code;
	m[8] = 0x45;
	put16(m + 8 + 2, 20 + 28);
	m[8 + 8] = 64;
	m[8 + 9] = PROTO_HOMA;
	inet_pton(AF_INET, "127.0.0.1", m + 8 + 12);
	inet_pton(AF_INET, "127.0.0.1", m + 8 + 16);
	c = csum(m + 8, 20);
	put16(m + 8 + 10, c);
	common(m + 28, sport, dport, 0, 0x10, 2);
	c = csum(m, sizeof(m));
	put16(m + 2, c);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	assert_int_equal(sendto(icmp, m, sizeof(m), 0, (struct sockaddr *)&to,
				sizeof(to)), (ssize_t)sizeof(m));
}

/* The waiting RPC @id of @s fails with @err within 50 ms. */
static void fails_with(struct uhoma_sock *s, uint64_t id, int err)
{
	struct uhoma_msg m;
	double t0 = nt_now();

	memset(&m, 0, sizeof(m));
	assert_int_equal(uhoma_recv(s, &m, 0, 2 * 1000000000ll), err);
	assert_true(m.id == id);
	assert_true(nt_now() - t0 < 0.05);
}

/*
 * ICMP errors fail the RPCs they name, as the module's homa_err_handler
 * does: a port unreachable those to that port (UHOMA_ERR_NOT_CONNECTED,
 * ENOTCONN), a protocol unreachable (the host has no Homa) and any other
 * destination unreachable those to that host (PROTO_NOT_SUPPORTED,
 * HOST_UNREACHABLE) -- well within the RPC timeout, over both families.
 */
static void ipraw__icmp_fails_rpcs(void **state)
{
	static const char *addrs[] = { "127.0.0.1", "::1" };
	struct uhoma_stack *a, *b;
	struct uhoma_sock *srv, *cli, *client_only;
	uint16_t nobody;
	int icmp;

	(void)state;
	NEED_RAW();
	for (unsigned f = 0; f < 2; f++) {
		a = ip_stack(addrs[f]);
		if (!a && f == 1) {
			print_message("    no IPv6 loopback: IPv4 only\n");
			break;
		}
		b = ip_stack(addrs[f]);
		assert_non_null(a);
		assert_non_null(b);
		assert_int_equal(uhoma_socket(a, 0, &client_only), UHOMA_OK);
		assert_int_equal(uhoma_socket(b, 0, &cli), UHOMA_OK);
		nt_buffers(cli, NT_REGION);
		nobody = free_port(a);
		fails_with(cli, outstanding(cli, addrs[f], nobody),
			   UHOMA_ERR_NOT_CONNECTED);
		fails_with(cli, outstanding(cli, addrs[f],
					    uhoma_port(client_only)),
			   UHOMA_ERR_NOT_CONNECTED);
		uhoma_close(client_only);
		uhoma_close(cli);
		uhoma_stack_destroy(a);
		uhoma_stack_destroy(b);
	}

	/* Routers' words, forged here over IPv4. */
	icmp = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	assert_true(icmp >= 0);
	a = ip_stack("127.0.0.1");
	b = ip_stack("127.0.0.1");
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(uhoma_socket(a, (uint16_t)(2000 + getpid() % 20000),
				      &srv), UHOMA_OK);
	nt_buffers(srv, NT_REGION);        /* it never answers */
	assert_int_equal(uhoma_socket(b, 0, &cli), UHOMA_OK);
	nt_buffers(cli, NT_REGION);
	{
		static const struct { uint8_t code; int err; } says[] = {
			{ 2, UHOMA_ERR_PROTO_NOT_SUPPORTED },
			{ 1, UHOMA_ERR_HOST_UNREACHABLE },
			{ 13, UHOMA_ERR_HOST_UNREACHABLE },  /* prohibited */
		};

		for (unsigned i = 0; i < UH_ARRAY_SIZE(says); i++) {
			uint64_t id = outstanding(cli, "127.0.0.1",
						  uhoma_port(srv));

			usleep(10 * 1000);
			/* Names another port: the whole host is meant. */
			router_says(icmp, says[i].code, uhoma_port(cli),
				    (uint16_t)(uhoma_port(srv) + 1));
			fails_with(cli, id, says[i].err);
		}
	}
	/* (Fragmentation needed, code 4, is path MTU news that uhoma
	 * ignores; forging one would lower the host's path MTU to the
	 * address for ten minutes, so it is not tried here.) */
	uhoma_close(cli);
	uhoma_close(srv);
	uhoma_stack_destroy(a);
	uhoma_stack_destroy(b);
	close(icmp);
}

/*
 * A server on one stack holding a 10-byte request from a client socket on
 * another (both raw IP on 127.0.0.1): the state the two tests below start
 * from. *@held is the request as the server took it; returns its id.
 */
struct held_pair {
	struct uhoma_stack *a, *b;
	struct uhoma_sock *srv, *cli;
	struct uhoma_msg held;
};

static uint64_t hold_one_request(struct held_pair *hp, uint16_t srv_port)
{
	struct sockaddr_storage to;
	size_t to_len;
	uint8_t body[10] = { 7 };
	uint64_t id;

	hp->a = ip_stack("127.0.0.1");
	hp->b = ip_stack("127.0.0.1");
	assert_non_null(hp->a);
	assert_non_null(hp->b);
	assert_int_equal(uhoma_socket(hp->a, srv_port, &hp->srv), UHOMA_OK);
	nt_buffers(hp->srv, NT_REGION);
	assert_int_equal(uhoma_socket(hp->b, 0, &hp->cli), UHOMA_OK);
	nt_buffers(hp->cli, NT_REGION);
	nt_sockaddr("127.0.0.1", srv_port, &to, &to_len);
	assert_int_equal(uhoma_send(hp->cli, (struct sockaddr *)&to, to_len,
				    body, sizeof(body), 0, 0, &id), UHOMA_OK);
	memset(&hp->held, 0, sizeof(hp->held));
	assert_int_equal(uhoma_recv(hp->srv, &hp->held, 0,
				    2 * 1000000000ll), (int)sizeof(body));
	return id;
}

/*
 * Every raw protocol-146 socket on the host gets a copy of each ICMP error
 * quoting a protocol-146 packet between its addresses. A stack acts only
 * on errors about packets it sent: here a third party (the test, from a
 * port of its own) sends a request to a client-only socket, which refuses
 * it; the server stack, holding a request from that same socket, must not
 * take the refusal for news that its client is gone (helper-8: it ended
 * the RPC, and the client timed out).
 */
static void ipraw__others_icmp_ends_nothing(void **state)
{
	const uint16_t kport = 42000 + (uint16_t)(getpid() % 1000);
	struct held_pair hp;
	struct uhoma_msg m;
	uint8_t req[56 + 20], body[10] = { 1, 2, 3 };
	uint64_t id;
	int fd, claim;

	(void)state;
	NEED_RAW();
	fd = socket(AF_INET, SOCK_RAW, PROTO_HOMA);
	assert_true(fd >= 0);
	claim = hold_port(kport);       /* a process of its own, as it were */
	id = hold_one_request(&hp, (uint16_t)(3000 + getpid() % 20000));
	/* The server holds it. Someone else writes to the client's port. */
	request_pkt(req, sizeof(req), kport, uhoma_port(hp.cli), 0x3000);
	raw_send(fd, req, sizeof(req), 0);
	usleep(30 * 1000);
	assert_int_equal(uhoma_reply(hp.srv, (struct sockaddr *)&hp.held.peer,
				     hp.held.peer_len, hp.held.id, body,
				     sizeof(body)), UHOMA_OK);
	uhoma_msg_release(hp.srv, &hp.held);
	memset(&m, 0, sizeof(m));
	assert_int_equal(uhoma_recv(hp.cli, &m, 0, 2 * 1000000000ll),
			 (int)sizeof(body));
	assert_true(m.id == id);
	uhoma_msg_release(hp.cli, &m);
	uhoma_close(hp.cli);
	uhoma_close(hp.srv);
	uhoma_stack_destroy(hp.a);
	uhoma_stack_destroy(hp.b);
	close(claim);
	close(fd);
}

/*
 * A server that closes its socket with a client's request in hand: the
 * client's next RESENDs reach a port nobody holds, and it fails with
 * NOT_CONNECTED (the module's ENOTCONN) well within its timeout -- not
 * TIMEDOUT at it (helper-8: the cache of ports held elsewhere trusted an
 * entry for as long as the timeout, so the refusal raced it).
 */
static void ipraw__closed_server_refuses_waiting_client(void **state)
{
	struct held_pair hp;
	struct uhoma_msg m;
	uint64_t id;
	double t0;

	(void)state;
	NEED_RAW();
	id = hold_one_request(&hp, (uint16_t)(4000 + getpid() % 20000));
	/* Held a while: the client's RESENDs draw BUSYs, and the port is
	 * seen held by whoever answers for the host. */
	usleep(30 * 1000);
	uhoma_close(hp.srv);
	t0 = nt_now();
	memset(&m, 0, sizeof(m));
	assert_int_equal(uhoma_recv(hp.cli, &m, 0, 2 * 1000000000ll),
			 UHOMA_ERR_NOT_CONNECTED);
	assert_true(m.id == id);
	print_message("    refused %.1f ms after the close\n",
		      (nt_now() - t0) * 1000);
	assert_true(nt_now() - t0 < 0.06);
	uhoma_close(hp.cli);
	uhoma_stack_destroy(hp.a);
	uhoma_stack_destroy(hp.b);
}

/*
 * The client, in a process of its own, sends a request and is killed
 * before the answer. What the server sends its port is refused (ICMP port
 * unreachable), and the server's RPC ends well within the timeout, counted
 * in port_unreachable and never shown to the server application, as the
 * module ends it (homa_rpc_abort of a server RPC). With @server_refuses,
 * the server stack answers for the host (it refuses its own packets);
 * else the client stack took that role and died with it.
 *
 * Either way the response's first packets went unrefused: the refuser
 * had seen the client's port held, when the server's CUTOFFS went to it,
 * and trusts that for 10 ms; a server that is not the refuser tries for
 * the name at most every 10 ms, and tried at that CUTOFFS. A short
 * response was refused at its third NEED_ACK (18 ms); one that waits for
 * grants sent nothing more and lived its ten timeouts (1 s) until the
 * server probed its client while it waits.
 */
static void dead_client(bool server_refuses, size_t resp_len, uint16_t port)
{
	struct uhoma_stack *a;
	struct uhoma_sock *srv;
	struct uhoma_metrics before, m;
	struct uhoma_msg req;
	uint8_t body[10] = { 9 }, *resp = calloc(1, resp_len);
	int ready[2], go[2], status;
	double t0, end;
	pid_t pid;
	char c;

	/* The client process first, while this one has no stack and so no
	 * thread of its own (a process forked from a threaded one must not
	 * start threads under ThreadSanitizer); it starts its stack when
	 * told to. */
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct uhoma_stack *b;
		struct uhoma_sock *cli;
		struct sockaddr_storage to;
		size_t to_len;
		uint64_t id;

		close(ready[0]);
		close(go[1]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (read(go[0], &c, 1) != 1)
			_exit(9);
		b = ip_stack("127.0.0.1");
		if (!b || uhoma_socket(b, 0, &cli) != UHOMA_OK)
			_exit(10);
		nt_buffers(cli, NT_REGION);
		nt_sockaddr("127.0.0.1", port, &to, &to_len);
		if (uhoma_send(cli, (struct sockaddr *)&to, to_len, body,
			       sizeof(body), 0, 0, &id) != UHOMA_OK)
			_exit(11);
		if (write(ready[1], "r", 1) != 1)
			_exit(12);
		pause();           /* until killed, its RPC outstanding */
		_exit(13);
	}
	close(ready[1]);
	close(go[0]);
	a = ip_stack("127.0.0.1");
	assert_non_null(a);
	assert_int_equal(uhoma_socket(a, port, &srv), UHOMA_OK);
	nt_buffers(srv, NT_REGION);
	if (server_refuses) {
		/* A request for a port nobody holds: only stack a sees it,
		 * and answers for the host from then on. */
		uint8_t pkt[56 + 10];
		uint16_t nobody = free_port(a);
		int fd, icmp;

		raw_pair(&fd, &icmp);
		request_pkt(pkt, sizeof(pkt), port, nobody, 0x4000);
		raw_send(fd, pkt, sizeof(pkt), 0);
		assert_int_equal(count_refusals(icmp, port, nobody, 100, NULL,
						NULL), 1);
		close(icmp);
		close(fd);
	}
	assert_int_equal(write(go[1], "g", 1), 1);
	close(go[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	memset(&req, 0, sizeof(req));
	assert_int_equal(uhoma_recv(srv, &req, 0, 2 * 1000000000ll),
			 (int)sizeof(body));
	/* Counted from before the kill: on a loaded machine a packet the
	 * server sent the client before its reply (CUTOFFS) may already
	 * draw the refusal that ends the RPC, and the reply then finds it
	 * gone. */
	uhoma_metrics(a, &before);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	t0 = nt_now();
	assert_int_equal(uhoma_reply(srv, (struct sockaddr *)&req.peer,
				     req.peer_len, req.id, resp, resp_len),
			 UHOMA_OK);
	uhoma_msg_release(srv, &req);
	end = t0 + 2;
	do {
		uhoma_metrics(a, &m);
		if (m.rpcs[UHOMA_RPCS_SERVER_OUTGOING] == 0)
			break;
		usleep(500);
	} while (nt_now() < end);
	print_message("    %zu-byte response: server RPC gone %.1f ms after "
		      "the reply (%s)\n", resp_len, (nt_now() - t0) * 1000,
		      m.rpc_timeouts > before.rpc_timeouts ? "timed out"
		      : m.port_unreachable > before.port_unreachable
		      ? "refused" : "?");
	assert_int_equal(m.rpcs[UHOMA_RPCS_SERVER_OUTGOING], 0);
	assert_true(nt_now() - t0 < 0.1);
	assert_true(m.port_unreachable > before.port_unreachable);
	assert_int_equal(m.rpc_timeouts, before.rpc_timeouts);
	/* Nothing for the server application: the next receive waits. */
	memset(&req, 0, sizeof(req));
	assert_int_equal(uhoma_recv(srv, &req, 0, 20 * 1000000ll),
			 UHOMA_ERR_AGAIN);
	uhoma_close(srv);
	uhoma_stack_destroy(a);
	free(resp);
}

static void ipraw__dead_client_ends_server_rpc(void **state)
{
	(void)state;
	NEED_RAW();
	dead_client(false, 10, (uint16_t)(5000 + getpid() % 20000));
	dead_client(false, 100000, (uint16_t)(5001 + getpid() % 20000));
}

static void ipraw__dead_client_ends_server_rpc_server_refuses(void **state)
{
	(void)state;
	NEED_RAW();
	dead_client(true, 10, (uint16_t)(5002 + getpid() % 20000));
	dead_client(true, 100000, (uint16_t)(5003 + getpid() % 20000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(ipraw__two_stacks_ipv4),
		UH_TEST(ipraw__two_stacks_ipv6),
		UH_TEST(ipraw__speaks_the_module_wire_format),
		UH_TEST(ipraw__refuses_like_the_module),
		UH_TEST(ipraw__one_refusal_with_wildcard_stack),
		UH_TEST(ipraw__short_packets_counted_not_refused),
		UH_TEST(ipraw__icmp_fails_rpcs),
		UH_TEST(ipraw__others_icmp_ends_nothing),
		UH_TEST(ipraw__closed_server_refuses_waiting_client),
		UH_TEST(ipraw__dead_client_ends_server_rpc),
		UH_TEST(ipraw__dead_client_ends_server_rpc_server_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
