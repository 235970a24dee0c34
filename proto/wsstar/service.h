/*
 * WebSocketStar's router half, shared by service.c (peers, join
 * challenges, announcements, the envelopes from workers) and relay.c
 * (dials and the streams of their bytes).
 */
#ifndef SB_WSSTAR_SERVICE_H
#define SB_WSSTAR_SERVICE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/hmap.h"
#include "../proto.h"
#include "wsstar.h"

/* One worker (one client connection) as the router half sees it. */
struct wsstar_peer {
	bool ready;             /* the maps below are initialised */
	bool refused;           /* broke the rules: ignored until it is gone */
	struct hmap own;        /* address → this rworker: registered to it */
	struct hmap challenges; /* address → struct challenge: first join step done */
	struct hmap dials;      /* dial id → struct dial it takes part in */
	size_t pending;         /* relay bytes it wrote that wait for a reader's accept */
	uint64_t gen_sent;      /* the address list generation it holds */
};

struct wsstar_stats {
	uint64_t joins, join_errors, dials, dial_errors;
	uint64_t relay_bytes, relay_chunks, relay_overflows, relay_ended_by_disconnect;
	uint64_t announce_rounds, announce_envelopes;
	uint64_t announce_last_us; /* router CPU time of the last announcement round */
};
extern struct wsstar_stats wsstar_stats;

/* The per-worker state, its maps initialised on first use. */
struct wsstar_peer *wsstar_peer_of(struct rworker *w);
/* Sends a Socket.IO ack or event (a whole text message) to w's client. */
void wsstar_text(struct router *r, struct rworker *w, const struct buf *b);
/* 43<ack>["<text>"]: the ack with one error string. */
void wsstar_ack_error(struct router *r, struct rworker *w, uint64_t ack, const char *text);
/* Disconnects a worker that sent what no real worker sends. */
void wsstar_refuse(struct router *r, struct rworker *w, const char *why);

/* relay.c */
void relay_open(struct router *r, struct rworker *dialer, struct rworker *listener, const char *id, size_t id_len,
		const char *from, size_t from_len, uint64_t ack);
void relay_envelope(struct router *r, struct rworker *w, const struct envelope *e);
/* Ends every dial w takes part in (w is gone); its maps are freed by the caller. */
void relay_gone(struct router *r, struct rworker *w);
void relay_fini(void);

#endif
