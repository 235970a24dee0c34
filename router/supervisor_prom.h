/*
 * The supervisor's counters in the router's metrics. The supervisor keeps
 * them in STATE/supervisor.prom (worker/supervisor_stats.c), Prometheus text
 * after a first line "# pid N"; the router copies that text into its own
 * (/metrics and the textfile) when N is its parent, i.e. when the file is
 * its supervisor's and not one left by an earlier one. A router elsewhere
 * (--no-router) has none: node_exporter reads the supervisor's file there.
 */
#ifndef SB_SUPERVISOR_PROM_H
#define SB_SUPERVISOR_PROM_H
#include <stdio.h>

#define SUPERVISOR_PROM_FILE "supervisor.prom"
#define SUPERVISOR_PROM_MAX 65536

void supervisor_prom_copy(const char *state_dir, FILE *out);

#endif
