/*
 * Galène group files: gf_parse on any bytes either refuses with a message
 * that names the file, or gives a group whose users are sorted and each
 * found by name, whose permissions expand within bounds, and whose cheap
 * passwords (plain, wildcard, none, pbkdf2 with few iterations) can be
 * checked. The RFC 3339 parser and the group-name rule run on the same
 * bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "../../proto/galene/groupfile.h"
#include "../../proto/galene/groups.h"
#include "../../proto/galene/timefmt.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	log_set_level(LOG_ERROR); /* legacy-field warnings are expected */
	return 0;
}

static void check_user(const struct gf_group *g, const struct gf_user *u)
{
	enum gf_perm list[GF_NPERM + 2];
	size_t n = gf_expand(g, &u->perms, list);
	if (n > GF_NPERM + 1)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned)list[i] >= GF_NPERM)
			abort();
	if (!pw_costly(&u->password) || (u->password.type == PW_PBKDF2 && u->password.iterations <= 4)) {
		int rc = pw_check(&u->password, "guest", 5);
		if (rc != PW_MATCH && rc != PW_MISMATCH)
			abort();
		if (u->password.type == PW_WILDCARD && rc != PW_MATCH)
			abort();
	}
}

static void check_group(const struct gf_group *g)
{
	for (size_t i = 0; i < g->nusers; i++) {
		const struct gf_user *u = &g->users[i];
		if (!u->name || (i && strcmp(g->users[i - 1].name, u->name) >= 0))
			abort();
		if (gf_find_user(g, u->name, strlen(u->name)) != u)
			abort();
		check_user(g, u);
	}
	for (size_t i = 0; i < g->nwildcards; i++) {
		if (g->wildcards[i].name)
			abort();
		check_user(g, &g->wildcards[i]);
	}
	for (size_t i = 0; i < g->nkeys; i++)
		if (!g->keys[i].secret && !g->keys[i].pkey)
			abort();
	if (g->max_clients < 0 || g->max_history_age < 0 || gf_history_age(g) <= 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1); /* exact size: ASan sees overreads */
	if (!copy)
		abort();
	memcpy(copy, data, size);
	char err[600] = "";
	struct gf_group *g = gf_parse("fuzz.json", copy, size, err, sizeof err);
	if (!g && strncmp(err, "fuzz.json: ", 11) != 0)
		abort();
	if (g) {
		check_group(g);
		gf_unref(gf_ref(g));
		gf_unref(g);
	}
	int64_t ns;
	(void)rfc3339_parse(copy, size, &ns);
	(void)gf_name_valid(copy, size);
	free(copy);
	return 0;
}
