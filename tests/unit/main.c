/* Runs every unit test group; prints one line per check. */
#include <string.h>

#include "check.h"

int check_passed, check_failed;

#define GROUPS(X) X(utf8) X(http) X(frame) X(ws) X(json) X(mp) X(buf) X(sp) X(sp_conn) X(bulk) X(buscredit) X(sandbox) X(bus_hand) X(log) X(listen_sock) X(listener) \
	X(static) X(options) X(config) X(store) \
	X(galene_password) X(galene_groupfile) X(galene_jwt) X(galene_msg) X(galene_http) X(galene_ticket) \
	X(eio) X(p2pkey) X(peers) X(salty) X(salty_client) X(origin) X(proxy) X(forwarded) X(cidr) X(allowfrom) X(memtrim) X(heaptrim) X(dirty)
#define DECLARE(g) void test_##g(void);
GROUPS(DECLARE)

int main(int argc, char **argv)
{
#define RUN(g) if (argc < 2 || strcmp(argv[1], #g) == 0) test_##g();
	GROUPS(RUN)
	printf("# unit: %d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}
