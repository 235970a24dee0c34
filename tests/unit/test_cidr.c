/* common/cidr.c: the ranges of --metrics-allow and --trust-proxy. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "../../common/cidr.h"
#include "check.h"

static bool in(const char *range, const char *addr)
{
	struct cidr c;
	return cidr_parse(range, &c) == 0 && cidr_match_text(&c, addr);
}

static bool sockaddr_in_range(const char *range, int family, const char *addr)
{
	struct cidr c;
	struct sockaddr_storage ss = {0};
	ss.ss_family = (sa_family_t)family;
	void *dst = family == AF_INET ? (void *)&((struct sockaddr_in *)&ss)->sin_addr
				      : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
	return cidr_parse(range, &c) == 0 && inet_pton(family, addr, dst) == 1 && cidr_match(&c, &ss);
}

void test_cidr(void)
{
	struct cidr c;
	CHECK("cidr: IPv4 ranges", in("127.0.0.0/8", "127.1.2.3") && !in("127.0.0.0/8", "128.0.0.1") &&
					   in("10.0.0.0/9", "10.127.0.1") && !in("10.0.0.0/9", "10.128.0.1"));
	CHECK("cidr: a bare address is /32 or /128", in("192.0.2.1", "192.0.2.1") && !in("192.0.2.1", "192.0.2.2") &&
							  in("::1", "::1") && !in("::1", "::2"));
	CHECK("cidr: /0 takes every address of its family", in("0.0.0.0/0", "203.0.113.9") && in("::/0", "2001:db8::1"));
	CHECK("cidr: IPv6 ranges", in("2001:db8::/32", "2001:db8:ffff::1") && !in("2001:db8::/32", "2001:db9::1"));
	CHECK("cidr: IPv4-mapped IPv6 matches IPv4 ranges", in("127.0.0.0/8", "::ffff:127.0.0.1") &&
		sockaddr_in_range("127.0.0.0/8", AF_INET6, "::ffff:127.0.0.5"));
	CHECK("cidr: socket addresses", sockaddr_in_range("127.0.0.1/32", AF_INET, "127.0.0.1") &&
					    !sockaddr_in_range("127.0.0.1/32", AF_INET, "127.0.0.2") &&
					    sockaddr_in_range("::1", AF_INET6, "::1"));
	CHECK("cidr: malformed ranges refused",
	      cidr_parse("10.0.0.0/33", &c) < 0 && cidr_parse("::/129", &c) < 0 && cidr_parse("10.0.0.0/", &c) < 0 &&
		      cidr_parse("10.0.0.0/-1", &c) < 0 && cidr_parse("10.0.0.0/8x", &c) < 0 &&
		      cidr_parse("", &c) < 0 && cidr_parse("host.example", &c) < 0 && cidr_parse("/8", &c) < 0);
	CHECK("cidr: not an address never matches", !in("0.0.0.0/0", "localhost") && !in("::/0", ""));
	struct sockaddr_storage ss = {0};
	char text[64];
	ss.ss_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &((struct sockaddr_in6 *)&ss)->sin6_addr);
	CHECK("cidr: a mapped address prints as IPv4", cidr_addr_text(&ss, text, sizeof text) == 0 &&
							   strcmp(text, "10.1.2.3") == 0);
}
