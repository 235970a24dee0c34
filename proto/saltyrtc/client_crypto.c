/*
 * SaltyRTC client packets: the 24-byte nonce (cookie, source, destination,
 * combined sequence number) with its per-sender checks, and sealing and
 * opening payloads with the key each message type calls for.
 */
#include <stdlib.h>
#include <string.h>

#include "../../common/alloc.h"
#include "client_int.h"

void nonces_init(struct saltyc_nonces *n)
{
	memset(n, 0, sizeof *n);
	randombytes_buf(n->cookie_out, sizeof n->cookie_out);
	n->csn_out = randombytes_random(); /* 32 random bits, overflow 0 */
}

void nonce_parse(struct saltyc_nonce *nc, const uint8_t *p)
{
	nc->raw = p;
	nc->cookie = p;
	nc->src = p[16];
	nc->dst = p[17];
	uint64_t csn = 0;
	for (int i = 18; i < 24; i++)
		csn = csn << 8 | p[i];
	nc->csn = csn;
}

const char *nonces_check(const struct saltyc_nonces *n, const struct saltyc_nonce *nc)
{
	if (!n->have_in) {
		if (sodium_memcmp(nc->cookie, n->cookie_out, SALTYC_COOKIE_LEN) == 0)
			return "their cookie equals ours";
		if (nc->csn >> 32)
			return "first message has a non-zero overflow number";
		return NULL;
	}
	if (sodium_memcmp(nc->cookie, n->cookie_in, SALTYC_COOKIE_LEN) != 0)
		return "cookie changed";
	if (n->csn_in == SALTYC_CSN_MAX || nc->csn != n->csn_in + 1)
		return "combined sequence number is not the previous one plus 1";
	return NULL;
}

void nonces_commit(struct saltyc_nonces *n, const struct saltyc_nonce *nc)
{
	if (!n->have_in)
		memcpy(n->cookie_in, nc->cookie, SALTYC_COOKIE_LEN);
	n->have_in = true;
	n->csn_in = nc->csn;
}

/* The shared key (precomputed) or token a seal uses. */
static const uint8_t *seal_key(const struct saltyc_client *c, enum saltyc_seal seal, const struct saltyc_peer *p)
{
	switch (seal) {
	case SEAL_TOKEN:
		return c->cfg.token;
	case SEAL_SERVER:
		return c->k_srv;
	case SEAL_PERM:
		return p->k_perm;
	case SEAL_SESS:
		return p->k_sess;
	default:
		return NULL;
	}
}

int saltyc_send_out(struct saltyc_client *c, struct saltyc_nonces *n, uint8_t dst, enum saltyc_seal seal,
		   const struct saltyc_peer *p)
{
	if (n->csn_out > SALTYC_CSN_MAX)
		return saltyc_fail(c, 3001, SALTYC_END_PROTOCOL, "our combined sequence number is exhausted");
	size_t len = c->out.sb.size, total = SALTYC_NONCE_LEN + len + (seal == SEAL_PLAIN ? 0 : crypto_box_MACBYTES);
	if (total > c->pkt_cap) {
		c->pkt = xrealloc(c->pkt, total);
		c->pkt_cap = total;
	}
	uint8_t *nonce = c->pkt;
	memcpy(nonce, n->cookie_out, SALTYC_COOKIE_LEN);
	nonce[16] = c->addr;
	nonce[17] = dst;
	for (int i = 0; i < 6; i++)
		nonce[18 + i] = (uint8_t)(n->csn_out >> (8 * (5 - i)));
	n->csn_out++;
	const uint8_t *m = (const uint8_t *)c->out.sb.data, *k = seal_key(c, seal, p);
	uint8_t *body = c->pkt + SALTYC_NONCE_LEN;
	int rc = 0;
	if (seal == SEAL_PLAIN)
		memcpy(body, m, len);
	else if (seal == SEAL_TOKEN)
		rc = crypto_secretbox_easy(body, m, len, nonce, k);
	else
		rc = crypto_box_easy_afternm(body, m, len, nonce, k);
	if (rc != 0)
		return saltyc_fail(c, 3002, SALTYC_END_PROTOCOL, "could not encrypt a message");
	if (c->io.send(c->io.ctx, c->pkt, total) < 0)
		return saltyc_fail(c, 1000, SALTYC_END_SERVER, "could not send to the server");
	return 0;
}

int saltyc_open(struct saltyc_client *c, const uint8_t *pkt, size_t n, enum saltyc_seal seal,
	       const struct saltyc_peer *p, uint8_t **out, size_t *outlen)
{
	const uint8_t *body = pkt + SALTYC_NONCE_LEN;
	size_t blen = n - SALTYC_NONCE_LEN;
	if (seal == SEAL_PLAIN) {
		*out = xmalloc(blen);
		memcpy(*out, body, blen);
		*outlen = blen;
		return 0;
	}
	if (blen < crypto_box_MACBYTES)
		return -1;
	*outlen = blen - crypto_box_MACBYTES;
	*out = xmalloc(*outlen + 1);
	const uint8_t *k = seal_key(c, seal, p);
	int rc = seal == SEAL_TOKEN ? crypto_secretbox_open_easy(*out, body, blen, pkt, k)
				    : crypto_box_open_easy_afternm(*out, body, blen, pkt, k);
	if (rc != 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}
