/*
 * common/sp without a peer: the SP handshake, framing, addresses and the
 * output queue. The client against a scripted peer and against libnng is in
 * test_sp_conn.c.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "sp_util.h"

size_t pair1_frame(enum sp_transport t, uint8_t *out, uint32_t hops, const void *p, size_t n)
{
	size_t k = sp_frame_header(t, out, n + 4);
	out[k++] = (uint8_t)(hops >> 24);
	out[k++] = (uint8_t)(hops >> 16);
	out[k++] = (uint8_t)(hops >> 8);
	out[k++] = (uint8_t)hops;
	memcpy(out + k, p, n);
	return k + n;
}

static int parse(enum sp_transport t, const uint8_t *p, size_t n, size_t max, size_t *fl, const uint8_t **pl, size_t *pn)
{
	/* An exact-size copy, so ASan sees any read past n. */
	uint8_t *copy = malloc(n ? n : 1);
	memcpy(copy, p, n);
	int rc = sp_frame_parse(t, copy, n, max, fl, pl, pn);
	if (rc == 1)
		*pl = p + (*pl - copy);
	free(copy);
	return rc;
}

static void test_handshake(void)
{
	uint8_t h[SP_HANDSHAKE_LEN];
	sp_handshake_make(h, SP_PROTO_PAIR1);
	CHECK("sp: pair1 handshake bytes", memcmp(h, "\0SP\0\0\x11\0\0", 8) == 0);
	CHECK("sp: own handshake checks", sp_handshake_check(h, SP_PROTO_PAIR1) == 0);
	CHECK("sp: pair0 (0x0010) refused", sp_handshake_check((const uint8_t *)"\0SP\0\0\x10\0\0", SP_PROTO_PAIR1) == -1);
	CHECK("sp: other protocol id refused", sp_handshake_check(h, 0x0010) == -1);
	bool each = true;
	for (int i = 0; i < SP_HANDSHAKE_LEN; i++) {
		uint8_t x[SP_HANDSHAKE_LEN];
		memcpy(x, h, sizeof x);
		x[i] ^= 0x01;
		each = each && sp_handshake_check(x, SP_PROTO_PAIR1) == -1;
	}
	CHECK("sp: any changed handshake byte refused", each);
	sp_handshake_make(h, 0x1234);
	CHECK("sp: protocol id is big-endian", h[4] == 0x12 && h[5] == 0x34);
}

static void test_framing(enum sp_transport t, const char *tn)
{
	char name[128];
	uint8_t buf[600];
	size_t hl = sp_frame_header_len(t);
	snprintf(name, sizeof name, "sp %s: header length", tn);
	CHECK(name, hl == (t == SP_IPC ? 9u : 8u));
	size_t k = sp_frame_header(t, buf, 0x0102030405060708ull);
	snprintf(name, sizeof name, "sp %s: header is [type] u64be length", tn);
	CHECK(name, k == hl && (t == SP_TCP || buf[0] == 0x01) && buf[hl - 8] == 1 && buf[hl - 1] == 8);

	size_t n = pair1_frame(t, buf, 1, "hello", 5);
	size_t fl = 0, pn = 0;
	const uint8_t *pl = NULL;
	int rc = parse(t, buf, n, 1024, &fl, &pl, &pn);
	snprintf(name, sizeof name, "sp %s: complete frame parsed, hop count stripped", tn);
	CHECK(name, rc == 1 && fl == n && pn == 5 && pl == buf + hl + 4 && memcmp(pl, "hello", 5) == 0);

	bool partial = true;
	for (size_t i = 0; i < n; i++)
		partial = partial && parse(t, buf, i, 1024, &fl, &pl, &pn) == 0;
	snprintf(name, sizeof name, "sp %s: every partial frame gives 0", tn);
	CHECK(name, partial);

	/* Two frames back to back: the first, then the second at its end. */
	size_t n2 = pair1_frame(t, buf + n, 3, "", 0);
	rc = parse(t, buf, n + n2, 1024, &fl, &pl, &pn);
	int rc2 = parse(t, buf + fl, n + n2 - fl, 1024, &fl, &pl, &pn);
	snprintf(name, sizeof name, "sp %s: frames back to back, empty payload", tn);
	CHECK(name, rc == 1 && rc2 == 1 && fl == n2 && pn == 0);

	n = pair1_frame(t, buf, 1, "x", 1);
	snprintf(name, sizeof name, "sp %s: body exactly max accepted", tn);
	CHECK(name, parse(t, buf, n, 5, &fl, &pl, &pn) == 1);
	snprintf(name, sizeof name, "sp %s: body over max refused from the header alone", tn);
	CHECK(name, parse(t, buf, hl, 4, &fl, &pl, &pn) == -1);
	k = sp_frame_header(t, buf, UINT64_MAX);
	snprintf(name, sizeof name, "sp %s: 2^64-1 length refused", tn);
	CHECK(name, parse(t, buf, k, 1 << 20, &fl, &pl, &pn) == -1);
	snprintf(name, sizeof name, "sp %s: 2^64-1 length with no max just waits (no overflow)", tn);
	CHECK(name, parse(t, buf, k + 4, SIZE_MAX, &fl, &pl, &pn) == 0);
	bool short_body = true;
	for (uint64_t bl = 0; bl < 4; bl++) {
		k = sp_frame_header(t, buf, bl);
		memset(buf + k, 0, 4);
		short_body = short_body && parse(t, buf, k + 4, 1024, &fl, &pl, &pn) == -1;
	}
	snprintf(name, sizeof name, "sp %s: body shorter than the hop count refused", tn);
	CHECK(name, short_body);
	n = pair1_frame(t, buf, 0, "x", 1);
	snprintf(name, sizeof name, "sp %s: zero hops refused", tn);
	CHECK(name, parse(t, buf, n, 1024, &fl, &pl, &pn) == -1);
	n = pair1_frame(t, buf, SP_MAX_HOPS, "x", 1);
	snprintf(name, sizeof name, "sp %s: 255 hops accepted", tn);
	CHECK(name, parse(t, buf, n, 1024, &fl, &pl, &pn) == 1);
	n = pair1_frame(t, buf, 256, "x", 1);
	snprintf(name, sizeof name, "sp %s: 256 hops refused", tn);
	CHECK(name, parse(t, buf, n, 1024, &fl, &pl, &pn) == -1);
	n = pair1_frame(t, buf, 0x01000001, "x", 1);
	snprintf(name, sizeof name, "sp %s: hop count with high bits refused", tn);
	CHECK(name, parse(t, buf, n, 1024, &fl, &pl, &pn) == -1);
	if (t == SP_IPC) {
		bool types = true;
		for (int ty = 0; ty < 256; ty++) {
			if (ty == 1)
				continue;
			n = pair1_frame(t, buf, 1, "x", 1);
			buf[0] = (uint8_t)ty;
			types = types && parse(t, buf, n, 1024, &fl, &pl, &pn) == -1 && parse(t, buf, 9, 1024, &fl, &pl, &pn) == -1;
		}
		CHECK("sp ipc: every type byte but 0x01 refused", types);
		CHECK("sp ipc: a bad type byte waits for the full header",
		      parse(t, (const uint8_t *)"\x02", 1, 1024, &fl, &pl, &pn) == 0);
	}
}

static void test_addr(void)
{
	struct sp_addr a;
	CHECK("sp: ipc url parsed", sp_addr_parse("ipc:///tmp/x.ipc", &a) == 0 && a.transport == SP_IPC &&
					     a.sa.ss_family == AF_UNIX &&
					     strcmp(((struct sockaddr_un *)&a.sa)->sun_path, "/tmp/x.ipc") == 0);
	CHECK("sp: empty ipc path refused", sp_addr_parse("ipc://", &a) == -1);
	char longurl[200];
	memset(longurl, 'a', sizeof longurl - 1);
	longurl[sizeof longurl - 1] = 0;
	memcpy(longurl, "ipc:///", 7);
	CHECK("sp: ipc path longer than sun_path refused", sp_addr_parse(longurl, &a) == -1);
	CHECK("sp: tcp v4 url parsed", sp_addr_parse("tcp://127.0.0.1:5555", &a) == 0 && a.transport == SP_TCP &&
					    a.sa.ss_family == AF_INET);
	CHECK("sp: tcp v6 url parsed", sp_addr_parse("tcp://[::1]:5555", &a) == 0 && a.sa.ss_family == AF_INET6);
	CHECK("sp: tcp without port refused", sp_addr_parse("tcp://127.0.0.1", &a) == -1);
	CHECK("sp: tcp v6 without port refused", sp_addr_parse("tcp://[::1]", &a) == -1);
	CHECK("sp: tcp empty host refused", sp_addr_parse("tcp://:5555", &a) == -1);
	CHECK("sp: other scheme refused", sp_addr_parse("ws://127.0.0.1:5555", &a) == -1);
}

/* The out buffer holds whole frames; queue_front puts one first. */
static void test_queue(void)
{
	struct sp_conn c;
	sp_conn_init(&c, SP_TCP, 1024);
	CHECK("sp: new client has nothing pending and no fd", sp_conn_pending(&c) == 0 && c.fd == -1 &&
								  !sp_conn_wants_write(&c) && sp_conn_flush(&c) == -1);
	sp_conn_queue(&c, "A", 1);
	sp_conn_queue(&c, "BB", 2);
	sp_conn_queue_front(&c, "HELLO", 5);
	CHECK("sp: pending counts whole frames", sp_conn_pending(&c) == 3 * 12 + 1 + 2 + 5);
	const uint8_t *p = buf_head(&c.out), *pl;
	size_t n = buf_used(&c.out), fl, pn;
	const char *want[] = {"HELLO", "A", "BB"};
	bool order = true;
	for (int i = 0; i < 3; i++) {
		int rc = sp_frame_parse(SP_TCP, p, n, 1024, &fl, &pl, &pn);
		order = order && rc == 1 && pn == strlen(want[i]) && memcmp(pl, want[i], pn) == 0 && p[8 + 3] == 1;
		p += fl, n -= fl;
	}
	CHECK("sp: queue_front goes first, one hop each", order && n == 0);
	const uint8_t *q;
	size_t qn;
	CHECK("sp: no message before the handshake", sp_conn_next(&c, &q, &qn) == 0);
	sp_conn_free(&c);
	CHECK("sp: free releases the buffers", c.out.data == NULL && c.in.data == NULL);
}

/* The payloads of the whole frames in c's output, joined with '|'. */
static void queued(const struct sp_conn *c, char *out, size_t cap)
{
	const uint8_t *p = buf_head(&c->out), *pl;
	size_t n = buf_used(&c->out), fl, pn, k = 0;
	out[0] = 0;
	while (n > 0 && sp_frame_parse(c->transport, p, n, 1024, &fl, &pl, &pn) == 1 && k + pn + 2 < cap) {
		k += (size_t)snprintf(out + k, cap - k, "%s%.*s", k ? "|" : "", (int)pn, (const char *)pl);
		p += fl, n -= fl;
	}
}

/* A hello put first for a connection that died before it went out is not
 * sent again behind the next connection's hello (the router would refuse
 * a second hello, and what was queued behind it would be lost). */
static void test_queue_front_replaced(void)
{
	struct sp_conn c;
	char got[128];
	sp_conn_init(&c, SP_IPC, 1024);
	sp_conn_queue(&c, "E1", 2);
	sp_conn_queue_front(&c, "HELLO1", 6);
	sp_conn_queue(&c, "E2", 2);
	sp_conn_queue_front(&c, "HELLO2", 6); /* a redial: the first hello never went out */
	queued(&c, got, sizeof got);
	CHECK("sp: an unsent front message is replaced by the next, the rest kept in order",
	      strcmp(got, "HELLO2|E1|E2") == 0);
	/* once its bytes went out whole, a front message is the peer's: the next one goes before the rest */
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	sp_conn_adopt(&c, sv[0]);
	c.state = SP_OPEN;
	c.my_sent = SP_HANDSHAKE_LEN;
	CHECK("sp: flush writes the queue", sp_conn_flush(&c) == 0 && sp_conn_pending(&c) == 0);
	sp_conn_queue(&c, "E3", 2);
	sp_conn_queue_front(&c, "HELLO3", 6);
	queued(&c, got, sizeof got);
	CHECK("sp: a front message that went out is not taken back", strcmp(got, "HELLO3|E3") == 0);
	/* a hello partly written when its connection died is dropped whole at the next */
	c.head_written = 5;
	sp_conn_disconnect(&c);
	sp_conn_queue_front(&c, "HELLO4", 6);
	queued(&c, got, sizeof got);
	CHECK("sp: a front message cut short by a dead connection is replaced", strcmp(got, "HELLO4|E3") == 0);
	sp_conn_drop_queued(&c);
	sp_conn_queue(&c, "E5", 2);
	sp_conn_queue_front(&c, "HELLO5", 6);
	queued(&c, got, sizeof got);
	CHECK("sp: drop_queued forgets the front message too", strcmp(got, "HELLO5|E5") == 0);
	close(sv[1]);
	sp_conn_free(&c);
}

void test_sp(void)
{
	signal(SIGPIPE, SIG_IGN); /* as the worker does; a failing test must not kill the run */
	test_handshake();
	test_framing(SP_IPC, "ipc");
	test_framing(SP_TCP, "tcp");
	test_addr();
	test_queue();
	test_queue_front_replaced();
}
