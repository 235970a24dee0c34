/* X-Forwarded-For from trusted front ends and the address blocks
 * (proto/websocket/forwarded.c). */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "../../proto/websocket/forwarded.h"
#include "check.h"

static struct cidr blocks[3];

static const char *client(const char *xff)
{
	static char out[48];
	return forwarded_client(xff, strlen(xff), blocks, 3, out, sizeof out) == 0 ? out : NULL;
}

static bool str_is(const char *a, const char *b) { return a && strcmp(a, b) == 0; }

static bool in(const char *addr)
{
	uint8_t b[16];
	int af = strchr(addr, ':') ? AF_INET6 : AF_INET;
	return inet_pton(af, addr, b) == 1 && cidr_match(blocks, 3, af, b);
}

void test_forwarded(void)
{
	struct cidr c;
	CHECK("cidr: an address alone is all its bits", cidr_parse("192.0.2.1", &c) == 0 && c.bits == 32);
	CHECK("cidr: IPv6 block", cidr_parse("2001:db8::/32", &c) == 0 && c.family == AF_INET6 && c.bits == 32);
	CHECK("cidr: malformed ones", cidr_parse("192.0.2.0/33", &c) < 0 && cidr_parse("192.0.2.0/", &c) < 0 &&
	      cidr_parse("192.0.2.0/8x", &c) < 0 && cidr_parse("nope", &c) < 0 && cidr_parse("", &c) < 0);
	cidr_parse("127.0.0.0/8", &blocks[0]);
	cidr_parse("10.1.2.3", &blocks[1]);
	cidr_parse("fd00::/8", &blocks[2]);
	CHECK("cidr: matches within the block", in("127.1.2.3") && in("10.1.2.3") && in("fd12::1"));
	CHECK("cidr: not outside", !in("128.0.0.1") && !in("10.1.2.4") && !in("fe00::1") && !in("::ffff:127.0.0.1"));
	CHECK("xff: the one address", str_is(client("203.0.113.7"), "203.0.113.7"));
	CHECK("xff: rightmost not trusted wins over what the client wrote",
	      str_is(client("1.1.1.1, 203.0.113.7, 10.1.2.3"), "203.0.113.7"));
	CHECK("xff: spaces and IPv6 in brackets", str_is(client(" [2001:db8::1] ,127.0.0.1"), "2001:db8::1"));
	CHECK("xff: IPv4 with a port", str_is(client("203.0.113.7:4242"), "203.0.113.7"));
	CHECK("xff: all trusted: none", client("127.0.0.1, 10.1.2.3") == NULL);
	CHECK("xff: a malformed entry before the client: none", client("203.0.113.7, junk") == NULL);
	CHECK("xff: empty: none", client("") == NULL && client(" , ") == NULL);
}
