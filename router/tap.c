/*
 * The tap: every envelope in and out, as one readable line on a PUB socket,
 * for `nngcat --sub --dial ipc://STATE/tap.ipc --subscribe "" --quoted`.
 * Lines are only formatted while someone is subscribed.
 */
#include <inttypes.h>
#include <stdio.h>

#include "../common/log.h"
#include "router.h"

#include <nng/protocol/pubsub0/pub.h>

static void count_subscribers(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	struct router *r = arg;
	atomic_fetch_add(&r->tap_subscribers, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
}

int tap_open(struct router *r, const char *url)
{
	int rv;
	if ((rv = nng_pub0_open(&r->tap)) != 0)
		return -1;
	nng_pipe_notify(r->tap, NNG_PIPE_EV_ADD_POST, count_subscribers, r);
	nng_pipe_notify(r->tap, NNG_PIPE_EV_REM_POST, count_subscribers, r);
	if ((rv = nng_listen(r->tap, url, NULL, 0)) != 0) {
		log_error("tap: cannot listen on %s: %s", url, nng_strerror(rv));
		nng_close(r->tap);
		return -1;
	}
	r->tap_open = true;
	return 0;
}

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
	nng_send(r->tap, line, len, NNG_FLAG_NONBLOCK);
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

void tap_close(struct router *r)
{
	if (r->tap_open)
		nng_close(r->tap);
	r->tap_open = false;
}
