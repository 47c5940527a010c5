/*
 * reference.c - two ideals for the same messages (reference.h): each receiver
 * a perfect SRPT server, and greedy SRPT matching of senders and receivers.
 */
#include <stdlib.h>
#include <string.h>

#include "core/wire.h"
#include "net.h"
#include "reference.h"
#include "workload.h"

uint64_t sim_msg_wire_bytes(uint32_t len)
{
	uint32_t per = SIM_MAX_HOMA - UH_HDR_DATA;
	uint64_t pkts = len ? (len + per - 1) / per : 1;

	return len + pkts * (UH_HDR_DATA + SIM_WIRE_OVERHEAD);
}

/* A message waiting at its receiver: the ps of work it has left. */
struct job {
	uint64_t left;
	uint64_t idx;        /* in w->msgs; ties go to the older */
};

static bool before(const struct job *a, const struct job *b)
{
	return a->left < b->left || (a->left == b->left && a->idx < b->idx);
}

static void heap_push(struct job *h, size_t *n, struct job j)
{
	size_t i = (*n)++;

	while (i && before(&j, &h[(i - 1) / 2])) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = j;
}

static void heap_pop(struct job *h, size_t *n)
{
	struct job last = h[--*n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= *n)
			break;
		if (c + 1 < *n && before(&h[c + 1], &h[c]))
			c++;
		if (!before(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = last;
}

/* Runs receiver @ids's messages (@n of them, in start order) through one
 * preemptive SRPT server; @heap holds @n jobs. */
static void serve(const struct sim_workload *w, const uint64_t *ids,
		  size_t n, uint32_t mbps, struct job *heap, uint64_t *done)
{
	uint64_t t = 0;
	size_t k = 0, nh = 0;

	while (k < n || nh) {
		uint64_t next;

		if (!nh && w->msgs[ids[k]].start_ps > t)
			t = w->msgs[ids[k]].start_ps;
		while (k < n && w->msgs[ids[k]].start_ps <= t) {
			uint64_t i = ids[k++];

			heap_push(heap, &nh, (struct job){
				sim_ser_ps(sim_msg_wire_bytes(w->msgs[i].len),
					   mbps), i });
		}
		next = k < n ? w->msgs[ids[k]].start_ps : UINT64_MAX;
		if (heap[0].left <= next - t) {
			t += heap[0].left;
			done[heap[0].idx] = t;
			heap_pop(heap, &nh);
		} else {
			/* An arrival first: the root keeps the least work
			 * left, so it stays the root. */
			heap[0].left -= next - t;
			t = next;
		}
	}
}

int sim_srpt_reference(const struct sim_workload *w, uint32_t nhosts,
		       uint32_t mbps, uint64_t *done)
{
	uint64_t *first = calloc((size_t)nhosts + 1, sizeof(*first));
	uint64_t *ids = malloc((w->nmsgs ? w->nmsgs : 1) * sizeof(*ids));
	struct job *heap = malloc((w->nmsgs ? w->nmsgs : 1) * sizeof(*heap));
	int rc = -1;

	if (!first || !ids || !heap)
		goto out;
	/* The messages by receiver, each receiver's in start order (the
	 * order they were generated in): a counting sort. */
	for (uint64_t i = 0; i < w->nmsgs; i++)
		first[w->msgs[i].dst + 1]++;
	for (uint32_t h = 0; h < nhosts; h++)
		first[h + 1] += first[h];
	for (uint64_t i = 0; i < w->nmsgs; i++)
		ids[first[w->msgs[i].dst]++] = i;
	for (uint32_t h = nhosts; h > 0; h--)
		first[h] = first[h - 1];
	first[0] = 0;
	for (uint32_t h = 0; h < nhosts; h++)
		serve(w, ids + first[h], first[h + 1] - first[h], mbps, heap,
		      done);
	rc = 0;
out:
	free(first);
	free(ids);
	free(heap);
	return rc;
}

/* A message in the matching reference: work left, and its two links. */
struct flow {
	uint64_t left;       /* ps of wire time */
	uint64_t idx;
	uint32_t src, dst;
};

static bool flow_before(const struct flow *a, const struct flow *b)
{
	return a->left < b->left || (a->left == b->left && a->idx < b->idx);
}

/* Puts @f into @a (@n entries, in SRPT order) at its place. */
static void flow_insert(struct flow *a, size_t *n, struct flow f)
{
	size_t lo = 0, hi = *n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (flow_before(&a[mid], &f))
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&a[lo + 1], &a[lo], (*n - lo) * sizeof(*a));
	a[lo] = f;
	(*n)++;
}

int sim_matching_reference(const struct sim_workload *w, uint32_t nhosts,
			   uint32_t mbps, uint64_t until, uint64_t *done)
{
	struct flow *a = malloc((w->nmsgs ? w->nmsgs : 1) * sizeof(*a));
	uint64_t *sbusy = calloc(nhosts ? nhosts : 1, sizeof(*sbusy));
	uint64_t *rbusy = calloc(nhosts ? nhosts : 1, sizeof(*rbusy));
	size_t *served = malloc((nhosts ? nhosts : 1) * sizeof(*served));
	uint64_t t = 0, k = 0, epoch = 0;
	size_t n = 0;
	int rc = -1;

	if (!a || !sbusy || !rbusy || !served)
		goto out;
	for (uint64_t i = 0; i < w->nmsgs; i++)
		done[i] = UINT64_MAX;
	while (k < w->nmsgs || n) {
		uint64_t next, step = UINT64_MAX;
		size_t ns = 0, kept = 0;

		if (!n && w->msgs[k].start_ps > t)
			t = w->msgs[k].start_ps;
		if (t > until)
			break;          /* (t only grows: safe below) */
		while (k < w->nmsgs && w->msgs[k].start_ps <= t) {
			const struct sim_msg *m = &w->msgs[k];

			flow_insert(a, &n, (struct flow){
				sim_ser_ps(sim_msg_wire_bytes(m->len), mbps),
				k, m->src, m->dst });
			k++;
		}
		next = k < w->nmsgs ? w->msgs[k].start_ps : UINT64_MAX;
		/* Greedy SRPT matching: the shortest message whose sender
		 * and receiver are both free takes both, and so on down. */
		epoch++;
		for (size_t j = 0; j < n && ns < nhosts; j++) {
			struct flow *f = &a[j];

			if (sbusy[f->src] == epoch || rbusy[f->dst] == epoch)
				continue;
			sbusy[f->src] = rbusy[f->dst] = epoch;
			served[ns++] = j;
			if (f->left < step)
				step = f->left;
		}
		if (next - t < step)
			step = next - t;
		if (step > until - t)
			break;          /* nothing more ends by @until */
		t += step;
		for (size_t s = 0; s < ns; s++) {
			struct flow *f = &a[served[s]];

			f->left -= step;
			if (!f->left)
				done[f->idx] = t;
		}
		/* Out with the finished; the served moved ahead of some
		 * that waited: one pass of insertion sort restores the
		 * order (it was sorted, and only the served changed). */
		for (size_t j = 0; j < n; j++) {
			struct flow f = a[j];
			size_t i = kept++;

			if (!f.left) {
				kept--;
				continue;
			}
			while (i && flow_before(&f, &a[i - 1])) {
				a[i] = a[i - 1];
				i--;
			}
			a[i] = f;
		}
		n = kept;
	}
	rc = 0;
out:
	free(a);
	free(sbusy);
	free(rbusy);
	free(served);
	return rc;
}
