/*
 * router/listen_sock: the bus's listening sockets, through bus_listen: what
 * it refuses to listen on, and tcp:// off loopback only with a bus key (the
 * tap never); listen_ipc's socket file modes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../router/listen_sock.h"
#include "bus_loop.h"

static void test_listen_errors(void)
{
	struct loop L;
	loop_bare(&L);
	CHECK("bus listen: unknown scheme refused", bus_listen(&L.b, "foo://x", BUS_WORKERS) == -1);
	char url[300] = "ipc:///tmp/";
	memset(url + 11, 'a', 200);
	url[211] = 0;
	CHECK("bus listen: ipc path too long for sockaddr_un refused", bus_listen(&L.b, url, BUS_WORKERS) == -1);
	CHECK("bus listen: tcp without a port refused", bus_listen(&L.b, "tcp://127.0.0.1", BUS_WORKERS) == -1);
	CHECK("bus listen: failures leave no listener", L.b.nlisteners == 0);
	int ok = 0;
	for (int i = 0; i < BUS_MAX_LISTENERS; i++)
		ok += bus_listen(&L.b, "tcp://127.0.0.1:0", BUS_TAP) == 0;
	CHECK("bus listen: one past BUS_MAX_LISTENERS refused",
	      ok == BUS_MAX_LISTENERS && bus_listen(&L.b, "tcp://127.0.0.1:0", BUS_TAP) == -1);
	loop_close(&L);
}

static void test_auth_listen(void)
{
	struct loop L;
	loop_bare(&L);
	CHECK("bus auth: without a key, tcp:// off loopback is refused",
	      bus_listen(&L.b, "tcp://0.0.0.0:0", BUS_WORKERS) == -1 && bus_listen(&L.b, "tcp://*:0", BUS_WORKERS) == -1);
	CHECK("bus auth: without a key, loopback tcp:// is allowed", bus_listen(&L.b, "tcp://127.0.0.1:0", BUS_WORKERS) == 0);
	bus_set_key(&L.b, auth_key);
	CHECK("bus auth: with a key, tcp:// off loopback is allowed", bus_listen(&L.b, "tcp://0.0.0.0:0", BUS_WORKERS) == 0);
	CHECK("bus auth: the tap (no authentication) is never offered off loopback",
	      bus_listen(&L.b, "tcp://0.0.0.0:0", BUS_TAP) == -1 && bus_listen(&L.b, "tcp://127.0.0.1:0", BUS_TAP) == 0);
	loop_close(&L);
}

/* the file has the mode asked for, whatever the umask, and a stale one is replaced */
static void test_ipc_modes(void)
{
	char dir[] = "/tmp/sb-unit-ipc.XXXXXX", path[64];
	CHECK("listen_ipc: scratch dir", mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/s.ipc", dir);
	mode_t old = umask(0);
	const mode_t modes[] = {0660, 0600};
	for (int i = 0; i < 2; i++) {
		int fd = listen_ipc(path, modes[i], (gid_t)-1);
		struct stat st;
		char what[96];
		snprintf(what, sizeof what, "listen_ipc: socket file made %04o under umask 0%s", (unsigned)modes[i],
			 i ? ", over a stale one" : "");
		CHECK(what, fd >= 0 && stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == modes[i]);
		if (fd >= 0)
			close(fd);
	}
	umask(old);
	unlink(path);
	rmdir(dir);
}

void test_listen_sock(void)
{
	test_listen_errors();
	test_auth_listen();
	test_ipc_modes();
}
