/*
 * SaltyRTC signalling server: what the worker half (session.c) and the
 * router half (service.c) share: sizes, limits and the bus operations
 * between them (README.md in this directory has the wire format).
 */
#ifndef SB_SALTY_H
#define SB_SALTY_H

#define SALTY_PROTO "saltyrtc"
#define SALTY_SUBPROTOCOL "v1.saltyrtc.org"
#define SALTY_KEY 32      /* Curve25519 public or secret key */
#define SALTY_SIGNED_KEYS 80 /* MAC + server session pk + client pk */
#define SALTY_INITIATOR 1
#define SALTY_FIRST_RESPONDER 2
#define SALTY_LAST_RESPONDER 255
#define SALTY_MAX_KEYS 16 /* --saltyrtc-key files */

/* Close codes (sheet §10) */
#define SALTY_CLOSE_PATH_FULL 3000
#define SALTY_CLOSE_PROTOCOL 3001
#define SALTY_CLOSE_INTERNAL 3002
#define SALTY_CLOSE_DROPPED 3004
#define SALTY_CLOSE_NO_DECRYPT 3005
#define SALTY_CLOSE_INVALID_KEY 3007
#define SALTY_CLOSE_TIMEOUT 3008

/*
 * worker → router
 *   auth      role (1 initiator, 2 responder), path, key (the client's
 *             permanent key), spk (this connection's session key), cookie
 *             and csn (of the server-auth to come), yk? (your_key)
 *   restore   role, path, key, id: after a router restart, an
 *             authenticated client takes its place back
 *   relay     dst, d (the whole packet, untouched)
 *   drop      id, reason (checked by the worker, again by the router)
 * router → worker
 *   authed    id, sk? (signed_keys), rs (initiator: responder ids) or
 *             ic (responder: whether an initiator is there)
 *   new-initiator, new-responder (id), disconnected (id), send-error (id:
 *   the 8 address and sequence bytes of the relay's nonce): the server
 *   messages the worker encrypts and sends.
 * Closes (3000, 3004, 3007, a dropped responder's reason) are core closes.
 */
#define SALTY_OP_AUTH "auth"
#define SALTY_OP_RESTORE "restore"
#define SALTY_OP_RELAY "relay"
#define SALTY_OP_DROP "drop"
#define SALTY_OP_AUTHED "authed"
#define SALTY_OP_NEW_INITIATOR "new-initiator"
#define SALTY_OP_NEW_RESPONDER "new-responder"
#define SALTY_OP_DISCONNECTED "disconnected"
#define SALTY_OP_SEND_ERROR "send-error"

#endif
