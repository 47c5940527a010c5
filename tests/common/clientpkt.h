/*
 * clientpkt.h - the DATA header a remote client's request carries, for
 * tests and benchmarks that inject packets into a stack (no cmocka here:
 * bench/ includes it too).
 */
#ifndef UHOMA_TESTS_CLIENTPKT_H
#define UHOMA_TESTS_CLIENTPKT_H

#include <stdint.h>
#include <string.h>

#include "core/wire.h"

/* DATA at @off of a @len-byte request with client id @cid, from port 5000
 * to port 80, its sender claiming @incoming bytes unscheduled. */
static inline void uh_client_data_hdr(struct uh_hdr *h, uint64_t cid,
				      uint32_t len, uint32_t off,
				      uint32_t incoming)
{
	memset(h, 0, sizeof(*h));
	h->type = UH_PKT_DATA;
	h->sport = 5000;
	h->dport = 80;
	h->sender_id = cid;
	h->u.data.message_length = len;
	h->u.data.incoming = incoming;
	h->u.data.offset = off;
	h->u.data.cutoff_version = 1;     /* current: no CUTOFFS back */
}

#endif /* UHOMA_TESTS_CLIENTPKT_H */
