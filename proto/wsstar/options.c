/*
 * WebSocketStar's options, as a table (common/options.h) that all three
 * programs link: the reference CLI's --disableCryptoChallenge and
 * --disableStrictMultiaddr, its refreshPeerListIntervalMS, and Engine.IO's
 * pingInterval and pingTimeout (the reference's defaults; shorter in tests).
 */
#include "options.h"

#include "../../common/options.h"

struct wsstar_options wsstar_opt;

static const struct opt table[] = {
	{"wsstar-no-crypto-challenge", OPT_FLAG, NULL, NULL,
	 "join without the key challenge (anyone may then take any address)", OPT_ROUTER,
	 &wsstar_opt.no_crypto_challenge, 0, 0, NULL, NULL},
	{"wsstar-no-strict-multiaddr", OPT_FLAG, NULL, NULL,
	 "accept any valid multiaddr in ss-join, not only WebSocketStar ones", OPT_ROUTER,
	 &wsstar_opt.no_strict_multiaddr, 0, 0, NULL, NULL},
	{"wsstar-announce-interval", OPT_INT, "MS", "10000", "how often every address is announced (ws-peer)",
	 OPT_ROUTER, &wsstar_opt.announce_interval_ms, 100, 3600000, NULL, NULL},
	{"wsstar-ping-interval", OPT_INT, "MS", "25000",
	 "Engine.IO pingInterval told to clients (they ping this long after each pong)", OPT_WORKER,
	 &wsstar_opt.ping_interval_ms, 100, 3600000, NULL, NULL},
	{"wsstar-ping-timeout", OPT_INT, "MS", "20000",
	 "Engine.IO pingTimeout: a client silent for pingInterval + this is closed", OPT_WORKER,
	 &wsstar_opt.ping_timeout_ms, 100, 3600000, NULL, NULL},
	{.name = NULL},
};

const struct opt_group wsstar_options = {"wsstar", table};
