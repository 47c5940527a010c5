/*
 * claim.h - host-wide claims: names in the abstract AF_UNIX namespace.
 *
 * Binding an abstract name is atomic across the processes of a network
 * namespace, whatever their users, and the kernel drops the name with the
 * socket, so no claim outlives the process that made it. The raw-IP
 * carrier claims its Homa ports and its refuser role this way; the UDP
 * carrier claims (address, port) pairs, which the kernel's own bind rules
 * cannot keep apart once a port is also held on the wildcard address
 * (udp.c, open_guard).
 */
#ifndef UHOMA_NET_CLAIM_H
#define UHOMA_NET_CLAIM_H

#include <stdbool.h>

/* Claims @name host-wide; returns the claim's socket (close it to give
 * the claim up) or -errno (-EADDRINUSE: someone holds it). */
int uh_claim(const char *name);

/* Whether some process holds @name (true, too, if it cannot tell). */
bool uh_claim_held(const char *name);

/* The same in three: 1 held, 0 not, -1 cannot tell (errno says why: out
 * of descriptors is EMFILE or ENFILE). */
int uh_claim_probe(const char *name);

#endif /* UHOMA_NET_CLAIM_H */
