/* worker/peers: source address groups and counts for --max-per-ip. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "../../common/hmap.h"
#include "../../worker/peers.h"
#include "check.h"

static struct peer_key key_of(const char *addr)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t len;
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &in6->sin6_addr);
		len = sizeof *in6;
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &in->sin_addr);
		len = sizeof *in;
	}
	struct peer_key k;
	peer_key_of(&ss, len, &k);
	return k;
}

static bool same(const char *a, const char *b)
{
	struct peer_key x = key_of(a), y = key_of(b);
	return x.len == y.len && memcmp(x.b, y.b, x.len) == 0;
}

static void test_groups(void)
{
	CHECK("peers: IPv4 addresses count one by one", !same("192.0.2.1", "192.0.2.2"));
	CHECK("peers: one IPv4 address is one group", same("127.0.0.1", "127.0.0.1"));
	CHECK("peers: IPv6 addresses in one /64 are one group", same("2001:db8::1", "2001:db8::ffff:1:2:3"));
	CHECK("peers: another /64 is another group", !same("2001:db8::1", "2001:db8:0:1::1"));
	CHECK("peers: an IPv4-mapped IPv6 address is its IPv4 address", same("::ffff:192.0.2.7", "192.0.2.7"));
	CHECK("peers: IPv4 0.0.0.1 is not IPv6 ::1", !same("0.0.0.1", "::1"));
	char s[80];
	struct peer_key k = key_of("2001:db8:1:2:3:4:5:6");
	peer_key_format(&k, s, sizeof s);
	CHECK("peers: an IPv6 group is logged as its /64", strcmp(s, "2001:db8:1:2::/64") == 0);
	struct sockaddr_storage un = {.ss_family = AF_UNIX};
	peer_key_of(&un, sizeof un, &k);
	CHECK("peers: no address, no group", k.len == 0);
}

static void test_counts(void)
{
	struct hmap m;
	hmap_init(&m);
	struct peer_key a = key_of("198.51.100.1"), b = key_of("198.51.100.2");
	bool ok = true;
	for (int i = 0; i < 3; i++)
		ok = ok && peers_take(&m, &a, 3);
	CHECK("peers: up to the cap is taken", ok);
	CHECK("peers: over the cap is refused", !peers_take(&m, &a, 3));
	CHECK("peers: another address has its own count", peers_take(&m, &b, 3));
	peers_release(&m, &a);
	CHECK("peers: a released slot can be taken again", peers_take(&m, &a, 3));
	CHECK("peers: and the cap holds again", !peers_take(&m, &a, 3));
	for (int i = 0; i < 3; i++)
		peers_release(&m, &a);
	peers_release(&m, &b);
	CHECK("peers: groups with no connection are forgotten", m.count == 0);
	struct peer_key none = {0};
	CHECK("peers: no address is never capped", peers_take(&m, &none, 1) && peers_take(&m, &none, 1) && m.count == 0);
	CHECK("peers: a cap of 0 is no cap", peers_take(&m, &a, 0));
	hmap_free(&m);
}

void test_peers(void)
{
	test_groups();
	test_counts();
}
