/*
 * The session: the calls protocols make on their connection (declared in
 * proto/proto.h), the WebSocket callbacks that reach them, and the request:
 * a complete HTTP head is answered as plain HTTP (worker/http.c), refused,
 * or upgraded and handed to the protocol that matches its path. The loop
 * that drives it is worker/worker.c.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "../proto/websocket/handshake.h"
#include "session.h"

/* ---- calls for protocols ---- */

void *session_state(struct session *s) { return s->state; }

int session_send_text(struct session *s, const void *p, size_t n)
{
	return s->phase == PHASE_OPEN ? ws_send(&s->ws, WS_TEXT, p, n) : -1;
}

int session_send_binary(struct session *s, const void *p, size_t n)
{
	return s->phase == PHASE_OPEN ? ws_send(&s->ws, WS_BINARY, p, n) : -1;
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

uint64_t session_conn_id(const struct session *s) { return s->conn_id; }

/* ---- client I/O ---- */

static void on_ws_message(void *ctx, uint8_t opcode, uint8_t *data, size_t len)
{
	struct session *s = ctx;
	s->proto->on_message(s, opcode, data, len);
}

static void on_ws_pong(void *ctx) { (void)ctx; }
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

void session_refuse(struct session *s, int status, const char *why)
{
	log_info("refused with %d: %s", status, why);
	http_error_response(&s->out, status, ws_refusal_headers(status), why);
	session_linger(s);
}

static bool origin_allowed(const struct session *s, const struct http_request *req)
{
	if (s->cfg->norigins == 0)
		return true;
	const struct http_header *o = http_header_find(req, "Origin");
	if (!o)
		return true; /* not a browser: Origin protects browsers from other sites */
	for (int i = 0; i < s->cfg->norigins; i++)
		if (strlen(s->cfg->origins[i]) == o->value_len &&
		    strncasecmp(s->cfg->origins[i], o->value, o->value_len) == 0)
			return true;
	return false;
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
	if (s->cfg->sandbox && sandbox_enter(s->cfg->bus_ctl < 0) < 0) {
		log_fatal("cannot enter the sandbox");
	}
	malloc_trim(0); /* give back what set-up (seccomp filter building) used */
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

/* Parses the request once complete; answers it one way or the other. */
void session_request(struct session *s)
{
	struct http_request req;
	int rc = http_parse_request((const char *)buf_head(&s->head), buf_used(&s->head), &req);
	if (rc == 0)
		return;
	if (rc < 0)
		return session_refuse(s, -rc, rc == -431 ? "request head too large" : "malformed HTTP request");
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
	if (!origin_allowed(s, &req))
		return session_refuse(s, 403, "origin not allowed");
	s->state = calloc(1, s->proto->state_size ? s->proto->state_size : 1);
	if (!s->state)
		return session_refuse(s, 500, "out of memory");
	if (s->proto->accept && (status = s->proto->accept(s, &req, &why)) != 0)
		return session_refuse(s, status, why);
	const char *sub = s->proto->subprotocol;
	if (sub && !ws_client_offers_subprotocol(&req, sub))
		sub = NULL;
	ws_upgrade_response(&s->out, &req, sub);
	s->bus_wanted = s->proto->uses_bus;
	open_session(s, (size_t)rc);
}
