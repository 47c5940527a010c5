/*
 * bench.h - uhoma-bench: shared definitions.
 *
 * uhoma-bench measures RPC round trips and throughput for three transports
 * with the same request/response protocol: uhoma (Homa over UDP), TCP
 * (length-prefixed messages over a pool of connections or one), and raw
 * UDP ping-pong (the floor for small messages). Every request starts with
 * a struct bench_hdr naming the response length; the server answers with
 * that many bytes.
 *
 * Files: main.c (command line), driver.c (load generation: closed loop or
 * Poisson open loop, one generator per client thread), stats.c (latency
 * by size bucket, slowdown, CSV), plot.c (SVG), compare.c (the side-by-side
 * floor/TCP/uhoma run), xport_*.c (the transports).
 */
#ifndef UHOMA_BENCH_BENCH_H
#define UHOMA_BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#define BENCH_HOMA_PORT 4000
#define BENCH_TCP_PORT 5000
#define BENCH_UDP_PORT 6000
#define BENCH_MAX_LEN 1000000u
#define BENCH_MAX_SLOTS 4096        /* outstanding RPCs per client thread */
#define BENCH_MAX_REPEAT 50          /* compare --repeat */
#define BENCH_MAX_SERVERS 64        /* --servers: destinations of a client */

/* The first bytes of every request. */
struct bench_hdr {
	uint32_t resp_len;   /* bytes the server must answer with */
	uint32_t lane;       /* TCP: connection lane the client used */
};

enum bench_proto { PROTO_HOMA, PROTO_TCP, PROTO_UDP };

struct bench_opts {
	enum bench_proto proto;
	char server[64];        /* server IP address */
	char servers[1024];     /* --servers A,B,...: each RPC goes to one
				 * of them at random ("": --server) */
	char self[64];          /* node: this host's address ("": server) */
	double start_at;        /* node: CLOCK_REALTIME second to start the
				 * clients at (0: now) */
	double linger;          /* node: seconds to go on serving after */
	const char *samples;    /* node: every measured RPC, "len rtt_ns" */
	bool serve_only;        /* node: no client */
	char workload[16];      /* "w1".."w5", "starve" or a length */
	double gbps;            /* open loop: offered request bytes; 0 =
				 * closed loop */
	unsigned outstanding;   /* closed loop: RPCs in flight per thread */
	unsigned threads;       /* client threads */
	unsigned conns;         /* TCP: connections per thread */
	unsigned server_threads;/* server threads (per port) */
	double seconds;         /* measured time */
	double warmup;          /* unmeasured time first */
	uint32_t resp_len;      /* 0: as long as the request */
	unsigned poll_us;       /* busy-poll before blocking (all protocols) */
	int cpu;                /* pin to this CPU; -1: no pinning */
	char config[256];       /* uhoma config overrides "k=v,..." */
	double baseline_us;     /* slowdown: best-case small RTT */
	double link_gbps;       /* slowdown: per-byte cost */
	unsigned mtu;           /* slowdown: 0: message bytes cross the link
				 * once; else request and response, as
				 * Homa packets of this MTU (with UDP, IP
				 * and Ethernet headers) */
	unsigned hops;          /* slowdown with mtu: store-and-forward
				 * links each way (each adds a packet's
				 * time; 1 unless set) */
	unsigned buckets;       /* size buckets in reports */
	const char *csv, *svg;  /* output files (NULL: none) */
	char title[128];        /* report: the plot's title */
	bool progress;          /* progress line on stderr */
	bool hol;               /* client: one 100-byte RPC at a time next to
				 * a stream of 1 MB requests (lane 1) */
	bool zerocopy;          /* uhoma client: UHOMA_ZEROCOPY requests, a
				 * buffer per slot */
	/* `api` (api.c): the Linux-API programs' thread structure. */
	bool blocking;          /* the sender waits for each response */
	unsigned client_ports;  /* client sockets, a sender thread each */
	unsigned receivers;     /* receiver threads per client socket */
	unsigned server_ports;  /* server sockets */
	unsigned port_threads;  /* threads per server socket */
	unsigned repeat;        /* compare: rounds (1..BENCH_MAX_REPEAT) */
	char apiload[256];      /* uhoma-apiload (default: next to us) */
	char preload[256];      /* libuhoma-preload.so (default: found) */
};

void bench_opts_default(struct bench_opts *o);

/* ---- transports ------------------------------------------------------- */

struct xclient;

struct xclient_ops {
	/* Starts an RPC: @len request bytes, answer @resp_len, on @lane
	 * (TCP: lane 0 uses the pool, lane 1 its own connection). @tag comes
	 * back from wait(). 0 or -errno. */
	int (*send)(struct xclient *c, uint32_t len, uint32_t resp_len,
		    uint32_t tag, unsigned lane);
	/* Waits up to @timeout_ns for one response: 1 with *@tag set, 0 on
	 * timeout, < 0 on a failed RPC (*@tag set when known). */
	int (*wait)(struct xclient *c, uint32_t *tag, int64_t timeout_ns);
	void (*close)(struct xclient *c);
};

struct xclient {
	const struct xclient_ops *ops;
};

/* Per-process setup (uhoma: the stack) before client threads start. */
int homa_client_init(const struct bench_opts *o);
void homa_client_fini(void);
/* Zeros to send (never written): message bytes after the header. */
extern uint8_t bench_zeros[BENCH_MAX_LEN + 8];
/* The process's stack's counters, "name value" a line (none: nothing). */
void homa_print_metrics(FILE *f);
struct xclient *homa_client_open(const struct bench_opts *o);
struct xclient *tcp_client_open(const struct bench_opts *o);
struct xclient *udp_client_open(const struct bench_opts *o);

/* Servers: start threads serving @o's protocol; return 0 or -1. */
int homa_server_start(const struct bench_opts *o);
int tcp_server_start(const struct bench_opts *o);
int udp_server_start(const struct bench_opts *o);

/* ---- measurement ------------------------------------------------------ */

struct sample {
	uint64_t rtt_ns;     /* (a TCP RTT on a lossy cluster link can
			      * pass the 4.3 s of 32 bits) */
	uint32_t len;        /* request length */
};

struct samples {
	struct sample *s;
	size_t n, cap;
};

int samples_add(struct samples *v, uint32_t len, uint64_t rtt_ns);
void samples_free(struct samples *v);

struct run_result {
	struct samples all;        /* lane-0 (or every) completed RPC */
	struct samples hol_small;  /* hol mode: the 100-byte RPCs */
	uint64_t rpcs, bytes;      /* completed in the measured window */
	uint64_t errors, skipped;  /* failed RPCs; arrivals with no slot */
	int last_error;            /* -errno of the latest failure, or 0 */
	double seconds;
};

/* Runs the client side of @o against a running server. */
int run_client(const struct bench_opts *o, struct run_result *r);
void run_result_free(struct run_result *r);

/* Percentile @p (0..100) of the RTTs in @v (sorts @v). */
double samples_pct_us(struct samples *v, double p);

/* Per-bucket report. */
struct bucket {
	uint32_t max_len;
	size_t count;
	double p50, p99, p999;        /* RTT, microseconds */
	double s50, s99, s999;        /* slowdown */
};

/* The best RTT for a request of @len bytes (microseconds): the slowdown's
 * denominator. */
double bench_ideal_us(const struct bench_opts *o, uint32_t len);
/* Homa payload bytes in one packet of an @mtu-byte IP packet. */
uint32_t bench_payload(unsigned mtu);
/* Bytes on an Ethernet link (headers from Ethernet's on, no FCS or gap)
 * of a @len-byte Homa message in packets of @mtu bytes. */
uint64_t bench_wire_bytes(uint32_t len, unsigned mtu);

/* Splits @v into @nb buckets of about equal counts by length; returns the
 * number filled. Sorts @v. */
size_t samples_buckets(struct samples *v, const struct bench_opts *o,
		       struct bucket *out, size_t nb);

void report_print(const char *label, const struct bucket *b, size_t n);
int report_csv(const char *path, const char *label, const struct bucket *b,
	       size_t n, bool append);

/* An SVG of slowdown against message length for several runs. */
struct plot_series {
	const char *label;
	const struct bucket *b;
	size_t n;
};
int plot_svg(const char *path, const char *title,
	     const struct plot_series *s, size_t ns);

/* `uhoma-bench api` (api.c): uhoma-apiload under the preload, with the
 * defaults, against the same program over TCP. */
struct api_shape {
	bool blocking;
	unsigned outstanding, client_ports, receivers;
	unsigned server_ports, port_threads;
	double gbps;            /* open loop; 0: closed */
	char workload[16];
};

struct api_result {
	double rps, gbps, p50, p99, short_p50, short_p99;  /* µs */
	unsigned long long rpcs, errors;
	bool ok;
};

void api_shape_from(const struct bench_opts *o, struct api_shape *sh);
/* One run of @sh over uhoma (@homa) or TCP; 0 or -1 (said on stderr). */
int api_run(const struct bench_opts *o, bool homa, const struct api_shape *sh,
	    struct api_result *r);
int run_api(const struct bench_opts *o);

/* `uhoma-bench node` (node.c): one host of a cluster, server and client
 * in one process; `uhoma-bench report` the buckets of nodes' samples. */
int run_node(const struct bench_opts *o);
int report_run(const struct bench_opts *o, int argc, char **argv);
/* Samples as "len rtt_ns" lines: write @v to @path; add @path's to @v. */
int samples_write(const char *path, const struct samples *v);
int samples_read(const char *path, struct samples *v);

/* `uhoma-bench compare` */
int run_compare(const struct bench_opts *o, int argc, char **argv);

/* A server process on the other CPU for local runs; pid or -1. */
int bench_spawn_server(const struct bench_opts *o);
void bench_stop_server(int pid);

/* Small helpers. */
socklen_t bench_addr(const struct bench_opts *o, uint16_t port,
		     struct sockaddr_storage *ss);
/* The client's destinations (--servers, else --server): how many, and
 * the @i'th's address at @port (0 if it is not an address). */
unsigned bench_nservers(const struct bench_opts *o);
socklen_t bench_server_addr(const struct bench_opts *o, unsigned i,
			    uint16_t port, struct sockaddr_storage *ss);
uint64_t bench_now_ns(void);
/* CLOCK_REALTIME in seconds: the clock --start-at names, the same on
 * every host of a cluster. */
double bench_realtime_s(void);
/* @ns (>= 0) as a timespec, for waits with nanosecond timeouts: a
 * millisecond wait would make an open-loop client late for arrivals. */
struct timespec bench_timespec(int64_t ns);
void bench_pin(int cpu);
const char *proto_name(enum bench_proto p);

#endif /* UHOMA_BENCH_BENCH_H */
