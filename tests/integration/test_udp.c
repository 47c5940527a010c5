/*
 * test_udp.c - real UDP on loopback between two processes, IPv4 and IPv6:
 * a forked server process echoes; the client checks sizes up to 1 MB and
 * that an unbound port times out cleanly. Skips IPv6 (with a message) if
 * the machine has no ::1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "core/stack.h"
#include "core/wire.h"
#include "runtime/runtime.h"
#include "util/clock.h"
#include "nettest.h"
#include "testutil.h"

static struct uhoma_stack *udp_stack(const char *addr)
{
	struct uhoma_config cfg;
	struct uhoma_stack *st = NULL;

	uhoma_config_default(&cfg);
	snprintf(cfg.addr, sizeof(cfg.addr), "%s", addr);
	cfg.mtu = 9000;
	cfg.landing = 1;     /* (the other UDP tests run the default) */
	if (uhoma_stack_create(&cfg, &st) != UHOMA_OK)
		return NULL;
	return st;
}

/* The server process: echo on @port until killed. Reports readiness
 * through @ready_fd. */
static void serve(const char *addr, uint16_t port, int ready_fd)
{
	struct uhoma_stack *st = udp_stack(addr);
	struct uhoma_sock *s;
	struct nt_echo echo;
	char ok = 1;

	/* Dies with the test, whatever ends it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!st || uhoma_socket(st, port, &s) != UHOMA_OK)
		_exit(2);
	nt_buffers(s, NT_REGION);
	nt_echo_start(&echo, s, 1);
	if (write(ready_fd, &ok, 1) != 1)
		_exit(3);
	pause();
	_exit(0);
}

static bool have_ipv6_loopback(void)
{
	struct uhoma_stack *st = udp_stack("::1");
	struct uhoma_sock *s;
	bool ok = false;

	if (st) {
		ok = uhoma_socket(st, 0, &s) == UHOMA_OK;
		if (ok)
			uhoma_close(s);
		uhoma_stack_destroy(st);
	}
	return ok;
}

/* Sends eight requests at once, 1,000,000 - k * @step bytes of pattern
 * @seed + k from @bufs[k], and checks each echo (any order). With
 * UHOMA_ZEROCOPY a buffer is overwritten as soon as its response is in:
 * it is the caller's again. */
static void eight_at_once(struct uhoma_sock *s,
			  const struct sockaddr_storage *to, size_t to_len,
			  uint8_t *bufs[8], size_t step, unsigned seed,
			  unsigned flags)
{
	uint64_t ids[8];
	bool seen[8] = { false };

	for (unsigned k = 0; k < 8; k++) {
		nt_fill(bufs[k], 1000000 - k * step, seed + k);
		assert_int_equal(uhoma_send(s, (const struct sockaddr *)to,
					    to_len, bufs[k],
					    1000000 - k * step, k, flags,
					    &ids[k]),
				 UHOMA_OK);
	}
	for (unsigned k = 0; k < 8; k++) {
		struct uhoma_msg m;
		int rc;

		memset(&m, 0, sizeof(m));
		rc = uhoma_recv(s, &m, 0, 10 * 1000000000ll);
		assert_true(m.cookie < 8 && !seen[m.cookie]);
		seen[m.cookie] = true;
		assert_int_equal(rc, 1000000 - (int)(m.cookie * step));
		assert_true(m.id == ids[m.cookie]);
		assert_true(nt_check(s, &m, (size_t)rc, seed + m.cookie));
		uhoma_msg_release(s, &m);
		if (flags & UHOMA_ZEROCOPY)
			memset(bufs[m.cookie], 0xEE, 1000000);
	}
}

static void run_pair(const char *addr)
{
	static const size_t sizes[] = { 1, 1000, 8900, 40000, 150000, 1000000 };
	uint16_t port = (uint16_t)(20000 + getpid() % 10000);
	struct sockaddr_storage to;
	size_t to_len;
	int pipefd[2];
	char ok;
	pid_t pid;
	struct uhoma_stack *st;
	struct uhoma_sock *s;
	uint8_t *buf = malloc(UHOMA_MAX_MESSAGE);
	void *region;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		serve(addr, port, pipefd[1]);
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &ok, 1), 1);
	close(pipefd[0]);

	st = udp_stack(addr);
	assert_non_null(st);
	assert_int_equal(uhoma_socket(st, 0, &s), UHOMA_OK);
	assert_true(uhoma_port(s) >= 0x8000);
	region = nt_buffers(s, NT_REGION);
	nt_sockaddr(addr, port, &to, &to_len);
	for (size_t i = 0; i < UH_ARRAY_SIZE(sizes); i++) {
		struct uhoma_msg m;
		uint64_t id;

		nt_fill(buf, sizes[i], i + 100);
		assert_int_equal(uhoma_send(s, (struct sockaddr *)&to, to_len,
					    buf, sizes[i], i, 0, &id),
				 UHOMA_OK);
		memset(&m, 0, sizeof(m));
		assert_int_equal(uhoma_recv(s, &m, 0, 10 * 1000000000ll),
				 (int)sizes[i]);
		assert_true(m.id == id && m.cookie == i);
		assert_true(nt_check(s, &m, sizes[i], i + 100));
		uhoma_msg_release(s, &m);
	}
	/* Eight long messages at once, each echoed: their datagrams
	 * interleave in the bulk lane, and each lands in its own message's
	 * pages, the right bytes at the right place. */
	{
		uint8_t *same[8] = { buf, buf, buf, buf, buf, buf, buf, buf };
		struct uhoma_metrics mt;

		eight_at_once(s, &to, to_len, same, 1000, 200, 0);
		/* The responses' datagrams after each first one went
		 * straight to the region. */
		uhoma_metrics(st, &mt);
		assert_true(mt.data_landed >= 8 * 10);
		print_message("    %llu DATA packets landed in the region\n",
			      (unsigned long long)mt.data_landed);
	}
	/* The same, each request sent from its own memory (UHOMA_ZEROCOPY),
	 * which is the caller's again once its response is in. */
	{
		struct iovec two[2] = { { buf, 10 }, { buf + 10, 10 } };
		uint8_t *zc[8];
		uint64_t id;

		assert_int_equal(uhoma_sendv(s, (struct sockaddr *)&to, to_len,
					     two, 2, 0, UHOMA_ZEROCOPY, &id),
				 UHOMA_ERR_INVALID_ARGUMENT);
		for (unsigned k = 0; k < 8; k++)
			assert_non_null(zc[k] = malloc(1000000));
		eight_at_once(s, &to, to_len, zc, 7, 300, UHOMA_ZEROCOPY);
		for (unsigned k = 0; k < 8; k++)
			free(zc[k]);
	}
	/* The server process dies: its port is closed, and the next RPC
	 * fails with NOT_CONNECTED (ICMP port unreachable), as the module's
	 * does, not TIMEDOUT after the timeout. */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	{
		struct uhoma_msg m;
		uint64_t id;

		assert_int_equal(uhoma_send(s, (struct sockaddr *)&to, to_len,
					    buf, 100, 0, 0, &id), UHOMA_OK);
		memset(&m, 0, sizeof(m));
		assert_int_equal(uhoma_recv(s, &m, 0, 10 * 1000000000ll),
				 UHOMA_ERR_NOT_CONNECTED);
		assert_true(m.id == id);
	}
	uhoma_close(s);
	uhoma_stack_destroy(st);
	nt_unmap(region, NT_REGION);
	free(buf);
}

/* With local_unsched, a socket on this host gets long requests whole
 * before any grant once the allowance has grown (64 ticks), and every
 * byte still arrives where it belongs. */
static void udp__local_unsched(void **state)
{
	struct uhoma_config cfg;
	struct uhoma_stack *cst = NULL, *sst = NULL;
	struct uhoma_sock *c, *srv;
	struct uhoma_metrics before, after;
	struct sockaddr_storage to;
	size_t to_len;
	struct nt_echo echo;
	uint8_t *buf = malloc(UHOMA_MAX_MESSAGE);
	uint8_t *bufs[8] = { buf, buf, buf, buf, buf, buf, buf, buf };
	uint64_t grants0, grants1;
	void *creg, *sreg;
	long rmem = 0;
	FILE *f = fopen("/proc/sys/net/core/rmem_max", "r");

	(void)state;
	if (f) {
		if (fscanf(f, "%ld", &rmem) != 1)
			rmem = 0;
		fclose(f);
	}
	assert_non_null(buf);
	uhoma_config_default(&cfg);
	snprintf(cfg.addr, sizeof(cfg.addr), "127.0.0.1");
	assert_int_equal(uhoma_stack_create(&cfg, &sst), UHOMA_OK);
	cfg.local_unsched = 1000000;
	assert_int_equal(uhoma_stack_create(&cfg, &cst), UHOMA_OK);
	assert_int_equal(uhoma_socket(sst, 0, &srv), UHOMA_OK);
	assert_int_equal(uhoma_set_server(srv, 1), UHOMA_OK);
	assert_int_equal(uhoma_socket(cst, 0, &c), UHOMA_OK);
	sreg = nt_buffers(srv, NT_REGION);
	creg = nt_buffers(c, NT_REGION);
	nt_echo_start(&echo, srv, 1);
	nt_sockaddr("127.0.0.1", (uint16_t)uhoma_port(srv), &to, &to_len);
	/* The peer is new: its allowance starts at unsched_bytes. */
	eight_at_once(c, &to, to_len, bufs, 100000, 400, 0);
	usleep(150 * 1000);
	uhoma_metrics(sst, &before);
	grants0 = before.packets_sent[UH_PKT_GRANT - 0x10];
	eight_at_once(c, &to, to_len, bufs, 125000, 500, 0);
	uhoma_metrics(sst, &after);
	grants1 = after.packets_sent[UH_PKT_GRANT - 0x10] - grants0;
	uhoma_metrics(cst, &after);
	print_message("    server GRANTs: %llu while the allowance grew, %llu "
		      "after; %llu cuts (rmem_max %ld)\n",
		      (unsigned long long)grants0, (unsigned long long)grants1,
		      (unsigned long long)after.unsched_cuts, rmem);
	assert_true(grants0 > 0);
	/* With an eighth of the doubled buffer at least 1 MB the cap is the
	 * whole message: no request needs a grant, unless the host lost
	 * some (a cut says so). */
	if (rmem * 2 / 8 >= 1000000 && after.unsched_cuts == 0)
		assert_int_equal(grants1, 0);
	nt_echo_stop(&echo);
	uhoma_close(c);
	uhoma_close(srv);
	uhoma_stack_destroy(cst);
	uhoma_stack_destroy(sst);
	nt_unmap(creg, NT_REGION);
	nt_unmap(sreg, NT_REGION);
	free(buf);
}

/* A stack with more ports than the direct-poll list (4) still finds
 * itself behind: 2.7 MB left unread at one of its six ports holds its
 * timer's ticks back. Its queue used to read 0 past 4 ports, so an
 * overloaded server with 5 ports timed its clients' RPCs out (helper-31). */
static void udp__many_ports_behind(void **state)
{
	struct uhoma_config cfg;
	struct uhoma_stack *st = NULL;
	struct uhoma_sock *s[6];
	struct uhoma_metrics m;
	struct sockaddr_in to = { .sin_family = AF_INET };
	static char junk[60000];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	(void)state;
	assert_true(fd >= 0);
	uhoma_config_default(&cfg);
	snprintf(cfg.addr, sizeof(cfg.addr), "127.0.0.1");
	assert_int_equal(uhoma_stack_create(&cfg, &st), UHOMA_OK);
	for (int i = 0; i < 6; i++)
		assert_int_equal(uhoma_socket(st, 0, &s[i]), UHOMA_OK);
	/* Nobody reads: a poller that never polls, the receive thread
	 * standing aside for it (as timeouts__stuck_poller_is_not_silence). */
	uh_runtime_poll_begin(st);
	st->carrier->ops->kick(st->carrier);
	usleep(20 * 1000);
	to.sin_port = htons((uint16_t)uhoma_port(s[0]));
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 45; i++)
		assert_int_equal(sendto(fd, junk, sizeof(junk), 0,
					(struct sockaddr *)&to, sizeof(to)),
				 (ssize_t)sizeof(junk));
	usleep(150 * 1000);           /* several sweeps of the table */
	uhoma_metrics(st, &m);
	print_message("    %llu ticks held\n",
		      (unsigned long long)m.ticks_held);
	assert_true(m.ticks_held > 0);
	uh_runtime_poll_end(st, false);
	for (int i = 0; i < 6; i++)
		uhoma_close(s[i]);
	uhoma_stack_destroy(st);
	close(fd);
}

/* Stops child @pid and returns once it has stopped: every thread of it
 * (kill alone returns before; a request sent at once could be served). */
static void stop_child(pid_t pid)
{
	int status;

	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));
}

/*
 * A server on this host whose threads do not run -- stopped here, as a
 * server at nice 19 behind busy loops is for hundreds of milliseconds --
 * is not dead while its port is held: its client's RPC outlives many
 * timeouts (the timer asks the carrier about the port, local_waits) and
 * completes once the server runs again. Before, such a client failed
 * ETIMEDOUT (802-1,247 RPCs in 5 s against a nice-19 server; 757 against
 * one stopped 300 ms in every 400). A server that is gone frees its port:
 * the next RPC fails, and soon; a socket that is not a server holds its
 * port too, and still times out (it answers RPC_UNKNOWN).
 */
static void udp__late_local_server_is_not_dead(void **state)
{
	uint16_t port = (uint16_t)(20000 + (getpid() + 7) % 10000);
	struct uhoma_config cfg;
	struct uhoma_stack *st = NULL;
	struct uhoma_sock *s, *nonserver;
	struct uhoma_metrics m;
	struct sockaddr_storage to;
	struct uhoma_msg msg;
	size_t to_len;
	int pipefd[2], status;
	char ok, b = 7;
	uint64_t id, t0, ticks;
	pid_t pid, pid2;

	(void)state;
	/* Both servers first: no fork once this process has threads (a
	 * child of a threaded process cannot start its own under TSan). */
	for (int k = 0; k < 2; k++) {
		pid_t *who = k ? &pid2 : &pid;

		assert_int_equal(pipe(pipefd), 0);
		*who = fork();
		assert_true(*who >= 0);
		if (*who == 0) {
			close(pipefd[0]);
			serve(k ? "127.0.0.2" : "127.0.0.1", port, pipefd[1]);
		}
		close(pipefd[1]);
		assert_int_equal(read(pipefd[0], &ok, 1), 1);
		close(pipefd[0]);
	}

	uhoma_config_default(&cfg);
	snprintf(cfg.addr, sizeof(cfg.addr), "127.0.0.1");
	cfg.timeout_ticks = 20;          /* 20 ms: many timeouts below */
	assert_int_equal(uhoma_stack_create(&cfg, &st), UHOMA_OK);
	assert_int_equal(uhoma_socket(st, 0, &s), UHOMA_OK);
	nt_buffers(s, NT_REGION);
	nt_sockaddr("127.0.0.1", port, &to, &to_len);

	/* Answered once, then stopped for 15 timeouts. */
	assert_int_equal(uhoma_send(s, (struct sockaddr *)&to, to_len, &b, 1,
				    1, 0, &id), UHOMA_OK);
	memset(&msg, 0, sizeof(msg));
	assert_int_equal(uhoma_recv(s, &msg, 0, 5 * 1000000000ll), 1);
	uhoma_msg_release(s, &msg);
	stop_child(pid);
	uhoma_metrics(st, &m);
	ticks = m.timer_ticks;
	assert_int_equal(uhoma_send(s, (struct sockaddr *)&to, to_len, &b, 1,
				    2, 0, &id), UHOMA_OK);
	memset(&msg, 0, sizeof(msg));
	assert_int_equal(uhoma_recv(s, &msg, 0, 300 * 1000000ll),
			 UHOMA_ERR_AGAIN);     /* waiting, not failed */
	uhoma_metrics(st, &m);
	ticks = m.timer_ticks - ticks;
	print_message("    stopped 300 ms: %llu ticks, %llu port checks, "
		      "%llu timeouts not taken, %llu taken\n",
		      (unsigned long long)ticks,
		      (unsigned long long)m.port_checks,
		      (unsigned long long)m.local_waits,
		      (unsigned long long)m.rpc_timeouts);
	assert_true(m.port_checks > 0);
	/* A timeout not taken every 20 ticks and a few (the port asked
	 * about, the slack): counted against the ticks the timer ran, which
	 * under ThreadSanitizer on a busy host are far fewer than 300 (3
	 * waits once, where 5 were asked for). */
	assert_true(m.local_waits >= 1 && m.local_waits * 40 >= ticks - 40);
	assert_int_equal(m.rpc_timeouts, 0);
	assert_int_equal(kill(pid, SIGCONT), 0);
	memset(&msg, 0, sizeof(msg));
	assert_int_equal(uhoma_recv(s, &msg, 0, 5 * 1000000000ll), 1);
	assert_true(msg.id == id && msg.cookie == 2);
	uhoma_msg_release(s, &msg);

	/* The same port on another loopback address, served by another
	 * process: local too (127.0.0.2's route leaves from 127.0.0.1, and
	 * was taken for a remote peer's), and the answer about one address
	 * is not the other's. With the first server stopped, the second
	 * killed: its RPC fails soon, the first's waits (one answer per
	 * port let the first's hold the second's RPCs, or the second's
	 * refusal time the first's out: helper-33). */
	{
		struct sockaddr_storage to2;
		size_t to2_len;
		uint64_t id2;
		int rc2;

		nt_sockaddr("127.0.0.2", port, &to2, &to2_len);
		stop_child(pid);
		stop_child(pid2);
		assert_int_equal(uhoma_send(s, (struct sockaddr *)&to, to_len,
					    &b, 1, 6, 0, &id), UHOMA_OK);
		assert_int_equal(uhoma_send(s, (struct sockaddr *)&to2,
					    to2_len, &b, 1, 7, 0, &id2),
				 UHOMA_OK);
		usleep(100 * 1000);      /* both past a timeout, waiting */
		memset(&msg, 0, sizeof(msg));
		assert_int_equal(uhoma_recv(s, &msg, UHOMA_NONBLOCK, 0),
				 UHOMA_ERR_AGAIN);
		assert_int_equal(kill(pid2, SIGKILL), 0);
		assert_int_equal(waitpid(pid2, &status, 0), pid2);
		t0 = uh_now_ns();
		memset(&msg, 0, sizeof(msg));
		rc2 = uhoma_recv(s, &msg, 0, 3 * 1000000000ll);
		assert_true(rc2 < 0 && msg.id == id2);
		assert_true(uh_now_ns() - t0 < 500 * 1000000ull);
		memset(&msg, 0, sizeof(msg));
		assert_int_equal(uhoma_recv(s, &msg, 0, 200 * 1000000ll),
				 UHOMA_ERR_AGAIN);   /* the first still waits */
		assert_int_equal(kill(pid, SIGCONT), 0);
		memset(&msg, 0, sizeof(msg));
		assert_int_equal(uhoma_recv(s, &msg, 0, 5 * 1000000000ll), 1);
		assert_true(msg.id == id && msg.cookie == 6);
		uhoma_msg_release(s, &msg);
		nt_sockaddr("127.0.0.1", port, &to, &to_len);
	}

	/* Gone: its port is free, and the RPC ends within a few
	 * timeouts (ICMP port unreachable, or the timeout the carrier's
	 * answer lets stand). */
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	t0 = uh_now_ns();
	assert_int_equal(uhoma_send(s, (struct sockaddr *)&to, to_len, &b, 1,
				    3, 0, &id), UHOMA_OK);
	memset(&msg, 0, sizeof(msg));
	assert_true(uhoma_recv(s, &msg, 0, 5 * 1000000000ll) < 0);
	assert_true(msg.id == id);
	assert_true(uh_now_ns() - t0 < 500 * 1000000ull);

	/* Shut down: its port is held until it closes, and no socket
	 * serves it; the RPC still ends, in a timeout (it waited for the
	 * close: helper-33). */
	{
		struct uhoma_stack *st2 = NULL;
		struct uhoma_sock *shut;

		assert_int_equal(uhoma_stack_create(&cfg, &st2), UHOMA_OK);
		assert_int_equal(uhoma_socket(st2, 0, &shut), UHOMA_OK);
		assert_int_equal(uhoma_set_server(shut, 1), UHOMA_OK);
		uhoma_shutdown(shut);
		nt_sockaddr("127.0.0.1", (uint16_t)uhoma_port(shut), &to,
			    &to_len);
		assert_int_equal(uhoma_send(s, (struct sockaddr *)&to, to_len,
					    &b, 1, 5, 0, &id), UHOMA_OK);
		memset(&msg, 0, sizeof(msg));
		assert_int_equal(uhoma_recv(s, &msg, 0, 5 * 1000000000ll),
				 UHOMA_ERR_TIMEDOUT);
		uhoma_close(shut);
		uhoma_stack_destroy(st2);
	}

	/* Not a server: its port is held, and the RPC still times out. */
	assert_int_equal(uhoma_socket(st, 0, &nonserver), UHOMA_OK);
	nt_sockaddr("127.0.0.1", (uint16_t)uhoma_port(nonserver), &to,
		    &to_len);
	t0 = uh_now_ns();
	assert_int_equal(uhoma_send(s, (struct sockaddr *)&to, to_len, &b, 1,
				    4, 0, &id), UHOMA_OK);
	memset(&msg, 0, sizeof(msg));
	assert_int_equal(uhoma_recv(s, &msg, 0, 5 * 1000000000ll),
			 UHOMA_ERR_TIMEDOUT);
	print_message("    a socket that is not a server: timed out after "
		      "%.0f ms\n", (double)(uh_now_ns() - t0) / 1e6);
	uhoma_close(nonserver);
	uhoma_close(s);
	uhoma_stack_destroy(st);
}

static void udp__ipv4_two_processes(void **state)
{
	(void)state;
	run_pair("127.0.0.1");
}

static void udp__ipv6_two_processes(void **state)
{
	(void)state;
	if (!have_ipv6_loopback()) {
		print_message("    skipped: no IPv6 loopback (::1) here\n");
		skip();
	}
	run_pair("::1");
}

static void udp__port_rules(void **state)
{
	struct uhoma_stack *st = udp_stack("127.0.0.1");
	struct uhoma_sock *a, *b;
	uint16_t port = (uint16_t)(10000 + getpid() % 10000);

	(void)state;
	assert_non_null(st);
	assert_int_equal(uhoma_socket(st, port, &a), UHOMA_OK);
	assert_int_equal(uhoma_socket(st, port, &b), UHOMA_ERR_ADDR_IN_USE);
	assert_int_equal(uhoma_socket(st, 0x8000, &b),
			 UHOMA_ERR_INVALID_ARGUMENT);
	uhoma_close(a);
	/* Closed: the port is free again. */
	assert_int_equal(uhoma_socket(st, port, &a), UHOMA_OK);
	uhoma_close(a);
	/* Out of descriptors is NO_FILES, with any number left short of
	 * what a port takes -- never a port in use (helper-36: ADDR_IN_USE
	 * with exactly three left). */
	{
		struct rlimit old, lim;
		int open_now = 0;
		DIR *d = opendir("/proc/self/fd");
		struct dirent *e;

		assert_non_null(d);
		while ((e = readdir(d)))
			open_now += e->d_name[0] != '.';
		closedir(d);     /* its own descriptor was counted: one spare */
		assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
		for (int left = 0; left <= 6; left++) {
			int rc;

			lim = old;
			lim.rlim_cur = (rlim_t)(open_now - 1 + left);
			assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
			rc = uhoma_socket(st, port, &a);
			assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
			assert_true(rc == UHOMA_OK || rc == UHOMA_ERR_NO_FILES);
			if (rc == UHOMA_OK)
				uhoma_close(a);
		}
		assert_int_equal(uhoma_socket(st, port, &a), UHOMA_OK);
		uhoma_close(a);
	}
	uhoma_stack_destroy(st);
	/* An address this host does not have: refused at once, not a stack
	 * whose every socket then fails (TEST-NET-1, RFC 5737). */
	assert_null(udp_stack("192.0.2.1"));
	{
		struct uhoma_config cfg;

		uhoma_config_default(&cfg);
		snprintf(cfg.addr, sizeof(cfg.addr), "192.0.2.1");
		assert_int_equal(uhoma_stack_create(&cfg, &st),
				 UHOMA_ERR_INVALID_ARGUMENT);
	}
}

/* A UDP port of @addr's family that nobody listens on (the kernel's pick
 * for a socket closed at once). */
static uint16_t unused_port(const char *addr)
{
	struct sockaddr_storage ss;
	size_t len;
	socklen_t sl;
	int fd;

	nt_sockaddr(addr, 0, &ss, &len);
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, (socklen_t)len), 0);
	sl = sizeof(ss);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	close(fd);
	return ntohs(ss.ss_family == AF_INET
		     ? ((struct sockaddr_in *)(void *)&ss)->sin_port
		     : ((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
}

/* A request to a port nobody listens on fails with NOT_CONNECTED, from the
 * ICMP port unreachable, as the module's does -- not TIMEDOUT after the
 * RPC timeout. Both families. */
static void request_to(const char *addr)
{
	struct uhoma_stack *st = udp_stack(addr);
	struct uhoma_sock *s;
	struct sockaddr_storage to;
	size_t to_len;
	struct uhoma_msg m;
	struct uhoma_metrics met;
	uint8_t buf[100] = { 0 };
	uint64_t id;
	void *region;

	assert_non_null(st);
	assert_int_equal(uhoma_socket(st, 0, &s), UHOMA_OK);
	region = nt_buffers(s, NT_REGION);
	nt_sockaddr(addr, unused_port(addr), &to, &to_len);
	assert_int_equal(uhoma_send(s, (struct sockaddr *)&to, to_len, buf,
				    sizeof(buf), 7, 0, &id), UHOMA_OK);
	memset(&m, 0, sizeof(m));
	/* 10 s: far past the timeout, so that only the ICMP path passes. */
	assert_int_equal(uhoma_recv(s, &m, 0, 10000000000ll),
			 UHOMA_ERR_NOT_CONNECTED);
	assert_true(m.id == id);
	uhoma_metrics(st, &met);
	assert_true(met.port_unreachable >= 1);
	assert_true(met.rpc_timeouts == 0);
	uhoma_close(s);
	uhoma_stack_destroy(st);
	nt_unmap(region, NT_REGION);
}

/*
 * A stack with no threads of its own (rx_threads=0) driven by several of
 * the application's at once: two in uhoma_poll, one in uhoma_recv (which
 * polls too). Each poller may find the tick due; two ticks ran at once
 * when one outlasted tick_us, and their walks raced (ThreadSanitizer saw
 * it) and timed RPCs out after 9-56 ms on loopback (helper-39). Every RPC
 * must complete.
 */
static struct uhoma_stack *mp_st;
static struct uhoma_sock *mp_cli;
static _Atomic bool mp_stop;
static _Atomic unsigned mp_done, mp_failed;

static void *mp_poller(void *arg)
{
	(void)arg;
	while (!atomic_load(&mp_stop))
		uhoma_poll(mp_st, 1000000);
	return NULL;
}

static void *mp_receiver(void *arg)
{
	(void)arg;
	while (!atomic_load(&mp_stop)) {
		struct uhoma_msg m;
		int rc;

		memset(&m, 0, sizeof(m));
		rc = uhoma_recv(mp_cli, &m, 0, 1000000);
		if (rc > 0) {
			uhoma_msg_release(mp_cli, &m);
			atomic_fetch_add(&mp_done, 1);
		} else if (rc < 0 && m.id) {
			atomic_fetch_add(&mp_failed, 1);
			atomic_fetch_add(&mp_done, 1);
		}
	}
	return NULL;
}

static void udp__manual_pollers_share_ticks(void **state)
{
	struct uhoma_stack *srv_st = udp_stack("127.0.0.1");
	struct uhoma_config cfg;
	struct uhoma_sock *srv;
	struct nt_echo echo;
	struct sockaddr_storage to;
	size_t to_len;
	uint16_t port = (uint16_t)(21000 + getpid() % 9000);
	static uint8_t buf[1000];
	pthread_t th[3];
	void *r1, *r2;
	const unsigned n = 2000;

	(void)state;
	assert_non_null(srv_st);
	assert_int_equal(uhoma_socket(srv_st, port, &srv), UHOMA_OK);
	r1 = nt_buffers(srv, NT_REGION);
	nt_echo_start(&echo, srv, 1);
	uhoma_config_default(&cfg);
	snprintf(cfg.addr, sizeof(cfg.addr), "127.0.0.1");
	cfg.rx_threads = 0;
	assert_int_equal(uhoma_stack_create(&cfg, &mp_st), UHOMA_OK);
	assert_int_equal(uhoma_socket(mp_st, 0, &mp_cli), UHOMA_OK);
	r2 = nt_buffers(mp_cli, NT_REGION);
	nt_sockaddr("127.0.0.1", port, &to, &to_len);
	atomic_store(&mp_stop, false);
	atomic_store(&mp_done, 0);
	atomic_store(&mp_failed, 0);
	assert_int_equal(pthread_create(&th[0], NULL, mp_poller, NULL), 0);
	assert_int_equal(pthread_create(&th[1], NULL, mp_poller, NULL), 0);
	assert_int_equal(pthread_create(&th[2], NULL, mp_receiver, NULL), 0);
	for (unsigned i = 0; i < n; i++) {
		uint64_t id;
		int rc;

		while ((rc = uhoma_send(mp_cli, (struct sockaddr *)&to, to_len,
					buf, sizeof(buf), i, UHOMA_NONBLOCK,
					&id)) == UHOMA_ERR_AGAIN)
			sched_yield();
		assert_int_equal(rc, UHOMA_OK);
	}
	for (int w = 0; w < 30000 && atomic_load(&mp_done) < n; w++)
		usleep(1000);
	atomic_store(&mp_stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&mp_done), n);
	assert_int_equal(atomic_load(&mp_failed), 0);
	uhoma_close(mp_cli);
	uhoma_stack_destroy(mp_st);
	nt_echo_stop(&echo);
	uhoma_close(srv);
	uhoma_stack_destroy(srv_st);
	nt_unmap(r1, NT_REGION);
	nt_unmap(r2, NT_REGION);
}

/*
 * A port unreachable arrives for a request to a dead port; the socket's
 * next send takes the error (IP_RECVERR) and sends nothing. That send was
 * a request to a live server: it was lost (recovered only by a resend),
 * the error's details stayed in the error queue -- the refused RPC never
 * failed fast -- and the socket stayed readable, so every wait in the
 * carrier woke at once (a blocked receiver spun 15,000 times a second).
 * Polled by hand (no receive thread) so that the send, not a reader, meets
 * the error first.
 */
static void udp__refused_port_costs_no_other_send(void **state)
{
	struct uhoma_config cfg;
	struct uhoma_stack *st = NULL;
	struct uhoma_sock *srv, *cli;
	struct sockaddr_storage dead, live;
	size_t dead_len, live_len;
	struct uhoma_metrics met;
	uint8_t buf[100] = { 0 };
	uint16_t port = (uint16_t)(20000 + getpid() % 10000);   /* a server's */
	uint64_t id_dead, id_live, t0;
	bool failed = false, answered = false;
	unsigned waits;
	void *r1, *r2;

	(void)state;
	uhoma_config_default(&cfg);
	snprintf(cfg.addr, sizeof(cfg.addr), "127.0.0.1");
	cfg.rx_threads = 0;
	assert_int_equal(uhoma_stack_create(&cfg, &st), UHOMA_OK);
	assert_int_equal(uhoma_socket(st, port, &srv), UHOMA_OK);
	assert_int_equal(uhoma_socket(st, 0, &cli), UHOMA_OK);
	r1 = nt_buffers(srv, NT_REGION);
	r2 = nt_buffers(cli, NT_REGION);
	nt_sockaddr("127.0.0.1", unused_port("127.0.0.1"), &dead, &dead_len);
	nt_sockaddr("127.0.0.1", port, &live, &live_len);
	assert_int_equal(uhoma_send(cli, (struct sockaddr *)&dead, dead_len,
				    buf, sizeof(buf), 1, 0, &id_dead),
			 UHOMA_OK);
	assert_int_equal(uhoma_send(cli, (struct sockaddr *)&live, live_len,
				    buf, sizeof(buf), 2, 0, &id_live),
			 UHOMA_OK);
	t0 = uh_now_ns();
	while ((!failed || !answered) && uh_now_ns() - t0 < 5000000000ull) {
		struct uhoma_msg m;
		int rc;

		uhoma_poll(st, 1000000);
		memset(&m, 0, sizeof(m));
		if (uhoma_recv(srv, &m, UHOMA_NONBLOCK, 0) > 0) {
			uhoma_msg_release(srv, &m);
			assert_int_equal(uhoma_reply(srv,
						     (struct sockaddr *)&m.peer,
						     m.peer_len, m.id, buf, 10),
					 UHOMA_OK);
		}
		memset(&m, 0, sizeof(m));
		rc = uhoma_recv(cli, &m, UHOMA_NONBLOCK, 0);
		if (rc == UHOMA_ERR_NOT_CONNECTED && m.id == id_dead)
			failed = true;
		if (rc > 0) {
			assert_true(m.id == id_live);
			answered = true;
			uhoma_msg_release(cli, &m);
		}
	}
	assert_true(failed);
	assert_true(answered);
	uhoma_metrics(st, &met);
	assert_true(met.port_unreachable >= 1);
	assert_true(met.xmit_errors == 0);      /* the live request went */
	assert_true(met.resent_packets == 0);
	assert_true(met.rpc_timeouts == 0);
	/* Nothing left readable: 100 ms of waits wake for the acks and
	 * the timer's few packets, not thousands of times. */
	t0 = uh_now_ns();
	for (waits = 0; uh_now_ns() - t0 < 100000000ull; waits++)
		uhoma_poll(st, 100000000);
	assert_true(waits < 200);
	uhoma_close(cli);
	uhoma_close(srv);
	uhoma_stack_destroy(st);
	nt_unmap(r1, NT_REGION);
	nt_unmap(r2, NT_REGION);
}

static void udp__unbound_port_not_connected_ipv4(void **state)
{
	(void)state;
	request_to("127.0.0.1");
}

static void udp__unbound_port_not_connected_ipv6(void **state)
{
	(void)state;
	if (!have_ipv6_loopback()) {
		print_message("    skipped: no IPv6 loopback (::1) here\n");
		skip();
	}
	request_to("::1");
}

/*
 * Packets are sized by the route to each destination, with no
 * configuration: a default stack (the wildcard "::", mtu 0) sends 1 MB to
 * a loopback address in 64 KB datagrams (loopback's MTU is 65536), not in
 * 1500-byte ones; with mtu=1500 set, every destination gets 1500. Both
 * families from the one default stack. Returns the DATA packets that
 * carried one 1,000,000-byte echo (request and response) to @addr.
 */
static uint64_t echo_data_packets(uint32_t mtu, const char *addr)
{
	struct uhoma_config cfg;
	struct uhoma_stack *st;
	struct uhoma_sock *srv, *cli;
	struct nt_echo echo;
	struct sockaddr_storage to;
	struct uhoma_metrics before, after;
	struct uhoma_msg m;
	size_t to_len, len = UHOMA_MAX_MESSAGE;
	uint8_t *buf = malloc(len);
	void *r1, *r2;
	uint64_t id;

	assert_non_null(buf);
	uhoma_config_default(&cfg);
	snprintf(cfg.addr, sizeof(cfg.addr), "::");
	cfg.mtu = mtu;
	assert_int_equal(uhoma_stack_create(&cfg, &st), UHOMA_OK);
	assert_int_equal(uhoma_socket(st, 0, &srv), UHOMA_OK);
	assert_int_equal(uhoma_set_server(srv, 1), UHOMA_OK);
	assert_int_equal(uhoma_socket(st, 0, &cli), UHOMA_OK);
	r1 = nt_buffers(srv, NT_REGION);
	r2 = nt_buffers(cli, NT_REGION);
	nt_echo_start(&echo, srv, 1);
	nt_sockaddr(addr, uhoma_port(srv), &to, &to_len);
	nt_fill(buf, len, 5);
	uhoma_metrics(st, &before);
	assert_int_equal(uhoma_send(cli, (struct sockaddr *)&to, to_len, buf,
				    len, 1, 0, &id), UHOMA_OK);
	memset(&m, 0, sizeof(m));
	assert_int_equal(uhoma_recv(cli, &m, 0, 10 * 1000000000ll), (int)len);
	assert_true(nt_check(cli, &m, len, 5));
	uhoma_msg_release(cli, &m);
	uhoma_metrics(st, &after);
	nt_echo_stop(&echo);
	uhoma_close(cli);
	uhoma_close(srv);
	uhoma_stack_destroy(st);
	nt_unmap(r1, NT_REGION);
	nt_unmap(r2, NT_REGION);
	free(buf);
	return after.packets_sent[0] - before.packets_sent[0] -
	       after.resent_packets + before.resent_packets;
}

static void udp__mtu_per_destination(void **state)
{
	uint64_t n;

	(void)state;
	/* 2 x 1,000,000 bytes in at most 65,507-byte datagrams: 32 (a
	 * loaded host may refuse one at the send and count only its
	 * resend, or make some go twice); with 1500-byte packets it would
	 * be over 1,300. */
	n = echo_data_packets(0, "127.0.0.1");
	print_message("    127.0.0.1, default: %llu DATA packets\n",
		      (unsigned long long)n);
	assert_true(n >= 16 && n <= 100);
	n = echo_data_packets(1500, "127.0.0.1");
	print_message("    127.0.0.1, mtu=1500: %llu DATA packets\n",
		      (unsigned long long)n);
	assert_true(n >= 2 * 600);
	if (have_ipv6_loopback()) {
		n = echo_data_packets(0, "::1");
		print_message("    ::1, default: %llu DATA packets\n",
			      (unsigned long long)n);
		assert_true(n >= 16 && n <= 100);
	}
}

static struct uhoma_stack *offset_stack(uint32_t offset)
{
	struct uhoma_config cfg;
	struct uhoma_stack *st = NULL;

	uhoma_config_default(&cfg);
	snprintf(cfg.addr, sizeof(cfg.addr), "127.0.0.1");
	cfg.port_offset = offset;
	if (uhoma_stack_create(&cfg, &st) != UHOMA_OK)
		return NULL;
	return st;
}

static int udp_bind_errno(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), e = 0;
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		e = errno;
	close(fd);
	return e;
}

/*
 * port_offset: Homa port P travels as UDP port P + offset on both ends, so
 * a server can have a Homa port below 1024 without privileges. An RPC to
 * Homa port 80 works between two stacks with the same offset, the UDP
 * port taken is 80 + offset, automatic ports stay at or above 0x8000, and
 * an ICMP port unreachable maps back to the Homa port (NOT_CONNECTED).
 */
static void udp__port_offset(void **state)
{
	const uint32_t off = 10000 + (uint32_t)getpid() % 5000;
	struct uhoma_stack *st = offset_stack(off);
	struct uhoma_sock *srv, *cli;
	struct nt_echo echo;
	struct sockaddr_storage to;
	struct uhoma_msg m;
	size_t to_len;
	uint8_t buf[3000];
	void *r1, *r2;
	uint64_t id;

	(void)state;
	assert_non_null(st);
	assert_int_equal(uhoma_socket(st, 80, &srv), UHOMA_OK);
	assert_int_equal(udp_bind_errno((uint16_t)(80 + off)), EADDRINUSE);
	assert_int_equal(uhoma_socket(st, 0, &cli), UHOMA_OK);
	assert_true(uhoma_port(cli) >= 0x8000);
	assert_int_equal(udp_bind_errno((uint16_t)(uhoma_port(cli) + off)),
			 EADDRINUSE);
	r1 = nt_buffers(srv, NT_REGION);
	r2 = nt_buffers(cli, NT_REGION);
	nt_echo_start(&echo, srv, 1);
	nt_sockaddr("127.0.0.1", 80, &to, &to_len);
	nt_fill(buf, sizeof(buf), 9);
	assert_int_equal(uhoma_send(cli, (struct sockaddr *)&to, to_len, buf,
				    sizeof(buf), 1, 0, &id), UHOMA_OK);
	memset(&m, 0, sizeof(m));
	assert_int_equal(uhoma_recv(cli, &m, 0, 10 * 1000000000ll),
			 (int)sizeof(buf));
	assert_true(nt_check(cli, &m, sizeof(buf), 9));
	uhoma_msg_release(cli, &m);
	/* Nobody at Homa port 81 (UDP 81 + off). */
	nt_sockaddr("127.0.0.1", 81, &to, &to_len);
	assert_int_equal(uhoma_send(cli, (struct sockaddr *)&to, to_len, buf,
				    100, 2, 0, &id), UHOMA_OK);
	memset(&m, 0, sizeof(m));
	assert_int_equal(uhoma_recv(cli, &m, 0, 10 * 1000000000ll),
			 UHOMA_ERR_NOT_CONNECTED);
	nt_echo_stop(&echo);
	uhoma_close(cli);
	uhoma_close(srv);
	uhoma_stack_destroy(st);
	nt_unmap(r1, NT_REGION);
	nt_unmap(r2, NT_REGION);
}

/* The lowest port an unprivileged process may bind here. */
static int unprivileged_port_start(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r");
	int v = 1024;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 1024;
		fclose(f);
	}
	return v;
}

/* Without privileges, Homa port 80 over UDP port 80 is refused with
 * PERMISSION (the preload says EACCES and how to fix it); with an offset
 * it works. Run in a child that drops root if it has it. */
static void udp__low_port_unprivileged(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	if (unprivileged_port_start() <= 80) {
		print_message("    skipped: unprivileged processes may bind "
			      "port 80 here\n");
		skip();
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct uhoma_stack *a, *b;
		struct uhoma_sock *s;

		if (getuid() == 0 && (setgid(65534) || setuid(65534)))
			_exit(10);
		a = offset_stack(0);
		if (!a || uhoma_socket(a, 80, &s) != UHOMA_ERR_PERMISSION)
			_exit(11);
		b = offset_stack(11000);
		if (!b || uhoma_socket(b, 80, &s) != UHOMA_OK)
			_exit(12);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- a path MTU that falls ------------------------------------------------ */

/* Brings up the loopback interface of a fresh network namespace. */
static bool lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	bool ok;

	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	ok = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP;
	ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* The path MTU the kernel has for 127.0.0.1 now. */
static int path_mtu(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), mtu = -1;
	socklen_t len = sizeof(mtu);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &len);
	if (fd >= 0)
		close(fd);
	return mtu;
}

/* What a router says when a datagram from UDP port @sport to @dport (both
 * at 127.0.0.1) is too big for the next hop's @mtu. */
static bool frag_needed(uint16_t sport, uint16_t dport, uint16_t mtu)
{
	uint8_t m[8 + 20 + 8];
	struct sockaddr_in to = { .sin_family = AF_INET };
	uint32_t sum = 0;
	int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	bool ok;

	memset(m, 0, sizeof(m));
	m[0] = 3;                                /* unreachable */
	m[1] = 4;                                /* fragmentation needed */
	m[6] = (uint8_t)(mtu >> 8);
	m[7] = (uint8_t)mtu;
	m[8] = 0x45;
	m[8 + 2] = 0x05;                         /* total length 1500 */
	m[8 + 3] = 0xdc;
	m[8 + 6] = 0x40;                         /* DF */
	m[8 + 8] = 64;
	m[8 + 9] = IPPROTO_UDP;
	inet_pton(AF_INET, "127.0.0.1", m + 8 + 12);
	inet_pton(AF_INET, "127.0.0.1", m + 8 + 16);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(m[8 + i] << 8 | m[8 + i + 1]);
	sum = (sum & 0xFFFF) + (sum >> 16);
	sum = ~(sum + (sum >> 16)) & 0xFFFF;
	m[8 + 10] = (uint8_t)(sum >> 8);
	m[8 + 11] = (uint8_t)sum;
	m[28] = (uint8_t)(sport >> 8);
	m[29] = (uint8_t)sport;
	m[30] = (uint8_t)(dport >> 8);
	m[31] = (uint8_t)dport;
	sum = 0;
	for (size_t i = 0; i < sizeof(m); i += 2)
		sum += (uint32_t)(m[i] << 8 | m[i + 1]);
	sum = (sum & 0xFFFF) + (sum >> 16);
	sum = ~(sum + (sum >> 16)) & 0xFFFF;
	m[2] = (uint8_t)(sum >> 8);
	m[3] = (uint8_t)sum;
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	ok = fd >= 0 && sendto(fd, m, sizeof(m), 0, (struct sockaddr *)&to,
			       sizeof(to)) == (ssize_t)sizeof(m);
	if (fd >= 0)
		close(fd);
	return ok;
}

/* One echo of @len bytes from @cli to 127.0.0.1:@port; its result. */
static int echo_once(struct uhoma_sock *cli, uint16_t port, size_t len,
		     uint8_t *buf)
{
	struct sockaddr_storage to;
	struct uhoma_msg m;
	size_t to_len;
	uint64_t id;
	int rc;

	nt_sockaddr("127.0.0.1", port, &to, &to_len);
	nt_fill(buf, len, 5);
	rc = uhoma_send(cli, (struct sockaddr *)&to, to_len, buf, len, 0, 0,
			&id);
	if (rc)
		return rc;
	memset(&m, 0, sizeof(m));
	rc = uhoma_recv(cli, &m, 0, 3 * 1000000000ll);
	if (rc > 0 && !nt_check(cli, &m, len, 5))
		rc = -1;
	if (rc > 0)
		uhoma_msg_release(cli, &m);
	return rc;
}

/* The child: in a network namespace of its own (the path MTU it lowers
 * is that namespace's), with Ethernet-sized packets, which go out in GSO
 * runs. Exit 0: passed; 77: cannot test here; else failed. */
static int mtu_drop_child(void)
{
	const size_t len = 300000;
	struct uhoma_config cfg;
	struct uhoma_stack *st;
	struct uhoma_sock *srv, *cli;
	struct nt_echo echo;
	struct uhoma_metrics before, after;
	uint8_t *buf = malloc(len);

	if (unshare(CLONE_NEWNET) != 0 || !lo_up())
		return 77;
	uhoma_config_default(&cfg);
	snprintf(cfg.addr, sizeof(cfg.addr), "127.0.0.1");
	cfg.stat = 0;
	cfg.mtu = 1500;     /* packets of an Ethernet link, in GSO runs */
	if (!buf || uhoma_stack_create(&cfg, &st) ||
	    uhoma_socket(st, 4000, &srv) || uhoma_socket(st, 0, &cli))
		return 10;
	nt_buffers(srv, NT_REGION);
	nt_buffers(cli, NT_REGION);
	nt_echo_start(&echo, srv, 1);
	if (echo_once(cli, 4000, len, buf) != (int)len)
		return 11;
	/* A router reports a 1280-byte next hop for our datagrams. */
	if (!frag_needed(uhoma_port(cli), 4000, 1280))
		return 77;
	usleep(10000);
	if (path_mtu() != 1280)
		return 77;          /* this kernel took no exception */
	/* The peer's packets stay 64 KB: GSO refuses them now. Each must
	 * still go out (the kernel fragments it): no send fails, so nothing
	 * waits for a RESEND to get through. */
	uhoma_metrics(st, &before);
	if (echo_once(cli, 4000, len, buf) != (int)len)
		return 12;
	uhoma_metrics(st, &after);
	if (after.xmit_errors != before.xmit_errors) {
		fprintf(stderr, "%llu sends failed after the MTU fell\n",
			(unsigned long long)(after.xmit_errors -
					     before.xmit_errors));
		return 13;
	}
	uhoma_close(cli);
	uhoma_shutdown(srv);
	nt_echo_stop(&echo);
	uhoma_close(srv);
	uhoma_stack_destroy(st);
	free(buf);
	return 0;
}

/*
 * A path MTU that falls after a peer's packet size was read (a router's
 * fragmentation-needed report) must not make the large messages to that
 * peer lose their packets (and get through only by RESENDs, one packet a
 * resend interval): the kernel refuses GSO runs whose segments exceed it,
 * and the carrier then sends the run's packets one by one.
 */
static void udp__path_mtu_falls(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	if (pid == 0)
		_exit(mtu_drop_child());
	assert_true(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	if (WEXITSTATUS(st) == 77) {
		print_message("    skipped: needs a network namespace and raw "
			      "sockets (root)\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(st), 0);
}

/*
 * Any local process can send UDP from the host's own address: a datagram
 * whose Homa header names a source port other than the UDP port it came
 * from is dropped (counted as spoofed), or one could write into another
 * process's RPCs by naming its port. The same request from its own port
 * is served.
 */
static void udp__forged_source_port_dropped(void **state)
{
	struct uhoma_stack *st = udp_stack("127.0.0.1");
	struct uhoma_sock *srv;
	struct uhoma_metrics m;
	struct uhoma_msg msg;
	struct sockaddr_storage to, me;
	socklen_t me_len = sizeof(me);
	size_t to_len, me_sl;
	uint8_t pkt[UH_HDR_DATA + 20];
	struct uh_hdr h;
	uint16_t mine;
	int fd;

	(void)state;
	assert_non_null(st);
	assert_int_equal(uhoma_socket(st, 0, &srv), UHOMA_OK);
	assert_int_equal(uhoma_set_server(srv, 1), UHOMA_OK);
	nt_buffers(srv, NT_REGION);
	nt_sockaddr("127.0.0.1", (uint16_t)uhoma_port(srv), &to, &to_len);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	nt_sockaddr("127.0.0.1", 0, &me, &me_sl);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, (socklen_t)me_sl), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &me_len), 0);
	mine = ntohs(((struct sockaddr_in *)&me)->sin_port);
	for (int own = 0; own < 2; own++) {
		memset(&h, 0, sizeof(h));
		h.type = UH_PKT_DATA;
		h.sport = own ? mine : (uint16_t)(mine + 1);
		h.dport = (uint16_t)uhoma_port(srv);
		h.sender_id = 0x1000 + 2 * (uint64_t)own;
		h.u.data.message_length = 20;
		h.u.data.incoming = 20;
		memset(pkt, 0x5A, sizeof(pkt));
		uh_wire_encode(&h, pkt);
		assert_int_equal(sendto(fd, pkt, sizeof(pkt), 0,
					(struct sockaddr *)&to,
					(socklen_t)to_len), (ssize_t)sizeof(pkt));
		memset(&msg, 0, sizeof(msg));
		if (!own) {
			assert_int_equal(uhoma_recv(srv, &msg, 0,
						    100 * 1000000ll),
					 UHOMA_ERR_AGAIN);
			uhoma_metrics(st, &m);
			assert_int_equal(m.drops[UH_DROP_SPOOFED], 1);
		} else {
			assert_int_equal(uhoma_recv(srv, &msg, 0,
						    2000 * 1000000ll), 20);
			assert_true(msg.id == (0x1002 | 1));
			uhoma_msg_release(srv, &msg);
		}
	}
	close(fd);
	uhoma_close(srv);
	uhoma_stack_destroy(st);
}

/*
 * Another process binding a second local address on our port, from which
 * it could send with IP_PKTINFO naming our address as the source (our
 * address and port: helper-18 forged responses, requests and acks that
 * way), is refused: the stack holds its port on the wildcard address too.
 * Checked for a plain bind, SO_REUSEADDR, and -- as another user, when
 * the test may switch users -- SO_REUSEPORT (the same user's reuse-port
 * sockets may share a port: design.md, "Source ports").
 */
static int second_bind(const char *addr, uint16_t port, int opt)
{
	struct sockaddr_storage ss;
	size_t len;
	int fd, one = 1, rc, e;

	nt_sockaddr(addr, port, &ss, &len);
	fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
	else
		setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (opt)
		setsockopt(fd, SOL_SOCKET, opt, &one, sizeof(one));
	rc = bind(fd, (struct sockaddr *)&ss, (socklen_t)len);
	e = errno;
	close(fd);
	return rc == 0 ? 0 : e;
}

static void port_held_on_every_address(const char *mine, const char *other,
				       bool lanes)
{
	struct uhoma_stack *st = udp_stack(mine);
	struct uhoma_sock *s[2];
	pid_t pid;
	int status;

	if (!st) {
		print_message("    no %s here: skipped\n", mine);
		return;
	}
	if (!lanes) {             /* one socket per port, no lane group */
		struct uhoma_config cfg;

		uhoma_stack_destroy(st);
		uhoma_config_default(&cfg);
		snprintf(cfg.addr, sizeof(cfg.addr), "%s", mine);
		cfg.lanes = 0;
		assert_int_equal(uhoma_stack_create(&cfg, &st), UHOMA_OK);
	}
	assert_int_equal(uhoma_socket(st, 0, &s[0]), UHOMA_OK);
	assert_int_equal(uhoma_socket(st, 7123, &s[1]), UHOMA_OK);
	for (int i = 0; i < 2; i++) {
		uint16_t port = (uint16_t)uhoma_port(s[i]);

		assert_int_equal(second_bind(other, port, 0), EADDRINUSE);
		assert_int_equal(second_bind(other, port, SO_REUSEADDR),
				 EADDRINUSE);
		if (geteuid() != 0)
			continue;
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (setgid(65534) || setuid(65534))
				_exit(2);
			_exit(second_bind(other, port, SO_REUSEPORT) ==
			      EADDRINUSE ? 0 : 1);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	/* One user's stacks on other addresses may share the port number (a
	 * host per loopback address); a second on the same address, or one
	 * on the wildcard, may not. */
	{
		struct uhoma_stack *st2 = udp_stack(other), *st3 = udp_stack(mine);
		struct uhoma_stack *any = udp_stack(strchr(mine, ':') ? "::"
								      : "0.0.0.0");
		struct uhoma_sock *s2, *dup;

		/* (fd00::99 is no address of this host: a stack on it is
		 * refused. IPv4 only.) */
		if (strchr(mine, ':'))
			assert_null(st2);
		else
			assert_non_null(st2);
		assert_non_null(st3);
		assert_non_null(any);
		if (st2)
			assert_int_equal(uhoma_socket(st2, 7123, &s2),
					 UHOMA_OK);
		assert_int_equal(uhoma_socket(st3, 7123, &dup),
				 UHOMA_ERR_ADDR_IN_USE);
		assert_int_equal(uhoma_socket(any, 7123, &dup),
				 UHOMA_ERR_ADDR_IN_USE);
		if (!strchr(mine, ':'))
			uhoma_close(s2);
		uhoma_stack_destroy(any);
		uhoma_stack_destroy(st3);
		if (st2)
			uhoma_stack_destroy(st2);
	}
	/* Closed, the port is free on every address again. */
	for (int i = 0; i < 2; i++) {
		uint16_t port = (uint16_t)uhoma_port(s[i]);

		uhoma_close(s[i]);
		assert_int_equal(second_bind(other, port, 0), 0);
	}
	uhoma_stack_destroy(st);
}

static void udp__port_held_on_every_address(void **state)
{
	(void)state;
	port_held_on_every_address("127.0.0.1", "127.0.0.2", true);
	port_held_on_every_address("127.0.0.1", "127.0.0.2", false);
	if (have_ipv6_loopback())
		port_held_on_every_address("::1", "fd00::99", true);
}

/* A server stack echoing on a port (one thread) and a client stack,
 * both made from one configuration. */
struct duo {
	struct uhoma_stack *sst, *cst;
	struct uhoma_sock *srv, *cli;
	void *sreg, *creg;
	struct nt_echo echo;
};

static void duo_open(struct duo *d, const struct uhoma_config *cfg,
		     uint16_t port)
{
	assert_int_equal(uhoma_stack_create(cfg, &d->sst), UHOMA_OK);
	assert_int_equal(uhoma_stack_create(cfg, &d->cst), UHOMA_OK);
	assert_int_equal(uhoma_socket(d->sst, port, &d->srv), UHOMA_OK);
	assert_int_equal(uhoma_socket(d->cst, 0, &d->cli), UHOMA_OK);
	d->sreg = nt_buffers(d->srv, NT_REGION);
	d->creg = nt_buffers(d->cli, NT_REGION);
	nt_echo_start(&d->echo, d->srv, 1);
}

/* Stops the echo (its counts stay readable) and closes everything. */
static void duo_close(struct duo *d)
{
	nt_echo_stop(&d->echo);
	uhoma_close(d->cli);
	uhoma_close(d->srv);
	uhoma_stack_destroy(d->cst);
	uhoma_stack_destroy(d->sst);
	nt_unmap(d->sreg, NT_REGION);
	nt_unmap(d->creg, NT_REGION);
}

/* Whether @a and @b name the same IPv4 address (plain or v4-mapped) and
 * port. */
static bool same_ipv4_and_port(const struct sockaddr_storage *a,
			       const struct sockaddr_storage *b)
{
	uint32_t ip[2];
	uint16_t pt[2];
	const struct sockaddr_storage *ss[2] = { a, b };

	for (int i = 0; i < 2; i++) {
		if (ss[i]->ss_family == AF_INET) {
			const struct sockaddr_in *in = (const void *)ss[i];

			memcpy(&ip[i], &in->sin_addr, 4);
			pt[i] = in->sin_port;
		} else {
			const struct sockaddr_in6 *in6 = (const void *)ss[i];

			if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
				return false;
			memcpy(&ip[i], &in6->sin6_addr.s6_addr[12], 4);
			pt[i] = in6->sin6_port;
		}
	}
	return ip[0] == ip[1] && pt[0] == pt[1];
}

/*
 * A server on the wildcard, addressed through another loopback address:
 * 127.0.0.2, or the 127.0.1.1 that Debian's /etc/hosts gives the host's
 * own name. The request leaves from 127.0.0.1 and the server's answers
 * leave from there too; the client finds its RPC by id, as the module
 * does, so they count. A 100 B echo (one packet each way) and a 300 KB
 * one (granted both ways), each answered, each run once.
 */
static void udp__other_loopback_addresses(void **state)
{
	static const char *const via[] = { "127.0.0.2", "127.0.1.1",
					   "::ffff:127.0.0.3" };
	static const size_t lens[] = { 100, 300000 };
	struct uhoma_config cfg;
	struct uhoma_sock *cli;
	struct duo d;
	uint8_t *buf = malloc(300000);
	uint16_t port = (uint16_t)(30000 + getpid() % 2000);
	unsigned n = 0;

	(void)state;
	assert_non_null(buf);
	uhoma_config_default(&cfg);
	snprintf(cfg.addr, sizeof(cfg.addr), "::");
	cfg.dedup_quiet_ms = 200;
	duo_open(&d, &cfg, port);
	cli = d.cli;
	for (size_t a = 0; a < sizeof(via) / sizeof(via[0]); a++)
		for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			struct sockaddr_storage to;
			struct uhoma_msg m;
			size_t to_len;
			uint64_t id;
			int rc;

			nt_sockaddr(via[a], port, &to, &to_len);
			nt_fill(buf, lens[k], a * 2 + k);
			assert_int_equal(uhoma_send(cli, (struct sockaddr *)&to,
						    to_len, buf, lens[k], 0, 0,
						    &id), UHOMA_OK);
			memset(&m, 0, sizeof(m));
			rc = uhoma_recv(cli, &m, 0, 5 * 1000000000ll);
			if (rc != (int)lens[k])
				fail_msg("via %s, %zu B: %d", via[a], lens[k],
					 rc);
			assert_true(m.id == id);
			assert_true(nt_check(cli, &m, lens[k], a * 2 + k));
			/* The response names the server as the client
			 * addressed it. */
			assert_true(same_ipv4_and_port(&m.peer, &to));
			uhoma_msg_release(cli, &m);
			n++;
		}
	/* Every host's state is let go once quiet, the aliases' too: the
	 * acks owed them went out at once (helper-42: each alias's peer was
	 * kept for good, and max_peers filled). */
	{
		struct uhoma_metrics met;
		double end = nt_now() + 5;

		do {
			usleep(50 * 1000);
			uhoma_metrics(d.cst, &met);
		} while (met.peers != 0 && nt_now() < end);
		assert_int_equal(met.peers, 0);
	}
	duo_close(&d);
	assert_int_equal(atomic_load(&d.echo.served), n);
	assert_int_equal(atomic_load(&d.echo.dups), 0);
	free(buf);
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * A client that spins on non-blocking receives (MSG_DONTWAIT, as a poll
 * loop does) gets its responses as they arrive. Each such call that found
 * nothing pushed on the grace in which the receive threads leave the
 * sockets to a thread that has just taken a message, so that nobody read
 * them until the timer's nudge (helper-43: responses 1-2 ms late, 0.7 K
 * RPC/s against TCP's 30 K). Here a tick is 100 ms.
 */
static void udp__nonblocking_spinner_not_left_to_the_tick(void **state)
{
	struct uhoma_config cfg;
	struct uhoma_stack *cst;
	struct uhoma_sock *cli;
	struct sockaddr_storage to;
	struct duo d;
	uint8_t buf[100] = { 0 };
	size_t to_len;
	uint16_t port = (uint16_t)(28000 + getpid() % 2000);
	double t0, rtt[40];

	(void)state;
	uhoma_config_default(&cfg);
	snprintf(cfg.addr, sizeof(cfg.addr), "127.0.0.1");
	cfg.tick_us = 100000;
	duo_open(&d, &cfg, port);
	cst = d.cst;
	cli = d.cli;
	nt_sockaddr("127.0.0.1", port, &to, &to_len);
	for (int i = 0; i < 40; i++) {
		struct uhoma_msg m;
		uint64_t id;
		int rc;

		t0 = nt_now();
		assert_int_equal(uhoma_send(cli, (struct sockaddr *)&to,
					    to_len, buf, sizeof(buf), 0, 0,
					    &id), UHOMA_OK);
		do {
			uint64_t grace = uh_runtime_grace_ns(cst);

			memset(&m, 0, sizeof(m));
			rc = uhoma_recv(cli, &m, UHOMA_NONBLOCK, 0);
			/* Told AGAIN, it does not push the grace on. */
			if (rc == UHOMA_ERR_AGAIN)
				assert_true(uh_runtime_grace_ns(cst) <= grace);
		} while (rc == UHOMA_ERR_AGAIN && nt_now() - t0 < 30);
		assert_int_equal(rc, (int)sizeof(buf));
		assert_true(m.id == id);
		uhoma_msg_release(cli, &m);
		rtt[i] = nt_now() - t0;
	}
	qsort(rtt, 40, sizeof(rtt[0]), by_double);
	print_message("    40 RPCs: median %.2f ms, 3 in 4 within %.2f ms, "
		      "most %.2f ms\n", rtt[20] * 1000, rtt[30] * 1000,
		      rtt[39] * 1000);
	/* Loopback takes tens of microseconds, a few milliseconds under the
	 * sanitizers on a busy host; the timer's nudge 100 to 200. */
	assert_true(rtt[30] < 0.03);
	duo_close(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(udp__refused_port_costs_no_other_send),
		UH_TEST(udp__manual_pollers_share_ticks),
		UH_TEST(udp__local_unsched),
		UH_TEST(udp__many_ports_behind),
		UH_TEST(udp__late_local_server_is_not_dead),
		UH_TEST(udp__unbound_port_not_connected_ipv4),
		UH_TEST(udp__unbound_port_not_connected_ipv6),
		UH_TEST(udp__ipv4_two_processes),
		UH_TEST(udp__ipv6_two_processes),
		UH_TEST(udp__port_rules),
		UH_TEST(udp__mtu_per_destination),
		UH_TEST(udp__port_offset),
		UH_TEST(udp__low_port_unprivileged),
		UH_TEST(udp__path_mtu_falls),
		UH_TEST(udp__forged_source_port_dropped),
		UH_TEST(udp__port_held_on_every_address),
		UH_TEST(udp__other_loopback_addresses),
		UH_TEST(udp__nonblocking_spinner_not_left_to_the_tick),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
