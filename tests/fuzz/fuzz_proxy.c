/*
 * The PROXY protocol header parser (proto/websocket/proxy.c) on arbitrary
 * bytes. Besides memory safety: a length returned is within the input and
 * within the protocol's sizes, an address given is a valid one of its
 * family, and a header that is complete in a prefix is found the same in
 * the whole input.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../proto/websocket/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1); /* exact size: ASan sees a read past it */
	if (!copy)
		abort();
	memcpy(copy, data, size);
	struct proxy_info pi;
	int n = proxy_parse(copy, size, &pi);
	if (n > 0) {
		if ((size_t)n > size || n > 16 + PROXY_V2_MAX_BLOCK)
			abort();
		uint8_t bin[16];
		if (pi.family && inet_pton(pi.family, pi.src, bin) != 1)
			abort();
		struct proxy_info again;
		if (proxy_parse(copy, (size_t)n, &again) != n) /* the header alone is the same header */
			abort();
	}
	free(copy);
	return 0;
}
