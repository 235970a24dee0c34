/*
 * The PROXY protocol (HAProxy's, versions 1 and 2) that a TCP front end
 * (haproxy, stunnel, nginx's stream module) may put before the client's
 * bytes to pass on the client's address: parsed once, at the start of a
 * connection, when --proxy-protocol is given.
 */
#ifndef SB_WS_PROXY_H
#define SB_WS_PROXY_H
#include <stddef.h>
#include <stdint.h>

/* v1 is at most 107 bytes; v2 is 16 bytes and an address block, of which
 * we take up to PROXY_V2_MAX_BLOCK (TLVs included: 536 bytes in all, the
 * buffer size the specification recommends). */
#define PROXY_V1_MAX 107
#define PROXY_V2_MAX_BLOCK 520

struct proxy_info {
	int version;   /* 1 or 2 */
	int family;    /* AF_INET, AF_INET6, or 0: no address (v1 UNKNOWN, v2 LOCAL or UNSPEC) */
	char src[46];  /* the client's address as text (INET6_ADDRSTRLEN) */
	uint16_t src_port;
};

/*
 * The header at the start of p: its length (> 0) when complete and valid,
 * 0 when more bytes are needed (every byte so far could still start a
 * valid header), -1 when it is not a valid header.
 */
int proxy_parse(const uint8_t *p, size_t n, struct proxy_info *out);

#endif
