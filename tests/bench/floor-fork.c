/* floor-fork — the floor of a new connection in switchboard's process shape,
 * for the benchmark: one process per connection, forked from a small static
 * process that is already set up, as switchboard's worker template forks.
 * The child reads the upgrade request, answers 101 with the accept key,
 * echoes the client's close frame, shuts its side down and exits. Nothing
 * else: no supervisor between the listener and the forking process, no
 * descriptors passed, no bus control socket, no sandbox or limits, no log.
 * So a connection costs what a fork, a child's first pages, an upgrade and
 * an exit cost on the machine: below anything a server that isolates each
 * connection in its own process can do.
 *
 *   floor-fork PORT     listens on 127.0.0.1:PORT until SIGTERM/SIGINT
 *
 * Built static (with common/sha1.c) and run only by tests/bench/run.sh; never
 * part of switchboard.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/sha1.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static int read_some(int fd, char *buf, size_t cap, size_t *have)
{
	for (;;) {
		ssize_t n = read(fd, buf + *have, cap - *have);
		if (n > 0) {
			*have += (size_t)n;
			return 0;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return -1;
	}
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The value of the Sec-WebSocket-Key header in the request, NUL-ended in place. */
static char *ws_key(char *req)
{
	for (char *line = strstr(req, "\r\n"); line; line = strstr(line, "\r\n")) {
		line += 2;
		if (strncasecmp(line, "Sec-WebSocket-Key:", 18))
			continue;
		char *v = line + 18;
		while (*v == ' ')
			v++;
		char *end = strstr(v, "\r\n");
		if (!end)
			return NULL;
		*end = '\0';
		return v;
	}
	return NULL;
}

static int upgrade(int fd, char *buf, size_t cap, size_t *have)
{
	while (!memmem(buf, *have, "\r\n\r\n", 4))
		if (*have == cap - 1 || read_some(fd, buf, cap - 1, have) < 0)
			return -1;
	buf[*have] = '\0';
	char *end = strstr(buf, "\r\n\r\n") + 4;
	size_t rest = *have - (size_t)(end - buf);
	char *key = ws_key(buf);
	if (!key || strlen(key) > 64)
		return -1;
	char cat[128], accept[32], out[256];
	snprintf(cat, sizeof cat, "%s%s", key, WS_GUID);
	uint8_t digest[SHA1_LEN];
	sha1(cat, strlen(cat), digest);
	base64_encode(digest, sizeof digest, accept);
	int n = snprintf(out, sizeof out,
			 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
	memmove(buf, end, rest); /* frames that came with the request */
	*have = rest;
	return write_all(fd, out, (size_t)n);
}

/* Reads the client's masked close frame (at most 125 bytes of payload) and
 * answers with the same status, unmasked. */
static int echo_close(int fd, char *buf, size_t cap, size_t *have)
{
	while (*have < 2 || *have < 6 + (size_t)(buf[1] & 0x7f))
		if (read_some(fd, buf, cap, have) < 0)
			return -1;
	size_t len = (size_t)(buf[1] & 0x7f);
	if ((buf[0] & 0x0f) != 8 || len > 125 || !(buf[1] & 0x80))
		return -1;
	unsigned char out[2 + 125];
	out[0] = 0x88;
	out[1] = (unsigned char)len;
	for (size_t i = 0; i < len; i++)
		out[2 + i] = (unsigned char)(buf[6 + i] ^ buf[2 + i % 4]);
	return write_all(fd, out, 2 + len);
}

static void serve(int fd)
{
	char buf[4096];
	size_t have = 0;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (upgrade(fd, buf, sizeof buf, &have) == 0 && echo_close(fd, buf, sizeof buf, &have) == 0)
		shutdown(fd, SHUT_WR);
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: floor-fork PORT\n");
		return 2;
	}
	signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4096) < 0) {
		perror("floor-fork: listen");
		return 1;
	}
	for (;;) {
		int fd = accept4(ls, NULL, NULL, 0);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			perror("floor-fork: accept");
			return 1;
		}
		pid_t pid = _Fork(); /* as the template forks: no atfork work */
		if (pid == 0) {
			close(ls);
			serve(fd);
		}
		close(fd);
	}
}
