/*
 * fdtable.c - the descriptor table of the LD_PRELOAD library (fdtable.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "preload/fdtable.h"
#include "preload/regions.h"
#include "preload/sigwatch.h"

#define FDT_MAX (1u << 20)

static struct hsock *_Atomic *table;   /* set once under free_lock */
static _Atomic size_t table_size;
static _Atomic int fd_high = -1;        /* highest descriptor ever installed */
static pthread_mutex_t free_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hsock *free_list;         /* free_lock */

bool fdt_init(void)
{
	struct rlimit rl;
	size_t n = 65536;

	if (atomic_load_explicit(&table_size, memory_order_acquire))
		return true;
	pthread_mutex_lock(&free_lock);
	if (!atomic_load(&table_size)) {
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_max != RLIM_INFINITY && rl.rlim_max > n)
			n = rl.rlim_max;
		if (n > FDT_MAX)
			n = FDT_MAX;
		/* Untouched pages of a large calloc cost nothing. */
		table = calloc(n, sizeof(*table));
		if (table)
			atomic_store_explicit(&table_size, n,
					      memory_order_release);
	}
	pthread_mutex_unlock(&free_lock);
	return atomic_load(&table_size) != 0;
}

bool fdt_named(int fd)
{
	size_t n = atomic_load_explicit(&table_size, memory_order_acquire);

	return fd >= 0 && (size_t)fd < n &&
	       atomic_load_explicit(&table[fd], memory_order_relaxed);
}

struct hsock *fdt_get(int fd)
{
	size_t n = atomic_load_explicit(&table_size, memory_order_acquire);

	if (fd < 0 || (size_t)fd >= n)
		return NULL;
	for (;;) {
		struct hsock *h = atomic_load_explicit(&table[fd],
						       memory_order_acquire);
		int r;

		if (!h)
			return NULL;
		r = atomic_load(&h->refs);
		do {
			if (r == 0)
				break;     /* being recycled: look again */
		} while (!atomic_compare_exchange_weak(&h->refs, &r, r + 1));
		if (r == 0)
			continue;
		sigwatch_enter();   /* a reference held: sigwatch.h */
		if (atomic_load_explicit(&table[fd], memory_order_acquire) == h)
			return h;
		fdt_put(h);         /* the slot changed under us */
	}
}

void fdt_put(struct hsock *h)
{
	int cs;

	if (atomic_fetch_sub(&h->refs, 1) != 1) {
		sigwatch_leave();
		return;
	}
	/* The close runs the C library's cancellation points (a write to
	 * a wake-up descriptor) with uhoma's locks held: a cancellation
	 * acting there left a waitset's mutex locked by a thread that no
	 * longer existed, and the process deadlocked (helper-24: a waiter
	 * cancelled while another thread closed its descriptor). */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
	if (!atomic_load(&h->stale)) {
		uhoma_close(h->s);
		/* Nothing writes there now: what the program unmapped of
		 * the region meanwhile goes (regions.h). */
		regions_closed(h);
	}
	h->s = NULL;
	pthread_mutex_lock(&free_lock);
	h->free_next = free_list;
	free_list = h;
	pthread_mutex_unlock(&free_lock);
	pthread_setcancelstate(cs, NULL);
	sigwatch_leave();
}

struct hsock *fdt_alloc(struct uhoma_sock *s, int family)
{
	struct hsock *h;

	pthread_mutex_lock(&free_lock);
	h = free_list;
	if (h)
		free_list = h->free_next;
	pthread_mutex_unlock(&free_lock);
	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h)
			return NULL;
		pthread_mutex_init(&h->lock, NULL);
	}
	h->s = s;
	h->family = family;
	atomic_store(&h->stale, false);
	atomic_store(&h->nonblock, false);
	atomic_store(&h->slots, 0);
	pthread_mutex_lock(&h->lock);
	h->err[0] = '\0';
	memset(&h->rcvbuf, 0, sizeof(h->rcvbuf));
	pthread_mutex_unlock(&h->lock);
	atomic_store_explicit(&h->refs, 1, memory_order_release);
	sigwatch_enter();
	return h;
}

int fdt_high(void)
{
	return atomic_load_explicit(&fd_high, memory_order_relaxed);
}

bool fdt_install(int fd, struct hsock *h)
{
	if (fd < 0 || (size_t)fd >= atomic_load(&table_size))
		return false;
	atomic_fetch_add(&h->refs, 1);
	atomic_fetch_add(&h->slots, 1);
	atomic_store_explicit(&table[fd], h, memory_order_release);
	for (int hi = atomic_load(&fd_high); fd > hi;)
		if (atomic_compare_exchange_weak(&fd_high, &hi, fd))
			break;
	return true;
}

struct hsock *fdt_remove(int fd, bool *last)
{
	struct hsock *h;

	*last = false;
	if (fd < 0 || (size_t)fd >= atomic_load(&table_size))
		return NULL;
	h = atomic_exchange(&table[fd], NULL);
	if (h) {
		*last = atomic_fetch_sub(&h->slots, 1) == 1;
		sigwatch_enter();   /* the slot's reference is the caller's */
	}
	return h;
}

void fdt_mark_stale(void (*each)(int fd))
{
	int hi = atomic_load(&fd_high);

	/* Only this thread exists now: a lock another thread of the parent
	 * held is free again here, and must look so. */
	pthread_mutex_init(&free_lock, NULL);
	for (int fd = 0; fd <= hi; fd++) {
		struct hsock *h = atomic_load(&table[fd]);

		if (h) {
			atomic_store(&h->stale, true);
			pthread_mutex_init(&h->lock, NULL);
			each(fd);
		}
	}
}
