/*
 * The supervisor's side of the workers' bus connections: a worker under the
 * supervisor does not dial the router itself (its sandbox has no socket or
 * connect); it asks over a unix socketpair and gets a freshly dialled
 * connection back as an SCM_RIGHTS descriptor. The worker's side is in
 * worker/uplink.c (uplink_request).
 */
#ifndef SB_BUS_HAND_H
#define SB_BUS_HAND_H
#include <stdint.h>

/* The descriptor a worker finds its control socket on (--bus-fd). */
#define BUS_HAND_FD 3

struct bus_hand {
	int ctl;          /* our end of the socketpair, -1 once the worker is gone */
	int handed;       /* our copy of the last connection handed, -1 if none */
	int64_t last_dial;
};

/* A worker's other message: 'r' and the HTTP status it refused a request
 * with (worker/refusal.c), for the supervisor's counters; NULL: ignored. */
extern void (*bus_hand_on_refusal)(int status);
/* Parses the router URL once; -1 if it is not ipc:// or tcp://. */
int bus_hand_setup(const char *router_url);
/* A socketpair for a new worker: ours in h->ctl, the child's in *child. */
int bus_hand_open(struct bus_hand *h, int *child);
/* Answers the worker's requests waiting on h->ctl; -1 once it hung up. */
int bus_hand_serve(struct bus_hand *h);
void bus_hand_close(struct bus_hand *h);

#endif
