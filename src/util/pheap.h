/*
 * pheap.h - an intrusive pairing heap: a min-heap whose nodes live in the
 * objects it orders, so inserting and removing never allocate (they run
 * under locks that must not block).
 *
 * Insert and finding the minimum cost O(1); removing any node (the
 * minimum or one in the middle) O(log n) amortized (Fredman, Sedgewick,
 * Sleator and Tarjan, 1986). The caller supplies the order, a strict
 * "less" that must not change while a node is in the heap.
 *
 * Not thread-safe: every heap names, where it is declared, the lock that
 * serializes it.
 */
#ifndef UHOMA_UTIL_PHEAP_H
#define UHOMA_UTIL_PHEAP_H

#include <stdbool.h>
#include <stddef.h>

struct uh_pheap_node {
	struct uh_pheap_node *child;   /* first child */
	struct uh_pheap_node *next;    /* next sibling */
	struct uh_pheap_node *prev;    /* previous sibling, or the parent of a
					* first child; NULL for the root */
};

typedef bool (*uh_pheap_less)(const struct uh_pheap_node *a,
			      const struct uh_pheap_node *b);

struct uh_pheap {
	struct uh_pheap_node *root;    /* the minimum, or NULL */
	uh_pheap_less less;
};

static inline void uh_pheap_init(struct uh_pheap *h, uh_pheap_less less)
{
	h->root = NULL;
	h->less = less;
}

/* The minimum, or NULL if the heap is empty. */
static inline struct uh_pheap_node *uh_pheap_min(const struct uh_pheap *h)
{
	return h->root;
}

/* Whether @n, a node zeroed before its first use, is in @h (a removed
 * node is zeroed again). */
static inline bool uh_pheap_contains(const struct uh_pheap *h,
				     const struct uh_pheap_node *n)
{
	return h->root == n || n->prev != NULL;
}

/* Adds @n, which is in no heap. */
void uh_pheap_insert(struct uh_pheap *h, struct uh_pheap_node *n);

/* Removes @n, which is in @h. */
void uh_pheap_remove(struct uh_pheap *h, struct uh_pheap_node *n);

#endif /* UHOMA_UTIL_PHEAP_H */
