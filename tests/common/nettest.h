/*
 * nettest.h - helpers for tests that run stacks on an in-memory network
 * or on loopback: stack creation, buffer regions, message patterns, and an
 * echo server thread.
 */
#ifndef UHOMA_TESTS_NETTEST_H
#define UHOMA_TESTS_NETTEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uhoma/memnet.h"
#include "uhoma/uhoma.h"

#define NT_REGION (64u << 20)    /* default buffer region per socket */

/* A stack on @net at 10.0.0.@host (threads unless the net is virtual). */
struct uhoma_stack *nt_stack(struct uhoma_memnet *net, int host,
			     uint32_t mtu, uint32_t rx_threads);

/* An mmap'ed region of @len bytes, given to @s. */
void *nt_buffers(struct uhoma_sock *s, size_t len);
void nt_unmap(void *region, size_t len);

/* Two hosts on one memnet: 10.0.0.1 serves on port 80, 10.0.0.2 is the
 * client (any port); each socket has a region of its own length. Stacks
 * run threads unless the clock is virtual. */
struct nt_pair {
	struct uhoma_memnet *net;
	struct uhoma_stack *a, *b;
	struct uhoma_sock *srv, *cli;
	void *ra, *rb;
	size_t ra_len, rb_len;
};

void nt_pair_open(struct nt_pair *p, uint64_t seed, int virtual_clock,
		  uint32_t mtu, size_t srv_region, size_t cli_region);
/* Closes both sockets and stacks, the network and the regions. */
void nt_pair_close(struct nt_pair *p);

/* The sockaddr of @text ("127.0.0.1", "::1"):@port. */
void nt_sockaddr(const char *text, uint16_t port, struct sockaddr_storage *ss,
		 size_t *len);

/* The sockaddr of 10.0.0.@host:@port. */
void nt_addr(int host, uint16_t port, struct sockaddr_storage *ss,
	     size_t *len);

/* Fills @buf with the pattern of (@seed); checks a message against it. */
void nt_fill(uint8_t *buf, size_t len, uint64_t seed);
bool nt_check(struct uhoma_sock *s, const struct uhoma_msg *m, size_t len,
	      uint64_t seed);

/* Receives one message without waiting: its length, or a uhoma error
 * (UHOMA_ERR_AGAIN if none is ready). */
int nt_recv_nb(struct uhoma_sock *s, struct uhoma_msg *m);

/* Answers every request ready at @srv with the same bytes (copied
 * through @buf, UHOMA_MAX_MESSAGE bytes), asserting each reply succeeds;
 * returns how many. */
int nt_echo_ready(struct uhoma_sock *srv, uint8_t *buf);

/* An echo server: threads that receive requests on @s and reply with the
 * same bytes, until the socket shuts down. Counts requests served and
 * duplicates (a request id seen twice). */
struct nt_echo {
	struct uhoma_sock *s;
	unsigned nthreads;
	pthread_t t[8];
	_Atomic uint64_t served, dups, errors;
	pthread_mutex_t seen_lock;
	uint64_t *seen;          /* open-addressing set of served ids */
	size_t seen_cap;
};
void nt_echo_start(struct nt_echo *e, struct uhoma_sock *s, unsigned n);
void nt_echo_stop(struct nt_echo *e);

/* Feeds @st, as if from @src (text) port @sport, the first DATA packet of
 * request @sender_id (even: the client's numbering) for port 80, claiming
 * @claim bytes and carrying 64 of them: a forged claim, or a sender that
 * vanishes. */
void nt_forge_request(struct uhoma_stack *st, const char *src,
		      uint16_t sport, uint64_t sender_id, uint32_t claim);

/* Seconds of monotonic time. */
double nt_now(void);

#endif /* UHOMA_TESTS_NETTEST_H */
