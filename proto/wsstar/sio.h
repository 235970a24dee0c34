/*
 * Socket.IO protocol 4 packets (socket.io 2.x, socket.io-parser 3.x): the
 * layer above Engine.IO, carried in Engine.IO message packets. A packet is
 *   <type digit> [<attachments> '-'] [<namespace> ','] [<ack id>] [<JSON>]
 * and a binary packet (BINARY_EVENT / BINARY_ACK) is followed by its
 * attachments, one binary Engine.IO message each, standing in the JSON as
 * {"_placeholder":true,"num":N}. Decoding is strict (see sio_decode);
 * encoding covers what a server sends. No state, no rendezvous knowledge.
 */
#ifndef SB_WSSTAR_SIO_H
#define SB_WSSTAR_SIO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/buf.h"
#include "../../common/json.h"

enum sio_type {
	SIO_CONNECT = 0,
	SIO_DISCONNECT = 1,
	SIO_EVENT = 2,
	SIO_ACK = 3,
	SIO_ERROR = 4,
	SIO_BINARY_EVENT = 5,
	SIO_BINARY_ACK = 6,
};

enum sio_err {
	SIO_OK = 0,
	SIO_BAD_TYPE = -1,        /* empty, or the first character is no type */
	SIO_BAD_ATTACHMENTS = -2, /* binary packet without a valid "<N>-", N in 1..SIO_MAX_ATTACHMENTS */
	SIO_BAD_NAMESPACE = -3,   /* longer than SIO_MAX_NSP, or with bytes other than printable ASCII */
	SIO_BAD_ACK_ID = -4,      /* leading zero, or above SIO_MAX_ACK_ID */
	SIO_BAD_JSON = -5,        /* payload is not one valid JSON value */
	SIO_TOO_BIG = -6,         /* payload has more than the caller's token budget */
	SIO_BAD_PAYLOAD = -7,     /* valid JSON of the wrong shape for the packet type */
	SIO_BAD_PLACEHOLDER = -8, /* a placeholder that is malformed, out of range or repeated, or one missing */
	SIO_NOMEM = -9,
};

/* socket.io 2.5's default cap on attachments per packet. */
#define SIO_MAX_ATTACHMENTS 10
/* Namespaces are names like "/chat"; the rendezvous only uses "/". */
#define SIO_MAX_NSP 128
/* Ack ids are JavaScript numbers counting up from 0: the largest exact integer. */
#define SIO_MAX_ACK_ID 9007199254740991ULL

struct sio_packet {
	enum sio_type type;
	unsigned attachments;   /* binary packets only, else 0 */
	const char *nsp;        /* "/" when omitted on the wire; not NUL-terminated */
	size_t nsp_len;
	bool has_id;
	uint64_t id;
	const char *json;       /* payload text, NULL when there is none */
	size_t json_len;
	struct json_doc doc;    /* the parsed payload (ntok 0 when none) */
	/* Binary packets: token index in doc of placeholder num k, k < attachments. */
	int placeholder[SIO_MAX_ATTACHMENTS];
};

/*
 * Decodes one Socket.IO packet (the data of an Engine.IO message packet).
 * Strict beyond socket.io-parser where no real client differs: a payload
 * must be there and fit the type (CONNECT: object; DISCONNECT: none; EVENT,
 * BINARY_EVENT: array whose first element is a string or number; ACK,
 * BINARY_ACK: array; ERROR: string or object), ack ids have no leading
 * zeros, and a binary packet's placeholders are exactly nums 0..N-1, once
 * each. max_tokens bounds the JSON (and so memory); nesting is bounded by
 * json_parse. On SIO_OK the caller frees with sio_packet_free.
 */
int sio_decode(struct sio_packet *p, const char *s, size_t n, int max_tokens);
void sio_packet_free(struct sio_packet *p);
const char *sio_strerror(int err);
/* True when the packet is for namespace "/". */
bool sio_default_nsp(const struct sio_packet *p);
/* Token of the event name (EVENT / BINARY_EVENT), -1 for other types. */
int sio_event_name(const struct sio_packet *p);
/* Token of argument k (0 = first after the event name for events, first
 * array element for acks), -1 when absent. */
int sio_arg(const struct sio_packet *p, int k);
/* Number of arguments (as counted by sio_arg). */
int sio_nargs(const struct sio_packet *p);
/* Placeholder num if token i of a binary packet is a placeholder, else -1. */
int sio_placeholder_num(const struct sio_packet *p, int i);

/*
 * Encoding. Each whole message is built into a buf as the payload of one
 * text WebSocket message, Engine.IO message type '4' included. Errors of
 * the appends are remembered and reported once by sio_out_end.
 */
struct sio_out {
	struct buf *b;
	int elems;         /* array elements written so far (event name included) */
	unsigned expect;   /* placeholders the header announced */
	unsigned written;  /* placeholders written */
	bool failed;
};

/* "40" for "/" (nsp NULL) or "40<nsp>,". */
int sio_put_connect(struct buf *b, const char *nsp);
/* "41" for "/". */
int sio_put_disconnect(struct buf *b);
/* "44<nsp>,<JSON string>", e.g. 44/foo,"Invalid namespace". */
int sio_put_error(struct buf *b, const char *nsp, const char *text);

/* Starts 42[<id>]["<name>" (or 45<N>-... with attachments > 0). id < 0: no ack wanted. */
void sio_out_event(struct sio_out *o, struct buf *b, const char *name, size_t name_len, int64_t id,
		   unsigned attachments);
/* Starts 43<id>[ (or 46<N>-<id>[ with attachments > 0). */
void sio_out_ack(struct sio_out *o, struct buf *b, uint64_t id, unsigned attachments);
void sio_out_string(struct sio_out *o, const char *s, size_t n);
void sio_out_null(struct sio_out *o);
void sio_out_bool(struct sio_out *o, bool v);
/* An argument that is already valid JSON text (e.g. forwarded verbatim). */
void sio_out_raw(struct sio_out *o, const char *json, size_t n);
/* {"_placeholder":true,"num":<next>} for the next attachment. */
void sio_out_placeholder(struct sio_out *o);
/* An array of strings as one argument. */
void sio_out_string_array(struct sio_out *o, const char *const *s, const size_t *n, size_t count);
/* Closes the array: 0, or -1 on an earlier failure or a placeholder count
 * that differs from the header's. */
int sio_out_end(struct sio_out *o);

#endif
