/*
 * nng's SP wire protocol spoken by hand over ipc:// and tcp://, for both ends
 * of the bus and for the tap. The worker does not link libnng because libnng
 * starts a pool of threads per process (14 on 2 CPUs) and costs megabytes per
 * worker; the router does not either, see router/listener.c for why. This is the
 * whole of what a pair1 peer (and a pub0 publisher) needs.
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
#define SP_PROTO_PUB0 0x0020
#define SP_PROTO_SUB0 0x0021
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

struct sp_conn {
	int fd;
	enum sp_state state;
	enum sp_transport transport;
	uint16_t my_proto, peer_proto; /* pair1 both, unless sp_conn_set_protocols */
	bool hops;          /* pair1 bodies start with a hop count; pub0's do not */
	uint8_t peer_hdr[SP_HANDSHAKE_LEN];
	size_t peer_got;
	uint8_t my_hdr[SP_HANDSHAKE_LEN];
	size_t my_sent;
	struct buf in;
	struct buf out;     /* whole frames; the head one may be partly written */
	size_t head_written;
	size_t front_len;   /* the frame sp_conn_queue_front put first, while none of it is sent; else 0 */
	size_t max_body;
	bool hold;          /* queued frames wait (e.g. until an authentication answer is at the front) */
};

/* The transport must be known before frames are queued. */
void sp_conn_init(struct sp_conn *c, enum sp_transport t, size_t max_body);
/* For a peer that is not pair1: pub0 talks to sub0 and sends bare bodies. */
void sp_conn_set_protocols(struct sp_conn *c, uint16_t mine, uint16_t peer, bool hops);
/* Starts a non-blocking connect (same transport as at init); queued frames are kept. */
int sp_conn_connect(struct sp_conn *c, const struct sp_addr *a);
/*
 * A bus socket's send buffer, set on each end outside the sandbox (the
 * supervisor's dial, the router's accept). The default, about 200 KB on
 * Linux, took no whole 256 KiB batch (BUS_BATCH_TARGET): the rest of nearly
 * every bulk batch was copied into the output and written on the next
 * EPOLLOUT, in both directions. Kernel memory is taken only for bytes
 * queued, so idle connections cost nothing more; Linux doubles the value
 * asked for (for its bookkeeping) and caps it at net.core.wmem_max.
 */
#define SP_SNDBUF (512u << 10)
void sp_set_sndbuf(int fd);
/* Takes an accepted, non-blocking socket: the handshake starts at the next flush. */
void sp_conn_adopt(struct sp_conn *c, int fd);
/* True once both handshakes are through. */
static inline bool sp_conn_open(const struct sp_conn *c) { return c->state == SP_OPEN; }
/* Drops the connection but keeps unsent frames for the next connection. */
void sp_conn_disconnect(struct sp_conn *c);
void sp_conn_free(struct sp_conn *c);
/* Writes what it can; -1 on a dead connection. */
int sp_conn_flush(struct sp_conn *c);
bool sp_conn_wants_write(const struct sp_conn *c);
/*
 * Reads what the socket has: 0 when it is drained, 1 when it stopped with a
 * largest frame's worth buffered, or a full buffer with a whole frame first
 * (take frames with sp_conn_next, then read again), -1 on EOF, error or a
 * bad handshake.
 */
int sp_conn_read(struct sp_conn *c);
/* Takes the next received payload: 1 got one, 0 none, -1 protocol error. */
int sp_conn_next(struct sp_conn *c, const uint8_t **p, size_t *n);
/* Queues one message (a pair1 hop count of 1 is added). */
int sp_conn_queue(struct sp_conn *c, const void *p, size_t n);
/*
 * The same, but written straight from p when nothing waits before it (open,
 * not held): a big message skips its copy into the output buffer, and only
 * what the socket does not take is queued. Callers flush as after a queue.
 */
int sp_conn_send(struct sp_conn *c, const void *p, size_t n);
/*
 * The same for a message in m that has SP_HEADROOM bytes free before it
 * (m->off): the frame's header is written there, and when the socket does
 * not take it all, m's storage becomes the output (no copy) and m gets
 * the output's empty one. m is empty afterwards. Without the headroom, or
 * with output waiting, it is sp_conn_send.
 */
#define SP_HEADROOM 16
int sp_conn_send_buf(struct sp_conn *c, struct buf *m);
/*
 * Puts a message before everything queued (for hello after a reconnect).
 * A message an earlier call put there that has not gone out yet (its
 * connection died first) is replaced: a peer gets one hello per connection.
 */
int sp_conn_queue_front(struct sp_conn *c, const void *p, size_t n);
/* Forgets every queued message (a connection that is not redialled). */
void sp_conn_drop_queued(struct sp_conn *c);
size_t sp_conn_pending(const struct sp_conn *c);
/* What is pending here and what the kernel holds that the peer has not read yet (SIOCOUTQ). */
size_t sp_conn_unread(const struct sp_conn *c);

#endif
