/*
 * Dials the router for the workers and hands them the connections (see
 * bus_hand.h). One request is one byte on a SOCK_SEQPACKET socketpair; the
 * answer is one byte, with the new connection attached when the dial
 * started, without when it failed (the worker then backs off as after any
 * failed connect).
 *
 * A worker has one bus connection at a time: we keep a copy of the last one
 * we handed, and shut it down when the worker asks for the next or exits, so
 * a compromised worker cannot collect connections to pose as more workers.
 * Requests closer together than BUS_HAND_MIN_MS are refused for the same
 * reason (the worker's own backoff starts at 50 ms).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/log.h"
#include "../common/sp.h"
#include "bus_hand.h"

#define BUS_HAND_MIN_MS 20

static struct sp_addr router;
void (*bus_hand_on_refusal)(int status);

/* "rNNN": a worker's refusal, counted, not answered. */
static bool refusal_note(const char *m, ssize_t n)
{
	if (n != 4 || m[0] != 'r')
		return false;
	for (int i = 1; i < 4; i++)
		if (m[i] < '0' || m[i] > '9')
			return true; /* not a status: ignored */
	int status = (m[1] - '0') * 100 + (m[2] - '0') * 10 + (m[3] - '0');
	if (bus_hand_on_refusal && status >= 400 && status <= 599)
		bus_hand_on_refusal(status);
	return true;
}

int bus_hand_setup(const char *router_url) { return sp_addr_parse(router_url, &router); }

int bus_hand_open(struct bus_hand *h, int *child)
{
	int sv[2];
	h->ctl = h->handed = -1;
	h->last_dial = 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	h->ctl = sv[0];
	*child = sv[1];
	return 0;
}

/* A connect started towards the router, or -1. */
static int dial(void)
{
	int fd = socket(router.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (router.transport == SP_TCP) {
		int one = 1;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
			log_debug("TCP_NODELAY: %s", strerror(errno));
	}
	sp_set_sndbuf(fd);
	if (connect(fd, (const struct sockaddr *)&router.sa, router.salen) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void drop_handed(struct bus_hand *h)
{
	if (h->handed < 0)
		return;
	shutdown(h->handed, SHUT_RDWR); /* the worker's copy dies with ours */
	close(h->handed);
	h->handed = -1;
}

static int answer(struct bus_hand *h)
{
	drop_handed(h);
	int64_t now = clock_ms();
	int fd = now - h->last_dial >= BUS_HAND_MIN_MS ? dial() : -1;
	if (fd >= 0)
		h->last_dial = now;
	char ok = fd >= 0 ? 'y' : 'n';
	struct iovec iov = {&ok, 1};
	union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } cm;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		memset(&cm, 0, sizeof cm);
		msg.msg_control = cm.b;
		msg.msg_controllen = sizeof cm.b;
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	ssize_t w = sendmsg(h->ctl, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w != 1) {
		if (fd >= 0)
			close(fd);
		return errno == EAGAIN ? 0 : -1;
	}
	h->handed = fd;
	return 0;
}

int bus_hand_serve(struct bus_hand *h)
{
	for (;;) {
		char req[8];
		ssize_t r = recv(h->ctl, req, sizeof req, MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			return -1;
		if (r < 0)
			return errno == EINTR ? bus_hand_serve(h) : 0;
		if (!refusal_note(req, r) && answer(h) < 0)
			return -1;
	}
}

void bus_hand_close(struct bus_hand *h)
{
	drop_handed(h);
	if (h->ctl >= 0)
		close(h->ctl);
	h->ctl = -1;
}
