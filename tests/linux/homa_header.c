/*
 * homa_header.c - <uhoma/homa.h> is source-compatible with the module's
 * uapi header: a program that uses every struct, field, constant and ioctl
 * of it, with the printf formats the module's types call for (%llu for
 * __u64, %u for __u32, %d for __s32), compiles with -Wall -Wextra -Werror
 * as C and as C++ (homa_header.cc includes this file), with no other
 * include before the header. Run, it checks the values that a program
 * compiled against the module's header would see.
 */
#include <uhoma/homa.h>

#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(c) \
	do { if (!(c)) { printf("FAIL: %s\n", #c); failures++; } } while (0)

int main(void)
{
	struct homa_sendmsg_args sa;
	struct homa_recvmsg_args ra;
	struct homa_rcvbuf_args rb;
	struct homa_rpc_info ri;
	struct homa_info info;
	struct homa_abort_args aa;
	char line[512];

	memset(&sa, 0, sizeof(sa));
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	memset(&ri, 0, sizeof(ri));
	memset(&info, 0, sizeof(info));
	memset(&aa, 0, sizeof(aa));
	sa.id = 1;
	sa.completion_cookie = 2;
	sa.flags = HOMA_SENDMSG_PRIVATE;
	sa.reserved = 0;
	ra.id = 3;
	ra.completion_cookie = 4;
	ra.num_bpages = 1;
	ra.reserved = 0;
	ra.bpage_offsets[HOMA_MAX_BPAGES - 1] = HOMA_BPAGE_SIZE;
	rb.start = (__u64)(unsigned long)&line;
	rb.length = sizeof(line);
	ri.id = 5;
	ri.peer.in6.sin6_family = AF_INET6;
	ri.completion_cookie = 6;
	ri.tx_length = -1;
	ri.tx_sent = ri.tx_granted = ri.tx_prio = 7;
	ri.rx_length = -1;
	ri.rx_remaining = ri.rx_gaps = ri.rx_gap_bytes = ri.rx_granted = 8;
	ri.flags = HOMA_RPC_BUF_STALL | HOMA_RPC_PRIVATE | HOMA_RPC_RX_READY |
		   HOMA_RPC_RX_COPY;
	info.rpc_info = (__u64)(unsigned long)&ri;
	info.rpc_info_length = sizeof(ri);
	info.bpool_avail_bytes = 9;
	info.port = 10;
	info.num_rpcs = 11;
	info.error_msg[HOMA_ERROR_MSG_SIZE - 1] = '\0';
	aa.id = 12;
	aa.error = 13;
	aa._pad1 = 0;
	aa._pad2[0] = aa._pad2[1] = 0;

	/* The module's types, through the formats its users write. */
	snprintf(line, sizeof(line),
		 "%llu %llu %u %u %llu %llu %u %u %llu %zu %llu %llu %d %u %u "
		 "%u %d %u %u %u %u %u %llu %zu %llu %u %u %llu %u %u %llu",
		 sa.id, sa.completion_cookie, sa.flags, sa.reserved, ra.id,
		 ra.completion_cookie, ra.num_bpages, ra.bpage_offsets[0],
		 rb.start, rb.length, ri.id, ri.completion_cookie,
		 ri.tx_length, ri.tx_sent, ri.tx_granted, ri.tx_prio,
		 ri.rx_length, ri.rx_remaining, ri.rx_gaps, ri.rx_gap_bytes,
		 ri.rx_granted, (unsigned)ri.flags, info.rpc_info,
		 info.rpc_info_length, info.bpool_avail_bytes, info.port,
		 info.num_rpcs, aa.id, aa.error, aa._pad1, aa._pad2[0]);
	CHECK(strncmp(line, "1 2 1 0 3 4 1 0", 15) == 0);

	CHECK(IPPROTO_HOMA == 146);
	CHECK(HOMA_MAX_MESSAGE_LENGTH == 1000000);
	CHECK(HOMA_BPAGE_SHIFT == 16 && HOMA_BPAGE_SIZE == 65536);
	CHECK(HOMA_MAX_BPAGES == 16);
	CHECK(HOMA_MIN_DEFAULT_PORT == 0x8000);
	CHECK(HOMA_SENDMSG_PRIVATE == 1 && HOMA_SENDMSG_VALID_FLAGS == 1);
	CHECK(SO_HOMA_RCVBUF == 10 && SO_HOMA_SERVER == 11);
	CHECK(HOMA_FLAG_DONT_THROTTLE == 2);
	CHECK(HOMA_ERROR_MSG_SIZE == 104);
	CHECK(sizeof(struct homa_info) == 136);
	CHECK((unsigned long)HOMAIOCINFO == 0xC0886890ul);
	CHECK((unsigned long)HOMAIOCABORT == 0xC0206891ul);
	CHECK((unsigned long)HOMAIOCFREEZE == 0x6892ul);
	printf("homa_header: %s\n", failures ? "FAILED" : "every name compiles, every value matches");
	return failures != 0;
}
