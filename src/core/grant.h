/*
 * grant.h - receiver-side grants: how far each incoming message's sender
 * may transmit.
 *
 * This version keeps, for every incoming message, a window of
 * granted-but-unreceived bytes: a fixed cfg.window, or dynamically
 * max_incoming / (messages being granted + 1). Every function runs under
 * the RPC lock alone; the count of messages being granted is one atomic.
 * The SRPT policy of the next layer (at most max_overcommit messages,
 * fewest bytes left first, the grant lock ranked before the RPC lock)
 * replaces uh_grant_check without changing its callers.
 */
#ifndef UHOMA_CORE_GRANT_H
#define UHOMA_CORE_GRANT_H

#include "core/rpc.h"
#include "core/sock.h"

/* After DATA arrived for @rpc (locked): raises its grant if the window
 * allows, queueing a GRANT in @p. */
void uh_grant_check(struct uh_rpc *rpc, struct uh_pending *p);

/* Queues a GRANT repeating @rpc's current grant (lost-grant recovery). */
void uh_grant_send(struct uh_rpc *rpc, struct uh_pending *p);

/* @rpc's message is complete or abandoned: stop granting to it. */
void uh_grant_done(struct uh_rpc *rpc);

#endif /* UHOMA_CORE_GRANT_H */
