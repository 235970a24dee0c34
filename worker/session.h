/*
 * One client connection inside switchboard-worker, and the calls a
 * protocol's worker half makes on it.
 */
#ifndef SB_SESSION_H
#define SB_SESSION_H
#include <stdbool.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../common/busauth.h"
#include "../common/cidr.h"
#include "../common/mp.h"
#include "../common/sp.h"
#include "../proto/proto.h"
#include "../proto/websocket/static.h"
#include "../proto/websocket/forwarded.h"
#include "../proto/websocket/ws.h"
#include "sandbox_mode.h"

struct worker_config {
	const char *router_url;
	size_t max_message;
	const char **origins;
	int norigins;
	int handshake_timeout_ms;
	int ping_interval_ms;
	int ping_timeout_ms;
	int close_timeout_ms;
	size_t client_backlog; /* output queued for a slow client before we hold credit back */
	bool sandbox;
	bool sandbox_log; /* --sandbox-log: trap and log instead of killing */
	bool proxy_protocol; /* --proxy-protocol: a PROXY v1/v2 header comes first */
	struct cidr *trusted; /* --trust-proxy: X-Forwarded-For and -Proto believed from these */
	int ntrusted;
	bool has_bus_key; /* --bus-key: answer the router's challenge (common/busauth.h) */
	uint8_t bus_key[BUS_KEY_LEN];
	bool bus_key_from_ctl; /* --bus-key -: the supervisor writes it first on --bus-fd */
	int bus_ctl; /* --bus-fd: the supervisor dials the bus for us; -1: we dial */
	const char *static_dir; /* --static-dir: plain files for GET/HEAD; NULL: none */
	struct cidr *metrics_allow; /* --metrics-allow: who may GET /metrics */
	int nmetrics_allow;
	int http_router_timeout_ms; /* --http-router-timeout: the router's answer to a plain request */
};

/* PHASE_HTTP: a plain-HTTP response body (a file) is going out; the next
 * request waits in the client's socket until it is sent. PHASE_ASK: a plain
 * request waits for the router's answer (worker/http_ask.c), the next one
 * in the socket too. */
enum session_phase { PHASE_HANDSHAKE, PHASE_HTTP, PHASE_ASK, PHASE_OPEN, PHASE_LINGER, PHASE_DONE };

struct session {
	const struct worker_config *cfg;
	const struct proto_worker *proto;
	void *state;
	enum session_phase phase;
	int in_fd, out_fd;
	struct buf head; /* the HTTP request while it arrives */
	struct buf out;  /* bytes for the client */
	struct ws_conn ws;
	int64_t last_rx, ping_sent_at, close_started, linger_until, handshake_deadline;
	int64_t proto_timer_at; /* 0: none */
	int64_t last_pong;      /* 0: none yet */
	int ep; /* epoll */
	bool client_eof;

	/* bus */
	bool bus_wanted;
	struct sp_addr bus_addr;
	struct sp_conn bus;
	bool bus_auth_pending; /* connected with a key: waiting for the router's challenge */
	bool bus_out_watched; /* EPOLLOUT on the bus socket: only while output waits */
	int64_t bus_retry_at; /* 0: connected or connecting */
	int bus_backoff_ms;
	bool bus_asking; /* a request for a connection is out to the supervisor */
	struct mp_out batch; /* envelopes of this loop turn, sent as one bus message */
	size_t batch_mark;   /* where the envelope packed last starts (worker/uplink.c) */
	bool bus_refused;    /* the router closed the client: never redial, nothing resent */
	int credit_due;      /* credit to return (common/buscredit.h says when) */
	bool credit_asked;   /* the router asked for it (an empty bus message) */
	int credit_held;     /* held back while the client is slow */
	uint64_t conn_id; /* made at start: in every log line and on the bus */
	char path[128];   /* of the upgrade, for the close line ("" before) */
	char peer[64];    /* the TCP peer as text ("" when not a TCP socket) */
	int peer_family;  /* of peer_addr: AF_INET, AF_INET6, or 0 */
	uint8_t peer_addr[16]; /* the peer's address (after a PROXY header), for --trust-proxy */
	bool proxied;     /* --proxy-protocol: the header is read */
	int64_t opened_at;

	/* plain HTTP (worker/http.c) */
	const struct http_request *http_req; /* the request being answered */
	int http_served;     /* responses sent on this connection */
	bool http_last;      /* the response going out is the connection's last */
	struct static_file file; /* the body going out in PHASE_HTTP; fd -1: none */
	int64_t http_progress_at; /* last time the client took some of it */
	bool bus_http;       /* the bus is up for plain-HTTP answers only (hello with proto "core") */
	uint64_t ask_id;     /* the plain request waiting for the router (PHASE_ASK), by number */
	bool ask_head;       /* it is a HEAD */
	bool ask_down;       /* the bus went while it waited: 503 at the end of the turn */
	int ask_dirfd;       /* where a file the router names comes from; -1: none */
	char ask_inm[128];   /* its If-None-Match ("" when absent or longer) */
	int64_t ask_deadline;
};

/* The calls protocols make on a session are declared in proto/proto.h. */

/* worker/session.c, for the loop */
void session_request(struct session *s);   /* parse the head read so far; answer it once complete */
void session_http_next(struct session *s); /* a plain-HTTP answer is out: close or take the next request */
void session_refuse(struct session *s, int status, const char *why); /* an HTTP error, then linger */
void session_linger(struct session *s);    /* the last phase, bounded by --close-timeout */
void session_log_close(const struct session *s); /* the close line of an upgraded connection */
/* The connection id and the client's address, context of every later line. */
void session_identify(struct session *s);

/* worker/http.c, for the loop */
#define HTTP_MAX_REQUESTS 8 /* plain-HTTP requests per connection */
int http_setup(const struct worker_config *cfg); /* every protocol's setup and the static files' */
bool http_serves_files(void); /* after http_setup: a set-up opened a directory (session_http_dir) */
/* A complete non-upgrade GET/HEAD of head_len bytes: answered (true) or not ours. */
bool http_answer(struct session *s, const struct http_request *req, size_t head_len);
/* Queues more of a file body: 1 once all of it is written, -1 on error, else 0. */
int http_refill(struct session *s);
/* A whole response; extra: header lines ("Name: value\r\n"...), NULL for no-cache. */
int http_write_reply(struct session *s, bool head, int status, const char *content_type, const char *extra,
		     const void *body, size_t len);

/* A file below dirfd, with header lines in place of no-cache (NULL: no-cache) */
int http_serve_file(struct session *s, int dirfd, const char *path, size_t len, const struct http_request *req,
		    const char *extra);
int reply_text(struct session *s, int status, const char *text); /* text/plain; a 400 closes */

/* worker/http_ask.c: plain requests the router answers (session_http_ask_router) */
/* The core's own: /metrics and /healthz; 0 for any other path. */
int http_ask_core(struct session *s, const struct http_request *req);
void http_ask_reply(struct session *s, const struct envelope *env); /* the router's answer */
void http_ask_bus_down(struct session *s);  /* the bus is gone: a request waiting gets 503 ... */
void http_ask_turn(struct session *s);      /* ... here, at the end of the loop's turn */
void http_ask_timeout(struct session *s);   /* --http-router-timeout passed: 504 */
/* Name/value pairs (NULL-terminated) as header lines, NUL-terminated, with
 * Cache-Control: no-cache unless one is given; -1 if one is not a header. */
int http_header_lines(const char *const *pairs, struct buf *lines);

/* worker/uplink.c */
void uplink_start(struct session *s);
void uplink_ensure(struct session *s); /* for plain-HTTP asks: start, or redial a bus that went */
void uplink_stop(struct session *s);   /* closes that bus before an upgrade */
void uplink_on_event(struct session *s, uint32_t events);
void uplink_after_turn(struct session *s);
void uplink_on_timer(struct session *s, int64_t now);
int uplink_fd(const struct session *s);
bool uplink_backlogged(const struct session *s);
void uplink_drain(struct session *s, int timeout_ms);

/* worker/sandbox.c: resource limits and the seccomp filter for how the bus
 * connections come (sandbox_mode.h); log_only: a call off the list is logged
 * and fails with ENOSYS instead of killing the worker (--sandbox-log). */
int sandbox_enter(enum sandbox_bus bus, bool log_only);

/* The worker template's side (worker/sandbox_layers.c): its filter, loaded
 * once before its first fork, the child's only one (files: with openat2 and
 * pread, for a set-up's directory of files); and in each child right after
 * the fork, RLIMIT_NPROC 0 and a small RLIMIT_NOFILE (nothing when the
 * template is not sandboxed). A forked child's sandbox_enter then loads
 * nothing. */
int sandbox_template_enter(bool files, bool log_only);
int sandbox_forked(void);

/* worker/protocols.c */
extern const struct proto_worker *const worker_protocols[];

#endif
