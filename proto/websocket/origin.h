/*
 * The Origin check of a WebSocket upgrade (RFC 6454 origins, RFC 6455
 * 4.2.1 point 8): whether a browser's Origin names the same host and port
 * as the request's Host, as Galène checks by default. Only the comparison
 * is here; which origins are allowed besides is the worker's option.
 */
#ifndef SB_WS_ORIGIN_H
#define SB_WS_ORIGIN_H
#include <stdbool.h>
#include <stddef.h>

/*
 * Origin "scheme://host[:port]" (no path, no user) against Host
 * "host[:port]": the same host (case-insensitive; an IPv6 literal in
 * brackets) and the same port, an absent port being the scheme's default
 * (80 for http and ws, 443 for https and wss). A Host without a port
 * matches an origin on its scheme's default port: a TLS front end passes
 * Host as the client wrote it. "null", an unknown scheme or anything
 * malformed never matches.
 */
bool origin_same_host(const char *origin, size_t olen, const char *host, size_t hlen);

#endif
