/*
 * carrier.c - choosing the carrier a configuration asks for.
 */
#include "net/carrier.h"
#include "uhoma/uhoma.h"

int uh_carrier_create(const struct uhoma_config *cfg, struct uh_carrier **out)
{
	if (cfg->carrier == UHOMA_CARRIER_MEMNET)
		return uh_memnet_carrier_create(cfg, out);
	if (cfg->carrier == UHOMA_CARRIER_IP)
		return uh_ipraw_create(cfg, out);
	return uh_udp_create(cfg, out);
}
