/*
 * The session: the calls protocols make on their connection (declared in
 * proto/proto.h), the WebSocket callbacks that reach them, and the request:
 * a complete HTTP head is answered as plain HTTP (worker/http.c), refused,
 * or upgraded and handed to the protocol that matches its path. The loop
 * that drives it is worker/worker.c.
 */
#include <arpa/inet.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "../common/numfmt.h"
#include "../proto/websocket/handshake.h"
#include "../proto/websocket/origin.h"
#include "../proto/websocket/proxy.h"
#include "memtrim.h"
#include "refusal.h"
#include "session.h"

/* ---- calls for protocols ---- */

void *session_state(struct session *s) { return s->state; }

int session_send_text(struct session *s, const void *p, size_t n)
{
	return s->phase == PHASE_OPEN ? ws_send_to(&s->ws, s->out_fd, WS_TEXT, p, n) : -1;
}

int session_send_binary(struct session *s, const void *p, size_t n)
{
	return s->phase == PHASE_OPEN ? ws_send_to(&s->ws, s->out_fd, WS_BINARY, p, n) : -1;
}

void session_close(struct session *s, uint16_t code, const char *reason)
{
	if (s->phase != PHASE_OPEN || s->ws.state != WS_OPEN)
		return;
	ws_close(&s->ws, code, reason);
	s->close_started = clock_ms();
}

void session_set_timer(struct session *s, int64_t delay_ms)
{
	s->proto_timer_at = delay_ms < 0 ? 0 : clock_ms() + delay_ms;
}

void session_trim_soon(struct session *s, int64_t delay_ms)
{
	(void)s;
	memtrim_request(clock_ms() + (delay_ms > 0 ? delay_ms : 0));
}

uint64_t session_conn_id(const struct session *s) { return s->conn_id; }

int session_send_ping(struct session *s)
{
	return s->phase == PHASE_OPEN ? ws_send(&s->ws, WS_PING, "", 0) : -1;
}

int64_t session_last_pong(const struct session *s) { return s->last_pong; }

/* ---- client I/O ---- */

static void on_ws_message(void *ctx, uint8_t opcode, uint8_t *data, size_t len)
{
	struct session *s = ctx;
	s->proto->on_message(s, opcode, data, len);
}

static void on_ws_pong(void *ctx)
{
	struct session *s = ctx;
	s->last_pong = clock_ms();
}
static void on_ws_close(void *ctx, uint16_t code)
{
	struct session *s = ctx;
	log_debug("client closed with %u", code);
	(void)s;
}

static const struct ws_handlers ws_handlers = {on_ws_message, on_ws_pong, on_ws_close};

/* The last phase is bounded whatever the client does: a client that never
 * reads would otherwise keep its output, its worker and its slot forever. */
void session_linger(struct session *s)
{
	s->phase = PHASE_LINGER;
	s->linger_until = clock_ms() + s->cfg->close_timeout_ms;
}

/* The request's path, escaped by the logger, cut to fit. */
static void keep_path(struct session *s, const struct http_request *req)
{
	size_t n = req->path_len < sizeof s->path - 1 ? req->path_len : sizeof s->path - 1;
	memcpy(s->path, req->path, n);
	s->path[n] = 0;
}

/* The refusal's line: the status, the reason, the path, and an origin refused. */
static void refuse_with(struct session *s, int status, const char *why, const char *origin)
{
	char st[12];
	snprintf(st, sizeof st, "%d", status);
	struct log_kv kv[] = {{"status", st}, {"reason", why}, {"path", s->path[0] ? s->path : NULL},
			      {"origin", origin}};
	log_event(LOG_INFO, kv, 4, "refused");
	refusal_report(s, status);
	http_error_response(&s->out, status, ws_refusal_headers(status), why);
	session_linger(s);
}

void session_refuse(struct session *s, int status, const char *why) { refuse_with(s, status, why, NULL); }

/* No Origin (not a browser: Origin protects browsers from other sites), a
 * listed one or "*", or the origin of this very host (Host). */
static bool origin_allowed(const struct session *s, const struct http_request *req)
{
	const struct http_header *o = http_header_find(req, "Origin");
	if (!o)
		return true;
	for (int i = 0; i < s->cfg->norigins; i++) {
		const char *a = s->cfg->origins[i];
		if (strcmp(a, "*") == 0 || (strlen(a) == o->value_len && strncasecmp(a, o->value, o->value_len) == 0))
			return true;
	}
	const struct http_header *h = http_header_find(req, "Host");
	return h && origin_same_host(o->value, o->value_len, h->value, h->value_len);
}

/* The connect line; its close line is session_log_close. */
static void log_connect(struct session *s, const struct http_request *req)
{
	const struct http_header *o = http_header_find(req, "Origin");
	char origin[160];
	if (o)
		snprintf(origin, sizeof origin, "%.*s", (int)(o->value_len < 159 ? o->value_len : 159), o->value);
	struct log_kv kv[] = {{"path", s->path}, {"protocol", s->proto->name}, {"origin", o ? origin : NULL}};
	log_event(LOG_INFO, kv, 3, "connect");
	s->opened_at = clock_ms();
}

void session_log_close(const struct session *s)
{
	if (!s->opened_at)
		return;
	char code[24], ms[24];
	int64_t took = clock_ms() - s->opened_at;
	code[fmt_uint(code, s->ws.close_code, 10, 1)] = 0;
	ms[fmt_uint(ms, took > 0 ? (unsigned long long)took : 0, 10, 1)] = 0;
	struct log_kv kv[] = {{"path", s->path}, {"code", s->ws.close_code ? code : NULL}, {"duration_ms", ms}};
	log_event(LOG_INFO, kv, 3, "close");
}

/* "a.b.c.d:port" (no printf: common/numfmt.h says why); out holds 22 bytes. */
static void ipv4_peer(char *out, const uint8_t *a, uint16_t port)
{
	size_t n = 0;
	for (int i = 0; i < 4; i++) {
		n += fmt_uint(out + n, a[i], 10, 1);
		out[n++] = i < 3 ? '.' : ':';
	}
	out[n + fmt_uint(out + n, port, 10, 1)] = 0;
}

/* The connection's id and the client's address, in every line this worker logs. */
void session_identify(struct session *s)
{
	if (getrandom(&s->conn_id, sizeof s->conn_id, 0) != sizeof s->conn_id)
		s->conn_id = (uint64_t)getpid() << 32 | (uint64_t)clock_ms();
	char id[24], *peer = s->peer, host[INET6_ADDRSTRLEN];
	size_t peer_cap = sizeof s->peer;
	id[fmt_uint(id, s->conn_id, 16, 16)] = 0;
	log_context("conn", id);
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getpeername(s->in_fd, (struct sockaddr *)&ss, &len) < 0)
		return; /* a pipe, or a client gone already */
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
		s->peer_family = AF_INET;
		memcpy(s->peer_addr, &a->sin_addr, 4);
		ipv4_peer(peer, s->peer_addr, ntohs(a->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
		s->peer_family = AF_INET6;
		memcpy(s->peer_addr, &a->sin6_addr, 16);
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) { /* a dual-stack listener's IPv4 client */
			s->peer_family = AF_INET;
			memcpy(s->peer_addr, (const uint8_t *)&a->sin6_addr + 12, 4);
		}
		snprintf(peer, peer_cap, "[%s]:%u", host, (unsigned)ntohs(a->sin6_port));
	} else {
		return;
	}
	log_context("peer", peer);
}

static const struct proto_worker *find_protocol(const struct http_request *req)
{
	for (int i = 0; worker_protocols[i]; i++)
		if (worker_protocols[i]->match(req))
			return worker_protocols[i];
	return NULL;
}

static void open_session(struct session *s, size_t head_len)
{
	if (s->bus_wanted)
		uplink_start(s);
	enum sandbox_bus bus = s->cfg->bus_ctl >= 0 ? SANDBOX_HANDED
			       : s->bus_addr.transport == SP_IPC ? SANDBOX_DIAL_UNIX : SANDBOX_DIAL_INET;
	if (s->cfg->sandbox && sandbox_enter(bus, s->cfg->sandbox_log) < 0) {
		log_fatal("cannot enter the sandbox");
	}
	memtrim_request(clock_ms() + 1000); /* what set-up and the request used (worker/memtrim.c) */
	s->phase = PHASE_OPEN;
	ws_conn_init(&s->ws, &s->out, s->cfg->max_message, &ws_handlers, s);
	s->last_rx = clock_ms();
	if (s->proto->open)
		s->proto->open(s);
	/* bytes the client sent right behind its request are frames already */
	size_t extra = buf_used(&s->head) - head_len;
	if (extra > 0 && s->phase == PHASE_OPEN)
		ws_conn_feed(&s->ws, buf_head(&s->head) + head_len, extra);
	buf_free(&s->head);
}


/* A plain-HTTP response is out (or queued whole): close, or wait for the next request. */
void session_http_next(struct session *s)
{
	if (s->http_last)
		return session_linger(s);
	s->handshake_deadline = clock_ms() + s->cfg->handshake_timeout_ms; /* idle keep-alive */
	if (buf_used(&s->head) > 0)
		session_request(s); /* pipelined; at most HTTP_MAX_REQUESTS deep */
}

/*
 * --proxy-protocol: the front end's header, before the request. The client's
 * address from it becomes the peer of every later line (the front end's is
 * kept as proxy=). No valid header: the connection is closed without an
 * answer, as the specification asks. false while the header is incomplete
 * or after a refusal.
 */
static bool take_proxy_header(struct session *s)
{
	struct proxy_info pi;
	int n = proxy_parse(buf_head(&s->head), buf_used(&s->head), &pi);
	if (n == 0)
		return false;
	if (n < 0) {
		struct log_kv kv[] = {{"reason", "no valid PROXY protocol header (--proxy-protocol)"}};
		log_event(LOG_INFO, kv, 1, "refused");
		buf_reset(&s->head);
		session_linger(s);
		return false;
	}
	s->proxied = true;
	buf_consume(&s->head, (size_t)n);
	if (pi.family) {
		char peer[64];
		snprintf(peer, sizeof peer, pi.family == AF_INET6 ? "[%s]:%u" : "%s:%u", pi.src, (unsigned)pi.src_port);
		log_context("proxy", s->peer[0] ? s->peer : "?");
		log_context("peer", peer);
		if (inet_pton(pi.family, pi.src, s->peer_addr) == 1)
			s->peer_family = pi.family;
	}
	return true;
}

/* --trust-proxy: from a trusted front end, the client is in X-Forwarded-For. */
static void take_forwarded(struct session *s, const struct http_request *req)
{
	const struct http_header *h = http_header_find(req, "X-Forwarded-For");
	char client[48];
	if (!h || !s->peer_family || !cidr_any(s->cfg->trusted, s->cfg->ntrusted, s->peer_family, s->peer_addr) ||
	    forwarded_client(h->value, h->value_len, s->cfg->trusted, s->cfg->ntrusted, client, sizeof client) < 0)
		return;
	log_context("proxy", s->peer[0] ? s->peer : "?");
	log_context("peer", client);
}

/* Parses the request once complete; answers it one way or the other. */
void session_request(struct session *s)
{
	if (s->cfg->proxy_protocol && !s->proxied && !take_proxy_header(s))
		return;
	struct http_request req;
	int rc = http_parse_request((const char *)buf_head(&s->head), buf_used(&s->head), &req);
	if (rc == 0)
		return;
	if (rc < 0)
		return session_refuse(s, -rc, rc == -431 ? "request head too large" : "malformed HTTP request");
	keep_path(s, &req);
	if (s->cfg->ntrusted)
		take_forwarded(s, &req);
	if (http_answer(s, &req, (size_t)rc)) {
		if (s->phase == PHASE_HANDSHAKE)
			session_http_next(s);
		return; /* a file body follows (PHASE_HTTP), or we linger */
	}
	const char *why = NULL;
	s->proto = find_protocol(&req);
	int status = ws_handshake_check(&req, &why);
	if (status == 405 || !s->proto) {
		if (!s->proto)
			return session_refuse(s, 404, "no WebSocket endpoint at this path");
		return session_refuse(s, status, why);
	}
	if (status)
		return session_refuse(s, status, why);
	if (!origin_allowed(s, &req)) {
		const struct http_header *o = http_header_find(&req, "Origin");
		char origin[160];
		snprintf(origin, sizeof origin, "%.*s", (int)(o->value_len < 159 ? o->value_len : 159), o->value);
		return refuse_with(s, 403, "origin not allowed", origin);
	}
	s->state = calloc(1, s->proto->state_size ? s->proto->state_size : 1);
	if (!s->state)
		return session_refuse(s, 500, "out of memory");
	if (s->proto->accept && (status = s->proto->accept(s, &req, &why)) != 0)
		return session_refuse(s, status, why);
	const char *sub = s->proto->subprotocol;
	if (sub && !ws_client_offers_subprotocol(&req, sub))
		sub = NULL;
	ws_upgrade_response(&s->out, &req, sub);
	if (s->bus_http)
		uplink_stop(s); /* the bus of earlier plain requests: a session says its own hello */
	s->bus_wanted = s->proto->uses_bus;
	log_connect(s, &req);
	open_session(s, (size_t)rc);
}
