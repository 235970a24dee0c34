/* router/allowfrom.c: --allow-from, on real loopback sockets (127.0.0.0/8 is all on lo). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../router/allowfrom.h"
#include "check.h"

/* Connects from `from` to a fresh listener on 127.0.0.1 and says whether the
 * accepted socket passes the check; -1 when the sockets could not be made. */
static int accepted_from(const char *from)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), a = -1, ok = -1;
	struct sockaddr_in sa = {.sin_family = AF_INET}, src = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	inet_pton(AF_INET, from, &src.sin_addr);
	if (l >= 0 && c >= 0 && bind(l, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(l, 1) == 0 &&
	    getsockname(l, (struct sockaddr *)&sa, &len) == 0 && bind(c, (struct sockaddr *)&src, sizeof src) == 0 &&
	    connect(c, (struct sockaddr *)&sa, sizeof sa) == 0 && (a = accept(l, NULL, NULL)) >= 0)
		ok = allow_from_peer_ok(a);
	if (a >= 0)
		close(a);
	if (c >= 0)
		close(c);
	if (l >= 0)
		close(l);
	return ok;
}

void test_allowfrom(void)
{
	char err[400] = "";
	CHECK("allow-from: without a list, loopback peers only", allow_from_setup(NULL) == 0 &&
										accepted_from("127.0.0.1") == 1);
	CHECK("allow-from: without a list, a loopback bus listens",
	      allow_from_listen_ok("tcp://127.0.0.1:7000", err, sizeof err) &&
		      allow_from_listen_ok("tcp://[::1]:7000", err, sizeof err) &&
		      allow_from_listen_ok("ipc:///tmp/bus.ipc", err, sizeof err));
	CHECK("allow-from: without a list, a bus off loopback does not, and says why",
	      !allow_from_listen_ok("tcp://10.0.0.1:7000", err, sizeof err) && strstr(err, "--allow-from") &&
		      !allow_from_listen_ok("tcp://*:7000", err, sizeof err) &&
		      !allow_from_listen_ok("tcp://0.0.0.0:7000", err, sizeof err));
	const char *v[] = {"10.0.0.0/8", "127.0.0.2/32"};
	struct opt_list list = {.v = v, .n = 2};
	uint64_t before = allow_from_refused();
	CHECK("allow-from: a listed address passes, others are refused (loopback too, once a list is given)",
	      allow_from_setup(&list) == 0 && accepted_from("127.0.0.2") == 1 && accepted_from("127.0.0.1") == 0 &&
		      accepted_from("127.0.0.3") == 0);
	CHECK("allow-from: refusals counted", allow_from_refused() == before + 2);
	CHECK("allow-from: with a list, a bus off loopback listens",
	      allow_from_listen_ok("tcp://10.0.0.1:7000", err, sizeof err));
	const char *bad[] = {"10.0.0.0/33"};
	struct opt_list badlist = {.v = bad, .n = 1};
	CHECK("allow-from: a bad range is refused", allow_from_setup(&badlist) < 0);
	allow_from_setup(NULL);
}
