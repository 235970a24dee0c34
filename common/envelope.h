/*
 * Bus envelopes: one MessagePack map per bus message,
 *   { "v": 1, "p": <protocol>, "op": <operation>, ...fields }.
 * Protocol "core" carries what every worker shares (hello, credit, bye,
 * text/binary to forward to the client, close).
 */
#ifndef SB_ENVELOPE_H
#define SB_ENVELOPE_H
#include "mp.h"

#define ENV_VERSION 1
#define ENV_CORE "core"
/* Elements (keys, values, container items) one envelope may hold: a base,
 * plus one per ENV_BYTES_PER_ELEMENT bytes of it; more is malformed. */
#define ENV_MAX_ELEMENTS 1024
#define ENV_BYTES_PER_ELEMENT 16

struct envelope {
	msgpack_unpacked up;
	const msgpack_object *map;
	const char *proto;
	size_t proto_len;
	const char *op;
	size_t op_len;
};

/* Starts a map of nfields protocol fields plus v, p and op. */
void env_begin(msgpack_packer *pk, const char *proto, const char *op, uint32_t nfields);
/* 0 on success; -1 when not one well-formed versioned envelope. */
int env_decode(struct envelope *e, const void *data, size_t len);
void env_free(struct envelope *e);
/*
 * Reads the next envelope of a batch (several envelopes back to back) at
 * *off: 1 got one, 0 at the end, -1 malformed. Call env_free after each.
 */
int env_next(struct envelope *e, const void *data, size_t len, size_t *off);
bool env_op_is(const struct envelope *e, const char *op);
/* Whether the one MessagePack object at p (n bytes) is safe to hand to
 * msgpack-c: no container announces more elements than the bytes can hold,
 * within the element budget above (envelope.c says why). */
bool env_plausible(const uint8_t *p, size_t n);
bool env_proto_is(const struct envelope *e, const char *proto);

#endif
