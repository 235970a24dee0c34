/* Bus envelopes: packing their common fields, checking and unpacking them. */
#include "envelope.h"

#include <string.h>

void env_begin(msgpack_packer *pk, const char *proto, const char *op, uint32_t nfields)
{
	msgpack_pack_map(pk, nfields + 3);
	mp_kv_int(pk, "v", ENV_VERSION);
	mp_kv_cstr(pk, "p", proto);
	mp_kv_cstr(pk, "op", op);
}

static uint64_t be(const uint8_t *p, size_t k)
{
	uint64_t v = 0;
	while (k--)
		v = v << 8 | *p++;
	return v;
}

/*
 * What the msgpack header byte b announces: *k bytes of length or count
 * follow it, then *skip bytes of body, then *items nested objects (a count
 * read from the k bytes adds to *skip, or to *items for arrays and maps).
 */
static bool mp_head(uint8_t b, size_t *k, uint64_t *skip, uint64_t *items)
{
	/* Body bytes of float32, float64, uint8..uint64, int8..int64 (0xca..0xd3). */
	static const uint8_t fixed[] = {4, 8, 1, 2, 4, 8, 1, 2, 4, 8};
	*k = 0, *skip = 0, *items = 0;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return true; /* fixints, nil, booleans: b is the whole value */
	if (b <= 0x8f)
		*items = 2u * (b & 0x0f);
	else if (b <= 0x9f)
		*items = b & 0x0f;
	else if (b <= 0xbf)
		*skip = b & 0x1f;
	else if (b == 0xc4 || b == 0xd9 || b == 0xc7) /* bin8, str8, ext8 */
		*k = 1, *skip = b == 0xc7;             /* ext has a type byte too */
	else if (b == 0xc5 || b == 0xda || b == 0xc8)
		*k = 2, *skip = b == 0xc8;
	else if (b == 0xc6 || b == 0xdb || b == 0xc9)
		*k = 4, *skip = b == 0xc9;
	else if (b >= 0xca && b <= 0xd3)
		*skip = fixed[b - 0xca];
	else if (b >= 0xd4 && b <= 0xd8) /* fixext 1..16 and its type byte */
		*skip = 1 + (1u << (b - 0xd4));
	else if (b == 0xdc || b == 0xde) /* array16, map16 */
		*k = 2;
	else if (b == 0xdd || b == 0xdf) /* array32, map32 */
		*k = 4;
	else
		return false; /* 0xc1 is never used */
	return true;
}

/*
 * msgpack-c allocates a container's elements before reading them, so five
 * bytes announcing an array of 2^32-1 elements make it ask for ~100 GB. Walk
 * the headers of the one object at p first and refuse it when the elements
 * announced so far outnumber the bytes left (each takes at least one).
 *
 * Even a truthful count costs: msgpack-c spends 24 bytes per element (48
 * per map entry) against one byte of input for a fixint, so an 8 MiB map of
 * them took 200 MB. Envelopes are small maps of strings and blobs, so one
 * with more than ENV_MAX_ELEMENTS + (its size) / ENV_BYTES_PER_ELEMENT
 * elements is refused before msgpack-c sees it: unpacking costs at most
 * about 1.5 times the input, plus 24 KiB.
 */
bool env_plausible(const uint8_t *p, size_t n)
{
	size_t i = 0;
	uint64_t pending = 1, elements = 0;
	while (pending-- > 0) {
		if (++elements > ENV_MAX_ELEMENTS + n / ENV_BYTES_PER_ELEMENT)
			return false; /* early exit: the size of the object is at most n */
		size_t k;
		uint64_t skip, items;
		if (i >= n || !mp_head(p[i++], &k, &skip, &items) || n - i < k)
			return false;
		if (k > 0) {
			uint64_t v = be(p + i, k);
			if (p[i - 1] >= 0xdc)
				items = p[i - 1] >= 0xde ? 2 * v : v;
			else
				skip += v;
			i += k;
		}
		if (skip > n - i || pending + items > n - i - skip)
			return false;
		i += (size_t)skip;
		pending += items;
	}
	return elements <= ENV_MAX_ELEMENTS + i / ENV_BYTES_PER_ELEMENT;
}

/*
 * Zones kept for the next envelope: msgpack_unpack_next makes a zone (an
 * 8 KiB malloc) per object and destroying it frees it, some 1300
 * instructions per envelope on the hot path (issue 12, point 2). A released
 * zone is cleared (back to its first chunk; bigger ones are freed) and kept,
 * a few per thread: at most that many envelopes are alive at once here.
 */
#define ENV_ZONES_KEPT 4
static _Thread_local msgpack_zone *zones_kept[ENV_ZONES_KEPT];
static _Thread_local int nzones_kept;

static msgpack_zone *zone_take(void)
{
	return nzones_kept > 0 ? zones_kept[--nzones_kept] : msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
}

static void zone_release(msgpack_unpacked *up)
{
	if (!up->zone)
		return;
	if (nzones_kept < ENV_ZONES_KEPT) {
		msgpack_zone_clear(up->zone);
		zones_kept[nzones_kept++] = up->zone;
	} else {
		msgpack_zone_free(up->zone);
	}
	up->zone = NULL;
}

/* Unpacks one envelope at *off and checks its version, protocol and op. */
static int env_unpack(struct envelope *e, const void *data, size_t len, size_t *off)
{
	msgpack_unpacked_init(&e->up);
	e->map = NULL;
	if (*off >= len || !env_plausible((const uint8_t *)data + *off, len - *off))
		return -1;
	if (!(e->up.zone = zone_take()))
		return -1;
	/* one object, whatever follows it (a batch holds several) */
	msgpack_unpack_return rc = msgpack_unpack(data, len, off, e->up.zone, &e->up.data);
	if (rc != MSGPACK_UNPACK_SUCCESS && rc != MSGPACK_UNPACK_EXTRA_BYTES)
		goto bad;
	e->map = &e->up.data;
	int64_t v;
	if (e->map->type != MSGPACK_OBJECT_MAP || !mp_get_int(e->map, "v", &v) || v != ENV_VERSION ||
	    !mp_get_str(e->map, "p", &e->proto, &e->proto_len) ||
	    !mp_get_str(e->map, "op", &e->op, &e->op_len))
		goto bad;
	return 0;
bad:
	zone_release(&e->up);
	e->map = NULL;
	return -1;
}

int env_decode(struct envelope *e, const void *data, size_t len)
{
	size_t off = 0;
	if (env_unpack(e, data, len, &off) < 0)
		return -1;
	if (off != len) {
		env_free(e);
		return -1;
	}
	return 0;
}

int env_next(struct envelope *e, const void *data, size_t len, size_t *off)
{
	e->map = NULL;
	if (*off >= len)
		return 0;
	return env_unpack(e, data, len, off) < 0 ? -1 : 1;
}

void env_free(struct envelope *e)
{
	if (e->map)
		zone_release(&e->up);
	e->map = NULL;
}

bool env_op_is(const struct envelope *e, const char *op)
{
	return strlen(op) == e->op_len && memcmp(e->op, op, e->op_len) == 0;
}

bool env_proto_is(const struct envelope *e, const char *proto)
{
	return strlen(proto) == e->proto_len && memcmp(e->proto, proto, e->proto_len) == 0;
}
