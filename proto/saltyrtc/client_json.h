/*
 * switchboard-salty's JSON lines <-> MessagePack: a JSON value becomes the
 * MessagePack value of the same shape (integers stay integers), and back.
 * MessagePack has what JSON lacks; these go as one-key objects:
 * bin as {"$bin": "<base64>"}, ext as {"$ext": [type, "<base64>"]}; a
 * str that is not UTF-8 goes as $bin; a non-str map key is written as a
 * string of its JSON text; NaN and infinities as null.
 */
#ifndef SB_SALTY_CLIENT_JSON_H
#define SB_SALTY_CLIENT_JSON_H
#include <msgpack.h>
#include <stddef.h>

#include "../../common/buf.h"

#define SALTYC_JSON_MAX_TOKENS 65536

/* Packs the JSON text into pk. 0, or -1 with *why. */
int saltyc_json_to_mp(const char *js, size_t len, msgpack_packer *pk, const char **why);
/* Appends o as JSON (one line, no newline) to out. */
int saltyc_mp_to_json(const msgpack_object *o, struct buf *out);

#endif
