/*
 * memnet.h (internal) - hooks between the in-memory network and the
 * runtime (the public side is include/uhoma/memnet.h).
 */
#ifndef UHOMA_NET_MEMNET_H
#define UHOMA_NET_MEMNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/addr.h"
#include "net/carriers.h"

typedef void (*uh_memnet_input_fn)(void *arg, const uint8_t *buf, size_t len,
				   const struct uh_addr *src);
typedef void (*uh_memnet_tick_fn)(void *arg);

/* True if @c is a node of a virtual-clock memnet. */
bool uh_memnet_is_virtual(const struct uh_carrier *c);

/* Virtual clock: uhoma_memnet_run() delivers @c's packets through @input
 * and calls @tick every @tick_ns. NULLs detach. */
void uh_memnet_set_driver(struct uh_carrier *c, uh_memnet_input_fn input,
			  uh_memnet_tick_fn tick, void *arg, uint64_t tick_ns);

/* What a node sends, diverted (a tap on its link): @fn gets the packets
 * instead of the network, in the sending thread. NULL restores delivery.
 * For white-box tests that want to see, or stop, what a stack sends. */
typedef void (*uh_memnet_divert_fn)(void *arg, const struct uh_tx *pkts,
				    unsigned n);
void uh_memnet_divert(struct uh_carrier *c, uh_memnet_divert_fn fn,
		      void *arg);

#endif /* UHOMA_NET_MEMNET_H */
