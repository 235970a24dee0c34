/* JSON text <-> MessagePack for switchboard-salty's stdin and stdout (client_json.h). */
#include "client_json.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/alloc.h"
#include "../../common/json.h"
#include "../../common/utf8.h"

/* base64 (standard alphabet, padded) of a JSON string token into a new buffer. */
static int b64_decode(const struct json_doc *d, int i, uint8_t **out, size_t *outlen)
{
	const char *p;
	size_t n;
	json_raw(d, i, &p, &n); /* quotes included; base64 needs no escapes */
	if (n < 2)
		return -1;
	*out = xmalloc(n);
	if (sodium_base642bin(*out, n, p + 1, n - 2, NULL, outlen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
		free(*out);
		return -1;
	}
	return 0;
}

static int pack_value(const struct json_doc *d, int i, msgpack_packer *pk, const char **why);

/* {"$bin": b64} and {"$ext": [type, b64]}; 1 when o was one of them, 0 when not, -1 bad. */
static int pack_special(const struct json_doc *d, int o, msgpack_packer *pk)
{
	if (json_size(d, o) != 1)
		return 0;
	int k = o + 1, v = k + 1, t = -1, b = v;
	bool bin = json_str_eq(d, k, "$bin"), ext = json_str_eq(d, k, "$ext");
	if (!bin && !ext)
		return 0;
	if (ext) {
		if (json_type(d, v) != JSON_ARRAY || json_size(d, v) != 2)
			return -1;
		t = v + 1, b = json_skip(d, t);
	}
	if (json_type(d, b) != JSON_STRING)
		return -1;
	long type = 0;
	if (ext) {
		const char *p;
		size_t n;
		json_raw(d, t, &p, &n);
		char tmp[8];
		if (json_type(d, t) != JSON_NUMBER || n >= sizeof tmp)
			return -1;
		memcpy(tmp, p, n), tmp[n] = 0;
		char *end;
		type = strtol(tmp, &end, 10);
		if (*end || type < -128 || type > 127)
			return -1;
	}
	uint8_t *raw;
	size_t n;
	if (b64_decode(d, b, &raw, &n) < 0)
		return -1;
	if (ext) {
		msgpack_pack_ext(pk, n, (int8_t)type);
		msgpack_pack_ext_body(pk, raw, n);
	} else {
		msgpack_pack_bin(pk, n);
		msgpack_pack_bin_body(pk, raw, n);
	}
	free(raw);
	return 1;
}

static int pack_number(const struct json_doc *d, int i, msgpack_packer *pk)
{
	const char *p;
	size_t n;
	json_raw(d, i, &p, &n);
	char tmp[400];
	if (n >= sizeof tmp)
		return -1;
	memcpy(tmp, p, n), tmp[n] = 0;
	char *end;
	if (!strpbrk(tmp, ".eE")) {
		errno = 0;
		if (tmp[0] == '-') {
			long long v = strtoll(tmp, &end, 10);
			if (!*end && errno == 0)
				return msgpack_pack_int64(pk, v), 0;
		} else {
			unsigned long long v = strtoull(tmp, &end, 10);
			if (!*end && errno == 0)
				return msgpack_pack_uint64(pk, v), 0;
		}
	}
	double v = strtod(tmp, &end); /* fractions, exponents and integers beyond 64 bits */
	if (*end)
		return -1;
	msgpack_pack_double(pk, v);
	return 0;
}

static int pack_string(const struct json_doc *d, int i, msgpack_packer *pk)
{
	const char *p;
	size_t n, len;
	json_raw(d, i, &p, &n);
	char *s = xmalloc(n + 1);
	int rc = json_str(d, i, s, n + 1, &len);
	if (rc == 0) {
		msgpack_pack_str(pk, len);
		msgpack_pack_str_body(pk, s, len);
	}
	free(s);
	return rc < 0 ? -1 : 0;
}

static int pack_value(const struct json_doc *d, int i, msgpack_packer *pk, const char **why)
{
	switch (json_type(d, i)) {
	case JSON_OBJECT: {
		int sp = pack_special(d, i, pk);
		if (sp != 0)
			return sp < 0 ? (*why = "bad $bin or $ext value", -1) : 0;
		int n = json_size(d, i), j = i + 1;
		msgpack_pack_map(pk, (size_t)n);
		for (int k = 0; k < n; k++) {
			if (pack_string(d, j, pk) < 0 || pack_value(d, j + 1, pk, why) < 0)
				return *why = *why ? *why : "bad string", -1;
			j = json_skip(d, j + 1);
		}
		return 0;
	}
	case JSON_ARRAY: {
		int n = json_size(d, i), j = i + 1;
		msgpack_pack_array(pk, (size_t)n);
		for (int k = 0; k < n; k++, j = json_skip(d, j))
			if (pack_value(d, j, pk, why) < 0)
				return -1;
		return 0;
	}
	case JSON_STRING:
		return pack_string(d, i, pk) < 0 ? (*why = "bad string (a lone surrogate?)", -1) : 0;
	case JSON_NUMBER:
		return pack_number(d, i, pk) < 0 ? (*why = "bad number", -1) : 0;
	case JSON_TRUE:
		return msgpack_pack_true(pk), 0;
	case JSON_FALSE:
		return msgpack_pack_false(pk), 0;
	default:
		return msgpack_pack_nil(pk), 0;
	}
}

int saltyc_json_to_mp(const char *js, size_t len, msgpack_packer *pk, const char **why)
{
	struct json_doc d;
	*why = NULL;
	int rc = json_parse(&d, js, len, SALTYC_JSON_MAX_TOKENS);
	if (rc != JSON_OK) {
		*why = rc == JSON_TOO_BIG ? "JSON too big" : "not valid JSON";
		return -1;
	}
	rc = pack_value(&d, 0, pk, why);
	json_free(&d);
	return rc;
}

static int put_b64(struct buf *out, const void *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = xmalloc(cap);
	sodium_bin2base64(s, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	int rc = buf_printf(out, "\"%s\"", s);
	free(s);
	return rc;
}

static int put_bin(struct buf *out, const void *p, size_t n)
{
	if (buf_append_str(out, "{\"$bin\":") < 0 || put_b64(out, p, n) < 0)
		return -1;
	return buf_append_str(out, "}");
}

static int put_scalar(const msgpack_object *o, struct buf *out)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return buf_append_str(out, "null");
	case MSGPACK_OBJECT_BOOLEAN:
		return buf_append_str(out, o->via.boolean ? "true" : "false");
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return buf_printf(out, "%llu", (unsigned long long)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return buf_printf(out, "%lld", (long long)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return isfinite(o->via.f64) ? buf_printf(out, "%.17g", o->via.f64) : buf_append_str(out, "null");
	case MSGPACK_OBJECT_STR:
		if (utf8_valid((const uint8_t *)o->via.str.ptr, o->via.str.size))
			return json_put_string(out, o->via.str.ptr, o->via.str.size);
		return put_bin(out, o->via.str.ptr, o->via.str.size); /* not UTF-8, so bytes */
	case MSGPACK_OBJECT_BIN:
		return put_bin(out, o->via.bin.ptr, o->via.bin.size);
	case MSGPACK_OBJECT_EXT:
		if (buf_printf(out, "{\"$ext\":[%d,", o->via.ext.type) < 0 ||
		    put_b64(out, o->via.ext.ptr, o->via.ext.size) < 0)
			return -1;
		return buf_append_str(out, "]}");
	default:
		return -1;
	}
}

int saltyc_mp_to_json(const msgpack_object *o, struct buf *out)
{
	if (o->type == MSGPACK_OBJECT_ARRAY) {
		if (buf_append_str(out, "[") < 0)
			return -1;
		for (uint32_t i = 0; i < o->via.array.size; i++)
			if ((i && buf_append_str(out, ",") < 0) || saltyc_mp_to_json(&o->via.array.ptr[i], out) < 0)
				return -1;
		return buf_append_str(out, "]");
	}
	if (o->type != MSGPACK_OBJECT_MAP)
		return put_scalar(o, out);
	if (buf_append_str(out, "{") < 0)
		return -1;
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object *k = &o->via.map.ptr[i].key;
		if (i && buf_append_str(out, ",") < 0)
			return -1;
		if (k->type == MSGPACK_OBJECT_STR && utf8_valid((const uint8_t *)k->via.str.ptr, k->via.str.size)) {
			if (json_put_string(out, k->via.str.ptr, k->via.str.size) < 0)
				return -1;
		} else { /* a key JSON cannot have: its JSON text as the key */
			struct buf kb = {0};
			int rc = saltyc_mp_to_json(k, &kb);
			rc = rc < 0 ? rc : json_put_string(out, (const char *)buf_head(&kb), buf_used(&kb));
			buf_free(&kb);
			if (rc < 0)
				return -1;
		}
		if (buf_append_str(out, ":") < 0 || saltyc_mp_to_json(&o->via.map.ptr[i].val, out) < 0)
			return -1;
	}
	return buf_append_str(out, "}");
}
