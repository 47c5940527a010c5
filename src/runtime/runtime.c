/*
 * runtime.c - receive and timer threads, and polling from any thread.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include "core/stack.h"
#include "mem/cache.h"
#include "net/memnet.h"
#include "net/waitset.h"
#include "runtime/cpuidle.h"
#include "runtime/fork.h"
#include "runtime/runtime.h"
#include "runtime/signals.h"
#include "runtime/stat.h"
#include "sync/lockdep.h"
#include "util/clock.h"

#define RX_BATCH 16
#define RX_MAX_THREADS 64

struct uh_runtime {
	struct uhoma_stack *st;                 /* immutable */
	unsigned n_rx;                       /* immutable */
	pthread_t rx[RX_MAX_THREADS];        /* immutable after start */
	pthread_t timer, pacer;
	bool have_timer, have_pacer;         /* immutable after start */
	bool virtual_clock;                  /* immutable */
	_Atomic bool stop;
	_Atomic int pollers;                 /* application threads polling */
	_Atomic int parked;                  /* rx threads parked for them */
	_Atomic uint64_t poll_grace_ns;      /* rx threads stand aside until
					      * (atomic; set by pollers) */
	struct uh_wait rx_wait;              /* receive threads park here */
	_Atomic uint64_t next_tick_ns;       /* manual mode: CAS by pollers */
	_Atomic bool ticking;                /* manual mode: a poller runs the
					      * tick (exchange): one at a time */
	_Atomic bool blocker;                /* an application thread waits in
					      * the carrier (seq_cst) */
	_Atomic bool read_seen;              /* a carrier read completed since
					      * the timer last looked (set by
					      * any reader only when clear, so
					      * busy pollers leave the line
					      * shared; the timer clears it) */
	unsigned held;                       /* timer thread only: ticks held
					      * back in a row (held_back) */
};

/* This thread is the blocking receiver (it need not kick itself). */
static __thread bool tl_blocker;

/* Per-thread receive buffers, sized for the largest carrier seen. */
struct rxbuf {
	uint8_t *mem;
	size_t each;
	struct uh_rx rx[RX_BATCH];
};
static __thread struct rxbuf *tl_rx;
static pthread_key_t rx_key;
static pthread_once_t rx_once = PTHREAD_ONCE_INIT;

static void rxbuf_free(void *p)
{
	struct rxbuf *rb = p;

	free(rb->mem);
	free(rb);
}

static void rx_key_init(void)
{
	pthread_key_create(&rx_key, rxbuf_free);
}

static struct rxbuf *get_rxbuf(size_t each)
{
	struct rxbuf *rb = tl_rx;

	if (rb && rb->each >= each)
		return rb;
	pthread_once(&rx_once, rx_key_init);
	if (!rb) {
		rb = calloc(1, sizeof(*rb));
		if (!rb)
			return NULL;
		tl_rx = rb;
		pthread_setspecific(rx_key, rb);
	}
	free(rb->mem);
	rb->mem = malloc(each * RX_BATCH);
	rb->each = rb->mem ? each : 0;
	return rb->mem ? rb : NULL;
}

static void input_one(struct uhoma_stack *st, const struct uh_rx *r)
{
	size_t seg = r->seg_size ? r->seg_size : r->len;

	static const int err_of[] = {
		[UH_UNREACH_PORT] = UHOMA_ERR_NOT_CONNECTED,
		[UH_UNREACH_PROTO] = UHOMA_ERR_PROTO_NOT_SUPPORTED,
		[UH_UNREACH_HOST] = UHOMA_ERR_HOST_UNREACHABLE,
	};
	struct uh_carrier *c = st->carrier;

	if (r->landed)
		return;
	if (r->unreachable != UH_REACHED) {
		uh_stack_unreachable(st, &r->src,
				     r->unreachable == UH_UNREACH_PORT
				     ? r->unreach_port : 0,
				     err_of[r->unreachable]);
		return;
	}
	/* A GRO buffer holds several packets back to back; an empty
	 * datagram is one packet too, dropped and counted (short). */
	for (size_t off = 0; off < r->len || (off == 0 && r->len == 0);
	     off += seg ? seg : 1) {
		size_t len = r->len - off < seg ? r->len - off : seg;

		if (uh_stack_input(st, r->buf + off, len, &r->src) &&
		    c->ops->refuse)
			c->ops->refuse(c, r, r->buf + off, len);
	}
}

unsigned uh_runtime_poll(struct uhoma_stack *st, int64_t timeout_ns)
{
	struct uh_carrier *c = st->carrier;
	struct rxbuf *rb = get_rxbuf(c->rx_buf_size > c->max_packet
					     ? c->rx_buf_size : c->max_packet);
	unsigned n;

	if (!rb)
		return 0;
	for (unsigned i = 0; i < RX_BATCH; i++) {
		rb->rx[i].buf = rb->mem + i * rb->each;
		rb->rx[i].cap = rb->each;
		rb->rx[i].landed = false;
	}
	n = c->ops->recv(c, rb->rx, RX_BATCH, timeout_ns);
	if (st->rt && !atomic_load_explicit(&st->rt->read_seen,
					    memory_order_relaxed))
		atomic_store_explicit(&st->rt->read_seen, true,
				      memory_order_relaxed);
	/*
	 * A carrier queue without priorities (a UDP socket, loopback) is
	 * FIFO: a short request lands behind whatever scheduled data was
	 * queued first. Serving each batch highest priority first gives the
	 * batch the strict-priority order a switch port would have given
	 * it; the protocol tolerates the reordering as it does the
	 * network's.
	 */
	unsigned mask = 0;

	for (unsigned i = 0; i < n; i++)
		mask |= 1u << (rb->rx[i].priority & 7);
	for (int prio = 7; prio >= 0; prio--) {
		if (!(mask & (1u << prio)))
			continue;
		for (unsigned i = 0; i < n; i++)
			if ((rb->rx[i].priority & 7) == prio)
				input_one(st, &rb->rx[i]);
	}
	return n;
}

bool uh_runtime_block_begin(struct uhoma_stack *st)
{
	bool no = false;

	if (!st->rt || st->rt->virtual_clock || uh_runtime_manual(st) ||
	    !atomic_compare_exchange_strong(&st->rt->blocker, &no, true))
		return false;
	tl_blocker = true;
	return true;
}

bool uh_runtime_take_interrupt(void)
{
	return uh_waitset_take_interrupt();
}

void uh_runtime_wait_sigmask(const sigset_t *mask)
{
	uh_waitset_wait_sigmask(mask);
}

void uh_runtime_block_end(struct uhoma_stack *st)
{
	tl_blocker = false;
	atomic_store(&st->rt->blocker, false);
}

void uh_runtime_kick_receiver(struct uhoma_stack *st)
{
	if (st->rt && !tl_blocker && atomic_load(&st->rt->blocker))
		st->carrier->ops->kick(st->carrier);
}

void uh_runtime_process_init(void)
{
	uh_fork_handlers_install();
}

bool uh_runtime_spin_pays(const struct uhoma_stack *st, uint64_t now_ns)
{
	return st->cfg.poll_always || uh_cpu_idle(now_ns);
}

bool uh_runtime_manual(const struct uhoma_stack *st)
{
	return st->cfg.rx_threads == 0;
}

bool uh_runtime_virtual(const struct uhoma_stack *st)
{
	return st->rt && st->rt->virtual_clock;
}

static void *rx_main(void *arg)
{
	struct uh_runtime *rt = arg;

	prctl(PR_SET_NAME, "uhoma-rx", 0, 0, 0);
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	while (!atomic_load_explicit(&rt->stop, memory_order_acquire)) {
		uint32_t t = uh_wait_prepare(&rt->rx_wait);
		uint64_t until, now;

		if (atomic_load(&rt->pollers) > 0) {
			/* A poller receives for us. One that returns a
			 * message does not wake us (that would cost a wake-up
			 * per RPC): the timer thread does, within a tick,
			 * should it not come back (rx_nudge). */
			atomic_fetch_add(&rt->parked, 1);
			uh_wait_sleep(&rt->rx_wait, t, 10 * 1000 * 1000);
			atomic_fetch_sub(&rt->parked, 1);
			continue;
		}
		/* A poller that returned a message to its application
		 * usually polls again within microseconds: wait out the
		 * grace rather than race it for the next packets. */
		until = atomic_load(&rt->poll_grace_ns);
		now = uh_now_ns();
		if (now < until) {
			uh_wait_sleep(&rt->rx_wait, t, until - now);
			continue;
		}
		uh_pacer_flush_deferred(rt->st);
		uh_runtime_poll(rt->st, 50 * 1000 * 1000);
	}
	return NULL;
}

void uh_runtime_poll_begin(struct uhoma_stack *st)
{
	if (st->rt)
		atomic_fetch_add(&st->rt->pollers, 1);
}

void uh_runtime_poll_end(struct uhoma_stack *st, bool to_sleep)
{
	struct uh_runtime *rt = st->rt;

	if (!rt)
		return;
	if (to_sleep) {
		atomic_store(&rt->poll_grace_ns, 0);
		if (atomic_fetch_sub(&rt->pollers, 1) == 1)
			uh_wait_wake_all(&rt->rx_wait);
		return;
	}
	/* Set the grace before the count drops: a receive thread that sees
	 * no poller also sees the grace. */
	uh_runtime_grace(st);
	atomic_fetch_sub(&rt->pollers, 1);
}

void uh_runtime_grace(struct uhoma_stack *st)
{
	if (st->rt)
		atomic_store(&st->rt->poll_grace_ns,
			     uh_now_ns() + (uint64_t)st->cfg.poll_us * 1000);
}

uint64_t uh_runtime_grace_ns(struct uhoma_stack *st)
{
	return st->rt ? atomic_load(&st->rt->poll_grace_ns) : 0;
}

/*
 * Wakes receive threads parked for a poller that has left and not come
 * back for a whole tick past its grace: packets then wait for them at
 * most two ticks. Not sooner: an application thread is often away for
 * tens of microseconds (preempted by its own stack's threads on a shared
 * core), and a receive thread woken then becomes the receiver, costing a
 * quarter of small-RPC throughput (measured). One check per tick, a
 * wake-up only when the application really went away.
 */
static void rx_nudge(struct uh_runtime *rt, uint64_t now, uint64_t period)
{
	if (atomic_load(&rt->parked) > 0 && atomic_load(&rt->pollers) == 0 &&
	    now >= atomic_load(&rt->poll_grace_ns) + period)
		uh_wait_wake_all(&rt->rx_wait);
}

/*
 * Whether this tick is held back: one of our receive queues holds more
 * unread than a quarter of a socket's receive buffer, so this host is
 * behind, and what its peers seem not to have sent may be waiting in its
 * own queue.
 * Counted as silence, it made servers overloaded by a dozen client
 * processes on 2 CPUs ask for data they had not read yet (RESEND) and
 * answer RPC_UNKNOWN for requests still queued: the duplicates filled the
 * queue, the full socket dropped thousands of datagrams, and 1-6 % of the
 * RPCs ended TIMEDOUT (bench/README.md, "Overload"). At most three ticks
 * in four are held, so that timers run at a quarter of their pace at the
 * slowest: a host that stays behind still finds its real losses.
 */
static bool held_back(struct uh_runtime *rt)
{
	struct uh_carrier *c = rt->st->carrier;
	bool behind = c->ops->queued && c->rcvbuf &&
		      c->ops->queued(c) > c->rcvbuf / 4;

	if (atomic_load_explicit(&rt->st->behind, memory_order_relaxed) !=
	    behind)
		atomic_store_explicit(&rt->st->behind, behind,
				      memory_order_relaxed);
	if (!behind) {
		rt->held = 0;
		return false;
	}
	if (rt->held == 3) {
		rt->held = 0;
		return false;
	}
	rt->held++;
	return true;
}

static void *timer_main(void *arg)
{
	struct uh_runtime *rt = arg;
	uint64_t period = (uint64_t)rt->st->cfg.tick_us * 1000;
	uint64_t next = uh_now_ns() + period, last_cache = uh_now_ns();
	uint64_t armed = 0, cancels = uh_signals_cancels();
	unsigned cancel_kicks = 0;

	prctl(PR_SET_NAME, "uhoma-timer", 0, 0, 0);
	while (!atomic_load_explicit(&rt->stop, memory_order_acquire)) {
		uint64_t now = uh_now_ns();

		if (now < next) {
			uh_sleep_ns(next - now);
			continue;
		}
		next += period;
		if (next < now)          /* fell behind: do not burst */
			next = now + period;
		/*
		 * A timeout is silence, and a packet that waits unread is not
		 * silence. When no thread has read the network for a whole
		 * tick while RPCs wait on timers, read it here first: a
		 * poller stuck in a page fault or behind the process's memory
		 * map lock (another thread's mmap) must not make its peers
		 * look dead. Once a tick at most, and only then.
		 */
		if (!atomic_exchange_explicit(&rt->read_seen, false,
					      memory_order_relaxed) && armed) {
			uh_runtime_poll(rt->st, 0);
			/* Our own read is no evidence of anyone else's. */
			atomic_store_explicit(&rt->read_seen, false,
					      memory_order_relaxed);
		}
		if (held_back(rt))
			uh_metric_inc(rt->st->metrics, UH_M_TICKS_HELD);
		else
			armed = uh_stack_tick(rt->st);
		rx_nudge(rt, now, period);
		/*
		 * After a pthread_cancel (runtime/signals.h), the blocking
		 * receiver is kicked again for three ticks: the canceller's
		 * kick wakes every thread in the carrier's wait, and a
		 * receive thread that drains it first leaves the receiver's
		 * ppoll to find nothing and sleep on, up to its 50 ms bound
		 * (helper-24: 5-9 of 50 cancels took 5-50 ms). A receive
		 * thread parks after that wait, so a later kick is the
		 * receiver's.
		 */
		if (uh_signals_cancels() != cancels) {
			cancels = uh_signals_cancels();
			cancel_kicks = 3;
		}
		if (cancel_kicks) {
			cancel_kicks--;
			uh_runtime_kick_receiver(rt->st);
		}
		/* Deferred data whose poller went away (not to sleep: that
		 * one sent it) waits at most a tick past the grace. */
		if (atomic_load(&rt->pollers) == 0 &&
		    now >= atomic_load(&rt->poll_grace_ns))
			uh_pacer_flush_deferred(rt->st);
		if (now - last_cache >= 100 * 1000 * 1000) {
			uh_cache_tick_all();
			uh_stat_update(rt->st);
			uh_signals_refresh();
			last_cache = now;
		}
	}
	return NULL;
}

/*
 * The pacer thread: sleeps while nothing is throttled; otherwise sends
 * whatever the backlog allows and sleeps until it drains enough for the
 * next packet (timer slack 1 us so that short sleeps stay short).
 */
static void *pacer_main(void *arg)
{
	struct uh_runtime *rt = arg;
	struct uhoma_stack *st = rt->st;

	prctl(PR_SET_NAME, "uhoma-pacer", 0, 0, 0);
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	if (st->cfg.pacer_rt) {
		struct sched_param sp = { .sched_priority = 10 };

		/* Without the privilege it stays an ordinary thread. */
		(void)pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	}
	while (!atomic_load_explicit(&rt->stop, memory_order_acquire)) {
		uint32_t t = uh_wait_prepare(&st->pacer.wait);
		uint64_t delay;

		if (!uh_pacer_throttled(st)) {
			uh_wait_sleep(&st->pacer.wait, t, 50 * 1000 * 1000);
			continue;
		}
		delay = uh_pacer_run(st);
		if (delay > 1)
			uh_sleep_ns(delay);
		else if (delay == 1)
			sched_yield();
	}
	return NULL;
}

static void virtual_tick(void *arg)
{
	uh_stack_tick(arg);
	uh_pacer_run(arg);
}

static void virtual_input(void *arg, const uint8_t *buf, size_t len,
			  const struct uh_addr *src)
{
	uh_stack_input(arg, buf, len, src);
}

/*
 * Creates @rt's threads with every asynchronous signal blocked (they
 * inherit the creator's mask): a signal sent to the process must go to a
 * thread of the program's -- a handler run here interrupts nothing the
 * program waits in, and a thread blocked in recvmsg would never see its
 * EINTR (helper-21: 28 of 60 kill()s under traffic were handled by
 * uhoma-rx). Returns false if one could not be created.
 */
static bool start_threads(struct uh_runtime *rt)
{
	struct uhoma_stack *st = rt->st;
	sigset_t async, old;
	bool ok = true;

	uh_signals_async(&async);
	pthread_sigmask(SIG_BLOCK, &async, &old);
	for (unsigned i = 0; ok && i < st->cfg.rx_threads; i++) {
		ok = pthread_create(&rt->rx[i], NULL, rx_main, rt) == 0;
		rt->n_rx += ok;
	}
	if (ok && pthread_create(&rt->timer, NULL, timer_main, rt) == 0)
		rt->have_timer = true;
	else
		ok = false;
	if (ok && st->pacer.ps_per_byte) {
		ok = pthread_create(&rt->pacer, NULL, pacer_main, rt) == 0;
		rt->have_pacer = ok;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ok;
}

int uh_runtime_start(struct uhoma_stack *st)
{
	struct uh_runtime *rt = calloc(1, sizeof(*rt));

	if (!rt)
		return UHOMA_ERR_NOMEM;
	uh_signals_refresh();   /* a linked program: what it catches now */
	rt->st = st;
	atomic_init(&rt->stop, false);
	atomic_init(&rt->pollers, 0);
	atomic_init(&rt->parked, 0);
	atomic_init(&rt->poll_grace_ns, 0);
	atomic_init(&rt->blocker, false);
	uh_wait_init(&rt->rx_wait);
	atomic_init(&rt->ticking, false);
	atomic_init(&rt->next_tick_ns,
		    uh_now_ns() + (uint64_t)st->cfg.tick_us * 1000);
	st->rt = rt;
	if (st->cfg.carrier == UHOMA_CARRIER_MEMNET &&
	    uh_memnet_is_virtual(st->carrier)) {
		if (st->cfg.rx_threads != 0) {
			free(rt);
			st->rt = NULL;
			return UHOMA_ERR_INVALID_ARGUMENT;
		}
		rt->virtual_clock = true;
		uh_memnet_set_driver(st->carrier, virtual_input, virtual_tick, st,
				     (uint64_t)st->cfg.tick_us * 1000);
		return UHOMA_OK;
	}
	uh_fork_track(st->carrier);
	if (st->cfg.rx_threads == 0)
		return UHOMA_OK;
	if (!start_threads(rt)) {
		uh_runtime_stop(st);
		return UHOMA_ERR_SYSTEM;
	}
	return UHOMA_OK;
}

void uh_runtime_stop(struct uhoma_stack *st)
{
	struct uh_runtime *rt = st->rt;

	if (!rt)
		return;
	uh_fork_untrack(st->carrier);
	atomic_store_explicit(&rt->stop, true, memory_order_release);
	uh_wait_wake_all(&rt->rx_wait);
	st->carrier->ops->kick(st->carrier);
	for (unsigned i = 0; i < rt->n_rx; i++)
		pthread_join(rt->rx[i], NULL);
	if (rt->have_timer)
		pthread_join(rt->timer, NULL);
	if (rt->have_pacer) {
		uh_wait_wake_all(&st->pacer.wait);
		pthread_join(rt->pacer, NULL);
	}
	if (rt->virtual_clock)
		uh_memnet_set_driver(st->carrier, NULL, NULL, NULL, 0);
	free(rt);
	st->rt = NULL;
}

int uhoma_poll(struct uhoma_stack *st, int64_t timeout_ns)
{
	uint64_t now, due;
	unsigned n;

	if (!st || !st->rt || st->rt->virtual_clock)
		return 0;
	if (uh_runtime_manual(st)) {
		/* Never sleep past the next tick. */
		now = uh_now_ns();
		due = atomic_load(&st->rt->next_tick_ns);
		if (timeout_ns < 0 || (uint64_t)timeout_ns > due - now)
			timeout_ns = due > now ? (int64_t)(due - now) : 0;
	}
	n = uh_runtime_poll(st, timeout_ns);
	if (uh_runtime_manual(st)) {
		now = uh_now_ns();
		due = atomic_load(&st->rt->next_tick_ns);
		/* One tick at a time: the compare-and-swap gives each tick
		 * to one poller, but a tick that outlasts tick_us (a busy
		 * host, a slow build) would meet the next one, and two walks
		 * of the timer wheels and records at once race (helper-39:
		 * RPCs timed out after 9-56 ms on a lossless network). A
		 * tick due while one runs is skipped: the one running does
		 * its work. */
		if (now >= due &&
		    atomic_compare_exchange_strong(
			    &st->rt->next_tick_ns, &due,
			    now + (uint64_t)st->cfg.tick_us * 1000) &&
		    !atomic_exchange(&st->rt->ticking, true)) {
			uh_stack_tick(st);
			atomic_store(&st->rt->ticking, false);
		}
		uh_pacer_run(st);       /* no pacer thread in manual mode */
		uh_signals_refresh();   /* nor a timer thread */
	}
	uh_lockdep_return_to_app("uhoma_poll", UH_HERE);
	return (int)n;
}
