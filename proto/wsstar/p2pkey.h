/*
 * The key checks of the WebSocketStar join challenge: a libp2p PublicKey
 * protobuf (as libp2p-crypto 0.16 marshals it), the peer id derived from it
 * (as peer-id 0.12 does), and the signature of the server's nonce made with
 * the matching private key. RSA and secp256k1 through OpenSSL 3's EVP API,
 * Ed25519 through libsodium. No rendezvous state.
 */
#ifndef SB_WSSTAR_P2PKEY_H
#define SB_WSSTAR_P2PKEY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evp_pkey_st; /* OpenSSL's EVP_PKEY */

enum p2p_key_type { P2P_RSA = 0, P2P_ED25519 = 1, P2P_SECP256K1 = 2 };

enum p2p_err {
	P2P_OK = 0,
	P2P_BAD_HEX = -1,       /* not an even run of hex digits, or too long */
	P2P_BAD_PROTOBUF = -2,  /* not exactly <0x08 type><0x12 len data>, minimal varints */
	P2P_BAD_KEY_TYPE = -3,  /* KeyType other than RSA, Ed25519, Secp256k1 */
	P2P_BAD_KEY = -4,       /* Data is no valid key of that type (or an RSA size out of range) */
	P2P_ID_MISMATCH = -5,   /* the key's peer id is not the claimed one */
	P2P_BAD_SIGNATURE = -6, /* the signature cannot be decoded for that key type ("Crypto error") */
	P2P_NOMEM = -7,
};

/* Largest PublicKey protobuf accepted: an 8192-bit RSA key is about 1.06 KB. */
#define P2P_MAX_PUBKEY 1100
/* Largest signature: 8192-bit RSA. */
#define P2P_MAX_SIG 1024
/* RSA modulus sizes accepted, in bits (libp2p generates 2048). */
#define P2P_RSA_MIN_BITS 1024
#define P2P_RSA_MAX_BITS 8192
/* Public keys whose protobuf is at most this long get an identity-multihash id. */
#define P2P_IDENTITY_MAX 42
/* Longest peer id text: identity multihash of a 42-byte key, or sha2-256. */
#define P2P_ID_MAX_CHARS 64

struct p2p_pubkey {
	enum p2p_key_type type;
	uint8_t pb[P2P_MAX_PUBKEY]; /* the protobuf as received (canonical) */
	size_t pb_len;
	const uint8_t *data;        /* the Data field, inside pb */
	size_t data_len;
	struct evp_pkey_st *pkey;   /* RSA and secp256k1; NULL for Ed25519 */
};

/* Strict hex (either case, even length); the byte count or P2P_BAD_HEX. */
int p2p_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap);

/* Decodes and checks a PublicKey protobuf. On P2P_OK free with p2p_pubkey_free. */
int p2p_pubkey_decode(struct p2p_pubkey *k, const uint8_t *pb, size_t n);
void p2p_pubkey_free(struct p2p_pubkey *k);
const char *p2p_strerror(int err);

/* The key's peer id multihash (identity for protobufs <= 42 bytes, else
 * sha2-256); its length, or -1 when cap is short. */
int p2p_peer_id_multihash(const struct p2p_pubkey *k, uint8_t *out, size_t cap);
/* The same in base58btc, NUL-terminated; its length or -1. */
int p2p_peer_id(const struct p2p_pubkey *k, char *out, size_t cap);
/* The claimed id of a multiaddr: the text after the last "ipfs/" (as the
 * reference server takes it), or else after the last "/p2p/". false when
 * there is neither. */
bool p2p_claimed_id(const char *ma, size_t n, const char **id, size_t *id_len);
/* P2P_OK when the key's peer id is exactly the text id, else P2P_ID_MISMATCH. */
int p2p_check_id(const struct p2p_pubkey *k, const char *id, size_t id_len);

/*
 * Verifies sig over msg: 1 valid, 0 invalid ("Signature Invalid"),
 * P2P_BAD_SIGNATURE when the signature cannot even be read for that key
 * type ("Crypto error"): an Ed25519 signature that is not 64 bytes, or a
 * secp256k1 signature that is not strict DER. RSA: PKCS#1 v1.5 over
 * SHA-256. Ed25519: pure. secp256k1: ECDSA over SHA-256, high S counted
 * invalid (as libsecp256k1, which the reference uses, does).
 */
int p2p_verify(const struct p2p_pubkey *k, const uint8_t *msg, size_t n, const uint8_t *sig, size_t sig_len);

#endif
