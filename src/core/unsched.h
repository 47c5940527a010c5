/*
 * unsched.h - how many bytes of a message go out before any grant.
 *
 * To another host: cfg.unsched_bytes (40000 by default, about a round
 * trip's worth at 10 Gbit/s and more), as in the module.
 *
 * To a socket on this host (a local peer: loopback, or one of this host's
 * addresses) there is no link to protect, only the receiving socket's
 * kernel buffer. And the bytes sent before a grant are sent by the thread
 * that calls send -- on a small machine often an application sender that
 * otherwise spins on a CPU of its own -- while granted bytes are sent by
 * whichever thread takes the GRANT in, on a CPU the receivers share. With
 * cfg.local_unsched set above cfg.unsched_bytes, a local peer gets an
 * allowance of its own that adapts as a congestion window does: it starts
 * at cfg.unsched_bytes, grows by a 64th of its cap each tick (to the cap in
 * 64 ticks), and falls back to cfg.unsched_bytes on a sign of loss -- the
 * peer asks again (RESEND) for bytes we sent it unscheduled, or does not
 * know a request we sent it (RPC_UNKNOWN) -- and grows again from there.
 * The cap is cfg.local_unsched, at most an eighth of the receive buffer
 * the kernel gives a socket (the carrier's rcvbuf: rmem_max) and at
 * most a whole message.
 *
 * Off by default (cfg.local_unsched 0). Measured, it raises the rate of a
 * bulk-heavy workload between processes of one host (W4 through the
 * preload: +11-41 % with one client, +20-100 % with 4 and 8 clients on 2
 * CPUs). But a short request then waits behind whole unscheduled messages
 * in the receiving socket and thread: under overload the short messages'
 * P99 was three times the default's (TCP's), and a short RPC's P99 next
 * to a 1 MB stream went from 143 to 664 us (bench/README.md, "The bytes
 * sent before a grant to a local peer").
 *
 * The state is one word per peer (uh_peer.unsched), read and written with
 * relaxed atomics and no lock: a lost race loses a cut or reads an
 * allowance a tick old, either of which is harmless.
 */
#ifndef UHOMA_CORE_UNSCHED_H
#define UHOMA_CORE_UNSCHED_H

#include <stdint.h>

struct uhoma_stack;
struct uh_peer;

/* The stack's cap for local peers (uh_stack_new): 0 = no allowance of
 * their own (cfg.local_unsched 0 or at most cfg.unsched_bytes, or the
 * carrier's kernel buffer too small for more, or none). */
uint32_t uh_unsched_local_cap(const struct uhoma_stack *st);

/* The bytes a new message to @peer sends before a grant. */
uint32_t uh_unsched_bytes(struct uhoma_stack *st, struct uh_peer *peer);

/* @peer showed a loss of bytes we sent it unscheduled. */
void uh_unsched_loss(struct uhoma_stack *st, struct uh_peer *peer);

#endif
