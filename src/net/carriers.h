/*
 * carriers.h - the carriers uhoma has, each an implementation of the
 * core's carrier interface (core/carrier.h).
 */
#ifndef UHOMA_NET_CARRIERS_H
#define UHOMA_NET_CARRIERS_H

#include "core/carrier.h"

struct uhoma_config;

/* Each creates its carrier for @cfg. Returns 0 or a uhoma error code. */
int uh_udp_create(const struct uhoma_config *cfg, struct uh_carrier **out);
int uh_memnet_carrier_create(const struct uhoma_config *cfg,
			     struct uh_carrier **out);
int uh_ipraw_create(const struct uhoma_config *cfg, struct uh_carrier **out);

#endif /* UHOMA_NET_CARRIERS_H */
