/*
 * The worker's side of the bus: nng's SP pair1 protocol spoken by hand over
 * ipc:// and tcp://. The worker does not link libnng because libnng starts a
 * pool of threads per process (14 on 2 CPUs) and costs megabytes per worker;
 * this is the whole of what a pair1 peer needs (see DESIGN.md, "The bus").
 *
 * Handshake, both ways: 00 'S' 'P' 00, protocol id u16be (pair1 = 0x0011),
 * 00 00. Frames: ipc has a type byte 0x01, then u64be length; tcp has the
 * u64be length only. A pair1 body starts with a u32be hop count.
 */
#ifndef SB_SP_H
#define SB_SP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"

#define SP_PROTO_PAIR1 0x0011
#define SP_HANDSHAKE_LEN 8
#define SP_MAX_HOPS 255

enum sp_transport { SP_IPC, SP_TCP };

struct sp_addr {
	enum sp_transport transport;
	struct sockaddr_storage sa;
	socklen_t salen;
};

/* Resolves ipc://PATH or tcp://HOST:PORT ([v6]:port too); 0 or -1. */
int sp_addr_parse(const char *url, struct sp_addr *a);

/* Pure framing, for the client, its tests and its fuzz target. */
void sp_handshake_make(uint8_t out[SP_HANDSHAKE_LEN], uint16_t proto);
/* 0 when hdr is a valid handshake naming proto, -1 otherwise. */
int sp_handshake_check(const uint8_t hdr[SP_HANDSHAKE_LEN], uint16_t proto);
size_t sp_frame_header_len(enum sp_transport t);
/* Writes the frame header for a body of len bytes; returns its size. */
size_t sp_frame_header(enum sp_transport t, uint8_t *out, uint64_t body_len);
/*
 * Looks for one complete frame at p. Returns 1 and sets *frame_len and the
 * pair1 payload (hop count stripped); 0 when more bytes are needed; -1 on a
 * malformed frame (bad type, body over max, no hop count, too many hops).
 */
int sp_frame_parse(enum sp_transport t, const uint8_t *p, size_t n, size_t max_body,
		   size_t *frame_len, const uint8_t **payload, size_t *payload_len);

enum sp_state { SP_CLOSED, SP_CONNECTING, SP_HANDSHAKE, SP_OPEN };

struct sp_client {
	int fd;
	enum sp_state state;
	enum sp_transport transport;
	uint8_t peer_hdr[SP_HANDSHAKE_LEN];
	size_t peer_got;
	uint8_t my_hdr[SP_HANDSHAKE_LEN];
	size_t my_sent;
	struct buf in;
	struct buf out;     /* whole frames; the head one may be partly written */
	size_t head_written;
	size_t max_body;
};

/* The transport must be known before frames are queued. */
void sp_client_init(struct sp_client *c, enum sp_transport t, size_t max_body);
/* Starts a non-blocking connect (same transport as at init); queued frames are kept. */
int sp_client_connect(struct sp_client *c, const struct sp_addr *a);
/* Drops the connection but keeps unsent frames for the next connection. */
void sp_client_disconnect(struct sp_client *c);
void sp_client_free(struct sp_client *c);
/* Writes what it can; -1 on a dead connection. */
int sp_client_flush(struct sp_client *c);
bool sp_client_wants_write(const struct sp_client *c);
/* Reads what the socket has; -1 on EOF, error or a bad handshake. */
int sp_client_read(struct sp_client *c);
/* Takes the next received payload: 1 got one, 0 none, -1 protocol error. */
int sp_client_next(struct sp_client *c, const uint8_t **p, size_t *n);
/* Queues one pair1 message (hop count 1 is added). */
int sp_client_queue(struct sp_client *c, const void *p, size_t n);
/* Puts a message before everything queued (for hello after a reconnect). */
int sp_client_queue_front(struct sp_client *c, const void *p, size_t n);
size_t sp_client_pending(const struct sp_client *c);

#endif
