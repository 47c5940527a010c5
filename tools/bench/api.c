/*
 * api.c - `uhoma-bench api` and compare's Linux-API rows: uhoma as an
 * existing Linux Homa program sees it.
 *
 * Runs uhoma-apiload (apiload.c: the module's socket API only, with the
 * thread structure of Linux Homa programs) twice: as a server and a client
 * process under LD_PRELOAD=libuhoma-preload.so with the library's default
 * settings (UHOMA_CONFIG unset unless --config is given), then the same
 * two programs over TCP. Neither process is pinned: the scheduler places
 * every thread, as it does for users. Both runs' RESULT lines are parsed
 * and compared.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* The directory of this executable, with a trailing slash. */
static void exe_dir(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *slash;

	buf[n > 0 ? n : 0] = '\0';
	slash = strrchr(buf, '/');
	if (slash)
		slash[1] = '\0';
	else
		snprintf(buf, len, "./");
}

/* @o's path if set, else the first readable of @dir + each candidate. */
static bool find_file(const char *given, const char *const *cand,
		      char *out, size_t len)
{
	char dir[PATH_MAX];

	if (given && given[0]) {
		snprintf(out, len, "%s", given);
		return access(out, R_OK) == 0;
	}
	exe_dir(dir, sizeof(dir));
	for (; *cand; cand++) {
		snprintf(out, len, "%s%s", dir, *cand);
		if (access(out, R_OK) == 0)
			return true;
	}
	return false;
}

static bool find_tools(const struct bench_opts *o, char *apiload,
		       char *preload)
{
	static const char *const loads[] = { "uhoma-apiload", NULL };
	static const char *const libs[] = {
		"libuhoma-preload.so", "../lib/libuhoma-preload.so",
		"../lib/x86_64-linux-gnu/libuhoma-preload.so",
		"../lib64/libuhoma-preload.so", NULL,
	};

	if (!find_file(o->apiload, loads, apiload, PATH_MAX)) {
		fprintf(stderr, "uhoma-bench: uhoma-apiload not found (next "
				"to uhoma-bench, or --apiload PATH)\n");
		return false;
	}
	if (!find_file(o->preload, libs, preload, PATH_MAX)) {
		fprintf(stderr, "uhoma-bench: libuhoma-preload.so not found "
				"(--preload PATH)\n");
		return false;
	}
	return true;
}

/* Forks @argv with stdout into *@out; LD_PRELOAD=@preload (NULL: none),
 * UHOMA_CONFIG=@config (empty: unset, the defaults), on every CPU. */
static pid_t spawn(char *const argv[], const char *preload,
		   const char *config, int *out)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid == 0) {
		cpu_set_t all;
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		CPU_ZERO(&all);
		for (long i = 0; i < n && i < CPU_SETSIZE; i++)
			CPU_SET((size_t)i, &all);
		sched_setaffinity(0, sizeof(all), &all);
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		if (preload)
			setenv("LD_PRELOAD", preload, 1);
		else
			unsetenv("LD_PRELOAD");
		if (config && config[0])
			setenv("UHOMA_CONFIG", config, 1);
		else
			unsetenv("UHOMA_CONFIG");
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	*out = fds[0];
	return pid;
}

/* Reads @fd until a line starting with @prefix (copied to @line), for at
 * most @timeout_ms. */
static bool read_line(int fd, const char *prefix, char *line, size_t len,
		      int timeout_ms)
{
	char buf[4096];
	size_t have = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char *nl;
		ssize_t n;

		if (poll(&p, 1, timeout_ms) != 1)
			return false;
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return false;
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			if (strncmp(buf, prefix, strlen(prefix)) == 0) {
				size_t l = strlen(buf);

				if (l >= len)
					l = len - 1;
				memcpy(line, buf, l);
				line[l] = '\0';
				return true;
			}
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
		}
		if (have == sizeof(buf) - 1)
			have = 0;     /* a line too long to be ours */
	}
}

static double field(const char *line, const char *key)
{
	char pat[32];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(line, pat);
	return p ? atof(p + strlen(pat)) : 0;
}

/* argv for execv: @prog, then @n built arguments, then NULL. */
static void set_argv(char **argv, char *prog, char (*args)[64], int n)
{
	argv[0] = prog;
	for (int i = 0; i < n; i++)
		argv[i + 1] = args[i];
	argv[n + 1] = NULL;
}

#define ARG(...) snprintf(args[na], sizeof(args[na]), __VA_ARGS__), na++

int api_run(const struct bench_opts *o, bool homa,
	    const struct api_shape *sh, struct api_result *r)
{
	char apiload[PATH_MAX], preload[PATH_MAX], line[512];
	char args[32][64], *argv[34];
	unsigned port = 4100 + (unsigned)getpid() % 2000 * 8;
	int na, sfd = -1, cfd = -1, status;
	pid_t server, client;

	memset(r, 0, sizeof(*r));
	if (!find_tools(o, apiload, preload))
		return -1;
	/* The server. */
	na = 0;
	ARG("server");
	ARG("--proto"); ARG("%s", homa ? "homa" : "tcp");
	ARG("--addr"); ARG("%s", o->server);
	ARG("--port"); ARG("%u", port);
	ARG("--ports"); ARG("%u", sh->server_ports);
	ARG("--port-threads"); ARG("%u", sh->port_threads);
	set_argv(argv, apiload, args, na);
	server = spawn(argv, homa ? preload : NULL, o->config, &sfd);
	if (server < 0 || !read_line(sfd, "READY", line, sizeof(line), 10000)) {
		fprintf(stderr, "uhoma-bench: the %s api server did not start\n",
			homa ? "uhoma" : "tcp");
		if (server > 0) {
			kill(server, SIGKILL);
			waitpid(server, NULL, 0);
		}
		if (sfd >= 0)
			close(sfd);
		return -1;
	}
	/* The client. */
	na = 0;
	ARG("client");
	ARG("--proto"); ARG("%s", homa ? "homa" : "tcp");
	ARG("--addr"); ARG("%s", o->server);
	ARG("--port"); ARG("%u", port);
	ARG("--ports"); ARG("%u", sh->server_ports);
	ARG("--client-ports"); ARG("%u", sh->client_ports);
	ARG("--receivers"); ARG("%u", sh->receivers);
	ARG("--outstanding"); ARG("%u", sh->outstanding);
	ARG("--workload"); ARG("%s", sh->workload);
	ARG("--seconds"); ARG("%g", o->seconds);
	ARG("--warmup"); ARG("%g", o->warmup);
	if (sh->gbps > 0) {
		ARG("--gbps"); ARG("%g", sh->gbps);
	}
	if (sh->blocking)
		ARG("--blocking");
	if (o->resp_len) {
		ARG("--response"); ARG("%u", o->resp_len);
	}
	set_argv(argv, apiload, args, na);
	client = spawn(argv, homa ? preload : NULL, o->config, &cfd);
	r->ok = client > 0 &&
		read_line(cfd, "RESULT", line, sizeof(line),
			  (int)((o->seconds + o->warmup) * 1000) + 30000);
	if (client > 0) {
		if (!r->ok)
			kill(client, SIGKILL);
		waitpid(client, &status, 0);
	}
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	close(sfd);
	if (cfd >= 0)
		close(cfd);
	if (!r->ok) {
		fprintf(stderr, "uhoma-bench: the %s api client gave no "
				"result\n", homa ? "uhoma" : "tcp");
		return -1;
	}
	r->rpcs = (unsigned long long)field(line, "rpcs");
	r->rps = field(line, "rps");
	r->gbps = field(line, "gbps");
	r->p50 = field(line, "p50");
	r->p99 = field(line, "p99");
	r->short_p50 = field(line, "short_p50");
	r->short_p99 = field(line, "short_p99");
	r->errors = (unsigned long long)field(line, "errors");
	return 0;
}

void api_shape_from(const struct bench_opts *o, struct api_shape *sh)
{
	memset(sh, 0, sizeof(*sh));
	sh->blocking = o->blocking;
	sh->outstanding = o->outstanding;
	sh->gbps = o->gbps;
	sh->client_ports = o->client_ports;
	sh->receivers = o->receivers;
	sh->server_ports = o->server_ports;
	sh->port_threads = o->port_threads;
	snprintf(sh->workload, sizeof(sh->workload), "%s", o->workload);
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : 0;
}

int run_api(const struct bench_opts *o)
{
	struct api_shape sh;
	struct api_result r[2];

	api_shape_from(o, &sh);
	fprintf(stderr, "api: workload %s%s, %u client port(s) x (1 sender"
			" + %u receiver(s)), %u server port(s) x %u thread(s),"
			" %s; no pinning\n",
		sh.workload,
		sh.blocking ? ", blocking client (one in flight)" : "",
		sh.client_ports, sh.blocking ? 0 : sh.receivers,
		sh.server_ports, sh.port_threads,
		o->config[0] ? o->config : "default settings");
	if (api_run(o, true, &sh, &r[0]) || api_run(o, false, &sh, &r[1]))
		return 1;
	printf("%-28s %12s %12s %8s\n", "Linux API", "uhoma", "TCP", "ratio");
	printf("%-28s %12.0f %12.0f %8.2f\n", "RPC/s", r[0].rps, r[1].rps,
	       ratio(r[0].rps, r[1].rps));
	printf("%-28s %12.2f %12.2f %8.2f\n", "Gbit/s (requests)", r[0].gbps,
	       r[1].gbps, ratio(r[0].gbps, r[1].gbps));
	printf("%-28s %12.1f %12.1f %8.2f\n", "RTT p50 (us)", r[0].p50,
	       r[1].p50, ratio(r[0].p50, r[1].p50));
	printf("%-28s %12.1f %12.1f %8.2f\n", "RTT p99 (us)", r[0].p99,
	       r[1].p99, ratio(r[0].p99, r[1].p99));
	printf("%-28s %12.1f %12.1f %8.2f\n", "< 1000 B: p50 (us)",
	       r[0].short_p50, r[1].short_p50,
	       ratio(r[0].short_p50, r[1].short_p50));
	printf("%-28s %12.1f %12.1f %8.2f\n", "< 1000 B: p99 (us)",
	       r[0].short_p99, r[1].short_p99,
	       ratio(r[0].short_p99, r[1].short_p99));
	if (r[0].errors)
		printf("uhoma RPC errors: %llu\n", r[0].errors);
	printf("SUMMARY api_rps_vs_tcp=%.2f api_p50_vs_tcp=%.2f "
	       "api_short_p99_vs_tcp=%.2f\n",
	       ratio(r[0].rps, r[1].rps), ratio(r[0].p50, r[1].p50),
	       ratio(r[0].short_p99, r[1].short_p99));
	return 0;
}
