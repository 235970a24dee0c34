/*
 * Galène chats from a worker as fields (proto/galene/chatfields.c): any
 * MessagePack object either is refused, or gives strings that are valid
 * UTF-8 and a value that is one JSON value; and the message written back as
 * JSON (as it is held during a join) decodes with the client-message
 * decoder to the same fields, so nothing a worker sends can add members to
 * the frames other clients get.
 */
#include <stdlib.h>
#include <string.h>

#include "../../common/envelope.h"
#include "../../common/json.h"
#include "../../common/utf8.h"
#include "../../proto/galene/chatfields.h"

static bool same(const struct gm_str *a, const struct gm_str *b)
{
	return gm_has(a) == gm_has(b) && (!gm_has(a) || (a->n == b->n && memcmp(a->p, b->p, a->n) == 0));
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void check(const struct gchat *c)
{
	const struct gm_str *s[] = {&c->kind, &c->id, &c->dest, &c->source, &c->username};
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
		if (gm_has(s[i]) && !utf8_valid((const uint8_t *)s[i]->p, s[i]->n))
			abort();
	if (c->value) {
		struct json_doc d;
		int rc = json_parse(&d, c->value, c->value_len, GM_MAX_TOKENS);
		json_free(&d);
		if (rc != JSON_OK || !utf8_valid((const uint8_t *)c->value, c->value_len))
			abort();
	}
	struct buf b = {0};
	gchat_to_json(&b, c);
	struct gmsg m;
	const char *why;
	int rc = gm_decode(&m, (const char *)buf_head(&b), buf_used(&b), &why);
	if (rc != GM_OK) {
		/* only what no honest worker sends (fields longer as JSON than a
		 * client message may be, a value at the decoder's token or depth
		 * limits) may tip it over: the router then drops that worker */
		bool big = buf_used(&b) > GM_MAX_MESSAGE && rc == GM_TOO_BIG;
		if (!big && !(c->value && (rc == GM_TOO_BIG || rc == GM_MALFORMED)))
			abort();
	} else {
		if (m.type != (c->is_chat ? GM_CHAT : GM_USERMESSAGE) || m.noecho != c->noecho || !same(&m.kind, &c->kind) ||
		    !same(&m.id, &c->id) || !same(&m.dest, &c->dest) || !same(&m.source, &c->source) ||
		    !same(&m.username, &c->username) || (m.value >= 0) != (c->value != NULL))
			abort();
		if (c->value) {
			const char *v;
			size_t n, off = 0, end = c->value_len;
			gm_raw(&m, m.value, &v, &n);
			while (off < end && is_ws(c->value[off]))
				off++;
			while (end > off && is_ws(c->value[end - 1]))
				end--;
			if (n != end - off || memcmp(v, c->value + off, n) != 0)
				abort();
		}
	}
	gm_free(&m);
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!env_plausible(data, size))
		return 0;
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	size_t off = 0;
	struct gchat c;
	if (msgpack_unpack_next(&up, (const char *)data, size, &off) == MSGPACK_UNPACK_SUCCESS &&
	    gchat_from_env(&up.data, &c) == 0)
		check(&c);
	msgpack_unpacked_destroy(&up);
	return 0;
}
