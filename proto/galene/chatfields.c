/*
 * Galène: a chat or usermessage as the fields its worker decoded
 * (GALENE_OP_CHAT; chatfields.h), read and checked for the router (the
 * JSON text is not parsed a second time). We trust no worker, so each
 * field is checked as strictly as our JSON decoder would have: the strings
 * valid UTF-8 (an unescaped JSON string always is: json.c refuses lone
 * surrogates) and within a message's size, value one well-formed JSON
 * value, since it goes into other clients' frames as it is. Pure, so it is
 * fuzzed (tests/fuzz/fuzz_galene_chat.c).
 */
#include "chatfields.h"

#include <stdint.h>
#include <string.h>

#include "../../common/json.h"
#include "../../common/utf8.h"

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

static bool is_null(const char *p, size_t n)
{
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	while (n && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++, n--;
	return n == 4 && memcmp(p, "null", 4) == 0;
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
 * know with the type we expect, or one seen before (bits of *seen). */
static bool member(const msgpack_object *k, const msgpack_object *v, struct gchat *c, unsigned *seen)
{
	static const char *const keys[] = {"kind", "id", "dest", "source", "username", "value", "u", "noecho"};
	struct gm_str *sdst[] = {&c->kind, &c->id, &c->dest, &c->source, &c->username};
	if (k->type != MSGPACK_OBJECT_STR)
		return false;
	size_t i = 0;
	while (i < sizeof keys / sizeof keys[0] && !key_is(k, keys[i]))
		i++;
	if (i == sizeof keys / sizeof keys[0])
		return key_is(k, "v") || key_is(k, "p") || key_is(k, "op"); /* the envelope's own */
	if (*seen & (1u << i))
		return false;
	*seen |= 1u << i;
	if (i < 5)
		return take_str(v, sdst[i]);
	if (i == 5) {
		if (v->type != MSGPACK_OBJECT_BIN || !galene_json_value_ok(v->via.bin.ptr, v->via.bin.size))
			return false;
		if (!is_null(v->via.bin.ptr, v->via.bin.size)) { /* null counts as absent (msg.h) */
			c->value = v->via.bin.ptr;
			c->value_len = v->via.bin.size;
		}
		return true;
	}
	if (v->type != MSGPACK_OBJECT_BOOLEAN)
		return false;
	if (i == 6)
		c->is_chat = !v->via.boolean;
	else
		c->noecho = v->via.boolean;
	return true;
}

int gchat_from_env(const msgpack_object *map, struct gchat *c)
{
	*c = (struct gchat){0};
	unsigned seen = 0;
	if (map->type != MSGPACK_OBJECT_MAP)
		return -1;
	for (uint32_t i = 0; i < map->via.map.size; i++)
		if (!member(&map->via.map.ptr[i].key, &map->via.map.ptr[i].val, c, &seen))
			return -1;
	return seen & (1u << 6) ? 0 : -1; /* u is required */
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

