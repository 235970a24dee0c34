/*
 * The router's listening sockets: ipc:// with the socket file's mode saying
 * who may connect, tcp:// refused off loopback without a bus key (and for
 * the tap always). Used by bus_listen (router/listener.c).
 */
#ifndef SB_ROUTER_LISTEN_SOCK_H
#define SB_ROUTER_LISTEN_SOCK_H
#include <sys/types.h>

#include "listener.h"

/* A listening unix socket at path with mode (and group gid unless -1); -1 with errno. */
int listen_ipc(const char *path, mode_t mode, gid_t gid);
/* A listening TCP socket for url, if allowed (logged when not); -1 with errno. */
int listen_tcp(const struct bus *b, const char *url, enum bus_kind kind);

#endif
