/*
 * calls.h - the operations behind the public calls (api/api.c), as the
 * core does them: none waits, none touches the caller's memory but the
 * message it is handed, and each returns with no lock held. The api layer
 * checks arguments, copies, charges the send budget and waits around them.
 */
#ifndef UHOMA_CORE_CALLS_H
#define UHOMA_CORE_CALLS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/addr.h"
#include "uhoma/uhoma.h"

struct uhoma_sock;
struct uhoma_stack;

/* Whether @st's carrier can reach @a (a stack on an IPv4 address cannot
 * send to IPv6 and vice versa; the wildcard "::" reaches both). */
bool uh_call_family_ok(const struct uhoma_stack *st, const struct uh_addr *a);

/*
 * Starts a request of @len bytes at @copy (uh_rpc_msgbuf_alloc'ed; the
 * RPC's from now on, freed on failure; with UHOMA_ZEROCOPY in @flags the
 * application's own memory, never freed) to @addr:@port, holding @charged
 * bytes of send budget (returned on failure). @flags: UHOMA_PRIVATE,
 * UHOMA_ZEROCOPY. Sets *@id. Returns 0, UHOMA_ERR_NOMEM or
 * UHOMA_ERR_SHUTDOWN.
 */
int uh_call_send(struct uhoma_sock *s, const struct uh_addr *addr,
		 uint16_t port, uint8_t *copy, uint32_t len, uint64_t cookie,
		 unsigned flags, uint32_t charged, uint64_t *id);

/*
 * Sends @copy (@len bytes, owned as above) as the response of server RPC
 * @id from @addr. 0 also when the RPC no longer exists (it may have been
 * aborted: the module's rule); UHOMA_ERR_INVALID_ARGUMENT if it is not in
 * service.
 */
int uh_call_reply(struct uhoma_sock *s, const struct uh_addr *addr,
		  uint16_t port, uint64_t id, uint8_t *copy, uint32_t len);

/*
 * Takes a ready message into @msg: private client RPC @want, or (0) the
 * first ready one. Returns 1 with *@rc set (its length, or its error, or
 * UHOMA_ERR_INVALID_ARGUMENT for a @want that is not a private RPC of
 * @s), 0 when nothing is ready.
 */
int uh_call_take(struct uhoma_sock *s, uint64_t want, struct uhoma_msg *msg,
		 int *rc);

/* Aborts client RPC @id (0: every client RPC of @s) with @error (0: ends
 * it silently). 0 or UHOMA_ERR_NOT_FOUND. */
int uh_call_abort(struct uhoma_sock *s, uint64_t id, int error);

#endif /* UHOMA_CORE_CALLS_H */
