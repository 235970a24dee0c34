/* Messaging (store-and-forward): what both halves share (specs/messaging.md). */
#ifndef SB_MESSAGING_H
#define SB_MESSAGING_H
#include <stddef.h>

#define MESSAGING_PROTO "messaging"
#define MESSAGING_PATH "/messaging"
#define MESSAGING_MAX_ID 128      /* client_id and rid, bytes */
#define MESSAGING_MAX_KEY (1u << 20) /* an id's key text; stored messages are far smaller anyway */
#define MESSAGING_FRAME_MAX 500   /* messages per backlog frame */

/* worker → router */
#define MESSAGING_OP_ATTACH "attach" /* client: the connection's client_id */
#define MESSAGING_OP_SEND "send"     /* rid, key, m: the message's JSON text */
#define MESSAGING_OP_READ "read"     /* key */

/*
 * The decoder of a client frame, apart from the session so that it can be
 * fuzzed. Ids and rids become text keys: a string id "1" is "s1", a number
 * id 1 is "n1" (numbers compare by their JSON text), so 1 and "1" differ;
 * a rid becomes the client_id it addresses ("31" for 31 and for "31").
 */
struct messaging_sink {
	void (*send)(void *ctx, const char *rid, size_t rid_len, const char *key, size_t key_len,
		     const char *msg, size_t msg_len);
	void (*read)(void *ctx, const char *key, size_t key_len);
};

struct messaging_counts {
	int sent, read, skipped;
};

/* 0, or -1 when the frame is not JSON at all (the caller closes with 1007). */
int messaging_decode(const char *js, size_t len, const struct messaging_sink *sink, void *ctx,
		     struct messaging_counts *counts);
/* A client_id as the sheet allows it: NULL, or why not. */
const char *messaging_client_id_invalid(const char *id, size_t len);

#endif
