/*
 * A protocol is two tables of functions: its worker half (one client
 * connection, in switchboard-worker) and its router half (shared state, in
 * switchboard-router). Each lists itself in worker/protocols.c and
 * router/protocols.c respectively.
 */
#ifndef SB_PROTO_H
#define SB_PROTO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/envelope.h"
#include "storage.h"
#include "websocket/http.h"

struct session; /* worker/session.h */
struct router;  /* router/router.h */
struct rworker;
struct worker_config; /* worker/session.h */

struct proto_worker {
	const char *name;
	/*
	 * Runs once per worker process, before the first byte of the request is
	 * read and so before the seccomp sandbox (which allows no open() and no
	 * new sockets): open what the protocol will need later, e.g. sodium_init and its random source
	 * (SaltyRTC) or a directory descriptor for static files (Galène, the
	 * core --static-dir). Every protocol's setup runs, not only the one the
	 * request will match: the request is not known yet, and a set-up that
	 * fails is the operator's error, reported the same whatever the client
	 * asks. Returns 0, or -1 after logging why (the worker then exits). May
	 * be NULL.
	 */
	int (*setup)(const struct worker_config *cfg);
	/*
	 * A plain (non-upgrade) GET or HEAD: answer it with session_http_reply or
	 * session_http_file and return the status sent, or return 0 to decline
	 * (the next protocol, then the static files, then 404 or 426). It runs
	 * before the sandbox (worker/http.c says why). May be NULL.
	 */
	int (*http)(struct session *s, const struct http_request *req);
	/* Whether this protocol serves the request (usually by path). */
	bool (*match)(const struct http_request *req);
	/* Before the upgrade: 0 to go on, or an HTTP status with *why. May be NULL. */
	int (*accept)(struct session *s, const struct http_request *req, const char **why);
	/* Offered by the client → echoed in the 101; never sent otherwise. */
	const char *subprotocol;
	bool uses_bus;
	size_t state_size; /* zeroed per-session state, session_state() */
	void (*open)(struct session *s);
	void (*on_message)(struct session *s, uint8_t opcode, uint8_t *data, size_t len);
	/* A protocol envelope from the router (core ones are handled for us). */
	void (*on_bus)(struct session *s, const struct envelope *env);
	void (*on_timer)(struct session *s);
	/* The bus just (re)connected: restate what the router must know. */
	void (*on_register)(struct session *s);
	void (*close)(struct session *s);
};

/*
 * Plain HTTP, from a protocol's http op only (worker/http.c; the protocol's
 * side of the seam, so declared here). Both return the
 * status sent. session_http_reply sends a whole response with body (none for
 * HEAD); session_http_file sends the file at a request path (percent-encoded,
 * as in the request line) below dirfd, with ETag/If-None-Match, or 404/400.
 */
int session_http_reply(struct session *s, int status, const char *content_type, const void *body,
		       size_t len);
int session_http_file(struct session *s, int dirfd, const char *path, size_t len);

struct proto_router {
	const char *name;
	size_t state_size; /* zeroed per-worker state, rworker_state() */
	int (*init)(struct router *r);
	void (*on_envelope)(struct router *r, struct rworker *w, const struct envelope *env);
	/* The worker's queue went out: room for more (e.g. the next backlog frame). */
	void (*on_drained)(struct router *r, struct rworker *w);
	void (*on_worker_gone)(struct router *r, struct rworker *w);
	void (*fini)(struct router *r);
	/* Appends the protocol's counters in the Prometheus text format. */
	void (*metrics)(FILE *f);
	/* Its tables in the router's store (storage.h), or NULL: none. */
	const struct proto_store *store;
};

#endif
