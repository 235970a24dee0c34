/*
 * Bus authentication (common/busauth.c) over arbitrary bytes: what a peer
 * that does not hold the key can send as its first message (the router's
 * check), and what a fake router can send as its challenge (the worker's).
 * Neither may crash, and no input may pass the check without the right tag.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/busauth.h"
#include "../../common/envelope.h"

static const uint8_t key[BUS_KEY_LEN] = {1, 2, 3};
static const uint8_t nonce[BUS_NONCE_LEN] = {4, 5, 6};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t got[BUS_NONCE_LEN];
	bus_auth_nonce(data, size, got);
	if (bus_auth_check(data, size, key, nonce)) {
		/* only a hello carrying the one right tag may pass */
		uint8_t tag[BUS_TAG_LEN];
		bus_auth_tag(tag, key, nonce);
		struct envelope e;
		size_t off = 0;
		const uint8_t *t;
		size_t n;
		if (env_next(&e, data, size, &off) != 1 || !mp_get_bin(e.map, "auth", &t, &n) || n != BUS_TAG_LEN ||
		    memcmp(t, tag, BUS_TAG_LEN) != 0)
			abort();
		env_free(&e);
	}
	return 0;
}
