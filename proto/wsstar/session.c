/*
 * WebSocketStar, worker half: Engine.IO 3 and Socket.IO 2 on the client's
 * WebSocket (eio.h, sio.h, sio_rx.h), the argument types of each event
 * (events that do not match get no answer, as in the reference), and the
 * envelopes to and from the router half, which holds peers, challenges and
 * dials. Answers and events the router composes arrive as whole text
 * messages; relayed chunks arrive as bytes and are framed here. README.md
 * here is the wire format.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/clock.h"
#include "../../common/json.h"
#include "../../common/log.h"
#include "../proto.h"
#include "eio.h"
#include "multiaddr.h"
#include "options.h"
#include "sio.h"
#include "sio_rx.h"
#include "wsstar.h"

/* Engine.IO: a client that sends nothing for this long is gone (45 s by default, as the reference). */
#define SILENCE_MS (wsstar_opt.ping_interval_ms + wsstar_opt.ping_timeout_ms)
/* ss-incomming events whose ack the listener still owes. */
#define MAX_INCOMING 64

struct incoming {
	uint64_t ack;
	char id[WSSTAR_MAX_DIAL_ID];
	size_t id_len;
};

struct wsstar_state {
	struct sio_rx rx;
	int64_t last_rx;
	uint64_t next_ack; /* our ack ids (ss-incomming), from 0 */
	struct incoming in[MAX_INCOMING];
	int nin;
	char *own[WSSTAR_MAX_ADDRS]; /* addresses registered to this connection */
	size_t own_len[WSSTAR_MAX_ADDRS];
	int nown;
	struct buf peers; /* the router's address list: [u16 length][bytes]... */
	int64_t peers_gen;
	struct buf dials; /* ids of the dials this connection is in: [u8 length][bytes]... */
	int ndials;
	bool registered; /* the bus has been up before: a new registration is a router restart */
};

static struct buf out; /* scratch: one message for the client */

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

static void send_out(struct session *s) { session_send_text(s, buf_head(&out), buf_used(&out)); }

static void wsstar_open(struct session *s)
{
	struct wsstar_state *st = session_state(s);
	char sid[EIO_SID_LEN + 1];
	sio_rx_init(&st->rx, EIO_MAX_MESSAGE);
	eio_new_sid(sid);
	buf_reset(&out);
	eio_put_open(&out, sid, (unsigned)wsstar_opt.ping_interval_ms, (unsigned)wsstar_opt.ping_timeout_ms);
	send_out(s);
	buf_reset(&out);
	sio_put_connect(&out, NULL);
	send_out(s);
	st->last_rx = clock_ms();
	session_set_timer(s, SILENCE_MS);
}

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
	buf_reset(&out);
	sio_put_disconnect(&out);
	send_out(s);
	session_close(s, 1002, why);
}

/* ---- events from the client ---- */

/* Argument k as a string (unescaped into a fresh buffer), or NULL when it is none or too long. */
static char *arg_str(const struct sio_packet *p, int k, size_t max, size_t *n)
{
	int t = sio_arg(p, k);
	if (t < 0 || json_type(&p->doc, t) != JSON_STRING)
		return NULL;
	size_t cap = (size_t)(p->doc.tok[t].end - p->doc.tok[t].start);
	if (cap > max * 6 + 6)
		return NULL;
	char *v = malloc(cap + 1);
	if (!v || json_str(&p->doc, t, v, cap, n) < 0 || *n > max) {
		free(v);
		return NULL;
	}
	return v;
}

static char *arg_ma(const struct sio_packet *p, int k, size_t *n)
{
	char *v = arg_str(p, k, MA_MAX_LEN, n);
	if (v && !ma_valid(v, *n)) {
		free(v);
		return NULL;
	}
	return v;
}

/* ss-join [multiaddr, string, function] */
static void on_join(struct session *s, const struct sio_packet *p)
{
	size_t n, dn;
	char *ma = arg_ma(p, 0, &n), *data = arg_str(p, 1, WSSTAR_MAX_JOIN_DATA, &dn);
	if (ma && data && p->has_id) {
		msgpack_packer *pk = session_bus(s);
		env_begin(pk, WSSTAR_PROTO, WSSTAR_OP_JOIN, 3);
		mp_kv_str(pk, "ma", ma, n);
		mp_kv_str(pk, "data", data, dn);
		mp_kv_int(pk, "ack", (int64_t)p->id);
	}
	free(ma);
	free(data);
}

/* ss-leave [multiaddr] */
static void on_leave(struct session *s, const struct sio_packet *p)
{
	size_t n;
	char *ma = arg_ma(p, 0, &n);
	if (ma) {
		msgpack_packer *pk = session_bus(s);
		env_begin(pk, WSSTAR_PROTO, WSSTAR_OP_LEAVE, 1);
		mp_kv_str(pk, "ma", ma, n);
	}
	free(ma);
}

/* ss-dial [multiaddr, multiaddr, string, function] */
static void on_dial(struct session *s, const struct sio_packet *p)
{
	size_t fn, tn, idn;
	char *from = arg_ma(p, 0, &fn), *to = arg_ma(p, 1, &tn), *id = arg_str(p, 2, WSSTAR_MAX_DIAL_ID, &idn);
	if (from && to && id && idn > 0 && p->has_id) {
		msgpack_packer *pk = session_bus(s);
		env_begin(pk, WSSTAR_PROTO, WSSTAR_OP_DIAL, 4);
		mp_kv_str(pk, "from", from, fn);
		mp_kv_str(pk, "to", to, tn);
		mp_kv_str(pk, "id", id, idn);
		mp_kv_int(pk, "ack", (int64_t)p->id);
	}
	free(from);
	free(to);
	free(id);
}

/* Splits "socket.io-pull-stream.<what>.<id>.<dialer|listener>"; false when it is not one. */
static bool stream_name(const char *name, size_t n, const char **what, const char **id, size_t *id_len, int *dir)
{
	static const char pre[] = "socket.io-pull-stream.";
	static const char *const whats[] = {"accept.", "queue.", "error."};
	static const char *const dirs[] = {".dialer", ".listener"};
	if (n <= sizeof pre - 1 || memcmp(name, pre, sizeof pre - 1) != 0)
		return false;
	name += sizeof pre - 1;
	n -= sizeof pre - 1;
	for (int w = 0; w < 3; w++) {
		size_t wl = strlen(whats[w]);
		if (n <= wl || memcmp(name, whats[w], wl) != 0)
			continue;
		for (int d = 0; d < 2; d++) {
			size_t dl = strlen(dirs[d]);
			if (n < wl + dl + 1 || memcmp(name + n - dl, dirs[d], dl) != 0)
				continue;
			*what = whats[w];
			*id = name + wl;
			*id_len = n - wl - dl;
			*dir = d;
			return *id_len <= WSSTAR_MAX_DIAL_ID;
		}
	}
	return false;
}

static void stream_op(msgpack_packer *pk, const char *op, uint32_t extra, const char *id, size_t id_len, int dir)
{
	env_begin(pk, WSSTAR_PROTO, op, 2 + extra);
	mp_kv_str(pk, "id", id, id_len);
	mp_kv_int(pk, "dir", dir);
}

/* queue: a binary chunk (placeholder), or a string as its UTF-8 bytes; anything else is dropped, as in the reference. */
static void on_queue(struct session *s, const struct sio_rx *rx, const char *id, size_t id_len, int dir)
{
	const struct sio_packet *p = &rx->pkt;
	int t = sio_arg(p, 0);
	if (t < 0)
		return;
	int num = p->type == SIO_BINARY_EVENT ? sio_placeholder_num(p, t) : -1;
	if (num >= 0) {
		msgpack_packer *pk = session_bus(s); /* once per envelope: it may start a new batch */
		stream_op(pk, WSSTAR_OP_CHUNK, 1, id, id_len, dir);
		size_t n;
		const uint8_t *b = sio_rx_att(rx, (unsigned)num, &n);
		mp_kv_bin(pk, "b", b, n);
		return;
	}
	size_t n;
	char *v = arg_str(p, 0, EIO_MAX_MESSAGE, &n);
	if (!v)
		return;
	msgpack_packer *pk = session_bus(s);
	stream_op(pk, WSSTAR_OP_CHUNK, 1, id, id_len, dir);
	mp_kv_bin(pk, "b", v, n);
	free(v);
}

static void on_stream(struct session *s, const struct sio_rx *rx, const char *what, const char *id, size_t id_len,
		      int dir)
{
	const struct sio_packet *p = &rx->pkt;
	if (what[0] == 'a') {
		stream_op(session_bus(s), WSSTAR_OP_ACCEPT, 0, id, id_len, dir);
	} else if (what[0] == 'q') {
		on_queue(s, rx, id, id_len, dir);
	} else {
		/* the end (true) or an error value, passed on as JSON; a long one is cut to a plain error */
		const char *raw = "null";
		size_t n = 4;
		int t = sio_arg(p, 0);
		if (t >= 0)
			json_raw(&p->doc, t, &raw, &n);
		if (n > WSSTAR_MAX_ERROR_JSON || (t >= 0 && sio_placeholder_num(p, t) >= 0)) {
			raw = "\"error\"";
			n = 7;
		}
		msgpack_packer *pk = session_bus(s);
		stream_op(pk, WSSTAR_OP_END, 1, id, id_len, dir);
		mp_kv_str(pk, "val", raw, n);
	}
}

static void on_event(struct session *s, const struct sio_rx *rx)
{
	const struct sio_packet *p = &rx->pkt;
	int t = sio_event_name(p);
	if (t < 0 || json_type(&p->doc, t) != JSON_STRING)
		return;
	char name[64 + 2 * WSSTAR_MAX_DIAL_ID];
	size_t n;
	if (json_str(&p->doc, t, name, sizeof name, &n) < 0)
		return; /* longer than any event we serve */
	const char *what, *id;
	size_t id_len;
	int dir;
#define IS(lit) (n == sizeof lit - 1 && memcmp(name, lit, n) == 0)
	if (IS("ss-join"))
		on_join(s, p);
	else if (IS("ss-dial"))
		on_dial(s, p);
	else if (IS("ss-leave"))
		on_leave(s, p);
	else if (stream_name(name, n, &what, &id, &id_len, &dir))
		on_stream(s, rx, what, id, id_len, dir);
	/* anything else, "disconnect" included, is ignored: registrations stay */
#undef IS
}

/* The client's ack of one of our ss-incomming events. */
static void on_ack(struct session *s, const struct sio_packet *p)
{
	struct wsstar_state *st = session_state(s);
	if (!p->has_id)
		return;
	for (int i = 0; i < st->nin; i++) {
		if (st->in[i].ack != p->id)
			continue;
		int t = sio_arg(p, 0);
		msgpack_packer *pk = session_bus(s);
		env_begin(pk, WSSTAR_PROTO, WSSTAR_OP_INACK, t >= 0 ? 2 : 1);
		mp_kv_str(pk, "id", st->in[i].id, st->in[i].id_len);
		if (t >= 0) {
			const char *raw;
			size_t n;
			json_raw(&p->doc, t, &raw, &n);
			if (n > WSSTAR_MAX_ERROR_JSON || sio_placeholder_num(p, t) >= 0) {
				raw = "\"error\"";
				n = 7;
			}
			mp_kv_str(pk, "err", raw, n);
		}
		st->in[i] = st->in[--st->nin];
		return;
	}
}

static void on_packet(struct session *s, const struct sio_rx *rx)
{
	const struct sio_packet *p = &rx->pkt;
	switch (p->type) {
	case SIO_CONNECT:
		if (!sio_default_nsp(p)) {
			char nsp[SIO_MAX_NSP + 1];
			memcpy(nsp, p->nsp, p->nsp_len);
			nsp[p->nsp_len] = 0;
			buf_reset(&out);
			sio_put_error(&out, nsp, "Invalid namespace");
			send_out(s);
		}
		break;
	case SIO_DISCONNECT:
		if (sio_default_nsp(p))
			session_close(s, 1000, "");
		break;
	case SIO_EVENT:
	case SIO_BINARY_EVENT:
		if (sio_default_nsp(p))
			on_event(s, rx);
		break;
	case SIO_ACK:
	case SIO_BINARY_ACK:
		if (sio_default_nsp(p))
			on_ack(s, p);
		break;
	default:
		break; /* ERROR from a client means nothing here */
	}
}

static void wsstar_message(struct session *s, uint8_t opcode, uint8_t *data, size_t len)
{
	struct wsstar_state *st = session_state(s);
	struct eio_packet e;
	st->last_rx = clock_ms();
	if (eio_decode(&e, data, len, opcode == WS_BINARY) != EIO_OK)
		return fail(s, "malformed Engine.IO packet");
	if (e.type == EIO_PING) {
		buf_reset(&out);
		eio_put_pong(&out, e.data, e.len);
		return send_out(s);
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
	on_packet(s, &st->rx);
	sio_rx_release(&st->rx);
}

/* ---- from the router ---- */

static int own_index(const struct wsstar_state *st, const char *ma, size_t n)
{
	for (int i = 0; i < st->nown; i++)
		if (st->own_len[i] == n && memcmp(st->own[i], ma, n) == 0)
			return i;
	return -1;
}

static void on_joined(struct wsstar_state *st, const char *ma, size_t n, bool joined)
{
	int i = own_index(st, ma, n);
	if (joined && i < 0 && st->nown < WSSTAR_MAX_ADDRS && (st->own[st->nown] = malloc(n ? n : 1))) {
		memcpy(st->own[st->nown], ma, n);
		st->own_len[st->nown++] = n;
	} else if (!joined && i >= 0) {
		free(st->own[i]);
		st->own[i] = st->own[--st->nown];
		st->own_len[i] = st->own_len[st->nown];
	}
}

static void keep_list(struct wsstar_state *st, const msgpack_object *l)
{
	buf_reset(&st->peers);
	for (uint32_t i = 0; i < l->via.array.size; i++) {
		const msgpack_object *m = &l->via.array.ptr[i];
		if (m->type != MSGPACK_OBJECT_STR || m->via.str.size > MA_MAX_LEN)
			continue;
		uint16_t n = (uint16_t)m->via.str.size;
		buf_append(&st->peers, &n, 2);
		buf_append(&st->peers, m->via.str.ptr, n);
	}
}

/* ws-peer for every other address, a copy per address of ours (as the reference's per-address timers). */
static void on_announce(struct session *s, const struct envelope *e)
{
	struct wsstar_state *st = session_state(s);
	int64_t g;
	const msgpack_object *l = mp_get(e->map, "l");
	if (!mp_get_int(e->map, "gen", &g))
		return;
	if (l && l->type == MSGPACK_OBJECT_ARRAY) {
		keep_list(st, l);
		st->peers_gen = g;
	}
	if (g != st->peers_gen)
		return;
	for (size_t off = 0; off + 2 <= buf_used(&st->peers);) {
		uint16_t n;
		memcpy(&n, buf_head(&st->peers) + off, 2);
		const char *ma = (const char *)buf_head(&st->peers) + off + 2;
		off += 2 + n;
		int copies = st->nown - (own_index(st, ma, n) >= 0 ? 1 : 0);
		struct sio_out o;
		buf_reset(&out);
		sio_out_event(&o, &out, "ws-peer", 7, -1, 0);
		sio_out_string(&o, ma, n);
		if (sio_out_end(&o) < 0)
			continue;
		for (int i = 0; i < copies; i++)
			send_out(s);
	}
}

/* ss-incomming [dialId, from] with an ack id of ours. */
static void on_incoming(struct session *s, const struct envelope *e)
{
	struct wsstar_state *st = session_state(s);
	const char *id, *from;
	size_t n, fn;
	if (!mp_get_str(e->map, "id", &id, &n) || n > WSSTAR_MAX_DIAL_ID || !mp_get_str(e->map, "from", &from, &fn))
		return;
	if (st->nin == MAX_INCOMING) {
		/* a listener that answers none of them: the dial is refused for it */
		msgpack_packer *pk = session_bus(s);
		env_begin(pk, WSSTAR_PROTO, WSSTAR_OP_INACK, 2);
		mp_kv_str(pk, "id", id, n);
		mp_kv_cstr(pk, "err", "\"Listener busy\"");
		return;
	}
	struct incoming *in = &st->in[st->nin++];
	in->ack = st->next_ack++;
	memcpy(in->id, id, n);
	in->id_len = n;
	struct sio_out o;
	buf_reset(&out);
	sio_out_event(&o, &out, "ss-incomming", 12, (int64_t)in->ack, 0);
	sio_out_string(&o, id, n);
	sio_out_string(&o, from, fn);
	if (sio_out_end(&o) == 0)
		send_out(s);
}

/* 451-["socket.io-pull-stream.queue.<id>.<dir>",{placeholder}] then 04 <bytes>. */
static void on_relay(struct session *s, const struct envelope *e)
{
	const char *id;
	const uint8_t *b;
	size_t n, bn;
	int64_t dir;
	if (!mp_get_str(e->map, "id", &id, &n) || n > WSSTAR_MAX_DIAL_ID || !mp_get_int(e->map, "dir", &dir) ||
	    !mp_get_bin(e->map, "b", &b, &bn) || bn == 0 || b[0] != EIO_MESSAGE)
		return;
	char name[64 + WSSTAR_MAX_DIAL_ID];
	int nl = snprintf(name, sizeof name, "socket.io-pull-stream.queue.%.*s.%s", (int)n, id,
			  dir == WSSTAR_DIALER ? "dialer" : "listener");
	struct sio_out o;
	buf_reset(&out);
	sio_out_event(&o, &out, name, (size_t)nl, -1, 1);
	sio_out_placeholder(&o);
	if (sio_out_end(&o) < 0)
		return;
	send_out(s);
	session_send_binary(s, b, bn); /* the router framed it as the Engine.IO packet */
}

/* Finds a dial id in st->dials: its offset, or -1. */
static long dial_find(const struct wsstar_state *st, const char *id, size_t n)
{
	for (size_t off = 0; off < buf_used(&st->dials);) {
		size_t len = buf_head(&st->dials)[off];
		if (len == n && memcmp(buf_head(&st->dials) + off + 1, id, n) == 0)
			return (long)off;
		off += 1 + len;
	}
	return -1;
}

static void on_dial_state(struct wsstar_state *st, const struct envelope *e, bool open)
{
	const char *id;
	size_t n;
	if (!mp_get_str(e->map, "id", &id, &n) || n > WSSTAR_MAX_DIAL_ID)
		return;
	long at = dial_find(st, id, n);
	if (open && at < 0 && st->ndials < WSSTAR_MAX_DIALS) {
		uint8_t len = (uint8_t)n;
		buf_append(&st->dials, &len, 1);
		buf_append(&st->dials, id, n);
		st->ndials++;
	} else if (!open && at >= 0) {
		uint8_t *p = buf_head(&st->dials);
		size_t cut = 1 + n, used = buf_used(&st->dials);
		memmove(p + at, p + at + cut, used - (size_t)at - cut);
		st->dials.len -= cut;
		st->ndials--;
	}
}

/* The router restarted and forgot every dial: both streams of each end for the client. */
static void end_dials(struct session *s)
{
	struct wsstar_state *st = session_state(s);
	for (size_t off = 0; off < buf_used(&st->dials);) {
		size_t len = buf_head(&st->dials)[off];
		const char *id = (const char *)buf_head(&st->dials) + off + 1;
		off += 1 + len;
		for (int dir = 0; dir < 2; dir++) {
			char name[64 + WSSTAR_MAX_DIAL_ID];
			int nl = snprintf(name, sizeof name, "socket.io-pull-stream.error.%.*s.%s", (int)len, id,
					  dir == WSSTAR_DIALER ? "dialer" : "listener");
			struct sio_out o;
			buf_reset(&out);
			sio_out_event(&o, &out, name, (size_t)nl, -1, 0);
			sio_out_string(&o, "relay lost", 10);
			if (sio_out_end(&o) == 0)
				send_out(s);
		}
	}
	buf_reset(&st->dials);
	st->ndials = 0;
}

static void wsstar_bus(struct session *s, const struct envelope *e)
{
	struct wsstar_state *st = session_state(s);
	const char *ma;
	size_t n;
	if (env_op_is(e, WSSTAR_OP_RELAY))
		on_relay(s, e);
	else if (env_op_is(e, WSSTAR_OP_ANNOUNCE))
		on_announce(s, e);
	else if (env_op_is(e, WSSTAR_OP_INCOMING))
		on_incoming(s, e);
	else if (env_op_is(e, WSSTAR_OP_JOINED) && mp_get_str(e->map, "ma", &ma, &n))
		on_joined(st, ma, n, true);
	else if (env_op_is(e, WSSTAR_OP_LEFT) && mp_get_str(e->map, "ma", &ma, &n))
		on_joined(st, ma, n, false);
	else if (env_op_is(e, WSSTAR_OP_DIALOPEN) || env_op_is(e, WSSTAR_OP_DIALEND))
		on_dial_state(st, e, env_op_is(e, WSSTAR_OP_DIALOPEN));
}

/* The router restarted: the addresses come back; dials and challenges do not. */
static void wsstar_register(struct session *s)
{
	struct wsstar_state *st = session_state(s);
	if (st->registered)
		end_dials(s);
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
	buf_free(&st->dials);
	buf_free(&out);
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
	.on_bus = wsstar_bus,
	.on_timer = wsstar_timer,
	.on_register = wsstar_register,
	.close = wsstar_close,
};
