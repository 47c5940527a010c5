/*
 * config.h - validation of struct uhoma_config (defaults: config.c).
 */
#ifndef UHOMA_CORE_CONFIG_H
#define UHOMA_CORE_CONFIG_H

#include "uhoma/uhoma.h"

/* UHOMA_OK if every field of @c is in range, else INVALID_ARGUMENT. */
int uh_config_validate(const struct uhoma_config *c);

#endif /* UHOMA_CORE_CONFIG_H */
