/*
 * WebSocketStar key checks. Input: a 2-byte big-endian length L, then L
 * bytes of PublicKey protobuf, then a signature. A key that decodes must
 * give a peer id whose base58 decodes back to its multihash and that
 * matches itself; its hex round-trips; verification of the signature over
 * a fixed nonce returns only 1, 0 or P2P_BAD_SIGNATURE. The whole input
 * also goes through the multiaddr checks (strict implies loose), the
 * claimed-id cut and a base58 round trip.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/wsstar/base58.h"
#include "../../proto/wsstar/multiaddr.h"
#include "../../proto/wsstar/p2pkey.h"

static const char nonce[] = "c13ac364-3eb3-45ee-8ff2-ac3a8e228fc2cacba569-3768-41d7-9dcd-e952dfb7e0f0";

static void check_key(const uint8_t *pb, size_t n, const uint8_t *sig, size_t sig_len)
{
	static struct p2p_pubkey k;
	int rc = p2p_pubkey_decode(&k, pb, n);
	if (rc > 0 || rc < P2P_NOMEM || !p2p_strerror(rc))
		abort();
	if (rc != P2P_OK) {
		p2p_pubkey_free(&k);
		return;
	}
	char id[P2P_ID_MAX_CHARS + 1];
	uint8_t mh[64], back[B58_MAX_BYTES];
	int idn = p2p_peer_id(&k, id, sizeof id);
	int mhn = p2p_peer_id_multihash(&k, mh, sizeof mh);
	if (idn <= 0 || mhn <= 0 || b58_decode(id, (size_t)idn, back, sizeof back) != mhn ||
	    memcmp(back, mh, (size_t)mhn) != 0 || p2p_check_id(&k, id, (size_t)idn) != P2P_OK)
		abort();
	if ((k.pb_len <= P2P_IDENTITY_MAX) != (mh[0] == 0x00))
		abort();
	int v = p2p_verify(&k, (const uint8_t *)nonce, sizeof nonce - 1, sig, sig_len);
	if (v != 1 && v != 0 && v != P2P_BAD_SIGNATURE)
		abort();
	static char hex[2 * P2P_MAX_PUBKEY + 1];
	static uint8_t again[P2P_MAX_PUBKEY];
	sodium_bin2hex(hex, sizeof hex, pb, n);
	if (p2p_hex_decode(hex, 2 * n, again, sizeof again) != (int)n || memcmp(again, pb, n) != 0)
		abort();
	p2p_pubkey_free(&k);
}

static void check_text(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	if (ma_is_wsstar(s, size) && !ma_valid(s, size))
		abort();
	const char *id;
	size_t n;
	if (p2p_claimed_id(s, size, &id, &n) && (id < s || id + n != s + size))
		abort();
	char text[B58_MAX_CHARS];
	uint8_t back[B58_MAX_BYTES];
	size_t m = size < B58_MAX_BYTES ? size : B58_MAX_BYTES;
	int tn = b58_encode(data, m, text, sizeof text);
	if (tn < 0 || (tn > 0 && (b58_decode(text, (size_t)tn, back, sizeof back) != (int)m ||
				  memcmp(back, data, m) != 0)))
		abort();
	uint8_t dec[B58_MAX_BYTES];
	int dn = b58_decode(s, size, dec, sizeof dec);
	if (dn > 0 && (b58_encode(dec, (size_t)dn, text, sizeof text) != (int)size || memcmp(text, s, size) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (sodium_init() < 0)
		abort();
	check_text(data, size);
	if (size < 2)
		return 0;
	size_t l = (size_t)data[0] << 8 | data[1];
	if (l > size - 2)
		l = size - 2;
	check_key(data + 2, l, data + 2 + l, size - 2 - l);
	return 0;
}
