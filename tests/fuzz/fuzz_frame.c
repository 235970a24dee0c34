/*
 * Client bytes into a WebSocket connection and into the raw frame decoder.
 *
 * Input: one configuration byte (max message size, echo on/off), then the
 * byte stream. The stream is fed to a ws_conn twice, once whole and once in
 * random-sized chunks (each its own allocation); both runs must report the
 * same messages, queue the same bytes and end in the same state. Messages
 * respect the size cap, text is valid UTF-8, and what we queue is a valid
 * sequence of server frames ending in one close frame once not open.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"
#include "../../common/utf8.h"
#include "../../proto/websocket/frame.h"
#include "../../proto/websocket/ws.h"

struct run {
	struct ws_conn c;
	struct buf out;
	struct buf log; /* what the handlers saw, in order */
	bool echo;
};

static void log_event(struct run *r, uint8_t kind, const void *p, size_t n)
{
	uint64_t len = n;
	buf_append(&r->log, &kind, 1);
	buf_append(&r->log, &len, sizeof len);
	buf_append(&r->log, p, n);
}

static void on_message(void *ctx, uint8_t opcode, uint8_t *data, size_t len)
{
	struct run *r = ctx;
	if (opcode != WS_TEXT && opcode != WS_BINARY)
		abort();
	if (len > r->c.max_message)
		abort();
	if (opcode == WS_TEXT && !utf8_valid(data, len))
		abort();
	log_event(r, opcode, data, len);
	if (r->echo && ws_send(&r->c, opcode, data, len) != 0)
		abort();
}

static void on_pong(void *ctx) { log_event(ctx, 'P', NULL, 0); }

static void on_close(void *ctx, uint16_t code)
{
	struct run *r = ctx;
	if (code != 1005 && !ws_close_code_valid(code))
		abort();
	log_event(r, 'C', &code, sizeof code);
}

static const struct ws_handlers handlers = {on_message, on_pong, on_close};

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void feed_copy(struct ws_conn *c, const uint8_t *p, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);
	if (n)
		memcpy(copy, p, n);
	ws_conn_feed(c, copy, n);
	free(copy);
}

/* Checks that out holds whole, valid, unmasked server frames. */
static void check_output(const struct run *r)
{
	struct ws_decoder d;
	ws_decoder_init(&d, false);
	uint8_t *copy = malloc(buf_used(&r->out) + 1);
	size_t n = buf_used(&r->out), off = 0, closes = 0;
	if (n)
		memcpy(copy, buf_head(&r->out), n);
	uint8_t last_op = 0;
	uint8_t ctl[WS_MAX_CONTROL];
	size_t ctl_len = 0;
	for (;;) {
		enum ws_event ev;
		uint16_t code;
		size_t used = ws_decode(&d, copy + off, n - off, &ev, &code);
		if (ev == WS_EV_ERROR || d.f.masked)
			abort();
		if (ev == WS_EV_HEADER) {
			if (!d.f.fin || closes > 0)
				abort(); /* we never fragment, and nothing follows our close */
			last_op = d.f.opcode;
			ctl_len = 0;
		} else if (ev == WS_EV_DATA && ws_is_control(d.f.opcode)) {
			memcpy(ctl + ctl_len, copy + off, used);
			ctl_len += used;
		} else if (ev == WS_EV_END && d.f.opcode == WS_CLOSE) {
			closes++;
			if (ctl_len == 1)
				abort();
			if (ctl_len >= 2) {
				uint16_t cc = (uint16_t)(ctl[0] << 8 | ctl[1]);
				if (!ws_close_code_valid(cc) || !utf8_valid(ctl + 2, ctl_len - 2))
					abort();
			}
		}
		off += used;
		if (ev == WS_EV_NONE)
			break;
	}
	if (off != n || d.in_payload || d.hdr_got != 0)
		abort(); /* a partial frame at the end */
	if (r->c.state != WS_OPEN && (closes != 1 || last_op != WS_CLOSE))
		abort();
	if (r->c.state == WS_OPEN && closes != 0)
		abort();
	free(copy);
}

static bool same_bytes(const struct buf *a, const struct buf *b)
{
	return buf_used(a) == buf_used(b) && (buf_used(a) == 0 || memcmp(buf_head(a), buf_head(b), buf_used(a)) == 0);
}

static void run_init(struct run *r, size_t max, bool echo)
{
	memset(r, 0, sizeof *r);
	r->echo = echo;
	ws_conn_init(&r->c, &r->out, max, &handlers, r);
}

static void run_free(struct run *r)
{
	ws_conn_free(&r->c);
	buf_free(&r->out);
	buf_free(&r->log);
}

/* The raw decoder on the same bytes; event invariants only. */
static void raw_decoder(const uint8_t *data, size_t size, bool require_mask, uint64_t seed)
{
	struct ws_decoder d;
	ws_decoder_init(&d, require_mask);
	size_t off = 0;
	bool failed = false, in_frame = false;
	while (off < size || in_frame) {
		size_t chunk = (size_t)(rng_next(&seed) % (17 + size / 512));
		if (chunk > size - off)
			chunk = size - off;
		uint8_t *p = malloc(chunk ? chunk : 1);
		if (chunk)
			memcpy(p, data + off, chunk);
		size_t pos = 0;
		for (;;) {
			enum ws_event ev;
			uint16_t code = 0;
			size_t used = ws_decode(&d, p + pos, chunk - pos, &ev, &code);
			if (used > chunk - pos)
				abort();
			pos += used;
			if (failed && (ev != WS_EV_ERROR || used != 0))
				abort(); /* errors are sticky */
			if (ev == WS_EV_ERROR) {
				if (code != 1002)
					abort();
				failed = true;
				break;
			}
			if (ev == WS_EV_HEADER) {
				if (in_frame || (ws_is_control(d.f.opcode) && (d.f.len > WS_MAX_CONTROL || !d.f.fin)) ||
				    (require_mask && !d.f.masked) || d.f.len >> 63)
					abort();
				in_frame = true;
			} else if (ev == WS_EV_DATA) {
				if (!in_frame || used == 0 || d.done > d.f.len)
					abort();
			} else if (ev == WS_EV_END) {
				if (!in_frame || d.done != d.f.len)
					abort();
				in_frame = false;
			} else if (ev == WS_EV_NONE) {
				if (pos != chunk)
					abort();
				break;
			}
		}
		free(p);
		off += chunk;
		if (failed || (chunk == 0 && off >= size))
			break;
	}
	if (failed) {
		enum ws_event ev;
		uint16_t code = 0;
		uint8_t more[3] = {0x81, 0x80, 0};
		for (int i = 0; i < 20; i++)
			if (ws_decode(&d, more, sizeof more, &ev, &code) != 0 || ev != WS_EV_ERROR || code != 1002)
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t max = (size_t)(data[0] >> 1) * 4; /* 0..508: small, so 1009 is reached */
	bool echo = data[0] & 1;
	data++, size--;

	/* Chunks (each its own allocation) grow with the input, so that a 1 MiB
	 * stream costs a few thousand allocations, not a hundred thousand. */
	uint64_t seed = 0x9E3779B97F4A7C15ull;
	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 0x100000001B3ull;
	if (!seed)
		seed = 1;

	struct run whole, chunked;
	run_init(&whole, max, echo);
	feed_copy(&whole.c, data, size);
	check_output(&whole);

	run_init(&chunked, max, echo);
	uint64_t s = seed;
	for (size_t off = 0; off < size;) {
		size_t chunk = (size_t)(rng_next(&s) % (23 + size / 512));
		if (chunk > size - off)
			chunk = size - off;
		feed_copy(&chunked.c, data + off, chunk);
		off += chunk;
	}
	check_output(&chunked);

	if (whole.c.state != chunked.c.state || whole.c.close_code != chunked.c.close_code ||
	    !same_bytes(&whole.out, &chunked.out) || !same_bytes(&whole.log, &chunked.log))
		abort();

	/* Once closed, more bytes change nothing. */
	if (whole.c.state == WS_CLOSED) {
		size_t before = buf_used(&whole.out), logged = buf_used(&whole.log);
		feed_copy(&whole.c, data, size);
		if (buf_used(&whole.out) != before || buf_used(&whole.log) != logged)
			abort();
	}
	run_free(&whole);
	run_free(&chunked);

	raw_decoder(data, size, true, seed);
	raw_decoder(data, size, false, seed ^ 0x5555);
	return 0;
}
