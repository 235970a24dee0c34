/* WSChat: what the worker and router halves share (see README.md here). */
#ifndef SB_WSCHAT_H
#define SB_WSCHAT_H

#include "../../common/bus.h"

#define WSCHAT_PROTO "wschat"
#define WSCHAT_PATH "/wschat"
#define WSCHAT_MAX_NAME 64
#define WSCHAT_MAX_TOKENS 65536
/*
 * Largest "message" value the router forwards: the delivery wrapped around
 * it ({"type":…,"from":<name>,"message":…} in a core text envelope) must
 * still fit in one bus message.
 */
#define WSCHAT_MAX_VALUE (BUS_MAX_MESSAGE - 4096)

/* worker → router */
#define WSCHAT_OP_IDENTIFY "identify"   /* name */
#define WSCHAT_OP_RESTORE "restore"     /* name: re-registration after a router restart */
#define WSCHAT_OP_BROADCAST "broadcast" /* m?: raw JSON of "message" */
#define WSCHAT_OP_MESSAGE "message"     /* m?, to?: string, or nil when not a string */
#define WSCHAT_OP_OTHER "other"         /* any other command: only the identify check */
#define WSCHAT_OP_REPLY "reply"         /* d: an answer the worker made, returned in turn */
/* router → worker */
#define WSCHAT_OP_NAMED "named"         /* name: the name now held, nil when none */

#endif
