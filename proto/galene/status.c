/*
 * Galène, router half: the group status the HTTP side reads (state.h):
 * one group's, from its file and its live membership, and the list of
 * public groups, sorted by name.
 */
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "groups.h"
#include "router.h"
#include "state.h"

void galene_fill_status(const struct ggroup *g, struct galene_status *st)
{
	const struct gf_group *d = g->desc;
	*st = (struct galene_status){.name = g->name, .is_public = d->is_public && !g->subgroup,
				     .locked = g->locked, .client_count = g->count, .redirect = d->redirect,
				     .auth_server = d->auth_server, .auth_portal = d->auth_portal};
	if (!g->subgroup) {
		st->display_name = d->display_name;
		st->description = d->description;
	}
}

static struct galene_status status_of(const char *name, struct gf_group *desc, bool subgroup)
{
	struct ggroup tmp = {.name = (char *)name, .desc = desc, .subgroup = subgroup, .locked = desc->autolock};
	struct ggroup *g = galene_group_find(name, strlen(name));
	struct galene_status st;
	galene_fill_status(g ? g : &tmp, &st);
	return st;
}

int galene_group_status(const char *name, size_t len, struct galene_status *out)
{
	static char copy[GF_MAX_NAME + 1];
	if (len > GF_MAX_NAME || !gf_name_valid(name, len))
		return GALENE_BAD_NAME;
	memcpy(copy, name, len);
	copy[len] = 0;
	struct gf_result res;
	enum gf_lookup lk = galene_dir_get(copy, &res);
	if (lk == GF_BAD_NAME)
		return GALENE_BAD_NAME;
	if (lk != GF_FOUND)
		return lk == GF_BROKEN ? GALENE_BROKEN : GALENE_NO_GROUP;
	*out = status_of(copy, res.group, res.subgroup);
	return GALENE_FOUND;
}

struct pub {
	const char **names;
	size_t n, cap;
};

static void collect_public(void *arg, const char *name, struct gf_group *g)
{
	struct pub *p = arg;
	if (!g->is_public)
		return;
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 16;
		if (!(p->names = realloc(p->names, p->cap * sizeof *p->names)))
			log_fatal("galene: out of memory");
	}
	p->names[p->n++] = name;
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void galene_public_groups(void (*fn)(void *arg, const struct galene_status *st), void *arg)
{
	galene_dir_rescan();
	struct pub p = {0};
	galene_dir_each(collect_public, &p);
	qsort(p.names, p.n, sizeof *p.names, cmp_names);
	for (size_t i = 0; i < p.n; i++) {
		struct gf_result res;
		if (galene_dir_get(p.names[i], &res) != GF_FOUND)
			continue;
		struct galene_status st = status_of(p.names[i], res.group, res.subgroup);
		fn(arg, &st);
	}
	free(p.names);
}
