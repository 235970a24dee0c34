/*
 * Engine.IO protocol 3 packets on a WebSocket (the lowest layer of
 * WebSocketStar, see README.md here): one packet per WebSocket message, a
 * type digit ('0'..'6') first in a text message, a type byte (0..6) first in
 * a binary one, then the packet's data. Decoding only splits and checks;
 * what a packet means to a session is the caller's business. No state.
 */
#ifndef SB_WSSTAR_EIO_H
#define SB_WSSTAR_EIO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/buf.h"

enum eio_type {
	EIO_OPEN = 0,
	EIO_CLOSE = 1,
	EIO_PING = 2,
	EIO_PONG = 3,
	EIO_MESSAGE = 4,
	EIO_UPGRADE = 5,
	EIO_NOOP = 6,
};

enum eio_err {
	EIO_OK = 0,
	EIO_EMPTY = -1,    /* a message with no type at all */
	EIO_BAD_TYPE = -2, /* first character / byte is no packet type */
	EIO_BASE64 = -3,   /* "b<type><base64>": base64 mode, not served */
	EIO_TOO_BIG = -4,  /* longer than EIO_MAX_MESSAGE */
};

/* The reference's maxHttpBufferSize: bigger messages end the connection. */
#define EIO_MAX_MESSAGE 1000000
/* Reference handshake values, in ms. */
#define EIO_PING_INTERVAL 25000
#define EIO_PING_TIMEOUT 20000
/* Length of the session ids we hand out (URL-safe base64 of 15 bytes). */
#define EIO_SID_LEN 20

struct eio_packet {
	enum eio_type type;
	bool binary;         /* arrived in a binary WebSocket message */
	const uint8_t *data; /* after the type; points into the message */
	size_t len;
};

/* Splits one WebSocket message (text when !binary) into an Engine.IO packet. */
int eio_decode(struct eio_packet *p, const uint8_t *msg, size_t n, bool binary);
const char *eio_strerror(int err);

/* Encoders append one whole WebSocket message payload to b; they return 0
 * or -1 when memory runs out. */

/* A new random session id, NUL-terminated (EIO_SID_LEN characters). */
void eio_new_sid(char out[EIO_SID_LEN + 1]);
/* 0{"sid":...,"upgrades":[],"pingInterval":...,"pingTimeout":...} (text).
 * sid must be URL-safe (no JSON escaping needed); -1 when it is not. */
int eio_put_open(struct buf *b, const char *sid, unsigned ping_interval_ms, unsigned ping_timeout_ms);
/* 3<data>: the answer to a client's ping, echoing its data (text). */
int eio_put_pong(struct buf *b, const uint8_t *data, size_t n);
/* 1: close (text). */
int eio_put_close(struct buf *b);
/* 0x04 <bytes>: a message packet carrying binary data (binary message). */
int eio_put_binary(struct buf *b, const uint8_t *data, size_t n);

#endif
