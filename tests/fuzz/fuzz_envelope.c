/*
 * Bus envelopes: env_decode and env_next over arbitrary bytes (what a
 * compromised worker could send the router), and the other way round: the
 * input drives msgpack-c's packer to build a well-formed envelope with
 * arbitrary nested fields, which must then decode, alone and in a batch.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/envelope.h"

static void read_fields(const struct envelope *e)
{
	const char *s;
	const uint8_t *b;
	size_t n;
	int64_t v;
	bool t;
	if (!e->map || e->map->type != MSGPACK_OBJECT_MAP || !e->proto || !e->op)
		abort();
	if (!mp_get_int(e->map, "v", &v) || v != ENV_VERSION)
		abort();
	mp_get_str(e->map, "d", &s, &n);
	mp_get_bin(e->map, "d", &b, &n);
	mp_get_int(e->map, "conn", &v);
	mp_get_bool(e->map, "ok", &t);
	env_op_is(e, "text");
	env_proto_is(e, ENV_CORE);
}

/* ---- building envelopes from the input ---- */

struct src {
	const uint8_t *p;
	size_t n, i;
	size_t budget;   /* body bytes still allowed, to keep runs fast */
	size_t elements; /* msgpack objects generated, for the decoder's element budget */
};

static uint8_t next8(struct src *s) { return s->i < s->n ? s->p[s->i++] : 0; }

static uint64_t next64(struct src *s)
{
	uint64_t v = 0;
	for (int k = 0; k < 8; k++)
		v = v << 8 | next8(s);
	return v;
}

static const char filler[70000];

static size_t pick_len(struct src *s)
{
	uint8_t b = next8(s);
	size_t n;
	switch (b >> 6) {
	case 0: n = b & 31; break;                         /* fix */
	case 1: n = 32 + (b & 63); break;                  /* 8-bit length */
	case 2: n = 256 + (size_t)(b & 63) * 7; break;     /* 16-bit length */
	default: n = (b & 1) ? 65536 + (b & 62) : 0; break; /* 32-bit length, sometimes */
	}
	if (n > s->budget)
		n = b & 31;
	s->budget -= n < s->budget ? n : s->budget;
	return n;
}

static void gen(msgpack_packer *pk, struct src *s, int depth)
{
	uint8_t op = next8(s) % (depth < 20 ? 16 : 11);
	size_t n;
	s->elements++;
	switch (op) {
	case 0: msgpack_pack_nil(pk); break;
	case 1: msgpack_pack_true(pk); break;
	case 2: msgpack_pack_false(pk); break;
	case 3: msgpack_pack_uint64(pk, next64(s) >> (next8(s) % 64)); break;
	case 4: msgpack_pack_int64(pk, -(int64_t)(next64(s) >> (1 + next8(s) % 63)) - 1); break;
	case 5: msgpack_pack_float(pk, (float)next8(s)); break;
	case 6: msgpack_pack_double(pk, (double)next64(s)); break;
	case 7: n = pick_len(s), msgpack_pack_str(pk, n), msgpack_pack_str_body(pk, filler, n); break;
	case 8: n = pick_len(s), msgpack_pack_bin(pk, n), msgpack_pack_bin_body(pk, filler, n); break;
	case 9:
	case 10:
		n = pick_len(s);
		msgpack_pack_ext(pk, n, (int8_t)next8(s));
		msgpack_pack_ext_body(pk, filler, n);
		break;
	case 11:
	case 12:
	case 13:
		n = next8(s) % 20;
		msgpack_pack_array(pk, n);
		for (size_t k = 0; k < n; k++)
			gen(pk, s, depth + 1);
		break;
	default:
		n = next8(s) % 20;
		msgpack_pack_map(pk, n);
		for (size_t k = 0; k < n; k++) {
			gen(pk, s, depth + 1);
			gen(pk, s, depth + 1);
		}
		break;
	}
}

static void generated(const uint8_t *data, size_t size)
{
	struct src s = {data, size, 0, 300000, 0};
	struct mp_out o;
	mp_out_init(&o);
	uint32_t nf = next8(&s) % 8;
	env_begin(&o.pk, ENV_CORE, "gen", nf);
	for (uint32_t k = 0; k < nf; k++) {
		char key[8] = {'f', (char)('0' + k), 0};
		mp_cstr(&o.pk, key);
		gen(&o.pk, &s, 1);
	}
	size_t one = o.sb.size;
	struct envelope e;
	/* the map, its three fixed pairs, the nf keys, and what gen() made */
	size_t elements = 1 + 6 + nf + s.elements;
	if (elements > ENV_MAX_ELEMENTS + one / ENV_BYTES_PER_ELEMENT) {
		/* over the element budget: refused whole and in a batch */
		size_t off = 0;
		if (env_decode(&e, o.sb.data, one) != -1 || e.map || env_next(&e, o.sb.data, one, &off) != -1)
			abort();
		mp_out_free(&o);
		return;
	}
	if (env_decode(&e, o.sb.data, o.sb.size) != 0)
		abort(); /* a well-formed envelope within the budget must never be refused */
	if (!env_op_is(&e, "gen") || !env_proto_is(&e, ENV_CORE))
		abort();
	env_free(&e);
	/* Twice in a batch. */
	char *copy = malloc(one);
	memcpy(copy, o.sb.data, one);
	msgpack_sbuffer_write(&o.sb, copy, one);
	free(copy);
	size_t off = 0;
	for (int k = 0; k < 2; k++) {
		if (env_next(&e, o.sb.data, o.sb.size, &off) != 1 || off != one * (size_t)(k + 1))
			abort();
		env_free(&e);
	}
	if (env_next(&e, o.sb.data, o.sb.size, &off) != 0)
		abort();
	/* The batch cut short of its end. */
	off = 0;
	if (env_next(&e, o.sb.data, o.sb.size - 1, &off) != 1)
		abort();
	env_free(&e);
	if (env_next(&e, o.sb.data, o.sb.size - 1, &off) != -1)
		abort();
	mp_out_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope e;
	int whole = env_decode(&e, data, size);
	if (whole == 0) {
		read_fields(&e);
		env_free(&e);
	} else if (whole != -1 || e.map) {
		abort();
	}

	size_t off = 0, prev = 0;
	int rc, count = 0;
	while ((rc = env_next(&e, data, size, &off)) == 1) {
		if (off <= prev || off > size)
			abort();
		prev = off;
		read_fields(&e);
		env_free(&e);
		count++;
	}
	if (rc != 0 && rc != -1)
		abort();
	if (whole == 0 && (count != 1 || rc != 0))
		abort(); /* one whole envelope is a batch of one */

	generated(data, size);
	return 0;
}
