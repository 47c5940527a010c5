/*
 * lock_class.c - the registry of lock classes.
 *
 * The registry is append-only: a class, once registered, stays for the life
 * of the process (classes are static objects). Registration takes a plain
 * pthread mutex, never a uh_lock, so that the validator, which looks classes
 * up by id, never recurses into itself.
 */
#include "sync/lock_class.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/lockdep.h"
#include "sync/real.h"

static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
/* Written under registry_mutex; read lock-free after the id is published
 * with release order, so a reader who saw the id sees the slot. */
static struct uh_lock_class *_Atomic registry[UH_LOCK_CLASS_MAX + 1];
static _Atomic int registry_count;

int uh_lock_class_register(struct uh_lock_class *cls)
{
	struct uh_lock_class *twin = NULL;
	int id;

	uh_real_pthread_mutex_lock(&registry_mutex);
	id = atomic_load_explicit(&cls->id, memory_order_relaxed);
	if (id == 0) {
		id = atomic_load_explicit(&registry_count,
					  memory_order_relaxed) + 1;
		if (id > UH_LOCK_CLASS_MAX) {
			fprintf(stderr, "uhoma: more than %d lock classes\n",
				UH_LOCK_CLASS_MAX);
			abort();
		}
		for (int i = 1; i < id && !twin; i++) {
			struct uh_lock_class *o = atomic_load_explicit(
				&registry[i], memory_order_relaxed);

			if (strcmp(o->name, cls->name) == 0)
				twin = o;
		}
		atomic_store_explicit(&registry[id], cls, memory_order_relaxed);
		atomic_store_explicit(&registry_count, id,
				      memory_order_release);
		atomic_store_explicit(&cls->id, id, memory_order_release);
	}
	pthread_mutex_unlock(&registry_mutex);
#ifdef UHOMA_LOCKDEP
	if (twin)   /* reported outside the registry mutex: the hook may lock */
		uh_lockdep_duplicate_class(cls, twin);
#else
	(void)twin;
#endif
	return id;
}

struct uh_lock_class *uh_lock_class_by_id(int id)
{
	if (id < 1 || id > atomic_load_explicit(&registry_count,
						memory_order_acquire))
		return NULL;
	return atomic_load_explicit(&registry[id], memory_order_relaxed);
}

size_t uh_lock_class_stats(struct uh_lock_class_stats *out, size_t max)
{
	int n = atomic_load_explicit(&registry_count, memory_order_acquire);

	for (int id = 1; id <= n && (size_t)(id - 1) < max; id++) {
		struct uh_lock_class *c = atomic_load_explicit(
			&registry[id], memory_order_relaxed);

		out[id - 1] = (struct uh_lock_class_stats){
			.name = c->name,
			.rank = c->rank,
			.misses = atomic_load_explicit(&c->misses,
						       memory_order_relaxed),
			.miss_ns = atomic_load_explicit(&c->miss_ns,
							memory_order_relaxed),
		};
	}
	return (size_t)n;
}

void uh_lock_class_fork_prepare(void)
{
	uh_real_pthread_mutex_lock(&registry_mutex);
}

void uh_lock_class_fork_release(void)
{
	pthread_mutex_unlock(&registry_mutex);
}
