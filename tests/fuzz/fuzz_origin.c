/*
 * The Origin-against-Host check (proto/websocket/origin.c) on arbitrary
 * headers: the input is "ORIGIN\nHOST". Besides memory safety, a match must
 * survive changing the case of the host, and an origin never matches a
 * Host whose host part differs in length.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/websocket/origin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *nl = memchr(p, '\n', size);
	size_t olen = nl ? (size_t)(nl - p) : size;
	const char *host = nl ? nl + 1 : p + size;
	size_t hlen = nl ? size - olen - 1 : 0;
	/* exact-size copies, so that ASan sees any read past either header */
	char *o = malloc(olen + 1), *h = malloc(hlen + 1);
	if (!o || !h)
		abort();
	memcpy(o, p, olen);
	memcpy(h, host, hlen);
	bool same = origin_same_host(o, olen, h, hlen);
	for (size_t i = 0; i < hlen; i++)
		h[i] = (char)toupper((unsigned char)h[i]);
	if (same && !origin_same_host(o, olen, h, hlen))
		abort(); /* hosts compare without case */
	free(o);
	free(h);
	return 0;
}
