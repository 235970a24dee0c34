/*
 * Galène: what the router half knows of its groups, for the HTTP side
 * (/group/<name>/, .status, /public-groups.json) when it is answered by the
 * router. Router only: the calls read the groups folder and the live
 * membership held in proto/galene/service.c.
 */
#ifndef SB_GALENE_STATE_H
#define SB_GALENE_STATE_H
#include <stdbool.h>
#include <stddef.h>

#include "../../common/buf.h"

/* One group as its status describes it (sheet §1). Strings are borrowed:
 * valid until the next call into the router half. NULL: absent. */
struct galene_status {
	const char *name;
	const char *display_name, *description; /* NULL for an auto-subgroup */
	const char *auth_server, *auth_portal;
	const char *redirect;                   /* the group lives elsewhere */
	bool is_public;
	bool locked;       /* now (autolock without an op, or an op's lock) */
	int client_count;  /* members now */
};

enum galene_lookup { GALENE_FOUND = 0, GALENE_NO_GROUP = -1, GALENE_BAD_NAME = -2, GALENE_BROKEN = -3 };

/* Describes group name (len bytes, as in the URL after /group/, without
 * the trailing slash): GALENE_FOUND and *out filled, or why not (a broken
 * group file is logged and counts as absent for HTTP, as in Galène). */
int galene_group_status(const char *name, size_t len, struct galene_status *out);

/* Calls fn for every group with "public": true, sorted by name. */
void galene_public_groups(void (*fn)(void *arg, const struct galene_status *st), void *arg);

/* Appends st as the JSON object Galène serves, without "location" and
 * "endpoint" (they depend on the request: the caller appends them after
 * the opening brace's members by passing them in extra, a string of
 * ready JSON members such as "\"location\":\"...\",\"endpoint\":\"...\"",
 * or NULL). locked and clientCount appear only for public groups, as in
 * Galène's .status. 0, or -1 out of memory. */
int galene_status_json(struct buf *b, const struct galene_status *st, const char *extra);

#endif
