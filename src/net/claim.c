/*
 * claim.c - host-wide claims as abstract AF_UNIX names (claim.h).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net/claim.h"
#include "net/ownfd.h"

/* The abstract AF_UNIX address named @name (sun_path[0] is NUL: no file);
 * returns its length. */
static socklen_t abstract_name(struct sockaddr_un *sun, const char *name)
{
	size_t n = strlen(name);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (n > sizeof(sun->sun_path) - 1)
		n = sizeof(sun->sun_path) - 1;
	memcpy(sun->sun_path + 1, name, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

int uh_claim(const char *name)
{
	struct sockaddr_un sun;
	socklen_t len = abstract_name(&sun, name);
	int fd = uh_fd_own(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, len) < 0) {
		int e = errno;

		uh_fd_close(fd);
		return -e;
	}
	return fd;
}

/* The probes' sockets (ownfd.h): the timer probes local peers' ports as
 * RPCs run (a datagram socket's connect replaces its last one). */
static struct uh_fd_pool probe_pool = UH_FD_POOL_INIT(AF_UNIX);

static int probe_with(int fd, const char *name)
{
	struct sockaddr_un sun;
	socklen_t len;

	if (fd < 0)
		return -1;
	len = abstract_name(&sun, name);
	if (connect(fd, (struct sockaddr *)&sun, len) == 0)
		return 1;
	return errno == ECONNREFUSED ? 0 : -1;  /* -1: the reason in errno */
}

/* A holder takes a connection: ours is dropped at once. */
int uh_claim_probe(const char *name)
{
	int slot, fd = uh_fd_pool_get(&probe_pool, &slot);
	int r = probe_with(fd, name);

	uh_fd_pool_put(&probe_pool, fd, slot);
	return r;
}

bool uh_claim_held(const char *name)
{
	return uh_claim_probe(name) != 0;   /* cannot tell: say nothing */
}
