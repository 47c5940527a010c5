/*
 * config.c - stack configuration: defaults, UHOMA_CONFIG, validation.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "util/addr.h"

struct field {
	const char *name;
	size_t offset;
	uint32_t min, max;
};

#define CONFIG_FIELD(n, lo, hi) { #n, offsetof(struct uhoma_config, n), lo, hi }
static const struct field fields[] = {
	CONFIG_FIELD(carrier, 0, 2),
	CONFIG_FIELD(mtu, 0, 65536),
	CONFIG_FIELD(rx_threads, 0, 64),
	CONFIG_FIELD(tick_us, 10, 1000000),
	CONFIG_FIELD(poll_us, 0, 1000000),
	CONFIG_FIELD(unsched_bytes, 1, UHOMA_MAX_MESSAGE),
	CONFIG_FIELD(window, 0, UHOMA_MAX_MESSAGE),
	CONFIG_FIELD(max_incoming, 1000, 1u << 30),
	CONFIG_FIELD(resend_ticks, 1, 100000),
	CONFIG_FIELD(resend_interval, 1, 100000),
	CONFIG_FIELD(timeout_ticks, 2, 1000000),
	CONFIG_FIELD(request_ack_ticks, 1, 100000),
	CONFIG_FIELD(reap_limit, 1, 1000000),
	CONFIG_FIELD(num_priorities, 1, 8),
	CONFIG_FIELD(link_mbps, 0, 10000000),
	CONFIG_FIELD(max_overcommit, 1, UHOMA_MAX_OVERCOMMIT),
	CONFIG_FIELD(fifo_grant_increment, 1000, UHOMA_MAX_MESSAGE),
	CONFIG_FIELD(grant_fifo_fraction, 0, 500),
	CONFIG_FIELD(pacer_fifo_fraction, 0, 500),
	CONFIG_FIELD(max_nic_backlog_us, 1, 1000000),
	CONFIG_FIELD(defer_min_bytes, 0, UHOMA_MAX_MESSAGE),
	CONFIG_FIELD(pacer_rt, 0, 1),
	CONFIG_FIELD(gso, 0, 1),
	CONFIG_FIELD(stat, 0, 1),
	CONFIG_FIELD(sndbuf, 0, 1u << 30),
	CONFIG_FIELD(lanes, 0, 1),
	CONFIG_FIELD(dedup_window, 1024, 1u << 24),
	CONFIG_FIELD(dedup_quiet_ms, 1, 3600000),
	CONFIG_FIELD(dedup_mb, 1, 1u << 20),
	CONFIG_FIELD(max_peers, 1, 1u << 26),
	CONFIG_FIELD(max_unproven, 16, 1u << 24),
	CONFIG_FIELD(poll_always, 0, 1),
	CONFIG_FIELD(port_offset, 0, 16383),
	CONFIG_FIELD(landing, 0, 1),
	CONFIG_FIELD(local_unsched, 0, UHOMA_MAX_MESSAGE),
};
#undef CONFIG_FIELD

static void set_defaults(struct uhoma_config *c)
{
	memset(c, 0, sizeof(*c));
	c->version = UHOMA_CONFIG_VERSION;
	c->carrier = UHOMA_CARRIER_UDP;
	strcpy(c->addr, "::1");
	c->mtu = 0;
	c->rx_threads = 1;
	c->tick_us = 1000;
	c->poll_us = 50;
	c->unsched_bytes = 40000;
	c->window = 0;
	c->max_incoming = 400000;
	c->resend_ticks = 5;
	c->resend_interval = 5;
	c->timeout_ticks = 100;
	c->request_ack_ticks = 2;
	c->reap_limit = 10;
	c->num_priorities = 8;
	c->link_mbps = 0;
	c->max_overcommit = 8;
	c->fifo_grant_increment = 50000;
	c->grant_fifo_fraction = 50;
	c->pacer_fifo_fraction = 50;
	c->max_nic_backlog_us = 5;
	c->defer_min_bytes = 1000;
	c->pacer_rt = 0;
	c->gso = 1;
	c->stat = 1;
	c->sndbuf = 8u << 20;
	c->lanes = 1;
	c->dedup_window = 1u << 16;
	c->dedup_quiet_ms = 10000;
	c->dedup_mb = 64;
	c->max_peers = 1u << 18;
	c->max_unproven = 4096;
}

/* @text as a number into *@v: decimal, or hexadecimal after 0x; no sign,
 * no blanks, never octal (strtoul's base 0 read 010 as 8: helper-29).
 * False if it is not one. */
static bool parse_number(const char *text, unsigned long *v)
{
	const char *digits = text;
	int base = 10;
	char *end;

	if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
		digits = text + 2;
		base = 16;
	}
	if (base == 10 ? !isdigit((unsigned char)digits[0])
		       : !isxdigit((unsigned char)digits[0]))
		return false;
	errno = 0;
	*v = strtoul(digits, &end, base);
	return !errno && *end == '\0';
}

int uhoma_config_set(struct uhoma_config *cfg, const char *key,
		     const char *value)
{
	unsigned long v;

	if (!cfg || !key || !value)
		return UHOMA_ERR_INVALID_ARGUMENT;
	if (strcmp(key, "addr") == 0) {
		struct uh_addr a;

		if (strlen(value) >= sizeof(cfg->addr) || uh_addr_parse(value, &a))
			return UHOMA_ERR_INVALID_ARGUMENT;
		strcpy(cfg->addr, value);
		return UHOMA_OK;
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (strcmp(key, fields[i].name) != 0)
			continue;
		if (strcmp(key, "carrier") == 0 && strcmp(value, "udp") == 0)
			value = "0";
		else if (strcmp(key, "carrier") == 0 &&
			 strcmp(value, "memnet") == 0)
			value = "1";
		else if (strcmp(key, "carrier") == 0 &&
			 strcmp(value, "ip") == 0)
			value = "2";
		if (!parse_number(value, &v) || v < fields[i].min ||
		    v > fields[i].max ||
		    (strcmp(key, "mtu") == 0 && v != 0 && v < 576))
			return UHOMA_ERR_INVALID_ARGUMENT;
		*(uint32_t *)(void *)((char *)cfg + fields[i].offset) =
			(uint32_t)v;
		return UHOMA_OK;
	}
	return UHOMA_ERR_INVALID_ARGUMENT;
}

int uhoma_config_parse(struct uhoma_config *cfg, const char *text)
{
	char buf[1024], *save = NULL, *tok;
	int rc = UHOMA_OK;

	if (!cfg || !text || strlen(text) >= sizeof(buf))
		return UHOMA_ERR_INVALID_ARGUMENT;
	strcpy(buf, text);
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq) {
			rc = UHOMA_ERR_INVALID_ARGUMENT;
			continue;
		}
		*eq = '\0';
		if (uhoma_config_set(cfg, tok, eq + 1) != UHOMA_OK)
			rc = UHOMA_ERR_INVALID_ARGUMENT;
	}
	return rc;
}

int uhoma_config_default(struct uhoma_config *cfg)
{
	const char *env;

	if (!cfg)
		return UHOMA_ERR_INVALID_ARGUMENT;
	set_defaults(cfg);
	env = getenv("UHOMA_CONFIG");
	if (!env || !*env)
		return UHOMA_OK;
	return uhoma_config_parse(cfg, env);
}

int uh_config_validate(const struct uhoma_config *c)
{
	struct uh_addr a;

	if (c->version != UHOMA_CONFIG_V1)
		return UHOMA_ERR_INVALID_ARGUMENT;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		uint32_t v = *(const uint32_t *)(const void *)
			((const char *)c + fields[i].offset);

		if (v < fields[i].min || v > fields[i].max)
			return UHOMA_ERR_INVALID_ARGUMENT;
	}
	if (memchr(c->addr, '\0', sizeof(c->addr)) == NULL ||
	    uh_addr_parse(c->addr, &a))
		return UHOMA_ERR_INVALID_ARGUMENT;
	if (c->mtu != 0 && c->mtu < 576)
		return UHOMA_ERR_INVALID_ARGUMENT;
	if (c->carrier == UHOMA_CARRIER_MEMNET && !c->memnet)
		return UHOMA_ERR_INVALID_ARGUMENT;
	return UHOMA_OK;
}

/* @text as shown in an explanation: at most 40 characters, "..." after
 * a cut, so that the reason always fits after it. */
static const char *shown(const char *text, char *buf, size_t len)
{
	if (strlen(text) <= 40)
		return text;
	snprintf(buf, len, "%.37s...", text);
	return buf;
}

/* Why "@key=@value" is refused, into @out; false if it is accepted. */
static bool explain_item(const char *key, const char *value, char *out,
			 size_t len)
{
	struct uhoma_config scratch;
	char kb[48], vb[48];
	const char *k = shown(key, kb, sizeof(kb));
	const char *v = shown(value, vb, sizeof(vb));

	set_defaults(&scratch);
	if (uhoma_config_set(&scratch, key, value) == UHOMA_OK)
		return false;
	if (strcmp(key, "addr") == 0) {
		snprintf(out, len, "addr=%s (not an IPv4 or IPv6 address)", v);
		return true;
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(key, fields[i].name) == 0) {
			snprintf(out, len, "%s=%s (allowed: %s%u..%u)", k, v,
				 strcmp(key, "carrier") == 0
				 ? "udp, memnet, ip or "
				 : strcmp(key, "mtu") == 0 ? "0 or " : "",
				 strcmp(key, "mtu") == 0
				 ? 576u : (unsigned)fields[i].min,
				 (unsigned)fields[i].max);
			return true;
		}
	snprintf(out, len, "%s=%s (no such key)", k, v);
	return true;
}

unsigned uh_config_explain(const char *text, char *out, size_t len)
{
	char buf[1024], *save = NULL, *tok;
	unsigned bad = 0;
	size_t used = 0;

	if (len)
		out[0] = '\0';
	if (!text || strlen(text) >= sizeof(buf))
		return text ? 1 : 0;
	strcpy(buf, text);
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		char *eq = strchr(tok, '='), item[160];

		if (!eq)
			snprintf(item, sizeof(item), "%s (not key=value)", tok);
		else {
			*eq = '\0';
			if (!explain_item(tok, eq + 1, item, sizeof(item)))
				continue;
		}
		if (used < len)
			used += (size_t)snprintf(out + used, len - used, "%s%s",
						 bad ? ", " : "", item);
		bad++;
	}
	return bad;
}
