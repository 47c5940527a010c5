/*
 * alloc_fault.c - failed allocations on request (alloc_fault.h).
 */
#include <stdatomic.h>

#include "sync/alloc_fault.h"

static _Atomic uint32_t rate;       /* per million; 0: off */
static _Atomic uint64_t seed_;
static _Atomic uint64_t counter;    /* allocations seen while on */
static _Atomic uint64_t failed;

static uint64_t mix(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

bool uh_alloc_fault_set(uint32_t per_million, uint64_t seed)
{
#ifdef UHOMA_LOCKDEP
	atomic_store(&seed_, seed);
	atomic_store(&counter, 0);
	atomic_store(&rate, per_million > 1000000 ? 1000000 : per_million);
	return true;
#else
	(void)per_million;
	(void)seed;
	return false;
#endif
}

bool uh_alloc_fault_now(void)
{
	uint32_t r = atomic_load_explicit(&rate, memory_order_relaxed);
	uint64_t n;

	if (!r)
		return false;
	n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
	if (mix(n ^ atomic_load_explicit(&seed_, memory_order_relaxed)) %
	    1000000u >= r)
		return false;
	atomic_fetch_add_explicit(&failed, 1, memory_order_relaxed);
	return true;
}

uint64_t uh_alloc_faults(void)
{
	return atomic_load(&failed);
}
