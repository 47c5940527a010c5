/*
 * yield.h - random yield injection at lock and RCU points.
 *
 * Tux3 found its races on a uniprocessor with preemption: a task can lose the
 * CPU between any two instructions. Stress tests widen race windows the same
 * way: built with UHOMA_YIELD_INJECT, every lock acquire/release, RCU read
 * section boundary, seqlock write and depot access is a yield point; when
 * injection is switched on (uh_yield_set() or the UHOMA_YIELD environment
 * variable, in parts per thousand) each point yields the CPU with that
 * probability. Release builds compile the points out entirely.
 */
#ifndef UHOMA_SYNC_YIELD_H
#define UHOMA_SYNC_YIELD_H

#include <stdatomic.h>

#include "util/compiler.h"

#ifdef UHOMA_YIELD_INJECT

/* Probability of yielding at each point, in parts per thousand (0 = off).
 * Relaxed atomic: a stale value only changes how often a point yields. */
extern _Atomic unsigned uh_yield_permille;

void uh_yield_slow(void);

static inline void uh_yield_point(void)
{
	if (uh_unlikely(atomic_load_explicit(&uh_yield_permille,
					     memory_order_relaxed)))
		uh_yield_slow();
}

/* Sets the probability (clamped to 1000); returns the previous one. */
unsigned uh_yield_set(unsigned permille);
/* Number of yields taken by all threads (relaxed count, for tests). */
unsigned long uh_yield_count(void);

#else

static inline void uh_yield_point(void) {}
static inline unsigned uh_yield_set(unsigned permille)
{
	(void)permille;
	return 0;
}
static inline unsigned long uh_yield_count(void) { return 0; }

#endif /* UHOMA_YIELD_INJECT */

#endif /* UHOMA_SYNC_YIELD_H */
