/*
 * Galène group descriptions once parsed (groupfile.h): who may log in
 * under a username (a listed user, else the wildcard candidates) and what
 * a permission set expands to, in the order Galène sends it.
 */
#include <string.h>

#include "groupfile.h"

const char *const gf_perm_names[GF_NPERM] = {"op", "present", "message", "caption", "token", "record", "admin",
					     "system"};

const struct gf_user *gf_find_user(const struct gf_group *g, const char *username, size_t len)
{
	if (memchr(username, 0, len))
		return NULL;
	size_t lo = 0, hi = g->nusers;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *name = g->users[mid].name;
		size_t n = strlen(name);
		int cmp = memcmp(name, username, n < len ? n : len);
		if (cmp == 0)
			cmp = n < len ? -1 : n > len ? 1 : 0;
		if (cmp == 0)
			return &g->users[mid];
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct gf_user *gf_candidates(const struct gf_group *g, const char *username, size_t len, size_t *n)
{
	const struct gf_user *u = gf_find_user(g, username, len);
	*n = u ? 1 : g->nwildcards;
	return u ? u : g->wildcards;
}

size_t gf_expand(const struct gf_group *g, const struct gf_perms *p, enum gf_perm *out)
{
	size_t n = 0;
	switch (p->set) {
	case GF_SET_NONE:
	case GF_SET_OBSERVE:
		break;
	case GF_SET_LIST:
		for (int i = 0; i < p->nlist; i++)
			out[n++] = (enum gf_perm)p->list[i];
		break;
	case GF_SET_OP:
		if (g->allow_recording)
			out[n++] = GF_P_RECORD;
		out[n++] = GF_P_OP;
		out[n++] = GF_P_PRESENT;
		out[n++] = GF_P_MESSAGE;
		out[n++] = GF_P_CAPTION;
		out[n++] = GF_P_TOKEN;
		break;
	case GF_SET_PRESENT:
		if (g->unrestricted_tokens)
			out[n++] = GF_P_TOKEN;
		out[n++] = GF_P_PRESENT;
		out[n++] = GF_P_MESSAGE;
		break;
	case GF_SET_MESSAGE:
		out[n++] = GF_P_MESSAGE;
		break;
	case GF_SET_CAPTION:
		out[n++] = GF_P_CAPTION;
		break;
	case GF_SET_ADMIN:
		out[n++] = GF_P_ADMIN;
		break;
	}
	return n;
}

unsigned gf_perm_bits(const struct gf_group *g, const struct gf_perms *p)
{
	enum gf_perm list[GF_NPERM + 2];
	size_t n = gf_expand(g, p, list);
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++)
		bits |= 1u << list[i];
	return bits;
}
