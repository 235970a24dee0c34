/*
 * One RFC 6455 server connection above the frame codec: reassembly of
 * fragmented messages, control frames, incremental UTF-8 checks, size cap
 * and the close handshake. Output goes to a buffer the caller writes out.
 */
#ifndef SB_WS_H
#define SB_WS_H
#include <stdbool.h>
#include <stdint.h>

#include "../../common/buf.h"
#include "../../common/utf8.h"
#include "frame.h"

enum ws_state {
	WS_OPEN,
	WS_CLOSING, /* our close frame is queued; waiting for the peer's */
	WS_CLOSED   /* handshake over (or connection failed): flush out, then close TCP */
};

#define WS_THROUGH_MIN (16u << 10) /* smaller frames are batched: one write per loop turn */

struct ws_conn;
struct ws_handlers {
	void (*on_message)(void *ctx, uint8_t opcode, uint8_t *data, size_t len);
	void (*on_pong)(void *ctx);
	/* The peer started the close handshake (code 1005 when it gave none). */
	void (*on_close)(void *ctx, uint16_t code);
};

struct ws_conn {
	struct ws_decoder dec;
	enum ws_state state;
	size_t max_message;
	uint8_t msg_opcode; /* TEXT/BINARY of the message being assembled, 0 if none */
	struct buf msg;
	uint8_t *whole;     /* a message that came in one piece, in the data being fed (not copied to msg) */
	struct utf8_state utf8;
	uint8_t ctl[WS_MAX_CONTROL];
	size_t ctl_len;
	uint16_t close_code; /* the code we sent or echoed */
	bool peer_closed;    /* the peer's close frame came, valid: it sends nothing more */
	struct buf *out;
	const struct ws_handlers *h;
	void *ctx;
};

void ws_conn_init(struct ws_conn *c, struct buf *out, size_t max_message,
		  const struct ws_handlers *h, void *ctx);
void ws_conn_free(struct ws_conn *c);
/* Processes received bytes (modified in place). Check c->state afterwards. */
void ws_conn_feed(struct ws_conn *c, uint8_t *data, size_t n);
/* Queues a data or control frame (dropped once closing). */
int ws_send(struct ws_conn *c, uint8_t opcode, const void *p, size_t n);
/*
 * The same for a data frame, but one of WS_THROUGH_MIN bytes or more is
 * written straight to fd, in one writev after what waits in the output: no
 * copy, and no output buffer the size of the message (allocated and freed
 * again for each one). Only what fd does not take is queued; an error is
 * left for the caller's next write to find.
 */
int ws_send_to(struct ws_conn *c, int fd, uint8_t opcode, const void *p, size_t n);
/* Starts the close handshake with code and reason (reason cut to fit). */
void ws_close(struct ws_conn *c, uint16_t code, const char *reason);
/* Whether a received close code is one a peer may send (RFC 6455 7.4). */
bool ws_close_code_valid(uint16_t code);

#endif
