/*
 * common/sp's client on a real socket: against a scripted peer on a plain
 * unix socket, and interop with a real libnng pair1 (polyamorous) socket
 * over ipc and tcp.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "../../common/sp.h"
#include "check.h"
#include "sp_util.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* ---- a scripted peer on a plain unix socket ---- */

static int listen_unix(const char *path)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	strcpy(un.sun_path, path);
	unlink(path);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&un, sizeof un) < 0 || listen(s, 4) < 0)
		return -1;
	return s;
}

/* Reads what arrives on fd within ms milliseconds (stops early once want bytes are in). */
static size_t recv_for(int fd, struct buf *b, size_t want, int ms)
{
	int64_t end = now_ms() + ms;
	size_t got = 0;
	while (got < want && now_ms() < end) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 10) <= 0)
			continue;
		buf_reserve(b, 65536);
		ssize_t r = recv(fd, b->data + b->len, b->cap - b->len, MSG_DONTWAIT);
		if (r <= 0)
			break;
		b->len += (size_t)r;
		got += (size_t)r;
	}
	return got;
}

/* Calls sp_conn_read until it returns something other than 0 or time passes. */
static int read_for(struct sp_conn *c, int ms)
{
	int64_t end = now_ms() + ms;
	do {
		struct pollfd p = {c->fd, POLLIN, 0};
		poll(&p, 1, 10);
		int rc = sp_conn_read(c);
		if (rc != 0)
			return rc;
		if (p.revents & POLLIN)
			return 0;
	} while (now_ms() < end);
	return 0;
}

static void peer_send(int fd, const void *p, size_t n)
{
	if (write(fd, p, n) != (ssize_t)n)
		perror("peer write");
}

static int connect_peer(struct sp_conn *c, const struct sp_addr *a, int ls, bool handshake)
{
	if (sp_conn_connect(c, a) < 0)
		return -1;
	int ps = accept(ls, NULL, NULL);
	if (handshake) {
		uint8_t h[SP_HANDSHAKE_LEN];
		sp_handshake_make(h, SP_PROTO_PAIR1);
		sp_conn_flush(c);
		peer_send(ps, h, sizeof h);
		struct buf b = {0};
		recv_for(ps, &b, SP_HANDSHAKE_LEN, 1000);
		buf_free(&b);
		read_for(c, 1000);
	}
	return ps;
}

static void test_scripted_peer(void)
{
	char path[64], url[80];
	snprintf(path, sizeof path, "/tmp/sb-unit-peer-%d.ipc", (int)getpid());
	snprintf(url, sizeof url, "ipc://%s", path);
	int ls = listen_unix(path);
	struct sp_addr a;
	CHECK("sp peer: listening", ls >= 0 && sp_addr_parse(url, &a) == 0);
	if (ls < 0)
		return;

	struct sp_conn c;
	sp_conn_init(&c, SP_IPC, 1 << 16);
	sp_conn_queue(&c, "early", 5);
	CHECK("sp peer: connect", sp_conn_connect(&c, &a) == 0 && c.state == SP_CONNECTING);
	int ps = accept(ls, NULL, NULL);
	CHECK("sp peer: wants write while connecting", sp_conn_wants_write(&c));
	CHECK("sp peer: nothing to read while connecting", sp_conn_read(&c) == 0);
	CHECK("sp peer: flush sends the handshake", sp_conn_flush(&c) == 0 && c.state == SP_HANDSHAKE);
	struct buf got = {0};
	recv_for(ps, &got, 100, 200);
	uint8_t h[SP_HANDSHAKE_LEN];
	sp_handshake_make(h, SP_PROTO_PAIR1);
	CHECK("sp peer: only the handshake is sent before the peer's",
	      buf_used(&got) == SP_HANDSHAKE_LEN && memcmp(buf_head(&got), h, SP_HANDSHAKE_LEN) == 0);
	CHECK("sp peer: no write interest while waiting for the peer's handshake", !sp_conn_wants_write(&c));
	buf_reset(&got);

	/* The peer's handshake and two frames, a few bytes at a time. */
	peer_send(ps, h, 3);
	CHECK("sp peer: part of the peer's handshake", read_for(&c, 500) == 0 && c.state == SP_HANDSHAKE);
	uint8_t fr[64];
	size_t n1 = pair1_frame(SP_IPC, fr, 1, "one", 3);
	size_t n2 = pair1_frame(SP_IPC, fr + n1, 2, "second", 6);
	uint8_t first[6];
	memcpy(first, h + 3, 5);
	first[5] = fr[0];
	peer_send(ps, first, 6);
	const uint8_t *pl;
	size_t pn;
	CHECK("sp peer: handshake completes across reads", read_for(&c, 500) == 0 && c.state == SP_OPEN);
	CHECK("sp peer: a partial frame is not a message", sp_conn_next(&c, &pl, &pn) == 0);
	int msgs = 0;
	bool right = true;
	for (size_t i = 1; i < n1 + n2; i++) {
		peer_send(ps, fr + i, 1);
		read_for(&c, 500);
		int rc;
		while ((rc = sp_conn_next(&c, &pl, &pn)) == 1) {
			right = right && (msgs == 0 ? pn == 3 && memcmp(pl, "one", 3) == 0 : pn == 6 && memcmp(pl, "second", 6) == 0);
			msgs++;
		}
		right = right && rc == 0;
	}
	CHECK("sp peer: frames fed byte by byte arrive whole and in order", msgs == 2 && right);

	CHECK("sp peer: queued frame wants out once open", sp_conn_wants_write(&c));
	CHECK("sp peer: flush", sp_conn_flush(&c) == 0 && sp_conn_pending(&c) == 0);
	recv_for(ps, &got, 9 + 4 + 5, 1000);
	size_t fl;
	int rc = sp_frame_parse(SP_IPC, buf_head(&got), buf_used(&got), 1024, &fl, &pl, &pn);
	CHECK("sp peer: queued frame arrives with one hop", rc == 1 && pn == 5 && memcmp(pl, "early", 5) == 0 &&
							    buf_head(&got)[9 + 3] == 1 && fl == buf_used(&got));
	buf_reset(&got);

	n1 = pair1_frame(SP_IPC, fr, 0, "zero", 4);
	peer_send(ps, fr, n1);
	read_for(&c, 500);
	CHECK("sp peer: frame with zero hops is a protocol error", sp_conn_next(&c, &pl, &pn) == -1);
	close(ps);
	CHECK("sp peer: EOF reported as -1", read_for(&c, 1000) == -1);
	sp_conn_disconnect(&c);
	CHECK("sp peer: disconnected", c.fd == -1 && c.state == SP_CLOSED);

	/* A peer speaking another protocol. */
	ps = connect_peer(&c, &a, ls, false);
	sp_conn_flush(&c);
	peer_send(ps, "\0SP\0\0\x10\0\0", 8);
	CHECK("sp peer: pair0 peer refused", read_for(&c, 1000) == -1);
	sp_conn_disconnect(&c);
	close(ps);
	ps = connect_peer(&c, &a, ls, false);
	sp_conn_flush(&c);
	peer_send(ps, "HTTP/1.1 400", 12);
	CHECK("sp peer: non-SP peer refused", read_for(&c, 1000) == -1);
	sp_conn_disconnect(&c);
	close(ps);

	/* Frames larger than the socket buffer: partial writes, then a
	 * disconnect with the head frame partly written; after reconnecting
	 * the new peer gets every frame whole. */
	struct sp_conn big;
	sp_conn_init(&big, SP_IPC, 1 << 22);
	const size_t bn = 1500000;
	uint8_t *payload = malloc(bn);
	for (int m = 0; m < 3; m++) {
		for (size_t i = 0; i < bn; i++)
			payload[i] = (uint8_t)(i * (m + 3) + m);
		sp_conn_queue(&big, payload, bn - (size_t)m);
	}
	ps = connect_peer(&big, &a, ls, true);
	int sndbuf = 65536; /* well below one frame, whatever the system default */
	setsockopt(big.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	sp_conn_flush(&big);
	bool partly = big.head_written > 0 && big.head_written < 9 + 4 + bn;
	sp_conn_disconnect(&big);
	close(ps);
	CHECK("sp peer: disconnect keeps every queued frame", sp_conn_pending(&big) == 3 * (9 + 4 + bn) - 3 && big.head_written == 0);
	ps = connect_peer(&big, &a, ls, true);
	size_t total = sp_conn_pending(&big);
	int64_t end = now_ms() + 10000;
	while (buf_used(&got) < total && now_ms() < end) {
		if (sp_conn_flush(&big) < 0)
			break;
		recv_for(ps, &got, total - buf_used(&got), 20);
	}
	bool whole = buf_used(&got) == total && sp_conn_pending(&big) == 0;
	const uint8_t *p = buf_head(&got);
	size_t left = buf_used(&got);
	for (int m = 0; m < 3 && whole; m++) {
		rc = sp_frame_parse(SP_IPC, p, left, 1 << 22, &fl, &pl, &pn);
		whole = rc == 1 && pn == bn - (size_t)m && pl[0] == (uint8_t)m && pl[pn - 1] == (uint8_t)((pn - 1) * (size_t)(m + 3) + (size_t)m);
		p += fl, left -= fl;
	}
	CHECK("sp peer: the head frame was partly written before the disconnect", partly);
	CHECK("sp peer: after reconnecting, large frames arrive whole and in order", whole);
	free(payload);
	sp_conn_free(&big);
	close(ps);

	sp_conn_free(&c);
	buf_free(&got);
	close(ls);
	unlink(path);
}

/* ---- interop with libnng ---- */

struct got {
	int n;
	uint8_t *p[4];
	size_t len[4];
};

static void got_free(struct got *g)
{
	for (int i = 0; i < g->n && i < 4; i++)
		free(g->p[i]);
	memset(g, 0, sizeof *g);
}

/* One round of the worker's loop: poll, flush, read, take messages. */
static int drive(struct sp_conn *c, struct got *g, int ms)
{
	struct pollfd p = {c->fd, (short)(POLLIN | (sp_conn_wants_write(c) ? POLLOUT : 0)), 0};
	if (poll(&p, 1, ms) < 0)
		return -1;
	if ((p.revents & (POLLOUT | POLLERR | POLLHUP)) && sp_conn_wants_write(c) && sp_conn_flush(c) < 0)
		return -1;
	if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && sp_conn_read(c) < 0)
		return -1;
	const uint8_t *pl;
	size_t pn;
	int rc;
	while ((rc = sp_conn_next(c, &pl, &pn)) == 1) {
		if (g->n < 4) {
			g->p[g->n] = malloc(pn ? pn : 1); /* the payload lives until the next read */
			memcpy(g->p[g->n], pl, pn);
			g->len[g->n] = pn;
		}
		g->n++;
	}
	return rc;
}

static nng_msg *nng_recv_until(nng_socket s, struct sp_conn *c, struct got *g, int ms)
{
	int64_t end = now_ms() + ms;
	while (now_ms() < end) {
		nng_msg *m;
		if (nng_recvmsg(s, &m, NNG_FLAG_NONBLOCK) == 0)
			return m;
		if (drive(c, g, 10) < 0)
			return NULL;
	}
	return NULL;
}

static int nng_send_to(nng_socket s, nng_pipe pipe, const void *p, size_t n)
{
	nng_msg *m;
	if (nng_msg_alloc(&m, 0) != 0)
		return -1;
	if (nng_msg_append(m, p, n) != 0) {
		nng_msg_free(m);
		return -1;
	}
	nng_msg_set_pipe(m, pipe);
	int rv = nng_sendmsg(s, m, 0);
	if (rv != 0)
		nng_msg_free(m);
	return rv;
}

static bool body_is(nng_msg *m, const void *p, size_t n)
{
	return m && nng_msg_len(m) == n && memcmp(nng_msg_body(m), p, n) == 0;
}

static void interop(enum sp_transport t)
{
	const char *tn = t == SP_IPC ? "ipc" : "tcp";
	char name[256], url[128], path[64] = "";
	nng_socket s;
	nng_listener l;
	int rv = nng_pair1_open_poly(&s);
	snprintf(name, sizeof name, "sp interop %s: nng pair1 poly socket opened", tn);
	CHECK(name, rv == 0);
	if (rv != 0)
		return;
	if (t == SP_IPC) {
		snprintf(path, sizeof path, "/tmp/sb-unit-%d.ipc", (int)getpid());
		unlink(path);
		snprintf(url, sizeof url, "ipc://%s", path);
		rv = nng_listen(s, url, &l, 0);
	} else {
		rv = nng_listen(s, "tcp://127.0.0.1:0", &l, 0);
		int port = 0;
		if (rv == 0)
			rv = nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port);
		snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
	}
	struct sp_addr a;
	snprintf(name, sizeof name, "sp interop %s: nng listening on %s", tn, url);
	CHECK(name, rv == 0 && sp_addr_parse(url, &a) == 0 && a.transport == t);
	if (rv != 0) {
		nng_close(s);
		return;
	}

	struct sp_conn c;
	struct got g = {0};
	sp_conn_init(&c, t, 1 << 20);
	static const char m1[] = "hello from the worker", m2[] = "second message";
	sp_conn_queue(&c, m1, sizeof m1 - 1);
	sp_conn_queue(&c, m2, sizeof m2 - 1);
	rv = sp_conn_connect(&c, &a);
	snprintf(name, sizeof name, "sp interop %s: client connects", tn);
	CHECK(name, rv == 0);

	nng_msg *r1 = nng_recv_until(s, &c, &g, 5000);
	nng_msg *r2 = r1 ? nng_recv_until(s, &c, &g, 5000) : NULL;
	snprintf(name, sizeof name, "sp interop %s: handshake with libnng completes", tn);
	CHECK(name, c.state == SP_OPEN);
	snprintf(name, sizeof name, "sp interop %s: libnng receives our messages in order", tn);
	CHECK(name, body_is(r1, m1, sizeof m1 - 1) && body_is(r2, m2, sizeof m2 - 1));
	nng_pipe pipe = r1 ? nng_msg_get_pipe(r1) : (nng_pipe)NNG_PIPE_INITIALIZER;
	snprintf(name, sizeof name, "sp interop %s: message carries our pipe", tn);
	CHECK(name, nng_pipe_id(pipe) > 0 && r2 && nng_pipe_id(nng_msg_get_pipe(r2)) == nng_pipe_id(pipe));
	if (r1)
		nng_msg_free(r1);
	if (r2)
		nng_msg_free(r2);

	static const char b1[] = "from the router", b2[] = "";
	bool sent = nng_pipe_id(pipe) > 0 && nng_send_to(s, pipe, b1, sizeof b1 - 1) == 0 &&
		    nng_send_to(s, pipe, b2, 0) == 0;
	int64_t end = now_ms() + 5000;
	while (sent && g.n < 2 && now_ms() < end)
		if (drive(&c, &g, 10) < 0)
			break;
	snprintf(name, sizeof name, "sp interop %s: we receive libnng's messages to our pipe", tn);
	CHECK(name, sent && g.n == 2 && g.len[0] == sizeof b1 - 1 && memcmp(g.p[0], b1, g.len[0]) == 0 && g.len[1] == 0);
	got_free(&g);

	/* Large messages both ways (many reads and partial writes). */
	const size_t big = 600000;
	uint8_t *payload = malloc(big);
	for (size_t i = 0; i < big; i++)
		payload[i] = (uint8_t)(i % 251);
	sp_conn_queue(&c, payload, big);
	nng_msg *rb = nng_recv_until(s, &c, &g, 10000);
	snprintf(name, sizeof name, "sp interop %s: a 600 KB message reaches libnng intact", tn);
	CHECK(name, body_is(rb, payload, big));
	if (rb)
		nng_msg_free(rb);
	for (size_t i = 0; i < big; i++)
		payload[i] = (uint8_t)(i % 253);
	sent = nng_send_to(s, pipe, payload, big) == 0;
	end = now_ms() + 10000;
	while (sent && g.n < 1 && now_ms() < end)
		if (drive(&c, &g, 10) < 0)
			break;
	snprintf(name, sizeof name, "sp interop %s: a 600 KB message from libnng arrives intact", tn);
	CHECK(name, sent && g.n == 1 && g.len[0] == big && memcmp(g.p[0], payload, big) == 0);
	got_free(&g);
	free(payload);

	/* libnng going away is seen as the end of the connection. */
	nng_close(s);
	end = now_ms() + 5000;
	int rc = 0;
	while (rc == 0 && now_ms() < end)
		rc = drive(&c, &g, 10);
	snprintf(name, sizeof name, "sp interop %s: closing the nng socket ends our connection", tn);
	CHECK(name, rc == -1);
	got_free(&g);
	sp_conn_free(&c);
	if (*path)
		unlink(path);
}

void test_sp_conn(void)
{
	signal(SIGPIPE, SIG_IGN); /* as the worker does; a failing test must not kill the run */
	test_scripted_peer();
	interop(SP_IPC);
	interop(SP_TCP);
}
