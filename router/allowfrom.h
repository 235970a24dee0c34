/*
 * --allow-from: which addresses may be workers on the router's tcp:// bus
 * (a router on another host than its workers). One list for every tcp://
 * worker listener; ipc:// is governed by the socket file's mode and
 * SO_PEERCRED instead, and the tap is offered on loopback only anyway.
 *
 * Without --allow-from a tcp:// bus accepts loopback peers only, and the
 * router refuses at start to listen on an address off loopback: a bus
 * reachable from other hosts needs the list of the hosts meant to reach it.
 */
#ifndef SB_ALLOWFROM_H
#define SB_ALLOWFROM_H
#include <stdbool.h>
#include <stdint.h>

#include "../common/options.h"

/* Parses the ranges (already checked by the option table); -1 if one is bad. */
int allow_from_setup(const struct opt_list *ranges);
/* Whether a tcp:// listen URL may be used with the list as set up (false:
 * off loopback and no --allow-from); says why in err. */
bool allow_from_listen_ok(const char *url, char *err, size_t cap);
/* Whether the peer of an accepted tcp:// socket is in the list; a refusal
 * is logged (at most one line a second, with the count of the others). */
bool allow_from_peer_ok(int fd);
/* Peers refused so far. */
uint64_t allow_from_refused(void);

#endif
