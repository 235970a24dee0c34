/*
 * /echo: sends every message back as it came. It has no router half; it is
 * the endpoint for RFC 6455 conformance runs and a cheap liveness probe.
 */
#include <string.h>

#include "../proto.h"

static bool echo_match(const struct http_request *req)
{
	return req->path_len == 5 && memcmp(req->path, "/echo", 5) == 0;
}

static void echo_message(struct session *s, uint8_t opcode, uint8_t *data, size_t len)
{
	if (opcode == WS_TEXT)
		session_send_text(s, data, len);
	else
		session_send_binary(s, data, len);
}

const struct proto_worker echo_worker = {
	.name = "echo",
	.match = echo_match,
	.on_message = echo_message,
};
