/* The router's listening sockets for the bus and the tap (see listen_sock.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/log.h"
#include "listen_sock.h"

static bool is_loopback(const struct sp_addr *a)
{
	if (a->sa.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a->sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->sa;
	const uint8_t *v6 = in6->sin6_addr.s6_addr;
	return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) || (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && v6[12] == 127);
}

/*
 * The socket file's mode says who may connect: bus.ipc the router's user and
 * group (0660; --bus-group gives it another, for workers that dial it
 * themselves), the tap only the router's user and root (0600: it carries
 * every message). The umask makes the file so from bind on, with no moment
 * of a wider mode.
 */
int listen_ipc(const char *path, mode_t mode, gid_t gid)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(path); /* a stale socket of a killed router */
	mode_t old = umask(0777 & ~mode);
	int rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (rc < 0 || (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) || chmod(path, mode) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * Anyone who reaches a tcp:// bus could act as a worker, and a tap reader
 * sees every message: off loopback, workers must hold the bus key, and the
 * tap (whose readers cannot authenticate) is not offered at all.
 */
static bool tcp_allowed(const struct bus *b, const char *url, const struct sp_addr *a, enum bus_kind kind)
{
	if (is_loopback(a))
		return true;
	if (kind == BUS_TAP)
		log_error("refusing to offer the tap on %s: it has no authentication; use ipc:// or a loopback address", url);
	else if (!b->has_key)
		log_error("refusing to listen on %s without --bus-key: a tcp:// bus off loopback needs "
			  "--bus-key FILE (and belongs on a private network or WireGuard)", url);
	return kind != BUS_TAP && b->has_key;
}

int listen_tcp(const struct bus *b, const char *url, enum bus_kind kind)
{
	char any[300];
	/* a host of "*" or nothing means every IPv4 address, as for nng */
	if (strncmp(url, "tcp://*:", 8) == 0 || strncmp(url, "tcp://:", 7) == 0) {
		snprintf(any, sizeof any, "tcp://0.0.0.0%s", strchr(url + 6, ':'));
		url = any;
	}
	struct sp_addr a;
	if (sp_addr_parse(url, &a) < 0 || a.transport != SP_TCP) {
		errno = EINVAL;
		return -1;
	}
	if (!tcp_allowed(b, url, &a, kind)) {
		errno = EACCES;
		return -1;
	}
	int fd = socket(a.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&a.sa, a.salen) < 0 || listen(fd, SOMAXCONN) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

