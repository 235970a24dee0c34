/* Live connections per source address group (see peers.h). */
#include "peers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

void peer_key_of(const struct sockaddr_storage *sa, socklen_t salen, struct peer_key *k)
{
	memset(k, 0, sizeof *k);
	if (sa->ss_family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		k->b[0] = 4;
		memcpy(k->b + 1, &in->sin_addr, 4);
		k->len = 5;
	} else if (sa->ss_family == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			k->b[0] = 4;
			memcpy(k->b + 1, in6->sin6_addr.s6_addr + 12, 4);
			k->len = 5;
		} else {
			k->b[0] = 6;
			memcpy(k->b + 1, in6->sin6_addr.s6_addr, 8);
			k->len = 9;
		}
	}
}

void peer_key_format(const struct peer_key *k, char *out, size_t cap)
{
	if (k->len == 5) {
		inet_ntop(AF_INET, k->b + 1, out, (socklen_t)cap);
	} else if (k->len == 9) {
		uint8_t a[16] = {0};
		char s[INET6_ADDRSTRLEN];
		memcpy(a, k->b + 1, 8);
		inet_ntop(AF_INET6, a, s, sizeof s);
		snprintf(out, cap, "%s/64", s);
	} else {
		snprintf(out, cap, "(no address)");
	}
}

/* The count lives in the map's value pointer: no allocation per group. */
bool peers_take(struct hmap *m, struct peer_key *k, int max)
{
	if (k->len == 0)
		return true;
	uintptr_t n = (uintptr_t)hmap_get(m, k->b, k->len);
	if (max > 0 && n >= (uintptr_t)max)
		return false;
	/* out of memory: let the connection in uncounted rather than refuse it */
	if (hmap_put(m, k->b, k->len, (void *)(n + 1), NULL) < 0)
		k->len = 0;
	return true;
}

void peers_release(struct hmap *m, const struct peer_key *k)
{
	if (k->len == 0)
		return;
	uintptr_t n = (uintptr_t)hmap_get(m, k->b, k->len);
	if (n <= 1)
		hmap_del(m, k->b, k->len);
	else
		hmap_put(m, k->b, k->len, (void *)(n - 1), NULL);
}
