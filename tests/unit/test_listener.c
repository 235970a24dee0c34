/*
 * router/listener: our SP listener against real libnng peers (pair1 workers, a
 * sub0 tap reader), against raw sockets that misbehave, and the regression
 * for nng#1518: peers that die in the handshake must not stop the listener
 * from taking the next worker.
 *
 * All on one thread: libnng's calls are non-blocking, interleaved with turns
 * of our epoll loop, since a blocking one would wait for a handshake that
 * only our stalled loop could complete. Waits poll a condition against a
 * deadline that is only reached on failure.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>
#include <sys/stat.h>

#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <nng/protocol/pubsub0/sub.h>

#include "../../common/clock.h"
#include "../../common/envelope.h"
#include "../../common/log.h"
#include "../../router/listener.h"
#include "check.h"

#define MAX_MSG (1u << 20)
#define DEADLINE_MS 15000 /* generous: the machine may be loaded */
#define BIG 600000
#define NREC 16
#define NGONE 256

#define CHECKF(cond, ...) \
	do { char name_[200]; snprintf(name_, sizeof name_, __VA_ARGS__); CHECK(name_, cond); } while (0)

/* The router's side: an epoll fd, the bus, and what the callbacks saw. */
struct loop {
	int ep;
	struct bus b;
	char path[96]; /* the ipc socket file; "" on tcp */
	char url[128];
	struct { uint32_t pipe; uint8_t *p; size_t n; } msg[NREC];
	int nmsg; /* counts on past NREC; only the first NREC are kept */
	uint32_t gone[NGONE];
	int ngone;
};

static int seq; /* a fresh ipc path for every loop of this run */

static void on_message(void *ctx, uint32_t pipe, const uint8_t *p, size_t n)
{
	struct loop *L = ctx;
	if (L->nmsg < NREC) {
		L->msg[L->nmsg].pipe = pipe;
		L->msg[L->nmsg].p = malloc(n ? n : 1); /* p is only ours during the call */
		memcpy(L->msg[L->nmsg].p, p, n);
		L->msg[L->nmsg].n = n;
	}
	L->nmsg++;
}

static void on_gone(void *ctx, uint32_t pipe)
{
	struct loop *L = ctx;
	if (L->ngone < NGONE)
		L->gone[L->ngone] = pipe;
	L->ngone++;
}

static int gone_count(const struct loop *L, uint32_t pipe)
{
	int k = 0;
	for (int i = 0; i < L->ngone && i < NGONE; i++)
		k += L->gone[i] == pipe;
	return k;
}

static bool rec_is(const struct loop *L, int i, uint32_t pipe, const void *p, size_t n)
{
	return i < L->nmsg && i < NREC && L->msg[i].pipe == pipe && L->msg[i].n == n && memcmp(L->msg[i].p, p, n) == 0;
}

static void forget(struct loop *L)
{
	for (int i = 0; i < L->nmsg && i < NREC; i++)
		free(L->msg[i].p);
	L->nmsg = L->ngone = 0;
}

/* One turn of the router's loop, as router/main.c does it. */
static void pump(struct loop *L, int ms)
{
	struct epoll_event ev[64];
	int n = epoll_wait(L->ep, ev, 64, ms);
	for (int i = 0; i < n; i++)
		bus_on_event(&L->b, ev[i].data.u64, ev[i].events);
	bus_reap(&L->b, clock_ms());
}

/* Turns the loop until cond holds or the deadline passes; the caller checks cond again. */
#define PUMP_UNTIL(L, cond) \
	for (int64_t end_ = clock_ms() + DEADLINE_MS; !(cond) && clock_ms() < end_;) pump(L, 10)

static bool loop_open(struct loop *L, enum sp_transport t, enum bus_kind kind)
{
	memset(L, 0, sizeof *L);
	L->ep = epoll_create1(EPOLL_CLOEXEC);
	if (bus_init(&L->b, L->ep, MAX_MSG, getuid(), (struct bus_callbacks){.on_message = on_message, .on_gone = on_gone, .ctx = L}) < 0 || L->ep < 0)
		return false;
	if (t == SP_IPC) {
		snprintf(L->path, sizeof L->path, "/tmp/sb-unit-bus-%d-%d.ipc", (int)getpid(), seq++);
		snprintf(L->url, sizeof L->url, "ipc://%s", L->path);
		return bus_listen(&L->b, L->url, kind) == 0;
	}
	/* Port 0: the kernel picks a free port; read it back from the listening socket. */
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	if (bus_listen(&L->b, "tcp://127.0.0.1:0", kind) < 0 ||
	    getsockname(L->b.listeners[0].fd, (struct sockaddr *)&sin, &len) < 0)
		return false;
	snprintf(L->url, sizeof L->url, "tcp://127.0.0.1:%d", ntohs(sin.sin_port));
	return true;
}

static void loop_close(struct loop *L)
{
	forget(L);
	bus_fini(&L->b); /* also removes the ipc socket file */
	close(L->ep);
}

/* ---- libnng peers ---- */

/* Dials in the background: nng keeps trying while we turn our loop. */
static bool nng_peer(nng_socket *s, int (*open)(nng_socket *), const char *url)
{
	return open(s) == 0 && nng_dial(*s, url, NULL, NNG_FLAG_NONBLOCK) == 0;
}

static bool nng_send_pumping(struct loop *L, nng_socket s, const void *p, size_t n)
{
	/* EAGAIN until nng has a pipe with room; nng copies p */
	int rv = NNG_EAGAIN;
	PUMP_UNTIL(L, (rv = nng_send(s, (void *)p, n, NNG_FLAG_NONBLOCK)) != NNG_EAGAIN);
	return rv == 0;
}

/* Receives one message at s and compares it with p, n. */
static bool nng_gets(struct loop *L, nng_socket s, const void *p, size_t n)
{
	nng_msg *m = NULL;
	PUMP_UNTIL(L, nng_recvmsg(s, &m, NNG_FLAG_NONBLOCK) == 0);
	bool same = m && nng_msg_len(m) == n && memcmp(nng_msg_body(m), p, n) == 0;
	if (m)
		nng_msg_free(m);
	return same;
}

/* A message both ways with a libnng pair1 peer; its pipe id (0: it failed). */
static uint32_t exchange(struct loop *L, nng_socket s)
{
	int before = L->nmsg;
	if (!nng_send_pumping(L, s, "ping", 4))
		return 0;
	PUMP_UNTIL(L, L->nmsg > before);
	uint32_t pipe = L->nmsg > before && before < NREC ? L->msg[before].pipe : 0;
	bool ok = rec_is(L, before, pipe, "ping", 4) && bus_send(&L->b, pipe, "pong", 4) == 0 && nng_gets(L, s, "pong", 4);
	return ok ? pipe : 0;
}

static uint8_t *pattern(size_t n, unsigned salt)
{
	uint8_t *p = malloc(n);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + i / 251 + salt);
	return p;
}

/* ---- raw peers: plain unix sockets that speak as much SP as we tell them ---- */

static const uint8_t pair1_hdr[8] = {0, 'S', 'P', 0, 0, 0x11, 0, 0};

static int raw_connect(const char *path)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	memcpy(un.sun_path, path, strlen(path) + 1); /* our own short /tmp path */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&un, sizeof un) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool raw_write(int fd, const void *p, size_t n)
{
	return fd >= 0 && write(fd, p, n) == (ssize_t)n;
}

/* An ipc frame written out by hand: type byte, u64be length, u32be hops, payload. */
static bool raw_frame(int fd, uint8_t type, uint32_t hops, const char *s)
{
	uint8_t f[64];
	size_t n = strlen(s), body = n + 4;
	f[0] = type;
	for (int i = 0; i < 8; i++)
		f[1 + i] = (uint8_t)(body >> (8 * (7 - i)));
	for (int i = 0; i < 4; i++)
		f[9 + i] = (uint8_t)(hops >> (8 * (3 - i)));
	memcpy(f + 13, s, n);
	return raw_write(fd, f, 13 + n);
}

static bool raw_eof_now(int fd)
{
	char sink[256];
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, 0) > 0 && read(fd, sink, sizeof sink) <= 0;
}

/* True once our side has closed fd (whatever it sent before that). */
static bool raw_sees_eof(struct loop *L, int fd)
{
	bool eof = false;
	PUMP_UNTIL(L, (eof = raw_eof_now(fd)));
	return eof;
}

/* ---- the tests ---- */

static void test_listen_errors(void)
{
	struct loop L = {.ep = epoll_create1(EPOLL_CLOEXEC)};
	bus_init(&L.b, L.ep, MAX_MSG, getuid(), (struct bus_callbacks){.on_message = on_message, .on_gone = on_gone, .ctx = &L});
	CHECK("bus listen: unknown scheme refused", bus_listen(&L.b, "foo://x", BUS_WORKERS) == -1);
	char url[300] = "ipc:///tmp/";
	memset(url + 11, 'a', 200);
	url[211] = 0;
	CHECK("bus listen: ipc path too long for sockaddr_un refused", bus_listen(&L.b, url, BUS_WORKERS) == -1);
	CHECK("bus listen: tcp without a port refused", bus_listen(&L.b, "tcp://127.0.0.1", BUS_WORKERS) == -1);
	CHECK("bus listen: failures leave no listener", L.b.nlisteners == 0);
	int ok = 0;
	for (int i = 0; i < BUS_MAX_LISTENERS; i++)
		ok += bus_listen(&L.b, "tcp://127.0.0.1:0", BUS_TAP) == 0;
	CHECK("bus listen: one past BUS_MAX_LISTENERS refused",
	      ok == BUS_MAX_LISTENERS && bus_listen(&L.b, "tcp://127.0.0.1:0", BUS_TAP) == -1);
	loop_close(&L);
}

static void test_interop(enum sp_transport t)
{
	const char *tn = t == SP_IPC ? "ipc" : "tcp";
	struct loop L;
	nng_socket s = NNG_SOCKET_INITIALIZER;
	bool up = loop_open(&L, t, BUS_WORKERS);
	CHECKF(up && nng_peer(&s, nng_pair1_open, L.url), "bus %s: listening; libnng pair1 dials %s", tn, L.url);

	static const char hello[] = "hello from libnng";
	bool sent = up && nng_send_pumping(&L, s, hello, sizeof hello - 1);
	PUMP_UNTIL(&L, L.nmsg >= 1);
	uint32_t pipe = L.nmsg >= 1 ? L.msg[0].pipe : 0;
	CHECKF(sent && L.nmsg == 1 && pipe != 0 && rec_is(&L, 0, pipe, hello, sizeof hello - 1),
	       "bus %s: libnng's message arrives through on_message, hop count stripped", tn);
	CHECKF(L.b.handshaking == 0 && L.b.pipes.count == 1, "bus %s: one pipe, through its handshake", tn);
	forget(&L);

	/* Back to back and then a large one: frames split across reads and joined in one. */
	char small[5][16];
	uint8_t *big = pattern(BIG, 1);
	for (int i = 0; i < 5; i++) {
		snprintf(small[i], sizeof small[i], "message %d", i);
		sent = sent && nng_send_pumping(&L, s, small[i], strlen(small[i]));
	}
	sent = sent && nng_send_pumping(&L, s, big, BIG);
	PUMP_UNTIL(&L, L.nmsg >= 6);
	bool order = sent && L.nmsg == 6;
	for (int i = 0; i < 5; i++)
		order = order && rec_is(&L, i, pipe, small[i], strlen(small[i]));
	CHECKF(order, "bus %s: messages sent back to back arrive in order, same pipe", tn);
	CHECKF(order && rec_is(&L, 5, pipe, big, BIG), "bus %s: a 600 KB message from libnng arrives intact", tn);
	forget(&L);

	/* The other way; the large one needs many writes, driven by EPOLLOUT. */
	uint8_t *back = pattern(BIG, 2);
	static const char r1[] = "from the router", after[] = "after the big one";
	bool queued = bus_send(&L.b, pipe, r1, sizeof r1 - 1) == 0 && bus_send(&L.b, pipe, "", 0) == 0 &&
		      bus_send(&L.b, pipe, back, BIG) == 0 && bus_send(&L.b, pipe, after, sizeof after - 1) == 0;
	bool got = queued && nng_gets(&L, s, r1, sizeof r1 - 1) && nng_gets(&L, s, "", 0);
	CHECKF(got, "bus %s: bus_send reaches libnng in order, an empty message too", tn);
	got = got && nng_gets(&L, s, back, BIG) && nng_gets(&L, s, after, sizeof after - 1);
	CHECKF(got, "bus %s: a 600 KB bus_send reaches libnng intact, then the next message", tn);
	free(big);
	free(back);

	nng_close(s);
	PUMP_UNTIL(&L, L.ngone >= 1);
	CHECKF(L.ngone == 1 && gone_count(&L, pipe) == 1 && L.b.pipes.count == 0,
	       "bus %s: closing the libnng socket fires on_gone once, for its pipe", tn);
	CHECKF(bus_send(&L.b, pipe, "x", 1) == -1, "bus %s: bus_send to a gone pipe fails", tn);
	loop_close(&L);
}

static void test_two_peers(void)
{
	struct loop L;
	nng_socket a = NNG_SOCKET_INITIALIZER, c = NNG_SOCKET_INITIALIZER;
	bool up = loop_open(&L, SP_IPC, BUS_WORKERS) && nng_peer(&a, nng_pair1_open, L.url) &&
		  nng_peer(&c, nng_pair1_open, L.url);
	CHECK("bus two peers: both dial", up);
	bool sent = up && nng_send_pumping(&L, a, "I am A", 6) && nng_send_pumping(&L, c, "I am C", 6);
	PUMP_UNTIL(&L, L.nmsg >= 2);
	int ia = L.msg[0].n == 6 && memcmp(L.msg[0].p, "I am A", 6) == 0 ? 0 : 1; /* either may come first */
	uint32_t pa = L.msg[ia].pipe, pc = L.msg[1 - ia].pipe;
	CHECK("bus two peers: each one's messages carry its own pipe id",
	      sent && L.nmsg == 2 && rec_is(&L, ia, pa, "I am A", 6) && rec_is(&L, 1 - ia, pc, "I am C", 6) && pa != pc);

	/* Had "for A" gone to C, C would get it before its own "for C"; and
	 * had "for C" gone to A, C would get nothing. */
	bool ga = bus_send(&L.b, pa, "for A", 5) == 0 && nng_gets(&L, a, "for A", 5);
	bool gc = bus_send(&L.b, pc, "for C", 5) == 0 && nng_gets(&L, c, "for C", 5);
	CHECK("bus two peers: bus_send reaches only that pipe's peer", ga && gc);
	CHECK("bus two peers: bus_send to an unknown pipe fails", bus_send(&L.b, pa + pc + 1000, "x", 1) == -1);

	nng_close(a);
	PUMP_UNTIL(&L, L.ngone >= 1);
	CHECK("bus two peers: one leaving fires on_gone for its pipe only", L.ngone == 1 && gone_count(&L, pa) == 1);
	CHECK("bus two peers: the other still talks both ways", exchange(&L, c) == pc);
	nng_close(c);
	loop_close(&L);
}

/* True once our side has read n bytes of the newest pipe's handshake. */
static bool peer_got(struct loop *L, size_t n)
{
	struct bus_pipe *p = hmap_get_u64(&L->b.pipes, L->b.last_id);
	return p && p->sp.peer_got == n;
}

static void test_storm(void)
{
	struct loop L;
	CHECK("bus storm: listening", loop_open(&L, SP_IPC, BUS_WORKERS));
	/* Gone before we accept: 50 bare, 50 after sending only the SP header. */
	int made = 0;
	for (int i = 0; i < 100; i++) {
		int fd = raw_connect(L.path);
		made += fd >= 0 && (i < 50 || raw_write(fd, pair1_hdr, sizeof pair1_hdr));
		if (fd >= 0)
			close(fd);
	}
	PUMP_UNTIL(&L, L.b.last_id >= 100 && L.b.handshaking == 0 && L.b.pipes.count == 0);
	CHECK("bus storm: 100 connect-and-close peers all accepted, then dropped",
	      made == 100 && L.b.last_id == 100 && L.b.handshaking == 0 && L.b.pipes.count == 0);

	/* Gone in the middle of the handshake, after ours went out: with none
	 * or half of theirs. The half is read before the close: listener.c does not
	 * yet notice an EOF that comes in the same epoll event as data (such a
	 * pipe waits for the 10 s handshake timeout). */
	uint64_t refused = L.b.refused;
	bool each = true;
	for (int i = 0; i < 20; i++) {
		int fd = raw_connect(L.path);
		PUMP_UNTIL(&L, L.b.handshaking == 1);
		if (i % 2 && raw_write(fd, pair1_hdr, 4))
			PUMP_UNTIL(&L, peer_got(&L, 4));
		each = each && fd >= 0 && L.b.handshaking == 1 && (i % 2 == 0 || peer_got(&L, 4));
		if (fd >= 0)
			close(fd);
		PUMP_UNTIL(&L, L.b.handshaking == 0);
	}
	CHECK("bus storm: 20 peers that left mid-handshake dropped, handshaking back to 0",
	      each && L.b.handshaking == 0 && L.b.pipes.count == 0);
	CHECK("bus storm: each of them counted as refused", L.b.refused == refused + 20);
	CHECK("bus storm: no message from any of them", L.nmsg == 0);
	forget(&L);

	nng_socket s = NNG_SOCKET_INITIALIZER;
	bool up = nng_peer(&s, nng_pair1_open, L.url);
	CHECK("bus storm: after it, a libnng peer still connects and talks both ways", up && exchange(&L, s) != 0);
	nng_close(s);
	loop_close(&L);
}

static void test_hostile(void)
{
	struct loop L;
	nng_socket good = NNG_SOCKET_INITIALIZER;
	bool up = loop_open(&L, SP_IPC, BUS_WORKERS) && nng_peer(&good, nng_pair1_open, L.url);
	bool sent = up && nng_send_pumping(&L, good, "good", 4);
	PUMP_UNTIL(&L, L.nmsg >= 1);
	uint32_t pg = L.nmsg >= 1 ? L.msg[0].pipe : 0;
	CHECK("bus hostile: a good libnng peer connected", sent && pg != 0);
	forget(&L);

	/* The wrong protocol, said by a raw peer: req0 (0x0030), pair0 (0x0010).
	 * Not by libnng's own req0: libnng 1.5.2 sometimes leaks its pipe when
	 * the socket is closed just after the refusal, which fails the ASan run. */
	static const char *other[] = {"\0SP\0\0\x30\0\0", "\0SP\0\0\x10\0\0"}, *oname[] = {"req0", "pair0"};
	int fd;
	bool wrote;
	for (int k = 0; k < 2; k++) {
		uint64_t refused = L.b.refused;
		fd = raw_connect(L.path);
		wrote = raw_write(fd, other[k], 8) && raw_frame(fd, 1, 1, "let me in");
		CHECKF(wrote && raw_sees_eof(&L, fd) && L.b.refused == refused + 1,
		       "bus hostile: a %s handshake is refused and closed", oname[k]);
		close(fd);
	}
	CHECK("bus hostile: nothing from them reached on_message", L.nmsg == 0);
	forget(&L); /* on_gone also ran for the refused pipes */

	/* After a correct handshake: a frame with hop count 0, then one with a bad ipc type byte. */
	static const char *what[] = {"hop count 0", "ipc type byte 2"};
	for (int k = 0; k < 2; k++) {
		fd = raw_connect(L.path);
		wrote = raw_write(fd, pair1_hdr, sizeof pair1_hdr) && raw_frame(fd, 1, 1, "fine so far");
		PUMP_UNTIL(&L, L.nmsg >= 1);
		uint32_t pr = L.nmsg >= 1 ? L.msg[0].pipe : 0;
		wrote = wrote && pr != 0 && pr != pg && (k == 0 ? raw_frame(fd, 1, 0, "x") : raw_frame(fd, 2, 1, "x"));
		PUMP_UNTIL(&L, gone_count(&L, pr) > 0);
		CHECKF(wrote && L.nmsg == 1 && gone_count(&L, pr) == 1 && raw_sees_eof(&L, fd),
		       "bus hostile: a frame with %s closes that pipe, on_gone fires", what[k]);
		close(fd);
		forget(&L);
	}
	CHECK("bus hostile: the good peer is unaffected", exchange(&L, good) == pg && gone_count(&L, pg) == 0);
	nng_close(good);
	loop_close(&L);
}

/* A worker's last message and its FIN, queued before the loop looks: one
 * edge-triggered event carries both, and the FIN must not be missed. */
static void test_last_words(void)
{
	struct loop L;
	bool up = loop_open(&L, SP_IPC, BUS_WORKERS);
	int fd = up ? raw_connect(L.path) : -1;
	bool wrote = raw_write(fd, pair1_hdr, sizeof pair1_hdr);
	PUMP_UNTIL(&L, L.b.pipes.count == 1 && L.b.handshaking == 0);
	/* then, with the loop not looking, the last frame and the close */
	wrote = wrote && L.b.handshaking == 0 && raw_frame(fd, 1, 1, "bye");
	if (fd >= 0)
		close(fd);
	PUMP_UNTIL(&L, L.nmsg >= 1 && L.ngone >= 1);
	CHECK("bus: a message and the FIN behind it: both seen (on_message, then on_gone)",
	      wrote && L.nmsg == 1 && L.ngone == 1 && L.gone[0] == L.msg[0].pipe && L.b.pipes.count == 0);
	loop_close(&L);
}

static void first_pipe(void *arg, const void *key, size_t klen, void *value)
{
	(void)key;
	(void)klen;
	*(uint32_t *)arg = ((struct bus_pipe *)value)->id;
}

/* A peer that never reads: what waits on its pipe is counted in worker_out
 * (router memory), freed at once when the pipe is closed, and bus_send_last
 * closes it with one last message. */
static void test_output_accounting(void)
{
	struct loop L;
	bool up = loop_open(&L, SP_IPC, BUS_WORKERS);
	int fd = up ? raw_connect(L.path) : -1;
	bool wrote = raw_write(fd, pair1_hdr, sizeof pair1_hdr);
	PUMP_UNTIL(&L, L.b.pipes.count == 1 && L.b.handshaking == 0);
	uint32_t id = 0;
	hmap_each(&L.b.pipes, first_pipe, &id);
	char *big = calloc(1, BIG);
	for (int i = 0; i < 20; i++) /* 12 MB: far more than the socket takes */
		bus_send(&L.b, id, big, BIG);
	free(big);
	pump(&L, 10);
	size_t pending = bus_pending(&L.b, id);
	CHECK("bus: unsent output of a peer that does not read is counted (worker_out = its pending bytes)",
	      wrote && pending > 4 * BIG && L.b.worker_out == pending);
	bus_send_last(&L.b, id, "bye", 3);
	CHECK("bus: bus_send_last closes the pipe and frees its output at once",
	      L.b.worker_out == 0 && bus_pending(&L.b, id) == 0);
	PUMP_UNTIL(&L, L.ngone == 1);
	CHECK("bus: and the pipe is gone", L.ngone == 1 && L.b.pipes.count == 0);
	if (fd >= 0)
		close(fd);
	loop_close(&L);
}

/* Out of descriptors: accept fails with EMFILE; the listeners must rest
 * (not spin) and take the waiting peers once descriptors are free again. */
static void test_out_of_descriptors(void)
{
	struct loop L;
	bool up = loop_open(&L, SP_IPC, BUS_WORKERS);
	int fds[4];
	for (int i = 0; i < 4; i++)
		fds[i] = up ? raw_connect(L.path) : -1;
	struct rlimit old, low;
	getrlimit(RLIMIT_NOFILE, &old);
	int top = dup(0); /* the lowest free descriptor: nothing above it is open */
	close(top);
	low = old;
	low.rlim_cur = (rlim_t)top;
	bool limited = top > 0 && setrlimit(RLIMIT_NOFILE, &low) == 0;
	pump(&L, 50);
	bool paused = L.b.accept_paused_until != 0 && L.b.pipes.count == 0;
	int wakeups = 0;
	for (int64_t end = clock_ms() + 50; clock_ms() < end; wakeups++)
		pump(&L, 50); /* a spinning listener would wake us again and again */
	setrlimit(RLIMIT_NOFILE, &old);
	CHECK("bus: out of descriptors, the listener rests instead of spinning",
	      limited && paused && wakeups < 10);
	PUMP_UNTIL(&L, L.b.pipes.count == 4);
	CHECK("bus: with descriptors back, the waiting peers are taken", L.b.pipes.count == 4);
	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	PUMP_UNTIL(&L, L.b.pipes.count == 0);
	loop_close(&L);
}

static void test_tap(enum sp_transport t)
{
	const char *tn = t == SP_IPC ? "ipc" : "tcp";
	struct loop L;
	nng_socket s = NNG_SOCKET_INITIALIZER;
	/* Subscribed to everything before it dials, so no line is filtered out. */
	bool up = loop_open(&L, t, BUS_TAP) && nng_sub0_open(&s) == 0 &&
		  nng_socket_set(s, NNG_OPT_SUB_SUBSCRIBE, "", 0) == 0 && nng_dial(s, L.url, NULL, NNG_FLAG_NONBLOCK) == 0;
	PUMP_UNTIL(&L, L.b.tap_readers == 1);
	CHECKF(up && L.b.tap_readers == 1 && L.b.handshaking == 0, "bus tap %s: libnng sub0 reader counted", tn);

	static const char l1[] = "{\"event\":\"one\"}\n", l2[] = "{\"event\":\"two\"}\n";
	uint8_t *big = pattern(200000, 3);
	bus_publish(&L.b, l1, sizeof l1 - 1);
	bus_publish(&L.b, big, 200000);
	bus_publish(&L.b, l2, sizeof l2 - 1);
	bool got = nng_gets(&L, s, l1, sizeof l1 - 1) && nng_gets(&L, s, big, 200000) && nng_gets(&L, s, l2, sizeof l2 - 1);
	CHECKF(got, "bus tap %s: published lines arrive intact and in order", tn);
	CHECKF(bus_send(&L.b, L.b.last_id, "x", 1) == -1, "bus tap %s: bus_send refuses a tap pipe", tn);
	free(big);

	nng_close(s);
	PUMP_UNTIL(&L, L.b.tap_readers == 0 && L.b.pipes.count == 0);
	CHECKF(L.b.tap_readers == 0 && L.b.pipes.count == 0 && L.ngone == 0,
	       "bus tap %s: reader gone, count back to 0, no on_gone for a tap", tn);
	bus_publish(&L.b, l1, sizeof l1 - 1); /* nobody reading: a no-op */
	loop_close(&L);
}

/* ---- bus authentication (--bus-key): a libnng pair1 peer with libsodium ---- */

static const uint8_t auth_key[BUS_KEY_LEN] = "0123456789abcdef0123456789abcdef";

static bool loop_open_keyed(struct loop *L)
{
	memset(L, 0, sizeof *L);
	L->ep = epoll_create1(EPOLL_CLOEXEC);
	if (L->ep < 0 || bus_init(&L->b, L->ep, MAX_MSG, getuid(), (struct bus_callbacks){.on_message = on_message, .on_gone = on_gone, .ctx = L}) < 0)
		return false;
	bus_set_key(&L->b, auth_key);
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	if (bus_listen(&L->b, "tcp://127.0.0.1:0", BUS_WORKERS) < 0 ||
	    getsockname(L->b.listeners[0].fd, (struct sockaddr *)&sin, &len) < 0)
		return false;
	snprintf(L->url, sizeof L->url, "tcp://127.0.0.1:%d", ntohs(sin.sin_port));
	return true;
}

/*
 * What any pair1 peer does: take the challenge, answer with a hello whose
 * auth is HMAC-SHA-512-256 (crypto_auth) of "switchboard bus v1" || nonce.
 * key NULL: a hello without auth. Returns the hello it sent, in out.
 */
static bool nng_authenticate(struct loop *L, nng_socket s, const uint8_t *key, struct mp_out *out)
{
	nng_msg *m = NULL;
	PUMP_UNTIL(L, nng_recvmsg(s, &m, NNG_FLAG_NONBLOCK) == 0);
	if (!m)
		return false;
	struct envelope e;
	const uint8_t *nonce;
	size_t n;
	bool ok = env_decode(&e, nng_msg_body(m), nng_msg_len(m)) == 0 && env_proto_is(&e, "core") &&
		  env_op_is(&e, "challenge") && mp_get_bin(e.map, "nonce", &nonce, &n) && n == 32;
	uint8_t msg[18 + 32], tag[crypto_auth_BYTES];
	if (ok) {
		memcpy(msg, "switchboard bus v1", 18);
		memcpy(msg + 18, nonce, 32);
		env_free(&e);
	}
	nng_msg_free(m);
	if (!ok)
		return false;
	if (key)
		crypto_auth(tag, msg, sizeof msg, key);
	mp_out_init(out);
	env_begin(&out->pk, "core", "hello", key ? 5 : 4);
	if (key)
		mp_kv_bin(&out->pk, "auth", tag, sizeof tag);
	mp_kv_int(&out->pk, "conn", 1);
	mp_kv_int(&out->pk, "pid", 1);
	mp_kv_cstr(&out->pk, "proto", "wschat");
	mp_kv_int(&out->pk, "credit", 2);
	return nng_send_pumping(L, s, out->sb.data, out->sb.size);
}

static void test_auth_peers(void)
{
	struct loop L;
	nng_socket s = NNG_SOCKET_INITIALIZER;
	struct mp_out hello;
	bool up = loop_open_keyed(&L) && nng_peer(&s, nng_pair1_open, L.url);
	bool sent = up && nng_authenticate(&L, s, auth_key, &hello);
	PUMP_UNTIL(&L, L.nmsg >= 1);
	uint32_t pipe = L.nmsg >= 1 ? L.msg[0].pipe : 0;
	CHECK("bus auth: a libnng pair1 peer with the key answers the challenge; its hello arrives whole",
	      sent && rec_is(&L, 0, pipe, hello.sb.data, hello.sb.size));
	CHECK("bus auth: and the pipe is through its handshake", L.b.handshaking == 0 && L.b.refused == 0);
	CHECK("bus auth: and messages flow both ways", sent && exchange(&L, s) == pipe);
	if (sent)
		mp_out_free(&hello);
	nng_close(s);
	forget(&L);

	/* a wrong key, then none: refused, nothing reaches on_message */
	static const uint8_t wrong[BUS_KEY_LEN] = "0123456789abcdef0123456789abcdeX";
	const uint8_t *keys[] = {wrong, NULL};
	const char *kname[] = {"a wrong key", "no key"};
	for (int k = 0; k < 2; k++) {
		uint64_t refused = L.b.refused;
		nng_socket t = NNG_SOCKET_INITIALIZER;
		sent = nng_peer(&t, nng_pair1_open, L.url) && nng_authenticate(&L, t, keys[k], &hello);
		PUMP_UNTIL(&L, L.b.refused > refused);
		/* more than one refusal is fine: libnng redials at once after each */
		CHECKF(sent && L.b.refused > refused && L.nmsg == 0,
		       "bus auth: a libnng peer with %s is refused; nothing reaches on_message", kname[k]);
		if (sent)
			mp_out_free(&hello);
		nng_close(t);
		PUMP_UNTIL(&L, L.b.pipes.count == 0); /* its last redial, refused too */
	}

	/* a raw peer that skips the challenge and sends data at once */
	CHECK("bus auth: the refused libnng peers are gone", L.b.pipes.count == 0 && L.nmsg == 0);
	uint64_t refused = L.b.refused;
	struct sp_addr a;
	int fd = -1;
	if (sp_addr_parse(L.url, &a) == 0 && (fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
	    connect(fd, (struct sockaddr *)&a.sa, a.salen) < 0) {
		close(fd);
		fd = -1;
	}
	static const uint8_t tcp_frame[] = {0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 1, 'd', 'a', 't', 'a'};
	bool wrote = raw_write(fd, pair1_hdr, sizeof pair1_hdr) && raw_write(fd, tcp_frame, sizeof tcp_frame);
	/* refused counts up by one at least: a last redial of libnng's may still come from the backlog */
	CHECK("bus auth: a peer that sends data instead of an answer is refused",
	      wrote && raw_sees_eof(&L, fd) && L.b.refused > refused && L.nmsg == 0);
	if (fd >= 0)
		close(fd);
	loop_close(&L);
}

static void test_auth_listen(void)
{
	struct loop L = {.ep = epoll_create1(EPOLL_CLOEXEC)};
	bus_init(&L.b, L.ep, MAX_MSG, getuid(), (struct bus_callbacks){.on_message = on_message, .on_gone = on_gone, .ctx = &L});
	CHECK("bus auth: without a key, tcp:// off loopback is refused",
	      bus_listen(&L.b, "tcp://0.0.0.0:0", BUS_WORKERS) == -1 && bus_listen(&L.b, "tcp://*:0", BUS_WORKERS) == -1);
	CHECK("bus auth: without a key, loopback tcp:// is allowed", bus_listen(&L.b, "tcp://127.0.0.1:0", BUS_WORKERS) == 0);
	bus_set_key(&L.b, auth_key);
	CHECK("bus auth: with a key, tcp:// off loopback is allowed", bus_listen(&L.b, "tcp://0.0.0.0:0", BUS_WORKERS) == 0);
	CHECK("bus auth: the tap (no authentication) is never offered off loopback",
	      bus_listen(&L.b, "tcp://0.0.0.0:0", BUS_TAP) == -1 && bus_listen(&L.b, "tcp://127.0.0.1:0", BUS_TAP) == 0);
	loop_close(&L);
}

/* Writes text to a fresh file of the given mode; its path in path. */
static void key_file(char *path, size_t cap, const char *text, mode_t mode)
{
	snprintf(path, cap, "/tmp/sb-unit-key-%d-%d", (int)getpid(), seq++);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	chmod(path, mode);
}

static void test_auth_key_file(void)
{
	static const char hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
	struct { const char *text; mode_t mode; bool ok; const char *what; } cases[] = {
		{hex, 0600, true, "64 hex digits, mode 0600"},
		{"  000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0640, true, "with whitespace, mode 0640"},
		{hex, 0644, false, "readable by others"},
		{hex, 0660, false, "writable by its group"},
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e", 0600, false, "31 bytes"},
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20", 0600, false, "33 bytes"},
		{"zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 0600, false, "not hex"},
		{"", 0600, false, "empty"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char path[96], err[300] = "";
		uint8_t key[BUS_KEY_LEN];
		key_file(path, sizeof path, cases[i].text, cases[i].mode);
		int rc = bus_key_read(path, key, err, sizeof err);
		bool right = cases[i].ok ? rc == 0 && key[0] == 0 && key[31] == 0x1f : rc == -1 && strstr(err, "--bus-key");
		CHECKF(right, "bus key file: %s %s", cases[i].what, cases[i].ok ? "is read" : "is refused, naming the option");
		unlink(path);
	}
	char err[300] = "";
	uint8_t key[BUS_KEY_LEN];
	CHECK("bus key file: a missing file is refused", bus_key_read("/nonexistent/key", key, err, sizeof err) == -1 &&
						      strstr(err, "No such file"));
}

/*
 * common/log, here because the router's loop is what it protects: a flood of
 * one warning gives a bounded number of lines and then a count, and a log
 * sink nobody reads never blocks the caller.
 */
static size_t count_lines(int fd, const char *needle, size_t *matching)
{
	char buf[65536];
	size_t lines = 0, carry = 0;
	*matching = 0;
	lseek(fd, 0, SEEK_SET);
	ssize_t r;
	while ((r = read(fd, buf + carry, sizeof buf - 1 - carry)) > 0) {
		size_t n = carry + (size_t)r;
		buf[n] = 0;
		char *line = buf, *nl;
		while ((nl = strchr(line, '\n'))) {
			*nl = 0;
			lines++;
			if (needle && strstr(line, needle))
				(*matching)++;
			line = nl + 1;
		}
		carry = n - (size_t)(line - buf);
		memmove(buf, line, carry);
	}
	return lines;
}

static void test_log_flood(void)
{
	char path[] = "/tmp/sb-log-XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(2);
	if (fd < 0 || saved < 0) {
		CHECK("log: temp file", false);
		return;
	}
	unlink(path);
	dup2(fd, 2);
	log_init("unit-log");
	for (int i = 0; i < 10000; i++) /* a few ms: all in one second */
		log_warn("the same warning %d", i);
	size_t m, first = count_lines(fd, NULL, &m);
	usleep(1100 * 1000);
	log_warn("the same warning %d", -1);
	for (int i = 0; i < 1000; i++)
		log_warn("another warning %d", i);
	usleep(1100 * 1000);
	log_tick();
	size_t all = count_lines(fd, NULL, &m);
	size_t counted = 0;
	count_lines(fd, "(9990 more like this in the last second)", &counted);
	size_t ticked = 0;
	count_lines(fd, "(990 more like \"another warning %d\" in the last second)", &ticked);
	dup2(saved, 2);
	close(saved);
	close(fd);
	log_init("switchboard");
	printf("# log: 10000 identical warnings gave %zu lines\n", first);
	CHECK("log: 10000 identical warnings in a second give at most 10 lines", first <= 10 && first > 0);
	CHECK("log: the next one after the second says how many were left out", counted == 1);
	CHECK("log: log_tick summarises a kind that went quiet", ticked == 1);
	CHECK("log: nothing else was written", all == first + 1 + 10 + 1);
}

static void test_log_sink(void)
{
	int p[2], saved = dup(2);
	if (pipe(p) < 0 || saved < 0) {
		CHECK("log: pipe", false);
		return;
	}
	dup2(p[1], 2);
	close(p[1]);
	log_init("unit-log");
	log_set_level(LOG_DEBUG);
	alarm(20); /* a blocking write would hang here: fail loudly instead */
	int64_t t0 = clock_ms();
	for (int i = 0; i < 20000; i++) /* about 1.5 MB, far over the pipe's 64 KiB */
		log_debug("a debug line nobody reads, number %d, padded to be long enough", i);
	int64_t took = clock_ms() - t0;
	alarm(0);
	/* drain, then the next line says what was dropped */
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	char buf[65536];
	size_t got = 0;
	ssize_t r;
	while ((r = read(p[0], buf, sizeof buf)) > 0)
		got += (size_t)r;
	log_warn("after the drain");
	r = read(p[0], buf, sizeof buf - 1);
	buf[r > 0 ? r : 0] = 0;
	log_set_level(LOG_INFO);
	dup2(saved, 2);
	close(saved);
	close(p[0]);
	log_init("switchboard");
	CHECK("log: a full pipe nobody reads does not block the logger", took < 5000);
	CHECK("log: lines that did not fit were dropped", got > 0 && got < 20000 * 60);
	CHECK("log: the drop is counted and said once the sink takes lines again",
	      strstr(buf, "log lines dropped: the log was full") && strstr(buf, "after the drain"));
	CHECK("log: fd 2 itself stays blocking (its description is shared)", !(fcntl(2, F_GETFL) & O_NONBLOCK));
}

void test_listener(void)
{
	test_log_flood();
	test_log_sink();
	signal(SIGPIPE, SIG_IGN); /* as the router does: a write to a peer that left must fail, not kill us */
	test_listen_errors();
	test_interop(SP_IPC);
	test_interop(SP_TCP);
	test_two_peers();
	test_storm();
	test_hostile();
	test_last_words();
	test_output_accounting();
	test_out_of_descriptors();
	test_tap(SP_IPC);
	test_tap(SP_TCP);
	test_auth_listen();
	test_auth_peers();
	test_auth_key_file();
}
