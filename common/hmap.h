/*
 * Hash map from byte-string keys to pointers, chained, keyed SipHash
 * (libsodium crypto_shorthash) so clients choosing names cannot flood a bucket.
 * Keys are copied into the entry.
 */
#ifndef SB_HMAP_H
#define SB_HMAP_H
#include <stddef.h>
#include <stdint.h>

struct hmap_entry {
	struct hmap_entry *next;
	uint64_t hash;
	void *value;
	size_t klen;
	unsigned char key[];
};

struct hmap {
	struct hmap_entry **slots;
	size_t nslots;
	size_t count;
	unsigned char seed[16];
};

int hmap_init(struct hmap *m);
void hmap_free(struct hmap *m); /* values are the caller's */
void *hmap_get(const struct hmap *m, const void *key, size_t klen);
/* Sets or replaces, *old (if not NULL) getting the previous value or NULL.
 * Never fails (out of memory is fatal, alloc.h): the result is always 0. */
int hmap_put(struct hmap *m, const void *key, size_t klen, void *value, void **old);
void *hmap_del(struct hmap *m, const void *key, size_t klen);
/* Calls fn for every entry; fn must not change the map. */
void hmap_each(const struct hmap *m, void (*fn)(void *arg, const void *key, size_t klen, void *value),
	       void *arg);

static inline void *hmap_get_u64(const struct hmap *m, uint64_t k) { return hmap_get(m, &k, sizeof k); }
static inline int hmap_put_u64(struct hmap *m, uint64_t k, void *v) { return hmap_put(m, &k, sizeof k, v, NULL); }
static inline void *hmap_del_u64(struct hmap *m, uint64_t k) { return hmap_del(m, &k, sizeof k); }

#endif
