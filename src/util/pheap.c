/*
 * pheap.c - the pairing heap (pheap.h).
 *
 * A node's children are a list through next/prev, the first child's prev
 * pointing at the parent. Melding two heaps makes the larger root the
 * first child of the smaller. Taking a node out melds its children in
 * two passes -- pairs left to right, then the pairs right to left --
 * which is what gives the logarithmic amortized bound; a single pass
 * would not.
 */
#include "util/pheap.h"

/* Two roots (or NULLs) into one; the result's next and prev are NULL. */
static struct uh_pheap_node *meld(const struct uh_pheap *h,
				  struct uh_pheap_node *a,
				  struct uh_pheap_node *b)
{
	struct uh_pheap_node *t;

	if (!a)
		return b;
	if (!b)
		return a;
	if (h->less(b, a)) {
		t = a;
		a = b;
		b = t;
	}
	b->prev = a;
	b->next = a->child;
	if (a->child)
		a->child->prev = b;
	a->child = b;
	a->next = a->prev = NULL;
	return a;
}

/* The sibling list from @first melded into one heap. */
static struct uh_pheap_node *merge_pairs(const struct uh_pheap *h,
					 struct uh_pheap_node *first)
{
	struct uh_pheap_node *pairs = NULL, *root = NULL;

	/* Left to right, two at a time; the results stacked (the last
	 * pair on top) through next. */
	while (first) {
		struct uh_pheap_node *a = first, *b = first->next, *m;

		first = b ? b->next : NULL;
		a->next = a->prev = NULL;
		if (b)
			b->next = b->prev = NULL;
		m = meld(h, a, b);
		m->next = pairs;
		pairs = m;
	}
	/* Right to left: each pair into the heap of those after it. */
	while (pairs) {
		struct uh_pheap_node *p = pairs;

		pairs = p->next;
		p->next = NULL;
		root = meld(h, p, root);
	}
	return root;
}

void uh_pheap_insert(struct uh_pheap *h, struct uh_pheap_node *n)
{
	n->child = n->next = n->prev = NULL;
	h->root = meld(h, h->root, n);
}

void uh_pheap_remove(struct uh_pheap *h, struct uh_pheap_node *n)
{
	if (n == h->root) {
		h->root = merge_pairs(h, n->child);
	} else {
		/* Out of its parent's list of children. */
		if (n->prev->child == n)
			n->prev->child = n->next;
		else
			n->prev->next = n->next;
		if (n->next)
			n->next->prev = n->prev;
		h->root = meld(h, h->root, merge_pairs(h, n->child));
	}
	n->child = n->next = n->prev = NULL;
}
