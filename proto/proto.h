/*
 * A protocol is two tables of functions: its worker half (one client
 * connection, in switchboard-worker) and its router half (shared state, in
 * switchboard-router), listed in registries generated from the Makefile's
 * PROTOS. This header is the only thing a protocol includes from outside its
 * folder (with what it includes from common/): the structs of a session, a
 * router and a router's worker are opaque here, and the calls a protocol may
 * make on them are declared below. The dependency runs one way: worker/ and
 * router/ include proto/, proto/ includes common/.
 */
#ifndef SB_PROTO_H
#define SB_PROTO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/envelope.h"
#include "storage.h"
#include "websocket/frame.h"
#include "websocket/http.h"

struct session;       /* one client connection (worker/session.h) */
struct worker_config; /* the worker's options (worker/session.h) */
struct router;        /* the router (router/router.h) */
struct rworker;       /* one worker as the router sees it (router/router.h) */
struct hmap;          /* common/hmap.h */
struct router_http_req;

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
	 * session_http_file and return the status sent, or hand it to the
	 * router half with session_http_ask_router and return what that
	 * returns, or return 0 to decline (the next protocol, then the static
	 * files, then 404 or 426). It runs before the sandbox (worker/http.c
	 * says why). May be NULL.
	 */
	int (*http)(struct session *s, const struct http_request *req);
	/*
	 * Like http, but asked last: when no protocol's http op and no
	 * --static-dir file has the path (the landing page at /, which an
	 * operator's own index.html replaces). May be NULL.
	 */
	int (*http_fallback)(struct session *s, const struct http_request *req);
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
/* session_http_file with the protocol's header lines (NULL-terminated
 * name/value pairs, e.g. {"Cache-Control", "max-age=1800", NULL}) in place
 * of Cache-Control: no-cache. */
int session_http_file_with(struct session *s, int dirfd, const char *path, size_t len, const char *const *headers);
/* From a setup op: opens the directory (path) files are served from, for
 * session_http_file; the descriptor, or -1 with errno. Only a worker that
 * holds one may open files at all: the worker template's filter allows it
 * only then (worker/sandbox_layers.c). */
int session_http_dir(const char *path);
/*
 * Hands the request being answered to the router half of protocol `to`
 * (its proto_router.http op, below), for answers that need the router's
 * state or secrets. Returns HTTP_ASKED (return it from the http op): the
 * worker sends the router's answer when it comes, 503 when the router
 * cannot be reached, 504 after --http-router-timeout (worker/http_ask.c).
 * dirfd (or -1): where a file the router names (router_http_file) is
 * served from, as session_http_file would.
 */
#define HTTP_ASKED 1
int session_http_ask_router(struct session *s, const char *to, int dirfd);

/* ---- calls on a session, for worker halves (worker/worker.c, worker/uplink.c) ---- */
/* The protocol's zeroed per-session state (state_size bytes). */
void *session_state(struct session *s);
/* Queue a text (valid UTF-8) or binary message for the client. */
int session_send_text(struct session *s, const void *p, size_t n);
int session_send_binary(struct session *s, const void *p, size_t n);
/* Start the close handshake with the client. */
void session_close(struct session *s, uint16_t code, const char *reason);
/* The packer to write one envelope into (start it with env_begin). */
msgpack_packer *session_bus(struct session *s);
/* Runs on_timer after delay_ms; a negative delay cancels. */
void session_set_timer(struct session *s, int64_t delay_ms);
/* After a burst (a big message from the router, much output): in delay_ms,
 * the worker gives back its empty buffers and free heap (worker/memtrim.c). */
void session_trim_soon(struct session *s, int64_t delay_ms);
/* The connection's id on the bus, for logs. */
uint64_t session_conn_id(const struct session *s);
/* A protocol's own keep-alive (the core's --ping-interval runs as well):
 * sends a ping now; and when the client's last pong came (clock_ms), 0: none. */
int session_send_ping(struct session *s);
int64_t session_last_pong(const struct session *s);

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
	/*
	 * A timer of the router's loop (e.g. periodic announcements): runs once
	 * right after init, then whenever clock_ms() reaches the time it last
	 * returned (clock_ms scale); returning 0 stops it. May be NULL.
	 */
	int64_t (*tick)(struct router *r, int64_t now);
	/* Its tables in the router's store (storage.h), or NULL: none. */
	const struct proto_store *store;
	/*
	 * A plain GET/HEAD its worker half handed over (session_http_ask_router):
	 * answer with router_http_reply, now or later (copy q's fields: they
	 * live only for this call), and return the status, or 0 to have the
	 * core answer 404. May be NULL.
	 */
	int (*http)(struct router *r, const struct router_http_req *q);
};

/*
 * A plain request as the router half sees it. Strings are NUL-terminated;
 * path is as in the request line (still percent-encoded), without the
 * query; query is "" when absent.
 */
struct router_http_req {
	struct rworker *w; /* the asking worker: where the answer goes */
	uint64_t id;       /* which request of its connection */
	bool head;         /* HEAD: the answer's body is not sent, its length is */
	bool tls;          /* the client came over TLS (X-Forwarded-Proto https from a --trust-proxy) */
	const char *path, *query;
	const char *host;  /* the Host header, "" when absent */
	const char *peer;  /* the client's address (X-Forwarded-For from a --trust-proxy) */
};

#define HTTP_REPLY_MAX (4u << 20) /* bytes of a router's HTTP answer body */
/*
 * Answers q: status, Content-Type, and extra header lines as NULL-terminated
 * name/value pairs (e.g. {"Cache-Control", "max-age=60", "Location", "/x/",
 * NULL}; may be NULL). Without a Cache-Control the answer gets no-cache.
 * A body over HTTP_REPLY_MAX becomes a 500. Content-Length and Connection
 * are the worker's.
 */
void router_http_reply(struct router *r, const struct router_http_req *q, int status, const char *content_type,
		       const char *const *headers, const void *body, size_t len);
/* Answers q with a file below the directory the worker asked with (path as
 * for session_http_file: percent-encoded, from "/"), headers as above. */
void router_http_file(struct router *r, const struct router_http_req *q, const char *path,
		      const char *const *headers);

/* ---- calls on the router, for router halves (router/workers.c) ---- */
/* The protocol's zeroed per-worker state (state_size bytes). */
void *rworker_state(struct rworker *w);
/* The router's state directory (--state-dir), for a protocol's own files. */
const char *router_state_dir(const struct router *r);
/* The worker's process id, for logs. */
int rworker_pid(const struct rworker *w);
/* Bytes queued in the router for w (waiting for its credit). */
size_t router_queued(const struct rworker *w);
/* Bytes the router holds for w in all: its queue and what its pipe has not
 * written yet (what --worker-queue bounds). */
size_t router_held(struct router *r, const struct rworker *w);
/* The worker serving a connection id, or NULL. */
struct rworker *router_worker_by_conn(struct router *r, uint64_t conn);
/* A fresh packer for one envelope, kept until the next router_packer call. */
msgpack_packer *router_packer(struct router *r);
/* Queues that envelope for w (packed once, so cheap to call for many). */
void router_send_scratch(struct router *r, struct rworker *w);
/*
 * Fan-out: queues that envelope for every worker that is a value of set
 * (e.g. a protocol's map of names or of a group's members to workers), but
 * except (may be NULL).
 */
void router_fan_out(struct router *r, const struct hmap *set, const struct rworker *except);
/* Queues one encoded envelope for w (goes out when w has credit). */
void router_send(struct router *r, struct rworker *w, const void *env, size_t len);
/* Queues "send this text frame to your client". */
void router_send_text(struct router *r, struct rworker *w, const void *text, size_t len);
/* Tells w's worker to close its client. */
void router_close_client(struct router *r, struct rworker *w, int code, const char *reason);
/* Drops a worker that broke the protocol's rules (logged and counted as rejected). */
void router_drop_worker(struct router *r, struct rworker *w, const char *why);
/*
 * Calls fn(r, arg) from the router's loop whenever fd (the protocol's own:
 * an eventfd its threads signal, a timerfd) is readable; level-triggered,
 * so fn must read it. From init on; at most 8 in all. 0, or -1.
 */
int router_watch_fd(struct router *r, int fd, void (*fn)(struct router *r, void *arg), void *arg);

#endif
