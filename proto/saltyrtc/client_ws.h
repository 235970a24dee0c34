/*
 * A blocking WebSocket client for switchboard-salty: ws:// and wss://
 * (OpenSSL, certificate and host name verified), the RFC 6455 opening
 * handshake with one subprotocol, masked frames out, and binary messages,
 * pings and close in. One connection, one thread.
 */
#ifndef SB_SALTY_CLIENT_WS_H
#define SB_SALTY_CLIENT_WS_H
#include <stddef.h>
#include <stdint.h>

#define WSC_CONNECT_TIMEOUT 30 /* seconds for connect, TLS and the upgrade each */
#define WSC_MAX_MESSAGE (4u << 20) /* larger messages from the server: close 1009 */

struct wsc;

/* url: ws[s]://host[:port][/prefix]; path_suffix is appended after the
 * prefix's "/". NULL with a message in err on failure. */
struct wsc *wsc_connect(const char *url, const char *path_suffix, const char *subprotocol, const char *ca_file,
			char *err, size_t errlen);
int wsc_fd(const struct wsc *w);
/* Whether bytes already read wait in the TLS layer (poll would not say so). */
int wsc_pending(const struct wsc *w);
int wsc_send_binary(struct wsc *w, const uint8_t *p, size_t n);
/* Sends a close frame with code (once); the connection stays open to read the reply. */
int wsc_send_close(struct wsc *w, uint16_t code);

enum wsc_status { WSC_OK = 0, WSC_CLOSED = 1, WSC_ERROR = -1 };
/*
 * Reads what has arrived; on_message runs for each complete binary message.
 * WSC_CLOSED: the server's close frame came (its code in *code, 1005 when
 * none) or the connection ended (1006); WSC_ERROR: a protocol error, err says.
 */
enum wsc_status wsc_read(struct wsc *w, void (*on_message)(void *ctx, const uint8_t *p, size_t n), void *ctx,
			 uint16_t *code, char *err, size_t errlen);
void wsc_free(struct wsc *w);

#endif
