/*
 * Readiness (ready.h). sd_notify is one datagram on a unix socket, so it is
 * written here rather than linking libsystemd for it: NOTIFY_SOCKET is a
 * path, or "@name" for the abstract namespace, and the message is
 * "READY=1\n" (sd_notify(3)).
 */
#include "ready.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

static char notify_path[sizeof ((struct sockaddr_un *)0)->sun_path + 1];

void ready_init(void)
{
	const char *s = getenv("NOTIFY_SOCKET");
	if (s && strlen(s) < sizeof notify_path)
		memcpy(notify_path, s, strlen(s) + 1);
	else if (s)
		log_warn("NOTIFY_SOCKET too long; not telling it we are ready");
	unsetenv("NOTIFY_SOCKET");
}

static int notify_systemd(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(notify_path);
	if (n == 0 || (notify_path[0] != '/' && notify_path[0] != '@') || n > sizeof sa.sun_path) {
		errno = EINVAL;
		return -1;
	}
	memcpy(sa.sun_path, notify_path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0; /* abstract namespace */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	static const char msg[] = "READY=1\n";
	ssize_t w = sendto(fd, msg, sizeof msg - 1, MSG_NOSIGNAL, (struct sockaddr *)&sa,
			   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n));
	int saved = errno;
	close(fd);
	errno = saved;
	return w == (ssize_t)(sizeof msg - 1) ? 0 : -1;
}

void ready_notify(int fd)
{
	if (notify_path[0]) {
		if (notify_systemd() == 0)
			log_info("ready: told NOTIFY_SOCKET %s", notify_path);
		else
			log_warn("ready, but cannot tell NOTIFY_SOCKET %s: %s", notify_path, strerror(errno));
	}
	if (fd >= 0) {
		ssize_t w = write(fd, "\n", 1);
		if (w == 1)
			log_info("ready: wrote to --ready-fd %d", fd);
		else
			log_warn("ready, but cannot write to --ready-fd %d: %s", fd, w < 0 ? strerror(errno) : "short write");
		close(fd);
	}
}
