/*
 * The floor under tests/bench/proto-wsstar.sh's echo round trip: servers
 * that do nothing but move bytes, for the same C client
 * (tests/bench/wsstar_relay.c in its "floor" mode: the echo's frames without
 * the rendezvous). It accepts two TCP connections on 127.0.0.1:PORT, the
 * client's A and B, and forwards what one sends to the other, unchanged:
 *   1: one process reads A and writes B and the other way (as the reference
 *      rendezvous, one process, with no parsing at all);
 *   3: three processes, as switchboard's worker -> router -> worker: one per
 *      connection and one in the middle, joined by unix stream sockets (two
 *      hops each way, each a wake-up and a copy).
 * What the client measures through these is its own loopback and the wake-ups
 * of that shape, not anything a server computes.
 *
 *   wsstar_floor PORT 1|3   (runs until killed; "listening" on stdout when ready)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "wsstar_floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Copies what is readable on from to to, blocking on the write; 0 at EOF. */
static int pass(int from, int to)
{
	static char b[1 << 17];
	ssize_t r = read(from, b, sizeof b);
	if (r < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	for (ssize_t off = 0; off < r;) {
		ssize_t w = write(to, b + off, (size_t)(r - off));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0;
		off += w;
	}
	return r > 0;
}

/* Forwards both ways between x and y until either ends. */
static void relay(int x, int y)
{
	for (;;) {
		struct pollfd p[2] = {{x, POLLIN, 0}, {y, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if ((p[0].revents && !pass(x, y)) || (p[1].revents && !pass(y, x)))
			return;
	}
}

static int accept_one(int l)
{
	int one = 1, c = accept(l, NULL, NULL);
	if (c < 0)
		die("accept");
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return c;
}

/* A child that relays x and y, closing the parent's other ends. */
static pid_t spawn_relay(int x, int y, int close1, int close2)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* the bench stops the parent only */
		close(close1);
		close(close2);
		relay(x, y);
		_exit(0);
	}
	return pid;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[2], "1") && strcmp(argv[2], "3"))) {
		fprintf(stderr, "usage: wsstar_floor PORT 1|3\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1, l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 16) < 0)
		die("listen");
	printf("listening\n");
	fflush(stdout);
	for (;;) { /* one client pair after the other */
		int a = accept_one(l), b = accept_one(l);
		if (argv[2][0] == '1') {
			relay(a, b);
		} else {
			int ua[2], ub[2];
			if (socketpair(AF_UNIX, SOCK_STREAM, 0, ua) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, ub) < 0)
				die("socketpair");
			pid_t pa = spawn_relay(a, ua[0], ub[0], ub[1]);
			pid_t pb = spawn_relay(b, ub[0], ua[0], ua[1]);
			close(ua[0]);
			close(ub[0]);
			relay(ua[1], ub[1]); /* the middle: a router that routes nothing */
			close(ua[1]);
			close(ub[1]);
			kill(pa, SIGTERM);
			kill(pb, SIGTERM);
			waitpid(pa, NULL, 0);
			waitpid(pb, NULL, 0);
		}
		close(a);
		close(b);
	}
}
