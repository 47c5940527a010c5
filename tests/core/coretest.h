/*
 * coretest.h - driving the protocol core alone, as ngtcp2's tests drive a
 * connection: no runtime, no network, no api layer, no clock but the
 * test's. Programs under tests/core link only the core library (core,
 * sync, mem, util: CMake's uhoma_core) and this file, so a call from the
 * core up into another layer fails to link them.
 *
 * A ct_net is a queue of packets in flight between ct_hosts (stacks at
 * 10.0.0.N, each on a test carrier that queues what its stack sends).
 * Nothing moves unless the test moves it: ct_deliver hands queued packets
 * to their destinations' uh_stack_input, ct_tick advances the test clock
 * by one tick and ticks every host. ct_drop and ct_take let a test lose
 * or inspect packets on the way.
 */
#ifndef UHOMA_TESTS_CORETEST_H
#define UHOMA_TESTS_CORETEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/calls.h"
#include "core/carrier.h"
#include "core/stack.h"
#include "core/wire.h"

#define CT_MAX_HOSTS 8
#define CT_REGION (8u << 20)     /* buffer region per socket */

struct ct_pkt {
	struct uh_addr src, dst;
	uint16_t sport, dport;
	uint8_t priority;
	size_t len;
	uint8_t *data;               /* header + payload, malloc'ed */
};

struct ct_net;

struct ct_host {
	struct uh_carrier c;         /* first: the test carrier */
	struct ct_net *net;
	int n;                       /* 10.0.0.n */
	struct uh_addr addr;
	struct uhoma_stack *st;
	struct uh_metrics *metrics;
	uint16_t next_port;          /* automatic ports from 0x8000 */
};

struct ct_net {
	struct ct_host *hosts[CT_MAX_HOSTS + 1];
	struct ct_pkt *q;            /* packets in flight, oldest first */
	size_t nq, capq;
	uint64_t sent;               /* every packet sent, ever */
};

/* The test clock (nanoseconds): every stack's. */
extern uint64_t ct_now_ns;

/* Nonzero: hosts made from now on take every peer for one on the same
 * host (uh_peer.local), with a kernel receive queue of this many bytes
 * (uh_carrier.rcvbuf). 0 (the default): remote peers, no queue. */
extern uint32_t ct_rcvbuf;

void ct_net_init(struct ct_net *net);
/* Frees every host (closing their sockets) and every queued packet. */
void ct_net_free(struct ct_net *net);

/* Host 10.0.0.@n with "key=value,..." @config (NULL: defaults). */
struct ct_host *ct_host(struct ct_net *net, int n, const char *config);

/* A socket of @h on @port (0: automatic) with a CT_REGION buffer region. */
struct uhoma_sock *ct_sock(struct ct_host *h, uint16_t port);
void ct_sock_close(struct uhoma_sock *s);

/* The address of 10.0.0.@n. */
struct uh_addr ct_addr(int n);

/* Hands every queued packet to its destination (and what that sends in
 * turn), at most @max packets (0: until the queue is empty). Returns how
 * many were delivered. Packets to a host that does not exist vanish. */
size_t ct_deliver(struct ct_net *net, size_t max);

/* Removes queued packet @i (ct_drop frees it, ct_take hands it over). */
void ct_drop(struct ct_net *net, size_t i);
struct ct_pkt ct_take(struct ct_net *net, size_t i);
/* The decoded header of queued packet @i. */
struct uh_hdr ct_hdr(const struct ct_net *net, size_t i);
/* How many queued packets have type @type (0: any). */
size_t ct_count(const struct ct_net *net, uint8_t type);

/* Removes every queued packet. */
void ct_clear(struct ct_net *net);

/* Counter @which of @h (core/metrics.h), its RPCs in public state @state
 * (UHOMA_RPCS_*), its drops for @why. */
int64_t ct_metric(struct ct_host *h, unsigned which);
int64_t ct_gauge(struct ct_host *h, unsigned state);
int64_t ct_drops(struct ct_host *h, enum uh_drop why);

/* One tick of time for every host (their timers run). */
void ct_tick(struct ct_net *net);

/* Feeds @h a packet from 10.0.0.@from built from @hdr and @payload. */
bool ct_inject(struct ct_host *h, int from, const struct uh_hdr *hdr,
	       const void *payload, size_t len);

/* The same for a bare control packet of @type (its own fields zero). */
bool ct_inject_ctl(struct ct_host *h, int from, uint8_t type,
		   uint16_t sport, uint16_t dport, uint64_t sender_id);

/* DATA of a request @cid from 10.0.0.@from port 5000 to @h's port 80:
 * bytes [@off, @off + @n) of a @len-byte message claiming @incoming
 * unscheduled bytes, zeros for payload (at most 1424 bytes). */
void ct_request_data(struct ct_host *h, int from, uint64_t cid, uint32_t len,
		     uint32_t off, uint32_t n, uint32_t incoming);

/* A request of @len pattern bytes (seed @seed) from @s to 10.0.0.@to:@port.
 * Returns its id (asserts it started). */
uint64_t ct_send(struct uhoma_sock *s, int to, uint16_t port, size_t len,
		 unsigned seed, bool is_private);
/* Replies to request @m with @len pattern bytes (seed @seed). */
void ct_reply(struct uhoma_sock *s, const struct uhoma_msg *m, size_t len,
	      unsigned seed);
/* Takes a ready message: 1 (and *@rc) or 0 (nothing ready). */
int ct_take_msg(struct uhoma_sock *s, uint64_t want, struct uhoma_msg *m,
		int *rc);
/* Byte @i of the test pattern of @seed (what ct_send sends). */
uint8_t ct_byte(unsigned seed, size_t i);
/* The state of client RPC @id of @s (enum uh_rpc_state), or -1. */
int ct_client_state(struct uhoma_sock *s, uint64_t id);
/* Whether message @m (of @len bytes) holds the pattern of @seed. */
bool ct_check(struct uhoma_sock *s, const struct uhoma_msg *m, size_t len,
	      unsigned seed);
/* Gives @m's buffer pages back. */
void ct_release(struct uhoma_sock *s, struct uhoma_msg *m);

#endif /* UHOMA_TESTS_CORETEST_H */
