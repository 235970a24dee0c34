/*
 * WebSocketStar, worker half: the client's Socket.IO packets. Each event's
 * arguments are checked for their types (an event that does not match gets
 * no answer, as in the reference) and become an envelope for the router.
 */
#include <stdlib.h>
#include <string.h>

#include "../../common/json.h"
#include "eio.h"
#include "multiaddr.h"
#include "sio.h"
#include "state.h"

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

void wsstar_on_packet(struct session *s, const struct sio_rx *rx)
{
	const struct sio_packet *p = &rx->pkt;
	switch (p->type) {
	case SIO_CONNECT:
		if (!sio_default_nsp(p)) {
			char nsp[SIO_MAX_NSP + 1];
			memcpy(nsp, p->nsp, p->nsp_len);
			nsp[p->nsp_len] = 0;
			buf_reset(&wsstar_out);
			sio_put_error(&wsstar_out, nsp, "Invalid namespace");
			wsstar_send_out(s);
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
