/*
 * uhoma-stat - shows the metrics a running uhoma process publishes in
 * shared memory (src/runtime/stat.h): every counter with its rate between
 * two reads, lock contention per class (misses per second, percent of a
 * core spent waiting) and object-cache statistics.
 *
 *   uhoma-stat                 list the uhoma stacks running on this host
 *   uhoma-stat [-i S] [-n N] [-a] [PID[.STACK]]
 *                              read twice S seconds apart (default 1) and
 *                              print values and rates; N rounds (default
 *                              1, 0 = until interrupted); -a: zeros too
 *   uhoma-stat --clean         remove segments of processes that died
 */
#include <fcntl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/stat.h"

struct seg {
	const struct uh_stat_hdr *h;
	size_t size;
	char path[300];
};

struct snap {
	uint64_t t_ns;
	int64_t *c;                    /* ncounters */
	struct uh_stat_hdr snap;       /* the snapshot part */
};

static int seg_open(const char *path, struct seg *s)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *m;

	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) || (size_t)sb.st_size < sizeof(struct uh_stat_hdr)) {
		close(fd);
		return -1;
	}
	m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	s->h = m;
	s->size = (size_t)sb.st_size;
	snprintf(s->path, sizeof(s->path), "%s", path);
	if (__atomic_load_n(&s->h->magic, __ATOMIC_ACQUIRE) != UH_STAT_MAGIC ||
	    s->h->version != UH_STAT_VERSION ||
	    s->h->shards_off + (uint64_t)s->h->nshards * s->h->shard_stride >
		    s->size ||
	    s->h->names_off + (uint64_t)s->h->ncounters * UH_STAT_NAME >
		    s->size) {
		munmap(m, s->size);
		return -1;
	}
	return 0;
}

static void print_removed(const char *path, int pid)
{
	printf("removed %s (process %d is gone)\n", path, pid);
}

static int list_one(const char *path, const char *name, void *arg)
{
	struct seg s;
	int pid = atoi(name);

	(void)arg;
	if (!uh_stat_pid_alive(pid) || seg_open(path, &s))
		return 0;
	printf("%-12s pid %-7d stack %-3u %-8s %s\n", name, s.h->pid,
	       s.h->stack_no, s.h->carrier, s.h->addr);
	munmap((void *)(uintptr_t)s.h, s.size);
	return 1;
}

struct find {
	const char *want;
	char path[300];
	int found;
};

static int find_one(const char *path, const char *name, void *arg)
{
	struct find *f = arg;
	size_t n = strlen(f->want);

	if (!uh_stat_pid_alive(atoi(name)))
		return 0;
	if (f->want[0] && strcmp(name, f->want) != 0 &&
	    !(strncmp(name, f->want, n) == 0 && name[n] == '.'))
		return 0;
	if (!f->found)
		snprintf(f->path, sizeof(f->path), "%s", path);
	f->found++;
	return 1;
}

static void take(const struct seg *s, struct snap *p)
{
	const struct uh_stat_hdr *h = s->h;
	struct timespec ts;

	for (unsigned i = 0; i < h->ncounters; i++) {
		int64_t sum = 0;

		for (unsigned k = 0; k < h->nshards; k++)
			sum += __atomic_load_n(
				(const int64_t *)(const void *)((const char *)h +
						     h->shards_off +
						     (size_t)k * h->shard_stride) + i,
				__ATOMIC_RELAXED);
		p->c[i] = sum;
	}
	for (int tries = 0; tries < 100; tries++) {
		uint64_t seq = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);

		if (seq & 1)
			continue;
		memcpy(&p->snap, h, sizeof(*h));
		/* (No fence: TSan builds reject it; a display tool can live
		 * with the seq_cst re-read.) */
		if (__atomic_load_n(&h->seq, __ATOMIC_SEQ_CST) == seq)
			break;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	p->t_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void show(const struct seg *s, const struct snap *a,
		 const struct snap *b, int all)
{
	const struct uh_stat_hdr *h = s->h;
	double dt = (double)(b->t_ns - a->t_ns) / 1e9;
	double sdt = (double)(b->snap.snap_ns - a->snap.snap_ns) / 1e9;

	printf("uhoma-stat: pid %d stack %u (%s %s), interval %.2f s\n",
	       h->pid, h->stack_no, h->carrier, h->addr, dt);
	printf("%-34s %16s %14s\n", "counter", "value", "per second");
	for (unsigned i = 0; i < h->ncounters; i++) {
		const char *name = (const char *)h + h->names_off +
				   (size_t)i * UH_STAT_NAME;
		int64_t d = b->c[i] - a->c[i];

		if (!all && b->c[i] == 0)
			continue;
		printf("%-34.*s %16lld %14.0f\n", UH_STAT_NAME, name,
		       (long long)b->c[i], dt > 0 ? (double)d / dt : 0);
	}
	printf("%-34s %16llu\n%-34s %16llu\n%-34s %16llu\n",
	       "grantable (gauge)", (unsigned long long)b->snap.grantable,
	       "throttled (gauge)", (unsigned long long)b->snap.throttled,
	       "deferred (gauge)", (unsigned long long)b->snap.deferred);
	printf("\n%-22s %14s %12s %12s\n", "lock class", "misses", "misses/s",
	       "% core wait");
	for (unsigned i = 0; i < b->snap.nlocks && i < UH_STAT_LOCKS; i++) {
		const struct uh_stat_lock *x = &b->snap.locks[i];
		const struct uh_stat_lock *y =
			i < a->snap.nlocks ? &a->snap.locks[i] : NULL;
		uint64_t dm = x->misses - (y ? y->misses : 0);
		uint64_t dw = x->wait_ns - (y ? y->wait_ns : 0);

		if (!all && x->misses == 0)
			continue;
		printf("%-22.32s %14llu %12.0f %12.3f\n", x->name,
		       (unsigned long long)x->misses,
		       sdt > 0 ? (double)dm / sdt : 0,
		       sdt > 0 ? (double)dw / (sdt * 1e9) * 100 : 0);
	}
	printf("\n%-14s %12s %12s %10s %8s %10s %10s\n", "object cache",
	       "allocs/s", "frees/s", "slab allocs", "magazine", "resizes",
	       "depot busy");
	for (unsigned i = 0; i < b->snap.ncaches && i < UH_STAT_CACHES; i++) {
		const struct uh_stat_cache *x = &b->snap.caches[i];
		const struct uh_stat_cache *y =
			i < a->snap.ncaches ? &a->snap.caches[i] : NULL;

		printf("%-14.32s %12.0f %12.0f %10llu %8u %10u %10llu\n",
		       x->name,
		       sdt > 0 ? (double)(x->allocs - (y ? y->allocs : 0)) / sdt : 0,
		       sdt > 0 ? (double)(x->frees - (y ? y->frees : 0)) / sdt : 0,
		       (unsigned long long)x->slab_allocs, x->mag_rounds,
		       x->resizes, (unsigned long long)x->depot_contention);
	}
	fflush(stdout);
}

static void usage(FILE *to)
{
	fprintf(to, "usage: uhoma-stat [-i SECONDS] [-n ROUNDS] [-a] "
		    "[PID[.STACK]] | --clean\n"
		    "  -i SECONDS  between readings, 0.001 to 86400 (1)\n"
		    "  -n ROUNDS   readings after the first, 0 until "
		    "interrupted (1)\n"
		    "  -a          zero counters too\n");
}

/* A number, all of @s, in [@lo, @hi] (a whole one if @whole). */
static int parse_num(const char *s, double lo, double hi, bool whole,
		     double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !(v >= lo && v <= hi) ||
	    (whole && v != (double)(long)v))
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	double interval = 1, v;
	int rounds = 1, all = 0, opt, rc = 0;
	struct find f = { .want = "" };
	struct seg s;
	struct snap a, b;

	if (argc > 1 && !strcmp(argv[1], "--clean")) {
		uh_stat_sweep(print_removed);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	while ((opt = getopt(argc, argv, "i:n:ah")) != -1) {
		switch (opt) {
		case 'i':
			if (parse_num(optarg, 0.001, 86400, false,
				      &interval)) {
				fprintf(stderr, "uhoma-stat: -i '%s': seconds "
						"from 0.001 to 86400\n",
					optarg);
				return 2;
			}
			break;
		case 'n':
			if (parse_num(optarg, 0, 1e9, true, &v)) {
				fprintf(stderr, "uhoma-stat: -n '%s': a whole "
						"number, 0 to 1000000000\n",
					optarg);
				return 2;
			}
			rounds = (int)v;
			break;
		case 'a': all = 1; break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 < argc) {
		fprintf(stderr, "uhoma-stat: one process at most, not '%s'\n",
			argv[optind + 1]);
		return 2;
	}
	if (optind < argc) {
		f.want = argv[optind];
	} else if (uh_stat_each(list_one, NULL) == 0) {
		printf("no uhoma stack is running on this host\n");
		return 1;
	} else {
		return 0;
	}
	uh_stat_each(find_one, &f);
	if (!f.found) {
		fprintf(stderr, "uhoma-stat: no running uhoma stack %s\n", f.want);
		return 1;
	}
	if (f.found > 1)
		fprintf(stderr, "uhoma-stat: %d stacks match %s; showing %s "
				"(name one as PID.STACK)\n",
			f.found, f.want, f.path);
	if (seg_open(f.path, &s)) {
		fprintf(stderr, "uhoma-stat: %s: not a uhoma segment of this "
				"version\n", f.path);
		return 1;
	}
	a.c = calloc(s.h->ncounters, sizeof(int64_t));
	b.c = calloc(s.h->ncounters, sizeof(int64_t));
	if (!a.c || !b.c) {
		rc = 1;
		goto out;
	}
	take(&s, &a);
	for (int r = 0; rounds == 0 || r < rounds; r++) {
		struct timespec ts = { (time_t)interval,
				       (long)((interval - (double)(time_t)interval) * 1e9) };
		int64_t *t;

		nanosleep(&ts, NULL);
		take(&s, &b);
		if (access(f.path, F_OK) != 0) {
			printf("the process ended\n");
			break;
		}
		show(&s, &a, &b, all);
		t = a.c;
		a = b;
		b.c = t;
	}
out:
	free(a.c);
	free(b.c);
	munmap((void *)(uintptr_t)s.h, s.size);
	return rc;
}
