/* Small helpers over msgpack-c for building and reading maps keyed by strings. */
#ifndef SB_MP_H
#define SB_MP_H
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

struct mp_out {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

void mp_out_init(struct mp_out *o);
void mp_out_reset(struct mp_out *o);
void mp_out_free(struct mp_out *o);

void mp_str(msgpack_packer *pk, const char *s, size_t n);
void mp_cstr(msgpack_packer *pk, const char *s);
void mp_kv_str(msgpack_packer *pk, const char *key, const char *s, size_t n);
void mp_kv_cstr(msgpack_packer *pk, const char *key, const char *s);
void mp_kv_bin(msgpack_packer *pk, const char *key, const void *p, size_t n);
void mp_kv_int(msgpack_packer *pk, const char *key, int64_t v);
void mp_kv_bool(msgpack_packer *pk, const char *key, bool v);

bool mp_str_eq(const msgpack_object *o, const char *lit);
const msgpack_object *mp_get(const msgpack_object *map, const char *key);
bool mp_get_str(const msgpack_object *map, const char *key, const char **s, size_t *n);
bool mp_get_bin(const msgpack_object *map, const char *key, const uint8_t **p, size_t *n);
bool mp_get_int(const msgpack_object *map, const char *key, int64_t *v);
bool mp_get_bool(const msgpack_object *map, const char *key, bool *v);

#endif
