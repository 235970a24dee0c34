/*
 * WebSocketStar, worker half: the connection. The HTTP answers at
 * /socket.io/, Engine.IO 3 on the client's WebSocket (eio.h: open, ping,
 * close, messages; the ping timeout), Socket.IO packets put together from
 * its messages (sio_rx.h) and handed to client.c, the router's envelopes
 * handed to from_router.c, and what a router restart brings back. README.md
 * here is the wire format.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "eio.h"
#include "options.h"
#include "sio.h"
#include "state.h"

/* Engine.IO: a client that sends nothing for this long is gone (45 s by default, as the reference). */
#define SILENCE_MS (wsstar_opt.ping_interval_ms + wsstar_opt.ping_timeout_ms)
/* How long after a burst of output the heap is trimmed (its bytes written out by then). */
#define TRIM_MS 1000

struct buf wsstar_out;

/* ---- HTTP ---- */

static bool wsstar_match(const struct http_request *req)
{
	return req->path_len == sizeof WSSTAR_PATH - 1 && memcmp(req->path, WSSTAR_PATH, req->path_len) == 0;
}

static bool query_is(const struct http_request *req, const char *name, const char *want)
{
	char v[32];
	size_t n;
	return http_query_param(req, name, v, sizeof v, &n) == 0 && n == strlen(want) && memcmp(v, want, n) == 0;
}

/* Engine.IO's own answers to what is not a WebSocket at /socket.io/ (long-polling is not served). */
static int wsstar_http(struct session *s, const struct http_request *req)
{
	static const char unknown[] = "{\"code\":0,\"message\":\"Transport unknown\"}";
	static const char bad[] = "{\"code\":3,\"message\":\"Bad request\"}";
	if (!wsstar_match(req))
		return 0;
	bool ws = query_is(req, "transport", "websocket");
	return session_http_reply(s, 400, "application/json", ws ? bad : unknown, ws ? sizeof bad - 1 : sizeof unknown - 1);
}

static int wsstar_accept(struct session *s, const struct http_request *req, const char **why)
{
	(void)s;
	if (!query_is(req, "transport", "websocket")) {
		*why = "Transport unknown: only transport=websocket is served";
		return 400;
	}
	if (!query_is(req, "EIO", "3")) {
		*why = "Engine.IO protocol 3 only (EIO=3)";
		return 400;
	}
	return 0;
}

static int wsstar_setup(const struct worker_config *cfg)
{
	(void)cfg;
	if (sodium_init() < 0) {
		log_error("wsstar: libsodium failed to start");
		return -1;
	}
	return 0;
}

/* ---- to the client ---- */

void wsstar_send_out(struct session *s) { session_send_text(s, buf_head(&wsstar_out), buf_used(&wsstar_out)); }

static void wsstar_open(struct session *s)
{
	struct wsstar_state *st = session_state(s);
	char sid[EIO_SID_LEN + 1];
	sio_rx_init(&st->rx, EIO_MAX_MESSAGE);
	eio_new_sid(sid);
	buf_reset(&wsstar_out);
	eio_put_open(&wsstar_out, sid, (unsigned)wsstar_opt.ping_interval_ms, (unsigned)wsstar_opt.ping_timeout_ms);
	wsstar_send_out(s);
	buf_reset(&wsstar_out);
	sio_put_connect(&wsstar_out, NULL);
	wsstar_send_out(s);
	st->last_rx = clock_ms();
	session_set_timer(s, SILENCE_MS);
}

/* The bus read buffer the round's list came in (128 KiB at 1000 peers) is
 * the core's: worker/memtrim.c frees it with the heap's free pages. */
void wsstar_trim_soon(struct session *s) { session_trim_soon(s, TRIM_MS); }

static void wsstar_timer(struct session *s)
{
	struct wsstar_state *st = session_state(s);
	int64_t left = st->last_rx + SILENCE_MS - clock_ms();
	if (left > 0)
		return session_set_timer(s, left);
	log_info("wsstar: client silent for %ld ms (ping timeout)", SILENCE_MS);
	session_close(s, 1000, "ping timeout");
}

/* A protocol error of the client: the connection ends, as in the reference. */
static void fail(struct session *s, const char *why)
{
	log_info("wsstar: closing: %s", why);
	buf_reset(&wsstar_out);
	sio_put_disconnect(&wsstar_out);
	wsstar_send_out(s);
	session_close(s, 1002, why);
}

static void wsstar_message(struct session *s, uint8_t opcode, uint8_t *data, size_t len)
{
	struct wsstar_state *st = session_state(s);
	struct eio_packet e;
	st->last_rx = clock_ms();
	if (eio_decode(&e, data, len, opcode == WS_BINARY) != EIO_OK)
		return fail(s, "malformed Engine.IO packet");
	if (e.type == EIO_PING) {
		buf_reset(&wsstar_out);
		eio_put_pong(&wsstar_out, e.data, e.len);
		return wsstar_send_out(s);
	}
	if (e.type == EIO_CLOSE)
		return session_close(s, 1000, "");
	if (e.type != EIO_MESSAGE)
		return; /* open, pong, upgrade, noop: nothing to do on a WebSocket */
	int rc = e.binary ? sio_rx_binary(&st->rx, e.data, e.len)
			  : sio_rx_text(&st->rx, (const char *)e.data, e.len, WSSTAR_MAX_TOKENS);
	if (rc == SIO_RX_PENDING)
		return;
	if (rc != SIO_RX_READY)
		return fail(s, sio_rx_strerror(rc));
	wsstar_on_packet(s, &st->rx);
	sio_rx_release(&st->rx);
}

static void wsstar_register(struct session *s)
{
	struct wsstar_state *st = session_state(s);
	if (st->registered)
		wsstar_end_dials(s);
	st->registered = true;
	st->nin = 0;
	if (st->nown == 0)
		return;
	msgpack_packer *pk = session_bus(s);
	env_begin(pk, WSSTAR_PROTO, WSSTAR_OP_RESTORE, 1);
	mp_cstr(pk, "l");
	msgpack_pack_array(pk, (uint32_t)st->nown);
	for (int i = 0; i < st->nown; i++)
		mp_str(pk, st->own[i], st->own_len[i]);
}

static void wsstar_close(struct session *s)
{
	struct wsstar_state *st = session_state(s);
	sio_rx_free(&st->rx);
	for (int i = 0; i < st->nown; i++)
		free(st->own[i]);
	st->nown = 0;
	buf_free(&st->peers);
	buf_free(&st->prefixes);
	buf_free(&st->dials);
	buf_free(&wsstar_out);
}

const struct proto_worker wsstar_worker = {
	.name = WSSTAR_PROTO,
	.setup = wsstar_setup,
	.http = wsstar_http,
	.match = wsstar_match,
	.accept = wsstar_accept,
	.uses_bus = true,
	.state_size = sizeof(struct wsstar_state),
	.open = wsstar_open,
	.on_message = wsstar_message,
	.on_bus = wsstar_from_router,
	.on_timer = wsstar_timer,
	.on_register = wsstar_register,
	.close = wsstar_close,
};
