/* The SaltyRTC client's inner state and the helpers its files share (client_*.c). */
#ifndef SB_SALTY_CLIENT_INT_H
#define SB_SALTY_CLIENT_INT_H
#include <msgpack.h>
#include <sodium.h>

#include "../../common/mp.h"
#include "client.h"

#define SALTY_COOKIE_LEN 16
#define SALTY_CSN_MAX ((UINT64_C(1) << 48) - 1)

/* Nonce state toward one other party (the server or one client). */
struct salty_nonces {
	uint8_t cookie_out[SALTY_COOKIE_LEN];
	uint64_t csn_out;
	bool have_in; /* a first message from them was accepted */
	uint8_t cookie_in[SALTY_COOKIE_LEN];
	uint64_t csn_in;
};

/* A parsed nonce (the first 24 bytes of a packet). */
struct salty_nonce {
	const uint8_t *raw;
	const uint8_t *cookie;
	uint8_t src, dst;
	uint64_t csn;
};

/* Peer handshake states, the order they are passed through. */
enum salty_hs {
	HS_NONE,      /* slot unused (initiator) / no initiator yet (responder) */
	HS_NEW,       /* initiator: waiting for token; responder: nothing sent yet */
	HS_TOKEN,     /* initiator: token received, waiting for key */
	HS_KEY_SENT,  /* both: our key sent, waiting for key (responder) / auth (initiator) */
	HS_AUTH_SENT, /* responder: auth sent, waiting for the initiator's auth */
	HS_DONE,      /* paired */
};

struct salty_peer {
	enum salty_hs hs;
	struct salty_nonces n;
	uint8_t perm_pk[SALTY_KEY_LEN];
	uint8_t k_perm[crypto_box_BEFORENMBYTES]; /* own permanent sk x peer permanent pk */
	uint8_t sess_sk[SALTY_KEY_LEN], sess_pk[SALTY_KEY_LEN];
	uint8_t k_sess[crypto_box_BEFORENMBYTES]; /* own session sk x peer session pk */
};

struct salty_client {
	struct salty_config cfg;
	struct salty_io io;
	uint8_t pk[SALTY_KEY_LEN];
	enum salty_phase phase;
	uint8_t addr;
	struct salty_nonces srv;
	uint8_t srv_session_pk[SALTY_KEY_LEN];
	uint8_t k_srv[crypto_box_BEFORENMBYTES];
	/* Initiator: indexed by responder address. Responder: peers[1]. */
	struct salty_peer peers[256];
	uint8_t paired; /* the peer's address in the task phase */
	struct mp_out out;
	uint8_t *pkt; /* scratch for one outgoing packet */
	size_t pkt_cap;
};

/* How a payload is sealed: not at all, with the token, permanent or session keys. */
enum salty_seal { SEAL_PLAIN, SEAL_TOKEN, SEAL_SERVER, SEAL_PERM, SEAL_SESS };

void nonces_init(struct salty_nonces *n);
void nonce_parse(struct salty_nonce *nc, const uint8_t *p);
/* NULL when the nonce fits what came before from that sender, else why not. */
const char *nonces_check(const struct salty_nonces *n, const struct salty_nonce *nc);
void nonces_commit(struct salty_nonces *n, const struct salty_nonce *nc);

/* Seals c->out's bytes for dst (nonce state n) and sends the packet. */
int salty_send_out(struct salty_client *c, struct salty_nonces *n, uint8_t dst, enum salty_seal seal,
		   const struct salty_peer *p);
/* Opens a packet's payload into *out (malloc'd; plain: a copy). */
int salty_open(struct salty_client *c, const uint8_t *pkt, size_t n, enum salty_seal seal,
	       const struct salty_peer *p, uint8_t **out, size_t *outlen);
/*
 * Unpacks exactly one MessagePack map with a str "type" (bounded: see
 * client_mp.c). Returns 0 and the map, or -1. Destroy up afterwards.
 */
int salty_unpack(const uint8_t *p, size_t n, msgpack_unpacked *up, const msgpack_object **map);
bool salty_type_is(const msgpack_object *map, const char *type);
/* A bin(32) key field, or NULL. */
const uint8_t *salty_get_key(const msgpack_object *map, const char *name);

void salty_emit(struct salty_client *c, enum salty_ev type, int a, int b, const char *text);
/* Ends the client: CLOSE event with the WebSocket code and end class. Returns -1. */
int salty_fail(struct salty_client *c, int code, enum salty_end end, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* client_server.c */
int salty_server_msg(struct salty_client *c, const struct salty_nonce *nc, const uint8_t *p, size_t n);
int salty_drop_responder(struct salty_client *c, uint8_t id, int reason, const char *why);
/* client_peer.c */
void salty_peer_reset(struct salty_client *c, uint8_t id, enum salty_hs hs);
int salty_peer_start(struct salty_client *c);
int salty_peer_msg(struct salty_client *c, const struct salty_nonce *nc, const uint8_t *p, size_t n);
/* client_task.c */
int salty_task_msg(struct salty_client *c, const struct salty_nonce *nc, const uint8_t *p, size_t n);
/* close{reason} to peer id (under the session keys). */
int salty_send_close(struct salty_client *c, uint8_t id, int reason);
/* The paired peer is gone: event, back to waiting for a new one. */
void salty_peer_lost(struct salty_client *c, const char *how);

#endif
