/*
 * Plain HTTP in the worker: non-upgrade GET and HEAD requests, answered by a
 * protocol's http op or from the --static-dir files, with keep-alive for up
 * to HTTP_MAX_REQUESTS requests; and the per-protocol set-up hooks. Requests
 * answered by the router are worker/http_ask.c.
 *
 * Where the sandbox stands: these requests are answered before the worker
 * enters seccomp, as the unprivileged worker user, with the request-head
 * limits (8 KiB, 64 headers, the handshake timeout) in force. A plain-HTTP
 * connection never upgrades to a session, so it never needs the filter's
 * world; and the filter can never allow opening files safely: seccomp sees
 * openat2's arguments as numbers and cannot read its struct open_how, so
 * allowing openat2 at all would allow it without RESOLVE_BENEATH, for any
 * path. So the filter keeps refusing every open, and files are opened only
 * here, below the directory descriptor opened in the set-up hook, with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) (proto/websocket/static.c):
 * `..`, absolute paths and symlinks out of the directory fail in the kernel,
 * whatever the spelling. A connection that upgrades later enters the sandbox
 * then, as before (worker/worker.c, open_session).
 *
 * A worker forked by the worker template answers them under the template's
 * filter already, which is its only one: it allows openat2 and pread (and
 * so, for a worker taken over, any path its user can read) only when a
 * set-up opened a directory with session_http_dir (worker/sandbox_layers.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "refusal.h"
#include "session.h"

enum { HTTP_CHUNK = 64 * 1024 }; /* file bytes queued for the client at a time */

static bool is_method(const struct http_request *req, const char *m)
{
	return req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

/* ---- the core static files, a protocol of their own without a session ---- */

static int files_dirfd = -1;

/* Whether a set-up opened a directory of files: the worker template's
 * filter allows openat2 and pread only then (worker/sandbox_layers.c). */
static bool serves_files;

int session_http_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	serves_files = serves_files || fd >= 0;
	return fd;
}

bool http_serves_files(void)
{
	return serves_files;
}

static int files_setup(const struct worker_config *cfg)
{
	if (!cfg->static_dir)
		return 0;
	files_dirfd = session_http_dir(cfg->static_dir);
	if (files_dirfd < 0) {
		log_error("--static-dir %s: %s", cfg->static_dir, strerror(errno));
		return -1;
	}
	return 0;
}

static int files_http(struct session *s, const struct http_request *req)
{
	return files_dirfd < 0 ? 0 : session_http_file(s, files_dirfd, req->path, req->path_len);
}

static const struct proto_worker files_worker = {
	.name = "static",
	.setup = files_setup,
	.http = files_http,
};

int http_setup(const struct worker_config *cfg)
{
	for (int i = 0; worker_protocols[i]; i++)
		if (worker_protocols[i]->setup && worker_protocols[i]->setup(cfg) < 0) {
			log_error("set-up of %s failed", worker_protocols[i]->name);
			return -1;
		}
	return files_worker.setup(cfg);
}

/* ---- replies ---- */

int http_write_reply(struct session *s, bool head, int status, const char *content_type, const char *extra,
		     const void *body, size_t len)
{
	int rc = buf_printf(&s->out,
			    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			    "%sX-Content-Type-Options: nosniff\r\nConnection: %s\r\n\r\n",
			    status, http_status_text(status), content_type, len,
			    extra ? extra : "Cache-Control: no-cache\r\n", s->http_last ? "close" : "keep-alive");
	if (rc >= 0 && !head && len > 0)
		rc = buf_append(&s->out, body, len);
	if (rc < 0) {
		s->http_last = true; /* the response is cut: nothing more can follow it */
		return 500;
	}
	return status;
}

int session_http_reply(struct session *s, int status, const char *content_type, const void *body,
		       size_t len)
{
	const struct http_request *req = s->http_req;
	if (!req)
		return -1; /* only while answering a request */
	return http_write_reply(s, is_method(req, "HEAD"), status, content_type, NULL, body, len);
}

int reply_text(struct session *s, int status, const char *text)
{
	if (status == 400)
		s->http_last = true; /* we cannot trust where the next request starts */
	bool head = s->http_req ? is_method(s->http_req, "HEAD") : s->ask_head;
	return http_write_reply(s, head, status, "text/plain; charset=utf-8", NULL, text, strlen(text));
}

int http_serve_file(struct session *s, int dirfd, const char *path, size_t len, const struct http_request *req,
		    const char *extra)
{
	struct static_file f;
	int status = static_open(dirfd, path, len, &f);
	if (status == 404)
		return reply_text(s, 404, "no such file\n");
	if (status)
		return reply_text(s, status, "bad file path\n");
	bool body = false;
	status = static_head_with(&s->out, &f, req, !s->http_last, extra, &body);
	if (status == 500)
		s->http_last = true;
	if (!body) {
		static_close(&f);
		return status;
	}
	s->file = f;
	s->phase = PHASE_HTTP;
	s->http_progress_at = clock_ms();
	return status;
}

int session_http_file(struct session *s, int dirfd, const char *path, size_t len)
{
	return s->http_req ? http_serve_file(s, dirfd, path, len, s->http_req, NULL) : -1;
}

int session_http_file_with(struct session *s, int dirfd, const char *path, size_t len, const char *const *headers)
{
	if (!s->http_req)
		return -1;
	struct buf lines = {0};
	if (http_header_lines(headers, &lines) < 0) {
		buf_free(&lines);
		log_error("a protocol gave bad header lines for %.*s", (int)len, path);
		return reply_text(s, 500, "internal error\n");
	}
	int status = http_serve_file(s, dirfd, path, len, s->http_req, (const char *)buf_head(&lines));
	buf_free(&lines);
	return status;
}

/* ---- requests ---- */

/* A plain request may carry no body: its bytes would be read as the next request. */
static bool has_body(const struct http_request *req)
{
	const struct http_header *cl = http_header_find(req, "Content-Length");
	return http_header_find(req, "Transfer-Encoding") ||
	       (cl && !(cl->value_len == 1 && cl->value[0] == '0'));
}

/* The protocol whose WebSocket endpoint is at the path, or NULL. */
static const struct proto_worker *endpoint_of(const struct http_request *req)
{
	for (int i = 0; worker_protocols[i]; i++)
		if (worker_protocols[i]->match(req))
			return worker_protocols[i];
	return NULL;
}

/* Whether --static-dir answers the path with something other than 404. */
static bool files_have(const struct http_request *req)
{
	if (files_dirfd < 0)
		return false;
	struct static_file f;
	int status = static_open(files_dirfd, req->path, req->path_len, &f);
	if (status == 0)
		static_close(&f);
	return status != 404;
}

/* Offers the request to every protocol's http op, then the files, then the
 * fallbacks; 0: nobody took it. */
static int dispatch(struct session *s, const struct http_request *req)
{
	int status = http_ask_core(s, req); /* /metrics, /healthz */
	/* an endpoint's path is its protocol's alone: another's http op (Galène's
	 * files claim every path) must not answer it */
	const struct proto_worker *ep = endpoint_of(req);
	for (int i = 0; worker_protocols[i] && !status; i++)
		if (worker_protocols[i]->http && (!ep || worker_protocols[i] == ep))
			status = worker_protocols[i]->http(s, req);
	if (status || ep)
		return status; /* a WebSocket endpoint answers 426 to the rest (worker.c) */
	if (files_have(req) && (status = files_worker.http(s, req)) != 0)
		return status;
	for (int i = 0; worker_protocols[i] && !status; i++)
		if (worker_protocols[i]->http_fallback)
			status = worker_protocols[i]->http_fallback(s, req);
	return status ? status : reply_text(s, 404, "nothing at this path\n");
}

bool http_answer(struct session *s, const struct http_request *req, size_t head_len)
{
	if (!(is_method(req, "GET") || is_method(req, "HEAD")) || http_header_find(req, "Upgrade"))
		return false;
	s->http_req = req;
	/* HTTP/1.0 and Connection: close end with this response, and so does the last allowed */
	s->http_last = req->version_minor < 1 || http_header_has_token(req, "Connection", "close") ||
		       s->http_served + 1 >= HTTP_MAX_REQUESTS;
	int status = has_body(req) ? reply_text(s, 400, "a GET or HEAD request carries no body\n")
				   : dispatch(s, req);
	s->http_req = NULL;
	if (!status)
		return false;
	if (status == HTTP_ASKED) {
		log_debug("plain HTTP %.*s %.*s: asked the router", (int)req->method_len, req->method,
			  (int)req->path_len, req->path);
	} else if (status >= 400) { /* a refusal gets its line, as an upgrade's does */
		char st[12], path[128], method[16];
		snprintf(st, sizeof st, "%d", status);
		snprintf(path, sizeof path, "%.*s", (int)(req->path_len < 127 ? req->path_len : 127), req->path);
		snprintf(method, sizeof method, "%.*s", (int)(req->method_len < 15 ? req->method_len : 15), req->method);
		struct log_kv kv[] = {{"status", st}, {"reason", http_status_text(status)}, {"method", method},
				      {"path", path}};
		log_event(LOG_INFO, kv, 4, "refused");
		refusal_report(s, status);
	} else {
		log_debug("plain HTTP %.*s %.*s: %d", (int)req->method_len, req->method, (int)req->path_len,
			  req->path, status);
	}
	s->http_served++;
	buf_consume(&s->head, head_len); /* req points into it: not used from here on */
	return true;
}

int http_refill(struct session *s)
{
	if (buf_used(&s->out) >= HTTP_CHUNK)
		return 0;
	if (s->file.sent < s->file.size) {
		if (static_read(&s->file, &s->out, HTTP_CHUNK) < 0) {
			log_warn("a static file changed while it was sent; dropping the connection");
			return -1;
		}
		return 0;
	}
	if (buf_used(&s->out) > 0)
		return 0;
	static_close(&s->file);
	return 1;
}
