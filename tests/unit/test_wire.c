/*
 * test_wire.c - the packet codec against byte vectors built by hand from
 * the layouts in homa-protocol.md §1.3-1.6, and the decoder's rejection of
 * every malformed shape.
 */
#include <string.h>

#include "core/wire.h"
#include "testutil.h"

/* The common header every vector below starts with (28 bytes):
 * sport 0x1234, dport 0x0050, sequence, ack[3] 0, type, doff, flags 6,
 * window 0, checksum 0, urgent 0xB97D, sender_id 0x0102030405060708. */
#define COMMON(seq0, seq1, seq2, seq3, type, doff) \
	0x12, 0x34, 0x00, 0x50, seq0, seq1, seq2, seq3, 0, 0, 0, type, doff, \
	0x06, 0x00, 0x00, 0x00, 0x00, 0xB9, 0x7D, 1, 2, 3, 4, 5, 6, 7, 8

static const uint8_t data_pkt[56 + 4] = {
	COMMON(0x00, 0x00, 0xA0, 0x00, 0x10, 0xE0),
	0x00, 0x01, 0x86, 0xA0,              /* message_length 100000 */
	0x00, 0x00, 0x9C, 0x40,              /* incoming 40000 */
	0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x12, /* ack.client_id */
	0x00, 0x63,                          /* ack.server_port 99 */
	0x00, 0x00,                          /* cutoff_version */
	0x01, 0, 0, 0,                       /* retransmit, pad */
	0x00, 0x00, 0xA0, 0x00,              /* seg.offset 40960 */
	'a', 'b', 'c', 'd',
};

static void wire__data_encode_matches_layout(void **state)
{
	struct uh_hdr h = { 0 };
	uint8_t buf[UH_MAX_HEADER];

	(void)state;
	h.type = UH_PKT_DATA;
	h.sport = 0x1234;
	h.dport = 0x50;
	h.sender_id = 0x0102030405060708ull;
	h.u.data.message_length = 100000;
	h.u.data.incoming = 40000;
	h.u.data.offset = 40960;
	h.u.data.ack.client_id = 0x0A0B0C0D0E0F1012ull;
	h.u.data.ack.server_port = 99;
	h.u.data.retransmit = 1;
	assert_int_equal(uh_wire_encode(&h, buf), 56);
	assert_memory_equal(buf, data_pkt, 56);
}

static void wire__data_decode(void **state)
{
	struct uh_hdr h;

	(void)state;
	assert_int_equal(uh_wire_decode(data_pkt, sizeof(data_pkt), &h),
			 UH_DROP_NONE);
	assert_int_equal(h.type, UH_PKT_DATA);
	assert_int_equal(h.sport, 0x1234);
	assert_int_equal(h.dport, 0x50);
	assert_true(h.sender_id == 0x0102030405060708ull);
	assert_int_equal(h.u.data.message_length, 100000);
	assert_int_equal(h.u.data.incoming, 40000);
	assert_int_equal(h.u.data.offset, 40960);
	assert_true(h.u.data.ack.client_id == 0x0A0B0C0D0E0F1012ull);
	assert_int_equal(h.u.data.ack.server_port, 99);
	assert_int_equal(h.u.data.retransmit, 1);
	assert_int_equal(h.u.data.payload_len, 4);
	assert_memory_equal(h.u.data.payload, "abcd", 4);
}

static void wire__data_offset_in_sequence(void **state)
{
	uint8_t p[sizeof(data_pkt)];
	struct uh_hdr h;

	(void)state;
	/* seg.offset 0xFFFFFFFF: the module's single-segment packets. */
	memcpy(p, data_pkt, sizeof(p));
	p[4] = 0; p[5] = 0; p[6] = 0x50; p[7] = 0;   /* sequence 20480 */
	memset(p + 52, 0xFF, 4);
	assert_int_equal(uh_wire_decode(p, sizeof(p), &h), UH_DROP_NONE);
	assert_int_equal(h.u.data.offset, 20480);
}

static void wire__grant(void **state)
{
	static const uint8_t v[33] = {
		COMMON(0, 0, 0, 0, 0x11, 0x50),
		0x00, 0x01, 0x38, 0x80,   /* offset 80000 */
		0x03,                     /* priority */
	};
	struct uh_hdr h;
	uint8_t buf[UH_MAX_HEADER];

	(void)state;
	assert_int_equal(uh_wire_decode(v, sizeof(v), &h), UH_DROP_NONE);
	assert_int_equal(h.u.grant.offset, 80000);
	assert_int_equal(h.u.grant.priority, 3);
	assert_int_equal(uh_wire_encode(&h, buf), 33);
	assert_memory_equal(buf, v, 33);
}

static void wire__resend(void **state)
{
	static const uint8_t v[37] = {
		COMMON(0, 0, 0, 0, 0x12, 0x50),
		0x00, 0x00, 0x05, 0x00,   /* offset 1280 */
		0xFF, 0xFF, 0xFF, 0xFF,   /* length -1: everything */
		0x07,
	};
	struct uh_hdr h;
	uint8_t buf[UH_MAX_HEADER];

	(void)state;
	assert_int_equal(uh_wire_decode(v, sizeof(v), &h), UH_DROP_NONE);
	assert_int_equal(h.u.resend.offset, 1280);
	assert_true(h.u.resend.length == UH_RESEND_ALL);
	assert_int_equal(h.u.resend.priority, 7);
	assert_int_equal(uh_wire_encode(&h, buf), 37);
	assert_memory_equal(buf, v, 37);
}

static void wire__cutoffs(void **state)
{
	static const uint8_t v[62] = {
		COMMON(0, 0, 0, 0, 0x15, 0x50),
		0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x00, 0x0F, 0x42, 0x40, 0x00, 0x00, 0x3A, 0x98,
		0x00, 0x00, 0x0A, 0xF0, 0x00, 0x00, 0x00, 0xC8,
		0x00, 0x02,               /* version 2 */
	};
	struct uh_hdr h;
	uint8_t buf[UH_MAX_HEADER];

	(void)state;
	assert_int_equal(uh_wire_decode(v, sizeof(v), &h), UH_DROP_NONE);
	assert_int_equal(h.u.cutoffs.cutoffs[0], 0x7FFFFFFF);
	assert_int_equal(h.u.cutoffs.cutoffs[4], 1000000);
	assert_int_equal(h.u.cutoffs.cutoffs[7], 200);
	assert_int_equal(h.u.cutoffs.version, 2);
	assert_int_equal(uh_wire_encode(&h, buf), 62);
	assert_memory_equal(buf, v, 62);
}

static void wire__ack(void **state)
{
	static const uint8_t v[80] = {
		COMMON(0, 0, 0, 0, 0x18, 0x50),
		0x00, 0x02,
		0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x1F, 0x90,  /* 256 @ 8080 */
		0, 0, 0, 0, 0, 0, 0x02, 0x02, 0x00, 0x50,  /* 514 @ 80 */
	};
	struct uh_hdr h;
	uint8_t buf[UH_MAX_HEADER];

	(void)state;
	assert_int_equal(uh_wire_decode(v, sizeof(v), &h), UH_DROP_NONE);
	assert_int_equal(h.u.ack.num_acks, 2);
	assert_true(h.u.ack.acks[0].client_id == 256);
	assert_int_equal(h.u.ack.acks[0].server_port, 8080);
	assert_true(h.u.ack.acks[1].client_id == 514);
	assert_int_equal(h.u.ack.acks[1].server_port, 80);
	assert_int_equal(uh_wire_encode(&h, buf), 80);
	assert_memory_equal(buf, v, 80);
}

static void wire__header_only_types(void **state)
{
	static const uint8_t types[] = { UH_PKT_RPC_UNKNOWN, UH_PKT_BUSY,
					 UH_PKT_FREEZE, UH_PKT_NEED_ACK };

	(void)state;
	for (size_t i = 0; i < sizeof(types); i++) {
		uint8_t v[28] = { COMMON(0, 0, 0, 0, 0, 0x50) }, buf[90];
		struct uh_hdr h;

		v[11] = types[i];
		assert_int_equal(uh_wire_decode(v, 28, &h), UH_DROP_NONE);
		assert_int_equal(uh_wire_encode(&h, buf), 28);
		assert_memory_equal(buf, v, 28);
	}
}

static void wire__rejects_malformed(void **state)
{
	uint8_t p[sizeof(data_pkt)];
	uint8_t ack[80] = { COMMON(0, 0, 0, 0, 0x18, 0x50) };
	struct uh_hdr h;

	(void)state;
	assert_int_equal(uh_wire_decode(data_pkt, 27, &h), UH_DROP_SHORT);
	assert_int_equal(uh_wire_decode(data_pkt, 55, &h), UH_DROP_SHORT);
	assert_int_equal(uh_wire_decode(data_pkt, 56, &h), UH_DROP_EMPTY);
	assert_int_equal(uh_wire_decode(ack, 79, &h), UH_DROP_SHORT);
	ack[29] = 6;                                  /* num_acks 6 > 5 */
	assert_int_equal(uh_wire_decode(ack, 80, &h), UH_DROP_BAD_ACKS);
	memcpy(p, data_pkt, sizeof(p));
	p[11] = 0x0F;
	assert_int_equal(uh_wire_decode(p, sizeof(p), &h), UH_DROP_BAD_TYPE);
	p[11] = 0x19;
	assert_int_equal(uh_wire_decode(p, sizeof(p), &h), UH_DROP_BAD_TYPE);
	memcpy(p, data_pkt, sizeof(p));
	memset(p + 28, 0, 4);                         /* length 0 */
	assert_int_equal(uh_wire_decode(p, sizeof(p), &h), UH_DROP_BAD_LENGTH);
	p[28] = 0; p[29] = 0x0F; p[30] = 0x42; p[31] = 0x41; /* 1000001 */
	assert_int_equal(uh_wire_decode(p, sizeof(p), &h), UH_DROP_BAD_LENGTH);
	memcpy(p, data_pkt, sizeof(p));
	p[52] = 0; p[53] = 0x01; p[54] = 0x86; p[55] = 0xA0; /* offset = len */
	assert_int_equal(uh_wire_decode(p, sizeof(p), &h), UH_DROP_BAD_OFFSET);
	p[55] = 0x9E;                                 /* 2 bytes short of end */
	assert_int_equal(uh_wire_decode(p, sizeof(p), &h), UH_DROP_PAST_END);
	/* A GRANT or RESEND priority above 7: no TOS carries it, and every
	 * send at it failed (helper-37: the RPC's data never left). */
	{
		uint8_t g[33] = { COMMON(0, 0, 0, 0, 0x11, 0x50) };
		uint8_t r[37] = { COMMON(0, 0, 0, 0, 0x12, 0x50) };

		g[32] = 7;
		assert_int_equal(uh_wire_decode(g, 33, &h), UH_DROP_NONE);
		g[32] = 8;
		assert_int_equal(uh_wire_decode(g, 33, &h),
				 UH_DROP_BAD_PRIORITY);
		g[32] = 255;
		assert_int_equal(uh_wire_decode(g, 33, &h),
				 UH_DROP_BAD_PRIORITY);
		r[36] = 8;
		assert_int_equal(uh_wire_decode(r, 37, &h),
				 UH_DROP_BAD_PRIORITY);
		assert_string_equal(uh_wire_drop_name(UH_DROP_BAD_PRIORITY),
				    "bad_priority");
	}
}

static void wire__names(void **state)
{
	(void)state;
	assert_string_equal(uh_wire_type_name(UH_PKT_ACK), "ACK");
	assert_string_equal(uh_wire_type_name(3), "UNKNOWN");
	assert_string_equal(uh_wire_drop_name(UH_DROP_SHORT), "short");
	for (unsigned r = 0; r < UH_DROP_NREASONS; r++)
		assert_non_null(uh_wire_drop_name(r));
	assert_int_equal(uh_wire_header_len(UH_PKT_NEED_ACK), 28);
	assert_int_equal(uh_wire_header_len(0x20), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UH_TEST(wire__data_encode_matches_layout),
		UH_TEST(wire__data_decode),
		UH_TEST(wire__data_offset_in_sequence),
		UH_TEST(wire__grant),
		UH_TEST(wire__resend),
		UH_TEST(wire__cutoffs),
		UH_TEST(wire__ack),
		UH_TEST(wire__header_only_types),
		UH_TEST(wire__rejects_malformed),
		UH_TEST(wire__names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
