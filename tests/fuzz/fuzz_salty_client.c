/*
 * The SaltyRTC client's packet decoder (proto/saltyrtc/client*.c). The
 * first byte picks the role and whether the server key is pinned; the rest
 * is records: a kind byte, a 2-byte big-endian length, that many bytes.
 *   'R' the bytes as a raw packet from the server;
 *   'S' the bytes as a server message, sealed and numbered correctly
 *       (plain while the client waits for server-hello);
 *   'H' a correct server message picked by the first byte (server-hello,
 *       server-auth, new-responder/new-initiator, disconnected, send-error),
 *       the second byte an id;
 *   'P' the bytes as a message from the peer, correctly numbered, sealed
 *       with the token, permanent or session keys (first byte);
 *   'K' the correct next peer handshake message (token, key, auth);
 *   'T' the bytes as a task message to send; 'C' close;
 *   'J' the bytes as a line of stdin for switchboard-salty: JSON to
 *       MessagePack (client_json.c), which must unpack and print as JSON
 *       again; every task message received is printed as JSON too.
 * So fuzzed MessagePack reaches every handler behind the crypto. Random
 * bytes are deterministic (a fixed-seed libsodium generator). The client
 * must never crash or leak, and once it has closed it takes nothing more.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/mp.h"
#include "../../proto/saltyrtc/client_int.h"
#include "../../proto/saltyrtc/client_json.h"

static uint64_t rng_counter;
static const char *rng_name(void) { return "fuzz"; }
static uint32_t rng_random(void)
{
	uint32_t v;
	uint8_t seed[randombytes_SEEDBYTES] = {0};
	memcpy(seed, &rng_counter, sizeof rng_counter);
	rng_counter++;
	randombytes_buf_deterministic(&v, sizeof v, seed);
	return v;
}
static void rng_buf(void *p, size_t n)
{
	uint8_t seed[randombytes_SEEDBYTES] = {0};
	memcpy(seed, &rng_counter, sizeof rng_counter);
	rng_counter++;
	randombytes_buf_deterministic(p, n, seed);
}
static struct randombytes_implementation rng = {
	.implementation_name = rng_name, .random = rng_random, .buf = rng_buf};

/* The other side: server and peer. */
struct h {
	struct saltyc_client *c;
	bool closed;
	uint8_t s_pk[32], s_sk[32], sp_pk[32], sp_sk[32], s_cookie[16];
	uint64_t s_csn;
	uint8_t p_pk[32], p_sk[32], ps_pk[32], ps_sk[32], p_cookie[16], token[32];
	uint64_t p_csn;
	uint8_t cookie_to_srv[16], cookie_to_peer[16], sess_of_client[32];
	bool have_sess;
	uint8_t addr, peer_addr;
};

static int h_send(void *ctx, const uint8_t *p, size_t n)
{
	struct h *h = ctx;
	if (n < 24)
		abort();
	memcpy(p[17] == 0 ? h->cookie_to_srv : h->cookie_to_peer, p, 16);
	return 0;
}

/* MessagePack that must unpack and print as JSON (what the CLI does with it). */
static void print_json(const uint8_t *p, size_t n)
{
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	size_t off = 0;
	struct buf b = {0};
	if (msgpack_unpack_next(&up, (const char *)p, n, &off) != MSGPACK_UNPACK_SUCCESS ||
	    saltyc_mp_to_json(&up.data, &b) < 0)
		abort();
	buf_free(&b);
	msgpack_unpacked_destroy(&up);
}

static void json_line(const uint8_t *d, size_t n)
{
	struct mp_out o;
	mp_out_init(&o);
	const char *why;
	if (saltyc_json_to_mp((const char *)d, n, &o.pk, &why) == 0)
		print_json((const uint8_t *)o.sb.data, o.sb.size);
	else if (!why)
		abort(); /* a refusal says why */
	mp_out_free(&o);
}

static void h_event(void *ctx, const struct saltyc_event *ev)
{
	struct h *h = ctx;
	if (h->closed)
		abort(); /* nothing after CLOSE */
	if (ev->type == SALTYC_EV_CLOSE)
		h->closed = true;
	if (ev->type == SALTYC_EV_SERVER_READY)
		h->addr = (uint8_t)ev->a;
	if (ev->type == SALTYC_EV_MESSAGE)
		print_json(ev->data, ev->len);
}

static void nonce(uint8_t out[24], const uint8_t cookie[16], uint8_t src, uint8_t dst, uint64_t *csn)
{
	memcpy(out, cookie, 16);
	out[16] = src, out[17] = dst;
	for (int i = 0; i < 6; i++)
		out[18 + i] = (uint8_t)(*csn >> (8 * (5 - i)));
	(*csn)++;
}

/* seal: 0 plain, 1 server box, 2 token, 3 peer permanent, 4 peer session. */
static void deliver(struct h *h, const uint8_t *m, size_t n, int seal, uint8_t src)
{
	uint8_t *pkt = malloc(24 + n + 16);
	if (src == 0)
		nonce(pkt, h->s_cookie, 0, h->addr, &h->s_csn);
	else
		nonce(pkt, h->p_cookie, src, h->addr, &h->p_csn);
	uint8_t k[32];
	int rc = 0;
	size_t len = n + (seal ? 16 : 0);
	if (seal == 0)
		memcpy(pkt + 24, m, n);
	else if (seal == 1)
		rc = crypto_box_easy(pkt + 24, m, n, pkt, h->c->pk, h->s_sk);
	else if (seal == 2)
		rc = crypto_secretbox_easy(pkt + 24, m, n, pkt, h->token);
	else if (seal == 3)
		rc = crypto_box_easy(pkt + 24, m, n, pkt, h->c->pk, h->p_sk);
	else {
		const uint8_t *cs = h->c->peers[src].sess_pk;
		rc = crypto_box_beforenm(k, cs, h->ps_sk);
		if (rc == 0)
			rc = crypto_box_easy_afternm(pkt + 24, m, n, pkt, k);
	}
	if (rc == 0 && saltyc_receive(h->c, pkt, 24 + len) == 0 && h->closed)
		abort(); /* closed, yet the packet was taken */
	free(pkt);
}

static void server_helper(struct h *h, const uint8_t *d, size_t n)
{
	struct mp_out o;
	mp_out_init(&o);
	msgpack_packer *pk = &o.pk;
	int kind = n ? d[0] % 6 : 0, id = n > 1 ? d[1] : 2;
	bool ini = h->c->cfg.role == SALTYC_INITIATOR;
	if (kind == 0) {
		msgpack_pack_map(pk, 2);
		mp_kv_cstr(pk, "type", "server-hello");
		mp_kv_bin(pk, "key", h->s_pk, 32);
		deliver(h, (uint8_t *)o.sb.data, o.sb.size, 0, 0);
	} else if (kind == 1) {
		h->addr = ini ? 1 : (uint8_t)(id < 2 ? 2 : id);
		uint8_t nc[24], keys[64], sk[80];
		uint64_t csn = h->s_csn;
		nonce(nc, h->s_cookie, 0, h->addr, &csn);
		memcpy(keys, h->s_pk, 32);
		memcpy(keys + 32, h->c->pk, 32);
		if (crypto_box_easy(sk, keys, 64, nc, h->c->pk, h->sp_sk) != 0)
			abort();
		msgpack_pack_map(pk, 4);
		mp_kv_cstr(pk, "type", "server-auth");
		mp_kv_bin(pk, "your_cookie", h->cookie_to_srv, 16);
		mp_kv_bin(pk, "signed_keys", sk, 80);
		if (ini) {
			mp_cstr(pk, "responders");
			msgpack_pack_array(pk, 1);
			msgpack_pack_int(pk, h->peer_addr);
		} else
			mp_kv_bool(pk, "initiator_connected", true);
		deliver(h, (uint8_t *)o.sb.data, o.sb.size, 1, 0);
	} else {
		static const char *types[] = {"new-responder", "new-initiator", "disconnected", "send-error"};
		msgpack_pack_map(pk, 2);
		mp_kv_cstr(pk, "type", types[kind - 2]);
		if (kind == 5) {
			uint8_t sid[8] = {h->addr, h->peer_addr, 0, 0, 0, 0, 0, 1};
			mp_kv_bin(pk, "id", sid, 8);
		} else
			mp_kv_int(pk, "id", kind == 2 || kind == 4 ? id : 0);
		deliver(h, (uint8_t *)o.sb.data, o.sb.size, 1, 0);
	}
	mp_out_free(&o);
}

/* The correct next handshake message from the peer, by the client's state. */
static void peer_helper(struct h *h)
{
	struct saltyc_peer *p = &h->c->peers[h->peer_addr];
	struct mp_out o;
	mp_out_init(&o);
	msgpack_packer *pk = &o.pk;
	bool ini = h->c->cfg.role == SALTYC_INITIATOR;
	int seal;
	if (ini && p->hs == HS_NEW) {
		msgpack_pack_map(pk, 2);
		mp_kv_cstr(pk, "type", "token");
		mp_kv_bin(pk, "key", h->p_pk, 32);
		seal = 2;
	} else if ((ini && p->hs == HS_TOKEN) || (!ini && p->hs == HS_KEY_SENT)) {
		msgpack_pack_map(pk, 2);
		mp_kv_cstr(pk, "type", "key");
		mp_kv_bin(pk, "key", h->ps_pk, 32);
		seal = 3;
	} else {
		msgpack_pack_map(pk, 4);
		mp_kv_cstr(pk, "type", "auth");
		mp_kv_bin(pk, "your_cookie", h->cookie_to_peer, 16);
		if (ini) {
			mp_cstr(pk, "tasks");
			msgpack_pack_array(pk, 1);
		} else
			mp_cstr(pk, "task");
		mp_cstr(pk, SALTYC_TASK);
		mp_cstr(pk, "data");
		msgpack_pack_map(pk, 1);
		mp_cstr(pk, SALTYC_TASK);
		msgpack_pack_nil(pk);
		seal = 4;
	}
	deliver(h, (uint8_t *)o.sb.data, o.sb.size, seal, h->peer_addr);
	mp_out_free(&o);
}

static void record(struct h *h, uint8_t kind, const uint8_t *d, size_t n)
{
	const char *why;
	bool srv_plain = saltyc_phase(h->c) == SALTYC_PH_SERVER_HELLO;
	switch (kind) {
	case 'R':
		if (saltyc_receive(h->c, d, n) == 0 && h->closed)
			abort();
		break;
	case 'S':
		deliver(h, d, n, srv_plain ? 0 : 1, 0);
		break;
	case 'H':
		server_helper(h, d, n);
		break;
	case 'P':
		if (n)
			deliver(h, d + 1, n - 1, 2 + d[0] % 3, h->peer_addr);
		break;
	case 'K':
		peer_helper(h);
		break;
	case 'T':
		if (saltyc_send_task(h->c, d, n, &why) == 0 && saltyc_phase(h->c) != SALTYC_PH_TASK)
			abort();
		break;
	case 'C':
		saltyc_close(h->c, 1001);
		break;
	case 'J':
		json_line(d, n);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		randombytes_set_implementation(&rng);
		if (sodium_init() < 0)
			abort();
		init = true;
	}
	rng_counter = 0;
	if (size < 1)
		return 0;
	struct h h = {0};
	crypto_box_keypair(h.s_pk, h.s_sk);
	crypto_box_keypair(h.sp_pk, h.sp_sk);
	crypto_box_keypair(h.p_pk, h.p_sk);
	crypto_box_keypair(h.ps_pk, h.ps_sk);
	randombytes_buf(h.s_cookie, 16);
	randombytes_buf(h.p_cookie, 16);
	randombytes_buf(h.token, 32);
	h.s_csn = 0xfffffffe;
	h.p_csn = 7;
	struct saltyc_config cfg = {.role = data[0] & 1 ? SALTYC_INITIATOR : SALTYC_RESPONDER, .has_token = true};
	randombytes_buf(cfg.secret_key, 32);
	memcpy(cfg.token, h.token, 32);
	memcpy(cfg.peer_key, h.p_pk, 32); /* the responder's path: our peer is the initiator */
	if (data[0] & 2) {
		cfg.has_server_key = true;
		memcpy(cfg.server_key, h.sp_pk, 32);
	}
	h.peer_addr = cfg.role == SALTYC_INITIATOR ? 2 : 1;
	struct saltyc_io io = {.ctx = &h, .send = h_send, .event = h_event};
	h.c = saltyc_new(&cfg, &io);
	size_t i = 1;
	while (i + 3 <= size) {
		uint8_t kind = data[i];
		size_t n = (size_t)data[i + 1] << 8 | data[i + 2];
		i += 3;
		if (n > size - i)
			n = size - i;
		record(&h, kind, data + i, n);
		i += n;
	}
	saltyc_free(h.c);
	return 0;
}
