/*
 * gaps.c - a message's received-data record (see gaps.h).
 */
#include "core/gaps.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sync/lockdep.h"

/* The calling thread's spare block (owned by the thread; freed at exit). */
static __thread struct uh_gap *spare;
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;

static void spare_exit(void *p)
{
	free(p);
	spare = NULL;
}

static void spare_key_init(void)
{
	if (pthread_key_create(&spare_key, spare_exit) != 0)
		abort();
}

void uh_gaps_prepare(void)
{
	if (spare)
		return;
	uh_lockdep_might_block("gap block allocation", UH_HERE);
	pthread_once(&spare_once, spare_key_init);
	spare = malloc(UH_GAPS_BLOCK * sizeof(*spare));
	pthread_setspecific(spare_key, spare);
}

void uh_gaps_reset(struct uh_msgin *in)
{
	if (!in->gaps) {
		in->gaps = in->gaps_inline;
		in->gaps_cap = UH_MAX_GAPS;
	}
	in->num_gaps = 0;
}

/* @in is full: moves its gaps into the thread's spare block, if any. */
static int grow(struct uh_msgin *in)
{
	if (in->gaps != in->gaps_inline || !spare)
		return -1;
	memcpy(spare, in->gaps, in->num_gaps * sizeof(*spare));
	in->gaps = spare;
	in->gaps_cap = UH_GAPS_BLOCK;
	spare = NULL;
	pthread_setspecific(spare_key, NULL);
	return 0;
}

uint32_t uh_gaps_accept(struct uh_msgin *in, uint32_t off, uint32_t len,
			uint32_t *start)
{
	uint32_t end = off + len;

	if (off >= in->recv_end) {
		if (off > in->recv_end) {
			if (in->num_gaps == in->gaps_cap && grow(in))
				return UINT32_MAX;
			in->gaps[in->num_gaps++] =
				(struct uh_gap){ in->recv_end, off };
		}
		in->recv_end = end;
		*start = off;
		return len;
	}
	for (unsigned i = 0; i < in->num_gaps; i++) {
		struct uh_gap *g = &in->gaps[i];
		uint32_t s, e;

		if (g->end <= off || g->start >= end)
			continue;
		s = off > g->start ? off : g->start;
		e = end < g->end ? end : g->end;
		if (s == g->start && e == g->end) {
			memmove(g, g + 1, (in->num_gaps - i - 1) * sizeof(*g));
			in->num_gaps--;
		} else if (s == g->start) {
			g->start = e;
		} else if (e == g->end) {
			g->end = s;
		} else {
			if (in->num_gaps == in->gaps_cap) {
				if (grow(in))
					return UINT32_MAX;
				g = &in->gaps[i];   /* moved */
			}
			memmove(g + 2, g + 1,
				(in->num_gaps - i - 1) * sizeof(*g));
			g[1] = (struct uh_gap){ e, g->end };
			g->end = s;
			in->num_gaps++;
		}
		*start = s;
		return e - s;
	}
	if (end > in->recv_end) {
		*start = in->recv_end;
		len = end - in->recv_end;
		in->recv_end = end;
		return len;
	}
	return 0;
}

bool uh_gaps_any_new(const struct uh_msgin *in, uint32_t off, uint32_t len)
{
	uint32_t end = off + len;

	if (end > in->recv_end)
		return true;
	for (unsigned i = 0; i < in->num_gaps; i++)
		if (in->gaps[i].start < end && in->gaps[i].end > off)
			return true;
	return false;
}

void uh_gaps_release(struct uh_msgin *in)
{
	if (in->gaps && in->gaps != in->gaps_inline)
		free(in->gaps);
	in->gaps = NULL;
}
