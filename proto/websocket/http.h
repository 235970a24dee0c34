/*
 * HTTP/1.1 request head parser for the WebSocket upgrade. It works on the
 * bytes read so far and keeps pointers into them; nothing is copied.
 */
#ifndef SB_HTTP_H
#define SB_HTTP_H
#include <stdbool.h>
#include <stddef.h>

#include "../../common/buf.h"

#define HTTP_MAX_HEAD 8192   /* request line + headers */
#define HTTP_MAX_HEADERS 64

struct http_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

struct http_request {
	const char *method;
	size_t method_len;
	const char *path; /* target up to '?' */
	size_t path_len;
	const char *query; /* after '?', NULL when absent */
	size_t query_len;
	int version_minor; /* HTTP/1.x */
	struct http_header headers[HTTP_MAX_HEADERS];
	int nheaders;
};

/*
 * Returns the length of the complete head (> 0), 0 when more bytes are
 * needed, or the negated HTTP status to answer: -400 malformed, -431 head
 * over HTTP_MAX_HEAD or too many headers, -505 not HTTP/1.x.
 */
int http_parse_request(const char *p, size_t n, struct http_request *req);

const struct http_header *http_header_find(const struct http_request *req, const char *name);
/* Case-insensitive token search in a comma-separated header, e.g. Connection. */
bool http_header_has_token(const struct http_request *req, const char *name, const char *token);
/* Percent-decoded value of a query parameter; -1 when absent or too long. */
int http_query_param(const struct http_request *req, const char *name, char *out, size_t cap,
		     size_t *outlen);

const char *http_status_text(int status);
/* Appends a complete plain-text error response that closes the connection. */
void http_error_response(struct buf *out, int status, const char *extra_headers, const char *body);

#endif
