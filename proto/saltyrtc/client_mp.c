/*
 * Reading the MessagePack maps a SaltyRTC client receives. msgpack-c
 * allocates a container's announced elements before reading them (a 5-byte
 * array header can ask for ~100 GB), so the headers are walked first and an
 * object whose announced elements outnumber the bytes left is refused. The
 * bus's budget (common/envelope.c) is stricter than user task messages
 * (maps of many small numbers) should be held to, hence this walk of its own:
 * what remains is msgpack-c's ~24 bytes per element, so at most a few tens of
 * times a message's size, for messages the server already bounds.
 */
#include <string.h>

#include "client_int.h"

/* Bytes of length (k) and of fixed body (skip) after header byte b, and
 * whether it is a container (array or map, *pairs for a map). -1: invalid. */
static int head(uint8_t b, unsigned *k, uint64_t *skip, uint64_t *items)
{
	static const uint8_t fixed[] = {4, 8, 1, 2, 4, 8, 1, 2, 4, 8}; /* 0xca..0xd3 */
	*k = 0, *skip = 0, *items = 0;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return 0;
	if (b <= 0x8f)
		*items = 2u * (b & 0x0f);
	else if (b <= 0x9f)
		*items = b & 0x0f;
	else if (b <= 0xbf)
		*skip = b & 0x1f;
	else if (b == 0xc4 || b == 0xd9 || b == 0xc7)
		*k = 1, *skip = b == 0xc7;
	else if (b == 0xc5 || b == 0xda || b == 0xc8)
		*k = 2, *skip = b == 0xc8;
	else if (b == 0xc6 || b == 0xdb || b == 0xc9)
		*k = 4, *skip = b == 0xc9;
	else if (b >= 0xca && b <= 0xd3)
		*skip = fixed[b - 0xca];
	else if (b >= 0xd4 && b <= 0xd8)
		*skip = 1 + (1u << (b - 0xd4));
	else if (b == 0xdc || b == 0xde)
		*k = 2;
	else if (b == 0xdd || b == 0xdf)
		*k = 4;
	else
		return -1;
	return 0;
}

/* Whether the object at p could be exactly n bytes with every element present. */
static bool plausible(const uint8_t *p, size_t n)
{
	size_t i = 0;
	uint64_t pending = 1;
	while (pending-- > 0) {
		unsigned k;
		uint64_t skip, items;
		if (i >= n || head(p[i++], &k, &skip, &items) < 0 || n - i < k)
			return false;
		if (k) {
			uint64_t v = 0;
			for (unsigned j = 0; j < k; j++)
				v = v << 8 | p[i + j];
			uint8_t b = p[i - 1];
			if (b >= 0xdc)
				items = b >= 0xde ? 2 * v : v;
			else
				skip += v;
			i += k;
		}
		if (skip > n - i || pending + items > n - i - skip)
			return false;
		i += (size_t)skip;
		pending += items;
	}
	return i == n;
}

int saltyc_unpack(const uint8_t *p, size_t n, msgpack_unpacked *up, const msgpack_object **map)
{
	msgpack_unpacked_init(up);
	size_t off = 0;
	if (!plausible(p, n) || msgpack_unpack_next(up, (const char *)p, n, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != n)
		return -1;
	const msgpack_object *o = &up->data;
	const msgpack_object *t = mp_get(o, "type");
	if (o->type != MSGPACK_OBJECT_MAP || !t || t->type != MSGPACK_OBJECT_STR)
		return -1;
	*map = o;
	return 0;
}

bool saltyc_type_is(const msgpack_object *map, const char *type)
{
	const msgpack_object *t = mp_get(map, "type");
	return t && mp_str_eq(t, type);
}

const uint8_t *saltyc_get_key(const msgpack_object *map, const char *name)
{
	const uint8_t *p;
	size_t n;
	if (!mp_get_bin(map, name, &p, &n) || n != SALTYC_KEY_LEN)
		return NULL;
	return p;
}
