/*
 * incoming.h - handling received packets (uh_stack_input is in stack.h).
 */
#ifndef UHOMA_CORE_INCOMING_H
#define UHOMA_CORE_INCOMING_H

#include "util/addr.h"
#include "core/wire.h"

struct uhoma_stack;

/* Server side: client @src acknowledged @ack; its RPC ends. No lock may be
 * held. */
void uh_in_apply_ack(struct uhoma_stack *st, const struct uh_addr *src,
		     const struct uh_ack *ack);

#endif /* UHOMA_CORE_INCOMING_H */
