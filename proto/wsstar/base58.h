/*
 * base58btc (the Bitcoin alphabet), as libp2p writes peer ids. Quadratic
 * in the length, so only for short inputs: peer ids are at most a few
 * dozen bytes, and callers bound what they pass (B58_MAX_BYTES).
 */
#ifndef SB_WSSTAR_BASE58_H
#define SB_WSSTAR_BASE58_H
#include <stddef.h>
#include <stdint.h>

/* Longest binary value encoded or decoded (a 64-byte digest multihash fits). */
#define B58_MAX_BYTES 128
/* Characters needed to encode B58_MAX_BYTES bytes (log 256 / log 58 ~ 1.366), NUL included. */
#define B58_MAX_CHARS 176

/* Writes the NUL-terminated text into out; its length, or -1 when n >
 * B58_MAX_BYTES or cap is too small. */
int b58_encode(const uint8_t *in, size_t n, char *out, size_t cap);
/* Decodes n characters; the byte count, or -1 on a character outside the
 * alphabet, an empty input, or a result longer than cap. */
int b58_decode(const char *in, size_t n, uint8_t *out, size_t cap);

#endif
