/*
 * opts.h - uhoma-sim's command line (opts.c): strict numbers, one parser
 * per kind, and the options into a struct sim_opts. main.c runs what it
 * says; tests/sim checks what it refuses.
 */
#ifndef UHOMA_SIM_OPTS_H
#define UHOMA_SIM_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim.h"

/*
 * A decimal number at @s: digits only (no sign, space, base prefix or
 * exponent), at most @max. Returns the character after it (the caller
 * says what may follow), or NULL if @s does not start with such a number.
 */
const char *sim_decimal(const char *s, uint64_t max, uint64_t *v);

/*
 * --@name's argument @arg as an integer in [@min, @max]: sim_decimal's
 * form and nothing after it. Returns 0, or -1 with a message naming the
 * option and the range on @err.
 */
int sim_parse_uint(const char *name, const char *arg, uint64_t min,
		   uint64_t max, FILE *err, uint64_t *out);

/*
 * --@name's argument @arg as a finite number in [@min, @max] (strtod's
 * decimal forms: "0.5", "5e-1"; not "nan", "inf" or hexadecimal), the
 * whole of it. Returns 0, or -1 with a message naming the option (to
 * @err; none if @err is NULL).
 */
int sim_parse_double(const char *name, const char *arg, double min,
		     double max, FILE *err, double *out);

/* What the command line asks for. */
struct sim_cli {
	struct sim_opts o;
	const char *csv, *svg;       /* NULL: none */
	bool compare;
	bool help;                   /* --help: printed, nothing to run */
};

/*
 * Parses @argv into @cli (defaults for what it does not say; --help
 * prints the usage on @out). Every option's argument is checked here on
 * its own, with a message naming the option on @err; what depends on
 * several (the topology's hosts against the workload, the
 * configuration, the length of the run) is sim_opts_check's. Returns 0,
 * or 2 (the exit status for a bad option). Uses getopt: not reentrant.
 */
int sim_cli_parse(struct sim_cli *cli, int argc, char **argv, FILE *out,
		  FILE *err);

void sim_usage(FILE *f);

#endif /* UHOMA_SIM_OPTS_H */
