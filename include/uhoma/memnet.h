/*
 * uhoma/memnet.h - an in-process network for tests and simulation.
 *
 * A memnet joins any number of stacks in one process. Each stack created
 * with carrier UHOMA_CARRIER_MEMNET, cfg.memnet and an address in cfg.addr
 * becomes a node. Packets are copied between nodes through a seeded fault
 * injector: loss, duplication, reordering (random extra delay), header
 * corruption and partitions. The same seed and the same sequence of calls
 * give the same faults.
 *
 * Two clocks:
 *  - real (default): stacks run their own threads; delays are real time;
 *  - virtual: stacks must use cfg.rx_threads = 0 (manual mode); nothing
 *    happens until uhoma_memnet_run() advances the clock, delivering packets
 *    and running each stack's timer at its virtual tick. Deterministic.
 *
 * Thread safety: every function may be called from any thread, except that
 * uhoma_memnet_run() must not run in two threads at once, and
 * uhoma_memnet_destroy() must come after every node's stack is destroyed.
 */
#ifndef UHOMA_MEMNET_H
#define UHOMA_MEMNET_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uhoma_memnet;

/* struct uhoma_memnet_faults - per-packet probabilities in parts per
 * million, and the delay range. All zero: a perfect network. */
struct uhoma_memnet_faults {
	uint32_t loss_ppm;        /* packet vanishes */
	uint32_t dup_ppm;         /* packet delivered twice */
	uint32_t corrupt_ppm;     /* a header byte flipped in flight, then
				   * caught by the link's checksum (as UDP's
				   * checksum would): the packet is dropped */
	uint32_t garble_ppm;      /* a header byte flipped and delivered
				   * anyway: hostile input for robustness
				   * tests (no transport survives this with
				   * its data intact; uhoma must not crash) */
	uint32_t reorder_ppm;     /* packet delayed by up to max_delay_ns extra */
	uint64_t delay_ns;        /* every packet's base one-way delay */
	uint64_t max_delay_ns;    /* extra delay bound for reordered packets */
};

/*
 * uhoma_memnet_create - a new network. @seed drives every random choice;
 * @virtual_clock non-zero selects the virtual clock (starting at 0).
 * Returns NULL if memory is short.
 */
struct uhoma_memnet *uhoma_memnet_create(uint64_t seed, int virtual_clock);

/* uhoma_memnet_destroy - frees the network; every node must be gone. */
void uhoma_memnet_destroy(struct uhoma_memnet *net);

/* uhoma_memnet_set_faults - applies to packets sent from now on. */
void uhoma_memnet_set_faults(struct uhoma_memnet *net,
			     const struct uhoma_memnet_faults *f);

/*
 * uhoma_memnet_partition - @cut non-zero: packets between addresses @a and
 * @b (text, as in cfg.addr) are dropped in both directions; zero heals.
 * Returns 0, or -1 if an address does not parse.
 */
int uhoma_memnet_partition(struct uhoma_memnet *net, const char *a,
			   const char *b, int cut);

/*
 * uhoma_memnet_stall - @stall non-zero: the node at @addr takes no packets
 * from its queue -- a receiver that fell behind (descheduled, overloaded)
 * while its peers and its own timer go on; packets wait, up to the queue's
 * limit. Zero: it takes the backlog at once. Returns 0, or -1 if no node
 * has that address.
 */
int uhoma_memnet_stall(struct uhoma_memnet *net, const char *addr,
		       int stall);

/* uhoma_memnet_now - the network's clock in ns (virtual or monotonic). */
uint64_t uhoma_memnet_now(struct uhoma_memnet *net);

/*
 * uhoma_memnet_run - virtual clock only: advances time by @ns, delivering
 * every packet that falls due (in time order) and running each manual
 * stack's timer at its ticks. Returns the number of packets delivered.
 */
uint64_t uhoma_memnet_run(struct uhoma_memnet *net, uint64_t ns);

/* struct uhoma_memnet_stats - what the network did. */
struct uhoma_memnet_stats {
	uint64_t sent, delivered, lost, duplicated, corrupted, garbled, reordered;
	uint64_t partitioned, overflowed, unroutable;
};
void uhoma_memnet_stats(struct uhoma_memnet *net,
			struct uhoma_memnet_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* UHOMA_MEMNET_H */
