/*
 * proto/wsstar p2pkey + base58 + multiaddr: libp2p public keys, peer ids
 * and nonce signatures, checked against the keys and signatures recorded
 * on the wire and against fresh ones made by the real libp2p-crypto 0.16 /
 * peer-id 0.12 (tests/unit/wsstar_vectors.js), plus the refusals.
 */
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/wsstar/base58.h"
#include "../../proto/wsstar/multiaddr.h"
#include "../../proto/wsstar/p2pkey.h"
#include "check.h"

/* Recorded: conn#1 of transcript A (RSA-2048 peer, its nonce and signature). */
#define RSA_PB "080012a60230820122300d06092a864886f70d01010105000382010f003082010a02820101009f5373191df4701161142db5e808820057c14bdffe64c5e4a28eede945fe45ecb931eb05865e5f00735b0671ecbb3c472cf82ff8c1ebd079559cd4a8f7825238c5fdcba7a0b3e53df296cc7bc997ed7e67da48329ee7a69f26b645c31a4be2fd1a84745074deb6667e99098740346616d995474504c878f91774cca62a14d75577846e1d2ba486a9c707b1e6cf408fe05892b191b456c5b2870a54a7fab2b61772d63b90bb1ed616bb5830768fc1effb20cfe673ef950ffec5fdcb0d54a9ab9701d871df5439d51bd35a6b8e76b7580f786ae8fb9395c9e072aa6cf8633e696ae43ad92893a6682081324711e407a5e52fb2d6148111808a53e42d071ef8ce1b0203010001"
#define RSA_ID "QmXCWuvVJE17Xu3J6aiieDKuAhcRN55nb8EThAWg9s5BtL"
#define RSA_NONCE "e9d00fdf-badb-4016-91b5-cb691a52992721fc396c-9036-48ab-839e-0cd9bb1b4767"
#define RSA_SIG "33aed14e9bd65a3d8488c40d85024f1dc3653db83333483b955aa542bbed84b856809e0702d21cd3cc2372ef761ee0b0f143f74fb4e1f8348b837540e11e0efa2d67f9e56fe4ee3c0ef534b2fd861142ac08752ae9cd976b9dd583c109dabf1bb90a3826e109e4682fb36d53019531890ac14054ef67373ecdd83d53570e4644c5c05dd72c15e822d1d269a4ae992c715084dabe5258975356befce32861c795d06e5fe9cf36e236ab0cd2236bfe1b26d0d607f6a1d4f0aecdc9784106e610c2731efe07cff2de1aefb9015c34ccc098feffc6265d113493a365dfc48b7c5497423df9e8e0cbaa1501b05cf8a9497a2901cd147d110ae304694823d0d802d289"
/* conn#2 of transcript A (Ed25519). */
#define ED_PB "08011220196c9d5f31d400b780c3329bd5c7d1b0c51973b1e06ba7e175fd9ffc1d118730"
#define ED_ID "12D3KooWBXcRMQWSR6mfPKWrDag65pfVp8iannYU2mr6Vwbd8xiK"
#define ED_NONCE "36d20a00-4e7d-40e5-805e-b7011e513d5972fadcf6-e5c9-4b2a-9cd5-63cfb15cc662"
#define ED_SIG "e055736b70d85752d806dabb050239cf18934890c78f97e6ec4bd7d53945c24f04633fc15d9c561f4fbcdf5f4353acd478951e7780b4f0a82560a3431a84c80f"
/* conn#5 of transcript B (secp256k1). */
#define K1_PB "08021221036e15c8ee14644d4684d51e4484ad73bbc810a7529eaf1d891245c9f8fd970f98"
#define K1_ID "16Uiu2HAmL4iTsHw4EqLfVVYQipm1BqUSM1HFG5ka4tkfp7AUqd4B"
#define K1_NONCE "f36f16e5-8c8b-4a51-9055-291b62fa540dca7fbd3e-e308-463d-9b73-e9715fa7bb73"
#define K1_SIG "3045022100fa4f9a7a2ce6a14d5ac699b3c55bd101429e128e6d9d0667dee74e0be1fd84250220659c76ada6a2e869621a7b3014878816c94ad38610985033677aecccc9f6cfc9"

static uint8_t bytes[P2P_MAX_PUBKEY + 64];

static int decode_hex_key(struct p2p_pubkey *k, const char *hex)
{
	int n = p2p_hex_decode(hex, strlen(hex), bytes, sizeof bytes);
	return n < 0 ? n : p2p_pubkey_decode(k, bytes, (size_t)n);
}

static int key_rc(const char *hex)
{
	struct p2p_pubkey k = {.pkey = NULL}; /* freed even when the hex stage fails */
	int rc = decode_hex_key(&k, hex);
	p2p_pubkey_free(&k);
	return rc;
}

static int key_rc_bytes(const uint8_t *b, size_t n)
{
	struct p2p_pubkey k;
	int rc = p2p_pubkey_decode(&k, b, n);
	p2p_pubkey_free(&k);
	return rc;
}

/* verify(sig hex) over nonce with the key in hex. */
static int verify_hex(const char *key_hex, const char *nonce, const char *sig_hex)
{
	struct p2p_pubkey k;
	uint8_t sig[P2P_MAX_SIG];
	if (decode_hex_key(&k, key_hex) != P2P_OK)
		return -100;
	int n = p2p_hex_decode(sig_hex, strlen(sig_hex), sig, sizeof sig);
	int rc = n < 0 ? -101 : p2p_verify(&k, (const uint8_t *)nonce, strlen(nonce), sig, (size_t)n);
	p2p_pubkey_free(&k);
	return rc;
}

static bool id_is(const char *key_hex, const char *id)
{
	struct p2p_pubkey k = {.pkey = NULL};
	char out[P2P_ID_MAX_CHARS + 1];
	bool ok = decode_hex_key(&k, key_hex) == P2P_OK && p2p_peer_id(&k, out, sizeof out) > 0 &&
		  strcmp(out, id) == 0 && p2p_check_id(&k, id, strlen(id)) == P2P_OK;
	p2p_pubkey_free(&k);
	return ok;
}

static void test_hex_base58(void)
{
	uint8_t out[8];
	CHECK("p2p hex: both cases", p2p_hex_decode("0aFf", 4, out, sizeof out) == 2 && out[0] == 0x0a && out[1] == 0xff);
	CHECK("p2p hex: empty", p2p_hex_decode("", 0, out, sizeof out) == 0);
	CHECK("p2p hex: odd length refused", p2p_hex_decode("abc", 3, out, sizeof out) == P2P_BAD_HEX);
	CHECK("p2p hex: non-hex refused", p2p_hex_decode("zz", 2, out, sizeof out) == P2P_BAD_HEX);
	CHECK("p2p hex: longer than the buffer refused", p2p_hex_decode("000000000000000000", 18, out, 8) == P2P_BAD_HEX);
	char t[B58_MAX_CHARS];
	CHECK("base58: 'hello world'", b58_encode((const uint8_t *)"hello world", 11, t, sizeof t) == 15 &&
					       strcmp(t, "StV1DL6CwTryKyV") == 0);
	const uint8_t z[] = {0, 0, 1};
	CHECK("base58: leading zero bytes are '1's", b58_encode(z, 3, t, sizeof t) == 3 && strcmp(t, "112") == 0);
	CHECK("base58: empty input", b58_encode(z, 0, t, sizeof t) == 0 && t[0] == 0);
	uint8_t back[B58_MAX_BYTES];
	CHECK("base58: decode 'StV1DL6CwTryKyV'", b58_decode("StV1DL6CwTryKyV", 15, back, sizeof back) == 11 &&
							  memcmp(back, "hello world", 11) == 0);
	CHECK("base58: decode '112'", b58_decode("112", 3, back, sizeof back) == 3 && memcmp(back, z, 3) == 0);
	CHECK("base58: '0' is no digit", b58_decode("1101", 4, back, sizeof back) == -1);
	CHECK("base58: 'l' is no digit", b58_decode("l", 1, back, sizeof back) == -1);
	CHECK("base58: empty text refused", b58_decode("", 0, back, sizeof back) == -1);
	CHECK("base58: result longer than the buffer refused", b58_decode("StV1DL6CwTryKyV", 15, back, 10) == -1);
	uint8_t big[B58_MAX_BYTES + 1];
	memset(big, 0xff, sizeof big);
	CHECK("base58: B58_MAX_BYTES of 0xff fit", b58_encode(big, B58_MAX_BYTES, t, sizeof t) > 0 &&
						      b58_decode(t, strlen(t), back, sizeof back) == B58_MAX_BYTES &&
						      memcmp(back, big, B58_MAX_BYTES) == 0);
	CHECK("base58: more than B58_MAX_BYTES refused", b58_encode(big, sizeof big, t, sizeof t) == -1);
}

static void test_recorded(void)
{
	CHECK("p2p: RSA key of the transcript gives its Qm id (sha2-256)", id_is(RSA_PB, RSA_ID));
	CHECK("p2p: Ed25519 key gives its 12D3KooW id (identity)", id_is(ED_PB, ED_ID));
	CHECK("p2p: secp256k1 key gives its 16Uiu2HA id (identity)", id_is(K1_PB, K1_ID));
	CHECK("p2p: recorded RSA signature of the nonce verifies", verify_hex(RSA_PB, RSA_NONCE, RSA_SIG) == 1);
	CHECK("p2p: recorded Ed25519 signature verifies", verify_hex(ED_PB, ED_NONCE, ED_SIG) == 1);
	CHECK("p2p: recorded secp256k1 signature verifies", verify_hex(K1_PB, K1_NONCE, K1_SIG) == 1);
	CHECK("p2p: RSA signature of another nonce is invalid", verify_hex(RSA_PB, ED_NONCE, RSA_SIG) == 0);
	CHECK("p2p: Ed25519 signature of another nonce is invalid", verify_hex(ED_PB, RSA_NONCE, ED_SIG) == 0);
	CHECK("p2p: secp256k1 signature of another nonce is invalid", verify_hex(K1_PB, RSA_NONCE, K1_SIG) == 0);
	/* transcript B, E7b and E8b: the reference's "Signature Invalid" and "Crypto error" */
	char zeros[513];
	memset(zeros, '0', 512);
	zeros[512] = 0;
	CHECK("p2p: all-zero RSA signature is invalid (E7b)", verify_hex(RSA_PB, RSA_NONCE, zeros) == 0);
	CHECK("p2p: 1-byte Ed25519 signature cannot be read (E8b)", verify_hex(ED_PB, ED_NONCE, "00") == P2P_BAD_SIGNATURE);
	CHECK("p2p: RSA signature under the Ed25519 key cannot be read", verify_hex(ED_PB, RSA_NONCE, RSA_SIG) == P2P_BAD_SIGNATURE);
	CHECK("p2p: Ed25519 signature under the RSA key is invalid", verify_hex(RSA_PB, ED_NONCE, ED_SIG) == 0);
	CHECK("p2p: Ed25519 signature under the secp256k1 key cannot be read",
	      verify_hex(K1_PB, ED_NONCE, ED_SIG) == P2P_BAD_SIGNATURE);
	CHECK("p2p: secp256k1 DER with a trailing byte cannot be read",
	      verify_hex(K1_PB, K1_NONCE, K1_SIG "00") == P2P_BAD_SIGNATURE);
	CHECK("p2p: empty RSA signature is invalid", verify_hex(RSA_PB, RSA_NONCE, "") == 0);
	struct p2p_pubkey k;
	CHECK("p2p: Ed25519 key of another id does not match (E3)",
	      decode_hex_key(&k, "080112201a12de9df8db423eeb3f740e3213e98b9e2591f989a8faa8e93ed943126a0e20") == P2P_OK &&
		  p2p_check_id(&k, RSA_ID, strlen(RSA_ID)) == P2P_ID_MISMATCH);
	p2p_pubkey_free(&k);
	CHECK("p2p: id compared as the whole text", decode_hex_key(&k, ED_PB) == P2P_OK &&
						       p2p_check_id(&k, ED_ID "x", strlen(ED_ID) + 1) == P2P_ID_MISMATCH &&
						       p2p_check_id(&k, ED_ID, strlen(ED_ID) - 1) == P2P_ID_MISMATCH);
	p2p_pubkey_free(&k);
}

/* A PublicKey protobuf around an OpenSSL key's DER SubjectPublicKeyInfo. */
static size_t protobuf_of(EVP_PKEY *pk, int type, uint8_t *out)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(pk, &der);
	size_t i = 0;
	out[i++] = 0x08;
	out[i++] = (uint8_t)type;
	out[i++] = 0x12;
	if (n >= 128) {
		out[i++] = (uint8_t)(0x80 | (n & 0x7f));
		out[i++] = (uint8_t)(n >> 7);
	} else {
		out[i++] = (uint8_t)n;
	}
	memcpy(out + i, der, (size_t)n);
	OPENSSL_free(der);
	return i + (size_t)n;
}

static void test_key_refusals(void)
{
	CHECK("p2p: empty key", key_rc("") == P2P_BAD_PROTOBUF);
	CHECK("p2p: first field not KeyType", key_rc("1220" "00") == P2P_BAD_PROTOBUF);
	CHECK("p2p: KeyType 3", key_rc("08031220196c9d5f31d400b780c3329bd5c7d1b0c51973b1e06ba7e175fd9ffc1d118730") ==
					P2P_BAD_KEY_TYPE);
	CHECK("p2p: Data length past the end", key_rc("08011221196c9d5f31d400b780c3329bd5c7d1b0c51973b1e06ba7e175fd9ffc1d118730") ==
						  P2P_BAD_PROTOBUF);
	CHECK("p2p: a byte after Data", key_rc(ED_PB "00") == P2P_BAD_PROTOBUF);
	CHECK("p2p: KeyType as a padded varint",
	      key_rc("08810012" "20196c9d5f31d400b780c3329bd5c7d1b0c51973b1e06ba7e175fd9ffc1d118730") == P2P_BAD_PROTOBUF);
	CHECK("p2p: only KeyType", key_rc("0801") == P2P_BAD_PROTOBUF);
	CHECK("p2p: Ed25519 key of 31 bytes", key_rc("0801121f196c9d5f31d400b780c3329bd5c7d1b0c51973b1e06ba7e175fd9ffc1d1187") ==
						  P2P_BAD_KEY);
	CHECK("p2p: secp256k1 key with prefix 05",
	      key_rc("08021221056e15c8ee14644d4684d51e4484ad73bbc810a7529eaf1d891245c9f8fd970f98") == P2P_BAD_KEY);
	CHECK("p2p: secp256k1 point (1, 1) is not on the curve",
	      key_rc("08021241040000000000000000000000000000000000000000000000000000000000000001"
		     "0000000000000000000000000000000000000000000000000000000000000001") == P2P_BAD_KEY);
	CHECK("p2p: RSA Data that is no DER", key_rc("08001204deadbeef") == P2P_BAD_KEY);
	CHECK("p2p: garbage hex (E4 'zz')", key_rc("zz") == P2P_BAD_HEX);
	uint8_t pb[P2P_MAX_PUBKEY + 16];
	EVP_PKEY *small = EVP_RSA_gen(512);
	CHECK("p2p: 512-bit RSA refused", small && key_rc_bytes(pb, protobuf_of(small, 0, pb)) == P2P_BAD_KEY);
	EVP_PKEY_free(small);
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	CHECK("p2p: RSA KeyType around an EC key refused", ec && key_rc_bytes(pb, protobuf_of(ec, 0, pb)) == P2P_BAD_KEY);
	EVP_PKEY_free(ec);
	memset(pb, 0, sizeof pb);
	CHECK("p2p: more than P2P_MAX_PUBKEY bytes refused", key_rc_bytes(pb, P2P_MAX_PUBKEY + 1) == P2P_BAD_PROTOBUF);
	const char *id;
	size_t n;
	const char *ma = "/ip4/1.2.3.4/tcp/1/ws/p2p-websocket-star/ipfs/" ED_ID;
	CHECK("p2p: claimed id after 'ipfs/'", p2p_claimed_id(ma, strlen(ma), &id, &n) && n == strlen(ED_ID) &&
						  memcmp(id, ED_ID, n) == 0);
	ma = "/ip4/1.2.3.4/tcp/1/ws/p2p-websocket-star/p2p/" ED_ID;
	CHECK("p2p: claimed id after '/p2p/'", p2p_claimed_id(ma, strlen(ma), &id, &n) && n == strlen(ED_ID));
	ma = "/ip4/1.2.3.4/tcp/1/ws/p2p-websocket-star";
	CHECK("p2p: no claimed id", !p2p_claimed_id(ma, strlen(ma), &id, &n));
	ma = "/ipfs/a/ipfs/b";
	CHECK("p2p: the last 'ipfs/' counts", p2p_claimed_id(ma, strlen(ma), &id, &n) && n == 1 && *id == 'b');
}

/* The same signature with s replaced by n - s (valid for plain ECDSA). */
static size_t high_s_twin(const uint8_t *sig, size_t n, uint8_t *out)
{
	const unsigned char *p = sig;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
	BIGNUM *order = NULL, *s2 = BN_new();
	BN_hex2bn(&order, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141");
	BN_sub(s2, order, ECDSA_SIG_get0_s(es));
	BIGNUM *r2 = BN_dup(ECDSA_SIG_get0_r(es));
	ECDSA_SIG_set0(es, r2, s2);
	unsigned char *q = out;
	int len = i2d_ECDSA_SIG(es, &q);
	ECDSA_SIG_free(es);
	BN_free(order);
	return len > 0 ? (size_t)len : 0;
}

static bool openssl_accepts(const struct p2p_pubkey *k, const char *msg, const uint8_t *sig, size_t n)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
		  EVP_DigestVerify(md, sig, n, (const uint8_t *)msg, strlen(msg)) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

static void test_high_s(void)
{
	struct p2p_pubkey k;
	uint8_t sig[128], twin[128];
	int n = p2p_hex_decode(K1_SIG, strlen(K1_SIG), sig, sizeof sig);
	size_t tn = high_s_twin(sig, (size_t)n, twin);
	bool loaded = decode_hex_key(&k, K1_PB) == P2P_OK;
	CHECK("p2p: OpenSSL alone accepts the high-S twin of a secp256k1 signature",
	      loaded && tn > 0 && openssl_accepts(&k, K1_NONCE, twin, tn));
	CHECK("p2p: high-S secp256k1 signature counted invalid (as libsecp256k1)",
	      loaded && p2p_verify(&k, (const uint8_t *)K1_NONCE, strlen(K1_NONCE), twin, tn) == 0);
	p2p_pubkey_free(&k);
}

/* ---- fresh vectors from the real libp2p-crypto / peer-id ---- */

struct vector {
	char type[16], id[P2P_ID_MAX_CHARS + 1], key[2 * P2P_MAX_PUBKEY + 1], nonce[128], sig[2 * P2P_MAX_SIG + 1];
};

static int read_vectors(struct vector *v, int max)
{
	FILE *p = popen("node tests/unit/wsstar_vectors.js keys", "r");
	if (!p)
		return -1;
	int n = 0;
	while (n < max && fscanf(p, "%15s %64s %2200s %127s %2048s", v[n].type, v[n].id, v[n].key, v[n].nonce,
				 v[n].sig) == 5)
		n++;
	return pclose(p) == 0 ? n : -1;
}

static void flip_last_hex(char *hex)
{
	size_t n = strlen(hex);
	hex[n - 1] = hex[n - 1] == '0' ? '1' : '0';
}

static void check_vector(struct vector *v, const struct vector *other)
{
	char name[96];
	snprintf(name, sizeof name, "p2p npm: %s peer id as peer-id 0.12 computes it", v->type);
	CHECK(name, id_is(v->key, v->id));
	snprintf(name, sizeof name, "p2p npm: %s signature by libp2p-crypto 0.16 verifies", v->type);
	CHECK(name, verify_hex(v->key, v->nonce, v->sig) == 1);
	snprintf(name, sizeof name, "p2p npm: %s signature of another nonce is invalid", v->type);
	CHECK(name, verify_hex(v->key, "another nonce", v->sig) == 0);
	snprintf(name, sizeof name, "p2p npm: %s signature under the next key type's key fails", v->type);
	int rc = verify_hex(other->key, v->nonce, v->sig);
	CHECK(name, rc == 0 || rc == P2P_BAD_SIGNATURE);
	struct p2p_pubkey k = {.pkey = NULL};
	snprintf(name, sizeof name, "p2p npm: %s key does not match the next key's id", v->type);
	CHECK(name, decode_hex_key(&k, v->key) == P2P_OK && p2p_check_id(&k, other->id, strlen(other->id)) == P2P_ID_MISMATCH);
	p2p_pubkey_free(&k);
	flip_last_hex(v->sig);
	snprintf(name, sizeof name, "p2p npm: %s signature with its last nibble changed fails", v->type);
	rc = verify_hex(v->key, v->nonce, v->sig);
	CHECK(name, rc == 0);
	flip_last_hex(v->sig);
}

static void test_npm_vectors(void)
{
	static struct vector v[3];
	int n = read_vectors(v, 3);
	CHECK("p2p npm: node made RSA, Ed25519 and secp256k1 vectors (needs tests/e2e/node_modules)",
	      n == 3 && strcmp(v[0].type, "RSA") == 0 && strcmp(v[1].type, "Ed25519") == 0 &&
		  strcmp(v[2].type, "secp256k1") == 0);
	if (n != 3)
		return;
	CHECK("p2p npm: id forms (Qm / 12D3KooW / 16Uiu2HA)", strncmp(v[0].id, "Qm", 2) == 0 &&
							       strncmp(v[1].id, "12D3KooW", 8) == 0 &&
							       strncmp(v[2].id, "16Uiu2HA", 8) == 0);
	for (int i = 0; i < 3; i++)
		check_vector(&v[i], &v[(i + 1) % 3]);
}

/* ---- multiaddr ---- */

static bool valid(const char *s) { return ma_valid(s, strlen(s)); }
static bool star(const char *s) { return ma_is_wsstar(s, strlen(s)); }

static void test_multiaddr(void)
{
	CHECK("ma: recorded address is strict WebSocketStar", star("/ip4/127.0.0.1/tcp/9091/ws/p2p-websocket-star/ipfs/" RSA_ID));
	CHECK("ma: without id", star("/ip4/127.0.0.1/tcp/9090/ws/p2p-websocket-star"));
	CHECK("ma: /p2p/ spelling", star("/ip4/127.0.0.1/tcp/9090/ws/p2p-websocket-star/p2p/" ED_ID));
	CHECK("ma: ip6 and wss", star("/ip6/::1/tcp/443/wss/p2p-websocket-star/ipfs/" K1_ID));
	CHECK("ma: dns4 without port", star("/dns4/x.io/wss/p2p-websocket-star"));
	CHECK("ma: dnsaddr with port", star("/dnsaddr/x.io/tcp/443/wss/p2p-websocket-star"));
	CHECK("ma: strict refuses a missing p2p-websocket-star (E1)", !star("/ip4/127.0.0.1/tcp/9091/ws/ipfs/" RSA_ID));
	CHECK("ma: strict refuses a trailing p2p-circuit",
	      !star("/ip4/127.0.0.1/tcp/9090/ws/p2p-websocket-star/ipfs/" RSA_ID "/p2p-circuit"));
	CHECK("ma: strict refuses ip4 without port", !star("/ip4/1.2.3.4/ws/p2p-websocket-star"));
	CHECK("ma: strict refuses udp", !star("/ip4/1.2.3.4/udp/1/ws/p2p-websocket-star"));
	CHECK("ma: strict refuses a bare ip4", !star("/ip4/1.2.3.4"));
	CHECK("ma: strict refuses a bad id", !star("/ip4/1.2.3.4/tcp/1/ws/p2p-websocket-star/ipfs/Qm0"));
	CHECK("ma: loose accepts /ip4/1.2.3.4", valid("/ip4/1.2.3.4"));
	CHECK("ma: loose accepts the recorded address", valid("/ip4/127.0.0.1/tcp/9091/ws/p2p-websocket-star/ipfs/" ED_ID));
	CHECK("ma: loose accepts p2p-circuit", valid("/ipfs/" RSA_ID "/p2p-circuit/ipfs/" ED_ID));
	CHECK("ma: loose accepts unix paths", valid("/unix/a/b/c"));
	CHECK("ma: 'hello' is no multiaddr (E6)", !valid("hello"));
	CHECK("ma: empty", !valid(""));
	CHECK("ma: '/'", !valid("/"));
	CHECK("ma: unknown protocol", !valid("/ip5/1.2.3.4"));
	CHECK("ma: bad ip4", !valid("/ip4/1.2.3.256"));
	CHECK("ma: bad ip6", !valid("/ip6/::g"));
	CHECK("ma: port 65536", !valid("/ip4/1.2.3.4/tcp/65536"));
	CHECK("ma: port 65535", valid("/ip4/1.2.3.4/tcp/65535"));
	CHECK("ma: port with a leading zero", !valid("/ip4/1.2.3.4/tcp/080"));
	CHECK("ma: missing value", !valid("/ip4"));
	CHECK("ma: trailing slash", !valid("/ip4/1.2.3.4/"));
	CHECK("ma: doubled slash", !valid("/ip4//1.2.3.4"));
	CHECK("ma: id that is no multihash", !valid("/ipfs/StV1DL6CwTryKyV"));
	CHECK("ma: NUL inside", !ma_valid("/ip4/1.2.3.4\0/tcp/1", 19));
	char big[MA_MAX_LEN + 16] = "/unix/";
	memset(big + 6, 'a', MA_MAX_LEN);
	CHECK("ma: longer than MA_MAX_LEN", !valid(big));
	char many[MA_MAX_PARTS * 3 + 8] = "";
	for (int i = 0; i <= MA_MAX_PARTS; i++)
		strcat(many, "/ws");
	CHECK("ma: more than MA_MAX_PARTS components", !valid(many));
}

void test_p2pkey(void)
{
	if (sodium_init() < 0) {
		CHECK("p2p: sodium_init", false);
		return;
	}
	test_hex_base58();
	test_recorded();
	test_key_refusals();
	test_high_s();
	test_npm_vectors();
	test_multiaddr();
}
