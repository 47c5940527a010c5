/*
 * futex.h - thin wrappers over the futex(2) system call.
 *
 * Only the operations uhoma uses: private WAIT/WAKE for the ordinary lock and
 * wait queue, and LOCK_PI/UNLOCK_PI for the priority-inheriting lock.
 */
#ifndef UHOMA_SYNC_FUTEX_H
#define UHOMA_SYNC_FUTEX_H

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static inline long uh_futex(_Atomic uint32_t *uaddr, int op, uint32_t val,
			    const struct timespec *timeout)
{
	/* The kernel reads the word itself; the _Atomic qualifier is moot. */
	return syscall(SYS_futex, (uintptr_t)uaddr, op, val, timeout, NULL, 0);
}

/* Sleeps while *@uaddr == @val; returns 0, or -errno (EAGAIN, EINTR, ETIMEDOUT). */
static inline int uh_futex_wait(_Atomic uint32_t *uaddr, uint32_t val,
				const struct timespec *rel_timeout)
{
	if (uh_futex(uaddr, FUTEX_WAIT_PRIVATE, val, rel_timeout) == 0)
		return 0;
	return -errno;
}

/* Wakes up to @n sleepers on @uaddr; returns how many were woken. */
static inline int uh_futex_wake(_Atomic uint32_t *uaddr, int n)
{
	long r = uh_futex(uaddr, FUTEX_WAKE_PRIVATE, (uint32_t)n, NULL);

	return r < 0 ? 0 : (int)r;
}

#endif /* UHOMA_SYNC_FUTEX_H */
