/* Messaging (store-and-forward): what both halves share (proto/messaging/README.md). */
#ifndef SB_MESSAGING_H
#define SB_MESSAGING_H
#include <stdbool.h>
#include <stddef.h>

#include "../../common/buf.h"

#define MESSAGING_PROTO "messaging"
#define MESSAGING_PATH "/messaging"
#define MESSAGING_MAX_ID 128      /* client_id, rid and sid, bytes */
#define MESSAGING_MAX_KEY (1u << 20) /* an id's key text; stored messages are far smaller anyway */
#define MESSAGING_FRAME_MAX 500   /* messages per backlog frame */
#define MESSAGING_ERRORS_FRAME (64u << 10) /* an errors frame goes out once it is this big */

/* Close codes the router gives a worker's client. */
#define MESSAGING_CLOSE_SUPERSEDED 4000 /* "superseded by a newer connection" */
#define MESSAGING_CLOSE_IDENTITY 4001   /* "client_id cannot change on a connection" */

/* worker → router */
#define MESSAGING_OP_ATTACH "attach" /* client: the connection's client_id */
#define MESSAGING_OP_SEND "send"     /* rid, key, m: the message's JSON text; i, r: raw id and rid */
#define MESSAGING_OP_READ "read"     /* key, optional sid */
#define MESSAGING_OP_END "end"       /* the client's frame ends here: errors go out */
/* router → worker */
#define MESSAGING_OP_OUT "out"       /* d: one text frame for the client ({"messages"} or {"errors"}) */

/*
 * The decoder of a client frame, apart from the session so that it can be
 * fuzzed. Ids and rids become text keys: a string id "1" is "s1", a number
 * id 1 is "n1" (numbers compare by their JSON text), so 1 and "1" differ;
 * a rid becomes the client_id it addresses ("31" for 31 and for "31").
 * id/rid passed to skip are the entry's raw JSON values, or NULL when absent
 * or not a string or number.
 */
struct messaging_sink {
	void (*send)(void *ctx, const char *rid, size_t rid_len, const char *key, size_t key_len,
		     const char *msg, size_t msg_len, const char *id_raw, size_t id_raw_len,
		     const char *rid_raw, size_t rid_raw_len);
	/* sid: the client_id text of the entry's optional sid, or NULL */
	void (*read)(void *ctx, const char *key, size_t key_len, const char *sid, size_t sid_len);
	void (*skip)(void *ctx, const char *id_raw, size_t id_len, const char *rid_raw, size_t rid_len,
		     const char *why);
};

struct messaging_counts {
	int sent, read, skipped;
};

/* 0, or -1 when the frame is not JSON at all (the caller closes with 1007). */
int messaging_decode(const char *js, size_t len, const struct messaging_sink *sink, void *ctx,
		     struct messaging_counts *counts);
/* A client_id as the sheet allows it: NULL, or why not. */
const char *messaging_client_id_invalid(const char *id, size_t len);

/* One message as the router checks it (it trusts nothing a worker says). */
struct messaging_msg {
	char rid[MESSAGING_MAX_ID], sid[MESSAGING_MAX_ID]; /* client_id texts */
	size_t rid_len, sid_len;
	char *key; /* malloc'd id key ('s'/'n' + text) */
	size_t key_len;
	const char *id_raw, *rid_raw; /* raw JSON values inside the text, or NULL */
	size_t id_raw_len, rid_raw_len;
};
/*
 * NULL when text is one stored-to-be message: valid UTF-8, one JSON object
 * with exactly one id, sid and rid, each a string or number, a rid and sid
 * that are client_ids, an id key within MESSAGING_MAX_KEY. Otherwise the
 * reason (an error string of the wire format). Free with messaging_msg_free
 * in both cases.
 */
const char *messaging_check(const char *text, size_t len, struct messaging_msg *out);
void messaging_msg_free(struct messaging_msg *m);
/* Whether text is one JSON value of valid UTF-8 (what a worker frames). */
bool messaging_text_valid(const char *text, size_t len);
/* Appends {"id":…,"rid":…,"error":"…"} (raw values, or null) to an errors list. */
int messaging_error_entry(struct buf *b, const char *id_raw, size_t id_len, const char *rid_raw, size_t rid_len,
			  const char *why);

/* Error strings of the errors section (compared by address: one definition each). */
extern const char MSG_ERR_ID[];
extern const char MSG_ERR_SID[];
extern const char MSG_ERR_RID[];
extern const char MSG_ERR_NOT_OBJECT[];
extern const char MSG_ERR_DUPLICATE[];
extern const char MSG_ERR_UTF8[];
extern const char MSG_ERR_JSON[];
extern const char MSG_ERR_ID_LONG[];
extern const char MSG_ERR_NOT_SENDER[];
extern const char MSG_ERR_TOO_LARGE[];
extern const char MSG_ERR_QUEUE[];
extern const char MSG_ERR_PER_SENDER[];
extern const char MSG_ERR_RECIPIENTS[];
extern const char MSG_ERR_STORE_FULL[];
extern const char MSG_ERR_STORE_FAILED[];
extern const char MSG_ERR_NOT_ATTACHED[];

#endif
