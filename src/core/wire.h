/*
 * wire.h - Homa's packet formats, byte for byte (homa-protocol.md §1).
 *
 * Every packet starts with the 28-byte common header laid out like a TCP
 * header so that NIC offloads work on the kernel module's raw-IP packets.
 * uhoma writes the same bytes in every carrier: the UDP carrier puts them
 * at the start of the UDP payload, the raw-IP carrier right after the IP
 * header. All fields are big-endian. Structures are never overlaid on the
 * bytes: uh_wire_decode() copies fields out with explicit byte order, so a
 * packet of any alignment or length is safe to hand it.
 */
#ifndef UHOMA_CORE_WIRE_H
#define UHOMA_CORE_WIRE_H

#include <stddef.h>
#include <stdint.h>

enum uh_pkt_type {
	UH_PKT_DATA = 0x10,
	UH_PKT_GRANT = 0x11,
	UH_PKT_RESEND = 0x12,
	UH_PKT_RPC_UNKNOWN = 0x13,
	UH_PKT_BUSY = 0x14,
	UH_PKT_CUTOFFS = 0x15,
	UH_PKT_FREEZE = 0x16,
	UH_PKT_NEED_ACK = 0x17,
	UH_PKT_ACK = 0x18,
};
#define UH_PKT_MIN_TYPE UH_PKT_DATA
#define UH_PKT_MAX_TYPE UH_PKT_ACK
#define UH_PKT_NTYPES (UH_PKT_MAX_TYPE - UH_PKT_MIN_TYPE + 1)

#define UH_HDR_COMMON 28          /* common header */
#define UH_HDR_DATA 56            /* DATA header, payload follows */
#define UH_HDR_GRANT 33
#define UH_HDR_RESEND 37
#define UH_HDR_CUTOFFS 62
#define UH_HDR_ACK 80
#define UH_MAX_HEADER 90          /* HOMA_MAX_HEADER */
#define UH_MAX_MESSAGE 1000000u   /* HOMA_MAX_MESSAGE_LENGTH */
#define UH_MAX_ACKS 5             /* HOMA_MAX_ACKS_PER_PKT */
#define UH_MAX_PRIORITIES 8
#define UH_OFFSET_IN_SEQUENCE 0xFFFFFFFFu /* seg.offset: "see sequence" */
#define UH_RESEND_ALL 0xFFFFFFFFu  /* RESEND length: everything sent so far */

/* Values the kernel module writes into the TCP-shaped fields. */
#define UH_HIJACK_FLAGS 6          /* SYN|RST */
#define UH_HIJACK_URGENT 0xB97D
#define UH_DOFF_CONTROL 0x50
#define UH_DOFF_DATA 0xE0          /* 56 / 4 in the high nibble */

/* One acknowledged RPC: the client's id and the server's port. */
struct uh_ack {
	uint64_t client_id;
	uint16_t server_port;
};

/*
 * A decoded packet. Filled by uh_wire_decode(); read by uh_wire_encode().
 * For DATA, @data.payload points into the decoded buffer (not copied).
 */
struct uh_hdr {
	uint8_t type;
	uint16_t sport;
	uint16_t dport;
	uint32_t sequence;
	uint64_t sender_id;       /* the RPC id as the sender numbers it */
	union {
		struct {
			uint32_t message_length;
			uint32_t incoming;
			uint32_t offset;  /* after the 0xFFFFFFFF rule */
			struct uh_ack ack;
			uint16_t cutoff_version;
			uint8_t retransmit;
			const uint8_t *payload;
			uint32_t payload_len;
		} data;
		struct {
			uint32_t offset;
			uint8_t priority;
		} grant;
		struct {
			uint32_t offset;
			uint32_t length;  /* UH_RESEND_ALL: all sent so far */
			uint8_t priority;
		} resend;
		struct {
			uint32_t cutoffs[UH_MAX_PRIORITIES];
			uint16_t version;
		} cutoffs;
		struct {
			uint16_t num_acks;
			struct uh_ack acks[UH_MAX_ACKS];
		} ack;
	} u;
};

/*
 * Why a packet was dropped. The decoder returns the first five; the core
 * the rest. Every drop is counted by reason in the stack's metrics.
 */
enum uh_drop {
	UH_DROP_NONE = 0,
	UH_DROP_SHORT,          /* shorter than the full header of its type */
	UH_DROP_BAD_TYPE,       /* type outside 0x10..0x18 */
	UH_DROP_BAD_LENGTH,     /* DATA message_length 0 or over the maximum */
	UH_DROP_BAD_OFFSET,     /* DATA offset at or past the message end */
	UH_DROP_PAST_END,       /* DATA payload runs past the message end */
	UH_DROP_EMPTY,          /* DATA without payload */
	UH_DROP_BAD_ACKS,       /* ACK num_acks over 5 */
	UH_DROP_BAD_PORT,       /* destination port 0 */
	UH_DROP_NO_SOCKET,      /* no socket bound to the destination port */
	UH_DROP_NOT_SERVER,     /* request for a socket that is not a server */
	UH_DROP_UNKNOWN_RPC,    /* no such RPC, and the type cannot create one */
	UH_DROP_WRONG_STATE,    /* packet makes no sense in the RPC's state */
	UH_DROP_MISMATCH,       /* length or port disagrees with the RPC's */
	UH_DROP_DUPLICATE,      /* DATA bytes already received */
	UH_DROP_NO_BUFFER,      /* DATA while the message waits for buffer pages */
	UH_DROP_TOO_MANY_GAPS,  /* DATA would open more gaps than tracked */
	UH_DROP_SHUTDOWN,       /* socket shutting down */
	UH_DROP_DONE,           /* request for an RPC already acknowledged */
	UH_DROP_NOMEM,          /* no memory for a new server RPC */
	UH_DROP_FREEZE,         /* FREEZE (debugging only; ignored) */
	UH_DROP_SPOOFED,        /* source port not the one it was sent from
				 * (UDP: any local process could forge it) */
	UH_DROP_NO_REGION,      /* request for a server that has had no buffer
				 * region for timeout_ticks (sock.h) */
	UH_DROP_BAD_PRIORITY,   /* GRANT or RESEND naming a priority above 7:
				 * no TOS carries it, and every send at it
				 * would fail */
	UH_DROP_NREASONS
};

/* The full header length of @type, or 0 for an unknown type. */
size_t uh_wire_header_len(unsigned type);

/* The name of @type ("DATA", ...) or "UNKNOWN". */
const char *uh_wire_type_name(unsigned type);

/* The name of drop reason @r ("short", ...). */
const char *uh_wire_drop_name(unsigned r);

/* Where the common header keeps the packet type (§1.3: byte 11). */
#define UH_WIRE_TYPE_OFFSET 11

/*
 * Decodes and validates @len bytes at @buf into @h. Returns UH_DROP_NONE,
 * or the reason the packet must be dropped. Never reads past @len.
 */
enum uh_drop uh_wire_decode(const uint8_t *buf, size_t len, struct uh_hdr *h);

/*
 * Encodes @h's header into @buf (at least UH_MAX_HEADER bytes); returns the
 * header length (for DATA 56: the caller appends @h->u.data.payload). DATA
 * carries its offset in both `sequence` and the segment header.
 */
size_t uh_wire_encode(const struct uh_hdr *h, uint8_t *buf);

/* The type byte of an encoded header (at least its common part). */
static inline uint8_t uh_wire_type(const uint8_t *hdr)
{
	return hdr[UH_WIRE_TYPE_OFFSET];
}

#endif /* UHOMA_CORE_WIRE_H */
