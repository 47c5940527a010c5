/*
 * gaps.h - what a message has received: every arrival order of its
 * packets, with no drop (homa-protocol.md §1.8 tracks a fixed few gaps and
 * drops a packet that would open one more).
 *
 * A message starts with UH_MAX_GAPS gaps in place. The packet that would
 * open one more moves them into a block of UH_GAPS_BLOCK, taken from the
 * receiving thread's spare: a block the thread allocated before it took
 * any lock (uh_gaps_prepare, at the start of each packet), since nothing
 * may allocate under an RPC lock. The block stays with the RPC until it
 * is freed (uh_gaps_release, by the reaper). Memory is bounded by the
 * message: one block per message that arrived in more than UH_MAX_GAPS
 * pieces. A sender that cuts a message into more pieces than a block holds
 * (under 1,000 bytes each) still gets the drop, counted as too_many_gaps.
 */
#ifndef UHOMA_CORE_GAPS_H
#define UHOMA_CORE_GAPS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/rpc.h"

/* Makes sure the calling thread has a spare block. May allocate: no lock
 * held. */
void uh_gaps_prepare(void);

/* Resets @in's record to empty (in place); keeps a block it has. */
void uh_gaps_reset(struct uh_msgin *in);

/*
 * Accepts bytes [off, off + len) into @in's record. Returns the number of
 * new bytes and sets *@start to the first; 0 for a duplicate; UINT32_MAX if
 * tracking it would need more gaps than a block holds. A range
 * overlapping received bytes gives its first new run only; the caller
 * asks again for the rest (from the run's end). RPC lock held; never
 * allocates.
 */
uint32_t uh_gaps_accept(struct uh_msgin *in, uint32_t off, uint32_t len,
			uint32_t *start);

/* Whether any byte of [off, off + len) is not received yet. */
bool uh_gaps_any_new(const struct uh_msgin *in, uint32_t off, uint32_t len);

/* Frees @in's block, if it has one. No lock held. */
void uh_gaps_release(struct uh_msgin *in);

#endif /* UHOMA_CORE_GAPS_H */
