/*
 * The Messaging send/read decoder: any frame either fails as malformed JSON
 * or yields send/read calls whose fields are well formed: a rid that is a
 * valid client_id, a key tagged 's' or 'n', and a message that re-parses as
 * a JSON object.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/json.h"
#include "../../proto/messaging/messaging.h"

static void on_send(void *ctx, const char *rid, size_t rl, const char *key, size_t kl, const char *m, size_t ml)
{
	(void)ctx;
	if (messaging_client_id_invalid(rid, rl) || kl < 1 || (key[0] != 's' && key[0] != 'n'))
		abort();
	struct json_doc d;
	if (json_parse(&d, m, ml, 1 << 20) != JSON_OK || json_type(&d, 0) != JSON_OBJECT)
		abort();
	json_free(&d);
}

static void on_read(void *ctx, const char *key, size_t kl)
{
	(void)ctx;
	if (kl < 1 || (key[0] != 's' && key[0] != 'n'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct messaging_sink sink = {on_send, on_read};
	struct messaging_counts c;
	char *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	messaging_decode(copy, size, &sink, NULL, &c);
	free(copy);
	return 0;
}
