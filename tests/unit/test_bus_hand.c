/*
 * worker/bus_hand: the supervisor dials the router for a worker and hands it
 * the connection; each new one shuts the last down (one bus connection per
 * worker), requests closer than 20 ms are refused, and a worker that hangs
 * up is noticed. A real unix listener stands in for the router.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../worker/bus_hand.h"
#include "check.h"

/* The worker's side: one request, and the answer's descriptor (-1: none). */
static int ask(struct bus_hand *h, int child, bool *answered)
{
	*answered = false;
	if (write(child, "d", 1) != 1 || bus_hand_serve(h) < 0)
		return -1;
	char ok;
	struct iovec iov = {&ok, 1};
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } cm;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b};
	if (recvmsg(child, &msg, MSG_DONTWAIT) != 1)
		return -1;
	*answered = true;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	int fd = -1;
	if (c && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return ok == 'y' ? fd : -1;
}

/* true once the peer of fd has shut the connection down */
static bool is_closed(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char b;
	return poll(&p, 1, 1000) == 1 && read(fd, &b, 1) == 0;
}

static int refusals, last_refusal;
static void note_refusal(int status)
{
	refusals++;
	last_refusal = status;
}

void test_bus_hand(void)
{
	char dir[] = "/tmp/sb-unit-XXXXXX", url[128];
	CHECK("bus_hand: a temp dir", mkdtemp(dir) != NULL);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s/bus.ipc", dir);
	snprintf(url, sizeof url, "ipc://%s", sun.sun_path);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK("bus_hand: a listener for the router",
	      lfd >= 0 && bind(lfd, (struct sockaddr *)&sun, sizeof sun) == 0 && listen(lfd, 8) == 0);
	CHECK("bus_hand: a bad URL is refused", bus_hand_setup("http://x") < 0);
	CHECK("bus_hand: the router URL parses", bus_hand_setup(url) == 0);
	struct bus_hand h;
	int child = -1;
	CHECK("bus_hand: a socketpair for the worker", bus_hand_open(&h, &child) == 0);
	bool answered;
	int c1 = ask(&h, child, &answered);
	int a1 = accept(lfd, NULL, NULL);
	CHECK("bus_hand: a request is answered with a connection to the router", c1 >= 0 && a1 >= 0);
	CHECK("bus_hand: the handed connection carries bytes", write(c1, "x", 1) == 1 && read(a1, &(char){0}, 1) == 1);
	int c2 = ask(&h, child, &answered);
	CHECK("bus_hand: a request within 20 ms is answered without one", answered && c2 < 0);
	CHECK("bus_hand: ... and the router sees the last one shut down", is_closed(a1));
	usleep(30000);
	int c3 = ask(&h, child, &answered);
	int a3 = accept(lfd, NULL, NULL);
	CHECK("bus_hand: later, a new connection", c3 >= 0 && a3 >= 0);
	bus_hand_on_refusal = note_refusal;
	bool quiet = write(child, "r404", 4) == 4 && write(child, "r4x4", 4) == 4 && write(child, "r200", 4) == 4 &&
		     bus_hand_serve(&h) == 0 && recv(child, &(char){0}, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
	CHECK("bus_hand: a worker's refusal (rNNN, 400-599) is counted and not answered",
	      quiet && refusals == 1 && last_refusal == 404);
	bus_hand_on_refusal = NULL;
	close(child);
	CHECK("bus_hand: a worker that hangs up is noticed", bus_hand_serve(&h) < 0);
	bus_hand_close(&h);
	CHECK("bus_hand: closing shuts the worker's last connection down", is_closed(a3));
	int fds[] = {c1, a1, c3, a3, lfd};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	unlink(sun.sun_path);
	rmdir(dir);
}
