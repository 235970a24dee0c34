/*
 * Galène client messages: gm_decode on any bytes either refuses or gives
 * a message whose strings lie in its arena, NUL-terminated, and whose kept
 * members are tokens of the document; the raw text of each is in the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/utf8.h"
#include "../../proto/galene/msg.h"

static void check_str(const struct gmsg *m, const struct gm_str *s, size_t len)
{
	if (!s->p)
		return;
	if (s->p < m->arena || s->p + s->n > m->arena + len + 1 || s->p[s->n] != 0)
		abort();
}

static void check_tok(const struct gmsg *m, int tok, const uint8_t *data, size_t len)
{
	if (tok < 0)
		return;
	if (tok >= m->doc.ntok)
		abort();
	const char *p;
	size_t n;
	gm_raw(m, tok, &p, &n);
	if (p < (const char *)data || p + n > (const char *)data + len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (!utf8_valid(data, len)) /* the WebSocket layer's check comes first */
		return 0;
	struct gmsg m;
	const char *why;
	int rc = gm_decode(&m, (const char *)data, len, &why);
	if (rc == GM_OK) {
		if (why || !m.type_name.p)
			abort();
		const struct gm_str *all[] = {&m.type_name, &m.kind, &m.id, &m.source, &m.dest, &m.username,
					      &m.password, &m.token, &m.group, &m.label, &m.replace, &m.sdp};
		for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
			check_str(&m, all[i], len);
		check_tok(&m, m.value, data, len);
		check_tok(&m, m.data, data, len);
		check_tok(&m, m.request, data, len);
		check_tok(&m, m.candidate, data, len);
		check_tok(&m, m.version, data, len);
	} else if (!why) {
		abort();
	}
	gm_free(&m);
	return 0;
}
