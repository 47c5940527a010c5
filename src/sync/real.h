/*
 * real.h - the validator's own machinery calls the real functions.
 *
 * In builds with the validator, uhoma is linked with -Wl,--wrap for the
 * allocation, system-call and wait functions that lockdep_wrap.c checks.
 * The synchronization layer itself -- the lock slow path's sleep, the
 * class and reader registries' mutexes and arrays, the validator's graph
 * -- runs under held locks by design and is not what rules 5 and 6 are
 * about, so it calls the unwrapped function: __real_NAME, which the
 * linker resolves to NAME itself.
 */
#ifndef UHOMA_SYNC_REAL_H
#define UHOMA_SYNC_REAL_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

#ifdef UHOMA_LOCKDEP
int __real_pthread_mutex_lock(pthread_mutex_t *m);
int __real_nanosleep(const struct timespec *t, struct timespec *rem);
void *__real_realloc(void *p, size_t n);
#define uh_real_pthread_mutex_lock __real_pthread_mutex_lock
#define uh_real_nanosleep __real_nanosleep
#define uh_real_realloc __real_realloc
#else
#define uh_real_pthread_mutex_lock pthread_mutex_lock
#define uh_real_nanosleep nanosleep
#define uh_real_realloc realloc
#endif

#endif
