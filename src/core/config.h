/*
 * config.h - validation of struct uhoma_config (defaults: config.c).
 */
#ifndef UHOMA_CORE_CONFIG_H
#define UHOMA_CORE_CONFIG_H

#include <stddef.h>

#include "uhoma/uhoma.h"

/* UHOMA_OK if every field of @c is in range, else INVALID_ARGUMENT. */
int uh_config_validate(const struct uhoma_config *c);

/*
 * Says what is wrong with a configuration string (UHOMA_CONFIG's form):
 * each refused item and why (no such key, not a number, its allowed
 * range), comma-separated into @out (@len bytes, truncated if need be).
 * Returns the number of refused items (uhoma_config_parse applies the
 * others).
 */
unsigned uh_config_explain(const char *text, char *out, size_t len);

#endif /* UHOMA_CORE_CONFIG_H */
