/*
 * The tap: every envelope in and out, as one readable line published to the
 * tap's readers (pub0), for
 * `nngcat --sub --dial ipc://STATE/tap.ipc --subscribe "" --quoted`.
 * Lines are only formatted while someone is reading.
 */
#include <inttypes.h>
#include <stdio.h>

#include "../common/log.h"
#include "router.h"

void tap_envelope(struct router *r, const char *dir, uint32_t pipe, const struct rworker *w,
		  const msgpack_object *env)
{
	char line[4096];
	int n = snprintf(line, sizeof line, "%s pipe=%" PRIu32 " conn=%016" PRIx64 " ", dir, pipe,
			 w ? w->conn : 0);
	int m = msgpack_object_print_buffer(line + n, sizeof line - (size_t)n, *env);
	size_t len = (size_t)n + (m > 0 ? (size_t)m : 0);
	if (len >= sizeof line)
		len = sizeof line - 1;
	bus_publish(&r->bus, line, len);
}

void tap_raw(struct router *r, const char *dir, const struct rworker *w, const void *env, size_t len)
{
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	size_t off = 0;
	if (msgpack_unpack_next(&up, env, len, &off) == MSGPACK_UNPACK_SUCCESS)
		tap_envelope(r, dir, w->pipe, w, &up.data);
	msgpack_unpacked_destroy(&up);
}
