/*
 * addr.c - conversions between sockaddrs, text and struct uh_addr.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "util/addr.h"
#include "uhoma/uhoma.h"

/* splitmix64's finalizer: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 27;
	x *= 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/*
 * Each word goes through the full finalizer: a multiply carries bits only
 * upward, so one multiply and shift per word (as this once did) left the
 * low bits of the hash blind to an address's last bytes -- every host of a
 * 10.0.0.x network fell in one bucket of the peer table.
 */
uint32_t uh_addr_hash(const struct uh_addr *a)
{
	uint64_t h = 0x9E3779B97F4A7C15ull, w;

	for (int i = 0; i < 16; i += 8) {
		memcpy(&w, a->b + i, 8);
		h = mix64(h ^ w);
	}
	return (uint32_t)(h ^ (h >> 32));
}

static void set_v4(struct uh_addr *a, const void *v4)
{
	memset(a->b, 0, 10);
	a->b[10] = 0xff;
	a->b[11] = 0xff;
	memcpy(a->b + 12, v4, 4);
}

int uh_addr_from_sockaddr(const struct sockaddr *sa, size_t len,
			  struct uh_addr *a, uint16_t *port)
{
	if (!sa || len < sizeof(sa_family_t))
		return UHOMA_ERR_INVALID_ARGUMENT;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		if (len < sizeof(*in))
			return UHOMA_ERR_INVALID_ARGUMENT;
		set_v4(a, &in->sin_addr);
		*port = ntohs(in->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

		if (len < sizeof(*in6))
			return UHOMA_ERR_INVALID_ARGUMENT;
		memcpy(a->b, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
		return 0;
	}
	return UHOMA_ERR_AF_NOT_SUPPORTED;
}

void uh_addr_to_sockaddr(const struct uh_addr *a, uint16_t port,
			 struct sockaddr_storage *ss, uint32_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (uh_addr_is_v4(a)) {
		struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, a->b + 12, 4);
		*len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, a->b, 16);
		*len = sizeof(*in6);
	}
}

int uh_addr_parse(const char *text, struct uh_addr *a)
{
	struct in_addr v4;

	if (!text)
		return -1;
	if (inet_pton(AF_INET, text, &v4) == 1) {
		set_v4(a, &v4);
		return 0;
	}
	if (inet_pton(AF_INET6, text, a->b) == 1)
		return 0;
	return -1;
}

char *uh_addr_format(const struct uh_addr *a, char *buf, size_t len)
{
	if (uh_addr_is_v4(a))
		inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, a->b, buf, (socklen_t)len);
	return buf;
}
