/*
 * Multiaddr checks: split into (protocol, value) components against a
 * table of the protocols multiaddr 6 knows, then match the WebSocketStar
 * shape on the protocol names.
 */
#include "multiaddr.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "../../common/port.h"
#include "base58.h"

enum ma_value { V_NONE, V_IP4, V_IP6, V_PORT, V_NAME, V_ID, V_PATH };

struct ma_proto {
	const char *name;
	enum ma_value value;
};

static const struct ma_proto protos[] = {
	{"ip4", V_IP4}, {"ip6", V_IP6}, {"tcp", V_PORT}, {"udp", V_PORT}, {"dccp", V_PORT},
	{"sctp", V_PORT}, {"dns", V_NAME}, {"dns4", V_NAME}, {"dns6", V_NAME}, {"dnsaddr", V_NAME},
	{"ip6zone", V_NAME}, {"ipfs", V_ID}, {"p2p", V_ID}, {"unix", V_PATH}, {"udt", V_NONE},
	{"utp", V_NONE}, {"quic", V_NONE}, {"http", V_NONE}, {"https", V_NONE}, {"ws", V_NONE},
	{"wss", V_NONE}, {"p2p-websocket-star", V_NONE}, {"p2p-webrtc-star", V_NONE},
	{"p2p-webrtc-direct", V_NONE}, {"p2p-stardust", V_NONE}, {"p2p-circuit", V_NONE},
};

struct ma_part {
	const struct ma_proto *proto;
};

static const struct ma_proto *find_proto(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++)
		if (strlen(protos[i].name) == n && memcmp(protos[i].name, s, n) == 0)
			return &protos[i];
	return NULL;
}

static bool valid_inet(int af, const char *s, size_t n)
{
	char tmp[64];
	unsigned char out[16];
	if (n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	return inet_pton(af, tmp, out) == 1;
}

static bool valid_name(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* A minimal varint inside a multihash; -1 when malformed. */
static long mh_varint(const uint8_t *p, size_t n, size_t *i)
{
	long v = 0;
	for (int shift = 0; shift < 28 && *i < n; shift += 7) {
		uint8_t c = p[(*i)++];
		v |= (long)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return c == 0 && shift > 0 ? -1 : v;
	}
	return -1;
}

/* base58btc text of a multihash: <code varint> <length varint> <digest>. */
static bool valid_id(const char *s, size_t n)
{
	uint8_t mh[B58_MAX_BYTES];
	int len = b58_decode(s, n, mh, sizeof mh);
	size_t i = 0;
	if (len < 2 || mh_varint(mh, (size_t)len, &i) < 0)
		return false;
	long dlen = mh_varint(mh, (size_t)len, &i);
	return dlen >= 0 && (size_t)dlen == (size_t)len - i;
}

static bool valid_value(enum ma_value v, const char *s, size_t n)
{
	switch (v) {
	case V_IP4:
		return valid_inet(AF_INET, s, n);
	case V_IP6:
		return valid_inet(AF_INET6, s, n);
	case V_PORT:
		return port_parse(s, n, &(uint16_t){0});
	case V_NAME:
		return valid_name(s, n);
	case V_ID:
		return valid_id(s, n);
	case V_PATH:
	case V_NONE:
		return true;
	}
	return false;
}

/* Next '/'-delimited segment starting at *i (just after a '/'). */
static bool next_segment(const char *s, size_t n, size_t *i, const char **seg, size_t *len)
{
	const char *slash = memchr(s + *i, '/', n - *i);
	size_t end = slash ? (size_t)(slash - s) : n;
	*seg = s + *i;
	*len = end - *i;
	*i = end < n ? end + 1 : n;
	return *len > 0 && !(slash && end + 1 == n); /* no empty or trailing segment */
}

/* Splits s into components; their count, or -1 when s is no valid multiaddr. */
static int ma_split(const char *s, size_t n, struct ma_part *parts)
{
	if (n < 2 || n > MA_MAX_LEN || s[0] != '/' || memchr(s, 0, n))
		return -1;
	size_t i = 1;
	int count = 0;
	while (i < n) {
		const char *seg, *val;
		size_t len, vlen;
		if (count == MA_MAX_PARTS || !next_segment(s, n, &i, &seg, &len))
			return -1;
		const struct ma_proto *p = find_proto(seg, len);
		if (!p)
			return -1;
		parts[count++].proto = p;
		if (p->value == V_NONE)
			continue;
		if (p->value == V_PATH) { /* unix: the whole rest is the path */
			if (i >= n)
				return -1;
			break;
		}
		if (i >= n || !next_segment(s, n, &i, &val, &vlen) || !valid_value(p->value, val, vlen))
			return -1;
	}
	return count;
}

bool ma_valid(const char *s, size_t n)
{
	struct ma_part parts[MA_MAX_PARTS];
	return ma_split(s, n, parts) > 0;
}

static bool named(const struct ma_part *p, const char *name) { return strcmp(p->proto->name, name) == 0; }

static bool is_dns(const struct ma_part *p)
{
	return named(p, "dns") || named(p, "dns4") || named(p, "dns6") || named(p, "dnsaddr");
}

bool ma_is_wsstar(const char *s, size_t n)
{
	struct ma_part parts[MA_MAX_PARTS];
	int count = ma_split(s, n, parts), k = 0;
	if (count < 3)
		return false;
	if (!(named(&parts[0], "ip4") || named(&parts[0], "ip6") || is_dns(&parts[0])))
		return false;
	k = 1;
	if (named(&parts[k], "tcp"))
		k++;
	else if (!is_dns(&parts[0]))
		return false; /* ip4/ip6 need a port */
	if (k >= count || !(named(&parts[k], "ws") || named(&parts[k], "wss")))
		return false;
	if (++k >= count || !named(&parts[k], "p2p-websocket-star"))
		return false;
	if (++k < count && (named(&parts[k], "ipfs") || named(&parts[k], "p2p")))
		k++;
	return k == count;
}
