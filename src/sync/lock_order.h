/*
 * lock_order.h - THE lock order of uhoma. The one locking document.
 *
 * Every lock belongs to a lock class (lock_class.h) and every class has a
 * rank from this table. A thread may acquire a lock only if its class ranks
 * at or above every class it already holds; the validator (lockdep.c) checks
 * this on every acquisition in debug and test builds, learns the actual
 * class-to-class edges at run time, and reports any cycle among classes of
 * equal rank. docs/design.md explains each class; tests/unit/test_lockdep.c
 * checks that the table there matches this one.
 *
 *   grant -> RPC (bucket) -> socket -> ... -> leaf locks
 *
 * Gaps between ranks leave room for classes added by later layers.
 */
#ifndef UHOMA_SYNC_LOCK_ORDER_H
#define UHOMA_SYNC_LOCK_ORDER_H

enum uh_lock_rank {
	/* Taken with nothing else held, and held across sleeps. */
	UH_RANK_BIND = 50,        /* a stack's rebinds (uh_sock_bind): held
				   * across a grace period and the carrier's
				   * port calls */
	UH_RANK_LANE = 60,        /* a carrier's receive queue read in
				   * turns: held across a peek, the core's
				   * accounting of the datagram and its read
				   * into the region (uh_stack_land_*) */

	/* Protocol locks (src/core, added with the protocol core). */
	UH_RANK_GRANT = 100,      /* receiver grant state: taken first */
	UH_RANK_RPC = 200,        /* RPC bucket locks: the RPC lock */
	UH_RANK_SOCKET = 300,     /* per-socket lists, interests, ready queue */
	UH_RANK_TABLE = 400,      /* socket table / peer table writers */
	UH_RANK_THROTTLE = 500,   /* the pacer's throttled set (PI lock) */
	UH_RANK_NET = 600,        /* carriers: in-memory network state */

	/* Infrastructure that may sit under any protocol lock. */
	UH_RANK_CACHE_REGISTRY = 800, /* object-cache thread registry */
	UH_RANK_LEAF = 1000,      /* leaves: nothing is acquired under them */
};

#endif /* UHOMA_SYNC_LOCK_ORDER_H */
