/*
 * Galène, router half: its counters, and the /metrics lines the router's
 * metrics op prints (Prometheus text): groups and members now, joins by
 * outcome, chat and usermessages routed and the deliveries they made,
 * actions, and what a router restart brought back or dropped.
 */
#include <stdio.h>

#include "router.h"

struct galene_stats galene_stats;

static const char *const refusal_names[GJ_NREASONS] = {
	[GJ_NOT_AUTHORISED] = "not_authorised", [GJ_NEED_USERNAME] = "need_username",
	[GJ_DUPLICATE_USERNAME] = "duplicate_username", [GJ_NO_GROUP] = "no_group",
	[GJ_ILLEGAL_NAME] = "illegal_name", [GJ_LOCKED] = "locked", [GJ_NOT_OPEN] = "not_open",
	[GJ_CLOSED] = "closed", [GJ_NO_OPERATORS] = "no_operators", [GJ_TOO_MANY] = "too_many_users",
	[GJ_INTERNAL] = "internal_error", [GJ_REDIRECT] = "redirect",
};

struct live {
	unsigned long groups, members, locked;
};

static void count_group(void *arg, const void *key, size_t klen, void *value)
{
	(void)key, (void)klen;
	struct live *l = arg;
	const struct ggroup *g = value;
	l->groups++;
	l->members += (unsigned long)g->count;
	l->locked += g->locked;
}

static void counter(FILE *f, const char *name, const char *help, unsigned long long v)
{
	fprintf(f, "# HELP switchboard_galene_%s %s\n# TYPE switchboard_galene_%s counter\nswitchboard_galene_%s %llu\n",
		name, help, name, name, v);
}

static void gauge(FILE *f, const char *name, const char *help, unsigned long v)
{
	fprintf(f, "# HELP switchboard_galene_%s %s\n# TYPE switchboard_galene_%s gauge\nswitchboard_galene_%s %lu\n",
		name, help, name, name, v);
}

void galene_metrics(FILE *f)
{
	struct live l = {0};
	galene_each_group(count_group, &l);
	const struct galene_stats *s = &galene_stats;
	gauge(f, "groups", "Groups in memory (with members, a lock or data).", l.groups);
	gauge(f, "members", "Members joined to a group.", l.members);
	gauge(f, "locked_groups", "Groups locked now.", l.locked);
	counter(f, "joins_total", "Joins admitted.", s->joins);
	fprintf(f, "# HELP switchboard_galene_joins_refused_total Joins refused, by reason.\n"
		   "# TYPE switchboard_galene_joins_refused_total counter\n");
	for (int i = 0; i < GJ_NREASONS; i++)
		fprintf(f, "switchboard_galene_joins_refused_total{reason=\"%s\"} %llu\n", refusal_names[i],
			(unsigned long long)s->refused[i]);
	counter(f, "chat_total", "Chat messages routed (broadcast and private).", s->chat);
	counter(f, "chat_private_total", "Private chat messages routed.", s->chat_private);
	counter(f, "usermessages_total", "Usermessages routed between members.", s->usermessages);
	counter(f, "deliveries_total", "Chat and usermessage frames delivered to members.", s->deliveries);
	counter(f, "refused_total", "Messages refused with a usermessage error.", s->errors);
	counter(f, "kicks_total", "Members kicked (by an op, autokick, or a changed group file).", s->kicks);
	counter(f, "rejoins_total", "Members put back from their ticket after a router restart.", s->rejoins);
	counter(f, "rejoin_dropped_total", "Members not back within the grace after a router restart.", s->dropped);
	counter(f, "stale_tickets_total", "Re-join tickets refused (forged, replaced, or too late).", s->stale);
}
