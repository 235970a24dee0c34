/*
 * The bulk data path: common/sp's written-through sends (sp_conn_send,
 * sp_conn_send_buf) and unread count, sp_conn_read stopping at a full
 * buffer, router/bufpool's lent buffers, ws_send_to over a real unix
 * socket pair whose buffer is made small enough to fill, and a WebSocket
 * message handed over from the data fed when it is whole there.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/bus.h"
#include "../../common/sp.h"
#include "../../proto/websocket/ws.h"
#include "../../router/bufpool.h"
#include "check.h"

/* a, b: a non-blocking unix stream pair; a's send buffer small when small */
static void pair(int sv[2], bool small)
{
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	for (int i = 0; i < 2; i++)
		fcntl(sv[i], F_SETFL, fcntl(sv[i], F_GETFL) | O_NONBLOCK);
	if (small) {
		int n = 4096;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &n, sizeof n);
	}
}

/* An sp_conn on fd past both handshakes. */
static void open_conn(struct sp_conn *c, int fd)
{
	sp_conn_init(c, SP_IPC, 1 << 20);
	c->fd = fd;
	c->state = SP_OPEN;
	c->my_sent = SP_HANDSHAKE_LEN;
}

/* Reads from fd into got while flushing c, until got has want bytes or no progress. */
static size_t drain(struct sp_conn *c, int fd, uint8_t *got, size_t want)
{
	size_t n = 0;
	for (int idle = 0; n < want && idle < 1000;) {
		if (c)
			sp_conn_flush(c);
		ssize_t r = read(fd, got + n, want - n);
		if (r > 0) {
			n += (size_t)r;
			idle = 0;
		} else {
			idle++;
		}
	}
	return n;
}

/* The payload of the one ipc pair1 frame at p matches msg. */
static bool frame_is(const uint8_t *p, size_t n, const uint8_t *msg, size_t len)
{
	size_t fl, pl;
	const uint8_t *pp;
	return sp_frame_parse(SP_IPC, p, n, 1 << 20, &fl, &pp, &pl) == 1 && fl == n && pl == len &&
	       memcmp(pp, msg, len) == 0;
}

static uint8_t *pattern(size_t n, int seed)
{
	uint8_t *p = malloc(n);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + (size_t)seed);
	return p;
}

static void test_send_through(void)
{
	int sv[2];
	pair(sv, false);
	struct sp_conn c;
	open_conn(&c, sv[0]);
	uint8_t *msg = pattern(60000, 1), *got = malloc(70000);
	CHECK("sp send: an idle socket takes a message whole, nothing queued",
	      sp_conn_send(&c, msg, 60000) == 0 && sp_conn_pending(&c) == 0 && c.out.data == NULL);
	size_t n = drain(NULL, sv[1], got, 60000 + 13);
	CHECK("sp send: the peer reads one whole frame", frame_is(got, n, msg, 60000));
	c.hold = true;
	sp_conn_send(&c, msg, 100);
	CHECK("sp send: held, it is only queued", sp_conn_pending(&c) == 113);
	sp_conn_free(&c);
	close(sv[1]);
	free(msg);
	free(got);
}

static void test_send_partial(void)
{
	int sv[2];
	pair(sv, true);
	struct sp_conn c;
	open_conn(&c, sv[0]);
	size_t len = 300000;
	uint8_t *a = pattern(len, 2), *b = pattern(1000, 3), *got = malloc(2 * len);
	sp_conn_send(&c, a, len);
	CHECK("sp send: a full socket keeps the rest as a whole frame, its head marked written",
	      sp_conn_pending(&c) == len + 13 && c.head_written > 0 && c.head_written < len + 13);
	sp_conn_send(&c, b, 1000);
	CHECK("sp send: a second message waits behind it", sp_conn_pending(&c) == len + 13 + 1013);
	CHECK("sp unread: what waits here and in the kernel", sp_conn_unread(&c) > len + 13);
	size_t n = drain(&c, sv[1], got, len + 13 + 1013);
	CHECK("sp send: the peer gets both frames intact, in order",
	      n == len + 13 + 1013 && frame_is(got, len + 13, a, len) && frame_is(got + len + 13, 1013, b, 1000));
	CHECK("sp unread: nothing once the peer read it all", sp_conn_pending(&c) == 0 && sp_conn_unread(&c) == 0);
	sp_conn_free(&c);
	close(sv[1]);
	free(a);
	free(b);
	free(got);
}

/* m: a buffer holding msg after SP_HEADROOM bytes */
static void headroom_buf(struct buf *m, const uint8_t *msg, size_t n)
{
	*m = (struct buf){0};
	buf_reserve(m, SP_HEADROOM + n);
	memcpy(m->data + SP_HEADROOM, msg, n);
	m->off = SP_HEADROOM;
	m->len = SP_HEADROOM + n;
}

static void test_send_buf(void)
{
	int sv[2];
	pair(sv, true);
	struct sp_conn c;
	open_conn(&c, sv[0]);
	size_t len = 200000;
	uint8_t *a = pattern(len, 4), *b = pattern(len, 5), *got = malloc(3 * len);
	struct buf m;
	headroom_buf(&m, a, len);
	uint8_t *storage = m.data;
	sp_conn_send_buf(&c, &m);
	CHECK("sp send_buf: what the socket leaves becomes the output without a copy",
	      c.out.data == storage && buf_used(&m) == 0 && sp_conn_pending(&c) == len + 13);
	headroom_buf(&m, b, len);
	storage = m.data;
	sp_conn_send_buf(&c, &m);
	CHECK("sp send_buf: with output waiting it is copied behind it",
	      buf_used(&m) == 0 && c.out.data != storage && sp_conn_pending(&c) == 2 * (len + 13));
	size_t n = drain(&c, sv[1], got, 2 * (len + 13));
	CHECK("sp send_buf: both frames intact, in order",
	      n == 2 * (len + 13) && frame_is(got, len + 13, a, len) && frame_is(got + len + 13, len + 13, b, len));
	buf_free(&m);
	headroom_buf(&m, a, 500);
	sp_conn_send_buf(&c, &m);
	n = drain(NULL, sv[1], got, 513);
	CHECK("sp send_buf: a small one goes straight out", sp_conn_pending(&c) == 0 && frame_is(got, n, a, 500));
	buf_free(&m);
	sp_conn_free(&c);
	close(sv[1]);
	free(a);
	free(b);
	free(got);
}

static void test_read_full(void)
{
	int sv[2];
	pair(sv, false);
	struct sp_conn r;
	open_conn(&r, sv[1]);
	uint8_t f[1100], msg[1000];
	memset(msg, 'x', sizeof msg);
	size_t fl = sp_frame_header(SP_IPC, f, 1004);
	memcpy(f + fl, "\0\0\0\1", 4);
	memcpy(f + fl + 4, msg, sizeof msg);
	fl += 1004;
	int sent = 0;
	while (sent < 100 && write(sv[0], f, fl) == (ssize_t)fl)
		sent++;
	buf_reserve(&r.in, 20000);
	size_t cap = r.in.cap;
	int rc = sp_conn_read(&r);
	CHECK("sp read: a full buffer with a whole frame first hands over frames, not grown",
	      rc == 1 && r.in.cap == cap);
	int got = 0;
	const uint8_t *p;
	size_t n;
	for (;;) {
		while (sp_conn_next(&r, &p, &n) == 1)
			got += n == 1000 && memcmp(p, msg, 1000) == 0;
		if (rc != 1)
			break;
		rc = sp_conn_read(&r);
	}
	CHECK("sp read: every frame read, in a buffer that did not grow", got == sent && rc == 0 && r.in.cap == cap);
	sp_conn_free(&r);
	close(sv[0]);
}

static void test_bufpool(void)
{
	struct bufpool pool = {0};
	struct buf in = {0};
	bufpool_lend_read(&pool, &in);
	CHECK("bufpool: a read gets a read buffer", in.cap >= BUFPOOL_READ);
	uint8_t *storage = in.data;
	buf_append(&in, "partial", 7);
	bufpool_take_back_read(&pool, &in);
	CHECK("bufpool: a small partial frame is copied out, the buffer kept",
	      buf_used(&in) == 7 && in.cap < BUFPOOL_SMALL && pool.n == 1 && pool.spare[0].data == storage);
	bufpool_lend_read(&pool, &in);
	CHECK("bufpool: the next read reuses it, the partial frame first",
	      in.data == storage && pool.n == 0 && buf_used(&in) == 7 && memcmp(buf_head(&in), "partial", 7) == 0);
	buf_reserve(&in, 40000);
	memset(in.data + in.len, 'p', 40000);
	in.len += 40000;
	bufpool_take_back_read(&pool, &in);
	CHECK("bufpool: a big partial frame keeps its buffer", in.data == storage && pool.n == 0);
	buf_reset(&in);
	bufpool_take_back_read(&pool, &in);
	CHECK("bufpool: emptied, it goes back", in.data == NULL && pool.n == 1);
	struct buf q = {0};
	buf_append(&q, "ab", 2);
	bufpool_reserve(&pool, &q, 100000);
	CHECK("bufpool: room for a big message comes from a spare, the bytes kept",
	      q.data == storage && pool.n == 0 && buf_used(&q) == 2 && memcmp(buf_head(&q), "ab", 2) == 0);
	struct buf many[BUFPOOL_SPARES + 2];
	for (int i = 0; i < BUFPOOL_SPARES + 2; i++) {
		many[i] = (struct buf){0};
		buf_reserve(&many[i], BUFPOOL_READ);
		bufpool_give(&pool, &many[i]);
	}
	CHECK("bufpool: at most BUFPOOL_SPARES are kept", pool.n == BUFPOOL_SPARES);
	struct buf huge = {0};
	buf_reserve(&huge, 2 * BUFPOOL_KEEP);
	bufpool_give(&pool, &huge);
	CHECK("bufpool: a buffer past BUFPOOL_KEEP is freed", huge.data == NULL && pool.n == BUFPOOL_SPARES);
	buf_free(&q);
	bufpool_free(&pool);
	CHECK("bufpool: freed", pool.n == 0);
}

struct got {
	const uint8_t *p;
	size_t n;
	int count;
	uint8_t first;
};

static void on_msg(void *ctx, uint8_t op, uint8_t *d, size_t n)
{
	struct got *g = ctx;
	(void)op;
	if (!g)
		return;
	g->p = d;
	g->n = n;
	g->first = n ? d[0] : 0;
	g->count++;
}

/* A masked client frame of payload p (n < 126) into out; returns its length. */
static size_t client_frame(uint8_t *out, bool fin, uint8_t op, const char *p, size_t n)
{
	static const uint8_t mask[4] = {1, 2, 3, 4};
	size_t k = ws_frame_header_masked(out, fin, op, n, mask);
	for (size_t i = 0; i < n; i++)
		out[k + i] = (uint8_t)p[i] ^ mask[i & 3];
	return k + n;
}

static void test_ws_whole(void)
{
	static const struct ws_handlers h = {.on_message = on_msg};
	struct buf out = {0};
	struct got g = {0};
	struct ws_conn c;
	ws_conn_init(&c, &out, 1 << 20, &h, &g);
	uint8_t in[256];
	size_t n = client_frame(in, true, WS_TEXT, "hello", 5);
	n += client_frame(in + n, true, WS_BINARY, "world!", 6);
	ws_conn_feed(&c, in, n);
	CHECK("ws: a message whole in the data fed is handed over from there, not copied",
	      g.count == 2 && g.n == 6 && g.p >= in && g.p + 6 <= in + n && memcmp(g.p, "world!", 6) == 0 &&
		      c.msg.data == NULL);
	n = client_frame(in, false, WS_TEXT, "frag", 4);
	n += client_frame(in + n, true, WS_CONT, "mented", 6);
	ws_conn_feed(&c, in, n);
	CHECK("ws: a fragmented message is still put together", g.count == 3 && g.n == 10 &&
	      memcmp(g.p, "fragmented", 10) == 0 && !(g.p >= in && g.p < in + n));
	n = client_frame(in, true, WS_BINARY, "split across", 12);
	ws_conn_feed(&c, in, 9);
	ws_conn_feed(&c, in + 9, n - 9);
	CHECK("ws: a message in two pieces is put together", g.count == 4 && g.n == 12 &&
	      memcmp(g.p, "split across", 12) == 0);
	ws_conn_free(&c);
	buf_free(&out);
}

/* Reads from fd until n bytes came or it stays empty a while, writing out's rest to wfd meanwhile. */
static size_t drain_into(int wfd, struct buf *out, int fd, uint8_t *got, size_t n)
{
	size_t k = 0;
	for (int idle = 0; k < n && idle < 1000;) {
		ssize_t w = buf_used(out) ? write(wfd, buf_head(out), buf_used(out)) : 0;
		if (w > 0)
			buf_consume(out, (size_t)w);
		ssize_t r = read(fd, got + k, n - k);
		if (r > 0)
			k += (size_t)r, idle = 0;
		else
			idle++;
	}
	return k;
}

/* A WebSocket sender on one end of a socket pair (small buffers or not),
 * a pattern of len bytes to send and room to read it back. */
struct through {
	int sv[2];
	struct buf out;
	struct ws_conn c;
	uint8_t *a, *got;
};

static void through_open(struct through *t, bool small, size_t len, int seed)
{
	static const struct ws_handlers h = {.on_message = on_msg};
	pair(t->sv, small);
	t->out = (struct buf){0};
	ws_conn_init(&t->c, &t->out, 1 << 20, &h, NULL);
	t->a = pattern(len, seed);
	t->got = malloc(2 * len + 32);
}

static void through_close(struct through *t)
{
	ws_conn_free(&t->c);
	buf_free(&t->out);
	close(t->sv[0]);
	close(t->sv[1]);
	free(t->a);
	free(t->got);
}

static void test_ws_through(void)
{
	struct through t;
	size_t len = 200000;
	through_open(&t, true, len, 6);
	ws_send_to(&t.c, t.sv[0], WS_BINARY, "small", 5);
	CHECK("ws_send_to: a small frame is queued (one write per turn)", buf_used(&t.out) == 7);
	buf_reset(&t.out);
	ws_send_to(&t.c, t.sv[0], WS_BINARY, t.a, len);
	CHECK("ws_send_to: a big one is written, only the rest queued", buf_used(&t.out) > 0 && buf_used(&t.out) < len);
	size_t n = drain_into(t.sv[0], &t.out, t.sv[1], t.got, len + 10);
	CHECK("ws_send_to: the client gets the frame intact",
	      n == len + 10 && t.got[0] == 0x82 && t.got[1] == 127 && memcmp(t.got + 10, t.a, len) == 0);
	through_close(&t);
}

/* A big frame after a queued small one: one writev for both, in their order. */
static void test_ws_through_after_queued(void)
{
	for (int small = 0; small < 2; small++) {
		struct through t;
		size_t len = small ? 200000 : 20000, hl = small ? 10 : 4;
		through_open(&t, small, len, 9);
		ws_send_to(&t.c, t.sv[0], WS_TEXT, "head", 4);
		ws_send_to(&t.c, t.sv[0], WS_BINARY, t.a, len);
		if (!small)
			CHECK("ws_send_to: a queued frame and a big one after it are both written", buf_used(&t.out) == 0);
		else
			CHECK("ws_send_to: the socket full, only the rest is queued", buf_used(&t.out) > 0 &&
			      buf_used(&t.out) < len);
		size_t n = drain_into(t.sv[0], &t.out, t.sv[1], t.got, 6 + hl + len);
		CHECK(small ? "ws_send_to: queued frame then big frame, in order, partly queued"
			    : "ws_send_to: queued frame then big frame, in order",
		      n == 6 + hl + len && t.got[0] == 0x81 && t.got[1] == 4 && memcmp(t.got + 2, "head", 4) == 0 &&
		      t.got[6] == 0x82 && memcmp(t.got + 6 + hl, t.a, len) == 0);
		through_close(&t);
	}
}

/* The bus sockets' send buffer takes a whole batch (BUS_BATCH_TARGET) in one write. */
static void test_bus_sndbuf(void)
{
	long max = 0;
	FILE *f = fopen("/proc/sys/net/core/wmem_max", "r");
	if (!f || fscanf(f, "%ld", &max) != 1)
		max = 0;
	if (f)
		fclose(f);
	int sv[2];
	pair(sv, false);
	sp_set_sndbuf(sv[0]);
	int got = 0;
	socklen_t len = sizeof got;
	getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &got, &len);
	long want = 2 * (max > 0 && max < (long)SP_SNDBUF ? max : (long)SP_SNDBUF); /* Linux doubles it */
	CHECK("sp_set_sndbuf: the send buffer is SP_SNDBUF (doubled by Linux, within wmem_max)", got == want);
	if (max >= (long)SP_SNDBUF) {
		size_t n = BUS_BATCH_TARGET + 4096;
		uint8_t *a = pattern(n, 3);
		CHECK("sp_set_sndbuf: a whole bus batch goes in one write", write(sv[0], a, n) == (ssize_t)n);
		free(a);
	}
	close(sv[0]);
	close(sv[1]);
}

void test_bulk(void)
{
	test_send_through();
	test_send_partial();
	test_send_buf();
	test_read_full();
	test_bufpool();
	test_ws_through();
	test_ws_through_after_queued();
	test_bus_sndbuf();
	test_ws_whole();
}
