/*
 * The supervisor's count of live connections per source address, for
 * --max-per-ip. IPv4 addresses count one by one; IPv6 addresses by their
 * /64, since one host or one customer is routinely given a whole /64 and
 * could otherwise open 2^64 "different" addresses. An IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) counts as the IPv4 address it is.
 */
#ifndef SB_PEERS_H
#define SB_PEERS_H
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../common/hmap.h"

struct peer_key {
	uint8_t len; /* 0: no address known (e.g. a unix socket); never capped */
	uint8_t b[9]; /* family tag, then 4 (IPv4) or 8 (IPv6 /64) bytes */
};

/* The group an accepted peer's address belongs to. */
void peer_key_of(const struct sockaddr_storage *sa, socklen_t salen, struct peer_key *k);
/* "a.b.c.d" or "xxxx:xxxx:xxxx:xxxx::/64", for the log. */
void peer_key_format(const struct peer_key *k, char *out, size_t cap);

/*
 * Counts one more connection of k's group unless it already has max (true
 * when taken). A key of length 0 is always taken and never counted; a key
 * that could not be counted (out of memory) is set to length 0.
 */
bool peers_take(struct hmap *m, struct peer_key *k, int max);
void peers_release(struct hmap *m, const struct peer_key *k);

#endif
