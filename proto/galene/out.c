/*
 * Galène, router half: the frames we send the client, member by member in
 * the order Galène writes them (the transcripts), empty and false members
 * left out as Go's omitempty does.
 */
#include <sodium.h>
#include <string.h>
#include <time.h>

#include "../../common/json.h"
#include "router.h"
#include "state.h"

void out_kv(struct buf *b, const char *key, const char *s, size_t n)
{
	buf_append_str(b, ",\"");
	buf_append_str(b, key);
	buf_append_str(b, "\":");
	json_put_string(b, s, n);
}

void out_perms(struct buf *b, const uint8_t *perms, size_t n)
{
	size_t shown = 0;
	for (size_t i = 0; i < n; i++) {
		if (perms[i] == GF_P_PRESENT && !galene_allow_present())
			continue;
		buf_append_str(b, shown++ ? ",\"" : ",\"permissions\":[\"");
		buf_append_str(b, gf_perm_names[perms[i]]);
		buf_append_str(b, "\"");
	}
	if (shown)
		buf_append_str(b, "]");
}

void out_time(struct buf *b, int64_t ms, bool nanos)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char s[64];
	gmtime_r(&t, &tm);
	strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
	buf_append_str(b, s);
	if (nanos && ms % 1000)
		buf_printf(b, ".%03d", (int)(ms % 1000));
	buf_append_str(b, "Z");
}

int64_t galene_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Every chat is stamped: the member is formatted once a second, not per message. */
void out_time_now(struct buf *b)
{
	static int64_t cached_sec = -1;
	static struct buf cached;
	int64_t sec = galene_now_ms() / 1000;
	if (sec != cached_sec || !buf_used(&cached)) {
		buf_reset(&cached);
		buf_append_str(&cached, ",\"time\":\"");
		out_time(&cached, sec * 1000, false);
		buf_append_str(&cached, "\"");
		cached_sec = sec;
	}
	buf_append(b, buf_head(&cached), buf_used(&cached));
}

void out_random_id(char out[12])
{
	unsigned char r[8];
	randombytes_buf(r, sizeof r);
	sodium_bin2base64(out, 12, r, sizeof r, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void status_members(struct buf *b, const struct galene_status *st, bool counts)
{
	buf_append_str(b, "\"name\":");
	json_put_string(b, st->name, strlen(st->name));
	if (st->display_name)
		out_kv(b, "displayName", st->display_name, strlen(st->display_name));
	if (st->description)
		out_kv(b, "description", st->description, strlen(st->description));
	if (st->auth_server)
		out_kv(b, "authServer", st->auth_server, strlen(st->auth_server));
	if (st->auth_portal)
		out_kv(b, "authPortal", st->auth_portal, strlen(st->auth_portal));
	if (counts && st->locked)
		buf_append_str(b, ",\"locked\":true");
	if (counts)
		buf_printf(b, ",\"clientCount\":%d", st->client_count);
}

int galene_status_json(struct buf *b, const struct galene_status *st, const char *extra)
{
	size_t before = buf_used(b);
	buf_append_str(b, "{");
	if (extra && *extra) {
		buf_append_str(b, extra);
		buf_append_str(b, ",");
	}
	status_members(b, st, st->is_public);
	if (st->redirect)
		out_kv(b, "redirect", st->redirect, strlen(st->redirect));
	buf_append_str(b, "}");
	return buf_used(b) > before ? 0 : -1;
}

void galene_fill_status(const struct ggroup *g, struct galene_status *st);

void out_status(struct buf *b, const struct ggroup *g)
{
	struct galene_status st;
	galene_fill_status(g, &st);
	buf_append_str(b, ",\"status\":{");
	status_members(b, &st, true); /* members see the lock and count, public or not */
	buf_append_str(b, "}");
}

void out_joined(struct buf *b, const char *kind, const struct galene_peer *p, const struct ggroup *g)
{
	buf_reset(b);
	buf_printf(b, "{\"type\":\"joined\",\"kind\":\"%s\"", kind);
	out_kv(b, "username", p->username ? p->username : "", p->username_len);
	if (strcmp(kind, "leave") != 0)
		out_perms(b, p->perms, p->nperms);
	out_status(b, g);
	if (buf_used(&g->data) && strcmp(kind, "leave") != 0) {
		buf_append_str(b, ",\"data\":");
		buf_append(b, buf_head(&g->data), buf_used(&g->data));
	}
	out_kv(b, "group", g->name, g->name_len);
	buf_append_str(b, ",\"rtcConfiguration\":{}}");
}

void out_join_fail(struct buf *b, const char *group, size_t glen, const char *username, size_t ulen,
		   const char *value, const char *error)
{
	buf_reset(b);
	buf_append_str(b, "{\"type\":\"joined\",\"kind\":\"fail\"");
	if (error)
		out_kv(b, "error", error, strlen(error));
	out_kv(b, "username", username ? username : "", username ? ulen : 0);
	out_kv(b, "group", group ? group : "", group ? glen : 0);
	out_kv(b, "value", value, strlen(value));
	buf_append_str(b, "}");
}

void out_user(struct buf *b, const char *kind, const struct galene_peer *p)
{
	buf_reset(b);
	buf_printf(b, "{\"type\":\"user\",\"kind\":\"%s\"", kind);
	out_kv(b, "id", p->id, p->id_len);
	out_kv(b, "username", p->username ? p->username : "", p->username_len);
	out_perms(b, p->perms, p->nperms);
	if (buf_used(&p->data)) {
		buf_append_str(b, ",\"data\":");
		buf_append(b, buf_head(&p->data), buf_used(&p->data));
	}
	if (buf_used(&p->status)) {
		buf_append_str(b, ",\"status\":");
		buf_append(b, buf_head(&p->status), buf_used(&p->status));
	}
	buf_append_str(b, "}");
}

void out_user_delete(struct buf *b, const struct galene_peer *p)
{
	buf_reset(b);
	buf_append_str(b, "{\"type\":\"user\",\"kind\":\"delete\"");
	out_kv(b, "id", p->id, p->id_len);
	out_kv(b, "username", p->username ? p->username : "", p->username_len);
	buf_append_str(b, "}");
}

void out_error(struct buf *b, const char *dest, size_t dlen, const char *kind, const char *text)
{
	buf_reset(b);
	buf_printf(b, "{\"type\":\"usermessage\",\"kind\":\"%s\"", kind);
	if (dlen)
		out_kv(b, "dest", dest, dlen);
	buf_append_str(b, ",\"privileged\":true");
	out_kv(b, "value", text, strlen(text));
	buf_append_str(b, "}");
}

/* One member of an object being merged: raw key (quotes included) and value. */
struct kvraw {
	const char *k, *v;
	size_t kn, vn;
};

static int collect(const struct json_doc *d, struct kvraw *kv, int max, int *n, bool patch)
{
	int size = json_size(d, 0), t = 1;
	for (int i = 0; i < size; i++) {
		struct kvraw e;
		json_raw(d, t, &e.k, &e.kn);
		json_raw(d, t + 1, &e.v, &e.vn);
		t = json_skip(d, t + 1);
		int j = 0;
		while (j < *n && !(kv[j].kn == e.kn && memcmp(kv[j].k, e.k, e.kn) == 0))
			j++;
		if (patch && e.vn == 4 && memcmp(e.v, "null", 4) == 0) {
			if (j < *n)
				kv[j] = kv[--*n];
			continue;
		}
		if (j == *n) {
			if (*n == max)
				return -1;
			(*n)++;
		}
		kv[j] = e;
	}
	return 0;
}

int json_merge(struct buf *base, const char *patch, size_t plen)
{
	enum { MAX_KEYS = 256 };
	struct json_doc a = {0}, p = {0};
	struct kvraw kv[MAX_KEYS];
	int n = 0, rc = -1;
	struct buf old = *base, nb = {0};
	if (json_parse(&p, patch, plen, 65536) != JSON_OK || json_type(&p, 0) != JSON_OBJECT)
		goto out;
	if (buf_used(&old) && (json_parse(&a, (const char *)buf_head(&old), buf_used(&old), 65536) != JSON_OK ||
			       collect(&a, kv, MAX_KEYS, &n, false) < 0))
		goto out;
	if (collect(&p, kv, MAX_KEYS, &n, true) < 0)
		goto out;
	buf_append_str(&nb, "{");
	for (int i = 0; i < n; i++) {
		if (i)
			buf_append_str(&nb, ",");
		buf_append(&nb, kv[i].k, kv[i].kn);
		buf_append_str(&nb, ":");
		buf_append(&nb, kv[i].v, kv[i].vn);
	}
	buf_append_str(&nb, "}");
	if (buf_used(&nb) > GALENE_MAX_DATA) {
		buf_free(&nb);
		goto out;
	}
	if (n == 0)
		buf_reset(&nb);
	buf_free(base);
	*base = nb;
	rc = 0;
out:
	json_free(&a);
	json_free(&p);
	return rc;
}
