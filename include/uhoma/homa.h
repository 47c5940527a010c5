/*
 * homa.h - the Linux Homa kernel module's user API (its uapi homa.h),
 * written for uhoma: the same names, constants, ioctl numbers, field types
 * (<linux/types.h>'s __u64 and friends, so that a program's printf formats
 * and C++ assignments compile as with the module's header) and structs with
 * the same sizes and field offsets, so a program written for the module
 * compiles against this header and, run under libuhoma-preload.so, works
 * unchanged on uhoma (see uhoma(7)). Every layout is checked below with
 * _Static_assert against the module's (homa-protocol.md §2).
 *
 * Usage, as with the module:
 *
 *	int fd = socket(AF_INET6, SOCK_DGRAM, IPPROTO_HOMA);
 *	struct homa_rcvbuf_args rb = { (uintptr_t)region, region_len };
 *	setsockopt(fd, IPPROTO_HOMA, SO_HOMA_RCVBUF, &rb, sizeof(rb));
 *	struct homa_sendmsg_args sa = { 0 };
 *	struct msghdr h = { .msg_name = &peer, .msg_namelen = len,
 *			    .msg_iov = &iov, .msg_iovlen = 1,
 *			    .msg_control = &sa };   -- msg_controllen 0
 *	sendmsg(fd, &h, 0);                          -- sa.id: the RPC
 */
#ifndef _UHOMA_LINUX_HOMA_H
#define _UHOMA_LINUX_HOMA_H

#include <linux/types.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>

#ifdef __cplusplus
extern "C" {
#endif

/* IANA's number for Homa (October 2024). */
#ifndef IPPROTO_HOMA
#define IPPROTO_HOMA 146
#endif

/* Largest message, in bytes. */
#define HOMA_MAX_MESSAGE_LENGTH 1000000

/* Receive buffer regions are cut into bpages of this size. */
#define HOMA_BPAGE_SHIFT 16
#define HOMA_BPAGE_SIZE (1 << HOMA_BPAGE_SHIFT)

/* Most bpages one message can occupy. */
#define HOMA_MAX_BPAGES ((HOMA_MAX_MESSAGE_LENGTH + HOMA_BPAGE_SIZE - 1) >> \
			 HOMA_BPAGE_SHIFT)

/* Ports at or above this are assigned automatically; bind() takes below. */
#define HOMA_MIN_DEFAULT_PORT 0x8000

/*
 * struct homa_sendmsg_args - what msg_control points to in sendmsg (with
 * msg_controllen 0: the module reads it through the pointer).
 */
struct homa_sendmsg_args {
	/* In: 0 for a new request, else the id of the request answered.
	 * Out (requests): the new RPC's id. */
	__u64 id;
	/* In (requests): returned by recvmsg with the response. */
	__u64 completion_cookie;
	/* In: HOMA_SENDMSG_* bits. */
	__u32 flags;
	/* Must be zero. */
	__u32 reserved;
};

/* A private RPC: its response goes only to a recvmsg naming its id. */
#define HOMA_SENDMSG_PRIVATE 0x01
#define HOMA_SENDMSG_VALID_FLAGS HOMA_SENDMSG_PRIVATE

/*
 * struct homa_recvmsg_args - what msg_control points to in recvmsg
 * (msg_controllen must be sizeof(struct homa_recvmsg_args)).
 */
struct homa_recvmsg_args {
	/* In: 0 for any message, or a private RPC's id. Out: the RPC's id
	 * (odd: a request; even: a response). */
	__u64 id;
	/* Out: the request's completion cookie (responses only). */
	__u64 completion_cookie;
	/* In: bpages in bpage_offsets to hand back; out: bpages holding
	 * the message received. */
	__u32 num_bpages;
	/* Must be zero. */
	__u32 reserved;
	/* Offsets in the buffer region: byte o of the message is at
	 * region + bpage_offsets[o >> HOMA_BPAGE_SHIFT] +
	 * (o & (HOMA_BPAGE_SIZE - 1)). */
	__u32 bpage_offsets[HOMA_MAX_BPAGES];
};

/* Socket options, level IPPROTO_HOMA. */
#define SO_HOMA_RCVBUF 10
#define SO_HOMA_SERVER 11

/* struct homa_rcvbuf_args - the SO_HOMA_RCVBUF argument. */
struct homa_rcvbuf_args {
	/* Page-aligned start of the region, in this address space. */
	__u64 start;
	/* Bytes in the region. */
	size_t length;
};

/* Bits of the module's flag word (sysctl net.homa.flags); uhoma has no
 * such word: the pacer is configured by link_mbps instead (uhoma(7)). */
#define HOMA_FLAG_DONT_THROTTLE 2

/* Flag bits of struct homa_rpc_info. */
#define HOMA_RPC_BUF_STALL 1
#define HOMA_RPC_PRIVATE 2
#define HOMA_RPC_RX_READY 4
#define HOMA_RPC_RX_COPY 8

/* struct homa_rpc_info - one RPC's state, as HOMAIOCINFO reports it. */
struct homa_rpc_info {
	__u64 id;
	union {
		struct sockaddr_storage storage;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} peer;
	__u64 completion_cookie;
	__s32 tx_length;       /* -1: no outgoing message yet */
	__u32 tx_sent;
	__u32 tx_granted;
	__u32 tx_prio;
	__s32 rx_length;       /* -1: no incoming bytes yet */
	__u32 rx_remaining;
	__u32 rx_gaps;
	__u32 rx_gap_bytes;
	__u32 rx_granted;
	__u16 flags;          /* HOMA_RPC_* */
};

/* struct homa_info - the HOMAIOCINFO argument. */
struct homa_info {
	/* In: the address of an array of struct homa_rpc_info for per-RPC
	 * information, or 0 (a __u64, as in the module, whatever the
	 * pointer size). */
	__u64 rpc_info;
	/* In: bytes at rpc_info. */
	size_t rpc_info_length;
	/* Out: free bytes in the buffer region. */
	__u64 bpool_avail_bytes;
	/* Out: the socket's port. */
	__u32 port;
	/* Out: live RPCs (may exceed what fit in rpc_info). */
	__u32 num_rpcs;
	/* Out: the text of the socket's last error. */
#define HOMA_ERROR_MSG_SIZE 104
	char error_msg[HOMA_ERROR_MSG_SIZE];
};

/* struct homa_abort_args - the HOMAIOCABORT argument. */
struct homa_abort_args {
	/* A client RPC's id, or 0 for every client RPC of the socket. */
	__u64 id;
	/* 0: end it silently; otherwise recvmsg reports this errno. */
	__u32 error;
	__u32 _pad1;          /* must be zero */
	__u64 _pad2[2];       /* must be zero */
};

#define HOMAIOCINFO _IOWR('h', 0x90, struct homa_info)
#define HOMAIOCABORT _IOWR('h', 0x91, struct homa_abort_args)
#define HOMAIOCFREEZE _IO('h', 0x92)

/* The module's layouts, byte for byte (homa-protocol.md §2.3-2.6). */
#ifdef __cplusplus
#define HOMA_CHECK_LAYOUT static_assert
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define HOMA_CHECK_LAYOUT _Static_assert
#else
/* C99 has no _Static_assert (and -pedantic says so under -std=gnu99): an
 * array of negative size if a layout differs. */
#define HOMA_CHECK_LAYOUT_(a, b) a##b
#define HOMA_CHECK_LAYOUT__(a, b) HOMA_CHECK_LAYOUT_(a, b)
#define HOMA_CHECK_LAYOUT(cond, what)                                        \
	typedef char HOMA_CHECK_LAYOUT__(homa_layout_check_, __LINE__)          \
		[(cond) ? 1 : -1]
#endif
HOMA_CHECK_LAYOUT(sizeof(struct homa_sendmsg_args) == 24, "sendmsg args");
HOMA_CHECK_LAYOUT(offsetof(struct homa_sendmsg_args, completion_cookie) == 8,
	       "sendmsg cookie");
HOMA_CHECK_LAYOUT(offsetof(struct homa_sendmsg_args, flags) == 16, "flags");
HOMA_CHECK_LAYOUT(offsetof(struct homa_sendmsg_args, reserved) == 20, "res");
HOMA_CHECK_LAYOUT(sizeof(struct homa_recvmsg_args) == 88, "recvmsg args");
HOMA_CHECK_LAYOUT(offsetof(struct homa_recvmsg_args, completion_cookie) == 8,
	       "recvmsg cookie");
HOMA_CHECK_LAYOUT(offsetof(struct homa_recvmsg_args, num_bpages) == 16,
	       "num_bpages");
HOMA_CHECK_LAYOUT(offsetof(struct homa_recvmsg_args, reserved) == 20,
	       "recvmsg reserved");
HOMA_CHECK_LAYOUT(offsetof(struct homa_recvmsg_args, bpage_offsets) == 24,
	       "bpage_offsets");
HOMA_CHECK_LAYOUT(HOMA_MAX_BPAGES == 16, "bpages per message");
HOMA_CHECK_LAYOUT(sizeof(struct homa_rcvbuf_args) == 16, "rcvbuf args");
HOMA_CHECK_LAYOUT(sizeof(struct homa_rpc_info) == 184, "rpc info");
HOMA_CHECK_LAYOUT(offsetof(struct homa_rpc_info, peer) == 8, "peer");
HOMA_CHECK_LAYOUT(offsetof(struct homa_rpc_info, completion_cookie) == 136,
	       "info cookie");
HOMA_CHECK_LAYOUT(offsetof(struct homa_rpc_info, tx_length) == 144, "tx_len");
HOMA_CHECK_LAYOUT(offsetof(struct homa_rpc_info, tx_sent) == 148, "tx_sent");
HOMA_CHECK_LAYOUT(offsetof(struct homa_rpc_info, tx_granted) == 152, "tx_gr");
HOMA_CHECK_LAYOUT(offsetof(struct homa_rpc_info, tx_prio) == 156, "tx_prio");
HOMA_CHECK_LAYOUT(offsetof(struct homa_rpc_info, rx_length) == 160, "rx_len");
HOMA_CHECK_LAYOUT(offsetof(struct homa_rpc_info, rx_remaining) == 164, "rx_rem");
HOMA_CHECK_LAYOUT(offsetof(struct homa_rpc_info, rx_gaps) == 168, "rx_gaps");
HOMA_CHECK_LAYOUT(offsetof(struct homa_rpc_info, rx_gap_bytes) == 172, "gapb");
HOMA_CHECK_LAYOUT(offsetof(struct homa_rpc_info, rx_granted) == 176, "rx_gr");
HOMA_CHECK_LAYOUT(offsetof(struct homa_rpc_info, flags) == 180, "flags");
HOMA_CHECK_LAYOUT(sizeof(struct homa_info) == 136, "homa_info");
HOMA_CHECK_LAYOUT(offsetof(struct homa_info, rpc_info_length) == 8, "info len");
HOMA_CHECK_LAYOUT(offsetof(struct homa_info, bpool_avail_bytes) == 16, "avail");
HOMA_CHECK_LAYOUT(offsetof(struct homa_info, port) == 24, "port");
HOMA_CHECK_LAYOUT(offsetof(struct homa_info, num_rpcs) == 28, "num_rpcs");
HOMA_CHECK_LAYOUT(offsetof(struct homa_info, error_msg) == 32, "error_msg");
HOMA_CHECK_LAYOUT(sizeof(struct homa_abort_args) == 32, "abort args");
HOMA_CHECK_LAYOUT(HOMAIOCINFO == 0xC0886890u, "HOMAIOCINFO");
HOMA_CHECK_LAYOUT(HOMAIOCABORT == 0xC0206891u, "HOMAIOCABORT");

#undef HOMA_CHECK_LAYOUT

#ifdef __cplusplus
}
#endif

#endif /* _UHOMA_LINUX_HOMA_H */
