/*
 * error.c - uhoma's error codes: text, fatality and errno equivalents.
 */
#include <errno.h>
#include <stddef.h>

#include "uhoma/uhoma.h"

#define UH_STR2(x) #x
#define UH_STR(x) UH_STR2(x)

struct err_entry {
	int code;
	int errnum;
	const char *text;
};

static const struct err_entry err_table[] = {
	{ UHOMA_OK, 0, "success" },
	{ UHOMA_ERR_INVALID_ARGUMENT, EINVAL, "invalid argument" },
	{ UHOMA_ERR_NOMEM, ENOMEM, "out of memory" },
	{ UHOMA_ERR_AGAIN, EAGAIN, "operation would block" },
	{ UHOMA_ERR_TIMEDOUT, ETIMEDOUT, "peer did not respond in time" },
	{ UHOMA_ERR_SHUTDOWN, ESHUTDOWN, "socket has been shut down" },
	{ UHOMA_ERR_ADDR_IN_USE, EADDRINUSE, "port already in use" },
	{ UHOMA_ERR_NOT_FOUND, EINVAL, "no such RPC" },
	{ UHOMA_ERR_INTERRUPTED, EINTR, "wait interrupted by a signal" },
	{ UHOMA_ERR_NOT_CONNECTED, ENOTCONN, "peer has no socket at that port" },
	{ UHOMA_ERR_HOST_UNREACHABLE, EHOSTUNREACH, "peer host unreachable" },
	{ UHOMA_ERR_ABORTED, ECANCELED, "RPC aborted" },
	{ UHOMA_ERR_MSG_TOO_LONG, EINVAL, "message longer than 1000000 bytes" },
	{ UHOMA_ERR_NO_BUFFER, EINVAL, "receive buffer region not set, or full" },
	{ UHOMA_ERR_AF_NOT_SUPPORTED, EAFNOSUPPORT, "address family not supported by this socket" },
	{ UHOMA_ERR_PERMISSION, EPERM, "operation not permitted" },
	{ UHOMA_ERR_SYSTEM, EIO, "system call failed" },
	{ UHOMA_ERR_PROTO_NOT_SUPPORTED, EPROTONOSUPPORT, "peer does not speak Homa" },
	{ UHOMA_ERR_NO_FILES, EMFILE, "out of file descriptors" },
	{ UHOMA_ERR_BAD_ADDRESS, EFAULT, "a buffer cannot be read" },
	{ UHOMA_ERR_FATAL, EIO, "fatal error" },
	{ UHOMA_ERR_INTERNAL, EIO, "internal error in uhoma" },
};

static const struct err_entry *err_find(int code)
{
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == code)
			return &err_table[i];
	return NULL;
}

const char *uhoma_strerror(int code)
{
	const struct err_entry *e = err_find(code);

	return e ? e->text : "unknown uhoma error";
}

int uhoma_err_is_fatal(int code)
{
	return code <= UHOMA_ERR_FATAL;
}

int uhoma_err_to_errno(int code)
{
	const struct err_entry *e = err_find(code);

	return e ? e->errnum : EIO;
}

const char *uhoma_version(void)
{
	return UH_STR(UHOMA_VERSION_MAJOR) "." UH_STR(UHOMA_VERSION_MINOR) "."
		UH_STR(UHOMA_VERSION_PATCH);
}
