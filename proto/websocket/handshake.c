#include "handshake.h"

#include <string.h>

#include "../../common/sha1.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '/';
}

/* A key is the base64 of 16 bytes: 22 characters and "==". */
static bool valid_key(const struct http_header *h)
{
	if (!h || h->value_len != 24 || h->value[22] != '=' || h->value[23] != '=')
		return false;
	for (int i = 0; i < 22; i++)
		if (!is_b64(h->value[i]))
			return false;
	return true;
}

int ws_handshake_check(const struct http_request *req, const char **why)
{
	if (req->method_len != 3 || memcmp(req->method, "GET", 3) != 0) {
		*why = "only GET can be upgraded to a WebSocket";
		return 405;
	}
	if (!http_header_has_token(req, "Upgrade", "websocket")) {
		*why = "this is a WebSocket endpoint: send Upgrade: websocket";
		return 426;
	}
	if (req->version_minor < 1) {
		*why = "WebSocket needs HTTP/1.1";
		return 426;
	}
	const struct http_header *v = http_header_find(req, "Sec-WebSocket-Version");
	if (!v || v->value_len != 2 || memcmp(v->value, "13", 2) != 0) {
		*why = "unsupported Sec-WebSocket-Version (we speak 13)";
		return 426;
	}
	if (!http_header_has_token(req, "Connection", "upgrade")) {
		*why = "missing Connection: Upgrade";
		return 400;
	}
	if (!http_header_find(req, "Host")) {
		*why = "missing Host header";
		return 400;
	}
	if (!valid_key(http_header_find(req, "Sec-WebSocket-Key"))) {
		*why = "missing or malformed Sec-WebSocket-Key";
		return 400;
	}
	return 0;
}

void ws_accept_key(const char *key, size_t keylen, char out[WS_ACCEPT_LEN + 1])
{
	unsigned char in[128], digest[SHA1_LEN];
	size_t gl = sizeof ws_guid - 1;
	if (keylen > sizeof in - gl)
		keylen = sizeof in - gl;
	memcpy(in, key, keylen);
	memcpy(in + keylen, ws_guid, gl);
	sha1(in, keylen + gl, digest);
	base64_encode(digest, SHA1_LEN, out);
}

bool ws_client_offers_subprotocol(const struct http_request *req, const char *name)
{
	return http_header_has_token(req, "Sec-WebSocket-Protocol", name);
}

void ws_upgrade_response(struct buf *out, const struct http_request *req, const char *subprotocol)
{
	const struct http_header *k = http_header_find(req, "Sec-WebSocket-Key");
	char accept[WS_ACCEPT_LEN + 1];
	ws_accept_key(k->value, k->value_len, accept);
	/* pieces, not buf_printf: a worker needs no printf code for its upgrade */
	buf_append_str(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			    "Sec-WebSocket-Accept: ");
	buf_append_str(out, accept);
	if (subprotocol) {
		buf_append_str(out, "\r\nSec-WebSocket-Protocol: ");
		buf_append_str(out, subprotocol);
	}
	buf_append_str(out, "\r\n\r\n");
}

const char *ws_refusal_headers(int status)
{
	if (status == 426)
		return "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
	if (status == 405)
		return "Allow: GET\r\n";
	return NULL;
}
