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

void saltyc_public_key(const uint8_t sk[SALTYC_KEY_LEN], uint8_t pk[SALTYC_KEY_LEN])
{
	crypto_scalarmult_base(pk, sk);
}

void saltyc_path(const uint8_t initiator_pk[SALTYC_KEY_LEN], char out[2 + 2 * SALTYC_KEY_LEN])
{
	out[0] = '/';
	sodium_bin2hex(out + 1, 2 * SALTYC_KEY_LEN + 1, initiator_pk, SALTYC_KEY_LEN);
}

struct saltyc_client *saltyc_new(const struct saltyc_config *cfg, const struct saltyc_io *io)
{
	if (cfg->role != SALTYC_INITIATOR && cfg->role != SALTYC_RESPONDER)
		return NULL;
	struct saltyc_client *c = xcalloc(1, sizeof *c);
	c->cfg = *cfg;
	c->io = *io;
	saltyc_public_key(cfg->secret_key, c->pk);
	c->phase = SALTYC_PH_SERVER_HELLO;
	nonces_init(&c->srv);
	mp_out_init(&c->out);
	return c;
}

void saltyc_free(struct saltyc_client *c)
{
	if (!c)
		return;
	mp_out_free(&c->out);
	free(c->pkt);
	sodium_memzero(c, sizeof *c);
	free(c);
}

enum saltyc_phase saltyc_phase(const struct saltyc_client *c) { return c->phase; }

void saltyc_emit(struct saltyc_client *c, enum saltyc_ev type, int a, int b, const char *text)
{
	struct saltyc_event ev = {.type = type, .a = a, .b = b, .text = text};
	c->io.event(c->io.ctx, &ev);
}

int saltyc_fail(struct saltyc_client *c, int code, enum saltyc_end end, const char *fmt, ...)
{
	if (c->phase == SALTYC_PH_CLOSED)
		return -1;
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	c->phase = SALTYC_PH_CLOSED;
	saltyc_emit(c, SALTYC_EV_CLOSE, code, end, why);
	return -1;
}

void saltyc_peer_lost(struct saltyc_client *c, const char *how)
{
	uint8_t id = c->paired;
	c->paired = 0;
	c->phase = SALTYC_PH_PEER;
	saltyc_peer_reset(c, id, HS_NONE);
	saltyc_emit(c, SALTYC_EV_PEER_LOST, id, 0, how);
}

int saltyc_send_close(struct saltyc_client *c, uint8_t id, int reason)
{
	mp_out_reset(&c->out);
	msgpack_pack_map(&c->out.pk, 2);
	mp_kv_cstr(&c->out.pk, "type", "close");
	mp_kv_int(&c->out.pk, "reason", reason);
	return saltyc_send_out(c, &c->peers[id].n, id, SEAL_SESS, &c->peers[id]);
}

void saltyc_close(struct saltyc_client *c, int reason)
{
	if (c->phase == SALTYC_PH_CLOSED)
		return;
	if (c->phase == SALTYC_PH_TASK && saltyc_send_close(c, c->paired, reason) < 0)
		return;
	saltyc_fail(c, 1000, SALTYC_END_NORMAL, "closed");
}

/* A task-phase message from the paired peer (nonce already checked). */
int saltyc_task_msg(struct saltyc_client *c, const struct saltyc_nonce *nc, const uint8_t *p, size_t n)
{
	struct saltyc_peer *peer = &c->peers[nc->src];
	uint8_t *plain;
	size_t len;
	if (saltyc_open(c, p, n, SEAL_SESS, peer, &plain, &len) < 0) {
		(void)saltyc_send_close(c, nc->src, 3001); /* best effort: we end either way */
		return saltyc_fail(c, 1000, SALTYC_END_PROTOCOL, "could not decrypt a message from the peer");
	}
	nonces_commit(&peer->n, nc);
	msgpack_unpacked up;
	const msgpack_object *m;
	int64_t reason = 0;
	int rc = 0;
	if (saltyc_unpack(plain, len, &up, &m) < 0 || saltyc_type_is(m, "application")) {
		(void)saltyc_send_close(c, nc->src, 3001); /* best effort: we end either way */
		rc = saltyc_fail(c, 1000, SALTYC_END_PROTOCOL, "the peer sent a malformed or application message");
	} else if (saltyc_type_is(m, "close")) {
		if (!mp_get_int(m, "reason", &reason) || reason < 0 || reason > 4999)
			reason = 0;
		saltyc_emit(c, SALTYC_EV_PEER_CLOSE, (int)reason, 0, NULL);
		bool normal = reason == 1000 || reason == 1001;
		rc = saltyc_fail(c, 1000, normal ? SALTYC_END_NORMAL : SALTYC_END_PEER_ERROR,
				"the peer closed the session (reason %d)", (int)reason);
	} else {
		struct saltyc_event ev = {.type = SALTYC_EV_MESSAGE, .a = nc->src, .data = plain, .len = len};
		c->io.event(c->io.ctx, &ev);
	}
	msgpack_unpacked_destroy(&up);
	sodium_memzero(plain, len);
	free(plain);
	return rc;
}

int saltyc_send_task(struct saltyc_client *c, const uint8_t *mp, size_t n, const char **why)
{
	if (c->phase != SALTYC_PH_TASK) {
		*why = "no peer to send to";
		return -1;
	}
	msgpack_unpacked up;
	const msgpack_object *m;
	int rc = -1;
	if (saltyc_unpack(mp, n, &up, &m) < 0)
		*why = "not one MessagePack map with a string \"type\"";
	else if (saltyc_type_is(m, "application") || saltyc_type_is(m, "close"))
		*why = "types \"application\" and \"close\" are reserved";
	else {
		mp_out_reset(&c->out);
		msgpack_sbuffer_write(&c->out.sb, (const char *)mp, n);
		rc = saltyc_send_out(c, &c->peers[c->paired].n, c->paired, SEAL_SESS, &c->peers[c->paired]);
		if (rc < 0)
			*why = "the session ended";
	}
	msgpack_unpacked_destroy(&up);
	return rc;
}

/* Whom a packet is from, checked against our role and state. NULL: accepted. */
static const char *check_addresses(const struct saltyc_client *c, const struct saltyc_nonce *nc)
{
	if (c->phase < SALTYC_PH_PEER) {
		if (nc->src != 0)
			return "a message from a client before the server handshake ended";
		if (c->phase == SALTYC_PH_SERVER_HELLO && nc->dst != 0)
			return "server-hello to a non-zero address";
		return NULL;
	}
	if (nc->dst != c->addr)
		return "a message to another address";
	if (nc->src == 0)
		return NULL;
	if (c->cfg.role == SALTYC_INITIATOR ? nc->src < 2 : nc->src != 1)
		return "a message from an address our role never hears from";
	return NULL;
}

int saltyc_receive(struct saltyc_client *c, const uint8_t *p, size_t n)
{
	if (c->phase == SALTYC_PH_CLOSED)
		return -1;
	if (n <= SALTYC_NONCE_LEN)
		return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "a packet of %zu bytes", n);
	struct saltyc_nonce nc;
	nonce_parse(&nc, p);
	const char *why = check_addresses(c, &nc);
	if (why)
		return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "%s (from %u to %u)", why, nc.src, nc.dst);
	struct saltyc_nonces *ns = nc.src == 0 ? &c->srv : &c->peers[nc.src].n;
	if (nc.src != 0 && c->peers[nc.src].hs == HS_NONE) {
		saltyc_emit(c, SALTYC_EV_NOTE, nc.src, 0, "ignored a message from a peer we are not talking to");
		return 0;
	}
	why = nonces_check(ns, &nc);
	if (why && nc.src == 0)
		return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "server nonce: %s", why);
	if (why && c->phase == SALTYC_PH_TASK && nc.src == c->paired) {
		saltyc_send_close(c, nc.src, 3001);
		return saltyc_fail(c, 1000, SALTYC_END_PROTOCOL, "peer nonce: %s", why);
	}
	if (why)
		return c->cfg.role == SALTYC_INITIATOR ? saltyc_drop_responder(c, nc.src, 3001, why)
						      : saltyc_fail(c, 3001, SALTYC_END_HANDSHAKE, "peer nonce: %s", why);
	int rc = nc.src == 0 ? saltyc_server_msg(c, &nc, p, n) : saltyc_peer_msg(c, &nc, p, n);
	return rc < 0 || c->phase == SALTYC_PH_CLOSED ? -1 : 0;
}
