/*
 * Address ranges for allow-lists (--metrics-allow, --trust-proxy): an
 * IPv4 or IPv6 address with an optional /prefix. IPv4-mapped IPv6
 * addresses (::ffff:a.b.c.d) match IPv4 ranges.
 */
#ifndef SB_CIDR_H
#define SB_CIDR_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d */
	int bits;         /* prefix over the 128 bits */
};

/* 0, or -1 when text is not ADDR or ADDR/N. */
int cidr_parse(const char *text, struct cidr *out);
/* Whether the address (AF_INET or AF_INET6 sockaddr) is in range c. */
bool cidr_match(const struct cidr *c, const struct sockaddr_storage *sa);
/* Whether addr (4 bytes for AF_INET, 16 for AF_INET6) is in one of n ranges. */
bool cidr_any(const struct cidr *ranges, int n, int family, const uint8_t *addr);
/* Whether the printable address text is in range c (false if not an address). */
bool cidr_match_text(const struct cidr *c, const char *addr);
/* The printable address of sa ("127.0.0.1", "::1"; mapped IPv4 as IPv4) into out. */
int cidr_addr_text(const struct sockaddr_storage *sa, char *out, size_t cap);

#endif
