/*
 * The SaltyRTC server's packet decoder: nonce, then the data either opened
 * as a box (with a fixed key pair, so a seed made with it opens) or taken
 * as plain MessagePack, then the server-bound message decoder and the
 * cookie/CSN rules. Whatever decodes must hold what the decoder promises:
 * a known type, ids 2..255, a valid drop reason, ping_interval >= 0.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/saltyrtc/packet.h"

static uint8_t shared[crypto_box_BEFORENMBYTES];

static void check(const struct salty_msg *m)
{
	if (m->type != SALTY_CLIENT_HELLO && m->type != SALTY_CLIENT_AUTH && m->type != SALTY_DROP_RESPONDER)
		abort();
	if (m->type == SALTY_DROP_RESPONDER &&
	    (m->id < 2 || m->id > 255 || (m->reason && m->reason != 3001 && m->reason != 3002 && m->reason != 3004 &&
					  m->reason != 3005)))
		abort();
	if (m->ping_interval < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		/* the seeds' key pair: secret key 32 x 0x01 (client) and 32 x 0x02 (server) */
		uint8_t csk[32], ssk[32], cpk[32];
		memset(csk, 1, sizeof csk);
		memset(ssk, 2, sizeof ssk);
		if (sodium_init() < 0 || crypto_scalarmult_base(cpk, csk) != 0 || crypto_box_beforenm(shared, cpk, ssk) != 0)
			abort();
		ready = 1;
	}
	struct salty_nonce n;
	if (salty_nonce_read(&n, data, size) < 0)
		return 0;
	static const uint8_t own[SALTY_COOKIE] = {0x5a};
	struct salty_incoming in = {0};
	if (salty_incoming_check(&in, own, &n) == 0 && (n.csn >> 32 != 0 || memcmp(in.cookie, own, 16) == 0))
		abort();
	struct salty_msg m;
	if (salty_msg_decode(&m, data + SALTY_NONCE, size - SALTY_NONCE) == 0)
		check(&m);
	size_t len = size - SALTY_NONCE;
	if (len >= crypto_box_MACBYTES && len - crypto_box_MACBYTES <= SALTY_MAX_SERVER_MESSAGE) {
		uint8_t *plain = malloc(len);
		if (crypto_box_open_easy_afternm(plain, data + SALTY_NONCE, len, data, shared) == 0 &&
		    salty_msg_decode(&m, plain, len - crypto_box_MACBYTES) == 0)
			check(&m);
		free(plain);
	}
	return 0;
}
