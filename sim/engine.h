/*
 * engine.h - the simulator's discrete-event engine: one virtual clock and
 * a radix heap of pending events' keys.
 *
 * Time is kept in picoseconds, so that a byte's serialization at any rate
 * that divides 8,000,000 Mb/s (10, 25, 40, 100 Gb/s ...) is an exact
 * integer and the timings the tests check are exact (other rates: each
 * port carries the fraction of a picosecond, sim_ser_ps in net.h). Events
 * are ordered by (time, sequence): the sequence number is the order in
 * which they were scheduled, so events due at the same instant fire
 * first-scheduled first and a run never depends on how the heap happens
 * to break ties.
 *
 * Single-threaded: nothing here locks.
 */
#ifndef UHOMA_SIM_ENGINE_H
#define UHOMA_SIM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#define SIM_PS_PER_NS 1000ull
#define SIM_PS_PER_US 1000000ull

typedef void (*sim_fn)(void *a, void *b);

/* A pending event's key, all the heap moves: 16 bytes, four of them (a
 * node's children) in one cache line. `order` is the sequence number
 * above the event's slot in `ev` (SIM_SLOT_BITS): comparing it compares
 * sequence numbers, which are unique. */
struct sim_key {
	uint64_t time;       /* ps */
	uint64_t order;      /* seq << SIM_SLOT_BITS | slot */
};

/* What an event does, kept out of the heap: read once, when it fires. */
struct sim_event {
	sim_fn fn;
	void *a, *b;
};

#define SIM_SLOT_BITS 24     /* events pending at once: 16 M */

/* Keys whose time differs from the heap's `last` first in bit j - 1
 * (bucket 0: equal to it), in no order but bucket 0's, which is sorted
 * and read from @head. */
struct sim_bucket {
	struct sim_key *k;
	uint32_t n, cap, head;
};

#define SIM_BUCKETS 65

struct sim_engine {
	uint64_t now;        /* ps: the time of the event firing */
	uint64_t next_seq;
	uint64_t fired;      /* events fired so far */
	size_t n, cap;       /* events pending; room for cap of them */
	uint64_t last;       /* the radix heap's base: no key is earlier */
	uint64_t nonempty;   /* bit j - 1: bucket j (1..64) has keys */
	struct sim_bucket b[SIM_BUCKETS];
	struct sim_event *ev;    /* [slot], cap slots */
	uint32_t *free_slots;    /* the cap - n slots not in use */
};

void sim_engine_init(struct sim_engine *e);
void sim_engine_free(struct sim_engine *e);

/* Schedules @fn(@a, @b) @delay ps from now. Returns 0, or -1 (no memory). */
int sim_at(struct sim_engine *e, uint64_t delay, sim_fn fn, void *a, void *b);

/* Fires events in order until none is left or the next is due after
 * @until (ps); the clock is then @until, or the last event's time if the
 * heap ran dry first. Returns how many fired. */
uint64_t sim_run_until(struct sim_engine *e, uint64_t until);

/* Fires the next event, if any, whatever its time; returns 0 if there was
 * none. */
int sim_step(struct sim_engine *e);

#endif /* UHOMA_SIM_ENGINE_H */
