/*
 * WebSocketStar, worker half: what its files share. session.c holds the
 * connection (HTTP, Engine.IO, timers, the seam's table); client.c turns the
 * client's Socket.IO events into envelopes for the router; from_router.c
 * turns the router's envelopes into packets for the client.
 */
#ifndef SB_WSSTAR_STATE_H
#define SB_WSSTAR_STATE_H
#include "../proto.h"
#include "sio_rx.h"
#include "wsstar.h"

#define MAX_INCOMING 64

struct incoming {
	uint64_t ack;
	char id[WSSTAR_MAX_DIAL_ID];
	size_t id_len;
};

struct wsstar_state {
	struct sio_rx rx;
	int64_t last_rx;
	uint64_t next_ack; /* our ack ids (ss-incomming), from 0 */
	struct incoming in[MAX_INCOMING];
	int nin;
	char *own[WSSTAR_MAX_ADDRS]; /* addresses registered to this connection */
	size_t own_len[WSSTAR_MAX_ADDRS];
	int nown;
	struct buf peers; /* the router's address list, by prefix (from_router.c) */
	struct buf prefixes;
	int64_t peers_gen;
	struct buf dials; /* ids of the dials this connection is in: [u8 length][bytes]... */
	int ndials;
	bool registered; /* the bus has been up before: a new registration is a router restart */
};

/* Scratch for one message to the client (session.c), and sending it as text. */
extern struct buf wsstar_out;
void wsstar_send_out(struct session *s);

/* After a burst of output (session.c): the heap it grew goes back to the
 * system a second later, so that an idle peer does not carry it. */
void wsstar_trim_soon(struct session *s);

/* A whole Socket.IO packet from the client (client.c). */
void wsstar_on_packet(struct session *s, const struct sio_rx *rx);
/* An envelope of ours from the router (from_router.c). */
void wsstar_from_router(struct session *s, const struct envelope *e);
/* After a router restart: every dial's streams end for the client (from_router.c). */
void wsstar_end_dials(struct session *s);

#endif
