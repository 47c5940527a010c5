/*
 * host.h - a simulated host: the real protocol core (a uhoma stack) on a
 * carrier whose send puts packets into the host's NIC in the model, driven
 * by the simulator's events.
 *
 * Each host has one stack and one socket (port 1, a server) with a buffer
 * region of SIM_REGION bytes: the same bytes for every host (struct
 * sim_hosts.region), since nothing reads a message's bytes -- each core
 * still allocates, copies into and releases its pool's bpages as it would
 * in a region of its own, but the run touches 64 MiB, not 64 MiB a host. The simulator calls into the core exactly
 * as the runtime would, in virtual time: uh_stack_input() when a packet's
 * last bit reaches the host, uh_stack_tick() every cfg.tick_us, and
 * uh_pacer_run() when the pacer's wait expires. A message that becomes
 * ready is taken (uh_call_take) at once, in the same instant, and handed
 * to the application's callback. Nothing costs time but the network: the
 * hosts' CPUs are infinitely fast.
 */
#ifndef UHOMA_SIM_HOST_H
#define UHOMA_SIM_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "core/carrier.h"
#include "net.h"
#include "uhoma/uhoma.h"

/* The hosts' buffer region: reserved address space, touched on demand. */
#define SIM_REGION (64u << 20)
#define SIM_PORT 1

struct sim_host;
struct uh_metrics;

/* A message was taken at @h (@rc: its length or an error). */
typedef void (*sim_msg_fn)(void *app, struct sim_host *h,
			   const struct uhoma_msg *m, int rc);

struct sim_host {
	struct uh_carrier c;          /* first: the stack's carrier */
	struct sim_hosts *all;
	uint32_t index;
	struct uhoma_stack *st;
	struct uh_metrics *metrics;
	struct uhoma_sock *sock;
	bool rx_ready;                /* the core said a message may be ready */
	bool pacer_armed;             /* a pacer event is pending */
	/* The receiver's overcommitment: messages its core grants to at
	 * once (grant slots in use), sampled after every call into it. */
	uint32_t active, max_active;
	uint64_t active_since;        /* ps: when active took its value */
	long double active_area;      /* active x ps, for the mean */
	uint64_t granting_ps;         /* time with active > 0 */
};

struct sim_hosts {
	struct sim_net *net;
	uint32_t n;
	struct sim_host *h;           /* [n] */
	/* Every host's pool's region. Shared: first touches (a page fault
	 * each, 2-4 us here) were a third of a fabric run's time when each
	 * host had its own, and the bytes mean nothing. */
	void *region;
	uint64_t tick_ps;
	uint64_t resend_ps;           /* the cores' resend interval */
	sim_msg_fn on_msg;
	void *app;
};

/* The address of host @i (10.a.b.c holding i + 1). */
struct uh_addr sim_host_addr(uint32_t i);

/* The longest configuration string a stack takes (uhoma_config_parse). */
#define SIM_MAX_CONFIG 1023u

/*
 * The configuration every host's stack gets, into @cfg: the defaults
 * (with UHOMA_CONFIG from the environment, as for any stack), the
 * simulator's own settings (rx_threads=0, sndbuf=0, stat=0, lanes=0),
 * then "key=value,..." @config (NULL: none), which may override sndbuf
 * only: it refuses the keys the simulator does not model.
 * Returns 0, or -1 with what is wrong in @err (@len bytes): each refused
 * item and why (uh_config_explain).
 */
int sim_hosts_config(const char *config, struct uhoma_config *cfg,
		     char *err, size_t len);

/*
 * Starts a stack on every host of @net with sim_hosts_config(@config),
 * each host's carrier pacing at its NIC's rate, and schedules their
 * ticks. Returns 0 or -1 (a message on stderr).
 */
int sim_hosts_start(struct sim_hosts *hs, struct sim_net *net,
		    const char *config, sim_msg_fn on_msg, void *app);
void sim_hosts_stop(struct sim_hosts *hs);

/* Sends a request of @len bytes from host @from to host @to with @cookie.
 * Returns 0 or a uhoma error; *@id is the client RPC's id. */
int sim_host_send(struct sim_host *h, uint32_t to, uint32_t len,
		  uint64_t cookie, uint64_t *id);
/* Replies @len bytes to request @m, taken at @h. */
int sim_host_reply(struct sim_host *h, const struct uhoma_msg *m,
		   uint32_t len);
/* Ends request @m, taken at @h, with no response and no packet: a
 * one-way message's receiver (Homa has only RPCs; the simulator ends
 * both sides itself, see sim_host_abort). 0 or UHOMA_ERR_NOT_FOUND. */
int sim_host_forget(struct sim_host *h, const struct uhoma_msg *m);
/* Ends client RPC @id of @h silently, with no packet. */
void sim_host_abort(struct sim_host *h, uint64_t id);
/* Gives @m's buffer pages back. */
void sim_host_release(struct sim_host *h, const struct uhoma_msg *m);

/* The sending host of message @m (taken at some host). */
uint32_t sim_msg_peer(const struct uhoma_msg *m);

/* Brings @h's overcommitment figures up to now (before reading them). */
void sim_host_settle(struct sim_host *h);

/* The virtual clock the stacks read, in ns. */
uint64_t sim_clock_ns(void);

#endif /* UHOMA_SIM_HOST_H */
