/*
 * A C load client for tests/bench/proto-wsstar.sh: two WebSocketStar peers
 * (Engine.IO 3 / Socket.IO 2 written by hand on two WebSocket connections)
 * join a rendezvous server (run with its crypto challenge off: this client
 * signs nothing), the first dials the second, and then either
 *   echo: a 32-byte chunk goes dialer -> listener, which writes it back on
 *         its own direction; one at a time; prints the round trip p50/p99;
 *   bulk: 64 KiB chunks dialer -> listener for SECS seconds, the listener
 *         granting credit back every 256 KiB read so no more than 768 KiB is
 *         in flight (under every relay bound of switchboard; the same for the
 *         reference); prints MB/s read by the listener.
 * Without the multiaddrs, the same echo or bulk frames go with no rendezvous
 * at all (no HTTP, no join, no dial), for tests/bench/wsstar_floor.c, which
 * only forwards bytes between A and B: the floor of the client and loopback.
 *   soak: for make soak (tests/bench/soak.sh): RATE 32-byte chunks a second
 *         dialer -> listener, each written back; each carries a sequence
 *         number, checked in order on both ends (a lost, repeated or
 *         reordered chunk is an error); until SIGTERM, then it waits up to
 *         15 s for what was sent, prints "soak sent_wsstar=N
 *         delivered_wsstar=M echoed_wsstar=K errors=E" and exits. The two
 *         peers get random peer ids of their own (many pairs may run).
 * The same client for switchboard and the reference, so the Node client's own
 * cost (more than the servers' per MB) does not cap both figures.
 *
 *   wsstar_relay PORT echo|bulk SECS [MULTIADDR_A MULTIADDR_B]
 *   wsstar_relay PORT soak RATE READYFILE
 * Prints key=value on stdout; exits 1 on any failure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../proto/wsstar/base58.h"

#define CHUNK 65536
#define WINDOW (768 * 1024)
#define CREDIT (256 * 1024)
#define ECHO_SIZE 32
#define MAX_RTT 200000

struct conn {
	int fd;
	char *out; /* unsent bytes [off, len) */
	size_t off, len, cap;
	uint8_t *in; /* received, not yet parsed */
	size_t inlen, incap;
	int upgraded, joined;
};

static struct conn A, B; /* A dials B */
static const char *ma_a, *ma_b;
static int echo_mode, soak_mode, floor_mode, dial_acked, dial_accepted, started;
static long long soak_sent, soak_got, soak_echoed; /* chunks: sent by A, read by B, back at A */
static long soak_errors;
static char soak_first[120];
static volatile sig_atomic_t soak_stop;
static long long granted = WINDOW, sent, bytes_read, since_credit;
static double t_start, t_sent, rtts[MAX_RTT];
static int nrtt;

static void die(const char *what)
{
	fprintf(stderr, "wsstar_relay: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
	exit(1);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void out_add(struct conn *c, const void *p, size_t n)
{
	if (c->off == c->len)
		c->off = c->len = 0;
	if (c->len + n > c->cap) {
		if (c->off) {
			memmove(c->out, c->out + c->off, c->len - c->off);
			c->len -= c->off;
			c->off = 0;
		}
		while (c->len + n > c->cap)
			c->cap = c->cap ? c->cap * 2 : 1 << 20;
		if (!(c->out = realloc(c->out, c->cap)))
			die("out of memory");
	}
	memcpy(c->out + c->len, p, n);
	c->len += n;
}

/* One masked client frame (mask key 0: the payload goes as it is). */
static void frame(struct conn *c, int opcode, const void *p, size_t n)
{
	uint8_t h[14];
	size_t hl = 2;
	h[0] = (uint8_t)(0x80 | opcode);
	if (n < 126) {
		h[1] = (uint8_t)(0x80 | n);
	} else if (n < 65536) {
		h[1] = 0x80 | 126;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hl = 4;
	} else {
		h[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	memset(h + hl, 0, 4);
	out_add(c, h, hl + 4);
	out_add(c, p, n);
}

static void text(struct conn *c, const char *s) { frame(c, 1, s, strlen(s)); }

/* A chunk on a pull-stream direction: the placeholder event, then 04 <bytes>. */
static void chunk(struct conn *c, const char *dir, const uint8_t *p, size_t n)
{
	static uint8_t *bin;
	static size_t bincap;
	char ev[160];
	snprintf(ev, sizeof ev, "451-[\"socket.io-pull-stream.queue.x.%s\",{\"_placeholder\":true,\"num\":0}]", dir);
	text(c, ev);
	if (n + 1 > bincap && !(bin = realloc(bin, bincap = n + 1)))
		die("out of memory");
	bin[0] = 4;
	memcpy(bin + 1, p, n);
	frame(c, 2, bin, n + 1);
}

static void send_echo(void)
{
	static const uint8_t data[ECHO_SIZE] = "0123456789abcdef0123456789abcdef";
	t_sent = now_s();
	chunk(&A, "dialer", data, sizeof data);
}

/* soak: a chunk whose first 8 bytes are its sequence number */
static void send_soak(void)
{
	uint8_t data[ECHO_SIZE] = "........0123456789abcdef01234567";
	memcpy(data, &soak_sent, sizeof soak_sent);
	soak_sent++;
	chunk(&A, "dialer", data, sizeof data);
}

/* soak: the chunk at p (after the 04 byte) must be number *want */
static void soak_check(const uint8_t *p, size_t n, long long *want, const char *where)
{
	long long seq = -1;
	if (n == ECHO_SIZE)
		memcpy(&seq, p, sizeof seq);
	if (seq != *want) {
		if (!soak_errors++)
			snprintf(soak_first, sizeof soak_first, "%s:got_%lld_wanted_%lld_len_%zu", where, seq, *want, n);
		if (seq >= 0)
			*want = seq; /* resynchronise: report once, not for every later chunk */
	}
	(*want)++;
}

static void fill(void)
{
	static uint8_t big[CHUNK];
	/* as much as the credit allows, without piling up more than the window locally */
	while (sent + CHUNK <= granted && A.len - A.off < WINDOW) {
		chunk(&A, "dialer", big, sizeof big);
		sent += CHUNK;
	}
}

static void start(void)
{
	started = 1;
	t_start = now_s();
	if (soak_mode)
		return; /* the loop paces */
	if (echo_mode)
		send_echo();
	else
		fill();
}

/* The join, the same for both peers: on Socket.IO's connect ("40") ss-join
 * as ma, and its ack ("430"); 1 if t was one of them. */
static int on_join(struct conn *c, const char *ma, const char *refused, const char *t, size_t n)
{
	if (n == 2 && !memcmp(t, "40", 2)) {
		char m[512];
		snprintf(m, sizeof m, "420[\"ss-join\",\"%s\",\"\"]", ma);
		text(c, m);
	} else if (n >= 3 && !memcmp(t, "430", 3)) {
		if (n < 8 || memcmp(t, "430[null", 8))
			die(refused);
		c->joined = 1;
	} else {
		return 0;
	}
	return 1;
}

static void on_text_a(const char *t, size_t n)
{
	if (on_join(&A, ma_a, "A's join was refused", t, n))
		return; /* a join moves no dial flag: start() is not due */
	if (n >= 3 && !memcmp(t, "431", 3)) {
		if (memcmp(t, "431[]", 5) && memcmp(t, "431[null", 8))
			die("the dial was refused");
		dial_acked = 1;
		text(&A, "42[\"socket.io-pull-stream.accept.x.listener\"]");
	} else if (memmem(t, n, "accept.x.dialer", 15)) {
		dial_accepted = 1;
	} else if (started && !echo_mode && !soak_mode && memmem(t, n, "queue.x.listener", 16)) {
		granted += CREDIT; /* a credit, as text (the reference) or as a placeholder event (us) */
		fill();
	}
	if (dial_acked && dial_accepted && !started)
		start();
}

static void on_text_b(const char *t, size_t n)
{
	if (on_join(&B, ma_b, "B's join was refused", t, n))
		return;
	if (n > 2 && !memcmp(t, "42", 2) && memmem(t, n, "\"ss-incomming\"", 14)) {
		/* 42<ack>["ss-incomming",...]: ack it, then read the dialer's direction */
		char m[64];
		snprintf(m, sizeof m, "43%ld[]", strtol(t + 2, NULL, 10));
		text(&B, m);
		text(&B, "42[\"socket.io-pull-stream.accept.x.dialer\"]");
	}
}

static void on_binary_b(const uint8_t *p, size_t n)
{
	if (n < 1)
		return;
	if (soak_mode) {
		soak_check(p + 1, n - 1, &soak_got, "listener");
		chunk(&B, "listener", p + 1, n - 1);
		return;
	}
	if (echo_mode) {
		chunk(&B, "listener", p + 1, n - 1);
		return;
	}
	bytes_read += (long long)n - 1;
	since_credit += (long long)n - 1;
	if (since_credit >= CREDIT) {
		since_credit -= CREDIT;
		text(&B, "42[\"socket.io-pull-stream.queue.x.listener\",\"C\"]");
	}
}

static void on_binary_a(const uint8_t *p, size_t n)
{
	if (soak_mode && n >= 1) {
		soak_check(p + 1, n - 1, &soak_echoed, "dialer");
		return;
	}
	if (!echo_mode || !started)
		return;
	if (nrtt < MAX_RTT)
		rtts[nrtt++] = now_s() - t_sent;
	send_echo();
}

static void on_frame(struct conn *c, int opcode, const uint8_t *p, size_t n)
{
	if (opcode == 8)
		die(c == &A ? "the server closed A" : "the server closed B");
	if (opcode == 1)
		(c == &A ? on_text_a : on_text_b)((const char *)p, n);
	else if (opcode == 2)
		c == &A ? on_binary_a(p, n) : on_binary_b(p, n);
}

/* Parses what came in: the 101, then whole frames (server frames: unmasked, unfragmented). */
static void parse(struct conn *c)
{
	size_t off = 0;
	if (!c->upgraded) {
		uint8_t *e = memmem(c->in, c->inlen, "\r\n\r\n", 4);
		if (!e)
			return;
		if (c->inlen < 12 || memcmp(c->in, "HTTP/1.1 101", 12))
			die("no 101 from the server");
		c->upgraded = 1;
		off = (size_t)(e - c->in) + 4;
	}
	while (c->inlen - off >= 2) {
		const uint8_t *h = c->in + off;
		uint64_t len = h[1] & 127;
		/* the floor servers pass our own frames on: masked, with the zero key */
		size_t hl = h[1] & 0x80 ? 6 : 2;
		if (len == 126) {
			if (c->inlen - off < 4)
				break;
			len = (uint64_t)h[2] << 8 | h[3];
			hl += 2;
		} else if (len == 127) {
			if (c->inlen - off < 10)
				break;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | h[2 + i];
			hl += 8;
		}
		if (c->inlen - off < hl || c->inlen - off - hl < len)
			break;
		on_frame(c, h[0] & 15, h + hl, (size_t)len);
		off += hl + (size_t)len;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
}

static void readable(struct conn *c)
{
	if (c->incap - c->inlen < 65536) {
		c->incap = c->incap ? c->incap * 2 : 1 << 20;
		if (!(c->in = realloc(c->in, c->incap)))
			die("out of memory");
	}
	ssize_t r = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
	if (r == 0)
		die("the server hung up");
	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		die("read");
	}
	c->inlen += (size_t)r;
	parse(c);
}

static void writable(struct conn *c)
{
	while (c->off < c->len) {
		ssize_t w = write(c->fd, c->out + c->off, c->len - c->off);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			die("write");
		}
		c->off += (size_t)w;
	}
}

static void open_conn(struct conn *c, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	if ((c->fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("connect");
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
		die("TCP_NODELAY");
	if (floor_mode) {
		c->upgraded = 1;
		return;
	}
	char req[256];
	snprintf(req, sizeof req,
		 "GET /socket.io/?EIO=3&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
		 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		 port);
	out_add(c, req, strlen(req));
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* A random, well-formed peer id: base58 of a sha2-256 multihash (12 20, then 32 bytes). */
static void random_peer_id(char *out, size_t cap)
{
	uint8_t h[34] = {0x12, 0x20};
	if (getrandom(h + 2, 32, 0) != 32)
		die("getrandom");
	if (b58_encode(h, sizeof h, out, cap) < 0)
		die("base58");
}

/* One turn of both connections: wait up to ms, read and write what they can. */
static void poll_both(int ms)
{
	struct pollfd p[2] = {{A.fd, POLLIN | (A.off < A.len ? POLLOUT : 0), 0},
			      {B.fd, POLLIN | (B.off < B.len ? POLLOUT : 0), 0}};
	if (poll(p, 2, ms) < 0 && errno != EINTR)
		die("poll");
	for (int i = 0; i < 2; i++) {
		struct conn *c = i ? &B : &A;
		if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
			readable(c);
		if (p[i].revents & POLLOUT)
			writable(c);
	}
	writable(&A);
	writable(&B);
}

static void on_term(int sig)
{
	(void)sig;
	soak_stop = 1;
}

/* soak: paced chunks until SIGTERM, then the result; never returns */
static void soak_loop(double rate, const char *readyfile, double deadline)
{
	int ready_written = 0;
	double t0 = 0, stop_at = 0;
	long long due_sent = 0;
	for (;;) {
		double t = now_s();
		if (started && !ready_written) {
			FILE *f = fopen(readyfile, "w");
			if (!f || fprintf(f, "ready\n") < 0 || fclose(f) != 0)
				die("the ready file");
			ready_written = 1;
			t0 = t;
		}
		if (!started && t > deadline)
			die("the dial never started");
		if (started && !soak_stop) {
			long long due = (long long)((t - t0) * rate);
			if (due - due_sent > rate / 10) /* fell behind by 100 ms: do not burst */
				due_sent = due - (long long)(rate / 10);
			for (; due_sent < due; due_sent++)
				send_soak();
		}
		if (soak_stop && !stop_at)
			stop_at = t + 15;
		if (stop_at && (soak_echoed >= soak_sent || t > stop_at))
			break;
		poll_both(started && !soak_stop ? (int)(1000 / rate) + 1 : 100);
	}
	if (soak_got < soak_sent && !soak_errors++)
		snprintf(soak_first, sizeof soak_first, "undelivered:%lld", soak_sent - soak_got);
	if (soak_echoed < soak_sent && !soak_errors++)
		snprintf(soak_first, sizeof soak_first, "not_echoed:%lld", soak_sent - soak_echoed);
	printf("soak sent_wsstar=%lld delivered_wsstar=%lld echoed_wsstar=%lld errors=%ld first_error=%s\n", soak_sent,
	       soak_got, soak_echoed, soak_errors, soak_first[0] ? soak_first : "-");
	exit(soak_errors ? 1 : 0);
}

int main(int argc, char **argv)
{
	static char ma_soak[2][200];
	int port = argc > 1 ? atoi(argv[1]) : 0;
	soak_mode = argc == 5 && !strcmp(argv[2], "soak");
	floor_mode = argc == 4;
	if (argc != 6 && !soak_mode && !floor_mode)
		die("usage: wsstar_relay PORT echo|bulk SECS [MULTIADDR_A MULTIADDR_B]\n"
		    "       wsstar_relay PORT soak RATE READYFILE");
	echo_mode = !strcmp(argv[2], "echo");
	double secs = atof(argv[3]);
	if (soak_mode) {
		char id[64];
		for (int k = 0; k < 2; k++) {
			random_peer_id(id, sizeof id);
			snprintf(ma_soak[k], sizeof ma_soak[k], "/ip4/127.0.0.1/tcp/%d/ws/p2p-websocket-star/ipfs/%s", port, id);
		}
		ma_a = ma_soak[0];
		ma_b = ma_soak[1];
		struct sigaction sa = {.sa_handler = on_term}; /* no SA_RESTART: poll returns */
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		if (secs <= 0)
			die("soak: RATE must be > 0");
	} else {
		ma_a = floor_mode ? "" : argv[4];
		ma_b = floor_mode ? "" : argv[5];
	}
	open_conn(&A, port);
	open_conn(&B, port);
	int dialed = floor_mode;
	if (floor_mode)
		start();
	double deadline = now_s() + (soak_mode ? 0 : secs) + 30;
	for (;;) {
		if (soak_mode && dialed)
			soak_loop(secs, argv[4], deadline);
		if (A.joined && B.joined && !dialed) {
			char m[1024];
			snprintf(m, sizeof m, "421[\"ss-dial\",\"%s\",\"%s\",\"x\"]", ma_a, ma_b);
			text(&A, m);
			dialed = 1;
		}
		if (started && now_s() - t_start >= secs)
			break;
		if (now_s() > deadline)
			die(started ? "stalled" : "the dial never started");
		poll_both(1000);
	}
	double el = now_s() - t_start;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		     (double)ru.ru_stime.tv_usec / 1e6;
	if (echo_mode) {
		if (nrtt < 20)
			die("too few round trips");
		qsort(rtts, (size_t)nrtt, sizeof rtts[0], cmp);
		printf("rtt_ms_p50=%.3f rtt_ms_p99=%.3f rtt_n=%d client_cpu_s=%.2f\n", rtts[nrtt / 2] * 1e3,
		       rtts[nrtt * 99 / 100] * 1e3, nrtt, cpu);
	} else {
		printf("relay_mbs=%.1f relay_bytes=%lld client_cpu_s=%.2f client_cpu_ms_per_mb=%.2f\n",
		       (double)bytes_read / el / 1e6, bytes_read, cpu, bytes_read ? cpu * 1e3 / ((double)bytes_read / 1e6) : 0);
	}
	return 0;
}
