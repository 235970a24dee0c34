/*
 * WebSocketStar, worker half: the router's envelopes. Answers and events the
 * router composes arrive as whole text messages (core text); these are the
 * ones framed here: relayed chunks, ss-incomming with an ack id of ours,
 * announcements, and what this connection holds (addresses, dials).
 */
#include <stdlib.h>
#include <string.h>

#include "../../common/alloc.h"
#include "eio.h"
#include "multiaddr.h"
#include "sio.h"
#include "state.h"

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

/*
 * The address list is kept by prefix: every peer registered on one server
 * announces that server's address with its own id after the last '/', so
 * the prefixes are few and an entry is mostly its peer id. A worker holds
 * the list of every peer (the announcements are replayed from it), so at
 * 1000 peers this halves the memory it costs each worker.
 */
#define MAX_PREFIXES 16
#define WHOLE 0xff /* an entry holding its whole address */

struct prefixes {
	const char *p[MAX_PREFIXES];
	uint16_t n[MAX_PREFIXES];
	int count;
};

/* The prefixes kept in st->prefixes ([u16 length][bytes]...), indexed. */
static void prefixes_of(const struct wsstar_state *st, struct prefixes *t)
{
	t->count = 0;
	for (size_t off = 0; off + 2 <= buf_used(&st->prefixes) && t->count < MAX_PREFIXES; t->count++) {
		memcpy(&t->n[t->count], buf_head(&st->prefixes) + off, 2);
		t->p[t->count] = (const char *)buf_head(&st->prefixes) + off + 2;
		off += 2 + t->n[t->count];
	}
}

/* The index of prefix p (added when new), or WHOLE when the table is full. */
static uint8_t prefix_index(struct wsstar_state *st, struct prefixes *t, const char *p, size_t n)
{
	for (int i = 0; i < t->count; i++)
		if (t->n[i] == n && memcmp(t->p[i], p, n) == 0)
			return (uint8_t)i;
	if (t->count == MAX_PREFIXES)
		return WHOLE;
	uint16_t len = (uint16_t)n;
	buf_append(&st->prefixes, &len, 2);
	buf_append(&st->prefixes, p, n);
	prefixes_of(st, t); /* the buffer may have moved */
	return (uint8_t)(t->count - 1);
}

/* The list stays until the peers change: no room is kept past its end (a
 * doubling buffer keeps up to twice its bytes: 64 KiB for 55 KB at 1000 peers). */
static void fit(struct buf *b)
{
	if (b->off == 0 && b->len > 0 && b->len < b->cap) {
		b->data = xrealloc(b->data, b->len);
		b->cap = b->len;
	}
}

/* The first characters of every peer id of a key type go in the prefix
 * too: Ed25519 ids (an identity multihash of the key) start "12D3KooW",
 * secp256k1 ones "16Uiu2HA", RSA ones (sha2-256) "Qm". 8 KB at 1000 peers. */
static size_t id_lead(const char *p, size_t n)
{
	static const char *const leads[] = {"12D3KooW", "16Uiu2HA", "Qm"};
	for (size_t i = 0; i < sizeof leads / sizeof *leads; i++) {
		size_t l = strlen(leads[i]);
		if (n > l && memcmp(p, leads[i], l) == 0)
			return l;
	}
	return 0;
}

/* st->peers: [u8 prefix index or WHOLE][u16 length][the rest of the address]... */
static void keep_list(struct wsstar_state *st, const msgpack_object *l)
{
	struct prefixes t = {.count = 0};
	buf_reset(&st->peers);
	buf_reset(&st->prefixes);
	for (uint32_t i = 0; i < l->via.array.size; i++) {
		const msgpack_object *m = &l->via.array.ptr[i];
		if (m->type != MSGPACK_OBJECT_STR || m->via.str.size > MA_MAX_LEN)
			continue;
		const char *ma = m->via.str.ptr;
		size_t n = m->via.str.size, k = n;
		while (k > 0 && ma[k - 1] != '/')
			k--;
		if (k > 0)
			k += id_lead(ma + k, n - k);
		uint8_t idx = k > 0 ? prefix_index(st, &t, ma, k) : WHOLE;
		if (idx == WHOLE)
			k = 0;
		uint16_t rest = (uint16_t)(n - k);
		buf_append(&st->peers, &idx, 1);
		buf_append(&st->peers, &rest, 2);
		buf_append(&st->peers, ma + k, rest);
	}
	fit(&st->peers);
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
	struct prefixes t;
	prefixes_of(st, &t);
	char ma[MA_MAX_LEN];
	for (size_t off = 0; off + 3 <= buf_used(&st->peers);) {
		const uint8_t *p = buf_head(&st->peers) + off;
		uint16_t rest;
		memcpy(&rest, p + 1, 2);
		off += 3 + rest;
		size_t k = p[0] < t.count ? t.n[p[0]] : 0;
		if (k + rest > sizeof ma)
			continue; /* cannot be: both parts came from one address within MA_MAX_LEN */
		memcpy(ma, k ? t.p[p[0]] : "", k);
		memcpy(ma + k, p + 3, rest);
		size_t n = k + rest;
		int copies = st->nown - (own_index(st, ma, n) >= 0 ? 1 : 0);
		struct sio_out o;
		buf_reset(&wsstar_out);
		sio_out_event(&o, &wsstar_out, "ws-peer", 7, -1, 0);
		sio_out_string(&o, ma, n);
		if (sio_out_end(&o) < 0)
			continue;
		for (int i = 0; i < copies; i++)
			wsstar_send_out(s);
	}
	wsstar_trim_soon(s);
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
	buf_reset(&wsstar_out);
	sio_out_event(&o, &wsstar_out, "ss-incomming", 12, (int64_t)in->ack, 0);
	sio_out_string(&o, id, n);
	sio_out_string(&o, from, fn);
	if (sio_out_end(&o) == 0)
		wsstar_send_out(s);
}

/* Starts the event "socket.io-pull-stream.<what>.<id>.<dialer|listener>" in wsstar_out. */
static void stream_event(struct sio_out *o, const char *what, const char *id, size_t n, int64_t dir,
			 unsigned attachments)
{
	char name[64 + WSSTAR_MAX_DIAL_ID];
	int nl = snprintf(name, sizeof name, "socket.io-pull-stream.%s.%.*s.%s", what, (int)n, id,
			  dir == WSSTAR_DIALER ? "dialer" : "listener");
	buf_reset(&wsstar_out);
	sio_out_event(o, &wsstar_out, name, (size_t)nl, -1, attachments);
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
	struct sio_out o;
	stream_event(&o, "queue", id, n, dir, 1);
	sio_out_placeholder(&o);
	if (sio_out_end(&o) < 0)
		return;
	wsstar_send_out(s);
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
void wsstar_end_dials(struct session *s)
{
	struct wsstar_state *st = session_state(s);
	for (size_t off = 0; off < buf_used(&st->dials);) {
		size_t len = buf_head(&st->dials)[off];
		const char *id = (const char *)buf_head(&st->dials) + off + 1;
		off += 1 + len;
		for (int dir = 0; dir < 2; dir++) {
			struct sio_out o;
			stream_event(&o, "error", id, len, dir, 0);
			sio_out_string(&o, "relay lost", 10);
			if (sio_out_end(&o) == 0)
				wsstar_send_out(s);
		}
	}
	buf_reset(&st->dials);
	st->ndials = 0;
}

void wsstar_from_router(struct session *s, const struct envelope *e)
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
	else if (env_op_is(e, WSSTAR_OP_JOINED) && mp_get_str(e->map, "ma", &ma, &n)) {
		on_joined(st, ma, n, true);
		wsstar_trim_soon(s); /* the join's answer listed every peer */
	} else if (env_op_is(e, WSSTAR_OP_LEFT) && mp_get_str(e->map, "ma", &ma, &n))
		on_joined(st, ma, n, false);
	else if (env_op_is(e, WSSTAR_OP_DIALOPEN) || env_op_is(e, WSSTAR_OP_DIALEND))
		on_dial_state(st, e, env_op_is(e, WSSTAR_OP_DIALOPEN));
}

/* The router restarted: the addresses come back; dials and challenges do not. */
