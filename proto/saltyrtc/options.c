/*
 * SaltyRTC's options, as a table (common/options.h) that all three
 * programs link: the supervisor checks the key files at start (missing,
 * malformed, duplicate: an error naming the file), then passes them to the
 * router, the one process that keeps the secret keys.
 */
#include "options.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../common/bus.h"

struct salty_options salty_opt;
struct salty_keys salty_keys;

static int load_key(unsigned self, const char *value, const char **why)
{
	if (sodium_init() < 0) {
		*why = "libsodium does not start";
		return -1;
	}
	if (salty_keys_load(&salty_keys, value, why) < 0)
		return -1;
	/* the supervisor only checks: no secret stays in it */
	if (!(self & OPT_ROUTER))
		sodium_memzero(salty_keys.sk[salty_keys.n - 1], SALTY_KEY);
	return 0;
}

/* switchboard-router --saltyrtc-keygen FILE: one job, then exit. */
static int keygen(unsigned self, const char *value, const char **why)
{
	uint8_t pk[SALTY_KEY];
	char hex[2 * SALTY_KEY + 1];
	if (!(self & OPT_ROUTER))
		return 0;
	if (sodium_init() < 0) {
		*why = "libsodium does not start";
		return -1;
	}
	if (salty_key_generate(value, pk, why) < 0)
		return -1;
	salty_hex(hex, pk);
	printf("%s\n", hex);
	exit(fflush(stdout) == 0 ? 0 : 111);
}

#define S OPT_SUPERVISOR
#define W OPT_WORKER
#define R OPT_ROUTER

static const struct opt table[] = {
	{"saltyrtc-key", OPT_LIST, "FILE", NULL, "permanent key file (64 hex of the secret key); repeatable, first primary",
	 S | R, &salty_opt.key_files, 0, 0, NULL, load_key},
	{"saltyrtc-keyless", OPT_FLAG, NULL, NULL, "no permanent key: no signed_keys, your_key refused with 3007",
	 S | R, &salty_opt.keyless, 0, 0, NULL, NULL},
	{"saltyrtc-keygen", OPT_STR, "FILE", NULL, "write a new key file (mode 0600), print its public key, exit", R,
	 &salty_opt.keygen, 0, 0, NULL, keygen},
	{"saltyrtc-relay-queue", OPT_SIZE, NULL, "1048576", "queued for one client before relays to it get send-error",
	 R, &salty_opt.relay_queue, 65536, BUS_MAX_CLIENT_MESSAGE, "so that it stays within the bus limit", NULL},
	{"saltyrtc-handshake-timeout", OPT_SECONDS, NULL, "30", "from server-hello to server-auth, else close 3008", W,
	 &salty_opt.handshake_timeout_ms, 1, 3600, NULL, NULL},
	{"saltyrtc-pong-timeout", OPT_SECONDS, NULL, "30", "a ping (client's ping_interval) unanswered this long: 3008",
	 W, &salty_opt.pong_timeout_ms, 1, 3600, NULL, NULL},
	{.name = NULL},
};

const struct opt_group saltyrtc_options = {"saltyrtc", table};
