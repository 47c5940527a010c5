/*
 * fdtable.h - which file descriptors are Homa sockets, for the LD_PRELOAD
 * library (preload.c).
 *
 * A Homa socket the application holds is a struct hsock; the descriptor it
 * sees is a duplicate of the uhoma socket's readiness eventfd, so poll,
 * select and epoll work on it untouched. The table maps descriptor numbers
 * to hsocks; dup() can make several numbers name one hsock.
 *
 * Lifetime: an hsock is counted (refs) once per table slot naming it and
 * once per call running on it. fdt_get() takes a call reference without a
 * lock: hsocks are never freed, only recycled through a free list, so a
 * stale pointer still points at an hsock; the reference is taken only if
 * the count is not zero, then the slot is read again to be sure it still
 * names that hsock. The last fdt_put() closes the uhoma socket and recycles
 * the hsock.
 */
#ifndef UHOMA_PRELOAD_FDTABLE_H
#define UHOMA_PRELOAD_FDTABLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "uhoma/homa.h"
#include "uhoma/uhoma.h"

struct hsock {
	_Atomic int refs;            /* slots + calls in flight; 0: free */
	_Atomic int slots;           /* table slots naming it */
	struct uhoma_sock *s;        /* set before refs leaves 0; then
				      * immutable until recycled */
	int family;                  /* same: AF_INET or AF_INET6 */
	_Atomic bool stale;          /* inherited across fork: unusable */
	_Atomic bool nonblock;       /* O_NONBLOCK as the app set it */
	pthread_mutex_t lock;        /* leaf: err and rcvbuf below */
	char err[104];               /* the last error, for HOMAIOCINFO */
	struct homa_rcvbuf_args rcvbuf; /* as set by SO_HOMA_RCVBUF */
	struct hsock *free_next;     /* free list lock */
};

/* Sets the table up (idempotent); false if it could not be allocated. */
bool fdt_init(void);

/* Whether @fd names an hsock now (a look, no reference). */
bool fdt_named(int fd);

/* The hsock of @fd with a call reference, or NULL if @fd is not Homa. */
struct hsock *fdt_get(int fd);

/* Drops a reference; the last one closes the uhoma socket. */
void fdt_put(struct hsock *h);

/* A fresh hsock for @s (one reference, no slot yet), or NULL. */
struct hsock *fdt_alloc(struct uhoma_sock *s, int family);

/* Makes @fd name @h (adds a slot and its reference). False if @fd is out
 * of the table's range. */
bool fdt_install(int fd, struct hsock *h);

/* The highest descriptor ever installed, or -1: no Homa descriptor is
 * above it. */
int fdt_high(void);

/* Unnames @fd: returns its hsock with the slot's reference now the
 * caller's (to put), or NULL if @fd was not Homa. *@last is set when no
 * other slot names the hsock. */
struct hsock *fdt_remove(int fd, bool *last);

/* In a fork child (one thread): every inherited hsock becomes stale, and
 * the table's locks free; @each is called with every descriptor number
 * that names one. */
void fdt_mark_stale(void (*each)(int fd));

#endif /* UHOMA_PRELOAD_FDTABLE_H */
