/*
 * libp2p public keys, peer ids and nonce signatures (see p2pkey.h). The
 * protobuf is two fields and is read by hand; only its canonical form is
 * accepted, so that the bytes received are the bytes the peer id hashes
 * (peer-id hashes the re-marshalled key, which for canonical input is the
 * same).
 */
#include "p2pkey.h"
#include "../../common/hex.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <string.h>

#include "base58.h"


int p2p_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
	if (n % 2 || n / 2 > cap || n / 2 > INT32_MAX)
		return P2P_BAD_HEX;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
		if (hi < 0 || lo < 0)
			return P2P_BAD_HEX;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

/* A minimal (canonical) varint of at most 32 bits; -1 when absent or padded. */
static int64_t read_varint(const uint8_t *p, size_t n, size_t *i)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 35 && *i < n; shift += 7) {
		uint8_t c = p[(*i)++];
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return (c == 0 && shift > 0) || v > UINT32_MAX ? -1 : (int64_t)v;
	}
	return -1;
}

/* <0x08 type> <0x12 len> <data>, nothing else. */
static int parse_protobuf(struct p2p_pubkey *k)
{
	size_t i = 0;
	if (k->pb_len < 1 || k->pb[i++] != 0x08)
		return P2P_BAD_PROTOBUF;
	int64_t type = read_varint(k->pb, k->pb_len, &i);
	if (type < 0 || i >= k->pb_len || k->pb[i++] != 0x12)
		return P2P_BAD_PROTOBUF;
	int64_t len = read_varint(k->pb, k->pb_len, &i);
	if (len < 0 || (uint64_t)len != k->pb_len - i)
		return P2P_BAD_PROTOBUF;
	if (type > P2P_SECP256K1)
		return P2P_BAD_KEY_TYPE;
	k->type = (enum p2p_key_type)type;
	k->data = k->pb + i;
	k->data_len = (size_t)len;
	return P2P_OK;
}

/* DER SubjectPublicKeyInfo with rsaEncryption, wholly consumed. */
static int load_rsa(struct p2p_pubkey *k)
{
	const unsigned char *p = k->data;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)k->data_len);
	if (!pk)
		return P2P_BAD_KEY;
	int bits = EVP_PKEY_get_bits(pk);
	if (p != k->data + k->data_len || EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA || bits < P2P_RSA_MIN_BITS ||
	    bits > P2P_RSA_MAX_BITS) {
		EVP_PKEY_free(pk);
		return P2P_BAD_KEY;
	}
	k->pkey = pk;
	return P2P_OK;
}

/* A SEC1 point (33-byte compressed as libp2p sends it, or 65-byte
 * uncompressed, which the reference accepts too) on secp256k1. */
static int load_secp256k1(struct p2p_pubkey *k)
{
	if (!((k->data_len == 33 && (k->data[0] == 2 || k->data[0] == 3)) ||
	      (k->data_len == 65 && k->data[0] == 4)))
		return P2P_BAD_KEY;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"secp256k1", 0),
		OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)k->data, k->data_len),
		OSSL_PARAM_construct_end(),
	};
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pk = NULL;
	int ok = ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
		 EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) == 1;
	EVP_PKEY_CTX_free(ctx);
	if (ok) {
		/* fromdata decodes the point; the check confirms it is on the curve. */
		EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
		ok = chk && EVP_PKEY_public_check(chk) == 1;
		EVP_PKEY_CTX_free(chk);
	}
	if (!ok) {
		EVP_PKEY_free(pk);
		return P2P_BAD_KEY;
	}
	k->pkey = pk;
	return P2P_OK;
}

int p2p_pubkey_decode(struct p2p_pubkey *k, const uint8_t *pb, size_t n)
{
	memset(k, 0, sizeof *k);
	if (n > P2P_MAX_PUBKEY)
		return P2P_BAD_PROTOBUF;
	if (n)
		memcpy(k->pb, pb, n);
	k->pb_len = n;
	int rc = parse_protobuf(k);
	if (rc != P2P_OK)
		return rc;
	switch (k->type) {
	case P2P_RSA:
		return load_rsa(k);
	case P2P_ED25519:
		return k->data_len == crypto_sign_PUBLICKEYBYTES ? P2P_OK : P2P_BAD_KEY;
	case P2P_SECP256K1:
		return load_secp256k1(k);
	}
	return P2P_BAD_KEY_TYPE;
}

void p2p_pubkey_free(struct p2p_pubkey *k)
{
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
}

const char *p2p_strerror(int err)
{
	switch (err) {
	case P2P_OK:
		return "ok";
	case P2P_BAD_HEX:
		return "bad hex";
	case P2P_BAD_PROTOBUF:
		return "malformed public key protobuf";
	case P2P_BAD_KEY_TYPE:
		return "unknown key type";
	case P2P_BAD_KEY:
		return "invalid public key";
	case P2P_ID_MISMATCH:
		return "Id is not matching";
	case P2P_BAD_SIGNATURE:
		return "undecodable signature";
	case P2P_NOMEM:
		return "out of memory";
	default:
		return "unknown key error";
	}
}

/* ---- peer ids ---- */

int p2p_peer_id_multihash(const struct p2p_pubkey *k, uint8_t *out, size_t cap)
{
	if (k->pb_len <= P2P_IDENTITY_MAX) {
		if (cap < k->pb_len + 2)
			return -1;
		out[0] = 0x00; /* identity */
		out[1] = (uint8_t)k->pb_len;
		memcpy(out + 2, k->pb, k->pb_len);
		return (int)k->pb_len + 2;
	}
	unsigned int md_len = 0;
	if (cap < 34 || EVP_Digest(k->pb, k->pb_len, out + 2, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32)
		return -1;
	out[0] = 0x12; /* sha2-256 */
	out[1] = 0x20;
	return 34;
}

int p2p_peer_id(const struct p2p_pubkey *k, char *out, size_t cap)
{
	uint8_t mh[P2P_IDENTITY_MAX + 2];
	int n = p2p_peer_id_multihash(k, mh, sizeof mh);
	return n < 0 ? -1 : b58_encode(mh, (size_t)n, out, cap);
}

/* Last occurrence of pat in s[0, n), or NULL. */
static const char *last_of(const char *s, size_t n, const char *pat)
{
	size_t m = strlen(pat);
	for (size_t i = n >= m ? n - m + 1 : 0; i-- > 0;)
		if (memcmp(s + i, pat, m) == 0)
			return s + i;
	return NULL;
}

bool p2p_claimed_id(const char *ma, size_t n, const char **id, size_t *id_len)
{
	const char *p = last_of(ma, n, "ipfs/");
	if (p)
		p += 5;
	else if ((p = last_of(ma, n, "/p2p/")))
		p += 5;
	else
		return false;
	*id = p;
	*id_len = (size_t)(ma + n - p);
	return true;
}

int p2p_check_id(const struct p2p_pubkey *k, const char *id, size_t id_len)
{
	char mine[P2P_ID_MAX_CHARS + 1];
	int n = p2p_peer_id(k, mine, sizeof mine);
	if (n < 0 || (size_t)n != id_len || memcmp(mine, id, id_len) != 0)
		return P2P_ID_MISMATCH;
	return P2P_OK;
}

/* ---- signatures ---- */

/* 1 / 0 from EVP_DigestVerify with SHA-256 (an error counts as invalid). */
static int evp_verify_sha256(EVP_PKEY *pk, const uint8_t *msg, size_t n, const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		return P2P_NOMEM;
	int rc = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk) == 1 &&
		 EVP_DigestVerify(md, sig, sig_len, msg, n) == 1;
	EVP_MD_CTX_free(md);
	return rc;
}

/* n/2 of secp256k1: a larger S is the "high" twin libsecp256k1 refuses. */
static const char secp256k1_half_order[] = "7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0";

/* 1 when sig is strict DER of (r, s) with s <= n/2, 0 when high-S,
 * P2P_BAD_SIGNATURE when it is no strict DER ECDSA signature. */
static int secp256k1_sig_form(const uint8_t *sig, size_t sig_len)
{
	const unsigned char *p = sig;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
	if (!es)
		return P2P_BAD_SIGNATURE;
	unsigned char *der = NULL;
	int der_len = i2d_ECDSA_SIG(es, &der);
	int rc = p == sig + sig_len && der_len == (int)sig_len && memcmp(der, sig, sig_len) == 0
		     ? 1 : P2P_BAD_SIGNATURE;
	OPENSSL_free(der);
	BIGNUM *half = NULL;
	if (rc == 1) {
		if (!BN_hex2bn(&half, secp256k1_half_order))
			rc = P2P_NOMEM;
		else if (BN_cmp(ECDSA_SIG_get0_s(es), half) > 0)
			rc = 0;
	}
	BN_free(half);
	ECDSA_SIG_free(es);
	return rc;
}

int p2p_verify(const struct p2p_pubkey *k, const uint8_t *msg, size_t n, const uint8_t *sig, size_t sig_len)
{
	if (sig_len > P2P_MAX_SIG)
		return P2P_BAD_SIGNATURE;
	switch (k->type) {
	case P2P_RSA:
		return evp_verify_sha256(k->pkey, msg, n, sig, sig_len);
	case P2P_ED25519:
		if (sig_len != crypto_sign_BYTES)
			return P2P_BAD_SIGNATURE;
		return crypto_sign_verify_detached(sig, msg, n, k->data) == 0;
	case P2P_SECP256K1: {
		int form = secp256k1_sig_form(sig, sig_len);
		return form == 1 ? evp_verify_sha256(k->pkey, msg, n, sig, sig_len) : form;
	}
	}
	return P2P_BAD_SIGNATURE;
}
