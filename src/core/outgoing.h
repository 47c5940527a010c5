/*
 * outgoing.h - building and sending packets: DATA for the message an RPC
 * sends (first transmission and retransmission), and control packets.
 *
 * Functions taking a locked RPC may drop the lock while the carrier sends
 * (nothing that can block runs under an RPC lock) and retake it before
 * returning; the caller holds a reference, and must re-check the RPC's
 * state afterwards (it may have ended meanwhile).
 */
#ifndef UHOMA_CORE_OUTGOING_H
#define UHOMA_CORE_OUTGOING_H

#include <stdbool.h>
#include <stdint.h>

#include "core/rpc.h"
#include "core/sock.h"
#include "core/wire.h"

/* Fills the common fields of a control packet @type about @rpc. */
void uh_out_ctl_init(struct uh_hdr *h, const struct uh_rpc *rpc, uint8_t type);

/* Queues a header-only control packet @type about @rpc (locked). */
void uh_out_ctl(struct uh_rpc *rpc, uint8_t type, struct uh_deferred *p);

/* Sends every granted byte of @rpc's message not sent yet, as far as the
 * pacer admits (pacer.h); returns at once if the message is throttled. */
void uh_out_xmit(struct uh_rpc *rpc);

/*
 * Transmit deferral. A short message for an application thread that is
 * busy-polling must not wait while that thread transmits a burst of
 * granted bulk data: one 64 KB datagram costs ~10 us of system call, and
 * one batch of GRANTs can ask for several. So while the thread polls
 * (uh_out_defer(true) around its receive), the granted data that the
 * packets it processes call for is deferred -- the message joins the
 * pacer's deferred set, in SRPT order -- and the thread sends it a slice
 * at a time between receives (uh_pacer_send_slice), returning to its
 * application as soon as that has a message. Deferred data left when it
 * stops polling is sent before it sleeps, by the receive thread, or at
 * the next tick (runtime.c).
 */
void uh_out_defer(bool on);

/* uh_out_xmit for granted bytes an incoming packet (GRANT, RESEND) calls
 * for: deferred instead if this thread is polling for its application. */
void uh_out_xmit_granted(struct uh_rpc *rpc);

/* @rpc's granted bytes, whole packets until @budget bytes (a deferred
 * message's sender, pacer.h); deferred again if more remain. */
void uh_out_xmit_some(struct uh_rpc *rpc, uint32_t budget);

/* The pacer's call for a throttled message it popped: its first packet
 * goes regardless of the backlog. */
void uh_out_xmit_paced(struct uh_rpc *rpc);

/* Retransmits bytes [@start, @end) of @rpc's message that were sent
 * already, at @prio; returns the number of packets (0: nothing to resend). */
unsigned uh_out_resend(struct uh_rpc *rpc, uint32_t start, uint32_t end,
		       uint8_t prio);

/*
 * True if the packet holding byte @start of @rpc's message was sent (or
 * retransmitted) within the last resend_ticks - 1 ticks. A receiver asks
 * for data only after resend_ticks of silence, so a RESEND for such bytes
 * was sent before they could reach it -- it waited in a queue, ours or the
 * network's -- and serving it would only send duplicates. Should the data
 * really be lost, the receiver asks again a resend_interval later.
 */
bool uh_out_sent_lately(const struct uh_rpc *rpc, uint32_t start);

/* Receiver side: asks the sender of @rpc's incoming message for what is
 * missing (@all: everything, RESEND(0, -1)). */
void uh_out_request_resend(struct uh_rpc *rpc, struct uh_deferred *p, bool all);

/* Queues an empty RESEND at the message's granted offset: a probe that a
 * live sender answers with BUSY, for a message that waits on us (for a
 * grant, or for buffer space) and so hears nothing. RPC lock held. */
void uh_out_probe(struct uh_rpc *rpc, struct uh_deferred *p);

#endif /* UHOMA_CORE_OUTGOING_H */
