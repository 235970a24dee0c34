/*
 * The SaltyRTC client's entry points: creating one, taking in a packet
 * (nonce checks, then to the server or peer handling), task messages both
 * ways, close, and how a session ends.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/alloc.h"
#include "client_int.h"

void salty_public_key(const uint8_t sk[SALTY_KEY_LEN], uint8_t pk[SALTY_KEY_LEN])
{
	crypto_scalarmult_base(pk, sk);
}

void salty_path(const uint8_t initiator_pk[SALTY_KEY_LEN], char out[2 + 2 * SALTY_KEY_LEN])
{
	out[0] = '/';
	sodium_bin2hex(out + 1, 2 * SALTY_KEY_LEN + 1, initiator_pk, SALTY_KEY_LEN);
}

struct salty_client *salty_new(const struct salty_config *cfg, const struct salty_io *io)
{
	if (cfg->role != SALTY_INITIATOR && cfg->role != SALTY_RESPONDER)
		return NULL;
	struct salty_client *c = xcalloc(1, sizeof *c);
	c->cfg = *cfg;
	c->io = *io;
	salty_public_key(cfg->secret_key, c->pk);
	c->phase = SALTY_PH_SERVER_HELLO;
	nonces_init(&c->srv);
	mp_out_init(&c->out);
	return c;
}

void salty_free(struct salty_client *c)
{
	if (!c)
		return;
	mp_out_free(&c->out);
	free(c->pkt);
	sodium_memzero(c, sizeof *c);
	free(c);
}

enum salty_phase salty_phase(const struct salty_client *c) { return c->phase; }

void salty_emit(struct salty_client *c, enum salty_ev type, int a, int b, const char *text)
{
	struct salty_event ev = {.type = type, .a = a, .b = b, .text = text};
	c->io.event(c->io.ctx, &ev);
}

int salty_fail(struct salty_client *c, int code, enum salty_end end, const char *fmt, ...)
{
	if (c->phase == SALTY_PH_CLOSED)
		return -1;
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	c->phase = SALTY_PH_CLOSED;
	salty_emit(c, SALTY_EV_CLOSE, code, end, why);
	return -1;
}

void salty_peer_lost(struct salty_client *c, const char *how)
{
	uint8_t id = c->paired;
	c->paired = 0;
	c->phase = SALTY_PH_PEER;
	salty_peer_reset(c, id, HS_NONE);
	salty_emit(c, SALTY_EV_PEER_LOST, id, 0, how);
}

int salty_send_close(struct salty_client *c, uint8_t id, int reason)
{
	mp_out_reset(&c->out);
	msgpack_pack_map(&c->out.pk, 2);
	mp_kv_cstr(&c->out.pk, "type", "close");
	mp_kv_int(&c->out.pk, "reason", reason);
	return salty_send_out(c, &c->peers[id].n, id, SEAL_SESS, &c->peers[id]);
}

void salty_close(struct salty_client *c, int reason)
{
	if (c->phase == SALTY_PH_CLOSED)
		return;
	if (c->phase == SALTY_PH_TASK && salty_send_close(c, c->paired, reason) < 0)
		return;
	salty_fail(c, 1000, SALTY_END_NORMAL, "closed");
}

/* A task-phase message from the paired peer (nonce already checked). */
int salty_task_msg(struct salty_client *c, const struct salty_nonce *nc, const uint8_t *p, size_t n)
{
	struct salty_peer *peer = &c->peers[nc->src];
	uint8_t *plain;
	size_t len;
	if (salty_open(c, p, n, SEAL_SESS, peer, &plain, &len) < 0) {
		salty_send_close(c, nc->src, 3001);
		return salty_fail(c, 1000, SALTY_END_PROTOCOL, "could not decrypt a message from the peer");
	}
	nonces_commit(&peer->n, nc);
	msgpack_unpacked up;
	const msgpack_object *m;
	int64_t reason = 0;
	int rc = 0;
	if (salty_unpack(plain, len, &up, &m) < 0 || salty_type_is(m, "application")) {
		salty_send_close(c, nc->src, 3001);
		rc = salty_fail(c, 1000, SALTY_END_PROTOCOL, "the peer sent a malformed or application message");
	} else if (salty_type_is(m, "close")) {
		if (!mp_get_int(m, "reason", &reason) || reason < 0 || reason > 4999)
			reason = 0;
		salty_emit(c, SALTY_EV_PEER_CLOSE, (int)reason, 0, NULL);
		bool normal = reason == 1000 || reason == 1001;
		rc = salty_fail(c, 1000, normal ? SALTY_END_NORMAL : SALTY_END_PEER_ERROR,
				"the peer closed the session (reason %d)", (int)reason);
	} else {
		struct salty_event ev = {.type = SALTY_EV_MESSAGE, .a = nc->src, .data = plain, .len = len};
		c->io.event(c->io.ctx, &ev);
	}
	msgpack_unpacked_destroy(&up);
	sodium_memzero(plain, len);
	free(plain);
	return rc;
}

int salty_send_task(struct salty_client *c, const uint8_t *mp, size_t n, const char **why)
{
	if (c->phase != SALTY_PH_TASK) {
		*why = "no peer to send to";
		return -1;
	}
	msgpack_unpacked up;
	const msgpack_object *m;
	int rc = -1;
	if (salty_unpack(mp, n, &up, &m) < 0)
		*why = "not one MessagePack map with a string \"type\"";
	else if (salty_type_is(m, "application") || salty_type_is(m, "close"))
		*why = "types \"application\" and \"close\" are reserved";
	else {
		mp_out_reset(&c->out);
		msgpack_sbuffer_write(&c->out.sb, (const char *)mp, n);
		rc = salty_send_out(c, &c->peers[c->paired].n, c->paired, SEAL_SESS, &c->peers[c->paired]);
		if (rc < 0)
			*why = "the session ended";
	}
	msgpack_unpacked_destroy(&up);
	return rc;
}

/* Whom a packet is from, checked against our role and state. NULL: accepted. */
static const char *check_addresses(const struct salty_client *c, const struct salty_nonce *nc)
{
	if (c->phase < SALTY_PH_PEER) {
		if (nc->src != 0)
			return "a message from a client before the server handshake ended";
		if (c->phase == SALTY_PH_SERVER_HELLO && nc->dst != 0)
			return "server-hello to a non-zero address";
		return NULL;
	}
	if (nc->dst != c->addr)
		return "a message to another address";
	if (nc->src == 0)
		return NULL;
	if (c->cfg.role == SALTY_INITIATOR ? nc->src < 2 : nc->src != 1)
		return "a message from an address our role never hears from";
	return NULL;
}

int salty_receive(struct salty_client *c, const uint8_t *p, size_t n)
{
	if (c->phase == SALTY_PH_CLOSED)
		return -1;
	if (n <= SALTY_NONCE_LEN)
		return salty_fail(c, 3001, SALTY_END_PROTOCOL, "a packet of %zu bytes", n);
	struct salty_nonce nc;
	nonce_parse(&nc, p);
	const char *why = check_addresses(c, &nc);
	if (why)
		return salty_fail(c, 3001, SALTY_END_PROTOCOL, "%s (from %u to %u)", why, nc.src, nc.dst);
	struct salty_nonces *ns = nc.src == 0 ? &c->srv : &c->peers[nc.src].n;
	if (nc.src != 0 && c->peers[nc.src].hs == HS_NONE) {
		salty_emit(c, SALTY_EV_NOTE, nc.src, 0, "ignored a message from a peer we are not talking to");
		return 0;
	}
	why = nonces_check(ns, &nc);
	if (why && nc.src == 0)
		return salty_fail(c, 3001, SALTY_END_PROTOCOL, "server nonce: %s", why);
	if (why && c->phase == SALTY_PH_TASK && nc.src == c->paired) {
		salty_send_close(c, nc.src, 3001);
		return salty_fail(c, 1000, SALTY_END_PROTOCOL, "peer nonce: %s", why);
	}
	if (why)
		return c->cfg.role == SALTY_INITIATOR ? salty_drop_responder(c, nc.src, 3001, why)
						      : salty_fail(c, 3001, SALTY_END_HANDSHAKE, "peer nonce: %s", why);
	int rc = nc.src == 0 ? salty_server_msg(c, &nc, p, n) : salty_peer_msg(c, &nc, p, n);
	return rc < 0 || c->phase == SALTY_PH_CLOSED ? -1 : 0;
}
