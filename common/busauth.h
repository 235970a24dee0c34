/*
 * Bus authentication with a pre-shared key (--bus-key FILE), so that a
 * tcp:// bus accepts only workers that hold the key.
 *
 * Inside the first SP messages of a worker pipe, after the SP handshake:
 *   router → worker  {v:1, p:"core", op:"challenge", nonce:<32 random bytes>}
 *   worker → router  a batch whose first envelope is the hello, with
 *                    auth:<HMAC-SHA-512-256(key, "switchboard bus v1" nonce)>
 * The router passes nothing on from a pipe, and sends it nothing else,
 * until the tag checks; a wrong, missing or late tag closes the pipe. A
 * fresh nonce per pipe means a recorded exchange cannot be replayed. Any
 * pair1 peer (libnng too) can do this with libsodium's crypto_auth.
 *
 * The key file holds the 32-byte key as 64 hex digits (whitespace around
 * them allowed) and must not be readable or writable by others, nor
 * writable by its group (mode 0600 or 0640).
 */
#ifndef SB_BUSAUTH_H
#define SB_BUSAUTH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp.h"

#define BUS_KEY_LEN 32
#define BUS_NONCE_LEN 32
#define BUS_TAG_LEN 32
#define OP_CHALLENGE "challenge" /* r→w: nonce (only with a bus key) */

/* 0, or -1 with a message naming the problem in err. */
int bus_key_read(const char *path, uint8_t key[BUS_KEY_LEN], char *err, size_t errcap);
/* Packs the router's challenge envelope. */
void bus_auth_pack_challenge(msgpack_packer *pk, const uint8_t nonce[BUS_NONCE_LEN]);
/* The nonce of a challenge message (one envelope); false when it is none. */
bool bus_auth_nonce(const uint8_t *msg, size_t n, uint8_t nonce[BUS_NONCE_LEN]);
void bus_auth_tag(uint8_t tag[BUS_TAG_LEN], const uint8_t key[BUS_KEY_LEN], const uint8_t nonce[BUS_NONCE_LEN]);
/* True when the message's first envelope is a core hello with the right auth tag. */
bool bus_auth_check(const uint8_t *msg, size_t n, const uint8_t key[BUS_KEY_LEN],
		    const uint8_t nonce[BUS_NONCE_LEN]);

#endif
