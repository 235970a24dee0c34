/*
 * WebSocketStar, router half: dials and the socket.io-pull-stream relay of
 * their bytes (README.md here, "Dials" and "Limits").
 *
 * A dial has two stream directions, <id>.dialer (the dialer writes, the
 * listener reads) and <id>.listener. Chunks a writer sends before its
 * reader's accept wait here, within WSSTAR_STREAM_PENDING_MAX per direction
 * and WSSTAR_CONN_PENDING_MAX per writing connection; after the accept they
 * go straight to the reader's worker, under the bus's credit, as long as the
 * router holds less than WSSTAR_READER_QUEUE_MAX for it. Past a bound the
 * dial ends: each peer gets an error event on the stream it reads, and the
 * overflow is counted. Nothing is dropped without both peers being told.
 */
#include <stdlib.h>
#include <string.h>

#include "../../common/json.h"
#include "../../common/log.h"
#include "service.h"
#include "sio.h"

#define LIMIT_TEXT "relay limit exceeded"

struct half {
	bool accepted;   /* the reader sent its accept */
	bool ended;      /* the writer ended it (forwarded, or waiting in end_json) */
	bool told;       /* the reader has been told it ended */
	struct buf pending; /* [u32 length][bytes]... before the accept */
	char *end_json;  /* the end's value, until the accept */
	size_t end_len;
};

struct dial {
	char id[WSSTAR_MAX_DIAL_ID];
	size_t id_len;
	struct rworker *dialer, *listener;
	uint64_t ack;  /* the dialer's ss-dial ack id */
	bool answered; /* the listener acked ss-incomming */
	struct half half[2];
};

static struct buf text; /* scratch */

static const char *const dir_name[2] = {"dialer", "listener"};

static struct rworker *writer(const struct dial *d, int dir) { return dir == WSSTAR_DIALER ? d->dialer : d->listener; }
static struct rworker *reader(const struct dial *d, int dir) { return dir == WSSTAR_DIALER ? d->listener : d->dialer; }

/* 42["socket.io-pull-stream.<what>.<id>.<dir>"(,<raw JSON>)] to w. */
static void stream_event(struct router *r, struct rworker *w, const char *what, const struct dial *d, int dir,
			 const char *raw, size_t raw_len)
{
	char name[64 + WSSTAR_MAX_DIAL_ID];
	int n = snprintf(name, sizeof name, "socket.io-pull-stream.%s.%.*s.%s", what, (int)d->id_len, d->id,
			 dir_name[dir]);
	struct sio_out o;
	buf_reset(&text);
	sio_out_event(&o, &text, name, (size_t)n, -1, 0);
	if (raw)
		sio_out_raw(&o, raw, raw_len);
	if (sio_out_end(&o) == 0)
		wsstar_text(r, w, &text);
}

static void forward_chunk(struct router *r, struct dial *d, int dir, const uint8_t *p, size_t n)
{
	msgpack_packer *pk = router_packer(r);
	env_begin(pk, WSSTAR_PROTO, WSSTAR_OP_RELAY, 3);
	mp_kv_str(pk, "id", d->id, d->id_len);
	mp_kv_int(pk, "dir", dir);
	/* the attachment as the reader's worker writes it: 04 (Engine.IO message) then the bytes,
	 * so that it goes to the client with no copy there */
	static const uint8_t eio_message = 4;
	mp_cstr(pk, "b");
	msgpack_pack_bin(pk, n + 1);
	msgpack_pack_bin_body(pk, &eio_message, 1);
	msgpack_pack_bin_body(pk, p, n);
	router_send_scratch(r, reader(d, dir));
	wsstar_stats.relay_bytes += n;
	wsstar_stats.relay_chunks++;
}

static void half_clear(struct dial *d, int dir)
{
	struct half *h = &d->half[dir];
	struct wsstar_peer *st = wsstar_peer_of(writer(d, dir));
	size_t used = buf_used(&h->pending);
	/* the pending bytes counted against the writer, less the length prefixes */
	size_t counted = 0;
	for (size_t off = 0; off + 4 <= used;) {
		uint32_t len;
		memcpy(&len, buf_head(&h->pending) + off, 4);
		counted += len;
		off += 4 + len;
	}
	st->pending -= counted < st->pending ? counted : st->pending;
	buf_free(&h->pending);
	free(h->end_json);
	h->end_json = NULL;
}

/* Tells a participant's worker that a dial began or ended, so that it can
 * end the dial's streams for its client if the router restarts. */
static void tell_dial(struct router *r, struct rworker *w, const char *op, const struct dial *d)
{
	msgpack_packer *pk = router_packer(r);
	env_begin(pk, WSSTAR_PROTO, op, 1);
	mp_kv_str(pk, "id", d->id, d->id_len);
	router_send_scratch(r, w);
}

/* Forgets the dial in both peers' maps and frees it. */
static void dial_free(struct router *r, struct dial *d)
{
	tell_dial(r, d->dialer, WSSTAR_OP_DIALEND, d);
	if (d->listener != d->dialer)
		tell_dial(r, d->listener, WSSTAR_OP_DIALEND, d);
	for (int dir = 0; dir < 2; dir++)
		half_clear(d, dir);
	hmap_del(&wsstar_peer_of(d->dialer)->dials, d->id, d->id_len);
	if (d->listener != d->dialer)
		hmap_del(&wsstar_peer_of(d->listener)->dials, d->id, d->id_len);
	free(d);
}

/* Tells each reader still listening that its stream ended with value raw, then frees the dial. */
static void dial_end(struct router *r, struct dial *d, const char *raw, size_t raw_len, const char *dialer_ack)
{
	if (!d->answered && dialer_ack)
		wsstar_ack_error(r, d->dialer, d->ack, dialer_ack);
	for (int dir = 0; dir < 2; dir++)
		if (!d->half[dir].told)
			stream_event(r, reader(d, dir), "error", d, dir, raw, raw_len);
	dial_free(r, d);
}

static void overflow(struct router *r, struct dial *d, int dir)
{
	log_info("wsstar: dial %.*s: relay bound reached on its %s stream; ending it", (int)d->id_len, d->id,
		 dir_name[dir]);
	wsstar_stats.relay_overflows++;
	dial_end(r, d, "\"" LIMIT_TEXT "\"", sizeof LIMIT_TEXT + 1, LIMIT_TEXT);
}

void relay_open(struct router *r, struct rworker *dialer, struct rworker *listener, const char *id, size_t id_len,
		const char *from, size_t from_len, uint64_t ack)
{
	struct wsstar_peer *ds = wsstar_peer_of(dialer), *ls = wsstar_peer_of(listener);
	if (hmap_get(&ds->dials, id, id_len) || hmap_get(&ls->dials, id, id_len)) {
		wsstar_stats.dial_errors++;
		return wsstar_ack_error(r, dialer, ack, "Dial id in use");
	}
	if (ds->dials.count >= WSSTAR_MAX_DIALS || ls->dials.count >= WSSTAR_MAX_DIALS) {
		wsstar_stats.dial_errors++;
		return wsstar_ack_error(r, dialer, ack, "Too many dials");
	}
	struct dial *d = calloc(1, sizeof *d);
	if (!d)
		return wsstar_ack_error(r, dialer, ack, "Out of memory");
	memcpy(d->id, id, id_len);
	d->id_len = id_len;
	d->dialer = dialer;
	d->listener = listener;
	d->ack = ack;
	hmap_put(&ds->dials, id, id_len, d, NULL);
	hmap_put(&ls->dials, id, id_len, d, NULL);
	wsstar_stats.dials++;
	tell_dial(r, dialer, WSSTAR_OP_DIALOPEN, d);
	if (listener != dialer)
		tell_dial(r, listener, WSSTAR_OP_DIALOPEN, d);
	stream_event(r, dialer, "accept", d, WSSTAR_DIALER, NULL, 0);
	msgpack_packer *pk = router_packer(r);
	env_begin(pk, WSSTAR_PROTO, WSSTAR_OP_INCOMING, 2);
	mp_kv_str(pk, "id", id, id_len);
	mp_kv_str(pk, "from", from, from_len);
	router_send_scratch(r, listener);
}

/* false (after refusing the worker) when the value is not one small JSON
 * value. Checked inside brackets: the parser takes no bare scalar. */
static bool valid_json(struct router *r, struct rworker *w, const char *p, size_t n)
{
	char wrapped[WSSTAR_MAX_ERROR_JSON + 2];
	struct json_doc doc;
	if (n > WSSTAR_MAX_ERROR_JSON)
		goto bad;
	wrapped[0] = '[';
	memcpy(wrapped + 1, p, n);
	wrapped[n + 1] = ']';
	if (json_parse(&doc, wrapped, n + 2, WSSTAR_MAX_TOKENS) != JSON_OK)
		goto bad;
	bool one = doc.ntok > 0 && json_size(&doc, 0) == 1;
	json_free(&doc);
	if (one)
		return true;
bad:
	wsstar_refuse(r, w, "an invalid JSON value");
	return false;
}

/* The first argument of the listener's ack, truthy as in JavaScript. */
static bool truthy(const char *p, size_t n)
{
	static const char *const falsy[] = {"null", "false", "0", "\"\"", "-0", "0.0"};
	for (size_t i = 0; i < sizeof falsy / sizeof *falsy; i++)
		if (n == strlen(falsy[i]) && memcmp(p, falsy[i], n) == 0)
			return false;
	return true;
}

static void on_inack(struct router *r, struct rworker *w, struct dial *d, const struct envelope *e)
{
	const char *err = NULL;
	size_t en = 0;
	if (d->listener != w || d->answered)
		return;
	const msgpack_object *v = mp_get(e->map, "err");
	if (v && !mp_get_str(e->map, "err", &err, &en))
		return wsstar_refuse(r, w, "an invalid dial answer");
	if (err && !valid_json(r, w, err, en))
		return;
	if (err && truthy(err, en)) {
		/* the listener refused: its answer goes to the dialer verbatim */
		struct sio_out o;
		buf_reset(&text);
		sio_out_ack(&o, &text, d->ack, 0);
		sio_out_raw(&o, err, en);
		if (sio_out_end(&o) == 0)
			wsstar_text(r, d->dialer, &text);
		wsstar_stats.dial_errors++;
		d->answered = true;
		return dial_free(r, d);
	}
	d->answered = true;
	stream_event(r, w, "accept", d, WSSTAR_LISTENER, NULL, 0);
	buf_reset(&text);
	buf_printf(&text, "43%llu[]", (unsigned long long)d->ack);
	wsstar_text(r, d->dialer, &text);
}

/* Both directions told their end: the dial is over. */
static void maybe_done(struct router *r, struct dial *d)
{
	if (d->half[0].told && d->half[1].told)
		dial_free(r, d);
}

static void deliver_end(struct router *r, struct dial *d, int dir)
{
	struct half *h = &d->half[dir];
	stream_event(r, reader(d, dir), "error", d, dir, h->end_json, h->end_len);
	h->told = true;
	free(h->end_json);
	h->end_json = NULL;
	maybe_done(r, d);
}

static void on_accept(struct router *r, struct rworker *w, struct dial *d, int dir)
{
	struct half *h = &d->half[dir];
	if (reader(d, dir) != w || h->accepted)
		return;
	h->accepted = true;
	struct buf q = h->pending;
	h->pending = (struct buf){0};
	struct wsstar_peer *st = wsstar_peer_of(writer(d, dir));
	for (size_t off = 0; off + 4 <= buf_used(&q);) {
		uint32_t len;
		memcpy(&len, buf_head(&q) + off, 4);
		forward_chunk(r, d, dir, buf_head(&q) + off + 4, len);
		st->pending -= len < st->pending ? len : st->pending;
		off += 4 + len;
	}
	buf_free(&q);
	if (h->ended && !h->told)
		deliver_end(r, d, dir);
}

static void on_chunk(struct router *r, struct rworker *w, struct dial *d, int dir, const struct envelope *e)
{
	struct half *h = &d->half[dir];
	const uint8_t *p;
	size_t n;
	if (!mp_get_bin(e->map, "b", &p, &n))
		return wsstar_refuse(r, w, "an invalid chunk");
	if (writer(d, dir) != w || h->ended)
		return; /* nothing may follow an end; a reader does not write its own stream */
	struct wsstar_peer *st = wsstar_peer_of(w);
	if (!h->accepted) {
		if (buf_used(&h->pending) + n > WSSTAR_STREAM_PENDING_MAX || st->pending + n > WSSTAR_CONN_PENDING_MAX)
			return overflow(r, d, dir);
		uint32_t len = (uint32_t)n;
		buf_append(&h->pending, &len, 4);
		buf_append(&h->pending, p, n);
		st->pending += n;
		return;
	}
	if (router_held(r, reader(d, dir)) + n > WSSTAR_READER_QUEUE_MAX)
		return overflow(r, d, dir);
	forward_chunk(r, d, dir, p, n);
}

static void on_end(struct router *r, struct rworker *w, struct dial *d, int dir, const struct envelope *e)
{
	struct half *h = &d->half[dir];
	const char *v;
	size_t n;
	if (!mp_get_str(e->map, "val", &v, &n))
		return wsstar_refuse(r, w, "an invalid stream end");
	if (!valid_json(r, w, v, n))
		return;
	if (writer(d, dir) != w || h->ended)
		return;
	h->ended = true;
	h->end_json = malloc(n ? n : 1);
	if (!h->end_json)
		return overflow(r, d, dir);
	memcpy(h->end_json, v, n);
	h->end_len = n;
	if (h->accepted)
		deliver_end(r, d, dir);
}

void relay_envelope(struct router *r, struct rworker *w, const struct envelope *e)
{
	const char *id;
	size_t n;
	int64_t dir = 0;
	bool inack = env_op_is(e, WSSTAR_OP_INACK);
	if (!inack && !env_op_is(e, WSSTAR_OP_ACCEPT) && !env_op_is(e, WSSTAR_OP_CHUNK) && !env_op_is(e, WSSTAR_OP_END))
		return wsstar_refuse(r, w, "an unknown operation");
	if (!mp_get_str(e->map, "id", &id, &n) || n == 0 || n > WSSTAR_MAX_DIAL_ID ||
	    (!inack && (!mp_get_int(e->map, "dir", &dir) || dir < 0 || dir > 1)))
		return wsstar_refuse(r, w, "an invalid stream operation");
	struct dial *d = hmap_get(&wsstar_peer_of(w)->dials, id, n);
	log_debug("wsstar: %.*s on dial %.*s dir %d: %s", (int)e->op_len, e->op, (int)n, id, (int)dir,
		  d ? "known" : "unknown");
	if (!d)
		return; /* a dial that ended, or never was: its events are ignored */
	if (inack)
		on_inack(r, w, d, e);
	else if (env_op_is(e, WSSTAR_OP_ACCEPT))
		on_accept(r, w, d, (int)dir);
	else if (env_op_is(e, WSSTAR_OP_CHUNK))
		on_chunk(r, w, d, (int)dir, e);
	else
		on_end(r, w, d, (int)dir, e);
}

struct gone {
	struct router *r;
	struct rworker *w;
};

/*
 * The other peer is told that the stream it reads ended (error.S true),
 * and what it still writes is no longer read: both directions go. A dialer
 * whose listener vanished before answering gets its ack.
 */
static void end_for_other(void *arg, const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	struct gone *g = arg;
	struct dial *d = value;
	struct rworker *other = d->dialer == g->w ? d->listener : d->dialer;
	if (other != g->w) {
		int dir = d->dialer == g->w ? WSSTAR_DIALER : WSSTAR_LISTENER; /* the one other reads */
		if (d->listener == g->w && !d->answered)
			wsstar_ack_error(g->r, d->dialer, d->ack, "Peer disconnected");
		if (!d->half[dir].told)
			stream_event(g->r, other, "error", d, dir, "true", 4);
		tell_dial(g->r, other, WSSTAR_OP_DIALEND, d);
		hmap_del(&wsstar_peer_of(other)->dials, d->id, d->id_len);
	}
	wsstar_stats.relay_ended_by_disconnect++;
	half_clear(d, WSSTAR_DIALER);
	half_clear(d, WSSTAR_LISTENER);
	free(d);
}

void relay_gone(struct router *r, struct rworker *w)
{
	struct gone g = {r, w};
	hmap_each(&wsstar_peer_of(w)->dials, end_for_other, &g);
}

void relay_fini(void) { buf_free(&text); }
