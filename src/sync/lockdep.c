/*
 * lockdep.c - the lock-order validator. See lockdep.h for what it checks.
 *
 * Design
 * ------
 * Per thread: a stack of held locks (lock address, class, subclass, where it
 * was taken, whether by try-lock) and an RCU read-side nesting depth. Only
 * the owning thread touches it, so it needs no lock. A pthread key whose
 * destructor runs at thread exit reports anything still held.
 *
 * Global: the class dependency graph, one bit per ordered pair of class ids
 * (A,B) meaning "B was acquired while A was held". Bits are read without a
 * lock (relaxed atomics: an edge, once learned, is never unlearned except by
 * the test-only reset), so the common case, an acquisition whose edges are
 * all known, costs one load per held lock. Learning a new edge takes
 * graph_mutex, searches for a path B ->...-> A (which would make A->B close
 * a cycle), and if none exists sets the bit and records, for the report of
 * some later violation, where the edge was first seen and what was held.
 *
 * RCU as a lock: two pseudo-classes take part in the graph but are never
 * held. Acquiring B inside a read section learns rcu_read->B; holding A
 * across synchronize_rcu learns A->rcu_read. A cycle through rcu_read is a
 * reader waiting (transitively) for a lock whose holder waits for that
 * reader's grace period. rcu_callback does the same for call_rcu callbacks
 * and rcu_barrier.
 *
 * The validator uses only pthread mutexes internally, never uh_lock, so it
 * cannot recurse into itself.
 */
#ifdef UHOMA_LOCKDEP

#include "sync/lockdep.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/real.h"

struct held_lock {
	const void *lock;
	struct uh_lock_class *cls;
	unsigned subclass;
	bool trylock;
	bool blocked;   /* a blocking operation under it was reported: one
			 * report per holding, not one per slow path */
	struct uh_srcloc loc;
};

struct ld_thread {
	struct held_lock held[UH_LOCKDEP_MAX_HELD];
	int depth;
	int rcu_depth;
	struct uh_srcloc rcu_loc;   /* outermost rcu_read_lock */
	bool rcu_slept;             /* a sleep in this read section was
				     * reported: one report per section, as
				     * one per holding of a lock */
	bool in_callback;           /* inside an RCU callback */
	struct uh_srcloc cb_loc;    /* where that callback was queued */
	int cb_depth, cb_rcu_depth; /* depth and RCU depth at its entry */
	int rcu_at;                 /* locks held when the outermost read
				     * section began (report order) */
	int untracked;              /* acquisitions past MAX_HELD, reported
				     * once: their releases are not */
	bool key_set;
};

static __thread struct ld_thread ld_self;

/* The pseudo-classes of RCU (see the top of this file). Rank 0: they are
 * never pushed on a held stack, so ranks never compare against them. */
static UH_LOCK_CLASS(rcu_read_class, "rcu_read", 0, 0);
static UH_LOCK_CLASS(rcu_callback_class, "rcu_callback", 0, 0);

/* --- the class graph ------------------------------------------------------ */

#define NCLS (UH_LOCK_CLASS_MAX + 1)
#define WORDS ((NCLS + 63) / 64)
#define CHAIN_MAX 8

/* Edge bits: readers use relaxed loads; writers hold graph_mutex. */
static _Atomic uint64_t graph[NCLS][WORDS];

/* Where an edge was first learned. Guarded by graph_mutex. */
struct edge_info {
	int from, to;
	struct uh_srcloc to_loc;            /* acquisition of "to" */
	int nchain;                         /* locks held at that moment */
	struct { int cls; struct uh_srcloc loc; } chain[CHAIN_MAX];
};

static pthread_mutex_t graph_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct edge_info *edges;            /* guarded by graph_mutex */
static size_t nedges, edges_cap;           /* guarded by graph_mutex */

static bool edge_known(int a, int b)
{
	return atomic_load_explicit(&graph[a][b / 64], memory_order_relaxed) &
	       (1ull << (b % 64));
}

/* --- reports ------------------------------------------------------------- */

static pthread_mutex_t hook_mutex = PTHREAD_MUTEX_INITIALIZER;
static uh_lockdep_hook_fn report_hook;     /* guarded by hook_mutex */
static void *report_arg;                   /* guarded by hook_mutex */
static _Atomic unsigned long report_count;

struct rbuf {
	char text[8192];
	size_t len;
};

static void rb_printf(struct rbuf *rb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void rb_printf(struct rbuf *rb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (rb->len >= sizeof(rb->text) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(rb->text + rb->len, sizeof(rb->text) - rb->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		rb->len += (size_t)n;
	if (rb->len >= sizeof(rb->text))
		rb->len = sizeof(rb->text) - 1;
}

static const char *kind_name(enum uh_lockdep_kind k)
{
	switch (k) {
	case UH_LD_ORDER: return "lock order violation";
	case UH_LD_CYCLE: return "possible deadlock: lock order cycle";
	case UH_LD_LEAF: return "lock acquired while holding a leaf lock";
	case UH_LD_RECURSION: return "recursive locking of a class";
	case UH_LD_UNLOCK_NOT_HELD: return "releasing a lock that is not held";
	case UH_LD_EXIT_HELD: return "thread exiting with a lock held";
	case UH_LD_RETURN_HELD: return "returning to the application with a lock held";
	case UH_LD_BLOCKING: return "blocking operation while holding a non-blocking lock";
	case UH_LD_SYNC_IN_READ: return "synchronize_rcu inside an RCU read-side section";
	case UH_LD_RCU_UNBALANCED: return "rcu_read_unlock without rcu_read_lock";
	case UH_LD_TOO_DEEP: return "too many locks held";
	case UH_LD_SLEEP_IN_READ: return "sleeping inside an RCU read-side section";
	case UH_LD_CALLBACK_HELD: return "RCU callback returning with a lock held";
	case UH_LD_DUPLICATE_CLASS: return "two lock classes with one name";
	}
	return "unknown";
}

static void rb_held(struct rbuf *rb, const struct ld_thread *t)
{
	if (t->depth == 0)
		rb_printf(rb, "    (no locks held)\n");
	for (int i = 0; i < t->depth; i++) {
		const struct held_lock *h = &t->held[i];

		rb_printf(rb, "    #%d \"%s\" (rank %u%s%s) %p taken at %s:%d\n",
			  i, h->cls->name, h->cls->rank,
			  h->trylock ? ", try-lock" : "",
			  h->subclass ? ", nested" : "", h->lock,
			  h->loc.file, h->loc.line);
	}
	if (t->rcu_depth > 0)
		rb_printf(rb, "    RCU read-side section (depth %d) entered at %s:%d\n",
			  t->rcu_depth, t->rcu_loc.file, t->rcu_loc.line);
	if (t->in_callback)
		rb_printf(rb, "    inside an RCU callback queued at %s:%d\n",
			  t->cb_loc.file, t->cb_loc.line);
}

/* @title overrides the kind's heading where the state is more specific
 * (a thread exiting inside a read section holds no lock). */
static void rb_header(struct rbuf *rb, enum uh_lockdep_kind kind,
		      const char *title)
{
	rb_printf(rb, "\n===== uhoma lockdep: %s =====\n",
		  title ? title : kind_name(kind));
}

static void deliver(enum uh_lockdep_kind kind, struct rbuf *rb)
{
	uh_lockdep_hook_fn fn;
	void *arg;

	atomic_fetch_add(&report_count, 1);
	uh_real_pthread_mutex_lock(&hook_mutex);
	fn = report_hook;
	arg = report_arg;
	pthread_mutex_unlock(&hook_mutex);
	if (fn) {
		fn(kind, rb->text, arg);
		return;
	}
	fputs(rb->text, stderr);
	fputs("===== aborting (uhoma lockdep) =====\n", stderr);
	abort();
}

static void report_v(enum uh_lockdep_kind kind, const char *title,
		     const struct ld_thread *t, const char *fmt, va_list ap)
{
	struct rbuf rb = { .len = 0 };
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	rb_header(&rb, kind, title);
	rb_printf(&rb, "  %s\n  held by this thread:\n", line);
	rb_held(&rb, t);
	deliver(kind, &rb);
}

/* A report about the calling thread's state, with a one-line subject. */
static void report_simple(enum uh_lockdep_kind kind, const struct ld_thread *t,
			  const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report_simple(enum uh_lockdep_kind kind, const struct ld_thread *t,
			  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_v(kind, NULL, t, fmt, ap);
	va_end(ap);
}

/* The same with a heading of its own. */
static void report_titled(enum uh_lockdep_kind kind, const char *title,
			  const struct ld_thread *t, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void report_titled(enum uh_lockdep_kind kind, const char *title,
			  const struct ld_thread *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	report_v(kind, title, t, fmt, ap);
	va_end(ap);
}

/* "with a lock held" or "inside an RCU read-side section", whichever is
 * true of @t, after @who ("thread exiting", ...). */
static const char *held_title(char *buf, size_t len, const char *who,
			      const struct ld_thread *t, int depth_base,
			      int rcu_base)
{
	bool locks = t->depth > depth_base, rcu = t->rcu_depth > rcu_base;

	snprintf(buf, len, "%s %s%s%s", who,
		 locks ? "with a lock held" : "",
		 locks && rcu ? " and " : "",
		 rcu ? "inside an RCU read-side section" : "");
	return buf;
}

/* --- the thread-exit check ----------------------------------------------- */

static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static void exit_check(struct ld_thread *t, const char *who, const char *how)
{
	char title[128];

	if (t->depth > 0 || t->rcu_depth > 0)
		report_titled(UH_LD_EXIT_HELD,
			      held_title(title, sizeof(title), who, t, 0, 0),
			      t, "%s holding %d lock(s), RCU depth %d", how,
			      t->depth, t->rcu_depth);
}

static void thread_exit_check(void *p)
{
	exit_check(p, "thread exiting", "thread exits");
}

/* exit() and a return from main() run atexit handlers in the calling thread
 * but no pthread-key destructor: this is the only exit check they get. */
static void process_exit_check(void)
{
	exit_check(&ld_self, "process exiting",
		   "exit() (or a return from main) is called");
}

static void exit_key_init(void)
{
	if (pthread_key_create(&exit_key, thread_exit_check) != 0 ||
	    atexit(process_exit_check) != 0)
		abort();
}

static struct ld_thread *self(void)
{
	struct ld_thread *t = &ld_self;

	if (uh_unlikely(!t->key_set)) {
		pthread_once(&exit_key_once, exit_key_init);
		pthread_setspecific(exit_key, t);
		t->key_set = true;
	}
	return t;
}

/* --- the graph search (graph_mutex held) ---------------------------------- */

/*
 * Breadth-first search for a path @from ->...-> @to. On success fills
 * @path[0..n-1] with the class ids along it (from first, to last) and
 * returns n; returns 0 when there is no path.
 */
static int find_path(int from, int to, int *path)
{
	int prev[NCLS];
	int queue[NCLS];
	int head = 0, tail = 0, n = 0;

	for (int i = 0; i < NCLS; i++)
		prev[i] = -1;
	prev[from] = from;
	queue[tail++] = from;
	while (head < tail) {
		int c = queue[head++];

		if (c == to)
			break;
		for (int w = 0; w < WORDS; w++) {
			uint64_t bits = atomic_load_explicit(
				&graph[c][w], memory_order_relaxed);

			while (bits) {
				int b = w * 64 + __builtin_ctzll(bits);

				bits &= bits - 1;
				if (prev[b] < 0) {
					prev[b] = c;
					queue[tail++] = b;
				}
			}
		}
	}
	if (prev[to] < 0)
		return 0;
	for (int c = to;; c = prev[c]) {
		path[n++] = c;
		if (c == from)
			break;
	}
	for (int i = 0; i < n / 2; i++) {  /* reverse into from..to order */
		int tmp = path[i];

		path[i] = path[n - 1 - i];
		path[n - 1 - i] = tmp;
	}
	return n;
}

static const struct edge_info *edge_find(int a, int b)
{
	for (size_t i = 0; i < nedges; i++)
		if (edges[i].from == a && edges[i].to == b)
			return &edges[i];
	return NULL;
}

/* Appends one entry to an edge's chain, if there is room. */
static void chain_push(struct edge_info *e, struct uh_lock_class *cls,
		       struct uh_srcloc loc)
{
	if (e->nchain < CHAIN_MAX) {
		e->chain[e->nchain].cls = uh_lock_class_id(cls);
		e->chain[e->nchain].loc = loc;
		e->nchain++;
	}
}

static void edge_add(const struct ld_thread *t, int a, int b,
		     struct uh_srcloc loc)
{
	struct edge_info *e;

	if (nedges == edges_cap) {
		size_t cap = edges_cap ? edges_cap * 2 : 64;
		struct edge_info *ne = uh_real_realloc(edges, cap * sizeof(*ne));

		if (!ne)
			abort();
		edges = ne;
		edges_cap = cap;
	}
	e = &edges[nedges++];
	e->from = a;
	e->to = b;
	e->to_loc = loc;
	e->nchain = 0;
	if (t->in_callback)
		chain_push(e, &rcu_callback_class, t->cb_loc);
	/* In the order taken: the read section after the locks held when
	 * it began. */
	for (int i = 0; i <= t->depth; i++) {
		if (t->rcu_depth > 0 && i == t->rcu_at)
			chain_push(e, &rcu_read_class, t->rcu_loc);
		if (i < t->depth)
			chain_push(e, t->held[i].cls, t->held[i].loc);
	}
	atomic_fetch_or_explicit(&graph[a][b / 64], 1ull << (b % 64),
				 memory_order_relaxed);
}

/* How an acquisition of @cls reads in a report ("acquires \"x\"", or the
 * wait that the RCU pseudo-classes stand for). */
static const char *acquire_verb(const struct uh_lock_class *cls)
{
	if (cls == &rcu_read_class)
		return "waits for a grace period (synchronize_rcu, rcu_barrier), so for every RCU read-side section";
	if (cls == &rcu_callback_class)
		return "waits in rcu_barrier for every queued RCU callback";
	return NULL;
}

/* How a held @cls, taken at @loc, reads in a report. */
static void rb_holder(struct rbuf *rb, const struct uh_lock_class *cls,
		      struct uh_srcloc loc)
{
	if (cls == &rcu_read_class)
		rb_printf(rb, "inside an RCU read-side section (\"rcu_read\") entered at %s:%d",
			  loc.file, loc.line);
	else if (cls == &rcu_callback_class)
		rb_printf(rb, "inside an RCU callback (\"rcu_callback\") queued at %s:%d",
			  loc.file, loc.line);
	else
		rb_printf(rb, "holding \"%s\" (rank %u), taken at %s:%d",
			  cls->name, cls->rank, loc.file, loc.line);
}

static void rb_edge(struct rbuf *rb, const struct edge_info *e)
{
	struct uh_lock_class *from = uh_lock_class_by_id(e->from);
	struct uh_lock_class *to = uh_lock_class_by_id(e->to);
	const char *verb = acquire_verb(to);

	if (verb)
		rb_printf(rb, "    \"%s\" -> \"%s\": a thread %s at %s:%d while holding:\n",
			  from->name, to->name, verb, e->to_loc.file,
			  e->to_loc.line);
	else
		rb_printf(rb, "    \"%s\" -> \"%s\": \"%s\" acquired at %s:%d while holding:\n",
			  from->name, to->name, to->name, e->to_loc.file,
			  e->to_loc.line);
	for (int i = 0; i < e->nchain; i++)
		rb_printf(rb, "        #%d \"%s\" taken at %s:%d\n", i,
			  uh_lock_class_by_id(e->chain[i].cls)->name,
			  e->chain[i].loc.file, e->chain[i].loc.line);
}

/*
 * Learns the edge @from->@cls, @from held since @from_loc and @cls acquired
 * (or, for a pseudo-class, waited for) at @loc. Returns false (after
 * reporting) if the edge would close a cycle.
 */
static bool learn_edge(struct ld_thread *t, struct uh_lock_class *from,
		       struct uh_srcloc from_loc, struct uh_lock_class *cls,
		       struct uh_srcloc loc)
{
	int a = uh_lock_class_id(from), b = uh_lock_class_id(cls);
	const char *verb = acquire_verb(cls);
	int path[NCLS];
	int n;

	if (edge_known(a, b))
		return true;
	uh_real_pthread_mutex_lock(&graph_mutex);
	if (edge_known(a, b)) {
		pthread_mutex_unlock(&graph_mutex);
		return true;
	}
	n = find_path(b, a, path);
	if (n == 0) {
		edge_add(t, a, b, loc);
		pthread_mutex_unlock(&graph_mutex);
		return true;
	}

	struct rbuf rb = { .len = 0 };

	rb_header(&rb, UH_LD_CYCLE, NULL);
	if (verb)
		rb_printf(&rb, "  this thread %s (\"%s\") at %s:%d\n", verb,
			  cls->name, loc.file, loc.line);
	else
		rb_printf(&rb, "  this thread acquires \"%s\" (rank %u) at %s:%d\n",
			  cls->name, cls->rank, loc.file, loc.line);
	rb_printf(&rb, "  while ");
	rb_holder(&rb, from, from_loc);
	rb_printf(&rb, "; its chain:\n");
	rb_held(&rb, t);
	rb_printf(&rb, "  but the opposite order \"%s\" ->...-> \"%s\" (%d-class cycle) was seen before:\n",
		  cls->name, from->name, n);
	for (int i = 0; i + 1 < n; i++) {
		const struct edge_info *e = edge_find(path[i], path[i + 1]);

		if (e)
			rb_edge(&rb, e);
	}
	pthread_mutex_unlock(&graph_mutex);
	deliver(UH_LD_CYCLE, &rb);
	return false;
}

/* Edges from the contexts the thread is in (a read section, a callback) to
 * @cls, acquired at @loc. False if one closed a cycle (reported). */
static bool learn_context_edges(struct ld_thread *t, struct uh_lock_class *cls,
				struct uh_srcloc loc)
{
	if (t->rcu_depth > 0 &&
	    !learn_edge(t, &rcu_read_class, t->rcu_loc, cls, loc))
		return false;
	if (t->in_callback &&
	    !learn_edge(t, &rcu_callback_class, t->cb_loc, cls, loc))
		return false;
	return true;
}

/* Edges from every held lock to the pseudo-class @wait_cls, which the thread
 * is about to wait for at @loc. False if one closed a cycle (reported). */
static bool learn_wait_edges(struct ld_thread *t,
			     struct uh_lock_class *wait_cls,
			     struct uh_srcloc loc)
{
	for (int i = 0; i < t->depth; i++)
		if (!learn_edge(t, t->held[i].cls, t->held[i].loc, wait_cls,
				loc))
			return false;
	return true;
}

/* --- the hooks ----------------------------------------------------------- */

static void push_held(struct ld_thread *t, const void *lock,
		      struct uh_lock_class *cls, unsigned subclass,
		      bool trylock, struct uh_srcloc loc)
{
	if (t->depth >= UH_LOCKDEP_MAX_HELD) {
		if (t->untracked++ > 0)
			return;
		report_simple(UH_LD_TOO_DEEP, t,
			      "more than %d locks held; \"%s\" at %s:%d not tracked",
			      UH_LOCKDEP_MAX_HELD, cls->name, loc.file,
			      loc.line);
		return;
	}
	t->held[t->depth++] = (struct held_lock){
		.lock = lock, .cls = cls, .subclass = subclass,
		.trylock = trylock, .loc = loc,
	};
}

void uh_lockdep_acquire(const void *lock, struct uh_lock_class *cls,
			unsigned subclass, struct uh_srcloc loc)
{
	struct ld_thread *t = self();
	bool reported = false;

	uh_lock_class_id(cls);
	if (!learn_context_edges(t, cls, loc))
		reported = true;
	for (int i = 0; i < t->depth && !reported; i++) {
		const struct held_lock *h = &t->held[i];

		if (h->cls == cls) {
			if (h->lock == lock || subclass <= h->subclass) {
				report_simple(UH_LD_RECURSION, t,
					      "acquiring \"%s\" %p (subclass %u) at %s:%d while holding %s \"%s\" %p (subclass %u)",
					      cls->name, lock, subclass,
					      loc.file, loc.line,
					      h->lock == lock ? "the same lock" : "a lock of class",
					      h->cls->name, h->lock,
					      h->subclass);
				reported = true;
			}
			continue;   /* nesting within a class adds no edge */
		}
		if (h->cls->flags & UH_LC_LEAF) {
			report_simple(UH_LD_LEAF, t,
				      "acquiring \"%s\" at %s:%d while holding leaf \"%s\" (taken at %s:%d)",
				      cls->name, loc.file, loc.line,
				      h->cls->name, h->loc.file, h->loc.line);
			reported = true;
		} else if ((cls->flags & UH_LC_SLEEPS) &&
			   !(h->cls->flags & UH_LC_SLEEPS)) {
			if (t->held[i].blocked)
				continue;
			t->held[i].blocked = true;
			report_simple(UH_LD_BLOCKING, t,
				      "acquiring sleeping-class \"%s\" at %s:%d while holding non-blocking \"%s\" (taken at %s:%d)",
				      cls->name, loc.file, loc.line,
				      h->cls->name, h->loc.file, h->loc.line);
			reported = true;
		} else if (h->cls->rank > cls->rank) {
			/* Reported, and not learned: the edge is wrong by
			 * declaration, so it must not later make the correct
			 * order look like the one closing a cycle. */
			report_simple(UH_LD_ORDER, t,
				      "acquiring \"%s\" (rank %u) at %s:%d while holding \"%s\" (rank %u, taken at %s:%d): the order in lock_order.h is violated",
				      cls->name, cls->rank, loc.file,
				      loc.line, h->cls->name, h->cls->rank,
				      h->loc.file, h->loc.line);
			reported = true;
		} else if (!learn_edge(t, h->cls, h->loc, cls, loc)) {
			reported = true;
		}
	}
	push_held(t, lock, cls, subclass, false, loc);
}

void uh_lockdep_try_check(const void *lock, struct uh_lock_class *cls,
			  struct uh_srcloc loc)
{
	struct ld_thread *t = self();

	for (int i = 0; i < t->depth; i++) {
		const struct held_lock *h = &t->held[i];

		if (h->lock == lock) {
			report_simple(UH_LD_RECURSION, t,
				      "try-locking \"%s\" %p at %s:%d, which this thread already holds (taken at %s:%d): it can never succeed",
				      cls->name, lock, loc.file, loc.line,
				      h->loc.file, h->loc.line);
			return;
		}
		if (h->cls->flags & UH_LC_LEAF) {
			report_simple(UH_LD_LEAF, t,
				      "try-locking \"%s\" at %s:%d while holding leaf \"%s\" (taken at %s:%d)",
				      cls->name, loc.file, loc.line,
				      h->cls->name, h->loc.file, h->loc.line);
			return;
		}
	}
}

void uh_lockdep_acquired_try(const void *lock, struct uh_lock_class *cls,
			     unsigned subclass, struct uh_srcloc loc)
{
	uh_lock_class_id(cls);
	push_held(self(), lock, cls, subclass, true, loc);
}

void uh_lockdep_release(const void *lock, struct uh_srcloc loc)
{
	struct ld_thread *t = self();

	for (int i = t->depth - 1; i >= 0; i--) {
		if (t->held[i].lock != lock)
			continue;
		memmove(&t->held[i], &t->held[i + 1],
			(size_t)(t->depth - i - 1) * sizeof(t->held[0]));
		t->depth--;
		if (i < t->rcu_at)
			t->rcu_at--;
		return;
	}
	if (t->untracked > 0) {   /* one of those past the limit */
		t->untracked--;
		return;
	}
	report_simple(UH_LD_UNLOCK_NOT_HELD, t,
		      "releasing lock %p at %s:%d, which this thread does not hold",
		      lock, loc.file, loc.line);
}

bool uh_lockdep_holds(const void *lock)
{
	const struct ld_thread *t = &ld_self;

	for (int i = 0; i < t->depth; i++)
		if (t->held[i].lock == lock)
			return true;
	return false;
}

/* @loc as FILE:LINE; a wrapped call's (lockdep_wrap.c), which has no
 * line, as its callers. */
static const char *site(struct uh_srcloc loc, char *buf, size_t len)
{
	if (loc.line)
		snprintf(buf, len, "%s:%d", loc.file, loc.line);
	else
		snprintf(buf, len, "%s", loc.file);
	return buf;
}

void uh_lockdep_might_block(const char *what, struct uh_srcloc loc)
{
	struct ld_thread *t = self();
	char at[600];

	for (int i = 0; i < t->depth; i++) {
		struct held_lock *h = &t->held[i];

		if (!(h->cls->flags & UH_LC_SLEEPS)) {
			if (h->blocked)
				return;
			h->blocked = true;
			report_simple(UH_LD_BLOCKING, t,
				      "%s at %s may block, but non-blocking \"%s\" is held (taken at %s:%d)",
				      what, site(loc, at, sizeof(at)),
				      h->cls->name, h->loc.file, h->loc.line);
			return;
		}
	}
}

void uh_lockdep_might_sleep(const char *what, struct uh_srcloc loc)
{
	struct ld_thread *t = self();
	char at[600];

	if (t->rcu_depth > 0) {
		if (t->rcu_slept)
			return;
		t->rcu_slept = true;
		report_simple(UH_LD_SLEEP_IN_READ, t,
			      "%s at %s waits for another thread inside an RCU read-side section (entered at %s:%d): every grace period waits for it",
			      what, site(loc, at, sizeof(at)),
			      t->rcu_loc.file, t->rcu_loc.line);
		return;
	}
	uh_lockdep_might_block(what, loc);
}

void uh_lockdep_rcu_read_lock(struct uh_srcloc loc)
{
	struct ld_thread *t = self();

	if (t->rcu_depth++ == 0) {
		t->rcu_loc = loc;
		t->rcu_slept = false;
		t->rcu_at = t->depth;
	}
}

void uh_lockdep_rcu_read_unlock(struct uh_srcloc loc)
{
	struct ld_thread *t = self();

	if (t->rcu_depth == 0) {
		report_simple(UH_LD_RCU_UNBALANCED, t,
			      "rcu_read_unlock at %s:%d outside any read-side section",
			      loc.file, loc.line);
		return;
	}
	t->rcu_depth--;
}

bool uh_lockdep_synchronize_rcu(struct uh_srcloc loc)
{
	struct ld_thread *t = self();

	if (t->rcu_depth > 0) {
		report_simple(UH_LD_SYNC_IN_READ, t,
			      "synchronize_rcu at %s:%d would wait for this thread's own read-side section",
			      loc.file, loc.line);
		return false;
	}
	uh_lockdep_might_block("synchronize_rcu", loc);
	learn_wait_edges(t, &rcu_read_class, loc);
	return true;
}

bool uh_lockdep_rcu_barrier(struct uh_srcloc loc)
{
	struct ld_thread *t = self();

	if (t->rcu_depth > 0) {
		report_titled(UH_LD_SYNC_IN_READ,
			      "rcu_barrier inside an RCU read-side section", t,
			      "rcu_barrier at %s:%d waits for a grace period, which waits for this thread's own read-side section",
			      loc.file, loc.line);
		return false;
	}
	if (t->in_callback) {
		report_titled(UH_LD_SYNC_IN_READ,
			      "rcu_barrier inside an RCU callback", t,
			      "rcu_barrier at %s:%d, in a callback queued at %s:%d, would wait for that callback itself",
			      loc.file, loc.line, t->cb_loc.file,
			      t->cb_loc.line);
		return false;
	}
	uh_lockdep_might_block("rcu_barrier", loc);
	/* Callbacks run only after a grace period: the barrier waits for
	 * every reader too, as synchronize_rcu does. One report at most. */
	if (learn_wait_edges(t, &rcu_callback_class, loc))
		learn_wait_edges(t, &rcu_read_class, loc);
	return true;
}

void uh_lockdep_callback_enter(struct uh_srcloc queued)
{
	struct ld_thread *t = self();

	t->in_callback = true;
	t->cb_loc = queued;
	t->cb_depth = t->depth;
	t->cb_rcu_depth = t->rcu_depth;
}

void uh_lockdep_callback_exit(void)
{
	struct ld_thread *t = self();
	char title[128];

	if (t->depth > t->cb_depth || t->rcu_depth > t->cb_rcu_depth) {
		report_titled(UH_LD_CALLBACK_HELD,
			      held_title(title, sizeof(title),
					 "RCU callback returning", t,
					 t->cb_depth, t->cb_rcu_depth),
			      t, "the callback queued at %s:%d returns holding %d lock(s), RCU depth %d",
			      t->cb_loc.file, t->cb_loc.line,
			      t->depth - t->cb_depth,
			      t->rcu_depth - t->cb_rcu_depth);
		/* The callback thread runs on: don't blame the next one. */
		t->depth = t->cb_depth;
		t->rcu_depth = t->cb_rcu_depth;
	}
	t->in_callback = false;
}

void uh_lockdep_duplicate_class(const struct uh_lock_class *cls,
				const struct uh_lock_class *other)
{
	struct rbuf rb = { .len = 0 };
	bool same_def = cls->def.line == other->def.line &&
			strcmp(cls->def.file, other->def.file) == 0;

	rb_header(&rb, UH_LD_DUPLICATE_CLASS, NULL);
	rb_printf(&rb, "  \"%s\" (%p) defined at %s:%d is registered, but \"%s\" (%p) defined at %s:%d already was\n",
		  cls->name, (const void *)cls, cls->def.file, cls->def.line,
		  other->name, (const void *)other, other->def.file,
		  other->def.line);
	if (same_def)
		rb_printf(&rb, "  one definition, two objects: a class defined static in a header has a copy in every file that includes it; define it once in a .c file and declare it extern\n");
	else
		rb_printf(&rb, "  two definitions, one name: reports about them could not be told apart; give each its own name\n");
	rb_printf(&rb, "  locks of the two are not checked against each other for recursion\n");
	deliver(UH_LD_DUPLICATE_CLASS, &rb);
}

void uh_lockdep_return_to_app(const char *api, struct uh_srcloc loc)
{
	struct ld_thread *t = self();
	char title[128];

	if (t->depth > 0 || t->rcu_depth > 0)
		report_titled(UH_LD_RETURN_HELD,
			      held_title(title, sizeof(title),
					 "returning to the application", t, 0,
					 0),
			      t,
			      "%s returns to the application at %s:%d with %d lock(s) held, RCU depth %d",
			      api, loc.file, loc.line, t->depth,
			      t->rcu_depth);
}

int uh_lockdep_depth(void)
{
	return ld_self.depth;
}

int uh_lockdep_rcu_depth(void)
{
	return ld_self.rcu_depth;
}

uh_lockdep_hook_fn uh_lockdep_set_hook(uh_lockdep_hook_fn fn, void *arg)
{
	uh_lockdep_hook_fn old;

	uh_real_pthread_mutex_lock(&hook_mutex);
	old = report_hook;
	report_hook = fn;
	report_arg = arg;
	pthread_mutex_unlock(&hook_mutex);
	return old;
}

unsigned long uh_lockdep_reports(void)
{
	return atomic_load(&report_count);
}

void uh_lockdep_reset(void)
{
	uh_real_pthread_mutex_lock(&graph_mutex);
	for (int a = 0; a < NCLS; a++)
		for (int w = 0; w < WORDS; w++)
			atomic_store_explicit(&graph[a][w], 0,
					      memory_order_relaxed);
	nedges = 0;
	pthread_mutex_unlock(&graph_mutex);
	ld_self.depth = 0;
	ld_self.rcu_depth = 0;
	ld_self.in_callback = false;
	ld_self.untracked = 0;
	ld_self.rcu_at = 0;
	atomic_store(&report_count, 0);
}

void uh_lockdep_fork_prepare(void)
{
	uh_real_pthread_mutex_lock(&hook_mutex);
	uh_real_pthread_mutex_lock(&graph_mutex);
}

void uh_lockdep_fork_release(void)
{
	pthread_mutex_unlock(&graph_mutex);
	pthread_mutex_unlock(&hook_mutex);
}

#else
/* ISO C forbids an empty translation unit. */
typedef int uh_lockdep_compiled_out;
#endif /* UHOMA_LOCKDEP */
