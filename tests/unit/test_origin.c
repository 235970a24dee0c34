/* The Origin-against-Host check of an upgrade (proto/websocket/origin.c). */
#include <string.h>

#include "../../proto/websocket/origin.h"
#include "check.h"

static bool same(const char *origin, const char *host)
{
	return origin_same_host(origin, strlen(origin), host, strlen(host));
}

void test_origin(void)
{
	CHECK("origin: same host and port", same("http://127.0.0.1:8080", "127.0.0.1:8080"));
	CHECK("origin: host compared without case", same("http://Example.COM:8080", "example.com:8080"));
	CHECK("origin: another port is another origin", !same("http://127.0.0.1:8081", "127.0.0.1:8080"));
	CHECK("origin: another host is another origin", !same("http://evil.example:8080", "127.0.0.1:8080"));
	CHECK("origin: a suffix is not the host", !same("http://xexample.com", "example.com"));
	CHECK("origin: the scheme's default port matches a Host without one", same("https://example.com", "example.com"));
	CHECK("origin: ... and the default written out", same("https://example.com:443", "example.com"));
	CHECK("origin: http's default port is 80", same("http://example.com", "example.com:80"));
	CHECK("origin: https origin against Host :80 is another port", !same("https://example.com", "example.com:80"));
	CHECK("origin: a non-default port against a Host without one", !same("http://example.com:8080", "example.com"));
	CHECK("origin: IPv6 literal", same("http://[::1]:8080", "[::1]:8080"));
	CHECK("origin: IPv6 literal, other port", !same("http://[::1]:8080", "[::1]:8081"));
	CHECK("origin: null never matches", !same("null", "null"));
	CHECK("origin: an unknown scheme never matches", !same("file://example.com", "example.com"));
	CHECK("origin: a path is not an origin", !same("http://example.com/x", "example.com"));
	CHECK("origin: user info is not an origin", !same("http://a@example.com", "example.com"));
	CHECK("origin: empty host", !same("http://", ""));
	CHECK("origin: bad port", !same("http://example.com:99999", "example.com:99999"));
	CHECK("origin: port with letters", !same("http://example.com:8o", "example.com:8o"));
	CHECK("origin: empty port", !same("http://example.com:", "example.com:"));
	CHECK("origin: unclosed IPv6", !same("http://[::1", "[::1"));
}
