/* WebSocketStar's options (proto/wsstar/options.c): its router half's checks and announcements. */
#ifndef SB_WSSTAR_OPTIONS_H
#define SB_WSSTAR_OPTIONS_H
#include <stdbool.h>

struct wsstar_options {
	bool no_crypto_challenge;  /* join without the key challenge (anyone may take any address) */
	bool no_strict_multiaddr;  /* any valid multiaddr, not only WebSocketStar ones */
	long announce_interval_ms; /* ws-peer announcements of every address */
	long ping_interval_ms;     /* Engine.IO pingInterval (worker) */
	long ping_timeout_ms;      /* Engine.IO pingTimeout (worker) */
};

/* Set from the command line in switchboard-router and -worker (checked, then passed on, in the supervisor). */
extern struct wsstar_options wsstar_opt;

#endif
