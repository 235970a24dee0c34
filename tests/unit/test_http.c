/* proto/websocket/http and handshake: request head parsing, limits, upgrade checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"
#include "../../proto/websocket/handshake.h"
#include "../../proto/websocket/http.h"
#include "check.h"

static struct http_request req; /* large (64 headers): keep it off the stack */

static int parse(const char *s) { return http_parse_request(s, strlen(s), &req); }

static bool eq(const char *p, size_t n, const char *lit) { return n == strlen(lit) && memcmp(p, lit, n) == 0; }

static const char *hdr_value(const char *name, size_t *n)
{
	const struct http_header *h = http_header_find(&req, name);
	if (!h)
		return NULL;
	*n = h->value_len;
	return h->value;
}

static void test_basic(void)
{
	const char *r = "GET /chat?room=lobby HTTP/1.1\r\nHost: example.com\r\n"
			"X-Spaced:   padded value \t \r\nEmpty:\r\n\r\n";
	int rc = parse(r);
	CHECK("http: complete request returns head length", rc == (int)strlen(r));
	CHECK("http: method", eq(req.method, req.method_len, "GET"));
	CHECK("http: path stops at '?'", eq(req.path, req.path_len, "/chat"));
	CHECK("http: query after '?'", req.query && eq(req.query, req.query_len, "room=lobby"));
	CHECK("http: version minor", req.version_minor == 1);
	CHECK("http: header count", req.nheaders == 3);
	size_t n = 0;
	const char *v = hdr_value("host", &n);
	CHECK("http: header lookup is case-insensitive", v && eq(v, n, "example.com"));
	v = hdr_value("X-Spaced", &n);
	CHECK("http: value trimmed of spaces and tabs", v && eq(v, n, "padded value"));
	v = hdr_value("Empty", &n);
	CHECK("http: empty header value", v && n == 0);
	CHECK("http: absent header", http_header_find(&req, "Nope") == NULL);

	rc = parse("GET / HTTP/1.1\r\n\r\n");
	CHECK("http: no query gives NULL query", rc > 0 && req.query == NULL && req.nheaders == 0);
	rc = parse("GET /? HTTP/1.1\r\n\r\n");
	CHECK("http: empty query", rc > 0 && req.query && req.query_len == 0 && req.path_len == 1);

	/* Bytes after the head (the first WebSocket frame) are not part of it. */
	const char *with_body = "GET / HTTP/1.1\r\nHost: a\r\n\r\n\x81\x85XXXXhello";
	rc = http_parse_request(with_body, strlen(with_body), &req);
	CHECK("http: head length excludes following bytes", rc == (int)(strlen(with_body) - 11));

	rc = parse("GET / HTTP/1.1\nHost: a\n\n");
	CHECK("http: bare LF line endings accepted", rc == 24 && req.nheaders == 1);
	rc = parse("GET / HTTP/1.1\r\nHost: a\n\r\n");
	CHECK("http: mixed CRLF and LF accepted", rc > 0 && req.nheaders == 1);
	rc = parse("GET / HTTP/1.0\r\n\r\n");
	CHECK("http: HTTP/1.0 parsed with minor 0", rc > 0 && req.version_minor == 0);
	rc = parse("OPTIONS * HTTP/1.1\r\n\r\n");
	CHECK("http: target must start with '/'", rc == -400);
	rc = parse("GET / HTTP/1.1\r\nX-Latin: caf\xE9\r\n\r\n");
	CHECK("http: obs-text (0x80+) allowed in values", rc > 0);
}

static void test_incomplete(void)
{
	const char *r = "GET /a?b=c HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n";
	size_t n = strlen(r);
	bool all_zero = true;
	for (size_t k = 0; k < n; k++)
		if (http_parse_request(r, k, &req) != 0)
			all_zero = false;
	CHECK("http: every proper prefix is incomplete (0)", all_zero);
	CHECK("http: the whole head parses", http_parse_request(r, n, &req) == (int)n);
	CHECK("http: head without the final empty line is incomplete",
	      parse("GET / HTTP/1.1\r\nHost: h\r\n") == 0);
	CHECK("http: a lone CR is not an empty line", parse("GET / HTTP/1.1\r\nHost: h\r\n\r") == 0);
}

static void test_malformed(void)
{
	CHECK("http: leading empty line rejected", parse("\r\nGET / HTTP/1.1\r\n\r\n") == -400);
	CHECK("http: no spaces in request line", parse("GET\r\n\r\n") == -400);
	CHECK("http: empty method rejected", parse(" / HTTP/1.1\r\n\r\n") == -400);
	CHECK("http: non-token method rejected", parse("G(T / HTTP/1.1\r\n\r\n") == -400);
	CHECK("http: double space rejected", parse("GET  / HTTP/1.1\r\n\r\n") == -400);
	CHECK("http: space inside target rejected", parse("GET /a b HTTP/1.1\r\n\r\n") == -400);
	CHECK("http: control char in target rejected", parse("GET /a\x01 HTTP/1.1\r\n\r\n") == -400);
	CHECK("http: DEL in target rejected", parse("GET /a\x7f HTTP/1.1\r\n\r\n") == -400);
	CHECK("http: missing version rejected", parse("GET /\r\n\r\n") == -400);
	CHECK("http: trailing space after version rejected", parse("GET / HTTP/1.1 \r\n\r\n") == -400);
	CHECK("http: lowercase http rejected", parse("GET / http/1.1\r\n\r\n") == -400);
	CHECK("http: HTTPS/1.1 rejected", parse("GET / HTTPS/1.1\r\n\r\n") == -400);
	CHECK("http: non-digit version rejected", parse("GET / HTTP/x.1\r\n\r\n") == -400);
	CHECK("http: version without dot rejected", parse("GET / HTTP/1-1\r\n\r\n") == -400);
	CHECK("http: HTTP/2.0 gives 505", parse("GET / HTTP/2.0\r\n\r\n") == -505);
	CHECK("http: HTTP/0.9 gives 505", parse("GET / HTTP/0.9\r\n\r\n") == -505);
	CHECK("http: header without colon rejected", parse("GET / HTTP/1.1\r\nHost\r\n\r\n") == -400);
	CHECK("http: empty header name rejected", parse("GET / HTTP/1.1\r\n: v\r\n\r\n") == -400);
	CHECK("http: space before colon rejected", parse("GET / HTTP/1.1\r\nHost : h\r\n\r\n") == -400);
	CHECK("http: obs-fold (space) rejected",
	      parse("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n") == -400);
	CHECK("http: obs-fold (tab) rejected",
	      parse("GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n") == -400);
	CHECK("http: control char in value rejected", parse("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n") == -400);
	CHECK("http: bare CR inside value rejected", parse("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n") == -400);
	CHECK("http: DEL in value rejected", parse("GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n") == -400);
	CHECK("http: NUL in value rejected",
	      http_parse_request("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26, &req) == -400);
	CHECK("http: tab inside value allowed", parse("GET / HTTP/1.1\r\nX: a\tb\r\n\r\n") > 0);
	CHECK("http: error found before the head is complete",
	      parse("GET / HTTP/1.1\r\nbad header\r\n") == -400);
}

/* Builds "GET / HTTP/1.1\r\nX-Pad: aaaa...\r\n\r\n" of exactly total bytes. */
static char *head_of_size(size_t total)
{
	const char *pre = "GET / HTTP/1.1\r\nX-Pad: ";
	size_t pl = strlen(pre);
	char *s = malloc(total + 1);
	memcpy(s, pre, pl);
	memset(s + pl, 'a', total - pl - 4);
	memcpy(s + total - 4, "\r\n\r\n", 5);
	return s;
}

static void test_limits(void)
{
	char *h = head_of_size(HTTP_MAX_HEAD);
	CHECK("http: head of exactly 8192 bytes accepted", http_parse_request(h, HTTP_MAX_HEAD, &req) == HTTP_MAX_HEAD);
	free(h);
	h = head_of_size(HTTP_MAX_HEAD + 1);
	CHECK("http: head of 8193 bytes gives 431", http_parse_request(h, HTTP_MAX_HEAD + 1, &req) == -431);
	CHECK("http: 8192 bytes of an 8193-byte head already give 431",
	      http_parse_request(h, HTTP_MAX_HEAD, &req) == -431);
	CHECK("http: 8191 bytes without an end are still incomplete",
	      http_parse_request(h, HTTP_MAX_HEAD - 1, &req) == 0);
	free(h);

	struct buf b = {0};
	buf_append_str(&b, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS; i++)
		buf_printf(&b, "X-H%d: %d\r\n", i, i);
	size_t before_end = buf_used(&b);
	buf_append_str(&b, "\r\n");
	int rc = http_parse_request((const char *)buf_head(&b), buf_used(&b), &req);
	CHECK("http: 64 headers accepted", rc == (int)buf_used(&b) && req.nheaders == 64);
	size_t n;
	const char *v = hdr_value("X-H63", &n);
	CHECK("http: the 64th header is found", v && eq(v, n, "63"));
	b.len = b.off + before_end;
	buf_append_str(&b, "X-H64: 64\r\n\r\n");
	rc = http_parse_request((const char *)buf_head(&b), buf_used(&b), &req);
	CHECK("http: 65 headers give 431", rc == -431);
	buf_free(&b);
}

static void test_tokens(void)
{
	parse("GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n"
	      "X-List: ,, a ,\tb\t,c,\r\nX-List: d\r\nX-Near: upgraded, upgrad\r\n\r\n");
	CHECK("http: token found in a list, case-insensitive", http_header_has_token(&req, "connection", "upgrade"));
	CHECK("http: first token found", http_header_has_token(&req, "Connection", "keep-alive"));
	CHECK("http: single-value header token", http_header_has_token(&req, "Upgrade", "websocket"));
	CHECK("http: empty list elements skipped", http_header_has_token(&req, "X-List", "a"));
	CHECK("http: token with surrounding tabs", http_header_has_token(&req, "X-List", "b"));
	CHECK("http: last token before trailing comma", http_header_has_token(&req, "X-List", "c"));
	CHECK("http: token in a repeated header line", http_header_has_token(&req, "X-List", "d"));
	CHECK("http: no prefix or superstring matches",
	      !http_header_has_token(&req, "X-Near", "upgrade"));
	CHECK("http: missing header has no token", !http_header_has_token(&req, "X-None", "a"));
	CHECK("http: absent token in a list", !http_header_has_token(&req, "X-List", "e"));
}

static void test_query(void)
{
	char out[64];
	size_t n = 99;
	parse("GET /c?room=a%20b&name=J%C3%BCrgen&plus=a+b&empty=&flag&pct=%41%2a%2A&nul=%00x"
	      "&bad=%zz&short=%4&end=% HTTP/1.1\r\n\r\n");
	CHECK("http: query %20 decoded", http_query_param(&req, "room", out, sizeof out, &n) == 0 && eq(out, n, "a b"));
	CHECK("http: query UTF-8 percent-decoded",
	      http_query_param(&req, "name", out, sizeof out, &n) == 0 && eq(out, n, "J\xC3\xBCrgen"));
	CHECK("http: query '+' is a space", http_query_param(&req, "plus", out, sizeof out, &n) == 0 && eq(out, n, "a b"));
	CHECK("http: query empty value", http_query_param(&req, "empty", out, sizeof out, &n) == 0 && n == 0);
	CHECK("http: query key without '='", http_query_param(&req, "flag", out, sizeof out, &n) == 0 && n == 0);
	CHECK("http: query hex digits of both cases",
	      http_query_param(&req, "pct", out, sizeof out, &n) == 0 && eq(out, n, "A**"));
	CHECK("http: query %00 decodes to a NUL byte",
	      http_query_param(&req, "nul", out, sizeof out, &n) == 0 && n == 2 && out[0] == 0 && out[1] == 'x');
	CHECK("http: query bad escape refused", http_query_param(&req, "bad", out, sizeof out, &n) == -1);
	CHECK("http: query truncated escape refused", http_query_param(&req, "short", out, sizeof out, &n) == -1);
	CHECK("http: query lone '%' refused", http_query_param(&req, "end", out, sizeof out, &n) == -1);
	CHECK("http: query absent key", http_query_param(&req, "nope", out, sizeof out, &n) == -1);
	CHECK("http: query key is not a prefix match", http_query_param(&req, "roo", out, sizeof out, &n) == -1);
	CHECK("http: query value fits exactly", http_query_param(&req, "room", out, 3, &n) == 0 && n == 3);
	CHECK("http: query value one byte too long", http_query_param(&req, "room", out, 2, &n) == -1);

	parse("GET /c HTTP/1.1\r\n\r\n");
	CHECK("http: no query at all", http_query_param(&req, "room", out, sizeof out, &n) == -1);
	parse("GET /c?a=1&&b=2& HTTP/1.1\r\n\r\n");
	CHECK("http: empty query elements skipped", http_query_param(&req, "b", out, sizeof out, &n) == 0 && eq(out, n, "2"));
	parse("GET /c?a=1&a=2 HTTP/1.1\r\n\r\n");
	CHECK("http: first of repeated keys wins", http_query_param(&req, "a", out, sizeof out, &n) == 0 && eq(out, n, "1"));
}

static void test_error_response(void)
{
	struct buf b = {0};
	http_error_response(&b, 431, NULL, "too big");
	buf_append(&b, "", 1);
	const char *s = (const char *)buf_head(&b);
	CHECK("http: error response status line",
	      strncmp(s, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46) == 0);
	const char *body = strstr(s, "\r\n\r\n");
	const char *cl = strstr(s, "Content-Length: ");
	CHECK("http: error response Content-Length matches body",
	      body && cl && (size_t)atoi(cl + 16) == strlen(body + 4));
	CHECK("http: error response closes", strstr(s, "Connection: close\r\n") != NULL);
	buf_reset(&b);
	http_error_response(&b, 426, ws_refusal_headers(426), "upgrade");
	buf_append(&b, "", 1);
	s = (const char *)buf_head(&b);
	CHECK("http: 426 response names version 13", strstr(s, "Sec-WebSocket-Version: 13\r\n") != NULL);
	CHECK("http: 405 refusal allows GET", strcmp(ws_refusal_headers(405), "Allow: GET\r\n") == 0);
	CHECK("http: 400 refusal has no extra headers", ws_refusal_headers(400) == NULL);
	CHECK("http: status texts", strcmp(http_status_text(505), "HTTP Version Not Supported") == 0 &&
					    strcmp(http_status_text(999), "Error") == 0);
	buf_free(&b);
}

/* ---- the WebSocket opening handshake ---- */

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

static int check_req(const char *s, const char **why)
{
	*why = NULL;
	if (parse(s) <= 0)
		return -1;
	return ws_handshake_check(&req, why);
}

static void test_handshake(void)
{
	char acc[WS_ACCEPT_LEN + 1];
	ws_accept_key(KEY, strlen(KEY), acc);
	CHECK("handshake: RFC 6455 sample accept key", strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
	CHECK("handshake: accept key is 28 characters", strlen(acc) == WS_ACCEPT_LEN);
	/* SHA-1 padding boundaries: key + 36-byte GUID of 36, 55, 56, 63, 64,
	 * 127 and 128 bytes; keys past 92 bytes are cut (expected values from
	 * Python's hashlib). */
	static const struct {
		char c;
		size_t n;
		const char *accept;
	} vec[] = {
	    {'a', 0, "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w="},   {'a', 19, "yzaGyu0mcUukN7CdsSwa30tnCpc="},
	    {'b', 20, "ZcAjD7PIOoLRa1NCxLLy2g7qFSM="},  {'c', 27, "Xzn2fokiJl1Koh72DA/8vUEKVbc="},
	    {'c', 28, "GiCQ1JusPS2O4EW5qcsfSCxAwdA="},  {'d', 91, "sxRlsAp5sszv6UjYR98kD5H4VCc="},
	    {'e', 92, "Fea04GrjLtZwmXMkc2H57Cz7UUk="},  {'f', 100, "4wsNYjxHpbk7JpMF8QaEbWSyRKg="},
	};
	bool vec_ok = true;
	for (size_t i = 0; i < sizeof vec / sizeof *vec; i++) {
		char key[100];
		memset(key, vec[i].c, vec[i].n);
		ws_accept_key(key, vec[i].n, acc);
		vec_ok = vec_ok && strcmp(acc, vec[i].accept) == 0;
	}
	CHECK("handshake: accept keys across SHA-1 block boundaries", vec_ok);
	ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", 24, acc);
	CHECK("handshake: second known accept key", strcmp(acc, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=") == 0);

	const char *why;
	const char *good = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
			   "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
			   "Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";
	CHECK("handshake: RFC sample request accepted", check_req(good, &why) == 0);
	CHECK("handshake: subprotocol offered", ws_client_offers_subprotocol(&req, "superchat"));
	CHECK("handshake: subprotocol not offered", !ws_client_offers_subprotocol(&req, "wschat"));

	struct buf b = {0};
	ws_upgrade_response(&b, &req, "chat");
	buf_append(&b, "", 1);
	const char *s = (const char *)buf_head(&b);
	CHECK("handshake: 101 status line", strncmp(s, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0);
	CHECK("handshake: response carries the accept key",
	      strstr(s, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != NULL);
	CHECK("handshake: response names the subprotocol", strstr(s, "\r\nSec-WebSocket-Protocol: chat\r\n") != NULL);
	CHECK("handshake: response ends with an empty line", strlen(s) > 4 && strcmp(s + strlen(s) - 4, "\r\n\r\n") == 0);
	buf_reset(&b);
	ws_upgrade_response(&b, &req, NULL);
	buf_append(&b, "", 1);
	CHECK("handshake: no subprotocol line when none chosen",
	      strstr((const char *)buf_head(&b), "Sec-WebSocket-Protocol") == NULL);
	buf_free(&b);

	const char *lower = "GET / HTTP/1.1\r\nhost: h\r\nupgrade: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
			    "sec-websocket-key: " KEY "\r\nsec-websocket-version: 13\r\n\r\n";
	CHECK("handshake: header names and tokens case-insensitive", check_req(lower, &why) == 0);

#define REQ(method, ver, up, conn, host, key, wsver)                                                  \
	method " / HTTP/1." ver "\r\n" up conn host key wsver "\r\n"
#define UP "Upgrade: websocket\r\n"
#define CONN "Connection: Upgrade\r\n"
#define HOST "Host: h\r\n"
#define SKEY "Sec-WebSocket-Key: " KEY "\r\n"
#define VER "Sec-WebSocket-Version: 13\r\n"
	CHECK("handshake: macro-built request accepted", check_req(REQ("GET", "1", UP, CONN, HOST, SKEY, VER), &why) == 0);
	CHECK("handshake: POST gives 405", check_req(REQ("POST", "1", UP, CONN, HOST, SKEY, VER), &why) == 405 && why);
	CHECK("handshake: lowercase get gives 405", check_req(REQ("get", "1", UP, CONN, HOST, SKEY, VER), &why) == 405);
	CHECK("handshake: GETX gives 405", check_req(REQ("GETX", "1", UP, CONN, HOST, SKEY, VER), &why) == 405);
	CHECK("handshake: no Upgrade gives 426", check_req(REQ("GET", "1", "", CONN, HOST, SKEY, VER), &why) == 426 && why);
	CHECK("handshake: Upgrade: h2c gives 426",
	      check_req(REQ("GET", "1", "Upgrade: h2c\r\n", CONN, HOST, SKEY, VER), &why) == 426);
	CHECK("handshake: HTTP/1.0 gives 426", check_req(REQ("GET", "0", UP, CONN, HOST, SKEY, VER), &why) == 426);
	CHECK("handshake: no version header gives 426", check_req(REQ("GET", "1", UP, CONN, HOST, SKEY, ""), &why) == 426);
	CHECK("handshake: version 8 gives 426",
	      check_req(REQ("GET", "1", UP, CONN, HOST, SKEY, "Sec-WebSocket-Version: 8\r\n"), &why) == 426);
	CHECK("handshake: version 130 gives 426",
	      check_req(REQ("GET", "1", UP, CONN, HOST, SKEY, "Sec-WebSocket-Version: 130\r\n"), &why) == 426);
	CHECK("handshake: no Connection gives 400", check_req(REQ("GET", "1", UP, "", HOST, SKEY, VER), &why) == 400 && why);
	CHECK("handshake: Connection: keep-alive gives 400",
	      check_req(REQ("GET", "1", UP, "Connection: keep-alive\r\n", HOST, SKEY, VER), &why) == 400);
	CHECK("handshake: no Host gives 400", check_req(REQ("GET", "1", UP, CONN, "", SKEY, VER), &why) == 400);
	CHECK("handshake: no key gives 400", check_req(REQ("GET", "1", UP, CONN, HOST, "", VER), &why) == 400);
	CHECK("handshake: 23-character key gives 400",
	      check_req(REQ("GET", "1", UP, CONN, HOST, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n", VER), &why) == 400);
	CHECK("handshake: key without '==' gives 400",
	      check_req(REQ("GET", "1", UP, CONN, HOST, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQab\r\n", VER), &why) == 400);
	CHECK("handshake: key with a non-base64 character gives 400",
	      check_req(REQ("GET", "1", UP, CONN, HOST, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q==\r\n", VER), &why) == 400);
	CHECK("handshake: 25-character key gives 400",
	      check_req(REQ("GET", "1", UP, CONN, HOST, "Sec-WebSocket-Key: AdGhlIHNhbXBsZSBub25jZQ==\r\n", VER), &why) == 400);
}

void test_http(void)
{
	test_basic();
	test_incomplete();
	test_malformed();
	test_limits();
	test_tokens();
	test_query();
	test_error_response();
	test_handshake();
}
