/* The PROXY protocol header parser (proto/websocket/proxy.c): v1, v2, and
 * the limits: sizes, partial headers, malformed fields. */
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "../../proto/websocket/proxy.h"
#include "check.h"

static int v1(const char *s, struct proxy_info *pi) { return proxy_parse((const uint8_t *)s, strlen(s), pi); }

static const uint8_t sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* A v2 header: command, family byte, then block bytes (copied) of length len. */
static size_t v2(uint8_t *out, uint8_t cmd, uint8_t fam, const uint8_t *block, size_t len)
{
	memcpy(out, sig, 12);
	out[12] = (uint8_t)(0x20 | cmd);
	out[13] = fam;
	out[14] = (uint8_t)(len >> 8);
	out[15] = (uint8_t)len;
	if (len)
		memcpy(out + 16, block, len);
	return 16 + len;
}

static void test_v1(void)
{
	struct proxy_info pi;
	const char *h = "PROXY TCP4 203.0.113.7 127.0.0.1 4242 8080\r\nGET /";
	int n = v1(h, &pi);
	CHECK("proxy v1: TCP4 header parsed, its length returned", n == (int)(strstr(h, "GET") - h));
	CHECK("proxy v1: the client's address and port", pi.version == 1 && pi.family == AF_INET &&
	      strcmp(pi.src, "203.0.113.7") == 0 && pi.src_port == 4242);
	n = v1("PROXY TCP6 2001:db8::1 ::1 65535 443\r\n", &pi);
	CHECK("proxy v1: TCP6", n > 0 && pi.family == AF_INET6 && strcmp(pi.src, "2001:db8::1") == 0 && pi.src_port == 65535);
	CHECK("proxy v1: UNKNOWN: no address", v1("PROXY UNKNOWN whatever here\r\n", &pi) > 0 && pi.family == 0);
	CHECK("proxy v1: bare UNKNOWN", v1("PROXY UNKNOWN\r\n", &pi) > 0 && pi.family == 0);
	CHECK("proxy v1: partial: more needed", v1("PROX", &pi) == 0 && v1("PROXY TCP4 1.2.3.4", &pi) == 0 &&
	      v1("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r", &pi) == 0);
	CHECK("proxy v1: not a header", v1("GET / HTTP/1.1\r\n", &pi) == -1 && v1("PROXZ", &pi) == -1);
	CHECK("proxy v1: TCP4 with an IPv6 address", v1("PROXY TCP4 ::1 ::1 1 2\r\n", &pi) == -1);
	CHECK("proxy v1: bad address", v1("PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\n", &pi) == -1);
	CHECK("proxy v1: port over 65535", v1("PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n", &pi) == -1);
	CHECK("proxy v1: port with a leading zero", v1("PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n", &pi) == -1);
	CHECK("proxy v1: a field missing", v1("PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n", &pi) == -1);
	CHECK("proxy v1: a field too many", v1("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n", &pi) == -1);
	CHECK("proxy v1: two spaces", v1("PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n", &pi) == -1);
	CHECK("proxy v1: CR without LF", v1("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rX", &pi) == -1);
	CHECK("proxy v1: another protocol", v1("PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n", &pi) == -1);
	char longer[200];
	memset(longer, 'x', sizeof longer);
	memcpy(longer, "PROXY UNKNOWN ", 14);
	longer[sizeof longer - 1] = 0;
	CHECK("proxy v1: no CRLF within 107 bytes", v1(longer, &pi) == -1);
	memcpy(longer + 105, "\r\n", 3);
	CHECK("proxy v1: 107 bytes in all is the most", v1(longer, &pi) == 107);
	memcpy(longer + 105, "x\r\n", 4);
	CHECK("proxy v1: 108 bytes is too long", v1(longer, &pi) == -1);
}

static void test_v2(void)
{
	struct proxy_info pi;
	uint8_t h[700];
	const uint8_t in4[12] = {203, 0, 113, 7, 127, 0, 0, 1, 0x10, 0x92, 0x1f, 0x90};
	size_t n = v2(h, 1, 0x11, in4, sizeof in4);
	CHECK("proxy v2: INET over STREAM", proxy_parse(h, n, &pi) == (int)n && pi.version == 2 &&
	      pi.family == AF_INET && strcmp(pi.src, "203.0.113.7") == 0 && pi.src_port == 4242);
	uint8_t in6[36 + 7] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1, [31] = 1, [32] = 0x01, [33] = 0xbb, [34] = 0, [35] = 80,
			       [36] = 0x04, 0, 4, 'a', 'b', 'c', 'd'}; /* a NOOP TLV after the addresses */
	n = v2(h, 1, 0x21, in6, sizeof in6);
	CHECK("proxy v2: INET6 with a TLV after it", proxy_parse(h, n, &pi) == (int)n && pi.family == AF_INET6 &&
	      strcmp(pi.src, "2001:db8::1") == 0 && pi.src_port == 443);
	n = v2(h, 0, 0x00, NULL, 0);
	CHECK("proxy v2: LOCAL: no address", proxy_parse(h, n, &pi) == 16 && pi.family == 0);
	n = v2(h, 1, 0x11, in4, sizeof in4);
	bool partial = true;
	for (size_t k = 0; k < n; k++)
		partial = partial && proxy_parse(h, k, &pi) == 0;
	CHECK("proxy v2: every prefix asks for more", partial);
	n = v2(h, 1, 0x11, in4, 8);
	CHECK("proxy v2: INET block too short for its addresses", proxy_parse(h, n, &pi) == -1);
	n = v2(h, 1, 0x11, in4, sizeof in4);
	h[12] = 0x31;
	CHECK("proxy v2: version 3", proxy_parse(h, n, &pi) == -1);
	h[12] = 0x22;
	CHECK("proxy v2: an unknown command", proxy_parse(h, n, &pi) == -1);
	h[12] = 0x21;
	h[13] = 0x41;
	CHECK("proxy v2: an unknown family", proxy_parse(h, n, &pi) == -1);
	h[13] = 0x11;
	h[5] = 0;
	CHECK("proxy v2: a wrong signature", proxy_parse(h, n, &pi) == -1);
	uint8_t big[PROXY_V2_MAX_BLOCK + 1] = {0};
	n = v2(h, 1, 0x11, big, PROXY_V2_MAX_BLOCK);
	CHECK("proxy v2: a block of 520 bytes is taken", proxy_parse(h, n, &pi) == (int)n);
	n = v2(h, 1, 0x11, big, PROXY_V2_MAX_BLOCK + 1);
	CHECK("proxy v2: a block over 520 bytes is refused from its length alone", proxy_parse(h, 16, &pi) == -1);
}

void test_proxy(void)
{
	test_v1();
	test_v2();
}
