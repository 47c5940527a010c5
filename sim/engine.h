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
/* The most events pending at once (sim_engine.limit's default). */
#define SIM_MAX_EVENTS (1ull << SIM_SLOT_BITS)

/* Keys whose time differs from the heap's `last` first in bit j - 1
 * (bucket 0: equal to it), in no order but bucket 0's, which is sorted
 * and read from @head. */
struct sim_bucket {
	struct sim_key *k;
	uint32_t n, cap, head;
};

#define SIM_BUCKETS 65

/* Why an engine stopped for good (sim_engine.failed). */
enum sim_engine_failure {
	SIM_ENG_OK = 0,
	SIM_ENG_FULL,        /* more than `limit` events pending at once */
	SIM_ENG_NOMEM,       /* memory ran out (the engine's or a caller's:
			      * sim_engine_fail) */
};

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
	size_t limit;        /* most events pending at once (SIM_MAX_EVENTS;
			      * a power of two at most that: tests lower
			      * it) */
	/* Events may set it (sim_engine_stop_at): sim_run_until fires
	 * none due after it. UINT64_MAX: no such bound. */
	uint64_t stop_at;
	/*
	 * Not SIM_ENG_OK: an event could not be scheduled (or a caller's
	 * memory ran out), so the model has lost something -- a packet's
	 * arrival, a host's tick -- and what follows would be wrong. Nothing
	 * fires any more; the run is an error (sim_engine_error says why).
	 */
	enum sim_engine_failure failed;
};

void sim_engine_init(struct sim_engine *e);
void sim_engine_free(struct sim_engine *e);

/*
 * Schedules @fn(@a, @b) @delay ps from now. Returns 0, or -1: more than
 * `limit` events would be pending, or no memory; the engine has then
 * failed (sim_engine.failed) and fires nothing more, so a caller that
 * cannot undo what it did may go on: the run stops with the reason.
 */
int sim_at(struct sim_engine *e, uint64_t delay, sim_fn fn, void *a, void *b);

/* Memory a caller needed for the model ran out: the engine fails as if an
 * event could not be scheduled. */
void sim_engine_fail(struct sim_engine *e, enum sim_engine_failure why);

/* What sim_engine.failed means, for the user: what was exceeded and what
 * makes a run need that, into @buf (@len bytes). */
const char *sim_engine_error(const struct sim_engine *e, char *buf,
			     size_t len);

/* Sets stop_at to @t (ps, at or after now): sim_run_until fires nothing
 * due after it. Later calls may move it either way. */
void sim_engine_stop_at(struct sim_engine *e, uint64_t t);

/* Fires events in order until none is left, the next is due after @until
 * (ps) or after stop_at, or the engine has failed; the clock is then the
 * earlier of @until and stop_at, or the last event's time if the heap ran
 * dry first (or the engine failed). Returns how many fired. */
uint64_t sim_run_until(struct sim_engine *e, uint64_t until);

/* Fires the next event, if any, whatever its time; returns 0 if there was
 * none (or the engine has failed). */
int sim_step(struct sim_engine *e);

#endif /* UHOMA_SIM_ENGINE_H */
