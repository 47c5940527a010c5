/*
 * cpuidle.h - whether busy-polling would take a CPU from another thread.
 *
 * A thread that busy-polls for its message saves the wake-up of a sleeping
 * thread (tens of microseconds on a VM whose idle CPUs halt), but only
 * while a CPU would otherwise idle: on a host where every CPU has work -- an
 * application's spinning sender, the server's threads, the stack's own
 * threads on two cores -- a poller takes the CPU from the thread that would
 * produce the very packet it waits for, and the kernel gives it back only
 * at the next preemption point -- and a poller that keeps receiving keeps
 * polling. So uhoma_recv stops polling once the host's runnable threads
 * (the instantaneous count of /proc/loadavg, the caller included) have
 * exceeded its online CPUs for about as long as a wake-up costs here (48
 * us: spinning longer than blocking would cost is the ski-rental bound);
 * shorter bursts -- a timer thread, a thread that runs a few microseconds
 * and sleeps -- do not end a poll.
 */
#ifndef UHOMA_RUNTIME_CPUIDLE_H
#define UHOMA_RUNTIME_CPUIDLE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * Whether a CPU of this host has nothing better to do than let the caller
 * poll, as of about @now_ns (CLOCK_MONOTONIC). Reads /proc/loadavg at most
 * once every 16 us per process (a 0.4-0.9 us system call, formatting five
 * numbers: every 4 us it was a fifth of a poll's time), the process's
 * pollers sharing the reading; answers "busy" only when 3 readings in a
 * row (48 us) saw more runnable threads than CPUs. While it stays busy
 * the readings space out, doubling up to every 256 us; one idle reading
 * brings back the 16 us.
 * true when /proc is not readable (poll as configured).
 */
bool uh_cpu_idle(uint64_t now_ns);

/* The host's runnable threads now (/proc/loadavg's fourth field, "R/T":
 * R, the caller included), or -1 when it cannot be read. */
long uh_cpu_runnable(void);

/* Tests: readings come from @runnable (the host's runnable threads; NULL:
 * /proc/loadavg again), the shared state reset. Call with no poller. */
void uh_cpu_idle_test_source(long (*runnable)(void));

#endif /* UHOMA_RUNTIME_CPUIDLE_H */
