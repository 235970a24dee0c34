/*
 * The supervisor's counters for /metrics: its refusals by HTTP status (503
 * at --max-connections, 429 at --max-per-ip), the refusals its workers
 * report (bus_hand.h's 'r' message), connections accepted and live, and the
 * router's restarts, which only the supervisor sees and which outlive the
 * router. Kept in STATE/supervisor.prom (router/supervisor_prom.h), rewritten
 * at most once a second while something changes, and not at all when idle.
 */
#ifndef SB_SUPERVISOR_STATS_H
#define SB_SUPERVISOR_STATS_H
#include <stdint.h>

enum refuser { BY_SUPERVISOR, BY_WORKER };

void sup_stats_refused(enum refuser by, int status);
/* bus_hand_on_refusal's: a worker's report of the status it refused with. */
void supervisor_worker_refused(int status);
void sup_stats_accepted(void);
void sup_stats_router_restart(void);
/* Monotonic ms when the file is to be rewritten, or 0 (nothing changed). */
int64_t sup_stats_due(void);
/* Rewrites the file if it is due. */
void sup_stats_tick(int64_t now);
/* At the supervisor's exit: the file goes with it. */
void sup_stats_remove(void);

#endif
