/*
 * SHA-1 and base64, just for Sec-WebSocket-Accept. Written here (FIPS 180-4,
 * RFC 4648) because linking OpenSSL's libcrypto for these two calls cost
 * every worker 404 KB of private relocated pages (measured with smaps),
 * more than a worker's whole memory budget.
 */
#ifndef SB_SHA1_H
#define SB_SHA1_H
#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN 20

void sha1(const void *data, size_t len, uint8_t out[SHA1_LEN]);
/* Writes base64 of n bytes plus a NUL into out (4 * ceil(n/3) + 1 bytes). */
void base64_encode(const uint8_t *in, size_t n, char *out);

#endif
