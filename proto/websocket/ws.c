#include "ws.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

void ws_conn_init(struct ws_conn *c, struct buf *out, size_t max_message,
		  const struct ws_handlers *h, void *ctx)
{
	memset(c, 0, sizeof *c);
	ws_decoder_init(&c->dec, true);
	c->state = WS_OPEN;
	c->max_message = max_message;
	c->out = out;
	c->h = h;
	c->ctx = ctx;
}

void ws_conn_free(struct ws_conn *c) { buf_free(&c->msg); }

bool ws_close_code_valid(uint16_t code)
{
	if (code >= 3000 && code <= 4999)
		return true; /* registered (3xxx) and private (4xxx) codes */
	switch (code) {
	case 1000: case 1001: case 1002: case 1003: case 1007: case 1008:
	case 1009: case 1010: case 1011: case 1012: case 1013: case 1014:
		return true;
	default:
		return false; /* 1004-1006 and 1015 must never be on the wire */
	}
}

static int queue_frame(struct buf *out, uint8_t opcode, const void *p, size_t n)
{
	uint8_t hdr[10];
	size_t hl = ws_frame_header(hdr, true, opcode, n);
	if (buf_reserve(out, hl + n) < 0)
		return -1;
	buf_append(out, hdr, hl);
	return buf_append(out, p, n);
}

int ws_send(struct ws_conn *c, uint8_t opcode, const void *p, size_t n)
{
	if (c->state != WS_OPEN)
		return -1;
	return queue_frame(c->out, opcode, p, n);
}

int ws_send_to(struct ws_conn *c, int fd, uint8_t opcode, const void *p, size_t n)
{
	if (c->state != WS_OPEN)
		return -1;
	if (n < WS_THROUGH_MIN)
		return queue_frame(c->out, opcode, p, n);
	/* What waits in the output (a protocol's small header frame before a
	 * relayed chunk, say) goes first in the same writev: the big frame is
	 * still not copied, and the order on the wire is kept. */
	uint8_t hdr[10];
	size_t hl = ws_frame_header(hdr, true, opcode, n), queued = buf_used(c->out);
	struct iovec iov[3] = {{buf_head(c->out), queued}, {hdr, hl}, {(void *)p, n}};
	ssize_t w;
	do
		w = writev(fd, queued ? iov : iov + 1, queued ? 3 : 2);
	while (w < 0 && errno == EINTR);
	if (w < 0) /* EAGAIN, or an error the caller's next write finds */
		w = 0;
	size_t done = (size_t)w;
	if (done < queued) {
		buf_consume(c->out, done);
		return queue_frame(c->out, opcode, p, n);
	}
	buf_consume(c->out, queued);
	done -= queued;
	if (done < hl)
		buf_append(c->out, hdr + done, hl - done);
	size_t from = done > hl ? done - hl : 0;
	return buf_append(c->out, (const uint8_t *)p + from, n - from);
}

static void send_close_frame(struct ws_conn *c, uint16_t code, const char *reason, size_t rlen)
{
	uint8_t payload[WS_MAX_CONTROL];
	size_t n = 0;
	if (code != 1005) { /* 1005 = "no code": answer with an empty close */
		if (rlen > WS_MAX_CONTROL - 2)
			rlen = WS_MAX_CONTROL - 2;
		payload[0] = (uint8_t)(code >> 8);
		payload[1] = (uint8_t)code;
		if (rlen) /* ws_close takes a NULL reason; memcpy must not see it */
			memcpy(payload + 2, reason, rlen);
		n = 2 + rlen;
	}
	queue_frame(c->out, WS_CLOSE, payload, n);
	c->close_code = code;
}

void ws_close(struct ws_conn *c, uint16_t code, const char *reason)
{
	if (c->state != WS_OPEN)
		return;
	size_t rlen = reason ? strlen(reason) : 0;
	/* Cutting a reason must not split a UTF-8 sequence. */
	if (rlen > WS_MAX_CONTROL - 2) {
		rlen = WS_MAX_CONTROL - 2;
		while (rlen > 0 && ((uint8_t)reason[rlen] & 0xC0) == 0x80)
			rlen--;
	}
	send_close_frame(c, code, reason, rlen);
	c->state = WS_CLOSING;
	buf_free(&c->msg);
}

/* "Fail the WebSocket connection" (RFC 6455 7.1.7): send our close frame if
 * we have not yet, then stop; the caller flushes it and closes TCP. */
static void fail(struct ws_conn *c, uint16_t code, const char *why)
{
	if (c->state == WS_OPEN)
		ws_close(c, code, why);
	c->state = WS_CLOSED;
}

static void on_close_frame(struct ws_conn *c)
{
	uint16_t code = 1005;
	if (c->ctl_len == 1)
		return fail(c, 1002, "close payload of one byte");
	if (c->ctl_len >= 2) {
		code = (uint16_t)(c->ctl[0] << 8 | c->ctl[1]);
		if (!ws_close_code_valid(code))
			return fail(c, 1002, "invalid close code");
		if (!utf8_valid(c->ctl + 2, c->ctl_len - 2))
			return fail(c, 1007, "invalid UTF-8 in close reason");
	}
	if (c->state == WS_OPEN) {
		if (c->h->on_close)
			c->h->on_close(c->ctx, code);
		send_close_frame(c, code, "", 0); /* echo the peer's code */
	}
	c->peer_closed = true;
	c->state = WS_CLOSED;
}

static void on_control_end(struct ws_conn *c)
{
	switch (c->dec.f.opcode) {
	case WS_PING:
		if (c->state == WS_OPEN)
			queue_frame(c->out, WS_PONG, c->ctl, c->ctl_len);
		break;
	case WS_PONG:
		if (c->h->on_pong)
			c->h->on_pong(c->ctx); /* solicited or not, a pong only proves liveness */
		break;
	case WS_CLOSE:
		on_close_frame(c);
		break;
	}
}

static void on_header(struct ws_conn *c)
{
	const struct ws_frame *f = &c->dec.f;
	if (ws_is_control(f->opcode)) {
		c->ctl_len = 0;
		return;
	}
	if (f->opcode == WS_CONT && c->msg_opcode == 0)
		return fail(c, 1002, "continuation without a message");
	if (f->opcode != WS_CONT && c->msg_opcode != 0)
		return fail(c, 1002, "new message inside a fragmented one");
	c->whole = NULL;
	if (f->opcode != WS_CONT) {
		c->msg_opcode = f->opcode;
		buf_reset(&c->msg);
		utf8_init(&c->utf8);
	}
	if (f->len > c->max_message || buf_used(&c->msg) + f->len > c->max_message)
		return fail(c, 1009, "message too big");
}

static void on_data(struct ws_conn *c, uint8_t *p, size_t n)
{
	if (ws_is_control(c->dec.f.opcode)) {
		memcpy(c->ctl + c->ctl_len, p, n);
		c->ctl_len += n;
		return;
	}
	if (c->msg_opcode == WS_TEXT && !utf8_feed(&c->utf8, p, n))
		return fail(c, 1007, "invalid UTF-8 in text message");
	const struct ws_frame *f = &c->dec.f;
	if (f->fin && buf_used(&c->msg) == 0 && n == f->len) {
		/* the whole message in one piece of the caller's data: handed over from there, not copied */
		c->whole = p;
		return;
	}
	if (buf_append(&c->msg, p, n) < 0)
		return fail(c, 1011, "out of memory");
}

static void on_frame_end(struct ws_conn *c)
{
	const struct ws_frame *f = &c->dec.f;
	if (ws_is_control(f->opcode))
		return on_control_end(c);
	if (!f->fin)
		return;
	uint8_t opcode = c->msg_opcode;
	c->msg_opcode = 0;
	if (opcode == WS_TEXT && !utf8_complete(&c->utf8))
		return fail(c, 1007, "invalid UTF-8 in text message");
	uint8_t *whole = c->whole;
	c->whole = NULL;
	if (whole)
		c->h->on_message(c->ctx, opcode, whole, (size_t)f->len);
	else
		c->h->on_message(c->ctx, opcode, buf_head(&c->msg), buf_used(&c->msg));
	buf_reset(&c->msg);
	/* kept up to 256 KiB: unmapping and mapping again a buffer per 64 KiB message
	 * (128 KiB, over the worker's mmap threshold) tripled the CPU of a WebSocketStar relay */
	buf_shrink(&c->msg, 262144);
}

void ws_conn_feed(struct ws_conn *c, uint8_t *data, size_t n)
{
	while (c->state != WS_CLOSED) {
		enum ws_event ev;
		uint16_t code = 0;
		size_t used = ws_decode(&c->dec, data, n, &ev, &code);
		data += used;
		n -= used;
		bool closing = c->state == WS_CLOSING;
		switch (ev) {
		case WS_EV_NONE:
			return;
		case WS_EV_ERROR:
			fail(c, code, "protocol error");
			return;
		case WS_EV_HEADER:
			/* While closing, only the peer's close frame still matters. */
			if (!closing || c->dec.f.opcode == WS_CLOSE)
				on_header(c);
			break;
		case WS_EV_DATA:
			if (!closing || c->dec.f.opcode == WS_CLOSE)
				on_data(c, data - used, used);
			break;
		case WS_EV_END:
			if (!closing || c->dec.f.opcode == WS_CLOSE)
				on_frame_end(c);
			break;
		}
	}
}
