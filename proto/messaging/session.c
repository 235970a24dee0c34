/*
 * Messaging, worker half: checks client_id before the upgrade, decodes
 * send/read and hands them to the router, which checks, stores and
 * delivers; reports entries it cannot even hand on in an errors section,
 * and checks every frame the router gives it before framing it.
 */
#include <string.h>

#include "../../common/log.h"
#include "../proto.h"
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
		      const char *msg, size_t msg_len, const char *id_raw, size_t id_len, const char *rid_raw,
		      size_t rid_raw_len)
{
	msgpack_packer *pk = session_bus(ctx);
	env_begin(pk, MESSAGING_PROTO, MESSAGING_OP_SEND, 5);
	mp_kv_str(pk, "rid", rid, rid_len);
	mp_kv_bin(pk, "key", key, key_len);
	mp_kv_bin(pk, "m", msg, msg_len);
	/* for the router's error report when it does not parse m (too large) */
	mp_kv_bin(pk, "i", id_raw, id_len);
	mp_kv_bin(pk, "r", rid_raw, rid_raw_len);
}

static void sink_read(void *ctx, const char *key, size_t key_len, const char *sid, size_t sid_len)
{
	msgpack_packer *pk = session_bus(ctx);
	env_begin(pk, MESSAGING_PROTO, MESSAGING_OP_READ, sid ? 2 : 1);
	mp_kv_bin(pk, "key", key, key_len);
	if (sid)
		mp_kv_str(pk, "sid", sid, sid_len);
}

/* One connection per worker process: the errors of the frame being decoded. */
static struct buf errors;

static void errors_flush(struct session *s)
{
	if (!buf_used(&errors))
		return;
	buf_append_str(&errors, "]}");
	session_send_text(s, buf_head(&errors), buf_used(&errors));
	buf_reset(&errors);
}

static void sink_skip(void *ctx, const char *id_raw, size_t id_len, const char *rid_raw, size_t rid_len,
		      const char *why)
{
	buf_append_str(&errors, buf_used(&errors) ? "," : "{\"errors\":[");
	messaging_error_entry(&errors, id_raw, id_len, rid_raw, rid_len, why);
	if (buf_used(&errors) >= MESSAGING_ERRORS_FRAME)
		errors_flush(ctx);
}

static const struct messaging_sink sink = {sink_send, sink_read, sink_skip};

static void messaging_message(struct session *s, uint8_t opcode, uint8_t *data, size_t len)
{
	if (opcode != WS_TEXT)
		return session_close(s, 1003, "messaging accepts text frames only");
	struct messaging_counts c;
	buf_reset(&errors);
	if (messaging_decode((const char *)data, len, &sink, s, &c) < 0)
		return session_close(s, 1007, "malformed JSON");
	if (c.sent) { /* the router reports what it refused once the frame is over */
		msgpack_packer *pk = session_bus(s);
		env_begin(pk, MESSAGING_PROTO, MESSAGING_OP_END, 0);
	}
	errors_flush(s);
	buf_shrink(&errors, 4096);
	if (c.skipped)
		log_info("messaging: %d invalid entries skipped", c.skipped);
}

/* The router is checked too: a frame we pass on is one JSON value of valid UTF-8. */
static void messaging_bus(struct session *s, const struct envelope *e)
{
	const uint8_t *b;
	const char *d = NULL;
	size_t n;
	if (env_op_is(e, MESSAGING_OP_OUT) && mp_get_bin(e->map, "d", &b, &n))
		d = (const char *)b;
	else if (!env_op_is(e, MESSAGING_OP_OUT) || !mp_get_str(e->map, "d", &d, &n)) {
		log_warn("messaging: unknown envelope %.*s from the router ignored", (int)e->op_len, e->op);
		return;
	}
	if (!messaging_text_valid(d, n)) {
		log_error("messaging: a %zu-byte frame from the router is not valid JSON text; not sent", n);
		return;
	}
	session_send_text(s, d, n);
}

const struct proto_worker messaging_worker = {
	.name = MESSAGING_PROTO,
	.match = messaging_match,
	.accept = messaging_accept,
	.uses_bus = true,
	.state_size = sizeof(struct messaging_state),
	.on_message = messaging_message,
	.on_register = messaging_register,
	.on_bus = messaging_bus,
};
