/*
 * incoming.h - handling received packets (uh_stack_input is in stack.h).
 */
#ifndef UHOMA_CORE_INCOMING_H
#define UHOMA_CORE_INCOMING_H

#include <stdbool.h>
#include <stdint.h>

#include "util/addr.h"
#include "core/wire.h"

struct uhoma_stack;
struct uh_rpc;
struct uh_deferred;
struct uhoma_sock;

/* The message ranges one DATA packet brings that were not there yet. */
#define UH_DATA_RUNS 4
struct uh_runs {
	unsigned n;
	uint32_t start[UH_DATA_RUNS], len[UH_DATA_RUNS];
};

/*
 * DATA @h for @rpc (locked, with a reference): checks it, accounts it
 * and, when it brings new bytes, returns true with the message ranges to
 * place in @runs -- every new run of the packet (one that overlaps bytes
 * already received fills each gap it covers; past UH_DATA_RUNS runs, or
 * more gaps than a block holds, the rest is left for a RESEND and counted
 * as too_many_gaps) -- and the RPC's copy count raised: the message is not
 * handed off before uh_in_data_placed. The caller places the bytes in the
 * region with the lock dropped (its reference keeps the RPC and its
 * pages), relocks, and calls uh_in_data_placed. False: nothing to place
 * (dropped, counted).
 */
bool uh_in_data_accept(struct uh_rpc *rpc, const struct uh_hdr *h,
		       const struct uh_addr *src, struct uh_deferred *p,
		       struct uh_runs *runs);
void uh_in_data_placed(struct uh_rpc *rpc, struct uh_deferred *p);

/* The RPC of @s that packet @h from @src is for, locked with a reference;
 * NULL if there is none, or (*@mismatch) if the one with its id belongs to
 * another peer or port (someone else's packet). Creates nothing. */
struct uh_rpc *uh_in_find_rpc(struct uhoma_sock *s, const struct uh_hdr *h,
			      const struct uh_addr *src, bool *mismatch);

/* Counts a received packet of @type and @len bytes. */
void uh_in_count(struct uhoma_stack *st, uint8_t type, size_t len);

/* Server side: client @src, in a packet from its port @sport, acknowledged
 * @ack; its RPC ends. Only an RPC of @sport's: the ack's own fields do not
 * name the client's port, and an ack from another port may be forged.
 * No lock may be held. */
void uh_in_apply_ack(struct uhoma_stack *st, const struct uh_addr *src,
		     uint16_t sport, const struct uh_ack *ack);

#endif /* UHOMA_CORE_INCOMING_H */
