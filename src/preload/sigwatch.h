/*
 * sigwatch.h - the preload's signal handling, as seen from its calls.
 *
 * A handler the program runs may call back into the preload: a SIGTERM
 * handler that closes its sockets, one that sends (close and sendmsg are
 * async-signal-safe under the kernel module). If it interrupted this
 * thread inside a call on a Homa socket -- holding a uhoma lock, inside a
 * read section, or inside malloc -- that second call deadlocked on what
 * the first holds (helper-34). So while a thread runs such a call, a
 * handler of the program's that lands on it is deferred: recorded, and
 * run when the call ends, as the kernel runs a handler when the system
 * call it interrupted returns. The exception is a blocking wait's system
 * call (net/waitset.h, uh_waitset_in_wait), where the thread holds
 * nothing: handlers run there at once, as before, and interrupt the wait.
 *
 * A call is counted from the moment it holds a reference to a Homa socket
 * (fdt_get, fdt_alloc, fdt_remove) to the moment it drops it (fdt_put):
 * fdtable.c calls these. The deferred handlers run in that last fdt_put,
 * so with the call's cancellation still disabled; one that leaves by
 * siglongjmp leaves it disabled (as one that left a wait that way always
 * did). A handler that runs inside a wait and leaves it by siglongjmp
 * leaves the thread counted outside, as the call is gone.
 */
#ifndef UHOMA_PRELOAD_SIGWATCH_H
#define UHOMA_PRELOAD_SIGWATCH_H

/* This thread took a reference to a Homa socket. */
void sigwatch_enter(void);

/* It dropped one; the last runs the handlers deferred meanwhile. */
void sigwatch_leave(void);

#endif
