/* switchboard-router: the one process with shared state. */
#ifndef SB_ROUTER_H
#define SB_ROUTER_H
#include <stdbool.h>
#include <stdint.h>

#include <stdio.h>

#include "../common/buf.h"
#include "../common/buscredit.h"
#include "../common/hmap.h"
#include "../common/mp.h"
#include "../proto/proto.h"
#include "dirty.h"
#include "listener.h"

struct rworker {
	uint32_t pipe;
	uint64_t conn;
	int pid;
	const struct proto_router *proto;
	void *state;
	int credit;
	int window;    /* the credit its hello granted (at most BUS_CREDIT_MAX) */
	bool asked;    /* an ask for credit is out (common/buscredit.h) */
	struct bus_inflight inflight; /* sent, not yet credited */
	bool doomed;   /* told to close as too slow; nothing more is queued */
	bool dropped;  /* its pipe closed by the router; gone at the next reap */
	struct dirty_node dirty; /* on the flush list (router/dirty.h) */
	struct buf queue; /* envelopes waiting for credit, back to back */
};

struct router_stats {
	uint64_t envelopes_in, envelopes_out, bus_messages_out;
	uint64_t rejected, too_slow, workers;
	uint64_t memory_closed;  /* clients closed because --router-memory was reached */
	uint64_t bus_dropped;    /* workers dropped for not reading their bus pipe */
	uint64_t too_big;        /* envelopes that could not fit in a bus message */
	uint64_t refused_frames; /* bus messages refused: over the limit or malformed */
	uint64_t http_requests;  /* plain HTTP requests workers handed over (router/http.c) */
};

struct router {
	struct bus bus;      /* workers' pipes and tap readers */
	struct hmap workers; /* pipe id → rworker */
	struct hmap conns;   /* connection id → rworker, for hello's uniqueness check */
	struct dirty_list dirty; /* workers with something to flush */
	size_t queue_limit;  /* one worker: its queue and its pipe's output */
	size_t memory_limit; /* all workers' queues and pipes together; 0: none */
	size_t queued;       /* bytes in all workers' queues (not their pipes) */
	const char *state_dir;
	struct mp_out scratch;
	struct router_stats stats;
};

/* Bytes the router holds for workers: queues and pipes' output. */
static inline size_t router_memory(const struct router *r) { return r->queued + r->bus.worker_out; }

/* The calls protocols make on the router are declared in proto/proto.h. */

/* router/workers.c */
int workers_init(struct router *r);
void workers_on_bus_message(void *router, uint32_t pipe, const uint8_t *p, size_t n);
void workers_on_pipe_gone(void *router, uint32_t pipe);
void workers_on_refused(void *router, uint32_t pipe);
void workers_flush(struct router *r);
void workers_fini(struct router *r);

/* router/tap.c (the tap's readers are pipes of r->bus) */
/* w may be NULL before the worker has said hello. */
void tap_envelope(struct router *r, const char *dir, uint32_t pipe, const struct rworker *w,
		  const msgpack_object *env);
void tap_raw(struct router *r, const char *dir, const struct rworker *w, const void *env, size_t len);
static inline bool tap_wanted(struct router *r) { return r->bus.tap_readers > 0; }

/* router/metrics.c */
void metrics_print(struct router *r, FILE *f); /* the Prometheus text */
void metrics_write(struct router *r);
/* Rewrites the metrics file when a period has passed; metrics_due says when. */
void metrics_tick(struct router *r);
int64_t metrics_due(void);

/* router/http.c */
extern const struct proto_router router_http_only; /* a worker that only asks plain requests */
/* A core "http" envelope: answered; false when it is malformed. */
bool router_http_request(struct router *r, struct rworker *w, const struct envelope *e);

/* router/protocols.c */
extern const struct proto_router *const router_protocols[];
const struct proto_router *router_protocol(const char *name, size_t len);

#endif
