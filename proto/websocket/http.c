#include "http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* End of the line starting at p (index of '\n'), or -1. Accepts bare LF too. */
static long line_end(const char *p, size_t n, size_t from)
{
	const char *nl = memchr(p + from, '\n', n - from);
	return nl ? (long)(nl - p) : -1;
}

static size_t trim_cr(const char *p, size_t start, size_t nl)
{
	return (nl > start && p[nl - 1] == '\r') ? nl - 1 : nl;
}

static int parse_request_line(const char *p, size_t len, struct http_request *req)
{
	const char *sp1 = memchr(p, ' ', len);
	if (!sp1 || sp1 == p)
		return -400;
	for (const char *c = p; c < sp1; c++)
		if (!is_tchar(*c))
			return -400;
	req->method = p;
	req->method_len = (size_t)(sp1 - p);
	const char *t = sp1 + 1, *end = p + len;
	const char *sp2 = memchr(t, ' ', (size_t)(end - t));
	if (!sp2 || sp2 == t || *t != '/')
		return -400;
	for (const char *c = t; c < sp2; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return -400;
	const char *q = memchr(t, '?', (size_t)(sp2 - t));
	req->path = t;
	req->path_len = (size_t)((q ? q : sp2) - t);
	req->query = q ? q + 1 : NULL;
	req->query_len = q ? (size_t)(sp2 - q - 1) : 0;
	const char *v = sp2 + 1;
	size_t vlen = (size_t)(end - v);
	if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
	    v[7] < '0' || v[7] > '9')
		return -400;
	if (v[5] != '1')
		return -505;
	req->version_minor = v[7] - '0';
	return 0;
}

static int parse_header_line(const char *p, size_t len, struct http_request *req)
{
	if (len == 0 || p[0] == ' ' || p[0] == '\t')
		return -400; /* obsolete line folding is refused (RFC 9112 5.2) */
	const char *colon = memchr(p, ':', len);
	if (!colon || colon == p)
		return -400;
	for (const char *c = p; c < colon; c++)
		if (!is_tchar(*c))
			return -400;
	const char *v = colon + 1, *end = p + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (const char *c = v; c < end; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f)
			return -400;
	if (req->nheaders == HTTP_MAX_HEADERS)
		return -431;
	struct http_header *h = &req->headers[req->nheaders++];
	h->name = p;
	h->name_len = (size_t)(colon - p);
	h->value = v;
	h->value_len = (size_t)(end - v);
	return 0;
}

int http_parse_request(const char *p, size_t n, struct http_request *req)
{
	memset(req, 0, sizeof *req);
	size_t limit = n < HTTP_MAX_HEAD ? n : HTTP_MAX_HEAD;
	size_t pos = 0;
	bool first = true;
	for (;;) {
		long nl = line_end(p, limit, pos);
		if (nl < 0)
			return n >= HTTP_MAX_HEAD ? -431 : 0;
		size_t end = trim_cr(p, pos, (size_t)nl);
		int rc;
		if (first && end == pos) {
			rc = -400; /* no leading empty lines: a client that sends them is not a browser */
		} else if (first) {
			rc = parse_request_line(p + pos, end - pos, req);
			first = false;
		} else if (end == pos) {
			return nl + 1;
		} else {
			rc = parse_header_line(p + pos, end - pos, req);
		}
		if (rc < 0)
			return rc;
		pos = (size_t)nl + 1;
	}
}

const struct http_header *http_header_find(const struct http_request *req, const char *name)
{
	size_t n = strlen(name);
	for (int i = 0; i < req->nheaders; i++)
		if (req->headers[i].name_len == n && strncasecmp(req->headers[i].name, name, n) == 0)
			return &req->headers[i];
	return NULL;
}

bool http_header_has_token(const struct http_request *req, const char *name, const char *token)
{
	size_t tl = strlen(token), nl = strlen(name);
	/* A header may be repeated; every instance is a list. */
	for (int i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];
		if (h->name_len != nl || strncasecmp(h->name, name, nl) != 0)
			continue;
		const char *v = h->value, *end = h->value + h->value_len;
		while (v < end) {
			while (v < end && (*v == ' ' || *v == '\t' || *v == ','))
				v++;
			const char *s = v;
			while (v < end && *v != ',')
				v++;
			const char *e = v;
			while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			if ((size_t)(e - s) == tl && strncasecmp(s, token, tl) == 0)
				return true;
		}
	}
	return false;
}

static int hexdig(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Percent-decodes p[0..n) into out; -1 on a bad escape or overflow. */
static int pct_decode(const char *p, size_t n, char *out, size_t cap, size_t *outlen)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			int h = hexdig(p[i + 1]), l = hexdig(p[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = (char)(h * 16 + l);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (k == cap)
			return -1;
		out[k++] = c;
	}
	*outlen = k;
	return 0;
}

int http_query_param(const struct http_request *req, const char *name, char *out, size_t cap,
		     size_t *outlen)
{
	if (!req->query)
		return -1;
	size_t nl = strlen(name);
	const char *q = req->query, *end = req->query + req->query_len;
	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(q, '=', (size_t)(pe - q));
		const char *ke = eq ? eq : pe;
		if ((size_t)(ke - q) == nl && memcmp(q, name, nl) == 0) {
			const char *v = eq ? eq + 1 : pe;
			return pct_decode(v, (size_t)(pe - v), out, cap, outlen);
		}
		if (!amp)
			break; /* end + 1 would point past the array */
		q = amp + 1;
	}
	return -1;
}

const char *http_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 426: return "Upgrade Required";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

void http_error_response(struct buf *out, int status, const char *extra_headers, const char *body)
{
	buf_printf(out,
		   "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		   "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s\n",
		   status, http_status_text(status), strlen(body) + 1, extra_headers ? extra_headers : "",
		   body);
}
