/*
 * ownfd.c - the library's own descriptors (ownfd.h says why).
 */
#include "net/ownfd.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK_SHIFT 16                          /* descriptors a chunk */
#define CHUNK_WORDS ((1u << CHUNK_SHIFT) / 64)
#define NCHUNKS 1024                            /* up to 64 M descriptors */
#define FLOOR_MAX 512

/* chunks[c]: a bit per descriptor c << CHUNK_SHIFT ...; made on demand,
 * published with a compare-and-swap, never freed. */
static _Atomic(_Atomic uint64_t *) chunks[NCHUNKS];
static _Atomic int highest = -1;        /* the highest ever named */
/* The process's own, not a stack's; with the variable that holds each,
 * if the fork child is to let it go (NULL: kept named there). */
#define GLOBAL_MAX 16
static _Atomic int globals[GLOBAL_MAX];  /* 0: free slot (fd + 1) */
static _Atomic(_Atomic int *) global_slot[GLOBAL_MAX];
static pthread_once_t floor_once = PTHREAD_ONCE_INIT;
static int floor_fd;                    /* floor_once */

static void floor_init(void)
{
	struct rlimit rl;
	rlim_t f = FLOOR_MAX;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur / 2 < f)
		f = rl.rlim_cur / 2;
	floor_fd = f < 3 ? 3 : (int)f;     /* never onto 0, 1 or 2 */
}

int uh_fd_floor(void)
{
	pthread_once(&floor_once, floor_init);
	return floor_fd;
}

static _Atomic uint64_t *chunk_of(int fd, bool make)
{
	unsigned c = (unsigned)fd >> CHUNK_SHIFT;
	_Atomic uint64_t *p, *fresh;

	if (c >= NCHUNKS)
		return NULL;
	p = atomic_load_explicit(&chunks[c], memory_order_acquire);
	if (p || !make)
		return p;
	fresh = calloc(CHUNK_WORDS, sizeof(*fresh));
	if (!fresh)
		return NULL;
	if (atomic_compare_exchange_strong_explicit(&chunks[c], &p, fresh,
						    memory_order_acq_rel,
						    memory_order_acquire))
		return fresh;
	free(fresh);            /* another thread's came first: p */
	return p;
}

int uh_fd_own(int fd)
{
	int e = errno, moved, f = uh_fd_floor(), h;
	_Atomic uint64_t *w;

	if (fd < 0)
		return fd;
	if (f && fd < f) {
		moved = fcntl(fd, F_DUPFD_CLOEXEC, f);
		if (moved >= 0) {
			close(fd);      /* not yet named: a plain close */
			fd = moved;
		}
	}
	w = chunk_of(fd, true);
	if (w) {
		atomic_fetch_or_explicit(&w[(fd & ((1 << CHUNK_SHIFT) - 1)) / 64],
					 1ull << (fd % 64), memory_order_release);
		h = atomic_load_explicit(&highest, memory_order_relaxed);
		while (fd > h &&
		       !atomic_compare_exchange_weak_explicit(
			       &highest, &h, fd, memory_order_relaxed,
			       memory_order_relaxed))
			;
	}
	errno = e;
	return fd;
}

int uh_fd_own_global(int fd, _Atomic int *slot)
{
	fd = uh_fd_own(fd);
	for (unsigned i = 0; fd >= 0 && i < GLOBAL_MAX; i++) {
		int none = 0;

		if (atomic_compare_exchange_strong(&globals[i], &none,
						   fd + 1)) {
			atomic_store(&global_slot[i], slot);
			break;
		}
	}
	return fd;
}

void uh_fd_fork_child(void)
{
	for (unsigned c = 0; c < NCHUNKS; c++) {
		_Atomic uint64_t *w = atomic_load(&chunks[c]);

		for (unsigned i = 0; w && i < CHUNK_WORDS; i++)
			atomic_store_explicit(&w[i], 0, memory_order_relaxed);
	}
	for (unsigned i = 0; i < GLOBAL_MAX; i++) {
		int fd = atomic_load(&globals[i]) - 1;
		_Atomic int *slot = atomic_load(&global_slot[i]);
		_Atomic uint64_t *w = fd >= 0 ? chunk_of(fd, false) : NULL;

		if (fd >= 0 && slot) {
			/* A new one is made when needed; this one is the
			 * program's, to close or to keep. */
			atomic_store(slot, -1);
			atomic_store(&globals[i], 0);
		} else if (w) {
			atomic_fetch_or(&w[(fd & ((1 << CHUNK_SHIFT) - 1)) / 64],
					1ull << (fd % 64));
		}
	}
}

int uh_fd_pool_get(struct uh_fd_pool *p, int *slot)
{
	int fd;

	for (int i = 0; i < UH_FD_POOL; i++) {
		if (atomic_exchange(&p->busy[i], true))
			continue;
		fd = atomic_load(&p->fd[i]);
		if (fd < 0) {
			fd = uh_fd_own_global(socket(p->family, SOCK_DGRAM |
							     SOCK_CLOEXEC, 0),
					      &p->fd[i]);
			atomic_store(&p->fd[i], fd);
		}
		*slot = i;
		return fd;
	}
	*slot = -1;
	return uh_fd_own(socket(p->family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
}

void uh_fd_pool_put(struct uh_fd_pool *p, int fd, int slot)
{
	int e = errno;

	if (slot < 0)
		uh_fd_close(fd);
	else
		atomic_store(&p->busy[slot], false);
	errno = e;
}

void uh_fd_close(int fd)
{
	_Atomic uint64_t *w;

	if (fd < 0)
		return;
	for (unsigned i = 0; i < GLOBAL_MAX; i++) {
		int want = fd + 1;

		atomic_compare_exchange_strong(&globals[i], &want, 0);
	}
	w = chunk_of(fd, false);
	if (w)
		atomic_fetch_and_explicit(
			&w[(fd & ((1 << CHUNK_SHIFT) - 1)) / 64],
			~(1ull << (fd % 64)), memory_order_release);
	close(fd);
}

bool uh_fd_is_own(int fd)
{
	_Atomic uint64_t *w;

	if (fd < 0 || fd > atomic_load_explicit(&highest, memory_order_relaxed))
		return false;
	w = chunk_of(fd, false);
	return w && (atomic_load_explicit(
			     &w[(fd & ((1 << CHUNK_SHIFT) - 1)) / 64],
			     memory_order_acquire) >> (fd % 64)) & 1;
}

int uh_fd_own_next(unsigned from, unsigned to)
{
	int h = atomic_load_explicit(&highest, memory_order_relaxed);

	if (h < 0 || from > (unsigned)h)
		return -1;
	if (to > (unsigned)h)
		to = (unsigned)h;
	for (unsigned fd = from; fd <= to;) {
		_Atomic uint64_t *w = chunk_of((int)fd, false);
		unsigned next_chunk = (fd | ((1u << CHUNK_SHIFT) - 1)) + 1;

		if (!w) {
			fd = next_chunk;
			continue;
		}
		while (fd <= to && fd < next_chunk) {
			uint64_t bits = atomic_load_explicit(
				&w[(fd & ((1u << CHUNK_SHIFT) - 1)) / 64],
				memory_order_acquire) >> (fd % 64);

			if (bits) {
				fd += (unsigned)__builtin_ctzll(bits);
				return fd <= to ? (int)fd : -1;
			}
			fd = (fd | 63) + 1;
		}
	}
	return -1;
}
