/*
 * The router's end of the bus and of the tap: SP listeners on ipc:// and
 * tcp://, one pipe per accepted connection, all on the router's one epoll
 * loop. Workers' pipes speak pair1; tap pipes are pub0 → sub0 (nngcat --sub).
 */
#ifndef SB_ROUTER_LISTENER_H
#define SB_ROUTER_LISTENER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/busauth.h"
#include "../common/hmap.h"
#include "../common/sp.h"
#include "bufpool.h"

#define BUS_MAX_LISTENERS 16
#define BUS_HANDSHAKE_MS 10000
#define BUS_TAP_BACKLOG (4u << 20) /* lines queued for a slow tap reader before dropping */
/* A worker reads its pipe even while its client is slow (it holds credit back
 * instead); a pipe whose output has not moved for this long is closed. */
#define BUS_STALL_MS 10000

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
	bool authed;           /* with a bus key: its hello carried the right tag */
	uint8_t nonce[BUS_NONCE_LEN]; /* the challenge it was sent */
	int64_t out_moved;     /* when output last went out, or was queued on an empty pipe */
	bool drain_watched;    /* must be read to the end: unread bytes in the kernel count too */
	size_t last_unread;    /* while watched: what was unread at the last sweep */
	struct bus_pipe *next_dead;
};

struct bus_callbacks {
	/* One pair1 message from a worker's pipe; may call bus_close. */
	void (*on_message)(void *ctx, uint32_t pipe, const uint8_t *p, size_t n);
	/* A worker's pipe is gone (closed by either side). */
	void (*on_gone)(void *ctx, uint32_t pipe);
	/* A worker's pipe sent a frame we refuse (over the limit, malformed); it
	 * is closed after this returns, and may be told why with bus_send_last. */
	void (*on_refused)(void *ctx, uint32_t pipe);
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
	int64_t next_sweep; /* handshake deadlines and stalls are checked once a second */
	int64_t accept_paused_until; /* out of file descriptors: listeners rest */
	int tap_readers;   /* tap pipes through their handshake */
	struct bus_pipe *dead;
	struct bus_callbacks cb;
	uint64_t refused;  /* peers refused at accept or in the handshake */
	bool has_key;      /* workers must answer a challenge (common/busauth.h) */
	uint8_t key[BUS_KEY_LEN];
	size_t worker_out; /* bytes waiting on all workers' pipes (router memory) */
	uint64_t stalled;  /* workers' pipes closed because their output did not move */
	int drain_watched; /* pipes under bus_expect_reads */
	struct bufpool pool; /* big buffers lent to pipes and queues (bufpool.h) */
};

int bus_init(struct bus *b, int ep, size_t max_message, uid_t allow_uid, struct bus_callbacks cb);
/*
 * From now on every worker pipe must authenticate with key. Call before
 * bus_listen: without a key, bus_listen refuses a non-loopback tcp://.
 */
void bus_set_key(struct bus *b, const uint8_t key[BUS_KEY_LEN]);
/* ipc://PATH or tcp://HOST:PORT; 0 or -1 (logged). */
int bus_listen(struct bus *b, const char *url, enum bus_kind kind);
/* An epoll event whose tag has BUS_TAG_LISTENER or BUS_TAG_PIPE. */
void bus_on_event(struct bus *b, uint64_t tag, uint32_t events);
/* Queues one message for a worker's pipe and writes what it can; -1 if it is gone. */
int bus_send(struct bus *b, uint32_t pipe, const void *p, size_t n);
/* The same for a message in m with SP_HEADROOM before it: its storage may
 * become the pipe's output, and m gets an empty one (common/sp.h). */
int bus_send_buf(struct bus *b, uint32_t pipe, struct buf *m);
/* Queues one last message, writes what it can of it at once and closes the pipe. */
void bus_send_last(struct bus *b, uint32_t pipe, const void *p, size_t n);
/* Bytes queued on a pipe and not yet taken by the socket (0 if it is gone). */
size_t bus_pending(const struct bus *b, uint32_t pipe);
/* How long a pipe's output has waited without any of it going out (0: none waits). */
int64_t bus_stalled_ms(const struct bus *b, uint32_t pipe, int64_t now);
/*
 * The worker on pipe must read what it was sent (a worker told to close):
 * until the pipe goes, bytes it has not read count as stalled output even
 * once the kernel holds them all, so one that never reads is dropped after
 * BUS_STALL_MS even when what it was sent fitted in the socket's buffer.
 */
void bus_expect_reads(struct bus *b, uint32_t pipe);
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
