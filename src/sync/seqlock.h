/*
 * seqlock.h - uh_seqlock: a sequence lock for small read-mostly records
 * (per-peer priority cutoffs, configuration snapshots).
 *
 * Writers serialize on a uh_lock and make the sequence odd while they write;
 * readers copy the record without any store to shared memory and retry if
 * the sequence was odd or changed. Readers never block writers.
 *
 * To be race-free under the C11 memory model (and clean under TSan) the
 * record lives in an array of relaxed-atomic 64-bit words declared with
 * UH_SEQ_RECORD; uh_seqlock_read/uh_seqlock_write copy it to and from an
 * ordinary struct. The fences are those of Boehm, "Can Seqlocks Get Along
 * With Programming Language Memory Models?" (MSPC 2012):
 *   writer: seq = odd (relaxed); release fence; data stores (relaxed);
 *           seq = even (release)
 *   reader: s = seq (acquire); data loads (relaxed); acquire fence;
 *           retry if seq != s or s odd
 */
#ifndef UHOMA_SYNC_SEQLOCK_H
#define UHOMA_SYNC_SEQLOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sync/lock.h"

struct uh_seqlock {
	_Atomic uint32_t seq;  /* odd while a writer is inside; see above */
	struct uh_lock wlock;  /* serializes writers */
};

/* Declares storage for a seqlock-protected record of type @type. */
#define UH_SEQ_WORDS(type) ((sizeof(type) + 7) / 8)
#define UH_SEQ_RECORD(type, name) _Atomic uint64_t name[UH_SEQ_WORDS(type)]

void uh_seqlock_init(struct uh_seqlock *sl, struct uh_lock_class *wcls);

/* Copies the record in @words (@size bytes) to @out, consistently.
 * Returns how many retries it took. Never blocks; never writes shared data. */
unsigned uh_seqlock_read(const struct uh_seqlock *sl,
			 const _Atomic uint64_t *words, void *out, size_t size);

/* Replaces the record in @words with @size bytes from @in. */
void uh_seqlock_write_(struct uh_seqlock *sl, _Atomic uint64_t *words,
		       const void *in, size_t size, struct uh_srcloc loc);
#define uh_seqlock_write(sl, w, in, size) \
	uh_seqlock_write_((sl), (w), (in), (size), UH_HERE)

/* Current sequence (even when no writer is inside). */
static inline uint32_t uh_seqlock_sequence(const struct uh_seqlock *sl)
{
	return atomic_load_explicit(&sl->seq, memory_order_acquire);
}

#endif /* UHOMA_SYNC_SEQLOCK_H */
