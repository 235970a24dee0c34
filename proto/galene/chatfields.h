/*
 * Galène: a chat or usermessage as fields (chatfields.c), decoded from the
 * client's JSON (msg.c) or from the worker's envelope (GALENE_OP_CHAT).
 */
#ifndef SB_GALENE_CHATFIELDS_H
#define SB_GALENE_CHATFIELDS_H
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

#include "../../common/buf.h"
#include "msg.h"

/* Strings need not be NUL-terminated; value is its JSON text, checked, or
 * NULL when absent. */
struct gchat {
	bool is_chat; /* else a usermessage */
	struct gm_str kind, id, dest, source, username;
	const char *value;
	size_t value_len;
	bool noecho;
};

/* The envelope's map into c (pointers into it): 0, or -1 when a field is
 * missing (u), unknown, repeated, of the wrong type, or fails its check. */
int gchat_from_env(const msgpack_object *map, struct gchat *c);
/* c as a client would have sent it (b starts afresh). */
void gchat_to_json(struct buf *b, const struct gchat *c);
/* Exactly one JSON value (surrounding whitespace allowed), valid UTF-8, at
 * most GM_MAX_MESSAGE bytes. */
bool galene_json_value_ok(const char *p, size_t n);

#endif
