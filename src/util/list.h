/*
 * list.h - intrusive circular doubly-linked lists.
 *
 * Not thread-safe: every list names, where it is declared, the lock that
 * serializes it. For a list walked without its lock see sync/rculist.h.
 */
#ifndef UHOMA_UTIL_LIST_H
#define UHOMA_UTIL_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "util/compiler.h"

struct uh_list {
	struct uh_list *next, *prev;
};

static inline void uh_list_init(struct uh_list *h)
{
	h->next = h->prev = h;
}

static inline bool uh_list_empty(const struct uh_list *h)
{
	return h->next == h;
}

/* True if @n is on some list (nodes are kept self-linked when off one). */
static inline bool uh_list_linked(const struct uh_list *n)
{
	return n->next != n;
}

static inline void uh_list_insert_(struct uh_list *n, struct uh_list *prev,
				   struct uh_list *next)
{
	n->next = next;
	n->prev = prev;
	prev->next = n;
	next->prev = n;
}

static inline void uh_list_add_tail(struct uh_list *n, struct uh_list *h)
{
	uh_list_insert_(n, h->prev, h);
}

/* Inserts @n before @pos. */
static inline void uh_list_add_before(struct uh_list *n, struct uh_list *pos)
{
	uh_list_insert_(n, pos->prev, pos);
}

/* Unlinks @n and leaves it self-linked; harmless if not linked. */
static inline void uh_list_del(struct uh_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	uh_list_init(n);
}

#define uh_list_entry(p, type, member) uh_container_of(p, type, member)

#define uh_list_first(h, type, member) \
	(uh_list_empty(h) ? NULL : uh_list_entry((h)->next, type, member))

#endif /* UHOMA_UTIL_LIST_H */
