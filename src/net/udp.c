/*
 * udp.c - the UDP carrier: each uhoma socket owns a UDP socket bound to
 * its port; the Homa header is the first bytes of each UDP payload.
 *
 * Ports live in a table indexed by port number (for send) and in one
 * waitset (for sleeping receivers: ppoll while the sockets are few, epoll
 * once they are many, waitset.h). Closing a port must not free it under a
 * thread that got it from a wait: receivers hold an RCU read section
 * across the wait and the processing of its events, and close_port unlinks
 * the port, kicks the receivers and waits a grace period before closing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/filter.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/stack.h"
#include "core/wire.h"
#include "net/carriers.h"
#include "net/claim.h"
#include "net/icmp.h"
#include "net/iface.h"
#include "net/ownfd.h"
#include "net/waitset.h"
#include "sync/lock.h"
#include "sync/rcu.h"
#include "uhoma/uhoma.h"

#define UDP_BATCH 16
#define UDP_SOCKBUF (4 << 20)
#define UDP_MAX_PAYLOAD 65507    /* 65535 - IPv4 and UDP headers */
#define GSO_MAX_BYTES 65000      /* one GSO send stays under 64 KiB */
#define GSO_MAX_SEGS 64
#define BULK_BYTES (64 << 10)  /* a bulk-lane read copies at most this
				  * much before the urgent lane is read
				  * again */
#define BULK_SKIP 7              /* see recv_port */
#define POLL_DIRECT 4            /* polls read up to this many ports
				  * directly instead of asking epoll */

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

static UH_LOCK_CLASS(open_class, "udp.ports", UH_RANK_LEAF, UH_LC_LEAF);
static UH_LOCK_CLASS(bulk_class, "udp.bulk", UH_RANK_LANE, UH_LC_SLEEPS);

/*
 * A port's sockets. With lanes, the kernel steers each datagram by its
 * priority: at or above the carrier's urgent_prio to @ufd, below it to
 * @fd. Receivers drain @ufd first, so a short message or a grant does not
 * queue behind scheduled data already in @fd: the strict-priority queue a
 * switch port would give it, which one FIFO socket cannot.
 */
struct udp_port {
	int fd;          /* immutable; closed after a grace period; sends */
	int ufd;         /* immutable (-1: one lane); closed with @fd */
	int gfd;         /* immutable (-1: none): the port held on the
			  * wildcard address (open_guard); closed with @fd */
	int cfd;         /* immutable (-1: none): our host-wide claim of
			  * the port on our address (claim_port); closed
			  * with @fd */
	uint16_t port;   /* immutable */
	bool tos_set;    /* immutable: @fd's own TOS / traffic class is
			  * DEFAULT_PRIO's (default_tos) */
	_Atomic uint32_t bulk_skip; /* polls that skip an idle bulk lane:
				     * relaxed, a hint; counted down by
				     * load and store, so racing pollers
				     * never wrap it */
	_Atomic bool bulk_yielded;  /* the last busy poll left the bulk
				     * lane to urgent packets: relaxed, a
				     * hint */
	struct uh_lock bulk_lock;   /* class udp.bulk (sleeps): readers of
				     * @fd take turns, so that nothing takes
				     * a datagram between its peek and its
				     * landing (recv_bulk) */
	_Atomic bool errq;          /* a send took @fd's pending ICMP error
				     * (sent_error): its details wait in the
				     * error queue for the next reader, who
				     * clears this (exchange) */
};

struct udp_carrier {
	struct uh_carrier c;                 /* first */
	int family;                          /* immutable */
	struct sockaddr_storage bind_ss;     /* immutable (port 0) */
	socklen_t bind_len;
	bool any;                            /* bound to the wildcard */
	bool gso;                            /* immutable: use UDP_SEGMENT */
	uint32_t cfg_mtu;                    /* immutable: cfg.mtu (0: each
					      * route's) */
	uint16_t port_offset;                /* immutable: Homa port P is UDP
					      * port P + port_offset */
	bool landing;                        /* immutable: cfg.landing */
	struct uh_waitset ws;                /* its own locking */
	struct udp_port *_Atomic ports[65536]; /* RCU: set at open, cleared
						* at close */
	struct uh_lock open_lock;            /* class udp.ports (leaf):
					      * serializes updates of the
					      * direct-poll list */
	struct udp_port *_Atomic open[POLL_DIRECT]; /* RCU: the open ports
						 * while few, for polls */
	_Atomic int nopen;                   /* open ports (open_lock) */
	_Atomic unsigned next_first;         /* where the next receive starts
					      * among the ready ports (relaxed) */
	/* udp_queued's sweep of the port table (the timer thread only). */
	uint32_t scan_next;                  /* the next slot to look at */
	uint64_t scan_max, scan_last;        /* this sweep's, the last one's */
};

static struct udp_carrier *udp_of(struct uh_carrier *c)
{
	return (struct udp_carrier *)(void *)c;
}

/*
 * What the waitset reports for a port: its number, never its address. A
 * receiver sleeps outside any RCU read section (a sleeping reader would hold
 * up every grace period, and so every close), so a port may be closed and
 * freed while it sleeps; the number is looked up again afterwards, inside a
 * read section. Bound ports are never 0, so a token is never NULL (the
 * waitset's kick).
 */
#define LANE_URGENT 1u
#define LANE_BULK 2u

static void *port_token(uint16_t port, unsigned lane)
{
	return (void *)(((uintptr_t)lane << 16) | port);
}

static uint16_t token_port(const void *token)
{
	return (uint16_t)(uintptr_t)token;
}

/* Which lane's socket the waitset found readable (both when polling). */
static unsigned token_lane(const void *token)
{
	return (unsigned)((uintptr_t)token >> 16);
}

/*
 * Opens one UDP socket of a port, configured for receive and send, and
 * binds it to @*port (0: the kernel picks; written back). @reuse joins the
 * port's SO_REUSEPORT group. Returns the fd or a uhoma error (< 0).
 */
static int bind_port(const struct udp_carrier *u, int fd,
		     struct sockaddr_storage *ss, socklen_t len, uint16_t port)
{
	if (u->family == AF_INET)
		((struct sockaddr_in *)(void *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)(void *)ss)->sin6_port = htons(port);
	return bind(fd, (struct sockaddr *)ss, len);
}

/*
 * Binds @fd to Homa port @*port: UDP port @*port + port_offset. Port 0
 * asks for any free port at or above 0x8000 (written back): the kernel's
 * choice without an offset; with one, a free UDP port in [0x8000 + offset,
 * 65535] tried from a random start. 0 or -1 with errno.
 */
static int bind_homa_port(const struct udp_carrier *u, int fd,
			  uint16_t *port)
{
	struct sockaddr_storage ss = u->bind_ss;
	socklen_t len = u->bind_len;
	uint32_t lo = 0x8000u + u->port_offset, n = 65536u - lo, start;

	if (*port)
		return bind_port(u, fd, &ss, len,
				 (uint16_t)(*port + u->port_offset));
	if (u->port_offset == 0) {
		if (bind_port(u, fd, &ss, len, 0) < 0)
			return -1;
		len = sizeof(ss);
		getsockname(fd, (struct sockaddr *)&ss, &len);
		*port = ntohs(u->family == AF_INET
			      ? ((struct sockaddr_in *)(void *)&ss)->sin_port
			      : ((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
		return 0;
	}
	start = (uint32_t)random();
	for (uint32_t i = 0; i < n; i++) {
		uint16_t udp = (uint16_t)(lo + (start + i) % n);

		if (bind_port(u, fd, &ss, len, udp) == 0) {
			*port = (uint16_t)(udp - u->port_offset);
			return 0;
		}
		if (errno != EADDRINUSE)
			return -1;
	}
	errno = EADDRINUSE;
	return -1;
}

/* The bytes a socket's receive queue gets when it asks for UDP_SOCKBUF
 * (rmem_max may give less; the kernel reports its doubled figure, the
 * one it charges datagrams' whole buffers against). 0 if unknown. */
static uint32_t probe_rcvbuf(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int size = UDP_SOCKBUF, got = 0;
	socklen_t len = sizeof(got);

	if (fd < 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) ||
	    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) || got < 0)
		got = 0;
	uh_fd_close(fd);
	return (uint32_t)got;
}

static int open_fd(const struct udp_carrier *u, uint16_t *port, bool reuse)
{
	int fd, one = 1, zero = 0, size = UDP_SOCKBUF, e;

	fd = uh_fd_own(socket(u->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			       0));
	if (fd < 0)
		return uh_net_error(errno);
	if (u->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, u->any ? &zero : &one,
			   sizeof(int));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	/* Our own GSO sends coalesce back on receive; without GRO the
	 * receive queue drops most of them (machine-floor.md). */
	if (u->gso)
		setsockopt(fd, IPPROTO_UDP, UDP_GRO, &one, sizeof(one));
	/* ICMP port unreachable for what we send: to the error queue, so
	 * that a request to a port nobody listens on fails at once
	 * (UHOMA_ERR_NOT_CONNECTED), as the module's does, not after the
	 * timeout. IP_RECVERR also covers a dual-stack socket's IPv4. */
	setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	if (u->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
	/* Priorities arrive in TOS / traffic class: ask to see them (on a
	 * dual-stack socket both, since its IPv4 peers' packets carry TOS). */
	if (u->family == AF_INET || u->any)
		setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one));
	if (u->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof(one));
	if (reuse &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		e = errno;
		uh_fd_close(fd);
		return uh_net_error(e);
	}
	if (bind_homa_port(u, fd, port) < 0) {
		e = errno;
		uh_fd_close(fd);
		return uh_net_error(e);
	}
	return fd;
}

/*
 * The lane filter, run by the kernel on each datagram for the port's
 * SO_REUSEPORT group (bulk socket = index 0, urgent = index 1). It reads
 * the priority from the IP header (the payload starts at the Homa header):
 * IPv4 TOS >> 5, or the top three bits of the IPv6 traffic class, which
 * are bits 3..1 of the header's first byte.
 */
static int attach_lanes(int fd, uint8_t urgent_prio)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)SKF_NET_OFF),
		BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 4, 0, 3),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)SKF_NET_OFF + 1),
		BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 5),
		BPF_JUMP(BPF_JMP | BPF_JA, 3, 0, 0),
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)SKF_NET_OFF),
		BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 1),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 7),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, urgent_prio, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { sizeof(code) / sizeof(code[0]), code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
			  sizeof(prog));
}

/* A reuse-port group filter that gives every datagram to index 0: the
 * one socket of a port without lanes. */
static int attach_one(int fd)
{
	struct sock_filter code = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = { 1, &code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
			  sizeof(prog));
}

/*
 * Opens @*port's sockets: with lanes, a bulk and an urgent socket in one
 * SO_REUSEPORT group steered by priority; else one socket, in a group of
 * its own when the port must also be held on the wildcard address
 * (open_guard: our own sockets must be reuse-port to share the port with
 * it). Where the kernel refuses SO_REUSEPORT, a second socket or the
 * filter, one socket (and *@shared false: no guard can share the port).
 * Where only the filter is refused, the lone socket stays in its group: a
 * same-user reuse-port bind could then share its datagrams.
 *
 * SO_REUSEPORT alone would let a second bind of a busy port succeed (and
 * an ephemeral bind land on another group of the same user), so a plain
 * socket claims the port first: its bind fails on any port in use, and it
 * yields the port to the group right after. Another reuse-port bind of
 * the same user within that instant could still slip in; it would get no
 * packets (the filter only returns our indexes). An explicit port of a
 * stack bound to one address is @claimed host-wide instead (claim_port):
 * the plain bind would fail on another of our stacks' guard, on another
 * address.
 */
/* Ticks of 1 ms a port's opening waits for another process's (which
 * takes microseconds) before it says the port is in use. */
#define OPENING_WAIT_MS 200

/*
 * Serializes the opening of UDP port @udp among the host's uhoma stacks:
 * a wildcard stack's test bind and claim, and a one-address stack's claim
 * check and binds, interleaved, let both have the port (helper-20: 36 of
 * 40 simultaneous starts). Returns the claim's socket (closed to let go)
 * or a uhoma error.
 */
static int opening_lock(uint16_t udp)
{
	char name[64];
	int fd = -EADDRINUSE;

	snprintf(name, sizeof(name), "uhoma/udp/opening/%u", udp);
	for (int i = 0; i < OPENING_WAIT_MS && fd == -EADDRINUSE; i++) {
		struct timespec ms = { 0, 1000000 };

		fd = uh_claim(name);
		if (fd == -EADDRINUSE)
			nanosleep(&ms, NULL);
	}
	return fd >= 0 ? fd : uh_net_error(-fd);
}

static int open_lanes(const struct udp_carrier *u, uint16_t *port,
		      bool claimed, int *bulk, int *urgent, bool *shared,
		      int *opening)
{
	int probe = claimed ? -1 : open_fd(u, port, false), fd;
	bool lanes = u->c.urgent_prio != 0;

	*urgent = -1;
	*shared = false;
	if (probe >= 0) {
		/* The port is ours against every bind while the probe holds
		 * it: the rest of its opening happens under the lock. */
		*opening = opening_lock((uint16_t)(*port + u->port_offset));
		if (*opening < 0) {
			uh_fd_close(probe);
			return *opening;
		}
	}
	if (!claimed && (probe < 0 || (!lanes && u->any))) {
		*bulk = probe;
		return probe < 0 ? probe : UHOMA_OK;
	}
	if (probe >= 0)
		uh_fd_close(probe);
	fd = open_fd(u, port, true);
	if (fd < 0) {
		/* No SO_REUSEPORT here (or the port was taken meanwhile):
		 * one socket, as with lanes off. */
		fd = open_fd(u, port, false);
		if (fd < 0)
			return fd;
		*bulk = fd;
		return UHOMA_OK;
	}
	*bulk = fd;
	*shared = true;
	if (!lanes) {
		(void)attach_one(fd);
		return UHOMA_OK;
	}
	*urgent = open_fd(u, port, true);
	if (*urgent >= 0 && attach_lanes(fd, u->c.urgent_prio) < 0) {
		uh_fd_close(*urgent);
		*urgent = -1;
	}
	if (*urgent < 0)
		*urgent = -1;     /* an error code means: no second lane */
	return UHOMA_OK;
}

/*
 * The priority most packets leave with under the default 8 levels:
 * control packets and the shortest messages. The sending socket carries
 * its TOS / traffic class as its own, so that packets at that level need
 * no control message (the kernel parses one per datagram: 0.1 us of a
 * 2.1 us loopback send here); the others still carry theirs.
 */
#define DEFAULT_PRIO 7

/* Makes DEFAULT_PRIO's the socket @fd's own; whether it took. A
 * dual-stack socket's IPv4 peers are reached through the IPv4 path, which
 * reads IP_TOS, its IPv6 peers through IPV6_TCLASS: it needs both. */
static bool default_tos(const struct udp_carrier *u, int fd)
{
	int tos = DEFAULT_PRIO << 5;
	bool ok = true;

	if (u->family == AF_INET || u->any)
		ok = setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)) == 0;
	if (u->family == AF_INET6)
		ok = ok && setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos,
				      sizeof(tos)) == 0;
	return ok;
}

/*
 * A stack bound to one address (not the wildcard) also holds its port on
 * the wildcard address, in a socket that drops whatever reaches it. Else
 * another user's process could bind a second local address on the same
 * port (127.0.0.2:P next to 127.0.0.1:P: no conflict) and send with
 * IP_PKTINFO / IPV6_PKTINFO naming our address as the source: its
 * datagrams would come from our address *and* port, the one thing the
 * core trusts a datagram's sender not to choose (design.md, "Source
 * ports"; helper-18 forged responses, requests and acks that way). The
 * kernel refuses any bind that overlaps a wildcard one, but for the same
 * user's SO_REUSEPORT sockets -- so this socket is one too (and so are
 * ours: open_lanes), and several stacks of one user on different
 * addresses may share a port. Returns
 * the fd, or a uhoma error (UHOMA_ERR_ADDR_IN_USE: another user holds the
 * port on some address).
 */
static int open_guard(const struct udp_carrier *u, uint16_t port)
{
	struct sock_filter drop = BPF_STMT(BPF_RET | BPF_K, 0);
	struct sock_fprog prog = { 1, &drop };
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, small = 1, e;

	memset(&ss, 0, sizeof(ss));
	if (u->family == AF_INET) {
		ss.ss_family = AF_INET;
		len = sizeof(struct sockaddr_in);
	} else {
		ss.ss_family = AF_INET6;
		len = sizeof(struct sockaddr_in6);
	}
	fd = uh_fd_own(socket(u->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			       0));
	if (fd < 0)
		return uh_net_error(errno);
	if (u->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
		       sizeof(prog)) < 0 ||
	    bind_port(u, fd, &ss, len,
		      (uint16_t)(port + u->port_offset)) < 0) {
		e = errno;
		uh_fd_close(fd);
		return uh_net_error(e);
	}
	return fd;
}

/* The host-wide name of UDP port @udp on @addr ("any": the wildcard of
 * @v4's family). */
static void claim_name_of(const struct uh_addr *addr, bool any, bool v4,
			  uint16_t udp, char *buf, size_t size)
{
	char a[64] = "";

	if (!any)
		uh_addr_format(addr, a, sizeof(a));
	snprintf(buf, size, "uhoma/udp/%s/%u",
		 any ? (v4 ? "any4" : "any6") : a, udp);
}

/* The same on @u's own address. */
static void claim_name(const struct udp_carrier *u, bool any, bool v4,
		       uint16_t udp, char *buf, size_t size)
{
	claim_name_of(&u->c.local, any, v4, udp, buf, size);
}

/*
 * Whether a uhoma stack on this host holds Homa port @port at @addr (one
 * of this host's): every stack that opens a UDP port claims it host-wide
 * (claim_port) -- on its address, or on the wildcard of its family -- and
 * a claim lives exactly as long as its process. The claims are only
 * looked at (a connection, refused where nobody holds the name), never
 * taken: a server opening the port that instant is not in the way.
 */
static int udp_port_held(struct uh_carrier *c, const struct uh_addr *addr,
			 uint16_t port)
{
	static const struct {
		bool any, v4;
	} names[] = { { true, true }, { true, false }, { false, false } };
	struct udp_carrier *u = udp_of(c);
	uint32_t udp = (uint32_t)port + u->port_offset;
	char name[128];
	bool unsure = false;

	if (udp > 65535)
		return -1;
	/* The wildcard of either family (a dual-stack "::" covers IPv4
	 * too), then @addr itself (v4 says nothing for it). */
	for (unsigned k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		int r;

		claim_name_of(addr, names[k].any, names[k].v4, (uint16_t)udp,
			      name, sizeof(name));
		r = uh_claim_probe(name);
		if (r == 1)
			return 1;
		unsure |= r < 0;
	}
	return unsure ? -1 : 0;
}

/*
 * Claims UDP port @udp host-wide for @u's address: another uhoma stack
 * on that address, or on the wildcard (of either family: a dual-stack
 * "::" covers IPv4 too), holds it already -> UHOMA_ERR_ADDR_IN_USE. A
 * wildcard stack claims its "any" name, its plain bind having refused
 * every other holder. Returns the claim's socket or a uhoma error.
 */
static int claim_port(const struct udp_carrier *u, uint16_t udp)
{
	char name[128];
	int fd;

	if (!u->any) {
		for (int v4 = 0; v4 < 2; v4++) {
			int held;

			claim_name(u, true, v4, udp, name, sizeof(name));
			held = uh_claim_probe(name);
			/* No descriptor to ask with is not a port in use. */
			if (held < 0 && (errno == EMFILE || errno == ENFILE))
				return UHOMA_ERR_NO_FILES;
			if (held != 0)   /* held, or cannot tell: say so */
				return UHOMA_ERR_ADDR_IN_USE;
		}
	}
	claim_name(u, u->any, u->family == AF_INET, udp, name, sizeof(name));
	fd = uh_claim(name);
	return fd >= 0 ? fd : uh_net_error(-fd);
}

static void close_fds(int fd, int ufd, int gfd, int cfd)
{
	uh_fd_close(fd);
	if (ufd >= 0)
		uh_fd_close(ufd);
	if (gfd >= 0)
		uh_fd_close(gfd);
	if (cfd >= 0)
		uh_fd_close(cfd);
}

static void udp_close_port(struct uh_carrier *c, uint16_t port);

/* Tries for a free automatic port this often when the guard finds one
 * taken on another address. */
#define GUARD_TRIES 8

/*
 * A port's sockets: its lanes; for a stack bound to one address, its
 * guard (open_guard); and a host-wide claim of it. An explicit port of
 * such a stack is claimed first, in place of the plain bind that tests a
 * port otherwise: that bind would also fail on the guard of our own stack
 * on another address, and two stacks of one user on 127.0.0.1 and
 * 127.0.0.2 may share a port number. Others' sockets on our address or
 * port still fail our binds (the kernel's rules); the same user's
 * reuse-port sockets on our address would join our group, and get
 * nothing (the filter).
 */
static int open_port_fds(struct udp_carrier *u, uint16_t *port, int *fd,
			 int *ufd, int *gfd, int *cfd)
{
	uint16_t want = *port;
	bool claimed = want && !u->any;
	int rc, opening = -1;

	*gfd = *cfd = -1;
	for (unsigned tries = 0;; tries++) {
		bool shared;

		*port = want;
		if (claimed) {
			opening = opening_lock((uint16_t)(want +
							  u->port_offset));
			if (opening < 0)
				return opening;
			*cfd = claim_port(u, (uint16_t)(want + u->port_offset));
			if (*cfd < 0) {
				uh_fd_close(opening);
				return *cfd;
			}
		}
		rc = open_lanes(u, port, claimed, fd, ufd, &shared, &opening);
		if (rc) {
			if (*cfd >= 0)
				uh_fd_close(*cfd);
			if (opening >= 0)
				uh_fd_close(opening);
			return rc;
		}
		if (!claimed) {
			*cfd = claim_port(u, (uint16_t)(*port + u->port_offset));
			rc = *cfd < 0 ? *cfd : UHOMA_OK;
		}
		if (!rc && !u->any && shared) {
			*gfd = open_guard(u, *port);
			rc = *gfd < 0 ? *gfd : UHOMA_OK;
			if (rc)
				*gfd = -1;
		}
		if (opening >= 0)
			uh_fd_close(opening);
		opening = -1;
		if (!rc)
			return UHOMA_OK;
		close_fds(*fd, *ufd, -1, *cfd);
		*cfd = -1;
		if (want || rc != UHOMA_ERR_ADDR_IN_USE ||
		    tries + 1 == GUARD_TRIES)
			return rc;
	}
}

static int udp_open_port(struct uh_carrier *c, uint16_t *port)
{
	struct udp_carrier *u = udp_of(c);
	struct udp_port *p;
	int fd, ufd, gfd, cfd, rc;

	rc = open_port_fds(u, port, &fd, &ufd, &gfd, &cfd);
	if (rc)
		return rc;
	p = malloc(sizeof(*p));
	if (!p) {
		close_fds(fd, ufd, gfd, cfd);
		return UHOMA_ERR_NOMEM;
	}
	p->fd = fd;
	p->ufd = ufd;
	p->gfd = gfd;
	p->cfd = cfd;
	p->tos_set = default_tos(u, fd);
	atomic_init(&p->bulk_skip, 0);
	atomic_init(&p->bulk_yielded, false);
	atomic_init(&p->errq, false);
	uh_lock_init(&p->bulk_lock, &bulk_class);
	p->port = *port;
	atomic_store_explicit(&u->ports[*port], p, memory_order_release);
	uh_lock(&u->open_lock);
	if (atomic_load(&u->nopen) < POLL_DIRECT)
		atomic_store_explicit(&u->open[atomic_load(&u->nopen)], p,
				      memory_order_release);
	atomic_fetch_add(&u->nopen, 1);
	uh_unlock(&u->open_lock);
	rc = uh_waitset_add(&u->ws, fd, port_token(*port, LANE_BULK));
	if (!rc && ufd >= 0)
		rc = uh_waitset_add(&u->ws, ufd,
				    port_token(*port, LANE_URGENT));
	if (rc)
		udp_close_port(c, *port);
	return rc;
}

static void udp_kick(struct uh_carrier *c)
{
	uh_waitset_kick(&udp_of(c)->ws);
}

static void udp_close_port(struct uh_carrier *c, uint16_t port)
{
	struct udp_carrier *u = udp_of(c);
	struct udp_port *p = atomic_load(&u->ports[port]);

	if (!p)
		return;
	uh_waitset_del(&u->ws, p->fd);
	if (p->ufd >= 0)
		uh_waitset_del(&u->ws, p->ufd);
	atomic_store(&u->ports[port], NULL);
	uh_lock(&u->open_lock);
	/* Rebuild the direct-poll list from the port table. */
	atomic_fetch_sub(&u->nopen, 1);
	{
		int k = 0;

		for (unsigned i = 0; i < 65536 && k < POLL_DIRECT; i++) {
			struct udp_port *q = atomic_load(&u->ports[i]);

			if (q)
				atomic_store(&u->open[k++], q);
		}
		for (; k < POLL_DIRECT; k++)
			atomic_store(&u->open[k], NULL);
	}
	uh_unlock(&u->open_lock);
	udp_kick(c);
	uh_synchronize_rcu();     /* no receiver still reads from @p */
	close_fds(p->fd, p->ufd, p->gfd, p->cfd);
	free(p);
}

static socklen_t to_sockaddr(const struct udp_carrier *u,
			     const struct uh_addr *a, uint16_t port,
			     struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (u->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)(port + u->port_offset));
		memcpy(&in->sin_addr, a->b + 12, 4);
		return sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)(port + u->port_offset));
		memcpy(&in6->sin6_addr, a->b, 16);
		return sizeof(*in6);
	}
}

/* Per-message control data: TOS / traffic class, optionally a GSO size. */
union udp_cmsg {
	char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
};

/*
 * The control messages of a send to @dst: its priority as TOS or traffic
 * class, and the GSO segment size. A dual-stack socket sends to an IPv4
 * peer through the IPv4 path, which reads only IP-level control messages:
 * an IPV6_TCLASS there is ignored and the packet leaves with TOS 0 -- the
 * lowest priority on the wire and in the receiver's bulk lane. No TOS for
 * DEFAULT_PRIO from a socket that carries it (default_tos).
 */
static size_t fill_cmsg(const struct udp_carrier *u,
			const struct udp_port *p, union udp_cmsg *c,
			const struct uh_addr *dst, uint8_t prio,
			uint16_t gso_size)
{
	struct cmsghdr *cm;
	size_t len = 0;

	memset(c, 0, sizeof(*c));
	if (!p->tos_set || prio != DEFAULT_PRIO)
		len = uh_net_put_tos((struct cmsghdr *)(void *)c->buf,
				     uh_addr_is_v4(dst) ? AF_INET : u->family,
				     prio);
	if (gso_size) {
		cm = (struct cmsghdr *)(void *)(c->buf + len);
		cm->cmsg_level = IPPROTO_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(cm), &gso_size, sizeof(gso_size));
		len += CMSG_SPACE(sizeof(uint16_t));
	}
	return len;
}

/* How many packets from @t on can travel as one GSO send: same
 * destination and priority, every one but the last of the same size. */
static unsigned gso_run(const struct uh_tx *t, unsigned n)
{
	size_t seg = t[0].hdr_len + t[0].payload_len, total = seg;
	unsigned k = 1;

	while (k < n && k < GSO_MAX_SEGS) {
		size_t len = t[k].hdr_len + t[k].payload_len;

		if (len > seg || total + len > GSO_MAX_BYTES ||
		    t[k].dport != t[0].dport || t[k].priority != t[0].priority ||
		    !uh_addr_eq(&t[k].dst, &t[0].dst) ||
		    t[k - 1].hdr_len + t[k - 1].payload_len != seg)
			break;
		total += len;
		k++;
	}
	return k;
}

/*
 * A send that failed with @e: whether it only reported an earlier packet's
 * ICMP error (uh_icmp_send_took_error). Nothing is wrong with this send:
 * it is tried again, and the error's details, still in the queue, are
 * left for the receive side (@p's errq). Left there, they kept the socket
 * readable (POLLERR) for ever: a thread blocked in the carrier woke 15,000
 * times a second, and the refused RPC never heard of it.
 */
static bool sent_error(struct udp_port *p, int e)
{
	if (!uh_icmp_send_took_error(e))
		return false;
	atomic_store_explicit(&p->errq, true, memory_order_release);
	return true;
}

/* Sends @n packets from port @p as datagrams of their own (no GSO);
 * returns how many went. */
static unsigned send_each(struct udp_carrier *u, struct udp_port *p,
			  const struct uh_tx *t, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		struct iovec iov[2] = {
			{ (void *)(uintptr_t)t[i].hdr, t[i].hdr_len },
			{ (void *)(uintptr_t)t[i].payload, t[i].payload_len },
		};
		struct sockaddr_storage dst;
		union udp_cmsg cm;
		struct msghdr h = {
			.msg_name = &dst,
			.msg_iov = iov,
			.msg_iovlen = t[i].payload_len ? 2 : 1,
			.msg_control = cm.buf,
		};
		ssize_t r;

		h.msg_namelen = to_sockaddr(u, &t[i].dst, t[i].dport, &dst);
		h.msg_controllen = fill_cmsg(u, p, &cm, &t[i].dst,
					     t[i].priority, 0);
		unsigned tries = 0;

		do
			r = sendmsg(p->fd, &h, 0);
		while (r < 0 && (errno == EINTR ||
				 (tries++ < 2 && sent_error(p, errno))));
		if (r < 0)
			break;
	}
	return i;
}

static unsigned udp_send(struct uh_carrier *c, uint16_t sport,
			 const struct uh_tx *pkts, unsigned n)
{
	struct udp_carrier *u = udp_of(c);
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH * 2 + GSO_MAX_SEGS * 2];
	struct sockaddr_storage dst[UDP_BATCH];
	union udp_cmsg cm[UDP_BATCH];
	unsigned count[UDP_BATCH];
	struct udp_port *p;
	unsigned done = 0;
	bool retried = false, errored = false;

	uh_rcu_read_lock();
	p = atomic_load_explicit(&u->ports[sport], memory_order_acquire);
	while (p && done < n) {
		unsigned m = 0, next = done, v = 0;
		int r;

		/* Build up to UDP_BATCH messages; with GSO one message may
		 * carry a run of packets, each with its own Homa header. */
		while (m < UDP_BATCH && next < n &&
		       v + 2 * GSO_MAX_SEGS <= sizeof(iov) / sizeof(iov[0])) {
			const struct uh_tx *t = &pkts[next];
			unsigned k = u->gso ? gso_run(t, n - next) : 1;
			struct msghdr *h = &msgs[m].msg_hdr;

			memset(&msgs[m], 0, sizeof(msgs[m]));
			h->msg_iov = &iov[v];
			for (unsigned i = 0; i < k; i++) {
				iov[v].iov_base = (void *)(uintptr_t)t[i].hdr;
				iov[v++].iov_len = t[i].hdr_len;
				if (t[i].payload_len) {
					iov[v].iov_base =
						(void *)(uintptr_t)t[i].payload;
					iov[v++].iov_len = t[i].payload_len;
				}
			}
			h->msg_iovlen = (size_t)(&iov[v] - h->msg_iov);
			h->msg_name = &dst[m];
			h->msg_namelen = to_sockaddr(u, &t->dst, t->dport, &dst[m]);
			h->msg_control = cm[m].buf;
			h->msg_controllen = fill_cmsg(
				u, p, &cm[m], &t->dst, t->priority,
				k > 1 ? (uint16_t)(t->hdr_len + t->payload_len)
				      : 0);
			count[m++] = k;
			next += k;
		}
		r = sendmmsg(p->fd, msgs, m, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && !errored && sent_error(p, errno)) {
			errored = true;     /* once: it was an earlier error */
			continue;
		}
		if (r < 0 && count[0] > 1 &&
		    (errno == EINVAL || errno == EMSGSIZE)) {
			/* The route's MTU fell below the GSO segment size (a
			 * path-MTU report since the peer's packet size was
			 * read): GSO refuses the run, so its packets go one
			 * by one, which the kernel fragments as it must. */
			unsigned sent = send_each(u, p, &pkts[done], count[0]);

			done += sent;
			if (sent < count[0])
				break;
			continue;
		}
		if (r <= 0)
			/* Full buffer or unreachable: the rest is lost, as
			 * on a congested wire; Homa's timers recover. */
			break;
		for (int i = 0; i < r; i++)
			done += count[i];
		/* Stopped short: the next call starts at the message that
		 * failed, and says why (sendmmsg drops a later error). */
		if ((unsigned)r < m && !retried) {
			retried = true;
			continue;
		}
		if ((unsigned)r < m)
			break;
	}
	uh_rcu_read_unlock();
	return done;
}

static void from_sockaddr(const struct sockaddr_storage *ss,
			  struct uh_addr *a)
{
	uint16_t port;

	if (uh_addr_from_sockaddr((const struct sockaddr *)ss, sizeof(*ss), a,
				  &port))
		memset(a, 0, sizeof(*a));
}

/* The priority (TOS >> 5) and the GRO segment size of a received message. */
static void read_cmsg(struct msghdr *h, struct uh_rx *rx)
{
	rx->priority = 0;
	rx->seg_size = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		int v = 0;

		if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
			uint16_t seg;

			memcpy(&seg, CMSG_DATA(c), sizeof(seg));
			rx->seg_size = seg;
		} else if ((c->cmsg_level == IPPROTO_IP &&
			    c->cmsg_type == IP_TOS) ||
			   (c->cmsg_level == IPPROTO_IPV6 &&
			    c->cmsg_type == IPV6_TCLASS)) {
			if (c->cmsg_len >= CMSG_LEN(sizeof(int)))
				memcpy(&v, CMSG_DATA(c), sizeof(int));
			else
				v = *(const uint8_t *)CMSG_DATA(c);
			rx->priority = (uint8_t)((v >> 5) & 7);
		}
	}
}

static uint16_t sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

/*
 * Whether the Homa packets in @buf (@len bytes; with @seg, several back
 * to back, GRO) name as their source the UDP port they came from (Homa
 * port P is UDP port P + port_offset). Any local process may send from
 * the host's own address, and the core knows a peer by address and Homa
 * port: without this check one could write its own bytes into another
 * process's RPCs by naming their port. (The module has no such opening:
 * its ports are Homa's own, and forging them takes a raw socket, root.)
 */
static bool from_its_port(const struct udp_carrier *u,
			  const struct sockaddr_storage *ss,
			  const uint8_t *buf, size_t len, size_t seg)
{
	uint16_t udp = sockaddr_port(ss);

	if (!seg)
		seg = len;
	for (size_t off = 0; off + 2 <= len; off += seg)
		if ((uint16_t)((buf[off] << 8 | buf[off + 1]) +
			       u->port_offset) != udp)
			return false;
	return true;          /* (shorter than a port: the core's drop) */
}

static void count_spoofed(const struct udp_carrier *u)
{
	if (u->c.stack)
		uh_stack_drop(u->c.stack, UH_DROP_SPOOFED);
}

/* One recvmmsg of up to @max datagrams from @fd into @rx; datagrams whose
 * Homa source port is not their UDP one are dropped and counted. */
static unsigned recv_fd(const struct udp_carrier *u, int fd,
			struct uh_rx *rx, unsigned max)
{
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct sockaddr_storage src[UDP_BATCH];
	union udp_cmsg cm[UDP_BATCH];
	int r;

	for (unsigned i = 0; i < max; i++) {
		iov[i].iov_base = rx[i].buf;
		iov[i].iov_len = rx[i].cap;
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_name = &src[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(src[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_control = cm[i].buf;
		msgs[i].msg_hdr.msg_controllen = sizeof(cm[i].buf);
	}
	r = recvmmsg(fd, msgs, max, MSG_DONTWAIT, NULL);
	if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		/* A pending ICMP error (ECONNREFUSED...): its details wait
		 * in the error queue. */
		return uh_icmp_read_errors(fd, UH_ICMP_PORT_IN_NAME, rx, max);
	if (r <= 0)
		return 0;
	for (int i = 0; i < r; i++) {
		read_cmsg(&msgs[i].msg_hdr, &rx[i]);
		rx[i].len = msgs[i].msg_len;
		rx[i].unreachable = UH_REACHED;
		from_sockaddr(&src[i], &rx[i].src);
	}
	for (int i = 0; i < r;) {
		struct uh_rx t;

		if (from_its_port(u, &src[i], rx[i].buf, rx[i].len,
				  rx[i].seg_size)) {
			i++;
			continue;
		}
		count_spoofed(u);
		/* Swap it past the end, buffers and all. */
		r--;
		t = rx[r];
		rx[r] = rx[i];
		rx[i] = t;
		src[i] = src[r];
	}
	return (unsigned)r;
}

/* Reads and drops the datagram at the head of @fd. */
static void discard(int fd, struct uh_rx *sink)
{
	(void)!recv(fd, sink->buf, sink->cap, MSG_DONTWAIT);
}

/*
 * Reads at most @max datagrams of the bulk lane @fd into @rx, landing the
 * DATA the core takes straight in the region (uh_stack_land_begin): a
 * long message's 64 KB datagrams cross memory once, not twice. A landed
 * datagram still takes an entry of @rx (marked landed) so that the caller
 * counts the work. Between a peek and its read nothing else may take the
 * datagram: readers of a port's bulk lane take turns (@p->bulk_lock),
 * and one that finds it taken leaves the lane to its holder, which reads
 * on until it is empty or has read BULK_BYTES. A landing is processed
 * here, before the caller processes anything: with urgent packets already
 * read (@urgent), the lane is read as usual, so that they go first.
 */
static unsigned recv_bulk(struct udp_carrier *u, struct udp_port *p,
			  struct uh_rx *rx, unsigned max, bool urgent)
{
	struct uhoma_stack *st = u->c.stack;
	size_t bytes = 0;
	unsigned got = 0;

	if (!st || !u->landing)
		return recv_fd(u, p->fd, rx, max);
	if (!uh_trylock(&p->bulk_lock))
		return 0;
	/* Every read of the lane under the lock: a plain one too could take
	 * a datagram another reader has peeked at. */
	if (urgent) {
		got = recv_fd(u, p->fd, rx, max);
		goto out;
	}
	while (got < max && bytes < BULK_BYTES) {
		uint8_t hdr[UH_HDR_DATA];
		struct sockaddr_storage ss;
		union udp_cmsg cm;
		struct iovec iov = { hdr, sizeof(hdr) };
		struct msghdr m = {
			.msg_name = &ss, .msg_namelen = sizeof(ss),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cm.buf,
			.msg_controllen = sizeof(cm.buf),
		};
		struct uh_landing l;
		ssize_t total, n;
		bool ok;

		total = recvmsg(p->fd, &m, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
		if (total < 0) {
			/* Empty; or an ICMP error was pending (the peek took
			 * it): its details wait in the error queue. */
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				got += uh_icmp_read_errors(p->fd,
							   UH_ICMP_PORT_IN_NAME,
							   rx + got, max - got);
			break;
		}
		read_cmsg(&m, &rx[got]);
		from_sockaddr(&ss, &rx[got].src);
		rx[got].len = 0;
		rx[got].unreachable = UH_REACHED;
		if (!from_its_port(u, &ss, hdr,
				   (size_t)total < sizeof(hdr) ? (size_t)total
							       : sizeof(hdr),
				   0)) {
			count_spoofed(u);
			discard(p->fd, &rx[got]);
			bytes += (size_t)total;
			continue;
		}
		/* Several packets coalesced (GRO) are read as they are. */
		if (rx[got].seg_size && rx[got].seg_size < (size_t)total) {
			n = recv_fd(u, p->fd, rx + got, 1);
			got += (unsigned)n;
			bytes += (size_t)total;
			if (!n)
				break;
			continue;
		}
		switch (uh_stack_land_begin(st, hdr,
					    (size_t)total < sizeof(hdr)
						    ? (size_t)total
						    : sizeof(hdr),
					    (size_t)total, &rx[got].src,
					    rx[got].buf, rx[got].cap, &l)) {
		case UH_LAND_NO:
			n = recv_fd(u, p->fd, rx + got, 1);
			got += (unsigned)n;
			bytes += (size_t)total;
			if (!n)
				goto out;
			continue;
		case UH_LAND_DISCARD:
			discard(p->fd, &rx[got]);
			break;
		case UH_LAND_PLACE:
			memset(&m, 0, sizeof(m));
			m.msg_iov = l.iov;
			m.msg_iovlen = l.niov;
			n = recvmsg(p->fd, &m, MSG_DONTWAIT);
			/* The datagram peeked, whole: its header in the
			 * sink (the first entry) matches. */
			ok = n == total && !(m.msg_flags & MSG_TRUNC) &&
			     memcmp(l.iov[0].iov_base, hdr, sizeof(hdr)) == 0;
			uh_stack_land_end(st, &l, ok);
			break;
		}
		rx[got].landed = true;
		got++;
		bytes += (size_t)total;
	}
out:
	uh_unlock(&p->bulk_lock);
	return got;
}

/*
 * Reads port @p: its urgent lane, then (room left) at most BULK_BYTES of
 * its bulk lane. A busy poll (@poll) that found the bulk lane empty skips
 * it for the next BULK_SKIP polls: a system call per poll for a lane that
 * carries only long messages costs every short RPC a microsecond. A busy
 * poll that got urgent packets leaves the bulk lane to the next poll, so
 * that they reach their application without waiting for a bulk copy and
 * its processing -- but never two polls in a row, so the bulk lane gets at
 * least every other poll. Waits (epoll) read both lanes.
 */
static unsigned recv_lanes(struct udp_carrier *u, struct udp_port *p,
			   struct uh_rx *rx, unsigned max, bool poll,
			   unsigned lanes)
{
	unsigned got = 0, bulk, n;

	if (p->ufd < 0)
		/* One lane: control packets and short messages too, for
		 * which a peek would be a system call more each. */
		return recv_fd(u, p->fd, rx, max);
	/* After a wait, only the lanes it found readable: a read of an
	 * empty socket is a system call for nothing. */
	if (lanes & LANE_URGENT)
		got = recv_fd(u, p->ufd, rx, max);
	if (got == max || !(lanes & LANE_BULK))
		return got;
	if (poll) {
		uint32_t k = atomic_load_explicit(&p->bulk_skip,
						  memory_order_relaxed);

		/* A store, not a subtraction: pollers racing here store the
		 * same k - 1 (one skip more, at worst) and never wrap the
		 * count, which would starve the lane. */
		if (k) {
			atomic_store_explicit(&p->bulk_skip, k - 1,
					      memory_order_relaxed);
			return got;
		}
		if (got && !atomic_exchange_explicit(&p->bulk_yielded, true,
						     memory_order_relaxed))
			return got;
		atomic_store_explicit(&p->bulk_yielded, false,
				      memory_order_relaxed);
	}
	bulk = max - got;
	if (bulk * rx[got].cap > BULK_BYTES)
		bulk = rx[got].cap >= BULK_BYTES
			       ? 1
			       : (unsigned)(BULK_BYTES / rx[got].cap);
	n = recv_bulk(u, p, rx + got, bulk, got > 0);
	if (n == 0 && poll)
		atomic_store_explicit(&p->bulk_skip, BULK_SKIP,
				      memory_order_relaxed);
	return got + n;
}

/* Reads port @p (recv_lanes), and its error queue when a send left an
 * error's details there (errq), or when a wait found @p's sending socket
 * readable and it held no datagram: then an error is what woke the wait,
 * and unread it would wake every wait after it. */
static unsigned recv_port(struct udp_carrier *u, struct udp_port *p,
			  struct uh_rx *rx, unsigned max, bool poll,
			  unsigned lanes)
{
	unsigned got = 0;

	if (atomic_load_explicit(&p->errq, memory_order_relaxed) &&
	    atomic_exchange_explicit(&p->errq, false, memory_order_acquire))
		got = uh_icmp_read_errors(p->fd, UH_ICMP_PORT_IN_NAME, rx,
					  max);
	if (got < max)
		got += recv_lanes(u, p, rx + got, max - got, poll, lanes);
	if (!got && !poll && (lanes & LANE_BULK))
		got = uh_icmp_read_errors(p->fd, UH_ICMP_PORT_IN_NAME, rx,
					  max);
	return got;
}

static unsigned udp_recv(struct uh_carrier *c, struct uh_rx *rx, unsigned max,
			 int64_t timeout_ns)
{
	struct udp_carrier *u = udp_of(c);
	void *ready[8];
	unsigned got = 0, first;
	bool poll = false;
	int ne;

	if (max > UDP_BATCH)
		max = UDP_BATCH;
	if (timeout_ns == 0 && atomic_load(&u->nopen) <= POLL_DIRECT) {
		poll = true;
		/* A poll with few ports: one recvmmsg per port costs less
		 * than epoll_wait followed by recvmmsg. */
		ne = 0;
		uh_rcu_read_lock();
		for (int i = 0; i < POLL_DIRECT; i++) {
			struct udp_port *q = atomic_load_explicit(
				&u->open[i], memory_order_acquire);

			if (q)
				ready[ne++] = port_token(
					q->port, LANE_URGENT | LANE_BULK);
		}
	} else {
		ne = uh_waitset_wait(&u->ws, ready, 8, timeout_ns);
		uh_rcu_read_lock();
	}
	/* Each receive starts at another of the ready ports: one with a
	 * standing backlog would otherwise fill every batch and starve the
	 * ports after it. */
	first = ne > 1 ? atomic_fetch_add_explicit(&u->next_first, 1,
						   memory_order_relaxed) %
				 (unsigned)ne
		       : 0;
	for (int i = 0; i < ne && got < max; i++) {
		int e = (int)((first + (unsigned)i) % (unsigned)ne);
		struct udp_port *p = atomic_load_explicit(
			&u->ports[token_port(ready[e])], memory_order_acquire);
		unsigned lanes = token_lane(ready[e]);
		bool seen = false;

		/* The two lanes of a port report separately: one read of
		 * the port takes both (at its first token in this order). */
		for (int j = 0; j < i; j++)
			seen |= token_port(ready[(first + (unsigned)j) %
						 (unsigned)ne]) ==
				token_port(ready[e]);
		for (int k = 0; k < ne; k++)
			if (k != e && token_port(ready[k]) == token_port(ready[e]))
				lanes |= token_lane(ready[k]);
		if (p && !seen) {
			unsigned n = recv_port(u, p, rx + got, max - got,
					       poll, lanes);

			/* An ICMP error names the UDP port: the Homa port is
			 * port_offset below it (none there: not ours). */
			for (unsigned r = got; r < got + n; r++) {
				uint16_t udp = rx[r].unreach_port;

				if (rx[r].unreachable != UH_UNREACH_PORT)
					continue;
				if (udp > u->port_offset) {
					rx[r].unreach_port = (uint16_t)(
						udp - u->port_offset);
					continue;
				}
				/* Swap it to the end, buffers and all. */
				struct uh_rx last = rx[got + n - 1];

				rx[got + n - 1] = rx[r];
				rx[r] = last;
				n--;
				r--;
			}
			got += n;
		}
	}
	uh_rcu_read_unlock();
	return got;
}

static void udp_forget(struct uh_carrier *c)
{
	struct udp_carrier *u = udp_of(c);

	for (unsigned i = 0; i < 65536; i++) {
		struct udp_port *p = atomic_load_explicit(
			&u->ports[i], memory_order_relaxed);

		if (p)
			close_fds(p->fd, p->ufd, p->gfd, p->cfd);
	}
	uh_waitset_forget(&u->ws);
}

static void udp_destroy(struct uh_carrier *c)
{
	struct udp_carrier *u = udp_of(c);

	uh_waitset_destroy(&u->ws);
	free(u);
}

/*
 * A datagram to @dst carries at most the route's MTU less the IP and UDP
 * headers (loopback: 65536, so one datagram holds 64 KB of a message),
 * unless cfg.mtu fixed one MTU for every destination.
 */
static uint32_t udp_max_packet_to(struct uh_carrier *c,
				  const struct uh_addr *dst, bool *local)
{
	struct udp_carrier *u = udp_of(c);
	uint32_t mtu = 1500, hdr = uh_addr_is_v4(dst) ? 28 : 48, max;

	if (!uh_iface_route(dst, &mtu, local))
		*local = false;
	if (u->cfg_mtu)
		mtu = u->cfg_mtu;
	max = mtu > hdr ? mtu - hdr : 0;
	return max < c->max_packet ? max : c->max_packet;
}

/* Bytes queued unread in @fd's receive queue (SO_MEMINFO: what the
 * kernel charges against the receive buffer); 0 if unknown. */
static uint64_t fd_queued(int fd)
{
	uint32_t mem[SK_MEMINFO_VARS] = { 0 };
	socklen_t len = sizeof(mem);

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0 ||
	    len <= SK_MEMINFO_RMEM_ALLOC * sizeof(mem[0]))
		return 0;
	return mem[SK_MEMINFO_RMEM_ALLOC];
}

/* Slots of the port table a call sweeps when there are more ports than
 * the direct-poll list holds: the whole table every 16 calls (ticks). */
#define QUEUED_SWEEP 4096

/* The deeper of @q's lanes (each a socket with its own buffer). */
static uint64_t port_queued(const struct udp_port *q)
{
	uint64_t a = fd_queued(q->fd), b = fd_queued(q->ufd);

	return a > b ? a : b;
}

/*
 * The deepest queue among the direct-poll list's ports (a stack with few
 * ports, as nearly all have): two system calls a port a tick. With more,
 * the port table is swept QUEUED_SWEEP slots a call and the last whole
 * sweep's deepest is the answer, at most 16 ticks old (it was 0, and a
 * server with 5 ports was never found behind: helper-31). Called by one
 * thread at a time (the timer's).
 */
static uint64_t udp_queued(struct uh_carrier *c)
{
	struct udp_carrier *u = udp_of(c);
	uint64_t deepest = 0;

	uh_rcu_read_lock();
	if (atomic_load(&u->nopen) > POLL_DIRECT) {
		for (unsigned i = 0; i < QUEUED_SWEEP; i++) {
			uint32_t slot = u->scan_next++ & 0xffff;
			struct udp_port *q = atomic_load_explicit(
				&u->ports[slot], memory_order_acquire);
			uint64_t d = q ? port_queued(q) : 0;

			if (d > u->scan_max)
				u->scan_max = d;
			if (slot == 0xffff) {
				u->scan_last = u->scan_max;
				u->scan_max = 0;
			}
		}
		deepest = u->scan_last;
	} else {
		for (int i = 0; i < POLL_DIRECT; i++) {
			struct udp_port *q = atomic_load_explicit(
				&u->open[i], memory_order_acquire);
			uint64_t d = q ? port_queued(q) : 0;

			if (d > deepest)
				deepest = d;
		}
	}
	uh_rcu_read_unlock();
	return deepest;
}

static const struct uh_carrier_ops udp_ops = {
	.name = "udp",
	.open_port = udp_open_port,
	.close_port = udp_close_port,
	.send = udp_send,
	.recv = udp_recv,
	.kick = udp_kick,
	.max_packet_to = udp_max_packet_to,
	.forget = udp_forget,
	.queued = udp_queued,
	.port_held = udp_port_held,
	.destroy = udp_destroy,
};

/* Whether this kernel accepts UDP_SEGMENT (Linux 4.18+). */
static bool gso_supported(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0), v = 0;
	socklen_t len = sizeof(v);
	bool ok;

	if (fd < 0)
		return false;
	ok = getsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &v, &len) == 0;
	uh_fd_close(fd);
	return ok;
}

/* Whether the host has @u's address: a stack on one it lacks would be
 * made, and then fail every socket (helper-36). A test bind to port 0
 * says so now: UHOMA_ERR_INVALID_ARGUMENT, as for a malformed address
 * (EINVAL: an IPv6 link-local address without its interface). */
static int address_is_ours(const struct udp_carrier *u)
{
	int fd = socket(u->family, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = UHOMA_OK;

	if (fd < 0)
		return uh_net_error(errno);
	if (bind(fd, (const struct sockaddr *)&u->bind_ss, u->bind_len) < 0)
		rc = errno == EADDRNOTAVAIL || errno == EINVAL
			     ? UHOMA_ERR_INVALID_ARGUMENT
			     : uh_net_error(errno);
	uh_fd_close(fd);
	return rc;
}

int uh_udp_create(const struct uhoma_config *cfg, struct uh_carrier **out)
{
	struct udp_carrier *u = calloc(1, sizeof(*u));
	static const uint8_t zero16[16];
	uint32_t ip_hdr, len, mtu, link;

	if (!u)
		return UHOMA_ERR_NOMEM;
	u->c.ops = &udp_ops;
	if (uh_addr_parse(cfg->addr, &u->c.local)) {
		free(u);
		return UHOMA_ERR_INVALID_ARGUMENT;
	}
	if (uh_addr_is_v4(&u->c.local)) {
		u->family = AF_INET;
		u->any = memcmp(u->c.local.b + 12, zero16, 4) == 0;
		ip_hdr = 20;
	} else {
		u->family = AF_INET6;
		u->any = memcmp(u->c.local.b, zero16, 16) == 0;
		ip_hdr = 40;
	}
	uh_addr_to_sockaddr(&u->c.local, 0, &u->bind_ss, &len);
	u->bind_len = len;
	if (!u->any) {
		int rc = address_is_ours(u);

		if (rc) {
			free(u);
			return rc;
		}
	}
	/* Packets are sized per destination (udp_max_packet_to); this is
	 * the largest, for receive buffers. The link rate to pace at is the
	 * local interface's. */
	uh_iface_info(&u->c.local, u->any, &mtu, &link);
	u->cfg_mtu = cfg->mtu;
	u->port_offset = (uint16_t)cfg->port_offset;
	u->landing = cfg->landing != 0;
	u->c.max_packet = cfg->mtu ? cfg->mtu - ip_hdr - 8 : UDP_MAX_PAYLOAD;
	if (u->c.max_packet > UDP_MAX_PAYLOAD)
		u->c.max_packet = UDP_MAX_PAYLOAD;
	u->c.link_mbps = link;
	u->c.link_mtu = cfg->mtu ? cfg->mtu : mtu;
	u->c.rcvbuf = probe_rcvbuf(u->family);
	/* GSO batches runs of small packets (gso_run); 64 KB ones travel
	 * alone. GRO may then hand us up to 64 KiB at once. */
	u->gso = cfg->gso && gso_supported(u->family);
	u->c.rx_buf_size = 65536;
	if (uh_waitset_init(&u->ws)) {
		free(u);
		return UHOMA_ERR_SYSTEM;
	}
	uh_lock_init(&u->open_lock, &open_class);
	*out = &u->c;
	return UHOMA_OK;
}
