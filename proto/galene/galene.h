/* Galène: what the worker and router halves share (README.md here). */
#ifndef SB_GALENE_H
#define SB_GALENE_H

#define GALENE_PROTO "galene"
#define GALENE_PATH "/ws"
#define GALENE_MAX_ID 256         /* bytes of a client id (protocol.js sends 32) */
#define GALENE_MAX_TICKET (2 * GALENE_MAX_DATA + 4096) /* bytes of a re-join ticket (data and status in it) */
#define GALENE_HANDSHAKE_MS 15000 /* the first message must come within this */
#define GALENE_TICK_MS 10000      /* keep-alive check period */
#define GALENE_TRIM_MS 1000       /* after a join, the worker gives its heap back this soon */
#define GALENE_PING_AFTER_MS 20000 /* silent this long: we send a JSON ping */
#define GALENE_DEAD_AFTER_MS 45000 /* silent this long: dropped */
#define GALENE_MAX_DATA 65536    /* bytes of a member's or a group's data (setdata) */

/* worker → router */
#define GALENE_OP_HELLO "hello" /* id, addr (str: "ip:port" or ""), t? (bin: re-join ticket after a router restart) */
#define GALENE_OP_MSG "m"       /* d (bin): one client message, as the client sent it */
/* A chat or usermessage, as the worker decoded it (the router checks each
 * field, a cheaper check than parsing the JSON again): u (bool: a
 * usermessage), then kind, id, dest, source, username (str) when the client
 * gave them, value (bin: its JSON text) when given, noecho (bool) when true. */
#define GALENE_OP_CHAT "c"
/* router → worker */
#define GALENE_OP_TICKET "ticket" /* t (bin): keep, send back in hello; nil: forget */

#endif
