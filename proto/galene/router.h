/*
 * Galène, router half: the state its files share (service.c: members and
 * joins; actions.c: chat and actions; tokens.c: stateful tokens;
 * history.c: chat history in the store; pool.c: password checks off the
 * loop; out.c: frames for the client). Router only.
 */
#ifndef SB_GALENE_ROUTER_H
#define SB_GALENE_ROUTER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../../common/buf.h"
#include "../../common/hmap.h"
#include "../proto.h"
#include "galene.h"
#include "groupfile.h"
#include "msg.h"
#include "chatfields.h"

struct ggroup;

/* One connection (the rworker's state). */
struct galene_peer {
	struct rworker *w;
	char id[GALENE_MAX_ID];
	size_t id_len;
	bool hello;         /* the worker told us the client's id */
	char addr[64];      /* the client's address as its worker saw it, "" unknown */
	bool busy;          /* a join is being checked off the loop: messages wait */
	bool doomed;        /* told to close: nothing more is done for it */
	bool unwelcome;     /* the reloaded group file no longer admits it: to be kicked */
	struct ggroup *group; /* NULL: not joined */
	struct galene_peer *prev, *next; /* the group's members, in join order */
	char *username;
	size_t username_len;
	uint8_t perms[GF_NPERM]; /* enum gf_perm, in the order they are shown */
	uint8_t nperms;
	int16_t cand;       /* how it got in: CAND_TOKEN, CAND_USER, or the index of a wildcard */
	struct buf data;    /* the user's data: a JSON object, or empty */
	struct buf status;  /* the user's status (useraction setstatus): a JSON object, or empty */
	struct buf held;    /* messages that came while busy, each a u32 length then text */
	int64_t fail_at;    /* a "not authorised" reply waits until then (0: none) */
	struct buf fail;    /* that reply */
	void *pending;      /* the join on the pool (service.c), or NULL */
};

struct ggroup {
	char *name;
	size_t name_len;
	struct gf_group *desc;  /* the description in force (a reference) */
	bool subgroup;          /* an auto-subgroup: no description, never public */
	struct hmap members;    /* rworker pointer → rworker, for fan-out */
	struct hmap ids;        /* client id → rworker */
	struct galene_peer *first, *last;
	int count;
	bool locked;
	bool pending_change;
	bool in_check;          /* autokick is emptying it: not freed meanwhile */    /* its file changed: members are to be told */
	char *lock_message;     /* NULL: the default */
	struct buf data;        /* group data (groupaction setdata): a JSON object, or empty */
};

enum { CAND_TOKEN = -1, CAND_USER = -2 };

/* metrics.c: the counters /metrics shows */
enum gj_reason { GJ_NOT_AUTHORISED, GJ_NEED_USERNAME, GJ_DUPLICATE_USERNAME, GJ_NO_GROUP, GJ_ILLEGAL_NAME, GJ_LOCKED,
		 GJ_NOT_OPEN, GJ_CLOSED, GJ_NO_OPERATORS, GJ_TOO_MANY, GJ_INTERNAL, GJ_REDIRECT, GJ_NREASONS };
struct galene_stats {
	uint64_t joins, refused[GJ_NREASONS];
	uint64_t chat, chat_private, usermessages, deliveries, errors, kicks;
	uint64_t rejoins, dropped, stale;
};
extern struct galene_stats galene_stats;
void galene_metrics(FILE *f);

extern struct router *galene_R;
extern struct buf galene_out; /* scratch for composing frames */

static inline bool peer_has(const struct galene_peer *p, enum gf_perm perm)
{
	for (int i = 0; i < p->nperms; i++)
		if (p->perms[i] == perm)
			return true;
	return false;
}
void peer_add_perm(struct galene_peer *p, enum gf_perm perm);
void peer_del_perm(struct galene_peer *p, enum gf_perm perm);

/* service.c */
struct galene_peer *galene_peer_by_id(struct ggroup *g, const char *id, size_t n);
void galene_send(struct galene_peer *p, const struct buf *b); /* one text frame */
void galene_fan_out(struct ggroup *g, const struct buf *b, const struct galene_peer *except);
/* A usermessage error to p (non-fatal). */
void galene_error(struct galene_peer *p, const char *text);
/* A fatal error: the usermessage error, then the close (code 1000 or 1002). */
void galene_fatal(struct galene_peer *p, int code, const char *text);
/* Removes p from its group, telling the others (user delete). */
void galene_leave(struct galene_peer *p);
/* Sends p joined kind change; to every member with all true. */
void galene_joined_change(struct galene_peer *p);
void galene_group_changed(struct ggroup *g);
/* Broadcasts user kind change for p to its group. */
void galene_user_change(struct galene_peer *p);
/* Autolock / autokick after an op left or lost op. */
void galene_check_ops(struct ggroup *g);
void galene_member_add(struct ggroup *g, struct galene_peer *p);
/* members.c: the groups in memory */
int galene_groups_init(void);
void galene_groups_fini(void);
/* The group named, made with desc if it is not in memory. */
struct ggroup *galene_group_get(const char *name, size_t n, struct gf_group *desc, bool subgroup);
/* Forgets an empty group in its initial state. */
void galene_group_maybe_free(struct ggroup *g);
bool galene_has_op(const struct ggroup *g);
/* perms expanded for desc into enum gf_perm bytes (at most GF_NPERM). */
size_t galene_expand(const struct gf_group *desc, const struct gf_perms *perms, uint8_t *out);
struct galene_status;
void galene_fill_status(const struct ggroup *g, struct galene_status *st); /* status.c */
/* reload.c: the groups folder */
struct gf_result;
int galene_dir_init(void);
void galene_dir_fini(void);
int galene_dir_get(const char *name, struct gf_result *res); /* enum gf_lookup; GF_NOT_FOUND without a folder */
void galene_dir_rescan(void); /* members of changed groups are told */
void galene_dir_each(void (*fn)(void *arg, const char *name, struct gf_group *g), void *arg);
/* join.c */
void galene_join(struct galene_peer *p, const struct gmsg *m);
void galene_pending_free(void *pending);
/* service.c: the "not authorised" reply waits, the messages meanwhile too */
void galene_fail_later(struct galene_peer *p, const struct buf *frame);
void galene_process_held(struct galene_peer *p);
struct ggroup *galene_group_find(const char *name, size_t n); /* NULL: not in memory */
/* The group in memory, or made from its file; NULL when it has none. */
struct ggroup *galene_group_for(const char *name, size_t n);
bool galene_allow_present(void);

void galene_each_group(void (*fn)(void *arg, const void *key, size_t klen, void *value), void *arg);
/* actions.c: every joined message but join */
void galene_kick(struct galene_peer *t, const struct galene_peer *by, const char *msg);
void galene_dispatch(struct galene_peer *p, const struct gmsg *m);
void gchat_from_gmsg(const struct gmsg *m, struct gchat *c);
void galene_chat(struct galene_peer *p, const struct gchat *c); /* p is joined */
/* chatenv.c: GALENE_OP_CHAT from the worker */
void galene_on_chat(struct galene_peer *p, const struct envelope *e);
/* service.c: the checks of a message from p before it is handled */
const char *galene_spoofed(const struct galene_peer *p, const struct gm_str *source, const struct gm_str *username);
bool galene_may_send(struct galene_peer *p); /* after hello, not doomed (false: dropped or ignored) */
bool galene_held(struct galene_peer *p, const void *text, size_t n); /* true: kept while p is busy */

/* out.c: frames. Each starts b afresh. */
void out_joined(struct buf *b, const char *kind, const struct galene_peer *p, const struct ggroup *g);
void out_join_fail(struct buf *b, const char *group, size_t glen, const char *username, size_t ulen,
		   const char *value, const char *error);
void out_user(struct buf *b, const char *kind, const struct galene_peer *p);
void out_user_delete(struct buf *b, const struct galene_peer *p);
void out_error(struct buf *b, const char *dest, size_t dlen, const char *kind, const char *text);
void out_perms(struct buf *b, const uint8_t *perms, size_t n);
void out_status(struct buf *b, const struct ggroup *g);
/* The time now as Galène sends it: RFC 3339, UTC, whole seconds. */
void out_time_now(struct buf *b);
void out_time(struct buf *b, int64_t ms, bool nanos);
int64_t galene_now_ms(void); /* wall clock */
/* A JSON key and string value, with a leading comma. */
void out_kv(struct buf *b, const char *key, const char *s, size_t n);
/* 11 characters of base64url from 8 random bytes (chat ids, tokens). */
void out_random_id(char out[12]);
/* Merges JSON object text patch into object text base (a null deletes a
 * key): -1 when patch is no object, or the result would have more than 256
 * members or GALENE_MAX_DATA bytes. Result replaces base. */
int json_merge(struct buf *base, const char *patch, size_t plen);

/* history.c */
int history_init(void);
void history_add(const char *group, size_t glen, const char *source, size_t slen, const char *id, size_t idlen,
		 int64_t ms, const char *frame, size_t flen);
/* Replays to p the entries of group younger than max_age seconds, oldest first. */
void history_replay(struct galene_peer *p, const char *group, size_t glen, int64_t max_age_s);
/* Removes all (user NULL), one user's (id NULL) or one entry. */
void history_clear(const char *group, size_t glen, const char *user, size_t ulen, const char *id, size_t idlen);
extern const struct proto_store galene_store;

/* persist.c: what survives a router restart */
int persist_init(const unsigned char *ticket_key);
struct sqlite3;
int persist_upgrading_from_v1(struct sqlite3 *db); /* the store migration's step to version 2 */
/* Sends p its re-join ticket (after every change of what it holds) and stores its MAC. */
void galene_send_ticket(struct galene_peer *p);
void persist_member_gone(const struct galene_peer *p, const struct ggroup *g);
/* Puts p back in its group from the ticket its worker kept, if it is the latest we signed. */
void galene_rejoin(struct galene_peer *p, const uint8_t *t, size_t n);
/* Drops the members not back after the grace: the time to call again, or 0. */
int64_t persist_tick(int64_t now);
void persist_fini(void);
/* Stores the group's lock and data (or forgets them, when as at start). */
void persist_group_save(const struct ggroup *g);
void persist_group_load(struct ggroup *g);

/* pool.c: costly password checks on threads */
typedef void pool_done_fn(void *arg, int result);
int pool_init(struct router *r);
/* Runs pw_check on a copy of spec; done(arg, result) runs on the loop. */
int pool_check(const struct pw_spec *spec, const char *pw, size_t len, pool_done_fn *done, void *arg);
/* Forgets the checks for arg (its peer is gone): done is not called. */
void pool_cancel(void *arg);
void pool_fini(void);

/* tokens.c */
int tokens_init(const char *state_dir);
void tokens_fini(void);
enum tok_result { TOK_OK, TOK_NOT_FOUND, TOK_EXPIRED };
struct tok_grant {
	char username[256]; /* "" when the token imposes none */
	bool has_username;
	uint8_t perms[GF_NPERM];
	uint8_t nperms;
};
int tokens_check(const char *token, size_t n, const char *group, size_t glen, struct tok_grant *out);
void tokens_action(struct galene_peer *p, const struct gmsg *m);

#endif
