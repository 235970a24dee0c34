/* Bus authentication: key file, challenge and hello tag (see busauth.h). */
#include "busauth.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "envelope.h"

#define AUTH_CONTEXT "switchboard bus v1"

int bus_key_read(const char *path, uint8_t key[BUS_KEY_LEN], char *err, size_t errcap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errcap, "--bus-key %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 0027)) {
		snprintf(err, errcap, "--bus-key %s: must be a regular file not readable by others "
			 "nor writable by its group (chmod 600)", path);
		close(fd);
		return -1;
	}
	char text[256];
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errcap, "--bus-key %s: %s", path, strerror(errno));
		return -1;
	}
	text[n] = 0;
	size_t got = 0;
	const char *end = NULL;
	/* hex digits only, whitespace before and after them */
	if (sodium_hex2bin(key, BUS_KEY_LEN, text, (size_t)n, " \t\r\n", &got, &end) < 0 || got != BUS_KEY_LEN ||
	    end[strspn(end, " \t\r\n")] != 0) {
		sodium_memzero(text, sizeof text);
		snprintf(err, errcap, "--bus-key %s: want %d random bytes as %d hex digits "
			 "(e.g. openssl rand -hex %d)", path, BUS_KEY_LEN, 2 * BUS_KEY_LEN, BUS_KEY_LEN);
		return -1;
	}
	sodium_memzero(text, sizeof text);
	return 0;
}

void bus_auth_pack_challenge(msgpack_packer *pk, const uint8_t nonce[BUS_NONCE_LEN])
{
	env_begin(pk, ENV_CORE, OP_CHALLENGE, 1);
	mp_kv_bin(pk, "nonce", nonce, BUS_NONCE_LEN);
}

bool bus_auth_nonce(const uint8_t *msg, size_t n, uint8_t nonce[BUS_NONCE_LEN])
{
	struct envelope e;
	if (env_decode(&e, msg, n) < 0)
		return false;
	const uint8_t *p;
	size_t len;
	bool ok = env_proto_is(&e, ENV_CORE) && env_op_is(&e, OP_CHALLENGE) && mp_get_bin(e.map, "nonce", &p, &len) &&
		  len == BUS_NONCE_LEN;
	if (ok)
		memcpy(nonce, p, BUS_NONCE_LEN);
	env_free(&e);
	return ok;
}

void bus_auth_tag(uint8_t tag[BUS_TAG_LEN], const uint8_t key[BUS_KEY_LEN], const uint8_t nonce[BUS_NONCE_LEN])
{
	uint8_t m[sizeof AUTH_CONTEXT - 1 + BUS_NONCE_LEN];
	memcpy(m, AUTH_CONTEXT, sizeof AUTH_CONTEXT - 1);
	memcpy(m + sizeof AUTH_CONTEXT - 1, nonce, BUS_NONCE_LEN);
	crypto_auth_hmacsha512256(tag, m, sizeof m, key); /* = crypto_auth, without linking its keygen */
}

bool bus_auth_check(const uint8_t *msg, size_t n, const uint8_t key[BUS_KEY_LEN],
		    const uint8_t nonce[BUS_NONCE_LEN])
{
	struct envelope e;
	size_t off = 0;
	if (env_next(&e, msg, n, &off) != 1)
		return false;
	const uint8_t *tag;
	size_t len;
	bool ok = false;
	if (env_proto_is(&e, ENV_CORE) && env_op_is(&e, OP_HELLO) && mp_get_bin(e.map, "auth", &tag, &len) &&
	    len == BUS_TAG_LEN) {
		uint8_t m[sizeof AUTH_CONTEXT - 1 + BUS_NONCE_LEN];
		memcpy(m, AUTH_CONTEXT, sizeof AUTH_CONTEXT - 1);
		memcpy(m + sizeof AUTH_CONTEXT - 1, nonce, BUS_NONCE_LEN);
		ok = crypto_auth_hmacsha512256_verify(tag, m, sizeof m, key) == 0; /* constant time */
	}
	env_free(&e);
	return ok;
}
