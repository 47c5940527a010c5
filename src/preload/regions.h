/*
 * regions.h - the receive regions of live Homa sockets stay mapped until
 * their socket closes (preload.c).
 *
 * The module copies a message into the region in recvmsg, in the caller's
 * context: a program that unmapped its region gets EFAULT there. uhoma's
 * threads write arriving messages into the region as they come, so a
 * region unmapped while its socket lives -- a program that tears down in
 * the order munmap, then close -- killed the process with SIGSEGV at the
 * next packet. So the preload's munmap unmaps at once only what lies
 * outside every live region; the part inside one is unmapped when that
 * socket is closed, after the library has stopped writing there. A
 * mapping the program puts over such a part (mmap with MAP_FIXED or
 * MAP_FIXED_NOREPLACE, mremap with MREMAP_FIXED, shmat with SHM_REMAP)
 * makes it the program's again: nothing is unmapped for it later. An
 * mremap that would move a live region, or shrink it, fails with EINVAL.
 * The address range stays taken until the close: a hint there is not
 * honoured, and a neighbouring mapping cannot grow into it.
 *
 * Thread safety: one mutex (a leaf, the preload's own, never held across
 * a call into uhoma) over the list, held with the program's handlers
 * deferred (preload.c: a handler closing a socket takes it too); a count
 * read lock-free lets munmap pass straight through while no region is
 * registered.
 */
#ifndef UHOMA_PRELOAD_REGIONS_H
#define UHOMA_PRELOAD_REGIONS_H

#include <stdbool.h>
#include <stddef.h>

struct hsock;

/* Whether any region is registered: a lock-free look, safe to make before
 * a sanitizer's runtime is up (its start-up calls mmap). Each call below
 * but regions_add is for when it said yes. */
bool regions_live(void);

/* @h's region is [@start, @start + @len) from now on. False if it could
 * not be recorded (no memory): the region is then not protected. */
bool regions_add(struct hsock *h, void *start, size_t len);

/* @h's socket is closed (the library writes no more into its region):
 * unmaps what the program unmapped of it meanwhile. */
void regions_closed(struct hsock *h);

/* The program's munmap(@addr, @len): 0 or -1 (errno), as munmap. */
int regions_munmap(void *addr, size_t len);

/*
 * A mapping the program makes at a fixed address (mmap MAP_FIXED, mremap
 * MREMAP_FIXED, shmat SHM_REMAP) is made between regions_lock and
 * regions_unlock, and regions_mapped_fixed_locked then hands back what
 * of [@addr, @addr + @len) was waiting to be unmapped: a socket closing
 * meanwhile would otherwise unmap the new mapping (helper-44).
 */
void regions_lock(void);
void regions_unlock(void);
void regions_mapped_fixed_locked(void *addr, size_t len);

/* Under regions_lock: whether all of [@addr, @addr + @len) is waiting to
 * be unmapped (the program's to map again with MAP_FIXED_NOREPLACE). */
bool regions_pending_locked(const void *addr, size_t len);

/* Under regions_lock: whether [@addr, @addr + @len) overlaps a live
 * region. */
bool regions_overlap_locked(const void *addr, size_t len);

/* In a fork child (one thread): the inherited sockets write nowhere, so
 * their regions are the program's to unmap at once. */
void regions_forget_all(void);

#endif /* UHOMA_PRELOAD_REGIONS_H */
