/*
 * SaltyRTC client for the WebSocket task (v0.websocket.tasks.saltyrtc.org):
 * the client side of the signalling protocol without any I/O. The caller
 * feeds it each binary WebSocket message from the server (saltyc_receive) and
 * gets packets to send and events back through two callbacks, so the same
 * code runs over a real socket (client_ws.c, the CLI) and in unit tests and
 * the fuzz target. Keys, cookies and sequence numbers live here, per peer.
 */
#ifndef SB_SALTY_CLIENT_H
#define SB_SALTY_CLIENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SALTYC_KEY_LEN 32
#define SALTYC_NONCE_LEN 24
#define SALTYC_SUBPROTOCOL "v1.saltyrtc.org"
#define SALTYC_TASK "v0.websocket.tasks.saltyrtc.org"

enum saltyc_role { SALTYC_INITIATOR = 1, SALTYC_RESPONDER = 2 };

enum saltyc_phase {
	SALTYC_PH_SERVER_HELLO, /* waiting for server-hello */
	SALTYC_PH_SERVER_AUTH,  /* client-auth sent, waiting for server-auth */
	SALTYC_PH_PEER,         /* server handshake done, peer handshake under way */
	SALTYC_PH_TASK,         /* paired: task messages flow */
	SALTYC_PH_CLOSED,       /* finished; nothing more is accepted */
};

/* How a session ended (the CLI's exit statuses follow these). */
enum saltyc_end {
	SALTYC_END_NORMAL = 0,   /* we closed, or the peer sent close 1000/1001 */
	SALTYC_END_SERVER = 3,   /* the server closed the connection (its code in the event) */
	SALTYC_END_SERVER_KEY = 4, /* the pinned server key did not check out */
	SALTYC_END_HANDSHAKE = 5, /* peer handshake failed (bad token, no shared task, ...) */
	SALTYC_END_PEER_LOST = 6, /* the peer disconnected without close, or became unreachable */
	SALTYC_END_PEER_ERROR = 7, /* the peer sent close with an error code */
	SALTYC_END_PROTOCOL = 8, /* a message from the server or the peer broke the protocol */
};

enum saltyc_ev {
	SALTYC_EV_SERVER_READY, /* server handshake done: a = our address */
	SALTYC_EV_DROPPED,      /* initiator: responder a dropped with code b, text says why */
	SALTYC_EV_PEER_READY,   /* peer handshake done with peer a: task phase */
	SALTYC_EV_MESSAGE,      /* a task message: data/len = its MessagePack map */
	SALTYC_EV_PEER_LOST,    /* the paired peer is gone (a = its address), text says how */
	SALTYC_EV_PEER_CLOSE,   /* the paired peer sent close with reason a */
	SALTYC_EV_NOTE,         /* something worth logging, text */
	SALTYC_EV_CLOSE,        /* close the WebSocket with code a; b = enum saltyc_end; text */
};

struct saltyc_event {
	enum saltyc_ev type;
	int a, b;
	const char *text;
	const uint8_t *data;
	size_t len;
};

struct saltyc_io {
	void *ctx;
	/* One packet to send as one binary WebSocket message; 0 or -1. */
	int (*send)(void *ctx, const uint8_t *p, size_t n);
	void (*event)(void *ctx, const struct saltyc_event *ev);
};

struct saltyc_config {
	enum saltyc_role role;
	uint8_t secret_key[SALTYC_KEY_LEN]; /* own permanent key */
	/* Initiator: the token handed to the responder. Responder: the token it
	 * was given. Without one, peer_key must be the trusted peer's key. */
	bool has_token;
	uint8_t token[SALTYC_KEY_LEN];
	/* Responder: the initiator's public key (the path). Initiator: the
	 * trusted responder's key when has_token is false. */
	uint8_t peer_key[SALTYC_KEY_LEN];
	bool has_server_key; /* pin the server's permanent public key */
	uint8_t server_key[SALTYC_KEY_LEN];
	uint32_t ping_interval; /* seconds, sent in client-auth; 0 = none */
};

struct saltyc_client;

/* sodium_init must have succeeded. Returns NULL only for a bad config. */
struct saltyc_client *saltyc_new(const struct saltyc_config *cfg, const struct saltyc_io *io);
void saltyc_free(struct saltyc_client *c);
/*
 * One binary WebSocket message from the server. Returns 0, or -1 once the
 * client has closed (a CLOSE event was emitted: close the WebSocket).
 */
int saltyc_receive(struct saltyc_client *c, const uint8_t *p, size_t n);
/*
 * Sends one task message: mp/n must be exactly one MessagePack map with a
 * str "type" other than "application" and "close". Returns 0, or -1 with
 * *why (nothing sent) when the message is refused or there is no peer.
 */
int saltyc_send_task(struct saltyc_client *c, const uint8_t *mp, size_t n, const char **why);
/* Ends the session: close{reason} to the paired peer, then a CLOSE event (1000). */
void saltyc_close(struct saltyc_client *c, int reason);
enum saltyc_phase saltyc_phase(const struct saltyc_client *c);
/* The public key of a permanent secret key. */
void saltyc_public_key(const uint8_t sk[SALTYC_KEY_LEN], uint8_t pk[SALTYC_KEY_LEN]);
/* The WebSocket path for an initiator key: '/' + 64 lower-case hex + NUL. */
void saltyc_path(const uint8_t initiator_pk[SALTYC_KEY_LEN], char out[2 + 2 * SALTYC_KEY_LEN]);

#endif
