/*
 * workload.c - message generation and completion (workload.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/wire.h"
#include "opts.h"
#include "reference.h"
#include "workload.h"

/* ---- client RPC id -> message index (oneway mode) ------------------------ */

/*
 * Open addressing, linear probing, deletion by backward shift. A receiver
 * knows a request only by its client's address and RPC id (the server's
 * id is the client's with bit 0 set; each host numbers its own RPCs): the
 * map finds the message they belong to. Key 0 is empty (client ids are
 * never 0).
 */
/* The map's key for client host @src's RPC @id. */
static uint64_t id_key(uint32_t src, uint64_t id)
{
	return (uint64_t)src << 40 | (id >> 1);
}

struct sim_id_map {
	uint64_t *key;
	uint64_t *val;
	size_t cap, n;       /* cap a power of two */
};

static int map_put(struct sim_id_map *m, uint64_t key, uint64_t val);

static int map_grow(struct sim_id_map *m)
{
	struct sim_id_map old = *m;
	size_t cap = old.cap ? 2 * old.cap : 1024;
	uint64_t *key = calloc(cap, sizeof(*key));
	uint64_t *val = calloc(cap, sizeof(*val));

	/* Failed, the map stays as it was: nothing is lost. */
	if (!key || !val) {
		free(key);
		free(val);
		return -1;
	}
	m->key = key;
	m->val = val;
	m->cap = cap;
	m->n = 0;
	/* Room for all of them at half full: no put here grows the map. */
	for (size_t i = 0; i < old.cap; i++)
		if (old.key[i])
			(void)map_put(m, old.key[i], old.val[i]);
	free(old.key);
	free(old.val);
	return 0;
}

static size_t slot_of(const struct sim_id_map *m, uint64_t key)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & (m->cap - 1);
}

static int map_put(struct sim_id_map *m, uint64_t key, uint64_t val)
{
	size_t i;

	if (2 * (m->n + 1) > m->cap && map_grow(m))
		return -1;
	for (i = slot_of(m, key); m->key[i]; i = (i + 1) & (m->cap - 1))
		;
	m->key[i] = key;
	m->val[i] = val;
	m->n++;
	return 0;
}

/* Removes @key; its value into *@val. False if absent. */
static bool map_take(struct sim_id_map *m, uint64_t key, uint64_t *val)
{
	size_t i, j;

	if (!m->cap)
		return false;
	for (i = slot_of(m, key); m->key[i] != key; i = (i + 1) & (m->cap - 1))
		if (!m->key[i])
			return false;
	*val = m->val[i];
	/* Shift back every later entry of the run whose home is not
	 * between the hole and it, so that probes never meet a gap. */
	for (j = (i + 1) & (m->cap - 1); m->key[j];
	     j = (j + 1) & (m->cap - 1)) {
		size_t home = slot_of(m, m->key[j]);

		if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
			m->key[i] = m->key[j];
			m->val[i] = m->val[j];
			i = j;
		}
	}
	m->key[i] = 0;
	m->n--;
	return true;
}

/* ---- generation ---------------------------------------------------------- */

static uint64_t mix(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* The mean wire bytes of a message drawn from @d (lengths 0 drawn as 1,
 * as generate() sends them). */
static double mean_wire(const struct uh_dist *d)
{
	double mean = 0, prev = 0;

	for (size_t i = 0; i < d->n; i++) {
		uint32_t len = d->points[i].length ? d->points[i].length : 1;

		mean += (double)sim_msg_wire_bytes(len) *
			(d->points[i].fraction - prev);
		prev = d->points[i].fraction;
	}
	return mean;
}

/* "incast:N,SIZE" into *@n, *@size: 1 if @workload is one (its numbers
 * well formed, not yet checked against anything), 0 if it is not incast
 * at all, -1 if it is malformed. */
static int parse_incast(const char *workload, uint64_t *n, uint64_t *size)
{
	const char *p;

	if (strncmp(workload, "incast:", 7))
		return 0;
	/* Digits against a limit: sscanf's %u would wrap 4294967297 to 1. */
	p = sim_decimal(workload + 7, UINT32_MAX, n);
	if (p && *p == ',')
		p = sim_decimal(p + 1, UINT32_MAX, size);
	else
		p = NULL;
	return p && !*p ? 1 : -1;
}

int sim_workload_check(const char *workload, uint32_t nhosts,
		       uint64_t max_msgs, double *mean_wire_bytes, char *err,
		       size_t len)
{
	uint64_t n = 0, size = 0;
	struct uh_dist d;
	int inc = parse_incast(workload, &n, &size);

	if (inc) {
		if (inc < 0 || n < 1 || n >= nhosts || size < 1 ||
		    size > UHOMA_MAX_MESSAGE) {
			snprintf(err, len, "--workload '%s': incast:N,SIZE "
				 "wants 1 <= N < %u (the hosts) and 1 <= SIZE "
				 "<= %u", workload, nhosts, UHOMA_MAX_MESSAGE);
			return -1;
		}
		if (max_msgs < n) {
			snprintf(err, len, "--messages %llu: fewer than one "
				 "round of --workload %s (%llu messages)",
				 (unsigned long long)max_msgs, workload,
				 (unsigned long long)n);
			return -1;
		}
		*mean_wire_bytes = (double)sim_msg_wire_bytes((uint32_t)size);
		return 0;
	}
	if (*workload >= '0' && *workload <= '9') {
		const char *p = sim_decimal(workload, UHOMA_MAX_MESSAGE, &size);

		if (!p || *p || size < 1) {
			snprintf(err, len, "--workload '%s': a length wants 1 "
				 "to %u bytes, in decimal", workload,
				 UHOMA_MAX_MESSAGE);
			return -1;
		}
	} else if (*workload < 'a' || *workload > 'z') {
		/* uh_dist_create reads "+5" and " 5" as 5: names only. */
		goto unknown;
	}
	if (uh_dist_create(workload, UHOMA_MAX_MESSAGE, &d))
		goto unknown;
	*mean_wire_bytes = mean_wire(&d);
	uh_dist_destroy(&d);
	return 0;
unknown:
	snprintf(err, len, "--workload '%s': want w1..w5, starve (100 KB to "
		 "1 MB), a length in bytes or incast:N,SIZE", workload);
	return -1;
}

int sim_workload_init(struct sim_workload *w, const char *workload,
		      enum sim_mode mode, double load, uint64_t seed,
		      uint64_t max_msgs, uint32_t nhosts)
{
	uint64_t n = 0, size = 0;
	double mean;
	char err[256];

	memset(w, 0, sizeof(*w));
	w->mode = mode;
	w->load = load;
	w->seed = seed;
	w->max_msgs = max_msgs;
	if (sim_workload_check(workload, nhosts, max_msgs, &mean, err,
			       sizeof(err))) {
		fprintf(stderr, "uhoma-sim: %s\n", err);
		return -1;
	}
	if (parse_incast(workload, &n, &size) > 0) {
		w->incast_n = (uint32_t)n;
		w->incast_size = (uint32_t)size;
		w->incast_rng = mix(seed ^ 0x494e43415354ull);
	} else if (uh_dist_create(workload, UHOMA_MAX_MESSAGE, &w->dist)) {
		fprintf(stderr, "uhoma-sim: out of memory\n");
		return -1;
	}
	w->msgs = calloc(max_msgs, sizeof(*w->msgs));
	w->rng = calloc(nhosts, sizeof(*w->rng));
	w->mean_gap_ps = calloc(nhosts, sizeof(*w->mean_gap_ps));
	w->ids = calloc(1, sizeof(*w->ids));
	if (!w->msgs || !w->rng || !w->mean_gap_ps || !w->ids) {
		fprintf(stderr, "uhoma-sim: out of memory\n");
		return -1;
	}
	for (uint32_t i = 0; i < nhosts; i++)
		w->rng[i] = mix(seed * 0x100000001b3ull + i + 1);
	return 0;
}

void sim_workload_free(struct sim_workload *w)
{
	if (w->ids) {
		free(w->ids->key);
		free(w->ids->val);
	}
	free(w->ids);
	free(w->msgs);
	free(w->rng);
	free(w->mean_gap_ps);
	if (!w->incast_n)
		uh_dist_destroy(&w->dist);
	memset(w, 0, sizeof(*w));
}

static void incast_rounds(struct sim_workload *w);

/* Message @m has ended now, complete (@error 0) or failed: it counts, and
 * in incast mode the round's last to end starts the next round. The last
 * to end of all ends the run now (sim_run): not at the end of the slice
 * it fell in, whose idle time would count as the run's. */
static void finish(struct sim_workload *w, struct sim_msg *m, int error)
{
	m->done = true;
	m->done_ps = w->eng->now;
	m->error = (int16_t)error;
	w->ndone++;
	if (error)
		w->nerrors++;
	if (w->incast_n) {
		if (--w->incast_left == 0)
			incast_rounds(w);
		/* No round started (a round starting moves the end to its
		 * own drain: start_msg). */
		if (w->incast_left == 0)
			sim_engine_stop_at(w->eng, w->eng->now);
	} else if (w->nmsgs >= w->max_msgs && w->ndone >= w->nmsgs) {
		sim_engine_stop_at(w->eng, w->eng->now);
	}
}

/* Starts message @len from host @src to @dst now. */
static void start_msg(struct sim_workload *w, uint32_t src, uint32_t dst,
		      uint32_t len)
{
	uint64_t idx = w->nmsgs++, id = 0;
	struct sim_msg *m = &w->msgs[idx];
	int rc;

	m->start_ps = w->eng->now;
	m->len = len;
	m->src = src;
	m->dst = dst;
	w->last_start_ps = m->start_ps;
	/* The drain's deadline, exact (sim_run): from the last message's
	 * start, or from each incast round's, since a round may never
	 * end. */
	if (w->incast_n || w->nmsgs == w->max_msgs)
		sim_engine_stop_at(w->eng, m->start_ps + w->drain_ps);
	rc = sim_host_send(&w->hosts->h[src], dst, len, idx, &id);
	if (rc == 0 && w->mode == SIM_ONEWAY &&
	    map_put(w->ids, id_key(src, id), idx)) {
		/* The simulator's own memory, not the core's: the run
		 * cannot go on with a message it has lost track of. */
		sim_engine_fail(w->eng, SIM_ENG_NOMEM);
		rc = UHOMA_ERR_NOMEM;
	}
	/* A refused send (a spent sndbuf, say) ends the message now, failed;
	 * in incast mode it counts toward its round like any other, or the
	 * round would never end. */
	if (rc)
		finish(w, m, rc);
}

static void generate(void *a, void *b)
{
	struct sim_workload *w = a;
	struct sim_host *h = b;
	uint64_t *rng = &w->rng[h->index];
	uint32_t n = w->hosts->n;
	uint32_t dst, len;
	double gap;

	if (w->nmsgs >= w->max_msgs)
		return;
	len = uh_dist_sample(&w->dist, rng);
	if (len == 0)
		len = 1;
	dst = (uint32_t)(uh_dist_uniform(rng) * (n - 1));
	if (dst >= h->index)
		dst++;          /* any host but this one */
	start_msg(w, h->index, dst, len);
	gap = -log(1.0 - uh_dist_uniform(rng)) * w->mean_gap_ps[h->index];
	/* A host whose next message cannot be scheduled would stop
	 * offering load: the failure fails the engine, which fires nothing
	 * more, and the run ends saying why (sim_run). */
	(void)sim_at(w->eng, (uint64_t)gap + 1, generate, w, h);
}

/* Starts a round of incast: incast_n distinct senders to one receiver.
 * False if no whole round is left (or no memory for the draw). */
static bool incast_round(struct sim_workload *w)
{
	uint32_t n = w->hosts->n, dst;
	uint32_t *pick;

	if (w->nmsgs + w->incast_n > w->max_msgs)
		return false;
	pick = malloc(n * sizeof(*pick));
	if (!pick) {
		/* Not "no round left": the run ends, saying why. */
		sim_engine_fail(w->eng, SIM_ENG_NOMEM);
		return false;
	}
	for (uint32_t i = 0; i < n; i++)
		pick[i] = i;
	dst = (uint32_t)(uh_dist_uniform(&w->incast_rng) * n);
	pick[dst] = n - 1;     /* the receiver out of the draw */
	w->incast_left = w->incast_n;
	for (uint32_t i = 0; i < w->incast_n; i++) {
		uint32_t k = i + (uint32_t)(uh_dist_uniform(&w->incast_rng) *
					    (n - 1 - i));
		uint32_t src = pick[k];

		pick[k] = pick[i];
		start_msg(w, src, dst, w->incast_size);
	}
	free(pick);
	return true;
}

/*
 * Starts the next round, and another while one ends as it starts (all its
 * sends refused). A round ending inside a round's start -- a refused send
 * or a callback during one -- finds in_rounds set and leaves the next
 * round to the loop here, not to a recursion in the middle of a draw.
 * When no round is in flight afterwards, none will start: sim_run stops.
 */
static void incast_rounds(struct sim_workload *w)
{
	if (w->in_rounds)
		return;
	w->in_rounds = true;
	while (w->incast_left == 0 && incast_round(w))
		;
	w->in_rounds = false;
}

int sim_workload_start(struct sim_workload *w, struct sim_hosts *hs,
		       uint64_t drain_ps)
{
	w->hosts = hs;
	w->eng = hs->net->eng;
	w->drain_ps = drain_ps;
	if (w->incast_n) {
		incast_rounds(w);
		return w->eng->failed ? -1 : 0;
	}
	for (uint32_t i = 0; i < hs->n; i++) {
		/* Mb/s are bits per us: 8 x 10^6 of them per byte per ps. */
		double bytes_per_ps = w->load * hs->net->nic[i].mbps /
				      8000000.0;

		/* Mean gap: one mean message on the wire at load x the
		 * link's rate. */
		w->mean_gap_ps[i] = mean_wire(&w->dist) / bytes_per_ps;
		if (sim_at(w->eng, (uint64_t)(-log(1.0 -
				uh_dist_uniform(&w->rng[i])) *
				w->mean_gap_ps[i]) + 1, generate, w, &hs->h[i]))
			return -1;
	}
	return 0;
}

/* ---- completion ---------------------------------------------------------- */

static void complete(struct sim_workload *w, uint64_t idx, int error)
{
	struct sim_msg *m = &w->msgs[idx];

	if (!m->done)
		finish(w, m, error);
}

void sim_workload_on_msg(void *app, struct sim_host *h,
			 const struct uhoma_msg *m, int rc)
{
	struct sim_workload *w = app;
	uint64_t idx;

	if (m->id & 1) {
		uint32_t src = sim_msg_peer(m);

		if (w->mode == SIM_RPC) {
			if (rc >= 0)
				sim_host_reply(h, m, m->length);
		} else if (map_take(w->ids, id_key(src, m->id), &idx)) {
			/* A one-way message, complete here: both ends of
			 * its RPC end now, with no response and no packet
			 * (as the Homa paper's simulations send messages,
			 * not RPCs). The sender's end first: completing
			 * may start the next incast round at this instant,
			 * and its sends must find the budget this message
			 * held given back (helper-41: with sndbuf, 19 of
			 * 30 rounds failed AGAIN). */
			sim_host_forget(h, m);
			sim_host_abort(&w->hosts->h[src], m->id & ~1ull);
			complete(w, idx, rc < 0 ? rc : 0);
		}
	} else if (w->mode == SIM_RPC || rc < 0) {
		/* A response, or a client RPC that failed. */
		if (w->mode == SIM_ONEWAY)
			map_take(w->ids, id_key(h->index, m->id), &idx);
		complete(w, m->cookie, rc < 0 ? rc : 0);
	}
	sim_host_release(h, m);
}
