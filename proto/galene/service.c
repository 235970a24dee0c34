/*
 * Galène, router half: connections and groups, the join flow with every
 * failure of sheet §7, leaving, re-joining after a router restart (the
 * worker keeps a ticket we signed), the group folder's reload, and the
 * group status the HTTP side reads (state.h). Chat and actions are in
 * actions.c; frames in out.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "../../common/utf8.h"
#include "groups.h"
#include "http.h"
#include "jwt.h"
#include "options.h"
#include "router.h"
#include "state.h"

#define FAIL_DELAY_MS 200 /* "not authorised" waits this long, as in Galène */

struct router *galene_R;
struct buf galene_out;
static struct gf_dir dir;
static bool have_dir;
static struct hmap groups;   /* name → struct ggroup */
static struct hmap delayed;  /* rworker pointer → peer: a fail reply waiting */
static struct hmap peers;    /* rworker pointer → rworker: every connection, for fini */
static int timer_fd = -1;
static int64_t next_scan;
static unsigned char ticket_key[crypto_auth_KEYBYTES];

/* A join being checked off the loop (a costly password). */
struct pending {
	struct galene_peer *p;
	struct gf_group *desc;
	bool subgroup;
	char *group, *username, *password;
	size_t glen, ulen, plen;
	struct buf data;
	size_t next; /* candidate to try next */
};

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

static struct ggroup *group_get(const char *name, size_t n, struct gf_group *desc, bool subgroup)
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
	if (g || !have_dir || gf_dir_get(&dir, name, &res) != GF_FOUND)
		return g;
	return group_get(name, n, res.group, res.subgroup);
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
static void group_maybe_free(struct ggroup *g)
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

static bool has_op(const struct ggroup *g)
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
	if (has_op(g))
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
		group_maybe_free(g);
}

/* ---- the delayed replies and the periodic reload ---- */

static void process_held(struct galene_peer *p);

struct due {
	int64_t now;
	struct galene_peer *p[64];
	int n;
};

static void collect_due(void *arg, const void *key, size_t klen, void *value)
{
	(void)key, (void)klen;
	struct due *d = arg;
	struct galene_peer *p = rworker_state(value);
	if (d->n < 64 && d->now >= p->fail_at)
		d->p[d->n++] = p;
}

static void on_group_event(void *arg, const char *name, enum gf_event ev);
static size_t expand(const struct gf_group *desc, const struct gf_perms *perms, uint8_t *out);

static void rearm(int64_t now)
{
	int64_t at = next_scan, grace = persist_tick(now);
	if (grace && grace < at)
		at = grace;
	if (delayed.count && now + 20 < at)
		at = now + 20; /* delayed replies are looked at in this step */
	clock_arm_timerfd(timer_fd, at);
}

static void on_timer(struct router *r, void *arg)
{
	(void)r, (void)arg;
	uint64_t ticks;
	if (read(timer_fd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
		log_warn("galene: timer: %s", strerror(errno));
	struct due d = {.now = clock_ms()};
	hmap_each(&delayed, collect_due, &d);
	for (int i = 0; i < d.n; i++) {
		struct galene_peer *p = d.p[i];
		hmap_del(&delayed, &p->w, sizeof p->w);
		p->fail_at = 0;
		galene_send(p, &p->fail);
		buf_free(&p->fail);
		p->busy = false;
		process_held(p);
	}
	persist_tick(d.now);
	if (d.now >= next_scan) {
		if (have_dir)
			gf_dir_scan(&dir, on_group_event, NULL);
		next_scan = d.now + galene_opt.reload_ms;
	}
	rearm(d.now);
}

static void fail_later(struct galene_peer *p, const struct buf *frame)
{
	buf_reset(&p->fail);
	buf_append(&p->fail, buf_head(frame), buf_used(frame));
	p->fail_at = clock_ms() + FAIL_DELAY_MS;
	p->busy = true;
	hmap_put(&delayed, &p->w, sizeof p->w, p->w, NULL);
	rearm(clock_ms());
}

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
	*n = expand(d, &u->perms, out);
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
		hmap_each(&groups, refresh_one, NULL);
		hmap_each(&groups, notify_one, NULL);
	}
}
/* ---- joining ---- */

/* The reason a failure text counts under in the metrics. */
static enum gj_reason refusal_of(const char *value)
{
	static const struct {
		const char *text;
		enum gj_reason r;
	} known[] = {{"illegal group name", GJ_ILLEGAL_NAME}, {"group does not exist", GJ_NO_GROUP},
		     {"this group is not open yet", GJ_NOT_OPEN}, {"this group is closed", GJ_CLOSED},
		     {"there are no operators in this group", GJ_NO_OPERATORS}, {"too many users", GJ_TOO_MANY},
		     {"internal server error", GJ_INTERNAL}};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(value, known[i].text) == 0)
			return known[i].r;
	return GJ_LOCKED; /* the lock's message, whatever an op made it */
}

static void fail(struct galene_peer *p, const struct gm_str *group, const char *user, size_t ulen, const char *value,
		 const char *error)
{
	galene_stats.refused[refusal_of(value)]++;
	out_join_fail(&galene_out, group->p, group->n, user, ulen, value, error);
	galene_send(p, &galene_out);
}

static void not_authorised(struct galene_peer *p, const char *group, size_t glen)
{
	galene_stats.refused[GJ_NOT_AUTHORISED]++;
	out_join_fail(&galene_out, group, glen, "", 0, "not authorised", NULL);
	fail_later(p, &galene_out);
}

static bool username_valid(const char *u, size_t n)
{
	return n == 0 || (utf8_valid((const uint8_t *)u, n) && gf_name_valid(u, n));
}

static void complete_join(struct galene_peer *p, struct ggroup *g, const char *user, size_t ulen,
			  const uint8_t *perms, size_t nperms, const struct buf *data)
{
	free(p->username);
	p->username = malloc(ulen + 1);
	if (!p->username)
		log_fatal("galene: out of memory");
	memcpy(p->username, user, ulen);
	p->username[ulen] = 0;
	p->username_len = ulen;
	memcpy(p->perms, perms, nperms);
	p->nperms = (uint8_t)nperms;
	buf_reset(&p->data);
	buf_reset(&p->status);
	if (data && buf_used(data))
		buf_append(&p->data, buf_head(data), buf_used(data));
	galene_member_add(g, p);
	out_joined(&galene_out, "join", p, g);
	galene_send(p, &galene_out);
	history_replay(p, g->name, g->name_len, gf_history_age(g->desc));
	out_user(&galene_out, "add", p);
	galene_send(p, &galene_out);
	galene_fan_out(g, &galene_out, p);
	for (struct galene_peer *q = g->first; q; q = q->next)
		if (q != p) {
			out_user(&galene_out, "add", q);
			galene_send(p, &galene_out);
		}
	galene_send_ticket(p);
	galene_stats.joins++;
}

/* The checks after authentication (sheet §7), then the member is in. */
static void admit(struct galene_peer *p, struct gf_group *desc, bool subgroup, const char *gname, size_t glen,
		  const char *user, size_t ulen, const uint8_t *perms, size_t nperms, const struct buf *data)
{
	struct gm_str group = {gname, glen};
	if (!username_valid(user, ulen))
		return not_authorised(p, gname, glen);
	struct ggroup *g = group_get(gname, glen, desc, subgroup);
	bool op = false;
	for (size_t i = 0; i < nperms; i++)
		op |= perms[i] == GF_P_OP;
	const char *why = NULL;
	int64_t now_ns = galene_now_ms() * 1000000;
	if (!op) {
		if (g->locked)
			why = g->lock_message ? g->lock_message : "this group is locked";
		else if (desc->has_not_before && now_ns < desc->not_before_ns)
			why = "this group is not open yet";
		else if (desc->has_expires && now_ns > desc->expires_ns)
			why = "this group is closed";
		else if (desc->autokick && !has_op(g))
			why = "there are no operators in this group";
		else if (desc->max_clients > 0 && g->count >= desc->max_clients)
			why = "too many users";
	}
	if (!why && (p->id_len == 0 || galene_peer_by_id(g, p->id, p->id_len)))
		why = "internal server error";
	if (why) {
		fail(p, &group, user, ulen, why, NULL);
		return group_maybe_free(g);
	}
	complete_join(p, g, user, ulen, perms, nperms, data);
}

static size_t expand(const struct gf_group *desc, const struct gf_perms *perms, uint8_t *out)
{
	enum gf_perm list[GF_NPERM + 2];
	size_t n = gf_expand(desc, perms, list), k = 0;
	for (size_t i = 0; i < n && k < GF_NPERM; i++)
		out[k++] = (uint8_t)list[i];
	return k;
}

static void pending_free(struct pending *pj)
{
	gf_unref(pj->desc);
	free(pj->group);
	free(pj->username);
	if (pj->password)
		sodium_memzero(pj->password, pj->plen);
	free(pj->password);
	buf_free(&pj->data);
	free(pj);
}

static void try_candidates(struct pending *pj);

static void on_checked(void *arg, int result)
{
	struct pending *pj = arg;
	struct galene_peer *p = pj->p;
	p->busy = false;
	p->pending = NULL;
	if (result == PW_MATCH) {
		size_t n;
		const struct gf_user *c = gf_candidates(pj->desc, pj->username, pj->ulen, &n);
		uint8_t perms[GF_NPERM];
		size_t np = expand(pj->desc, &c[pj->next - 1].perms, perms);
		p->cand = c[pj->next - 1].name ? CAND_USER : (int16_t)(pj->next - 1);
		admit(p, pj->desc, pj->subgroup, pj->group, pj->glen, pj->username, pj->ulen, perms, np, &pj->data);
		pending_free(pj);
		return process_held(p);
	}
	try_candidates(pj);
}

/* Tries the candidates from pj->next: cheap ones here, a costly one on
 * the pool (on_checked resumes). */
static void try_candidates(struct pending *pj)
{
	struct galene_peer *p = pj->p;
	size_t n;
	const struct gf_user *c = gf_candidates(pj->desc, pj->username, pj->ulen, &n);
	while (pj->next < n) {
		const struct gf_user *u = &c[pj->next++];
		if (pw_costly(&u->password)) {
			p->busy = true;
			p->pending = pj;
			if (pool_check(&u->password, pj->password, pj->plen, on_checked, pj) == 0)
				return;
			p->busy = false;
			p->pending = NULL;
			log_error("galene: cannot start a password check");
			continue;
		}
		if (pw_check(&u->password, pj->password, pj->plen) == PW_MATCH) {
			return on_checked(pj, PW_MATCH); /* on_checked takes c[next - 1] */
		}
	}
	not_authorised(p, pj->group, pj->glen);
	pending_free(pj);
}

static char *dup_str(const struct gm_str *s, size_t *n)
{
	const char *src = s->p ? s->p : "";
	*n = s->p ? s->n : 0;
	char *d = malloc(*n + 1);
	if (!d)
		log_fatal("galene: out of memory");
	memcpy(d, src, *n);
	d[*n] = 0;
	return d;
}

static void join_with_password(struct galene_peer *p, const struct gmsg *m, struct gf_group *desc, bool subgroup)
{
	struct pending *pj = calloc(1, sizeof *pj);
	if (!pj)
		log_fatal("galene: out of memory");
	pj->p = p;
	pj->desc = gf_ref(desc);
	pj->subgroup = subgroup;
	pj->group = dup_str(&m->group, &pj->glen);
	pj->username = dup_str(&m->username, &pj->ulen);
	pj->password = dup_str(&m->password, &pj->plen);
	if (m->data >= 0) {
		const char *d;
		size_t dn;
		gm_raw(m, m->data, &d, &dn);
		buf_append(&pj->data, d, dn);
	}
	try_candidates(pj);
}

static size_t perms_from_strings(char **names, size_t n, uint8_t *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < GF_NPERM; j++)
			if (strcmp(names[i], gf_perm_names[j]) == 0 && k < GF_NPERM) {
				bool dup = false;
				for (size_t x = 0; x < k; x++)
					dup |= out[x] == j;
				if (!dup)
					out[k++] = (uint8_t)j;
			}
	return k;
}

static void join_with_token(struct galene_peer *p, const struct gmsg *m, struct gf_group *desc, bool subgroup)
{
	const char *gname = m->group.p;
	size_t glen = m->group.n;
	struct tok_grant grant = {0};
	struct jwt_claims claims = {0};
	char err[128];
	int rc = jwt_verify(m->token.p, m->token.n, desc->keys, desc->nkeys, galene_opt.canonical_host, gname,
			    (double)galene_now_ms() / 1000.0, &claims, err, sizeof err);
	if (rc == JWT_OK) {
		if (claims.sub && strlen(claims.sub) < sizeof grant.username) {
			strcpy(grant.username, claims.sub);
			grant.has_username = true;
		}
		grant.nperms = (uint8_t)perms_from_strings(claims.perms, claims.nperms, grant.perms);
		jwt_claims_free(&claims);
	} else if (rc != JWT_MALFORMED || tokens_check(m->token.p, m->token.n, gname, glen, &grant) != TOK_OK) {
		if (rc == JWT_INVALID)
			log_info("galene: JWT refused for %s: %s", gname, err);
		return not_authorised(p, gname, glen);
	}
	const char *user = grant.username;
	size_t ulen = strlen(user);
	if (!grant.has_username) {
		if (!gm_has(&m->username)) {
			galene_stats.refused[GJ_NEED_USERNAME]++;
			out_join_fail(&galene_out, gname, glen, "", 0, "not authorised: username required", "need-username");
			return galene_send(p, &galene_out);
		}
		user = m->username.p;
		ulen = m->username.n;
		if (gf_find_user(desc, user, ulen)) {
			galene_stats.refused[GJ_DUPLICATE_USERNAME]++;
			out_join_fail(&galene_out, gname, glen, "", 0, "not authorised: this username is taken",
				      "duplicate-username");
			return galene_send(p, &galene_out);
		}
	}
	struct buf data = {0};
	if (m->data >= 0) {
		const char *d;
		size_t dn;
		gm_raw(m, m->data, &d, &dn);
		buf_append(&data, d, dn);
	}
	p->cand = CAND_TOKEN;
	admit(p, desc, subgroup, gname, glen, user, ulen, grant.perms, grant.nperms, &data);
	buf_free(&data);
}

static void join_redirect(struct galene_peer *p, const struct gmsg *m, const char *url)
{
	struct buf *b = &galene_out;
	buf_reset(b);
	buf_append_str(b, "{\"type\":\"joined\",\"kind\":\"redirect\"");
	out_kv(b, "username", m->username.p ? m->username.p : "", m->username.n);
	out_kv(b, "group", m->group.p, m->group.n);
	out_kv(b, "value", url, strlen(url));
	buf_append_str(b, "}");
	galene_send(p, b);
}

static void leave_group(struct galene_peer *p, const struct gmsg *m)
{
	struct ggroup *g = p->group;
	if (!g || !gm_has(&m->group) || m->group.n != g->name_len || memcmp(m->group.p, g->name, g->name_len) != 0)
		return galene_fatal(p, 1000, "you are not joined");
	/* the leaver's own frame is composed before the group may go */
	struct buf own = {0};
	g->count--;
	out_joined(&own, "leave", p, g);
	g->count++;
	galene_leave(p);
	galene_send(p, &own);
	buf_free(&own);
}

static void join(struct galene_peer *p, const struct gmsg *m)
{
	if (gm_eq(&m->kind, "leave"))
		return leave_group(p, m);
	if (!gm_eq(&m->kind, "join"))
		return galene_fatal(p, 1002, "unknown kind");
	if (p->group)
		return galene_fatal(p, 1002, "cannot join multiple groups");
	struct gm_str group = m->group.p ? m->group : (struct gm_str){"", 0};
	if (!gf_name_valid(group.p, group.n))
		return fail(p, &group, "", 0, "illegal group name", NULL);
	struct gf_result res;
	enum gf_lookup lk = have_dir ? gf_dir_get(&dir, group.p, &res) : GF_NOT_FOUND;
	if (lk == GF_BAD_NAME)
		return fail(p, &group, "", 0, "illegal group name", NULL);
	if (lk == GF_NOT_FOUND)
		return fail(p, &group, "", 0, "group does not exist", NULL);
	if (lk == GF_BROKEN)
		return fail(p, &group, "", 0, "internal server error", NULL);
	if (res.group->redirect)
		return galene_stats.refused[GJ_REDIRECT]++, join_redirect(p, m, res.group->redirect);
	if (gm_has(&m->token))
		return join_with_token(p, m, res.group, res.subgroup);
	if (!gm_has(&m->username))
		return fail(p, &group, "", 0, "internal server error", NULL);
	join_with_password(p, m, res.group, res.subgroup);
}

/* ---- messages from the worker ---- */

static void handle_text(struct galene_peer *p, const char *text, size_t len)
{
	struct gmsg m;
	const char *why;
	if (!utf8_valid((const uint8_t *)text, len) || gm_decode(&m, text, len, &why) != GM_OK ||
	    m.type == GM_HANDSHAKE || m.type == GM_PING || m.type == GM_PONG) {
		gm_free(&m);
		return router_drop_worker(galene_R, p->w, "sent a message its worker must have answered or refused");
	}
	if (m.type != GM_JOIN) {
		if (gm_has(&m.source) && !(m.source.n == p->id_len && memcmp(m.source.p, p->id, p->id_len) == 0))
			galene_fatal(p, 1002, "spoofed client id");
		else if (gm_has(&m.username) &&
			 !(m.username.n == p->username_len && (!p->username_len || memcmp(m.username.p, p->username, p->username_len) == 0)))
			galene_fatal(p, 1002, "spoofed username");
		else
			galene_dispatch(p, &m);
	} else {
		join(p, &m);
	}
	gm_free(&m);
}

static void process_held(struct galene_peer *p)
{
	while (!p->busy && !p->doomed && buf_used(&p->held)) {
		uint32_t n;
		memcpy(&n, buf_head(&p->held), 4);
		struct buf one = {0};
		buf_append(&one, buf_head(&p->held) + 4, n);
		buf_consume(&p->held, 4 + (size_t)n);
		handle_text(p, (const char *)buf_head(&one), n);
		buf_free(&one);
	}
	if (!buf_used(&p->held))
		buf_free(&p->held);
}

#define MAX_HELD (4u << 20) /* bytes of messages kept while a join is checked */

static void on_msg(struct galene_peer *p, const struct envelope *e)
{
	const uint8_t *d;
	size_t n;
	if (!mp_get_bin(e->map, "d", &d, &n))
		return router_drop_worker(galene_R, p->w, "sent a message envelope without d");
	if (p->doomed)
		return;
	if (!p->hello)
		return router_drop_worker(galene_R, p->w, "sent a message before hello");
	if (p->busy) {
		if (buf_used(&p->held) + n > MAX_HELD)
			return galene_fatal(p, 1002, "too many messages while joining");
		uint32_t l = (uint32_t)n;
		buf_append(&p->held, &l, 4);
		buf_append(&p->held, d, n);
		return;
	}
	handle_text(p, (const char *)d, n);
}

static void on_hello(struct galene_peer *p, const struct envelope *e)
{
	const char *id;
	size_t n;
	if (!mp_get_str(e->map, "id", &id, &n) || n > GALENE_MAX_ID)
		return router_drop_worker(galene_R, p->w, "sent a bad hello");
	if (p->hello && (n != p->id_len || memcmp(id, p->id, n) != 0))
		return router_drop_worker(galene_R, p->w, "changed its client id");
	memcpy(p->id, id, n);
	p->id_len = n;
	p->hello = true;
	const char *addr;
	size_t an;
	if (mp_get_str(e->map, "addr", &addr, &an) && an < sizeof p->addr && utf8_valid((const uint8_t *)addr, an)) {
		memcpy(p->addr, addr, an);
		p->addr[an] = 0;
	}
	const uint8_t *t;
	size_t tn;
	if (mp_get_bin(e->map, "t", &t, &tn))
		galene_rejoin(p, t, tn);
}

static void galene_envelope(struct router *r, struct rworker *w, const struct envelope *e)
{
	(void)r;
	struct galene_peer *p = rworker_state(w);
	if (!p->w)
		hmap_put(&peers, &w, sizeof w, w, NULL);
	p->w = w;
	if (env_op_is(e, GALENE_OP_MSG))
		on_msg(p, e);
	else if (env_op_is(e, GALENE_OP_HELLO))
		on_hello(p, e);
	else
		router_drop_worker(galene_R, w, "sent an unknown envelope");
}

static void peer_free(struct galene_peer *p)
{
	if (p->pending) {
		pool_cancel(p->pending);
		pending_free(p->pending);
		p->pending = NULL;
	}
	free(p->username);
	p->username = NULL;
	buf_free(&p->data);
	buf_free(&p->status);
	buf_free(&p->held);
	buf_free(&p->fail);
}

static void galene_gone(struct router *r, struct rworker *w)
{
	(void)r;
	struct galene_peer *p = rworker_state(w);
	p->w = w;
	p->doomed = true;
	hmap_del(&peers, &w, sizeof w);
	galene_leave(p);
	if (p->fail_at)
		hmap_del(&delayed, &p->w, sizeof p->w);
	peer_free(p);
}

/* ---- the status the HTTP side reads (state.h) ---- */

static struct galene_status status_of(const char *name, struct gf_group *desc, bool subgroup)
{
	struct ggroup tmp = {.name = (char *)name, .desc = desc, .subgroup = subgroup, .locked = desc->autolock};
	struct ggroup *g = hmap_get(&groups, name, strlen(name));
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
	enum gf_lookup lk = have_dir ? gf_dir_get(&dir, copy, &res) : GF_NOT_FOUND;
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
	if (!have_dir)
		return;
	gf_dir_scan(&dir, on_group_event, NULL);
	struct pub p = {0};
	gf_dir_each(&dir, collect_public, &p);
	qsort(p.names, p.n, sizeof *p.names, cmp_names);
	for (size_t i = 0; i < p.n; i++) {
		struct gf_result res;
		if (gf_dir_get(&dir, p.names[i], &res) != GF_FOUND)
			continue;
		struct galene_status st = status_of(p.names[i], res.group, res.subgroup);
		fn(arg, &st);
	}
	free(p.names);
}

/* ---- start and stop ---- */

/* The key that signs re-join tickets: made once, kept in the state dir. */
static int load_key(const char *state_dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/galene.key", state_dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, ticket_key, sizeof ticket_key);
		close(fd);
		if (n == (ssize_t)sizeof ticket_key)
			return 0;
		log_warn("galene: %s is short; making a new key (members will not come back after a restart)", path);
	}
	crypto_auth_keygen(ticket_key);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, ticket_key, sizeof ticket_key) != (ssize_t)sizeof ticket_key) {
		log_error("galene: cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return close(fd);
}

static int galene_init(struct router *r)
{
	galene_R = r;
	if (hmap_init(&groups) < 0 || hmap_init(&delayed) < 0 || hmap_init(&peers) < 0 || load_key(router_state_dir(r)) < 0)
		return -1;
	if (galene_opt.groups_dir) {
		if (gf_dir_init(&dir, galene_opt.groups_dir) < 0)
			return -1;
		have_dir = true;
		int n = gf_dir_scan(&dir, NULL, NULL);
		if (n < 0)
			log_warn("galene: cannot read the groups folder %s: %s", galene_opt.groups_dir, strerror(errno));
		else
			log_info("galene: %d groups in %s", n, galene_opt.groups_dir);
	}
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (timer_fd < 0 || router_watch_fd(r, timer_fd, on_timer, NULL) < 0)
		return -1;
	if (galene_opt.reload_ms < 100)
		galene_opt.reload_ms = 100;
	next_scan = clock_ms() + galene_opt.reload_ms;
	clock_arm_timerfd(timer_fd, next_scan);
	if (history_init() < 0 || persist_init(ticket_key) < 0 || pool_init(r) < 0 ||
	    tokens_init(router_state_dir(r)) < 0)
		return -1;
	rearm(clock_ms());
	return 0;
}

static void free_group(void *arg, const void *key, size_t klen, void *value)
{
	(void)arg, (void)key, (void)klen;
	group_free(value);
}

static void free_peer(void *arg, const void *key, size_t klen, void *value)
{
	(void)arg, (void)key, (void)klen;
	peer_free(rworker_state(value));
}

static void galene_fini(struct router *r)
{
	(void)r;
	pool_fini();
	hmap_each(&peers, free_peer, NULL);
	hmap_free(&peers);
	tokens_fini();
	persist_fini();
	hmap_each(&groups, free_group, NULL);
	hmap_free(&groups);
	hmap_free(&delayed);
	if (have_dir)
		gf_dir_free(&dir);
	if (timer_fd >= 0)
		close(timer_fd);
	buf_free(&galene_out);
}

const struct proto_router galene_router = {
	.name = GALENE_PROTO,
	.state_size = sizeof(struct galene_peer),
	.init = galene_init,
	.on_envelope = galene_envelope,
	.on_worker_gone = galene_gone,
	.fini = galene_fini,
	.store = &galene_store,
	.metrics = galene_metrics, /* metrics.c */
	.http = galene_http_router, /* HTTP: http_router.c */
};

void galene_each_group(void (*fn)(void *arg, const void *key, size_t klen, void *value), void *arg)
{
	hmap_each(&groups, fn, arg);
}
