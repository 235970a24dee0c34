/* The SaltyRTC client's inner state and the helpers its files share (client_*.c). */
#ifndef SB_SALTY_CLIENT_INT_H
#define SB_SALTY_CLIENT_INT_H
#include <msgpack.h>
#include <sodium.h>

#include "../../common/mp.h"
#include "client.h"

#define SALTYC_COOKIE_LEN 16
#define SALTYC_CSN_MAX ((UINT64_C(1) << 48) - 1)

/* Nonce state toward one other party (the server or one client). */
struct saltyc_nonces {
	uint8_t cookie_out[SALTYC_COOKIE_LEN];
	uint64_t csn_out;
	bool have_in; /* a first message from them was accepted */
	uint8_t cookie_in[SALTYC_COOKIE_LEN];
	uint64_t csn_in;
};

/* A parsed nonce (the first 24 bytes of a packet). */
struct saltyc_nonce {
	const uint8_t *raw;
	const uint8_t *cookie;
	uint8_t src, dst;
	uint64_t csn;
};

/* Peer handshake states, the order they are passed through. */
enum saltyc_hs {
	HS_NONE,      /* slot unused (initiator) / no initiator yet (responder) */
	HS_NEW,       /* initiator: waiting for token; responder: nothing sent yet */
	HS_TOKEN,     /* initiator: token received, waiting for key */
	HS_KEY_SENT,  /* both: our key sent, waiting for key (responder) / auth (initiator) */
	HS_AUTH_SENT, /* responder: auth sent, waiting for the initiator's auth */
	HS_DONE,      /* paired */
};

struct saltyc_peer {
	enum saltyc_hs hs;
	struct saltyc_nonces n;
	uint8_t perm_pk[SALTYC_KEY_LEN];
	uint8_t k_perm[crypto_box_BEFORENMBYTES]; /* own permanent sk x peer permanent pk */
	uint8_t sess_sk[SALTYC_KEY_LEN], sess_pk[SALTYC_KEY_LEN];
	uint8_t k_sess[crypto_box_BEFORENMBYTES]; /* own session sk x peer session pk */
};

struct saltyc_client {
	struct saltyc_config cfg;
	struct saltyc_io io;
	uint8_t pk[SALTYC_KEY_LEN];
	enum saltyc_phase phase;
	uint8_t addr;
	struct saltyc_nonces srv;
	uint8_t srv_session_pk[SALTYC_KEY_LEN];
	uint8_t k_srv[crypto_box_BEFORENMBYTES];
	/* Initiator: indexed by responder address. Responder: peers[1]. */
	struct saltyc_peer peers[256];
	uint8_t paired; /* the peer's address in the task phase */
	struct mp_out out;
	uint8_t *pkt; /* scratch for one outgoing packet */
	size_t pkt_cap;
};

/* How a payload is sealed: not at all, with the token, permanent or session keys. */
enum saltyc_seal { SEAL_PLAIN, SEAL_TOKEN, SEAL_SERVER, SEAL_PERM, SEAL_SESS };

void nonces_init(struct saltyc_nonces *n);
void nonce_parse(struct saltyc_nonce *nc, const uint8_t *p);
/* NULL when the nonce fits what came before from that sender, else why not. */
const char *nonces_check(const struct saltyc_nonces *n, const struct saltyc_nonce *nc);
void nonces_commit(struct saltyc_nonces *n, const struct saltyc_nonce *nc);

/* Seals c->out's bytes for dst (nonce state n) and sends the packet. */
int saltyc_send_out(struct saltyc_client *c, struct saltyc_nonces *n, uint8_t dst, enum saltyc_seal seal,
		   const struct saltyc_peer *p);
/* Opens a packet's payload into *out (malloc'd; plain: a copy). */
int saltyc_open(struct saltyc_client *c, const uint8_t *pkt, size_t n, enum saltyc_seal seal,
	       const struct saltyc_peer *p, uint8_t **out, size_t *outlen);
/*
 * Unpacks exactly one MessagePack map with a str "type" (bounded: see
 * client_mp.c). Returns 0 and the map, or -1. Destroy up afterwards.
 */
int saltyc_unpack(const uint8_t *p, size_t n, msgpack_unpacked *up, const msgpack_object **map);
bool saltyc_type_is(const msgpack_object *map, const char *type);
/* A bin(32) key field, or NULL. */
const uint8_t *saltyc_get_key(const msgpack_object *map, const char *name);

void saltyc_emit(struct saltyc_client *c, enum saltyc_ev type, int a, int b, const char *text);
/* Ends the client: CLOSE event with the WebSocket code and end class. Returns -1. */
int saltyc_fail(struct saltyc_client *c, int code, enum saltyc_end end, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* client_server.c */
int saltyc_server_msg(struct saltyc_client *c, const struct saltyc_nonce *nc, const uint8_t *p, size_t n);
int saltyc_drop_responder(struct saltyc_client *c, uint8_t id, int reason, const char *why);
/* client_peer.c */
void saltyc_peer_reset(struct saltyc_client *c, uint8_t id, enum saltyc_hs hs);
int saltyc_peer_start(struct saltyc_client *c);
int saltyc_peer_msg(struct saltyc_client *c, const struct saltyc_nonce *nc, const uint8_t *p, size_t n);
/* client_task.c */
int saltyc_task_msg(struct saltyc_client *c, const struct saltyc_nonce *nc, const uint8_t *p, size_t n);
/* close{reason} to peer id (under the session keys). */
int saltyc_send_close(struct saltyc_client *c, uint8_t id, int reason);
/* The paired peer is gone: event, back to waiting for a new one. */
void saltyc_peer_lost(struct saltyc_client *c, const char *how);

#endif
