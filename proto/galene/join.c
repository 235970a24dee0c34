/*
 * Galène, router half: the join flow of sheet §7. Passwords (cheap ones
 * here, bcrypt and pbkdf2 on the pool, off the loop), tokens and JWTs, the
 * checks after authentication with every failure text (the "not
 * authorised" reply waits ~200 ms), the success sequence, leave, and
 * redirects.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "../../common/utf8.h"
#include "groups.h"
#include "jwt.h"
#include "options.h"
#include "router.h"

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
	galene_fail_later(p, &galene_out);
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
	struct ggroup *g = galene_group_get(gname, glen, desc, subgroup);
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
		else if (desc->autokick && !galene_has_op(g))
			why = "there are no operators in this group";
		else if (desc->max_clients > 0 && g->count >= desc->max_clients)
			why = "too many users";
	}
	if (!why && (p->id_len == 0 || galene_peer_by_id(g, p->id, p->id_len)))
		why = "internal server error";
	if (why) {
		fail(p, &group, user, ulen, why, NULL);
		return galene_group_maybe_free(g);
	}
	complete_join(p, g, user, ulen, perms, nperms, data);
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
		size_t np = galene_expand(pj->desc, &c[pj->next - 1].perms, perms);
		p->cand = c[pj->next - 1].name ? CAND_USER : (int16_t)(pj->next - 1);
		admit(p, pj->desc, pj->subgroup, pj->group, pj->glen, pj->username, pj->ulen, perms, np, &pj->data);
		pending_free(pj);
		return galene_process_held(p);
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

void galene_join(struct galene_peer *p, const struct gmsg *m)
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
	enum gf_lookup lk = galene_dir_get(group.p, &res);
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

void galene_pending_free(void *pending) { pending_free(pending); }
