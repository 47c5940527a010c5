/*
 * stat.c - the shared-memory metrics segment (stat.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/stack.h"
#include "mem/cache.h"
#include "net/ownfd.h"
#include "runtime/stat.h"
#include "sync/lock_class.h"
#include "util/clock.h"

struct uh_stat {
	struct uh_stat_hdr *hdr;       /* immutable */
	size_t size;                   /* immutable */
	char path[96];                 /* immutable */
};

static _Atomic unsigned stack_numbers;
static pthread_once_t sweep_once = PTHREAD_ONCE_INIT;

int uh_stat_each(int (*fn)(const char *path, const char *name, void *arg),
		 void *arg)
{
	DIR *d = opendir(UH_STAT_DIR);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[300];

		if (strncmp(e->d_name, UH_STAT_PREFIX, strlen(UH_STAT_PREFIX)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", UH_STAT_DIR, e->d_name);
		n += fn(path, e->d_name + strlen(UH_STAT_PREFIX), arg);
	}
	closedir(d);
	return n;
}

bool uh_stat_pid_alive(int pid)
{
	/* EPERM: alive, someone else's. */
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

struct sweep {
	void (*removed)(const char *path, int pid);
};

static int sweep_one(const char *path, const char *name, void *arg)
{
	const struct sweep *sw = arg;
	int pid = atoi(name);

	if (pid <= 0 || uh_stat_pid_alive(pid) || unlink(path) != 0)
		return 0;
	if (sw->removed)
		sw->removed(path, pid);
	return 1;
}

unsigned uh_stat_sweep(void (*removed)(const char *path, int pid))
{
	struct sweep sw = { removed };

	return (unsigned)uh_stat_each(sweep_one, &sw);
}

/* Processes killed before uhoma_stack_destroy leave their segments behind;
 * the first stack of each process sweeps them away. */
static void sweep_dead(void)
{
	uh_stat_sweep(NULL);
}

static size_t align64(size_t v)
{
	return (v + 63) & ~(size_t)63;
}

static int private_metrics(struct uh_metrics **metrics)
{
	*metrics = aligned_alloc(64, sizeof(struct uh_metrics));
	if (!*metrics)
		return UHOMA_ERR_NOMEM;
	memset(*metrics, 0, sizeof(**metrics));
	return UHOMA_OK;
}

int uh_stat_create(const struct uhoma_config *cfg, const char *carrier,
		   struct uh_metrics **metrics, struct uh_stat **stat)
{
	size_t names_off = align64(sizeof(struct uh_stat_hdr));
	size_t shards_off = align64(names_off + UH_M_COUNT * UH_STAT_NAME);
	size_t size = shards_off + sizeof(struct uh_metrics);
	struct uh_stat *s;
	struct uh_stat_hdr *h;
	void *mem;
	int fd;

	*stat = NULL;
	if (!cfg->stat)
		return private_metrics(metrics);
	pthread_once(&sweep_once, sweep_dead);
	s = calloc(1, sizeof(*s));
	if (!s)
		return UHOMA_ERR_NOMEM;
	snprintf(s->path, sizeof(s->path), "%s/%s%d.%u", UH_STAT_DIR,
		 UH_STAT_PREFIX, (int)getpid(), atomic_fetch_add(&stack_numbers, 1));
	unlink(s->path);   /* a leftover of a dead process with our pid */
	fd = uh_fd_own(open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			    0600));
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		fprintf(stderr, "uhoma: cannot publish metrics in %s; "
				"uhoma-stat will not see this stack\n", s->path);
		if (fd >= 0) {
			uh_fd_close(fd);
			unlink(s->path);
		}
		free(s);
		return private_metrics(metrics);
	}
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	uh_fd_close(fd);
	if (mem == MAP_FAILED) {
		unlink(s->path);
		free(s);
		return private_metrics(metrics);
	}
	h = mem;   /* the file is zero-filled */
	h->version = UH_STAT_VERSION;
	h->ncounters = UH_M_COUNT;
	h->nshards = UH_METRIC_SHARDS;
	h->shard_stride = sizeof(struct uh_metrics_shard);
	h->names_off = names_off;
	h->shards_off = shards_off;
	h->pid = (int32_t)getpid();
	h->stack_no = atomic_load(&stack_numbers) - 1;
	snprintf(h->addr, sizeof(h->addr), "%s", cfg->addr);
	snprintf(h->carrier, sizeof(h->carrier), "%s", carrier);
	for (unsigned i = 0; i < UH_M_COUNT; i++)
		uh_metric_name(i, (char *)mem + names_off + i * UH_STAT_NAME,
			       UH_STAT_NAME);
	s->hdr = h;
	s->size = size;
	*metrics = (struct uh_metrics *)(void *)((char *)mem + shards_off);
	*stat = s;
	__atomic_store_n(&h->magic, UH_STAT_MAGIC, __ATOMIC_RELEASE);
	return UHOMA_OK;
}

void uh_stat_update(struct uhoma_stack *st)
{
	struct uh_lock_class_stats ls[UH_STAT_LOCKS];
	struct uh_cache_stats cs[UH_STAT_CACHES];
	struct uh_stat_hdr *h;
	size_t nl, nc;

	if (!st->stat)
		return;
	h = st->stat->hdr;
	nl = uh_lock_class_stats(ls, UH_STAT_LOCKS);
	nc = uh_cache_stats_all(cs, UH_STAT_CACHES);
	nl = nl < UH_STAT_LOCKS ? nl : UH_STAT_LOCKS;
	nc = nc < UH_STAT_CACHES ? nc : UH_STAT_CACHES;
	/* Odd: readers retry. acq_rel keeps the writes below after it. */
	atomic_fetch_add_explicit(&h->seq, 1, memory_order_acq_rel);
	h->snap_ns = uh_now_ns();
	h->grantable = uh_grant_count(st);
	h->throttled = uh_pacer_throttled(st);
	h->deferred = uh_pacer_deferred(st);
	h->nlocks = (uint32_t)nl;
	for (size_t i = 0; i < nl; i++) {
		snprintf(h->locks[i].name, sizeof(h->locks[i].name), "%s",
			 ls[i].name);
		h->locks[i].misses = ls[i].misses;
		h->locks[i].wait_ns = ls[i].miss_ns;
	}
	h->ncaches = (uint32_t)nc;
	for (size_t i = 0; i < nc; i++) {
		struct uh_stat_cache *c = &h->caches[i];

		snprintf(c->name, sizeof(c->name), "%s", cs[i].name);
		c->allocs = cs[i].allocs;
		c->frees = cs[i].frees;
		c->slab_allocs = cs[i].slab_allocs;
		c->slab_frees = cs[i].slab_frees;
		c->depot_contention = cs[i].depot_contention;
		c->mag_rounds = cs[i].mag_rounds;
		c->resizes = cs[i].resizes;
	}
	atomic_store_explicit(&h->seq, atomic_load(&h->seq) + 1,
			      memory_order_release);
}

void uh_stat_destroy(struct uh_metrics *metrics, struct uh_stat *s)
{
	if (!s) {
		free(metrics);
		return;
	}
	unlink(s->path);
	munmap(s->hdr, s->size);
	free(s);
}
