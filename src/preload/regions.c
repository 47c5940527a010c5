/*
 * regions.c - live sockets' receive regions, unmapped only once closed
 * (regions.h says why).
 */
#include "preload/regions.h"
#include "util/compiler.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

/* [start, end): page-aligned. */
struct piece {
	uintptr_t start, end;
};

struct region {
	struct hsock *h;
	struct piece r;            /* the region */
	struct piece *pending;     /* unmapped by the program meanwhile */
	unsigned npending, cap;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct region *regs;        /* lock */
static unsigned nregs, capregs;    /* lock */
static _Atomic unsigned nlive;     /* nregs, read without the lock */

/* The system call itself: no C library wrapper (ours is preload.c's
 * munmap), nothing that could call back here. */
static int unmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

uh_no_tsan bool regions_live(void)
{
	return atomic_load_explicit(&nlive, memory_order_acquire) != 0;
}

static uintptr_t page_mask(void)
{
	static uintptr_t mask;

	if (!mask) {
		long p = sysconf(_SC_PAGESIZE);

		mask = (uintptr_t)(p > 0 ? p : 4096) - 1;
	}
	return mask;
}

static bool overlaps(const struct piece *p, uintptr_t s, uintptr_t e)
{
	return p->start < e && s < p->end;
}

static bool add_pending(struct region *g, uintptr_t s, uintptr_t e)
{
	for (unsigned i = 0; i < g->npending; i++)
		if (g->pending[i].start <= s && e <= g->pending[i].end)
			return true;         /* already waiting */
	if (g->npending == g->cap) {
		unsigned cap = g->cap ? 2 * g->cap : 4;
		struct piece *p = realloc(g->pending, cap * sizeof(*p));

		if (!p)
			return false;
		g->pending = p;
		g->cap = cap;
	}
	g->pending[g->npending++] = (struct piece){ s, e };
	return true;
}

bool regions_add(struct hsock *h, void *start, size_t len)
{
	uintptr_t s = (uintptr_t)start;
	bool ok = true;

	pthread_mutex_lock(&lock);
	if (nregs == capregs) {
		unsigned cap = capregs ? 2 * capregs : 8;
		struct region *r = realloc(regs, cap * sizeof(*r));

		if (r) {
			regs = r;
			capregs = cap;
		}
	}
	if (nregs < capregs) {
		regs[nregs++] = (struct region){
			.h = h, .r = { s, (s + len + page_mask()) & ~page_mask() } };
		atomic_store(&nlive, nregs);
	} else {
		ok = false;
	}
	pthread_mutex_unlock(&lock);
	return ok;
}

void regions_closed(struct hsock *h)
{
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < nregs; i++) {
		struct region g = regs[i];

		if (g.h != h)
			continue;
		regs[i] = regs[--nregs];
		for (unsigned k = 0; k < g.npending; k++) {
			struct piece *p = &g.pending[k];
			bool kept = false;

			/* A region given to two sockets waits for both. */
			for (unsigned j = 0; j < nregs && !kept; j++)
				if (overlaps(&regs[j].r, p->start, p->end))
					kept = add_pending(&regs[j], p->start,
							   p->end);
			if (!kept)
				(void)unmap((void *)p->start,
					    p->end - p->start);
		}
		free(g.pending);
		/* Only now: a mapping made at a fixed address meanwhile,
		 * seeing no live region, would take no lock, and the
		 * unmapping above could take it away. */
		atomic_store(&nlive, nregs);
		break;
	}
	pthread_mutex_unlock(&lock);
}

/* Room for the plan of one munmap: the pieces outside live regions and
 * the parts inside them, alternating, at most two per region. */
#define PLAN_MAX 64

int regions_munmap(void *addr, size_t len)
{
	struct { struct region *g; struct piece p; } plan[PLAN_MAX];
	uintptr_t a = (uintptr_t)addr, end, cursor;
	unsigned n = 0;
	int rc = 0;

	if (!regions_live() || !len || (a & page_mask()) ||
	    len > UINTPTR_MAX - a - page_mask())
		return unmap(addr, len);   /* its errors are the kernel's */
	end = (a + len + page_mask()) & ~page_mask();
	pthread_mutex_lock(&lock);
	for (cursor = a; cursor < end && n + 2 <= PLAN_MAX;) {
		struct region *best = NULL;
		uintptr_t bs = 0, be = 0;

		for (unsigned i = 0; i < nregs; i++) {
			struct piece *r = &regs[i].r;
			uintptr_t s = r->start > cursor ? r->start : cursor;
			uintptr_t f = r->end < end ? r->end : end;

			if (s < f && (!best || s < bs)) {
				best = &regs[i];
				bs = s;
				be = f;
			}
		}
		if (!best)
			break;
		if (cursor < bs)
			plan[n++] = (__typeof__(plan[0])){ NULL, { cursor, bs } };
		plan[n++] = (__typeof__(plan[0])){ best, { bs, be } };
		cursor = be;
	}
	if (cursor < end) {
		if (n == PLAN_MAX) {        /* more regions than a plan holds */
			pthread_mutex_unlock(&lock);
			return errno = ENOMEM, -1;
		}
		plan[n++] = (__typeof__(plan[0])){ NULL, { cursor, end } };
	}
	/*
	 * Highest first: a range the kernel refuses (past the top of the
	 * address space) is refused by the first call, before anything is
	 * unmapped or kept -- a failed munmap changes nothing. A range that
	 * ends inside a region is within the address space.
	 */
	for (unsigned i = n; i-- > 0;) {
		struct piece *p = &plan[i].p;

		if (plan[i].g) {
			/* No room to remember it: it stays mapped for good,
			 * which is safe, where unmapping it is not. */
			(void)add_pending(plan[i].g, p->start, p->end);
		} else if (unmap((void *)p->start, p->end - p->start) < 0) {
			rc = -1;
			if (i == n - 1)
				break;
		}
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

void regions_lock(void)
{
	pthread_mutex_lock(&lock);
}

void regions_unlock(void)
{
	pthread_mutex_unlock(&lock);
}

bool regions_pending_locked(const void *addr, size_t len)
{
	uintptr_t s = (uintptr_t)addr, e;

	if (!len || len > UINTPTR_MAX - s - page_mask())
		return false;
	e = (s + len + page_mask()) & ~page_mask();
	/* Covered piece by piece: pieces never overlap within a region,
	 * and the regions given to two sockets wait in both. */
	while (s < e) {
		uintptr_t reach = s;

		for (unsigned i = 0; i < nregs; i++)
			for (unsigned k = 0; k < regs[i].npending; k++) {
				struct piece *p = &regs[i].pending[k];

				if (p->start <= s && p->end > reach)
					reach = p->end;
			}
		if (reach == s)
			return false;
		s = reach;
	}
	return true;
}

void regions_mapped_fixed_locked(void *addr, size_t len)
{
	uintptr_t s = (uintptr_t)addr, e;

	if (!len || len > UINTPTR_MAX - s - page_mask())
		return;
	e = (s + len + page_mask()) & ~page_mask();
	for (unsigned i = 0; i < nregs; i++) {
		struct region *g = &regs[i];

		for (unsigned k = 0; k < g->npending;) {
			struct piece *p = &g->pending[k];

			if (!overlaps(p, s, e)) {
				k++;
			} else if (s <= p->start && p->end <= e) {
				*p = g->pending[--g->npending];
			} else if (p->start < s && e < p->end) {
				/* The new mapping splits it in two. */
				struct piece right = { e, p->end };

				p->end = s;
				(void)add_pending(g, right.start, right.end);
				k++;
			} else {
				if (p->start < s)
					p->end = s;
				else
					p->start = e;
				k++;
			}
		}
	}
}

bool regions_overlap_locked(const void *addr, size_t len)
{
	uintptr_t s = (uintptr_t)addr;
	bool hit = false;

	for (unsigned i = 0; len && i < nregs && !hit; i++)
		hit = overlaps(&regs[i].r, s,
			       len > UINTPTR_MAX - s ? UINTPTR_MAX : s + len);
	return hit;
}

void regions_forget_all(void)
{
	pthread_mutex_init(&lock, NULL);
	for (unsigned i = 0; i < nregs; i++)
		free(regs[i].pending);
	nregs = 0;
	atomic_store(&nlive, 0);
}
