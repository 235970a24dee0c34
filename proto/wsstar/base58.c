/* base58btc: each leading zero byte is a '1', the rest a base-58 number. */
#include "base58.h"

#include <string.h>

static const char alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

int b58_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	if (n > B58_MAX_BYTES)
		return -1;
	size_t zeros = 0;
	while (zeros < n && in[zeros] == 0)
		zeros++;
	uint8_t digits[B58_MAX_CHARS]; /* base-58 digits, least significant first */
	size_t nd = 0;
	for (size_t i = zeros; i < n; i++) {
		unsigned carry = in[i];
		for (size_t j = 0; j < nd; j++) {
			carry += (unsigned)digits[j] << 8;
			digits[j] = (uint8_t)(carry % 58);
			carry /= 58;
		}
		while (carry) {
			digits[nd++] = (uint8_t)(carry % 58);
			carry /= 58;
		}
	}
	if (zeros + nd + 1 > cap)
		return -1;
	memset(out, '1', zeros);
	for (size_t j = 0; j < nd; j++)
		out[zeros + j] = alphabet[digits[nd - 1 - j]];
	out[zeros + nd] = 0;
	return (int)(zeros + nd);
}

static int digit_of(char c)
{
	const char *p = c ? strchr(alphabet, c) : NULL;
	return p ? (int)(p - alphabet) : -1;
}

int b58_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	if (n == 0 || n > B58_MAX_CHARS)
		return -1;
	size_t ones = 0;
	while (ones < n && in[ones] == '1')
		ones++;
	uint8_t bytes[B58_MAX_CHARS]; /* base-256, least significant first */
	size_t nb = 0;
	for (size_t i = ones; i < n; i++) {
		int d = digit_of(in[i]);
		if (d < 0)
			return -1;
		unsigned carry = (unsigned)d;
		for (size_t j = 0; j < nb; j++) {
			carry += (unsigned)bytes[j] * 58;
			bytes[j] = (uint8_t)carry;
			carry >>= 8;
		}
		while (carry) {
			bytes[nb++] = (uint8_t)carry;
			carry >>= 8;
		}
	}
	if (ones + nb > cap)
		return -1;
	memset(out, 0, ones);
	for (size_t j = 0; j < nb; j++)
		out[ones + j] = bytes[nb - 1 - j];
	return (int)(ones + nb);
}
