/*
 * usermem.h - the caller's memory read and written as the kernel module's
 * copy_from_user / copy_to_user would: an address the process cannot read
 * (or write) fails with UHOMA_ERR_BAD_ADDRESS (EFAULT) instead of
 * faulting the program. The preload library goes through here for every
 * byte a Linux program hands to sendmsg/recvmsg, its msghdr and the
 * Homa arguments included.
 *
 * How: a range in the calling thread's stack, between its frame and the
 * stack's top, is mapped and writable and needs no check. Any other range
 * is checked page-wise without a copy (MADV_POPULATE_READ / _WRITE fault
 * the pages in as an access would) and then copied with memcpy. Where
 * that check fails or cannot judge (unmapped memory; PROT_NONE; mappings
 * the kernel's page walker refuses though the CPU can read them, such as
 * write-only or secret memory; a kernel before 5.14; a seccomp filter),
 * the bytes travel through a pipe, whose write and read are the kernel's
 * own copy_from_user and copy_to_user: the verdict is then exactly the
 * module's. No lock may be held: these calls may fault pages in.
 *
 * Memory another thread unmaps between the check and the copy can still
 * fault, as in any program that frees a buffer while a call uses it.
 *
 * The guard: the preload owns the SIGSEGV and SIGBUS dispositions
 * (preload/sigwatch.c: the program's handlers run behind its own), and
 * once its handler is in place the check above is skipped: a copy is a
 * memcpy under sigsetjmp, and a fault inside the caller's range jumps
 * back and fails the call with EFAULT -- no system call, where the page
 * check cost one per message and a page-table walk per page (15 % of W4's
 * rate through the preload, bench/README.md). A fault anywhere else goes
 * on to the program's handler or the default action. A write check
 * touches each page with an atomic OR of zero, which loses no write of
 * another thread's.
 */
#ifndef UHOMA_API_USERMEM_H
#define UHOMA_API_USERMEM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Copies go under the guard from now on (@on), or back to the check: the
 * preload's fault handler is, or is no longer, the kernel's disposition
 * for SIGSEGV and SIGBUS. */
void uh_user_guard_enable(bool on);
bool uh_user_guarded(void);

/* After uh_user_guard_enable(false): waits for the copies already under
 * the guard (none may fault once the guard leaves the kernel). */
void uh_user_guard_quiesce(void);

/* From the fault handler, first: if @sig at @info's address is a fault of
 * a guarded copy in this thread, restores the mask of @uc (the ucontext)
 * and jumps back to the copy, which fails with EFAULT (no return).
 * Otherwise false: the fault is someone else's. Async-signal-safe. */
bool uh_user_fault(int sig, const siginfo_t *info, const void *uc);

/* Starts a call of the application's, or a sleep within one: pages
 * checked before are checked again after (another thread may have
 * changed their mapping meanwhile). */
void uh_user_begin(void);

/* The calling thread enters / leaves a program's signal handler (the
 * preload's wrapper says so). Inside one, the thread's stack is not looked
 * up if it is not known yet: pthread_getattr_np takes the thread's lock,
 * which the interrupted code may hold (a thread signalled as it started,
 * under ASan: the handler's sendmsg hung, homa_api handler_reenters). The
 * copy is then checked the slower way. */
void uh_user_handler_enter(void);
void uh_user_handler_leave(void);

/* Gathers @n parts at @iov into @dst, at most @len bytes in all (a part
 * past them is cut: the caller's lengths were summed before). */
int uh_user_gather(uint8_t *dst, size_t len, const struct iovec *iov,
		   size_t n);

/* Copies @len bytes from the caller's @src to @dst. */
int uh_user_read(void *dst, const void *src, size_t len);

/* Copies @len bytes from @src to the caller's @dst. */
int uh_user_write(void *dst, const void *src, size_t len);

/* Copies in @len bytes of the caller's @src that the call will write back
 * (Homa's arguments, a msghdr): checked writable first, so that a failure
 * comes before the call does anything. */
int uh_user_read_rw(void *dst, void *src, size_t len);

/* Whether [@p, @p + @len) is mapped writable from end to end, without
 * touching its pages (a buffer region: populating it would take memory
 * the application meant to leave to demand). From /proc/self/maps; where
 * that cannot be read, the first byte is checked as the module does. */
int uh_user_mapped_writable(const void *p, size_t len);

#endif /* UHOMA_API_USERMEM_H */
