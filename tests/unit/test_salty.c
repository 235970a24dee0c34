/* proto/saltyrtc: the packet decoder, CSN and cookie rules, key files, slots. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/mp.h"
#include "../../proto/saltyrtc/keyfile.h"
#include "../../proto/saltyrtc/packet.h"
#include "../../proto/saltyrtc/slots.h"
#include "check.h"

static const uint8_t own[SALTY_COOKIE] = {1, 2, 3};

static struct salty_nonce nonce_of(uint8_t fill, uint64_t csn)
{
	struct salty_nonce n;
	memset(n.cookie, fill, sizeof n.cookie);
	n.src = n.dst = 0;
	n.csn = csn;
	return n;
}

static void test_nonce(void)
{
	uint8_t p[25] = {0}, c[16];
	struct salty_nonce n;
	memset(c, 0xab, sizeof c);
	salty_nonce_write(p, c, 1, 0xfe, 0x0000123456789aULL);
	CHECK("salty nonce: a packet of 24 bytes is refused", salty_nonce_read(&n, p, 24) < 0);
	CHECK("salty nonce: 25 bytes read", salty_nonce_read(&n, p, 25) == 0);
	CHECK("salty nonce: fields round-trip", n.src == 1 && n.dst == 0xfe && n.csn == 0x123456789aULL &&
							 memcmp(n.cookie, c, 16) == 0);
	CHECK("salty nonce: overflow and sequence big-endian", p[18] == 0x00 && p[19] == 0x12 && p[20] == 0x34 &&
								    p[23] == 0x9a);
}

static void test_csn(void)
{
	struct salty_incoming in = {0};
	struct salty_nonce n = nonce_of(7, 1ULL << 32);
	CHECK("salty csn: a first message with overflow != 0 is refused", salty_incoming_check(&in, own, &n) < 0);
	n = nonce_of(0, 5);
	memcpy(n.cookie, own, sizeof own);
	CHECK("salty csn: our own cookie is refused", salty_incoming_check(&in, own, &n) < 0);
	n = nonce_of(7, 0xffffffffULL);
	CHECK("salty csn: first message at 2^32-1 taken", salty_incoming_check(&in, own, &n) == 0);
	n = nonce_of(7, 0x100000000ULL);
	CHECK("salty csn: 2^32-1 -> 2^32 accepted (48-bit)", salty_incoming_check(&in, own, &n) == 0);
	n = nonce_of(7, 0x100000002ULL);
	CHECK("salty csn: a jump is refused", salty_incoming_check(&in, own, &n) < 0);
	n = nonce_of(7, 0x100000000ULL);
	CHECK("salty csn: a repeat is refused", salty_incoming_check(&in, own, &n) < 0);
	n = nonce_of(8, 0x100000001ULL);
	CHECK("salty csn: a changed cookie is refused", salty_incoming_check(&in, own, &n) < 0);
	n = nonce_of(7, 0x100000001ULL);
	CHECK("salty csn: state unchanged by refusals", salty_incoming_check(&in, own, &n) == 0);
	in.csn = SALTY_CSN_MAX - 1;
	n = nonce_of(7, SALTY_CSN_MAX);
	CHECK("salty csn: 2^48-1 accepted", salty_incoming_check(&in, own, &n) == 0);
	n = nonce_of(7, 0);
	CHECK("salty csn: nothing after 2^48-1 (no wrap to 0)", salty_incoming_check(&in, own, &n) < 0);
	uint8_t p[25] = {0};
	salty_nonce_write(p, own, 0, 0, SALTY_CSN_MAX);
	struct salty_nonce r;
	salty_nonce_read(&r, p, 25);
	CHECK("salty csn: 48 bits on the wire", r.csn == SALTY_CSN_MAX);
}

/* Packs a map of n pairs given as key, type, value... into o. */
static struct mp_out o;

static void begin(const char *type, uint32_t extra)
{
	mp_out_reset(&o);
	msgpack_pack_map(&o.pk, extra + 1);
	mp_kv_cstr(&o.pk, "type", type);
}

static int decode(struct salty_msg *m) { return salty_msg_decode(m, (const uint8_t *)o.sb.data, o.sb.size); }

static void auth_fields(const char *skip)
{
	static const uint8_t cookie[16] = {9};
	if (strcmp(skip, "your_cookie"))
		mp_kv_bin(&o.pk, "your_cookie", cookie, 16);
	if (strcmp(skip, "subprotocols")) {
		mp_cstr(&o.pk, "subprotocols");
		msgpack_pack_array(&o.pk, 2);
		mp_cstr(&o.pk, "v0.saltyrtc.org");
		mp_cstr(&o.pk, "v1.saltyrtc.org");
	}
}

static void test_decode(void)
{
	struct salty_msg m;
	uint8_t key[32] = {1};
	mp_out_init(&o);
	begin("client-hello", 1);
	mp_kv_bin(&o.pk, "key", key, 32);
	CHECK("salty decode: client-hello", decode(&m) == 0 && m.type == SALTY_CLIENT_HELLO && m.key[0] == 1);
	begin("client-hello", 1);
	mp_kv_str(&o.pk, "key", (const char *)key, 32);
	CHECK("salty decode: client-hello with a str key refused", decode(&m) < 0);
	begin("client-hello", 1);
	mp_kv_bin(&o.pk, "key", key, 5);
	CHECK("salty decode: client-hello with a 5-byte key refused", decode(&m) < 0);
	begin("client-auth", 2);
	auth_fields("");
	CHECK("salty decode: client-auth without ping_interval or your_key",
	      decode(&m) == 0 && m.type == SALTY_CLIENT_AUTH && m.offers_v1 && !m.has_your_key && m.ping_interval == 0);
	begin("client-auth", 4);
	auth_fields("");
	mp_kv_int(&o.pk, "ping_interval", 30);
	mp_kv_bin(&o.pk, "your_key", key, 32);
	CHECK("salty decode: client-auth with ping_interval, your_key",
	      decode(&m) == 0 && m.ping_interval == 30 && m.has_your_key && m.your_key[0] == 1);
	begin("client-auth", 3);
	auth_fields("");
	mp_kv_int(&o.pk, "ping_interval", -1);
	CHECK("salty decode: negative ping_interval refused", decode(&m) < 0);
	begin("client-auth", 3);
	auth_fields("");
	mp_cstr(&o.pk, "your_key");
	msgpack_pack_nil(&o.pk);
	CHECK("salty decode: nil your_key counts as absent", decode(&m) == 0 && !m.has_your_key);
	begin("client-auth", 1);
	auth_fields("subprotocols");
	CHECK("salty decode: client-auth without subprotocols refused", decode(&m) < 0);
	begin("client-auth", 1);
	auth_fields("your_cookie");
	CHECK("salty decode: client-auth without your_cookie refused", decode(&m) < 0);
	static const int reasons[] = {3001, 3002, 3004, 3005};
	for (int i = 0; i < 4; i++) {
		begin("drop-responder", 2);
		mp_kv_int(&o.pk, "id", 2);
		mp_kv_int(&o.pk, "reason", reasons[i]);
		CHECK("salty decode: drop-responder with a valid reason", decode(&m) == 0 && m.reason == reasons[i]);
	}
	begin("drop-responder", 2);
	mp_kv_int(&o.pk, "id", 255);
	mp_kv_int(&o.pk, "reason", 3000);
	CHECK("salty decode: drop-responder reason 3000 refused", decode(&m) < 0);
	begin("drop-responder", 1);
	mp_kv_int(&o.pk, "id", 1);
	CHECK("salty decode: drop-responder id 1 refused", decode(&m) < 0);
	begin("drop-responder", 1);
	mp_kv_int(&o.pk, "id", 255);
	CHECK("salty decode: drop-responder without reason", decode(&m) == 0 && m.id == 255 && m.reason == 0);
	begin("new-responder", 0);
	CHECK("salty decode: a type a client may not send refused", decode(&m) < 0);
	static const uint8_t huge[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
	CHECK("salty decode: an array announcing 2^32 elements refused", salty_msg_decode(&m, huge, sizeof huge) < 0);
	static const uint8_t two[] = {0x80, 0x80};
	CHECK("salty decode: trailing bytes refused", salty_msg_decode(&m, two, sizeof two) < 0);
	mp_out_free(&o);
}

static void test_keys(void)
{
	uint8_t sk[32];
	char line[80];
	memset(line, 'a', 64);
	CHECK("salty key: 64 hex", salty_key_parse(sk, line, 64) == 0 && sk[0] == 0xaa);
	line[64] = '\n';
	CHECK("salty key: one line end", salty_key_parse(sk, line, 65) == 0);
	line[64] = 'a';
	CHECK("salty key: 65 digits refused", salty_key_parse(sk, line, 65) < 0);
	line[3] = 'G';
	CHECK("salty key: a non-hex digit refused", salty_key_parse(sk, line, 64) < 0);
	line[3] = 'F';
	CHECK("salty key: upper case taken", salty_key_parse(sk, line, 64) == 0 && sk[1] == 0xaf);

	char dir[] = "/tmp/sb-unit-salty-XXXXXX", a[64], b[64];
	CHECK("salty key: temp dir", mkdtemp(dir) != NULL);
	snprintf(a, sizeof a, "%s/a.key", dir);
	snprintf(b, sizeof b, "%s/b.key", dir);
	uint8_t pk[32];
	const char *why = NULL;
	struct stat stt;
	CHECK("salty key: generate", salty_key_generate(a, pk, &why) == 0);
	CHECK("salty key: generated mode 0600", stat(a, &stt) == 0 && (stt.st_mode & 0777) == 0600);
	CHECK("salty key: never over an existing file", salty_key_generate(a, pk, &why) < 0);
	struct salty_keys k = {0};
	CHECK("salty key: load", salty_keys_load(&k, a, &why) == 0 && k.n == 1 && memcmp(k.pk[0], pk, 32) == 0);
	/* the reasons leave the file to the caller, which names it once */
	CHECK("salty key: a duplicate refused", salty_keys_load(&k, a, &why) < 0 && !strcmp(why, "the same key is given twice"));
	CHECK("salty key: a missing file", salty_keys_load(&k, b, &why) < 0 && !strcmp(why, strerror(ENOENT)));
	int fd = open(b, O_WRONLY | O_CREAT, 0600);
	CHECK("salty key: malformed file written", fd >= 0 && write(fd, "abc\n", 4) == 4 && close(fd) == 0);
	CHECK("salty key: a malformed file", salty_keys_load(&k, b, &why) < 0 && strstr(why, "not a key file") && !strstr(why, b));
	CHECK("salty key: find", salty_keys_find(&k, pk) == 0 && salty_keys_find(&k, k.sk[0]) < 0);
	unlink(a);
	unlink(b);
	rmdir(dir);
}

static void test_slots(void)
{
	struct salty_path *p = calloc(1, sizeof *p);
	int who[300];
	CHECK("salty slots: first responder gets 2", salty_slot_take(p, &who[0]) == 2);
	CHECK("salty slots: second gets 3", salty_slot_take(p, &who[1]) == 3);
	salty_slot_release(p, 2);
	CHECK("salty slots: a freed slot is reused, lowest first", salty_slot_take(p, &who[2]) == 2);
	CHECK("salty slots: the holder of 3 is untouched", p->responder[3] == &who[1]);
	int ok = 1;
	for (int i = 3; i < 255; i++)
		ok &= salty_slot_take(p, &who[i]) == i + 1;
	CHECK("salty slots: up to 255", ok && p->responders == 254);
	CHECK("salty slots: the 255th responder finds the path full", salty_slot_take(p, &who[299]) < 0);
	CHECK("salty slots: claim of a taken slot refused", salty_slot_claim(p, 5, &who[299]) < 0);
	salty_slot_release(p, 5);
	CHECK("salty slots: claim of a free slot", salty_slot_claim(p, 5, &who[299]) == 0);
	CHECK("salty slots: claim out of range refused", salty_slot_claim(p, 1, &who[0]) < 0 &&
							      salty_slot_claim(p, 256, &who[0]) < 0);
	for (int i = 2; i <= 255; i++)
		salty_slot_release(p, i);
	CHECK("salty slots: empty again", salty_path_empty(p));
	p->initiator = &who[0];
	CHECK("salty slots: an initiator alone is not empty", !salty_path_empty(p));
	free(p);
}

void test_salty(void)
{
	if (sodium_init() < 0)
		return;
	test_nonce();
	test_csn();
	test_decode();
	test_keys();
	test_slots();
}
