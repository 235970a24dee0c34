/*
 * SaltyRTC signalling, worker half: one client connection. Holds the
 * connection's session key pair, its cookie and CSN state, does the trial
 * decryption that tells an initiator from a responder, checks every packet
 * (sheet §3.2) and hands relays, drops and the authentication to the
 * router, which owns paths, slots and the server's permanent keys (it
 * computes signed_keys for us). Server messages to the client are
 * encrypted here, in the order the router's envelopes arrive, so that one
 * FIFO carries both them and the relayed packets.
 */
#include <sodium.h>
#include <string.h>

#include "../../common/clock.h"
#include "../../common/hex.h"
#include "../../common/log.h"
#include "../proto.h"
#include "options.h"
#include "packet.h"
#include "salty.h"

enum salty_phase {
	PH_HELLO,     /* server-hello sent: client-auth (initiator) or client-hello next */
	PH_HELLO_R,   /* client-hello taken: client-auth from the responder next */
	PH_AUTH_WAIT, /* client-auth taken: the router decides */
	PH_AUTHED,    /* server-auth sent: relay */
	PH_CLOSED,
};

struct salty_state {
	bool path_ok, sub_ok;
	uint8_t path[SALTY_KEY];
	enum salty_phase phase;
	int role; /* SALTY_INITIATOR or SALTY_FIRST_RESPONDER (any responder) */
	int id;   /* our address once authenticated */
	uint8_t spk[SALTY_KEY], ssk[SALTY_KEY]; /* this connection's session key pair */
	uint8_t client_pk[SALTY_KEY];
	uint8_t shared[crypto_box_BEFORENMBYTES]; /* ssk with client_pk */
	uint8_t path_shared[crypto_box_BEFORENMBYTES]; /* ssk with the path key: trial decryption */
	uint8_t cookie_out[SALTY_COOKIE];
	uint64_t csn_out;
	struct salty_incoming in;
	bool has_yk;
	uint8_t yk[SALTY_KEY];
	int64_t ping_interval_ms; /* 0: we do not ping */
	int64_t ping_sent;        /* 0: no ping waiting for its pong */
};

/* The largest server message: server-auth with 254 responder ids, boxed. */
#define SERVER_PACKET_MAX 2048
#define SERVER_PLAIN_MAX (SERVER_PACKET_MAX - SALTY_NONCE - crypto_box_MACBYTES)

/* One connection per process: one scratch packer for server messages, into a
 * fixed buffer rather than a msgpack sbuffer, whose first write mallocs 8 KiB
 * that an idle worker would keep resident. */
static struct {
	uint8_t data[SERVER_PLAIN_MAX];
	size_t len;
	bool over; /* a message did not fit: never sent */
	msgpack_packer pk;
} out;

static int out_write(void *data, const char *buf, size_t len)
{
	(void)data;
	if (len > sizeof out.data - out.len) {
		out.over = true;
		return -1;
	}
	memcpy(out.data + out.len, buf, len);
	out.len += len;
	return 0;
}

static int salty_setup(const struct worker_config *cfg)
{
	(void)cfg;
	/* before the sandbox: libsodium may open /dev/urandom at start */
	if (sodium_init() < 0) {
		log_error("saltyrtc: libsodium does not start");
		return -1;
	}
	return 0;
}

/* "/" and 64 hex digits, no query. */
static bool path_key(const struct http_request *req, uint8_t key[SALTY_KEY])
{
	if (req->path_len != 1 + 2 * SALTY_KEY || req->path[0] != '/' || req->query)
		return false;
	for (int i = 0; i < SALTY_KEY; i++) {
		int hi = hex_digit(req->path[1 + 2 * i]), lo = hex_digit(req->path[2 + 2 * i]);
		if (hi < 0 || lo < 0)
			return false;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* Ours: a path key, or any path offered our subprotocol (then closed 3001). */
static bool salty_match(const struct http_request *req)
{
	uint8_t key[SALTY_KEY];
	return path_key(req, key) || http_header_has_token(req, "Sec-WebSocket-Protocol", SALTY_SUBPROTOCOL);
}

static int salty_accept(struct session *s, const struct http_request *req, const char **why)
{
	(void)why;
	struct salty_state *st = session_state(s);
	st->path_ok = path_key(req, st->path);
	st->sub_ok = http_header_has_token(req, "Sec-WebSocket-Protocol", SALTY_SUBPROTOCOL);
	return 0; /* refusals come after the upgrade, as close codes (sheet §2) */
}

static void fail(struct session *s, uint16_t code, const char *why)
{
	struct salty_state *st = session_state(s);
	if (st->phase == PH_CLOSED)
		return;
	log_info("saltyrtc: closing %u: %s", code, why);
	st->phase = PH_CLOSED;
	session_set_timer(s, -1);
	session_close(s, code, "");
}

/* Sends the map packed in `out` as a server message, boxed unless plain. */
static void send_server(struct session *s, bool plain)
{
	struct salty_state *st = session_state(s);
	if (st->csn_out > SALTY_CSN_MAX)
		return fail(s, SALTY_CLOSE_PROTOCOL, "our CSN is exhausted");
	if (out.over)
		return fail(s, SALTY_CLOSE_INTERNAL, "a server message over its bound");
	uint8_t nonce[SALTY_NONCE];
	salty_nonce_write(nonce, st->cookie_out, 0, (uint8_t)st->id, st->csn_out++);
	size_t n = out.len, total = SALTY_NONCE + n + (plain ? 0 : crypto_box_MACBYTES);
	uint8_t p[SERVER_PACKET_MAX];
	memcpy(p, nonce, SALTY_NONCE);
	if (plain)
		memcpy(p + SALTY_NONCE, out.data, n);
	else
		crypto_box_easy_afternm(p + SALTY_NONCE, out.data, n, nonce, st->shared);
	if (session_send_binary(s, p, total) < 0)
		log_debug("saltyrtc: a server message after the close began; not sent");
}

static msgpack_packer *begin(const char *type, uint32_t nfields)
{
	out.len = 0;
	out.over = false;
	msgpack_pack_map(&out.pk, nfields + 1);
	mp_kv_cstr(&out.pk, "type", type);
	return &out.pk;
}

static void salty_open(struct session *s)
{
	struct salty_state *st = session_state(s);
	if (!st->sub_ok)
		return fail(s, 1002, "no shared subprotocol");
	if (!st->path_ok)
		return fail(s, SALTY_CLOSE_PROTOCOL, "the path is not 64 hex digits");
	msgpack_packer_init(&out.pk, NULL, out_write);
	crypto_box_keypair(st->spk, st->ssk);
	randombytes_buf(st->cookie_out, sizeof st->cookie_out);
	st->csn_out = randombytes_random(); /* a random 32-bit start, overflow 0 */
	if (crypto_box_beforenm(st->path_shared, st->path, st->ssk) != 0)
		return fail(s, SALTY_CLOSE_PROTOCOL, "the path is no usable public key");
	st->phase = PH_HELLO;
	msgpack_packer *pk = begin("server-hello", 1);
	mp_kv_bin(pk, "key", st->spk, SALTY_KEY);
	send_server(s, true);
	session_set_timer(s, salty_opt.handshake_timeout_ms);
}

static void send_auth(struct session *s)
{
	struct salty_state *st = session_state(s);
	msgpack_packer *pk = session_bus(s);
	env_begin(pk, SALTY_PROTO, SALTY_OP_AUTH, st->has_yk ? 7 : 6);
	mp_kv_int(pk, "role", st->role);
	mp_kv_bin(pk, "path", st->path, SALTY_KEY);
	mp_kv_bin(pk, "key", st->client_pk, SALTY_KEY);
	mp_kv_bin(pk, "spk", st->spk, SALTY_KEY);
	mp_kv_bin(pk, "cookie", st->cookie_out, SALTY_COOKIE);
	mp_kv_int(pk, "csn", (int64_t)st->csn_out);
	if (st->has_yk)
		mp_kv_bin(pk, "yk", st->yk, SALTY_KEY);
}

static void on_client_auth(struct session *s, const struct salty_msg *m)
{
	struct salty_state *st = session_state(s);
	if (sodium_memcmp(m->your_cookie, st->cookie_out, SALTY_COOKIE) != 0)
		return fail(s, SALTY_CLOSE_PROTOCOL, "client-auth: your_cookie is not ours");
	/* we serve one subprotocol: the choice is ours iff the client offered it */
	if (!m->offers_v1)
		return fail(s, SALTY_CLOSE_PROTOCOL, "client-auth: subprotocol downgrade");
	st->ping_interval_ms = m->ping_interval * 1000;
	st->has_yk = m->has_your_key;
	memcpy(st->yk, m->your_key, SALTY_KEY);
	st->phase = PH_AUTH_WAIT;
	send_auth(s);
}

/* Decrypts a server-bound box into plain (at least len bytes); its length, or -1. */
static long open_box(const uint8_t *shared, const uint8_t *pkt_p, size_t len, uint8_t *plain)
{
	size_t n = len - SALTY_NONCE;
	if (n < crypto_box_MACBYTES || n - crypto_box_MACBYTES > SALTY_MAX_SERVER_MESSAGE)
		return -1;
	if (crypto_box_open_easy_afternm(plain, pkt_p + SALTY_NONCE, n, pkt_p, shared) != 0)
		return -1;
	return (long)(n - crypto_box_MACBYTES);
}

/* The first message: a client-auth boxed with the path key, or a plain client-hello. */
static void on_first(struct session *s, const uint8_t *p, size_t len)
{
	struct salty_state *st = session_state(s);
	uint8_t plain[SALTY_MAX_SERVER_MESSAGE];
	struct salty_msg m;
	long n = open_box(st->path_shared, p, len, plain);
	if (n >= 0) {
		if (salty_msg_decode(&m, plain, (size_t)n) < 0 || m.type != SALTY_CLIENT_AUTH)
			return fail(s, SALTY_CLOSE_PROTOCOL, "initiator: expected a valid client-auth");
		st->role = SALTY_INITIATOR;
		memcpy(st->client_pk, st->path, SALTY_KEY);
		memcpy(st->shared, st->path_shared, sizeof st->shared);
		return on_client_auth(s, &m);
	}
	if (salty_msg_decode(&m, p + SALTY_NONCE, len - SALTY_NONCE) < 0 || m.type != SALTY_CLIENT_HELLO)
		return fail(s, SALTY_CLOSE_PROTOCOL, "expected a client-hello or a client-auth");
	st->role = SALTY_FIRST_RESPONDER;
	memcpy(st->client_pk, m.key, SALTY_KEY);
	if (crypto_box_beforenm(st->shared, st->client_pk, st->ssk) != 0)
		return fail(s, SALTY_CLOSE_PROTOCOL, "client-hello: unusable key");
	st->phase = PH_HELLO_R;
}

static void on_responder_auth(struct session *s, const uint8_t *p, size_t len)
{
	struct salty_state *st = session_state(s);
	uint8_t plain[SALTY_MAX_SERVER_MESSAGE];
	struct salty_msg m;
	long n = open_box(st->shared, p, len, plain);
	if (n < 0 || salty_msg_decode(&m, plain, (size_t)n) < 0 || m.type != SALTY_CLIENT_AUTH)
		return fail(s, SALTY_CLOSE_PROTOCOL, "responder: expected a valid client-auth");
	on_client_auth(s, &m);
}

static void on_drop(struct session *s, const uint8_t *p, size_t len)
{
	struct salty_state *st = session_state(s);
	uint8_t plain[SALTY_MAX_SERVER_MESSAGE];
	struct salty_msg m;
	long n = open_box(st->shared, p, len, plain);
	if (n < 0 || salty_msg_decode(&m, plain, (size_t)n) < 0 || m.type != SALTY_DROP_RESPONDER ||
	    st->role != SALTY_INITIATOR)
		return fail(s, SALTY_CLOSE_PROTOCOL, "expected a valid drop-responder from the initiator");
	msgpack_packer *pk = session_bus(s);
	env_begin(pk, SALTY_PROTO, SALTY_OP_DROP, 2);
	mp_kv_int(pk, "id", m.id);
	mp_kv_int(pk, "reason", m.reason ? m.reason : SALTY_CLOSE_DROPPED);
}

static void on_relay(struct session *s, const struct salty_nonce *n, const uint8_t *p, size_t len)
{
	struct salty_state *st = session_state(s);
	bool ok = st->role == SALTY_INITIATOR ? n->dst >= SALTY_FIRST_RESPONDER : n->dst == SALTY_INITIATOR;
	if (!ok)
		return fail(s, SALTY_CLOSE_PROTOCOL, "relay to an address this role may not reach");
	msgpack_packer *pk = session_bus(s);
	env_begin(pk, SALTY_PROTO, SALTY_OP_RELAY, 2);
	mp_kv_int(pk, "dst", n->dst);
	mp_kv_bin(pk, "d", p, len);
}

static void salty_message(struct session *s, uint8_t opcode, uint8_t *p, size_t len)
{
	struct salty_state *st = session_state(s);
	struct salty_nonce n;
	if (st->phase == PH_CLOSED)
		return;
	if (opcode != WS_BINARY)
		return fail(s, SALTY_CLOSE_PROTOCOL, "a text frame");
	if (salty_nonce_read(&n, p, len) < 0)
		return fail(s, SALTY_CLOSE_PROTOCOL, "a packet of 24 bytes or less");
	if (n.src != (st->phase == PH_AUTHED ? st->id : 0))
		return fail(s, SALTY_CLOSE_PROTOCOL, "bad source address");
	if (n.dst != 0) {
		if (st->phase != PH_AUTHED)
			return fail(s, SALTY_CLOSE_PROTOCOL, "bad destination before authentication");
		return on_relay(s, &n, p, len);
	}
	if (salty_incoming_check(&st->in, st->cookie_out, &n) < 0)
		return fail(s, SALTY_CLOSE_PROTOCOL, "bad cookie or combined sequence number");
	switch (st->phase) {
	case PH_HELLO:
		return on_first(s, p, len);
	case PH_HELLO_R:
		return on_responder_auth(s, p, len);
	case PH_AUTHED:
		return on_drop(s, p, len);
	default:
		return fail(s, SALTY_CLOSE_PROTOCOL, "a message while the server decides");
	}
}

static void start_keepalive(struct session *s)
{
	struct salty_state *st = session_state(s);
	session_set_timer(s, st->ping_interval_ms > 0 ? st->ping_interval_ms : -1);
}

/* The router's answer to our auth: send server-auth. */
static void on_authed(struct session *s, const struct envelope *e)
{
	struct salty_state *st = session_state(s);
	int64_t id;
	const uint8_t *sk = NULL;
	size_t skn = 0;
	if (st->phase != PH_AUTH_WAIT || !mp_get_int(e->map, "id", &id) ||
	    (st->role == SALTY_INITIATOR ? id != SALTY_INITIATOR
					 : id < SALTY_FIRST_RESPONDER || id > SALTY_LAST_RESPONDER))
		return fail(s, SALTY_CLOSE_INTERNAL, "the router's authed does not fit");
	bool has_sk = mp_get_bin(e->map, "sk", &sk, &skn) && skn == SALTY_SIGNED_KEYS;
	st->id = (int)id;
	st->phase = PH_AUTHED;
	msgpack_packer *pk = begin("server-auth", has_sk ? 3 : 2);
	mp_kv_bin(pk, "your_cookie", st->in.cookie, SALTY_COOKIE);
	if (has_sk)
		mp_kv_bin(pk, "signed_keys", sk, skn);
	if (st->role == SALTY_INITIATOR) {
		const msgpack_object *rs = mp_get(e->map, "rs");
		uint32_t k = rs && rs->type == MSGPACK_OBJECT_ARRAY ? rs->via.array.size : 0;
		mp_cstr(pk, "responders");
		msgpack_pack_array(pk, k);
		for (uint32_t i = 0; i < k; i++)
			msgpack_pack_uint64(pk, rs->via.array.ptr[i].via.u64 & 0xff);
	} else {
		bool ic = false;
		mp_get_bool(e->map, "ic", &ic);
		mp_kv_bool(pk, "initiator_connected", ic);
	}
	send_server(s, false);
	start_keepalive(s);
}

/* Server messages the router asks for, boxed here. */
static void salty_bus(struct session *s, const struct envelope *e)
{
	struct salty_state *st = session_state(s);
	int64_t id = 0;
	const uint8_t *b;
	size_t n;
	if (env_op_is(e, SALTY_OP_AUTHED))
		return on_authed(s, e);
	if (st->phase != PH_AUTHED)
		return;
	if (env_op_is(e, SALTY_OP_NEW_INITIATOR) && st->role != SALTY_INITIATOR) {
		begin("new-initiator", 0);
	} else if (env_op_is(e, SALTY_OP_NEW_RESPONDER) && st->role == SALTY_INITIATOR &&
		   mp_get_int(e->map, "id", &id) && id >= SALTY_FIRST_RESPONDER && id <= SALTY_LAST_RESPONDER) {
		mp_kv_int(begin("new-responder", 1), "id", id);
	} else if (env_op_is(e, SALTY_OP_DISCONNECTED) && mp_get_int(e->map, "id", &id) && id >= 1 && id <= 255) {
		mp_kv_int(begin("disconnected", 1), "id", id);
	} else if (env_op_is(e, SALTY_OP_SEND_ERROR) && mp_get_bin(e->map, "id", &b, &n) && n == 8) {
		mp_kv_bin(begin("send-error", 1), "id", b, n);
	} else {
		log_warn("saltyrtc: unexpected %.*s from the router", (int)e->op_len, e->op);
		return;
	}
	send_server(s, false);
}

/* Handshake deadline before server-auth; keep-alive by ping_interval after. */
static void salty_timer(struct session *s)
{
	struct salty_state *st = session_state(s);
	if (st->phase == PH_CLOSED)
		return;
	if (st->phase != PH_AUTHED)
		return fail(s, SALTY_CLOSE_TIMEOUT, "handshake not completed in time");
	if (st->ping_interval_ms <= 0)
		return;
	int64_t now = clock_ms();
	if (!st->ping_sent) {
		if (session_send_ping(s) < 0)
			return; /* closing already */
		st->ping_sent = now;
		return session_set_timer(s, salty_opt.pong_timeout_ms);
	}
	if (session_last_pong(s) < st->ping_sent)
		return fail(s, SALTY_CLOSE_TIMEOUT, "no pong in time");
	int64_t next = st->ping_sent + st->ping_interval_ms - now;
	st->ping_sent = 0;
	session_set_timer(s, next > 0 ? next : 0);
}

/* The bus (re)connected: an authenticated client takes its place back. */
static void salty_register(struct session *s)
{
	struct salty_state *st = session_state(s);
	/* the router restarted before it answered, or this is the first
	 * registration and the auth waits behind it: the router takes the
	 * first copy it gets and ignores a second */
	if (st->phase == PH_AUTH_WAIT)
		return send_auth(s);
	if (st->phase != PH_AUTHED)
		return;
	msgpack_packer *pk = session_bus(s);
	env_begin(pk, SALTY_PROTO, SALTY_OP_RESTORE, 4);
	mp_kv_int(pk, "role", st->role);
	mp_kv_bin(pk, "path", st->path, SALTY_KEY);
	mp_kv_bin(pk, "key", st->client_pk, SALTY_KEY);
	mp_kv_int(pk, "id", st->id);
}

static void salty_close(struct session *s)
{
	struct salty_state *st = session_state(s);
	sodium_memzero(st, sizeof *st);
	sodium_memzero(&out, sizeof out);
}

const struct proto_worker saltyrtc_worker = {
	.name = SALTY_PROTO,
	.setup = salty_setup,
	.match = salty_match,
	.accept = salty_accept,
	.subprotocol = SALTY_SUBPROTOCOL,
	.uses_bus = true,
	.state_size = sizeof(struct salty_state),
	.open = salty_open,
	.on_message = salty_message,
	.on_bus = salty_bus,
	.on_timer = salty_timer,
	.on_register = salty_register,
	.close = salty_close,
};
