/*
 * Plain HTTP requests answered by the router: a worker hands one over as a
 * core "http" envelope (common/bus.h) naming the protocol whose router half
 * answers (proto_router.http) or "core" for the core's own routes,
 * /metrics (the counters of router/metrics.c, Prometheus text format) and
 * /healthz (200 whenever the router answers at all). The answer goes back
 * as "http-reply"; the worker writes the HTTP response (worker/http_ask.c).
 * A worker that only asks such questions registers with proto "core".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/bus.h"
#include "../common/envelope.h"
#include "../common/log.h"
#include "router.h"

#define HTTP_FIELD_MAX 8192 /* a worker's request head is at most this */

static void core_envelope(struct router *r, struct rworker *w, const struct envelope *e)
{
	(void)e;
	router_drop_worker(r, w, "sent a core envelope the router does not know");
}

const struct proto_router router_http_only = {.name = ENV_CORE, .on_envelope = core_envelope};

void router_http_reply(struct router *r, const struct router_http_req *q, int status, const char *content_type,
		       const char *const *headers, const void *body, size_t len)
{
	static const char too_big[] = "the answer is too large\n";
	if (len > HTTP_REPLY_MAX) {
		log_warn("an HTTP answer of %zu bytes for %s is over the limit; answering 500", len, q->path);
		status = 500;
		content_type = "text/plain; charset=utf-8";
		headers = NULL;
		body = too_big;
		len = sizeof too_big - 1;
	}
	uint32_t nh = 0;
	while (headers && headers[nh] && headers[nh + 1])
		nh += 2;
	msgpack_packer *pk = router_packer(r);
	env_begin(pk, ENV_CORE, OP_HTTP_REPLY, 5);
	mp_kv_int(pk, "id", (int64_t)q->id);
	mp_kv_int(pk, "status", status);
	mp_kv_cstr(pk, "type", content_type);
	mp_cstr(pk, "headers");
	msgpack_pack_array(pk, nh);
	for (uint32_t i = 0; i < nh; i++)
		mp_cstr(pk, headers[i]);
	mp_kv_bin(pk, "body", body, len);
	router_send_scratch(r, q->w);
}

void router_http_file(struct router *r, const struct router_http_req *q, const char *path,
		      const char *const *headers)
{
	uint32_t nh = 0;
	while (headers && headers[nh] && headers[nh + 1])
		nh += 2;
	msgpack_packer *pk = router_packer(r);
	env_begin(pk, ENV_CORE, OP_HTTP_REPLY, 3);
	mp_kv_int(pk, "id", (int64_t)q->id);
	mp_kv_cstr(pk, "file", path);
	mp_cstr(pk, "headers");
	msgpack_pack_array(pk, nh);
	for (uint32_t i = 0; i < nh; i++)
		mp_cstr(pk, headers[i]);
	router_send_scratch(r, q->w);
}

static void reply_text(struct router *r, const struct router_http_req *q, int status, const char *text)
{
	router_http_reply(r, q, status, "text/plain; charset=utf-8", NULL, text, strlen(text));
}

static int core_metrics(struct router *r, const struct router_http_req *q)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		reply_text(r, q, 500, "out of memory\n");
		return 500;
	}
	metrics_print(r, f);
	if (fclose(f) != 0) {
		free(text);
		reply_text(r, q, 500, "out of memory\n");
		return 500;
	}
	router_http_reply(r, q, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, text, len);
	free(text);
	return 200;
}

/* The core's routes; 0 for a path that is none of them. */
static int core_http(struct router *r, const struct router_http_req *q)
{
	if (strcmp(q->path, "/healthz") == 0) {
		reply_text(r, q, 200, "ok\n");
		return 200;
	}
	if (strcmp(q->path, "/metrics") == 0)
		return core_metrics(r, q);
	return 0;
}

/* A string field as a NUL-terminated copy; NULL when absent, too long or with a NUL. */
static char *field(const struct envelope *e, const char *key)
{
	const char *p;
	size_t n;
	if (!mp_get_str(e->map, key, &p, &n) || n > HTTP_FIELD_MAX || memchr(p, 0, n))
		return NULL;
	char *s = malloc(n + 1);
	if (!s)
		log_fatal("out of memory");
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

bool router_http_request(struct router *r, struct rworker *w, const struct envelope *e)
{
	int64_t id;
	bool head, tls;
	char *to = field(e, "to"), *path = field(e, "path"), *query = field(e, "query"), *host = field(e, "host"),
	     *peer = field(e, "peer");
	bool ok = to && path && query && host && peer && mp_get_int(e->map, "id", &id) &&
		  mp_get_bool(e->map, "head", &head) && mp_get_bool(e->map, "tls", &tls);
	if (ok) {
		struct router_http_req q = {.w = w, .id = (uint64_t)id, .head = head, .tls = tls, .path = path,
					    .query = query, .host = host, .peer = peer};
		r->stats.http_requests++;
		const struct proto_router *p = strcmp(to, ENV_CORE) == 0 ? NULL : router_protocol(to, strlen(to));
		int status = p ? (p->http ? p->http(r, &q) : 0) : core_http(r, &q);
		if (status == 0)
			reply_text(r, &q, 404, "nothing at this path\n");
	}
	free(to);
	free(path);
	free(query);
	free(host);
	free(peer);
	return ok;
}
