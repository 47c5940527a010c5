/*
 * stat.h - a stack's metrics, published in shared memory for uhoma-stat.
 *
 * With cfg.stat (the default) each stack creates /dev/shm/uhoma.<pid>.<n>
 * (mode 0600, removed by uhoma_stack_destroy) and keeps its live counters
 * there: the sharded struct uh_metrics the core adds to is the segment's
 * counter area, so publishing costs nothing per packet. Another process
 * maps the file read-only and sums the shards. What the core does not
 * count as it goes -- lock contention per class, object-cache statistics,
 * grantable, throttled and deferred gauges -- the timer thread copies into
 * the segment every 100 ms under a sequence count (odd while writing;
 * readers retry). The layout is versioned; names travel with the counters, so
 * uhoma-stat needs no table of its own.
 */
#ifndef UHOMA_RUNTIME_STAT_H
#define UHOMA_RUNTIME_STAT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define UH_STAT_MAGIC 0x3154415453414d48ull   /* "HMASTAT1" */
#define UH_STAT_VERSION 2
#define UH_STAT_NAME 48
#define UH_STAT_LOCKS 64
#define UH_STAT_CACHES 32
#define UH_STAT_DIR "/dev/shm"
#define UH_STAT_PREFIX "uhoma."

struct uh_stat_lock {
	char name[32];
	uint64_t misses, wait_ns;
};

struct uh_stat_cache {
	char name[32];
	uint64_t allocs, frees, slab_allocs, slab_frees, depot_contention;
	uint32_t mag_rounds, resizes;
};

struct uh_stat_hdr {
	uint64_t magic;                /* UH_STAT_MAGIC once complete */
	uint32_t version;
	uint32_t ncounters;            /* names and counters per shard */
	uint32_t nshards;
	uint32_t shard_stride;         /* bytes between shards */
	uint64_t names_off;            /* char[ncounters][UH_STAT_NAME] */
	uint64_t shards_off;           /* int64_t counters, shard by shard */
	int32_t pid;
	uint32_t stack_no;
	char addr[64];                 /* the stack's address */
	char carrier[16];
	/* The snapshot: written by the timer thread, seq odd meanwhile. */
	_Atomic uint64_t seq;
	uint64_t snap_ns;              /* CLOCK_MONOTONIC of the snapshot */
	uint64_t grantable, throttled, deferred; /* gauges */
	uint32_t nlocks, ncaches;
	struct uh_stat_lock locks[UH_STAT_LOCKS];
	struct uh_stat_cache caches[UH_STAT_CACHES];
};

struct uhoma_stack;
struct uhoma_config;
struct uh_metrics;
struct uh_stat;

/* Storage for a new stack's counters (*@metrics): in a new shared segment
 * (*@stat) if cfg.stat, else private (*@stat NULL). @carrier is the
 * carrier's name, for uhoma-stat. Returns 0 or a uhoma error (a segment
 * that cannot be created falls back to private counters, with a warning
 * on stderr). */
int uh_stat_create(const struct uhoma_config *cfg, const char *carrier,
		   struct uh_metrics **metrics, struct uh_stat **stat);

/* Refreshes the snapshot part (the timer thread, every 100 ms). */
void uh_stat_update(struct uhoma_stack *st);

/* Unlinks and unmaps the segment (or frees the private counters). */
void uh_stat_destroy(struct uh_metrics *metrics, struct uh_stat *stat);

/* Calls @fn for every segment file (@name: what follows the prefix,
 * "PID.STACK"); returns the sum of what @fn returned. */
int uh_stat_each(int (*fn)(const char *path, const char *name, void *arg),
		 void *arg);

/* True if process @pid exists (ours or another user's). */
bool uh_stat_pid_alive(int pid);

/* Removes the segments of processes that are gone (killed before they
 * destroyed their stacks), calling @removed (may be NULL) for each.
 * Returns how many. Runs once per process at the first uh_stat_create. */
unsigned uh_stat_sweep(void (*removed)(const char *path, int pid));

#endif /* UHOMA_RUNTIME_STAT_H */
