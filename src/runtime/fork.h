/*
 * fork.h - making fork(2) without exec safe for a process that uses uhoma.
 *
 * The child of fork(2) gets only the forking thread. Whatever another
 * thread held at that instant -- a cache's depot lock, the validator's
 * graph lock, liburcu's grace period, a read section -- it would hold in
 * the child forever. So before every fork uhoma takes its process-wide
 * locks and drains every RCU read section (rcu.h, the fork gate), and lets
 * go after it in both processes. The parent's stacks are not usable in the
 * child (their threads are gone; uhoma(7)); the child creates its own.
 * Per-stack locks need no such care: no child ever touches the parent's
 * stacks. Their carriers' descriptors, though, would keep the parent's
 * ports bound in the kernel as long as the child lives: the child closes
 * them.
 */
#ifndef UHOMA_RUNTIME_FORK_H
#define UHOMA_RUNTIME_FORK_H

/* Installs the handlers (pthread_atfork) once per process; every stack
 * creation calls it first, before it takes any process-wide lock. */
void uh_fork_handlers_install(void);

struct uh_carrier;

/* A fork child closes @c's descriptors (carrier forget): between these
 * calls (the runtime's start and stop) @c is tracked. */
void uh_fork_track(struct uh_carrier *c);
void uh_fork_untrack(struct uh_carrier *c);

#endif /* UHOMA_RUNTIME_FORK_H */
