/*
 * The server's permanent keys (sheet §1): key files, one line of 64 hex
 * characters of the 32-byte Curve25519 secret key (the reference server's
 * format), and the set of keys the router serves, the first one primary.
 * Only the router (and the supervisor, which checks the files at start)
 * ever holds these.
 */
#ifndef SB_SALTY_KEYFILE_H
#define SB_SALTY_KEYFILE_H
#include <stddef.h>
#include <stdint.h>

#include "salty.h"

struct salty_keys {
	int n;
	uint8_t sk[SALTY_MAX_KEYS][SALTY_KEY];
	uint8_t pk[SALTY_MAX_KEYS][SALTY_KEY];
};

/* 64 hex digits (either case), then nothing but one optional line end. 0 or -1. */
int salty_key_parse(uint8_t sk[SALTY_KEY], const char *text, size_t n);
/* Adds a secret key (its public key derived); -1 with *why when it is a
 * duplicate or there are too many. */
int salty_keys_add(struct salty_keys *k, const uint8_t sk[SALTY_KEY], const char **why);
/* The index of the key pair whose public key is pk, or -1. */
int salty_keys_find(const struct salty_keys *k, const uint8_t pk[SALTY_KEY]);
/* Reads and adds the key in file path; -1 with *why. The reasons do not
 * name the file: the caller does (the option layer says which option and
 * value), so that it is named once. */
int salty_keys_load(struct salty_keys *k, const char *path, const char **why);
/* Writes a new key to path (mode 0600, never over an existing file) and
 * gives its public key; -1 with *why (without the file, as above). */
int salty_key_generate(const char *path, uint8_t pk[SALTY_KEY], const char **why);
/* 64 lower-case hex digits and a NUL. */
void salty_hex(char out[2 * SALTY_KEY + 1], const uint8_t key[SALTY_KEY]);

#endif
