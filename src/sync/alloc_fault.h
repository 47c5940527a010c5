/*
 * alloc_fault.h - failed allocations on request, for tests.
 *
 * A path taken only when memory runs out is a path no test runs: its
 * errors go unseen, and the validator never learns its lock edges
 * (design.md §3.4, "Paths not run"). In builds with the validator, whose
 * wrap sees every allocation uhoma's own code makes (lockdep_wrap.c), a
 * test may make a share of them fail: malloc, calloc, realloc and
 * strdup return NULL, posix_memalign ENOMEM, mmap MAP_FAILED (errno
 * ENOMEM). The program's own allocations, libc's and liburcu's are never
 * failed. Which ones fail is decided by a counter hashed with the seed:
 * the same sequence of allocations fails the same way.
 */
#ifndef UHOMA_SYNC_ALLOC_FAULT_H
#define UHOMA_SYNC_ALLOC_FAULT_H

#include <stdbool.h>
#include <stdint.h>

/* From now on about @per_million of uhoma's allocations fail (0: none),
 * chosen with @seed. Without the validator, nothing fails and this
 * returns false. */
bool uh_alloc_fault_set(uint32_t per_million, uint64_t seed);

/* Whether the allocation being made now is to fail; counts it if so. */
bool uh_alloc_fault_now(void);

/* Allocations failed so far. */
uint64_t uh_alloc_faults(void);

#endif
