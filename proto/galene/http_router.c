/*
 * Galène's HTTP surface, router half: what needs the group files, as
 * Galène's webserver answers it (README.md here, "HTTP").
 *   /public-groups.json       the status of every public group, sorted
 *   /group/<name>/.status     one group's status, with location and endpoint
 *                             (ws:// or wss:// as the request came)
 *   /group/<name>/.status.json  308 to .status
 *   /group/<name>/            galene.html from the worker's --galene-static
 *                             (308 to the clean path with its slash, 308 to
 *                             the group's redirect, 404 for no such group)
 * The path is percent-decoded and cleaned as Go's path.Clean does (http_path.c).
 */
#include <stdio.h>
#include <string.h>

#include "../../common/buf.h"
#include "../../common/json.h"
#include "../../common/log.h"
#include "groups.h"
#include "http.h"
#include "state.h"

#define PATH_MAX_DECODED (GF_MAX_NAME + 64)

static int not_found(struct router *r, const struct router_http_req *q)
{
	static const char body[] = "<p>Not found</p>\n";
	router_http_reply(r, q, 404, "text/html; charset=utf-8", NULL, body, sizeof body - 1);
	return 404;
}

/* 308 to url, with the little page Go's http.Redirect writes. */
static int redirect(struct router *r, const struct router_http_req *q, const char *url)
{
	struct buf body = {0};
	const char *const headers[] = {"Location", url, NULL};
	if (buf_append_str(&body, "<a href=\"") < 0)
		log_fatal("out of memory");
	for (const char *p = url; *p; p++) {
		const char *e = *p == '"' ? "&#34;" : *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;"
			      : *p == '\'' ? "&#39;" : NULL;
		if ((e ? buf_append_str(&body, e) : buf_append(&body, p, 1)) < 0)
			log_fatal("out of memory");
	}
	if (buf_append_str(&body, "\">Permanent Redirect</a>.\n\n") < 0)
		log_fatal("out of memory");
	router_http_reply(r, q, 308, "text/html; charset=utf-8", headers, buf_head(&body), buf_used(&body));
	buf_free(&body);
	return 308;
}

/* "/group/<name>/" + suffix, escaped, as a NUL-terminated buffer. */
static void group_url(struct buf *b, const char *name, const char *suffix)
{
	if (buf_append_str(b, "/group/") < 0 || galene_url_escape(b, name) < 0 || buf_printf(b, "/%s", suffix) < 0 ||
	    buf_append(b, "", 1) < 0)
		log_fatal("out of memory");
}

static void json_reply(struct router *r, const struct router_http_req *q, struct buf *b)
{
	if (buf_append_str(b, "\n") < 0)
		log_fatal("out of memory");
	router_http_reply(r, q, 200, "application/json", NULL, buf_head(b), buf_used(b));
}

static void one_public(void *arg, const struct galene_status *st)
{
	struct buf *b = arg;
	if ((buf_used(b) > 1 && buf_append_str(b, ",") < 0) || galene_status_json(b, st, NULL) < 0)
		log_fatal("out of memory");
}

static int public_groups(struct router *r, const struct router_http_req *q)
{
	struct buf b = {0};
	if (buf_append_str(&b, "[") < 0)
		log_fatal("out of memory");
	galene_public_groups(one_public, &b);
	if (buf_append_str(&b, "]") < 0)
		log_fatal("out of memory");
	json_reply(r, q, &b);
	buf_free(&b);
	return 200;
}

/* "location" and "endpoint" as the request came (scheme, Host). */
static void location_members(struct buf *b, const struct router_http_req *q, const char *name)
{
	struct buf url = {0};
	if (buf_printf(&url, "%s://%s", q->tls ? "https" : "http", q->host) < 0)
		log_fatal("out of memory");
	group_url(&url, name, "");
	if (buf_append_str(b, "\"location\":") < 0 || json_put_string(b, (const char *)buf_head(&url),
								     buf_used(&url) - 1) < 0)
		log_fatal("out of memory");
	buf_reset(&url);
	if (buf_printf(&url, "%s://%s/ws", q->tls ? "wss" : "ws", q->host) < 0 ||
	    buf_append_str(b, ",\"endpoint\":") < 0 || json_put_string(b, (const char *)buf_head(&url),
									buf_used(&url)) < 0 ||
	    buf_append(b, "", 1) < 0)
		log_fatal("out of memory");
	buf_free(&url);
}

static int status(struct router *r, const struct router_http_req *q, const char *name)
{
	struct galene_status st;
	if (name[0] == 0 || name[0] == '.' || galene_group_status(name, strlen(name), &st) != GALENE_FOUND)
		return not_found(r, q);
	struct buf extra = {0}, b = {0};
	location_members(&extra, q, name);
	if (galene_status_json(&b, &st, (const char *)buf_head(&extra)) < 0)
		log_fatal("out of memory");
	json_reply(r, q, &b);
	buf_free(&extra);
	buf_free(&b);
	return 200;
}

static int group_page(struct router *r, const struct router_http_req *q, const char *path, char *rest)
{
	static const char *const headers[] = {"Cache-Control", "max-age=1800", "Content-Security-Policy", GALENE_CSP,
					      NULL};
	struct galene_status st;
	if (rest[0] == 0 || rest[0] == '.')
		return not_found(r, q);
	rest--; /* the '/' before it: clean "/<rest>" in place */
	rest[0] = '/';
	galene_path_clean(rest);
	const char *name = rest + 1;
	if (name[0] == 0 || galene_group_status(name, strlen(name), &st) != GALENE_FOUND)
		return not_found(r, q);
	size_t nl = strlen(name);
	if (strncmp(path, "/group/", 7) != 0 || strncmp(path + 7, name, nl) != 0 || strcmp(path + 7 + nl, "/") != 0) {
		struct buf url = {0};
		group_url(&url, name, "");
		redirect(r, q, (const char *)buf_head(&url));
		buf_free(&url);
		return 308;
	}
	if (st.redirect)
		return redirect(r, q, st.redirect);
	router_http_file(r, q, "/galene.html", headers);
	return 200;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int galene_http_router(struct router *r, const struct router_http_req *q)
{
	char path[PATH_MAX_DECODED], work[PATH_MAX_DECODED];
	if (galene_path_decode(q->path, path, sizeof path) < 0) {
		static const char text[] = "bad path\n";
		router_http_reply(r, q, 400, "text/plain; charset=utf-8", NULL, text, sizeof text - 1);
		return 400;
	}
	if (strcmp(path, "/public-groups.json") == 0)
		return public_groups(r, q);
	if (strncmp(path, "/group/", 7) != 0)
		return 0;
	memcpy(work, path, sizeof path);
	char *rest = work + 7;
	if (ends_with(rest, "/.status.json")) {
		rest[strlen(rest) - 5] = 0; /* ".json" */
		struct buf url = {0};
		if (buf_append_str(&url, "/group/") < 0 || galene_url_escape(&url, rest) < 0 || buf_append(&url, "", 1) < 0)
			log_fatal("out of memory");
		redirect(r, q, (const char *)buf_head(&url));
		buf_free(&url);
		return 308;
	}
	if (ends_with(rest, "/.status")) {
		rest[strlen(rest) - 8] = 0;
		if (rest[0] == '.')
			return not_found(r, q);
		rest--;
		rest[0] = '/';
		galene_path_clean(rest);
		return status(r, q, rest + 1);
	}
	return group_page(r, q, path, rest);
}
