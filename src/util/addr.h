/*
 * addr.h - peer addresses. Every address is kept as 16 bytes of IPv6, an
 * IPv4 address as IPv4-mapped IPv6 (::ffff:a.b.c.d), as the module does.
 */
#ifndef UHOMA_UTIL_ADDR_H
#define UHOMA_UTIL_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

struct uh_addr {
	uint8_t b[16];
};

static inline bool uh_addr_eq(const struct uh_addr *a, const struct uh_addr *b)
{
	return memcmp(a->b, b->b, 16) == 0;
}

static inline bool uh_addr_is_v4(const struct uh_addr *a)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    0xff, 0xff };
	return memcmp(a->b, prefix, 12) == 0;
}

/* Whether @a is a loopback address: 127.0.0.0/8 or ::1. */
static inline bool uh_addr_is_loopback(const struct uh_addr *a)
{
	static const uint8_t one[16] = { [15] = 1 };

	return (uh_addr_is_v4(a) && a->b[12] == 127) ||
	       memcmp(a->b, one, 16) == 0;
}

/* A well-mixed 32-bit hash of @a. */
uint32_t uh_addr_hash(const struct uh_addr *a);

/*
 * Reads an AF_INET or AF_INET6 sockaddr of @len bytes. Returns 0, or a
 * uhoma error: INVALID_ARGUMENT (NULL or short), AF_NOT_SUPPORTED.
 */
int uh_addr_from_sockaddr(const struct sockaddr *sa, size_t len,
			  struct uh_addr *a, uint16_t *port);

/* Writes @a:@port as sockaddr_in (IPv4-mapped) or sockaddr_in6. */
void uh_addr_to_sockaddr(const struct uh_addr *a, uint16_t port,
			 struct sockaddr_storage *ss, uint32_t *len);

/* Parses "1.2.3.4" or "::1". Returns 0, or -1. */
int uh_addr_parse(const char *text, struct uh_addr *a);

/* Formats @a into @buf (at least 48 bytes); returns @buf. */
char *uh_addr_format(const struct uh_addr *a, char *buf, size_t len);

#endif /* UHOMA_UTIL_ADDR_H */
