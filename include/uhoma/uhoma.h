/*
 * uhoma.h - the public API of uhoma, the Homa transport in user space.
 *
 * All of it: errors, configuration, stacks, sockets, sending and receiving,
 * the buffer region, RPC state, the send budget, readiness and metrics.
 * <uhoma/memnet.h> adds the in-memory network; <uhoma/homa.h> is the Linux
 * module's socket API, for programs run under libuhoma-preload.so.
 *
 * Error convention: every function that can fail returns an int that is 0 (or
 * a non-negative count) on success and one of the negative UHOMA_ERR_* codes
 * below on failure. Codes lie in a reserved band (-201 .. -599) so they can
 * never be mistaken for a length; codes at or below UHOMA_ERR_FATAL mean the
 * object that returned them can no longer be used.
 *
 * Thread safety: every function declared here may be called from any thread.
 */
#ifndef UHOMA_UHOMA_H
#define UHOMA_UHOMA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UHOMA_VERSION_MAJOR 0
#define UHOMA_VERSION_MINOR 1
#define UHOMA_VERSION_PATCH 0

/* Error codes. Each function's comment lists the ones it can return. */
enum uhoma_error {
	UHOMA_OK = 0,
	UHOMA_ERR_INVALID_ARGUMENT = -201, /* an argument is out of range */
	UHOMA_ERR_NOMEM = -202,            /* memory could not be allocated */
	UHOMA_ERR_AGAIN = -203,            /* non-blocking call would block */
	UHOMA_ERR_TIMEDOUT = -204,         /* peer silent past the timeout */
	UHOMA_ERR_SHUTDOWN = -205,         /* socket or stack is shut down */
	UHOMA_ERR_ADDR_IN_USE = -206,      /* port already bound */
	UHOMA_ERR_NOT_FOUND = -207,        /* no such RPC */
	UHOMA_ERR_INTERRUPTED = -208,      /* wait interrupted by a signal */
	UHOMA_ERR_NOT_CONNECTED = -209,    /* peer has no such port */
	UHOMA_ERR_HOST_UNREACHABLE = -210, /* peer address unreachable */
	UHOMA_ERR_ABORTED = -211,          /* RPC aborted by the application */
	UHOMA_ERR_MSG_TOO_LONG = -212,     /* message over 1,000,000 bytes */
	UHOMA_ERR_NO_BUFFER = -213,        /* no receive buffer region set,
					    * or it is full */
	UHOMA_ERR_AF_NOT_SUPPORTED = -214, /* address family mismatch */
	UHOMA_ERR_PERMISSION = -215,       /* operation needs a privilege */
	UHOMA_ERR_SYSTEM = -216,           /* a system call failed */
	UHOMA_ERR_PROTO_NOT_SUPPORTED = -217, /* peer speaks no Homa */
	UHOMA_ERR_NO_FILES = -218,         /* out of file descriptors
					    * (RLIMIT_NOFILE or the system's) */
	UHOMA_ERR_BAD_ADDRESS = -219,      /* a buffer the caller named
					    * cannot be read */
	UHOMA_ERR_FATAL = -500,            /* codes <= this are fatal */
	UHOMA_ERR_INTERNAL = -501,         /* invariant broken inside uhoma */
};

/*
 * uhoma_strerror - a constant English sentence for @code (never NULL).
 * Unknown codes give "unknown uhoma error".
 */
const char *uhoma_strerror(int code);

/* uhoma_err_is_fatal - non-zero when @code is at or below UHOMA_ERR_FATAL. */
int uhoma_err_is_fatal(int code);

/*
 * uhoma_err_to_errno - the errno value the Linux Homa module uses for the
 * same failure (EINVAL, ENOMEM, ...); 0 for UHOMA_OK, EIO for unknown codes.
 */
int uhoma_err_to_errno(int code);

/* uhoma_version - "MAJOR.MINOR.PATCH" of the library actually linked. */
const char *uhoma_version(void);

/* ------------------------------------------------------------------------
 * Stacks, sockets and RPCs
 *
 * A stack is one Homa endpoint: an address on a carrier (UDP by default),
 * the runtime threads that receive packets and run the timer, and any number
 * of sockets. A socket is a Homa port; one socket can be a client and a
 * server at once and talk to any number of peers. An RPC is a request
 * message and its response, named by a 64-bit id: even on the client, the
 * same id with the low bit set on the server.
 *
 * Thread safety: every function may be called from any thread, concurrently,
 * on the same socket -- except uhoma_close() and uhoma_stack_destroy(), which
 * must be the last call on their object (no other call on it may be running
 * or start afterwards). Functions never return to the caller holding a lock.
 *
 * Errors are the negative enum uhoma_error codes above; each comment lists
 * the ones its function can return.
 * ------------------------------------------------------------------------ */

struct sockaddr;
struct uhoma_stack;
struct uhoma_sock;
struct uhoma_memnet;

/* Carriers: how Homa packets travel. */
enum uhoma_carrier {
	UHOMA_CARRIER_UDP = 0,    /* Homa header at the start of a UDP payload */
	UHOMA_CARRIER_MEMNET = 1, /* in-process network (uhoma/memnet.h) */
	UHOMA_CARRIER_IP = 2,     /* IP protocol 146, the Linux module's wire
				   * format: talks to kernel Homa peers;
				   * needs CAP_NET_RAW */
};

#define UHOMA_CONFIG_V1 1
#define UHOMA_MAX_OVERCOMMIT 8   /* most messages granted at once */
#define UHOMA_CONFIG_VERSION UHOMA_CONFIG_V1

/*
 * struct uhoma_config - everything a stack can be told. Fill it with
 * uhoma_config_default(), then change fields. Times are in the units named.
 * Protocol defaults are the Linux module's (homa-protocol.md §4.6).
 */
struct uhoma_config {
	uint32_t version;          /* UHOMA_CONFIG_VERSION */
	/* Carrier. */
	uint32_t carrier;          /* enum uhoma_carrier; default UDP;
				    * UHOMA_CONFIG: udp, memnet or ip */
	char addr[64];             /* local IP address: UDP binds it (default
				    * "::1"; "0.0.0.0"/"::" for all), MEMNET
				    * uses it as this stack's address */
	struct uhoma_memnet *memnet; /* MEMNET only: the network to join */
	uint32_t mtu;              /* bytes per IP packet; 0 (default) =
				    * each destination's route MTU, looked
				    * up once per peer (65536 to loopback
				    * and to this host's own addresses, the
				    * device's MTU elsewhere); non-zero:
				    * this MTU for every destination */
	/* Runtime. */
	uint32_t rx_threads;       /* receive threads; default 1. 0 = manual:
				    * no threads, the caller (or a memnet with
				    * a virtual clock) drives the stack */
	uint32_t tick_us;          /* timer period; default 1000 */
	uint32_t poll_us;          /* uhoma_recv busy-polls at most this long
				    * before sleeping; default 50 */
	/* Protocol. */
	uint32_t unsched_bytes;    /* sent before any grant; default 40000 */
	uint32_t window;           /* granted-but-unreceived bytes per message;
				    * 0 = max_incoming / (active + 1) */
	uint32_t max_incoming;     /* default 400000 */
	uint32_t resend_ticks;     /* silent ticks before a RESEND; default 5 */
	uint32_t resend_interval;  /* ticks between RESENDs; default 5 */
	uint32_t timeout_ticks;    /* silent ticks before ETIMEDOUT; 100 */
	uint32_t request_ack_ticks;/* ticks before NEED_ACK; default 2 */
	uint32_t reap_limit;       /* dead RPCs freed per reap pass; 10 */
	uint32_t num_priorities;   /* 1..8; default 8 */
	/* Scheduling (homa-protocol.md §4.2, §4.3). */
	uint32_t link_mbps;        /* link rate the pacer assumes; 0
				    * (default) = the carrier's: UDP reads
				    * the interface speed (25000 if unknown,
				    * 100000 on loopback), memnet does not
				    * pace */
	uint32_t max_overcommit;   /* messages granted at once, 1..8; 8 */
	uint32_t fifo_grant_increment; /* bytes per FIFO grant; 50000 */
	uint32_t grant_fifo_fraction;  /* per mille of grants to the oldest
					* message, 0..500; default 50 */
	uint32_t pacer_fifo_fraction;  /* per mille of paced bytes to the
					* oldest message, 0..500; default 50 */
	uint32_t max_nic_backlog_us;   /* transmit backlog allowed before
					* DATA waits for the pacer; 5 */
	uint32_t defer_min_bytes;  /* messages with at most this much left
				    * are never paced; default 1000 */
	uint32_t pacer_rt;         /* 1: run the pacer thread SCHED_FIFO if
				    * permitted; default 0 */
	uint32_t gso;              /* 1 (default): UDP GSO/GRO where the
				    * kernel has them and packets are small */
	uint32_t stat;             /* 1 (default): publish metrics in shared
				    * memory for uhoma-stat */
	uint32_t sndbuf;           /* each socket's send budget in bytes
				    * (uhoma_set_sndbuf); 0 = none; default
				    * 8 MiB */
	uint32_t lanes;            /* 1 (default): UDP receives each port's
				    * control packets and short messages in a
				    * queue of their own, read before the
				    * scheduled data (see uhoma(7)) */
	/* At most once (see uhoma(7), "Guarantees"). */
	uint32_t dedup_window;     /* request ids of one client process a
				    * server tracks above its oldest
				    * unfinished one (rounded up to a power of
				    * two); default 65536: 16 KiB at most
				    * per client process */
	uint32_t dedup_quiet_ms;   /* how long a server remembers a client
				    * process with no request alive (and a
				    * stack any host with no RPC alive);
				    * default 10000 */
	uint32_t dedup_mb;         /* memory for those records, every client
				    * together, in MiB (1..1048576); past it
				    * records stop growing (dedup_forgotten)
				    * and a new client takes the place of an
				    * idle one (its host's, or one of a sample
				    * of others' quiet for an RPC timeout),
				    * or, if there is none, its request is
				    * dropped (drop_nomem);
				    * default 64 */
	uint32_t max_peers;        /* hosts a stack keeps state for at once;
				    * past it, packets from new hosts are
				    * dropped (drop_nomem) and sends to
				    * them fail with UHOMA_ERR_NOMEM; default
				    * 262144 */
	uint32_t max_unproven;     /* incoming requests per socket whose
				    * sender has sent one packet and answered
				    * nothing; past it the oldest is ended;
				    * default 4096 */
	uint32_t poll_always;      /* 0 (default): uhoma_recv stops
				    * busy-polling once other threads of the
				    * host have waited for a CPU (runnable
				    * threads > online CPUs) for 48 us in a
				    * row; 1: polls for poll_us regardless */
	uint32_t port_offset;      /* UDP carrier: Homa port P travels as UDP
				    * port P + port_offset (0..16383; default
				    * 0), so that an unprivileged process can
				    * use Homa ports below 1024. Every host
				    * of an application must use the same
				    * offset. Automatic ports use UDP ports
				    * 32768 + offset .. 65535: at least
				    * 16384 of them. */
	uint32_t landing;          /* UDP carrier: 1: a long message's
				    * datagrams after its first are read
				    * straight into the buffer region (a peek
				    * system call each, a copy saved); 0
				    * (default): read and copied, which is
				    * faster where copies are cheap (see
				    * bench/README.md, "Landing") */
	uint32_t local_unsched;    /* above unsched_bytes: messages to a
				    * socket on this host send up to this
				    * many bytes before a grant (at most an
				    * eighth of the kernel's rmem_max x 2),
				    * from unsched_bytes up by a 64th a tick,
				    * back to unsched_bytes on a sign of
				    * loss. More rate between processes, a
				    * longer wait for short messages behind
				    * long ones. 0 (default): off */
};

/*
 * uhoma_config_default - fills @cfg with the defaults, then applies the
 * environment variable UHOMA_CONFIG ("key=value,key=value", keys are the
 * field names above). Code that changes fields afterwards overrides both.
 * Returns UHOMA_OK, or UHOMA_ERR_INVALID_ARGUMENT if UHOMA_CONFIG names an
 * unknown key or a bad value (the other keys still apply).
 */
int uhoma_config_default(struct uhoma_config *cfg);

/*
 * uhoma_config_set - sets the field named @key from the text @value, as
 * UHOMA_CONFIG does. Returns UHOMA_OK or UHOMA_ERR_INVALID_ARGUMENT.
 */
int uhoma_config_set(struct uhoma_config *cfg, const char *key,
		     const char *value);

/*
 * uhoma_config_parse - applies "key=value,key=value" (commas or spaces
 * between items) to @cfg, as UHOMA_CONFIG does. Returns UHOMA_OK, or
 * UHOMA_ERR_INVALID_ARGUMENT if an item is malformed, names an unknown key
 * or a bad value (the other items still apply), or @text is over 1023
 * bytes.
 */
int uhoma_config_parse(struct uhoma_config *cfg, const char *text);

/*
 * uhoma_stack_create - a new stack from @cfg (copied; NULL = defaults).
 * Starts the runtime threads unless cfg->rx_threads is 0.
 * Returns UHOMA_OK with *@out set, UHOMA_ERR_INVALID_ARGUMENT (a bad
 * setting, or an address this host does not have), UHOMA_ERR_NOMEM or
 * UHOMA_ERR_SYSTEM.
 */
int uhoma_stack_create(const struct uhoma_config *cfg,
		       struct uhoma_stack **out);

/*
 * uhoma_stack_destroy - closes every socket still open, stops the threads
 * and frees the stack. Must be the last call on @st.
 */
void uhoma_stack_destroy(struct uhoma_stack *st);

/*
 * uhoma_socket - opens a socket on port @port: 1..32767 binds that port and
 * makes the socket a server; 0 picks a free port at or above 32768 (a
 * client-only socket until uhoma_set_server()). Over UDP the port is the
 * UDP port. Returns UHOMA_OK with *@out set, UHOMA_ERR_INVALID_ARGUMENT
 * (port above 32767), UHOMA_ERR_ADDR_IN_USE, UHOMA_ERR_PERMISSION,
 * UHOMA_ERR_SHUTDOWN (stack being destroyed), UHOMA_ERR_NOMEM,
 * UHOMA_ERR_NO_FILES (out of file descriptors: a UDP port takes up to
 * five) or UHOMA_ERR_SYSTEM.
 */
int uhoma_socket(struct uhoma_stack *st, uint16_t port,
		 struct uhoma_sock **out);

/* uhoma_port - the socket's port. */
uint16_t uhoma_port(const struct uhoma_sock *s);

/*
 * uhoma_bind - moves the socket to port @port (1..32767) and makes it a
 * server, as bind(2) does for a kernel Homa socket opened with port 0.
 * RPCs in progress go on from the new port, as far as at most once allows:
 * a server knows a client by address and port, so a request it has (or
 * ran) under the old port is unknown to it under the new one. A client
 * RPC created before the move that its server then does not know ends
 * with UHOMA_ERR_TIMEDOUT (it may have run) rather than send its request
 * again (moved_unknown in struct uhoma_metrics). @port equal to the
 * current port only succeeds. Returns UHOMA_OK,
 * UHOMA_ERR_INVALID_ARGUMENT (port 0 or above 32767),
 * UHOMA_ERR_ADDR_IN_USE, UHOMA_ERR_PERMISSION, UHOMA_ERR_SHUTDOWN or
 * UHOMA_ERR_SYSTEM. May sleep for an RCU grace period.
 */
int uhoma_bind(struct uhoma_sock *s, uint16_t port);

/*
 * uhoma_set_server - @on non-zero: requests to this socket are accepted;
 * zero: they are dropped. Returns UHOMA_OK or UHOMA_ERR_SHUTDOWN.
 */
int uhoma_set_server(struct uhoma_sock *s, int on);

/* uhoma_is_server - 1 if requests to the socket are accepted, else 0. */
int uhoma_is_server(const struct uhoma_sock *s);

/*
 * uhoma_set_buffers - gives the socket its receive buffer region: @length
 * bytes at @region, which the application allocates (page-aligned, normally
 * mmap) and must keep mapped until uhoma_close() returns. uhoma cuts it into
 * 64 KiB pages (bpages) and writes incoming messages there. At least
 * 2 x 64 KiB + 2,000,000 bytes, at most 4 GiB, and only once per socket.
 * Messages cannot be received before it is set. A region not mapped
 * writable from end to end, or a file's mapping that reaches past the
 * file's end, fails with UHOMA_ERR_BAD_ADDRESS (it would crash the
 * process at the first message; a file's pages are read in to tell, and
 * a file cut shorter later is the application's to avoid). Returns UHOMA_OK,
 * UHOMA_ERR_INVALID_ARGUMENT, UHOMA_ERR_BAD_ADDRESS or UHOMA_ERR_SHUTDOWN.
 */
int uhoma_set_buffers(struct uhoma_sock *s, void *region, size_t length);

#define UHOMA_PRIVATE 0x01u   /* uhoma_send: only uhoma_recv by id gets it */
#define UHOMA_NONBLOCK 0x02u  /* uhoma_recv, uhoma_send: return
			       * UHOMA_ERR_AGAIN instead of waiting */
#define UHOMA_ZEROCOPY 0x04u  /* uhoma_send: send from the caller's
			       * memory, not a copy (see uhoma_send) */
#define UHOMA_MAX_MESSAGE 1000000u
#define UHOMA_BPAGE_SIZE 65536u
#define UHOMA_MAX_BPAGES 16

/*
 * uhoma_send - sends a request of @len bytes (1..UHOMA_MAX_MESSAGE) from
 * @buf to the socket at @dest (IPv4 or IPv6 address and port). @buf is
 * copied before the call returns (but see UHOMA_ZEROCOPY); the caller may
 * reuse it at once. @cookie
 * comes back with the response. @flags: UHOMA_PRIVATE, UHOMA_NONBLOCK,
 * UHOMA_ZEROCOPY. With UHOMA_ZEROCOPY nothing is copied: the packets are
 * sent from @buf itself, and the caller must leave @buf's @len bytes
 * unchanged and readable until the RPC is over for it: uhoma_recv has
 * returned its response or error (an abort's error, too), or uhoma_abort
 * of it (or of all) with error 0, uhoma_shutdown or uhoma_close has
 * returned -- each of those first waits for any send from @buf still
 * under way. Bytes changed before then may reach the server (in a
 * retransmission); memory unmapped before then may crash the process.
 * Requests only (a response is copied); see uhoma_send(3).
 * While the socket's send budget (uhoma_set_sndbuf) is spent the call
 * waits for it, or with UHOMA_NONBLOCK returns UHOMA_ERR_AGAIN; it fails
 * with UHOMA_ERR_NO_BUFFER instead if responses are waiting for space in
 * a buffer region full of messages not yet released (only receiving and
 * releasing them frees the budget then). On success *@id is the new RPC's
 * (even) id. Returns UHOMA_OK, UHOMA_ERR_INVALID_ARGUMENT,
 * UHOMA_ERR_MSG_TOO_LONG, UHOMA_ERR_AF_NOT_SUPPORTED, UHOMA_ERR_AGAIN,
 * UHOMA_ERR_NO_BUFFER, UHOMA_ERR_INTERRUPTED, UHOMA_ERR_NOMEM or
 * UHOMA_ERR_SHUTDOWN.
 */
int uhoma_send(struct uhoma_sock *s, const struct sockaddr *dest,
	       size_t dest_len, const void *buf, size_t len, uint64_t cookie,
	       unsigned flags, uint64_t *id);

/*
 * uhoma_sendv - uhoma_send of a message in @iovcnt parts (at most
 * UHOMA_MAX_IOV; parts may be empty), gathered in the one copy uhoma makes
 * of every message: a caller whose message is in pieces (a header and a
 * body, or pages of its buffer region) need not join them first. The same
 * results as uhoma_send, counting the parts' total length (UHOMA_ZEROCOPY
 * takes one part only: UHOMA_ERR_INVALID_ARGUMENT otherwise).
 */
#define UHOMA_MAX_IOV 1024
int uhoma_sendv(struct uhoma_sock *s, const struct sockaddr *dest,
		size_t dest_len, const struct iovec *iov, size_t iovcnt,
		uint64_t cookie, unsigned flags, uint64_t *id);

/*
 * uhoma_set_sndbuf - sets the socket's send budget to @bytes (0: none,
 * below 4 GiB): each request holds its length plus 1 KiB of it until its
 * response is complete (or the RPC fails or is aborted). uhoma_send admits
 * a request of any length while the requests in flight hold less than the
 * budget, and waits once they hold all of it (the module's SO_SNDBUF
 * rule: the last one admitted may take them past the budget by its own
 * length plus 1 KiB). Responses are never held back. The default is the
 * stack's cfg.sndbuf (8 MiB). Returns UHOMA_OK or
 * UHOMA_ERR_INVALID_ARGUMENT.
 */
int uhoma_set_sndbuf(struct uhoma_sock *s, size_t bytes);

/* uhoma_sndbuf - the socket's send budget in bytes (0: none). */
size_t uhoma_sndbuf(const struct uhoma_sock *s);

/*
 * uhoma_reply - sends the response to request @id (odd, as uhoma_recv gave
 * it) received from @client. @buf is copied before the call returns.
 * Returns UHOMA_OK (also when the RPC no longer exists, e.g. the client
 * aborted it: there is nobody to tell), UHOMA_ERR_INVALID_ARGUMENT (bad
 * length, an even id, or an RPC not waiting for its response),
 * UHOMA_ERR_MSG_TOO_LONG, UHOMA_ERR_NOMEM or UHOMA_ERR_SHUTDOWN.
 */
int uhoma_reply(struct uhoma_sock *s, const struct sockaddr *client,
		size_t client_len, uint64_t id, const void *buf, size_t len);

/* uhoma_replyv - uhoma_reply of a response in @iovcnt parts, as
 * uhoma_sendv. */
int uhoma_replyv(struct uhoma_sock *s, const struct sockaddr *client,
		 size_t client_len, uint64_t id, const struct iovec *iov,
		 size_t iovcnt);

/*
 * struct uhoma_msg - one received message. Its bytes are in the buffer
 * region: byte o is at region + bpage_offsets[o >> 16] + (o & 0xFFFF). The
 * pages belong to the application until it hands them back with
 * uhoma_release() (or uhoma_msg_release()); until then uhoma never writes
 * them.
 */
struct uhoma_msg {
	uint64_t id;           /* in: 0 = any message, or a private client RPC's
				* id; out: the RPC (odd: a request to answer;
				* even: a response) */
	uint64_t cookie;       /* out: the request's cookie (responses only) */
	uint32_t length;       /* out: message bytes */
	uint32_t num_bpages;   /* out: entries in bpage_offsets */
	uint32_t bpage_offsets[UHOMA_MAX_BPAGES]; /* out: region offsets */
	struct sockaddr_storage peer;  /* out: the other side's address */
	uint32_t peer_len;     /* out: bytes of peer used */
};

/*
 * uhoma_recv - waits for a message: a request (id odd) or a response (id
 * even). msg->id = 0 takes any message that is not private; a private
 * client RPC's id waits for that response only. @flags: 0 or
 * UHOMA_NONBLOCK. @timeout_ns < 0 waits without limit. The calling thread
 * busy-polls (and receives packets itself) for cfg.poll_us before sleeping.
 * Returns the message length (>= 1) with *@msg filled in; or a negative
 * code: for an RPC that failed (UHOMA_ERR_TIMEDOUT, UHOMA_ERR_ABORTED, or
 * the code given to uhoma_abort), msg->id and msg->cookie name the RPC,
 * which is then gone; otherwise msg->id is 0 and the code is
 * UHOMA_ERR_AGAIN (nothing ready and UHOMA_NONBLOCK or the timeout passed;
 * also in manual mode), UHOMA_ERR_INVALID_ARGUMENT (unknown id, a
 * non-private RPC, or bad flags), UHOMA_ERR_NO_BUFFER (no region set),
 * UHOMA_ERR_INTERRUPTED or UHOMA_ERR_SHUTDOWN.
 */
int uhoma_recv(struct uhoma_sock *s, struct uhoma_msg *msg, unsigned flags,
	       int64_t timeout_ns);

/*
 * uhoma_release - hands back @n bpages (offsets from uhoma_msg) so uhoma can
 * reuse them. Messages waiting for space resume. Returns UHOMA_OK, or
 * UHOMA_ERR_INVALID_ARGUMENT if an offset is not one of the application's
 * messages' offsets as uhoma_recv gave it, or was handed back already
 * (nothing is released then: small messages share a bpage, and each
 * offset is checked as its own).
 */
int uhoma_release(struct uhoma_sock *s, const uint32_t *offsets, unsigned n);

/* uhoma_msg_release - uhoma_release(s, msg->bpage_offsets, msg->num_bpages),
 * then sets msg->num_bpages to 0. */
int uhoma_msg_release(struct uhoma_sock *s, struct uhoma_msg *msg);

/*
 * uhoma_msg_copy - copies up to @len bytes of @msg, starting at byte
 * @offset, into @dst; returns the number copied. @msg's pages must still be
 * held by the application.
 */
size_t uhoma_msg_copy(const struct uhoma_sock *s, const struct uhoma_msg *msg,
		      size_t offset, void *dst, size_t len);

/*
 * uhoma_abort - ends client RPC @id, or every client RPC of the socket when
 * @id is 0. @error 0: the RPC disappears silently. Otherwise a negative
 * uhoma code: the RPC completes with it, and uhoma_recv reports it. Returns
 * UHOMA_OK, UHOMA_ERR_NOT_FOUND (no such client RPC) or
 * UHOMA_ERR_INVALID_ARGUMENT (a positive @error, or an odd @id). Any
 * negative @error is passed through untouched, even outside the
 * UHOMA_ERR_* band (the LD_PRELOAD library carries errno values that way).
 */
int uhoma_abort(struct uhoma_sock *s, uint64_t id, int error);

/* Flags of struct uhoma_rpc_info (the Linux module's HOMA_RPC_* values). */
#define UHOMA_RPC_BUF_STALL 0x01u /* incoming message waits for bpages */
#define UHOMA_RPC_PRIVATE 0x02u   /* a private client RPC */
#define UHOMA_RPC_RX_READY 0x04u  /* message complete, not yet received */
#define UHOMA_RPC_RX_COPY 0x08u   /* bytes being copied to the region */

/* struct uhoma_rpc_info - the state of one RPC, as uhoma_rpc_info reports. */
struct uhoma_rpc_info {
	uint64_t id;             /* even: client RPC; odd: server RPC */
	uint64_t cookie;         /* client RPCs: the request's cookie */
	struct sockaddr_storage peer;
	uint32_t peer_len;
	int32_t tx_length;       /* outgoing message bytes; -1: none yet */
	uint32_t tx_sent;        /* bytes of it transmitted */
	uint32_t tx_granted;     /* bytes the receiver allows */
	uint32_t tx_prio;        /* priority of the last GRANT */
	int32_t rx_length;       /* incoming message bytes; -1: unknown */
	uint32_t rx_remaining;   /* bytes not yet received */
	uint32_t rx_gaps;        /* holes below the highest byte received */
	uint32_t rx_gap_bytes;   /* bytes in those holes */
	uint32_t rx_granted;     /* bytes we allowed the sender */
	uint32_t flags;          /* UHOMA_RPC_* */
};

/*
 * uhoma_rpc_info - describes the socket's live RPCs: up to @max of them
 * into @out (@out may be NULL when @max is 0). Returns the number of live
 * RPCs (possibly more than @max), or UHOMA_ERR_INVALID_ARGUMENT or
 * UHOMA_ERR_SHUTDOWN. A snapshot: RPCs come and go while it runs.
 */
int uhoma_rpc_info(struct uhoma_sock *s, struct uhoma_rpc_info *out,
		   size_t max);

/* uhoma_buffers_free - bytes of the buffer region in free bpages. */
uint64_t uhoma_buffers_free(struct uhoma_sock *s);

/*
 * uhoma_fd - a file descriptor, owned by the socket, that polls readable
 * (poll/select/epoll) while a non-private message or error is ready, and
 * after shutdown; and writable while the send budget is not spent
 * (uhoma_set_sndbuf). Never read, write or close it.
 */
int uhoma_fd(const struct uhoma_sock *s);

/*
 * uhoma_shutdown - ends every RPC of the socket, stops it receiving, and
 * wakes every waiting thread with UHOMA_ERR_SHUTDOWN. Later calls on the
 * socket fail with UHOMA_ERR_SHUTDOWN. Idempotent. Returns UHOMA_OK.
 */
int uhoma_shutdown(struct uhoma_sock *s);

/*
 * uhoma_close - shuts the socket down, waits until nothing can reach it,
 * frees it and releases its port. The buffer region may be unmapped
 * afterwards. Must be the last call on @s.
 */
void uhoma_close(struct uhoma_sock *s);

/*
 * uhoma_poll - receives and processes packets for up to @timeout_ns (0: only
 * what is there; < 0: until something arrives) and runs the timer if a tick
 * is due. This is how a manual-mode stack (cfg.rx_threads = 0) makes
 * progress; in threaded mode it helps the threads. Stacks on a
 * virtual-clock memnet move only with uhoma_memnet_run(): 0 at once.
 * Returns the number of packets processed.
 */
int uhoma_poll(struct uhoma_stack *st, int64_t timeout_ns);

/* ------------------------------------------------------------------------
 * Metrics
 * ------------------------------------------------------------------------ */

#define UHOMA_PKT_TYPES 9     /* DATA (0x10) .. ACK (0x18) */
#define UHOMA_DROP_REASONS 32

enum uhoma_rpc_state_metric {
	UHOMA_RPCS_CLIENT_OUTGOING, UHOMA_RPCS_CLIENT_INCOMING,
	UHOMA_RPCS_SERVER_INCOMING, UHOMA_RPCS_SERVER_IN_SERVICE,
	UHOMA_RPCS_SERVER_OUTGOING, UHOMA_RPCS_DEAD, UHOMA_RPC_STATES
};

/* struct uhoma_metrics - cumulative counters of one stack (gauges: rpcs). */
struct uhoma_metrics {
	uint64_t packets_sent[UHOMA_PKT_TYPES];     /* index: type - 0x10 */
	uint64_t packets_received[UHOMA_PKT_TYPES];
	uint64_t bytes_sent[UHOMA_PKT_TYPES];
	uint64_t bytes_received[UHOMA_PKT_TYPES];
	uint64_t drops[UHOMA_DROP_REASONS];          /* uhoma_drop_name(i) */
	uint64_t requests_sent, responses_received;  /* client side */
	uint64_t requests_received;  /* server side */
	uint64_t responses_sent;     /* server side: responses their clients
				      * acknowledged (a reply whose client
				      * is gone, or moved its socket, is
				      * not counted) */
	uint64_t resent_packets;   /* DATA packets retransmitted */
	uint64_t stale_resends;    /* RESENDs not served: they asked for data
				    * sent too recently to have arrived */
	uint64_t rpc_timeouts;     /* RPCs ended by the timeout */
	uint64_t aborts;           /* RPCs aborted by the application */
	uint64_t buffer_waits;     /* messages that waited for buffer pages */
	uint64_t send_waits;       /* uhoma_send calls that waited for the
				    * send budget (uhoma_set_sndbuf) */
	uint64_t rpcs_reaped;      /* RPC records freed */
	uint64_t xmit_errors;      /* carrier send failures */
	uint64_t timer_ticks;
	uint64_t timer_visits;     /* RPCs the timer looked at: the work of
				    * its ticks (only RPCs due are visited) */
	int64_t rpcs[UHOMA_RPC_STATES]; /* RPCs now in each state */
	/* Scheduling. */
	uint64_t prio_packets[8];  /* packets sent at each priority */
	uint64_t prio_bytes[8];
	uint64_t grant_recalcs;    /* passes of the grant manager */
	uint64_t grant_activations;/* messages given one of the grant slots */
	uint64_t grant_evictions;  /* ... taken back for a shorter message */
	uint64_t needy_grants;     /* grants from freed max_incoming headroom */
	uint64_t fifo_grant_bytes; /* bytes granted to the oldest message */
	uint64_t cutoffs_sent;     /* CUTOFFS sent to senders */
	uint64_t throttle_adds;    /* messages held back by the pacer */
	uint64_t pacer_sends;      /* held-back messages the pacer resumed */
	uint64_t pacer_fifo_sends; /* ... chosen by age, not size */
	uint64_t grantable;        /* gauge: messages being granted to */
	uint64_t throttled;        /* gauge: messages waiting for the pacer */
	uint64_t tx_deferrals;     /* messages whose granted data a polling
				    * application thread left for later */
	uint64_t deferred_sends;   /* ... sends of it between receives */
	uint64_t deferred;         /* gauge: messages deferred now */
	/* At most once (uhoma(7), "Guarantees"). */
	uint64_t dedup_forgotten;  /* request ids a server stopped tracking
				    * unfinished (a client spread wider than
				    * dedup_window); a late first copy of one
				    * is dropped, never run */
	uint64_t dedup_evictions;  /* client processes forgotten early to make
				    * room (more than 1024 on one host, or
				    * past dedup_mb) */
	uint64_t dedup_records;    /* gauge: client processes remembered */
	uint64_t dedup_bytes;      /* gauge: memory of those records (at most
				    * dedup_mb MiB) */
	uint64_t peers;            /* gauge: hosts this stack keeps state for
				    * (freed dedup_quiet_ms after their last
				    * RPC; at most max_peers) */
	uint64_t unproven_evictions; /* incoming requests ended before their
				      * sender showed it exists, to make room
				      * (more than max_unproven at once) */
	uint64_t port_unreachable; /* ICMP port unreachable for what we sent
				    * (UDP carrier): RPCs to that port end
				    * with UHOMA_ERR_NOT_CONNECTED */
	uint64_t data_landed;      /* DATA packets read straight into the
				    * buffer region, with no staging copy
				    * (UDP carrier, long messages) */
	uint64_t dedup_restarts;   /* client processes whose request ids
				    * started over 2^38 below the server's
				    * record (a restart across the 99-day
				    * wrap of the id start): at most once
				    * holds per counter (uhoma(7)) */
	uint64_t unsched_cuts;     /* times the bytes sent before a grant to
				    * a socket on this host fell back to
				    * unsched_bytes on a sign of loss
				    * (local_unsched) */
	uint64_t ticks_held;       /* timer ticks not counted: one of the
				    * stack's sockets held more unread than a
				    * quarter of its receive buffer,
				    * so its peers' silence was not silence
				    * (at most 3 ticks in 4) */
	uint64_t port_checks;      /* ports of peers on this host asked about
				    * before an RPC to one would time out */
	uint64_t local_waits;      /* RPC timeouts not taken: the peer is on
				    * this host and its port still held, so
				    * it is alive, only late (uhoma(7)) */
	uint64_t moved_unknown;    /* client RPCs ended with
				    * UHOMA_ERR_TIMEDOUT instead of sending
				    * their request again: the server did
				    * not know them under the port the socket
				    * moved to (uhoma_bind) */
};

/* uhoma_metrics - a snapshot of @st's counters into *@m. */
void uhoma_metrics(struct uhoma_stack *st, struct uhoma_metrics *m);

/* uhoma_drop_name - short name of drop reason @i ("short", "bad_type"...). */
const char *uhoma_drop_name(unsigned i);

/* uhoma_packet_type_name - "DATA" ... "ACK" for index @i (type - 0x10). */
const char *uhoma_packet_type_name(unsigned i);

/*
 * struct uhoma_lock_stat - contention of one lock class, process-wide:
 * acquisitions that found the lock taken and the time they waited.
 */
struct uhoma_lock_stat {
	const char *name;
	uint64_t misses;
	uint64_t wait_ns;
};

/* uhoma_lock_stats - fills up to @max entries; returns the number of
 * classes. */
size_t uhoma_lock_stats(struct uhoma_lock_stat *out, size_t max);

/* uhoma_metrics_print - writes every non-zero counter of @st, one "name
 * value" per line, to @f (a FILE *). */
void uhoma_metrics_print(struct uhoma_stack *st, void *f);

#ifdef __cplusplus
}
#endif

#endif /* UHOMA_UHOMA_H */
