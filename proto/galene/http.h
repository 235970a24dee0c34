/*
 * Galène's HTTP surface (README.md here, "HTTP"): the worker half answers
 * the static files of --galene-static itself and hands /group/... and
 * /public-groups.json to the router half, which alone reads the group
 * files (proto/galene/http.c, http_router.c).
 */
#ifndef SB_GALENE_HTTP_H
#define SB_GALENE_HTTP_H
#include <stddef.h>

#include "../proto.h"

/* Galène's Content-Security-Policy, on its pages and static files. */
#define GALENE_CSP "connect-src ws: wss: 'self'; img-src data: 'self'; media-src blob: 'self'; default-src 'self'"

/* worker half (http.c): proto_worker.setup and .http */
int galene_http_setup(const struct worker_config *cfg);
int galene_http(struct session *s, const struct http_request *req);

/* router half (http_router.c): proto_router.http */
int galene_http_router(struct router *r, const struct router_http_req *q);

/* http_path.c: request paths (pure; unit-tested and fuzzed) */
#include "../../common/buf.h"
/* Go's path.Clean for a path starting with '/', in place; returns its length. */
size_t galene_path_clean(char *p);
/* Percent-decodes src into out; -1 for a bad escape, a NUL, or past cap. */
int galene_path_decode(const char *src, char *out, size_t cap);
/* Appends s for a URL path: unreserved bytes and '/' as they are, the rest %XX. */
int galene_url_escape(struct buf *b, const char *s);

#endif
