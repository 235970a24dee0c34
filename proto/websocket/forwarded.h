/*
 * X-Forwarded-For from trusted front ends (nginx's proxy_add_x_forwarded_for):
 * which address in the header is the client's. Trust is by address block
 * (--trust-proxy ADDR[/BITS]); a header from anyone else is ignored, since
 * any client can send one.
 */
#ifndef SB_WS_FORWARDED_H
#define SB_WS_FORWARDED_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	int bits;
};

/* "192.0.2.0/24", "2001:db8::/32", or an address alone (all its bits); -1 when malformed. */
int cidr_parse(const char *s, struct cidr *out);
/* Whether addr (4 or 16 bytes, by family) is in one of the blocks. */
bool cidr_match(const struct cidr *blocks, int n, int family, const uint8_t *addr);

/*
 * The client in an X-Forwarded-For value, read from the right: each front
 * end appends the address it got the request from, so the rightmost
 * address that is not a trusted front end's is the client's (those left of
 * it could be anything the client wrote). Copied to out as text; -1 when
 * the header holds no such address or a malformed entry is met first.
 */
int forwarded_client(const char *value, size_t n, const struct cidr *trusted, int ntrusted, char *out,
		     size_t cap);

#endif
