/*
 * WSChat, router half: the name registry, identification, delivery and
 * the outcome codes that depend on it (README.md in this directory).
 *
 * The router trusts no worker: every value it passes on to other clients
 * (names, "message" values, replies) is checked here again, although a
 * real worker has already checked it, because a compromised worker or a
 * fake one on the bus could send anything. A value that is not one JSON
 * value of valid UTF-8 within the limits cannot come from our worker, so
 * the worker that sent it is disconnected rather than answered.
 */
#include <string.h>

#include "../../common/json.h"
#include "../../common/log.h"
#include "../../common/utf8.h"
#include "../../common/hmap.h"
#include "../proto.h"
#include "wschat.h"

struct wschat_peer {
	char name[WSCHAT_MAX_NAME];
	size_t name_len; /* 0: not identified */
	bool refused;    /* broke the rules: everything else it sends is ignored */
};

static struct hmap names; /* name → struct rworker */
static struct buf text;  /* scratch for composing client JSON */

static int wschat_init(struct router *r)
{
	(void)r;
	return hmap_init(&names);
}

static void wschat_fini(struct router *r)
{
	(void)r;
	hmap_free(&names);
	buf_free(&text);
}

static void outcome(struct router *r, struct rworker *w, int code, const char *message)
{
	buf_reset(&text);
	buf_printf(&text, "{\"type\":\"outcome\",\"success\":%s,\"message\":", code == 300 ? "true" : "false");
	json_put_string(&text, message, strlen(message));
	buf_printf(&text, ",\"code\":%d}", code);
	router_send_text(r, w, buf_head(&text), buf_used(&text));
}

static void tell_name(struct router *r, struct rworker *w)
{
	struct wschat_peer *st = rworker_state(w);
	msgpack_packer *pk = router_packer(r);
	env_begin(pk, WSCHAT_PROTO, WSCHAT_OP_NAMED, 1);
	mp_cstr(pk, "name");
	if (st->name_len)
		mp_str(pk, st->name, st->name_len);
	else
		msgpack_pack_nil(pk);
	router_send_scratch(r, w);
}

/* Sends the composed text to every identified client but one. */
static void fan_out_text(struct router *r, struct rworker *except)
{
	msgpack_packer *pk = router_packer(r);
	env_begin(pk, ENV_CORE, "text", 1);
	mp_kv_str(pk, "d", (const char *)buf_head(&text), buf_used(&text));
	router_fan_out(r, &names, except);
}

static void release_name(struct router *r, struct rworker *w)
{
	struct wschat_peer *st = rworker_state(w);
	if (!st->name_len)
		return;
	hmap_del(&names, st->name, st->name_len);
	buf_reset(&text);
	buf_append_str(&text, "{\"type\":\"quit\",\"who\":");
	json_put_string(&text, st->name, st->name_len);
	buf_append_str(&text, "}");
	st->name_len = 0;
	fan_out_text(r, w);
}

static bool valid_name(const char *name, size_t n)
{
	return n > 0 && n <= WSCHAT_MAX_NAME && utf8_valid((const uint8_t *)name, n);
}

static void take_name(struct rworker *w, const char *name, size_t n)
{
	struct wschat_peer *st = rworker_state(w);
	memcpy(st->name, name, n);
	st->name_len = n;
	hmap_put(&names, name, n, w, NULL);
}

static void on_identify(struct router *r, struct rworker *w, const char *name, size_t n, bool restore)
{
	struct wschat_peer *st = rworker_state(w);
	struct rworker *holder = hmap_get(&names, name, n);
	if (holder == w) {
		if (!restore)
			outcome(r, w, 300, "Identified successfully!");
		return;
	}
	if (holder) {
		outcome(r, w, 305, "Client with that name already exists!");
		if (restore)
			tell_name(r, w); /* someone took it while the router was down */
		return;
	}
	if (st->name_len)
		release_name(r, w);
	take_name(w, name, n);
	tell_name(r, w);
	if (!restore)
		outcome(r, w, 300, "Identified successfully!");
}

/* Exactly one JSON value, valid UTF-8, small enough to deliver. */
static bool valid_value(const uint8_t *m, size_t n)
{
	if (n > WSCHAT_MAX_VALUE || !utf8_valid(m, n))
		return false;
	struct json_doc d;
	if (json_parse(&d, (const char *)m, n, WSCHAT_MAX_TOKENS) != JSON_OK)
		return false;
	json_free(&d);
	return true;
}

/* Disconnects a worker that sent what no real worker sends. */
static void refuse_worker(struct router *r, struct rworker *w, const char *why)
{
	struct wschat_peer *st = rworker_state(w);
	char what[160];
	snprintf(what, sizeof what, "sent %s", why);
	st->refused = true;
	router_drop_worker(r, w, what); /* its name is released when the pipe is reaped */
}

/* To one client, or (to == NULL) to every identified client but the sender. */
static void deliver(struct router *r, struct rworker *sender, struct rworker *to, const char *type,
		    const uint8_t *m, size_t mlen)
{
	struct wschat_peer *st = rworker_state(sender);
	buf_reset(&text);
	buf_append_str(&text, "{\"type\":\""); /* no printf per message: it cost ~1500 instructions */
	buf_append_str(&text, type);
	buf_append_str(&text, "\",\"from\":");
	json_put_string(&text, st->name, st->name_len);
	buf_append_str(&text, ",\"message\":");
	buf_append(&text, m, mlen);
	buf_append_str(&text, "}");
	if (to)
		router_send_text(r, to, buf_head(&text), buf_used(&text));
	else
		fan_out_text(r, sender);
}

static void on_message(struct router *r, struct rworker *w, const struct envelope *e)
{
	const uint8_t *m;
	size_t mlen;
	if (!mp_get_bin(e->map, "m", &m, &mlen))
		return outcome(r, w, 400, "Missing 'message' field!");
	if (!valid_value(m, mlen))
		return refuse_worker(r, w, "an invalid message value");
	const msgpack_object *to = mp_get(e->map, "to");
	if (!to)
		return outcome(r, w, 400, "Missing 'to' field!");
	struct rworker *target = NULL;
	if (to->type == MSGPACK_OBJECT_STR)
		target = hmap_get(&names, to->via.str.ptr, to->via.str.size);
	if (!target)
		return outcome(r, w, 404, "No client with that name is currently connected!");
	deliver(r, w, target, "message", m, mlen);
}

static void on_broadcast(struct router *r, struct rworker *w, const struct envelope *e)
{
	const uint8_t *m;
	size_t mlen;
	if (!mp_get_bin(e->map, "m", &m, &mlen))
		return outcome(r, w, 400, "Missing 'message' field!");
	if (!valid_value(m, mlen))
		return refuse_worker(r, w, "an invalid broadcast value");
	deliver(r, w, NULL, "broadcast", m, mlen);
}

static void wschat_envelope(struct router *r, struct rworker *w, const struct envelope *e)
{
	struct wschat_peer *st = rworker_state(w);
	const char *name;
	size_t n;
	bool restore = env_op_is(e, WSCHAT_OP_RESTORE);
	if (st->refused)
		return;
	if (env_op_is(e, WSCHAT_OP_REPLY)) {
		/* only ever back to the worker that sent it, but as text all the same */
		if (mp_get_str(e->map, "d", &name, &n)) {
			if (!valid_value((const uint8_t *)name, n))
				return refuse_worker(r, w, "an invalid reply");
			router_send_text(r, w, name, n);
		}
		return;
	}
	if (restore || env_op_is(e, WSCHAT_OP_IDENTIFY)) {
		if (!mp_get_str(e->map, "name", &name, &n) || !valid_name(name, n))
			return refuse_worker(r, w, "an invalid name");
		return on_identify(r, w, name, n, restore);
	}
	if (!st->name_len)
		return outcome(r, w, 10, "Please identify yourself!");
	if (env_op_is(e, WSCHAT_OP_BROADCAST))
		on_broadcast(r, w, e);
	else if (env_op_is(e, WSCHAT_OP_MESSAGE))
		on_message(r, w, e);
	/* any other command from an identified client is ignored */
}

static void wschat_gone(struct router *r, struct rworker *w)
{
	release_name(r, w);
}

const struct proto_router wschat_router = {
	.name = WSCHAT_PROTO,
	.state_size = sizeof(struct wschat_peer),
	.init = wschat_init,
	.on_envelope = wschat_envelope,
	.on_worker_gone = wschat_gone,
	.fini = wschat_fini,
};
