/* proto/websocket/ws: one server connection fed with client frames. */
#include <stdlib.h>
#include <string.h>

#include "../../common/utf8.h"
#include "../../proto/websocket/ws.h"
#include "check.h"

#define MAXMSG 8

struct rec {
	int nmsg;
	uint8_t op[MAXMSG];
	struct buf msg[MAXMSG];
	int pongs;
	int closes;
	uint16_t close_code;
};

static void on_message(void *ctx, uint8_t opcode, uint8_t *data, size_t len)
{
	struct rec *r = ctx;
	if (r->nmsg < MAXMSG) {
		r->op[r->nmsg] = opcode;
		buf_append(&r->msg[r->nmsg], data, len);
	}
	r->nmsg++;
}

static void on_pong(void *ctx) { ((struct rec *)ctx)->pongs++; }

static void on_close(void *ctx, uint16_t code)
{
	struct rec *r = ctx;
	r->closes++;
	r->close_code = code;
}

static const struct ws_handlers handlers = {on_message, on_pong, on_close};

/* A connection under test with its output buffer and what it reported. */
struct t {
	struct ws_conn c;
	struct buf out;
	struct rec r;
	struct buf in; /* client frames still to feed */
};

static void t_init(struct t *t, size_t max_message)
{
	memset(t, 0, sizeof *t);
	ws_conn_init(&t->c, &t->out, max_message, &handlers, &t->r);
}

static void t_free(struct t *t)
{
	ws_conn_free(&t->c);
	buf_free(&t->out);
	buf_free(&t->in);
	for (int i = 0; i < MAXMSG; i++)
		buf_free(&t->r.msg[i]);
}

/* Appends a masked client frame. */
static void cf(struct t *t, bool fin, uint8_t op, const void *p, size_t n)
{
	static const uint8_t mask[4] = {0xA1, 0x02, 0xF3, 0x44};
	uint8_t h[WS_MAX_HEADER];
	size_t hl = ws_frame_header_masked(h, fin, op, n, mask);
	buf_append(&t->in, h, hl);
	size_t at = t->in.len;
	buf_append(&t->in, p, n);
	ws_mask(t->in.data + at, n, mask, 0);
}

static void cf_str(struct t *t, bool fin, uint8_t op, const char *s) { cf(t, fin, op, s, strlen(s)); }

/* A close frame payload: code then reason. */
static void cf_close(struct t *t, uint16_t code, const char *reason, size_t rlen)
{
	uint8_t p[WS_MAX_CONTROL + 2];
	p[0] = (uint8_t)(code >> 8);
	p[1] = (uint8_t)code;
	memcpy(p + 2, reason, rlen);
	cf(t, true, WS_CLOSE, p, 2 + rlen);
}

/* Feeds everything queued in one call (from a private copy). */
static void feed_all(struct t *t)
{
	size_t n = buf_used(&t->in);
	uint8_t *p = malloc(n ? n : 1);
	if (n)
		memcpy(p, buf_head(&t->in), n);
	ws_conn_feed(&t->c, p, n);
	free(p);
	buf_reset(&t->in);
}

/* Feeds one byte per call. */
static void feed_bytes(struct t *t)
{
	for (size_t i = 0; i < buf_used(&t->in); i++) {
		uint8_t *b = malloc(1);
		*b = buf_head(&t->in)[i];
		ws_conn_feed(&t->c, b, 1);
		free(b);
	}
	buf_reset(&t->in);
}

static bool msg_is(const struct t *t, int i, uint8_t op, const void *p, size_t n)
{
	return i < t->r.nmsg && i < MAXMSG && t->r.op[i] == op && buf_used(&t->r.msg[i]) == n &&
	       (n == 0 || memcmp(buf_head(&t->r.msg[i]), p, n) == 0);
}

static bool out_is(const struct t *t, const void *p, size_t n)
{
	return buf_used(&t->out) == n && (n == 0 || memcmp(buf_head(&t->out), p, n) == 0);
}

/* The one frame in out is an unmasked close frame with this code (and any reason). */
static bool out_is_close(const struct t *t, uint16_t code)
{
	const uint8_t *o = buf_head(&t->out);
	size_t n = buf_used(&t->out);
	if (n < 4 || o[0] != 0x88 || (o[1] & 0x80) || o[1] > WS_MAX_CONTROL || n != 2u + o[1])
		return false;
	return (uint16_t)(o[2] << 8 | o[3]) == code && utf8_valid(o + 4, n - 4);
}

static void test_messages(void)
{
	struct t t;
	t_init(&t, 1 << 16);
	cf_str(&t, true, WS_TEXT, "hello");
	feed_all(&t);
	CHECK("ws: text message delivered", t.r.nmsg == 1 && msg_is(&t, 0, WS_TEXT, "hello", 5));
	CHECK("ws: nothing queued for a data message", buf_used(&t.out) == 0 && t.c.state == WS_OPEN);
	cf(&t, true, WS_BINARY, "\x00\xFF\xC0", 3);
	feed_all(&t);
	CHECK("ws: binary message with invalid UTF-8 delivered", msg_is(&t, 1, WS_BINARY, "\x00\xFF\xC0", 3));
	cf_str(&t, true, WS_TEXT, "");
	feed_all(&t);
	CHECK("ws: empty text message delivered", msg_is(&t, 2, WS_TEXT, "", 0));
	cf_str(&t, true, WS_TEXT, "a");
	cf_str(&t, true, WS_TEXT, "bc");
	feed_all(&t);
	CHECK("ws: two messages in one read", t.r.nmsg == 5 && msg_is(&t, 3, WS_TEXT, "a", 1) && msg_is(&t, 4, WS_TEXT, "bc", 2));

	CHECK("ws: ws_send queues an unmasked frame", ws_send(&t.c, WS_TEXT, "hey", 3) == 0 && out_is(&t, "\x81\x03hey", 5));
	t_free(&t);
}

static void test_fragments(void)
{
	struct t t;
	t_init(&t, 1 << 16);
	cf_str(&t, false, WS_TEXT, "Hel");
	cf_str(&t, true, WS_PING, "p1");
	cf_str(&t, false, WS_CONT, "lo ");
	cf_str(&t, true, WS_PONG, "");
	cf_str(&t, true, WS_CONT, "world");
	feed_all(&t);
	CHECK("ws: fragmented message reassembled around control frames", t.r.nmsg == 1 && msg_is(&t, 0, WS_TEXT, "Hello world", 11));
	CHECK("ws: interleaved ping answered with its payload", out_is(&t, "\x8A\x02p1", 4));
	CHECK("ws: interleaved pong reported", t.r.pongs == 1 && t.c.state == WS_OPEN);
	t_free(&t);

	t_init(&t, 1 << 16);
	cf_str(&t, false, WS_BINARY, "ab");
	cf_str(&t, false, WS_CONT, "");
	cf_str(&t, true, WS_PING, "x");
	cf_str(&t, true, WS_CONT, "cd");
	feed_bytes(&t);
	CHECK("ws: fragmented message fed byte by byte", t.r.nmsg == 1 && msg_is(&t, 0, WS_BINARY, "abcd", 4));
	CHECK("ws: ping fed byte by byte answered", out_is(&t, "\x8A\x01x", 3));
	t_free(&t);

	/* A multi-byte character split across fragments is fine. */
	t_init(&t, 1 << 16);
	cf(&t, false, WS_TEXT, "\xE2\x82", 2);
	cf(&t, true, WS_CONT, "\xAC", 1);
	feed_all(&t);
	CHECK("ws: UTF-8 sequence split across fragments accepted", msg_is(&t, 0, WS_TEXT, "\xE2\x82\xAC", 3) && t.c.state == WS_OPEN);
	t_free(&t);

	/* Max-size ping gets a max-size pong with the same bytes. */
	t_init(&t, 1 << 16);
	uint8_t p[125], want[127];
	for (int i = 0; i < 125; i++)
		p[i] = (uint8_t)(i * 13);
	cf(&t, true, WS_PING, p, 125);
	feed_all(&t);
	want[0] = 0x8A;
	want[1] = 125;
	memcpy(want + 2, p, 125);
	CHECK("ws: 125-byte ping answered with the same 125 bytes", out_is(&t, want, 127) && t.r.nmsg == 0);
	t_free(&t);
}

static void test_close(void)
{
	struct t t;
	t_init(&t, 1 << 16);
	cf_close(&t, 1000, "bye", 3);
	feed_all(&t);
	CHECK("ws: peer close reported with its code", t.r.closes == 1 && t.r.close_code == 1000);
	CHECK("ws: close echoed with the code", out_is(&t, "\x88\x02\x03\xE8", 4));
	CHECK("ws: state closed after the echo", t.c.state == WS_CLOSED && t.c.close_code == 1000);
	size_t before = buf_used(&t.out);
	cf_str(&t, true, WS_PING, "late");
	feed_all(&t);
	CHECK("ws: nothing answered after close", buf_used(&t.out) == before);
	t_free(&t);

	t_init(&t, 1 << 16);
	cf(&t, true, WS_CLOSE, NULL, 0);
	feed_all(&t);
	CHECK("ws: empty close reported as 1005", t.r.closes == 1 && t.r.close_code == 1005);
	CHECK("ws: empty close echoed empty", out_is(&t, "\x88\x00", 2) && t.c.state == WS_CLOSED);
	t_free(&t);

	static const uint16_t ok_codes[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999};
	bool all = true;
	for (size_t i = 0; i < sizeof ok_codes / sizeof *ok_codes; i++) {
		t_init(&t, 1 << 16);
		cf_close(&t, ok_codes[i], "", 0);
		feed_all(&t);
		all = all && t.r.closes == 1 && t.r.close_code == ok_codes[i] && out_is_close(&t, ok_codes[i]) &&
		      buf_used(&t.out) == 4 && t.c.state == WS_CLOSED;
		t_free(&t);
	}
	CHECK("ws: every valid close code is echoed", all);

	static const uint16_t bad_codes[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
	all = true;
	for (size_t i = 0; i < sizeof bad_codes / sizeof *bad_codes; i++) {
		t_init(&t, 1 << 16);
		cf_close(&t, bad_codes[i], "x", 1);
		feed_all(&t);
		all = all && t.r.closes == 0 && out_is_close(&t, 1002) && t.c.state == WS_CLOSED;
		t_free(&t);
	}
	CHECK("ws: invalid close codes answered with 1002", all);
	bool valid = true;
	for (unsigned c = 0; c < 65536; c++) {
		bool want = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
		valid = valid && ws_close_code_valid((uint16_t)c) == want;
	}
	CHECK("ws: ws_close_code_valid over every code", valid);

	t_init(&t, 1 << 16);
	cf(&t, true, WS_CLOSE, "\x03", 1);
	feed_all(&t);
	CHECK("ws: 1-byte close payload gives 1002", out_is_close(&t, 1002) && t.c.state == WS_CLOSED && t.r.closes == 0);
	t_free(&t);

	t_init(&t, 1 << 16);
	cf_close(&t, 1000, "\xC3\x28", 2);
	feed_all(&t);
	CHECK("ws: invalid UTF-8 close reason gives 1007", out_is_close(&t, 1007) && t.c.state == WS_CLOSED);
	t_free(&t);

	t_init(&t, 1 << 16);
	cf_close(&t, 1000, "\xC3", 1);
	feed_all(&t);
	CHECK("ws: truncated UTF-8 close reason gives 1007", out_is_close(&t, 1007));
	t_free(&t);

	/* We start the handshake: then only the peer's close frame matters. */
	t_init(&t, 1 << 16);
	ws_close(&t.c, 1001, "going away");
	CHECK("ws: ws_close queues code and reason", out_is(&t, "\x88\x0C\x03\xE9going away", 14));
	CHECK("ws: state closing after ws_close", t.c.state == WS_CLOSING && t.c.close_code == 1001);
	CHECK("ws: ws_send refused once closing", ws_send(&t.c, WS_TEXT, "x", 1) == -1 && buf_used(&t.out) == 14);
	ws_close(&t.c, 1000, "again");
	CHECK("ws: second ws_close does nothing", buf_used(&t.out) == 14);
	cf_str(&t, true, WS_TEXT, "ignored");
	cf_str(&t, true, WS_PING, "ignored");
	cf_close(&t, 1000, "", 0);
	feed_all(&t);
	CHECK("ws: data and pings ignored while closing", t.r.nmsg == 0 && buf_used(&t.out) == 14);
	CHECK("ws: peer's close completes the handshake without an echo", t.c.state == WS_CLOSED && t.r.closes == 0);
	t_free(&t);

	t_init(&t, 1 << 16);
	ws_close(&t.c, 1000, NULL);
	CHECK("ws: ws_close with no reason sends the code alone", out_is(&t, "\x88\x02\x03\xE8", 4) && t.c.state == WS_CLOSING);
	t_free(&t);

	/* A long reason is cut to fit 125 bytes without splitting a character. */
	t_init(&t, 1 << 16);
	char reason[301];
	for (int i = 0; i < 300; i += 2)
		reason[i] = (char)0xC3, reason[i + 1] = (char)0xA9;
	reason[300] = 0;
	ws_close(&t.c, 4000, reason);
	const uint8_t *o = buf_head(&t.out);
	CHECK("ws: long close reason cut to a 125-byte payload",
	      o[0] == 0x88 && o[1] <= 125 && o[1] >= 123 && buf_used(&t.out) == 2u + o[1]);
	CHECK("ws: cut reason is still valid UTF-8", out_is_close(&t, 4000));
	t_free(&t);
	t_init(&t, 1 << 16);
	reason[0] = 'x'; /* now the cut falls between two characters */
	memmove(reason + 1, reason + 2, 299);
	ws_close(&t.c, 4000, reason);
	CHECK("ws: reason cut at a character boundary", out_is_close(&t, 4000) && buf_head(&t.out)[1] <= 125);
	t_free(&t);
}

/* Fails the connection with one frame and checks the close code and state. */
static bool fails_with(struct t *t, uint16_t code)
{
	feed_all(t);
	return out_is_close(t, code) && t->c.state == WS_CLOSED && t->c.close_code == code;
}

static void test_failures(void)
{
	struct t t;
	t_init(&t, 1 << 16);
	cf(&t, true, WS_TEXT, "ab\xFF" "cd", 5);
	CHECK("ws: invalid UTF-8 in text gives 1007", fails_with(&t, 1007) && t.r.nmsg == 0);
	t_free(&t);

	t_init(&t, 1 << 16);
	cf(&t, true, WS_TEXT, "ab\xC3", 3);
	CHECK("ws: text ending mid-character gives 1007", fails_with(&t, 1007) && t.r.nmsg == 0);
	t_free(&t);

	t_init(&t, 1 << 16);
	cf(&t, true, WS_TEXT, "\xED\xA0\x80", 3);
	CHECK("ws: surrogate in text gives 1007", fails_with(&t, 1007));
	t_free(&t);

	/* Fail fast: the bad byte of an unfinished first fragment is enough. */
	t_init(&t, 1 << 16);
	const char *longer = "ok\xC0\x80 and much more that never arrives";
	cf_str(&t, false, WS_TEXT, longer);
	t.in.len -= strlen(longer) - 8; /* only the header and the first 8 payload bytes arrive */
	feed_all(&t);
	CHECK("ws: invalid UTF-8 mid-fragment fails before the frame ends",
	      out_is_close(&t, 1007) && t.c.state == WS_CLOSED && t.r.nmsg == 0);
	t_free(&t);

	t_init(&t, 1 << 16);
	cf_str(&t, false, WS_TEXT, "fine so far");
	cf(&t, false, WS_CONT, "\xF5", 1);
	cf_str(&t, true, WS_CONT, "end");
	CHECK("ws: invalid UTF-8 in a continuation gives 1007", fails_with(&t, 1007) && t.r.nmsg == 0);
	t_free(&t);

	t_init(&t, 1 << 16);
	cf(&t, false, WS_TEXT, "\xE2\x82", 2);
	cf(&t, true, WS_CONT, "", 0);
	CHECK("ws: text message ending in a truncated character gives 1007", fails_with(&t, 1007));
	t_free(&t);

	t_init(&t, 16);
	cf_str(&t, true, WS_TEXT, "0123456789abcdef");
	feed_all(&t);
	CHECK("ws: message of exactly max_message accepted", msg_is(&t, 0, WS_TEXT, "0123456789abcdef", 16) && t.c.state == WS_OPEN);
	t_free(&t);

	t_init(&t, 16);
	cf_str(&t, true, WS_TEXT, "0123456789abcdefg");
	t.in.len -= 17; /* the header alone is enough to refuse */
	CHECK("ws: frame over max_message gives 1009 from its header", fails_with(&t, 1009) && t.r.nmsg == 0);
	t_free(&t);

	t_init(&t, 16);
	cf_str(&t, false, WS_BINARY, "0123456789");
	cf_str(&t, true, WS_PING, "p");
	cf_str(&t, true, WS_CONT, "abcdefg");
	feed_all(&t);
	const uint8_t *o = buf_head(&t.out);
	CHECK("ws: fragments adding up past max_message give 1009",
	      buf_used(&t.out) == 3 + 4 + 15 && memcmp(o, "\x8A\x01p", 3) == 0 && o[3] == 0x88 && o[5] == 0x03 &&
		  o[6] == (1009 & 0xFF) && t.c.state == WS_CLOSED && t.r.nmsg == 0);
	t_free(&t);

	t_init(&t, 1 << 16);
	uint8_t huge[14] = {0x82, 0x80 | 127, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4};
	buf_append(&t.in, huge, sizeof huge);
	CHECK("ws: 2^63-1 byte frame gives 1009", fails_with(&t, 1009));
	t_free(&t);

#define PROTO(name, build)                                             \
	do {                                                           \
		t_init(&t, 1 << 16);                                   \
		build;                                                 \
		CHECK("ws: " name " gives 1002", fails_with(&t, 1002)); \
		t_free(&t);                                            \
	} while (0)
	PROTO("continuation without a message", cf_str(&t, true, WS_CONT, "x"));
	PROTO("new text inside a fragmented message", (cf_str(&t, false, WS_TEXT, "a"), cf_str(&t, true, WS_TEXT, "b")));
	PROTO("new binary inside a fragmented message", (cf_str(&t, false, WS_BINARY, "a"), cf_str(&t, true, WS_BINARY, "b")));
	PROTO("unmasked frame", buf_append(&t.in, "\x81\x02hi", 4));
	PROTO("RSV1 bit", buf_append(&t.in, "\xC1\x80\x00\x00\x00\x00", 6));
	PROTO("opcode 3", buf_append(&t.in, "\x83\x80\x00\x00\x00\x00", 6));
	PROTO("opcode 0xB", buf_append(&t.in, "\x8B\x80\x00\x00\x00\x00", 6));
	PROTO("fragmented ping", cf_str(&t, false, WS_PING, "x"));
	PROTO("ping of 126 bytes", cf(&t, true, WS_PING, (const uint8_t[126]){0}, 126));
	PROTO("64-bit length with the MSB set",
	      buf_append(&t.in, "\x82\xFF\x80\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04", 14));
#undef PROTO

	/* A failure mid-stream: earlier messages were delivered, later bytes ignored. */
	t_init(&t, 1 << 16);
	cf_str(&t, true, WS_TEXT, "first");
	cf_str(&t, true, WS_CONT, "bad");
	cf_str(&t, true, WS_TEXT, "never");
	CHECK("ws: failure after a good message", fails_with(&t, 1002) && t.r.nmsg == 1 && msg_is(&t, 0, WS_TEXT, "first", 5));
	size_t before = buf_used(&t.out);
	cf_str(&t, true, WS_PING, "p");
	feed_all(&t);
	CHECK("ws: feeding a closed connection does nothing", buf_used(&t.out) == before && t.r.nmsg == 1);
	CHECK("ws: ws_send refused when closed", ws_send(&t.c, WS_TEXT, "x", 1) == -1);
	t_free(&t);

	/* A protocol error while we are closing closes without a second close frame. */
	t_init(&t, 1 << 16);
	ws_close(&t.c, 1000, "");
	cf_str(&t, true, WS_CONT, "x");
	buf_append(&t.in, "\x81\x00", 2);
	feed_all(&t);
	CHECK("ws: protocol error while closing sends nothing more", out_is(&t, "\x88\x02\x03\xE8", 4) && t.c.state == WS_CLOSED);
	t_free(&t);
}

void test_ws(void)
{
	test_messages();
	test_fragments();
	test_close();
	test_failures();
}
