/* The router bus tests' loop and peers (see bus_loop.h). */
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bus_loop.h"

int loop_seq;
const uint8_t auth_key[BUS_KEY_LEN] = "0123456789abcdef0123456789abcdef";

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

int gone_count(const struct loop *L, uint32_t pipe)
{
	int k = 0;
	for (int i = 0; i < L->ngone && i < NGONE; i++)
		k += L->gone[i] == pipe;
	return k;
}

bool rec_is(const struct loop *L, int i, uint32_t pipe, const void *p, size_t n)
{
	return i < L->nmsg && i < NREC && L->msg[i].pipe == pipe && L->msg[i].n == n && memcmp(L->msg[i].p, p, n) == 0;
}

void forget(struct loop *L)
{
	for (int i = 0; i < L->nmsg && i < NREC; i++)
		free(L->msg[i].p);
	L->nmsg = L->ngone = 0;
}

void pump(struct loop *L, int ms)
{
	struct epoll_event ev[64];
	int n = epoll_wait(L->ep, ev, 64, ms);
	for (int i = 0; i < n; i++)
		bus_on_event(&L->b, ev[i].data.u64, ev[i].events);
	bus_reap(&L->b, clock_ms());
}

bool loop_bare(struct loop *L)
{
	memset(L, 0, sizeof *L);
	L->ep = epoll_create1(EPOLL_CLOEXEC);
	return L->ep >= 0 && bus_init(&L->b, L->ep, MAX_MSG, getuid(),
				      (struct bus_callbacks){.on_message = on_message, .on_gone = on_gone, .ctx = L}) >= 0;
}

/* Port 0: the kernel picks a free port; read it back from the listening socket. */
static bool listen_loopback(struct loop *L, enum bus_kind kind)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	if (bus_listen(&L->b, "tcp://127.0.0.1:0", kind) < 0 ||
	    getsockname(L->b.listeners[0].fd, (struct sockaddr *)&sin, &len) < 0)
		return false;
	snprintf(L->url, sizeof L->url, "tcp://127.0.0.1:%d", ntohs(sin.sin_port));
	return true;
}

bool loop_open(struct loop *L, enum sp_transport t, enum bus_kind kind)
{
	if (!loop_bare(L))
		return false;
	if (t == SP_IPC) {
		snprintf(L->path, sizeof L->path, "/tmp/sb-unit-bus-%d-%d.ipc", (int)getpid(), loop_seq++);
		snprintf(L->url, sizeof L->url, "ipc://%s", L->path);
		return bus_listen(&L->b, L->url, kind) == 0;
	}
	return listen_loopback(L, kind);
}

/* The key is set before bus_listen, as bus_set_key asks. */
bool loop_open_keyed(struct loop *L, const uint8_t key[BUS_KEY_LEN])
{
	if (!loop_bare(L))
		return false;
	bus_set_key(&L->b, key);
	return listen_loopback(L, BUS_WORKERS);
}

void loop_close(struct loop *L)
{
	forget(L);
	bus_fini(&L->b); /* also removes the ipc socket file */
	close(L->ep);
}

/* Dials in the background: nng keeps trying while we turn our loop. */
bool nng_peer(nng_socket *s, int (*open)(nng_socket *), const char *url)
{
	return open(s) == 0 && nng_dial(*s, url, NULL, NNG_FLAG_NONBLOCK) == 0;
}

bool nng_send_pumping(struct loop *L, nng_socket s, const void *p, size_t n)
{
	/* EAGAIN until nng has a pipe with room; nng copies p */
	int rv = NNG_EAGAIN;
	PUMP_UNTIL(L, (rv = nng_send(s, (void *)p, n, NNG_FLAG_NONBLOCK)) != NNG_EAGAIN);
	return rv == 0;
}

/* Receives one message at s and compares it with p, n. */
bool nng_gets(struct loop *L, nng_socket s, const void *p, size_t n)
{
	nng_msg *m = NULL;
	PUMP_UNTIL(L, nng_recvmsg(s, &m, NNG_FLAG_NONBLOCK) == 0);
	bool same = m && nng_msg_len(m) == n && memcmp(nng_msg_body(m), p, n) == 0;
	if (m)
		nng_msg_free(m);
	return same;
}

/* A message both ways with a libnng pair1 peer; its pipe id (0: it failed). */
uint32_t exchange(struct loop *L, nng_socket s)
{
	int before = L->nmsg;
	if (!nng_send_pumping(L, s, "ping", 4))
		return 0;
	PUMP_UNTIL(L, L->nmsg > before);
	uint32_t pipe = L->nmsg > before && before < NREC ? L->msg[before].pipe : 0;
	bool ok = rec_is(L, before, pipe, "ping", 4) && bus_send(&L->b, pipe, "pong", 4) == 0 && nng_gets(L, s, "pong", 4);
	return ok ? pipe : 0;
}

uint8_t *pattern(size_t n, unsigned salt)
{
	uint8_t *p = malloc(n);
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + i / 251 + salt);
	return p;
}

const uint8_t pair1_hdr[8] = {0, 'S', 'P', 0, 0, 0x11, 0, 0};

int raw_connect(const char *path)
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

bool raw_write(int fd, const void *p, size_t n)
{
	return fd >= 0 && write(fd, p, n) == (ssize_t)n;
}

/* An ipc frame written out by hand: type byte, u64be length, u32be hops, payload. */
bool raw_frame(int fd, uint8_t type, uint32_t hops, const char *s)
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
bool raw_sees_eof(struct loop *L, int fd)
{
	bool eof = false;
	PUMP_UNTIL(L, (eof = raw_eof_now(fd)));
	return eof;
}
