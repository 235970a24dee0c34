#include "mp.h"

#include <string.h>

void mp_out_init(struct mp_out *o)
{
	msgpack_sbuffer_init(&o->sb);
	msgpack_packer_init(&o->pk, &o->sb, msgpack_sbuffer_write);
}

void mp_out_reset(struct mp_out *o) { o->sb.size = 0; }
void mp_out_free(struct mp_out *o) { msgpack_sbuffer_destroy(&o->sb); }

void mp_str(msgpack_packer *pk, const char *s, size_t n)
{
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

void mp_cstr(msgpack_packer *pk, const char *s) { mp_str(pk, s, strlen(s)); }

void mp_kv_str(msgpack_packer *pk, const char *key, const char *s, size_t n)
{
	mp_cstr(pk, key);
	mp_str(pk, s, n);
}

void mp_kv_cstr(msgpack_packer *pk, const char *key, const char *s) { mp_kv_str(pk, key, s, strlen(s)); }

void mp_kv_bin(msgpack_packer *pk, const char *key, const void *p, size_t n)
{
	mp_cstr(pk, key);
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, p, n);
}

void mp_kv_int(msgpack_packer *pk, const char *key, int64_t v)
{
	mp_cstr(pk, key);
	msgpack_pack_int64(pk, v);
}

void mp_kv_bool(msgpack_packer *pk, const char *key, bool v)
{
	mp_cstr(pk, key);
	if (v)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

bool mp_str_eq(const msgpack_object *o, const char *lit)
{
	size_t n = strlen(lit);
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       memcmp(o->via.str.ptr, lit, n) == 0;
}

const msgpack_object *mp_get(const msgpack_object *map, const char *key)
{
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++)
		if (mp_str_eq(&map->via.map.ptr[i].key, key))
			return &map->via.map.ptr[i].val;
	return NULL;
}

bool mp_get_str(const msgpack_object *map, const char *key, const char **s, size_t *n)
{
	const msgpack_object *v = mp_get(map, key);
	if (!v || v->type != MSGPACK_OBJECT_STR)
		return false;
	*s = v->via.str.ptr;
	*n = v->via.str.size;
	return true;
}

bool mp_get_bin(const msgpack_object *map, const char *key, const uint8_t **p, size_t *n)
{
	const msgpack_object *v = mp_get(map, key);
	if (!v || v->type != MSGPACK_OBJECT_BIN)
		return false;
	*p = (const uint8_t *)v->via.bin.ptr;
	*n = v->via.bin.size;
	return true;
}

bool mp_get_int(const msgpack_object *map, const char *key, int64_t *out)
{
	const msgpack_object *v = mp_get(map, key);
	if (!v)
		return false;
	if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX) {
		*out = (int64_t)v->via.u64;
		return true;
	}
	if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = v->via.i64;
		return true;
	}
	return false;
}

bool mp_get_bool(const msgpack_object *map, const char *key, bool *out)
{
	const msgpack_object *v = mp_get(map, key);
	if (!v || v->type != MSGPACK_OBJECT_BOOLEAN)
		return false;
	*out = v->via.boolean;
	return true;
}
