/* common/mp and common/envelope: msgpack helpers and bus envelopes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/bus.h"
#include "../../common/envelope.h"
#include "check.h"

static void test_helpers(void)
{
	struct mp_out o;
	mp_out_init(&o);
	msgpack_pack_map(&o.pk, 10);
	mp_kv_cstr(&o.pk, "s", "hello");
	mp_kv_str(&o.pk, "s2", "a\0b", 3);
	mp_kv_bin(&o.pk, "b", "\x00\x01\x02", 3);
	mp_kv_int(&o.pk, "i", -42);
	mp_kv_int(&o.pk, "max", INT64_MAX);
	mp_kv_int(&o.pk, "min", INT64_MIN);
	mp_kv_bool(&o.pk, "t", true);
	mp_kv_bool(&o.pk, "f", false);
	mp_cstr(&o.pk, "u64");
	msgpack_pack_uint64(&o.pk, UINT64_MAX);
	mp_cstr(&o.pk, "small");
	msgpack_pack_uint8(&o.pk, 200);

	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	size_t off = 0;
	int rc = msgpack_unpack_next(&up, o.sb.data, o.sb.size, &off);
	CHECK("mp: packed map unpacks whole", rc == MSGPACK_UNPACK_SUCCESS && off == o.sb.size);
	const msgpack_object *m = &up.data;
	const char *s;
	size_t n;
	const uint8_t *bp;
	int64_t v;
	bool bv;
	CHECK("mp: string field", mp_get_str(m, "s", &s, &n) && n == 5 && memcmp(s, "hello", 5) == 0);
	CHECK("mp: string with a NUL byte", mp_get_str(m, "s2", &s, &n) && n == 3 && memcmp(s, "a\0b", 3) == 0);
	CHECK("mp: bin field", mp_get_bin(m, "b", &bp, &n) && n == 3 && bp[0] == 0 && bp[2] == 2);
	CHECK("mp: negative int", mp_get_int(m, "i", &v) && v == -42);
	CHECK("mp: INT64_MAX", mp_get_int(m, "max", &v) && v == INT64_MAX);
	CHECK("mp: INT64_MIN", mp_get_int(m, "min", &v) && v == INT64_MIN);
	CHECK("mp: uint8 read as int", mp_get_int(m, "small", &v) && v == 200);
	CHECK("mp: uint64 above INT64_MAX refused", !mp_get_int(m, "u64", &v));
	CHECK("mp: bools", mp_get_bool(m, "t", &bv) && bv && mp_get_bool(m, "f", &bv) && !bv);
	CHECK("mp: type mismatches refused",
	      !mp_get_str(m, "b", &s, &n) && !mp_get_bin(m, "s", &bp, &n) && !mp_get_int(m, "s", &v) &&
		  !mp_get_bool(m, "i", &bv) && !mp_get_str(m, "i", &s, &n));
	CHECK("mp: missing key", mp_get(m, "nope") == NULL && !mp_get_str(m, "nope", &s, &n));
	CHECK("mp: key is matched exactly", mp_get(m, "s2") != mp_get(m, "s"));
	CHECK("mp: mp_get on NULL", mp_get(NULL, "s") == NULL);
	CHECK("mp: mp_str_eq", mp_str_eq(mp_get(m, "s"), "hello") && !mp_str_eq(mp_get(m, "s"), "hell") &&
				       !mp_str_eq(mp_get(m, "b"), "\x00\x01\x02"));
	msgpack_unpacked_destroy(&up);

	mp_out_reset(&o);
	CHECK("mp: reset empties the buffer", o.sb.size == 0);
	msgpack_pack_array(&o.pk, 1);
	mp_cstr(&o.pk, "s");
	msgpack_unpacked_init(&up);
	off = 0;
	rc = msgpack_unpack_next(&up, o.sb.data, o.sb.size, &off);
	CHECK("mp: mp_get on an array is NULL", rc == MSGPACK_UNPACK_SUCCESS && mp_get(&up.data, "s") == NULL);
	msgpack_unpacked_destroy(&up);
	mp_out_free(&o);
}

/* An envelope with one binary field "d". */
static void pack_env(struct mp_out *o, const char *proto, const char *op, const char *d)
{
	env_begin(&o->pk, proto, op, 1);
	mp_kv_bin(&o->pk, "d", d, strlen(d));
}

static int decode(const void *p, size_t n)
{
	struct envelope e;
	int rc = env_decode(&e, p, n);
	if (rc == 0)
		env_free(&e);
	return rc;
}

static void test_envelope(void)
{
	struct mp_out o;
	mp_out_init(&o);
	pack_env(&o, ENV_CORE, OP_TEXT, "payload");
	struct envelope e;
	int rc = env_decode(&e, o.sb.data, o.sb.size);
	CHECK("env: built envelope decodes", rc == 0 && e.map != NULL);
	const uint8_t *d;
	size_t n;
	CHECK("env: protocol and op", rc == 0 && env_proto_is(&e, "core") && env_op_is(&e, "text"));
	CHECK("env: op comparison is exact", rc == 0 && !env_op_is(&e, "tex") && !env_op_is(&e, "texts") && !env_proto_is(&e, ""));
	CHECK("env: field readable", rc == 0 && mp_get_bin(e.map, "d", &d, &n) && n == 7 && memcmp(d, "payload", 7) == 0);
	if (rc == 0)
		env_free(&e);
	CHECK("env: env_free clears the map", e.map == NULL);
	env_free(&e);
	CHECK("env: env_free twice is harmless", e.map == NULL);

	bool prefixes = true;
	for (size_t k = 0; k < o.sb.size; k++)
		prefixes = prefixes && decode(o.sb.data, k) == -1;
	CHECK("env: every truncation refused", prefixes);
	CHECK("env: empty input refused", decode("", 0) == -1);

	char *trail = malloc(o.sb.size + 1);
	memcpy(trail, o.sb.data, o.sb.size);
	trail[o.sb.size] = 0x00;
	CHECK("env: trailing byte refused by env_decode", decode(trail, o.sb.size + 1) == -1);
	free(trail);

	/* Field order does not matter; the version must be the integer 1. */
#define MAP(nf) (mp_out_reset(&o), msgpack_pack_map(&o.pk, (nf)))
	MAP(3), mp_kv_cstr(&o.pk, "op", "x"), mp_kv_cstr(&o.pk, "p", "core"), mp_kv_int(&o.pk, "v", 1);
	CHECK("env: any field order", decode(o.sb.data, o.sb.size) == 0);
	MAP(3), mp_kv_int(&o.pk, "v", 2), mp_kv_cstr(&o.pk, "p", "core"), mp_kv_cstr(&o.pk, "op", "x");
	CHECK("env: version 2 refused", decode(o.sb.data, o.sb.size) == -1);
	MAP(3), mp_kv_int(&o.pk, "v", 0), mp_kv_cstr(&o.pk, "p", "core"), mp_kv_cstr(&o.pk, "op", "x");
	CHECK("env: version 0 refused", decode(o.sb.data, o.sb.size) == -1);
	MAP(3), mp_kv_int(&o.pk, "v", -1), mp_kv_cstr(&o.pk, "p", "core"), mp_kv_cstr(&o.pk, "op", "x");
	CHECK("env: version -1 refused", decode(o.sb.data, o.sb.size) == -1);
	MAP(3), mp_kv_cstr(&o.pk, "v", "1"), mp_kv_cstr(&o.pk, "p", "core"), mp_kv_cstr(&o.pk, "op", "x");
	CHECK("env: version as a string refused", decode(o.sb.data, o.sb.size) == -1);
	MAP(2), mp_kv_cstr(&o.pk, "p", "core"), mp_kv_cstr(&o.pk, "op", "x");
	CHECK("env: missing version refused", decode(o.sb.data, o.sb.size) == -1);
	MAP(2), mp_kv_int(&o.pk, "v", 1), mp_kv_cstr(&o.pk, "p", "core");
	CHECK("env: missing op refused", decode(o.sb.data, o.sb.size) == -1);
	MAP(2), mp_kv_int(&o.pk, "v", 1), mp_kv_cstr(&o.pk, "op", "x");
	CHECK("env: missing protocol refused", decode(o.sb.data, o.sb.size) == -1);
	MAP(3), mp_kv_int(&o.pk, "v", 1), mp_kv_cstr(&o.pk, "p", "core"), mp_kv_int(&o.pk, "op", 7);
	CHECK("env: integer op refused", decode(o.sb.data, o.sb.size) == -1);
	MAP(3), mp_kv_int(&o.pk, "v", 1), mp_kv_bin(&o.pk, "p", "core", 4), mp_kv_cstr(&o.pk, "op", "x");
	CHECK("env: binary protocol refused", decode(o.sb.data, o.sb.size) == -1);
	mp_out_reset(&o);
	msgpack_pack_array(&o.pk, 3);
	msgpack_pack_int(&o.pk, 1);
	mp_cstr(&o.pk, "core");
	mp_cstr(&o.pk, "x");
	CHECK("env: array refused", decode(o.sb.data, o.sb.size) == -1);
	CHECK("env: nil refused", decode("\xc0", 1) == -1);
	CHECK("env: reserved byte c1 refused", decode("\xc1", 1) == -1);
	CHECK("env: empty map refused", decode("\x80", 1) == -1);

	/* Headers that announce far more elements than there are bytes. */
	CHECK("env: map32 of 2^32-1 pairs in 5 bytes refused", decode("\xdf\xff\xff\xff\xff", 5) == -1);
	CHECK("env: array32 of 2^32-1 elements refused", decode("\xdd\xff\xff\xff\xff", 5) == -1);
	CHECK("env: nested huge array refused", decode("\x81\xa1v\xdd\x7f\xff\xff\xff", 8) == -1);
	CHECK("env: map16 of 65535 pairs in 3 bytes refused", decode("\xde\xff\xff", 3) == -1);

	/* Every msgpack type as a field, in the encodings msgpack-c's packer picks. */
	mp_out_reset(&o);
	env_begin(&o.pk, "core", "all", 12);
	mp_cstr(&o.pk, "nil"), msgpack_pack_nil(&o.pk);
	mp_cstr(&o.pk, "f32"), msgpack_pack_float(&o.pk, 1.5f);
	mp_cstr(&o.pk, "f64"), msgpack_pack_double(&o.pk, -2.25);
	mp_cstr(&o.pk, "ints"), msgpack_pack_array(&o.pk, 8);
	msgpack_pack_uint64(&o.pk, 200), msgpack_pack_uint64(&o.pk, 60000), msgpack_pack_uint64(&o.pk, 4000000000u);
	msgpack_pack_uint64(&o.pk, UINT64_MAX), msgpack_pack_int64(&o.pk, -100), msgpack_pack_int64(&o.pk, -30000);
	msgpack_pack_int64(&o.pk, -2000000000), msgpack_pack_int64(&o.pk, INT64_MIN);
	static char big[70000];
	mp_kv_str(&o.pk, "s8", big, 40);
	mp_kv_str(&o.pk, "s16", big, 300);
	mp_kv_str(&o.pk, "s32", big, sizeof big);
	mp_kv_bin(&o.pk, "b32", big, sizeof big);
	mp_cstr(&o.pk, "ext"), msgpack_pack_array(&o.pk, 8);
	static const size_t ext_lens[] = {1, 2, 4, 8, 16, 3, 300, 70000};
	for (int i = 0; i < 8; i++)
		msgpack_pack_ext(&o.pk, ext_lens[i], 5), msgpack_pack_ext_body(&o.pk, big, ext_lens[i]);
	mp_cstr(&o.pk, "a16"), msgpack_pack_array(&o.pk, 20);
	for (int i = 0; i < 20; i++)
		msgpack_pack_map(&o.pk, 1), mp_kv_bool(&o.pk, "t", i & 1);
	mp_cstr(&o.pk, "empty"), msgpack_pack_array(&o.pk, 0);
	mp_cstr(&o.pk, "deep"), msgpack_pack_array(&o.pk, 1), msgpack_pack_array(&o.pk, 1), msgpack_pack_map(&o.pk, 0);
	CHECK("env: fields of every msgpack type decode", decode(o.sb.data, o.sb.size) == 0);

	/* Wider encodings than needed are still msgpack: str32 keys, int64 1, map32, array32, ext32. */
	static const uint8_t wide[] = {0xdf, 0, 0, 0, 4,
				       0xdb, 0, 0, 0, 1, 'v', 0xd3, 0, 0, 0, 0, 0, 0, 0, 1,
				       0xda, 0, 1, 'p', 0xd9, 4, 'c', 'o', 'r', 'e',
				       0xd9, 2, 'o', 'p', 0xdb, 0, 0, 0, 1, 'x',
				       0xa1, 'e', 0xdd, 0, 0, 0, 2, 0xc9, 0, 0, 0, 2, 5, 'a', 'b', 0xc7, 0, 7};
	CHECK("env: non-minimal encodings decode", decode(wide, sizeof wide) == 0);
	bool cut = true;
	for (size_t k = 0; k < sizeof wide; k++)
		cut = cut && decode(wide, k) == -1;
	CHECK("env: every truncation of the wide envelope refused", cut);

	/* A larger envelope with fields of every kind. */
	mp_out_reset(&o);
	env_begin(&o.pk, "wschat", "message", 20);
	for (int i = 0; i < 20; i++) {
		char key[8];
		snprintf(key, sizeof key, "k%d", i);
		if (i % 3 == 0)
			mp_kv_int(&o.pk, key, i);
		else if (i % 3 == 1)
			mp_kv_cstr(&o.pk, key, "value");
		else
			mp_kv_bool(&o.pk, key, true);
	}
	rc = env_decode(&e, o.sb.data, o.sb.size);
	int64_t v = 0;
	CHECK("env: 23-member envelope (map16) decodes", rc == 0 && env_proto_is(&e, "wschat") && mp_get_int(e.map, "k18", &v) && v == 18);
	if (rc == 0)
		env_free(&e);
	mp_out_free(&o);
#undef MAP
}

static void test_batch(void)
{
	struct mp_out o;
	mp_out_init(&o);
	pack_env(&o, ENV_CORE, OP_TEXT, "one");
	size_t end1 = o.sb.size;
	pack_env(&o, ENV_CORE, OP_BINARY, "two");
	size_t end2 = o.sb.size;
	env_begin(&o.pk, ENV_CORE, OP_CREDIT, 1);
	mp_kv_int(&o.pk, "n", 3);

	size_t off = 0;
	struct envelope e;
	const uint8_t *d;
	size_t n;
	int rc = env_next(&e, o.sb.data, o.sb.size, &off);
	CHECK("env: batch first", rc == 1 && env_op_is(&e, "text") && mp_get_bin(e.map, "d", &d, &n) && n == 3 &&
					   memcmp(d, "one", 3) == 0 && off == end1);
	if (rc == 1)
		env_free(&e);
	rc = env_next(&e, o.sb.data, o.sb.size, &off);
	CHECK("env: batch second", rc == 1 && env_op_is(&e, "binary") && mp_get_bin(e.map, "d", &d, &n) &&
					    memcmp(d, "two", 3) == 0 && off == end2);
	if (rc == 1)
		env_free(&e);
	rc = env_next(&e, o.sb.data, o.sb.size, &off);
	int64_t v = 0;
	CHECK("env: batch third", rc == 1 && env_op_is(&e, "credit") && mp_get_int(e.map, "n", &v) && v == 3 && off == o.sb.size);
	if (rc == 1)
		env_free(&e);
	rc = env_next(&e, o.sb.data, o.sb.size, &off);
	CHECK("env: batch end gives 0", rc == 0 && e.map == NULL);
	env_free(&e);
	CHECK("env: env_next on an empty batch gives 0", (off = 0, env_next(&e, "", 0, &off)) == 0);

	/* A batch cut anywhere inside its last envelope: two, then -1. */
	bool cut_ok = true;
	for (size_t k = end2 + 1; k < o.sb.size; k++) {
		off = 0;
		int got = 0;
		while ((rc = env_next(&e, o.sb.data, k, &off)) == 1) {
			got++;
			env_free(&e);
		}
		cut_ok = cut_ok && got == 2 && rc == -1;
	}
	CHECK("env: truncated batch gives its complete envelopes then -1", cut_ok);

	/* A bad envelope in the middle stops the batch. */
	mp_out_reset(&o);
	pack_env(&o, ENV_CORE, OP_TEXT, "ok");
	msgpack_pack_map(&o.pk, 1);
	mp_kv_int(&o.pk, "v", 1);
	pack_env(&o, ENV_CORE, OP_TEXT, "unreached");
	off = 0;
	rc = env_next(&e, o.sb.data, o.sb.size, &off);
	if (rc == 1)
		env_free(&e);
	int rc2 = env_next(&e, o.sb.data, o.sb.size, &off);
	CHECK("env: bad envelope in a batch gives -1", rc == 1 && rc2 == -1 && e.map == NULL);

	/* Trailing garbage after good envelopes. */
	mp_out_reset(&o);
	pack_env(&o, ENV_CORE, OP_TEXT, "ok");
	msgpack_sbuffer_write(&o.sb, "\xc1", 1);
	off = 0;
	rc = env_next(&e, o.sb.data, o.sb.size, &off);
	if (rc == 1)
		env_free(&e);
	rc2 = env_next(&e, o.sb.data, o.sb.size, &off);
	CHECK("env: garbage after a good envelope gives -1", rc == 1 && rc2 == -1);
	mp_out_free(&o);
}

/* An envelope with v, p, op and then pairs of uint8 → nil (3 bytes each). */
static void pack_dense(struct mp_out *o, uint32_t pairs)
{
	mp_out_reset(o);
	msgpack_pack_map(&o->pk, pairs + 3);
	mp_kv_int(&o->pk, "v", ENV_VERSION);
	mp_kv_cstr(&o->pk, "p", "core");
	mp_kv_cstr(&o->pk, "op", "x");
	for (uint32_t i = 0; i < pairs; i++) {
		msgpack_pack_fix_uint8(&o->pk, (uint8_t)(i & 0x7f)); /* 2 bytes: 0xcc, v */
		msgpack_pack_nil(&o->pk);
	}
}

static long peak_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/*
 * msgpack-c spends 24 bytes per element: an 8 MiB map of tiny entries took
 * 200 MB to unpack. Such envelopes are refused before unpacking, big blobs
 * and ordinary envelopes are not.
 */
static void test_element_budget(void)
{
	struct mp_out o;
	mp_out_init(&o);
	pack_dense(&o, (BUS_MAX_MESSAGE - 64) / 3);
	long before = peak_kib();
	CHECK("env: an 8 MiB map of 2.8 M tiny entries is refused", decode(o.sb.data, o.sb.size) == -1);
	long after = peak_kib();
	printf("# peak RSS %ld KiB before, %ld KiB after refusing %zu bytes of dense map\n", before, after,
	       o.sb.size);
	CHECK("env: refusing it costs no memory", after - before < 1024);
	pack_dense(&o, ENV_MAX_ELEMENTS / 2 - 8);
	CHECK("env: a map of about ENV_MAX_ELEMENTS elements is fine", decode(o.sb.data, o.sb.size) == 0);
	pack_dense(&o, ENV_MAX_ELEMENTS);
	CHECK("env: twice ENV_MAX_ELEMENTS in a small map is refused", decode(o.sb.data, o.sb.size) == -1);

	mp_out_reset(&o);
	env_begin(&o.pk, ENV_CORE, OP_TEXT, 1);
	char *big = calloc(1, BUS_MAX_CLIENT_MESSAGE);
	mp_kv_bin(&o.pk, "d", big, BUS_MAX_CLIENT_MESSAGE);
	CHECK("env: an envelope of one big blob is fine", decode(o.sb.data, o.sb.size) == 0);
	free(big);

	/* in a batch, the budget is each envelope's own: a small dense one after a big blob is refused */
	pack_dense(&o, 4000);
	size_t dense = o.sb.size;
	uint8_t *copy = malloc(dense);
	memcpy(copy, o.sb.data, dense);
	mp_out_reset(&o);
	env_begin(&o.pk, ENV_CORE, OP_TEXT, 1);
	mp_kv_bin(&o.pk, "d", copy, 0);
	pack_env(&o, ENV_CORE, OP_TEXT, "x");
	msgpack_sbuffer_write(&o.sb, (const char *)copy, dense);
	struct envelope e;
	size_t off = 0;
	int rc1 = env_next(&e, o.sb.data, o.sb.size, &off);
	env_free(&e);
	int rc2 = env_next(&e, o.sb.data, o.sb.size, &off);
	env_free(&e);
	int rc3 = env_next(&e, o.sb.data, o.sb.size, &off);
	env_free(&e);
	CHECK("env: the budget is per envelope, not per batch", rc1 == 1 && rc2 == 1 && rc3 == -1);
	free(copy);
	mp_out_free(&o);
}

/* common/envelope.c keeps a few cleared zones for the next envelopes: more
 * envelopes alive at once than it keeps, freed in any order, and taken again,
 * each keeps its own values (a zone handed out twice would mix them). */
static void test_kept_zones(void)
{
	enum { ALIVE = 7 };
	struct mp_out o[ALIVE];
	struct envelope e[ALIVE];
	bool ok = true;
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < ALIVE; i++) {
			char d[16];
			snprintf(d, sizeof d, "r%d-%d", round, i);
			mp_out_init(&o[i]);
			env_begin(&o[i].pk, ENV_CORE, OP_TEXT, 2);
			mp_kv_bin(&o[i].pk, "d", d, strlen(d));
			mp_cstr(&o[i].pk, "list"); /* a container: its elements live in the zone */
			msgpack_pack_array(&o[i].pk, 2);
			msgpack_pack_int(&o[i].pk, round);
			msgpack_pack_int(&o[i].pk, i);
			ok &= env_decode(&e[i], o[i].sb.data, o[i].sb.size) == 0;
		}
		for (int k = 0; k < ALIVE; k++) {
			int i = (k * 3 + round) % ALIVE; /* freed out of order */
			char want[16];
			const uint8_t *d;
			size_t n;
			snprintf(want, sizeof want, "r%d-%d", round, i);
			const msgpack_object *l = mp_get(e[i].map, "list");
			ok &= mp_get_bin(e[i].map, "d", &d, &n) && n == strlen(want) && memcmp(d, want, n) == 0 && l &&
			      l->type == MSGPACK_OBJECT_ARRAY && l->via.array.size == 2 &&
			      l->via.array.ptr[0].via.i64 == round && l->via.array.ptr[1].via.i64 == i;
			env_free(&e[i]);
			mp_out_free(&o[i]);
		}
	}
	CHECK("env: seven envelopes alive at once, freed out of order, three rounds: each keeps its values", ok);
}

void test_mp(void)
{
	test_kept_zones();
	test_helpers();
	test_envelope();
	test_batch();
	test_element_budget();
}
