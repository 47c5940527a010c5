/*
 * fuzz_input.c - libFuzzer harness: arbitrary packet sequences into a
 * stack that has a server socket, a client socket and an RPC in flight.
 *
 * Input: records of [kind:1][len:2, little-endian][len bytes]. Each record
 * is one packet "from the network". The kind byte steers it toward deep
 * states, since random bytes rarely name a live RPC: bit 0 addresses the
 * client socket (else the server socket); bit 1 rewrites sender_id to
 * answer the client's RPC in flight; bit 2 picks the source host. After
 * each input the virtual clock advances (timers, resends, timeouts run)
 * and the application side receives, replies and starts new RPCs.
 *
 * Anything the core does wrong -- a crash, an out-of-bounds access
 * (ASan), a lock-order or blocking violation (the validator aborts) --
 * is a finding, and so is a broken invariant, checked after every input:
 *  - at most once: the server application never receives one request
 *    (source address and id) twice while the server remembers the client
 *    (dedup_quiet_ms after the RPC ended; the check looks 9 s back) and
 *    the client's counter stays the same. A forged sender owns its
 *    address and port here, so it may start a new counter (2^38 below
 *    the last, uhoma(7)) and replay an old one's numbers: such a restart
 *    is counted (dedup_restarts), and the check starts over after one;
 *  - the RPC-state gauges never go negative, nor the peer and record
 *    gauges: an RPC counted in two states, or left twice, shows there.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util/addr.h"
#include "core/stack.h"
#include "uhoma/memnet.h"
#include "uhoma/uhoma.h"

#define SERVER_PORT 1
#define REGION (2u * 65536 + 2000000)

static struct uhoma_memnet *net;
static struct uhoma_stack *st;
static struct uhoma_sock *srv, *cli;
static uint64_t cli_id;
static struct uh_addr peers[2];
static uint8_t msg[5000];

/* Requests the server application received: (address hash ^ id) -> the
 * virtual time of delivery. Open addressing; a full table forgets the
 * oldest slot it probes. */
#define SEEN_SLOTS 8192
static struct { uint64_t key, at; } seen[SEEN_SLOTS];

static void delivered(const struct uhoma_msg *m)
{
	uint64_t key = m->id * 0x9E3779B97F4A7C15ull, now = uhoma_memnet_now(net);
	const uint8_t *a = (const uint8_t *)&m->peer;

	for (size_t i = 0; i < m->peer_len && i < sizeof(m->peer); i++)
		key = (key ^ a[i]) * 0x100000001B3ull;
	key |= 1;
	for (unsigned i = 0; i < 16; i++) {
		unsigned slot = (unsigned)((key >> 20) + i) % SEEN_SLOTS;

		if (seen[slot].key == key) {
			if (now - seen[slot].at < 9000000000ull)
				abort();   /* the same request ran twice */
			seen[slot].at = now;
			return;
		}
		if (!seen[slot].key || now - seen[slot].at > 20000000000ull ||
		    i == 15) {
			seen[slot].key = key;
			seen[slot].at = now;
			return;
		}
	}
}

/* A client counter started over: the requests seen so far may run
 * again (see the top). Before the application side receives. */
static void note_restarts(void)
{
	static uint64_t restarts;
	struct uhoma_metrics m;

	uhoma_metrics(st, &m);
	if (m.dedup_restarts != restarts) {
		restarts = m.dedup_restarts;
		memset(seen, 0, sizeof(seen));
	}
}

/* The gauges: none negative (an RPC in two states, or ended twice). */
static void check_gauges(void)
{
	struct uhoma_metrics m;

	uhoma_metrics(st, &m);
	for (unsigned i = 0; i < UHOMA_RPC_STATES; i++)
		if (m.rpcs[i] < 0)
			abort();
	if ((int64_t)m.peers < 0 || (int64_t)m.dedup_records < 0)
		abort();
}

static void *region(void)
{
	return mmap(NULL, REGION, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void start_rpc(void)
{
	struct sockaddr_storage ss;
	uint32_t len;

	uh_addr_to_sockaddr(&peers[0], SERVER_PORT, &ss, &len);
	if (uhoma_send(cli, (struct sockaddr *)&ss, len, msg, sizeof(msg), 0, 0,
		       &cli_id) != UHOMA_OK)
		abort();
}

static void setup(void)
{
	struct uhoma_config cfg;

	uhoma_config_default(&cfg);
	net = uhoma_memnet_create(1, 1);
	cfg.carrier = UHOMA_CARRIER_MEMNET;
	cfg.memnet = net;
	cfg.rx_threads = 0;
	strcpy(cfg.addr, "10.0.0.1");
	if (uhoma_stack_create(&cfg, &st) != UHOMA_OK ||
	    uhoma_socket(st, SERVER_PORT, &srv) != UHOMA_OK ||
	    uhoma_socket(st, 0, &cli) != UHOMA_OK ||
	    uhoma_set_buffers(srv, region(), REGION) != UHOMA_OK ||
	    uhoma_set_buffers(cli, region(), REGION) != UHOMA_OK)
		abort();
	uh_addr_parse("10.0.0.2", &peers[0]);
	uh_addr_parse("10.0.0.3", &peers[1]);
	start_rpc();
}

static void app_side(void)
{
	struct uhoma_msg m;
	int rc;

	for (int i = 0; i < 8; i++) {
		memset(&m, 0, sizeof(m));
		rc = uhoma_recv(srv, &m, UHOMA_NONBLOCK, 0);
		if (rc == UHOMA_ERR_AGAIN)
			break;
		if (rc > 0) {
			delivered(&m);
			uhoma_msg_release(srv, &m);
			uhoma_reply(srv, (struct sockaddr *)&m.peer, m.peer_len,
				    m.id, msg, 100);
		}
	}
	for (int i = 0; i < 8; i++) {
		memset(&m, 0, sizeof(m));
		rc = uhoma_recv(cli, &m, UHOMA_NONBLOCK, 0);
		if (rc == UHOMA_ERR_AGAIN)
			break;
		if (rc > 0)
			uhoma_msg_release(cli, &m);
		if (m.id == cli_id)
			start_rpc();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pkt[2048];

	if (!st)
		setup();
	while (size >= 3) {
		uint8_t kind = data[0];
		size_t len = (size_t)data[1] | (size_t)data[2] << 8;

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (len > sizeof(pkt))
			len = sizeof(pkt);
		memcpy(pkt, data, len);
		data += len;
		size -= len;
		if (len >= 28) {
			uint16_t dport = (kind & 1) ? uhoma_port(cli) : SERVER_PORT;

			pkt[2] = (uint8_t)(dport >> 8);
			pkt[3] = (uint8_t)dport;
			if (kind & 2) {
				uint64_t id = cli_id ^ 1;

				pkt[0] = 0;
				pkt[1] = SERVER_PORT;
				for (int i = 0; i < 8; i++)
					pkt[20 + i] = (uint8_t)(id >> (56 - 8 * i));
			}
		}
		uh_stack_input(st, pkt, len, &peers[(kind >> 2) & 1]);
	}
	uhoma_memnet_run(net, 3 * 1000 * 1000);
	note_restarts();
	app_side();
	check_gauges();
	return 0;
}
