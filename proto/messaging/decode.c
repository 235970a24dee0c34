/*
 * Messaging's parsing, shared by both halves: the worker's decoding of client
 * frames ({ "send": [messages], "read": [{ "id": … }] }) and the router's
 * check of each message it is asked to store.
 */
#include <stdlib.h>
#include <string.h>

#include "../../common/json.h"
#include "../../common/utf8.h"
#include "messaging.h"

#define MESSAGING_MAX_TOKENS (1 << 20)

const char MSG_ERR_ID[] = "id missing or not a string or number";
const char MSG_ERR_SID[] = "sid missing or not a string or number";
const char MSG_ERR_RID[] = "rid missing or not a valid client_id";
const char MSG_ERR_NOT_OBJECT[] = "message is not an object";
const char MSG_ERR_DUPLICATE[] = "id, sid or rid given twice";
const char MSG_ERR_UTF8[] = "message is not valid UTF-8";
const char MSG_ERR_JSON[] = "message is not one JSON value";
const char MSG_ERR_ID_LONG[] = "id too long";
const char MSG_ERR_NOT_SENDER[] = "sid is not the sender's client_id";
const char MSG_ERR_TOO_LARGE[] = "message too large";
const char MSG_ERR_QUEUE[] = "recipient's queue is full";
const char MSG_ERR_PER_SENDER[] = "sender's quota for this recipient is full";
const char MSG_ERR_RECIPIENTS[] = "sender has too many recipients";
const char MSG_ERR_STORE_FULL[] = "store is full";
const char MSG_ERR_STORE_FAILED[] = "store write failed";
const char MSG_ERR_NOT_ATTACHED[] = "connection has no client_id";

/* The text key of an id: 's' + string value, or 'n' + number text, in a
 * malloc'd buffer (ids have no length limit of their own). NULL: not an id. */
static char *id_key(const struct json_doc *d, int tok, size_t *len)
{
	enum json_type t = json_type(d, tok);
	if (t != JSON_STRING && t != JSON_NUMBER)
		return NULL;
	const char *raw;
	size_t n;
	json_raw(d, tok, &raw, &n); /* unescaping never makes a string longer */
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	out[0] = t == JSON_STRING ? 's' : 'n';
	if (t == JSON_NUMBER) {
		memcpy(out + 1, raw, n);
		*len = n + 1;
	} else if (json_str(d, tok, out + 1, n, len) == 0) {
		(*len)++;
	} else {
		free(out);
		return NULL;
	}
	return out;
}

/* The client_id a rid (or sid) names: the string's value or the number's text. */
static int rid_text(const struct json_doc *d, int tok, char *out, size_t cap, size_t *len)
{
	char *key = id_key(d, tok, len);
	int rc = -1;
	if (key && *len >= 2 && *len - 1 <= cap) {
		memcpy(out, key + 1, --(*len));
		rc = 0;
	}
	free(key);
	return rc;
}

static bool scalar(const struct json_doc *d, int tok)
{
	return tok >= 0 && (json_type(d, tok) == JSON_STRING || json_type(d, tok) == JSON_NUMBER);
}

/* Raw text of tok when it is a string or number, for error reports. */
static void raw_of(const struct json_doc *d, int tok, const char **p, size_t *n)
{
	*p = NULL;
	*n = 0;
	if (scalar(d, tok))
		json_raw(d, tok, p, n);
}

static void decode_send(const struct json_doc *d, int arr, const struct messaging_sink *sink, void *ctx,
			struct messaging_counts *c)
{
	int m = arr + 1;
	for (int k = 0; k < json_size(d, arr); k++, m = json_skip(d, m)) {
		char rid[MESSAGING_MAX_ID + 1], *key = NULL;
		size_t rl, kl, il, rrl;
		int id = json_get(d, m, "id"), sid = json_get(d, m, "sid"), r = json_get(d, m, "rid");
		const char *why = NULL, *iraw, *rraw;
		raw_of(d, id, &iraw, &il);
		raw_of(d, r, &rraw, &rrl);
		if (json_type(d, m) != JSON_OBJECT)
			why = MSG_ERR_NOT_OBJECT;
		else if (!scalar(d, id) || !(key = id_key(d, id, &kl)))
			why = MSG_ERR_ID;
		else if (!scalar(d, sid))
			why = MSG_ERR_SID;
		else if (!scalar(d, r) || rid_text(d, r, rid, sizeof rid, &rl) < 0 || messaging_client_id_invalid(rid, rl))
			why = MSG_ERR_RID;
		if (why) {
			free(key);
			c->skipped++;
			if (sink->skip)
				sink->skip(ctx, iraw, il, rraw, rrl, why);
			continue;
		}
		const char *raw;
		size_t n;
		json_raw(d, m, &raw, &n);
		sink->send(ctx, rid, rl, key, kl, raw, n, iraw, il, rraw, rrl);
		free(key);
		c->sent++;
	}
}

static void decode_read(const struct json_doc *d, int arr, const struct messaging_sink *sink, void *ctx,
			struct messaging_counts *c)
{
	int m = arr + 1;
	for (int k = 0; k < json_size(d, arr); k++, m = json_skip(d, m)) {
		char *key = NULL, sid[MESSAGING_MAX_ID + 1];
		size_t kl, sl = 0;
		int id = json_get(d, m, "id"), s = json_get(d, m, "sid");
		if (id < 0 || !(key = id_key(d, id, &kl)) ||
		    (s >= 0 && (rid_text(d, s, sid, sizeof sid, &sl) < 0 || messaging_client_id_invalid(sid, sl)))) {
			free(key);
			c->skipped++;
			continue;
		}
		sink->read(ctx, key, kl, s >= 0 ? sid : NULL, sl);
		free(key);
		c->read++;
	}
}

int messaging_decode(const char *js, size_t len, const struct messaging_sink *sink, void *ctx,
		     struct messaging_counts *counts)
{
	struct json_doc d;
	memset(counts, 0, sizeof *counts);
	int rc = json_parse(&d, js, len, MESSAGING_MAX_TOKENS);
	if (rc != JSON_OK)
		return -1;
	/* sections in a fixed order, whatever order the client wrote them in */
	int send = json_get(&d, 0, "send"), read = json_get(&d, 0, "read");
	if (send >= 0 && json_type(&d, send) == JSON_ARRAY)
		decode_send(&d, send, sink, ctx, counts);
	if (read >= 0 && json_type(&d, read) == JSON_ARRAY)
		decode_read(&d, read, sink, ctx, counts);
	json_free(&d);
	return 0;
}

const char *messaging_client_id_invalid(const char *id, size_t len)
{
	if (!id || len == 0)
		return "client_id is missing or empty";
	if (len > MESSAGING_MAX_ID)
		return "client_id is longer than 128 bytes";
	if (len == 1 && id[0] == '0')
		return "client_id 0 is not a client";
	bool blank = true;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)id[i];
		if (ch < 0x20 || ch == 0x7f)
			return "client_id contains control characters";
		if (ch != ' ')
			blank = false;
	}
	return blank ? "client_id is blank" : NULL;
}

/* A JSON text has at most one token per two bytes (plus one): "1,1" is two. */
static int token_cap(size_t len) { return len / 2 + 2 > MESSAGING_MAX_TOKENS ? MESSAGING_MAX_TOKENS : (int)(len / 2 + 2); }

/* How many members of object obj are named key (a duplicate could show the
 * recipient another sid than the one the router checked). */
static int members_named(const struct json_doc *d, int obj, const char *key)
{
	int n = 0, j = obj + 1;
	for (int k = 0; k < json_size(d, obj); k++, j = json_skip(d, j + 1))
		n += json_str_eq(d, j, key);
	return n;
}

static const char *check_fields(const struct json_doc *d, struct messaging_msg *out)
{
	if (json_type(d, 0) != JSON_OBJECT)
		return MSG_ERR_NOT_OBJECT;
	int id = json_get(d, 0, "id"), sid = json_get(d, 0, "sid"), rid = json_get(d, 0, "rid");
	raw_of(d, id, &out->id_raw, &out->id_raw_len);
	raw_of(d, rid, &out->rid_raw, &out->rid_raw_len);
	if (members_named(d, 0, "id") > 1 || members_named(d, 0, "sid") > 1 || members_named(d, 0, "rid") > 1)
		return MSG_ERR_DUPLICATE;
	if (!scalar(d, id) || !(out->key = id_key(d, id, &out->key_len)))
		return MSG_ERR_ID;
	if (out->key_len > MESSAGING_MAX_KEY)
		return MSG_ERR_ID_LONG;
	if (!scalar(d, sid))
		return MSG_ERR_SID;
	if (!scalar(d, rid) || rid_text(d, rid, out->rid, sizeof out->rid, &out->rid_len) < 0 ||
	    messaging_client_id_invalid(out->rid, out->rid_len))
		return MSG_ERR_RID;
	/* last, so that everything else is filled in when only this fails */
	if (rid_text(d, sid, out->sid, sizeof out->sid, &out->sid_len) < 0 ||
	    messaging_client_id_invalid(out->sid, out->sid_len))
		return MSG_ERR_NOT_SENDER;
	return NULL;
}

const char *messaging_check(const char *text, size_t len, struct messaging_msg *out)
{
	memset(out, 0, sizeof *out);
	if (!utf8_valid((const uint8_t *)text, len))
		return MSG_ERR_UTF8;
	struct json_doc d;
	if (json_parse(&d, text, len, token_cap(len)) != JSON_OK)
		return MSG_ERR_JSON;
	const char *why = check_fields(&d, out);
	json_free(&d);
	return why;
}

void messaging_msg_free(struct messaging_msg *m)
{
	free(m->key);
	m->key = NULL;
}

bool messaging_text_valid(const char *text, size_t len)
{
	struct json_doc d;
	if (!utf8_valid((const uint8_t *)text, len) || json_parse(&d, text, len, token_cap(len)) != JSON_OK)
		return false;
	json_free(&d);
	return true;
}

int messaging_error_entry(struct buf *b, const char *id_raw, size_t id_len, const char *rid_raw, size_t rid_len,
			  const char *why)
{
	int rc = buf_append_str(b, "{\"id\":");
	rc |= id_raw ? buf_append(b, id_raw, id_len) : buf_append_str(b, "null");
	rc |= buf_append_str(b, ",\"rid\":");
	rc |= rid_raw ? buf_append(b, rid_raw, rid_len) : buf_append_str(b, "null");
	rc |= buf_append_str(b, ",\"error\":");
	rc |= json_put_string(b, why, strlen(why));
	rc |= buf_append_str(b, "}");
	return rc ? -1 : 0;
}
