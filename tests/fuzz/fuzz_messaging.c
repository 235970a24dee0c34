/*
 * Messaging's parsers: the worker's send/read decoder and the router's check
 * of one message. Any frame either fails as malformed JSON or yields
 * send/read/skip calls whose fields are well formed: a rid that is a valid
 * client_id, a key tagged 's' or 'n', a message that re-parses as a JSON
 * object, raw ids that are JSON values. Every input also goes through
 * messaging_check, which must agree with the validators it stands for.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/json.h"
#include "../../common/utf8.h"
#include "../../proto/messaging/messaging.h"

static void json_or_abort(const char *p, size_t n, int want_type)
{
	struct json_doc d;
	if (json_parse(&d, p, n, 1 << 20) != JSON_OK || (want_type >= 0 && (int)json_type(&d, 0) != want_type))
		abort();
	json_free(&d);
}

static void on_send(void *ctx, const char *rid, size_t rl, const char *key, size_t kl, const char *m, size_t ml,
		    const char *id, size_t il, const char *rraw, size_t rrl)
{
	(void)ctx;
	if (messaging_client_id_invalid(rid, rl) || kl < 1 || (key[0] != 's' && key[0] != 'n') || !id || !rraw)
		abort();
	json_or_abort(m, ml, JSON_OBJECT);
	json_or_abort(id, il, -1);
	json_or_abort(rraw, rrl, -1);
}

static void on_read(void *ctx, const char *key, size_t kl, const char *sid, size_t sl)
{
	(void)ctx;
	if (kl < 1 || (key[0] != 's' && key[0] != 'n') || (sid && messaging_client_id_invalid(sid, sl)))
		abort();
}

static void on_skip(void *ctx, const char *id, size_t il, const char *rid, size_t rl, const char *why)
{
	(void)ctx;
	if (!why || (id && il == 0) || (rid && rl == 0))
		abort();
	if (id)
		json_or_abort(id, il, -1);
	if (rid)
		json_or_abort(rid, rl, -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct messaging_sink sink = {on_send, on_read, on_skip};
	struct messaging_counts c;
	char *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	messaging_decode(copy, size, &sink, NULL, &c);
	struct messaging_msg m;
	const char *why = messaging_check(copy, size, &m);
	if (!why && (!utf8_valid(data, size) || !messaging_text_valid(copy, size) || !m.key ||
		     messaging_client_id_invalid(m.rid, m.rid_len) || messaging_client_id_invalid(m.sid, m.sid_len)))
		abort();
	messaging_msg_free(&m);
	free(copy);
	return 0;
}
