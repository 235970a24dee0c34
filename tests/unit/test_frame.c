/* proto/websocket/frame: the resumable RFC 6455 decoder and the encoder. */
#include <stdlib.h>
#include <string.h>

#include "../../proto/websocket/frame.h"
#include "check.h"

static const uint8_t MASK[4] = {0x37, 0xFA, 0x21, 0x3D};

/* What a decoder reported over a whole input. */
struct trace {
	int headers, ends, errors, stuck;
	uint16_t code;
	struct ws_frame f[8];
	uint64_t data_bytes;
	uint8_t *payload; /* concatenated payload of every frame */
	size_t plen, pcap;
};

static void trace_free(struct trace *t) { free(t->payload); }

/* Feeds p[0..n) as one call sequence, the way a read loop does. */
static void feed(struct ws_decoder *d, uint8_t *p, size_t n, struct trace *t)
{
	for (;;) {
		enum ws_event ev;
		uint16_t code = 0;
		size_t used = ws_decode(d, p, n, &ev, &code);
		if (used > n) {
			t->stuck++;
			return;
		}
		if (ev == WS_EV_DATA) {
			if (t->plen + used > t->pcap) {
				t->pcap = (t->plen + used) * 2;
				t->payload = realloc(t->payload, t->pcap);
			}
			memcpy(t->payload + t->plen, p, used);
			t->plen += used;
			t->data_bytes += used;
			if (used == 0)
				t->stuck++;
		}
		p += used;
		n -= used;
		switch (ev) {
		case WS_EV_HEADER:
			if (t->headers < 8)
				t->f[t->headers] = d->f;
			t->headers++;
			break;
		case WS_EV_END:
			t->ends++;
			break;
		case WS_EV_ERROR:
			t->errors++;
			t->code = code;
			return;
		case WS_EV_NONE:
			if (n > 0)
				t->stuck++; /* NONE means everything was consumed */
			return;
		case WS_EV_DATA:
			break;
		}
		if (t->stuck)
			return;
	}
}

/* Builds a masked client frame; returns its length. */
static size_t client_frame(uint8_t *out, bool fin, uint8_t op, const uint8_t *p, size_t n)
{
	size_t hl = ws_frame_header_masked(out, fin, op, n, MASK);
	if (n)
		memcpy(out + hl, p, n);
	ws_mask(out + hl, n, MASK, 0);
	return hl + n;
}

static void decode_all(bool require_mask, const uint8_t *frame, size_t n, struct trace *t)
{
	uint8_t *copy = malloc(n ? n : 1);
	memcpy(copy, frame, n);
	struct ws_decoder d;
	ws_decoder_init(&d, require_mask);
	memset(t, 0, sizeof *t);
	feed(&d, copy, n, t);
	free(copy);
}

static void test_encoder(void)
{
	uint8_t h[WS_MAX_HEADER];
	size_t k = ws_frame_header(h, true, WS_TEXT, 0);
	CHECK("frame: empty text header is 81 00", k == 2 && h[0] == 0x81 && h[1] == 0);
	k = ws_frame_header(h, true, WS_BINARY, 125);
	CHECK("frame: 125 uses the 7-bit length", k == 2 && h[0] == 0x82 && h[1] == 125);
	k = ws_frame_header(h, false, WS_TEXT, 126);
	CHECK("frame: 126 uses the 16-bit length, FIN clear",
	      k == 4 && h[0] == 0x01 && h[1] == 126 && h[2] == 0 && h[3] == 126);
	k = ws_frame_header(h, true, WS_BINARY, 65535);
	CHECK("frame: 65535 uses the 16-bit length", k == 4 && h[1] == 126 && h[2] == 0xFF && h[3] == 0xFF);
	k = ws_frame_header(h, true, WS_BINARY, 65536);
	CHECK("frame: 65536 uses the 64-bit length", k == 10 && h[1] == 127 && h[2] == 0 && h[7] == 1 && h[8] == 0 && h[9] == 0);
	k = ws_frame_header(h, true, WS_BINARY, 0x0102030405060708ull);
	CHECK("frame: 64-bit length is big-endian",
	      k == 10 && h[2] == 1 && h[3] == 2 && h[4] == 3 && h[5] == 4 && h[6] == 5 && h[7] == 6 && h[8] == 7 && h[9] == 8);
	k = ws_frame_header_masked(h, true, WS_PING, 5, MASK);
	CHECK("frame: masked 7-bit header is 6 bytes with the mask",
	      k == 6 && h[0] == 0x89 && h[1] == 0x85 && memcmp(h + 2, MASK, 4) == 0);
	k = ws_frame_header_masked(h, true, WS_TEXT, 300, MASK);
	CHECK("frame: masked 16-bit header is 8 bytes", k == 8 && h[1] == (0x80 | 126) && memcmp(h + 4, MASK, 4) == 0);
	k = ws_frame_header_masked(h, true, WS_TEXT, 70000, MASK);
	CHECK("frame: masked 64-bit header is 14 bytes", k == 14 && h[1] == (0x80 | 127) && memcmp(h + 10, MASK, 4) == 0);
	CHECK("frame: control opcodes", ws_is_control(WS_CLOSE) && ws_is_control(WS_PING) && ws_is_control(WS_PONG) &&
						!ws_is_control(WS_TEXT) && !ws_is_control(WS_BINARY) && !ws_is_control(WS_CONT));
}

static void test_mask(void)
{
	/* up to 300 bytes: the 64- and 16-byte vector loops and the byte tail,
	 * from addresses of every alignment mod 4 (a + off % 4) */
	uint8_t buf[304], b[304];
	bool ok = true, inv = true;
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n <= 300; n++) {
			uint8_t *a = buf + off % 4;
			for (size_t i = 0; i < n; i++)
				a[i] = b[i] = (uint8_t)(i * 31 + off);
			ws_mask(a, n, MASK, off);
			for (size_t i = 0; i < n; i++)
				if (a[i] != (uint8_t)(b[i] ^ MASK[(off + i) & 3]))
					ok = false;
			ws_mask(a, n, MASK, off);
			if (memcmp(a, b, n) != 0)
				inv = false;
		}
	CHECK("frame: ws_mask matches byte-wise masking at every offset and length", ok);
	CHECK("frame: masking twice restores the data", inv);
	/* Masking in two pieces continues the mask phase (the second piece
	 * starts off the phase, then goes on in vectors). */
	for (size_t i = 0; i < 300; i++)
		buf[i] = b[i] = (uint8_t)i;
	ws_mask(buf, 13, MASK, 0);
	ws_mask(buf + 13, 287, MASK, 13);
	ws_mask(b, 300, MASK, 0);
	CHECK("frame: masking in pieces equals masking at once", memcmp(buf, b, 300) == 0);
}

static void test_roundtrip(void)
{
	static const size_t lens[] = {0, 1, 125, 126, 127, 1000, 65535, 65536, 70000};
	for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
		size_t n = lens[li];
		uint8_t *p = malloc(n + 1), *fr = malloc(n + WS_MAX_HEADER);
		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)(i * 7 + 3);
		size_t fl = client_frame(fr, true, WS_BINARY, p, n);
		struct trace t;
		decode_all(true, fr, fl, &t);
		char name[96];
		snprintf(name, sizeof name, "frame: %zu-byte payload decodes (header, data, end)", n);
		CHECK(name, t.headers == 1 && t.ends == 1 && t.errors == 0 && !t.stuck && t.f[0].len == n &&
				    t.f[0].fin && t.f[0].opcode == WS_BINARY && t.f[0].masked &&
				    memcmp(t.f[0].mask, MASK, 4) == 0);
		snprintf(name, sizeof name, "frame: %zu-byte payload unmasked in place", n);
		CHECK(name, t.plen == n && (n == 0 || memcmp(t.payload, p, n) == 0));
		trace_free(&t);
		free(p);
		free(fr);
	}
}

/* A 64-bit-length header split anywhere inside it decodes the same. */
static void test_split_long(void)
{
	size_t len = 70000;
	uint8_t *payload = calloc(1, len), *fr = malloc(len + 14);
	size_t n = client_frame(fr, true, WS_BINARY, payload, len);
	bool same = n == len + 14;
	for (size_t k = 0; k <= 15; k++) {
		uint8_t *copy = malloc(n);
		memcpy(copy, fr, n);
		struct ws_decoder d;
		ws_decoder_init(&d, true);
		struct trace t;
		memset(&t, 0, sizeof t);
		feed(&d, copy, k, &t);
		feed(&d, copy + k, n - k, &t);
		same = same && t.headers == 1 && t.ends == 1 && !t.errors && !t.stuck && t.f[0].len == len &&
		       t.plen == len && memcmp(t.payload, payload, len) == 0;
		trace_free(&t);
		free(copy);
	}
	CHECK("frame: 64-bit length header split anywhere decodes the same", same);
	free(payload);
	free(fr);
}

/* Splitting the input anywhere gives the same frames and payload. */
static void test_splits(void)
{
	uint8_t payload[300], fr[2 * 320 + 40];
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i ^ 0x5A);
	/* Two 16-bit-length frames (a fragmented message), an empty ping and a
	 * short text, back to back; 64-bit lengths: test_split_long. */
	size_t n = client_frame(fr, false, WS_BINARY, payload, 200);
	n += client_frame(fr + n, true, WS_CONT, payload, 300);
	n += client_frame(fr + n, true, WS_PING, NULL, 0);
	n += client_frame(fr + n, true, WS_TEXT, (const uint8_t *)"hi", 2);

	struct trace whole;
	decode_all(true, fr, n, &whole);
	CHECK("frame: four frames back to back", whole.headers == 4 && whole.ends == 4 && whole.errors == 0 && !whole.stuck);
	CHECK("frame: second 16-bit length header decoded", whole.f[1].len == 300 && whole.f[1].opcode == WS_CONT && whole.f[1].fin);
	CHECK("frame: FIN clear on the first fragment", !whole.f[0].fin && whole.f[0].len == 200);
	CHECK("frame: empty ping between", whole.f[2].opcode == WS_PING && whole.f[2].len == 0);
	CHECK("frame: concatenated payload correct",
	      whole.plen == 502 && memcmp(whole.payload, payload, 200) == 0 &&
		  memcmp(whole.payload + 200, payload, 300) == 0 && memcmp(whole.payload + 500, "hi", 2) == 0);

	bool same = true;
	for (size_t k = 0; k <= n; k++) {
		uint8_t *copy = malloc(n);
		memcpy(copy, fr, n);
		struct ws_decoder d;
		ws_decoder_init(&d, true);
		struct trace t;
		memset(&t, 0, sizeof t);
		/* Each part in its own allocation, so ASan sees any read past it. */
		uint8_t *a = malloc(k ? k : 1), *b = malloc(n - k ? n - k : 1);
		memcpy(a, copy, k);
		memcpy(b, copy + k, n - k);
		feed(&d, a, k, &t);
		feed(&d, b, n - k, &t);
		if (t.headers != 4 || t.ends != 4 || t.errors || t.stuck || t.plen != whole.plen ||
		    memcmp(t.payload, whole.payload, t.plen) != 0 || t.f[1].len != 300)
			same = false;
		trace_free(&t);
		free(a);
		free(b);
		free(copy);
	}
	CHECK("frame: split at every byte boundary gives the same result", same);

	uint8_t *copy = malloc(n);
	memcpy(copy, fr, n);
	struct ws_decoder d;
	ws_decoder_init(&d, true);
	struct trace t;
	memset(&t, 0, sizeof t);
	for (size_t i = 0; i < n; i++) {
		uint8_t *one = malloc(1);
		*one = copy[i];
		feed(&d, one, 1, &t);
		copy[i] = *one;
		free(one);
	}
	CHECK("frame: byte-by-byte feeding gives the same result",
	      t.headers == 4 && t.ends == 4 && !t.errors && !t.stuck && t.plen == whole.plen &&
		  memcmp(t.payload, whole.payload, t.plen) == 0);
	trace_free(&t);
	trace_free(&whole);
	free(copy);
}

static void test_events(void)
{
	uint8_t fr[32];
	size_t n = client_frame(fr, true, WS_TEXT, (const uint8_t *)"abc", 3);
	struct ws_decoder d;
	ws_decoder_init(&d, true);
	enum ws_event ev;
	uint16_t code = 0;
	size_t used = ws_decode(&d, fr, 3, &ev, &code);
	CHECK("frame: partial header consumed, NONE", used == 3 && ev == WS_EV_NONE);
	used = ws_decode(&d, fr + 3, n - 3, &ev, &code);
	CHECK("frame: header completes with HEADER, payload not consumed", used == 3 && ev == WS_EV_HEADER && d.f.len == 3);
	used = ws_decode(&d, fr + 6, 2, &ev, &code);
	CHECK("frame: DATA covers what was given", used == 2 && ev == WS_EV_DATA && memcmp(fr + 6, "ab", 2) == 0);
	used = ws_decode(&d, fr + 8, 0, &ev, &code);
	CHECK("frame: no bytes mid-payload gives NONE", used == 0 && ev == WS_EV_NONE);
	used = ws_decode(&d, fr + 8, 1, &ev, &code);
	CHECK("frame: last byte unmasked with the right mask phase", used == 1 && ev == WS_EV_DATA && fr[8] == 'c');
	used = ws_decode(&d, fr + 9, 0, &ev, &code);
	CHECK("frame: END once the payload is complete", used == 0 && ev == WS_EV_END);
	used = ws_decode(&d, fr + 9, 0, &ev, &code);
	CHECK("frame: then NONE with no input", used == 0 && ev == WS_EV_NONE);

	/* DATA never runs into the next frame. */
	uint8_t two[32];
	size_t a = client_frame(two, true, WS_BINARY, (const uint8_t *)"xy", 2);
	size_t b = client_frame(two + a, true, WS_BINARY, (const uint8_t *)"z", 1);
	ws_decoder_init(&d, true);
	ws_decode(&d, two, a + b, &ev, &code);
	used = ws_decode(&d, two + 6, a + b - 6, &ev, &code);
	CHECK("frame: DATA stops at the frame end", ev == WS_EV_DATA && used == 2);
	used = ws_decode(&d, two + 8, b, &ev, &code);
	CHECK("frame: END before the next frame's header", ev == WS_EV_END && used == 0);
	used = ws_decode(&d, two + 8, b, &ev, &code);
	CHECK("frame: next frame's header", ev == WS_EV_HEADER && used == 6 && d.f.len == 1);

	/* Servers' decoders (require_mask false) accept unmasked frames. */
	uint8_t un[16];
	size_t k = ws_frame_header(un, true, WS_TEXT, 2);
	memcpy(un + k, "ok", 2);
	struct trace t;
	decode_all(false, un, k + 2, &t);
	CHECK("frame: unmasked frame accepted when masks are not required",
	      t.headers == 1 && t.ends == 1 && !t.errors && !t.f[0].masked && t.plen == 2 && memcmp(t.payload, "ok", 2) == 0);
	trace_free(&t);
}

/* One header that must be refused with 1002. */
static bool refused(const uint8_t *h, size_t n, bool require_mask)
{
	struct trace t;
	decode_all(require_mask, h, n, &t);
	bool r = t.errors == 1 && t.code == 1002 && t.headers == 0;
	trace_free(&t);
	return r;
}

static void test_errors(void)
{
	const uint8_t m[] = {0x37, 0xFA, 0x21, 0x3D};
#define H2(b0, b1) ((const uint8_t[]){(b0), (b1), m[0], m[1], m[2], m[3]}), 6
	CHECK("frame: RSV1 set gives 1002", refused(H2(0xC1, 0x80), true));
	CHECK("frame: RSV2 set gives 1002", refused(H2(0xA1, 0x80), true));
	CHECK("frame: RSV3 set gives 1002", refused(H2(0x91, 0x80), true));
	bool ops = true;
	for (uint8_t op = 3; op <= 7; op++)
		ops = ops && refused(H2((uint8_t)(0x80 | op), 0x80), true);
	for (uint8_t op = 0xB; op <= 0xF; op++)
		ops = ops && refused(H2((uint8_t)(0x80 | op), 0x80), true);
	CHECK("frame: reserved opcodes 3-7 and B-F give 1002", ops);
	CHECK("frame: unmasked client frame gives 1002", refused((const uint8_t[]){0x81, 0x00}, 2, true));
	CHECK("frame: fragmented ping gives 1002", refused(H2(0x09, 0x80), true));
	CHECK("frame: fragmented close gives 1002", refused(H2(0x08, 0x80), true));
	CHECK("frame: fragmented pong gives 1002", refused(H2(0x0A, 0x82), true));
	CHECK("frame: ping of 126 bytes (16-bit length) gives 1002",
	      refused((const uint8_t[]){0x89, 0x80 | 126, 0, 126, 1, 2, 3, 4}, 8, true));
	CHECK("frame: close of 126 bytes (64-bit length) gives 1002",
	      refused((const uint8_t[]){0x88, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 126, 1, 2, 3, 4}, 14, true));
	CHECK("frame: pong of 2^32 bytes gives 1002",
	      refused((const uint8_t[]){0x8A, 0x80 | 127, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4}, 14, true));
	CHECK("frame: 64-bit length with the MSB set gives 1002",
	      refused((const uint8_t[]){0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, 14, true));
	CHECK("frame: 125 in a 16-bit length (non-minimal) gives 1002",
	      refused((const uint8_t[]){0x82, 0x80 | 126, 0, 125, 1, 2, 3, 4}, 8, true));
	CHECK("frame: 0 in a 16-bit length (non-minimal) gives 1002",
	      refused((const uint8_t[]){0x82, 0x80 | 126, 0, 0, 1, 2, 3, 4}, 8, true));
	CHECK("frame: 65535 in a 64-bit length (non-minimal) gives 1002",
	      refused((const uint8_t[]){0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4}, 14, true));
	CHECK("frame: 5 in a 64-bit length (non-minimal) gives 1002",
	      refused((const uint8_t[]){0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4}, 14, true));
	CHECK("frame: non-minimal length refused without masks too",
	      refused((const uint8_t[]){0x82, 126, 0, 1}, 4, false));
	CHECK("frame: 64-bit MSB refused without masks too",
	      refused((const uint8_t[]){0x82, 127, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 10, false));

	/* The largest lengths that are allowed. */
	struct trace t;
	uint8_t ping[6 + 125];
	size_t n = client_frame(ping, true, WS_PING, (const uint8_t[125]){0}, 125);
	decode_all(true, ping, n, &t);
	CHECK("frame: ping of 125 bytes accepted", t.headers == 1 && t.ends == 1 && !t.errors);
	trace_free(&t);
	/* The smallest lengths of each encoding are minimal, so accepted. */
	static uint8_t body[65536];
	uint8_t *fr = malloc(14 + sizeof body);
	n = client_frame(fr, true, WS_BINARY, body, 126);
	decode_all(true, fr, n, &t);
	bool ok16 = n == 8 + 126 && t.headers == 1 && t.ends == 1 && !t.errors;
	trace_free(&t);
	n = client_frame(fr, true, WS_BINARY, body, 65536);
	decode_all(true, fr, n, &t);
	bool ok64 = n == 14 + 65536 && t.headers == 1 && t.ends == 1 && !t.errors;
	trace_free(&t);
	free(fr);
	CHECK("frame: 126 (16-bit) and 65536 (64-bit) lengths accepted", ok16 && ok64);
	struct ws_decoder d;
	ws_decoder_init(&d, true);
	uint8_t big[14] = {0x82, 0x80 | 127, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4};
	enum ws_event ev;
	uint16_t code;
	size_t used = ws_decode(&d, big, sizeof big, &ev, &code);
	CHECK("frame: 2^63-1 length header accepted by the codec", used == 14 && ev == WS_EV_HEADER &&
									   d.f.len == 0x7FFFFFFFFFFFFFFFull);

	/* The error is reported at the byte that completes the bad header. */
	ws_decoder_init(&d, true);
	uint8_t rsv[8] = {0xC1, 0x80, 1, 2, 3, 4, 0x81, 0x80};
	used = ws_decode(&d, rsv, sizeof rsv, &ev, &code);
	CHECK("frame: error consumes only the bad header", ev == WS_EV_ERROR && used == 6 && code == 1002);

	/* A decoder that reported an error keeps reporting it and never writes
	 * past its header buffer, however many bytes it is given. */
	ws_decoder_init(&d, true);
	uint8_t msb[14] = {0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
	used = ws_decode(&d, msb, sizeof msb, &ev, &code);
	bool sticky = ev == WS_EV_ERROR && used == 14;
	for (int i = 0; i < 40; i++) {
		uint8_t more[4] = {0x81, 0x80, 0, 0};
		code = 0;
		used = ws_decode(&d, more, sizeof more, &ev, &code);
		sticky = sticky && ev == WS_EV_ERROR && code == 1002 && used == 0;
	}
	CHECK("frame: error is sticky and consumes nothing more", sticky && d.hdr_got <= WS_MAX_HEADER);
#undef H2
}

void test_frame(void)
{
	test_encoder();
	test_mask();
	test_roundtrip();
	test_splits();
	test_split_long();
	test_events();
	test_errors();
}
