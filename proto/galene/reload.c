/*
 * Galène, router half: the groups folder (--galene-groups). Looks groups
 * up, walks the folder for changes, and when a group's file changed gives
 * its members the new description: permissions recomputed from it (joined
 * kind change; user kind change when they changed), and those it no longer
 * admits kicked.
 */
#include <errno.h>
#include <string.h>

#include "../../common/log.h"
#include "groups.h"
#include "options.h"
#include "router.h"

static struct gf_dir dir;
static bool have_dir;

/* A changed file: groups it describes take the new description; their
 * members are told (joined kind change). */
static void refresh_one(void *arg, const void *key, size_t klen, void *value)
{
	(void)arg, (void)key, (void)klen;
	struct ggroup *g = value;
	struct gf_result res;
	if (gf_dir_get(&dir, g->name, &res) != GF_FOUND || res.group == g->desc)
		return;
	gf_unref(g->desc);
	g->desc = gf_ref(res.group);
	g->subgroup = res.subgroup;
	g->pending_change = true;
}

/* A member's permissions under the group's new description: false when
 * it may no longer be in (its user entry or wildcard is gone). A token's
 * permissions come from the token and stay. */
static bool perms_now(const struct galene_peer *p, const struct gf_group *d, uint8_t *out, size_t *n)
{
	const struct gf_user *u = NULL;
	if (p->cand == CAND_TOKEN) {
		memcpy(out, p->perms, p->nperms);
		*n = p->nperms;
		return true;
	}
	if (p->cand == CAND_USER)
		u = gf_find_user(d, p->username, p->username_len);
	else if (!gf_find_user(d, p->username, p->username_len) && (size_t)p->cand < d->nwildcards)
		u = &d->wildcards[p->cand];
	if (!u)
		return false;
	*n = galene_expand(d, &u->perms, out);
	return true;
}

/* Recomputes every member's permissions (Galène: joined kind change with
 * the new ones; the others see user kind change), and kicks those the
 * file no longer admits. */
static void regrant(struct ggroup *g)
{
	bool kicks = false;
	for (struct galene_peer *q = g->first; q; q = q->next) {
		uint8_t perms[GF_NPERM];
		size_t n;
		if (!perms_now(q, g->desc, perms, &n)) {
			q->unwelcome = kicks = true;
			continue;
		}
		bool changed = n != q->nperms || memcmp(perms, q->perms, n) != 0;
		memcpy(q->perms, perms, n);
		q->nperms = (uint8_t)n;
		galene_joined_change(q);
		if (changed)
			galene_user_change(q);
	}
	/* the group stays while they go (we are inside a walk of the groups) */
	g->in_check = true;
	while (kicks) {
		struct galene_peer *q = g->first;
		while (q && !q->unwelcome)
			q = q->next;
		if (!(kicks = q != NULL))
			break;
		q->unwelcome = false;
		log_info("galene: %.*s is no longer admitted to %s; kicked", (int)q->username_len, q->username, g->name);
		galene_kick(q, NULL, "you are no longer allowed in this group");
	}
	galene_check_ops(g);
	g->in_check = false;
}

static void notify_one(void *arg, const void *key, size_t klen, void *value)
{
	(void)arg, (void)key, (void)klen;
	struct ggroup *g = value;
	if (g->pending_change) {
		g->pending_change = false;
		log_info("galene: group %s changed; telling its %d members", g->name, g->count);
		regrant(g);
	}
}

static void on_group_event(void *arg, const char *name, enum gf_event ev)
{
	(void)arg;
	if (ev == GF_EV_CHANGED || ev == GF_EV_ADDED) {
		log_debug("galene: group file of %s %s", name, ev == GF_EV_ADDED ? "added" : "changed");
		galene_each_group(refresh_one, NULL);
		galene_each_group(notify_one, NULL);
	}
}

int galene_dir_get(const char *name, struct gf_result *res)
{
	return have_dir ? gf_dir_get(&dir, name, res) : GF_NOT_FOUND;
}

void galene_dir_rescan(void)
{
	if (have_dir)
		gf_dir_scan(&dir, on_group_event, NULL);
}

void galene_dir_each(void (*fn)(void *arg, const char *name, struct gf_group *g), void *arg)
{
	if (have_dir)
		gf_dir_each(&dir, fn, arg);
}

int galene_dir_init(void)
{
	if (!galene_opt.groups_dir)
		return 0;
	if (gf_dir_init(&dir, galene_opt.groups_dir) < 0)
		return -1;
	have_dir = true;
	int n = gf_dir_scan(&dir, NULL, NULL);
	if (n < 0)
		log_warn("galene: cannot read the groups folder %s: %s", galene_opt.groups_dir, strerror(errno));
	else
		log_info("galene: %d groups in %s", n, galene_opt.groups_dir);
	return 0;
}

void galene_dir_fini(void)
{
	if (have_dir)
		gf_dir_free(&dir);
	have_dir = false;
}
