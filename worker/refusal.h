/*
 * A worker under the supervisor tells it the HTTP status of each request it
 * refuses, for the refusal counters in /metrics (worker/supervisor_stats.h):
 * "rNNN" on the bus control socket (bus_hand.h), never answered. A worker on
 * its own (inetd, tcpserver, systemd Accept=yes) has no supervisor to tell.
 */
#ifndef SB_REFUSAL_H
#define SB_REFUSAL_H

struct session;

void refusal_report(const struct session *s, int status);

#endif
