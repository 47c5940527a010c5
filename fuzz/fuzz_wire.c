/*
 * fuzz_wire.c - libFuzzer target for the packet decoder: any bytes either
 * decode or are dropped for a reason, never read out of bounds (ASan),
 * and what decodes re-encodes to a header that decodes to the same
 * fields (the decoder and the encoder agree on every field of every
 * type).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Fields of @a and @b that the encoder writes must match. */
static void same(const struct uh_hdr *a, const struct uh_hdr *b)
{
	if (a->type != b->type || a->sport != b->sport ||
	    a->dport != b->dport || a->sender_id != b->sender_id)
		abort();
	switch (a->type) {
	case UH_PKT_DATA:
		if (a->u.data.message_length != b->u.data.message_length ||
		    a->u.data.incoming != b->u.data.incoming ||
		    a->u.data.offset != b->u.data.offset ||
		    a->u.data.ack.client_id != b->u.data.ack.client_id ||
		    a->u.data.ack.server_port != b->u.data.ack.server_port ||
		    a->u.data.cutoff_version != b->u.data.cutoff_version ||
		    a->u.data.payload_len != b->u.data.payload_len ||
		    memcmp(a->u.data.payload, b->u.data.payload,
			   a->u.data.payload_len) != 0)
			abort();
		break;
	case UH_PKT_GRANT:
		if (a->u.grant.offset != b->u.grant.offset ||
		    a->u.grant.priority != b->u.grant.priority)
			abort();
		break;
	case UH_PKT_RESEND:
		if (a->u.resend.offset != b->u.resend.offset ||
		    a->u.resend.length != b->u.resend.length ||
		    a->u.resend.priority != b->u.resend.priority)
			abort();
		break;
	case UH_PKT_CUTOFFS:
		if (a->u.cutoffs.version != b->u.cutoffs.version ||
		    memcmp(a->u.cutoffs.cutoffs, b->u.cutoffs.cutoffs,
			   sizeof(a->u.cutoffs.cutoffs)) != 0)
			abort();
		break;
	case UH_PKT_ACK:
		if (a->u.ack.num_acks != b->u.ack.num_acks)
			abort();
		for (unsigned i = 0; i < a->u.ack.num_acks; i++)
			if (a->u.ack.acks[i].client_id !=
				    b->u.ack.acks[i].client_id ||
			    a->u.ack.acks[i].server_port !=
				    b->u.ack.acks[i].server_port)
				abort();
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[UH_MAX_HEADER + 70000];
	struct uh_hdr h, h2;
	size_t len;

	if (uh_wire_decode(data, size, &h) != UH_DROP_NONE)
		return 0;
	if (h.type == UH_PKT_DATA && (h.u.data.payload < data ||
				      h.u.data.payload + h.u.data.payload_len >
					      data + size))
		abort();   /* the payload must lie inside the packet */
	len = uh_wire_encode(&h, buf);
	if (len != uh_wire_header_len(h.type))
		abort();
	if (h.type == UH_PKT_DATA) {
		if (len + h.u.data.payload_len > sizeof(buf))
			return 0;
		memcpy(buf + len, h.u.data.payload, h.u.data.payload_len);
		len += h.u.data.payload_len;
	}
	if (uh_wire_decode(buf, len, &h2) != UH_DROP_NONE)
		abort();   /* what we encode, we accept */
	same(&h, &h2);
	return 0;
}
