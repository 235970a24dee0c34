/* SaltyRTC's options (proto/saltyrtc/options.c) and the server's keys they load. */
#ifndef SB_SALTY_OPTIONS_H
#define SB_SALTY_OPTIONS_H
#include <stdbool.h>
#include <stddef.h>

#include "../../common/options.h"
#include "keyfile.h"

struct salty_options {
	struct opt_list key_files; /* --saltyrtc-key, the first primary */
	bool keyless;              /* --saltyrtc-keyless: serve without a permanent key */
	const char *keygen;        /* --saltyrtc-keygen FILE (router: write, print, exit) */
	size_t relay_queue;        /* bytes queued for one client before relays to it fail */
	int handshake_timeout_ms;  /* server-hello to server-auth */
	int pong_timeout_ms;       /* ping (per ping_interval) to pong */
};

extern struct salty_options salty_opt;
/* The keys the --saltyrtc-key files gave (the router's; the supervisor's
 * copy, used only to check the files, holds public keys alone). */
extern struct salty_keys salty_keys;

#endif
