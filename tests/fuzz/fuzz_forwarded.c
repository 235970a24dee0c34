/*
 * X-Forwarded-For values (proto/websocket/forwarded.c) against a fixed set
 * of trusted blocks: memory safety, and a client found is a valid address
 * outside the trusted blocks.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../../proto/websocket/forwarded.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cidr trusted[2];
	static int ready;
	if (!ready) {
		if (cidr_parse("127.0.0.0/8", &trusted[0]) < 0 || cidr_parse("fd00::/8", &trusted[1]) < 0)
			abort();
		ready = 1;
	}
	char *copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	char out[48];
	if (forwarded_client(copy, size, trusted, 2, out, sizeof out) == 0) {
		uint8_t b[16];
		int af = strchr(out, ':') ? AF_INET6 : AF_INET;
		if (inet_pton(af, out, b) != 1 || cidr_match(trusted, 2, af, b))
			abort();
	}
	free(copy);
	return 0;
}
