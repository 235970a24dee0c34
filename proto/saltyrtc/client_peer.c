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

void salty_peer_reset(struct salty_client *c, uint8_t id, enum salty_hs hs)
{
	struct salty_peer *p = &c->peers[id];
	sodium_memzero(p, sizeof *p);
	p->hs = hs;
	if (hs == HS_NONE)
		return;
	nonces_init(&p->n);
	/* The responder knows the initiator's key (the path); an initiator
	 * without a token knows its trusted responder's and skips the token. */
	if (c->cfg.role == SALTY_RESPONDER || !c->cfg.has_token) {
		memcpy(p->perm_pk, c->cfg.peer_key, SALTY_KEY_LEN);
		if (crypto_box_beforenm(p->k_perm, p->perm_pk, c->cfg.secret_key) != 0)
			p->hs = HS_NONE;
		else if (c->cfg.role == SALTY_INITIATOR)
			p->hs = HS_TOKEN;
	}
}

/* Sends {type, key} sealed as given (token, or key messages). */
static int send_key_msg(struct salty_client *c, uint8_t id, const char *type, const uint8_t *key, enum salty_seal seal)
{
	mp_out_reset(&c->out);
	msgpack_pack_map(&c->out.pk, 2);
	mp_kv_cstr(&c->out.pk, "type", type);
	mp_kv_bin(&c->out.pk, "key", key, SALTY_KEY_LEN);
	return salty_send_out(c, &c->peers[id].n, id, seal, &c->peers[id]);
}

/* A fresh session key pair for peer id, and the shared key with theirs. */
static int session_keys(struct salty_peer *p, const uint8_t *their)
{
	if (sodium_is_zero(p->sess_pk, SALTY_KEY_LEN))
		crypto_box_keypair(p->sess_pk, p->sess_sk);
	if (!their)
		return 0;
	return crypto_box_beforenm(p->k_sess, their, p->sess_sk);
}

int salty_peer_start(struct salty_client *c)
{
	struct salty_peer *p = &c->peers[1];
	if (c->cfg.role != SALTY_RESPONDER || p->hs != HS_NEW)
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
static int peer_hs_error(struct salty_client *c, uint8_t id, int code, const char *why)
{
	if (c->cfg.role == SALTY_INITIATOR)
		return salty_drop_responder(c, id, code, why);
	return salty_fail(c, 3001, SALTY_END_HANDSHAKE, "peer handshake: %s", why);
}

/* Packs auth: the peer's cookie and the task(s) with their Nil data. */
static int send_auth(struct salty_client *c, uint8_t id, const uint8_t *their_cookie)
{
	msgpack_packer *pk = &c->out.pk;
	mp_out_reset(&c->out);
	msgpack_pack_map(pk, 4);
	mp_kv_cstr(pk, "type", "auth");
	mp_kv_bin(pk, "your_cookie", their_cookie, SALTY_COOKIE_LEN);
	if (c->cfg.role == SALTY_INITIATOR) {
		mp_kv_cstr(pk, "task", SALTY_TASK);
	} else {
		mp_cstr(pk, "tasks");
		msgpack_pack_array(pk, 1);
		mp_cstr(pk, SALTY_TASK);
	}
	mp_cstr(pk, "data");
	msgpack_pack_map(pk, 1);
	mp_cstr(pk, SALTY_TASK);
	msgpack_pack_nil(pk);
	return salty_send_out(c, &c->peers[id].n, id, SEAL_SESS, &c->peers[id]);
}

/* Whether auth names our task: as "task" (from the initiator) or among "tasks", with data for it. */
static bool auth_task_ok(const struct salty_client *c, const msgpack_object *m)
{
	const msgpack_object *data = mp_get(m, "data");
	if (!data || data->type != MSGPACK_OBJECT_MAP || !mp_get(data, SALTY_TASK))
		return false;
	if (c->cfg.role == SALTY_RESPONDER) {
		const msgpack_object *t = mp_get(m, "task");
		return t && mp_str_eq(t, SALTY_TASK);
	}
	const msgpack_object *ts = mp_get(m, "tasks");
	if (!ts || ts->type != MSGPACK_OBJECT_ARRAY)
		return false;
	for (uint32_t i = 0; i < ts->via.array.size; i++)
		if (mp_str_eq(&ts->via.array.ptr[i], SALTY_TASK))
			return true;
	return false;
}

static int paired(struct salty_client *c, uint8_t id)
{
	c->peers[id].hs = HS_DONE;
	c->paired = id;
	c->phase = SALTY_PH_TASK;
	salty_emit(c, SALTY_EV_PEER_READY, id, 0, NULL);
	if (c->cfg.role == SALTY_INITIATOR)
		for (int r = 2; r < 256; r++)
			if (r != id && c->peers[r].hs != HS_NONE && salty_drop_responder(c, (uint8_t)r, 3004, "another responder paired") < 0)
				return -1;
	return 0;
}

/* auth from the peer: cookie repeated, task agreed; the initiator answers. */
static int on_auth(struct salty_client *c, uint8_t id, const struct salty_nonce *nc, const msgpack_object *m)
{
	struct salty_peer *p = &c->peers[id];
	const uint8_t *ck;
	size_t n;
	if (!salty_type_is(m, "auth") || !mp_get_bin(m, "your_cookie", &ck, &n) || n != SALTY_COOKIE_LEN)
		return peer_hs_error(c, id, 3001, "expected auth");
	if (sodium_memcmp(ck, p->n.cookie_out, SALTY_COOKIE_LEN) != 0)
		return peer_hs_error(c, id, 3001, "auth repeats a wrong cookie");
	if (!auth_task_ok(c, m)) {
		if (c->cfg.role == SALTY_RESPONDER)
			return salty_fail(c, 3001, SALTY_END_HANDSHAKE, "the initiator chose a task we did not offer");
		if (salty_send_close(c, id, 3006) < 0)
			return -1;
		return salty_drop_responder(c, id, 3004, "no shared task (" SALTY_TASK " not offered)");
	}
	if (c->cfg.role == SALTY_INITIATOR && send_auth(c, id, nc->cookie) < 0)
		return -1;
	return paired(c, id);
}

/* key from the peer: their session key; answer with ours (initiator) or auth (responder). */
static int on_key(struct salty_client *c, uint8_t id, const struct salty_nonce *nc, const msgpack_object *m)
{
	struct salty_peer *p = &c->peers[id];
	const uint8_t *key = salty_get_key(m, "key");
	if (!salty_type_is(m, "key") || !key)
		return peer_hs_error(c, id, 3001, "expected key with a 32-byte key");
	if (sodium_memcmp(key, p->perm_pk, SALTY_KEY_LEN) == 0)
		return peer_hs_error(c, id, 3001, "the peer's session key equals its permanent key");
	if (session_keys(p, key) != 0)
		return peer_hs_error(c, id, 3001, "unusable session key");
	p->hs = c->cfg.role == SALTY_INITIATOR ? HS_KEY_SENT : HS_AUTH_SENT;
	if (c->cfg.role == SALTY_INITIATOR)
		return send_key_msg(c, id, "key", p->sess_pk, SEAL_PERM);
	return send_auth(c, id, nc->cookie);
}

static int on_token(struct salty_client *c, uint8_t id, const msgpack_object *m)
{
	struct salty_peer *p = &c->peers[id];
	const uint8_t *key = salty_get_key(m, "key");
	if (!salty_type_is(m, "token") || !key)
		return peer_hs_error(c, id, 3001, "expected token with a 32-byte key");
	memcpy(p->perm_pk, key, SALTY_KEY_LEN);
	if (crypto_box_beforenm(p->k_perm, key, c->cfg.secret_key) != 0)
		return peer_hs_error(c, id, 3001, "unusable permanent key in token");
	p->hs = HS_TOKEN;
	return 0;
}

/* Which seal the next message from a peer in state hs comes under. */
static enum salty_seal expected_seal(const struct salty_client *c, enum salty_hs hs)
{
	if (hs == HS_NEW)
		return SEAL_TOKEN;
	if (hs == HS_TOKEN || (hs == HS_KEY_SENT && c->cfg.role == SALTY_RESPONDER))
		return SEAL_PERM;
	return SEAL_SESS;
}

static int peer_dispatch(struct salty_client *c, uint8_t id, const struct salty_nonce *nc, const msgpack_object *m)
{
	switch (c->peers[id].hs) {
	case HS_NEW:
		return on_token(c, id, m);
	case HS_TOKEN:
		return on_key(c, id, nc, m);
	case HS_KEY_SENT:
		return c->cfg.role == SALTY_INITIATOR ? on_auth(c, id, nc, m) : on_key(c, id, nc, m);
	default:
		return on_auth(c, id, nc, m);
	}
}

int salty_peer_msg(struct salty_client *c, const struct salty_nonce *nc, const uint8_t *p, size_t n)
{
	uint8_t id = nc->src;
	struct salty_peer *peer = &c->peers[id];
	if (peer->hs == HS_DONE)
		return salty_task_msg(c, nc, p, n);
	if (peer->hs == HS_NONE || (c->cfg.role == SALTY_RESPONDER && peer->hs == HS_NEW)) {
		salty_emit(c, SALTY_EV_NOTE, id, 0, "ignored a message from a peer we are not talking to");
		return 0;
	}
	uint8_t *plain;
	size_t len;
	enum salty_seal seal = expected_seal(c, peer->hs);
	if (salty_open(c, p, n, seal, peer, &plain, &len) < 0) {
		/* Only the initiator's first messages can fail because of the
		 * responder's token or key (3005); the rest is a broken peer. */
		bool token = c->cfg.role == SALTY_INITIATOR && seal != SEAL_SESS;
		return peer_hs_error(c, id, token ? 3005 : 3001,
				     seal == SEAL_TOKEN ? "could not decrypt the token message (wrong token?)"
							: "could not decrypt a handshake message");
	}
	msgpack_unpacked up;
	const msgpack_object *m;
	int rc;
	if (salty_unpack(plain, len, &up, &m) < 0)
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
