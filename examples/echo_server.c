/*
 * echo_server - answers every request with the same bytes.
 *
 *   echo_server [port] [address]      (defaults: 4000, ::1)
 *
 * Build: cc echo_server.c $(pkg-config --cflags --libs uhoma)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <uhoma/uhoma.h>

#define REGION (64u << 20)

int main(int argc, char **argv)
{
	struct uhoma_config cfg;
	struct uhoma_stack *st;
	struct uhoma_sock *s;
	static char buf[UHOMA_MAX_MESSAGE];
	void *region;
	int rc;

	uhoma_config_default(&cfg);
	if (argc > 2)
		snprintf(cfg.addr, sizeof(cfg.addr), "%s", argv[2]);
	rc = uhoma_stack_create(&cfg, &st);
	if (rc == UHOMA_OK)
		rc = uhoma_socket(st, (uint16_t)(argc > 1 ? atoi(argv[1]) : 4000),
				  &s);
	if (rc != UHOMA_OK) {
		fprintf(stderr, "echo_server: %s\n", uhoma_strerror(rc));
		return 1;
	}
	/* Incoming messages land in this region, in 64 KiB pages. */
	region = mmap(NULL, REGION, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uhoma_set_buffers(s, region, REGION);
	printf("echo_server: port %u\n", uhoma_port(s));
	fflush(stdout);

	for (;;) {
		struct uhoma_msg m = { .id = 0 };   /* 0: any message */
		int len = uhoma_recv(s, &m, 0, -1);

		if (len < 0) {
			fprintf(stderr, "echo_server: %s\n", uhoma_strerror(len));
			continue;
		}
		uhoma_msg_copy(s, &m, 0, buf, (size_t)len);
		uhoma_msg_release(s, &m);           /* pages back to uhoma */
		uhoma_reply(s, (struct sockaddr *)&m.peer, m.peer_len, m.id,
			    buf, (size_t)len);
	}
}
