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
 * call -- a carrier wait, or the futex of a sleep: the receive's, the send
 * budget's (sync/wait.h, uh_wait_in_syscall) -- where the thread holds
 * nothing: handlers run there at once, as before, and interrupt the wait.
 *
 * A call is counted from the moment it holds a reference to a Homa socket
 * (fdt_get, fdt_alloc, fdt_remove) to the moment it drops it (fdt_put):
 * fdtable.c calls these. sendmsg, recvmsg and the close family also
 * count their whole call, so that what they defer runs after all of it:
 * after the real close (a handler that jumped out of close left the
 * descriptor open: helper-35), after cancellation is restored. Elsewhere
 * the deferred handlers run in the last fdt_put. A handler that runs
 * inside a wait and leaves it by siglongjmp leaves the thread counted
 * outside, as the call is gone. The library blocks signals from fork's
 * prepare to its parent and child handlers (runtime/fork.c), while it
 * holds its locks for the fork.
 */
#ifndef UHOMA_PRELOAD_SIGWATCH_H
#define UHOMA_PRELOAD_SIGWATCH_H

/* This thread took a reference to a Homa socket. */
void sigwatch_enter(void);

/* It dropped one; the last runs the handlers deferred meanwhile. */
void sigwatch_leave(void);

#endif
