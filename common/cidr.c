/* Address ranges for allow-lists (cidr.h). */
#include "cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* The 16-byte form of a printable address; -1 when it is none. */
static int to16(const char *text, uint8_t out[16], bool *v4)
{
	struct in_addr a4;
	*v4 = inet_pton(AF_INET, text, &a4) == 1;
	if (*v4) {
		memcpy(out, v4_prefix, 12);
		memcpy(out + 12, &a4, 4);
		return 0;
	}
	return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

int cidr_parse(const char *text, struct cidr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t hl = slash ? (size_t)(slash - text) : strlen(text);
	if (hl == 0 || hl >= sizeof host)
		return -1;
	memcpy(host, text, hl);
	host[hl] = 0;
	bool v4;
	if (to16(host, out->addr, &v4) < 0)
		return -1;
	int max = v4 ? 32 : 128, bits = max;
	if (slash) {
		char *end;
		long n = strtol(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end || n < 0 || n > max)
			return -1;
		bits = (int)n;
	}
	out->bits = v4 ? bits + 96 : bits;
	return 0;
}

static bool match16(const struct cidr *c, const uint8_t a[16])
{
	int full = c->bits / 8, rest = c->bits % 8;
	if (memcmp(c->addr, a, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (a[full] & mask);
}

bool cidr_match(const struct cidr *c, const struct sockaddr_storage *sa)
{
	uint8_t a[16];
	if (sa->ss_family == AF_INET) {
		memcpy(a, v4_prefix, 12);
		memcpy(a + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->ss_family == AF_INET6) {
		memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else {
		return false;
	}
	return match16(c, a);
}

bool cidr_any(const struct cidr *ranges, int n, int family, const uint8_t *addr)
{
	uint8_t a[16];
	if (family == AF_INET) {
		memcpy(a, v4_prefix, 12);
		memcpy(a + 12, addr, 4);
	} else if (family == AF_INET6) {
		memcpy(a, addr, 16);
	} else {
		return false;
	}
	for (int i = 0; i < n; i++)
		if (match16(&ranges[i], a))
			return true;
	return false;
}

bool cidr_match_text(const struct cidr *c, const char *addr)
{
	uint8_t a[16];
	bool v4;
	return to16(addr, a, &v4) == 0 && match16(c, a);
}

int cidr_addr_text(const struct sockaddr_storage *sa, char *out, size_t cap)
{
	if (sa->ss_family == AF_INET)
		return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap) ? 0 : -1;
	if (sa->ss_family != AF_INET6)
		return -1;
	const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	if (memcmp(b, v4_prefix, 12) == 0)
		return inet_ntop(AF_INET, b + 12, out, (socklen_t)cap) ? 0 : -1;
	return inet_ntop(AF_INET6, b, out, (socklen_t)cap) ? 0 : -1;
}
