/*
 * echo_client - sends a message to echo_server and times the round trip.
 *
 *   echo_client [port] [address] [bytes] [count]
 *                                       (defaults: 4000, ::1, 100, 10)
 *
 * Build: cc echo_client.c $(pkg-config --cflags --libs uhoma)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <uhoma/uhoma.h>

#define REGION (64u << 20)

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	const char *addr = argc > 2 ? argv[2] : "::1";
	uint16_t port = (uint16_t)(argc > 1 ? atoi(argv[1]) : 4000);
	size_t len = argc > 3 ? (size_t)atol(argv[3]) : 100;
	int count = argc > 4 ? atoi(argv[4]) : 10;
	struct sockaddr_storage to = { 0 };
	struct uhoma_config cfg;
	struct uhoma_stack *st;
	struct uhoma_sock *s;
	char *buf = calloc(1, len ? len : 1);
	int rc;

	if (strchr(addr, ':')) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&to;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &in6->sin6_addr);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&to;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		inet_pton(AF_INET, addr, &in->sin_addr);
	}
	uhoma_config_default(&cfg);
	snprintf(cfg.addr, sizeof(cfg.addr), "%s", addr);
	rc = uhoma_stack_create(&cfg, &st);
	if (rc == UHOMA_OK)
		rc = uhoma_socket(st, 0, &s);     /* 0: any free port */
	if (rc == UHOMA_OK)
		rc = uhoma_set_buffers(s, mmap(NULL, REGION,
					       PROT_READ | PROT_WRITE,
					       MAP_PRIVATE | MAP_ANONYMOUS,
					       -1, 0), REGION);
	for (int i = 0; rc == UHOMA_OK && i < count; i++) {
		struct uhoma_msg m = { .id = 0 };
		uint64_t id;
		double t0 = now_us();

		rc = uhoma_send(s, (struct sockaddr *)&to, sizeof(to), buf, len,
				0, 0, &id);
		if (rc == UHOMA_OK)
			rc = uhoma_recv(s, &m, 0, 2000000000);  /* 2 s */
		if (rc >= 0) {
			printf("%zu bytes back in %.1f us\n", (size_t)rc,
			       now_us() - t0);
			uhoma_msg_release(s, &m);
			rc = UHOMA_OK;
		}
	}
	if (rc != UHOMA_OK) {
		fprintf(stderr, "echo_client: %s\n", uhoma_strerror(rc));
		return 1;
	}
	uhoma_close(s);
	uhoma_stack_destroy(st);
	free(buf);
	return 0;
}
