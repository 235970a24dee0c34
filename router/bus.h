/*
 * The router's end of the bus and of the tap: SP listeners on ipc:// and
 * tcp://, one pipe per accepted connection, all on the router's one epoll
 * loop. Workers' pipes speak pair1; tap pipes are pub0 → sub0 (nngcat --sub).
 */
#ifndef SB_ROUTER_BUS_H
#define SB_ROUTER_BUS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/hmap.h"
#include "../common/sp.h"

#define BUS_MAX_LISTENERS 16
#define BUS_HANDSHAKE_MS 10000
#define BUS_TAP_BACKLOG (4u << 20) /* lines queued for a slow tap reader before dropping */

/* epoll tags: the high half says what the low half numbers */
#define BUS_TAG_LISTENER (1ull << 32)
#define BUS_TAG_PIPE (2ull << 32)
#define BUS_TAG_MASK (0xffffffffull << 32)

enum bus_kind { BUS_WORKERS, BUS_TAP };

struct bus_listener {
	int fd;
	enum sp_transport transport;
	enum bus_kind kind;
	char *path; /* ipc: the socket file, removed at exit */
};

struct bus_pipe {
	uint32_t id;
	enum bus_kind kind;
	struct sp_conn sp;
	int64_t handshake_deadline;
	bool dead;             /* waiting in the reap list */
	bool out_watched;      /* EPOLLOUT: only while output waits */
	struct bus_pipe *next_dead;
};

struct bus_callbacks {
	/* One pair1 message from a worker's pipe; may call bus_close. */
	void (*on_message)(void *ctx, uint32_t pipe, const uint8_t *p, size_t n);
	/* A worker's pipe is gone (closed by either side). */
	void (*on_gone)(void *ctx, uint32_t pipe);
	void *ctx;
};

struct bus {
	int ep;
	struct bus_listener listeners[BUS_MAX_LISTENERS];
	int nlisteners;
	struct hmap pipes; /* id → bus_pipe */
	uint32_t last_id;
	uid_t allow_uid;   /* besides our own uid and root, on ipc:// */
	gid_t ipc_gid;     /* group of the ipc:// bus sockets (-1: ours) */
	size_t max_message;
	int handshaking;
	int64_t next_sweep; /* handshake deadlines are checked once a second */
	int64_t accept_paused_until; /* out of file descriptors: listeners rest */
	int tap_readers;   /* tap pipes through their handshake */
	struct bus_pipe *dead;
	struct bus_callbacks cb;
	uint64_t refused;  /* peers refused at accept or in the handshake */
};

int bus_init(struct bus *b, int ep, size_t max_message, uid_t allow_uid, struct bus_callbacks cb);
/* ipc://PATH or tcp://HOST:PORT; 0 or -1 (logged). */
int bus_listen(struct bus *b, const char *url, enum bus_kind kind);
/* An epoll event whose tag has BUS_TAG_LISTENER or BUS_TAG_PIPE. */
void bus_on_event(struct bus *b, uint64_t tag, uint32_t events);
/* Queues one message for a worker's pipe and writes what it can; -1 if it is gone. */
int bus_send(struct bus *b, uint32_t pipe, const void *p, size_t n);
/* One line to every tap reader (dropped for a reader that is far behind). */
void bus_publish(struct bus *b, const void *p, size_t n);
/* Closes a pipe; on_gone runs from bus_reap, never from inside a call into us. */
void bus_close(struct bus *b, uint32_t pipe);
/* Finishes closes and handshake timeouts; true if it did something. */
bool bus_reap(struct bus *b, int64_t now);
/* When bus_reap next has work (INT64_MAX: nothing pending). */
int64_t bus_due(const struct bus *b);
void bus_fini(struct bus *b);

#endif
