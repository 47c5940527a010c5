/*
 * tsan.h - ThreadSanitizer annotations for synchronization TSan cannot see.
 *
 * TSan understands C11 atomics and pthreads, but not an RCU grace period
 * established by membarrier(2) inside liburcu, nor a lock handed over by the
 * kernel in FUTEX_LOCK_PI. Where uhoma relies on such an edge it states it
 * with uh_tsan_release() on the earlier side and uh_tsan_acquire() on the
 * later one. Outside TSan builds these are empty.
 */
#ifndef UHOMA_SYNC_TSAN_H
#define UHOMA_SYNC_TSAN_H

#ifdef UHOMA_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define uh_tsan_acquire(a) __tsan_acquire((void *)(a))
#define uh_tsan_release(a) __tsan_release((void *)(a))
#else
#define uh_tsan_acquire(a) ((void)(a))
#define uh_tsan_release(a) ((void)(a))
#endif

#endif /* UHOMA_SYNC_TSAN_H */
