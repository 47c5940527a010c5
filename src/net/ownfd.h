/*
 * ownfd.h - the library's own descriptors, out of the program's way.
 *
 * A stack holds descriptors the program never opened: its UDP (or raw)
 * sockets, the claim sockets, the waitset's epoll and eventfd, each
 * socket's readiness pair, /proc/loadavg. Taken as they come they are the
 * lowest free numbers -- 0, 1 and 2 in a daemon that closed its standard
 * streams -- and a program treats low numbers as its own: a
 * close-everything loop, closefrom, dup2 onto a number it believes free.
 * Closed under the library, a stack loses its sockets and its RPCs time
 * out; worse, the number is reused by the program's next file, and the
 * library then writes its wake-ups and datagrams into that file.
 *
 * So each one is moved, as it is made, to a number at or above a floor
 * (half the soft RLIMIT_NOFILE, at most 512: under FD_SETSIZE, for a
 * program that selects on uhoma_fd; at least 3; where that fails -- the
 * numbers above the floor used up -- it stays where it is), and named in a
 * lock-free set. The preload refuses a program's close, shutdown and
 * dup2/dup3 onto a named number with EBADF, and its close_range and
 * closefrom step around them (preload.c). A program's first Homa socket
 * then gets the number the module's would: the lowest free. The library
 * keeps no short-lived descriptor on a path that runs while RPCs do (the
 * route lookup of each new peer uses two global sockets); those it opens
 * and closes at a stack's start can still meet a close-everything loop
 * that another thread runs at that moment.
 *
 * Thread safety: the set is atomic bits in chunks made on demand and never
 * freed; any thread may name, forget and ask at once.
 */
#ifndef UHOMA_NET_OWNFD_H
#define UHOMA_NET_OWNFD_H

#include <stdatomic.h>
#include <stdbool.h>

/*
 * Takes @fd (just made by the library, close-on-exec, not yet used) as the
 * library's own: returns the number to use from now on (@fd moved up to
 * the floor, or @fd itself if it could not be moved), named in the set.
 * A negative @fd is returned as it is, errno untouched.
 */
int uh_fd_own(int fd);

/* uh_fd_own for a descriptor of the process's, not of a stack's (the
 * route lookups' and port probes' sockets, /proc/loadavg), held in
 * *@slot: a fork child sets *@slot to -1 and leaves the descriptor to the
 * program (the library makes another when it needs one). With @slot NULL
 * it stays the library's in the child too. */
int uh_fd_own_global(int fd, _Atomic int *slot);

/* In a fork child (one thread): the parent's stacks are dead here, so
 * their descriptors are the program's to close (a pre-forking server's
 * worker that closes what it inherited: it could not, helper-44), and so
 * are the global ones that have a slot. */
void uh_fd_fork_child(void);

/*
 * A few kept datagram sockets of one family, for calls the library makes
 * as RPCs run (a route lookup per new peer, a probe of a local peer's
 * port): a socket made and closed for each, at the lowest free number,
 * met a program's close-everything loop in another thread, and its close
 * then closed the program's file (helper-44). A socket is taken by one
 * thread at a time with an atomic flag; one that finds all in use (as
 * many calls at once: rare) makes one of its own for the moment, moved up
 * at once. Nothing waits for another thread: the calls run inside the
 * receive path's read section. Made on first use; a fork child makes its
 * own (uh_fd_own_global's slots).
 */
#define UH_FD_POOL 4
struct uh_fd_pool {
	int family;                      /* immutable */
	_Atomic int fd[UH_FD_POOL];      /* -1: not made yet */
	_Atomic bool busy[UH_FD_POOL];   /* taken by a thread */
};
#define UH_FD_POOL_INIT(fam) { (fam), { -1, -1, -1, -1 }, { 0 } }

/* A socket of @p's family for the caller alone (or -1, errno set); give
 * it back with uh_fd_pool_put and the @slot this sets. */
int uh_fd_pool_get(struct uh_fd_pool *p, int *slot);
void uh_fd_pool_put(struct uh_fd_pool *p, int fd, int slot);

/* Closes own descriptor @fd (forgotten first, so the preload's close lets
 * it through). A negative @fd is ignored. */
void uh_fd_close(int fd);

/* Whether @fd is one of the library's own. */
bool uh_fd_is_own(int fd);

/* The lowest own descriptor in [@from, @to], or -1 if none. */
int uh_fd_own_next(unsigned from, unsigned to);

/* The floor own descriptors are moved to (for tests and docs). */
int uh_fd_floor(void);

#endif /* UHOMA_NET_OWNFD_H */
