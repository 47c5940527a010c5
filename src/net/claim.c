/*
 * claim.c - host-wide claims as abstract AF_UNIX names (claim.h).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
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

/* The probes' sockets, a few made as needed and kept (a datagram
 * socket's connect replaces its last one): the timer probes local peers'
 * ports as RPCs run, and a socket made and closed per probe, at the
 * lowest free number, could meet a program's close-everything loop in
 * another thread (helper-44). One that finds all in use makes its own. */
#define PROBE_SOCKS 4
static _Atomic int probe_fd[PROBE_SOCKS] = { -1, -1, -1, -1 };
static _Atomic bool probe_busy[PROBE_SOCKS];

static int probe_with(int fd, const char *name)
{
	struct sockaddr_un sun;
	socklen_t len;
	int rc, e;

	if (fd < 0)
		return -1;
	len = abstract_name(&sun, name);
	rc = connect(fd, (struct sockaddr *)&sun, len);
	e = errno;
	errno = e;              /* -1: the reason stays in errno */
	return rc == 0 ? 1 : e == ECONNREFUSED ? 0 : -1;
}

/* A holder takes a connection: ours is dropped at once. */
int uh_claim_probe(const char *name)
{
	int fd, r, e;

	for (unsigned i = 0; i < PROBE_SOCKS; i++) {
		if (atomic_exchange(&probe_busy[i], true))
			continue;
		fd = atomic_load(&probe_fd[i]);
		if (fd < 0) {
			fd = uh_fd_own_global(socket(AF_UNIX, SOCK_DGRAM |
							     SOCK_CLOEXEC, 0),
					      &probe_fd[i]);
			atomic_store(&probe_fd[i], fd);
		}
		r = probe_with(fd, name);
		e = errno;
		atomic_store(&probe_busy[i], false);
		errno = e;
		return r;
	}
	fd = uh_fd_own(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	r = probe_with(fd, name);
	e = errno;
	uh_fd_close(fd);
	errno = e;
	return r;
}

bool uh_claim_held(const char *name)
{
	return uh_claim_probe(name) != 0;   /* cannot tell: say nothing */
}
