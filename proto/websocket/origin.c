/*
 * Origin against Host (origin.h): both split into host and port, then
 * compared. Nothing is copied: the parts are spans of the two headers.
 */
#include "origin.h"

#include <string.h>
#include <strings.h>

struct authority {
	const char *host;
	size_t host_len;
	long port; /* -1: none given */
};

/* "host[:port]" or "[v6]:port"; false when malformed. */
static bool split_authority(const char *p, size_t n, struct authority *a)
{
	size_t host_end;
	if (n > 0 && p[0] == '[') {
		const char *close = memchr(p, ']', n);
		if (!close)
			return false;
		host_end = (size_t)(close - p) + 1;
	} else {
		const char *colon = memchr(p, ':', n);
		host_end = colon ? (size_t)(colon - p) : n;
	}
	if (host_end == 0)
		return false;
	for (size_t i = 0; i < host_end; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == '/' || p[i] == '@' || p[i] == '?' || p[i] == '#')
			return false;
	a->host = p;
	a->host_len = host_end;
	a->port = -1;
	if (host_end == n)
		return true;
	if (p[host_end] != ':' || host_end + 1 == n || n - host_end - 1 > 5)
		return false;
	long port = 0;
	for (size_t i = host_end + 1; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		port = port * 10 + (p[i] - '0');
	}
	if (port < 1 || port > 65535)
		return false;
	a->port = port;
	return true;
}

static long default_port(const char *scheme, size_t n)
{
	if ((n == 4 && strncasecmp(scheme, "http", 4) == 0) || (n == 2 && strncasecmp(scheme, "ws", 2) == 0))
		return 80;
	if ((n == 5 && strncasecmp(scheme, "https", 5) == 0) || (n == 3 && strncasecmp(scheme, "wss", 3) == 0))
		return 443;
	return -1;
}

bool origin_same_host(const char *origin, size_t olen, const char *host, size_t hlen)
{
	const char *sep = olen >= 3 ? memchr(origin, ':', olen) : NULL;
	if (!sep || (size_t)(sep - origin) + 3 > olen || sep[1] != '/' || sep[2] != '/')
		return false;
	long def = default_port(origin, (size_t)(sep - origin));
	const char *auth = sep + 3;
	struct authority o, h;
	if (def < 0 || !split_authority(auth, olen - (size_t)(auth - origin), &o) || !split_authority(host, hlen, &h))
		return false;
	if (o.host_len != h.host_len || strncasecmp(o.host, h.host, o.host_len) != 0)
		return false;
	long oport = o.port < 0 ? def : o.port;
	return h.port < 0 ? oport == def : h.port == oport;
}
