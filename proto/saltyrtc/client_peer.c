/*
 * The SaltyRTC peer handshake, both roles: token (the responder's permanent
 * key under the auth token), key (fresh session keys under the permanent
 * keys), auth (cookies repeated, the task chosen) under the session keys.
 * The initiator keeps one state per responder (up to 254) until one of them
 * completes; then the others are dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "client_int.h"

void saltyc_peer_reset(struct saltyc_client *c, uint8_t id, enum saltyc_hs hs)
{
	struct saltyc_peer *p = &c->peers[id];
	sodium_memzero(p, sizeof *p);
	p->hs = hs;
	if (hs == HS_NONE)
		return;
	nonces_init(&p->n);
	/* The responder knows the initiator's key (the path); an initiator
	 * without a token knows its trusted responder's and skips the token. */
	if (c->cfg.role == SALTYC_RESPONDER || !c->cfg.has_token) {
		memcpy(p->perm_pk, c->cfg.peer_key, SALTYC_KEY_LEN);
		if (crypto_box_beforenm(p->k_perm, p->perm_pk, c->cfg.secret_key) != 0)
			p->hs = HS_NONE;
		else if (c->cfg.role == SALTYC_INITIATOR)
			p->hs = HS_TOKEN;
	}
}

/* Sends {type, key} sealed as given (token, or key messages). */
static int send_key_msg(struct saltyc_client *c, uint8_t id, const char *type, const uint8_t *key, enum saltyc_seal seal)
{
	mp_out_reset(&c->out);
	msgpack_pack_map(&c->out.pk, 2);
	mp_kv_cstr(&c->out.pk, "type", type);
	mp_kv_bin(&c->out.pk, "key", key, SALTYC_KEY_LEN);
	return saltyc_send_out(c, &c->peers[id].n, id, seal, &c->peers[id]);
}

/* A fresh session key pair for peer id, and the shared key with theirs. */
static int session_keys(struct saltyc_peer *p, const uint8_t *their)
{
	if (sodium_is_zero(p->sess_pk, SALTYC_KEY_LEN))
		crypto_box_keypair(p->sess_pk, p->sess_sk);
	if (!their)
		return 0;
	return crypto_box_beforenm(p->k_sess, their, p->sess_sk);
}

int saltyc_peer_start(struct saltyc_client *c)
{
	struct saltyc_peer *p = &c->peers[1];
	if (c->cfg.role != SALTYC_RESPONDER || p->hs != HS_NEW)
		return 0;
	if (c->cfg.has_token && send_key_msg(c, 1, "token", c->pk, SEAL_TOKEN) < 0)
		return -1;
	session_keys(p, NULL);
	if (send_key_msg(c, 1, "key", p->sess_pk, SEAL_PERM) < 0)
		return -1;
	p->hs = HS_KEY_SENT;
	return 0;
}

/* An error caused by peer id during its handshake. */
static int peer_hs_error(struct saltyc_client *c, uint8_t id, int code, const char *why)
{
	if (c->cfg.role == SALTYC_INITIATOR)
		return saltyc_drop_responder(c, id, code, why);
	return saltyc_fail(c, 3001, SALTYC_END_HANDSHAKE, "peer handshake: %s", why);
}

/* Packs auth: the peer's cookie and the task(s) with their Nil data. */
static int send_auth(struct saltyc_client *c, uint8_t id, const uint8_t *their_cookie)
{
	msgpack_packer *pk = &c->out.pk;
	mp_out_reset(&c->out);
	msgpack_pack_map(pk, 4);
	mp_kv_cstr(pk, "type", "auth");
	mp_kv_bin(pk, "your_cookie", their_cookie, SALTYC_COOKIE_LEN);
	if (c->cfg.role == SALTYC_INITIATOR) {
		mp_kv_cstr(pk, "task", SALTYC_TASK);
	} else {
		mp_cstr(pk, "tasks");
		msgpack_pack_array(pk, 1);
		mp_cstr(pk, SALTYC_TASK);
	}
	mp_cstr(pk, "data");
	msgpack_pack_map(pk, 1);
	mp_cstr(pk, SALTYC_TASK);
	msgpack_pack_nil(pk);
	return saltyc_send_out(c, &c->peers[id].n, id, SEAL_SESS, &c->peers[id]);
}

/* Whether auth names our task: as "task" (from the initiator) or among "tasks", with data for it. */
static bool auth_task_ok(const struct saltyc_client *c, const msgpack_object *m)
{
	const msgpack_object *data = mp_get(m, "data");
	if (!data || data->type != MSGPACK_OBJECT_MAP || !mp_get(data, SALTYC_TASK))
		return false;
	if (c->cfg.role == SALTYC_RESPONDER) {
		const msgpack_object *t = mp_get(m, "task");
		return t && mp_str_eq(t, SALTYC_TASK);
	}
	const msgpack_object *ts = mp_get(m, "tasks");
	if (!ts || ts->type != MSGPACK_OBJECT_ARRAY)
		return false;
	for (uint32_t i = 0; i < ts->via.array.size; i++)
		if (mp_str_eq(&ts->via.array.ptr[i], SALTYC_TASK))
			return true;
	return false;
}

static int paired(struct saltyc_client *c, uint8_t id)
{
	c->peers[id].hs = HS_DONE;
	c->paired = id;
	c->phase = SALTYC_PH_TASK;
	saltyc_emit(c, SALTYC_EV_PEER_READY, id, 0, NULL);
	if (c->cfg.role == SALTYC_INITIATOR)
		for (int r = 2; r < 256; r++)
			if (r != id && c->peers[r].hs != HS_NONE && saltyc_drop_responder(c, (uint8_t)r, 3004, "another responder paired") < 0)
				return -1;
	return 0;
}

/* auth from the peer: cookie repeated, task agreed; the initiator answers. */
static int on_auth(struct saltyc_client *c, uint8_t id, const struct saltyc_nonce *nc, const msgpack_object *m)
{
	struct saltyc_peer *p = &c->peers[id];
	const uint8_t *ck;
	size_t n;
	if (!saltyc_type_is(m, "auth") || !mp_get_bin(m, "your_cookie", &ck, &n) || n != SALTYC_COOKIE_LEN)
		return peer_hs_error(c, id, 3001, "expected auth");
	if (sodium_memcmp(ck, p->n.cookie_out, SALTYC_COOKIE_LEN) != 0)
		return peer_hs_error(c, id, 3001, "auth repeats a wrong cookie");
	if (!auth_task_ok(c, m)) {
		if (c->cfg.role == SALTYC_RESPONDER)
			return saltyc_fail(c, 3001, SALTYC_END_HANDSHAKE, "the initiator chose a task we did not offer");
		if (saltyc_send_close(c, id, 3006) < 0)
			return -1;
		return saltyc_drop_responder(c, id, 3004, "no shared task (" SALTYC_TASK " not offered)");
	}
	if (c->cfg.role == SALTYC_INITIATOR && send_auth(c, id, nc->cookie) < 0)
		return -1;
	return paired(c, id);
}

/* key from the peer: their session key; answer with ours (initiator) or auth (responder). */
static int on_key(struct saltyc_client *c, uint8_t id, const struct saltyc_nonce *nc, const msgpack_object *m)
{
	struct saltyc_peer *p = &c->peers[id];
	const uint8_t *key = saltyc_get_key(m, "key");
	if (!saltyc_type_is(m, "key") || !key)
		return peer_hs_error(c, id, 3001, "expected key with a 32-byte key");
	if (sodium_memcmp(key, p->perm_pk, SALTYC_KEY_LEN) == 0)
		return peer_hs_error(c, id, 3001, "the peer's session key equals its permanent key");
	if (session_keys(p, key) != 0)
		return peer_hs_error(c, id, 3001, "unusable session key");
	p->hs = c->cfg.role == SALTYC_INITIATOR ? HS_KEY_SENT : HS_AUTH_SENT;
	if (c->cfg.role == SALTYC_INITIATOR)
		return send_key_msg(c, id, "key", p->sess_pk, SEAL_PERM);
	return send_auth(c, id, nc->cookie);
}

static int on_token(struct saltyc_client *c, uint8_t id, const msgpack_object *m)
{
	struct saltyc_peer *p = &c->peers[id];
	const uint8_t *key = saltyc_get_key(m, "key");
	if (!saltyc_type_is(m, "token") || !key)
		return peer_hs_error(c, id, 3001, "expected token with a 32-byte key");
	memcpy(p->perm_pk, key, SALTYC_KEY_LEN);
	if (crypto_box_beforenm(p->k_perm, key, c->cfg.secret_key) != 0)
		return peer_hs_error(c, id, 3001, "unusable permanent key in token");
	p->hs = HS_TOKEN;
	return 0;
}

/* Which seal the next message from a peer in state hs comes under. */
static enum saltyc_seal expected_seal(const struct saltyc_client *c, enum saltyc_hs hs)
{
	if (hs == HS_NEW)
		return SEAL_TOKEN;
	if (hs == HS_TOKEN || (hs == HS_KEY_SENT && c->cfg.role == SALTYC_RESPONDER))
		return SEAL_PERM;
	return SEAL_SESS;
}

static int peer_dispatch(struct saltyc_client *c, uint8_t id, const struct saltyc_nonce *nc, const msgpack_object *m)
{
	switch (c->peers[id].hs) {
	case HS_NEW:
		return on_token(c, id, m);
	case HS_TOKEN:
		return on_key(c, id, nc, m);
	case HS_KEY_SENT:
		return c->cfg.role == SALTYC_INITIATOR ? on_auth(c, id, nc, m) : on_key(c, id, nc, m);
	default:
		return on_auth(c, id, nc, m);
	}
}

int saltyc_peer_msg(struct saltyc_client *c, const struct saltyc_nonce *nc, const uint8_t *p, size_t n)
{
	uint8_t id = nc->src;
	struct saltyc_peer *peer = &c->peers[id];
	if (peer->hs == HS_DONE)
		return saltyc_task_msg(c, nc, p, n);
	if (peer->hs == HS_NONE || (c->cfg.role == SALTYC_RESPONDER && peer->hs == HS_NEW)) {
		saltyc_emit(c, SALTYC_EV_NOTE, id, 0, "ignored a message from a peer we are not talking to");
		return 0;
	}
	uint8_t *plain;
	size_t len;
	enum saltyc_seal seal = expected_seal(c, peer->hs);
	if (saltyc_open(c, p, n, seal, peer, &plain, &len) < 0) {
		/* Only the initiator's first messages can fail because of the
		 * responder's token or key (3005); the rest is a broken peer. */
		bool token = c->cfg.role == SALTYC_INITIATOR && seal != SEAL_SESS;
		return peer_hs_error(c, id, token ? 3005 : 3001,
				     seal == SEAL_TOKEN ? "could not decrypt the token message (wrong token?)"
							: "could not decrypt a handshake message");
	}
	msgpack_unpacked up;
	const msgpack_object *m;
	int rc;
	if (saltyc_unpack(plain, len, &up, &m) < 0)
		rc = peer_hs_error(c, id, 3001, "malformed handshake message");
	else {
		nonces_commit(&peer->n, nc);
		rc = peer_dispatch(c, id, nc, m);
	}
	msgpack_unpacked_destroy(&up);
	sodium_memzero(plain, len);
	free(plain);
	return rc;
}
