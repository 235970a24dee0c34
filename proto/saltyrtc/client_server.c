/*
 * The SaltyRTC client's side of the server: server-hello, client-hello,
 * client-auth, server-auth (with the pinned key checked through
 * signed_keys), and the server's messages afterwards (new-initiator,
 * new-responder, send-error, disconnected), plus drop-responder.
 */
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

static int send_client_hello(struct saltyc_client *c)
{
	mp_out_reset(&c->out);
	msgpack_pack_map(&c->out.pk, 2);
	mp_kv_cstr(&c->out.pk, "type", "client-hello");
	mp_kv_bin(&c->out.pk, "key", c->pk, SALTYC_KEY_LEN);
	return saltyc_send_out(c, &c->srv, 0, SEAL_PLAIN, NULL);
}

static int send_client_auth(struct saltyc_client *c)
{
	mp_out_reset(&c->out);
	msgpack_packer *pk = &c->out.pk;
	msgpack_pack_map(pk, c->cfg.has_server_key ? 5 : 4);
	mp_kv_cstr(pk, "type", "client-auth");
	mp_kv_bin(pk, "your_cookie", c->srv.cookie_in, SALTYC_COOKIE_LEN);
	mp_cstr(pk, "subprotocols");
	msgpack_pack_array(pk, 1);
	mp_cstr(pk, SALTYC_SUBPROTOCOL);
	mp_kv_int(pk, "ping_interval", c->cfg.ping_interval);
	if (c->cfg.has_server_key)
		mp_kv_bin(pk, "your_key", c->cfg.server_key, SALTYC_KEY_LEN);
	return saltyc_send_out(c, &c->srv, 0, SEAL_SERVER, NULL);
}

static int on_server_hello(struct saltyc_client *c, const msgpack_object *m)
{
	const uint8_t *key = saltyc_get_key(m, "key");
	if (!saltyc_type_is(m, "server-hello") || !key)
		return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "expected server-hello with a 32-byte key");
	if (c->cfg.has_server_key && sodium_memcmp(key, c->cfg.server_key, SALTYC_KEY_LEN) == 0)
		return saltyc_fail(c, 3001, SALTYC_END_SERVER_KEY,
				  "server session key equals its permanent key");
	memcpy(c->srv_session_pk, key, SALTYC_KEY_LEN);
	if (crypto_box_beforenm(c->k_srv, key, c->cfg.secret_key) != 0)
		return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "unusable server session key");
	c->phase = SALTYC_PH_SERVER_AUTH;
	if (c->cfg.role == SALTYC_RESPONDER && send_client_hello(c) < 0)
		return -1;
	return send_client_auth(c);
}

/* signed_keys must open (own sk, server permanent pk, this nonce) to server session pk || our pk. */
static bool signed_keys_ok(struct saltyc_client *c, const msgpack_object *m, const uint8_t *nonce)
{
	const uint8_t *sk;
	size_t n;
	uint8_t plain[2 * SALTYC_KEY_LEN], expect[2 * SALTYC_KEY_LEN];
	if (!mp_get_bin(m, "signed_keys", &sk, &n) || n != sizeof plain + crypto_box_MACBYTES)
		return false;
	if (crypto_box_open_easy(plain, sk, n, nonce, c->cfg.server_key, c->cfg.secret_key) != 0)
		return false;
	memcpy(expect, c->srv_session_pk, SALTYC_KEY_LEN);
	memcpy(expect + SALTYC_KEY_LEN, c->pk, SALTYC_KEY_LEN);
	return sodium_memcmp(plain, expect, sizeof plain) == 0;
}

/* server-auth's role-specific part: the responders present / whether the initiator is. */
static int server_auth_peers(struct saltyc_client *c, const msgpack_object *m)
{
	if (c->cfg.role == SALTYC_RESPONDER) {
		bool ic;
		if (!mp_get_bool(m, "initiator_connected", &ic))
			return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "server-auth without initiator_connected");
		saltyc_peer_reset(c, 1, ic ? HS_NEW : HS_NONE);
		return 0;
	}
	const msgpack_object *r = mp_get(m, "responders");
	if (!r || r->type != MSGPACK_OBJECT_ARRAY)
		return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "server-auth without a responders array");
	for (uint32_t i = 0; i < r->via.array.size; i++) {
		const msgpack_object *o = &r->via.array.ptr[i];
		if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 < 2 || o->via.u64 > 255 ||
		    c->peers[o->via.u64].hs != HS_NONE)
			return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "server-auth lists a bad or repeated responder");
		saltyc_peer_reset(c, (uint8_t)o->via.u64, HS_NEW);
	}
	return 0;
}

static int on_server_auth(struct saltyc_client *c, const struct saltyc_nonce *nc, const msgpack_object *m)
{
	const uint8_t *p;
	size_t n;
	if (!saltyc_type_is(m, "server-auth"))
		return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "expected server-auth");
	bool ini = c->cfg.role == SALTYC_INITIATOR;
	if (ini ? nc->dst != 1 : nc->dst < 2)
		return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "server-auth assigns address %u", nc->dst);
	if (!mp_get_bin(m, "your_cookie", &p, &n) || n != SALTYC_COOKIE_LEN ||
	    sodium_memcmp(p, c->srv.cookie_out, SALTYC_COOKIE_LEN) != 0)
		return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "server-auth repeats a wrong cookie");
	if (c->cfg.has_server_key && !signed_keys_ok(c, m, nc->raw))
		return saltyc_fail(c, 3001, SALTYC_END_SERVER_KEY,
				  "server-auth: signed_keys do not verify with the pinned server key");
	c->addr = nc->dst;
	if (server_auth_peers(c, m) < 0)
		return -1;
	c->phase = SALTYC_PH_PEER;
	saltyc_emit(c, SALTYC_EV_SERVER_READY, c->addr, 0, NULL);
	return saltyc_peer_start(c);
}

int saltyc_drop_responder(struct saltyc_client *c, uint8_t id, int reason, const char *why)
{
	saltyc_peer_reset(c, id, HS_NONE);
	saltyc_emit(c, SALTYC_EV_DROPPED, id, reason, why);
	mp_out_reset(&c->out);
	msgpack_pack_map(&c->out.pk, 3);
	mp_kv_cstr(&c->out.pk, "type", "drop-responder");
	mp_kv_int(&c->out.pk, "id", id);
	mp_kv_int(&c->out.pk, "reason", reason);
	return saltyc_send_out(c, &c->srv, 0, SEAL_SERVER, NULL);
}

/* new-initiator / new-responder after the server handshake. */
static int on_new_peer(struct saltyc_client *c, const msgpack_object *m)
{
	if (c->cfg.role == SALTYC_RESPONDER) {
		if (!saltyc_type_is(m, "new-initiator"))
			return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "new-responder sent to a responder");
		if (c->phase == SALTYC_PH_TASK)
			saltyc_peer_lost(c, "the initiator was replaced by a new one");
		saltyc_peer_reset(c, 1, HS_NEW);
		return saltyc_peer_start(c);
	}
	int64_t id;
	if (!saltyc_type_is(m, "new-responder") || !mp_get_int(m, "id", &id) || id < 2 || id > 255)
		return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "bad new-responder");
	if (c->phase == SALTYC_PH_TASK)
		return saltyc_drop_responder(c, (uint8_t)id, 3004, "already paired");
	saltyc_peer_reset(c, (uint8_t)id, HS_NEW);
	return saltyc_peer_start(c);
}

/* A peer is gone (disconnected) or unreachable (send-error). */
static int on_peer_gone(struct saltyc_client *c, int id, const char *how)
{
	if (id < 1 || id > 255 || (c->cfg.role == SALTYC_RESPONDER) != (id == 1))
		return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "%s names address %d", how, id);
	if (c->phase == SALTYC_PH_TASK && id == c->paired) {
		saltyc_peer_lost(c, how);
		return 0;
	}
	saltyc_peer_reset(c, (uint8_t)id, HS_NONE);
	return 0;
}

static int on_server_task_msg(struct saltyc_client *c, const msgpack_object *m)
{
	int64_t id;
	const uint8_t *p;
	size_t n;
	if (saltyc_type_is(m, "new-initiator") || saltyc_type_is(m, "new-responder"))
		return on_new_peer(c, m);
	if (saltyc_type_is(m, "disconnected")) {
		if (!mp_get_int(m, "id", &id))
			return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "disconnected without an id");
		return on_peer_gone(c, (int)(id < 0 || id > 255 ? -1 : id), "the peer disconnected");
	}
	if (saltyc_type_is(m, "send-error")) {
		if (!mp_get_bin(m, "id", &p, &n) || n != 8 || p[0] != c->addr)
			return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "bad send-error");
		return on_peer_gone(c, p[1], "a message to the peer could not be delivered");
	}
	saltyc_emit(c, SALTYC_EV_NOTE, 0, 0, "ignored a server message of an unknown type");
	return 0;
}

int saltyc_server_msg(struct saltyc_client *c, const struct saltyc_nonce *nc, const uint8_t *p, size_t n)
{
	uint8_t *plain;
	size_t len;
	bool hello = c->phase == SALTYC_PH_SERVER_HELLO;
	if (saltyc_open(c, p, n, hello ? SEAL_PLAIN : SEAL_SERVER, NULL, &plain, &len) < 0)
		return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "could not decrypt a server message");
	msgpack_unpacked up;
	const msgpack_object *m;
	int rc;
	if (saltyc_unpack(plain, len, &up, &m) < 0)
		rc = saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "malformed server message");
	else {
		nonces_commit(&c->srv, nc);
		if (hello)
			rc = on_server_hello(c, m);
		else if (c->phase == SALTYC_PH_SERVER_AUTH)
			rc = on_server_auth(c, nc, m);
		else
			rc = on_server_task_msg(c, m);
	}
	msgpack_unpacked_destroy(&up);
	free(plain);
	return rc;
}
