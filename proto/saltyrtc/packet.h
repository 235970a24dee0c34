/*
 * SaltyRTC packets as the server sees them (sheet §3-§5): the 24-byte
 * nonce, the cookie and combined-sequence-number checks on server-bound
 * messages, and the decoder of the three messages a client may send the
 * server (client-hello, client-auth, drop-responder). No I/O and no keys:
 * shared by the worker half, the unit tests and the fuzz target.
 */
#ifndef SB_SALTY_PACKET_H
#define SB_SALTY_PACKET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SALTY_NONCE 24
#define SALTY_COOKIE 16
#define SALTY_CSN_MAX ((UINT64_C(1) << 48) - 1)
/* Largest plaintext of a server-bound message; real ones are under 200 bytes. */
#define SALTY_MAX_SERVER_MESSAGE 4096

struct salty_nonce {
	uint8_t cookie[SALTY_COOKIE];
	uint8_t src, dst;
	uint64_t csn; /* overflow << 32 | sequence */
};

/* Reads the nonce of a packet; -1 when it is 24 bytes or less (no data). */
int salty_nonce_read(struct salty_nonce *n, const uint8_t *p, size_t len);
void salty_nonce_write(uint8_t out[SALTY_NONCE], const uint8_t cookie[SALTY_COOKIE], uint8_t src, uint8_t dst,
		       uint64_t csn);

/* What the server remembers of one client's server-bound nonces. */
struct salty_incoming {
	bool started;
	uint8_t cookie[SALTY_COOKIE];
	uint64_t csn;
};

/*
 * The cookie and CSN rules of sheet §3.2 for a message addressed to the
 * server: the first fixes the cookie (which must differ from ours) and has
 * overflow 0; each later one repeats the cookie and carries exactly the
 * previous CSN + 1 (48 bits: after 2^48 - 1 nothing more is accepted).
 * 0 and the state advanced, or -1 (close 3001) and the state unchanged.
 */
int salty_incoming_check(struct salty_incoming *in, const uint8_t own_cookie[SALTY_COOKIE],
			 const struct salty_nonce *n);

enum salty_type { SALTY_CLIENT_HELLO = 1, SALTY_CLIENT_AUTH, SALTY_DROP_RESPONDER };

struct salty_msg {
	enum salty_type type;
	uint8_t key[32];                 /* client-hello */
	uint8_t your_cookie[SALTY_COOKIE]; /* client-auth */
	bool offers_v1;                  /* client-auth: v1.saltyrtc.org among subprotocols */
	long long ping_interval;         /* client-auth: seconds; 0 when absent */
	bool has_your_key;
	uint8_t your_key[32];
	int id;                          /* drop-responder: 2..255 */
	int reason;                      /* drop-responder: 3001/3002/3004/3005; 0 absent */
};

/*
 * Decodes one MessagePack map with a str "type" and checks its fields
 * (sheet §5). 0, or -1 when it is not exactly one well-formed message of a
 * known type (the server closes with 3001).
 */
int salty_msg_decode(struct salty_msg *m, const uint8_t *p, size_t n);

#endif
