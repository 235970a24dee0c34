/*
 * SaltyRTC client for the WebSocket task (v0.websocket.tasks.saltyrtc.org):
 * the client side of the signalling protocol without any I/O. The caller
 * feeds it each binary WebSocket message from the server (salty_receive) and
 * gets packets to send and events back through two callbacks, so the same
 * code runs over a real socket (client_ws.c, the CLI) and in unit tests and
 * the fuzz target. Keys, cookies and sequence numbers live here, per peer.
 */
#ifndef SB_SALTY_CLIENT_H
#define SB_SALTY_CLIENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SALTY_KEY_LEN 32
#define SALTY_NONCE_LEN 24
#define SALTY_SUBPROTOCOL "v1.saltyrtc.org"
#define SALTY_TASK "v0.websocket.tasks.saltyrtc.org"

enum salty_role { SALTY_INITIATOR = 1, SALTY_RESPONDER = 2 };

enum salty_phase {
	SALTY_PH_SERVER_HELLO, /* waiting for server-hello */
	SALTY_PH_SERVER_AUTH,  /* client-auth sent, waiting for server-auth */
	SALTY_PH_PEER,         /* server handshake done, peer handshake under way */
	SALTY_PH_TASK,         /* paired: task messages flow */
	SALTY_PH_CLOSED,       /* finished; nothing more is accepted */
};

/* How a session ended (the CLI's exit statuses follow these). */
enum salty_end {
	SALTY_END_NORMAL = 0,   /* we closed, or the peer sent close 1000/1001 */
	SALTY_END_SERVER = 3,   /* the server closed the connection (its code in the event) */
	SALTY_END_SERVER_KEY = 4, /* the pinned server key did not check out */
	SALTY_END_HANDSHAKE = 5, /* peer handshake failed (bad token, no shared task, ...) */
	SALTY_END_PEER_LOST = 6, /* the peer disconnected without close, or became unreachable */
	SALTY_END_PEER_ERROR = 7, /* the peer sent close with an error code */
	SALTY_END_PROTOCOL = 8, /* a message from the server or the peer broke the protocol */
};

enum salty_ev {
	SALTY_EV_SERVER_READY, /* server handshake done: a = our address */
	SALTY_EV_DROPPED,      /* initiator: responder a dropped with code b, text says why */
	SALTY_EV_PEER_READY,   /* peer handshake done with peer a: task phase */
	SALTY_EV_MESSAGE,      /* a task message: data/len = its MessagePack map */
	SALTY_EV_PEER_LOST,    /* the paired peer is gone (a = its address), text says how */
	SALTY_EV_PEER_CLOSE,   /* the paired peer sent close with reason a */
	SALTY_EV_NOTE,         /* something worth logging, text */
	SALTY_EV_CLOSE,        /* close the WebSocket with code a; b = enum salty_end; text */
};

struct salty_event {
	enum salty_ev type;
	int a, b;
	const char *text;
	const uint8_t *data;
	size_t len;
};

struct salty_io {
	void *ctx;
	/* One packet to send as one binary WebSocket message; 0 or -1. */
	int (*send)(void *ctx, const uint8_t *p, size_t n);
	void (*event)(void *ctx, const struct salty_event *ev);
};

struct salty_config {
	enum salty_role role;
	uint8_t secret_key[SALTY_KEY_LEN]; /* own permanent key */
	/* Initiator: the token handed to the responder. Responder: the token it
	 * was given. Without one, peer_key must be the trusted peer's key. */
	bool has_token;
	uint8_t token[SALTY_KEY_LEN];
	/* Responder: the initiator's public key (the path). Initiator: the
	 * trusted responder's key when has_token is false. */
	uint8_t peer_key[SALTY_KEY_LEN];
	bool has_server_key; /* pin the server's permanent public key */
	uint8_t server_key[SALTY_KEY_LEN];
	uint32_t ping_interval; /* seconds, sent in client-auth; 0 = none */
};

struct salty_client;

/* sodium_init must have succeeded. Returns NULL only for a bad config. */
struct salty_client *salty_new(const struct salty_config *cfg, const struct salty_io *io);
void salty_free(struct salty_client *c);
/*
 * One binary WebSocket message from the server. Returns 0, or -1 once the
 * client has closed (a CLOSE event was emitted: close the WebSocket).
 */
int salty_receive(struct salty_client *c, const uint8_t *p, size_t n);
/*
 * Sends one task message: mp/n must be exactly one MessagePack map with a
 * str "type" other than "application" and "close". Returns 0, or -1 with
 * *why (nothing sent) when the message is refused or there is no peer.
 */
int salty_send_task(struct salty_client *c, const uint8_t *mp, size_t n, const char **why);
/* Ends the session: close{reason} to the paired peer, then a CLOSE event (1000). */
void salty_close(struct salty_client *c, int reason);
enum salty_phase salty_phase(const struct salty_client *c);
/* The public key of a permanent secret key. */
void salty_public_key(const uint8_t sk[SALTY_KEY_LEN], uint8_t pk[SALTY_KEY_LEN]);
/* The WebSocket path for an initiator key: '/' + 64 lower-case hex + NUL. */
void salty_path(const uint8_t initiator_pk[SALTY_KEY_LEN], char out[2 + 2 * SALTY_KEY_LEN]);

#endif
