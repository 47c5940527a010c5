/*
 * wire_dump.c - writes one packet of every Homa type, as uhoma's encoder
 * builds them, in text2pcap's hex format: the capture the Wireshark
 * dissector test (dissector.sh) decodes. Also a DATA packet in the
 * module's single-segment form (seg.offset 0xFFFFFFFF, the offset in
 * sequence) and a truncated GRANT.
 */
#include <stdio.h>
#include <string.h>

#include "core/wire.h"

/* text2pcap wants each packet to start at offset 0, with offsets shown. */
static void packet(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i += 16) {
		size_t n = len - i < 16 ? len - i : 16;

		printf("%06zx ", i);
		for (size_t j = 0; j < n; j++)
			printf(" %02x", p[i + j]);
		printf("\n");
	}
}

int main(void)
{
	uint8_t buf[UH_MAX_HEADER + 8];
	struct uh_hdr h;
	size_t n;

	for (unsigned t = UH_PKT_MIN_TYPE; t <= UH_PKT_MAX_TYPE; t++) {
		memset(&h, 0, sizeof(h));
		h.type = (uint8_t)t;
		h.sport = 40000;
		h.dport = 1234;
		h.sender_id = 1000 + (t & 1);
		switch (t) {
		case UH_PKT_DATA:
			h.u.data.message_length = 100000;
			h.u.data.incoming = 40000;
			h.u.data.offset = 8000;
			h.u.data.ack.client_id = 998;
			h.u.data.ack.server_port = 99;
			h.u.data.cutoff_version = 3;
			break;
		case UH_PKT_GRANT:
			h.u.grant.offset = 80000;
			h.u.grant.priority = 5;
			break;
		case UH_PKT_RESEND:
			h.u.resend.offset = 0;
			h.u.resend.length = UH_RESEND_ALL;
			h.u.resend.priority = 6;
			break;
		case UH_PKT_CUTOFFS:
			for (unsigned i = 0; i < 8; i++)
				h.u.cutoffs.cutoffs[i] = 100u << i;
			h.u.cutoffs.version = 7;
			break;
		case UH_PKT_ACK:
			h.u.ack.num_acks = 2;
			h.u.ack.acks[0].client_id = 500;
			h.u.ack.acks[0].server_port = 80;
			h.u.ack.acks[1].client_id = 502;
			h.u.ack.acks[1].server_port = 81;
			break;
		default:
			break;
		}
		n = uh_wire_encode(&h, buf);
		if (t == UH_PKT_DATA) {
			memcpy(buf + n, "payload!", 8);
			n += 8;
		}
		packet(buf, n);
	}
	/* The module's single-segment DATA: offset only in sequence. */
	memset(&h, 0, sizeof(h));
	h.type = UH_PKT_DATA;
	h.sport = 40000;
	h.dport = 1234;
	h.sender_id = 1002;
	h.u.data.message_length = 3000;
	h.u.data.incoming = 3000;
	h.u.data.offset = 1400;
	n = uh_wire_encode(&h, buf);
	memset(buf + 52, 0xFF, 4);
	memcpy(buf + n, "abcd", 4);
	packet(buf, n + 4);
	/* A GRANT cut short: malformed. */
	memset(&h, 0, sizeof(h));
	h.type = UH_PKT_GRANT;
	h.sport = 40000;
	h.dport = 1234;
	n = uh_wire_encode(&h, buf);
	packet(buf, 30);
	return 0;
}
