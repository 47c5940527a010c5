/*
 * wire.c - encoding and validating Homa packets.
 */
#include <string.h>

#include "core/wire.h"

static const uint8_t header_len[UH_PKT_NTYPES] = {
	UH_HDR_DATA, UH_HDR_GRANT, UH_HDR_RESEND, UH_HDR_COMMON, UH_HDR_COMMON,
	UH_HDR_CUTOFFS, UH_HDR_COMMON, UH_HDR_COMMON, UH_HDR_ACK,
};

static const char *const type_name[UH_PKT_NTYPES] = {
	"DATA", "GRANT", "RESEND", "RPC_UNKNOWN", "BUSY", "CUTOFFS", "FREEZE",
	"NEED_ACK", "ACK",
};

static const char *const drop_name[UH_DROP_NREASONS] = {
	[UH_DROP_NONE] = "none",
	[UH_DROP_SHORT] = "short",
	[UH_DROP_BAD_TYPE] = "bad_type",
	[UH_DROP_BAD_LENGTH] = "bad_length",
	[UH_DROP_BAD_OFFSET] = "bad_offset",
	[UH_DROP_PAST_END] = "past_end",
	[UH_DROP_EMPTY] = "empty",
	[UH_DROP_BAD_ACKS] = "bad_acks",
	[UH_DROP_BAD_PORT] = "bad_port",
	[UH_DROP_NO_SOCKET] = "no_socket",
	[UH_DROP_NOT_SERVER] = "not_server",
	[UH_DROP_UNKNOWN_RPC] = "unknown_rpc",
	[UH_DROP_WRONG_STATE] = "wrong_state",
	[UH_DROP_MISMATCH] = "mismatch",
	[UH_DROP_DUPLICATE] = "duplicate",
	[UH_DROP_NO_BUFFER] = "no_buffer",
	[UH_DROP_TOO_MANY_GAPS] = "too_many_gaps",
	[UH_DROP_SHUTDOWN] = "shutdown",
	[UH_DROP_DONE] = "already_done",
	[UH_DROP_NOMEM] = "nomem",
	[UH_DROP_FREEZE] = "freeze",
	[UH_DROP_SPOOFED] = "spoofed",
	[UH_DROP_NO_REGION] = "no_region",
	[UH_DROP_BAD_PRIORITY] = "bad_priority",
};

size_t uh_wire_header_len(unsigned type)
{
	if (type < UH_PKT_MIN_TYPE || type > UH_PKT_MAX_TYPE)
		return 0;
	return header_len[type - UH_PKT_MIN_TYPE];
}

const char *uh_wire_type_name(unsigned type)
{
	if (type < UH_PKT_MIN_TYPE || type > UH_PKT_MAX_TYPE)
		return "UNKNOWN";
	return type_name[type - UH_PKT_MIN_TYPE];
}

const char *uh_wire_drop_name(unsigned r)
{
	return r < UH_DROP_NREASONS ? drop_name[r] : "unknown";
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static enum uh_drop decode_data(const uint8_t *buf, size_t len,
				struct uh_hdr *h)
{
	uint32_t off = get32(buf + 52);

	h->u.data.message_length = get32(buf + 28);
	h->u.data.incoming = get32(buf + 32);
	h->u.data.ack.client_id = get64(buf + 36);
	h->u.data.ack.server_port = get16(buf + 44);
	h->u.data.cutoff_version = get16(buf + 46);
	h->u.data.retransmit = buf[48];
	h->u.data.offset = off == UH_OFFSET_IN_SEQUENCE ? h->sequence : off;
	h->u.data.payload = buf + UH_HDR_DATA;
	h->u.data.payload_len = (uint32_t)(len - UH_HDR_DATA);
	if (h->u.data.message_length == 0 ||
	    h->u.data.message_length > UH_MAX_MESSAGE)
		return UH_DROP_BAD_LENGTH;
	if (h->u.data.payload_len == 0)
		return UH_DROP_EMPTY;
	if (h->u.data.offset >= h->u.data.message_length)
		return UH_DROP_BAD_OFFSET;
	if (h->u.data.payload_len >
	    h->u.data.message_length - h->u.data.offset)
		return UH_DROP_PAST_END;
	return UH_DROP_NONE;
}

enum uh_drop uh_wire_decode(const uint8_t *buf, size_t len, struct uh_hdr *h)
{
	size_t need;

	memset(h, 0, sizeof(*h));
	if (len < UH_HDR_COMMON)
		return UH_DROP_SHORT;
	h->type = buf[UH_WIRE_TYPE_OFFSET];
	need = uh_wire_header_len(h->type);
	if (need == 0)
		return UH_DROP_BAD_TYPE;
	if (len < need)
		return UH_DROP_SHORT;
	h->sport = get16(buf);
	h->dport = get16(buf + 2);
	h->sequence = get32(buf + 4);
	h->sender_id = get64(buf + 20);

	switch (h->type) {
	case UH_PKT_DATA:
		return decode_data(buf, len, h);
	case UH_PKT_GRANT:
		h->u.grant.offset = get32(buf + 28);
		h->u.grant.priority = buf[32];
		if (h->u.grant.priority >= UH_MAX_PRIORITIES)
			return UH_DROP_BAD_PRIORITY;
		break;
	case UH_PKT_RESEND:
		h->u.resend.offset = get32(buf + 28);
		h->u.resend.length = get32(buf + 32);
		h->u.resend.priority = buf[36];
		if (h->u.resend.priority >= UH_MAX_PRIORITIES)
			return UH_DROP_BAD_PRIORITY;
		break;
	case UH_PKT_CUTOFFS:
		for (unsigned i = 0; i < UH_MAX_PRIORITIES; i++)
			h->u.cutoffs.cutoffs[i] = get32(buf + 28 + 4 * i);
		h->u.cutoffs.version = get16(buf + 60);
		break;
	case UH_PKT_ACK:
		h->u.ack.num_acks = get16(buf + 28);
		if (h->u.ack.num_acks > UH_MAX_ACKS)
			return UH_DROP_BAD_ACKS;
		for (unsigned i = 0; i < h->u.ack.num_acks; i++) {
			h->u.ack.acks[i].client_id = get64(buf + 30 + 10 * i);
			h->u.ack.acks[i].server_port = get16(buf + 38 + 10 * i);
		}
		break;
	default:
		break;
	}
	return UH_DROP_NONE;
}

size_t uh_wire_encode(const struct uh_hdr *h, uint8_t *buf)
{
	size_t len = uh_wire_header_len(h->type);

	memset(buf, 0, len ? len : UH_HDR_COMMON);
	put16(buf, h->sport);
	put16(buf + 2, h->dport);
	put32(buf + 4, h->type == UH_PKT_DATA ? h->u.data.offset : 0);
	buf[UH_WIRE_TYPE_OFFSET] = h->type;
	buf[12] = h->type == UH_PKT_DATA ? UH_DOFF_DATA : UH_DOFF_CONTROL;
	buf[13] = UH_HIJACK_FLAGS;
	put16(buf + 18, UH_HIJACK_URGENT);
	put64(buf + 20, h->sender_id);

	switch (h->type) {
	case UH_PKT_DATA:
		put32(buf + 28, h->u.data.message_length);
		put32(buf + 32, h->u.data.incoming);
		put64(buf + 36, h->u.data.ack.client_id);
		put16(buf + 44, h->u.data.ack.server_port);
		put16(buf + 46, h->u.data.cutoff_version);
		buf[48] = h->u.data.retransmit;
		put32(buf + 52, h->u.data.offset);
		break;
	case UH_PKT_GRANT:
		put32(buf + 28, h->u.grant.offset);
		buf[32] = h->u.grant.priority;
		break;
	case UH_PKT_RESEND:
		put32(buf + 28, h->u.resend.offset);
		put32(buf + 32, h->u.resend.length);
		buf[36] = h->u.resend.priority;
		break;
	case UH_PKT_CUTOFFS:
		for (unsigned i = 0; i < UH_MAX_PRIORITIES; i++)
			put32(buf + 28 + 4 * i, h->u.cutoffs.cutoffs[i]);
		put16(buf + 60, h->u.cutoffs.version);
		break;
	case UH_PKT_ACK: {
		unsigned n = h->u.ack.num_acks > UH_MAX_ACKS ? UH_MAX_ACKS
							      : h->u.ack.num_acks;
		put16(buf + 28, (uint16_t)n);
		for (unsigned i = 0; i < n; i++) {
			put64(buf + 30 + 10 * i, h->u.ack.acks[i].client_id);
			put16(buf + 38 + 10 * i, h->u.ack.acks[i].server_port);
		}
		break;
	}
	default:
		break;
	}
	return len ? len : UH_HDR_COMMON;
}
