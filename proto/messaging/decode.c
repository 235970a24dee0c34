/* Decoding of client frames: { "send": [messages], "read": [{ "id": … }] }. */
#include <stdlib.h>
#include <string.h>

#include "../../common/json.h"
#include "messaging.h"

#define MESSAGING_MAX_TOKENS (1 << 20)

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

/* The client_id a rid addresses: the string's value or the number's text. */
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

static void decode_send(const struct json_doc *d, int arr, const struct messaging_sink *sink, void *ctx,
			struct messaging_counts *c)
{
	int m = arr + 1;
	for (int k = 0; k < json_size(d, arr); k++, m = json_skip(d, m)) {
		char rid[MESSAGING_MAX_ID + 1], *key = NULL;
		size_t rl, kl;
		int id = json_get(d, m, "id"), sid = json_get(d, m, "sid"), r = json_get(d, m, "rid");
		if (id < 0 || sid < 0 || r < 0 || !(key = id_key(d, id, &kl)) ||
		    (json_type(d, sid) != JSON_STRING && json_type(d, sid) != JSON_NUMBER) ||
		    rid_text(d, r, rid, sizeof rid, &rl) < 0 || messaging_client_id_invalid(rid, rl)) {
			free(key);
			c->skipped++;
			continue;
		}
		const char *raw;
		size_t n;
		json_raw(d, m, &raw, &n);
		sink->send(ctx, rid, rl, key, kl, raw, n);
		free(key);
		c->sent++;
	}
}

static void decode_read(const struct json_doc *d, int arr, const struct messaging_sink *sink, void *ctx,
			struct messaging_counts *c)
{
	int m = arr + 1;
	for (int k = 0; k < json_size(d, arr); k++, m = json_skip(d, m)) {
		char *key = NULL;
		size_t kl;
		int id = json_get(d, m, "id");
		if (id < 0 || !(key = id_key(d, id, &kl))) {
			c->skipped++;
			continue;
		}
		sink->read(ctx, key, kl);
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
