/* Runs every unit test group; prints one line per check. */
#include <string.h>

#include "check.h"

int check_passed, check_failed;

#define GROUPS(X) X(utf8) X(http) X(frame) X(ws) X(json) X(mp) X(buf) X(sp) X(sandbox) X(bus_hand) X(listener) \
	X(static) X(options) X(store) \
	X(galene_password) X(galene_groupfile) X(galene_jwt) \
	X(eio) X(p2pkey) X(peers)
#define DECLARE(g) void test_##g(void);
GROUPS(DECLARE)

int main(int argc, char **argv)
{
#define RUN(g) if (argc < 2 || strcmp(argv[1], #g) == 0) test_##g();
	GROUPS(RUN)
	printf("# unit: %d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}
