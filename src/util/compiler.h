/*
 * compiler.h - small compiler helpers shared by every uhoma source file.
 */
#ifndef UHOMA_UTIL_COMPILER_H
#define UHOMA_UTIL_COMPILER_H

#include <stddef.h>

#define uh_likely(x)   __builtin_expect(!!(x), 1)
#define uh_unlikely(x) __builtin_expect(!!(x), 0)

/* Size of a cache line on every machine uhoma targets (x86-64, arm64). */
#define UH_CACHELINE 64
#define uh_cacheline_aligned __attribute__((aligned(UH_CACHELINE)))

#define uh_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
/* The same from a pointer to const. */
#define uh_container_of_const(ptr, type, member) \
	((const type *)(const void *)((const char *)(ptr) - \
				      offsetof(type, member)))

#define UH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Not instrumented by ThreadSanitizer: code a sanitizer's own start-up may
 * call before its runtime is ready (the preload's mmap, for one). */
#define uh_no_tsan __attribute__((no_sanitize_thread))

/* CPU hint inside spin loops. */
static inline void uh_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* Source location carried by lock calls into the validator. */
struct uh_srcloc {
	const char *file;
	int line;
};
#define UH_HERE ((struct uh_srcloc){ __FILE__, __LINE__ })

#endif /* UHOMA_UTIL_COMPILER_H */
