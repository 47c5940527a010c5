/*
 * test_dedup.c - a server's memory of one client process's finished
 * request ids (src/core/dedup.c), driven directly with ids and ticks.
 */
#include <stdlib.h>

#include "testutil.h"

#include "core/dedup.h"

/* The id of sequence number @s of client process @proc. */
static uint64_t id_of(uint64_t proc, uint64_t s)
{
	return (proc << UH_DEDUP_KEY_SHIFT) | (s << 1);
}

#define P 77ull   /* a client process */
#define SETTLE 200 /* ticks */
#define MAX_CAP (1u << 16)

/* Admits @s at @now as peer.c does: grows the ring first if it must. */
static uint64_t admit(struct uh_dedup *d, uint64_t s, uint64_t now)
{
	uint32_t need = uh_dedup_needs(d, id_of(P, s), MAX_CAP, now, SETTLE);

	if (need)
		free(uh_dedup_install(d, uh_dedup_ring(need), need));
	assert_int_equal(uh_dedup_needs(d, id_of(P, s), MAX_CAP, now, SETTLE),
			 0);
	return uh_dedup_admit(d, id_of(P, s), now, SETTLE);
}

static void dedup__finished_ids_are_refused_forever(void **state)
{
	struct uh_dedup *d = uh_dedup_new(P, id_of(P, 5000), 1);
	(void)state;

	assert_non_null(d);
	assert_true(d->key == P);
	/* In order, one a tick, each finished as it ends: once the numbers
	 * below the first have settled, the floor follows. */
	for (uint64_t s = 5000; s < 9000; s++) {
		assert_false(uh_dedup_finished(d, id_of(P, s)));
		assert_int_equal(admit(d, s, s - 4999), 0);
		uh_dedup_end(d, id_of(P, s), true, s - 4999);
	}
	assert_true(d->floor == 8999);
	assert_int_equal(d->alive, 0);
	assert_int_equal(d->cap, UH_DEDUP_MIN_CAP);
	assert_true(d->forgotten == 0);
	for (uint64_t s = 5000; s < 9000; s += 7)
		assert_true(uh_dedup_finished(d, id_of(P, s)));
	assert_false(uh_dedup_finished(d, id_of(P, 9000)));
	uh_dedup_free(d);
}

/* Requests that overtook earlier ones at the start are still new. */
static void dedup__earlier_ids_at_start_are_new(void **state)
{
	struct uh_dedup *d = uh_dedup_new(P, id_of(P, 100000), 1);
	(void)state;

	assert_false(uh_dedup_finished(d, id_of(P, 99990)));
	assert_false(uh_dedup_finished(d, id_of(P, 100000 - 511)));
	assert_true(uh_dedup_finished(d, id_of(P, 100000 - 512)));
	uh_dedup_free(d);
}

/* Far below a young record's first floor, a first copy is only unseen:
 * the floor moves under it (the ring grows to keep the record's top in
 * reach); after settle ticks, or once the floor has moved, it would be
 * refused. */
static void dedup__first_floor_is_a_guess(void **state)
{
	struct uh_dedup *d = uh_dedup_new(P, id_of(P, 100000), 1);
	uint32_t need;
	(void)state;

	assert_int_equal(admit(d, 100000, 1), 0);
	assert_true(uh_dedup_finished(d, id_of(P, 90000)));
	need = uh_dedup_lower_needs(d, id_of(P, 90000), MAX_CAP, 2, SETTLE);
	assert_int_equal(need, 16384);
	/* Too late, or too far for the window: truly finished. */
	assert_int_equal(uh_dedup_lower_needs(d, id_of(P, 90000), MAX_CAP,
					      1 + SETTLE, SETTLE), UINT32_MAX);
	assert_int_equal(uh_dedup_lower_needs(d, id_of(P, 90000), 8192, 2,
					      SETTLE), UINT32_MAX);
	free(uh_dedup_install(d, uh_dedup_ring(need), need));
	uh_dedup_lower(d, id_of(P, 90000));
	assert_false(uh_dedup_finished(d, id_of(P, 90000)));
	/* The later one is still alive and known; the earlier runs. */
	assert_false(uh_dedup_finished(d, id_of(P, 100000)));
	assert_int_equal(admit(d, 90000, 2), 0);
	uh_dedup_end(d, id_of(P, 90000), true, 3);
	assert_true(uh_dedup_finished(d, id_of(P, 90000)));
	/* The floor is knowledge now: below it stays finished. */
	assert_int_equal(uh_dedup_lower_needs(d, id_of(P, 80000), MAX_CAP, 4,
					      SETTLE), UINT32_MAX);
	uh_dedup_end(d, id_of(P, 100000), true, 5);
	assert_true(uh_dedup_finished(d, id_of(P, 100000)));
	assert_int_equal(d->alive, 0);
	uh_dedup_free(d);
}

/* An unfinished request holds the floor; the ones after it are held as
 * bits; when it finishes, the floor jumps over all of them. */
static void dedup__hole_holds_the_floor(void **state)
{
	struct uh_dedup *d = uh_dedup_new(P, id_of(P, 1000), 1);
	(void)state;

	/* The half ring below the first id runs and ends too. */
	for (uint64_t s = 489; s < 1000; s++) {
		admit(d, s, 1);
		uh_dedup_end(d, id_of(P, s), true, 1);
	}
	assert_true(d->floor == 999);
	for (uint64_t s = 1000; s < 1300; s++)
		admit(d, s, 1);
	for (uint64_t s = 1001; s < 1300; s++)
		uh_dedup_end(d, id_of(P, s), true, 1);
	assert_true(d->floor == 999);
	assert_false(uh_dedup_finished(d, id_of(P, 1000)));
	assert_true(uh_dedup_finished(d, id_of(P, 1299)));
	/* Ended without running (it timed out before the application saw
	 * it): it may come again, and still holds the floor. */
	uh_dedup_end(d, id_of(P, 1000), false, 1);
	assert_false(uh_dedup_finished(d, id_of(P, 1000)));
	assert_true(d->floor == 999);
	admit(d, 1000, 1);
	uh_dedup_end(d, id_of(P, 1000), true, 1);
	assert_true(d->floor == 1299);
	assert_int_equal(d->alive, 0);
	uh_dedup_free(d);
}

/* Thousands in flight, the first copy of the oldest lost: the ring grows
 * to keep it (it will be sent again), and it is admitted when it comes. */
static void dedup__lost_first_copy_is_kept(void **state)
{
	struct uh_dedup *d = uh_dedup_new(P, id_of(P, 7000), 1);
	(void)state;

	for (uint64_t s = 7001; s < 12000; s++)   /* 7000's copy is lost */
		assert_int_equal(admit(d, s, 2), 0);
	assert_true(d->cap >= 8192);
	assert_false(uh_dedup_finished(d, id_of(P, 7000)));
	assert_int_equal(admit(d, 7000, 7), 0);    /* resent: admitted */
	assert_true(d->forgotten == 0);
	uh_dedup_free(d);
}

/* A request that ended before it ran (the server timed it out while its
 * client still tried) may come again much later: the floor does not slide
 * past it once it settles, as it does for numbers never seen. */
static void dedup__unrun_request_stays_admissible(void **state)
{
	struct uh_dedup *d = uh_dedup_new(P, id_of(P, 30000), 1);
	(void)state;

	admit(d, 30000, 1);
	uh_dedup_end(d, id_of(P, 30000), false, 170);
	/* A client talking to ten servers goes on for a second. */
	for (uint64_t s = 30010; s < 40000; s += 10) {
		uint64_t now = 170 + (s - 30000) / 10;

		admit(d, s, now);
		uh_dedup_end(d, id_of(P, s), true, now);
	}
	assert_false(uh_dedup_finished(d, id_of(P, 30000)));
	assert_int_equal(admit(d, 30000, 1200), 0);   /* sent again: runs */
	uh_dedup_end(d, id_of(P, 30000), true, 1201);
	assert_true(uh_dedup_finished(d, id_of(P, 30000)));
	assert_true(d->forgotten == 0);
	uh_dedup_free(d);
}

/* A client that also talks to other servers: the numbers we never see
 * settle, and the floor slides past them without counting a loss; the
 * ring covers only what its client issues in the settle time. */
static void dedup__other_servers_numbers_settle(void **state)
{
	struct uh_dedup *d = uh_dedup_new(P, id_of(P, 50000), 1);
	(void)state;

	/* One in ten numbers is ours, ten numbers a tick. */
	for (uint64_t s = 50000; s < 150000; s += 10) {
		uint64_t now = (s - 50000) / 10 + 1;

		assert_int_equal(admit(d, s, now), 0);
		uh_dedup_end(d, id_of(P, s), true, now);
	}
	assert_true(d->cap <= 4096);           /* 200 ticks x 10 */
	assert_true(d->forgotten == 0);
	for (uint64_t s = 50000; s < 150000; s += 10)
		assert_true(uh_dedup_finished(d, id_of(P, s)));
	uh_dedup_free(d);
}

/* At the limit the floor slides past what it should keep, and counts it:
 * an alive request's later copies are refused, never run twice. */
static void dedup__limit_slides_and_counts(void **state)
{
	struct uh_dedup *d = uh_dedup_new(P, id_of(P, 10000), 1);
	(void)state;

	admit(d, 10000, 1);                        /* stays alive */
	admit(d, 10001, 1);
	uh_dedup_end(d, id_of(P, 10001), true, 1);
	admit(d, 13000, 1);                        /* grows to 4096 */
	assert_int_equal(d->cap, 4096);
	assert_true(uh_dedup_finished(d, id_of(P, 10001)));  /* copied */
	/* A second install of a ring no longer needed is handed back. */
	{
		uint64_t *ring = uh_dedup_ring(2048);

		assert_ptr_equal(uh_dedup_install(d, ring, 2048), ring);
		free(ring);
	}
	/* At a limit of 4096, a number three rings ahead slides. */
	assert_int_equal(uh_dedup_needs(d, id_of(P, 30000), 4096, 1, SETTLE),
			 0);
	assert_true(uh_dedup_admit(d, id_of(P, 30000), 1, SETTLE) > 0);
	assert_true(d->floor == 30000 - 4096);
	assert_true(d->forgotten > 0);
	assert_true(uh_dedup_finished(d, id_of(P, 10000)));  /* refused now */
	assert_true(uh_dedup_finished(d, id_of(P, 13000)));
	/* The RPCs alive below the floor end quietly. */
	uh_dedup_end(d, id_of(P, 10000), true, 2);
	uh_dedup_end(d, id_of(P, 13000), true, 2);
	assert_int_equal(d->alive, 1);
	uh_dedup_free(d);
}

/* A slide by less than the ring keeps the bits above the new floor. */
static void dedup__partial_slide_keeps_bits(void **state)
{
	struct uh_dedup *d = uh_dedup_new(P, id_of(P, 2000), 1);
	(void)state;

	uh_dedup_admit(d, id_of(P, 2000), 1, SETTLE);   /* hole at 2000 */
	for (uint64_t s = 2001; s < 2400; s++) {
		uh_dedup_admit(d, id_of(P, s), 1, SETTLE);
		uh_dedup_end(d, id_of(P, s), true, 1);
	}
	/* 1024-bit ring, floor 1488: 2600 slides it to 1576. */
	assert_true(uh_dedup_admit(d, id_of(P, 2600), 1, SETTLE) > 0);
	assert_true(d->floor == 2600 - 1024);
	assert_false(uh_dedup_finished(d, id_of(P, 2000)));
	assert_true(uh_dedup_finished(d, id_of(P, 2399)));
	assert_false(uh_dedup_finished(d, id_of(P, 2400)));
	uh_dedup_free(d);
}

/* The scans go a word (64 numbers) at a time: what a slide keeps and
 * counts is exact at the words' edges, and the floor runs over finished
 * numbers from one word into the next. */
static void dedup__slide_is_exact_across_words(void **state)
{
	struct uh_dedup *d = uh_dedup_new(P, id_of(P, 5000), 1);
	(void)state;

	assert_true(d->floor == 4488);
	/* Alive on both sides of the edges at 4544 and 4608. */
	admit(d, 4543, 1);
	admit(d, 4544, 1);
	for (uint64_t s = 4600; s <= 4650; s++) {
		admit(d, s, 1);
		if (s != 4607 && s != 4608)
			uh_dedup_end(d, id_of(P, s), true, 1);
	}
	/* The first to keep is 4543: the ring must reach 5724 - 4543 + 1. */
	assert_int_equal(uh_dedup_needs(d, id_of(P, 5724), MAX_CAP, 1000,
					SETTLE), 2048);
	assert_int_equal(uh_dedup_needs(d, id_of(P, 5724), 1024, 1000,
					SETTLE), 0);
	/* Sliding to 4700 loses the four alive and 4651..4700, unseen
	 * and above the settled top (4650); the unseen below it, and the
	 * finished, are no loss. */
	assert_int_equal(uh_dedup_admit(d, id_of(P, 5724), 1000, SETTLE), 54);
	assert_true(d->floor == 4700);
	assert_true(uh_dedup_finished(d, id_of(P, 4608)));
	assert_false(uh_dedup_finished(d, id_of(P, 4701)));
	assert_false(uh_dedup_finished(d, id_of(P, 5724)));
	uh_dedup_free(d);

	/* The floor follows finished numbers over two word edges. */
	d = uh_dedup_new(P, id_of(P, 1000), 1);
	assert_true(d->floor == 488);
	for (uint64_t s = 489; s <= 700; s++) {
		admit(d, s, 1);
		uh_dedup_end(d, id_of(P, s), true, 1);
	}
	assert_true(d->floor == 700);
	admit(d, 702, 1);
	uh_dedup_end(d, id_of(P, 702), true, 1);
	assert_true(d->floor == 700);           /* 701 is a hole */
	admit(d, 701, 1);
	uh_dedup_end(d, id_of(P, 701), true, 1);
	assert_true(d->floor == 702);
	assert_true(uh_dedup_finished(d, id_of(P, 702)));
	uh_dedup_free(d);
}

static void dedup__idle_after_quiet_time(void **state)
{
	struct uh_dedup *d = uh_dedup_new(P, id_of(P, 10), 100);
	(void)state;

	uh_dedup_admit(d, id_of(P, 10), 100, SETTLE);
	assert_false(uh_dedup_idle(d, 100000, 50));  /* one alive */
	uh_dedup_end(d, id_of(P, 10), true, 200);
	assert_false(uh_dedup_idle(d, 249, 50));
	assert_true(uh_dedup_idle(d, 250, 50));
	assert_true(uh_dedup_bytes(d) >= UH_DEDUP_MIN_CAP / 4);
	uh_dedup_free(d);
}

/*
 * A number 2^38 or more below the floor of a record with nothing alive is
 * a new counter (a restarted process across the wrap of its id start, or
 * a wrapped counter), not a late copy: the record starts over for it.
 * With anything alive it is not, and a number just below the floor never
 * is.
 */
static void dedup__far_below_is_a_new_counter(void **state)
{
	const uint64_t high = (1ull << 39) - 100;
	struct uh_dedup *d = uh_dedup_new(P, id_of(P, high), 1);

	(void)state;
	assert_non_null(d);
	assert_int_equal(admit(d, high, 1), 0);
	uh_dedup_end(d, id_of(P, high), true, 2);
	assert_true(uh_dedup_finished(d, id_of(P, high)));
	assert_false(uh_dedup_reborn(d, id_of(P, high - 5)));
	assert_true(uh_dedup_reborn(d, id_of(P, 7)));
	assert_int_equal(admit(d, high + 1, 3), 0);      /* alive: not */
	assert_false(uh_dedup_reborn(d, id_of(P, 7)));
	uh_dedup_end(d, id_of(P, high + 1), true, 4);
	assert_true(uh_dedup_reborn(d, id_of(P, 7)));
	uh_dedup_restart(d, id_of(P, 7), 5);
	assert_false(uh_dedup_finished(d, id_of(P, 7)));
	assert_int_equal(admit(d, 7, 5), 0);
	uh_dedup_end(d, id_of(P, 7), true, 6);
	assert_true(uh_dedup_finished(d, id_of(P, 7)));
	/* A late copy of the old counter's request is no new one far
	 * ahead: finished up to the old top, however far above the new
	 * floor; a number past that top is new. */
	assert_true(uh_dedup_finished(d, id_of(P, high)));
	assert_true(uh_dedup_finished(d, id_of(P, high + 1)));
	assert_true(uh_dedup_finished(d, id_of(P, high - 3000)));
	assert_false(uh_dedup_finished(d, id_of(P, high + 2)));
	/* A second restart keeps the first counter's top; the second
	 * counter's numbers are forgotten (at most once is per counter,
	 * dedup.h). */
	uh_dedup_restart(d, id_of(P, 3), 7);
	assert_true(uh_dedup_finished(d, id_of(P, high)));
	assert_false(uh_dedup_finished(d, id_of(P, 7)));
	uh_dedup_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(dedup__far_below_is_a_new_counter),
		UH_TEST(dedup__finished_ids_are_refused_forever),
		UH_TEST(dedup__earlier_ids_at_start_are_new),
		UH_TEST(dedup__first_floor_is_a_guess),
		UH_TEST(dedup__hole_holds_the_floor),
		UH_TEST(dedup__lost_first_copy_is_kept),
		UH_TEST(dedup__other_servers_numbers_settle),
		UH_TEST(dedup__unrun_request_stays_admissible),
		UH_TEST(dedup__limit_slides_and_counts),
		UH_TEST(dedup__partial_slide_keeps_bits),
		UH_TEST(dedup__slide_is_exact_across_words),
		UH_TEST(dedup__idle_after_quiet_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
