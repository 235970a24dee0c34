/*
 * Galène, router half: the groups in memory and their members. Sending to
 * a member or a group, errors and fatal errors, joining a member to its
 * group and taking it out (user add and delete), and what an op's
 * departure sets off (autolock, autokick). The join flow is in join.c.
 */
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "groups.h"
#include "options.h"
#include "router.h"

static struct hmap groups; /* name → struct ggroup */

bool galene_allow_present(void) { return galene_opt.allow_present; }

void peer_add_perm(struct galene_peer *p, enum gf_perm perm)
{
	if (!peer_has(p, perm) && p->nperms < GF_NPERM)
		p->perms[p->nperms++] = (uint8_t)perm;
}

void peer_del_perm(struct galene_peer *p, enum gf_perm perm)
{
	for (int i = 0; i < p->nperms; i++)
		if (p->perms[i] == perm) {
			memmove(p->perms + i, p->perms + i + 1, (size_t)(p->nperms - i - 1));
			p->nperms--;
			return;
		}
}

/* ---- sending ---- */

void galene_send(struct galene_peer *p, const struct buf *b)
{
	if (!p->doomed)
		router_send_text(galene_R, p->w, buf_head(b), buf_used(b));
}

void galene_fan_out(struct ggroup *g, const struct buf *b, const struct galene_peer *except)
{
	msgpack_packer *pk = router_packer(galene_R);
	env_begin(pk, ENV_CORE, "text", 1);
	mp_kv_str(pk, "d", (const char *)buf_head(b), buf_used(b));
	router_fan_out(galene_R, &g->members, except ? except->w : NULL);
}

void galene_error(struct galene_peer *p, const char *text)
{
	galene_stats.errors++;
	out_error(&galene_out, p->id, p->id_len, "error", text);
	galene_send(p, &galene_out);
}

void galene_fatal(struct galene_peer *p, int code, const char *text)
{
	if (p->doomed)
		return;
	galene_error(p, text);
	log_info("galene: closing client %.*s: %s", (int)(p->id_len > 64 ? 64 : p->id_len), p->id, text);
	galene_leave(p);
	router_close_client(galene_R, p->w, code, text);
	p->doomed = true;
}

/* ---- groups ---- */

struct ggroup *galene_group_get(const char *name, size_t n, struct gf_group *desc, bool subgroup)
{
	struct ggroup *g = hmap_get(&groups, name, n);
	if (g)
		return g;
	if (!(g = calloc(1, sizeof *g)) || !(g->name = malloc(n + 1)) || hmap_init(&g->members) < 0 ||
	    hmap_init(&g->ids) < 0) {
		log_fatal("galene: out of memory");
	}
	memcpy(g->name, name, n);
	g->name[n] = 0;
	g->name_len = n;
	g->desc = gf_ref(desc);
	g->subgroup = subgroup;
	g->locked = desc->autolock; /* an autolock group starts locked (T-10) */
	persist_group_load(g);       /* an op's lock or group data, from before a restart */
	hmap_put(&groups, name, n, g, NULL);
	return g;
}

struct ggroup *galene_group_find(const char *name, size_t n) { return hmap_get(&groups, name, n); }

struct ggroup *galene_group_for(const char *name, size_t n)
{
	struct ggroup *g = hmap_get(&groups, name, n);
	struct gf_result res;
	if (g || galene_dir_get(name, &res) != GF_FOUND)
		return g;
	return galene_group_get(name, n, res.group, res.subgroup);
}

static void group_free(struct ggroup *g)
{
	gf_unref(g->desc);
	hmap_free(&g->members);
	hmap_free(&g->ids);
	free(g->name);
	free(g->lock_message);
	buf_free(&g->data);
	free(g);
}

/* An empty group in its initial state is forgotten (so failed joins to
 * auto-subgroups cannot pile groups up). */
void galene_group_maybe_free(struct ggroup *g)
{
	if (g->count || g->locked != g->desc->autolock || buf_used(&g->data))
		return;
	hmap_del(&groups, g->name, g->name_len);
	group_free(g);
}

struct galene_peer *galene_peer_by_id(struct ggroup *g, const char *id, size_t n)
{
	struct rworker *w = hmap_get(&g->ids, id, n);
	return w ? rworker_state(w) : NULL;
}

bool galene_has_op(const struct ggroup *g)
{
	for (struct galene_peer *q = g->first; q; q = q->next)
		if (peer_has(q, GF_P_OP))
			return true;
	return false;
}

void galene_joined_change(struct galene_peer *p)
{
	out_joined(&galene_out, "change", p, p->group);
	galene_send(p, &galene_out);
}

void galene_group_changed(struct ggroup *g)
{
	for (struct galene_peer *q = g->first; q; q = q->next)
		galene_joined_change(q);
}

void galene_user_change(struct galene_peer *p)
{
	out_user(&galene_out, "change", p);
	galene_fan_out(p->group, &galene_out, NULL);
	galene_send_ticket(p); /* what changed must survive a router restart */
}

void galene_member_add(struct ggroup *g, struct galene_peer *p)
{
	p->group = g;
	p->prev = g->last;
	p->next = NULL;
	if (g->last)
		g->last->next = p;
	else
		g->first = p;
	g->last = p;
	g->count++;
	hmap_put(&g->members, &p->w, sizeof p->w, p->w, NULL);
	hmap_put(&g->ids, p->id, p->id_len, p->w, NULL); /* ids are unique in a group (admit) */
}

void galene_check_ops(struct ggroup *g)
{
	if (galene_has_op(g))
		return;
	if (g->desc->autokick) {
		bool was = g->in_check;
		g->in_check = true; /* the group stays while its members go */
		while (g->first)
			galene_fatal(g->first, 1000, "there are no operators in this group");
		g->in_check = was;
		return;
	}
	if (g->desc->autolock && !g->locked) {
		g->locked = true;
		persist_group_save(g);
		galene_group_changed(g);
	}
}

void galene_leave(struct galene_peer *p)
{
	struct ggroup *g = p->group;
	if (!g)
		return;
	if (p->prev)
		p->prev->next = p->next;
	else
		g->first = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		g->last = p->prev;
	p->prev = p->next = NULL;
	g->count--;
	hmap_del(&g->members, &p->w, sizeof p->w);
	hmap_del(&g->ids, p->id, p->id_len);
	p->group = NULL;
	persist_member_gone(p, g);
	out_user_delete(&galene_out, p);
	galene_fan_out(g, &galene_out, NULL);
	/* the re-join ticket goes: a router restart must not bring p back */
	msgpack_packer *pk = router_packer(galene_R);
	env_begin(pk, GALENE_PROTO, GALENE_OP_TICKET, 1);
	mp_cstr(pk, "t");
	msgpack_pack_nil(pk);
	if (!p->doomed)
		router_send_scratch(galene_R, p->w);
	if (peer_has(p, GF_P_OP))
		galene_check_ops(g);
	if (!g->in_check)
		galene_group_maybe_free(g);
}

size_t galene_expand(const struct gf_group *desc, const struct gf_perms *perms, uint8_t *out)
{
	enum gf_perm list[GF_NPERM + 2];
	size_t n = gf_expand(desc, perms, list), k = 0;
	for (size_t i = 0; i < n && k < GF_NPERM; i++)
		out[k++] = (uint8_t)list[i];
	return k;
}

void galene_each_group(void (*fn)(void *arg, const void *key, size_t klen, void *value), void *arg)
{
	hmap_each(&groups, fn, arg);
}

int galene_groups_init(void) { return hmap_init(&groups); }

static void free_group(void *arg, const void *key, size_t klen, void *value)
{
	(void)arg, (void)key, (void)klen;
	group_free(value);
}

void galene_groups_fini(void)
{
	hmap_each(&groups, free_group, NULL);
	hmap_free(&groups);
}
