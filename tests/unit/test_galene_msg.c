/* Galène client-message decoder (proto/galene/msg.c). */
#include <string.h>

#include "../../proto/galene/msg.h"
#include "check.h"

static int decode(const char *text, struct gmsg *m, const char **why)
{
	return gm_decode(m, text, strlen(text), why);
}

static void test_members(void)
{
	struct gmsg m;
	const char *why;
	int rc = decode("{\"type\":\"chat\",\"kind\":\"me\",\"source\":\"a\\u0062\",\"dest\":\"\",\"username\":\"x\","
			"\"noecho\":true,\"value\":{\"k\":[1,2]},\"time\":12,\"unknown\":[null],\"privileged\":false}",
			&m, &why);
	CHECK("galene msg: a chat decodes", rc == GM_OK && m.type == GM_CHAT && why == NULL);
	CHECK("galene msg: strings unescaped", gm_eq(&m.source, "ab") && gm_eq(&m.kind, "me") && gm_eq(&m.username, "x"));
	CHECK("galene msg: empty dest is present but not set", gm_has(&m.dest) && !gm_set(&m.dest));
	const char *v;
	size_t n;
	gm_raw(&m, m.value, &v, &n);
	CHECK("galene msg: value kept as raw JSON", n == 11 && memcmp(v, "{\"k\":[1,2]}", 11) == 0);
	CHECK("galene msg: noecho", m.noecho);
	gm_free(&m);

	rc = decode("{\"type\":\"handshake\",\"version\":[\"1\",\"2\"],\"id\":\"c\"}", &m, &why);
	CHECK("galene msg: handshake with version 2", rc == GM_OK && m.type == GM_HANDSHAKE && m.has_v2 && gm_eq(&m.id, "c"));
	gm_free(&m);
	rc = decode("{\"type\":\"handshake\",\"version\":[\"1\"]}", &m, &why);
	CHECK("galene msg: handshake without version 2", rc == GM_OK && !m.has_v2 && !gm_has(&m.id));
	gm_free(&m);
	rc = decode("{\"typ\\u0065\":\"chat\",\"\\u006eoecho\":true,\"valu\\u0065\":1,\"ids\":\"x\",\"i\":\"y\"}", &m, &why);
	CHECK("galene msg: keys with escapes are read unescaped; near names are not taken",
	      rc == GM_OK && m.type == GM_CHAT && m.noecho && m.value >= 0 && !gm_has(&m.id));
	gm_free(&m);
	rc = decode("{\"type\":\"frob\",\"username\":null}", &m, &why);
	CHECK("galene msg: unknown type, null absent", rc == GM_OK && m.type == GM_UNKNOWN && !gm_has(&m.username));
	gm_free(&m);
}

static void test_refusals(void)
{
	static const char *const bad[] = {
		"[1]", "\"x\"", "{", "{\"kind\":\"join\"}", "{\"type\":1}", "{\"type\":\"chat\",\"noecho\":\"yes\"}",
		"{\"type\":\"join\",\"data\":[1]}", "{\"type\":\"handshake\",\"version\":\"2\"}",
		"{\"type\":\"handshake\",\"version\":[2]}", "{\"type\":\"ice\",\"candidate\":\"c\"}",
		"{\"type\":\"chat\",\"value\":01}", "{\"type\":\"chat\",\"source\":\"\\ud800\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct gmsg m;
		const char *why = NULL;
		int rc = decode(bad[i], &m, &why);
		char name[128];
		snprintf(name, sizeof name, "galene msg: refused: %s", bad[i]);
		CHECK(name, rc != GM_OK && why != NULL);
		gm_free(&m);
	}
}

void test_galene_msg(void)
{
	test_members();
	test_refusals();
}
