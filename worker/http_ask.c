/*
 * Plain requests answered by the router (session_http_ask_router, declared
 * in proto/proto.h): some answers need state or secrets only the router
 * holds (a protocol's group files, the router's counters). The worker
 * opens the bus as for a session, but says hello with proto "core" (it
 * serves no protocol), sends one "http" envelope per request and waits in
 * PHASE_ASK, with the next request left in the client's socket, for the
 * "http-reply" of the same id. Bounded: --http-router-timeout (then 504), a
 * router that cannot be reached or hangs up (503), HTTP_REPLY_MAX bytes of
 * body. The bus stays up for the next request of a keep-alive connection.
 *
 * The core's own questions: /metrics (only from --metrics-allow addresses,
 * else 403, checked here so that a refused client never reaches the router)
 * and /healthz (200 from the router, 503 when it cannot answer).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "../common/bus.h"
#include "../common/clock.h"
#include "../common/log.h"
#include "../proto/websocket/forwarded.h"
#include "session.h"

#define PEER_MAX 64

/* X-Forwarded-Proto: the first value (a chain of proxies appends). */
static bool forwarded_tls(const struct http_request *req)
{
	const struct http_header *h = http_header_find(req, "X-Forwarded-Proto");
	if (!h)
		return false;
	size_t n = 0;
	while (n < h->value_len && h->value[n] != ',' && h->value[n] != ' ')
		n++;
	return n == 5 && strncasecmp(h->value, "https", 5) == 0;
}

/*
 * Who asks, as far as we can tell: the socket's peer (or the PROXY
 * header's client), or, from a --trust-proxy front end, the client its
 * X-Forwarded-For names (proto/websocket/forwarded.c). False when fd 0 has
 * no address (a pipe): nobody then, for the allow-lists.
 */
static bool client_of(const struct session *s, const struct http_request *req, char *peer, bool *tls)
{
	*tls = false;
	if (!s->peer_family || !inet_ntop(s->peer_family, s->peer_addr, peer, PEER_MAX))
		return false;
	if (!cidr_any(s->cfg->trusted, s->cfg->ntrusted, s->peer_family, s->peer_addr))
		return true;
	*tls = forwarded_tls(req);
	const struct http_header *h = http_header_find(req, "X-Forwarded-For");
	char fwd[PEER_MAX];
	if (h && forwarded_client(h->value, h->value_len, s->cfg->trusted, s->cfg->ntrusted, fwd, sizeof fwd) == 0)
		memcpy(peer, fwd, sizeof fwd);
	return true;
}

static void pack_str(msgpack_packer *pk, const char *key, const char *p, size_t n)
{
	mp_kv_str(pk, key, p ? p : "", p ? n : 0);
}

/* If-None-Match, kept for a file the router may name; "" when absent or too long. */
static void keep_inm(struct session *s, const struct http_request *req)
{
	const struct http_header *h = http_header_find(req, "If-None-Match");
	s->ask_inm[0] = 0;
	if (h && h->value_len < sizeof s->ask_inm) {
		memcpy(s->ask_inm, h->value, h->value_len);
		s->ask_inm[h->value_len] = 0;
	}
}

int session_http_ask_router(struct session *s, const char *to, int dirfd)
{
	const struct http_request *req = s->http_req;
	if (!req || s->phase != PHASE_HANDSHAKE)
		return -1;
	char peer[PEER_MAX] = "";
	bool tls;
	client_of(s, req, peer, &tls);
	s->phase = PHASE_ASK;
	s->ask_down = false;
	s->ask_dirfd = dirfd;
	keep_inm(s, req);
	uplink_ensure(s);
	const struct http_header *host = http_header_find(req, "Host");
	s->ask_id++;
	s->ask_head = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
	msgpack_packer *pk = session_bus(s);
	env_begin(pk, ENV_CORE, OP_HTTP, 8);
	mp_kv_int(pk, "id", (int64_t)s->ask_id);
	mp_kv_cstr(pk, "to", to);
	mp_kv_bool(pk, "head", s->ask_head);
	mp_kv_bool(pk, "tls", tls);
	pack_str(pk, "path", req->path, req->path_len);
	pack_str(pk, "query", req->query, req->query_len);
	pack_str(pk, "host", host ? host->value : NULL, host ? host->value_len : 0);
	mp_kv_cstr(pk, "peer", peer);
	s->ask_deadline = clock_ms() + s->cfg->http_router_timeout_ms;
	return HTTP_ASKED;
}

static bool allowed(const struct session *s, const struct http_request *req)
{
	char peer[PEER_MAX];
	bool tls;
	if (!client_of(s, req, peer, &tls))
		return false;
	for (int i = 0; i < s->cfg->nmetrics_allow; i++)
		if (cidr_match_text(&s->cfg->metrics_allow[i], peer))
			return true;
	return false;
}

static bool path_is(const struct http_request *req, const char *p)
{
	return req->path_len == strlen(p) && memcmp(req->path, p, req->path_len) == 0;
}

int http_ask_core(struct session *s, const struct http_request *req)
{
	if (path_is(req, "/healthz"))
		return session_http_ask_router(s, ENV_CORE, -1);
	if (!path_is(req, "/metrics"))
		return 0;
	if (!allowed(s, req)) {
		log_info("refused /metrics with 403: client not in --metrics-allow");
		static const char text[] = "/metrics is not open to this address\n";
		return session_http_reply(s, 403, "text/plain; charset=utf-8", text, sizeof text - 1);
	}
	return session_http_ask_router(s, ENV_CORE, -1);
}

/* The answer is out (or queued whole): on to the next request, or close. */
static void answered(struct session *s, int status, const char *type, const char *extra, const void *body,
		     size_t len)
{
	http_write_reply(s, s->ask_head, status, type, extra, body, len);
	s->phase = PHASE_HANDSHAKE;
	s->ask_deadline = 0;
	session_http_next(s);
}

static void answer_error(struct session *s, int status, const char *text)
{
	answered(s, status, "text/plain; charset=utf-8", NULL, text, strlen(text));
}

/* Not answered at once: uplink_down may run inside session_http_ask_router,
 * while the request is still being dispatched. */
void http_ask_bus_down(struct session *s) { s->ask_down = true; }

void http_ask_turn(struct session *s)
{
	if (s->phase != PHASE_ASK || !s->ask_down)
		return;
	log_info("plain HTTP answered 503: the router cannot be reached");
	answer_error(s, 503, "the router is not reachable\n");
}

void http_ask_timeout(struct session *s)
{
	log_warn("plain HTTP answered 504: no answer from the router in %d ms", s->cfg->http_router_timeout_ms);
	answer_error(s, 504, "the router did not answer in time\n");
}

/* A header line from the router goes to the client only if it is one. */
static bool header_ok(const char *name, size_t nl, const char *value, size_t vl)
{
	static const char *const ours[] = {"content-length", "content-type", "connection", "transfer-encoding",
					   "x-content-type-options", NULL};
	if (nl == 0 || nl > 64 || vl > 1024)
		return false;
	for (size_t i = 0; i < nl; i++)
		if (!(name[i] == '-' || (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9')))
			return false;
	for (size_t i = 0; i < vl; i++)
		if ((unsigned char)value[i] < 0x20 && value[i] != '\t')
			return false;
	for (int i = 0; ours[i]; i++)
		if (strlen(ours[i]) == nl && strncasecmp(ours[i], name, nl) == 0)
			return false;
	return true;
}

static bool is_cache_control(const char *name, size_t n)
{
	return n == 13 && strncasecmp(name, "cache-control", 13) == 0;
}

int http_header_lines(const char *const *pairs, struct buf *lines)
{
	bool cache = false;
	for (int i = 0; pairs && pairs[i]; i += 2) {
		if (!pairs[i + 1] || !header_ok(pairs[i], strlen(pairs[i]), pairs[i + 1], strlen(pairs[i + 1])))
			return -1;
		cache |= is_cache_control(pairs[i], strlen(pairs[i]));
		if (buf_printf(lines, "%s: %s\r\n", pairs[i], pairs[i + 1]) < 0)
			return -1;
	}
	if (!cache && buf_printf(lines, "Cache-Control: no-cache\r\n") < 0)
		return -1;
	return buf_append(lines, "", 1);
}

/* The router's header pairs as lines; false when one is not acceptable. */
static bool header_lines(const msgpack_object *h, struct buf *lines)
{
	bool cache = false;
	if (h && h->type != MSGPACK_OBJECT_ARRAY)
		return false;
	for (uint32_t i = 0; h && i < h->via.array.size; i += 2) {
		const msgpack_object *n = &h->via.array.ptr[i], *v = i + 1 < h->via.array.size ? n + 1 : NULL;
		if (!v || n->type != MSGPACK_OBJECT_STR || v->type != MSGPACK_OBJECT_STR ||
		    !header_ok(n->via.str.ptr, n->via.str.size, v->via.str.ptr, v->via.str.size))
			return false;
		cache |= is_cache_control(n->via.str.ptr, n->via.str.size);
		if (buf_printf(lines, "%.*s: %.*s\r\n", (int)n->via.str.size, n->via.str.ptr, (int)v->via.str.size,
			       v->via.str.ptr) < 0)
			return false;
	}
	return (cache || buf_printf(lines, "Cache-Control: no-cache\r\n") >= 0) && buf_append(lines, "", 1) == 0;
}

/* The router named a file below the directory we asked with: served as session_http_file would. */
static void answer_file(struct session *s, const char *path, size_t len, const char *extra)
{
	struct http_request req = {.method = s->ask_head ? "HEAD" : "GET", .method_len = s->ask_head ? 4 : 3,
				   .version_minor = 1};
	if (s->ask_inm[0])
		req.headers[req.nheaders++] = (struct http_header){"If-None-Match", 13, s->ask_inm, strlen(s->ask_inm)};
	s->phase = PHASE_HANDSHAKE;
	s->ask_deadline = 0;
	if (s->ask_dirfd < 0) /* the protocol has no directory configured */
		reply_text(s, 404, "no such file\n");
	else
		http_serve_file(s, s->ask_dirfd, path, len, &req, extra);
	if (s->phase == PHASE_HANDSHAKE) /* else a body goes out first (PHASE_HTTP) */
		session_http_next(s);
}

void http_ask_reply(struct session *s, const struct envelope *env)
{
	int64_t id, status = 0;
	const char *type = NULL, *file = NULL;
	size_t tlen = 0, blen = 0, flen = 0;
	const uint8_t *body = NULL;
	if (!mp_get_int(env->map, "id", &id) || s->phase != PHASE_ASK || (uint64_t)id != s->ask_id)
		return (void)log_debug("a late or stray answer from the router ignored");
	mp_get_bin(env->map, "body", &body, &blen);
	bool is_file = mp_get_str(env->map, "file", &file, &flen);
	struct buf lines = {0};
	char ctype[128];
	bool ok = header_lines(mp_get(env->map, "headers"), &lines);
	if (is_file)
		ok = ok && flen > 0 && file[0] == '/';
	else
		ok = ok && mp_get_int(env->map, "status", &status) && status >= 200 && status <= 599 &&
		     mp_get_str(env->map, "type", &type, &tlen) && tlen > 0 && tlen < sizeof ctype &&
		     header_ok("x", 1, type, tlen) && blen <= HTTP_REPLY_MAX;
	if (!ok) {
		buf_free(&lines);
		log_warn("a malformed HTTP answer from the router; answering 502");
		return answer_error(s, 502, "bad answer from the router\n");
	}
	if (is_file) {
		answer_file(s, file, flen, (const char *)buf_head(&lines));
	} else {
		memcpy(ctype, type, tlen);
		ctype[tlen] = 0;
		answered(s, (int)status, ctype, (const char *)buf_head(&lines), body, blen);
	}
	buf_free(&lines);
}
