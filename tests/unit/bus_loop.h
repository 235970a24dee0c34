/*
 * Shared by the router bus tests (test_listener.c, test_listen_sock.c): the
 * router's side of the bus on one epoll loop, turned by hand, with what its
 * callbacks saw; libnng peers; and raw unix-socket peers that speak as much
 * SP as they are told.
 *
 * All on one thread: libnng's calls are non-blocking, interleaved with turns
 * of our epoll loop, since a blocking one would wait for a handshake that
 * only our stalled loop could complete. Waits poll a condition against a
 * deadline that is only reached on failure.
 */
#ifndef SB_TEST_BUS_LOOP_H
#define SB_TEST_BUS_LOOP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <nng/nng.h>

#include "../../common/busauth.h"
#include "../../common/clock.h"
#include "../../router/listener.h"
#include "check.h"

#define MAX_MSG (1u << 20)
#define DEADLINE_MS 15000 /* generous: the machine may be loaded */
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

extern int loop_seq; /* a fresh number for every temporary path of this run */
extern const uint8_t auth_key[BUS_KEY_LEN]; /* the --bus-key of the keyed tests */

/* An epoll fd and a bus with our callbacks, no listener yet. */
bool loop_bare(struct loop *L);
/* The same, listening on a fresh ipc path or a free loopback tcp port (L->url). */
bool loop_open(struct loop *L, enum sp_transport t, enum bus_kind kind);
/* A workers' bus on loopback tcp whose pipes must authenticate with key. */
bool loop_open_keyed(struct loop *L, const uint8_t key[BUS_KEY_LEN]);
void loop_close(struct loop *L);
/* Forgets the messages and gone pipes seen so far. */
void forget(struct loop *L);
/* How many times on_gone ran for pipe. */
int gone_count(const struct loop *L, uint32_t pipe);
/* Whether message i came from pipe and is p, n. */
bool rec_is(const struct loop *L, int i, uint32_t pipe, const void *p, size_t n);
/* One turn of the router's loop, as router/main.c does it. */
void pump(struct loop *L, int ms);

/* Turns the loop until cond holds or the deadline passes; the caller checks cond again. */
#define PUMP_UNTIL(L, cond) \
	for (int64_t end_ = clock_ms() + DEADLINE_MS; !(cond) && clock_ms() < end_;) pump(L, 10)

/* ---- libnng peers ---- */

/* Opens s and dials url in the background: nng keeps trying while we turn our loop. */
bool nng_peer(nng_socket *s, int (*open)(nng_socket *), const char *url);
/* Sends p, n from s, turning the loop until nng takes it. */
bool nng_send_pumping(struct loop *L, nng_socket s, const void *p, size_t n);
/* Receives one message at s and compares it with p, n. */
bool nng_gets(struct loop *L, nng_socket s, const void *p, size_t n);
/* A message both ways with a libnng pair1 peer; its pipe id (0: it failed). */
uint32_t exchange(struct loop *L, nng_socket s);
/* n bytes of a pattern that differs with salt (malloc'd). */
uint8_t *pattern(size_t n, unsigned salt);

/* ---- raw peers: plain unix sockets ---- */

extern const uint8_t pair1_hdr[8]; /* the SP handshake of a pair1 peer */
int raw_connect(const char *path);
bool raw_write(int fd, const void *p, size_t n);
/* An ipc frame written out by hand: type byte, u64be length, u32be hops, payload. */
bool raw_frame(int fd, uint8_t type, uint32_t hops, const char *s);
/* True once our side has closed fd (whatever it sent before that). */
bool raw_sees_eof(struct loop *L, int fd);

#endif
