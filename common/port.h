/* A TCP/UDP port as text, shared by the parsers that read one (PROXY
 * headers, multiaddrs). */
#ifndef SB_PORT_H
#define SB_PORT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A decimal port 0..65535, no sign, no leading zero; false otherwise. */
static inline bool port_parse(const char *s, size_t n, uint16_t *out)
{
	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return false;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

#endif
