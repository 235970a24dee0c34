/*
 * Messaging, worker half: checks client_id before the upgrade, decodes
 * send/read and hands them to the router, which stores and delivers.
 */
#include <string.h>

#include "../../common/log.h"
#include "../../worker/session.h"
#include "messaging.h"

struct messaging_state {
	char client[MESSAGING_MAX_ID];
	size_t client_len;
};

static bool messaging_match(const struct http_request *req)
{
	return req->path_len == sizeof MESSAGING_PATH - 1 &&
	       memcmp(req->path, MESSAGING_PATH, req->path_len) == 0;
}

static int messaging_accept(struct session *s, const struct http_request *req, const char **why)
{
	struct messaging_state *st = session_state(s);
	char id[MESSAGING_MAX_ID + 1];
	size_t n = 0;
	if (http_query_param(req, "client_id", id, sizeof id, &n) < 0) {
		/* absent, badly escaped, or too long to keep: tell which */
		bool present = req->query && memmem(req->query, req->query_len, "client_id=", 10);
		*why = present ? "client_id is malformed or longer than 128 bytes" : "client_id is missing";
		return 401;
	}
	if ((*why = messaging_client_id_invalid(id, n)) != NULL)
		return 401;
	memcpy(st->client, id, n);
	st->client_len = n;
	return 0;
}

/* Sent at every bus (re)connection: the router (re)sends what is unread. */
static void messaging_register(struct session *s)
{
	struct messaging_state *st = session_state(s);
	msgpack_packer *pk = session_bus(s);
	env_begin(pk, MESSAGING_PROTO, MESSAGING_OP_ATTACH, 1);
	mp_kv_str(pk, "client", st->client, st->client_len);
}

static void sink_send(void *ctx, const char *rid, size_t rid_len, const char *key, size_t key_len,
		      const char *msg, size_t msg_len)
{
	msgpack_packer *pk = session_bus(ctx);
	env_begin(pk, MESSAGING_PROTO, MESSAGING_OP_SEND, 3);
	mp_kv_str(pk, "rid", rid, rid_len);
	mp_kv_bin(pk, "key", key, key_len);
	mp_kv_bin(pk, "m", msg, msg_len);
}

static void sink_read(void *ctx, const char *key, size_t key_len)
{
	msgpack_packer *pk = session_bus(ctx);
	env_begin(pk, MESSAGING_PROTO, MESSAGING_OP_READ, 1);
	mp_kv_bin(pk, "key", key, key_len);
}

static const struct messaging_sink sink = {sink_send, sink_read};

static void messaging_message(struct session *s, uint8_t opcode, uint8_t *data, size_t len)
{
	if (opcode != WS_TEXT)
		return session_close(s, 1003, "messaging accepts text frames only");
	struct messaging_counts c;
	if (messaging_decode((const char *)data, len, &sink, s, &c) < 0)
		return session_close(s, 1007, "malformed JSON");
	if (c.skipped)
		log_info("messaging: %d invalid entries skipped", c.skipped);
}

const struct proto_worker messaging_worker = {
	.name = MESSAGING_PROTO,
	.match = messaging_match,
	.accept = messaging_accept,
	.uses_bus = true,
	.state_size = sizeof(struct messaging_state),
	.on_message = messaging_message,
	.on_register = messaging_register,
};
