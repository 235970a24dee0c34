/*
 * HTTP request heads: http_parse_request on arbitrary bytes, then everything
 * the worker does with a parsed head (upgrade checks, token and query
 * lookups, responses). Checks that a parsed head stays inside the input, and
 * that the parse is a pure function of the bytes up to the head's end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"
#include "../../proto/websocket/handshake.h"
#include "../../proto/websocket/http.h"

static struct http_request req, req2;

static void check_inside(const char *base, size_t n, const char *p, size_t len)
{
	if (p && (p < base || p + len > base + n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	int rc = http_parse_request(p, size, &req);
	if (rc != 0 && rc != -400 && rc != -431 && rc != -505 && rc <= 0)
		abort();
	if (rc > HTTP_MAX_HEAD || (rc > 0 && (size_t)rc > size))
		abort();
	if (rc <= 0)
		return 0;

	/* The head alone parses the same; one byte less is incomplete. */
	if (http_parse_request(p, (size_t)rc, &req2) != rc || http_parse_request(p, (size_t)rc - 1, &req2) != 0)
		abort();
	if (req.nheaders < 0 || req.nheaders > HTTP_MAX_HEADERS)
		abort();
	check_inside(p, (size_t)rc, req.method, req.method_len);
	check_inside(p, (size_t)rc, req.path, req.path_len);
	check_inside(p, (size_t)rc, req.query, req.query_len);
	for (int i = 0; i < req.nheaders; i++) {
		check_inside(p, (size_t)rc, req.headers[i].name, req.headers[i].name_len);
		check_inside(p, (size_t)rc, req.headers[i].value, req.headers[i].value_len);
	}

	const char *why = NULL;
	int st = ws_handshake_check(&req, &why);
	if (st != 0 && st != 400 && st != 405 && st != 426)
		abort();
	if (st != 0 && !why)
		abort();

	struct buf out = {0};
	if (st == 0) {
		ws_upgrade_response(&out, &req, ws_client_offers_subprotocol(&req, "wschat") ? "wschat" : NULL);
	} else {
		http_error_response(&out, st, ws_refusal_headers(st), why);
	}
	buf_free(&out);

	char val[64];
	size_t n;
	http_query_param(&req, "room", val, sizeof val, &n);
	http_query_param(&req, "name", val, 4, &n);
	http_header_has_token(&req, "Connection", "upgrade");
	http_header_has_token(&req, "Sec-WebSocket-Protocol", "wschat");
	/* Every header and query name found by its own name, too. */
	for (int i = 0; i < req.nheaders; i++) {
		char name[64];
		size_t nl = req.headers[i].name_len < sizeof name - 1 ? req.headers[i].name_len : sizeof name - 1;
		memcpy(name, req.headers[i].name, nl);
		name[nl] = 0;
		if (nl == req.headers[i].name_len && strlen(name) == nl && !http_header_find(&req, name))
			abort();
		http_header_has_token(&req, name, "x");
		http_query_param(&req, name, val, sizeof val, &n);
	}
	return 0;
}
