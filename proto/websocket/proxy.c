/*
 * PROXY protocol v1 and v2 (proxy.h), after the specification
 * "The PROXY protocol, versions 1 & 2" (haproxy's doc/proxy-protocol.txt).
 * Strict: a header that is not exactly what the specification allows is
 * refused, so that a client cannot pass a forged one through a front end
 * that sends none.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "../../common/port.h"

static const uint8_t v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* An address of family af, as text; copied to out (canonical form) when valid. */
static bool parse_addr(int af, const char *s, size_t n, char *out, size_t cap)
{
	char tmp[64];
	uint8_t bin[16];
	if (n == 0 || n >= sizeof tmp)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = 0;
	return inet_pton(af, tmp, bin) == 1 && inet_ntop(af, bin, out, (socklen_t)cap) != NULL;
}

/* "PROXY TCP4 SRC DST SPORT DPORT\r\n", "PROXY TCP6 ...", "PROXY UNKNOWN...\r\n". */
static int parse_v1(const uint8_t *p, size_t n, struct proxy_info *out)
{
	static const char prefix[] = "PROXY ";
	size_t k = n < 6 ? n : 6;
	if (memcmp(p, prefix, k) != 0)
		return -1;
	const uint8_t *cr = memchr(p, '\r', n < PROXY_V1_MAX ? n : PROXY_V1_MAX);
	if (!cr)
		return n >= PROXY_V1_MAX ? -1 : 0;
	size_t len = (size_t)(cr - p);
	if (len + 1 >= n)
		return len + 2 > PROXY_V1_MAX ? -1 : 0; /* the LF may still come */
	if (cr[1] != '\n' || len < 6 || len + 2 > PROXY_V1_MAX)
		return -1;
	*out = (struct proxy_info){.version = 1};
	const char *s = (const char *)p + 6, *end = (const char *)cr;
	if (end - s >= 7 && memcmp(s, "UNKNOWN", 7) == 0 && (end - s == 7 || s[7] == ' '))
		return (int)len + 2; /* the rest of the line is to be ignored */
	/* four fields after the protocol, separated by single spaces */
	const char *f[5];
	size_t fl[5];
	int nf = 0;
	for (const char *q = s; nf < 5;) {
		const char *sp = memchr(q, ' ', (size_t)(end - q));
		f[nf] = q;
		fl[nf++] = sp ? (size_t)(sp - q) : (size_t)(end - q);
		if (!sp)
			break;
		q = sp + 1;
	}
	if (nf != 5 || f[4] + fl[4] != end)
		return -1;
	int af = fl[0] == 4 && memcmp(f[0], "TCP4", 4) == 0 ? AF_INET
		 : fl[0] == 4 && memcmp(f[0], "TCP6", 4) == 0 ? AF_INET6 : 0;
	char dst[46];
	uint16_t dport;
	if (!af || !parse_addr(af, f[1], fl[1], out->src, sizeof out->src) || !parse_addr(af, f[2], fl[2], dst, sizeof dst) ||
	    !port_parse(f[3], fl[3], &out->src_port) || !port_parse(f[4], fl[4], &dport))
		return -1;
	out->family = af;
	return (int)len + 2;
}

/* The binary header: signature, version and command, family, length, addresses, TLVs. */
static int parse_v2(const uint8_t *p, size_t n, struct proxy_info *out)
{
	size_t k = n < 12 ? n : 12;
	if (memcmp(p, v2_sig, k) != 0)
		return -1;
	if (n >= 13 && (p[12] >> 4 != 2 || (p[12] & 0x0f) > 1))
		return -1; /* version 2; commands LOCAL (0) and PROXY (1) */
	if (n < 16)
		return 0;
	size_t block = (size_t)p[14] << 8 | p[15];
	if (block > PROXY_V2_MAX_BLOCK)
		return -1;
	if (n < 16 + block)
		return 0;
	*out = (struct proxy_info){.version = 2};
	if ((p[12] & 0x0f) == 0)
		return (int)(16 + block); /* LOCAL: the front end's own connection (a health check) */
	unsigned fam = p[13] >> 4, proto = p[13] & 0x0f;
	if (fam > 3 || proto > 2)
		return -1;
	if (fam == 1 || fam == 2) {
		size_t alen = fam == 1 ? 4 : 16;
		if (block < 2 * alen + 4)
			return -1;
		const uint8_t *a = p + 16;
		int af = fam == 1 ? AF_INET : AF_INET6;
		if (!inet_ntop(af, a, out->src, sizeof out->src))
			return -1;
		out->src_port = (uint16_t)(a[2 * alen] << 8 | a[2 * alen + 1]);
		out->family = af;
	} else if (fam == 3 && block < 216) {
		return -1; /* AF_UNIX: two 108-byte paths; no address we can use */
	}
	return (int)(16 + block);
}

int proxy_parse(const uint8_t *p, size_t n, struct proxy_info *out)
{
	if (n == 0)
		return 0;
	if (p[0] == 'P')
		return parse_v1(p, n, out);
	if (p[0] == 0x0d)
		return parse_v2(p, n, out);
	return -1;
}
