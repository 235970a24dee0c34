/* The WebSocket opening handshake on top of a parsed HTTP request (RFC 6455 4.2). */
#ifndef SB_HANDSHAKE_H
#define SB_HANDSHAKE_H
#include <stdbool.h>

#include "../../common/buf.h"
#include "http.h"

#define WS_ACCEPT_LEN 28

/*
 * Checks the upgrade headers. 0 when acceptable; otherwise the HTTP status
 * to answer (405 not GET, 426 no Upgrade: websocket or a version other than
 * 13, 400 missing Connection: Upgrade / Host / a valid Sec-WebSocket-Key),
 * with *why set to a one-line reason.
 */
int ws_handshake_check(const struct http_request *req, const char **why);
/* base64(SHA-1(key + GUID)), NUL-terminated. */
void ws_accept_key(const char *key, size_t keylen, char out[WS_ACCEPT_LEN + 1]);
bool ws_client_offers_subprotocol(const struct http_request *req, const char *name);
/* Appends the 101 response; subprotocol may be NULL. */
void ws_upgrade_response(struct buf *out, const struct http_request *req, const char *subprotocol);
/* Extra headers that go with a refusal of status (426 names our version). */
const char *ws_refusal_headers(int status);

#endif
