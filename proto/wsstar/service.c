/*
 * WebSocketStar, router half: the registered addresses (peers), the
 * two-step key challenge of ss-join, ss-leave, the checks of ss-dial, the
 * ws-peer announcements from one timer, and the clean-up when a client
 * goes (README.md here). Dials and their streams are relay.c.
 *
 * As every router half, it trusts no worker: fields are checked again
 * (addresses are valid multiaddrs, ids valid UTF-8 within bounds), and a
 * worker that sends what a real one never does is dropped.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "../../common/utf8.h"
#include "multiaddr.h"
#include "options.h"
#include "p2pkey.h"
#include "service.h"
#include "sio.h"

/* The first step of a join done: the key it showed and the nonce to sign. */
struct challenge {
	struct p2p_pubkey key;
	char nonce[72];
};

struct wsstar_stats wsstar_stats;
static struct hmap peers;   /* address → struct rworker that registered it */
static struct hmap members; /* rworker pointer → rworker: workers owning at least one address */
static uint64_t gen;        /* changes with every change of peers */
static struct buf text;     /* scratch: one Socket.IO message */

struct wsstar_peer *wsstar_peer_of(struct rworker *w)
{
	struct wsstar_peer *st = rworker_state(w);
	if (!st->ready) {
		hmap_init(&st->own);
		hmap_init(&st->challenges);
		hmap_init(&st->dials);
		st->ready = true;
	}
	return st;
}

void wsstar_text(struct router *r, struct rworker *w, const struct buf *b)
{
	router_send_text(r, w, buf_head(b), buf_used(b));
}

void wsstar_ack_error(struct router *r, struct rworker *w, uint64_t ack, const char *msg)
{
	struct sio_out o;
	buf_reset(&text);
	sio_out_ack(&o, &text, ack, 0);
	sio_out_string(&o, msg, strlen(msg));
	if (sio_out_end(&o) == 0)
		wsstar_text(r, w, &text);
}

void wsstar_refuse(struct router *r, struct rworker *w, const char *why)
{
	struct wsstar_peer *st = wsstar_peer_of(w);
	char what[160];
	snprintf(what, sizeof what, "sent %s", why);
	st->refused = true;
	router_drop_worker(r, w, what);
}

static void tell(struct router *r, struct rworker *w, const char *op, const char *ma, size_t n)
{
	msgpack_packer *pk = router_packer(r);
	env_begin(pk, WSSTAR_PROTO, op, 1);
	mp_kv_str(pk, "ma", ma, n);
	router_send_scratch(r, w);
}

/* ---- peers ---- */

static void member_update(struct rworker *w)
{
	struct wsstar_peer *st = wsstar_peer_of(w);
	if (st->own.count)
		hmap_put(&members, &w, sizeof w, w, NULL);
	else
		hmap_del(&members, &w, sizeof w);
}

static void unregister(struct router *r, struct rworker *w, const char *ma, size_t n, bool tell_worker)
{
	struct wsstar_peer *st = wsstar_peer_of(w);
	hmap_del(&peers, ma, n);
	hmap_del(&st->own, ma, n);
	member_update(w);
	gen++;
	if (tell_worker)
		tell(r, w, WSSTAR_OP_LEFT, ma, n);
}

struct announce_one {
	struct router *r;
	const char *ma;
	size_t n;
	struct rworker *owner;
};

/* ws-peer <X> to the connection of every other address: k copies to a
 * connection owning k of them (the reference's per-address timers). */
static void announce_to(void *arg, const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	struct announce_one *a = arg;
	struct rworker *w = value;
	struct wsstar_peer *st = wsstar_peer_of(w);
	size_t copies = st->own.count - (w == a->owner ? 1 : 0);
	for (size_t i = 0; i < copies; i++)
		wsstar_text(a->r, w, &text);
}

static void announce_now(struct router *r, struct rworker *owner, const char *ma, size_t n)
{
	struct sio_out o;
	buf_reset(&text);
	sio_out_event(&o, &text, "ws-peer", 7, -1, 0);
	sio_out_string(&o, ma, n);
	if (sio_out_end(&o) < 0)
		return;
	struct announce_one a = {r, ma, n, owner};
	hmap_each(&members, announce_to, &a);
}

/* Takes the address for w (from whoever had it: a reconnected client takes its address back). */
static bool register_addr(struct router *r, struct rworker *w, const char *ma, size_t n)
{
	struct wsstar_peer *st = wsstar_peer_of(w);
	struct rworker *old = hmap_get(&peers, ma, n);
	if (old == w)
		return true;
	if (!old && st->own.count >= WSSTAR_MAX_ADDRS)
		return false;
	if (old)
		unregister(r, old, ma, n, true);
	hmap_put(&peers, ma, n, w, NULL);
	hmap_put(&st->own, ma, n, w, NULL);
	member_update(w);
	gen++;
	announce_now(r, w, ma, n);
	return true;
}

struct list_others {
	struct sio_out *o;
	const char *ma;
	size_t n;
	bool first;
};

static void list_one(void *arg, const void *key, size_t klen, void *value)
{
	(void)value;
	struct list_others *l = arg;
	if (klen == l->n && memcmp(key, l->ma, klen) == 0)
		return;
	if (!l->first)
		buf_append(l->o->b, ",", 1);
	json_put_string(l->o->b, key, klen);
	l->first = false;
}

/* 43<ack>[null,null,[<every other registered address>]] */
static void finalize(struct router *r, struct rworker *w, const char *ma, size_t n, uint64_t ack)
{
	if (!register_addr(r, w, ma, n)) {
		wsstar_stats.join_errors++;
		return wsstar_ack_error(r, w, ack, "Too many addresses");
	}
	wsstar_stats.joins++;
	tell(r, w, WSSTAR_OP_JOINED, ma, n);
	struct sio_out o;
	buf_reset(&text);
	sio_out_ack(&o, &text, ack, 0);
	sio_out_null(&o);
	sio_out_null(&o);
	struct list_others l = {&o, ma, n, true};
	sio_out_raw(&o, "[", 1);
	hmap_each(&peers, list_one, &l);
	buf_append(&text, "]", 1);
	if (sio_out_end(&o) == 0)
		wsstar_text(r, w, &text);
}

/* ---- the join challenge ---- */

/* Two random version-4 UUIDs back to back, as the reference's nonce. */
static void new_nonce(char out[72])
{
	uint8_t raw[32];
	randombytes_buf(raw, sizeof raw);
	char *p = out;
	for (int u = 0; u < 2; u++) {
		uint8_t *b = raw + 16 * u;
		b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
		b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
		for (int i = 0; i < 16; i++) {
			if (i == 4 || i == 6 || i == 8 || i == 10)
				*p++ = '-';
			static const char hex[] = "0123456789abcdef";
			*p++ = hex[b[i] >> 4];
			*p++ = hex[b[i] & 15];
		}
	}
}

static void challenge_free(struct challenge *c)
{
	p2p_pubkey_free(&c->key);
	free(c);
}

/* First step: the key must be the one of the id in the address; answers a nonce. */
static void join_key(struct router *r, struct rworker *w, const char *ma, size_t n, const char *data, size_t dn,
		     uint64_t ack)
{
	struct wsstar_peer *st = wsstar_peer_of(w);
	static uint8_t pb[P2P_MAX_PUBKEY];
	const char *id;
	size_t id_len;
	struct challenge *c = NULL;
	int len = p2p_hex_decode(data, dn, pb, sizeof pb);
	if (st->challenges.count >= WSSTAR_MAX_CHALLENGES) {
		wsstar_stats.join_errors++;
		return wsstar_ack_error(r, w, ack, "Too many challenges");
	}
	if (len < 0 || !p2p_claimed_id(ma, n, &id, &id_len) || !(c = calloc(1, sizeof *c)) ||
	    p2p_pubkey_decode(&c->key, pb, (size_t)len) != P2P_OK) {
		free(c);
		wsstar_stats.join_errors++;
		return wsstar_ack_error(r, w, ack, "Id is not matching");
	}
	if (p2p_check_id(&c->key, id, id_len) != P2P_OK) {
		challenge_free(c);
		wsstar_stats.join_errors++;
		return wsstar_ack_error(r, w, ack, "Id is not matching");
	}
	new_nonce(c->nonce);
	hmap_put(&st->challenges, ma, n, c, NULL);
	struct sio_out o;
	buf_reset(&text);
	sio_out_ack(&o, &text, ack, 0);
	sio_out_null(&o);
	sio_out_string(&o, c->nonce, sizeof c->nonce);
	if (sio_out_end(&o) == 0)
		wsstar_text(r, w, &text);
}

/* Second step: the signature of the nonce. The challenge stays (as in the
 * reference): a later join of the same address on this connection is
 * another signature of the same nonce. */
static void join_signature(struct router *r, struct rworker *w, struct challenge *c, const char *ma, size_t n,
			   const char *data, size_t dn, uint64_t ack)
{
	static uint8_t sig[P2P_MAX_SIG];
	int len = p2p_hex_decode(data, dn, sig, sizeof sig);
	int ok = len < 0 ? P2P_BAD_SIGNATURE
			 : p2p_verify(&c->key, (const uint8_t *)c->nonce, sizeof c->nonce, sig, (size_t)len);
	if (ok == 1)
		return finalize(r, w, ma, n, ack);
	wsstar_stats.join_errors++;
	wsstar_ack_error(r, w, ack, ok == 0 ? "Signature Invalid" : "Crypto error");
}

static bool valid_ma(const char *ma, size_t n)
{
	return n <= MA_MAX_LEN && utf8_valid((const uint8_t *)ma, n) && ma_valid(ma, n);
}

static bool get_ack(const struct envelope *e, uint64_t *ack)
{
	int64_t v;
	if (!mp_get_int(e->map, "ack", &v) || v < 0 || (uint64_t)v > SIO_MAX_ACK_ID)
		return false;
	*ack = (uint64_t)v;
	return true;
}

static void on_join(struct router *r, struct rworker *w, const struct envelope *e)
{
	const char *ma, *data;
	size_t n, dn;
	uint64_t ack;
	if (!mp_get_str(e->map, "ma", &ma, &n) || !valid_ma(ma, n) || !mp_get_str(e->map, "data", &data, &dn) ||
	    dn > WSSTAR_MAX_JOIN_DATA || !get_ack(e, &ack))
		return wsstar_refuse(r, w, "an invalid join");
	if (!wsstar_opt.no_strict_multiaddr && !ma_is_wsstar(ma, n)) {
		wsstar_stats.join_errors++;
		return wsstar_ack_error(r, w, ack, "Invalid multiaddr");
	}
	if (wsstar_opt.no_crypto_challenge)
		return finalize(r, w, ma, n, ack);
	if (dn == 0) {
		wsstar_stats.join_errors++;
		return wsstar_ack_error(r, w, ack, "Crypto Challenge required but no Id provided");
	}
	struct challenge *c = hmap_get(&wsstar_peer_of(w)->challenges, ma, n);
	if (c)
		join_signature(r, w, c, ma, n, data, dn, ack);
	else
		join_key(r, w, ma, n, data, dn, ack);
}

static void on_leave(struct router *r, struct rworker *w, const struct envelope *e)
{
	const char *ma;
	size_t n;
	if (!mp_get_str(e->map, "ma", &ma, &n) || !valid_ma(ma, n))
		return wsstar_refuse(r, w, "an invalid leave");
	if (hmap_get(&peers, ma, n) == w)
		unregister(r, w, ma, n, true);
}

static void on_dial(struct router *r, struct rworker *w, const struct envelope *e)
{
	const char *from, *to, *id;
	size_t fn, tn, idn;
	uint64_t ack;
	if (!mp_get_str(e->map, "from", &from, &fn) || !valid_ma(from, fn) || !mp_get_str(e->map, "to", &to, &tn) ||
	    !valid_ma(to, tn) || !mp_get_str(e->map, "id", &id, &idn) || idn == 0 || idn > WSSTAR_MAX_DIAL_ID ||
	    !utf8_valid((const uint8_t *)id, idn) || !get_ack(e, &ack))
		return wsstar_refuse(r, w, "an invalid dial");
	if (hmap_get(&peers, from, fn) != w) {
		wsstar_stats.dial_errors++;
		return wsstar_ack_error(r, w, ack, "Not authorized for this address");
	}
	struct rworker *listener = hmap_get(&peers, to, tn);
	if (!listener) {
		wsstar_stats.dial_errors++;
		return wsstar_ack_error(r, w, ack, "Peer not found");
	}
	relay_open(r, w, listener, id, idn, from, fn, ack);
}

/* After a router restart: the addresses the connection held, unless someone took one meanwhile. */
static void on_restore(struct router *r, struct rworker *w, const struct envelope *e)
{
	const msgpack_object *l = mp_get(e->map, "l");
	if (!l || l->type != MSGPACK_OBJECT_ARRAY || l->via.array.size > WSSTAR_MAX_ADDRS)
		return wsstar_refuse(r, w, "an invalid restore");
	for (uint32_t i = 0; i < l->via.array.size; i++) {
		const msgpack_object *m = &l->via.array.ptr[i];
		if (m->type != MSGPACK_OBJECT_STR || !valid_ma(m->via.str.ptr, m->via.str.size))
			return wsstar_refuse(r, w, "an invalid restore");
		const char *ma = m->via.str.ptr;
		size_t n = m->via.str.size;
		struct rworker *holder = hmap_get(&peers, ma, n);
		if (holder && holder != w)
			tell(r, w, WSSTAR_OP_LEFT, ma, n);
		else if (!register_addr(r, w, ma, n))
			tell(r, w, WSSTAR_OP_LEFT, ma, n);
	}
}

static void wsstar_envelope(struct router *r, struct rworker *w, const struct envelope *e)
{
	struct wsstar_peer *st = wsstar_peer_of(w);
	if (st->refused)
		return;
	if (env_op_is(e, WSSTAR_OP_JOIN))
		on_join(r, w, e);
	else if (env_op_is(e, WSSTAR_OP_LEAVE))
		on_leave(r, w, e);
	else if (env_op_is(e, WSSTAR_OP_DIAL))
		on_dial(r, w, e);
	else if (env_op_is(e, WSSTAR_OP_RESTORE))
		on_restore(r, w, e);
	else
		relay_envelope(r, w, e);
}

/* ---- departures ---- */

struct gone {
	struct router *r;
	struct rworker *w;
};

static void drop_own(void *arg, const void *key, size_t klen, void *value)
{
	(void)value;
	struct gone *g = arg;
	/* only entries that still point to this connection */
	if (hmap_get(&peers, key, klen) == g->w)
		hmap_del(&peers, key, klen);
}

static void drop_challenge(void *arg, const void *key, size_t klen, void *value)
{
	(void)arg;
	(void)key;
	(void)klen;
	challenge_free(value);
}

static void wsstar_gone(struct router *r, struct rworker *w)
{
	struct wsstar_peer *st = wsstar_peer_of(w);
	struct gone g = {r, w};
	hmap_each(&st->own, drop_own, &g);
	if (st->own.count)
		gen++;
	hmap_del(&members, &w, sizeof w);
	hmap_each(&st->challenges, drop_challenge, NULL);
	relay_gone(r, w);
	hmap_free(&st->own);
	hmap_free(&st->challenges);
	hmap_free(&st->dials);
	st->ready = false;
}

/* ---- announcements ---- */

static void list_all(void *arg, const void *key, size_t klen, void *value)
{
	(void)value;
	mp_str(arg, key, klen);
}

struct round {
	struct router *r;
	struct mp_out full; /* the announcement with the list, packed once */
	struct mp_out bare; /* the one without (the worker has this generation) */
};

static void announce_worker(void *arg, const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	struct round *rd = arg;
	struct rworker *w = value;
	struct wsstar_peer *st = wsstar_peer_of(w);
	const struct mp_out *o = st->gen_sent == gen ? &rd->bare : &rd->full;
	st->gen_sent = gen;
	router_send(rd->r, w, o->sb.data, o->sb.size);
	wsstar_stats.announce_envelopes++;
}

/*
 * One round: every worker owning addresses gets one envelope, and its
 * worker writes the ws-peer messages (every other address, a copy per
 * address it owns). The list goes only to workers that do not have this
 * generation of it, so a quiet round costs the router one small envelope
 * per member; a round after changes costs one copy of the list per member.
 */
static int64_t wsstar_tick(struct router *r, int64_t now)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	struct round rd = {.r = r};
	mp_out_init(&rd.full);
	mp_out_init(&rd.bare);
	env_begin(&rd.full.pk, WSSTAR_PROTO, WSSTAR_OP_ANNOUNCE, 2);
	mp_kv_int(&rd.full.pk, "gen", (int64_t)(gen & INT64_MAX));
	mp_cstr(&rd.full.pk, "l");
	msgpack_pack_array(&rd.full.pk, (uint32_t)peers.count);
	hmap_each(&peers, list_all, &rd.full.pk);
	env_begin(&rd.bare.pk, WSSTAR_PROTO, WSSTAR_OP_ANNOUNCE, 1);
	mp_kv_int(&rd.bare.pk, "gen", (int64_t)(gen & INT64_MAX));
	if (members.count)
		hmap_each(&members, announce_worker, &rd);
	mp_out_free(&rd.full);
	mp_out_free(&rd.bare);
	wsstar_stats.announce_rounds++;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	wsstar_stats.announce_last_us =
		(uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
	return now + wsstar_opt.announce_interval_ms;
}

/* ---- life ---- */

static int wsstar_init(struct router *r)
{
	(void)r;
	/* a generation the workers of an earlier router cannot hold */
	randombytes_buf(&gen, sizeof gen);
	gen = (gen & 0x7fffffff00000000ull) | 1;
	return hmap_init(&peers) < 0 || hmap_init(&members) < 0 ? -1 : 0;
}

static void wsstar_fini(struct router *r)
{
	(void)r;
	hmap_free(&peers);
	hmap_free(&members);
	buf_free(&text);
	relay_fini();
}

static void metric(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	fprintf(f, "# HELP switchboard_wsstar_%s %s\n# TYPE switchboard_wsstar_%s %s\nswitchboard_wsstar_%s %llu\n",
		name, help, name, type, name, (unsigned long long)v);
}

static void wsstar_metrics(FILE *f)
{
	const struct wsstar_stats *s = &wsstar_stats;
	metric(f, "peers", "gauge", "Addresses registered now.", peers.count);
	metric(f, "joins_total", "counter", "Successful ss-join registrations.", s->joins);
	metric(f, "join_errors_total", "counter", "ss-join answered with an error.", s->join_errors);
	metric(f, "dials_total", "counter", "ss-dial passed on to a listener.", s->dials);
	metric(f, "dial_errors_total", "counter", "ss-dial answered with an error.", s->dial_errors);
	metric(f, "relay_bytes_total", "counter", "Stream bytes relayed.", s->relay_bytes);
	metric(f, "relay_chunks_total", "counter", "Stream chunks relayed.", s->relay_chunks);
	metric(f, "relay_overflows_total", "counter", "Dials ended because a relay bound was reached.",
	       s->relay_overflows);
	metric(f, "relay_disconnect_ends_total", "counter", "Dials ended because a peer disconnected.",
	       s->relay_ended_by_disconnect);
	metric(f, "announce_rounds_total", "counter", "Announcement rounds.", s->announce_rounds);
	metric(f, "announce_envelopes_total", "counter", "Announcement envelopes sent to workers.",
	       s->announce_envelopes);
	metric(f, "announce_last_microseconds", "gauge", "Router CPU time of the last announcement round.",
	       s->announce_last_us);
}

const struct proto_router wsstar_router = {
	.name = WSSTAR_PROTO,
	.state_size = sizeof(struct wsstar_peer),
	.init = wsstar_init,
	.on_envelope = wsstar_envelope,
	.on_worker_gone = wsstar_gone,
	.fini = wsstar_fini,
	.metrics = wsstar_metrics,
	.tick = wsstar_tick,
};
