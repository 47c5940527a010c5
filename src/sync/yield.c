/*
 * yield.c - random yield injection (see yield.h).
 */
#ifdef UHOMA_YIELD_INJECT

#include "sync/yield.h"

#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

_Atomic unsigned uh_yield_permille;
static _Atomic unsigned long yields;
static __thread uint64_t rng_state;

/* Reads UHOMA_YIELD once at load time so any test binary can be driven. */
__attribute__((constructor)) static void yield_env_init(void)
{
	const char *s = getenv("UHOMA_YIELD");

	if (s)
		uh_yield_set((unsigned)strtoul(s, NULL, 10));
}

static uint64_t rng_next(void)
{
	uint64_t x = rng_state;

	if (x == 0)   /* per-thread seed: address of the TLS slot and time */
		x = (uint64_t)(uintptr_t)&rng_state ^ (uint64_t)clock();
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x ? x : 1;
	return x;
}

void uh_yield_slow(void)
{
	unsigned p = atomic_load_explicit(&uh_yield_permille,
					  memory_order_relaxed);

	if (rng_next() % 1000 < p) {
		atomic_fetch_add_explicit(&yields, 1, memory_order_relaxed);
		sched_yield();
	}
}

unsigned uh_yield_set(unsigned permille)
{
	if (permille > 1000)
		permille = 1000;
	return atomic_exchange(&uh_yield_permille, permille);
}

unsigned long uh_yield_count(void)
{
	return atomic_load_explicit(&yields, memory_order_relaxed);
}

#else
typedef int uh_yield_compiled_out;
#endif
