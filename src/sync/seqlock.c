/*
 * seqlock.c - the sequence lock (see seqlock.h for the fence argument).
 */
#include "sync/seqlock.h"

#include <string.h>

/*
 * ThreadSanitizer does not model standalone fences (gcc rejects them with
 * -Wtsan), so TSan builds make every data access seq_cst instead: stronger,
 * equally correct, and visible to TSan.
 */
#ifdef UHOMA_TSAN
#define DATA_LOAD memory_order_seq_cst
#define DATA_STORE memory_order_seq_cst
#define fence_acquire() ((void)0)
#define fence_release() ((void)0)
#else
#define DATA_LOAD memory_order_relaxed
#define DATA_STORE memory_order_relaxed
#define fence_acquire() atomic_thread_fence(memory_order_acquire)
#define fence_release() atomic_thread_fence(memory_order_release)
#endif

void uh_seqlock_init(struct uh_seqlock *sl, struct uh_lock_class *wcls)
{
	atomic_init(&sl->seq, 0);
	uh_lock_init(&sl->wlock, wcls);
}

static void words_to_bytes(const _Atomic uint64_t *words, void *out,
			   size_t size)
{
	char *dst = out;

	for (size_t off = 0; off < size; off += 8) {
		uint64_t w = atomic_load_explicit(&words[off / 8],
						  DATA_LOAD);
		size_t n = size - off < 8 ? size - off : 8;

		memcpy(dst + off, &w, n);
	}
}

unsigned uh_seqlock_read(const struct uh_seqlock *sl,
			 const _Atomic uint64_t *words, void *out, size_t size)
{
	unsigned retries = 0;

	for (;; retries++) {
		uint32_t s = atomic_load_explicit(&sl->seq,
						  memory_order_acquire);

		if (s & 1) {
			uh_cpu_relax();
			continue;
		}
		words_to_bytes(words, out, size);
		/* Orders the data loads above before the re-read below. */
		fence_acquire();
		if (atomic_load_explicit(&sl->seq, memory_order_relaxed) == s)
			return retries;
	}
}

void uh_seqlock_write_(struct uh_seqlock *sl, _Atomic uint64_t *words,
		       const void *in, size_t size, struct uh_srcloc loc)
{
	const char *src = in;
	uint32_t s;

	uh_lock_acquire_(&sl->wlock, 0, loc);
	s = atomic_load_explicit(&sl->seq, memory_order_relaxed);
	atomic_store_explicit(&sl->seq, s + 1, memory_order_relaxed);
	/* Orders the odd sequence before every data store below. */
	fence_release();
	uh_yield_point();
	for (size_t off = 0; off < size; off += 8) {
		uint64_t w = 0;
		size_t n = size - off < 8 ? size - off : 8;

		memcpy(&w, src + off, n);
		atomic_store_explicit(&words[off / 8], w, DATA_STORE);
	}
	/* Publishes the data stores before the even sequence. */
	atomic_store_explicit(&sl->seq, s + 2, memory_order_release);
	uh_unlock_(&sl->wlock, loc);
}
