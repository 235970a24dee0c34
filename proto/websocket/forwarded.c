/*
 * X-Forwarded-For and the trusted blocks (forwarded.h). Entries are
 * addresses separated by commas and optional spaces; an IPv6 address may
 * come in brackets, an IPv4 one with a port (some front ends add it).
 */
#include "forwarded.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* An address as text: its family and bytes; false when it is none. */
static bool parse_ip(const char *s, size_t n, int *family, uint8_t *addr)
{
	char tmp[64];
	if (n > 1 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	if (inet_pton(AF_INET, tmp, addr) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, tmp, addr) == 1) {
		*family = AF_INET6;
		return true;
	}
	return false;
}

int cidr_parse(const char *s, struct cidr *out)
{
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	if (!parse_ip(s, n, &out->family, out->addr))
		return -1;
	int max = out->family == AF_INET ? 32 : 128;
	out->bits = max;
	if (slash) {
		char *end;
		long b = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || b < 0 || b > max)
			return -1;
		out->bits = (int)b;
	}
	return 0;
}

static bool in_block(const struct cidr *c, int family, const uint8_t *addr)
{
	if (c->family != family)
		return false;
	int full = c->bits / 8, rest = c->bits % 8;
	if (memcmp(c->addr, addr, (size_t)full) != 0)
		return false;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return rest == 0 || (c->addr[full] & mask) == (addr[full] & mask);
}

bool cidr_match(const struct cidr *blocks, int n, int family, const uint8_t *addr)
{
	for (int i = 0; i < n; i++)
		if (in_block(&blocks[i], family, addr))
			return true;
	return false;
}

/* One entry without its spaces; an IPv4 "a.b.c.d:port" loses the port. */
static bool entry_ip(const char *s, size_t n, int *family, uint8_t *addr)
{
	while (n > 0 && (s[0] == ' ' || s[0] == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (parse_ip(s, n, family, addr))
		return true;
	const char *colon = memchr(s, ':', n);
	if (colon && !memchr(colon + 1, ':', n - (size_t)(colon - s) - 1))
		return parse_ip(s, (size_t)(colon - s), family, addr) && *family == AF_INET;
	return false;
}

int forwarded_client(const char *value, size_t n, const struct cidr *trusted, int ntrusted, char *out,
		     size_t cap)
{
	size_t end = n;
	for (int entries = 0; entries < 64; entries++) { /* a bound on work per request */
		size_t start = end;
		while (start > 0 && value[start - 1] != ',')
			start--;
		int family;
		uint8_t addr[16];
		if (!entry_ip(value + start, end - start, &family, addr))
			return -1;
		if (!cidr_match(trusted, ntrusted, family, addr))
			return inet_ntop(family, addr, out, (socklen_t)cap) ? 0 : -1;
		if (start == 0)
			return -1; /* every address is a front end's */
		end = start - 1;
	}
	return -1;
}
