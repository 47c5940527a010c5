/*
 * uhoma.h - the public API of uhoma, the Homa transport in user space.
 *
 * This header grows with the protocol layers. Today it holds what every layer
 * shares: the library version and the error codes.
 *
 * Error convention: every function that can fail returns an int that is 0 (or
 * a non-negative count) on success and one of the negative UHOMA_ERR_* codes
 * below on failure. Codes lie in a reserved band (-201 .. -599) so they can
 * never be mistaken for a length; codes at or below UHOMA_ERR_FATAL mean the
 * object that returned them can no longer be used.
 *
 * Thread safety: every function declared here may be called from any thread.
 */
#ifndef UHOMA_UHOMA_H
#define UHOMA_UHOMA_H

#ifdef __cplusplus
extern "C" {
#endif

#define UHOMA_VERSION_MAJOR 0
#define UHOMA_VERSION_MINOR 1
#define UHOMA_VERSION_PATCH 0

/* Error codes. Each function's comment lists the ones it can return. */
enum uhoma_error {
	UHOMA_OK = 0,
	UHOMA_ERR_INVALID_ARGUMENT = -201, /* an argument is out of range */
	UHOMA_ERR_NOMEM = -202,            /* memory could not be allocated */
	UHOMA_ERR_AGAIN = -203,            /* non-blocking call would block */
	UHOMA_ERR_TIMEDOUT = -204,         /* peer silent past the timeout */
	UHOMA_ERR_SHUTDOWN = -205,         /* socket or stack is shut down */
	UHOMA_ERR_ADDR_IN_USE = -206,      /* port already bound */
	UHOMA_ERR_NOT_FOUND = -207,        /* no such RPC */
	UHOMA_ERR_INTERRUPTED = -208,      /* wait interrupted by a signal */
	UHOMA_ERR_NOT_CONNECTED = -209,    /* peer has no such port */
	UHOMA_ERR_HOST_UNREACHABLE = -210, /* peer address unreachable */
	UHOMA_ERR_ABORTED = -211,          /* RPC aborted by the application */
	UHOMA_ERR_MSG_TOO_LONG = -212,     /* message over 1,000,000 bytes */
	UHOMA_ERR_NO_BUFFER = -213,        /* no receive buffer region set */
	UHOMA_ERR_AF_NOT_SUPPORTED = -214, /* address family mismatch */
	UHOMA_ERR_PERMISSION = -215,       /* operation needs a privilege */
	UHOMA_ERR_SYSTEM = -216,           /* a system call failed */
	UHOMA_ERR_PROTO_NOT_SUPPORTED = -217, /* peer speaks no Homa */
	UHOMA_ERR_FATAL = -500,            /* codes <= this are fatal */
	UHOMA_ERR_INTERNAL = -501,         /* invariant broken inside uhoma */
};

/*
 * uhoma_strerror - a constant English sentence for @code (never NULL).
 * Unknown codes give "unknown uhoma error".
 */
const char *uhoma_strerror(int code);

/* uhoma_err_is_fatal - non-zero when @code is at or below UHOMA_ERR_FATAL. */
int uhoma_err_is_fatal(int code);

/*
 * uhoma_err_to_errno - the errno value the Linux Homa module uses for the
 * same failure (EINVAL, ENOMEM, ...); 0 for UHOMA_OK, EIO for unknown codes.
 */
int uhoma_err_to_errno(int code);

/* uhoma_version - "MAJOR.MINOR.PATCH" of the library actually linked. */
const char *uhoma_version(void);

#ifdef __cplusplus
}
#endif

#endif /* UHOMA_UHOMA_H */
