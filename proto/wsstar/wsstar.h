/*
 * WebSocketStar: what the worker half (session.c: Engine.IO / Socket.IO on
 * the client's WebSocket, argument types) and the router half (service.c:
 * peers, challenges, announcements; relay.c: dials and their streams) agree
 * on. Wire format for clients: README.md here.
 */
#ifndef SB_WSSTAR_H
#define SB_WSSTAR_H

#define WSSTAR_PROTO "wsstar"
#define WSSTAR_PATH "/socket.io/"

/* Longest dial id (the client's uuid is 36 characters). */
#define WSSTAR_MAX_DIAL_ID 128
/* Longest data argument of ss-join: the hex of the largest key or signature. */
#define WSSTAR_MAX_JOIN_DATA 4096
/* Longest error value of a stream's error event, as raw JSON. */
#define WSSTAR_MAX_ERROR_JSON 1024
/* JSON tokens one packet may have (a join ack lists every peer, but that goes out, not in). */
#define WSSTAR_MAX_TOKENS 64
/* Join challenges one connection may have open at once. */
#define WSSTAR_MAX_CHALLENGES 64
/* Registered addresses one connection may hold. */
#define WSSTAR_MAX_ADDRS 64
/* Dials one connection may take part in at once. */
#define WSSTAR_MAX_DIALS 256

/*
 * Relay bounds (README.md, "Limits"): chunks waiting for the reader's
 * accept, per stream direction and per writing connection; bytes the
 * router may hold for one reading connection before its stream ends.
 */
#define WSSTAR_STREAM_PENDING_MAX (1u << 20)
#define WSSTAR_CONN_PENDING_MAX (4u << 20)
/* Half of --worker-queue's default, so that a slow reader's dial ends
 * before the router closes the reader as too slow. */
#define WSSTAR_READER_QUEUE_MAX (2u << 20)

/* Stream directions: <dialId>.dialer (dialer writes), <dialId>.listener. */
enum wsstar_dir { WSSTAR_DIALER = 0, WSSTAR_LISTENER = 1 };

/* worker → router */
#define WSSTAR_OP_JOIN "join"       /* ma, data, ack */
#define WSSTAR_OP_LEAVE "leave"     /* ma */
#define WSSTAR_OP_DIAL "dial"       /* from, to, id, ack */
#define WSSTAR_OP_INACK "inack"     /* id, err?: raw JSON of the listener's first ack argument */
#define WSSTAR_OP_ACCEPT "accept"   /* id, dir */
#define WSSTAR_OP_CHUNK "chunk"     /* id, dir, b */
#define WSSTAR_OP_END "end"         /* id, dir, val: raw JSON ("v" is the envelope version) */
#define WSSTAR_OP_RESTORE "restore" /* l: addresses this connection held, after a router restart */
/* router → worker (acks and plain events come as core text) */
#define WSSTAR_OP_INCOMING "incoming" /* id, from: emit ss-incomming with an ack id of ours */
#define WSSTAR_OP_RELAY "relay"       /* id, dir, b: emit the chunk as a binary queue event (b: 04 <bytes>, the attachment's Engine.IO packet) */
#define WSSTAR_OP_JOINED "joined"     /* ma: now registered to this connection */
#define WSSTAR_OP_LEFT "left"         /* ma: no longer */
#define WSSTAR_OP_ANNOUNCE "announce" /* gen, l?: every registered address (l only when gen changed) */
#define WSSTAR_OP_DIALOPEN "dialopen" /* id: a dial this connection takes part in now exists */
#define WSSTAR_OP_DIALEND "dialend"   /* id: that dial is over */

#endif
