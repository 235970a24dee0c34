/*
 * The server's permanent keys: key file parsing, loading, generation and
 * the set served (keyfile.h).
 */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../common/hex.h"

int salty_key_parse(uint8_t sk[SALTY_KEY], const char *text, size_t n)
{
	if (n > 0 && text[n - 1] == '\n')
		n--;
	if (n > 0 && text[n - 1] == '\r')
		n--;
	if (n != 2 * SALTY_KEY)
		return -1;
	for (size_t i = 0; i < SALTY_KEY; i++) {
		int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		sk[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int salty_keys_add(struct salty_keys *k, const uint8_t sk[SALTY_KEY], const char **why)
{
	uint8_t pk[SALTY_KEY];
	if (k->n >= SALTY_MAX_KEYS) {
		*why = "too many keys (at most 16)";
		return -1;
	}
	if (crypto_scalarmult_base(pk, sk) != 0) {
		*why = "not a usable Curve25519 secret key";
		return -1;
	}
	if (salty_keys_find(k, pk) >= 0) {
		*why = "the same key is given twice";
		return -1;
	}
	memcpy(k->sk[k->n], sk, SALTY_KEY);
	memcpy(k->pk[k->n], pk, SALTY_KEY);
	k->n++;
	return 0;
}

int salty_keys_find(const struct salty_keys *k, const uint8_t pk[SALTY_KEY])
{
	for (int i = 0; i < k->n; i++)
		if (sodium_memcmp(k->pk[i], pk, SALTY_KEY) == 0)
			return i;
	return -1;
}

int salty_keys_load(struct salty_keys *k, const char *path, const char **why)
{
	char text[2 * SALTY_KEY + 4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*why = strerror(errno);
		return -1;
	}
	ssize_t n = read(fd, text, sizeof text);
	int err = errno;
	close(fd);
	uint8_t sk[SALTY_KEY];
	if (n < 0) {
		*why = strerror(err);
		return -1;
	}
	if (salty_key_parse(sk, text, (size_t)n) < 0) {
		*why = "not a key file (one line of 64 hex digits of the secret key)";
		return -1;
	}
	const char *w;
	int rc = salty_keys_add(k, sk, &w);
	sodium_memzero(sk, sizeof sk);
	if (rc < 0)
		*why = w;
	return rc;
}

void salty_hex(char out[2 * SALTY_KEY + 1], const uint8_t key[SALTY_KEY])
{
	sodium_bin2hex(out, 2 * SALTY_KEY + 1, key, SALTY_KEY);
}

int salty_key_generate(const char *path, uint8_t pk_out[SALTY_KEY], const char **why)
{
	uint8_t sk[SALTY_KEY], pk[SALTY_KEY];
	char line[2 * SALTY_KEY + 2];
	crypto_box_keypair(pk, sk);
	salty_hex(line, sk);
	sodium_memzero(sk, sizeof sk);
	line[2 * SALTY_KEY] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		sodium_memzero(line, sizeof line);
		*why = strerror(errno);
		return -1;
	}
	ssize_t w = write(fd, line, 2 * SALTY_KEY + 1);
	int err = errno;
	sodium_memzero(line, sizeof line);
	if (close(fd) < 0 || w != 2 * SALTY_KEY + 1) {
		*why = w < 0 ? strerror(err) : "short write";
		unlink(path);
		return -1;
	}
	memcpy(pk_out, pk, SALTY_KEY);
	return 0;
}
