/*
 * WSChat, worker half: parses the client's JSON and answers what needs no
 * shared state (malformed JSON, missing command, a bad name); everything
 * that depends on who is identified goes to the router, which answers.
 */
#include <stdlib.h>
#include <string.h>

#include "../../common/json.h"
#include "../../common/log.h"
#include "../proto.h"
#include "wschat.h"

struct wschat_state {
	char name[WSCHAT_MAX_NAME];
	size_t name_len; /* 0: not identified */
};

static bool wschat_match(const struct http_request *req)
{
	return req->path_len == sizeof WSCHAT_PATH - 1 && memcmp(req->path, WSCHAT_PATH, req->path_len) == 0;
}

/*
 * An answer that needs no shared state still travels through the router:
 * answers to earlier commands may be on their way back from it, and the
 * client must get them in the order it sent the commands.
 */
static void outcome_400(struct session *s, const char *message)
{
	struct buf b = {0};
	buf_append_str(&b, "{\"type\":\"outcome\",\"success\":false,\"message\":");
	json_put_string(&b, message, strlen(message));
	buf_append_str(&b, ",\"code\":400}");
	msgpack_packer *pk = session_bus(s);
	env_begin(pk, WSCHAT_PROTO, WSCHAT_OP_REPLY, 1);
	mp_kv_str(pk, "d", (const char *)buf_head(&b), buf_used(&b));
	buf_free(&b);
}

static void wschat_open(struct session *s)
{
	static const char init[] = "{\"type\":\"init\",\"message\":\"Please identify to receive messages.\"}";
	session_send_text(s, init, sizeof init - 1);
}

static void send_identify(struct session *s, const struct json_doc *d, int name_tok)
{
	char name[WSCHAT_MAX_NAME];
	size_t n;
	if (json_type(d, name_tok) != JSON_STRING || json_str(d, name_tok, name, sizeof name, &n) < 0 || n == 0)
		return outcome_400(s, "Invalid 'name' field!");
	msgpack_packer *pk = session_bus(s);
	env_begin(pk, WSCHAT_PROTO, WSCHAT_OP_IDENTIFY, 1);
	mp_kv_str(pk, "name", name, n);
}

/* broadcast, message and unknown commands: the router knows whether we may. */
static void send_command(struct session *s, const struct json_doc *d, int cmd)
{
	const char *op = json_str_eq(d, cmd, "broadcast") ? WSCHAT_OP_BROADCAST
			 : json_str_eq(d, cmd, "message") ? WSCHAT_OP_MESSAGE
							  : WSCHAT_OP_OTHER;
	int m = json_get(d, 0, "message"), to = json_get(d, 0, "to");
	if (strcmp(op, WSCHAT_OP_MESSAGE) != 0)
		to = -1;
	if (strcmp(op, WSCHAT_OP_OTHER) == 0)
		m = -1;
	msgpack_packer *pk = session_bus(s);
	env_begin(pk, WSCHAT_PROTO, op, (m >= 0) + (to >= 0));
	if (m >= 0) {
		const char *raw;
		size_t n;
		json_raw(d, m, &raw, &n);
		mp_kv_bin(pk, "m", raw, n);
	}
	if (to >= 0) {
		char name[WSCHAT_MAX_NAME];
		size_t n;
		mp_cstr(pk, "to");
		/* a name that is no string, or too long to exist, matches nobody */
		if (json_type(d, to) == JSON_STRING && json_str(d, to, name, sizeof name, &n) == 0)
			mp_str(pk, name, n);
		else
			msgpack_pack_nil(pk);
	}
}

static void wschat_message(struct session *s, uint8_t opcode, uint8_t *data, size_t len)
{
	if (opcode != WS_TEXT)
		return session_close(s, 1003, "WSChat accepts text frames only");
	struct json_doc d;
	if (json_parse(&d, (const char *)data, len, WSCHAT_MAX_TOKENS) != JSON_OK)
		return outcome_400(s, "Malformed JSON!");
	int cmd = json_get(&d, 0, "command");
	if (cmd < 0) {
		outcome_400(s, "Missing 'command' field!");
	} else if (json_str_eq(&d, cmd, "identify")) {
		int name = json_get(&d, 0, "name");
		if (name < 0)
			outcome_400(s, "Missing 'name' field!");
		else
			send_identify(s, &d, name);
	} else {
		send_command(s, &d, cmd);
	}
	json_free(&d);
}

static void wschat_bus(struct session *s, const struct envelope *e)
{
	struct wschat_state *st = session_state(s);
	const char *name;
	size_t n;
	if (!env_op_is(e, WSCHAT_OP_NAMED))
		return;
	if (mp_get_str(e->map, "name", &name, &n) && n <= sizeof st->name) {
		memcpy(st->name, name, n);
		st->name_len = n;
	} else {
		st->name_len = 0;
	}
}

static void wschat_register(struct session *s)
{
	struct wschat_state *st = session_state(s);
	if (st->name_len == 0)
		return;
	msgpack_packer *pk = session_bus(s);
	env_begin(pk, WSCHAT_PROTO, WSCHAT_OP_RESTORE, 1);
	mp_kv_str(pk, "name", st->name, st->name_len);
}

const struct proto_worker wschat_worker = {
	.name = WSCHAT_PROTO,
	.match = wschat_match,
	.uses_bus = true,
	.state_size = sizeof(struct wschat_state),
	.open = wschat_open,
	.on_message = wschat_message,
	.on_bus = wschat_bus,
	.on_register = wschat_register,
};
