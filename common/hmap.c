#include "hmap.h"

#include "alloc.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_key(const struct hmap *m, const void *key, size_t klen)
{
	unsigned char out[crypto_shorthash_BYTES];
	crypto_shorthash(out, key, klen, m->seed);
	uint64_t h;
	memcpy(&h, out, sizeof h);
	return h;
}

int hmap_init(struct hmap *m)
{
	memset(m, 0, sizeof *m);
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(m->seed, sizeof m->seed);
	m->nslots = 64;
	m->slots = xcalloc(m->nslots, sizeof *m->slots);
	return m->slots ? 0 : -1;
}

void hmap_free(struct hmap *m)
{
	for (size_t i = 0; i < m->nslots; i++) {
		struct hmap_entry *e = m->slots[i];
		while (e) {
			struct hmap_entry *n = e->next;
			free(e);
			e = n;
		}
	}
	free(m->slots);
	m->slots = NULL;
	m->nslots = m->count = 0;
}

static struct hmap_entry **find(const struct hmap *m, const void *key, size_t klen, uint64_t h)
{
	struct hmap_entry **pp = &m->slots[h & (m->nslots - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0)
			break;
	return pp;
}

void *hmap_get(const struct hmap *m, const void *key, size_t klen)
{
	struct hmap_entry **pp = find(m, key, klen, hash_key(m, key, klen));
	return *pp ? (*pp)->value : NULL;
}

static void grow(struct hmap *m)
{
	size_t n = m->nslots * 2;
	struct hmap_entry **slots = xcalloc(n, sizeof *slots);
	if (!slots)
		return; /* keep working with longer chains */
	for (size_t i = 0; i < m->nslots; i++) {
		struct hmap_entry *e = m->slots[i];
		while (e) {
			struct hmap_entry *next = e->next;
			e->next = slots[e->hash & (n - 1)];
			slots[e->hash & (n - 1)] = e;
			e = next;
		}
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = n;
}

int hmap_put(struct hmap *m, const void *key, size_t klen, void *value, void **old)
{
	uint64_t h = hash_key(m, key, klen);
	struct hmap_entry **pp = find(m, key, klen, h);
	if (old)
		*old = *pp ? (*pp)->value : NULL;
	if (*pp) {
		(*pp)->value = value;
		return 0;
	}
	struct hmap_entry *e = xmalloc(sizeof *e + klen); /* never NULL: out of memory is fatal */
	e->hash = h;
	e->value = value;
	e->klen = klen;
	memcpy(e->key, key, klen);
	e->next = NULL;
	*pp = e;
	if (++m->count > m->nslots)
		grow(m);
	return 0;
}

void *hmap_del(struct hmap *m, const void *key, size_t klen)
{
	struct hmap_entry **pp = find(m, key, klen, hash_key(m, key, klen));
	struct hmap_entry *e = *pp;
	if (!e)
		return NULL;
	void *v = e->value;
	*pp = e->next;
	free(e);
	m->count--;
	return v;
}

void hmap_each(const struct hmap *m, void (*fn)(void *arg, const void *key, size_t klen, void *value),
	       void *arg)
{
	for (size_t i = 0; i < m->nslots; i++)
		for (struct hmap_entry *e = m->slots[i]; e; e = e->next)
			fn(arg, e->key, e->klen, e->value);
}
