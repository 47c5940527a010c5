/*
 * usermem.c - reads and writes of the caller's memory that fail with
 * EFAULT instead of faulting (usermem.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "api/usermem.h"
#include "net/ownfd.h"
#include "uhoma/uhoma.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22   /* Linux 5.14 */
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PIPE_CHUNK 4096u        /* a pipe holds at least this at once */

static int through_pipe(void *dst, const void *src, size_t len);

/* This thread's stack, found once (top 0: unknown). */
static __thread uintptr_t tl_stack_lo, tl_stack_top;
static __thread int tl_stack_known;
static __thread unsigned tl_in_handler;   /* handlers running (nested) */

void uh_user_handler_enter(void)
{
	tl_in_handler++;
}

void uh_user_handler_leave(void)
{
	tl_in_handler--;
}

static void find_stack(void)
{
	pthread_attr_t at;
	void *lo;
	size_t size;

	tl_stack_known = 1;
	if (pthread_getattr_np(pthread_self(), &at) != 0)
		return;
	if (pthread_attr_getstack(&at, &lo, &size) == 0) {
		tl_stack_lo = (uintptr_t)lo;
		tl_stack_top = (uintptr_t)lo + size;
	}
	pthread_attr_destroy(&at);
}

/* Whether [@p, @p + @len) lies between this frame and the top of the
 * thread's stack: in use by its callers, so mapped and writable. Not on
 * another stack (a coroutine's, a signal's): the frame must be in the
 * thread's own. */
static int in_my_stack(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);

	if (!tl_stack_known) {
		if (tl_in_handler)
			return 0;     /* not now: usermem.h */
		find_stack();
	}
	return tl_stack_top && here >= tl_stack_lo && here < tl_stack_top &&
	       a >= here && a < tl_stack_top && len <= tl_stack_top - a;
}

/*
 * Ranges checked since this thread's last uh_user_begin(), whole pages
 * each: within one call of the application's, the msghdr, the Homa
 * arguments and the address usually share a page, and a message's header
 * lies beside its body. A range checked for writing is readable too (no
 * architecture Linux runs on has write-only pages).
 */
#define CACHED_RANGES 4
static __thread struct {
	uintptr_t lo, hi;      /* [lo, hi): page-aligned; hi 0: empty */
	bool write;
} tl_checked[CACHED_RANGES];
static __thread unsigned tl_checked_next;


static uintptr_t page_size(void)
{
	static _Atomic uintptr_t size;   /* 0 until first asked; racing
					  * writers store the same value */
	uintptr_t s = atomic_load_explicit(&size, memory_order_relaxed);

	if (!s) {
		s = (uintptr_t)sysconf(_SC_PAGESIZE);
		atomic_store_explicit(&size, s, memory_order_relaxed);
	}
	return s;
}

/*
 * The fault guard (usermem.h): once the preload's SIGSEGV and SIGBUS
 * handler is in place, a copy of the caller's memory is a plain memcpy
 * that a fault inside the caller's range turns into EFAULT. The handler
 * finds the copy's jump buffer and range here, in the faulting thread.
 */
static _Atomic bool guard_on;
static _Atomic unsigned guard_active;   /* copies under the guard now */
static __thread unsigned tl_active;     /* ... of them, this thread's */

/* The end of user memory on x86-64 with 4-level page tables (the
 * kernel's TASK_SIZE_MAX there); beyond, copies are checked as before. */
#define UH_USER_TOP ((uintptr_t)1 << 47)

struct guard {
	sigjmp_buf jb;
	uintptr_t lo, hi;          /* [lo, hi): the caller's pages */
	void *dst;                 /* the move: in memory, not registers */
	const void *src;
	size_t len;
	bool touch;
	uintptr_t sp;              /* guarded()'s frame */
};
static __thread struct guard *volatile tl_guard;

void uh_user_begin(void)
{
	struct guard *g = tl_guard;

	memset(tl_checked, 0, sizeof(tl_checked));
	/* A copy whose frame lies below this one was left by a jump out
	 * of a handler (the program's, out of our call): it is over. A
	 * copy a handler interrupted lies above. */
	if (g && g->sp < (uintptr_t)__builtin_frame_address(0))
		tl_guard = NULL;
}

void uh_user_guard_enable(bool on)
{
	atomic_store(&guard_on, on);
}

void uh_user_guard_quiesce(void)
{
	/* Not for this thread's own: a handler that interrupted one may be
	 * the caller. */
	while (atomic_load(&guard_active) > tl_active)
		sched_yield();
}

bool uh_user_guarded(void)
{
	return atomic_load(&guard_on);
}

/*
 * Whether the fault's context is the copy itself, not a handler that
 * interrupted it and faulted in the same range (a handler the preload
 * does not wrap: SIGFPE's, one installed by a raw system call): the
 * copy's frames lie just below guarded()'s, a handler's below its signal
 * frame (kilobytes: the saved vector state) or on another stack.
 */
#define COPY_FRAMES 1024
static bool in_copy_frame(const struct guard *g, const void *uc)
{
	uintptr_t sp;

	if (!uc)
		return false;
#if defined(__x86_64__)
	sp = (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
	sp = (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.sp;
#else
	sp = g->sp - 1;
#endif
	return sp <= g->sp && g->sp - sp < COPY_FRAMES;
}

bool uh_user_fault(int sig, const siginfo_t *info, const void *uc)
{
	struct guard *g = tl_guard;
	uintptr_t at;

	/* A fault's si_code is positive; a sent signal's address field
	 * holds the sender's pid and uid. */
	if (!g || (sig != SIGSEGV && sig != SIGBUS) || !info ||
	    info->si_code <= 0)
		return false;
	at = (uintptr_t)info->si_addr;
	if (at < g->lo || at >= g->hi || !in_copy_frame(g, uc))
		return false;
	/* The mask as it was at the fault: a jump out of a handler keeps
	 * the one the kernel set for it (the signal blocked). */
	if (uc)
		pthread_sigmask(SIG_SETMASK,
				&((const ucontext_t *)uc)->uc_sigmask, NULL);
	siglongjmp(g->jb, 1);
}

/* The guarded move itself, out of line: nothing of it lives in the frame
 * that sigsetjmp saved. */
static __attribute__((noinline)) void guarded_move(const struct guard *g)
{
	if (g->touch) {
		uintptr_t page = page_size();
		uint8_t *p = g->dst, *end = p + g->len;

		for (; p < end; p = (uint8_t *)(((uintptr_t)p | (page - 1)) + 1))
			__atomic_fetch_or(p, 0, __ATOMIC_RELAXED);
	} else {
		memcpy(g->dst, g->src, g->len);
	}
}

/* guarded()'s answer when the guard went off meanwhile: check instead. */
#define UNGUARDED 1

/* Moves @len bytes from @src to @dst, one of which is the caller's @user
 * range, under the guard; @touch: instead of a copy, write every page of
 * @dst with what it holds (an atomic OR of zero: a write another thread
 * makes meanwhile is kept). UHOMA_ERR_BAD_ADDRESS on a fault there. */
static int guarded(void *dst, const void *src, size_t len, const void *user,
		   bool touch)
{
	uintptr_t a = (uintptr_t)user;
	struct guard g = {
		.lo = a & ~(page_size() - 1),
		.hi = a + len < a ? UINTPTR_MAX : a + len,
		.dst = dst, .src = src, .len = len, .touch = touch,
		.sp = (uintptr_t)__builtin_frame_address(0),
	};
	struct guard *volatile outer = tl_guard;   /* a copy this one's
						    * handler interrupted */

	/* Counted in before the guard is looked at: one that turns it off
	 * waits for the copies already under it (uh_user_guard_quiesce),
	 * and a copy after that takes the page check. */
	tl_active++;
	atomic_fetch_add(&guard_active, 1);
	if (!uh_user_guarded()) {
		atomic_fetch_sub(&guard_active, 1);
		tl_active--;
		return UNGUARDED;
	}
	if (sigsetjmp(g.jb, 0)) {
		tl_guard = outer;
		atomic_fetch_sub(&guard_active, 1);
		tl_active--;
		return UHOMA_ERR_BAD_ADDRESS;
	}
	tl_guard = &g;
	atomic_signal_fence(memory_order_seq_cst);
	guarded_move(&g);
	atomic_signal_fence(memory_order_seq_cst);
	tl_guard = outer;
	atomic_fetch_sub(&guard_active, 1);
	tl_active--;
	return UHOMA_OK;
}

/* Whether this thread takes faults: one with SIGSEGV or SIGBUS blocked (a
 * worker that blocked every signal, a handler's mask) is killed by the
 * kernel at the first. Asked before each copy (or gather): a handler may
 * have blocked them meanwhile by editing the context it returns to. */
static bool faults_open(void)
{
	sigset_t cur;

	return uh_user_guarded() &&
	       pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0 &&
	       !sigismember(&cur, SIGSEGV) && !sigismember(&cur, SIGBUS);
}

/* Whether [@user, @user + @len) is canonical user memory: beyond, a fault
 * is a general protection fault, which carries no address to match. */
static bool range_guardable(const void *user, size_t len)
{
	uintptr_t a = (uintptr_t)user;

	return a + len >= a && a + len <= UH_USER_TOP;
}

/* 1: every page of [@p, @p + @len) can be accessed (@write: written too)
 * as the check says; 0: not, or the check cannot judge. */
static int pages_ok(const void *p, size_t len, bool write)
{
	uintptr_t page = page_size(), a = (uintptr_t)p, to = a + len;
	uintptr_t from = a & ~(page - 1), end = (to + page - 1) & ~(page - 1);
	unsigned i;

	if (to < a || end < to)
		return 0;
	for (i = 0; i < CACHED_RANGES; i++)
		if (tl_checked[i].lo <= from && end <= tl_checked[i].hi &&
		    (tl_checked[i].write || !write))
			return 1;
	if (madvise((void *)from, end - from,
		    write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) != 0)
		return 0;
	i = tl_checked_next++ % CACHED_RANGES;
	tl_checked[i].lo = from;
	tl_checked[i].hi = end;
	tl_checked[i].write = write;
	return 1;
}

/* Checks that @len bytes at the caller's @p can be written, without
 * changing them. */
static int writable(void *p, size_t len)
{
	uint8_t probe[64];

	if (!len || in_my_stack(p, len))
		return UHOMA_OK;
	if (range_guardable(p, len) && faults_open()) {
		int rc = guarded(p, NULL, len, p, true);

		if (rc != UNGUARDED)
			return rc;
	}
	if (pages_ok(p, len, true))
		return UHOMA_OK;
	/* The pipe's verdict: read it, write the same bytes back (a rare
	 * path; a write another thread makes there meanwhile can be lost). */
	for (size_t off = 0; off < len; off += sizeof(probe)) {
		size_t n = len - off < sizeof(probe) ? len - off
						     : sizeof(probe);
		int rc = through_pipe(probe, (uint8_t *)p + off, n);

		if (!rc)
			rc = through_pipe((uint8_t *)p + off, probe, n);
		if (rc)
			return rc;
	}
	return UHOMA_OK;
}

/*
 * Moves @len bytes from @src to @dst through a pipe: the write is the
 * kernel's copy_from_user of @src, the read its copy_to_user to @dst, so
 * either fails exactly where the module's copy would. Slow (two copies,
 * two system calls a page), and only for what the page check refused.
 */
static int through_pipe(void *dst, const void *src, size_t len)
{
	int p[2], rc = UHOMA_OK;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
		return errno == EMFILE || errno == ENFILE ? UHOMA_ERR_NOMEM
							  : UHOMA_ERR_SYSTEM;
	p[0] = uh_fd_own(p[0]);
	p[1] = uh_fd_own(p[1]);
	for (size_t off = 0; off < len && rc == UHOMA_OK;) {
		size_t n = len - off < PIPE_CHUNK ? len - off : PIPE_CHUNK;
		ssize_t w = write(p[1], (const uint8_t *)src + off, n);
		ssize_t r;

		if (w <= 0) {
			rc = w < 0 && errno == EFAULT ? UHOMA_ERR_BAD_ADDRESS
						      : UHOMA_ERR_SYSTEM;
			break;
		}
		r = read(p[0], (uint8_t *)dst + off, (size_t)w);
		if (r != w) {
			rc = r < 0 && errno == EFAULT ? UHOMA_ERR_BAD_ADDRESS
						      : UHOMA_ERR_SYSTEM;
			break;
		}
		off += (size_t)w;
	}
	uh_fd_close(p[0]);
	uh_fd_close(p[1]);
	return rc;
}

/* Copies @len bytes from @src to @dst, one of which (@user) is the
 * caller's, to be read (@write false) or written. */
static int copy_checked(void *dst, const void *src, size_t len,
			const void *user, bool write)
{
	if (!len)
		return UHOMA_OK;
	if (!in_my_stack(user, len) && range_guardable(user, len) &&
	    faults_open()) {
		int rc = guarded(dst, src, len, user, false);

		if (rc != UNGUARDED)
			return rc;
	}
	if (in_my_stack(user, len) || pages_ok(user, len, write)) {
		memcpy(dst, src, len);
		return UHOMA_OK;
	}
	return through_pipe(dst, src, len);
}

int uh_user_read(void *dst, const void *src, size_t len)
{
	return copy_checked(dst, src, len, src, false);
}

int uh_user_write(void *dst, const void *src, size_t len)
{
	return copy_checked(dst, src, len, dst, true);
}

int uh_user_read_rw(void *dst, void *src, size_t len)
{
	int rc = writable(src, len);

	return rc ? rc : uh_user_read(dst, src, len);
}

int uh_user_gather(uint8_t *dst, size_t len, const struct iovec *iov,
		   size_t n)
{
	size_t off = 0;
	bool ok = true, redo = false;

	for (size_t i = 0; i < n && ok; i++)
		ok = !iov[i].iov_len || range_guardable(iov[i].iov_base,
							iov[i].iov_len);
	if (ok && faults_open()) {
		for (size_t i = 0; i < n; i++)
			if (!iov[i].iov_len && (intptr_t)iov[i].iov_base < 0)
				return UHOMA_ERR_BAD_ADDRESS;  /* as below */
		for (size_t i = 0; i < n && off < len; i++) {
			size_t part = iov[i].iov_len < len - off
					      ? iov[i].iov_len : len - off;
			int rc = part ? guarded(dst + off, iov[i].iov_base,
						part, iov[i].iov_base, false)
				      : UHOMA_OK;

			if (rc == UNGUARDED) {
				redo = true;    /* checked below, whole */
				break;
			}
			if (rc)
				return rc;
			off += part;
		}
		if (!redo)
			return UHOMA_OK;
		off = 0;
	}
	ok = true;
	/* Check every part first: a message is sent whole or not at all. */
	for (size_t i = 0; i < n && ok; i++) {
		if (!iov[i].iov_len) {
			/* The kernel refuses even an empty part at a
			 * kernel address (its access_ok). */
			if ((intptr_t)iov[i].iov_base < 0)
				return UHOMA_ERR_BAD_ADDRESS;
			continue;
		}
		ok = in_my_stack(iov[i].iov_base, iov[i].iov_len) ||
		     pages_ok(iov[i].iov_base, iov[i].iov_len, false);
	}
	for (size_t i = 0; i < n && off < len; i++) {
		size_t part = iov[i].iov_len < len - off ? iov[i].iov_len
							 : len - off;
		int rc;

		if (!part)
			continue;
		if (ok) {
			memcpy(dst + off, iov[i].iov_base, part);
		} else if ((rc = through_pipe(dst + off, iov[i].iov_base,
					      part)) != UHOMA_OK) {
			return rc;
		}
		off += part;
	}
	return UHOMA_OK;
}

int uh_user_mapped_writable(const void *p, size_t len)
{
	uintptr_t at = (uintptr_t)p, end = at + len;
	char line[512];
	FILE *f;

	if (end < at)
		return UHOMA_ERR_BAD_ADDRESS;
	if (!len)
		return UHOMA_OK;
	f = fopen("/proc/self/maps", "re");
	if (!f)   /* no /proc: the first page written as the module does */
		return writable((void *)(uintptr_t)p, 1);
	/* Mappings come in address order: walk them from @at on. */
	while (at < end && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, off, inode;
		char perms[8], dev[16];
		uintptr_t to;

		if (sscanf(line, "%lx-%lx %7s %lx %15s %lu", &lo, &hi, perms,
			   &off, dev, &inode) != 6)
			continue;
		if (hi <= at)
			continue;
		if (lo > at || perms[1] != 'w')
			break;              /* a hole, or not writable */
		to = hi < end ? hi : end;
		/* A file's mapping may reach past the file's end, where the
		 * first access is a SIGBUS: a read fault of each page
		 * (MADV_POPULATE_READ) says so with EFAULT, and brings in
		 * pages the application was told to populate anyway. A kernel
		 * without it (EINVAL) cannot tell: the mapping is taken. */
		if (inode && madvise((void *)at, to - at,
				     MADV_POPULATE_READ) != 0 &&
		    errno == EFAULT)
			break;
		at = hi;
	}
	fclose(f);
	return at >= end ? UHOMA_OK : UHOMA_ERR_BAD_ADDRESS;
}
