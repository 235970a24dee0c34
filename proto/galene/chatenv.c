/*
 * Galène, router half: a chat or usermessage as the fields its worker
 * decoded (GALENE_OP_CHAT; the JSON text is not parsed a second time).
 * We trust no worker, so each field is checked as strictly as our JSON
 * decoder would have: the strings valid UTF-8 (an unescaped JSON string
 * always is: json.c refuses lone surrogates) and within a message's size,
 * value one well-formed JSON value, since it goes into other clients'
 * frames as it is. A field of the wrong type, or one we do not know, drops
 * the worker. While a join is checked the message is kept as JSON text, in
 * order with the others (service.c).
 */
#include <stdint.h>
#include <string.h>

#include "../../common/json.h"
#include "../../common/utf8.h"
#include "router.h"

/* utf8_valid, with a quick way out for ASCII (nearly every chat). */
static bool text_ok(const char *p, size_t n)
{
	uint64_t hi = 0, w;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		hi |= w;
	}
	for (; i < n; i++)
		hi |= (unsigned char)p[i];
	return !(hi & 0x8080808080808080u) || utf8_valid((const uint8_t *)p, n);
}

/* Hex digit? */
static bool xdigit(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* Is p (n bytes) exactly one JSON string literal? The common case of a chat
 * value, checked by one scan instead of a parse (UTF-8 is checked apart). */
static bool json_string_literal(const unsigned char *p, size_t n)
{
	if (n < 2 || p[0] != '"' || p[n - 1] != '"')
		return false;
	for (size_t i = 1; i < n - 1; i++) {
		if (p[i] < 0x20 || p[i] == '"')
			return false;
		if (p[i] != '\\')
			continue;
		if (++i >= n - 1)
			return false; /* the closing quote was escaped */
		if (p[i] == 'u') {
			if (i + 4 >= n - 1 || !xdigit(p[i + 1]) || !xdigit(p[i + 2]) || !xdigit(p[i + 3]) || !xdigit(p[i + 4]))
				return false;
			i += 4;
		} else if (!p[i] || !strchr("\"\\/bfnrt", p[i])) {
			return false;
		}
	}
	return true;
}

bool galene_json_value_ok(const char *p, size_t n)
{
	if (n > GM_MAX_MESSAGE || !text_ok(p, n))
		return false;
	if (n && p[0] == '"')
		return json_string_literal((const unsigned char *)p, n);
	struct json_doc d = {0};
	int rc = json_parse(&d, p, n, GM_MAX_TOKENS);
	json_free(&d);
	return rc == JSON_OK;
}

static bool take_str(const msgpack_object *o, struct gm_str *out)
{
	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > GM_MAX_MESSAGE || !text_ok(o->via.str.ptr, o->via.str.size))
		return false;
	out->p = o->via.str.ptr;
	out->n = o->via.str.size;
	return true;
}

static bool key_is(const msgpack_object *k, const char *lit)
{
	size_t n = strlen(lit);
	return k->via.str.size == n && memcmp(k->via.str.ptr, lit, n) == 0;
}

/* One member of the envelope's map into c: false when it is not one we
 * know with the type we expect. */
static bool member(const msgpack_object *k, const msgpack_object *v, struct gchat *c, bool *have_u)
{
	static const char *const skeys[] = {"kind", "id", "dest", "source", "username"};
	struct gm_str *sdst[] = {&c->kind, &c->id, &c->dest, &c->source, &c->username};
	if (k->type != MSGPACK_OBJECT_STR)
		return false;
	for (size_t i = 0; i < sizeof skeys / sizeof skeys[0]; i++)
		if (key_is(k, skeys[i]))
			return !gm_has(sdst[i]) && take_str(v, sdst[i]);
	if (key_is(k, "value")) {
		if (v->type != MSGPACK_OBJECT_BIN || c->value || !galene_json_value_ok(v->via.bin.ptr, v->via.bin.size))
			return false;
		c->value = v->via.bin.ptr;
		c->value_len = v->via.bin.size;
		return true;
	}
	if (key_is(k, "u") || key_is(k, "noecho")) {
		if (v->type != MSGPACK_OBJECT_BOOLEAN)
			return false;
		if (key_is(k, "u"))
			c->is_chat = !v->via.boolean, *have_u = true;
		else
			c->noecho = v->via.boolean;
		return true;
	}
	return key_is(k, "v") || key_is(k, "p") || key_is(k, "op"); /* the envelope's own */
}

int gchat_from_env(const msgpack_object *map, struct gchat *c)
{
	*c = (struct gchat){0};
	bool have_u = false;
	if (map->type != MSGPACK_OBJECT_MAP)
		return -1;
	for (uint32_t i = 0; i < map->via.map.size; i++)
		if (!member(&map->via.map.ptr[i].key, &map->via.map.ptr[i].val, c, &have_u))
			return -1;
	return have_u ? 0 : -1;
}

static void put_str(struct buf *b, const char *key_json, const struct gm_str *s)
{
	if (!gm_has(s))
		return;
	buf_append_str(b, key_json);
	json_put_string(b, s->p, s->n);
}

void gchat_to_json(struct buf *b, const struct gchat *c)
{
	buf_reset(b);
	buf_append_str(b, c->is_chat ? "{\"type\":\"chat\"" : "{\"type\":\"usermessage\"");
	put_str(b, ",\"kind\":", &c->kind);
	put_str(b, ",\"id\":", &c->id);
	put_str(b, ",\"dest\":", &c->dest);
	put_str(b, ",\"source\":", &c->source);
	put_str(b, ",\"username\":", &c->username);
	if (c->value) {
		buf_append_str(b, ",\"value\":");
		buf_append(b, c->value, c->value_len);
	}
	if (c->noecho)
		buf_append_str(b, ",\"noecho\":true");
	buf_append_str(b, "}");
}

void galene_on_chat(struct galene_peer *p, const struct envelope *e)
{
	struct gchat c;
	if (gchat_from_env(e->map, &c) < 0)
		return router_drop_worker(galene_R, p->w, "sent a chat envelope with a bad field");
	if (!galene_may_send(p))
		return;
	if (p->busy) { /* after the join being checked, in order with the others */
		struct buf t = {0};
		gchat_to_json(&t, &c);
		galene_held(p, buf_head(&t), buf_used(&t));
		return buf_free(&t);
	}
	const char *spoof = galene_spoofed(p, &c.source, &c.username);
	if (spoof)
		return galene_fatal(p, 1002, spoof);
	if (!p->group)
		return galene_error(p, "join a group first");
	galene_chat(p, &c);
}
