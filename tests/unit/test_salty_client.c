/*
 * proto/saltyrtc client library (client.h): two clients, initiator and
 * responder, through the server's half of the handshake written out here
 * with libsodium (server-hello, server-auth with signed_keys, new-initiator /
 * new-responder, relay of whole packets), so every check below runs on the
 * client's real packets: handshake in both join orders, task messages both
 * ways, close both ways, and the refusals (wrong token, wrong pinned server
 * key, replay, reserved types, short packets, a lost peer). The real
 * server and the npm client are in tests/e2e/salty-cli.test.js.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/mp.h"
#include "../../proto/saltyrtc/client_int.h"
#include "../../proto/saltyrtc/client_json.h"
#include "check.h"

#define MAXQ 512

struct tcl {
	struct saltyc_client *c;
	uint8_t *q[MAXQ];
	size_t qn[MAXQ];
	int nq;
	/* what the client told us */
	int closed, close_code, end, ready, lost, peer_close, nmsg, dropped, drop_code;
	uint8_t last_msg[256];
	size_t last_len;
	/* the server's view of this connection */
	uint8_t s_pk[32], s_sk[32], cookie[16], client_pk[32], addr;
	uint64_t csn;
	bool authed, hello_seen, gone;
	int srv_drop_reason; /* drop-responder reason the server got for this client */
};

static uint8_t srv_perm_pk[32], srv_perm_sk[32];
static struct tcl *ini_c, *res_c; /* the two connections on the path */
static int dup_next_relay;

static int t_send(void *ctx, const uint8_t *p, size_t n)
{
	struct tcl *t = ctx;
	if (t->nq == MAXQ)
		return -1;
	t->q[t->nq] = malloc(n);
	memcpy(t->q[t->nq], p, n);
	t->qn[t->nq++] = n;
	return 0;
}

static void t_event(void *ctx, const struct saltyc_event *ev)
{
	struct tcl *t = ctx;
	switch (ev->type) {
	case SALTYC_EV_CLOSE:
		t->closed++, t->close_code = ev->a, t->end = ev->b;
		break;
	case SALTYC_EV_PEER_READY:
		t->ready++;
		break;
	case SALTYC_EV_PEER_LOST:
		t->lost++;
		break;
	case SALTYC_EV_PEER_CLOSE:
		t->peer_close = ev->a;
		break;
	case SALTYC_EV_DROPPED:
		t->dropped++, t->drop_code = ev->b;
		break;
	case SALTYC_EV_MESSAGE:
		t->nmsg++;
		t->last_len = ev->len < sizeof t->last_msg ? ev->len : sizeof t->last_msg;
		memcpy(t->last_msg, ev->data, t->last_len);
		break;
	default:
		break;
	}
}

static struct tcl *t_new(enum saltyc_role role, const uint8_t *sk, const uint8_t *token, const uint8_t *peer_key,
			 const uint8_t *server_key)
{
	struct tcl *t = calloc(1, sizeof *t);
	struct saltyc_config cfg = {.role = role, .has_token = token != NULL};
	memcpy(cfg.secret_key, sk, 32);
	if (token)
		memcpy(cfg.token, token, 32);
	if (peer_key)
		memcpy(cfg.peer_key, peer_key, 32);
	if (server_key) {
		cfg.has_server_key = true;
		memcpy(cfg.server_key, server_key, 32);
	}
	struct saltyc_io io = {.ctx = t, .send = t_send, .event = t_event};
	t->c = saltyc_new(&cfg, &io);
	crypto_box_keypair(t->s_pk, t->s_sk);
	randombytes_buf(t->cookie, 16);
	t->csn = 0xffffffff; /* the server's CSN crosses the 32-bit boundary at once */
	return t;
}

static void t_free(struct tcl *t)
{
	for (int i = 0; i < t->nq; i++)
		free(t->q[i]);
	saltyc_free(t->c);
	free(t);
}

static void nonce_for(struct tcl *t, uint8_t out[24])
{
	memcpy(out, t->cookie, 16);
	out[16] = 0;
	out[17] = t->addr;
	for (int i = 0; i < 6; i++)
		out[18 + i] = (uint8_t)(t->csn >> (8 * (5 - i)));
	t->csn++;
}

/* The server sends the map in o to t, encrypted unless plain. */
static void srv_send(struct tcl *t, struct mp_out *o, bool plain)
{
	size_t n = o->sb.size;
	uint8_t *pkt = malloc(24 + n + 16);
	nonce_for(t, pkt);
	if (plain)
		memcpy(pkt + 24, o->sb.data, n);
	else
		if (crypto_box_easy(pkt + 24, (uint8_t *)o->sb.data, n, pkt, t->client_pk, t->s_sk) != 0)
			abort();
	saltyc_receive(t->c, pkt, 24 + n + (plain ? 0 : 16));
	free(pkt);
}

static void srv_hello(struct tcl *t)
{
	struct mp_out o;
	mp_out_init(&o);
	msgpack_pack_map(&o.pk, 2);
	mp_kv_cstr(&o.pk, "type", "server-hello");
	mp_kv_bin(&o.pk, "key", t->s_pk, 32);
	srv_send(t, &o, true);
	mp_out_free(&o);
}

static void srv_simple(struct tcl *t, const char *type, int id)
{
	struct mp_out o;
	mp_out_init(&o);
	msgpack_pack_map(&o.pk, id ? 2 : 1);
	mp_kv_cstr(&o.pk, "type", type);
	if (id)
		mp_kv_int(&o.pk, "id", id);
	srv_send(t, &o, false);
	mp_out_free(&o);
}

static void srv_auth(struct tcl *t)
{
	bool ini = t == ini_c;
	t->addr = ini ? 1 : 2;
	t->authed = true;
	struct tcl *other = ini ? res_c : ini_c;
	bool other_here = other && other->authed && !other->gone;
	if (other_here)
		srv_simple(other, ini ? "new-initiator" : "new-responder", ini ? 0 : 2);
	uint8_t nonce[24], keys[64], signed_keys[80];
	uint64_t csn = t->csn;
	nonce_for(t, nonce);
	t->csn = csn; /* srv_send takes the same nonce again */
	memcpy(keys, t->s_pk, 32);
	memcpy(keys + 32, t->client_pk, 32);
	if (crypto_box_easy(signed_keys, keys, 64, nonce, t->client_pk, srv_perm_sk) != 0)
		abort();
	struct mp_out o;
	mp_out_init(&o);
	msgpack_pack_map(&o.pk, 4);
	mp_kv_cstr(&o.pk, "type", "server-auth");
	mp_kv_bin(&o.pk, "your_cookie", t->q[0] + 0, 16); /* the client's cookie, from its first packet */
	mp_kv_bin(&o.pk, "signed_keys", signed_keys, 80);
	if (ini) {
		mp_cstr(&o.pk, "responders");
		msgpack_pack_array(&o.pk, other_here ? 1 : 0);
		if (other_here)
			msgpack_pack_int(&o.pk, 2);
	} else {
		mp_kv_bool(&o.pk, "initiator_connected", other_here);
	}
	srv_send(t, &o, false);
	mp_out_free(&o);
}

/* One server-bound packet from t. */
static void srv_handle(struct tcl *t, const uint8_t *p, size_t n)
{
	msgpack_unpacked up;
	const msgpack_object *m;
	if (!t->hello_seen && t != ini_c && saltyc_unpack(p + 24, n - 24, &up, &m) == 0 &&
	    saltyc_type_is(m, "client-hello")) {
		memcpy(t->client_pk, saltyc_get_key(m, "key"), 32);
		t->hello_seen = true;
		msgpack_unpacked_destroy(&up);
		return;
	}
	if (t == ini_c && !t->authed)
		saltyc_public_key(t->c->cfg.secret_key, t->client_pk); /* the path */
	uint8_t plain[256];
	if (n - 24 < 16 || n - 24 - 16 > sizeof plain ||
	    crypto_box_open_easy(plain, p + 24, n - 24, p, t->client_pk, t->s_sk) != 0)
		return;
	if (saltyc_unpack(plain, n - 40, &up, &m) == 0) {
		int64_t reason = 0, id = 0;
		if (saltyc_type_is(m, "client-auth"))
			srv_auth(t);
		else if (saltyc_type_is(m, "drop-responder") && mp_get_int(m, "id", &id) && id == 2 && res_c) {
			mp_get_int(m, "reason", &reason);
			res_c->srv_drop_reason = (int)reason;
			res_c->gone = true;
		}
	}
	msgpack_unpacked_destroy(&up);
}

/* Delivers every queued packet (server-bound or relayed) until all are quiet. */
static void pump(void)
{
	for (int round = 0; round < 1000; round++) {
		struct tcl *t = ini_c && ini_c->nq ? ini_c : res_c && res_c->nq ? res_c : NULL;
		if (!t)
			return;
		uint8_t *p = t->q[0];
		size_t n = t->qn[0];
		if (p[17] == 0)
			srv_handle(t, p, n);
		else {
			struct tcl *to = t == ini_c ? res_c : ini_c;
			if (to && to->authed && !to->gone) {
				saltyc_receive(to->c, p, n);
				if (dup_next_relay && !(dup_next_relay = 0))
					saltyc_receive(to->c, p, n);
			}
		}
		free(t->q[0]);
		memmove(t->q, t->q + 1, (size_t)(t->nq - 1) * sizeof t->q[0]);
		memmove(t->qn, t->qn + 1, (size_t)(t->nq - 1) * sizeof t->qn[0]);
		t->nq--;
	}
}

struct pair {
	uint8_t ini_sk[32], ini_pk[32], res_sk[32], res_pk[32], token[32];
};

static void pair_keys(struct pair *k)
{
	crypto_box_keypair(k->ini_pk, k->ini_sk);
	crypto_box_keypair(k->res_pk, k->res_sk);
	randombytes_buf(k->token, 32);
}

static void connect_both(bool initiator_first)
{
	struct tcl *first = initiator_first ? ini_c : res_c, *second = initiator_first ? res_c : ini_c;
	srv_hello(first);
	pump();
	srv_hello(second);
	pump();
}

static void teardown(void)
{
	t_free(ini_c);
	t_free(res_c);
	ini_c = res_c = NULL;
}

static int send_map(struct tcl *t, const char *type, const char *text)
{
	struct mp_out o;
	mp_out_init(&o);
	msgpack_pack_map(&o.pk, 2);
	mp_kv_cstr(&o.pk, "type", type);
	mp_kv_cstr(&o.pk, "text", text);
	const char *why;
	int rc = saltyc_send_task(t->c, (uint8_t *)o.sb.data, o.sb.size, &why);
	mp_out_free(&o);
	return rc;
}

static void test_pairing(bool initiator_first)
{
	struct pair k;
	pair_keys(&k);
	ini_c = t_new(SALTYC_INITIATOR, k.ini_sk, k.token, NULL, srv_perm_pk);
	res_c = t_new(SALTYC_RESPONDER, k.res_sk, k.token, k.ini_pk, srv_perm_pk);
	connect_both(initiator_first);
	const char *order = initiator_first ? "initiator first" : "responder first";
	char name[128];
	snprintf(name, sizeof name, "salty client: handshake, %s, pinned server key", order);
	CHECK(name, saltyc_phase(ini_c->c) == SALTYC_PH_TASK && saltyc_phase(res_c->c) == SALTYC_PH_TASK &&
			    ini_c->ready == 1 && res_c->ready == 1 && !ini_c->closed && !res_c->closed);
	CHECK("salty client: addresses from server-auth", ini_c->c->addr == 1 && res_c->c->addr == 2);
	int ok = 1;
	for (int i = 0; i < 100; i++) {
		ok &= send_map(res_c, "chat", "to the initiator") == 0;
		ok &= send_map(ini_c, "chat", "to the responder") == 0;
		pump();
	}
	CHECK("salty client: 100 task messages each way", ok && ini_c->nmsg == 100 && res_c->nmsg == 100);
	CHECK("salty client: a task message arrives as its MessagePack bytes",
	      res_c->last_len == 33 && memcmp(res_c->last_msg + 1, "\xa4type\xa4" "chat", 10) == 0);
	CHECK("salty client: close and application types refused, nothing sent",
	      send_map(ini_c, "close", "x") < 0 && send_map(ini_c, "application", "x") < 0 && ini_c->nq == 0);
	const char *why;
	CHECK("salty client: a non-map task message is refused",
	      saltyc_send_task(ini_c->c, (const uint8_t *)"\x93\x01\x02\x03", 4, &why) < 0 &&
		  saltyc_send_task(ini_c->c, (const uint8_t *)"\x81\xa4type\x01", 7, &why) < 0);
	/* both close orders: the first pairing closes from the initiator, the second from the responder */
	struct tcl *closer = initiator_first ? ini_c : res_c, *other = initiator_first ? res_c : ini_c;
	saltyc_close(closer->c, 1001);
	pump();
	snprintf(name, sizeof name, "salty client: close from the %s reaches the peer", initiator_first ? "initiator" : "responder");
	CHECK(name, closer->closed == 1 && closer->end == SALTYC_END_NORMAL && other->peer_close == 1001 &&
			    other->closed == 1 && other->end == SALTYC_END_NORMAL);
	teardown();
}

static void test_wrong_token(void)
{
	struct pair k;
	pair_keys(&k);
	uint8_t bad[32];
	randombytes_buf(bad, 32);
	ini_c = t_new(SALTYC_INITIATOR, k.ini_sk, k.token, NULL, NULL);
	res_c = t_new(SALTYC_RESPONDER, k.res_sk, bad, k.ini_pk, NULL);
	connect_both(true);
	CHECK("salty client: a wrong token gets the responder dropped with 3005",
	      ini_c->dropped == 1 && ini_c->drop_code == 3005 && res_c->srv_drop_reason == 3005 &&
		  saltyc_phase(ini_c->c) == SALTYC_PH_PEER && !ini_c->closed);
	teardown();
}

static void test_wrong_server_key(void)
{
	struct pair k;
	pair_keys(&k);
	uint8_t other_pk[32], other_sk[32];
	crypto_box_keypair(other_pk, other_sk);
	ini_c = t_new(SALTYC_INITIATOR, k.ini_sk, k.token, NULL, other_pk);
	res_c = NULL;
	srv_hello(ini_c);
	pump();
	CHECK("salty client: signed_keys that do not verify with the pinned key end it",
	      ini_c->closed == 1 && ini_c->end == SALTYC_END_SERVER_KEY && saltyc_phase(ini_c->c) == SALTYC_PH_CLOSED);
	t_free(ini_c);
	ini_c = NULL;
}

static struct pair paired_up(void)
{
	struct pair k;
	pair_keys(&k);
	ini_c = t_new(SALTYC_INITIATOR, k.ini_sk, k.token, NULL, NULL);
	res_c = t_new(SALTYC_RESPONDER, k.res_sk, k.token, k.ini_pk, NULL);
	connect_both(true);
	return k;
}

static void test_replay_and_application(void)
{
	paired_up();
	dup_next_relay = 1;
	send_map(res_c, "chat", "once");
	pump();
	CHECK("salty client: a replayed packet (same CSN) ends the session as a protocol error",
	      ini_c->nmsg == 1 && ini_c->closed == 1 && ini_c->end == SALTYC_END_PROTOCOL &&
		  res_c->peer_close == 3001 && res_c->end == SALTYC_END_PEER_ERROR);
	teardown();

	paired_up();
	struct saltyc_client *r = res_c->c;
	mp_out_reset(&r->out);
	msgpack_pack_map(&r->out.pk, 2);
	mp_kv_cstr(&r->out.pk, "type", "application");
	mp_kv_cstr(&r->out.pk, "data", "x");
	saltyc_send_out(r, &r->peers[1].n, 1, SEAL_SESS, &r->peers[1]);
	pump();
	CHECK("salty client: an application message from the peer is a protocol error",
	      ini_c->nmsg == 0 && ini_c->end == SALTYC_END_PROTOCOL && res_c->peer_close == 3001);
	teardown();
}

static void test_peer_lost(void)
{
	paired_up();
	srv_simple(ini_c, "disconnected", 2);
	CHECK("salty client: disconnected for the paired responder is a lost peer",
	      ini_c->lost == 1 && !ini_c->closed && saltyc_phase(ini_c->c) == SALTYC_PH_PEER);
	srv_simple(res_c, "disconnected", 1);
	CHECK("salty client: disconnected for the initiator is a lost peer",
	      res_c->lost == 1 && !res_c->closed && saltyc_phase(res_c->c) == SALTYC_PH_PEER);
	teardown();
}

static void test_bad_packets(void)
{
	struct pair k;
	pair_keys(&k);
	ini_c = t_new(SALTYC_INITIATOR, k.ini_sk, k.token, NULL, NULL);
	uint8_t p[128] = {0};
	CHECK("salty client: a 24-byte packet is refused with 3001",
	      saltyc_receive(ini_c->c, p, 24) < 0 && ini_c->close_code == 3001 && ini_c->end == SALTYC_END_PROTOCOL);
	t_free(ini_c);
	ini_c = t_new(SALTYC_INITIATOR, k.ini_sk, k.token, NULL, NULL);
	p[16] = 1; /* from the initiator address during the server handshake */
	CHECK("salty client: a client source before server-auth is refused",
	      saltyc_receive(ini_c->c, p, 40) < 0 && ini_c->close_code == 3001);
	t_free(ini_c);
	ini_c = t_new(SALTYC_INITIATOR, k.ini_sk, k.token, NULL, NULL);
	p[16] = 0;
	p[18] = 1; /* overflow 1 in the first message */
	memcpy(p + 24, "\x82\xa4type\xacserver-hello\xa3key\xc4\x20", 25);
	CHECK("salty client: a first server message with overflow 1 is refused",
	      saltyc_receive(ini_c->c, p, 24 + 25 + 32) < 0 && ini_c->end == SALTYC_END_PROTOCOL);
	t_free(ini_c);
	ini_c = t_new(SALTYC_INITIATOR, k.ini_sk, k.token, NULL, NULL);
	memset(p + 18, 0, 6);
	memcpy(p + 24, "\x82\xa4type\xacserver-hello\xa3key\xc4\x20", 25);
	uint8_t ssk[32];
	crypto_box_keypair(p + 49, ssk);
	CHECK("salty client: a well-formed server-hello is answered with client-auth",
	      saltyc_receive(ini_c->c, p, 24 + 25 + 32) == 0 && ini_c->nq == 1 &&
		  saltyc_phase(ini_c->c) == SALTYC_PH_SERVER_AUTH);
	CHECK("salty client: a second packet with the same CSN is refused",
	      saltyc_receive(ini_c->c, p, 24 + 25 + 32) < 0 && ini_c->end == SALTYC_END_PROTOCOL);
	t_free(ini_c);
	ini_c = t_new(SALTYC_INITIATOR, k.ini_sk, k.token, NULL, NULL);
	memcpy(p + 24, "\x82\xa4type\xacserver-hello\xa3key\xd9\x20", 25); /* str, not bin */
	CHECK("salty client: server-hello with a str key is refused",
	      saltyc_receive(ini_c->c, p, 24 + 25 + 32) < 0 && ini_c->end == SALTYC_END_PROTOCOL);
	t_free(ini_c);
	ini_c = t_new(SALTYC_INITIATOR, k.ini_sk, k.token, NULL, NULL);
	memcpy(p + 24, "\xdf\xff\xff\xff\xff", 5); /* a map announcing 2^32-1 entries */
	CHECK("salty client: a map announcing more entries than bytes is refused",
	      saltyc_receive(ini_c->c, p, 24 + 5) < 0 && ini_c->end == SALTYC_END_PROTOCOL);
	t_free(ini_c);
	ini_c = NULL;
}

/* JSON text -> MessagePack -> JSON text again. */
static bool json_round(const char *in, const char *want)
{
	struct mp_out o;
	mp_out_init(&o);
	const char *why;
	bool ok = false;
	if (saltyc_json_to_mp(in, strlen(in), &o.pk, &why) == 0) {
		msgpack_unpacked up;
		msgpack_unpacked_init(&up);
		size_t off = 0;
		struct buf b = {0};
		if (msgpack_unpack_next(&up, o.sb.data, o.sb.size, &off) == MSGPACK_UNPACK_SUCCESS &&
		    saltyc_mp_to_json(&up.data, &b) == 0 && buf_append(&b, "", 1) == 0)
			ok = strcmp((char *)buf_head(&b), want) == 0;
		if (!ok && buf_used(&b))
			printf("# got %.*s\n", (int)buf_used(&b), (char *)buf_head(&b));
		buf_free(&b);
		msgpack_unpacked_destroy(&up);
	}
	mp_out_free(&o);
	return ok;
}

static void test_json(void)
{
	CHECK("salty json: scalars and nesting round-trip",
	      json_round("{\"type\":\"m\",\"a\":[1,-2,1.5,true,false,null,\"x\\u00e9\\n\"],\"o\":{}}",
			 "{\"type\":\"m\",\"a\":[1,-2,1.5,true,false,null,\"x\xc3\xa9\\n\"],\"o\":{}}"));
	CHECK("salty json: 64-bit integers stay integers",
	      json_round("[18446744073709551615,-9223372036854775808,1e3]", "[18446744073709551615,-9223372036854775808,1000]"));
	CHECK("salty json: $bin and $ext both ways",
	      json_round("{\"$bin\":\"AAH/\"}", "{\"$bin\":\"AAH/\"}") &&
		  json_round("{\"$ext\":[5,\"AQI=\"]}", "{\"$ext\":[5,\"AQI=\"]}"));
	CHECK("salty json: bad $bin refused, bad JSON refused",
	      !json_round("{\"$bin\":\"!!\"}", "") && !json_round("{\"a\":}", "") && !json_round("{\"a\":\"\\ud800\"}", ""));
	/* non-str keys and non-UTF-8 str, from MessagePack */
	const uint8_t mp[] = {0x82, 0x01, 0xa1, 'x', 0xa2, 'k', 'v', 0xa2, 0xff, 0xfe};
	msgpack_unpacked up;
	msgpack_unpacked_init(&up);
	size_t off = 0;
	struct buf b = {0};
	bool ok = msgpack_unpack_next(&up, (const char *)mp, sizeof mp, &off) == MSGPACK_UNPACK_SUCCESS &&
		  saltyc_mp_to_json(&up.data, &b) == 0 && buf_append(&b, "", 1) == 0 &&
		  strcmp((char *)buf_head(&b), "{\"1\":\"x\",\"kv\":{\"$bin\":\"//4=\"}}") == 0;
	CHECK("salty json: an int key becomes a string, a non-UTF-8 str becomes $bin", ok);
	buf_free(&b);
	msgpack_unpacked_destroy(&up);
}

void test_salty_client(void)
{
	if (sodium_init() < 0) {
		CHECK("salty client: sodium_init", false);
		return;
	}
	crypto_box_keypair(srv_perm_pk, srv_perm_sk);
	test_pairing(true);
	test_pairing(false);
	test_wrong_token();
	test_wrong_server_key();
	test_replay_and_application();
	test_peer_lost();
	test_bad_packets();
	test_json();
}
